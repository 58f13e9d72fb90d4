"""The stage builders every delivery pipeline is made of (whitepaper "Automation pipelines",
"Cross-account pipeline example", "Deployment scenarios"): a scenario is a sequence of these
stages after the source stage, so the five scenarios share one definition of each stage.

Each builder returns a `PipelineStageArgs`; who runs an action is explicit: the build runs as
the CodeBuild project's role, the CloudFormation and Step Functions actions as the target
account's cross-account role (B in pre-production, C in production), the source and approval
actions as the pipeline's own role.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

import yaml

from policy_documents.serialize import to_json

SOURCE_ARTIFACT = "SourceArtifact"
SOURCE_VARIABLES = "SourceVariables"
TRAIN_STACK_VARIABLES = "TrainStack"
COMMIT_ID = f"#{{{SOURCE_VARIABLES}.CommitId}}"
# One training run: the pipeline's execution id, the same in every action of one execution (the
# training workflow names its jobs and output prefix by it; the registration reads that prefix).
RUN_ID = "#{codepipeline.PipelineExecutionId}"
# The deployment pipeline (A2) deploys the registry's latest Approved version of the project's
# model package group: a build step resolves it (APPROVED_VERSION_QUERY) and exports its ARN.
APPROVED_MODEL_VARIABLES = "ApprovedModel"
MODEL_PACKAGE_ARN_VARIABLE = "MODEL_PACKAGE_ARN"
MODEL_PACKAGE_ARN = f"#{{{APPROVED_MODEL_VARIABLES}.{MODEL_PACKAGE_ARN_VARIABLE}}}"
MODEL_PACKAGE_GROUP_VARIABLE = "MODEL_PACKAGE_GROUP"  # the resolver project's environment: the group's ARN
# ListModelPackages' parameters besides the group (botocore's names): Approved versions, newest
# first (no MaxResults: the CLI pages through all of them and the query takes the first).
APPROVED_VERSION_QUERY = {"ModelApprovalStatus": "Approved", "SortBy": "CreationTime", "SortOrder": "Descending"}


def _cli_option(member: str) -> str:
    # The AWS CLI's option for a botocore member name (ModelApprovalStatus -> --model-approval-status).
    return "--" + "-".join(part.lower() for part in re.findall(r"[A-Z][a-z]*", member))


def approved_version_buildspec() -> str:
    """The resolver project's buildspec (inline in the project, so no source change alters it):
    the newest Approved version of the group in `$MODEL_PACKAGE_GROUP`, exported as
    MODEL_PACKAGE_ARN; the build fails when the group has no Approved version."""
    options = " ".join(f"{_cli_option(k)} {v}" for k, v in APPROVED_VERSION_QUERY.items())
    variable, group = MODEL_PACKAGE_ARN_VARIABLE, MODEL_PACKAGE_GROUP_VARIABLE
    listing = (f'aws sagemaker list-model-packages {_cli_option("ModelPackageGroupName")} "${group}" {options} '
               '--query "ModelPackageSummaryList[0].ModelPackageArn" --output text')
    return yaml.safe_dump({
        "version": 0.2,
        "env": {"exported-variables": [variable]},
        "phases": {"build": {"commands": [
            f"{variable}=$({listing})",
            # The CLI prints None for an empty list.
            f'if [ -z "${variable}" ] || [ "${variable}" = None ]; then echo "no Approved version in ${group}" >&2; exit 1; fi',
            f'echo "deploying ${variable}"',
        ]}},
    }, sort_keys=False, width=1000)


# With a SageMaker pipeline as the training workflow, a build of the automation account runs it
# as role B (CodePipeline has no SageMaker pipeline action) and exports where the model is.
TRAIN_RUN_VARIABLES = "TrainRun"
RUN_ROLE_VARIABLE = "RUN_ROLE_ARN"            # the runner project's environment: role B
EXECUTION_ARN_VARIABLE = "PIPELINE_EXECUTION_ARN"
MODEL_DATA_URL_VARIABLE = "MODEL_DATA_URL"
TRAINED_MODEL_DATA_URL = f"#{{{TRAIN_RUN_VARIABLES}.{MODEL_DATA_URL_VARIABLE}}}"
# The template's pipeline: its run id parameter and the step that trains (templates/training-workflow.yaml).
PIPELINE_RUN_PARAMETER, PIPELINE_TRAINING_STEP = "RunId", "Train"
# PipelineExecutionStatus values (botocore) while an execution is not finished.
PIPELINE_RUNNING = ("Executing", "Stopping")


def pipeline_runner_buildspec() -> str:
    """The runner project's buildspec (inline, so no source change alters it): as role B (a CLI
    profile that assumes it from the build's credentials and refreshes it while it waits), start
    the pipeline `$PIPELINE_NAME` with the run id `$RUN_ID` (also the idempotency token, so a
    retried build does not start a second run), wait for it, fail unless it succeeded, and export
    the execution and the trained model's artifact."""
    execution, model, role = EXECUTION_ARN_VARIABLE, MODEL_DATA_URL_VARIABLE, RUN_ROLE_VARIABLE
    sm = "aws --profile run sagemaker"
    running = " ] || [ ".join(f'"$STATUS" = {s}' for s in PIPELINE_RUNNING)
    return yaml.safe_dump({
        "version": 0.2,
        "env": {"variables": {"AWS_STS_REGIONAL_ENDPOINTS": "regional"}, "exported-variables": [execution, model]},
        "phases": {"build": {"commands": [
            f'aws configure set profile.run.role_arn "${role}"',
            "aws configure set profile.run.credential_source EcsContainer",
            'aws configure set profile.run.role_session_name "training-$RUN_ID"',
            f'{execution}=$({sm} start-pipeline-execution --pipeline-name "$PIPELINE_NAME" '
            f'--pipeline-parameters Name={PIPELINE_RUN_PARAMETER},Value="$RUN_ID" --client-request-token "$RUN_ID" '
            '--query PipelineExecutionArn --output text)',
            f'while STATUS=$({sm} describe-pipeline-execution --pipeline-execution-arn "${execution}" '
            f'--query PipelineExecutionStatus --output text); [ {running} ]; do sleep 60; done',
            f'if [ "$STATUS" != Succeeded ]; then echo "${execution}: $STATUS" >&2; exit 1; fi',
            f'TRAINING_JOB=$({sm} list-pipeline-execution-steps --pipeline-execution-arn "${execution}" '
            f'--query "PipelineExecutionSteps[?StepName==\'{PIPELINE_TRAINING_STEP}\'].Metadata.TrainingJob.Arn | [0]" '
            '--output text)',
            f'{model}=$({sm} describe-training-job --training-job-name "${{TRAINING_JOB##*/}}" '
            '--query ModelArtifacts.S3ModelArtifacts --output text)',
            f'echo "trained ${model}"',
        ]}},
    }, sort_keys=False, width=1000)


