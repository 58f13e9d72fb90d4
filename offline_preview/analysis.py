"""Feed a previewed stack to the real policy pack, as `pulumi preview --policy-pack` would.

Each captured :class:`~offline_preview.engine.Registration` becomes the analyzer's view of a
resource: its inputs, options, parent, dependencies and its provider (type, name, URN and
inputs), resolved from the provider reference `urn::id`. Resources that use no explicit
provider get the package's default provider, configured from the stack's `<package>:*` keys,
as the engine's default provider would be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pulumi.runtime import rpc

from offline_preview.engine import STACK_REFERENCE_TYPE, Registration, StackRun


@dataclass(frozen=True)
class Violation:
    """One diagnostic the policy pack reported."""

    stack: str
    policy: str
    pack: str
    enforcement_level: str
    urn: str
    message: str
    description: str = ""
    severity: str = ""

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level.lower() in ("mandatory", "remediate")

    @property
    def finding(self) -> str:
        """The message without the policy's description and remediation the pack repeats in it."""
        text = self.message
        if self.description and text.startswith(self.description):
            text = text[len(self.description):]
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        kept = [line for line in lines if not line.startswith("Remediation:")]
        return " ".join(kept) or " ".join(lines) or self.message

    def sort_key(self) -> tuple[str, ...]:
        return (self.stack, self.urn, self.policy, self.message)


def unwrap_secrets(value: Any) -> Any:
    """The value with secret wrappers removed (policies see the value, as the engine passes it)."""
    if isinstance(value, dict):
        if rpc.is_rpc_secret(value):
            return unwrap_secrets(rpc.unwrap_rpc_secret(value))
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def package_of(type_token: str) -> str:
    """`aws:s3/bucket:Bucket` -> `aws`; `pulumi:providers:aws` -> `aws`."""
    if type_token.startswith("pulumi:providers:"):
        return type_token.split(":", 2)[2]
    return type_token.split(":", 1)[0]


def default_provider(run: StackRun, package: str) -> dict[str, Any]:
    """The engine's default provider for `package` in this stack: configured from `<package>:*` keys."""
    properties = {}
    for key, value in sorted(run.config.items()):
        namespace, _, name = key.partition(":")
        if namespace == package and name:
            properties[name] = value if isinstance(value, str) else json.dumps(value)
    urn = f"urn:pulumi:{run.stack}::{run.project}::pulumi:providers:{package}::default"
    return {"type": f"pulumi:providers:{package}", "name": "default", "urn": urn, "properties": properties}


def provider_view(run: StackRun, registration: Registration, providers: dict[str, Registration],
                  views: dict[str, dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The provider a custom resource uses, as the analyzer protocol describes it; None for components.

    `views` (one per stack) keeps each provider's view, so that the resources of one provider
    share it (and the analyzer client its message) instead of each getting a copy."""
    if not registration.custom or registration.type.startswith("pulumi:providers:"):
        return None
    if registration.type == STACK_REFERENCE_TYPE:
        return None
    views = {} if views is None else views
    if registration.provider:
        provider = providers.get(registration.provider.rsplit("::", 1)[0])
        if provider is not None:
            if provider.urn not in views:
                views[provider.urn] = {"type": provider.type, "name": provider.name, "urn": provider.urn,
                                       "properties": unwrap_secrets(provider.inputs)}
            return views[provider.urn]
    package = package_of(registration.type)
    key = f"default provider {package}"
    if key not in views:
        views[key] = default_provider(run, package)
    return views[key]


def provider_urn(run: StackRun, registration: Registration) -> str | None:
    """The URN of the provider a custom resource uses (the default provider's when none is set)."""
    if not registration.custom or registration.type.startswith("pulumi:providers:") or registration.read:
        return None
    if registration.provider:
        return registration.provider.rsplit("::", 1)[0]
    return default_provider(run, package_of(registration.type))["urn"]


def analyzed_resources(run: StackRun, use_outputs: bool = False) -> list[Any]:
    """The stack's registrations as the policy analyzer's `AnalyzedResource`s, in registration order.

    Resource policies see inputs (what `pulumi preview` knows); stack policies see the mocked
    outputs (`use_outputs=True`), which add what AWS computes (ARNs, ids). StackReferences are
    reads, which the engine does not send to resource policies; they are left out here.
    """
    from offline_preview.policy_analyzer import AnalyzedResource

    providers = {r.urn: r for r in run.resources if r.type.startswith("pulumi:providers:")}
    views: dict[str, dict[str, Any]] = {}
    resources = []
    for reg in run.resources:
        if reg.type == STACK_REFERENCE_TYPE:
            continue
        resources.append(AnalyzedResource(
            urn=reg.urn,
            type=reg.type,
            name=reg.name,
            properties=unwrap_secrets(reg.outputs if use_outputs else reg.inputs),
            parent=reg.parent,
            dependencies=list(reg.dependencies),
            property_dependencies={k: list(v) for k, v in reg.property_dependencies.items()},
            provider=provider_view(run, reg, providers, views),
            protect=reg.protect,
            retain_on_delete=reg.retain_on_delete,
            ignore_changes=list(reg.ignore_changes),
            delete_before_replace=reg.delete_before_replace,
        ))
    return resources


def to_violation(stack: str, diagnostic: Any) -> Violation:
    """A diagnostic from the analyzer as a :class:`Violation` of `stack`."""
    level = getattr(diagnostic, "enforcement_level", "")
    level = getattr(level, "name", level)  # an enum or its text
    return Violation(
        stack=stack,
        policy=str(getattr(diagnostic, "policy_name", "")),
        pack=str(getattr(diagnostic, "policy_pack_name", "")),
        enforcement_level=str(level).lower(),
        urn=str(getattr(diagnostic, "urn", "") or ""),
        message=str(getattr(diagnostic, "message", "")),
        description=str(getattr(diagnostic, "description", "") or ""),
        severity=str(getattr(getattr(diagnostic, "severity", ""), "name", getattr(diagnostic, "severity", "")) or ""),
    )
