"""The CloudFormation templates the delivery pipelines deploy (templates/training-workflow.yaml
into pre-production, templates/endpoint.yaml into production): valid CloudFormation, and every
SageMaker call they make fits the SCPs the organization stack attaches on the target account's
OU path (VPC, volume and output keys, network isolation, the mandatory tags), with the
parameters filled from the sample project stacks' outputs, as the pipelines fill them."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.decode import cfn_yaml
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from tests.conftest import ROOT, load_sample_platform
from tests.test_workspace_guardrail_fit import _denied_by, _scp_statements

TEMPLATES = ROOT / "templates"
TRAINING = TEMPLATES / "training-workflow.yaml"
ENDPOINT = TEMPLATES / "endpoint.yaml"
PROJECT = "fraud-detection"
# Stands in for the CloudFormation execution role of the target account (the delivery layer's).
DEPLOYER = "arn:aws:iam::{account}:role/mrd-fraud-detection-cloudformation"


def _regions() -> list[str]:
    return list(load_sample_platform()["allowed_regions"])


def _mandatory_tags() -> list[str]:
    return list(load_sample_platform()["mandatory_tags"])


def lint_errors(body: str, regions: list[str] | None = None) -> list[str]:
    return [str(m) for m in lint(body, config=ManualArgs(regions=regions or _regions()))]


def load(path: Path) -> dict[str, Any]:
    return cfn_yaml.loads(path.read_text())


# -- every template the program ships is valid ----------------------------------------------

@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_template_passes_cfn_lint(path):
    assert lint_errors(path.read_text()) == []


def test_the_delivery_templates_are_shipped():
    assert {TRAINING.name, ENDPOINT.name} <= {p.name for p in TEMPLATES.glob("*.yaml")}


@pytest.mark.parametrize("path, good, bad", [
    (TRAINING, "Resource: arn:aws:states:::sagemaker:createModel", "Resourc: arn:aws:states:::sagemaker:createModel"),
    (ENDPOINT, "EnableNetworkIsolation: true", "EnableNetworkIsolation: sometimes"),
], ids=["state-machine-definition", "model-property"])
def test_cfn_lint_finds_a_broken_delivery_template(path, good, bad):
    text = path.read_text()
    assert good in text
    assert lint_errors(text.replace(good, bad, 1), regions=_regions()[:1])


# -- parameters as the pipelines pass them: from the project stacks' outputs -----------------

def _tag_values(run) -> dict[str, str]:
    tags = run.of_type("aws:kms/key:Key")[0].inputs["tags"]
    return {t: tags[t] for t in _mandatory_tags()}


def _tag_parameters(run) -> dict[str, str]:
    names = {"owner": "OwnerTag", "project": "ProjectTag", "environment": "EnvironmentTag",
             "cost-center": "CostCenterTag", "data-classification": "DataClassificationTag"}
    return {names[t]: v for t, v in _tag_values(run).items()}


def training_parameters(run, engine: str = "StepFunctions") -> dict[str, Any]:
    o = run.outputs
    roles, buckets = o["workspace"]["serviceRoleArns"], o["data"]["buckets"]
    return {
        "WorkflowEngine": engine, "WorkflowName": f"mrd-{PROJECT}-training",
        "ImageUri": f"{'1' * 12}.dkr.ecr.eu-west-1.amazonaws.com/{PROJECT}/training:0a1b2c3",
        "ProcessingRoleArn": roles["processing"], "TrainingRoleArn": roles["training"],
        "HostingRoleArn": roles["hosting"], "StateMachineRoleArn": roles["step_functions"],
        "VolumeKmsKeyArn": o["data"]["keyArn"], "OutputKmsKeyArn": o["data"]["keyArn"],
        "SubnetIds": o["subnetIds"], "SecurityGroupId": o["workloadSecurityGroupId"],
        "InputDataS3Uri": f"s3://{buckets['datasets']['name']}/train",
        "OutputS3Uri": f"s3://{buckets['pipeline']['name']}/training",
        "ProcessingInstanceType": "ml.m5.xlarge", "TrainingInstanceType": "ml.m5.xlarge",
        "MaxTrainingSeconds": 86400, **_tag_parameters(run),
    }


def endpoint_parameters(run) -> dict[str, Any]:
    o = run.outputs
    buckets = o["data"]["buckets"]
    return {
        "EndpointName": f"mrd-{PROJECT}",
        "ModelPackageArn": f"arn:aws:sagemaker:eu-west-1:{'1' * 12}:model-package/mrd-{PROJECT}/3",
        "HostingRoleArn": o["workspace"]["serviceRoleArns"]["hosting"], "KmsKeyArn": o["data"]["keyArn"],
        "SubnetIds": o["subnetIds"], "SecurityGroupId": o["workloadSecurityGroupId"],
        "DataCaptureS3Uri": f"s3://{buckets['pipeline']['name']}/data-capture",
        "DataCaptureSamplingPercentage": 100, "InstanceType": "ml.m5.large", "InstanceCount": 2,
        "ApiFront": "true", "ApiVpcEndpointId": "vpce-0123456789abcdef0",
        "FrontRoleBoundaryArn": f"arn:aws:iam::{'1' * 12}:policy/ml-platform/mrd-{PROJECT}-endpoint-front-boundary",
        "FrontKmsKeyArn": f"arn:aws:kms:eu-west-1:{'1' * 12}:key/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f",
        "ModelMonitor": "true",
        "MonitorImageUri": "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer",
        "MonitorRoleArn": o["workspace"]["serviceRoleArns"]["processing"],
        "MonitorOutputS3Uri": f"s3://{buckets['pipeline']['name']}/model-monitor",
        "MonitorScheduleExpression": "cron(0 * ? * * *)", **_tag_parameters(run),
    }


def test_parameters_cover_the_templates_exactly(sample_runs):
    # Every parameter a template declares is one the pipeline can fill from the stacks' outputs.
    assert set(training_parameters(sample_runs(f"{PROJECT}-preprod"))) == set(load(TRAINING)["Parameters"])
    assert set(endpoint_parameters(sample_runs(f"{PROJECT}-prod"))) == set(load(ENDPOINT)["Parameters"])


# -- a small CloudFormation resolver, enough for these templates -----------------------------

class Resolver:
    """Resolves Ref, Fn::Sub, Fn::Join, Fn::GetAtt, Fn::If and Conditions against parameters."""

    def __init__(self, template: dict, params: dict[str, Any], account: str):
        self.template, self.params = template, {**params, "AWS::AccountId": account,
                                                "AWS::Region": "eu-west-1", "AWS::Partition": "aws"}

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                return self.params.get(arg, f"<{arg}>")
            if fn == "Fn::GetAtt":
                return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
            if fn == "Fn::Join":
                return self.value(arg[0]).join(str(v) for v in self.value(arg[1]))
            if fn == "Fn::Equals":
                a, b = self.value(arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self.value(arg[0])
            if fn == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(extra.get(m.group(1), self.value(
                    {"Fn::GetAtt": m.group(1).split(".")} if "." in m.group(1) and "::" not in m.group(1)
                    else {"Ref": m.group(1)}))), text)
        return {k: self.value(v) for k, v in node.items()}

    def resources(self) -> dict[str, dict]:
        """The resources the parameters create, resolved."""
        return {name: {"Type": r["Type"], "Properties": self.value(r.get("Properties", {}))}
                for name, r in self.template["Resources"].items()
                if "Condition" not in r or self.condition(r["Condition"])}


def _states_value(text: str) -> Any:
    """The few Step Functions intrinsics the definition uses, evaluated; paths stay unknown."""
    split = re.fullmatch(r"States\.StringSplit\('([^']*)', '([^']*)'\)", text)
    if split:
        return split.group(1).split(split.group(2))
    number = re.fullmatch(r"States\.StringToJson\('([^']*)'\)", text)
    if number:
        return json.loads(number.group(1))
    return f"<runtime {text}>"


def _substitute(node: Any, values: dict[str, str]) -> Any:
    """Step Functions' DefinitionSubstitutions, then `.$` fields evaluated."""
    if isinstance(node, list):
        return [_substitute(n, values) for n in node]
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            v = _substitute(v, values)
            if k.endswith(".$"):
                out[k[:-2]] = _states_value(v)
            else:
                out[k] = v
        return out
    if isinstance(node, str):
        return re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: str(values[m.group(1)]), node)
    return node


