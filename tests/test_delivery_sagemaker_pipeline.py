"""The SageMaker Pipeline training engine (issue 15: "a Step Functions state machine, or a
SageMaker Pipeline when configured"; delivery.projects.<p>.workflow_engine). document-vision's
sample trains with a SageMaker pipeline, fraud-detection with the state machine: each project's
roles hold what its engine needs and nothing of the other's."""

from __future__ import annotations

import json

import pytest
import yaml

from components.pipeline_stages import (
    EXECUTION_ARN_VARIABLE,
    MODEL_DATA_URL_VARIABLE,
    PIPELINE_RUN_PARAMETER,
    PIPELINE_TRAINING_STEP,
    TRAINED_MODEL_DATA_URL,
    pipeline_runner_buildspec,
)
from policy_documents.service_authorization import validate_document
from tests.conftest import ROOT
from tests.delivery_policies import policy_actions

PROJECT = "document-vision"
BUILD = "aws:codebuild/project:Project"


@pytest.fixture(scope="module")
def run(sample_runs):
    return sample_runs(f"{PROJECT}-delivery")


@pytest.fixture(scope="module")
def stepfunctions(sample_runs):
    return sample_runs("fraud-detection-delivery")


def _arn(accounts, account, name, project=PROJECT):
    return f"arn:aws:iam::{accounts[account]}:role/mrd-{project}-{name}"


def _role(run, name, project=PROJECT):
    (role,) = [r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"] == f"mrd-{project}-{name}"]
    (policy,) = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.parent == role.urn]
    return role, json.loads(policy.inputs["policy"])


def _statement(doc, sid):
    (found,) = [s for s in doc["Statement"] if s["Sid"] == sid]
    return found


def _train_stage(run):
    (pipeline,) = [p for p in run.of_type("aws:codepipeline/pipeline:Pipeline")
                   if p.inputs["name"] == f"mrd-{PROJECT}-training"]
    stages = {s["name"]: s["actions"] for s in pipeline.inputs["stages"]}
    return stages["Train"], stages["Register"]


def test_the_pipeline_deploys_the_sagemaker_pipeline_and_runs_it_with_the_runner_build(run, sample_runs):
    (deploy, invoke), (register,) = _train_stage(run)
    preprod = sample_runs(f"{PROJECT}-preprod").outputs
    parameters = json.loads(deploy["configuration"]["ParameterOverrides"])
    assert parameters["WorkflowEngine"] == "SageMakerPipeline" == run.outputs["delivery"]["workflowEngine"]
    # The pipeline runs its steps as the workspace's SageMaker pipeline role.
    assert parameters["StateMachineRoleArn"] == preprod["workspace"]["serviceRoleArns"]["pipelines"]
    runner = run.outputs["delivery"]["trainingRunner"]
    assert (invoke["category"], invoke["provider"]) == ("Build", "CodeBuild")
    assert invoke["configuration"]["ProjectName"] == runner["name"] and invoke["runOrder"] == 2
    variables = {v["name"]: v["value"] for v in json.loads(invoke["configuration"]["EnvironmentVariables"])}
    # The pipeline the training stack created, and the run id the registration reads under.
    assert variables == {"PIPELINE_NAME": "#{TrainStack.PipelineName}", "RUN_ID": "#{codepipeline.PipelineExecutionId}"}
    # SageMaker names the pipeline's training job: the registration takes the artifact the runner found.
    registration = json.loads(register["configuration"]["ParameterOverrides"])
    assert registration["ModelDataUrl"] == TRAINED_MODEL_DATA_URL == f"#{{{invoke['namespace']}.MODEL_DATA_URL}}"


def test_the_state_machine_project_keeps_the_step_functions_action(stepfunctions, accounts):
    (pipeline,) = [p for p in stepfunctions.of_type("aws:codepipeline/pipeline:Pipeline")
                   if p.inputs["name"] == "mrd-fraud-detection-training"]
    (train,) = [s for s in pipeline.inputs["stages"] if s["name"] == "Train"]
    assert train["actions"][1]["provider"] == "StepFunctions"
    assert json.loads(train["actions"][0]["configuration"]["ParameterOverrides"])["WorkflowEngine"] == "StepFunctions"
    assert stepfunctions.outputs["delivery"]["trainingRunner"] is None
    assert not [b for b in stepfunctions.of_type(BUILD) if b.inputs["name"].endswith("training-runner")]


