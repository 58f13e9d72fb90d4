"""Pack guardrail statements into as few service control policies as the AWS limits allow.

AWS limits an SCP document to 5,120 characters and a root, OU or account to 5 attached SCPs
(FullAWSAccess included). Statements are grouped by target and packed first-fit decreasing
into minified documents; every target that cannot fit is reported in one :class:`ScpLimitError`
so a configuration is fixed in one go. Everything here is pure: no Pulumi resources.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_documents.scp_library import (
    ROOT,
    SCP_GUARDRAIL_IDS,
    TARGETS,
    GuardrailStatement,
    guardrail_id_for_sid,
    sid_prefix,
)
from policy_documents.serialize import document, to_json

SCP_MAX_CHARS = 5120
SCP_MAX_PER_TARGET = 5


class ScpLimitError(ValueError):
    """The statements cannot be packed within the SCP limits. `problems` lists every failing
    target (and oversize statement) with the guardrail ids involved and the numbers."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("service control policies do not fit the AWS limits:\n  - " + "\n  - ".join(self.problems))


@dataclass(frozen=True)
class PackedPolicy:
    """One SCP document for one target. `json` is the exact content to upload."""

    name: str
    target: str
    guardrail_ids: tuple[str, ...]
    document: dict[str, Any] = field(hash=False)
    json: str

    @property
    def sids(self) -> tuple[str, ...]:
        return tuple(s["Sid"] for s in self.document["Statement"])


def target_slug(target: str) -> str:
    """`Workloads/Dev` -> `workloads-dev`, `Root` -> `root` (policy names)."""
    return re.sub(r"[^a-z0-9]+", "-", target.lower()).strip("-")


def _empty_document_chars() -> int:
    return len(to_json(document()))


def _statement_chars(statement: dict[str, Any]) -> int:
    # Same serializer as the final document, so the arithmetic below is exact.
    return len(to_json(statement))


def _catalog_order(guardrail_id: str) -> int:
    return SCP_GUARDRAIL_IDS.index(guardrail_id) if guardrail_id in SCP_GUARDRAIL_IDS else len(SCP_GUARDRAIL_IDS)


def shape_key(statement: Mapping[str, Any]) -> str:
    """What two statements must share to be merged into one: everything but the Sid and
    the Action list (effect, resources, conditions, and that both use `Action`)."""
    if "Action" not in statement:
        return ""  # NotAction statements never merge: the union of two NotActions is not their sum
    rest = {k: v for k, v in statement.items() if k not in ("Sid", "Action")}
    return to_json(rest)


def merged_sid(guardrail_ids: Sequence[str]) -> str:
    """The Sid of a statement merged from several guardrails: their Sid prefixes in catalog
    order, then `Deny` (`ORG1LOG1Deny`), so :func:`guardrail_ids_for_sid` finds them all."""
    return "".join(sid_prefix(g) for g in guardrail_ids) + "Deny"


def guardrail_ids_for_sid(sid: str) -> tuple[str, ...]:
    """Every guardrail id a Sid carries: one for a library statement (`SM4Deny...`), several
    for a merged one (`ORG1LOG1Deny`). Raises ValueError when it carries none."""
    found: list[str] = []
    rest = sid
    while True:
        try:
            guardrail_id = guardrail_id_for_sid(rest)
        except ValueError:
            break
        found.append(guardrail_id)
        rest = rest[len(sid_prefix(guardrail_id)):]
    if not found:
        guardrail_id_for_sid(sid)  # raises with the catalog's message
    return tuple(found)


@dataclass
class _Entry:
    """One statement as packed: the library statements it stands for (one, or several of
    the same shape merged), in input order."""

    members: list[tuple[int, GuardrailStatement]]
    statement: dict[str, Any]
    chars: int

    @property
    def index(self) -> int:
        return self.members[0][0]

    @property
    def order(self) -> tuple[int, int]:
        return (_catalog_order(self.members[0][1].guardrail_id), self.index)