# The API call each task resource, pipeline step type and CloudFormation resource type makes.
_TASKS = {"createProcessingJob": "CreateProcessingJob", "createTrainingJob": "CreateTrainingJob",
          "createModel": "CreateModel"}
_STEPS = {"Processing": "CreateProcessingJob", "Training": "CreateTrainingJob", "Model": "CreateModel"}
_RESOURCES = {"AWS::SageMaker::Model": "CreateModel", "AWS::SageMaker::EndpointConfig": "CreateEndpointConfig",
              "AWS::SageMaker::Endpoint": "CreateEndpoint", "AWS::SageMaker::Pipeline": "CreatePipeline",
              "AWS::SageMaker::DataQualityJobDefinition": "CreateDataQualityJobDefinition",
              "AWS::SageMaker::MonitoringSchedule": "CreateMonitoringSchedule"}


def sagemaker_calls(template: dict, params: dict, account: str) -> list[tuple[str, str, str, dict]]:
    """(where, action, caller, request) for every SageMaker create call the template makes when
    deployed with `params`: CloudFormation's own, and those of the state machine or pipeline."""
    resolver = Resolver(template, params, account)
    deployer = DEPLOYER.format(account=account)
    calls = []
    for name, resource in resolver.resources().items():
        props = resource["Properties"]
        if resource["Type"] in _RESOURCES:
            calls.append((name, f"sagemaker:{_RESOURCES[resource['Type']]}", deployer, props))
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            definition = _substitute(props["Definition"], props["DefinitionSubstitutions"])
            for state_name, state in definition["States"].items():
                task = state.get("Resource", "").rsplit(":", 1)[-1].removesuffix(".sync")
                if task in _TASKS:
                    calls.append((f"{name}.{state_name}", f"sagemaker:{_TASKS[task]}", props["RoleArn"],
                                  state["Parameters"]))
        if resource["Type"] == "AWS::SageMaker::Pipeline":
            body = json.loads(props["PipelineDefinition"]["PipelineDefinitionBody"])
            for step in body["Steps"]:
                calls.append((f"{name}.{step['Name']}", f"sagemaker:{_STEPS[step['Type']]}", props["RoleArn"],
                              step["Arguments"]))
    return calls


