"""The organization's log archive in the log-archive account (guardrails LOG-1, LOG-2, LOG-3).

Three buckets, all built by :class:`SecureBucket` and protected, and one KMS key:

* the **archive** bucket receives the organization trail. Object Lock (default retention from
  configuration, COMPLIANCE 365 days by default) makes every log file WORM; the policy lets
  CloudTrail write only under `AWSLogs/<management account>/` and `AWSLogs/<organization id>/`
  and only for this organization's trail (`aws:SourceArn`);
* the **config history** bucket receives AWS Config snapshots and history from every account.
  It is a separate bucket because AWS Config cannot deliver to a bucket with Object Lock
  enabled (AWS::Config::DeliveryChannel reference); it has the same key, versioning and
  no-delete policy. Config writes only under `AWSLogs/<account>/Config/`, only for accounts of
  this organization (`aws:SourceOrgID`);
* the **access-log** bucket receives S3 server access logs of the two others.

Every bucket policy denies deletion and loosening (objects, versions, the bucket, its policy,
lifecycle, Object Lock settings and retention) to every principal except the break-glass role,
and denies writes by anything but an AWS service. Because the freeze includes
`s3:PutBucketPolicy` and `s3:PutLifecycleConfiguration`, later changes to these settings must
be applied by the break-glass role — by design: the archive cannot be loosened quietly. This is
what freezes the deployment role (the SCP `LOG2ProtectLogArchive` exempts it); the SCP is what
holds the account root, whom S3 always lets call the bucket-policy operations. The security
stack's change path (`security.log_archive.apply_changes_as: break-glass`) deploys this
component through a provider that assumes the break-glass role named here.

The key (rotation on, 30-day deletion window) may be used by CloudTrail only for this
organization's trail and by AWS Config only for this organization; the security-tooling
account's auditor roles may decrypt through S3 to read the archive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.kms_keys import CustomerManagedKey, KeyUse, RolePrincipals
from components.secure_bucket import (
    BucketAccess,
    LifecycleRule,
    ObjectLock,
    SecureBucket,
)
from policy_documents.serialize import concat

# Actions that delete or loosen the archive (LOG-2); only the break-glass role may call them.
FREEZE_ACTIONS = (
    "s3:DeleteObject*",
    "s3:DeleteBucket*",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketPolicy",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutObjectRetention",
    "s3:BypassGovernanceRetention",
)
AUDITOR_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:GetBucketLocation")


@dataclass(frozen=True)
class LogArchiveArgs:
    """Everything the log archive needs, resolved by the stack from configuration.

    `trail_arn` is the organization trail's ARN, known before the trail exists (the trail
    cannot be created before the bucket policy admits it).
    """

    archive_bucket_name: str
    config_bucket_name: str
    access_log_bucket_name: str
    key_alias: str
    region: str
    account_id: pulumi.Input[str]
    management_account_id: str
    security_tooling_account_id: pulumi.Input[str]
    organization_id: pulumi.Input[str]
    trail_arn: str
    break_glass_role_name: str
    auditor_role_names: Sequence[str]
    object_lock: ObjectLock
    transitions: Sequence[tuple[int, str]] = ()
    expire_days: int | None = None
    access_log_expire_days: int = 365
    partition: str = "aws"
    # Roles that administer the log key (the deployment and break-glass roles).
    key_administrators: Sequence[str] = ()
    # The Config recorder roles of the log-archive account itself (name pattern): Config
    # delivers to a bucket in its own account with the recorder's role, not as the service.
    local_recorder_role_pattern: str | None = None


def _arn(partition: str, account: pulumi.Input[str], resource: str) -> pulumi.Output[str]:
    return concat(f"arn:{partition}:iam::", account, f":{resource}")


def log_key_uses(args: LogArchiveArgs) -> list[KeyUse]:
    """Who may use the log key besides its administrators: CloudTrail (this organization's
    trail), AWS Config (this organization's accounts, and this account's own recorders), and
    the auditors, who may decrypt through S3 only."""
    trail = {"aws:SourceArn": args.trail_arn}
    s3 = f"s3.{args.region}.amazonaws.com"
    uses = [
        KeyUse(sid="CloudTrailEncryptOrganizationTrail", actions=("kms:GenerateDataKey*",),
               service="cloudtrail.amazonaws.com",
               conditions={"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                          f"arn:{args.partition}:cloudtrail:*:{args.management_account_id}:trail/*"},
                           "StringEquals": trail}),
        # With an S3 Bucket Key on the archive, CloudTrail needs Decrypt to create or update an
        # SSE-KMS trail (CloudTrail key policy guide).
        KeyUse(sid="CloudTrailDecryptForBucketKey", actions=("kms:Decrypt",), service="cloudtrail.amazonaws.com",
               conditions={"StringEquals": trail}),
        KeyUse(sid="CloudTrailDescribeKey", actions=("kms:DescribeKey",), service="cloudtrail.amazonaws.com",
               conditions={"StringEquals": trail}),
        KeyUse(sid="ConfigEncryptForOrganization", actions=("kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"),
               service="config.amazonaws.com", conditions={"StringEquals": {"aws:SourceOrgID": args.organization_id}}),
    ]
    if args.local_recorder_role_pattern:
        # In its own account Config delivers with the recorder's role, through S3.
        uses.append(KeyUse(sid="LocalConfigRecordersEncrypt", actions=("kms:GenerateDataKey", "kms:Decrypt"),
                           roles=[RolePrincipals(args.account_id, (args.local_recorder_role_pattern,))],
                           via_services=(s3,)))
    uses.append(KeyUse(sid="AuditorsDecryptThroughS3", actions=("kms:Decrypt", "kms:DescribeKey"),
                       roles=[RolePrincipals(args.security_tooling_account_id, tuple(args.auditor_role_names))],
                       via_services=(s3,), organization_id=args.organization_id))
    return uses


def _bucket_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:s3:::{name}"


def _local_recorder_arn(args: LogArchiveArgs) -> pulumi.Output[str] | None:
    if not args.local_recorder_role_pattern:
        return None
    return _arn(args.partition, args.account_id, f"role/{args.local_recorder_role_pattern}")


def protection_statements(args: LogArchiveArgs, bucket: str, freeze: Sequence[str] = FREEZE_ACTIONS,
                          writers: Sequence[pulumi.Input[str]] = ()) -> list[dict]:
    """Deny deletion and loosening to everyone but the break-glass role (LOG-2), and writes by
    anything but an AWS service or the named `writers` (only log delivery writes here)."""
    arn = _bucket_arn(args.partition, bucket)
    break_glass = _arn(args.partition, args.account_id, f"role/{args.break_glass_role_name}")
    not_a_service: dict = {"Bool": {"aws:PrincipalIsAWSService": "false"}}
    if writers:
        not_a_service["ArnNotLike"] = {"aws:PrincipalArn": list(writers)}
    return [
        {
            "Sid": "LOG2DenyDeleteOrLoosen",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(freeze),
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": break_glass}},
        },
        {
            "Sid": "LOG2DenyWritesExceptServices",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{arn}/*",
            "Condition": not_a_service,
        },
    ]


def auditor_statement(args: LogArchiveArgs, bucket: str) -> dict:
    """Read access for the security-tooling account's auditor roles."""
    arn = _bucket_arn(args.partition, bucket)
    return {
        "Sid": "AuditorsRead",
        "Effect": "Allow",
        "Principal": {"AWS": _arn(args.partition, args.security_tooling_account_id, "root")},
        "Action": list(AUDITOR_READ_ACTIONS),
        "Resource": [arn, f"{arn}/*"],
        "Condition": {
            "ArnLike": {"aws:PrincipalArn": [
                _arn(args.partition, args.security_tooling_account_id, f"role/{r}") for r in args.auditor_role_names]},
            "StringEquals": {"aws:PrincipalOrgID": args.organization_id},
        },
    }


