"""Monitoring of one ML project's delivery (whitepaper "ML platform monitoring"): its three
areas, each watched in the account where it happens, all reported to one encrypted SNS topic
of the project in the automation account.

- **Automation pipeline** (automation account): EventBridge rules on the default bus for the
  project's CodePipeline executions and CodeBuild builds, targeting the topic.
- **Model training** (pre-production): rules for Step Functions executions, SageMaker Pipelines
  executions and SageMaker training and processing jobs.
- **Production model serving** (production): a rule for SageMaker endpoint state changes, and
  CloudWatch alarms on the endpoint (5xx errors, model latency, invocations dropping to zero)
  whose state changes a rule picks up.

Events cross accounts as EventBridge documents it ("Sending and receiving events between AWS
accounts"): a rule in the sending account targets an event bus of the receiving account with an
IAM role of the sender allowed only `events:PutEvents` on that bus, and the receiving bus's
resource policy admits exactly those roles of exactly the project's pre-production and
production accounts (account principal plus `aws:PrincipalArn`). A rule on that bus publishes to
the topic; alarms therefore need no cross-account alarm actions.

The topic's key is a :class:`CustomerManagedKey` (named administrators, no `kms:*`); EventBridge
may use it for this topic only (`aws:sns:topicArn` encryption context), the same key uses the
security alert topic has (:func:`components.security_alerts.topic_publish_key_uses`). The topic
policy admits EventBridge of the automation account, for the project's own rules only, and
denies publishing without TLS.

A CloudWatch dashboard per project (automation account) shows the builds, the training
executions and the endpoint; its pre-production and production widgets name their account,
which CloudWatch's cross-account dashboards read through each account's
`CloudWatch-CrossAccountSharingRole` (CloudWatch "Cross-account cross-Region dashboards"): with
`organization_id`, the component creates that role in pre-production and production, trusting
the automation account (within the organization) and holding the read-only managed policies
CloudWatch's console attaches when sharing is enabled by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.kms_keys import CustomerManagedKey, RolePrincipals
from components.security_alerts import publish_topic_policy, topic_publish_key_uses
from policy_documents.serialize import concat, document, policy_json, to_json

AREAS = ("automation", "training", "serving")
# CloudWatch accepts 10, 20 and 30 seconds (high-resolution metrics) or a multiple of 60.
_HIGH_RESOLUTION_PERIODS = (10, 20, 30)
# An alarm's evaluation range may not exceed one day.
MAX_EVALUATION_SECONDS = 86400
_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ENDPOINT = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# The name CloudWatch's cross-account dashboards assume in a sharing account, and what the
# console's "Share your CloudWatch data" attaches for metrics and automatic dashboards.
SHARING_ROLE_NAME = "CloudWatch-CrossAccountSharingRole"
SHARING_POLICIES = ("CloudWatchReadOnlyAccess", "CloudWatchAutomaticDashboardsAccess")

# The state changes worth a notification (the documented status values of each event).
PIPELINE_STATES = ("FAILED", "STOPPED", "SUCCEEDED", "SUPERSEDED")
BUILD_STATES = ("FAILED", "STOPPED", "SUCCEEDED")
EXECUTION_STATES = ("ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT")
PIPELINE_EXECUTION_STATES = ("Failed", "Stopped", "Succeeded")
JOB_STATES = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class EventRoute:
    """One EventBridge rule: what it matches, in which area (and so which account)."""

    key: str
    area: str
    description: str
    pattern: dict


@dataclass(frozen=True)
class EndpointAlarms:
    """CloudWatch alarms on the production endpoint's variant (AWS/SageMaker metrics)."""

    endpoint_name: str
    variant_name: str = "primary"
    period_seconds: int = 300
    evaluation_periods: int = 1
    # Invocation5XXErrors summed over a period at or above this count.
    errors_5xx_threshold: int = 1
    # ModelLatency's average above this, in microseconds (the metric's unit).
    latency_threshold_microseconds: int = 1_000_000
    # No invocation at all for this many periods (missing data counts as none).
    idle_periods: int = 3

    def problems(self) -> list[str]:
        found = []
        if not _ENDPOINT.match(self.endpoint_name):
            found.append(f"endpoint_name: '{self.endpoint_name}' is not an endpoint name "
                         "(allowed: letters, digits and hyphens, at most 63 characters)")
        if not _ENDPOINT.match(self.variant_name):
            found.append(f"variant_name: '{self.variant_name}' is not a variant name")
        p = self.period_seconds
        if not (p in _HIGH_RESOLUTION_PERIODS or (p >= 60 and p % 60 == 0)):
            found.append(f"period_seconds: {p} is not a CloudWatch alarm period "
                         "(allowed: 10, 20, 30 or a multiple of 60)")
        for name in ("evaluation_periods", "idle_periods"):
            value = getattr(self, name)
            if value < 1:
                found.append(f"{name}: {value} (allowed: at least 1)")
            elif p > 0 and value * p > MAX_EVALUATION_SECONDS:
                found.append(f"{name}: {value} periods of {p} s exceed CloudWatch's one day of evaluation")
        if self.errors_5xx_threshold < 1:
            found.append(f"errors_5xx_threshold: {self.errors_5xx_threshold} (allowed: at least 1 error)")
        if self.latency_threshold_microseconds <= 0:
            found.append(f"latency_threshold_microseconds: {self.latency_threshold_microseconds} "
                         "(allowed: a positive number of microseconds)")
        return found


