"""Customer-managed KMS keys whose policy names only the principals the caller configures
(guardrails KMS-1, KMS-2; whitepaper "Encryption with AWS KMS").

The key policy is built here as Python data. It never delegates to a whole account: every
statement for an AWS principal pairs the account with an `aws:PrincipalArn` condition listing
the roles that may act, and every statement for a service principal is scoped to the
platform's own resources (confused-deputy protection): by `aws:SourceAccount`, `aws:SourceArn`
or `aws:SourceOrgID`, or by an encryption-context key (`kms:EncryptionContext:...`) that binds
the data key to one resource, for the services whose KMS calls carry no source key. Principals
are written as account + role ARN condition rather than as role ARNs because KMS rejects a
policy naming a role that does not exist yet, and consumer roles are often created by a later
stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import concat, document, policy_json

PARTITION = "aws"
# AWS allows 7 to 30 days; the platform requires the longest window (KMS-1).
MIN_DELETION_WINDOW_DAYS = 30
MAX_DELETION_WINDOW_DAYS = 30

# Key administration without the right to use the key or to switch rotation off.
ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
ENCRYPT_DECRYPT = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
DECRYPT_ONLY = ("kms:Decrypt", "kms:DescribeKey")
# Condition keys that scope a service principal to the platform's own resources. Anything else
# (aws:SecureTransport, kms:ViaService, ...) leaves the service free to act for any account.
SOURCE_SCOPE_KEYS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths")
ENCRYPTION_CONTEXT_PREFIX = "kms:EncryptionContext:"


def scopes_source(conditions: Mapping[str, Mapping[str, object]] | None) -> bool:
    """Whether a condition block names a source key or an encryption-context key."""
    return any(key in SOURCE_SCOPE_KEYS or key.startswith(ENCRYPTION_CONTEXT_PREFIX)
               for block in (conditions or {}).values() for key in block)


def account_root(account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    return concat(f"arn:{PARTITION}:iam::", account_id, ":root")


def role_arn(account_id: pulumi.Input[str], name: str) -> pulumi.Output[str]:
    """The ARN of role `name` (which may carry a path) in `account_id`."""
    return concat(f"arn:{PARTITION}:iam::", account_id, ":role/", name)


@dataclass(frozen=True)
class RolePrincipals:
    """Roles of one account, by name (a name may carry a path)."""

    account_id: pulumi.Input[str]
    role_names: Sequence[str]

    @property
    def role_arns(self) -> list[pulumi.Output[str]]:
        return [role_arn(self.account_id, n) for n in self.role_names]


def merge_principals(groups: Sequence[RolePrincipals]) -> list[RolePrincipals]:
    """One `RolePrincipals` per account (accounts told apart by the identity of their id
    value), each role once, in first-seen order."""
    merged: dict[int, tuple[pulumi.Input[str], list[str]]] = {}
    for group in groups:
        account, names = merged.setdefault(id(group.account_id), (group.account_id, []))
        names.extend(n for n in group.role_names if n not in names)
    return [RolePrincipals(account, tuple(names)) for account, names in merged.values() if names]


@dataclass(frozen=True)
class KeyUse:
    """One statement of the key policy: who may do what with the key.

    Exactly one of `roles` (IAM roles, possibly in several accounts) or `service` (an AWS
    service principal, acting for `source_account`) must be given. `via_services` limits use
    to calls made through those services (`kms:ViaService`, e.g. `s3.eu-west-1.amazonaws.com`).
    """

    sid: str
    actions: Sequence[str]
    roles: Sequence[RolePrincipals] = ()
    service: str | None = None
    source_account: pulumi.Input[str] | None = None
    via_services: Sequence[str] = ()
    # Let the roles attach the key to AWS resources through grants (SageMaker volumes...).
    allow_grants_for_aws_resources: bool = False
    # Roles must belong to this organization too (`aws:PrincipalOrgID`): defence in depth for
    # statements naming other accounts, and how the policy pack recognises them (KMS-2).
    organization_id: pulumi.Input[str] | None = None
    # Further condition blocks, for services whose documented scoping is another key (e.g.
    # CloudWatch Logs: `kms:EncryptionContext:aws:logs:arn`).
    conditions: Mapping[str, Mapping[str, object]] | None = None

    def __post_init__(self) -> None:
        if bool(self.roles) == bool(self.service):
            raise ValueError(f"KeyUse {self.sid}: give either roles or a service principal")
        if self.service and self.source_account is None and not scopes_source(self.conditions):
            raise ValueError(f"KeyUse {self.sid}: a service principal needs source_account or a condition on "
                             f"{', '.join(SOURCE_SCOPE_KEYS)} or {ENCRYPTION_CONTEXT_PREFIX}* "
                             "(confused-deputy protection)")
        if any(a == "kms:*" or a == "*" for a in self.actions):
            raise ValueError(f"KeyUse {self.sid}: name the KMS actions, never kms:* (KMS-2)")


def _role_statement(sid: str, actions: Sequence[str], roles: Sequence[RolePrincipals],
                    extra_conditions: Mapping[str, Mapping[str, object]] | None = None) -> dict:
    roles = merge_principals(roles)
    roots = [account_root(r.account_id) for r in roles]
    arns = [arn for r in roles for arn in r.role_arns]
    condition: dict[str, dict] = {"ArnLike": {"aws:PrincipalArn": arns}}
    for operator, values in (extra_conditions or {}).items():
        condition.setdefault(operator, {}).update(values)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": roots if len(roots) > 1 else roots[0]},
        "Action": list(actions),
        "Resource": "*",
        "Condition": condition,
    }


def key_policy_statements(administrators: RolePrincipals, uses: Sequence[KeyUse]) -> list[dict]:
    """The statements of a key policy: administration, then each use."""
    if not administrators.role_names:
        raise ValueError("a customer-managed key needs at least one administrator role")
    statements = [_role_statement("KeyAdministration", ADMIN_ACTIONS, [administrators])]
    for use in uses:
        extra: dict[str, dict] = {}
        if use.via_services:
            extra["StringEquals"] = {"kms:ViaService": list(use.via_services)}
        if use.organization_id is not None and not use.service:
            extra.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = use.organization_id
        if use.service:
            condition: dict[str, dict] = {op: dict(block) for op, block in (use.conditions or {}).items()}
            source = {"aws:SourceAccount": use.source_account} if use.source_account is not None else {}
            if source or extra.get("StringEquals"):
                condition.setdefault("StringEquals", {}).update({**source, **extra.get("StringEquals", {})})
            statements.append({
                "Sid": use.sid,
                "Effect": "Allow",
                "Principal": {"Service": use.service},
                "Action": list(use.actions),
                "Resource": "*",
                "Condition": condition,
            })
            continue
        for operator, block in (use.conditions or {}).items():
            extra.setdefault(operator, {}).update(block)
        statements.append(_role_statement(use.sid, use.actions, use.roles, extra))
        if use.allow_grants_for_aws_resources:
            grant_conditions: dict[str, dict] = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
            if use.organization_id is not None:
                grant_conditions["StringEquals"] = {"aws:PrincipalOrgID": use.organization_id}
            statements.append(_role_statement(
                f"{use.sid}Grants", ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"), use.roles, grant_conditions))
    return statements


class CustomerManagedKey(pulumi.ComponentResource):
    """A symmetric KMS key with yearly rotation, a 30-day deletion window, an alias, and a
    key policy naming only `administrators` and the principals of `uses`. Protected and kept on
    delete unless the caller passes `allow_destroy=True` (no platform setting does today: data
    is never lost to `pulumi destroy`).

    `key_aliases` are former identities of the key resource (e.g. `pulumi.Alias(parent=...)` for
    a key that used to be registered directly under another component): adopting an existing
    key under this component must never replace it.
    """

    arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        alias: str,
        description: str,
        administrators: RolePrincipals,
        uses: Sequence[KeyUse] = (),
        tags: Mapping[str, str] | None = None,
        deletion_window_days: int = MIN_DELETION_WINDOW_DAYS,
        allow_destroy: bool = False,
        key_aliases: Sequence[pulumi.Input[pulumi.Alias]] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        if not MIN_DELETION_WINDOW_DAYS <= deletion_window_days <= MAX_DELETION_WINDOW_DAYS:
            raise ValueError(
                f"key {name}: deletion window {deletion_window_days} days "
                f"(allowed: {MIN_DELETION_WINDOW_DAYS} days, KMS-1)"
            )
        sids = [u.sid for u in uses]
        if len(set(sids)) != len(sids) or "KeyAdministration" in sids:
            raise ValueError(f"key {name}: statement ids must be unique ({', '.join(sids)})")
        super().__init__("ml-platform:security:CustomerManagedKey", name, None, opts)
        statements = key_policy_statements(administrators, uses)
        key = aws.kms.Key(
            name,
            description=description,
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=deletion_window_days,
            multi_region=False,
            bypass_policy_lockout_safety_check=False,
            policy=policy_json(document(*statements)),
            tags=dict(tags or {}),
            opts=pulumi.ResourceOptions(parent=self, protect=not allow_destroy, retain_on_delete=not allow_destroy,
                                        aliases=list(key_aliases) or None),
        )
        key_alias = aws.kms.Alias(
            f"{name}-alias",
            name=alias if alias.startswith("alias/") else f"alias/{alias}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=key),
        )
        self.arn, self.key_id, self.alias_name = key.arn, key.key_id, key_alias.name
        self.register_outputs({"arn": self.arn, "keyId": self.key_id, "aliasName": self.alias_name})
