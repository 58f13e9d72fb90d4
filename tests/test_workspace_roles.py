"""The ML workspace's job roles and SSM parameters (stacks/project_workspace.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from policy_documents.service_authorization import action_resource_arns, expand_actions, validate_document
from stacks.config import ConfigError, parse_platform
from stacks.workspace_settings import JOB_SERVICES, service_role_names

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policypacks" / "ml-guardrails"))
from ml_guardrails.identity import load_document, lint  # noqa: E402

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PARAMETER = "aws:ssm/parameter:Parameter"
PROJECT_STACKS = [f"{p}-{e}" for p in ("fraud-detection", "document-vision") for e in ("dev", "preprod", "prod")]
STRICT_SERVICES = ("iam", "kms", "s3", "sagemaker")


@pytest.fixture(scope="module")
def platform():
    return parse_platform(yaml.safe_load((Path(__file__).resolve().parent.parent / "stacks" / "platform.yaml").read_text()))


def _job_policies(run):
    """Role name -> its job policy document."""
    return {p.inputs["role"]: json.loads(p.inputs["policy"]) for p in run.of_type(ROLE_POLICY)
            if p.inputs.get("name", "").endswith("-job")}


def _account(run, stack):
    return next(r for r in run.of_type(ROLE) if r.inputs.get("tags", {}).get("job-kind")).outputs["arn"].split(":")[4]


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_one_role_per_job_kind_trusted_by_its_service_of_this_account(sample_runs, platform, stack):
    run = sample_runs(stack)
    project, env = stack.rsplit("-", 1)
    names = service_role_names(platform, project, env)
    roles = {r.inputs["name"]: r for r in run.of_type(ROLE)}
    policies = _job_policies(run)
    account = _account(run, stack)
    for kind, name in names.items():
        assert name in roles, (kind, name)
        assert name in policies, f"{name} has no job policy"
        (statement,) = json.loads(roles[name].inputs["assumeRolePolicy"])["Statement"]
        services = statement["Principal"]["Service"]
        assert (services if isinstance(services, list) else [services]) == [JOB_SERVICES[kind]]
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    assert len(set(names.values())) == len(JOB_SERVICES)


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_pass_role_only_to_named_job_roles_and_their_service(sample_runs, platform, stack):
    run = sample_runs(stack)
    project, env = stack.rsplit("-", 1)
    names = service_role_names(platform, project, env)
    account = _account(run, stack)
    allowed = {f"arn:aws:iam::{account}:role/{names[k]}" for k in ("processing", "training", "hosting")}
    passing = []
    for role, doc in _job_policies(run).items():
        for statement in doc["Statement"]:
            if any(a.lower().startswith("iam:") for a in statement["Action"]):
                assert statement["Action"] == ["iam:PassRole"]
                assert set(statement["Resource"]) <= allowed, (role, statement["Resource"])
                assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
                passing.append(role)
    assert set(passing) == {names["notebook"], names["step_functions"], names["pipelines"]}


@pytest.mark.parametrize("kind", ["pipelines", "step_functions"])
def test_the_workflow_roles_run_the_jobs_and_create_the_model_in_the_project_vpc_passing_only_the_job_roles(
        sample_runs, platform, kind):
    # The training workflow's orchestrator (templates/training-workflow.yaml): a SageMaker
    # pipeline runs as `pipelines`, a state machine as `step_functions`; each runs processing,
    # training and the model creation, the model with the hosting role.
    stack = "document-vision-preprod"
    run = sample_runs(stack)
    names = service_role_names(platform, "document-vision", "preprod")
    account = _account(run, stack)
    doc = _job_policies(run)[names[kind]]
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["PassJobRoles"]["Resource"] == [f"arn:aws:iam::{account}:role/{names[k]}"
                                                  for k in ("processing", "training", "hosting")]
    model = by_sid["CreateModelsInProjectVpc"]
    assert model["Action"] == ["sagemaker:CreateModel"]
    assert model["Condition"]["ForAllValues:StringEquals"] == {
        "sagemaker:VpcSubnets": run.outputs["subnetIds"],
        "sagemaker:VpcSecurityGroupIds": [run.outputs["workloadSecurityGroupId"]]}
    assert model["Condition"]["Bool"] == {"sagemaker:NetworkIsolation": "true"}
    assert by_sid["CreateJobsInProjectVpc"]["Condition"]["ForAllValues:StringEquals"] == model["Condition"][
        "ForAllValues:StringEquals"]
    assert by_sid["TagAndDescribeModels"]["Action"] == ["sagemaker:AddTags", "sagemaker:DescribeModel"]
    actions = {a for s in doc["Statement"] for a in s["Action"]}
    # Nothing of pipelines or state machines themselves: the CloudFormation execution role creates those.
    assert not {a for a in actions if "Pipeline" in a or a.startswith("states:")}


# Actions allowed on `*` although the data gives them a resource type, with the condition key
# that scopes them: metrics have no ARN (PutMetricData's resource type is CloudWatch datasets).
STAR_SCOPED_BY = {"cloudwatch:PutMetricData": "cloudwatch:namespace"}


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_no_wildcards_and_no_star_resource_where_the_action_takes_one(sample_runs, stack):
    for role, doc in _job_policies(sample_runs(stack)).items():
        assert validate_document(doc) == [], role
        for statement in doc["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                service = action.split(":")[0]
                assert not (service in STRICT_SERVICES and "*" in action), (role, action)
                assert action != "kms:*"
                if statement["Resource"] == "*" and action in STAR_SCOPED_BY:
                    # Its resource type is a feature jobs do not use; a condition key scopes it instead.
                    assert STAR_SCOPED_BY[action] in str(statement.get("Condition")), (role, statement["Sid"], action)
                elif statement["Resource"] == "*":
                    assert all(not action_resource_arns(a) for a in expand_actions(action)), (role, statement["Sid"], action)
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                if resource.startswith("arn:aws:s3:::"):
                    assert resource.split(":::")[1].startswith("mrd-"), (role, resource)


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_job_policies_are_parliament_clean_at_medium(sample_runs, stack):
    run = sample_runs(stack)
    workspace = [p for p in run.of_type("aws:iam/policy:Policy") if p.inputs["name"].startswith("mrd-persona-")]
    for policy in [*run.of_type(ROLE_POLICY), *workspace]:
        assert lint(load_document("identity", "policy", policy.inputs["policy"]), "MEDIUM") == [], policy.name


def test_logs_only_on_service_log_groups_and_enis_only_in_the_project_vpc(sample_runs):
    run = sample_runs("fraud-detection-dev")
    vpc_id = run.outputs["vpcId"]
    for role, doc in _job_policies(run).items():
        for statement in doc["Statement"]:
            if any(a.startswith("logs:") for a in statement["Action"]):
                assert all(":log-group:/aws/sagemaker/" in r or ":log-group:/aws-glue/" in r for r in statement["Resource"])
            if "ec2:CreateNetworkInterface" in statement["Action"]:
                assert statement["Condition"]["ArnEquals"]["ec2:Vpc"].endswith(f":vpc/{vpc_id}")


def test_jobs_are_created_only_in_the_project_subnets_and_security_group(sample_runs, platform):
    run = sample_runs("fraud-detection-dev")
    doc = _job_policies(run)[service_role_names(platform, "fraud-detection", "dev")["notebook"]]
    (create,) = [s for s in doc["Statement"] if s["Sid"] == "CreateJobsInProjectVpc"]
    assert "sagemaker:CreateTrainingJob" in create["Action"]
    values = create["Condition"]["ForAllValues:StringEquals"]
    assert values["sagemaker:VpcSubnets"] == run.outputs["subnetIds"]
    assert values["sagemaker:VpcSecurityGroupIds"] == [run.outputs["workloadSecurityGroupId"]]
    assert create["Condition"]["Null"] == {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"}


def test_s3_access_follows_the_bucket_grants(sample_runs, platform):
    # Hosting reads models only; in dev (no models bucket) it reads the experimentation bucket.
    run = sample_runs("fraud-detection-preprod")
    names = service_role_names(platform, "fraud-detection", "preprod")
    doc = _job_policies(run)[names["hosting"]]
    writes = [s for s in doc["Statement"] if "s3:PutObject" in s["Action"]]
    assert writes == []
    (reads,) = [s for s in doc["Statement"] if s["Sid"] == "ProjectObjectsRead"]
    assert [r.split(":::")[1].split("-")[-2] for r in reads["Resource"]] == ["models"]
    lake = [s for s in doc["Statement"] if s["Sid"].startswith("Lake")]
    assert lake == []
    training = _job_policies(run)[names["training"]]
    assert any(s["Sid"] == "ProjectObjectsWrite" for s in training["Statement"])


def test_ssm_parameters_are_secure_strings_under_the_project_key(sample_runs, platform):
    run = sample_runs("fraud-detection-dev")
    params = {p.inputs["name"]: p for p in run.of_type(PARAMETER)}
    path = "/mrd/fraud-detection/dev/workspace"
    key_arn = run.outputs["data"]["keyArn"]
    for suffix in ("vpc-id", "subnet-ids", "security-group-id", "kms-key-arn", "roles/notebook", "roles/training",
                   "buckets/experimentation"):
        param = params[f"{path}/{suffix}"]
        assert param.inputs["type"] == "SecureString" and param.inputs["keyId"] == key_arn
    value = params[f"{path}/subnet-ids"].inputs["value"]
    # The provider marks SecureString values secret; the mock keeps the secret envelope.
    assert (value["value"] if isinstance(value, dict) else value) == ",".join(run.outputs["subnetIds"])
    assert run.outputs["workspace"]["parameterPath"] == path


def test_job_roles_exist_before_the_bucket_policies_name_them(sample_runs):
    run = sample_runs("fraud-detection-dev")
    roles = [r for r in run.of_type(ROLE) if r.inputs.get("tags", {}).get("job-kind")]
    bucket_set = next(r for r in run.resources if r.type == "ml-platform:data:ProjectBucketSet")
    assert roles and all(r.urn in bucket_set.dependencies for r in roles)


def test_bad_role_suffix_is_rejected_naming_the_key(sample_platform):
    sample_platform["workspace"] = {"service_roles": {"training": "sm-processing"}}
    with pytest.raises(ConfigError) as err:
        parse_platform(sample_platform)
    assert any(p.startswith("workspace.service_roles.") and "one role per job kind" in p for p in err.value.problems)


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_prod_hosting_and_automation_read_the_registered_artifacts_in_preprod_and_nothing_else_there(
        sample_runs, platform, stack):
    # SageMaker fetches a model created from a registry version with the model's execution role
    # (the hosting role) from where the version points: the preprod models bucket's registry
    # prefix. Prod's hosting and automation roles read exactly that prefix; no other
    # environment's roles read another account's models.
    project, env = stack.rsplit("-", 1)
    bucket = platform.bucket_name(project, "preprod", "models")
    names = service_role_names(platform, project, env)
    readers = {names["hosting"], names["notebook"]}
    for role, doc in _job_policies(sample_runs(stack)).items():
        reads = [s for s in doc["Statement"] if s["Sid"] == "RegistryArtifactsRead"]
        keys = [s for s in doc["Statement"] if s["Sid"] == "RegistryArtifactsKeyThroughS3"]
        if env == "prod" and role in readers:
            assert reads[0]["Resource"] == [f"arn:aws:s3:::{bucket}/registry/mrd-{project}/*"], role
            assert keys[0]["Action"] == ["kms:Decrypt"]
            assert keys[0]["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{platform.home_region}.amazonaws.com"}}
        else:
            assert not reads and not keys, role
