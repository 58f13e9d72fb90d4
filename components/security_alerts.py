"""Security alerting: who hears about dangerous changes anywhere in the organization.

The organization trail delivers every account's events, from every region, to a CloudWatch
Logs group in the management account (CloudTrail can only deliver to its own account). There,
one metric filter and alarm per `ALERTS` entry (root-user activity, CloudTrail or Config
changes, SCP or organization changes, IAM policy changes, console sign-in without MFA, KMS key
deletion scheduled, bucket policy changes) turn matching events into alarms.

An EventBridge rule in the management account forwards those alarms' state changes to an event
bus in the security-tooling account; a rule there publishes them to the alert topic. Forwarding
through EventBridge (a role allowed only `events:PutEvents` on that bus, admitted by the bus
policy by role ARN) keeps the topic in security tooling without cross-account alarm actions.
GuardDuty (severity 7 and above) and Security Hub (new HIGH/CRITICAL findings, which include
other regions through the finding aggregator) reach the same topic from the default bus.

The topic is encrypted with its own key (:class:`CustomerManagedKey`: administered by the
deployment and break-glass roles of security tooling only, no `kms:*`, nothing delegated to
the account). EventBridge and CloudWatch may use it to publish to this topic only: SNS binds
each data key to the topic with the encryption context `aws:sns:topicArn`, and both statements
require it. CloudWatch is also held to alarms of security tooling (`aws:SourceAccount`,
`aws:SourceArn`); EventBridge cannot be: the SNS guide ("Managing Amazon SNS encryption keys",
event sources and encrypted topics) says `aws:SourceAccount`, `aws:SourceArn` and
`aws:SourceOrgID` in a KMS key policy are not supported for EventBridge-to-encrypted topics, so
there the topic policy carries the source condition. The topic policy admits both services for
the security-tooling account only and denies publishing without TLS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.kms_keys import CustomerManagedKey, KeyUse, RolePrincipals
from policy_documents.serialize import concat, document, policy_json, to_json

# CloudWatch Logs limits a metric filter pattern to 1,024 characters.
FILTER_PATTERN_MAX = 1024


def _events(source: str, names: Sequence[str]) -> str:
    alternatives = " || ".join(f'($.eventName = "{n}")' for n in names)
    return f'{{ ($.eventSource = "{source}") && ({alternatives}) }}'


@dataclass(frozen=True)
class AlertRule:
    """One security alert: a CloudWatch Logs filter pattern over the organization trail."""

    id: str
    guardrail: str
    title: str
    pattern: str

    @property
    def metric_name(self) -> str:
        return "".join(part.capitalize() for part in self.id.split("-"))


ALERTS: tuple[AlertRule, ...] = (
    AlertRule("root-user-activity", "LOG-4", "Root user activity",
              '{ ($.userIdentity.type = "Root") && ($.userIdentity.invokedBy NOT EXISTS) '
              '&& ($.eventType != "AwsServiceEvent") }'),
    AlertRule("cloudtrail-changes", "LOG-1", "CloudTrail configuration changed",
              _events("cloudtrail.amazonaws.com", ["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging",
                                                   "StopLogging", "PutEventSelectors", "PutInsightSelectors"])),
    AlertRule("config-changes", "LOG-3", "AWS Config configuration changed",
              _events("config.amazonaws.com", ["StopConfigurationRecorder", "DeleteConfigurationRecorder",
                                               "PutConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel",
                                               "DeleteConfigRule", "DeleteOrganizationConfigRule",
                                               "DeleteConfigurationAggregator"])),
    AlertRule("organization-changes", "ORG-1", "SCP or organization changed",
              _events("organizations.amazonaws.com", [
                  "CreatePolicy", "UpdatePolicy", "DeletePolicy", "AttachPolicy", "DetachPolicy", "EnablePolicyType",
                  "DisablePolicyType", "LeaveOrganization", "RemoveAccountFromOrganization", "InviteAccountToOrganization",
                  "AcceptHandshake", "CreateAccount", "MoveAccount", "CreateOrganizationalUnit",
                  "UpdateOrganizationalUnit", "DeleteOrganizationalUnit", "EnableAWSServiceAccess",
                  "DisableAWSServiceAccess", "RegisterDelegatedAdministrator", "DeregisterDelegatedAdministrator"])),
    AlertRule("iam-policy-changes", "IAM-2", "IAM policy changed",
              _events("iam.amazonaws.com", [
                  "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion",
                  "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "PutUserPolicy",
                  "DeleteUserPolicy", "AttachUserPolicy", "DetachUserPolicy", "PutGroupPolicy", "DeleteGroupPolicy",
                  "AttachGroupPolicy", "DetachGroupPolicy", "UpdateAssumeRolePolicy"])),
    AlertRule("console-signin-without-mfa", "IAM-1", "Console sign-in without MFA",
              '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") '
              '&& ($.responseElements.ConsoleLogin = "Success") '
              '&& (($.userIdentity.type = "IAMUser") || ($.userIdentity.type = "Root")) }'),
    AlertRule("kms-key-deletion", "KMS-1", "KMS key disabled or scheduled for deletion",
              _events("kms.amazonaws.com", ["DisableKey", "ScheduleKeyDeletion"])),
    AlertRule("s3-bucket-policy-changes", "S3-5", "S3 bucket policy or public access changed",
              _events("s3.amazonaws.com", ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl",
                                           "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"])),
)

GUARDDUTY_PATTERN = {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"],
                     "detail": {"severity": [{"numeric": [">=", 7]}]}}
SECURITY_HUB_PATTERN = {"source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"],
                        "detail": {"findings": {"Severity": {"Label": ["HIGH", "CRITICAL"]},
                                                "Workflow": {"Status": ["NEW"]},
                                                "RecordState": ["ACTIVE"]}}}


@dataclass(frozen=True)
class SecurityAlertsArgs:
    """Settings resolved by the stack."""

    name_prefix: str
    region: str
    management_account_id: str
    tooling_account_id: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    emails: Sequence[str] = ()
    alerts: Sequence[AlertRule] = ALERTS
    partition: str = "aws"
    # Roles of security tooling that administer the topic key (the deployment and break-glass roles).
    key_administrators: Sequence[str] = ()

    @property
    def topic_name(self) -> str:
        return f"{self.name_prefix}-security-alerts"

    @property
    def bus_name(self) -> str:
        return f"{self.name_prefix}-security-alerts"

    @property
    def forwarder_role_name(self) -> str:
        return f"{self.name_prefix}-security-alert-forwarder"

    @property
    def alarm_prefix(self) -> str:
        return f"{self.name_prefix}-security-"

    def bus_arn(self) -> pulumi.Output[str]:
        return concat(f"arn:{self.partition}:events:{self.region}:", self.tooling_account_id,
                                    f":event-bus/{self.bus_name}")

    def topic_arn(self) -> pulumi.Output[str]:
        return concat(f"arn:{self.partition}:sns:{self.region}:", self.tooling_account_id,
                                    f":{self.topic_name}")


def topic_publish_key_uses(topic_arn: pulumi.Input[str], account_id: pulumi.Input[str], region: str,
                           partition: str = "aws", label: str = "AlertTopic",
                           alarms: bool = True) -> list[KeyUse]:
    """Who may use an encrypted topic's key: EventBridge and (with `alarms`) CloudWatch alarms
    of `account_id`, to publish to `topic_arn` only (the topic policy decides who may publish).
    Statement ids name the topic by `label`."""
    publish = ("kms:GenerateDataKey*", "kms:Decrypt")
    this_topic = {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}
    uses = [
        # No aws:Source* key here: SNS does not support them in the key policy for EventBridge.
        KeyUse(sid=f"EventBridgePublishTo{label}", actions=publish, service="events.amazonaws.com",
               conditions={"StringEquals": this_topic}),
    ]
    if alarms:
        uses.append(KeyUse(
            sid=f"CloudWatchAlarmsPublishTo{label}", actions=publish, service="cloudwatch.amazonaws.com",
            source_account=account_id,
            conditions={"StringEquals": this_topic,
                        "ArnLike": {"aws:SourceArn": concat(
                            f"arn:{partition}:cloudwatch:{region}:", account_id, ":alarm:*")}}))
    return uses


def alert_key_uses(args: SecurityAlertsArgs) -> list[KeyUse]:
    """Who may use the alert topic key: EventBridge and CloudWatch of security tooling."""
    return topic_publish_key_uses(args.topic_arn(), args.tooling_account_id, args.region, args.partition)


def publish_topic_policy(topic_arn: pulumi.Input[str], account_id: pulumi.Input[str], services: Sequence[str],
                         sid: str, source_arns: Sequence[pulumi.Input[str]] = ()) -> dict:
    """`services` acting for `account_id` (and, when given, for `source_arns` only) may publish
    to the topic; nobody publishes without TLS."""
    condition: dict = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arns:
        condition["ArnEquals"] = {"aws:SourceArn": list(source_arns)}
    return document(
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": list(services) if len(services) > 1 else services[0]},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": condition,
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def topic_policy(args: SecurityAlertsArgs) -> dict:
    """EventBridge rules and CloudWatch alarms of security tooling may publish; TLS only."""
    return publish_topic_policy(args.topic_arn(), args.tooling_account_id,
                                ["events.amazonaws.com", "cloudwatch.amazonaws.com"], "EventBridgeAndCloudWatchPublish")


def bus_policy(args: SecurityAlertsArgs) -> dict:
    """Only the management account's forwarder role may put events on the alert bus."""
    return document({
        "Sid": "ManagementAccountForwarder",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{args.partition}:iam::{args.management_account_id}:root"},
        "Action": "events:PutEvents",
        "Resource": args.bus_arn(),
        "Condition": {"ArnEquals": {"aws:PrincipalArn":
                                    f"arn:{args.partition}:iam::{args.management_account_id}:role/{args.forwarder_role_name}"}},
    })


