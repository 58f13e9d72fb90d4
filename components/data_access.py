"""Bucket-policy statements for data buckets: who may read, who may write, nobody else.

Built as Python data for `SecureBucket(access=BucketAccess(statements=...))`. The model:

- an **Allow** per grant, to the grant's accounts constrained by `aws:PrincipalArn` to the
  grant's roles (a policy naming a role ARN directly is rejected while the role does not exist,
  and consumer roles live in stacks that run later);
- a **Deny** of object reads to every IAM principal that is not a reader, and of object writes
  to every IAM principal that is not a writer. In the bucket's own account IAM policies alone
  would otherwise grant access; the deny makes the bucket policy the single place that decides.
  Service principals (the S3 logging service, Rekognition) are outside these denies
  (`aws:PrincipalIsAWSService`); they are admitted only by their own statements, each bound
  to `aws:SourceAccount`;
- a **Deny outside the prefix** for grants limited to one prefix (e.g. `redacted/`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.kms_keys import (
    DECRYPT_ONLY,
    ENCRYPT_DECRYPT,
    KeyUse,
    RolePrincipals,
    account_root,
    merge_principals,
)
from policy_documents.serialize import concat

READ_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging")
PUT_OBJECT_ACTIONS = ("s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload")
DELETE_OBJECT_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteObjectTagging")
LIST_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions")
# Wildcards in denies so an action S3 adds later is denied too.
DENY_READ_ACTIONS = ("s3:GetObject*",)
DENY_WRITE_ACTIONS = ("s3:PutObject*", "s3:DeleteObject*", "s3:RestoreObject")
# Rekognition Custom Labels reading a training data set (model-sharing blog, "Sharing data
# across accounts"); its write statement is used only on the producer's own work bucket.
REKOGNITION_BUCKET_ACTIONS = ("s3:GetBucketAcl", "s3:GetBucketLocation")
REKOGNITION_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectVersion", "s3:GetObjectTagging")


@dataclass(frozen=True)
class ObjectGrant:
    """Roles that may read (and, with `write`, write) the bucket's objects, optionally only
    under `prefix`."""

    sid: str
    roles: Sequence[RolePrincipals]
    write: bool = False
    read: bool = True
    # Writers may delete objects and versions unless this is off (then: put only).
    delete: bool = True
    prefix: str = ""


@dataclass(frozen=True)
class ServiceGrant:
    """An AWS service principal acting for `source_account` (confused-deputy protection)."""

    sid: str
    service: str
    source_account: pulumi.Input[str]
    write: bool = False
    prefix: str = ""


@dataclass(frozen=True)
class LogDelivery:
    """The bucket receives S3 server access logs of buckets named `<source_prefix>*` in
    `source_account`; no IAM principal may write or delete its objects."""

    source_account: pulumi.Input[str]
    source_bucket_prefix: str


def _arns(grants: Sequence[ObjectGrant]) -> list[pulumi.Input[str]]:
    merged = merge_principals([principals for grant in grants for principals in grant.roles])
    return [arn for principals in merged for arn in principals.role_arns]


def _principal(roles: Sequence[RolePrincipals]) -> dict:
    roots = [account_root(r.account_id) for r in merge_principals(roles)]
    return {"AWS": roots if len(roots) > 1 else roots[0]}


def data_bucket_statements(
    bucket_arn: pulumi.Input[str],
    grants: Sequence[ObjectGrant] = (),
    services: Sequence[ServiceGrant] = (),
    log_delivery: LogDelivery | None = None,
    organization_id: pulumi.Input[str] | None = None,
    managers: RolePrincipals | None = None,
) -> list[dict]:
    """Statements giving exactly `grants` and `services` access to the bucket's data.

    With `organization_id`, every allow to roles also requires `aws:PrincipalOrgID`.
    `managers` (the deploying role) may still list the bucket: `HeadBucket`, which every
    read of the bucket's configuration starts with, needs `s3:ListBucket`. They never read
    or write objects.
    """
    objects = concat(bucket_arn, "/*")
    statements: list[dict] = []
    in_org = {"StringEquals": {"aws:PrincipalOrgID": organization_id}} if organization_id is not None else {}
    for grant in grants:
        arns = [arn for r in merge_principals(grant.roles) for arn in r.role_arns]
        condition = {"ArnLike": {"aws:PrincipalArn": arns}, **in_org}
        scope = concat(bucket_arn, "/", grant.prefix, "*") if grant.prefix else objects
        actions = [*(READ_OBJECT_ACTIONS if grant.read else ()), *(PUT_OBJECT_ACTIONS if grant.write else ()),
                   *(DELETE_OBJECT_ACTIONS if grant.write and grant.delete else ())]
        statements.append({"Sid": grant.sid, "Effect": "Allow", "Principal": _principal(grant.roles),
                           "Action": actions, "Resource": scope, "Condition": condition})
        if grant.read:
            list_condition: dict = {"ArnLike": {"aws:PrincipalArn": arns}, **in_org}
            list_actions = list(LIST_ACTIONS)
            if grant.prefix:
                list_condition["StringLike"] = {"s3:prefix": [f"{grant.prefix}*"]}
            else:
                list_actions.append("s3:GetBucketLocation")
            statements.append({"Sid": f"{grant.sid}List", "Effect": "Allow", "Principal": _principal(grant.roles),
                               "Action": list_actions, "Resource": bucket_arn, "Condition": list_condition})
        if grant.write and not grant.delete:
            statements.append({
                "Sid": f"{grant.sid}NeverDeletes", "Effect": "Deny", "Principal": "*",
                "Action": ["s3:DeleteObject*"], "Resource": objects, "Condition": {"ArnLike": {"aws:PrincipalArn": arns}},
            })
        if grant.prefix:
            statements.append({
                "Sid": f"{grant.sid}OnlyUnderPrefix", "Effect": "Deny", "Principal": "*",
                "Action": [*DENY_READ_ACTIONS, *DENY_WRITE_ACTIONS],
                "NotResource": scope, "Condition": {"ArnLike": {"aws:PrincipalArn": arns}},
            })
    for service in services:
        condition = {"StringEquals": {"aws:SourceAccount": service.source_account}}
        scope = concat(bucket_arn, "/", service.prefix, "*") if service.prefix else objects
        statements.append({"Sid": f"{service.sid}Bucket", "Effect": "Allow", "Principal": {"Service": service.service},
                           "Action": list(REKOGNITION_BUCKET_ACTIONS), "Resource": bucket_arn, "Condition": condition})
        statements.append({"Sid": f"{service.sid}Read", "Effect": "Allow", "Principal": {"Service": service.service},
                           "Action": list(REKOGNITION_READ_ACTIONS), "Resource": scope, "Condition": condition})
        if service.write:
            statements.append({
                "Sid": f"{service.sid}Write", "Effect": "Allow", "Principal": {"Service": service.service},
                "Action": "s3:PutObject", "Resource": scope,
                "Condition": {"StringEquals": {"aws:SourceAccount": service.source_account,
                                               "s3:x-amz-acl": "bucket-owner-full-control"}},
            })
    if log_delivery is not None:
        statements.append({
            "Sid": "S3ServerAccessLogDelivery", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject", "Resource": objects,
            "Condition": {"StringEquals": {"aws:SourceAccount": log_delivery.source_account},
                          "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{log_delivery.source_bucket_prefix}*"}},
        })
        statements.append({
            "Sid": "DenyLogChangesByPrincipals", "Effect": "Deny", "Principal": "*",
            "Action": list(DENY_WRITE_ACTIONS), "Resource": objects,
            "Condition": dict(_NOT_A_SERVICE),
        })
    readers = _arns([g for g in grants if g.read])
    writers = _arns([g for g in grants if g.write])
    if log_delivery is None:
        statements.append({
            "Sid": "DenyReadExceptGrantedRoles", "Effect": "Deny", "Principal": "*",
            "Action": list(DENY_READ_ACTIONS), "Resource": objects, "Condition": _except(readers),
        })
        listers = readers + (_arns([ObjectGrant("Managers", [managers])]) if managers is not None else [])
        statements.append({
            "Sid": "DenyListExceptGrantedRoles", "Effect": "Deny", "Principal": "*",
            "Action": list(LIST_ACTIONS), "Resource": bucket_arn, "Condition": _except(listers),
        })
        statements.append({
            "Sid": "DenyWriteExceptGrantedRoles", "Effect": "Deny", "Principal": "*",
            "Action": list(DENY_WRITE_ACTIONS), "Resource": objects,
            "Condition": _except(writers),
        })
    return statements


def _except(arns: list[pulumi.Input[str]]) -> dict:
    """Condition matching every principal that is not an AWS service principal and not in
    `arns` (all of them when `arns` is empty). `aws:PrincipalIsAWSService` is in every signed
    request; a service acting with a caller's credentials (Athena, Glue) is that caller."""
    if not arns:
        return dict(_NOT_A_SERVICE)
    return {"ArnNotLike": {"aws:PrincipalArn": arns}, **_NOT_A_SERVICE}