def request_context(caller: str, request: dict) -> dict[str, Any]:
    """The IAM request context SageMaker builds from a create request (its condition keys)."""
    context: dict[str, Any] = {"aws:PrincipalArn": caller, "aws:RequestedRegion": "eu-west-1"}
    instance_types: list[str] = []

    def walk(node: Any, parent: str = "") -> None:
        if isinstance(node, list):
            for n in node:
                walk(n, parent)
            return
        if not isinstance(node, dict):
            return
        for k, v in node.items():
            if k == "VpcConfig":
                if "Subnets" in v:
                    context["sagemaker:VpcSubnets"] = v["Subnets"]
                if "SecurityGroupIds" in v:
                    context["sagemaker:VpcSecurityGroupIds"] = v["SecurityGroupIds"]
            elif k == "VolumeKmsKeyId":
                context["sagemaker:VolumeKmsKeyArn"] = v
            elif k == "KmsKeyId" and parent.endswith("OutputConfig"):
                context["sagemaker:OutputKmsKey"] = v
            elif k == "EnableNetworkIsolation":
                context["sagemaker:NetworkIsolation"] = str(v).lower()
            elif k == "EnableInterContainerTrafficEncryption":
                context["sagemaker:InterContainerTrafficEncryption"] = str(v).lower()
            elif k == "InstanceType":
                instance_types.append(v)
            elif k == "Tags" and isinstance(v, list):
                context["aws:TagKeys"] = [t["Key"] for t in v]
                context.update({f"aws:RequestTag/{t['Key']}": t["Value"] for t in v})
                continue
            walk(v, k)

    walk(request)
    if instance_types:
        context["sagemaker:InstanceTypes"] = instance_types
    return context