def archive_bucket_statements(args: LogArchiveArgs) -> list[dict]:
    """CloudTrail (this organization's trail only) may check the ACL and write its logs."""
    arn = _bucket_arn(args.partition, args.archive_bucket_name)
    trail = {"aws:SourceArn": args.trail_arn}
    return [
        {
            "Sid": "CloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": arn,
            "Condition": {"StringEquals": trail},
        },
        {
            # The management account's own events (organization trails also write here).
            "Sid": "CloudTrailWriteManagementAccount",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{arn}/AWSLogs/{args.management_account_id}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **trail}},
        },
        {
            "Sid": "CloudTrailWriteOrganization",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": concat(arn, "/AWSLogs/", args.organization_id, "/*"),
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **trail}},
        },
        *protection_statements(args, args.archive_bucket_name),
        auditor_statement(args, args.archive_bucket_name),
    ]


def config_bucket_statements(args: LogArchiveArgs) -> list[dict]:
    """AWS Config, for accounts of this organization only, may check the bucket and write."""
    arn = _bucket_arn(args.partition, args.config_bucket_name)
    org = {"aws:SourceOrgID": args.organization_id}
    recorders = _local_recorder_arn(args)
    # In its own account Config delivers with the recorder's role: those roles may check the
    # bucket and write this account's history, nothing else.
    local = [] if recorders is None else [{
        "Sid": "LocalConfigRecordersWrite",
        "Effect": "Allow",
        "Principal": {"AWS": _arn(args.partition, args.account_id, "root")},
        "Action": ["s3:GetBucketAcl", "s3:ListBucket", "s3:PutObject"],
        "Resource": [arn, concat(arn, "/AWSLogs/", args.account_id, "/Config/*")],
        "Condition": {"ArnLike": {"aws:PrincipalArn": recorders}},
    }]
    return [
        {
            "Sid": "ConfigBucketCheck",
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": arn,
            "Condition": {"StringEquals": org},
        },
        {
            "Sid": "ConfigWriteOrganization",
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{arn}/AWSLogs/*/Config/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **org}},
        },
        *local,
        *protection_statements(args, args.config_bucket_name, writers=[recorders] if recorders is not None else []),
        auditor_statement(args, args.config_bucket_name),
    ]


