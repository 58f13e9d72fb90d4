"""The network stack, run for real under the mocks: the Transit Gateway hub, its RAM share and
route tables, the shared accounts' VPCs, sandbox isolation (NET-5), the optional on-premises
and egress attachments; the network settings' validation; the cost command."""

from __future__ import annotations

import ipaddress
import json

import pytest

from network_costs import estimate, load_prices
from network_costs.__main__ import main as costs_main
from policy_documents.service_authorization import validate_document
from stacks import network_settings as ns
from stacks.config import ConfigError, parse_platform

TGW = "aws:ec2transitgateway/transitGateway:TransitGateway"
TGW_RT = "aws:ec2transitgateway/routeTable:RouteTable"
TGW_ROUTE = "aws:ec2transitgateway/route:Route"
ATTACHMENT = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
ACCEPTER = "aws:ec2transitgateway/vpcAttachmentAccepter:VpcAttachmentAccepter"
ASSOCIATION = "aws:ec2transitgateway/routeTableAssociation:RouteTableAssociation"
PROPAGATION = "aws:ec2transitgateway/routeTablePropagation:RouteTablePropagation"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
INTERNET_TYPES = ("aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
                  "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway")


@pytest.fixture(scope="module")
def network(sample_runs):
    return sample_runs("network")


@pytest.fixture(scope="module")
def organization(sample_runs):
    return sample_runs("organization")


def provider_account(run, resource) -> str:
    """The account a resource is created in: the account its provider assumes a role in."""
    urn = resource.provider.rsplit("::", 1)[0]
    provider = run.by_urn(urn)
    roles = provider.inputs.get("assumeRoles")
    roles = json.loads(roles) if isinstance(roles, str) else roles
    return roles[0]["roleArn"].split(":")[4]


def under(run, resource) -> list:
    """Every resource below `resource` in the parent tree."""
    found, frontier = [], {resource.urn}
    while frontier:
        children = [r for r in run.resources if r.parent in frontier]
        found += children
        frontier = {r.urn for r in children}
    return found


def test_transit_gateway_has_no_default_route_table_and_no_auto_accept(network, organization):
    [tgw] = network.of_type(TGW)
    assert tgw.inputs["defaultRouteTableAssociation"] == "disable"
    assert tgw.inputs["defaultRouteTablePropagation"] == "disable"
    assert tgw.inputs["autoAcceptSharedAttachments"] == "disable"
    assert provider_account(network, tgw) == organization.outputs["accountIds"]["network"]
    assert network.outputs["transitGatewayId"] == tgw.id
    assert network.outputs["networkAccountId"] == organization.outputs["accountIds"]["network"]


def test_one_route_table_per_environment_and_shared(network):
    tables = network.outputs["transitGatewayRouteTableIds"]
    assert sorted(tables) == ["dev", "preprod", "prod", "shared"]  # no edge without on-premises/egress
    assert sorted(r.id for r in network.of_type(TGW_RT)) == sorted(tables.values())


def test_shared_through_ram_with_the_attaching_ous_only(network, organization):
    [share] = network.of_type("aws:ram/resourceShare:ResourceShare")
    assert share.inputs["allowExternalPrincipals"] is False
    [association] = network.of_type("aws:ram/resourceAssociation:ResourceAssociation")
    assert association.inputs["resourceArn"] == network.of_type(TGW)[0].outputs["arn"]
    out = organization.outputs
    expected = {f"arn:aws:organizations::{out['managementAccountId']}:ou/{out['organizationId']}/{out['ouIds'][ou]}"
                for ou in ("Workloads", "Infrastructure", "Deployments")}
    principals = {p.inputs["principal"] for p in network.of_type("aws:ram/principalAssociation:PrincipalAssociation")}
    assert principals == expected
    assert not any(out["ouIds"]["Sandbox"] in p for p in principals)


