"""Shared helpers for the ml-guardrails policies.

Everything a policy needs that is not about its own domain lives here:

- plain Python values out of the analyzer's unknown-checking proxies, with computed values
  ("unknown during preview") turned into the :data:`UNKNOWN` marker instead of exceptions, so
  a policy decides itself what an unknown value means (it never fails a preview on one);
- tags, provider default tags, environments and the accounts a provider acts in;
- exemptions (by URN/name pattern or by tag), which every policy's configuration accepts;
- the policy factories :func:`resource_policy` and :func:`stack_policy`, which add the
  guardrail metadata, the common configuration schema, the remediation text and error handling;
- :class:`Stack`, an index over a stack's resources that links a child resource to its parent
  through ``propertyDependencies`` (falling back to matching the property's value).

IAM-language documents (where they sit on resources, CloudFormation templates) belong to the
identity domain: see :mod:`ml_guardrails.identity`.

Property names are the provider schema's camelCase names (``kmsKeyId``), as the analyzer sees them.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    _DictProxy,
    _ListProxy,
)

from . import request_cache

PACK_NAME = "ml-guardrails"
FRAMEWORK = "ml-platform guardrail catalog"
AWS_PROVIDER = "pulumi:providers:aws"
ENVIRONMENT_TAG = "environment"
WORKLOAD_ENVIRONMENTS = ["dev", "preprod", "prod", "sandbox"]


# --------------------------------------------------------------------------------------------
# Unknown values and plain data
# --------------------------------------------------------------------------------------------
class _Unknown:
    """A value that is computed by the provider and not known during preview."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()
UNKNOWN_SENTINELS = frozenset({
    UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE, UNKNOWN_ARCHIVE_VALUE, UNKNOWN_OBJECT_VALUE,
})


def plain(value: Any) -> Any:
    """A deep copy of `value` as dicts, lists and scalars; unknown sentinels become UNKNOWN."""
    # What the analyzer's proxies hold is plain JSON data: exact types first (the isinstance
    # checks against abstract Mapping/Sequence below cost more than the copy).
    kind = type(value)
    if kind is _DictProxy or kind is _ListProxy:
        value = value["__target"]
        kind = type(value)
    if kind is str:
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if kind is dict:
        return {str(k): plain(v) for k, v in value.items()}
    if kind is list:
        return [plain(v) for v in value]
    if kind is bool or kind is float or kind is int or value is None:
        return value
    if isinstance(value, _DictProxy):
        value = value["__target"]
    elif isinstance(value, _ListProxy):
        value = value["__target"]
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or (isinstance(value, Sequence) and not isinstance(value, (bytes, str))):
        return [plain(v) for v in value]
    return value


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def known_str(value: Any) -> str | None:
    """`value` if it is a known, non-empty string."""
    return value if isinstance(value, str) and value else None


def json_value(value: Any) -> Any:
    """Provider inputs of object type reach the engine JSON-encoded; decode them when they are."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                return plain(json.loads(text))
            except ValueError:
                return value
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def statements(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The statements of an IAM-language document (its `Statement`, one or a list)."""
    if not isinstance(doc, Mapping):
        return []
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, dict)]


