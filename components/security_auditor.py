"""The security-tooling account's auditor roles: read-only on the log archive.

The log-archive bucket and key policies (`components/log_archive.py`) admit these roles by
ARN; cross-account access needs the identity side too, so each role gets exactly what those
policies grant it: the archive reads (`AUDITOR_READ_ACTIONS`) on the archive, Config history
and access-log buckets, and `kms:Decrypt` / `kms:DescribeKey` on the log key through S3 only.
The roles trust their own account (its administrators decide, by identity policy or
permission set, who may assume them); nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.log_archive import AUDITOR_READ_ACTIONS
from policy_documents.serialize import concat, document, policy_json


@dataclass(frozen=True)
class SecurityAuditorArgs:
    """Settings resolved by the stack: role names, the buckets they read and the log key."""

    role_names: Sequence[str]
    account_id: pulumi.Input[str]
    bucket_names: Sequence[str]
    log_key_arn: pulumi.Input[str]
    region: str
    partition: str = "aws"


def auditor_trust(args: SecurityAuditorArgs) -> dict:
    return document({
        "Sid": "SecurityToolingAccount",
        "Effect": "Allow",
        "Principal": {"AWS": concat(f"arn:{args.partition}:iam::", args.account_id, ":root")},
        "Action": "sts:AssumeRole",
    })


def auditor_policy(args: SecurityAuditorArgs) -> dict:
    """What the log archive's bucket and key policies grant the auditors, nothing more."""
    buckets = [f"arn:{args.partition}:s3:::{b}" for b in args.bucket_names]
    return document(
        {
            "Sid": "ReadLogArchive",
            "Effect": "Allow",
            "Action": list(AUDITOR_READ_ACTIONS),
            "Resource": [*buckets, *(f"{b}/*" for b in buckets)],
        },
        {
            "Sid": "DecryptLogsThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": args.log_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{args.region}.amazonaws.com"}},
        },
    )


class SecurityAuditorRoles(pulumi.ComponentResource):
    """One read-only auditor role per name; `opts` carries the security-tooling provider."""

    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: SecurityAuditorArgs, tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:SecurityAuditorRoles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.arns = {}
        for role_name in args.role_names:
            role = aws.iam.Role(
                f"{name}-{role_name}",
                name=role_name,
                description="ml-platform security auditor: read-only on the log archive",
                assume_role_policy=policy_json(auditor_trust(args)),
                tags=dict(tags),
                opts=child,
            )
            aws.iam.RolePolicy(f"{name}-{role_name}-read-archive", role=role.id, name="read-log-archive",
                               policy=policy_json(auditor_policy(args)), opts=child)
            self.arns[role_name] = role.arn
        self.register_outputs({"arns": self.arns})