def denials(scps: list[dict], calls) -> dict[str, list[str]]:
    return {where: denied for where, action, caller, request in calls
            if (denied := _denied_by(scps, action, request_context(caller, request)))}


@pytest.fixture(scope="module")
def preprod(sample_runs, accounts):
    run = sample_runs(f"{PROJECT}-preprod")
    return run, accounts[f"{PROJECT}-preprod"], _scp_statements(sample_runs("organization"), "Workloads/PreProd")


@pytest.fixture(scope="module")
def prod(sample_runs, accounts):
    run = sample_runs(f"{PROJECT}-prod")
    return run, accounts[f"{PROJECT}-prod"], _scp_statements(sample_runs("organization"), "Workloads/Prod")


# -- the guardrails: what the SCPs require, the templates do ---------------------------------

@pytest.mark.parametrize("engine, expected", [
    ("StepFunctions", {"TrainingStateMachine.Preprocess": "sagemaker:CreateProcessingJob",
                       "TrainingStateMachine.Train": "sagemaker:CreateTrainingJob",
                       "TrainingStateMachine.CreateModel": "sagemaker:CreateModel"}),
    ("SageMakerPipeline", {"TrainingPipeline": "sagemaker:CreatePipeline",
                           "TrainingPipeline.Preprocess": "sagemaker:CreateProcessingJob",
                           "TrainingPipeline.Train": "sagemaker:CreateTrainingJob",
                           "TrainingPipeline.CreateModel": "sagemaker:CreateModel"}),
])
def test_the_training_workflow_fits_the_preprod_scps(preprod, engine, expected):
    run, account, scps = preprod
    assert scps, "the organization stack attaches SCPs on the preprod path"
    calls = sagemaker_calls(load(TRAINING), training_parameters(run, engine), account)
    # Processing, then training, then the model, in one engine only.
    assert {where: action for where, action, _, _ in calls} == expected
    assert denials(scps, calls) == {}


def test_the_endpoint_and_its_hooks_fit_the_prod_scps(prod):
    run, account, scps = prod
    calls = sagemaker_calls(load(ENDPOINT), endpoint_parameters(run), account)
    assert {where for where, *_ in calls} == {"Model", "EndpointConfig", "Endpoint", "DataQualityJob",
                                              "MonitoringSchedule"}
    assert denials(scps, calls) == {}


def _drop(template: dict, path: str) -> dict:
    """A copy of `template` without the property at the dotted `path` (list items by index)."""
    broken = copy.deepcopy(template)
    *parents, last = path.split(".")
    node: Any = broken
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        del node[int(last)]
    else:
        del node[last]
    return broken


_SFN = "Resources.TrainingStateMachine.Properties.Definition.States"