def truthy(value: Any) -> bool | None:
    """True/False for a known boolean (or its string form), None when unset or unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


# --------------------------------------------------------------------------------------------
# Tags, environments, accounts
# --------------------------------------------------------------------------------------------
def tag_map(value: Any) -> dict[str, Any]:
    """Tags as a dict, from a map, a list of {key, value} (autoscaling) or JSON text."""
    value = json_value(value)
    if isinstance(value, dict):
        return {k: v for k, v in value.items()}
    if isinstance(value, list):
        out = {}
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                out[item["key"]] = item.get("value")
        return out
    return {}


@dataclass
class ProviderInfo:
    """The provider a resource is created with, as the analyzer passes it."""

    type: str
    urn: str
    name: str
    props: dict[str, Any]

    @property
    def is_aws(self) -> bool:
        return self.type == AWS_PROVIDER

    @property
    def region(self) -> Any:
        return self.props.get("region")

    @functools.cached_property
    def default_tags(self) -> dict[str, Any]:
        """The provider's default tags (read, not changed: the dict is the provider's)."""
        default = json_value(self.props.get("defaultTags"))
        if isinstance(default, dict):
            return tag_map(default.get("tags"))
        return {}

    @property
    def accounts(self) -> set[str]:
        """Account ids this provider acts in (allowedAccountIds, assumed role ARNs)."""
        return provider_accounts(self.props)


def provider_accounts(props: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for account in as_list(json_value(props.get("allowedAccountIds"))):
        if isinstance(account, str) and re.fullmatch(r"\d{12}", account):
            found.add(account)
    for role in as_list(json_value(props.get("assumeRoles")) or json_value(props.get("assumeRole"))):
        if isinstance(role, dict):
            match = re.match(r"^arn:[\w-]+:iam::(\d{12}):role/", str(role.get("roleArn") or ""))
            if match:
                found.add(match.group(1))
    return found


def provider_info(provider: Any) -> ProviderInfo | None:
    if provider is None:
        return None
    props = plain(provider.props) if provider.props is not None else {}
    return ProviderInfo(provider.resource_type, provider.urn, provider.name, props)


def own_tags(props: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's own tags: `tagsAll` (provider-merged, when known) overlaid with `tags`."""
    tags = {}
    tags_all = props.get("tagsAll")
    if isinstance(tags_all, (dict, list, str)):
        tags.update(tag_map(tags_all))
    tags.update(tag_map(props.get("tags")))
    return tags


def effective_tags(resource_type: str, props: Mapping[str, Any], provider: ProviderInfo | None) -> dict[str, Any]:
    """The tags AWS will see at creation: the provider's default tags (for resources that
    support them), then the resource's `tagsAll` and `tags`."""
    tags: dict[str, Any] = {}
    if provider is not None and supports_default_tags(resource_type):
        tags.update(provider.default_tags)
    tags.update(own_tags(props))
    return tags


def environment_from(tags: Mapping[str, Any], key: str = ENVIRONMENT_TAG) -> str | None:
    value = tags.get(key)
    return value.lower() if isinstance(value, str) and value else None


def resource_environment(resource_type: str, props: Mapping[str, Any], provider: ProviderInfo | None,
                         stack_tags: Mapping[str, str] | None, key: str = ENVIRONMENT_TAG) -> tuple[str | None, str]:
    """(environment, where it came from): the resource's tags, its provider's default tags,
    then the stack's tags (`pulumi stack tag set environment <env>`)."""
    env = environment_from(own_tags(props), key)
    if env:
        return env, "its tags"
    if provider is not None:
        env = environment_from(provider.default_tags, key)
        if env:
            return env, f"default tags of provider {provider.name}"
    env = environment_from(dict(stack_tags or {}), key)
    if env:
        return env, "the stack's tags"
    return None, "unknown"


# --------------------------------------------------------------------------------------------
# Taggable resource types (generated from the pulumi-aws SDK, see taggable.py)
# --------------------------------------------------------------------------------------------
DATA_DIR = Path(__file__).resolve().parent / "data"


@lru_cache(maxsize=1)
def _taggable() -> tuple[frozenset[str], frozenset[str]]:
    data = json.loads((DATA_DIR / "taggable_types.json").read_text())
    default_tags = frozenset(data["defaultTags"])
    return default_tags | frozenset(data["tagsOnly"]), default_tags


def is_taggable(resource_type: str) -> bool:
    return resource_type in _taggable()[0]


def supports_default_tags(resource_type: str) -> bool:
    return resource_type in _taggable()[1]


# --------------------------------------------------------------------------------------------
# Exemptions and configuration
# --------------------------------------------------------------------------------------------
COMMON_CONFIG: dict[str, dict[str, Any]] = {
    "exemptResources": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "URNs, resource names or glob patterns (fnmatch) of resources this policy skips.",
    },
    "exemptTags": {
        "type": "object", "additionalProperties": {"type": "string"}, "default": {},
        "description": "Tag key -> value ('*' for any value); a resource carrying one of them is skipped.",
    },
}


