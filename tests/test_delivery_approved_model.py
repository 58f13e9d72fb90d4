"""CodePipeline A2 deploys the registry's approved model package version (issue 15; whitepaper
"Automation pipelines", "Model inventory management"): a build step resolves the latest Approved
version of the project's group in the central registry, the endpoint template creates the model
from that version (no image or artifact path from a training run), and only the resolver and
prod's CloudFormation execution role gain read access to the group's versions."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml

from components.pipeline_stages import (
    APPROVED_VERSION_QUERY,
    MODEL_PACKAGE_ARN,
    MODEL_PACKAGE_GROUP_VARIABLE,
    approved_version_buildspec,
)
from stacks.config import ConfigError, parse_platform
from tests.conftest import ROOT

# The delivery stack of the sample's project, its account ids and role ARNs, as the topology
# tests (tests/test_delivery.py) read them.
from tests.test_delivery import BUILD, PROJECT, _arn, ids, run  # noqa: E402,F401

GROUP_POLICY = "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy"


def _stage(run, name):
    (pipeline,) = [p for p in run.of_type("aws:codepipeline/pipeline:Pipeline")
                   if p.inputs["name"] == f"mrd-{PROJECT}-deployment"]
    (stage,) = [s for s in pipeline.inputs["stages"] if s["name"] == name]
    return stage["actions"]


def _deploy_stage(run):
    """The resolver (in the approve stage, before the approval) and the deploy action."""
    return _stage(run, "Approve")[0], *_stage(run, "Deploy")


def _role_policy(run, role_name):
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"] == role_name]
    (policy,) = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.parent == role.urn]
    return role, json.loads(policy.inputs["policy"])


def _listed(value):
    return value if isinstance(value, list) else [value]


def test_a2_deploys_the_resolved_approved_version_and_no_path_of_a_training_run(run):
    resolve, deploy = _deploy_stage(run)
    resolver = run.outputs["delivery"]["approvedModelResolver"]
    assert (resolve["provider"], resolve["configuration"]) == ("CodeBuild", {"ProjectName": resolver["name"]})
    assert resolve["namespace"] == "ApprovedModel"
    parameters = json.loads(deploy["configuration"]["ParameterOverrides"])
    assert parameters["ModelPackageArn"] == MODEL_PACKAGE_ARN == "#{ApprovedModel.MODEL_PACKAGE_ARN}"
    # Nothing of a training run or a commit: the version carries its image and artifact.
    assert not {"ModelDataUrl", "ImageUri"} & set(parameters)
    assert "SourceVariables" not in deploy["configuration"]["ParameterOverrides"]
    assert "codepipeline.PipelineExecutionId" not in deploy["configuration"]["ParameterOverrides"]
    # The template builds the model from that parameter only.
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.loads((ROOT / "templates" / "endpoint.yaml").read_text())
    model = template["Resources"]["Model"]["Properties"]
    assert model["Containers"] == [{"ModelPackageName": {"Ref": "ModelPackageArn"}}]
    assert "PrimaryContainer" not in model
    assert not {"ModelDataUrl", "ImageUri"} & set(template["Parameters"])


def test_the_approver_sees_the_version_the_deploy_stage_deploys(run):
    resolve, approve = _stage(run, "Approve")
    assert (approve["category"], approve["provider"]) == ("Approval", "Manual")
    # The approval waits for the resolver, and its message names the resolver's output variable,
    # the same one the deploy action passes as ModelPackageArn.
    assert resolve["runOrder"] < approve["runOrder"]
    assert f"#{{{resolve['namespace']}.MODEL_PACKAGE_ARN}}" in approve["configuration"]["CustomData"]
    assert MODEL_PACKAGE_ARN in approve["configuration"]["CustomData"]
    assert "model-risk" in approve["configuration"]["CustomData"]
    # The variable is one the resolver's buildspec exports.
    assert "MODEL_PACKAGE_ARN" in yaml.safe_load(approved_version_buildspec())["env"]["exported-variables"]
    assert len(approve["configuration"]["CustomData"]) <= 500  # CodePipeline's CustomData limit


def test_the_deploy_stage_cannot_come_without_the_approve_stage_that_resolves_its_version():
    from components.pipeline_stages import StageInputs, pipeline_stages

    inputs = StageInputs(project="p", region="eu-west-1", connection_arn="arn", codecommit_role_arn=None,
                         repository="o/r", branch="main", build_project_name="b", training_image="i",
                         inference_image="i", stack_names={}, templates={}, resolver_project_name="r")
    with pytest.raises(ValueError, match="approve stage before it"):
        pipeline_stages(inputs, ("deploy", "approve"))


def test_the_resolver_reads_only_the_projects_group_and_runs_unprivileged_with_its_inline_buildspec(run, ids):
    resolver = run.outputs["delivery"]["approvedModelResolver"]
    (project,) = [b for b in run.of_type(BUILD) if b.inputs["name"] == resolver["name"]]
    assert project.account == ids["automation"]
    assert project.inputs["source"] == {"type": "CODEPIPELINE", "buildspec": approved_version_buildspec()}
    assert project.inputs["environment"]["privilegedMode"] is False
    assert "builds-images" not in project.inputs["tags"]
    assert project.inputs["encryptionKey"] == run.outputs["delivery"]["artifactKeyArn"]
    group_arn = run.outputs["modelPackageGroup"]["arn"]
    assert {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]} == {
        MODEL_PACKAGE_GROUP_VARIABLE: group_arn}
    assert group_arn.split(":")[4] == ids["shared-services"]
    role, policy = _role_policy(run, f"mrd-{PROJECT}-approved-model")
    assert role.outputs["arn"] == resolver["roleArn"] == _arn(ids, "automation", "approved-model")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}
    sagemaker = [s for s in policy["Statement"] if any(a.startswith("sagemaker:") for a in _listed(s["Action"]))]
    assert [(sorted(s["Action"]), s["Resource"]) for s in sagemaker] == [
        (["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
         f"arn:aws:sagemaker:eu-west-1:{ids['shared-services']}:model-package/mrd-{PROJECT}/*")]
    services = {a.split(":")[0] for s in policy["Statement"] for a in _listed(s["Action"])}
    # ec2: its build's ENIs in the automation VPC (test_the_resolver_runs_in_the_automation_vpc...).
    assert services == {"logs", "s3", "kms", "sagemaker", "ec2"}
    assert "s3:PutObject" not in {a for s in policy["Statement"] for a in _listed(s["Action"])}


def test_the_registry_admits_the_resolver_and_prods_execution_role_to_read_versions_only(run, ids):
    (policy,) = [json.loads(p.inputs["resourcePolicy"]) for p in run.of_type(GROUP_POLICY)]
    resolver, execution = _arn(ids, "automation", "approved-model"), _arn(ids, f"{PROJECT}-prod", "cfn-endpoint")
    granted: dict[str, set[str]] = {resolver: set(), execution: set()}
    for statement in policy["Statement"]:
        for principal in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]:
            if principal in granted:
                granted[principal] |= set(_listed(statement["Action"]))
                assert statement["Effect"] == "Allow"
    read = {"sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages", "sagemaker:DescribeModelPackageGroup"}
    assert granted == {resolver: read, execution: read}
    # Prod's execution role itself asks for DescribeModelPackage on the group's versions only (the
    # cross-account half of creating a model from a version), besides its own account's model.
    _, own = _role_policy(run, f"mrd-{PROJECT}-cfn-endpoint")
    packages = f"arn:aws:sagemaker:eu-west-1:{ids['shared-services']}:model-package/mrd-{PROJECT}/*"
    registry = [(s["Action"], s["Resource"]) for s in own["Statement"] if "model-package" in json.dumps(s["Resource"])]
    assert registry == [(["sagemaker:DescribeModelPackage"], packages)]
    assert not [a for s in own["Statement"] for a in _listed(s["Action"])
                if a in ("sagemaker:UpdateModelPackage", "sagemaker:CreateModelPackage", "sagemaker:ListModelPackages")]


def test_a2s_role_may_start_the_resolver_and_the_build_logs_key_covers_its_log_group(run, ids):
    delivery = run.outputs["delivery"]
    _, a2 = _role_policy(run, f"mrd-{PROJECT}-pipeline-deployment")
    started = [r for s in a2["Statement"] if "codebuild:StartBuild" in _listed(s["Action"]) for r in _listed(s["Resource"])]
    assert started == [delivery["approvedModelResolver"]["arn"]]
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.inputs["description"].endswith("the image build's log group")]
    (logs,) = [s for s in json.loads(key.inputs["policy"])["Statement"] if s["Sid"] == "CloudWatchLogs"]
    contexts = logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    assert f"arn:aws:logs:eu-west-1:{ids['automation']}:log-group:/aws/codebuild/mrd-{PROJECT}-approved-model" in contexts
    (group,) = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"].endswith("approved-model")]
    (project,) = [b for b in run.of_type(BUILD) if b.inputs["name"].endswith("approved-model")]
    assert project.inputs["logsConfig"]["cloudwatchLogs"]["groupName"] == group.inputs["name"]


def _buildspec_listing() -> list[str]:
    (command,) = [c for c in yaml.safe_load(approved_version_buildspec())["phases"]["build"]["commands"]
                  if "list-model-packages" in c]
    inner = re.fullmatch(r"MODEL_PACKAGE_ARN=\$\((.*)\)", command)
    assert inner, command
    return shlex.split(inner.group(1))


def test_the_buildspec_calls_list_model_packages_with_exactly_the_query():
    """The CLI options are botocore's ListModelPackages members (AWS CLI naming), so moto below
    runs the same request the build makes."""
    import botocore.session
    from botocore import xform_name

    words = _buildspec_listing()
    assert words[:3] == ["aws", "sagemaker", "list-model-packages"]
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("ListModelPackages").input_shape
    by_option = {f"--{xform_name(m, '-')}": m for m in shape.members}
    options = dict(zip(words[3::2], words[4::2]))
    cli_only = {"--query": "ModelPackageSummaryList[0].ModelPackageArn", "--output": "text"}
    request = {by_option[o]: v for o, v in options.items() if o not in cli_only}
    assert {o: v for o, v in options.items() if o in cli_only} == cli_only
    assert request == {"ModelPackageGroupName": f"${MODEL_PACKAGE_GROUP_VARIABLE}", **APPROVED_VERSION_QUERY}
    for member, value in APPROVED_VERSION_QUERY.items():
        assert value in shape.members[member].enum, member
    assert yaml.safe_load(approved_version_buildspec())["env"]["exported-variables"] == ["MODEL_PACKAGE_ARN"]


def test_the_query_finds_the_newest_approved_version_and_nothing_without_one(moto_aws):
    session = moto_aws("183599998298")
    sagemaker = session.client("sagemaker")
    group = f"mrd-{PROJECT}"
    group_arn = sagemaker.create_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
    spec = {"Containers": [{"Image": "183599998298.dkr.ecr.eu-west-1.amazonaws.com/fd/inference:abc"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}

    def register(status):
        return sagemaker.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus=status,
                                              InferenceSpecification=spec)["ModelPackageArn"]

    def resolved():
        found = sagemaker.list_model_packages(ModelPackageGroupName=group_arn, **APPROVED_VERSION_QUERY)
        return [p["ModelPackageArn"] for p in found["ModelPackageSummaryList"]][:1]

    register("PendingManualApproval")
    assert resolved() == []  # the build fails: nothing approved to deploy
    register("Approved")
    newest_approved = register("Approved")
    register("PendingManualApproval")
    register("Rejected")
    assert resolved() == [newest_approved]


def test_a_deploying_scenario_without_preprod_is_refused_naming_the_key(sample_platform):
    (project,) = [p for p in sample_platform["projects"] if p["name"] == PROJECT]
    project["environments"].pop("preprod")
    sample_platform["delivery"]["projects"][PROJECT]["scenario"] = "deployment"
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    assert (f"delivery.projects.{PROJECT}.scenario: 'deployment' deploys the approved version of {PROJECT}'s "
            "model package group, which needs a preprod environment") in str(info.value)


def test_the_resolver_runs_in_the_automation_vpc_like_the_image_build(run, sample_runs):
    # It calls SageMaker's API: from the automation VPC, through that VPC's interface endpoint.
    resolver = run.outputs["delivery"]["approvedModelResolver"]
    builds = {b.inputs["name"]: b for b in run.of_type(BUILD)}
    image_build = builds[f"mrd-{PROJECT}-image-build"]
    automation_vpc = sample_runs("network").outputs["sharedVpcs"]["automation"]
    config = builds[resolver["name"]].inputs["vpcConfig"]
    assert config == image_build.inputs["vpcConfig"]
    assert (config["vpcId"], config["subnets"]) == (automation_vpc["vpcId"], automation_vpc["subnetIds"])
    # Its role may create its build's ENIs in those subnets only.
    _, policy = _role_policy(run, f"mrd-{PROJECT}-approved-model")
    (eni,) = [s for s in policy["Statement"] if "ec2:CreateNetworkInterfacePermission" in _listed(s["Action"])]
    assert eni["Condition"]["ArnEquals"]["ec2:Subnet"] == [
        f"arn:aws:ec2:eu-west-1:{builds[resolver['name']].account}:subnet/{s}" for s in automation_vpc["subnetIds"]]


def _interface_services(run, vpc_id):
    return {e.inputs["serviceName"].split(".", 3)[3] for e in run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
            if e.inputs["vpcId"] == vpc_id and e.inputs["vpcEndpointType"] == "Interface"}


def test_the_automation_vpc_has_sagemakers_endpoint_only_when_a_pipeline_deploys(sample_runs, run_platform, sample_platform):
    network = sample_runs("network")
    vpcs = network.outputs["sharedVpcs"]
    assert "sagemaker.api" in _interface_services(network, vpcs["automation"]["vpcId"])
    # Not configured for the shared VPCs: added for the resolver, in the automation VPC only.
    assert "sagemaker.api" not in sample_platform["network"]["endpoints"]["shared_vpc_services"]
    assert "sagemaker.api" not in _interface_services(network, vpcs["shared_services"]["vpcId"])
    for spec in sample_platform["delivery"]["projects"].values():
        spec.update(scenario="training", workflow_engine="StepFunctions", api_front=False, model_monitor=None)
    trained = run_platform("network", platform=sample_platform)
    assert "sagemaker.api" not in _interface_services(trained, trained.outputs["sharedVpcs"]["automation"]["vpcId"])
