"""The one way the platform builds an S3 bucket (guardrails S3-1..S3-4, LOG-2).

In pulumi-aws v7 a bucket's encryption, versioning, public-access block, ownership, logging,
lifecycle, Object Lock and policy are separate resources; this component always creates the
secure set together so no bucket can be built without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import concat, document, policy_json


@dataclass(frozen=True)
class LifecycleRule:
    """Move current objects to colder storage, expire old versions; never expire current data
    unless `expire_days` is set explicitly."""

    id: str
    prefix: str = ""
    transitions: Sequence[tuple[int, str]] = ()  # (days, storage class)
    noncurrent_expire_days: int | None = None
    expire_days: int | None = None


@dataclass(frozen=True)
class ObjectLock:
    """Default Object Lock retention: WORM storage for audit logs."""

    mode: Literal["GOVERNANCE", "COMPLIANCE"]
    days: int


@dataclass(frozen=True)
class BucketAccess:
    """Extra statements for the bucket policy, built by the caller as Python data."""

    statements: Sequence[dict[str, Any]] = field(default_factory=tuple)


def tls_and_encryption_statements(bucket_arn: pulumi.Input[str], kms_key_arn: pulumi.Input[str] | None) -> list[dict]:
    """Deny non-TLS requests (S3-4) and uploads not encrypted with this bucket's key.

    With no key (a server-access-log target, which AWS requires to use SSE-S3) uploads must
    ask for SSE-S3 or nothing.
    """
    objects = concat(bucket_arn, "/*")
    tls = {
        "Sid": "S34DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, objects],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    if kms_key_arn is None:
        return [tls, {
            "Sid": "S34DenyWrongEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            # Only a header that asks for something else is refused: uploads without it (S3 log
            # delivery among them) get the bucket default. `...IfExists` alone would be true
            # when the header is missing, so the Null test is what makes it "if present".
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"},
                          "Null": {"s3:x-amz-server-side-encryption": "false"}},
        }]
    return [
        tls,
        {
            "Sid": "S34DenyWrongEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            # Uploads may omit the header (the bucket default applies) but may not ask for
            # another algorithm or key; the Null test limits the deny to a header that is present.
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                          "Null": {"s3:x-amz-server-side-encryption": "false"}},
        },
        {
            "Sid": "S34DenyOtherKmsKey",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn},
                          "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}},
        },
    ]


class SecureBucket(pulumi.ComponentResource):
    """An S3 bucket with SSE-KMS (customer key, bucket key), versioning, all public access
    blocked, ACLs disabled, access logging, lifecycle, optional Object Lock and a policy that
    denies insecure transport and wrongly encrypted uploads. Protected and kept on
    delete unless the caller passes `allow_destroy=True` (no platform setting does today: data
    is never lost to `pulumi destroy`).

    `access_log_target=True` is for the buckets that receive S3 server access logs: AWS
    delivers those only to SSE-S3 buckets, so such a bucket takes no KMS key (the one
    exception to S3-2, which the policy pack knows by the `access-log-target` tag).
    The bucket policy is applied last, after every setting it may freeze.
    """

    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        bucket_name: str,
        kms_key_arn: pulumi.Input[str] | None,
        tags: Mapping[str, str],
        access_log_bucket: pulumi.Input[str] | None = None,
        lifecycle_rules: Sequence[LifecycleRule] = (),
        object_lock: ObjectLock | None = None,
        access: BucketAccess = BucketAccess(),
        allow_destroy: bool = False,
        access_log_target: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("ml-platform:storage:SecureBucket", name, None, opts)
        if (kms_key_arn is None) != access_log_target:
            raise ValueError(f"SecureBucket {name}: a KMS key is required unless the bucket is an access-log target, "
                             "and an access-log target takes none (AWS delivers server access logs to SSE-S3 only)")
        extra_tags = {"access-log-target": "true"} if access_log_target else {}
        bucket = aws.s3.Bucket(
            name,
            bucket=bucket_name,
            object_lock_enabled=object_lock is not None,
            force_destroy=False,
            tags={**tags, "Name": bucket_name, **extra_tags},
            opts=pulumi.ResourceOptions(parent=self, protect=not allow_destroy, retain_on_delete=not allow_destroy),
        )
        # The settings are children of the component, not of the bucket: a `depends_on` on the
        # component then waits for them too (Pulumi expands a component to its descendants but
        # not past a custom resource), so a trail or delivery channel pointed at this bucket
        # waits for its policy. They are protected like the bucket.
        protect = not allow_destroy

        def on_bucket_opts(*after: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, protect=protect, depends_on=[bucket, *after])

        on_bucket = on_bucket_opts()
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=on_bucket)
        public_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=on_bucket)
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256" if kms_key_arn is None else "aws:kms", kms_master_key_id=kms_key_arn),
                bucket_key_enabled=kms_key_arn is not None)],
            opts=on_bucket)
        settings: list[pulumi.Resource] = [public_block, ownership, encryption]
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=on_bucket)
        settings.append(versioning)
        if access_log_bucket is not None:
            settings.append(aws.s3.BucketLogging(
                f"{name}-logging", bucket=bucket.id, target_bucket=access_log_bucket,
                target_prefix=f"{bucket_name}/", opts=on_bucket))
        if lifecycle_rules:
            settings.append(aws.s3.BucketLifecycleConfiguration(
                f"{name}-lifecycle", bucket=bucket.id,
                rules=[_lifecycle_rule(rule) for rule in lifecycle_rules],
                # Lifecycle rules on a versioned bucket must follow versioning being enabled.
                opts=on_bucket_opts(versioning)))
        if object_lock is not None:
            settings.append(aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock", bucket=bucket.id, object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=object_lock.mode, days=object_lock.days)),
                opts=on_bucket_opts(versioning)))
        aws.s3.BucketPolicy(
            f"{name}-policy", bucket=bucket.id,
            policy=policy_json(document(*tls_and_encryption_statements(bucket.arn, kms_key_arn), *access.statements)),
            # Last: the public-access block must exist first (or a broad policy could be public
            # briefly), and a policy that freezes lifecycle or Object Lock must not pre-empt them.
            opts=on_bucket_opts(*settings))
        self.bucket, self.arn = bucket.bucket, bucket.arn
        self.register_outputs({"bucket": self.bucket, "arn": self.arn})


def _lifecycle_rule(rule: LifecycleRule) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id=rule.id,
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=rule.prefix),
        transitions=[aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(days=d, storage_class=c) for d, c in rule.transitions] or None,
        noncurrent_version_expiration=(
            aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(noncurrent_days=rule.noncurrent_expire_days)
            if rule.noncurrent_expire_days else None),
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=rule.expire_days) if rule.expire_days else None,
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=7),
    )