@pytest.mark.parametrize("path, guardrail", [
    (f"{_SFN}.Train.Parameters.ResourceConfig.VolumeKmsKeyId", "SM1"),
    (f"{_SFN}.Train.Parameters.VpcConfig", "SM3"),
    (f"{_SFN}.Train.Parameters.EnableNetworkIsolation", "SM6"),
    (f"{_SFN}.Train.Parameters.EnableInterContainerTrafficEncryption", "SM6"),
    (f"{_SFN}.Train.Parameters.Tags.0", "TAG1"),
    (f"{_SFN}.Preprocess.Parameters.ProcessingResources.ClusterConfig.VolumeKmsKeyId", "SM1"),
    (f"{_SFN}.Preprocess.Parameters.NetworkConfig.VpcConfig", "SM3"),
    (f"{_SFN}.Preprocess.Parameters.Tags.4", "TAG1"),
    (f"{_SFN}.CreateModel.Parameters.VpcConfig", "SM3"),
    (f"{_SFN}.CreateModel.Parameters.Tags.2", "TAG1"),
])
def test_without_a_guardrail_property_the_state_machine_is_denied(preprod, path, guardrail):
    run, account, scps = preprod
    calls = sagemaker_calls(_drop(load(TRAINING), path), training_parameters(run), account)
    denied = denials(scps, calls)
    assert any(guardrail in sid for sids in denied.values() for sid in sids), denied


@pytest.mark.parametrize("needle, replacement, guardrail", [
    (', "VolumeKmsKeyId": "${VolumeKmsKeyArn}"', "", "SM1"),
    (', "Subnets": ["${SubnetList}"]', "", "SM3"),
    ('"EnableNetworkIsolation": true, "EnableInterContainerTrafficEncryption": true,', "", "SM6"),
    ('"Tags": ${TagList}', '"Tags": []', "TAG1"),
])
def test_without_a_guardrail_value_the_pipeline_variant_is_denied(preprod, needle, replacement, guardrail):
    run, account, scps = preprod
    broken = load(TRAINING)
    sub = broken["Resources"]["TrainingPipeline"]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    assert needle in sub[0]
    sub[0] = sub[0].replace(needle, replacement)
    denied = denials(scps, sagemaker_calls(broken, training_parameters(run, "SageMakerPipeline"), account))
    assert any(guardrail in sid for sids in denied.values() for sid in sids), denied


@pytest.mark.parametrize("path, guardrail", [
    ("Resources.Model.Properties.VpcConfig", "SM3"),
    ("Resources.Model.Properties.Tags.1", "TAG1"),
    ("Resources.Endpoint.Properties.Tags.0", "TAG1"),
    ("Resources.EndpointConfig.Properties.Tags.3", "TAG1"),
    ("Resources.DataQualityJob.Properties.JobResources.ClusterConfig.VolumeKmsKeyId", "SM1"),
    ("Resources.DataQualityJob.Properties.NetworkConfig.VpcConfig", "SM3"),
    ("Resources.MonitoringSchedule.Properties.Tags.4", "TAG1"),
])
def test_without_a_guardrail_property_the_endpoint_is_denied(prod, path, guardrail):
    run, account, scps = prod
    denied = denials(scps, sagemaker_calls(_drop(load(ENDPOINT), path), endpoint_parameters(run), account))
    assert any(guardrail in sid for sids in denied.values() for sid in sids), denied


# -- what the SCPs do not check, the templates do anyway -------------------------------------

def test_models_isolate_their_network_and_endpoint_storage_and_capture_use_the_project_key(prod):
    # SM-2 (endpoint storage) is detective and proactive only; SM-6 needs isolation on training,
    # the models get it too: a model's container cannot call out.
    run, account, _ = prod
    params = endpoint_parameters(run)
    resources = Resolver(load(ENDPOINT), params, account).resources()
    model = resources["Model"]["Properties"]
    assert model["EnableNetworkIsolation"] is True
    assert model["VpcConfig"] == {"SecurityGroupIds": [params["SecurityGroupId"]], "Subnets": params["SubnetIds"]}
    config = resources["EndpointConfig"]["Properties"]
    assert config["KmsKeyId"] == params["KmsKeyArn"] == run.outputs["data"]["keyArn"]
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["KmsKeyId"] == params["KmsKeyArn"]
    assert capture["DestinationS3Uri"].startswith(f"s3://{run.outputs['data']['buckets']['pipeline']['name']}/")
    assert {o["CaptureMode"] for o in capture["CaptureOptions"]} == {"Input", "Output"}
    # The created model in the training workflow is isolated as well.
    definition = load(TRAINING)["Resources"]["TrainingStateMachine"]["Properties"]["Definition"]
    assert definition["States"]["CreateModel"]["Parameters"]["EnableNetworkIsolation"] is True


