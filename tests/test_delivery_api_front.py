"""The API Gateway + Lambda front of the production endpoint (issue 15: "fronted by API Gateway
and Lambda when configured"; delivery.projects.<p>.api_front). fraud-detection's sample has it,
document-vision's does not: production's CloudFormation execution role may create exactly what
the front needs with it, and nothing of it without."""

from __future__ import annotations

import json

import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from policy_documents.service_authorization import validate_document
from tests.conftest import ROOT
from tests.delivery_policies import cfn_endpoint_policy, deploy_parameters, policy_actions, statements_by_sid

FRONTED, PLAIN = "fraud-detection", "document-vision"
TEMPLATE = ROOT / "templates" / "endpoint.yaml"
FRONT_SIDS = {"CreateTheFrontApi", "ManageTheFrontApi", "BuildTheFrontApi", "CreateTheFrontFunction",
              "ManageTheFrontFunction", "FrontRoleOnlyWithItsBoundary", "ManageTheFrontRole", "PassTheFrontRole",
              "TheFrontLogGroup", "FindLogGroups", "FrontKeyThroughLambda", "ValidateTheFrontNetwork"}


@pytest.fixture(scope="module")
def fronted(sample_runs):
    return sample_runs(f"{FRONTED}-delivery")


@pytest.fixture(scope="module")
def plain(sample_runs):
    return sample_runs(f"{PLAIN}-delivery")


def test_the_pipeline_turns_the_front_on_with_the_production_vpcs_execute_api_endpoint(fronted, plain, sample_runs):
    parameters = deploy_parameters(fronted, FRONTED)
    prod = sample_runs(f"{FRONTED}-prod").outputs
    front = fronted.outputs["delivery"]["apiFront"]
    assert parameters["ApiFront"] == "true"
    assert parameters["ApiVpcEndpointId"] == prod["interfaceEndpointIds"]["execute-api"] == front["vpcEndpointId"]
    assert (parameters["FrontRoleBoundaryArn"], parameters["FrontKmsKeyArn"]) == (front["boundaryArn"], front["keyArn"])
    other = deploy_parameters(plain, PLAIN)
    assert other["ApiFront"] == "false" and plain.outputs["delivery"]["apiFront"] is None
    assert not {"ApiVpcEndpointId", "FrontRoleBoundaryArn", "FrontKmsKeyArn"} & set(other)


def test_in_central_endpoint_mode_the_front_admits_the_hubs_execute_api_endpoint(run_platform, sample_platform,
                                                                                 sample_runs):
    sample_platform["network"]["endpoints"]["mode"] = "central"
    network = run_platform("network", platform=sample_platform)
    upstream = {s: sample_runs(s).outputs for s in ("organization", "shared-services", f"{FRONTED}-preprod",
                                                    f"{FRONTED}-prod")}
    result = run_platform(f"{FRONTED}-delivery", platform=sample_platform,
                          upstream={**upstream, "network": network.outputs})
    assert deploy_parameters(result, FRONTED)["ApiVpcEndpointId"] == network.outputs["centralEndpointIds"]["execute-api"]


def test_the_template_is_cfn_lint_valid_with_the_front_on_and_the_pipelines_values(fronted):
    # The pipeline's values as the parameters' defaults, so cfn-lint checks them against each
    # parameter's pattern and evaluates the front's conditions and rules.
    values = deploy_parameters(fronted, FRONTED)
    values["ModelPackageArn"] = f"arn:aws:sagemaker:eu-west-1:{'1' * 12}:model-package/mrd-{FRONTED}/3"
    template = yaml.safe_load(TEMPLATE.read_text().replace("!", "__BANG__"))
    declared = template["Parameters"]
    assert set(values) <= set(declared)
    for name, value in values.items():
        declared[name]["Default"] = value
    body = yaml.safe_dump(template, sort_keys=False, width=1000).replace("__BANG__", "!")
    assert [str(m) for m in lint(body, config=ManualArgs(regions=["eu-west-1"]))] == []
    # A value the pattern refuses is found (the check can fail).
    declared["FrontRoleBoundaryArn"]["Default"] = "not-a-policy"
    broken = yaml.safe_dump(template, sort_keys=False, width=1000).replace("__BANG__", "!")
    assert lint(broken, config=ManualArgs(regions=["eu-west-1"]))


