"""One ML project environment's buckets in its own account (whitepaper "Data management").

A project key (`CustomerManagedKey`) encrypts every data bucket of the set; its policy names
the principals the buckets' policies admit, and nobody else. The access-log bucket is created
first and receives every other bucket's server access logs; AWS delivers those only to SSE-S3
buckets, so it is the one bucket encrypted without the key, and no IAM principal may write or
delete its objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.data_access import (
    LogDelivery,
    ObjectGrant,
    ServiceGrant,
    data_bucket_statements,
    key_uses_for,
)
from components.kms_keys import CustomerManagedKey, KeyUse, RolePrincipals
from components.secure_bucket import BucketAccess, LifecycleRule, SecureBucket


@dataclass(frozen=True)
class BucketKind:
    """One bucket of the set: its kind, name, who reads / writes it, lifecycle and tags."""

    kind: str
    bucket_name: str
    grants: Sequence[ObjectGrant] = ()
    services: Sequence[ServiceGrant] = ()
    lifecycle: Sequence[LifecycleRule] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectBucketSetArgs:
    account_id: pulumi.Input[str]
    region: str
    key_alias: str
    key_administrators: RolePrincipals
    access_log_bucket_name: str
    # Buckets of this account whose names start with this may deliver access logs.
    log_source_prefix: str
    buckets: Sequence[BucketKind]
    access_log_lifecycle: Sequence[LifecycleRule] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    # Roles granted access must belong to this organization (`aws:PrincipalOrgID`).
    organization_id: pulumi.Input[str] | None = None
    # The deploying role: may list (HeadBucket) but never read or write objects.
    bucket_managers: RolePrincipals | None = None
    allow_destroy: bool = False
    # Uses of the project key beyond S3 (SageMaker volumes and EFS, Parameter Store).
    extra_key_uses: Sequence[KeyUse] = ()


def access_log_bucket(name: str, bucket_name: str, log_delivery: LogDelivery, tags: Mapping[str, str],
                      lifecycle: Sequence[LifecycleRule], allow_destroy: bool = False,
                      opts: pulumi.ResourceOptions | None = None) -> SecureBucket:
    """The bucket that receives the S3 server access logs of a data account's buckets: SSE-S3,
    the only encryption AWS delivers those logs to, and written by log delivery alone."""
    return SecureBucket(
        name,
        bucket_name=bucket_name,
        kms_key_arn=None,
        access_log_target=True,
        tags={**tags, "bucket-kind": "access-logs"},
        lifecycle_rules=lifecycle,
        access=BucketAccess(statements=data_bucket_statements(f"arn:aws:s3:::{bucket_name}", log_delivery=log_delivery)),
        allow_destroy=allow_destroy,
        opts=opts,
    )


class ProjectBucketSet(pulumi.ComponentResource):
    """The project key, the access-log bucket and one `SecureBucket` per `BucketKind`.

    Outputs: `key_arn`, `buckets` (kind -> SecureBucket, including `access-logs`).
    """

    key_arn: pulumi.Output[str]
    buckets: dict[str, SecureBucket]

    def __init__(self, name: str, args: ProjectBucketSetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:data:ProjectBucketSet", name, None, opts)
        a = args
        log_delivery = LogDelivery(source_account=a.account_id, source_bucket_prefix=a.log_source_prefix)
        grants = [g for b in a.buckets for g in b.grants]
        services = [s for b in a.buckets for s in b.services]
        key = CustomerManagedKey(
            f"{name}-key",
            alias=a.key_alias,
            description=f"Project data: {', '.join(b.kind for b in a.buckets)} and access-log buckets",
            administrators=a.key_administrators,
            uses=[*key_uses_for(a.region, grants, services, organization_id=a.organization_id), *a.extra_key_uses],
            tags=a.tags,
            allow_destroy=a.allow_destroy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key_arn = key.arn
        logs = access_log_bucket(f"{name}-access-logs", a.access_log_bucket_name, log_delivery, a.tags,
                                 a.access_log_lifecycle, a.allow_destroy, pulumi.ResourceOptions(parent=self))
        self.buckets = {"access-logs": logs}
        for spec in a.buckets:
            self.buckets[spec.kind] = SecureBucket(
                f"{name}-{spec.kind}",
                bucket_name=spec.bucket_name,
                kms_key_arn=key.arn,
                tags={**a.tags, **spec.tags, "bucket-kind": spec.kind},
                access_log_bucket=logs.bucket,
                lifecycle_rules=spec.lifecycle,
                access=BucketAccess(statements=data_bucket_statements(
                    f"arn:aws:s3:::{spec.bucket_name}", spec.grants, spec.services, organization_id=a.organization_id,
                    managers=a.bucket_managers)),
                allow_destroy=a.allow_destroy,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({
            "keyArn": self.key_arn,
            "buckets": {kind: b.bucket for kind, b in self.buckets.items()},
        })