@dataclass(frozen=True)
class DeliveryMonitoringArgs:
    """What the delivery stack resolves for one project.

    Names are the project's own (`<name_prefix>-<project>-...`); pipelines and build projects
    are watched by that name prefix unless listed. Without a pre-production (production)
    account the training (serving) area is left out."""

    name_prefix: str
    project: str
    region: str
    automation_account_id: pulumi.Input[str]
    # Roles of the automation account that administer the topic key (deployment, break-glass).
    key_administrators: Sequence[str]
    preprod_account_id: pulumi.Input[str] | None = None
    prod_account_id: pulumi.Input[str] | None = None
    pipeline_names: Sequence[str] = ()
    build_project_names: Sequence[str] = ()
    endpoint_alarms: EndpointAlarms | None = None
    emails: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    partition: str = "aws"
    # With it: the dashboard's sharing roles in pre-production and production (module docstring).
    organization_id: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        problems = []
        for key in ("name_prefix", "project"):
            if not _NAME.match(getattr(self, key)):
                problems.append(f"{key}: '{getattr(self, key)}' (allowed: lowercase letters, digits, hyphens)")
        if not self.key_administrators:
            problems.append("key_administrators: names no role (the topic key needs an administrator)")
        for i, email in enumerate(self.emails):
            if not _EMAIL.match(email):
                problems.append(f"emails[{i}]: '{email}' is not an e-mail address")
        if self.endpoint_alarms is not None:
            if self.prod_account_id is None:
                problems.append("endpoint_alarms: the project has no production account to watch")
            problems.extend(f"endpoint_alarms.{p}" for p in self.endpoint_alarms.problems())
        if problems:
            raise ValueError(f"DeliveryMonitoring {self.project}: " + "; ".join(problems))

    @property
    def base_name(self) -> str:
        return f"{self.name_prefix}-{self.project}"

    @property
    def topic_name(self) -> str:
        return f"{self.base_name}-delivery-events"

    @property
    def bus_name(self) -> str:
        return f"{self.base_name}-delivery-events"

    @property
    def forwarder_role_name(self) -> str:
        return f"{self.base_name}-delivery-event-forwarder"

    @property
    def alarm_prefix(self) -> str:
        return f"{self.base_name}-endpoint-"

    @property
    def dashboard_name(self) -> str:
        return f"{self.base_name}-delivery"

    def arn(self, service: str, account: pulumi.Input[str], resource: str) -> pulumi.Output[str]:
        return concat(f"arn:{self.partition}:{service}:{self.region}:", account, f":{resource}")

    def topic_arn(self) -> pulumi.Output[str]:
        return self.arn("sns", self.automation_account_id, self.topic_name)

    def bus_arn(self) -> pulumi.Output[str]:
        return self.arn("events", self.automation_account_id, f"event-bus/{self.bus_name}")

    def forwarding_accounts(self) -> list[pulumi.Input[str]]:
        """The accounts whose rules forward to the project bus, pre-production first."""
        return [a for a in (self.preprod_account_id, self.prod_account_id) if a is not None]


