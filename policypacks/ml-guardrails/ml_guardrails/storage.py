"""Storage: S3 buckets (S3-1 .. S3-4).

In pulumi-aws v7 a bucket's public-access block, encryption, versioning and policy are separate
resources, so these are stack policies: each `aws:s3/bucket:Bucket` is linked to the resources
whose `bucket` input refers to it, through the input's property dependencies (known in
`pulumi preview` even while the bucket name is unknown) or, failing that, the bucket's name.
A bucket's deprecated inline settings (`serverSideEncryptionConfiguration`, `versioning`,
`policy`) count too when they comply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import (
    UNKNOWN,
    ResourceContext,
    Stack,
    StackResource,
    as_list,
    json_value,
    resource_policy,
    stack_policy,
    truthy,
)
from .identity import is_allow, load_document, outside_principals, restricted_by, statements

DOMAIN = "storage"

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"

PAB_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
AWS_MANAGED_S3_KEY = ("alias/aws/s3",)


def _children(stack: Stack, bucket: StackResource, child_type: str) -> list[StackResource]:
    return stack.children(bucket, (child_type,), "bucket")


# --------------------------------------------------------------------------------------------
# One question per guardrail, answered for a bucket; LOG-2 asks them too
# --------------------------------------------------------------------------------------------
def public_access_problems(stack: Stack, bucket: StackResource) -> list[str]:
    blocks = _children(stack, bucket, PUBLIC_ACCESS_BLOCK)
    if not blocks:
        return [f"bucket {bucket.name} has no aws.s3.BucketPublicAccessBlock"]
    problems = []
    for block in blocks:
        off = [s for s in PAB_SETTINGS if block.props.get(s) is not UNKNOWN and truthy(block.props.get(s)) is not True]
        if off:
            problems.append(f"bucket {bucket.name}: public access block {block.name} does not set {', '.join(off)} to true")
    return problems


def access_log_targets(stack: Stack) -> set[str]:
    """URNs of buckets that receive S3 server access logs (AWS only delivers them to SSE-S3 buckets)."""
    return {b.urn for logging in stack.of_type(BUCKET_LOGGING) for b in stack.linked(logging, "targetBucket", (BUCKET,))}


def _sse_rule_problems(rules: list[Any], key_required: bool, sse_s3_allowed: bool = False) -> list[str]:
    if not rules:
        return ["has no server-side encryption rule"]
    problems = []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        default = rule.get("applyServerSideEncryptionByDefault")
        if isinstance(default, list):  # the deprecated inline form nests lists
            default = default[0] if default else None
        if default is UNKNOWN:
            continue
        if not isinstance(default, dict):
            problems.append("has no default encryption (applyServerSideEncryptionByDefault)")
            continue
        algorithm = default.get("sseAlgorithm")
        key = default.get("kmsMasterKeyId")
        if algorithm is UNKNOWN:
            continue
        if sse_s3_allowed and algorithm == "AES256":
            continue
        if algorithm not in ("aws:kms", "aws:kms:dsse"):
            problems.append(f"encrypts with {algorithm or 'no algorithm'} instead of aws:kms")
            continue
        if key is not UNKNOWN and key_required:
            if not key:
                problems.append("uses SSE-KMS without kmsMasterKeyId (the AWS-managed aws/s3 key)")
            elif isinstance(key, str) and (key in AWS_MANAGED_S3_KEY or key.endswith(":alias/aws/s3")):
                problems.append(f"uses the AWS-managed key {key} instead of a customer-managed key")
        if algorithm == "aws:kms" and rule.get("bucketKeyEnabled") is not UNKNOWN \
                and truthy(rule.get("bucketKeyEnabled")) is not True:
            problems.append("does not enable the S3 bucket key (bucketKeyEnabled)")
    return problems


def encryption_problems(stack: Stack, bucket: StackResource, key_required: bool = True) -> list[str]:
    """SSE-KMS with a customer key and the bucket key; SSE-S3 is accepted on server access log
    targets, the one place AWS requires it."""
    configs = _children(stack, bucket, ENCRYPTION)
    sse_s3 = bucket.urn in access_log_targets(stack)
    inline = json_value(bucket.props.get("serverSideEncryptionConfiguration"))
    if not configs and isinstance(inline, dict) and inline:
        rules = [r for r in as_list(inline.get("rule") or inline.get("rules")) if isinstance(r, dict)]
        problems = _sse_rule_problems(rules, key_required, sse_s3)
        return [f"bucket {bucket.name} (inline serverSideEncryptionConfiguration) {p}" for p in problems]
    if not configs:
        return [f"bucket {bucket.name} has no aws.s3.BucketServerSideEncryptionConfiguration"]
    problems = []
    for config in configs:
        rules = config.props.get("rules")
        if rules is UNKNOWN:
            continue
        problems += [f"bucket {bucket.name}: {config.name} {p}"
                     for p in _sse_rule_problems([r for r in as_list(rules) if r is not None], key_required, sse_s3)]
    return problems


def versioning_problems(stack: Stack, bucket: StackResource) -> list[str]:
    configs = _children(stack, bucket, VERSIONING)
    inline = json_value(bucket.props.get("versioning"))
    if not configs and isinstance(inline, dict) and truthy(inline.get("enabled")) is True:
        return []
    if not configs:
        return [f"bucket {bucket.name} has no aws.s3.BucketVersioning"]
    problems = []
    for config in configs:
        settings = config.props.get("versioningConfiguration")
        status = settings.get("status") if isinstance(settings, dict) else settings
        if status is UNKNOWN:
            continue
        if status != "Enabled":
            problems.append(f"bucket {bucket.name}: {config.name} sets versioning status {status or 'unset'}, not Enabled")
    return problems


def is_tls_deny(statement: dict[str, Any]) -> bool:
    """Deny for everyone, on all of S3 (or everything), when aws:SecureTransport is false."""
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal not in ("*", {"AWS": "*"}) and not (isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))):
        return False
    if not any(a in ("*", "s3:*") for a in as_list(statement.get("Action"))):
        return False
    resources = [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]
    if resources and not any(r == "*" or r.endswith("/*") for r in resources):
        return False
    for operator, block in (statement.get("Condition") or {}).items():
        if operator.lower() in ("bool", "boolifexists") and isinstance(block, dict):
            for key, value in block.items():
                if key.lower() == "aws:securetransport" and any(str(v).lower() == "false" for v in as_list(value)):
                    return True
    return False


def _policy_values(stack: Stack, bucket: StackResource) -> list[tuple[str, Any]]:
    values = [(p.name, p.props.get("policy")) for p in _children(stack, bucket, BUCKET_POLICY)]
    inline = bucket.set_by_program("policy")
    if inline is UNKNOWN or inline:
        values.append((f"{bucket.name} (inline policy)", inline))
    return values


def tls_problems(stack: Stack, bucket: StackResource) -> list[str]:
    values = _policy_values(stack, bucket)
    if not values:
        return [f"bucket {bucket.name} has no aws.s3.BucketPolicy denying requests without TLS"]
    for _, value in values:
        document = load_document("bucket", "policy", value)
        if document is None or document.unknown:
            return []  # known at deployment; cannot be judged during preview
        if document.doc and any(is_tls_deny(s) for s in statements(document.doc)):
            return []
    names = ", ".join(n for n, _ in values)
    return [f"bucket {bucket.name}: policy {names} has no Deny for Principal '*' on s3:* with "
            "Bool aws:SecureTransport = false"]


def public_policy_problems(value: Any, label: str, own_accounts: set[str], keys: list[str]) -> list[str]:
    document = load_document("bucket", label, value)
    if document is None or document.doc is None:
        return []
    problems = []
    for index, statement in enumerate(statements(document.doc)):
        if not is_allow(statement):
            continue
        if any(p == "*" for p, _ in outside_principals(statement, own_accounts)) and not restricted_by(statement, keys):
            problems.append(f"{label}: statement {statement.get('Sid') or '#' + str(index)} allows '*' "
                            "without a condition restricting who (the bucket is public)")
    return problems


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------
def _each_bucket(check: Callable[[Stack, StackResource], list[str]]) -> Callable[[Stack, Callable[..., None]], None]:
    def validate(stack: Stack, report: Callable[[str, str | None], None]) -> None:
        for bucket in stack.of_type(BUCKET):
            problems = check(stack, bucket)
            if problems:
                report("; ".join(problems), bucket.urn)
    return validate


def _validate_public_settings(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    keys = ctx.config.get("publicConditionKeys") or []
    if ctx.type == BUCKET_ACL:
        if ctx.props.get("acl") in PUBLIC_ACLS:
            report(f"bucket ACL {ctx.name} grants the canned ACL {ctx.props['acl']}")
        policy = ctx.props.get("accessControlPolicy")
        grants = policy.get("grants") if isinstance(policy, dict) else None
        for grant in as_list(grants):
            grantee = grant.get("grantee") if isinstance(grant, dict) else None
            if isinstance(grantee, dict) and grantee.get("uri") in PUBLIC_GRANTEES:
                report(f"bucket ACL {ctx.name} grants {grant.get('permission')} to {grantee.get('uri')}")
    elif ctx.type == BUCKET:
        if ctx.props.get("acl") in PUBLIC_ACLS:
            report(f"bucket {ctx.name} has the canned ACL {ctx.props['acl']}")
        for grant in as_list(ctx.props.get("grants")):  # the bucket's inline ACL grants
            if isinstance(grant, dict) and grant.get("uri") in PUBLIC_GRANTEES:
                report(f"bucket {ctx.name} grants {', '.join(as_list(grant.get('permissions')))} to {grant['uri']}")
        for problem in public_policy_problems(ctx.props.get("policy"), f"bucket {ctx.name} policy", ctx.own_accounts, keys):
            report(problem)
    elif ctx.type == BUCKET_POLICY:
        for problem in public_policy_problems(ctx.props.get("policy"), f"bucket policy {ctx.name}", ctx.own_accounts, keys):
            report(problem)
    elif ctx.type in (PUBLIC_ACCESS_BLOCK, ACCOUNT_PUBLIC_ACCESS_BLOCK):
        off = [s for s in PAB_SETTINGS if ctx.props.get(s) is not UNKNOWN and truthy(ctx.props.get(s)) is not True]
        if off:
            report(f"{ctx.type.split(':')[-1]} {ctx.name} does not set {', '.join(off)} to true")


# pulumi-aws v7 still ships the v6 `*V2` S3 types, deprecated. The bucket guardrails follow the
# v7 types (a bucket and its separate settings); a V2 resource would slip past them.
DEPRECATED_S3_TYPES = tuple(f"aws:s3/{module}:{name}" for module, name in (
    ("bucketV2", "BucketV2"), ("bucketAclV2", "BucketAclV2"), ("bucketVersioningV2", "BucketVersioningV2"),
    ("bucketServerSideEncryptionConfigurationV2", "BucketServerSideEncryptionConfigurationV2"),
    ("bucketLoggingV2", "BucketLoggingV2"), ("bucketLifecycleConfigurationV2", "BucketLifecycleConfigurationV2"),
    ("bucketObjectLockConfigurationV2", "BucketObjectLockConfigurationV2"),
    ("bucketCorsConfigurationV2", "BucketCorsConfigurationV2"),
    ("bucketWebsiteConfigurationV2", "BucketWebsiteConfigurationV2"),
    ("bucketAccelerateConfigurationV2", "BucketAccelerateConfigurationV2"),
    ("bucketRequestPaymentConfigurationV2", "BucketRequestPaymentConfigurationV2"),
))


def _validate_no_deprecated(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    v7 = ctx.type.replace("V2", "").replace("v2:", ":")
    report(f"{ctx.type.split(':')[-1]} {ctx.name} is a deprecated S3 type the bucket guardrails do not follow; "
           f"use {v7}")


POLICIES = [
    resource_policy(
        name="pol-2-no-deprecated-s3-types", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="POL-2: no deprecated pulumi-aws `*V2` S3 resource types (the platform is pulumi-aws v7 "
                    "only); the S3 guardrails judge buckets through the v7 types.",
        remediation="Replace aws.s3.BucketV2 and its *V2 settings with aws.s3.Bucket and the v7 resources "
                    "(BucketVersioning, BucketServerSideEncryptionConfiguration, ...), using aliases to keep state.",
        types=DEPRECATED_S3_TYPES, validate=_validate_no_deprecated,
    ),
    stack_policy(
        name="s3-1-bucket-public-access-block", domain=DOMAIN, severity="critical", enforcement="mandatory",
        description="S3-1: every S3 bucket has an aws.s3.BucketPublicAccessBlock with blockPublicAcls, "
                    "blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true.",
        remediation="Add aws.s3.BucketPublicAccessBlock(bucket=<bucket>.id, block_public_acls=True, "
                    "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True).",
        validate=_each_bucket(public_access_problems),
    ),
    resource_policy(
        name="s3-1-no-public-bucket-settings", domain=DOMAIN, severity="critical", enforcement="mandatory",
        description="S3-1: no public canned ACL or grant to AllUsers/AuthenticatedUsers, no bucket policy "
                    "allowing '*' without a restricting condition, and no bucket or account public access "
                    "block with a setting turned off.",
        remediation="Remove public ACLs (use BucketOwnerEnforced object ownership), restrict '*' statements "
                    "with aws:PrincipalOrgID / aws:SourceVpce / aws:PrincipalArn conditions or name the "
                    "principals, and set all four public access block settings to true.",
        types=(BUCKET, BUCKET_ACL, BUCKET_POLICY, PUBLIC_ACCESS_BLOCK, ACCOUNT_PUBLIC_ACCESS_BLOCK),
        validate=_validate_public_settings,
        config={
            "publicConditionKeys": {"type": "array", "items": {"type": "string"},
                                    "default": ["aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalArn",
                                                "aws:PrincipalAccount", "aws:SourceVpce", "aws:SourceVpc",
                                                "aws:SourceArn", "aws:SourceAccount", "aws:SourceOrgID"],
                                    "description": "Condition keys that keep a '*' statement from being public."},
        },
    ),
    stack_policy(
        name="s3-2-bucket-sse-kms", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="S3-2: every S3 bucket has an aws.s3.BucketServerSideEncryptionConfiguration with "
                    "SSE-KMS (aws:kms or aws:kms:dsse) under a customer-managed key (kmsMasterKeyId, not "
                    "aws/s3) and the S3 bucket key enabled; buckets receiving S3 server access logs "
                    "(aws.s3.BucketLogging target) may use SSE-S3, the only encryption AWS delivers them to.",
        remediation="Add aws.s3.BucketServerSideEncryptionConfiguration(bucket=<bucket>.id, rules=[{"
                    "apply_server_side_encryption_by_default: {sse_algorithm: 'aws:kms', kms_master_key_id: "
                    "<key>.arn}, bucket_key_enabled: True}]) with the data domain's KMS key.",
        validate=_each_bucket(lambda stack, bucket: encryption_problems(stack, bucket)),
    ),
    stack_policy(
        name="s3-3-bucket-versioning", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="S3-3: every S3 bucket has an aws.s3.BucketVersioning with status Enabled.",
        remediation="Add aws.s3.BucketVersioning(bucket=<bucket>.id, versioning_configuration={status: "
                    "'Enabled'}) and a lifecycle rule expiring noncurrent versions.",
        validate=_each_bucket(versioning_problems),
    ),
    stack_policy(
        name="s3-4-bucket-tls-only", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="S3-4: every S3 bucket has a bucket policy with a Deny statement for Principal '*' on "
                    "s3:* (bucket and objects) when aws:SecureTransport is false.",
        remediation="Add to the bucket's aws.s3.BucketPolicy the statement {Sid: 'DenyInsecureTransport', "
                    "Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [<bucket arn>, "
                    "<bucket arn>/*], Condition: {Bool: {'aws:SecureTransport': 'false'}}}.",
        validate=_each_bucket(tls_problems),
    ),
]