@dataclass(frozen=True)
class StageInputs:
    """What the stages of one project's pipelines are built from (ARNs and names as Outputs
    from the stacks that create them)."""

    project: str
    region: str
    connection_arn: pulumi.Input[str] | None     # CodeConnections, or
    codecommit_role_arn: pulumi.Input[str] | None  # CodeCommit: the repository account's source role
    repository: str
    branch: str
    build_project_name: pulumi.Input[str]
    training_image: pulumi.Input[str]          # repository URL, tagged with the commit id
    inference_image: pulumi.Input[str]
    stack_names: Mapping[str, str]             # training, registration, endpoint
    templates: Mapping[str, str]               # same keys: path in the source artifact
    preprod_role_arn: pulumi.Input[str] | None = None    # role B
    preprod_execution_role_arn: pulumi.Input[str] | None = None
    prod_role_arn: pulumi.Input[str] | None = None       # role C
    prod_execution_role_arn: pulumi.Input[str] | None = None
    resolver_project_name: pulumi.Input[str] | None = None  # A2: resolves the approved model version
    workflow_engine: str = "StepFunctions"     # or SageMakerPipeline (run by the runner project)
    runner_project_name: pulumi.Input[str] | None = None  # A, SageMakerPipeline: runs it as role B
    training_parameters: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    registration_parameters: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    endpoint_parameters: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    approval_message: str = ""