def is_exempt(urn: str, tags: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    name = urn_name(urn)
    for pattern in config.get("exemptResources") or []:
        if isinstance(pattern, str) and (pattern in (urn, name) or fnmatch.fnmatchcase(urn, pattern)
                                         or fnmatch.fnmatchcase(name, pattern)):
            return True
    for key, value in (config.get("exemptTags") or {}).items():
        if key in tags and (value == "*" or tags.get(key) == value):
            return True
    return False


def matches_any(value: str | None, patterns: Iterable[str]) -> bool:
    return bool(value) and any(fnmatch.fnmatchcase(value, p) for p in patterns)


# --------------------------------------------------------------------------------------------
# Policy factories
# --------------------------------------------------------------------------------------------
_SEVERITY = {"low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH, "critical": Severity.CRITICAL}
_ENFORCEMENT = {"advisory": EnforcementLevel.ADVISORY, "mandatory": EnforcementLevel.MANDATORY}
_NAME = re.compile(r"^([a-z0-9]+-\d+)-[a-z0-9-]+$")


def guardrail_id(policy_name: str) -> str:
    """`s3-2-bucket-sse-kms` -> `S3-2`."""
    match = _NAME.match(policy_name)
    if not match:
        raise ValueError(f"policy name {policy_name!r} does not start with a guardrail id like 's3-2-'")
    return match.group(1).upper()


@dataclass
class ResourceContext:
    """What a resource validation sees, as plain data."""

    type: str
    urn: str
    name: str
    props: dict[str, Any]
    provider: ProviderInfo | None
    protect: bool
    config: dict[str, Any]
    stack_tags: dict[str, str]

    @property
    def tags(self) -> dict[str, Any]:
        return effective_tags(self.type, self.props, self.provider)

    def environment(self, key: str = ENVIRONMENT_TAG) -> tuple[str | None, str]:
        return resource_environment(self.type, self.props, self.provider, self.stack_tags, key)

    @property
    def own_accounts(self) -> set[str]:
        return self.provider.accounts if self.provider else set()


def _schema(config: Mapping[str, dict[str, Any]] | None, required: list[str] | None) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={**(config or {}), **COMMON_CONFIG}, required=required or None)


def _defaults(config: Mapping[str, dict[str, Any]] | None) -> dict[str, Any]:
    merged = {**(config or {}), **COMMON_CONFIG}
    return {k: v["default"] for k, v in merged.items() if "default" in v}


def _with_remediation(message: str, remediation: str) -> str:
    return f"{message}\nRemediation: {remediation}"


def _metadata(policy: Any, domain: str, kind: str, severity: str, enforcement: str, remediation: str,
              config: Mapping[str, Any] | None) -> Any:
    policy.guardrail_id = guardrail_id(policy.name)
    policy.domain = domain
    policy.kind = kind
    policy.severity_name = severity
    policy.enforcement_name = enforcement
    policy.remediation = remediation
    policy.config_keys = sorted((config or {}).keys())
    return policy


def resource_policy(*, name: str, domain: str, description: str, remediation: str, severity: str,
                    enforcement: str, validate: Callable[[ResourceContext, Callable[[str], None]], None],
                    types: Iterable[str] | None = None, config: Mapping[str, dict[str, Any]] | None = None,
                    required: list[str] | None = None) -> ResourceValidationPolicy:
    """A resource policy for guardrail `name` (which starts with the guardrail id).

    `validate(ctx, report)` gets a :class:`ResourceContext` and reports each violation with a
    message; the remediation text is appended and exempt resources never reach it.
    """
    type_set = frozenset(types) if types is not None else None
    defaults = _defaults(config)

    def _validate(args: Any, report_violation: Callable[..., None]) -> None:
        if type_set is not None and args.resource_type not in type_set:
            return
        cfg = {**defaults, **dict(args.get_config() or {})}
        # Every resource policy of one Analyze call sees the same resource: one plain copy for all.
        props = request_cache.once("props", lambda: plain(args.props))
        # The SDK's provider object is shared by the requests that carry the same provider.
        provider = request_cache.per_object("provider", args.provider, lambda: provider_info(args.provider))
        ctx = ResourceContext(args.resource_type, args.urn, args.name, props, provider,
                              bool(args.opts.protect), cfg, dict(args.stack_tags or {}))
        if is_exempt(ctx.urn, ctx.tags, cfg):
            return
        try:
            validate(ctx, lambda message: report_violation(_with_remediation(message, remediation)))
        except Exception as exc:  # a policy bug must show, not crash the preview
            report_violation(f"policy {name} could not evaluate {ctx.type} {ctx.name}: "
                             f"{type(exc).__name__}: {exc}")

    policy = ResourceValidationPolicy(
        validate=_validate, **_policy_fields(name, description, domain, "resource", severity, enforcement,
                                             remediation, config, required))
    # The types it reports on (None: every type); the SDK wrapper (request_cache) skips it for others.
    policy.resource_types = type_set
    return _metadata(policy, domain, "resource", severity, enforcement, remediation, config)


def stack_policy(*, name: str, domain: str, description: str, remediation: str, severity: str,
                 enforcement: str, validate: Callable[[Stack, Callable[[str, str | None], None]], None],
                 config: Mapping[str, dict[str, Any]] | None = None,
                 required: list[str] | None = None) -> StackValidationPolicy:
    """A stack policy; `validate(stack, report)` reports `(message, urn)` per violation."""
    defaults = _defaults(config)

    def _validate(args: Any, report_violation: Callable[..., None]) -> None:
        cfg = {**defaults, **dict(args.get_config() or {})}
        stack = Stack(args.resources, cfg, dict(args.stack_tags or {}))

        def report(message: str, urn: str | None = None) -> None:
            resource = stack.by_urn.get(urn or "")
            if urn and is_exempt(urn, resource.tags if resource else {}, cfg):
                return
            report_violation(_with_remediation(message, remediation), urn)

        try:
            validate(stack, report)
        except Exception as exc:  # a policy bug must show, not crash the preview
            report_violation(f"policy {name} could not evaluate the stack: {type(exc).__name__}: {exc}", None)

    policy = StackValidationPolicy(
        validate=_validate, **_policy_fields(name, description, domain, "stack", severity, enforcement,
                                             remediation, config, required))
    return _metadata(policy, domain, "stack", severity, enforcement, remediation, config)


def _policy_fields(name: str, description: str, domain: str, kind: str, severity: str, enforcement: str,
                   remediation: str, config: Mapping[str, dict[str, Any]] | None,
                   required: list[str] | None) -> dict[str, Any]:
    """What every policy of the pack declares, resource or stack policy alike."""
    return {
        "name": name, "description": description,
        "enforcement_level": _ENFORCEMENT[enforcement], "severity": _SEVERITY[severity],
        "config_schema": _schema(config, required), "remediation_steps": remediation,
        "framework": PolicyComplianceFramework(name=FRAMEWORK, reference=guardrail_id(name)),
        "tags": [guardrail_id(name), domain, kind],
    }


# --------------------------------------------------------------------------------------------
# The stack index
# --------------------------------------------------------------------------------------------
# Which outputs of a parent a child's reference property may carry, by parent type.
MATCH_KEYS: dict[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("bucket", "id", "arn"),
    "aws:iam/role:Role": ("name", "id", "arn"),
    "aws:ec2/vpc:Vpc": ("id",),
    "aws:ec2/subnet:Subnet": ("id",),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("id",),
    "aws:organizations/policy:Policy": ("id", "arn"),
    "aws:cloudwatch/logGroup:LogGroup": ("arn", "name", "id"),
    "aws:kms/key:Key": ("arn", "keyId", "id"),
    "aws:ecr/repository:Repository": ("name", "id", "arn"),
}


@dataclass
class StackResource:
    type: str
    urn: str
    name: str
    props: dict[str, Any]
    provider: ProviderInfo | None
    protect: bool
    delete_before_replace: bool | None
    parent: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]

    @property
    def tags(self) -> dict[str, Any]:
        return effective_tags(self.type, self.props, self.provider)

    def set_by_program(self, key: str) -> Any:
        """`props[key]` as the program set it. In a preview, an output the provider computes
        (the program left it unset) is unknown with no property dependency; it reads as None,
        so an unset policy or flag is judged as unset rather than given the benefit of the
        doubt. An unknown that came from another resource's output stays unknown."""
        value = self.props.get(key)
        if value is UNKNOWN and not self.property_dependencies.get(key):
            return None
        return value

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    @property
    def display(self) -> str:
        return f"{self.type.split(':')[-1]} {self.name}"