def test_shared_vpcs_associate_with_shared_table_in_the_network_account(network, organization, sample_platform):
    tables = network.outputs["transitGatewayRouteTableIds"]
    accounts = organization.outputs["accountIds"]
    shared_vpcs = network.outputs["sharedVpcs"]
    assert sorted(shared_vpcs) == sorted(sample_platform["cidr_plan"]["shared"])
    for key, vpc in shared_vpcs.items():
        assert vpc["cidr"] == sample_platform["cidr_plan"]["shared"][key]
        assert vpc["accountId"] == accounts[key.replace("_", "-")]
    associations = network.of_type(ASSOCIATION)
    assert len(associations) == len(shared_vpcs)
    for association in associations:
        assert association.inputs["transitGatewayRouteTableId"] == tables["shared"]
        assert provider_account(network, association) == accounts["network"]
    # A shared VPC answers every environment: it propagates into every table.
    for key, vpc in shared_vpcs.items():
        propagated = {p.inputs["transitGatewayRouteTableId"] for p in network.of_type(PROPAGATION)
                      if p.inputs["transitGatewayAttachmentId"] == vpc["attachmentId"]}
        assert propagated == set(tables.values()), key
    # Cross-account attachments are accepted explicitly in the network account.
    accepters = network.of_type(ACCEPTER)
    assert len(accepters) == len(shared_vpcs) - 1  # the network VPC is the hub's own account
    assert all(provider_account(network, a) == accounts["network"] for a in accepters)


def test_accepted_attachments_stay_out_of_the_default_route_tables(network, sample_runs):
    # The accepter decides the hub side of a cross-account attachment: left at their default
    # (true), these flags would associate and propagate it into the default route table,
    # bypassing the shared/environment tables that keep environments apart.
    accepters = network.of_type(ACCEPTER) + sample_runs("fraud-detection-dev").of_type(ACCEPTER)
    assert accepters
    for accepter in accepters:
        assert accepter.inputs["transitGatewayDefaultRouteTableAssociation"] is False, accepter.name
        assert accepter.inputs["transitGatewayDefaultRouteTablePropagation"] is False, accepter.name
    # The one attachment in the hub's own account sets them itself (no accepter there).
    [own] = [a for a in network.of_type(ATTACHMENT) if "network-vpc" in a.urn]
    assert own.inputs["transitGatewayDefaultRouteTableAssociation"] is False
    assert own.inputs["transitGatewayDefaultRouteTablePropagation"] is False
    tgw = network.of_type(TGW)[0]
    assert tgw.inputs["defaultRouteTableAssociation"] == "disable"
    assert tgw.inputs["defaultRouteTablePropagation"] == "disable"
    assert tgw.inputs["autoAcceptSharedAttachments"] == "disable"


def test_sandbox_vpc_is_isolated(network, organization, sample_platform):
    sandbox = sample_platform["sandbox_accounts"][0]["name"]
    [vpc] = [v for v in network.of_type(VPC) if v.name == f"{sandbox}-vpc"]
    assert provider_account(network, vpc) == organization.outputs["accountIds"][sandbox]
    component = network.by_urn(vpc.parent)
    below = under(network, component)
    assert not [r for r in below if r.type.startswith("aws:ec2transitgateway")]
    assert not [r for r in below if r.type == ROUTE]
    sandbox_vpc_ids = {v["vpcId"] for v in network.outputs["sandboxVpcs"].values()}
    assert all(a.inputs["vpcId"] not in sandbox_vpc_ids for a in network.of_type(ATTACHMENT))
    services = {e.inputs["serviceName"].split("eu-west-1.")[1] for e in below if e.type == ENDPOINT}
    assert "sagemaker.runtime" not in services  # SM-7


def test_no_path_to_the_internet_in_the_sample(network):
    assert not [r for r in network.resources if r.type in INTERNET_TYPES]
    for subnet in network.of_type(SUBNET):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    for route in network.of_type(ROUTE):
        assert route.inputs["destinationCidrBlock"] != "0.0.0.0/0"
        assert set(route.inputs) & {"gatewayId", "natGatewayId"} == set()


def test_every_vpc_has_an_encrypted_flow_log(network):
    vpc_ids = {v.id for v in network.of_type(VPC)}
    flow_logs = network.of_type(FLOW_LOG)
    assert {f.inputs["vpcId"] for f in flow_logs} == vpc_ids
    groups = {g.outputs["arn"]: g for g in network.of_type("aws:cloudwatch/logGroup:LogGroup")}
    keys = {k.outputs["arn"]: k for k in network.of_type("aws:kms/key:Key")}
    for flow_log in flow_logs:
        assert flow_log.inputs["trafficType"] == "ALL"
        group = groups[flow_log.inputs["logDestination"]]
        key = keys[group.inputs["kmsKeyId"]]
        assert key.inputs["enableKeyRotation"] is True and key.protect and group.protect
        # The key and the role live in the VPC's account.
        assert provider_account(network, key) == provider_account(network, flow_log)


