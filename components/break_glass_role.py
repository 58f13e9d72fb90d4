"""The management account's break-glass role (guardrail IAM-3).

Every member account's break-glass role (baseline StackSet, `components/config_baseline.py`)
trusts only `arn:aws:iam::<management>:role/<break-glass>`; StackSets never deploy to the
management account, so this component creates that role there. It is the one door to
emergency access:

* trusted only by the configured IAM users / roles of the management account
  (`aws:PrincipalArn`), with MFA (`aws:MultiFactorAuthPresent`) no older than the configured
  age (`aws:MultiFactorAuthAge`);
* sessions last at most the configured duration (default one hour);
* AdministratorAccess (the pack's IAM-2 admits it for the break-glass role name only);
* every use is an alarm: `break_glass_alert` is one more metric filter of the security alerts
  on the organization trail's log group. The trail is multi-region and records global service
  events, so an `AssumeRole` is matched whichever STS endpoint (regional, or the global one in
  us-east-1) the call went to — an EventBridge rule would have to exist in each of those regions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.security_alerts import AlertRule
from policy_documents.serialize import document, to_json


@dataclass(frozen=True)
class BreakGlassRoleArgs:
    """The break-glass role's settings, resolved by the stack."""

    role_name: str
    management_account_id: str
    trusted_principals: Sequence[str]
    max_session_seconds: int = 3600
    max_mfa_age_seconds: int = 900
    partition: str = "aws"

    @property
    def arn(self) -> str:
        return role_arn(self.partition, self.management_account_id, self.role_name)


def role_arn(partition: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def break_glass_trust(args: BreakGlassRoleArgs) -> dict:
    """Only the named principals of the management account, with recent MFA."""
    return document({
        "Sid": "BreakGlassWithRecentMfa",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{args.partition}:iam::{args.management_account_id}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "ArnLike": {"aws:PrincipalArn": list(args.trusted_principals)},
            "Bool": {"aws:MultiFactorAuthPresent": "true"},
            "NumericLessThan": {"aws:MultiFactorAuthAge": str(args.max_mfa_age_seconds)},
        },
    })


def break_glass_alert(name_prefix: str, role_arn_: str) -> AlertRule:
    """An alarm on every `AssumeRole` of the management break-glass role, and on every role
    its sessions assume (the member accounts' break-glass roles trust only it)."""
    return AlertRule(
        "break-glass-use", "IAM-3", "Break-glass role assumed",
        '{ ($.eventSource = "sts.amazonaws.com") && ($.eventName = "AssumeRole") '
        f'&& (($.requestParameters.roleArn = "{role_arn_}") '
        f'|| ($.userIdentity.sessionContext.sessionIssuer.arn = "{role_arn_}")) }}',
    )


class BreakGlassRole(pulumi.ComponentResource):
    """The break-glass role of the management account (see the module docstring); `opts`
    carries the management account's provider."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: BreakGlassRoleArgs, tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:BreakGlassRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            name=args.role_name,
            description="ml-platform break-glass access (IAM-3); every use is an alert",
            max_session_duration=args.max_session_seconds,
            assume_role_policy=to_json(break_glass_trust(args)),
            tags=dict(tags),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-administrator", role=role.name,
            policy_arn=f"arn:{args.partition}:iam::aws:policy/AdministratorAccess", opts=child)
        self.arn = role.arn
        self.name = role.name
        self.register_outputs({"arn": self.arn, "name": self.name})
