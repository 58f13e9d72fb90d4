"""The Model Monitor schedule hook of the production endpoint (issue 15: "a Model Monitor schedule
hook when the endpoint exists"; delivery.projects.<p>.model_monitor). document-vision's sample has
it, fraud-detection's does not: the pipeline turns the endpoint template's ModelMonitor on with
the configured schedule and analyzer image, production's CloudFormation execution role may create
exactly the job definition and schedule with it (and pass the processing role), nothing of it
without, and the processing role may pull the Region's analyzer image."""

from __future__ import annotations

import json

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from policy_documents.service_authorization import validate_document
from stacks.config import ConfigError, parse_platform
from stacks.delivery_settings import monitor_schedule_problem
from tests.conftest import ROOT
from tests.delivery_policies import cfn_endpoint_policy, deploy_parameters, policy_actions, statements_by_sid

MONITORED, PLAIN = "document-vision", "fraud-detection"
TEMPLATE = ROOT / "templates" / "endpoint.yaml"
IMAGE = "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"
ANALYZER = "arn:aws:ecr:eu-west-1:468650794304:repository/sagemaker-model-monitor-analyzer"
MONITOR_SIDS = {"ModelMonitorSchedule", "PassTheMonitoringRole"}
MONITOR_ACTIONS = {"sagemaker:CreateDataQualityJobDefinition", "sagemaker:DeleteDataQualityJobDefinition",
                   "sagemaker:DescribeDataQualityJobDefinition", "sagemaker:CreateMonitoringSchedule",
                   "sagemaker:UpdateMonitoringSchedule", "sagemaker:DeleteMonitoringSchedule",
                   "sagemaker:DescribeMonitoringSchedule"}


def _role_statements(run, name) -> list[dict]:
    """Every statement of the role `name`'s inline policies (whatever component holds them)."""
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"] == name]
    docs = [json.loads(p.inputs["policy"]) for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
            if p.parent == role.urn or p.inputs.get("role") == name]
    assert docs, f"{name} has inline policies"
    return [s for d in docs for s in d["Statement"]]


@pytest.fixture(scope="module")
def monitored(sample_runs):
    return sample_runs(f"{MONITORED}-delivery")


@pytest.fixture(scope="module")
def plain(sample_runs):
    return sample_runs(f"{PLAIN}-delivery")


# -- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, ok", [
    ("cron(0 * ? * * *)", True), ("cron(0 12 ? * * *)", True), ("cron(0 0 ? * * *)", True),
    ("cron(0 17/12 ? * * *)", True), ("cron(0 0/2 ? * * *)", True), ("cron(0 23/24 ? * * *)", True),
    # Model Monitor takes none of EventBridge's other forms, nor a one-time run.
    ("cron(30 * ? * * *)", False), ("cron(0 24 ? * * *)", False), ("cron(0 0/25 ? * * *)", False),
    ("cron(0 0/0 ? * * *)", False), ("cron(0 4 ? * MON *)", False), ("rate(1 hour)", False), ("NOW", False),
    ("cron(0 * * * ? *)", False),
])
def test_schedules_as_model_monitor_takes_them(expression, ok):
    assert (monitor_schedule_problem(expression) is None) is ok


KEY = f"delivery.projects.{MONITORED}.model_monitor"


@pytest.mark.parametrize("change, fragment", [
    (lambda m: m.update(schedule="rate(1 hour)"),
     f"{KEY}.schedule: 'rate(1 hour)' is not a Model Monitor schedule (not one of the forms Model Monitor accepts; "
     "allowed: hourly cron(0 * ? * * *), daily cron(0 <hour> ? * * *)"),
    (lambda m: m.update(schedule="cron(0 25 ? * * *)"), f"{KEY}.schedule: 'cron(0 25 ? * * *)' is not a Model "
                                                        "Monitor schedule (the hour is 0-23"),
    (lambda m: m.update(image_uri="docker.io/library/analyzer:latest"),
     f"{KEY}.image_uri: 'docker.io/library/analyzer:latest' is not a Model Monitor analyzer image (allowed: "
     "<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-model-monitor-analyzer"),
    (lambda m: m.update(image_uri=IMAGE.replace("eu-west-1", "us-east-1").replace("468650794304", "156813124566")),
     f"{KEY}.image_uri: '156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer' is in "
     "us-east-1; the endpoint and its monitoring jobs run in eu-west-1 (allowed: the analyzer image of eu-west-1)"),
    (lambda m: m.pop("image_uri"), f"{KEY}.image_uri: required key is missing"),
    (lambda m: m.update(every="hour"), f"{KEY}.every"),
])
def test_bad_model_monitor_settings_are_rejected_naming_the_key(sample_platform, change, fragment):
    change(sample_platform["delivery"]["projects"][MONITORED]["model_monitor"])
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    assert fragment in str(info.value)