def test_flow_log_roles_trust_only_this_accounts_flow_logs(network):
    roles = [r for r in network.of_type("aws:iam/role:Role") if r.name.endswith("flow-log-role")]
    assert len(roles) == len(network.of_type(VPC))
    for role in roles:
        [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        account = provider_account(network, role)
        assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
        assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:ec2:eu-west-1:{account}:vpc-flow-log/*"


def test_network_policies_validate_against_service_authorization_data(network):
    for resource in network.resources:
        if isinstance(resource.inputs.get("policy"), str):
            assert validate_document(json.loads(resource.inputs["policy"])) == [], resource.name


def test_per_vpc_mode_builds_no_central_zones(network):
    assert network.outputs["endpointMode"] == "per-vpc"
    assert network.outputs["centralEndpointZoneIds"] == {}
    assert not network.of_type("aws:route53/zone:Zone")


def test_central_endpoints_live_in_the_hub_vpc_with_private_zones(run_platform, sample_platform, network):
    sample_platform["network"]["endpoints"]["mode"] = "central"
    run = run_platform("network", platform=sample_platform)
    hub_vpc = run.outputs["sharedVpcs"]["network"]
    sandboxes = {v["vpcId"] for v in run.outputs["sandboxVpcs"].values()}  # isolated: their own endpoints
    endpoints = [e for e in run.of_type(ENDPOINT)
                 if e.inputs["vpcEndpointType"] == "Interface" and e.inputs["vpcId"] not in sandboxes]
    assert endpoints and all(e.inputs["vpcId"] == hub_vpc["vpcId"] for e in endpoints)
    assert all(e.inputs["privateDnsEnabled"] is False for e in endpoints)  # the zones answer instead
    zones = run.of_type("aws:route53/zone:Zone")
    assert len(zones) == len(endpoints) == len(run.outputs["centralEndpointZoneIds"])
    assert "api.sagemaker.eu-west-1.amazonaws.com" in {z.inputs["name"] for z in zones}
    # Spokes reach the endpoints over the Transit Gateway: HTTPS from the platform's supernet.
    rules = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    hub_rules = [r for r in rules if r.inputs["securityGroupId"] == hub_vpc["endpointSecurityGroupId"]]
    assert [r.inputs["cidrIpv4"] for r in hub_rules] == [sample_platform["cidr_plan"]["supernet"]]
    # The shared accounts' VPCs join the zones cross-account and keep no endpoints of their own.
    associations = run.of_type("aws:route53/zoneAssociation:ZoneAssociation")
    shared = [k for k in parse_platform(sample_platform).cidr_plan.shared if k != "network"]
    assert len(associations) == sum(len(ns.shared_vpc_services(parse_platform(sample_platform), k)) for k in shared)
    for association in associations:
        authorization = next(a for a in run.of_type("aws:route53/vpcAssociationAuthorization:VpcAssociationAuthorization")
                             if a.urn in association.dependencies)
        assert provider_account(run, authorization) == network.outputs["networkAccountId"]
        assert provider_account(run, association) != network.outputs["networkAccountId"]


def test_on_premises_vpn_and_egress_vpc(run_platform, sample_platform):
    sample_platform["network"]["on_premises"] = {"connection": "vpn", "customer_gateway_ip": "198.51.100.10",
                                                 "bgp_asn": 65010, "cidrs": ["192.168.0.0/16"]}
    sample_platform["network"]["egress"] = {"cidr": "10.64.16.0/24", "accounts": ["shared-services", "fraud-detection-prod"]}
    run = run_platform("network", platform=sample_platform)
    tables = run.outputs["transitGatewayRouteTableIds"]
    assert "edge" in tables
    assert run.of_type("aws:ec2/vpnConnection:VpnConnection")[0].inputs["transitGatewayId"] == run.outputs["transitGatewayId"]
    # Internet gateway and NAT exist only inside the egress VPC component.
    [egress] = run.of_type("ml-platform:network:EgressVpc")
    inside = {r.urn for r in under(run, egress)}
    internet = [r for r in run.resources if r.type in INTERNET_TYPES]
    assert internet and all(r.urn in inside for r in internet)
    # Each zone has a public and a transit subnet of its own block of the egress range.
    subnets = [r for r in run.of_type(SUBNET) if r.urn in inside]
    blocks = [ipaddress.ip_network(r.inputs["cidrBlock"]) for r in subnets]
    zones = {r.inputs["availabilityZoneId"] for r in subnets}
    assert len(zones) >= 2 and len(subnets) == 2 * len(zones)
    assert sorted(r.inputs["tags"]["tier"] for r in subnets) == ["public"] * len(zones) + ["transit"] * len(zones)
    egress_range = ipaddress.ip_network(sample_platform["network"]["egress"]["cidr"])
    assert all(b.subnet_of(egress_range) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1:])
    # The default route to the egress VPC only in the tables of the named accounts (prod, shared).
    defaults = {r.inputs["transitGatewayRouteTableId"] for r in run.of_type(TGW_ROUTE)
                if r.inputs["destinationCidrBlock"] == "0.0.0.0/0"}
    assert defaults == {tables["prod"], tables["shared"]}
    # Corporate ranges routed statically (VPN without BGP) in every table but edge.
    onprem = {r.inputs["transitGatewayRouteTableId"] for r in run.of_type(TGW_ROUTE)
              if r.inputs["destinationCidrBlock"] == "192.168.0.0/16"}
    assert onprem == {tables[t] for t in ("dev", "preprod", "prod", "shared")}
    # Only the named shared account's VPC routes the internet to the hub.
    vpc_defaults = [r.name for r in run.of_type(ROUTE) if r.inputs["destinationCidrBlock"] == "0.0.0.0/0"
                    and "transitGatewayId" in r.inputs]
    assert vpc_defaults == ["shared-services-vpc-to-tgw-0-0-0-0-0"]


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda n: n["endpoints"].__setitem__("mode", "mesh"), "network.endpoints.mode"),
        (lambda n: n["endpoints"]["project_services"].append("sagemaker.notebooks"),
         "network.endpoints.project_services[14]: unknown interface endpoint 'sagemaker.notebooks'"),
        (lambda n: n["sandbox"]["endpoints"].append("sagemaker.runtime"),
         "network.sandbox.endpoints: 'sagemaker.runtime' is not allowed in sandboxes"),
        (lambda n: n["default_azs"].__setitem__("prod", 2), "network.default_azs.prod: 2 Availability Zones (allowed: 3 to 6)"),
        (lambda n: n.__setitem__("amazon_side_asn", 7224), "network.amazon_side_asn: 7224 is not a private ASN"),
        (lambda n: n["flow_logs"].__setitem__("retention_days", 10), "network.flow_logs.retention_days: 10"),
        (lambda n: n["sandbox"].__setitem__("cidr", "172.16.0.1/22"), "network.sandbox.cidr: '172.16.0.1/22' is not a valid"),
        (lambda n: n.__setitem__("on_premises", {"connection": "vpn", "cidrs": ["10.64.0.0/16"]}),
         "network.on_premises.cidrs[0]: 10.64.0.0/16 overlaps cidr_plan.shared.network"),
        (lambda n: n.__setitem__("on_premises", {"connection": "vpn", "cidrs": ["192.168.0.0/16"]}),
         "network.on_premises.customer_gateway_ip: required key is missing for connection 'vpn'"),
        (lambda n: n.__setitem__("on_premises", {"connection": "direct-connect", "cidrs": ["192.168.0.0/16"]}),
         "network.on_premises.dx_gateway_id: required key is missing"),
        (lambda n: n.__setitem__("egress", {"cidr": "10.64.16.0/24", "accounts": ["mrd-sandbox-research"]}),
         "network.egress.accounts[0]: 'mrd-sandbox-research' is a sandbox"),
        (lambda n: n.__setitem__("egress", {"cidr": "10.65.0.0/24", "accounts": ["shared-services"]}),
         "network.egress.cidr: 10.65.0.0/24 overlaps projects[0].environments.dev.cidr"),
        (lambda n: n.__setitem__("egres", {}), "network.egres: unknown key"),
    ],
)
def test_bad_network_settings_are_rejected_naming_the_key(sample_platform, mutate, fragment):
    mutate(sample_platform["network"])
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    assert fragment in "\n".join(info.value.problems)


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda p: p["projects"][0]["environments"]["prod"].__setitem__("azs", 2),
         "projects[0].environments.prod.azs: 2 Availability Zone(s) (allowed: 0 for the default, or at least 3 in prod)"),
        (lambda p: p["projects"][0]["environments"]["dev"].__setitem__("cidr", "10.65.0.0/27"),
         "projects[0].environments.dev.cidr: 10.65.0.0/27 is too small for 2 Availability Zones"),
        (lambda p: p["sandbox_accounts"][0].__setitem__("ou", "Workloads/Dev"),
         "sandbox_accounts[0].ou: 'Workloads/Dev' is inside Workloads, which receives the Transit Gateway share"),
    ],
)
def test_network_checks_on_other_sections(sample_platform, mutate, fragment):
    mutate(sample_platform)
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    assert fragment in "\n".join(info.value.problems)


def test_cost_command_prints_both_modes_for_the_sample(capsys, sample_platform):
    assert costs_main([]) == 0
    out = capsys.readouterr().out
    assert "per-vpc" in out and "central" in out and "eu-west-1" in out and "as of 2025-01" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    per_vpc, central = (float(v.strip("$").replace(",", "")) for v in total.split()[1:])
    # The totals are the model's for the sample at the default 100 GB per VPC, each the sum of
    # its lines, and the command names the cheaper mode.
    expected = estimate(parse_platform(sample_platform), load_prices("eu-west-1"), gb_per_vpc=100.0)
    assert (per_vpc, central) == (round(expected["per-vpc"].total, 2), round(expected["central"].total, 2))
    for mode in expected.values():
        assert mode.total == pytest.approx(sum(mode.lines.values())) and len(mode.lines) > 1
    cheaper = "central" if central < per_vpc else "per-vpc"
    assert f"Cheaper at this volume: {cheaper} (difference ${abs(per_vpc - central):,.2f} per month)." in out
    # Data volume counts: more GB per VPC costs more in both modes.
    more = estimate(parse_platform(sample_platform), load_prices("eu-west-1"), gb_per_vpc=1000.0)
    assert more["per-vpc"].total > expected["per-vpc"].total and more["central"].total > expected["central"].total


def test_cost_model_counts_what_the_program_builds(sample_platform):
    platform = parse_platform(sample_platform)
    prices = load_prices("eu-west-1")
    result = estimate(platform, prices, gb_per_vpc=0)
    # 3 shared VPCs x 8 services x 2 AZs; per project: dev 13x2, preprod 14x2, prod 14x3, plus
    # Athena, Glue and Lake Formation where the environment reads the lake (all but
    # document-vision-prod in the sample); sandbox 8x2.
    lake = 3 * (2 + 2 + 3) + 3 * (2 + 2)
    # Rekognition where document-vision's shared model is used (model_sharing): preprod, prod.
    models = 2 + 3
    # Delivery: SageMaker's API in the automation VPC (the pipelines' resolver and runner), and
    # execute-api in fraud-detection-prod (its endpoint's API front).
    delivery = 2 + 3
    assert result["per-vpc"].endpoint_az_count == (3 * 8 * 2 + 2 * (13 * 2 + 14 * 2 + 14 * 3) + lake + models + delivery
                                                   + 8 * 2)
    # Central: the 19 services once, in the hub VPC's 2 AZs, plus the isolated sandbox's own.
    assert result["central"].endpoint_az_count == 19 * 2 + 8 * 2
    assert result["per-vpc"].lines["interface endpoint-hours"] == pytest.approx(
        (256 + lake + models + delivery) * 730 * 0.011)
    assert result["central"].lines["route 53 private hosted zones"] == pytest.approx(19 * 0.5)
    # 10 attached VPCs in both modes.
    assert result["central"].lines["transit gateway attachment-hours"] == pytest.approx(10 * 730 * 0.05)


def test_cost_command_rejects_an_unpriced_region(capsys):
    assert costs_main(["--region", "ap-south-2"]) == 2
    assert "no prices for region 'ap-south-2'" in capsys.readouterr().err


def test_shared_account_attachments_wait_for_the_ram_share(sample_runs):
    # A member account cannot attach to the Transit Gateway before the share reaches it.
    run = sample_runs("network")
    share = {r.urn for r in run.resources if r.type in ("aws:ram/resourceAssociation:ResourceAssociation",
                                                        "aws:ram/principalAssociation:PrincipalAssociation")}
    attachments = [a for a in run.of_type("aws:ec2transitgateway/vpcAttachment:VpcAttachment")
                   if "network-vpc" not in a.urn]
    assert attachments
    for attachment in attachments:
        assert share <= set(attachment.dependencies), attachment.name