def test_cfn_training_may_create_only_that_pipeline_and_pass_only_its_role(run, accounts, sample_runs):
    preprod = accounts[f"{PROJECT}-preprod"]
    _, doc = _role(run, "cfn-training")
    assert validate_document(doc) == []
    pipeline = _statement(doc, "TrainingPipeline")
    assert pipeline["Resource"] == f"arn:aws:sagemaker:eu-west-1:{preprod}:pipeline/mrd-{PROJECT}-training"
    assert {"sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline"} <= set(pipeline["Action"])
    passes = [s for s in doc["Statement"] if "iam:PassRole" in policy_actions({"Statement": [s]})]
    roles = sample_runs(f"{PROJECT}-preprod").outputs["workspace"]["serviceRoleArns"]
    assert [(s["Resource"], s["Condition"]) for s in passes] == [
        (roles["pipelines"], {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})]
    assert not {a for a in policy_actions(doc) if a.startswith("states:")}


def test_cfn_training_of_the_state_machine_project_has_nothing_of_pipelines(stepfunctions):
    _, doc = _role(stepfunctions, "cfn-training", "fraud-detection")
    assert not {a for a in policy_actions(doc) if "Pipeline" in a}
    assert "states:CreateStateMachine" in policy_actions(doc)


def test_role_b_starts_and_watches_only_that_pipelines_executions_and_nothing_of_step_functions(run, accounts):
    preprod = accounts[f"{PROJECT}-preprod"]
    _, doc = _role(run, "deploy-training")
    assert validate_document(doc) == []
    pipeline = f"arn:aws:sagemaker:eu-west-1:{preprod}:pipeline/mrd-{PROJECT}-training"
    assert _statement(doc, "RunTheTrainingPipeline")["Resource"] == pipeline
    assert _statement(doc, "WatchTheTrainingPipeline")["Resource"] == f"{pipeline}/execution/*"
    assert _statement(doc, "FindTheTrainedModel")["Resource"] == \
        f"arn:aws:sagemaker:eu-west-1:{preprod}:training-job/pipelines-*"
    assert not {a for a in policy_actions(doc) if a.startswith("states:")}
    sagemaker = {a for a in policy_actions(doc) if a.startswith("sagemaker:")}
    assert sagemaker == {"sagemaker:StartPipelineExecution", "sagemaker:DescribePipelineExecution",
                         "sagemaker:ListPipelineExecutionSteps", "sagemaker:DescribeTrainingJob"}


def test_role_b_of_the_state_machine_project_has_nothing_of_sagemaker_pipelines(stepfunctions):
    _, doc = _role(stepfunctions, "deploy-training", "fraud-detection")
    assert not {a for a in policy_actions(doc) if a.startswith("sagemaker:")}
    assert {"states:StartExecution", "states:DescribeExecution"} <= policy_actions(doc)


def test_role_b_trusts_role_a_and_the_runner_only_and_the_runner_may_only_act_as_b(run, accounts):
    role_b, _ = _role(run, "deploy-training")
    (trust,) = json.loads(role_b.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": [_arn(accounts, "automation", "pipeline-training"),
                                          _arn(accounts, "automation", "training-runner")]}
    assert "Condition" not in trust
    runner_role, doc = _role(run, "training-runner")
    assert validate_document(doc) == []
    assert runner_role.account == accounts["automation"]
    (assume,) = [s for s in doc["Statement"] if "sts:AssumeRole" in policy_actions({"Statement": [s]})]
    assert assume["Resource"] == role_b.outputs["arn"]
    assert {a.split(":")[0] for a in policy_actions(doc)} == {"logs", "s3", "kms", "sts", "ec2"}
    assert "s3:PutObject" not in policy_actions(doc)
    # Role A starts it (the training pipeline's only other build is the image build).
    _, a = _role(run, "pipeline-training")
    runner = run.outputs["delivery"]["trainingRunner"]
    assert _statement(a, "RunTheTrainingPipeline")["Resource"] == runner["arn"]


