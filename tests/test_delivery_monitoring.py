"""Delivery monitoring (components/delivery_monitoring.py) as it registers under the offline
engine's mocks, built by a small program of its own (tests/programs/delivery_monitoring) with
one provider per account: each area's rules in the account where its events happen, their
patterns and targets, the cross-account path to the project's one encrypted topic (bus policy,
forwarder roles, key and topic policies naming exactly the project's accounts), the endpoint
alarms, the dashboard; and bad arguments refused with a message naming them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.delivery_monitoring import DeliveryMonitoringArgs, EndpointAlarms
from offline_preview.engine import PreviewError, load_program, run_stack

PROGRAM = load_program(Path(__file__).resolve().parent / "programs" / "delivery_monitoring")
AUTOMATION, PREPROD, PROD = "222233334444", "333344445555", "444455556666"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUS_ARN = f"arn:aws:events:eu-west-1:{AUTOMATION}:event-bus/mrd-churn-delivery-events"
TOPIC_ARN = f"arn:aws:sns:eu-west-1:{AUTOMATION}:mrd-churn-delivery-events"
COMPONENT = "ml-platform:delivery:DeliveryMonitoring"

_RUNS: dict[str, object] = {}


def run_case(tmp_path_factory, case: str):
    if case not in _RUNS:
        directory = tmp_path_factory.mktemp(case)
        (directory / f"Pulumi.{case}.yaml").write_text(
            f"config:\n  aws:region: eu-west-1\n  delivery-monitoring-demo:case: {case}\n")
        _RUNS[case] = run_stack(case, directory, {}, program=PROGRAM)
    return _RUNS[case]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return run_case(tmp_path_factory, "full")


def rules(run) -> dict[str, object]:
    return {r.inputs["name"]: r for r in run.of_type(RULE)}


def pattern(rule) -> dict:
    return json.loads(rule.inputs["eventPattern"])


def targets_of(run, rule) -> list:
    return [t for t in run.of_type(TARGET) if t.inputs["rule"] == rule.inputs["name"]
            and t.inputs.get("eventBusName", "default") == rule.inputs.get("eventBusName", "default")
            and t.account == rule.account]


# -- one rule per area, in the account where it happens --------------------------------------

def test_each_area_has_its_rules_in_the_account_where_it_happens(full):
    found = {name: r.account for name, r in rules(full).items()}
    assert found == {
        "mrd-churn-codepipeline": AUTOMATION, "mrd-churn-codebuild": AUTOMATION,
        "mrd-churn-delivery-forwarded": AUTOMATION,
        "mrd-churn-step-functions": PREPROD, "mrd-churn-sagemaker-pipelines": PREPROD,
        "mrd-churn-training-jobs": PREPROD, "mrd-churn-processing-jobs": PREPROD,
        "mrd-churn-endpoints": PROD, "mrd-churn-endpoint-alarms": PROD,
    }


@pytest.mark.parametrize("rule_name, source, detail_type, detail", [
    ("mrd-churn-codepipeline", "aws.codepipeline", "CodePipeline Pipeline Execution State Change",
     {"pipeline": [{"prefix": "mrd-churn-"}], "state": ["FAILED", "STOPPED", "SUCCEEDED", "SUPERSEDED"]}),
    ("mrd-churn-codebuild", "aws.codebuild", "CodeBuild Build State Change",
     {"project-name": [{"prefix": "mrd-churn-"}], "build-status": ["FAILED", "STOPPED", "SUCCEEDED"]}),
    ("mrd-churn-step-functions", "aws.states", "Step Functions Execution Status Change",
     {"status": ["ABORTED", "FAILED", "SUCCEEDED", "TIMED_OUT"]}),
    ("mrd-churn-sagemaker-pipelines", "aws.sagemaker", "SageMaker Model Building Pipeline Execution Status Change",
     {"currentPipelineExecutionStatus": ["Failed", "Stopped", "Succeeded"]}),
    ("mrd-churn-training-jobs", "aws.sagemaker", "SageMaker Training Job State Change",
     {"TrainingJobStatus": ["Completed", "Failed", "Stopped"]}),
    ("mrd-churn-processing-jobs", "aws.sagemaker", "SageMaker Processing Job State Change",
     {"ProcessingJobStatus": ["Completed", "Failed", "Stopped"]}),
    ("mrd-churn-endpoints", "aws.sagemaker", "SageMaker Endpoint State Change", None),
    ("mrd-churn-endpoint-alarms", "aws.cloudwatch", "CloudWatch Alarm State Change",
     {"alarmName": [{"prefix": "mrd-churn-endpoint-"}]}),
])
def test_event_patterns(full, rule_name, source, detail_type, detail):
    rule = rules(full)[rule_name]
    assert pattern(rule)["source"] == [source]
    assert pattern(rule)["detail-type"] == [detail_type]
    assert pattern(rule).get("detail") == detail
    assert rule.inputs.get("eventBusName", "default") == "default"


def test_listed_pipelines_and_builds_are_watched_by_name(tmp_path_factory):
    run = run_case(tmp_path_factory, "named-pipelines")
    found = rules(run)
    assert pattern(found["mrd-churn-codepipeline"])["detail"]["pipeline"] == ["mrd-churn-training"]
    assert pattern(found["mrd-churn-codebuild"])["detail"]["project-name"] == ["mrd-churn-image"]
    # No production account: no serving rules, and the bus admits pre-production only.
    assert not {"mrd-churn-endpoints", "mrd-churn-endpoint-alarms"} & set(found)
    (policy,) = run.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{PREPROD}:root"}
    assert not run.of_type(ALARM)


# -- targets: automation rules to the topic, the others through the project bus --------------

def test_automation_rules_and_forwarded_events_publish_to_the_topic(full):
    (topic,) = full.of_type("aws:sns/topic:Topic")
    assert topic.account == AUTOMATION
    for name in ("mrd-churn-codepipeline", "mrd-churn-codebuild", "mrd-churn-delivery-forwarded"):
        (target,) = targets_of(full, rules(full)[name])
        assert target.inputs["arn"] == TOPIC_ARN == topic.outputs["arn"]
        assert "roleArn" not in target.inputs
    forwarded = rules(full)["mrd-churn-delivery-forwarded"]
    assert forwarded.inputs["eventBusName"] == "mrd-churn-delivery-events"
    assert pattern(forwarded) == {"account": [PREPROD, PROD]}


@pytest.mark.parametrize("account, names", [
    (PREPROD, ["mrd-churn-step-functions", "mrd-churn-sagemaker-pipelines", "mrd-churn-training-jobs",
               "mrd-churn-processing-jobs"]),
    (PROD, ["mrd-churn-endpoints", "mrd-churn-endpoint-alarms"]),
])
def test_training_and_serving_rules_forward_to_the_automation_bus_as_their_accounts_forwarder(full, account, names):
    (role,) = [r for r in full.of_type("aws:iam/role:Role") if r.account == account]
    assert role.inputs["name"] == "mrd-churn-delivery-event-forwarder"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]
    (policy,) = [p for p in full.of_type("aws:iam/rolePolicy:RolePolicy") if p.account == account]
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {"Sid": "ProjectDeliveryBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS_ARN}]
    for name in names:
        (target,) = targets_of(full, rules(full)[name])
        assert target.inputs["arn"] == BUS_ARN
        assert target.inputs["roleArn"] == role.outputs["arn"]


def test_the_bus_admits_exactly_the_projects_forwarders(full):
    (bus,) = full.of_type("aws:cloudwatch/eventBus:EventBus")
    assert bus.account == AUTOMATION and bus.inputs["name"] == "mrd-churn-delivery-events"
    assert full.outputs["busArn"] == BUS_ARN
    (policy,) = full.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{PREPROD}:root", f"arn:aws:iam::{PROD}:root"]}
    assert statement["Action"] == "events:PutEvents" and statement["Resource"] == BUS_ARN
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [
        f"arn:aws:iam::{PREPROD}:role/mrd-churn-delivery-event-forwarder",
        f"arn:aws:iam::{PROD}:role/mrd-churn-delivery-event-forwarder"]}}


def test_the_topic_is_encrypted_and_only_eventbridge_of_automation_publishes(full):
    (topic,) = full.of_type("aws:sns/topic:Topic")
    (key,) = full.of_type("aws:kms/key:Key")
    assert key.account == AUTOMATION and key.protect
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    (policy,) = full.of_type("aws:sns/topicPolicy:TopicPolicy")
    allow, deny = json.loads(policy.inputs["policy"])["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": AUTOMATION}, "ArnEquals": {"aws:SourceArn": [
        f"arn:aws:events:eu-west-1:{AUTOMATION}:rule/mrd-churn-codepipeline",
        f"arn:aws:events:eu-west-1:{AUTOMATION}:rule/mrd-churn-codebuild",
        f"arn:aws:events:eu-west-1:{AUTOMATION}:rule/mrd-churn-delivery-events/mrd-churn-delivery-forwarded"]}}
    # Exactly the rules that target the topic (a rule on a custom bus has the bus in its ARN).
    publishing = [f"arn:aws:events:eu-west-1:{AUTOMATION}:rule/"
                  + (f"{r.inputs['eventBusName']}/" if r.inputs.get("eventBusName", "default") != "default" else "")
                  + r.inputs["name"]
                  for r in full.of_type(RULE) if any(t.inputs["arn"] == TOPIC_ARN for t in targets_of(full, r))]
    assert sorted(publishing) == sorted(allow["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert set(statements) == {"KeyAdministration", "EventBridgePublishToDeliveryTopic"}
    admin = statements["KeyAdministration"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{AUTOMATION}:root"}
    assert admin["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{AUTOMATION}:role/OrganizationAccountAccessRole", f"arn:aws:iam::{AUTOMATION}:role/mrd-break-glass"]
    use = statements["EventBridgePublishToDeliveryTopic"]
    assert use["Principal"] == {"Service": "events.amazonaws.com"}
    assert use["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": TOPIC_ARN}}
    (subscription,) = full.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == "mlops@example.com" and subscription.inputs["protocol"] == "email"


# -- alarms on the production endpoint, and the dashboard ------------------------------------

def test_endpoint_alarms(full):
    alarms = {a.inputs["name"]: a for a in full.of_type(ALARM)}
    assert set(alarms) == {"mrd-churn-endpoint-5xx-errors", "mrd-churn-endpoint-model-latency",
                           "mrd-churn-endpoint-no-invocations"}
    assert {a.account for a in alarms.values()} == {PROD}
    expected = {
        "mrd-churn-endpoint-5xx-errors": ("Invocation5XXErrors", "Sum", 1, "GreaterThanOrEqualToThreshold", "notBreaching", 1),
        "mrd-churn-endpoint-model-latency": ("ModelLatency", "Average", 1_000_000, "GreaterThanThreshold", "notBreaching", 1),
        "mrd-churn-endpoint-no-invocations": ("Invocations", "Sum", 1, "LessThanThreshold", "breaching", 3),
    }
    for name, (metric, statistic, threshold, operator, missing, periods) in expected.items():
        i = alarms[name].inputs
        assert (i["metricName"], i["statistic"], i["threshold"], i["comparisonOperator"], i["treatMissingData"],
                i["evaluationPeriods"]) == (metric, statistic, threshold, operator, missing, periods), name
        assert i["namespace"] == "AWS/SageMaker" and i["period"] == 300
        assert i["dimensions"] == {"EndpointName": "mrd-churn", "VariantName": "primary"}
    # Alarm state changes reach the topic through the endpoint-alarms rule (its prefix).
    assert all(n.startswith(pattern(rules(full)["mrd-churn-endpoint-alarms"])["detail"]["alarmName"][0]["prefix"])
               for n in alarms)


def test_one_dashboard_per_project_with_each_accounts_widgets(full):
    (dashboard,) = full.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert dashboard.account == AUTOMATION and dashboard.inputs["dashboardName"] == "mrd-churn-delivery"
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    assert [w["properties"]["title"] for w in widgets] == [
        "Builds", "Training executions (pre-production)", "Endpoint mrd-churn (production)"]
    assert {m[0]["accountId"] for m in widgets[1]["properties"]["metrics"]} == {PREPROD}
    assert {m[-1]["accountId"] for m in widgets[2]["properties"]["metrics"]} == {PROD}
    assert {m[1] for m in widgets[2]["properties"]["metrics"]} == {"Invocations", "Invocation5XXErrors", "ModelLatency"}


def test_every_resource_is_a_child_of_the_component(full):
    (component,) = full.of_type(COMPONENT)
    by_urn = {r.urn: r for r in full.resources}

    def root(r):
        while r.parent and r.parent in by_urn and by_urn[r.parent].type != COMPONENT:
            r = by_urn[r.parent]
        return r.parent

    custom = [r for r in full.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert custom and all(root(r) == component.urn for r in custom)
    assert full.outputs["ruleNames"]["forwarded"] == "mrd-churn-delivery-forwarded"


def test_automation_only_has_no_bus_and_no_forwarders(tmp_path_factory):
    run = run_case(tmp_path_factory, "automation-only")
    assert set(rules(run)) == {"mrd-churn-codepipeline", "mrd-churn-codebuild"}
    assert not run.of_type("aws:cloudwatch/eventBus:EventBus") and not run.of_type("aws:iam/role:Role")
    assert run.outputs["busArn"] is None
    assert [w["properties"]["title"] for w in json.loads(
        run.of_type("aws:cloudwatch/dashboard:Dashboard")[0].inputs["dashboardBody"])["widgets"]] == ["Builds"]


# -- bad input ---------------------------------------------------------------------------------

def _args(**changes) -> DeliveryMonitoringArgs:
    values = dict(name_prefix="mrd", project="churn", region="eu-west-1", automation_account_id=AUTOMATION,
                  key_administrators=["OrganizationAccountAccessRole"], preprod_account_id=PREPROD,
                  prod_account_id=PROD, endpoint_alarms=EndpointAlarms(endpoint_name="mrd-churn"))
    values.update(changes)
    return DeliveryMonitoringArgs(**values)


@pytest.mark.parametrize("changes, message", [
    ({"endpoint_alarms": EndpointAlarms("mrd-churn", period_seconds=90)},
     "endpoint_alarms.period_seconds: 90 is not a CloudWatch alarm period (allowed: 10, 20, 30 or a multiple of 60)"),
    ({"endpoint_alarms": EndpointAlarms("mrd-churn", period_seconds=45)}, "period_seconds: 45 is not"),
    ({"endpoint_alarms": EndpointAlarms("mrd-churn", errors_5xx_threshold=0)},
     "endpoint_alarms.errors_5xx_threshold: 0 (allowed: at least 1 error)"),
    ({"endpoint_alarms": EndpointAlarms("mrd-churn", latency_threshold_microseconds=-5)},
     "endpoint_alarms.latency_threshold_microseconds: -5 (allowed: a positive number of microseconds)"),
    ({"endpoint_alarms": EndpointAlarms("mrd-churn", idle_periods=0)}, "endpoint_alarms.idle_periods: 0 (allowed: at least 1)"),
    ({"endpoint_alarms": EndpointAlarms("mrd-churn", evaluation_periods=25, period_seconds=3600)},
     "endpoint_alarms.evaluation_periods: 25 periods of 3600 s exceed CloudWatch's one day of evaluation"),
    ({"endpoint_alarms": EndpointAlarms("mrd churn")}, "endpoint_alarms.endpoint_name: 'mrd churn' is not an endpoint name"),
    ({"prod_account_id": None}, "endpoint_alarms: the project has no production account to watch"),
    ({"key_administrators": []}, "key_administrators: names no role"),
    ({"emails": ["not-an-address"]}, "emails[0]: 'not-an-address' is not an e-mail address"),
    ({"project": "Churn_Model"}, "project: 'Churn_Model' (allowed: lowercase letters, digits, hyphens)"),
])
def test_bad_arguments_are_refused_naming_them(changes, message):
    with pytest.raises(ValueError, match="^DeliveryMonitoring ") as info:
        _args(**changes)
    assert message in str(info.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValueError) as info:
        _args(key_administrators=[], endpoint_alarms=EndpointAlarms("mrd-churn", period_seconds=7, errors_5xx_threshold=0))
    assert str(info.value).count("; ") == 2


def test_boundary_values_are_accepted():
    _args(endpoint_alarms=EndpointAlarms("mrd-churn", period_seconds=10, evaluation_periods=8640, errors_5xx_threshold=1,
                                         latency_threshold_microseconds=1, idle_periods=1))
    _args(endpoint_alarms=EndpointAlarms("mrd-churn", period_seconds=86400, evaluation_periods=1, idle_periods=1))


def test_a_missing_account_provider_is_refused(tmp_path_factory):
    with pytest.raises(PreviewError) as info:
        run_case(tmp_path_factory, "missing-provider")
    assert "a prod provider is needed exactly when prod_account_id is given" in str(info.value)


def test_every_policy_the_component_writes_uses_real_actions_and_keys(full):
    from policy_documents.service_authorization import validate_document

    documents = [
        *(json.loads(r.inputs["policy"]) for r in full.resources
          if r.type in ("aws:kms/key:Key", "aws:sns/topicPolicy:TopicPolicy", "aws:iam/rolePolicy:RolePolicy",
                        "aws:cloudwatch/eventBusPolicy:EventBusPolicy")),
        *(json.loads(r.inputs["assumeRolePolicy"]) for r in full.of_type("aws:iam/role:Role")),
    ]
    assert len(documents) == 7
    assert {i: validate_document(d) for i, d in enumerate(documents) if validate_document(d)} == {}