def test_model_monitor_needs_the_deploy_stage_and_every_problem_is_reported(sample_platform):
    spec = sample_platform["delivery"]["projects"][MONITORED]
    spec.update(scenario="training")
    spec["model_monitor"].update(schedule="cron(0 4 ? * MON *)")
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    message = str(info.value)
    assert (f"{KEY}: Model Monitor watches the production endpoint, which the training scenario does not deploy "
            "(allowed: leave it out, or a scenario with the deploy stage: end-to-end, deployment)") in message
    # Collected with the others.
    assert f"{KEY}.schedule: 'cron(0 4 ? * MON *)'" in message


def test_the_sample_settings_are_valid(sample_platform):
    platform = parse_platform(sample_platform)
    monitor = platform.delivery.projects[MONITORED].model_monitor
    assert (monitor.schedule, monitor.image_uri) == ("cron(0 * ? * * *)", IMAGE)
    assert platform.delivery.projects[PLAIN].model_monitor is None


# -- what the pipeline passes -------------------------------------------------------------------

def test_the_pipeline_turns_model_monitor_on_with_its_settings(monitored, plain, sample_runs):
    parameters = deploy_parameters(monitored, MONITORED)
    assert parameters["ModelMonitor"] == "true"
    assert (parameters["MonitorImageUri"], parameters["MonitorScheduleExpression"]) == (IMAGE, "cron(0 * ? * * *)")
    prod = sample_runs(f"{MONITORED}-prod").outputs
    assert parameters["MonitorRoleArn"] == prod["workspace"]["serviceRoleArns"]["processing"]
    assert parameters["MonitorOutputS3Uri"] == f"s3://{prod['data']['buckets']['pipeline']['name']}/model-monitor"
    other = deploy_parameters(plain, PLAIN)
    assert other["ModelMonitor"] == "false"
    assert not {"MonitorImageUri", "MonitorScheduleExpression"} & set(other)


def test_the_template_is_cfn_lint_valid_with_model_monitor_on_and_the_pipelines_values(monitored):
    values = deploy_parameters(monitored, MONITORED)
    values["ModelPackageArn"] = f"arn:aws:sagemaker:eu-west-1:{'1' * 12}:model-package/mrd-{MONITORED}/3"
    template = yaml.safe_load(TEMPLATE.read_text().replace("!", "__BANG__"))
    declared = template["Parameters"]
    assert set(values) <= set(declared)
    for name, value in values.items():
        declared[name]["Default"] = value
    body = yaml.safe_dump(template, sort_keys=False, width=1000).replace("__BANG__", "!")
    assert [str(m) for m in lint(body, config=ManualArgs(regions=["eu-west-1"]))] == []
    # An image the parameter's pattern refuses is found (the check can fail).
    declared["MonitorImageUri"]["Default"] = "docker.io/library/analyzer"
    broken = yaml.safe_dump(template, sort_keys=False, width=1000).replace("__BANG__", "!")
    assert lint(broken, config=ManualArgs(regions=["eu-west-1"]))


def test_the_templates_job_definition_and_schedule_have_the_names_the_role_allows():
    text = TEMPLATE.read_text()
    resources = yaml.safe_load(text.replace("!Sub ", "").replace("!", "__BANG__"))["Resources"]
    assert resources["DataQualityJob"]["Properties"]["JobDefinitionName"] == "${EndpointName}-data-quality"
    assert resources["MonitoringSchedule"]["Properties"]["MonitoringScheduleName"] == "${EndpointName}-data-quality"


