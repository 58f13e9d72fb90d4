"""The network part of the project stacks, run for real under the mocks: a private spoke VPC
per project environment with the whitepaper's endpoints, attached to its environment's hub
route table only (NET-1..NET-4, SM-7)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
import yaml

from offline_preview.engine import discover_stacks
from policy_documents.service_authorization import validate_document
from stacks.config import parse_platform
from stacks.data_settings import consumer_grants
from stacks.model_sharing_settings import endpoint_services

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "stacks"
SAMPLE = parse_platform(yaml.safe_load((SAMPLE_DIR / "platform.yaml").read_text()))

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ASSOCIATION = "aws:ec2transitgateway/routeTableAssociation:RouteTableAssociation"
PROPAGATION = "aws:ec2transitgateway/routeTablePropagation:RouteTablePropagation"
INTERNET_TYPES = ("aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
                  "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway")
PROJECT_STACKS = [f"{p}-{e}" for p in ("fraud-detection", "document-vision") for e in ("dev", "preprod", "prod")]
WHITEPAPER = {"sagemaker.api", "sagemaker.featurestore-runtime", "sts", "logs", "monitoring", "cloudtrail",
              "ecr.api", "ecr.dkr", "codepipeline", "codebuild", "codeartifact.api", "codeartifact.repositories", "ssm"}


def provider_account(run, resource) -> str:
    provider = run.by_urn(resource.provider.rsplit("::", 1)[0])
    roles = provider.inputs.get("assumeRoles")
    roles = json.loads(roles) if isinstance(roles, str) else roles
    return roles[0]["roleArn"].split(":")[4]


def services(run) -> set[str]:
    return {e.inputs["serviceName"].split(".", 3)[3] for e in run.of_type(ENDPOINT)
            if e.inputs["vpcEndpointType"] == "Interface"}


@pytest.fixture(scope="module")
def organization(sample_runs):
    return sample_runs("organization")


@pytest.fixture(scope="module")
def network(sample_runs):
    return sample_runs("network")


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_private_vpc_in_the_project_account(sample_runs, organization, stack):
    run = sample_runs(stack)
    [vpc] = run.of_type(VPC)
    assert provider_account(run, vpc) == organization.outputs["accountIds"][stack]
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    assert not [r for r in run.resources if r.type in INTERNET_TYPES]
    for route in run.of_type(ROUTE):
        assert route.inputs["destinationCidrBlock"] != "0.0.0.0/0"
        assert "transitGatewayId" in route.inputs
    subnets = run.of_type(SUBNET)
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    zones = {s.inputs["availabilityZoneId"] for s in subnets}
    assert len(zones) == len(subnets) == (3 if stack.endswith("-prod") else 2)
    cidr = ipaddress.IPv4Network(run.outputs["vpcCidr"])
    assert all(ipaddress.IPv4Network(s.inputs["cidrBlock"]).subnet_of(cidr) for s in subnets)
    assert run.outputs["subnetIds"] == [s.id for s in subnets]


@pytest.mark.parametrize("stack", ["fraud-detection-dev", "document-vision-prod"])
def test_default_security_group_and_route_table_are_empty(sample_runs, stack):
    run = sample_runs(stack)
    [default_sg] = run.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs.get("ingress", []) == [] and default_sg.inputs.get("egress", []) == []
    [default_rt] = run.of_type("aws:ec2/defaultRouteTable:DefaultRouteTable")
    assert default_rt.inputs.get("routes", []) == []


def lake_services(stack: str) -> set[str]:
    """Athena, Glue and Lake Formation where the environment has data-lake grants."""
    project, env = stack.rsplit("-", 1)
    return {"athena", "glue", "lakeformation"} if consumer_grants(SAMPLE, project, env) else set()


def model_services(stack: str) -> set[str]:
    """Rekognition (and STS across accounts) where the environment uses a shared model."""
    project, env = stack.rsplit("-", 1)
    return set(endpoint_services(SAMPLE, project, env))


def delivery_services(stack: str) -> set[str]:
    """execute-api where the production endpoint has its API front (delivery.projects.<p>.api_front)."""
    from stacks.delivery_settings import endpoint_services as delivery_endpoints

    project, env = stack.rsplit("-", 1)
    return set(delivery_endpoints(SAMPLE, project, env))


def test_only_a_production_vpc_whose_endpoint_has_the_api_front_gets_execute_api(sample_runs):
    assert delivery_services("fraud-detection-prod") == {"execute-api"}
    assert not delivery_services("document-vision-prod") and not delivery_services("fraud-detection-preprod")
    assert "execute-api" in services(sample_runs("fraud-detection-prod"))
    assert "execute-api" not in services(sample_runs("document-vision-prod"))


def test_lake_readers_get_query_endpoints_and_others_do_not():
    assert lake_services("fraud-detection-dev") and not lake_services("document-vision-prod")


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_endpoint_set_per_environment(sample_runs, stack):
    run = sample_runs(stack)
    found = services(run)
    expected = WHITEPAPER | lake_services(stack) | model_services(stack) | delivery_services(stack)
    if stack.endswith("-dev"):
        assert found == expected  # SM-7: no SageMaker Runtime where endpoints are denied
    else:
        assert found == expected | {"sagemaker.runtime"}
    assert set(run.outputs["interfaceEndpointIds"]) == found
    [s3] = [e for e in run.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"]
    assert s3.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"
    assert s3.inputs["routeTableIds"] == run.outputs["routeTableIds"]
    assert run.outputs["s3GatewayEndpointId"] == s3.id


@pytest.mark.parametrize("stack", ["fraud-detection-dev", "fraud-detection-prod"])
def test_every_interface_endpoint_is_private_org_only_and_fronted_by_443_from_the_vpc(sample_runs, organization, stack):
    run = sample_runs(stack)
    cidr = run.outputs["vpcCidr"]
    group = run.outputs["endpointSecurityGroupId"]
    rules = [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group]
    assert [(r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"], r.inputs["cidrIpv4"]) for r in rules] == [
        ("tcp", 443, 443, cidr)]
    assert not [r for r in run.of_type(EGRESS) if r.inputs["securityGroupId"] == group]
    for endpoint in run.of_type(ENDPOINT):
        # Full-access-only services take no policy (tests/test_network_endpoint_policies.py).
        policy = json.loads(endpoint.inputs.get("policy") or '{"Statement": []}')
        if policy["Statement"] or endpoint.inputs["vpcEndpointType"] != "Interface":
            assert validate_document(policy) == [], endpoint.name
        if endpoint.inputs["vpcEndpointType"] != "Interface":
            continue
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert endpoint.inputs["securityGroupIds"] == [group]
        assert endpoint.inputs["subnetIds"] == run.outputs["subnetIds"]
        for statement in policy["Statement"]:
            principal = statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"]
            assert principal == organization.outputs["organizationId"], endpoint.name
            assert "*" not in statement["Action"]


def test_s3_gateway_admits_platform_buckets_in_the_organization_and_named_aws_buckets(sample_runs, organization):
    run = sample_runs("fraud-detection-prod")
    [s3] = [e for e in run.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"]
    platform, aws_owned = json.loads(s3.inputs["policy"])["Statement"]
    org_id = organization.outputs["organizationId"]
    assert platform["Resource"] == ["arn:aws:s3:::mrd-*", "arn:aws:s3:::mrd-*/*"]
    assert platform["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": org_id, "aws:ResourceOrgID": org_id}
    assert aws_owned["Action"] == "s3:GetObject"
    assert "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*" in aws_owned["Resource"]
    assert "arn:aws:s3:::assets-438097961670-eu-west-1/*" in aws_owned["Resource"]
    assert all(r.endswith("/*") and "sagemaker-" not in r for r in aws_owned["Resource"])


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_attachment_sits_in_its_environment_table_only(sample_runs, network, organization, stack):
    run = sample_runs(stack)
    env = stack.rsplit("-", 1)[1]
    tables = network.outputs["transitGatewayRouteTableIds"]
    [attachment] = run.of_type("aws:ec2transitgateway/vpcAttachment:VpcAttachment")
    assert provider_account(run, attachment) == organization.outputs["accountIds"][stack]
    assert attachment.inputs["transitGatewayId"] == network.outputs["transitGatewayId"]
    [accepter] = run.of_type("aws:ec2transitgateway/vpcAttachmentAccepter:VpcAttachmentAccepter")
    [association] = run.of_type(ASSOCIATION)
    network_account = organization.outputs["accountIds"]["network"]
    for hub_side in (accepter, association, *run.of_type(PROPAGATION)):
        assert provider_account(run, hub_side) == network_account, hub_side.name
    assert association.inputs["transitGatewayRouteTableId"] == tables[env]
    assert accepter.urn in association.dependencies
    propagated = {p.inputs["transitGatewayRouteTableId"] for p in run.of_type(PROPAGATION)}
    assert propagated == {tables[env], tables["shared"]}
    others = {tables[e] for e in ("dev", "preprod", "prod") if e != env}
    assert not propagated & others
    assert run.outputs["transitGatewayAttachmentId"] == attachment.id


def test_flow_log_to_an_encrypted_group_in_the_project_account(sample_runs, organization):
    run = sample_runs("document-vision-preprod")
    account = organization.outputs["accountIds"]["document-vision-preprod"]
    [flow_log] = run.of_type("aws:ec2/flowLog:FlowLog")
    [vpc] = run.of_type(VPC)
    assert flow_log.inputs["vpcId"] == vpc.id
    [group] = run.of_type("aws:cloudwatch/logGroup:LogGroup")
    [key] = [k for k in run.of_type("aws:kms/key:Key") if k.name == "vpc-flow-log-key"]
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert provider_account(run, key) == provider_account(run, group) == account
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    logs = statements["CloudWatchLogsEncryptsThisGroup"]
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == group.outputs["arn"]
    assert key.protect and group.protect and key.inputs["enableKeyRotation"] is True
    # Administered by the deployment and break-glass roles only; nothing grants kms:*.
    admin = statements["KeyAdministration"]
    assert admin["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", f"arn:aws:iam::{account}:role/mrd-break-glass"]
    assert all(s["Action"] != "kms:*" and "kms:*" not in s["Action"] for s in statements.values())


def test_workload_security_group_has_no_internet_rule(sample_runs):
    run = sample_runs("fraud-detection-prod")
    group = run.outputs["workloadSecurityGroupId"]
    rules = [r for r in run.of_type(INGRESS) + run.of_type(EGRESS) if r.inputs["securityGroupId"] == group]
    assert rules
    for rule in rules:
        assert rule.inputs.get("cidrIpv4") not in ("0.0.0.0/0",) and "cidrIpv6" not in rule.inputs
    ingress = [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group]
    assert all(r.inputs["referencedSecurityGroupId"] == group for r in ingress)


def test_model_consumers_get_rekognition(run_platform, sample_platform):
    sample_platform["projects"][1]["consumes_models_from"] = ["fraud-detection"]
    run = run_platform("document-vision-prod", platform=sample_platform)
    assert "rekognition" in services(run)
    assert "rekognition" not in services(run_platform("fraud-detection-prod", platform=sample_platform))


def test_central_mode_spoke_joins_the_hub_zones(run_platform, sample_platform, sample_runs):
    sample_platform["network"]["endpoints"]["mode"] = "central"
    network = run_platform("network", platform=sample_platform)
    order = discover_stacks(SAMPLE_DIR)
    upstream = {s: sample_runs(s).outputs for s in order[: order.index("fraud-detection-dev")]}
    upstream["network"] = network.outputs
    run = run_platform("fraud-detection-dev", platform=sample_platform, upstream=upstream)
    assert services(run) == set()  # no endpoint-hours in the spoke
    associations = run.of_type("aws:route53/zoneAssociation:ZoneAssociation")
    zones = network.outputs["centralEndpointZoneIds"]
    # dev: no runtime zone; the lake query zones because fraud-detection-dev reads the lake
    assert {a.inputs["zoneId"] for a in associations} == {zones[s] for s in WHITEPAPER | lake_services("fraud-detection-dev")}
    network_account = network.outputs["networkAccountId"]
    for association in associations:
        assert provider_account(run, association) != network_account
    authorizations = run.of_type("aws:route53/vpcAssociationAuthorization:VpcAssociationAuthorization")
    assert len(authorizations) == len(associations)
    assert all(provider_account(run, a) == network_account for a in authorizations)
    # Workloads reach the endpoints in the hub VPC.
    hub_cidr = sample_platform["cidr_plan"]["shared"]["network"]
    assert hub_cidr in {r.inputs.get("cidrIpv4") for r in run.of_type(EGRESS)}


def test_workloads_reach_s3_through_the_gateway_prefix_list(sample_runs):
    run = sample_runs("fraud-detection-dev")
    (gateway,) = [e for e in run.of_type(ENDPOINT) if e.inputs.get("vpcEndpointType") == "Gateway"]
    rule = run.named("mrd-fraud-detection-dev-workloads-to-s3", EGRESS)
    assert rule.inputs["prefixListId"] == gateway.outputs["prefixListId"]
    assert rule.inputs["prefixListId"].startswith("pl-")
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443)