def _merge(items: list[tuple[int, GuardrailStatement]]) -> list[_Entry]:
    """Merge statements of the same shape into one whose Action is the union of theirs;
    every other statement stays as the library wrote it."""
    groups: dict[str, list[tuple[int, GuardrailStatement]]] = {}
    for index, item in sorted(items, key=lambda e: (_catalog_order(e[1].guardrail_id), e[0])):
        key = shape_key(item.statement)
        groups.setdefault(key or f"#{index}", []).append((index, item))
    entries: list[_Entry] = []
    used = {item.statement.get("Sid") for _, item in items}
    for members in groups.values():
        if len(members) == 1:
            statement = copy.deepcopy(members[0][1].statement)
        else:
            actions: dict[str, None] = {}
            for _, item in members:
                for action in _as_list(item.statement["Action"]):
                    actions.setdefault(action)
            statement = copy.deepcopy(members[0][1].statement)
            sid = base = merged_sid(_ids(item for _, item in members))
            n = 1
            while sid in used:  # two shapes merged from the same guardrails
                n += 1
                sid = f"{base}{n}"
            used.add(sid)
            statement["Sid"] = sid
            statement["Action"] = sorted(actions)
            # Keep the element order of the library's statements (Sid first).
            statement = {k: statement[k] for k in members[0][1].statement}
        entries.append(_Entry(members, statement, _statement_chars(statement)))
    return sorted(entries, key=lambda e: e.order)


def _first_fit_decreasing(entries: list[_Entry], max_chars: int, overhead: int) -> list[list[_Entry]]:
    """Bins of entries, largest first (ties by input order); a comma separates statements."""
    bins: list[list[_Entry]] = []
    sizes: list[int] = []
    for entry in sorted(entries, key=lambda e: (-e.chars, e.index)):
        for b, size in enumerate(sizes):
            if size + 1 + entry.chars <= max_chars:
                bins[b].append(entry)
                sizes[b] += 1 + entry.chars
                break
        else:
            bins.append([entry])
            sizes.append(overhead + entry.chars)
    return bins


def _depth(target: str) -> int:
    return 0 if target == ROOT else target.count("/") + 1