# -- production's CloudFormation execution role -------------------------------------------------

def test_the_execution_role_may_create_exactly_the_schedule(monitored, accounts, sample_runs):
    prod = accounts[f"{MONITORED}-prod"]
    doc = cfn_endpoint_policy(monitored, MONITORED)
    assert validate_document(doc) == []
    sids = statements_by_sid(doc)
    assert MONITOR_SIDS <= set(sids)
    schedule = sids["ModelMonitorSchedule"]
    assert MONITOR_ACTIONS <= set(schedule["Action"])
    name = f"mrd-{MONITORED}-data-quality"
    assert schedule["Resource"] == [f"arn:aws:sagemaker:eu-west-1:{prod}:data-quality-job-definition/{name}",
                                    f"arn:aws:sagemaker:eu-west-1:{prod}:monitoring-schedule/{name}"]
    # Only there: no other statement names the monitoring actions.
    assert not [s for s in doc["Statement"] if s["Sid"] != "ModelMonitorSchedule"
                and MONITOR_ACTIONS & policy_actions({"Statement": [s]})]
    processing = sample_runs(f"{MONITORED}-prod").outputs["workspace"]["serviceRoleArns"]["processing"]
    assert sids["PassTheMonitoringRole"] == {
        "Sid": "PassTheMonitoringRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": processing,
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}


def test_without_model_monitor_the_execution_role_has_nothing_of_it(plain, sample_runs):
    doc = cfn_endpoint_policy(plain, PLAIN)
    assert validate_document(doc) == []
    assert not MONITOR_SIDS & set(statements_by_sid(doc))
    assert not MONITOR_ACTIONS & policy_actions(doc)
    processing = sample_runs(f"{PLAIN}-prod").outputs["workspace"]["serviceRoleArns"]["processing"]
    assert not [s for s in doc["Statement"] if s["Action"] == "iam:PassRole" and s["Resource"] == processing]


# -- the processing role the monitoring jobs run as ---------------------------------------------

def test_the_processing_role_pulls_the_analyzer_and_writes_the_monitor_output(sample_runs):
    run = sample_runs(f"{MONITORED}-prod")
    statements = _role_statements(run, f"mrd-{MONITORED}-prod-sm-processing")
    (pull,) = [s for s in statements if s.get("Sid") == "EcrPullModelMonitorAnalyzer"]
    assert pull["Resource"] == [ANALYZER]
    assert set(pull["Action"]) == {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    # The captured data and the reports: the prod pipeline bucket, written by the processing role.
    bucket = run.outputs["data"]["buckets"]["pipeline"]["arn"]
    assert [s for s in statements if "s3:PutObject" in s["Action"] and f"{bucket}/*" in s["Resource"]]
    assert [s for s in statements if "s3:GetObject" in s["Action"] and f"{bucket}/*" in s["Resource"]]


@pytest.mark.parametrize("stack", [f"{PLAIN}-prod", f"{MONITORED}-preprod"])
def test_without_a_monitored_endpoint_the_processing_role_pulls_no_analyzer(sample_runs, stack):
    run = sample_runs(stack)
    statements = _role_statements(run, f"mrd-{stack}-sm-processing")
    assert not [s for s in statements if s.get("Sid") == "EcrPullModelMonitorAnalyzer"]
    assert "468650794304" not in json.dumps(statements)


def test_the_ecr_endpoint_admits_the_analyzer_pull(sample_runs):
    # The analyzer is in AWS's registry, outside the organization: the ECR endpoints' policies
    # allow the pull actions on AWS's registries (components/vpc_endpoints.py, ECR_PULL).
    from components.vpc_endpoints import INTERFACE_SERVICES

    for key in ("ecr.api", "ecr.dkr"):
        (reads,) = INTERFACE_SERVICES[key].aws_owned_reads
        assert {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= set(reads.actions) and reads.resources == ("*",)
