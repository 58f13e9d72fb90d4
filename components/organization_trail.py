"""The organization CloudTrail, created in the management account (guardrail LOG-1).

One multi-region organization trail records every account's management events and the S3
object-level (data) events of the data buckets, with log-file validation, into
the log archive encrypted with the log key. It also delivers to a CloudWatch Logs group so the
security alerts can match events as they happen.

CloudTrail can deliver only to a log group in the trail's own account, so the group, its KMS
key and the role CloudTrail assumes to write to it live in the management account; the alerts
built on the group forward their alarms to the security-tooling account (see
`components/security_alerts.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import document, policy_json, to_json


@dataclass(frozen=True)
class OrganizationTrailArgs:
    """The trail's settings, resolved by the stack.

    `data_event_arn_prefixes` are `resources.ARN` prefixes of S3 objects (a bucket ARN followed
    by `/` for one bucket, or a bare name prefix for a family of buckets).
    """

    trail_name: str
    region: str
    management_account_id: str
    bucket_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    data_event_arn_prefixes: Sequence[str]
    log_group_name: str
    log_retention_days: int
    partition: str = "aws"

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.management_account_id}:trail/{self.trail_name}"

    @property
    def log_group_arn(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.management_account_id}:log-group:{self.log_group_name}"


def log_group_key_policy(args: OrganizationTrailArgs) -> dict:
    """The log group key: the management account administers it; CloudWatch Logs may use it for
    the trail's log group only."""
    return document(
        {
            "Sid": "KeyAdministrationByManagementAccount",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{args.partition}:iam::{args.management_account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsUseForTrailLogGroup",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{args.region}.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            # The context key is a string; the exact group ARN is compared as one.
            "Condition": {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": args.log_group_arn}},
        },
    )


def cloudwatch_role_trust(args: OrganizationTrailArgs) -> dict:
    """CloudTrail may assume the delivery role for this trail only."""
    return document({
        "Sid": "CloudTrailAssumeForTrail",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceArn": args.arn, "aws:SourceAccount": args.management_account_id}},
    })


def cloudwatch_role_policy(args: OrganizationTrailArgs) -> dict:
    """Write log streams of the trail's group, nothing else."""
    return document({
        "Sid": "CloudTrailDeliverToLogGroup",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{args.log_group_arn}:log-stream:*",
    })


def event_selectors(args: OrganizationTrailArgs) -> list[aws.cloudtrail.TrailAdvancedEventSelectorArgs]:
    """All management events, plus S3 object events of the configured buckets."""
    selectors = [aws.cloudtrail.TrailAdvancedEventSelectorArgs(
        name="Management events",
        field_selectors=[aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(field="eventCategory", equals=["Management"])],
    )]
    if args.data_event_arn_prefixes:
        selectors.append(aws.cloudtrail.TrailAdvancedEventSelectorArgs(
            name="S3 data events of data buckets",
            field_selectors=[
                aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(field="eventCategory", equals=["Data"]),
                aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(field="resources.type", equals=["AWS::S3::Object"]),
                aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                    field="resources.ARN", starts_withs=list(args.data_event_arn_prefixes)),
            ],
        ))
    return selectors


class OrganizationTrail(pulumi.ComponentResource):
    """A multi-region organization trail with log-file validation, KMS encryption, S3 data
    events and CloudWatch Logs delivery (group, KMS key and delivery role in the trail's
    account). The trail, the group and its key are protected."""

    arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    log_group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: OrganizationTrailArgs, tags: Mapping[str, str],
                 depends_on: Sequence[pulumi.Resource] = (), opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:OrganizationTrail", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-logs-key",
            description=f"ml-platform CloudWatch Logs group of trail {args.trail_name}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=policy_json(log_group_key_policy(args)),
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=args.log_group_name,
            kms_key_id=key.arn,
            retention_in_days=args.log_retention_days,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        role = aws.iam.Role(
            f"{name}-logs-role",
            name=f"{args.trail_name}-cloudwatch",
            assume_role_policy=to_json(cloudwatch_role_trust(args)),
            tags=dict(tags),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-logs-role-policy", role=role.id, name="deliver-to-log-group",
            policy=to_json(cloudwatch_role_policy(args)), opts=child)
        trail = aws.cloudtrail.Trail(
            name,
            name=args.trail_name,
            s3_bucket_name=args.bucket_name,
            kms_key_id=args.kms_key_arn,
            is_multi_region_trail=True,
            is_organization_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            advanced_event_selectors=event_selectors(args),
            # CloudTrail expects the group ARN with its ":*" stream wildcard.
            cloud_watch_logs_group_arn=group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True, depends_on=[role_policy, *depends_on]),
        )
        self.arn = trail.arn
        self.log_group_name = group.name
        self.log_group_arn = group.arn
        self.register_outputs({"arn": self.arn, "log_group_name": self.log_group_name, "log_group_arn": self.log_group_arn})
