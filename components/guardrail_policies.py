"""Service control policies (and the tag policy) attached to their targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class OrganizationPolicySpec:
    """One already-packed policy document for one target (OU path or `Root`)."""

    name: str
    target: str
    content: str
    description: str
    type: str = "SERVICE_CONTROL_POLICY"


class GuardrailPolicies(pulumi.ComponentResource):
    """Creates each policy and attaches it to its target.

    `target_ids` maps a target path (`Root`, `Workloads/Dev`, ...) to its id. Outputs
    `policy_ids` keyed by policy name.
    """

    policy_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, policies: Sequence[OrganizationPolicySpec],
                 target_ids: Mapping[str, pulumi.Input[str]], tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:organization:GuardrailPolicies", name, None, opts)
        unknown = sorted({p.target for p in policies} - set(target_ids))
        if unknown:
            raise ValueError(f"GuardrailPolicies {name}: unknown targets {', '.join(unknown)}")
        self.policy_ids = {}
        for spec in policies:
            policy = aws.organizations.Policy(
                spec.name,
                name=spec.name,
                description=spec.description,
                type=spec.type,
                content=spec.content,
                tags=dict(tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.organizations.PolicyAttachment(
                f"{spec.name}-attachment",
                policy_id=policy.id,
                target_id=target_ids[spec.target],
                opts=pulumi.ResourceOptions(parent=policy),
            )
            self.policy_ids[spec.name] = policy.id
        self.register_outputs({"policy_ids": self.policy_ids})