class _StackIndex:
    """The stack's resources as plain data, by URN and type, and the links found between them."""

    def __init__(self, resources: Iterable[Any]):
        self.resources: list[StackResource] = []
        for r in resources:
            parent = r.parent.urn if getattr(r, "parent", None) is not None else (r.opts.parent or None)
            self.resources.append(StackResource(
                type=r.resource_type, urn=r.urn, name=r.name, props=plain(r.props),
                provider=provider_info(r.provider), protect=bool(r.opts.protect),
                delete_before_replace=r.opts.delete_before_replace, parent=parent,
                dependencies=[d.urn for d in r.dependencies],
                property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
            ))
        self.by_urn = {r.urn: r for r in self.resources}
        self.by_type: dict[str, list[StackResource]] = {}
        for r in self.resources:
            self.by_type.setdefault(r.type, []).append(r)
        self.links: dict[tuple[str, str, tuple[str, ...]], list[StackResource]] = {}


class Stack:
    """All resources of the stack as plain data, with links between them."""

    def __init__(self, resources: Iterable[Any], config: dict[str, Any], stack_tags: dict[str, str]):
        self.config = config
        self.stack_tags = stack_tags
        # Every stack policy of one AnalyzeStack call sees the same resources: one index for all.
        index = request_cache.once("stack", lambda: _StackIndex(resources))
        self.resources = index.resources
        self.by_urn = index.by_urn
        self._by_type = index.by_type
        self._links = index.links

    def of_type(self, *types: str) -> list[StackResource]:
        return [r for t in types for r in self._by_type.get(t, [])]

    def linked(self, child: StackResource, prop: str, parent_types: Iterable[str]) -> list[StackResource]:
        """The resources of `parent_types` that `child.props[prop]` refers to: first by the
        property's dependencies (what `pulumi preview` knows even when the value is unknown),
        then by matching the property's value against the parents' ids, names and ARNs."""
        parent_types = tuple(parent_types)
        key = (child.urn, prop, parent_types)
        if key in self._links:
            return self._links[key]
        found = [self.by_urn[u] for u in child.property_dependencies.get(prop, [])
                 if u in self.by_urn and self.by_urn[u].type in parent_types]
        if not found:
            values = {v for v in as_list(child.props.get(prop)) if isinstance(v, str) and v}
            if values:
                for parent in self.of_type(*parent_types):
                    keys = MATCH_KEYS.get(parent.type, ("id", "name", "arn"))
                    if any(isinstance(parent.props.get(k), str) and parent.props.get(k) in values for k in keys):
                        found.append(parent)
        self._links[key] = found
        return found

    def children(self, parent: StackResource, child_types: Iterable[str], prop: str) -> list[StackResource]:
        return [c for c in self.of_type(*child_types) if parent in self.linked(c, prop, (parent.type,))]

    # -- providers and environments ---------------------------------------------------------
    def providers(self) -> dict[str, ProviderInfo]:
        """Every AWS provider of the stack, from provider resources and resources' providers."""
        found: dict[str, ProviderInfo] = {}
        for r in self.resources:
            if r.type == AWS_PROVIDER:
                found.setdefault(r.urn, ProviderInfo(r.type, r.urn, r.name, r.props))
        for r in self.resources:
            if r.provider is not None and r.provider.is_aws:
                found.setdefault(r.provider.urn, r.provider)
        return found

    def stack_environment(self, key: str = ENVIRONMENT_TAG) -> tuple[str | None, str]:
        """The stack's environment: its `environment` stack tag, else the one environment the
        default tags of all its AWS providers agree on."""
        env = environment_from(self.stack_tags, key)
        if env:
            return env, "the stack's tags"
        envs = {environment_from(p.default_tags, key) for p in self.providers().values()} - {None}
        if len(envs) == 1:
            return envs.pop(), "the default tags of the stack's providers"
        return None, "unknown"

    def environment_of(self, resource: StackResource, key: str = ENVIRONMENT_TAG) -> tuple[str | None, str]:
        """The resource's tags, its provider's default tags, the VPC it is in, then the stack."""
        env = environment_from(own_tags(resource.props), key)
        if env:
            return env, "its tags"
        if resource.provider is not None:
            env = environment_from(resource.provider.default_tags, key)
            if env:
                return env, f"default tags of provider {resource.provider.name}"
        for vpc in self.vpcs_of(resource):
            env = environment_from(vpc.tags, key)
            if env:
                return env, f"VPC {vpc.name}"
        return self.stack_environment(key)

    def vpcs_of(self, resource: StackResource) -> list[StackResource]:
        if resource.type == "aws:ec2/vpc:Vpc":
            return [resource]
        vpcs = self.linked(resource, "vpcId", ("aws:ec2/vpc:Vpc",))
        if not vpcs:
            for subnet in self.linked(resource, "subnetId", ("aws:ec2/subnet:Subnet",)):
                vpcs.extend(self.linked(subnet, "vpcId", ("aws:ec2/vpc:Vpc",)))
        return vpcs
