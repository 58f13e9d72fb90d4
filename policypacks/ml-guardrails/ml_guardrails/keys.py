"""Keys: customer-managed KMS keys rotate and keep a deletion window (KMS-1); key policies keep
`kms:*` inside the key's account (KMS-2)."""

from __future__ import annotations

from collections.abc import Callable

from .common import (
    UNKNOWN,
    ResourceContext,
    as_int,
    as_list,
    resource_policy,
    truthy,
)
from .identity import (
    documents_of,
    is_allow,
    outside_principals,
    principal_account,
    restricted_by,
    statements,
)

DOMAIN = "keys"

KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SYMMETRIC = "SYMMETRIC_DEFAULT"


def _validate_key(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    props = ctx.props
    spec = props.get("customerMasterKeySpec") or SYMMETRIC
    usage = props.get("keyUsage") or "ENCRYPT_DECRYPT"
    rotatable = spec in (SYMMETRIC, UNKNOWN) and usage in ("ENCRYPT_DECRYPT", UNKNOWN) \
        and not props.get("customKeyStoreId")
    minimum_window = as_int(ctx.config.get("minimumDeletionWindowInDays")) or 30
    maximum_period = as_int(ctx.config.get("maximumRotationPeriodInDays")) or 365
    if rotatable and props.get("enableKeyRotation") is not UNKNOWN and truthy(props.get("enableKeyRotation")) is not True:
        report(f"key {ctx.name} does not rotate (enableKeyRotation is not true)")
    period = as_int(props.get("rotationPeriodInDays"))
    if rotatable and period is not None and period > maximum_period:
        report(f"key {ctx.name} rotates every {period} days, more than {maximum_period}")
    window = props.get("deletionWindowInDays")
    days = as_int(window)
    if window is not UNKNOWN and days is not None and days < minimum_window:
        report(f"key {ctx.name} has a deletion window of {days} days, less than {minimum_window}")


def _validate_key_policy(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    own = ctx.own_accounts
    consumers = {str(a) for a in ctx.config.get("consumerAccountIds") or []}
    org_keys = ctx.config.get("consumerConditionKeys") or []
    for document in documents_of(ctx.type, ctx.props):
        if document.kind != "key" or document.doc is None:
            continue
        trusted = own | set(document.template_accounts)
        for index, statement in enumerate(statements(document.doc)):
            if not is_allow(statement):
                continue
            sid = statement.get("Sid") or f"#{index}"
            actions = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
            full = any(a.lower() in ("*", "kms:*") for a in actions) or "NotAction" in statement
            for principal, _whole in outside_principals(statement, trusted):
                account, _ = principal_account(principal)
                if not own and principal != "*":
                    # The provider names no account (no allowed_account_ids or assumed role),
                    # so "outside the key's account" cannot be told: only '*' is judged.
                    continue
                if full:
                    report(f"key policy statement {sid} grants kms:* to {principal}, outside the key's account "
                           f"{', '.join(sorted(own)) or '(unknown: the provider names no account)'}")
                elif account not in consumers and not restricted_by(statement, org_keys):
                    report(f"key policy statement {sid} grants {', '.join(actions)} to {principal}, which is "
                           "neither in the key's account nor a configured consumer account")


POLICIES = [
    resource_policy(
        name="kms-1-key-rotation-deletion-window", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="KMS-1: every customer-managed symmetric KMS key rotates automatically (at least yearly) "
                    "and every key has a deletion window of at least 30 days.",
        remediation="Set enable_key_rotation=True (rotation_period_in_days <= 365 when set) and "
                    "deletion_window_in_days=30.",
        types=(KEY,), validate=_validate_key,
        config={
            "minimumDeletionWindowInDays": {"type": "integer", "minimum": 7, "maximum": 30, "default": 30,
                                            "description": "Smallest deletion window allowed."},
            "maximumRotationPeriodInDays": {"type": "integer", "minimum": 90, "maximum": 2560, "default": 365,
                                            "description": "Longest rotation period allowed."},
        },
    ),
    resource_policy(
        name="kms-2-key-policy-account-boundary", domain=DOMAIN, severity="critical", enforcement="mandatory",
        description="KMS-2: key policies never grant kms:* to principals outside the key's account, and grant "
                    "anything to other accounts only when they are named consumer accounts (or the statement "
                    "is conditioned on the organization).",
        remediation="Grant the key's own account root kms:*; grant consumer accounts' roles only the usage "
                    "actions they need (kms:Decrypt, kms:GenerateDataKey*, kms:DescribeKey) and list those "
                    "accounts in consumerAccountIds.",
        types=(KEY, KEY_POLICY, "aws:cloudformation/stackSet:StackSet", "aws:cloudformation/stack:Stack"),
        validate=_validate_key_policy,
        config={
            "consumerAccountIds": {"type": "array", "items": {"type": "string"}, "default": [],
                                   "description": "Accounts that may use keys (not administer them)."},
            "consumerConditionKeys": {"type": "array", "items": {"type": "string"},
                                      "default": ["aws:PrincipalOrgID", "aws:PrincipalOrgPaths"],
                                      "description": "Condition keys that make a grant to other accounts acceptable."},
        },
    ),
]
