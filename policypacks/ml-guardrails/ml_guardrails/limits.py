"""Limits: the AWS quotas the program must respect (the catalog's `limits`, LIM-n).

| id | limit | counted as |
|---|---|---|
| LIM-1 | organization policy document (SCP/RCP 5,120 characters) | characters as given (SCPs count whitespace: minify) |
| LIM-2 | SCPs per root, OU or account (5 including FullAWSAccess) | attachments per target |
| LIM-3 | managed IAM policy (6,144) | characters without whitespace, as IAM counts |
| LIM-4 | inline policies per role, total (10,240) | characters without whitespace, all inline policies |
| LIM-5 | role trust policy (2,048, the default quota) | characters without whitespace |
| LIM-6 | S3 bucket policy (20 KB) | bytes |
| LIM-7 | KMS key policy (32 KB) | bytes |

Documents unknown during preview are skipped; they are checked again at `pulumi up`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import (
    ResourceContext,
    Stack,
    StackResource,
    as_int,
    as_list,
    known_str,
    resource_policy,
    stack_policy,
)
from .identity import doc_size, load_document

DOMAIN = "limits"

ORG_POLICY = "aws:organizations/policy:Policy"
ORG_ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SCP = "SERVICE_CONTROL_POLICY"
FULL_AWS_ACCESS = "p-FullAWSAccess"

ORG_POLICY_LIMITS = {"SERVICE_CONTROL_POLICY": 5120, "RESOURCE_CONTROL_POLICY": 5120, "TAG_POLICY": 10000,
                     "BACKUP_POLICY": 10000, "AISERVICES_OPT_OUT_POLICY": 2500, "CHATBOT_POLICY": 10000,
                     "DECLARATIVE_POLICY_EC2": 10000}


# AWS's quotas, the schema's defaults; the code falls back on the same values when a caller
# gives no configuration (the engine always sends the defaults).
MAX_SCPS_PER_TARGET = 5
MAX_INLINE_CHARACTERS = 10240


def _text(value: Any) -> str | None:
    document = load_document("any", "policy", value)
    if document is None or document.unknown or document.text is None:
        return None
    return document.text


def _limit(ctx: ResourceContext, default: int) -> int:
    return as_int(ctx.config.get("maxCharacters")) or default


def _size_check(prop: str, what: str, default: int, strip_whitespace: bool) -> Callable[[ResourceContext, Callable[[str], None]], None]:
    def validate(ctx: ResourceContext, report: Callable[[str], None]) -> None:
        limit = _limit(ctx, default)
        text = _text(ctx.props.get(prop))
        if text is None:
            return
        size = doc_size(text, strip_whitespace)
        if size > limit:
            unit = "characters (whitespace not counted)" if strip_whitespace else "bytes"
            report(f"{what} {ctx.name} is {size} {unit}, over the {limit} limit")
    return validate


def _validate_org_policy(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    policy_type = ctx.props.get("type") or SCP
    if not isinstance(policy_type, str):
        return
    limits = {**ORG_POLICY_LIMITS, **{k: as_int(v) for k, v in (ctx.config.get("limits") or {}).items()}}
    limit = limits.get(policy_type)
    text = _text(ctx.props.get("content"))
    if limit is None or text is None:
        return
    if len(text) > limit:
        report(f"{policy_type} {known_str(ctx.props.get('name')) or ctx.name} is {len(text)} characters, over the "
               f"{limit} limit (AWS counts every character: serialize minified, split the statements)")


def _target_key(stack: Stack, attachment: StackResource) -> tuple[str, str] | None:
    value = attachment.props.get("targetId")
    linked = [u for u in attachment.property_dependencies.get("targetId", []) if u in stack.by_urn]
    if isinstance(value, str) and value:
        # Name every resource the id comes from (a target id can be an output of several).
        label = f"{', '.join(stack.by_urn[u].display for u in linked)} ({value})" if linked else value
        return value, label
    if linked:
        return "|".join(sorted(linked)), ", ".join(stack.by_urn[u].display for u in linked)
    return None


def _validate_scp_count(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    limit = as_int(stack.config.get("maxScpsPerTarget")) or MAX_SCPS_PER_TARGET
    implicit_full = bool(stack.config.get("fullAwsAccessAttached", True))
    groups: dict[str, tuple[str, list[tuple[StackResource, str, bool]]]] = {}
    for attachment in stack.of_type(ORG_ATTACHMENT):
        policies = stack.linked(attachment, "policyId", (ORG_POLICY,))
        policy_id = attachment.props.get("policyId")
        if policies:
            policy_type = policies[0].props.get("type") or SCP
            name, full = known_str(policies[0].props.get("name")) or policies[0].name, False
        else:
            policy_type, full = SCP, policy_id == FULL_AWS_ACCESS
            name = policy_id if isinstance(policy_id, str) else attachment.name
        if policy_type != SCP:
            continue
        key = _target_key(stack, attachment)
        if key is None:
            continue
        groups.setdefault(key[0], (key[1], []))[1].append((attachment, name, full))
    for label, attachments in groups.values():
        explicit_full = any(full for _, _, full in attachments)
        count = len(attachments) + (1 if implicit_full and not explicit_full else 0)
        if count > limit:
            names = ", ".join(n for _, n, _ in attachments)
            extra = " plus FullAWSAccess" if implicit_full and not explicit_full else ""
            report(f"target {label} would have {count} SCPs ({names}{extra}), over the limit of {limit}",
                   attachments[-1][0].urn)


def _validate_inline_total(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    limit = as_int(stack.config.get("maxCharacters")) or MAX_INLINE_CHARACTERS
    for role in stack.of_type(ROLE):
        parts: list[tuple[str, int]] = []
        unknown = False
        for inline in as_list(role.props.get("inlinePolicies")):
            if isinstance(inline, dict) and inline.get("policy"):
                text = _text(inline.get("policy"))
                if text is None:
                    unknown = True
                else:
                    parts.append((str(inline.get("name") or "inline"), doc_size(text, True)))
        for policy in stack.children(role, (ROLE_POLICY,), "role"):
            text = _text(policy.props.get("policy"))
            if text is None:
                unknown = True
            else:
                parts.append((policy.name, doc_size(text, True)))
        total = sum(size for _, size in parts)
        if total > limit:
            listing = ", ".join(f"{n} {s}" for n, s in parts)
            report(f"role {role.name} has {total} characters of inline policies ({listing}), over the {limit} "
                   f"limit{' (and more not yet known)' if unknown else ''}", role.urn)


POLICIES = [
    resource_policy(
        name="lim-1-organization-policy-size", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="LIM-1: service control policies (and other organization policies) fit the AWS document "
                    "size limit: 5,120 characters for SCPs, counting whitespace.",
        remediation="Serialize the document minified, shorten Sids, merge statements with the same effect and "
                    "condition, or split the statements over another policy attached to the same target.",
        types=(ORG_POLICY,), validate=_validate_org_policy,
        config={
            "limits": {"type": "object", "additionalProperties": {"type": "integer"}, "default": {},
                       "description": "Character limit per organization policy type (overrides the AWS defaults)."},
        },
    ),
    stack_policy(
        name="lim-2-scps-per-target", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="LIM-2: no root, OU or account has more service control policies attached than the "
                    "configured limit (5 by default), counting the FullAWSAccess policy AWS attaches.",
        remediation="Pack the guardrail statements into fewer SCPs (up to 5,120 characters each), attach "
                    "shared statements higher in the OU tree, or raise the quota with AWS and maxScpsPerTarget.",
        validate=_validate_scp_count,
        config={
            "maxScpsPerTarget": {"type": "integer", "minimum": 1, "default": MAX_SCPS_PER_TARGET,
                                 "description": "SCPs AWS allows per root, OU or account."},
            "fullAwsAccessAttached": {"type": "boolean", "default": True,
                                      "description": "Count FullAWSAccess on every target when the stack does "
                                                     "not attach it itself."},
        },
    ),
    resource_policy(
        name="lim-3-managed-policy-size", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="LIM-3: customer managed IAM policies fit 6,144 characters (whitespace not counted).",
        remediation="Use wildcards for families of actions, drop duplicate statements, or split the policy in two.",
        types=(MANAGED_POLICY,), validate=_size_check("policy", "managed policy", 6144, True),
        config={"maxCharacters": {"type": "integer", "default": 6144, "description": "Managed policy size limit."}},
    ),
    stack_policy(
        name="lim-4-inline-policies-per-role", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="LIM-4: all inline policies of a role together (inlinePolicies and aws.iam.RolePolicy) fit "
                    "10,240 characters (whitespace not counted).",
        remediation="Move statements into customer managed policies attached to the role.",
        validate=_validate_inline_total,
        config={"maxCharacters": {"type": "integer", "default": MAX_INLINE_CHARACTERS,
                                  "description": "Total inline policy size per role."}},
    ),
    resource_policy(
        name="lim-5-trust-policy-size", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="LIM-5: role trust policies fit 2,048 characters (the default quota; whitespace not counted).",
        remediation="Trust fewer principals per role (use aws:PrincipalOrgPaths or aws:PrincipalArn patterns), "
                    "or raise the IAM quota and maxCharacters (up to 4,096).",
        types=(ROLE,), validate=_size_check("assumeRolePolicy", "trust policy of role", 2048, True),
        config={"maxCharacters": {"type": "integer", "default": 2048, "description": "Trust policy size quota."}},
    ),
    resource_policy(
        name="lim-6-bucket-policy-size", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="LIM-6: S3 bucket policies fit 20 KB (20,480 bytes).",
        remediation="Grant through roles in the consumer accounts (aws:PrincipalOrgPaths) instead of listing "
                    "principals, or use S3 access points.",
        types=(BUCKET_POLICY, BUCKET), validate=_size_check("policy", "bucket policy", 20480, False),
        config={"maxCharacters": {"type": "integer", "default": 20480, "description": "Bucket policy size in bytes."}},
    ),
    resource_policy(
        name="lim-7-key-policy-size", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="LIM-7: KMS key policies fit 32 KB (32,768 bytes).",
        remediation="Use grants or IAM policies in the consumer accounts instead of listing principals.",
        types=(KEY, KEY_POLICY), validate=_size_check("policy", "key policy", 32768, False),
        config={"maxCharacters": {"type": "integer", "default": 32768, "description": "Key policy size in bytes."}},
    ),
]