def alarm_event_pattern(args: SecurityAlertsArgs, account: str | None = None) -> dict:
    """Security alarms entering the ALARM state (optionally from one account)."""
    pattern: dict = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": [{"prefix": args.alarm_prefix}], "state": {"value": ["ALARM"]}},
    }
    if account:
        pattern["account"] = [account]
    return pattern


class SecurityAlerts(pulumi.ComponentResource):
    """The alert topic and its routes (see the module docstring). `management` and `tooling`
    are providers in the home region of the management and security-tooling accounts."""

    topic_arn: pulumi.Output[str]
    alarm_names: list[str]

    def __init__(self, name: str, args: SecurityAlertsArgs, management: pulumi.ProviderResource,
                 tooling: pulumi.ProviderResource, tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:SecurityAlerts", name, None, opts)
        in_tool = pulumi.ResourceOptions(parent=self, provider=tooling)
        in_mgmt = pulumi.ResourceOptions(parent=self, provider=management)

        # Security tooling: key, topic, bus and routes.
        key = CustomerManagedKey(
            f"{name}-key",
            alias=f"{args.name_prefix}-security-alerts",
            description="ml-platform security alert topic",
            administrators=RolePrincipals(args.tooling_account_id, tuple(args.key_administrators)),
            uses=alert_key_uses(args),
            tags=tags,
            # The key used to be registered directly under this component: adopt it, never replace it.
            key_aliases=[pulumi.Alias(parent=self)],
            opts=in_tool,
        )
        topic = aws.sns.Topic(f"{name}-topic", name=args.topic_name, kms_master_key_id=key.arn,
                              display_name="ml-platform security alerts", tags=dict(tags), opts=in_tool)
        aws.sns.TopicPolicy(f"{name}-topic-policy", arn=topic.arn, policy=policy_json(topic_policy(args)), opts=in_tool)
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(f"{name}-email-{i}", topic=topic.arn, protocol="email", endpoint=email,
                                      opts=in_tool)

        bus = aws.cloudwatch.EventBus(f"{name}-bus", name=args.bus_name, tags=dict(tags), opts=in_tool)
        bus_access = aws.cloudwatch.EventBusPolicy(f"{name}-bus-policy", event_bus_name=bus.name,
                                                   policy=policy_json(bus_policy(args)), opts=in_tool)
        routes = [
            ("forwarded-alarms", bus.name, alarm_event_pattern(args, args.management_account_id),
             "Security alarms forwarded from the management account"),
            ("guardduty", "default", GUARDDUTY_PATTERN, "GuardDuty findings of severity 7 and above"),
            ("securityhub", "default", SECURITY_HUB_PATTERN, "New HIGH and CRITICAL Security Hub findings"),
        ]
        for route, bus_name, pattern, description in routes:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{route}", name=f"{args.name_prefix}-security-{route}", event_bus_name=bus_name,
                description=description, event_pattern=to_json(pattern), tags=dict(tags), opts=in_tool)
            aws.cloudwatch.EventTarget(f"{name}-{route}-topic", rule=rule.name, event_bus_name=bus_name,
                                       target_id="security-alert-topic", arn=topic.arn, opts=in_tool)

        # Management account: metric filters and alarms on the trail's log group, and the forwarder.
        namespace = f"{args.name_prefix}/SecurityAlerts"
        self.alarm_names = []
        for alert in args.alerts:
            metric_filter = aws.cloudwatch.LogMetricFilter(
                f"{name}-{alert.id}",
                name=f"{args.name_prefix}-{alert.id}",
                log_group_name=args.log_group_name,
                pattern=alert.pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=alert.metric_name, namespace=namespace, value="1", default_value="0"),
                opts=in_mgmt,
            )
            alarm_name = f"{args.alarm_prefix}{alert.id}"
            aws.cloudwatch.MetricAlarm(
                f"{name}-{alert.id}-alarm",
                name=alarm_name,
                alarm_description=f"ml-platform {alert.guardrail}: {alert.title}",
                namespace=namespace,
                metric_name=alert.metric_name,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                tags=dict(tags),
                opts=pulumi.ResourceOptions(parent=self, provider=management, depends_on=[metric_filter]),
            )
            self.alarm_names.append(alarm_name)

        forwarder = aws.iam.Role(
            f"{name}-forwarder",
            name=args.forwarder_role_name,
            assume_role_policy=to_json(document({
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": args.management_account_id}},
            })),
            tags=dict(tags),
            opts=in_mgmt,
        )
        forwarder_policy = aws.iam.RolePolicy(
            f"{name}-forwarder-policy", role=forwarder.id, name="put-events-on-alert-bus",
            policy=policy_json(document({"Effect": "Allow", "Action": "events:PutEvents", "Resource": args.bus_arn()})),
            opts=in_mgmt)
        forward_rule = aws.cloudwatch.EventRule(
            f"{name}-forward-alarms", name=f"{args.name_prefix}-security-forward-alarms",
            description="Forward security alarms to the security-tooling alert bus",
            event_pattern=to_json(alarm_event_pattern(args)), tags=dict(tags), opts=in_mgmt)
        aws.cloudwatch.EventTarget(
            f"{name}-forward-alarms-bus", rule=forward_rule.name, target_id="security-tooling-alert-bus",
            arn=args.bus_arn(), role_arn=forwarder.arn,
            opts=pulumi.ResourceOptions(parent=self, provider=management, depends_on=[bus_access, forwarder_policy, bus]))

        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn, "alarm_names": self.alarm_names})