def test_the_api_front_is_private_in_the_vpc_and_encrypted(prod):
    run, account, _ = prod
    params = endpoint_parameters(run)
    resources = Resolver(load(ENDPOINT), params, account).resources()
    api = resources["FrontApi"]["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": [params["ApiVpcEndpointId"]]}
    deny = [s for s in api["Policy"]["Statement"] if s["Effect"] == "Deny"]
    assert deny[0]["Condition"] == {"StringNotEquals": {"aws:SourceVpce": params["ApiVpcEndpointId"]}}
    assert resources["FrontMethod"]["Properties"]["AuthorizationType"] == "AWS_IAM"
    function = resources["FrontFunction"]["Properties"]
    assert function["VpcConfig"] == {"SecurityGroupIds": [params["SecurityGroupId"]], "SubnetIds": params["SubnetIds"]}
    # The front's own key (its policy lets CloudWatch Logs use it for this log group), and the role
    # carries the boundary the execution role may create it with only.
    assert function["KmsKeyArn"] == params["FrontKmsKeyArn"] == resources["FrontLogGroup"]["Properties"]["KmsKeyId"]
    role = resources["FrontRole"]["Properties"]
    assert role["PermissionsBoundary"] == params["FrontRoleBoundaryArn"]
    (invoke,) = [s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if s["Sid"] == "InvokeThisEndpoint"]
    assert invoke["Resource"] == f"arn:aws:sagemaker:eu-west-1:{account}:endpoint/{params['EndpointName']}"


@pytest.mark.parametrize("flags, absent", [
    ({"ApiFront": "false"}, {"FrontApi", "FrontFunction", "FrontRole"}),
    ({"ModelMonitor": "false"}, {"DataQualityJob", "MonitoringSchedule"}),
])
def test_the_front_and_the_monitor_are_optional(prod, flags, absent):
    run, account, _ = prod
    resources = Resolver(load(ENDPOINT), {**endpoint_parameters(run), **flags}, account).resources()
    assert not absent & set(resources)
    assert {"Model", "EndpointConfig", "Endpoint"} <= set(resources)


@pytest.mark.parametrize("path", [TRAINING, ENDPOINT], ids=lambda p: p.name)
def test_every_taggable_resource_carries_the_mandatory_tags(path):
    # The SCPs require them on SageMaker creates; the REQUIRED_TAGS rule looks at the rest.
    template = load(path)
    for name, resource in template["Resources"].items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", resource["Type"]).schema
        if "Tags" in schema["properties"]:
            tags = resource["Properties"].get("Tags", [])
            assert [t["Key"] for t in tags] == _mandatory_tags(), name
    for state in template["Resources"].get("TrainingStateMachine", {}).get("Properties", {}).get(
            "Definition", {}).get("States", {}).values():
        if state["Type"] == "Task":
            assert [t["Key"] for t in state["Parameters"]["Tags"]] == _mandatory_tags()


def test_the_training_workflow_outputs_what_the_invoke_action_reads():
    # Whitepaper: the invoke action runs "#{train-stack.StateMachineARN}".
    outputs = load(TRAINING)["Outputs"]
    assert outputs["StateMachineARN"]["Value"] == {"Ref": "TrainingStateMachine"}
    assert outputs["PipelineName"]["Value"] == {"Ref": "TrainingPipeline"}