def test_the_execution_role_may_create_exactly_the_front(fronted, accounts):
    prod = accounts[f"{FRONTED}-prod"]
    doc = cfn_endpoint_policy(fronted, FRONTED)
    assert validate_document(doc) == []
    sids = statements_by_sid(doc)
    assert FRONT_SIDS <= set(sids)
    name = f"mrd-{FRONTED}-front"
    assert sids["CreateTheFrontApi"]["Condition"] == {"StringEquals": {
        "apigateway:Request/ApiName": name, "apigateway:Request/EndpointType": "PRIVATE"}}
    assert sids["ManageTheFrontApi"]["Condition"] == {"StringEquals": {"apigateway:Resource/ApiName": name}}
    function = f"arn:aws:lambda:eu-west-1:{prod}:function:{name}"
    assert sids["CreateTheFrontFunction"]["Resource"] == sids["ManageTheFrontFunction"]["Resource"] == function
    roles = f"arn:aws:iam::{prod}:role/ml-platform/endpoint-front/*"
    front = fronted.outputs["delivery"]["apiFront"]
    # Its role only under the front's path and only with the front's boundary: no broader role.
    assert sids["FrontRoleOnlyWithItsBoundary"]["Resource"] == roles
    assert sids["FrontRoleOnlyWithItsBoundary"]["Condition"] == {
        "StringEquals": {"iam:PermissionsBoundary": front["boundaryArn"]}}
    assert "iam:DeleteRolePermissionsBoundary" not in policy_actions(doc) and "iam:AttachRolePolicy" not in policy_actions(doc)
    assert not [s for s in doc["Statement"] if {"iam:CreateRole", "iam:PutRolePolicy"} & policy_actions({"Statement": [s]})
                and "iam:PermissionsBoundary" not in json.dumps(s.get("Condition", {}))]
    assert sids["PassTheFrontRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    assert sids["TheFrontLogGroup"]["Resource"][0] == f"arn:aws:logs:eu-west-1:{prod}:log-group:/aws/lambda/{name}"
    assert sids["FrontKeyThroughLambda"]["Resource"] == front["keyArn"]


def test_without_the_front_the_execution_role_has_nothing_of_it(plain):
    doc = cfn_endpoint_policy(plain, PLAIN)
    assert not FRONT_SIDS & set(statements_by_sid(doc))
    assert not {a for a in policy_actions(doc) if a.split(":")[0] in ("apigateway", "lambda", "logs")}
    assert policy_actions(doc) & {"iam:CreateRole", "iam:PutRolePolicy"} == set()
    assert not [r for r in plain.of_type("aws:iam/policy:Policy") if "endpoint-front" in r.inputs["name"]]


def test_the_front_key_lets_cloudwatch_logs_use_it_for_the_front_log_group_only(fronted, accounts):
    prod = accounts[f"{FRONTED}-prod"]
    front = fronted.outputs["delivery"]["apiFront"]
    (key,) = [k for k in fronted.of_type("aws:kms/key:Key") if k.outputs["arn"] == front["keyArn"]]
    assert key.account == prod
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    logs = statements["CloudWatchLogs"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"]["ArnEquals"] == {"kms:EncryptionContext:aws:logs:arn": [
        f"arn:aws:logs:eu-west-1:{prod}:log-group:/aws/lambda/mrd-{FRONTED}-front"]}
    # The template's log group is that one.
    assert "LogGroupName: !Sub /aws/lambda/${EndpointName}-front" in TEMPLATE.read_text()


def test_the_boundary_is_all_the_front_role_may_ever_do(fronted, accounts):
    prod = accounts[f"{FRONTED}-prod"]
    front = fronted.outputs["delivery"]["apiFront"]
    (boundary,) = [p for p in fronted.of_type("aws:iam/policy:Policy") if p.outputs["arn"] == front["boundaryArn"]]
    doc = json.loads(boundary.inputs["policy"])
    assert validate_document(doc) == []
    assert boundary.account == prod
    assert {a.split(":")[0] for a in policy_actions(doc)} == {"sagemaker", "ec2", "logs", "kms"}
    (invoke,) = [s for s in doc["Statement"] if s["Sid"] == "InvokeTheEndpoint"]
    assert invoke["Resource"] == f"arn:aws:sagemaker:eu-west-1:{prod}:endpoint/mrd-{FRONTED}"
    assert not {a for a in policy_actions(doc) if a.startswith("iam:")}


def test_the_front_role_is_a_known_role_only_where_the_front_is_configured(sample_platform):
    from stacks.config import parse_platform
    from stacks.principal_settings import find_role

    platform = parse_platform(sample_platform)
    name = "ml-platform/endpoint-front/FraudDetectionFrontRole"
    assert find_role(platform, f"{FRONTED}-prod", name).origin == "template"
    assert find_role(platform, f"{PLAIN}-prod", name) is None
    sample_platform["delivery"]["projects"][FRONTED]["api_front"] = False
    assert find_role(parse_platform(sample_platform), f"{FRONTED}-prod", name) is None