def sharing_trust(args: DeliveryMonitoringArgs) -> dict:
    """The sharing role's trust: the automation account (its console users viewing the
    dashboard), only as a principal of the organization."""
    return document({
        "Sid": "MonitoringAccountDashboards", "Effect": "Allow",
        "Principal": {"AWS": concat(f"arn:{args.partition}:iam::", args.automation_account_id, ":root")},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:PrincipalOrgID": args.organization_id}}})


def _named(field_name: str, names: Sequence[str], prefix: str) -> dict:
    return {field_name: list(names) if names else [{"prefix": prefix}]}


def routes(args: DeliveryMonitoringArgs) -> list[EventRoute]:
    """Every rule of the project, by area (see the module docstring)."""
    prefix = f"{args.base_name}-"
    found = [
        EventRoute("codepipeline", "automation", "CodePipeline executions of the project's pipelines", {
            "source": ["aws.codepipeline"], "detail-type": ["CodePipeline Pipeline Execution State Change"],
            "detail": {**_named("pipeline", args.pipeline_names, prefix), "state": list(PIPELINE_STATES)}}),
        EventRoute("codebuild", "automation", "CodeBuild builds of the project's build projects", {
            "source": ["aws.codebuild"], "detail-type": ["CodeBuild Build State Change"],
            "detail": {**_named("project-name", args.build_project_names, prefix),
                       "build-status": list(BUILD_STATES)}}),
    ]
    if args.preprod_account_id is not None:
        found += [
            EventRoute("step-functions", "training", "Training workflow (Step Functions) executions", {
                "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                "detail": {"status": list(EXECUTION_STATES)}}),
            EventRoute("sagemaker-pipelines", "training", "Training workflow (SageMaker Pipelines) executions", {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"],
                "detail": {"currentPipelineExecutionStatus": list(PIPELINE_EXECUTION_STATES)}}),
            EventRoute("training-jobs", "training", "SageMaker training jobs", {
                "source": ["aws.sagemaker"], "detail-type": ["SageMaker Training Job State Change"],
                "detail": {"TrainingJobStatus": list(JOB_STATES)}}),
            EventRoute("processing-jobs", "training", "SageMaker processing jobs", {
                "source": ["aws.sagemaker"], "detail-type": ["SageMaker Processing Job State Change"],
                "detail": {"ProcessingJobStatus": list(JOB_STATES)}}),
        ]
    if args.prod_account_id is not None:
        found.append(EventRoute("endpoints", "serving", "SageMaker endpoints", {
            "source": ["aws.sagemaker"], "detail-type": ["SageMaker Endpoint State Change"]}))
        if args.endpoint_alarms is not None:
            found.append(EventRoute("endpoint-alarms", "serving", "Alarms on the production endpoint", {
                "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"alarmName": [{"prefix": args.alarm_prefix}]}}))
    return found


def forwarded_rule_name(args: DeliveryMonitoringArgs) -> str:
    return f"{args.base_name}-delivery-forwarded"


def topic_rule_arns(args: DeliveryMonitoringArgs) -> list[pulumi.Output[str]]:
    """The rules that publish to the topic: the automation area's on the default bus, and the
    project bus's rule for forwarded events (its ARN names the bus). Other projects' rules in
    the same automation account may not publish here."""
    arns = [args.arn("events", args.automation_account_id, f"rule/{args.base_name}-{r.key}")
            for r in routes(args) if r.area == "automation"]
    if args.forwarding_accounts():
        arns.append(args.arn("events", args.automation_account_id, f"rule/{args.bus_name}/{forwarded_rule_name(args)}"))
    return arns


def bus_policy(args: DeliveryMonitoringArgs) -> dict:
    """Only the forwarder roles of the project's pre-production and production accounts may put
    events on the project bus."""
    accounts = args.forwarding_accounts()
    roots = [concat(f"arn:{args.partition}:iam::", a, ":root") for a in accounts]
    roles = [concat(f"arn:{args.partition}:iam::", a, f":role/{args.forwarder_role_name}")
             for a in accounts]
    return document({
        "Sid": "ProjectAccountForwarders",
        "Effect": "Allow",
        "Principal": {"AWS": roots if len(roots) > 1 else roots[0]},
        "Action": "events:PutEvents",
        "Resource": args.bus_arn(),
        "Condition": {"ArnEquals": {"aws:PrincipalArn": roles}},
    })


def forwarded_pattern(args: DeliveryMonitoringArgs) -> dict:
    """Events the project's accounts forward (the bus admits nobody else; this says so again)."""
    return {"account": list(args.forwarding_accounts())}


def alarm_specs(alarms: EndpointAlarms, prefix: str) -> list[dict]:
    """The endpoint alarms as MetricAlarm arguments."""
    dimensions = {"EndpointName": alarms.endpoint_name, "VariantName": alarms.variant_name}
    common = {"namespace": "AWS/SageMaker", "dimensions": dimensions, "period": alarms.period_seconds}
    return [
        {"key": "5xx-errors", "name": f"{prefix}5xx-errors", "metric_name": "Invocation5XXErrors",
         "statistic": "Sum", "threshold": alarms.errors_5xx_threshold, "evaluation_periods": alarms.evaluation_periods,
         "comparison_operator": "GreaterThanOrEqualToThreshold", "treat_missing_data": "notBreaching",
         "alarm_description": "The endpoint answers with server errors", **common},
        {"key": "model-latency", "name": f"{prefix}model-latency", "metric_name": "ModelLatency",
         "statistic": "Average", "threshold": alarms.latency_threshold_microseconds,
         "evaluation_periods": alarms.evaluation_periods, "comparison_operator": "GreaterThanThreshold",
         "treat_missing_data": "notBreaching", "alarm_description": "The model answers slowly (microseconds)",
         **common},
        # No traffic publishes no data point: missing data is "no invocations".
        {"key": "no-invocations", "name": f"{prefix}no-invocations", "metric_name": "Invocations",
         "statistic": "Sum", "threshold": 1, "evaluation_periods": alarms.idle_periods,
         "comparison_operator": "LessThanThreshold", "treat_missing_data": "breaching",
         "alarm_description": "The endpoint receives no invocations", **common},
    ]


def dashboard_body(args: DeliveryMonitoringArgs, region: str) -> pulumi.Output[str]:
    """One dashboard: builds (automation), training executions (preprod), the endpoint (prod)."""
    def widget(title: str, metrics: list, y: int) -> dict:
        return {"type": "metric", "x": 0, "y": y, "width": 24, "height": 6,
                "properties": {"title": title, "region": region, "view": "timeSeries", "stat": "Sum",
                               "period": 300, "metrics": metrics}}

    prefix = f"{args.base_name}-"
    widgets = [widget("Builds", [
        [{"expression": f"SEARCH('{{AWS/CodeBuild,ProjectName}} ProjectName=\"{prefix}\" "
                        "MetricName=\"FailedBuilds\"', 'Sum', 300)", "id": "failed", "label": "failed builds"}],
        [{"expression": f"SEARCH('{{AWS/CodeBuild,ProjectName}} ProjectName=\"{prefix}\" "
                        "MetricName=\"SucceededBuilds\"', 'Sum', 300)", "id": "succeeded", "label": "succeeded builds"}],
    ], 0)]
    if args.preprod_account_id is not None:
        account = args.preprod_account_id
        widgets.append(widget(
            "Training executions (pre-production)", [
                [{"expression": "SEARCH('{AWS/States,StateMachineArn} MetricName=\"ExecutionsFailed\"', 'Sum', 300)",
                  "id": "failed", "label": "failed executions", "accountId": account}],
                [{"expression": "SEARCH('{AWS/States,StateMachineArn} MetricName=\"ExecutionsSucceeded\"', 'Sum', 300)",
                  "id": "succeeded", "label": "succeeded executions", "accountId": account}],
            ], 6))
    if args.prod_account_id is not None and args.endpoint_alarms is not None:
        a = args.endpoint_alarms
        account = args.prod_account_id
        widgets.append(widget(
            f"Endpoint {a.endpoint_name} (production)", [
                ["AWS/SageMaker", name, "EndpointName", a.endpoint_name, "VariantName", a.variant_name,
                 {"accountId": account, "stat": stat}]
                for name, stat in (("Invocations", "Sum"), ("Invocation5XXErrors", "Sum"), ("ModelLatency", "Average"))
            ], 12))
    return policy_json({"widgets": widgets})


class DeliveryMonitoring(pulumi.ComponentResource):
    """The project's delivery monitoring (see the module docstring). `automation`, `preprod`
    and `prod` are providers in the home region of those accounts; `preprod` (`prod`) is
    required exactly when `args` names that account.

    Outputs: `topic_arn`, `bus_arn` (None without pre-production and production), `rule_names` (route key -> rule name), `alarm_names`,
    `dashboard_name`, `sharing_role_arns` (preprod/prod -> the dashboard's sharing role, with
    `organization_id`)."""

    topic_arn: pulumi.Output[str]
    bus_arn: pulumi.Output[str] | None
    rule_names: dict[str, str]
    alarm_names: list[str]
    dashboard_name: pulumi.Output[str]
    sharing_role_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: DeliveryMonitoringArgs, automation: pulumi.ProviderResource,
                 preprod: pulumi.ProviderResource | None = None, prod: pulumi.ProviderResource | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        for account, provider, label in ((args.preprod_account_id, preprod, "preprod"),
                                         (args.prod_account_id, prod, "prod")):
            if (account is None) != (provider is None):
                raise ValueError(f"DeliveryMonitoring {args.project}: a {label} provider is needed exactly "
                                 f"when {label}_account_id is given")
        super().__init__("ml-platform:delivery:DeliveryMonitoring", name, None, opts)
        tags = dict(args.tags)
        providers = {"automation": automation, "training": preprod, "serving": prod}
        accounts = {"training": args.preprod_account_id, "serving": args.prod_account_id}

        def in_area(area: str, **more) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=providers[area], **more)

        # Automation account: key, topic, the project bus and its route to the topic.
        key = CustomerManagedKey(
            f"{name}-key",
            alias=f"{args.base_name}-delivery-events",
            description=f"ml-platform {args.project} delivery event topic",
            administrators=RolePrincipals(args.automation_account_id, tuple(args.key_administrators)),
            uses=topic_publish_key_uses(args.topic_arn(), args.automation_account_id, args.region, args.partition,
                                        label="DeliveryTopic", alarms=False),
            tags=tags,
            opts=in_area("automation"),
        )
        topic = aws.sns.Topic(f"{name}-topic", name=args.topic_name, kms_master_key_id=key.arn,
                              display_name=f"ml-platform {args.project} delivery", tags=tags,
                              opts=in_area("automation"))
        topic_access = aws.sns.TopicPolicy(
            f"{name}-topic-policy", arn=topic.arn,
            policy=policy_json(publish_topic_policy(args.topic_arn(), args.automation_account_id,
                                                    ["events.amazonaws.com"], "EventBridgePublish",
                                                    source_arns=topic_rule_arns(args))),
            opts=in_area("automation"))
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(f"{name}-email-{i}", topic=topic.arn, protocol="email", endpoint=email,
                                      opts=in_area("automation"))

        def to_topic(rule: aws.cloudwatch.EventRule, key_: str, bus: pulumi.Input[str]) -> None:
            aws.cloudwatch.EventTarget(f"{name}-{key_}-topic", rule=rule.name, event_bus_name=bus,
                                       target_id="delivery-topic", arn=topic.arn,
                                       opts=in_area("automation", depends_on=[topic_access]))

        self.rule_names = {}
        bus_arn = args.bus_arn()
        forwarders: dict[str, tuple[aws.iam.Role, aws.iam.RolePolicy]] = {}
        bus = bus_access = None
        if args.forwarding_accounts():
            bus = aws.cloudwatch.EventBus(f"{name}-bus", name=args.bus_name, tags=tags, opts=in_area("automation"))
            bus_access = aws.cloudwatch.EventBusPolicy(f"{name}-bus-policy", event_bus_name=bus.name,
                                                       policy=policy_json(bus_policy(args)), opts=in_area("automation"))
            rule_name = forwarded_rule_name(args)
            forwarded = aws.cloudwatch.EventRule(
                f"{name}-forwarded", name=rule_name, event_bus_name=bus.name,
                description="Training and serving events forwarded from the project's accounts",
                event_pattern=policy_json(forwarded_pattern(args)), tags=tags, opts=in_area("automation"))
            to_topic(forwarded, "forwarded", bus.name)
            self.rule_names["forwarded"] = rule_name
            # Each sending account: a role EventBridge assumes to put events on the project bus only.
            for area in ("training", "serving"):
                account = accounts[area]
                if account is None:
                    continue
                role = aws.iam.Role(
                    f"{name}-{area}-forwarder", name=args.forwarder_role_name,
                    description=f"ml-platform {args.project}: forward delivery events to the automation account",
                    assume_role_policy=policy_json(document({
                        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": account}}})),
                    max_session_duration=3600, tags=tags, opts=in_area(area))
                policy = aws.iam.RolePolicy(
                    f"{name}-{area}-forwarder-policy", role=role.id, name="put-events-on-delivery-bus",
                    policy=policy_json(document({"Sid": "ProjectDeliveryBus", "Effect": "Allow",
                                                 "Action": "events:PutEvents", "Resource": bus_arn})),
                    opts=in_area(area))
                forwarders[area] = (role, policy)

        # Alarms first: their rule forwards their state changes.
        self.alarm_names = []
        if args.endpoint_alarms is not None:
            for spec in alarm_specs(args.endpoint_alarms, args.alarm_prefix):
                alarm_key = spec.pop("key")
                aws.cloudwatch.MetricAlarm(f"{name}-{alarm_key}", **spec, actions_enabled=True, tags=tags,
                                           opts=in_area("serving"))
                self.alarm_names.append(spec["name"])

        for route in routes(args):
            rule_name = f"{args.base_name}-{route.key}"
            rule = aws.cloudwatch.EventRule(f"{name}-{route.key}", name=rule_name, description=route.description,
                                            event_pattern=to_json(route.pattern), tags=tags, opts=in_area(route.area))
            self.rule_names[route.key] = rule_name
            if route.area == "automation":
                to_topic(rule, route.key, "default")
                continue
            role, policy = forwarders[route.area]
            aws.cloudwatch.EventTarget(
                f"{name}-{route.key}-bus", rule=rule.name, target_id="automation-delivery-bus", arn=bus_arn,
                role_arn=role.arn, opts=in_area(route.area, depends_on=[bus, bus_access, policy]))

        # The dashboard's widgets of pre-production and production read through these roles.
        self.sharing_role_arns = {}
        if args.organization_id is not None:
            for area, label in (("training", "preprod"), ("serving", "prod")):
                if accounts[area] is None:
                    continue
                sharing = aws.iam.Role(
                    f"{name}-{area}-cloudwatch-sharing", name=SHARING_ROLE_NAME, max_session_duration=3600,
                    description="CloudWatch cross-account dashboards of the automation account",
                    assume_role_policy=policy_json(sharing_trust(args)), tags=tags, opts=in_area(area))
                for policy_name in SHARING_POLICIES:
                    aws.iam.RolePolicyAttachment(
                        f"{name}-{area}-cloudwatch-sharing-{policy_name}", role=sharing.name,
                        policy_arn=f"arn:{args.partition}:iam::aws:policy/{policy_name}",
                        opts=pulumi.ResourceOptions(parent=sharing, provider=providers[area]))
                self.sharing_role_arns[label] = sharing.arn

        dashboard = aws.cloudwatch.Dashboard(f"{name}-dashboard", dashboard_name=args.dashboard_name,
                                             dashboard_body=dashboard_body(args, args.region),
                                             opts=in_area("automation"))

        self.topic_arn = topic.arn
        # The ARN the policies name, once the bus exists.
        self.bus_arn = pulumi.Output.all(bus.id, bus_arn).apply(lambda v: v[1]) if bus is not None else None
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"topic_arn": self.topic_arn, "bus_arn": self.bus_arn, "rule_names": self.rule_names,
                               "alarm_names": self.alarm_names, "dashboard_name": self.dashboard_name,
                               "sharing_role_arns": self.sharing_role_arns})