def test_the_runner_is_unprivileged_in_the_automation_vpc_with_its_inline_buildspec(run, sample_runs):
    runner = run.outputs["delivery"]["trainingRunner"]
    builds = {b.inputs["name"]: b for b in run.of_type(BUILD)}
    project = builds[runner["name"]]
    assert project.inputs["source"] == {"type": "CODEPIPELINE", "buildspec": pipeline_runner_buildspec()}
    assert project.inputs["environment"]["privilegedMode"] is False
    assert project.inputs["encryptionKey"] == run.outputs["delivery"]["artifactKeyArn"]
    assert project.inputs["vpcConfig"] == builds[f"mrd-{PROJECT}-image-build"].inputs["vpcConfig"]
    assert {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]} == {
        "RUN_ROLE_ARN": run.outputs["delivery"]["crossAccountRoles"]["preprod"]}
    # Its log group is encrypted with the build logs key, whose policy names it.
    (group,) = [g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"] == f"/aws/codebuild/{runner['name']}"]
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.inputs["description"].endswith("log group")]
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert f"log-group:/aws/codebuild/{runner['name']}" in key.inputs["policy"]
    # The automation VPC reaches SageMaker's API (the runner calls it as role B).
    network = sample_runs("network")
    vpc_id = network.outputs["sharedVpcs"]["automation"]["vpcId"]
    assert "com.amazonaws.eu-west-1.sagemaker.api" in {
        e.inputs["serviceName"] for e in network.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["vpcId"] == vpc_id}


def test_the_buildspec_runs_the_templates_pipeline_and_exports_the_model_it_trained():
    spec = yaml.safe_load(pipeline_runner_buildspec())
    assert spec["env"]["exported-variables"] == [EXECUTION_ARN_VARIABLE, MODEL_DATA_URL_VARIABLE]
    commands = "\n".join(spec["phases"]["build"]["commands"])
    assert "credential_source EcsContainer" in commands and '"$RUN_ROLE_ARN"' in commands
    assert f"Name={PIPELINE_RUN_PARAMETER},Value=\"$RUN_ID\"" in commands
    # The run id is the idempotency token (SageMaker wants 32 to 128 characters: an execution id's 36).
    assert '--client-request-token "$RUN_ID"' in commands
    assert 'if [ "$STATUS" != Succeeded ]' in commands
    # The parameter and the step it names are the template's.
    template = (ROOT / "templates" / "training-workflow.yaml").read_text()
    assert f'"Parameters": [{{"Name": "{PIPELINE_RUN_PARAMETER}", "Type": "String"}}]' in template
    assert f'"Get": "Parameters.{PIPELINE_RUN_PARAMETER}"' in template
    assert f'{{"Name": "{PIPELINE_TRAINING_STEP}", "Type": "Training"' in template
    assert "Execution.PipelineExecutionId" not in template


def test_the_monitoring_watches_the_pipeline_executions_and_the_runner_build(run):
    rules = {r.inputs["name"]: json.loads(r.inputs["eventPattern"])
             for r in run.of_type("aws:cloudwatch/eventRule:EventRule") if r.inputs.get("eventPattern")}
    pipelines = [p for p in rules.values() if p.get("detail-type") == ["SageMaker Model Building Pipeline Execution Status Change"]]
    assert pipelines
    builds = [p for p in rules.values() if p.get("source") == ["aws.codebuild"]]
    assert any(run.outputs["delivery"]["trainingRunner"]["name"] in json.dumps(p) for p in builds)


def test_the_workspace_has_the_sagemaker_pipeline_role_the_template_runs_as(sample_runs, accounts):
    preprod = sample_runs(f"{PROJECT}-preprod")
    arn = preprod.outputs["workspace"]["serviceRoleArns"]["pipelines"]
    (role,) = [r for r in preprod.of_type("aws:iam/role:Role") if r.outputs["arn"] == arn]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": accounts[f"{PROJECT}-preprod"]}}