def pack_policies(statements: list[GuardrailStatement], name_prefix: str, max_chars: int = SCP_MAX_CHARS,
                  max_policies_per_target: int = SCP_MAX_PER_TARGET, reserved_per_target: int = 1,
                  free_slots_per_target: int = 0,
                  children: Mapping[str, Sequence[str]] | None = None) -> list[PackedPolicy]:
    """Pack `statements` per target into minified documents of at most `max_chars`.

    Per target, statements of the same shape (effect, resources, conditions) are merged into
    one statement with the union of their actions; then bins are filled first-fit decreasing
    (largest first, ties by input order), so the result only depends on the input. A target
    may hold `max_policies_per_target - reserved_per_target - free_slots_per_target`
    documents (the reserved slot is FullAWSAccess; free slots stay open for the next
    guardrail). A target listed in `children` holds no account of its own, so what it cannot
    carry goes to each of its children instead, which denies the same to every account below
    it: the statements of the documents past its budget move down (and may move further).
    Within a document, statements keep catalog order; documents are numbered by their first
    statement: `<prefix>-guardrails-<target>-<n>`. Raises :class:`ScpLimitError` listing
    every target that still needs more, every statement that alone exceeds `max_chars`, and
    duplicate Sids in a target.
    """
    budget = max_policies_per_target - reserved_per_target - free_slots_per_target
    children = {k: tuple(v) for k, v in (children or {}).items() if v}
    overhead = _empty_document_chars()
    problems: list[str] = []

    by_target: dict[str, list[tuple[int, GuardrailStatement]]] = {}
    for index, item in enumerate(statements):
        if not item.targets:
            problems.append(f"statement {item.statement.get('Sid')} ({item.guardrail_id}): has no target")
        for target in item.targets:
            by_target.setdefault(target, []).append((index, item))

    def order_key(t: str) -> tuple[int, int, str]:
        # Parents before their children (what a parent cannot carry moves down), then
        # account-model order, then any other target alphabetically.
        return (_depth(t), TARGETS.index(t) if t in TARGETS else len(TARGETS), t)

    packed_bins: dict[str, list[list[_Entry]]] = {}
    pending = sorted(by_target, key=order_key)
    while pending:
        target = pending.pop(0)
        items = by_target[target]
        reasons: list[str] = []
        sids: dict[str, str] = {}
        for _, item in items:
            sid = item.statement.get("Sid", "")
            if sid in sids:
                reasons.append(f"Sid {sid} is used by {sids[sid]} and {item.guardrail_id} "
                               "(Sids must be unique within a policy)")
            sids.setdefault(sid, item.guardrail_id)
        entries = _merge(items) if not reasons else []
        for entry in entries:
            if overhead + entry.chars > max_chars:
                reasons.append(f"statement {entry.statement.get('Sid')} ({', '.join(_ids(i for _, i in entry.members))}) "
                               f"alone makes a {overhead + entry.chars}-character document (limit {max_chars})")
        bins: list[list[_Entry]] = []
        if not reasons:
            bins = _first_fit_decreasing(entries, max_chars, overhead)
            if len(bins) > budget and target in children:
                keep = max(budget, 0)
                moved = sorted((m for b in bins[keep:] for e in b for m in e.members), key=lambda m: m[0])
                bins = bins[:keep]
                # Children are deeper, so none of them has been packed yet.
                for child in children[target]:
                    have = {index for index, _ in by_target.setdefault(child, [])}
                    by_target[child] = sorted(by_target[child] + [m for m in moved if m[0] not in have],
                                              key=lambda m: m[0])
                    if child not in pending:
                        pending.append(child)
                pending.sort(key=order_key)
            if len(bins) > budget:
                reasons.append(
                    f"needs {len(bins)} policies of at most {max_chars} characters but may hold {max(budget, 0)} "
                    f"({max_policies_per_target} per target, {reserved_per_target} reserved for FullAWSAccess, "
                    f"{free_slots_per_target} kept free); "
                    f"{len(items)} statements, {sum(_statement_chars(i.statement) for _, i in items)} characters"
                )
        if reasons:
            ids = ", ".join(_ids(item for _, item in items))
            problems.append(f"{target} (guardrails {ids}): " + "; ".join(reasons))
            continue
        packed_bins[target] = bins

    if problems:
        raise ScpLimitError(sorted(problems, key=lambda p: order_key(p.split(" (", 1)[0].split(" ", 1)[0])))

    packed: list[PackedPolicy] = []
    for target in sorted(packed_bins, key=order_key):
        bins = packed_bins[target]
        for b in bins:
            b.sort(key=lambda e: e.order)
        bins.sort(key=lambda b: b[0].order)
        for n, b in enumerate(bins, start=1):
            doc = document(*(copy.deepcopy(e.statement) for e in b))
            text = to_json(doc)
            if len(text) > max_chars:  # the arithmetic above is exact; this guards it
                raise RuntimeError(f"packing error: {target} document {n} is {len(text)} characters")
            packed.append(PackedPolicy(
                name=f"{name_prefix}-guardrails-{target_slug(target)}-{n}",
                target=target,
                guardrail_ids=_ids(item for e in b for _, item in e.members),
                document=doc,
                json=text,
            ))
    return packed


def slots_used(packed: Sequence[PackedPolicy], reserved_per_target: int = 1) -> dict[str, int]:
    """SCPs attached per target, the reserved FullAWSAccess included, in packing order."""
    used: dict[str, int] = {}
    for policy in packed:
        used[policy.target] = used.get(policy.target, reserved_per_target) + 1
    return used


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _ids(items: Any) -> tuple[str, ...]:
    """Distinct guardrail ids in catalog order."""
    return tuple(sorted({i.guardrail_id for i in items}, key=lambda g: (_catalog_order(g), g)))