def _overrides(parameters: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    # CloudFormation takes parameter overrides as one JSON object of strings.
    return pulumi.Output.from_input(dict(parameters)).apply(to_json)


def _deploy_action(name: str, kind: str, inputs: StageInputs, role_arn: pulumi.Input[str] | None,
                   execution_role_arn: pulumi.Input[str] | None, parameters: Mapping[str, pulumi.Input[str]],
                   namespace: str | None = None, run_order: int = 1) -> aws.codepipeline.PipelineStageActionArgs:
    if role_arn is None or execution_role_arn is None:
        raise ValueError(f"{inputs.project}: the {kind} stack needs its target account's roles")
    return aws.codepipeline.PipelineStageActionArgs(
        name=name, category="Deploy", owner="AWS", provider="CloudFormation", version="1", run_order=run_order,
        input_artifacts=[SOURCE_ARTIFACT], namespace=namespace, role_arn=role_arn, region=inputs.region,
        configuration={
            "ActionMode": "CREATE_UPDATE", "StackName": inputs.stack_names[kind],
            "TemplatePath": f"{SOURCE_ARTIFACT}::{inputs.templates[kind]}", "RoleArn": execution_role_arn,
            "Capabilities": "CAPABILITY_NAMED_IAM,CAPABILITY_AUTO_EXPAND",
            "ParameterOverrides": _overrides(parameters), "OutputFileName": f"{kind}-outputs.json",
        },
        output_artifacts=[f"{kind.capitalize()}Outputs"])


def source_stage(inputs: StageInputs) -> aws.codepipeline.PipelineStageArgs:
    """The project's repository through its CodeConnections connection, or its CodeCommit
    repository in another account as that account's source role. Changes are detected by the
    pipeline's trigger (connection) or an EventBridge rule (CodeCommit), not by the action."""
    if (inputs.connection_arn is None) == (inputs.codecommit_role_arn is None):
        raise ValueError(f"{inputs.project}: the source is a connection or a CodeCommit repository, exactly one")
    if inputs.codecommit_role_arn is not None:
        # Both actions output CommitId into the same namespace (COMMIT_ID).
        action = aws.codepipeline.PipelineStageActionArgs(
            name="Source", category="Source", owner="AWS", provider="CodeCommit", version="1",
            namespace=SOURCE_VARIABLES, output_artifacts=[SOURCE_ARTIFACT], role_arn=inputs.codecommit_role_arn,
            configuration={"RepositoryName": inputs.repository, "BranchName": inputs.branch,
                           "OutputArtifactFormat": "CODE_ZIP", "PollForSourceChanges": "false"})
    else:
        action = aws.codepipeline.PipelineStageActionArgs(
            name="Source", category="Source", owner="AWS", provider="CodeStarSourceConnection", version="1",
            namespace=SOURCE_VARIABLES, output_artifacts=[SOURCE_ARTIFACT],
            configuration={"ConnectionArn": inputs.connection_arn, "FullRepositoryId": inputs.repository,
                           "BranchName": inputs.branch, "OutputArtifactFormat": "CODE_ZIP", "DetectChanges": "false"})
    return aws.codepipeline.PipelineStageArgs(name="Source", actions=[action])


def build_stage(inputs: StageInputs) -> aws.codepipeline.PipelineStageArgs:
    """The container build (CodeBuild, automation account), pushing to the project's ECR
    namespace tagged with the commit id (application tags are immutable)."""
    variables = pulumi.Output.all(inputs.training_image, inputs.inference_image).apply(lambda images: to_json([
        {"name": "IMAGE_TAG", "value": COMMIT_ID, "type": "PLAINTEXT"},
        {"name": "TRAINING_IMAGE_REPOSITORY", "value": images[0], "type": "PLAINTEXT"},
        {"name": "INFERENCE_IMAGE_REPOSITORY", "value": images[1], "type": "PLAINTEXT"}]))
    return aws.codepipeline.PipelineStageArgs(name="Build", actions=[aws.codepipeline.PipelineStageActionArgs(
        name="BuildImages", category="Build", owner="AWS", provider="CodeBuild", version="1",
        input_artifacts=[SOURCE_ARTIFACT], output_artifacts=["BuildOutput"], namespace="BuildVariables",
        configuration={"ProjectName": inputs.build_project_name, "EnvironmentVariables": variables})])


def train_stage(inputs: StageInputs) -> aws.codepipeline.PipelineStageArgs:
    """Deploy the training workflow into pre-production through role B, then run it through B:
    the state machine by CodePipeline's Step Functions action, a SageMaker pipeline by the
    runner build (CodePipeline has no SageMaker pipeline action), which acts as B."""
    deploy = _deploy_action("DeployTrainingWorkflow", "training", inputs, inputs.preprod_role_arn,
                            inputs.preprod_execution_role_arn, inputs.training_parameters,
                            namespace=TRAIN_STACK_VARIABLES)
    if inputs.workflow_engine == "SageMakerPipeline":
        if inputs.runner_project_name is None:
            raise ValueError(f"{inputs.project}: a SageMaker pipeline needs its runner project")
        invoke = aws.codepipeline.PipelineStageActionArgs(
            name="RunTrainingWorkflow", category="Build", owner="AWS", provider="CodeBuild", version="1",
            run_order=2, input_artifacts=[SOURCE_ARTIFACT], namespace=TRAIN_RUN_VARIABLES,
            configuration={"ProjectName": inputs.runner_project_name, "EnvironmentVariables": to_json([
                {"name": "PIPELINE_NAME", "value": f"#{{{TRAIN_STACK_VARIABLES}.PipelineName}}", "type": "PLAINTEXT"},
                {"name": "RUN_ID", "value": RUN_ID, "type": "PLAINTEXT"}])})
    else:
        invoke = aws.codepipeline.PipelineStageActionArgs(
            name="RunTrainingWorkflow", category="Invoke", owner="AWS", provider="StepFunctions", version="1",
            run_order=2, input_artifacts=[SOURCE_ARTIFACT], role_arn=inputs.preprod_role_arn, region=inputs.region,
            configuration={"StateMachineArn": f"#{{{TRAIN_STACK_VARIABLES}.StateMachineARN}}", "InputType": "Literal",
                           "Input": to_json({"commitId": COMMIT_ID, "runId": RUN_ID}),
                           "ExecutionNamePrefix": inputs.project[:40]})
    return aws.codepipeline.PipelineStageArgs(name="Train", actions=[deploy, invoke])


def register_stage(inputs: StageInputs) -> aws.codepipeline.PipelineStageArgs:
    """Register the trained version in the central registry (a CloudFormation model package,
    created by pre-production's execution role, pending manual approval)."""
    return aws.codepipeline.PipelineStageArgs(name="Register", actions=[_deploy_action(
        "RegisterModelVersion", "registration", inputs, inputs.preprod_role_arn, inputs.preprod_execution_role_arn,
        inputs.registration_parameters)])


def _resolve_action(inputs: StageInputs, run_order: int) -> aws.codepipeline.PipelineStageActionArgs:
    """The registry's latest Approved version of the project's group (a build in the automation
    account whose role may only read that group), exported as MODEL_PACKAGE_ARN."""
    if inputs.resolver_project_name is None:
        raise ValueError(f"{inputs.project}: the deploy stage needs the approved-version resolver project")
    return aws.codepipeline.PipelineStageActionArgs(
        name="ResolveApprovedVersion", category="Build", owner="AWS", provider="CodeBuild", version="1",
        run_order=run_order, input_artifacts=[SOURCE_ARTIFACT], namespace=APPROVED_MODEL_VARIABLES,
        configuration={"ProjectName": inputs.resolver_project_name})


def approval_message(message: str) -> str:
    """The approval's CustomData: the release and the model version it deploys (the resolver's
    output variable, resolved by CodePipeline before the approver sees it)."""
    return f"{message}: model package version {MODEL_PACKAGE_ARN}" if message else \
        f"Deploy model package version {MODEL_PACKAGE_ARN}"


def approve_stage(inputs: StageInputs) -> aws.codepipeline.PipelineStageArgs:
    """Resolve the version to release, then ask for approval showing it: only the approver
    group's role may answer (CI-2). The deploy stage deploys that same resolved version, so what
    is approved is what is deployed, even if another version is approved meanwhile."""
    return aws.codepipeline.PipelineStageArgs(name="Approve", actions=[
        _resolve_action(inputs, run_order=1),
        aws.codepipeline.PipelineStageActionArgs(
            name="ApproveRelease", category="Approval", owner="AWS", provider="Manual", version="1", run_order=2,
            configuration={"CustomData": approval_message(inputs.approval_message)})])


def deploy_stage(inputs: StageInputs) -> aws.codepipeline.PipelineStageArgs:
    """Deploy the model from the version the approve stage resolved (and the approver saw), the
    endpoint configuration and the endpoint into production through role C. A2 runs apart from
    A and cannot know A's run, so the registry is what it deploys from."""
    return aws.codepipeline.PipelineStageArgs(name="Deploy", actions=[_deploy_action(
        "DeployEndpoint", "endpoint", inputs, inputs.prod_role_arn, inputs.prod_execution_role_arn,
        {**inputs.endpoint_parameters, "ModelPackageArn": MODEL_PACKAGE_ARN})])


STAGE_BUILDERS: dict[str, Callable[[StageInputs], aws.codepipeline.PipelineStageArgs]] = {
    "build": build_stage, "train": train_stage, "register": register_stage,
    "approve": approve_stage, "deploy": deploy_stage,
}


def pipeline_stages(inputs: StageInputs, stages: tuple[str, ...]) -> list[aws.codepipeline.PipelineStageArgs]:
    """The source stage, then `stages` in order, each from its one builder. The deploy stage
    deploys the version the approve stage resolved, so it needs that stage before it."""
    if "deploy" in stages and "approve" not in stages[:stages.index("deploy")]:
        raise ValueError(f"{inputs.project}: the deploy stage needs the approve stage before it")
    return [source_stage(inputs), *(STAGE_BUILDERS[stage](inputs) for stage in stages)]
