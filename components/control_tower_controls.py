"""Control Tower controls enabled on OUs (optional Control Tower mode).

When the organization runs an AWS Control Tower landing zone, the seeds' Control Tower
guardrails are enabled through its API instead of the equivalent AWS Config organization rules
(which Control Tower would otherwise duplicate). Each control is enabled per OU from the
management account in the Control Tower home region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import concat

# The AWS Config managed rule each Control Tower detective control is built on; when the
# control is enabled the rule is not created as an organization rule.
CONTROL_OWNED_RULES: dict[str, str] = {
    "AWS-GR_ROOT_ACCOUNT_MFA_ENABLED": "ROOT_ACCOUNT_MFA_ENABLED",
    "AWS-GR_S3_BUCKET_PUBLIC_READ_PROHIBITED": "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    "AWS-GR_S3_BUCKET_PUBLIC_WRITE_PROHIBITED": "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
    "AWS-GR_S3_VERSIONING_ENABLED": "S3_BUCKET_VERSIONING_ENABLED",
}


@dataclass(frozen=True)
class EnabledControl:
    """One control on one OU: the control identifier, its guardrail id, the OU path and id."""

    guardrail: str
    identifier: str
    ou_path: str
    ou_id: pulumi.Input[str]


def control_arn(partition: str, region: str, identifier: str) -> str:
    """`arn:aws:controltower:<region>::control/<identifier>` (identifiers may be full ARNs already)."""
    if identifier.startswith("arn:"):
        return identifier
    return f"arn:{partition}:controltower:{region}::control/{identifier}"


def ou_arn(partition: str, management_account_id: str, organization_id: pulumi.Input[str],
           ou_id: pulumi.Input[str]) -> pulumi.Output[str]:
    return concat(f"arn:{partition}:organizations::{management_account_id}:ou/", organization_id, "/", ou_id)


def _slug(text: str) -> str:
    return text.lower().replace("/", "-").replace("_", "-")


class ControlTowerControls(pulumi.ComponentResource):
    """Enables Control Tower controls on OUs; the provider acts in the management account in
    the Control Tower home region."""

    def __init__(self, name: str, controls: Sequence[EnabledControl], region: str, management_account_id: str,
                 organization_id: pulumi.Input[str], partition: str = "aws",
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:ControlTowerControls", name, None, opts)
        self.enabled: dict[str, pulumi.Output[str]] = {}
        for control in controls:
            identifier = control.identifier.rsplit("/", 1)[-1]
            logical = f"{name}-{_slug(identifier)}-{_slug(control.ou_path)}"
            enabled = aws.controltower.ControlTowerControl(
                logical,
                control_identifier=control_arn(partition, region, control.identifier),
                target_identifier=ou_arn(partition, management_account_id, organization_id, control.ou_id),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.enabled[logical] = enabled.id
        self.register_outputs({"enabled": self.enabled})


__all__ = ["CONTROL_OWNED_RULES", "EnabledControl", "ControlTowerControls", "control_arn", "ou_arn"]