_NOT_A_SERVICE = {"Bool": {"aws:PrincipalIsAWSService": "false"}}




def key_uses_for(region: str, grants: Sequence[ObjectGrant], services: Sequence[ServiceGrant] = (),
                 organization_id: pulumi.Input[str] | None = None) -> list[KeyUse]:
    """The key-policy statements matching the bucket grants of the buckets a key encrypts:
    writers encrypt and decrypt, readers decrypt, services likewise for their account; all
    only through S3 (`kms:ViaService`)."""
    via_s3 = (f"s3.{region}.amazonaws.com",)
    uses: list[KeyUse] = []
    writers = merge_principals([r for g in grants if g.write for r in g.roles])
    readers = merge_principals([r for g in grants if g.read and not g.write for r in g.roles])
    if writers:
        uses.append(KeyUse("DataWritersThroughS3", ENCRYPT_DECRYPT, roles=writers, via_services=via_s3,
                           organization_id=organization_id))
    if readers:
        uses.append(KeyUse("DataReadersThroughS3", DECRYPT_ONLY, roles=readers, via_services=via_s3,
                           organization_id=organization_id))
    # One statement per service and account: it encrypts where it writes any bucket of the key
    # (which covers decrypting what it reads), else it only decrypts.
    by_service: dict[tuple[str, int], tuple[ServiceGrant, bool]] = {}
    for service in services:
        ident = (service.service, id(service.source_account))
        first, write = by_service.get(ident, (service, False))
        by_service[ident] = (first, write or service.write)
    for service, write in by_service.values():
        uses.append(KeyUse(f"{service.sid}ThroughS3", ENCRYPT_DECRYPT if write else DECRYPT_ONLY,
                           service=service.service, source_account=service.source_account, via_services=via_s3))
    return uses