def access_log_bucket_statements(args: LogArchiveArgs) -> list[dict]:
    """S3 server access logging may write the logs of the two log buckets only."""
    arn = _bucket_arn(args.partition, args.access_log_bucket_name)
    sources = [_bucket_arn(args.partition, b) for b in (args.archive_bucket_name, args.config_bucket_name)]
    return [
        {
            "Sid": "S3ServerAccessLogsWrite",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{arn}/*",
            "Condition": {"ArnLike": {"aws:SourceArn": sources}, "StringEquals": {"aws:SourceAccount": args.account_id}},
        },
        # Access logs expire through the lifecycle; nobody deletes them by hand.
        *protection_statements(args, args.access_log_bucket_name, ("s3:DeleteObject*", "s3:DeleteBucket*")),
        auditor_statement(args, args.access_log_bucket_name),
    ]


class LogArchive(pulumi.ComponentResource):
    """The log archive: KMS key, Object-Locked archive bucket, Config history bucket and
    access-log bucket, with the policies described in the module docstring."""

    key_arn: pulumi.Output[str]
    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]
    config_bucket: pulumi.Output[str]
    config_bucket_arn: pulumi.Output[str]
    access_log_bucket: pulumi.Output[str]

    def __init__(self, name: str, args: LogArchiveArgs, tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:LogArchive", name, None, opts)
        # Administered by the deployment and break-glass roles only: no IAM policy in the
        # account, however broad, can disable the key or schedule its deletion.
        key = CustomerManagedKey(
            f"{name}-key",
            alias=args.key_alias,
            description="ml-platform log archive: organization trail and AWS Config delivery",
            administrators=RolePrincipals(args.account_id, tuple(args.key_administrators)),
            uses=log_key_uses(args),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        lifecycle = [LifecycleRule(id="colder-storage", transitions=tuple(args.transitions), expire_days=args.expire_days)] \
            if args.transitions or args.expire_days else []

        def bucket_opts() -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self)

        # Only the archive's logical name contains "log-archive": tools that recognise the
        # archive by name (the CrossGuard pack's logArchiveBucketPatterns) see it alone.
        # Server access logs are delivered to SSE-S3 buckets only (an AWS constraint).
        access_logs = SecureBucket(
            "server-access-logs", args.access_log_bucket_name, None, tags, access_log_target=True,
            lifecycle_rules=[LifecycleRule(id="expire-access-logs", expire_days=args.access_log_expire_days,
                                           noncurrent_expire_days=30)],
            access=BucketAccess(statements=access_log_bucket_statements(args)),
            opts=bucket_opts(),
        )
        archive = SecureBucket(
            f"{name}-bucket", args.archive_bucket_name, key.arn, tags,
            access_log_bucket=access_logs.bucket,
            lifecycle_rules=lifecycle,
            object_lock=args.object_lock,
            access=BucketAccess(statements=archive_bucket_statements(args)),
            opts=bucket_opts(),
        )
        config_history = SecureBucket(
            "config-history", args.config_bucket_name, key.arn, tags,
            access_log_bucket=access_logs.bucket,
            lifecycle_rules=lifecycle,
            access=BucketAccess(statements=config_bucket_statements(args)),
            opts=bucket_opts(),
        )
        self.key_arn = key.arn
        self.bucket, self.arn = archive.bucket, archive.arn
        self.config_bucket, self.config_bucket_arn = config_history.bucket, config_history.arn
        self.access_log_bucket = access_logs.bucket
        self.register_outputs({
            "key_arn": self.key_arn, "bucket": self.bucket, "arn": self.arn,
            "config_bucket": self.config_bucket, "config_bucket_arn": self.config_bucket_arn,
            "access_log_bucket": self.access_log_bucket,
        })
