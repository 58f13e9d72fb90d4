"""NET-1 .. NET-5."""

from __future__ import annotations

from pack_helpers import (
    ACCOUNT,
    DEFAULT_PROVIDER,
    KEY_ARN,
    TAGS,
    assert_clean,
    assert_violation,
    doc,
    provider,
    res,
)

VPC = "aws:ec2/vpc:Vpc"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
HUB = provider("hub", tags={**TAGS, "environment": "shared"})


def vpc(name: str = "spoke", prov=DEFAULT_PROVIDER, **props):
    return res(VPC, name, {"cidrBlock": "10.65.0.0/22", **props}, prov=prov)


def flow_log(target, name: str = "flow", encrypted: bool = True):
    group = res("aws:cloudwatch/logGroup:LogGroup", f"{name}-logs", {"name": f"/vpc/{name}",
                                                                       "kmsKeyId": KEY_ARN if encrypted else None,
                                                                       "arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/vpc/{name}"})
    log = res("aws:ec2/flowLog:FlowLog", name, {"vpcId": "vpc-123", "trafficType": "ALL",
                                                "logDestination": group.properties["arn"]},
              deps={"vpcId": [target], "logDestination": [group]})
    return [group, log]


# -- NET-1 ---------------------------------------------------------------------------------------
def test_internet_gateway_in_a_workload_vpc(analyzer):
    spoke = vpc()
    igw = res("aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": "vpc-123"}, deps={"vpcId": [spoke]})
    d = assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke, igw]), "net-1-no-internet-in-workload-vpcs",
                         "InternetGateway igw gives spoke (dev from default tags of provider workload) an internet gateway", urn_=igw.urn)
    assert d.severity == "high"


def test_nat_gateway_linked_through_its_subnet(analyzer):
    untagged = provider("untagged", tags=None)
    spoke = vpc(prov=untagged, tags={"environment": "prod"})
    subnet = res("aws:ec2/subnet:Subnet", "public", {"vpcId": "vpc-123", "cidrBlock": "10.65.0.0/24"},
                 deps={"vpcId": [spoke]}, prov=untagged)
    nat = res("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": "subnet-1"}, deps={"subnetId": [subnet]}, prov=untagged)
    private_nat = res("aws:ec2/natGateway:NatGateway", "private-nat", {"subnetId": "subnet-1", "connectivityType": "private"},
                      deps={"subnetId": [subnet]}, prov=untagged)
    diagnostics = analyzer.analyze_stack([untagged, spoke, subnet, nat, private_nat])
    assert_violation(diagnostics, "net-1-no-internet-in-workload-vpcs", "a public NAT gateway", "(prod from VPC spoke)")
    assert_clean(diagnostics, "net-1-no-internet-in-workload-vpcs", urn_=private_nat.urn)


def test_hub_vpc_may_have_an_internet_gateway(analyzer):
    hub_vpc = vpc("hub", prov=HUB)
    igw = res("aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": "vpc-1"}, deps={"vpcId": [hub_vpc]}, prov=HUB)
    public = res("aws:ec2/subnet:Subnet", "public", {"vpcId": "vpc-1", "mapPublicIpOnLaunch": True},
                 deps={"vpcId": [hub_vpc]}, prov=HUB)
    assert_clean(analyzer.analyze_stack([HUB, hub_vpc, igw, public]), "net-1-no-internet-in-workload-vpcs")


def test_public_subnet_in_a_workload_vpc(analyzer):
    spoke = vpc()
    public = res("aws:ec2/subnet:Subnet", "public", {"vpcId": "vpc-1", "mapPublicIpOnLaunch": True}, deps={"vpcId": [spoke]})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke, public]), "net-1-no-internet-in-workload-vpcs",
                     "a subnet mapping public IPs on launch")


# -- NET-2 ---------------------------------------------------------------------------------------
SCOPED = doc({"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": ["sagemaker:*"], "Resource": "*",
              "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})
FULL = doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})


def endpoint(name: str = "api", **props):
    return res(ENDPOINT, name, {"vpcId": "vpc-1", "serviceName": "com.amazonaws.eu-west-1.sagemaker.api",
                                "vpcEndpointType": "Interface", "privateDnsEnabled": True, **props})


def test_private_endpoint_with_a_scoped_policy(analyzer):
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, endpoint(policy=SCOPED)]), "net-2-private-endpoints")


def test_endpoint_without_policy_or_private_dns(analyzer):
    diagnostics = analyzer.analyze_stack([DEFAULT_PROVIDER, endpoint(privateDnsEnabled=False)])
    assert_violation(diagnostics, "net-2-private-endpoints", "Interface endpoint api (com.amazonaws.eu-west-1.sagemaker.api): "
                     "private DNS is not enabled (nor a private hosted zone record aliasing it); "
                     "the endpoint has no endpoint policy")
    gateway = res(ENDPOINT, "s3", {"serviceName": "com.amazonaws.eu-west-1.s3", "policy": FULL})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, gateway]), "net-2-private-endpoints",
                     "Gateway endpoint s3", "full access")


def test_central_endpoint_served_by_a_private_zone_record(analyzer):
    # Central endpoints keep private DNS off and answer through a private zone's alias record.
    central = endpoint("central-api", privateDnsEnabled=False, policy=SCOPED)
    record = res("aws:route53/record:Record", "api-apex", {"zoneId": "Z1", "name": "api.sagemaker.eu-west-1.amazonaws.com",
                                                           "type": "A", "aliases": [{"name": "vpce-1.api", "zoneId": "Z2"}]},
                 deps={"aliases": [central]})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, central, record]), "net-2-private-endpoints")
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, central]), "net-2-private-endpoints",
                     "private DNS is not enabled")


def test_endpoint_policy_as_a_separate_resource(analyzer):
    api = endpoint()
    policy = res("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy", "api-policy", {"vpcEndpointId": "vpce-1", "policy": SCOPED},
                 deps={"vpcEndpointId": [api]})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, api, policy]), "net-2-private-endpoints")


def test_full_access_only_service_endpoint_without_a_policy(analyzer):
    # Lake Formation's endpoints accept only the full-access policy: none is compliant there.
    lake = endpoint("lake", serviceName="com.amazonaws.eu-west-1.lakeformation")
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, lake]), "net-2-private-endpoints")
    # Only for the listed services (by the whole service name), and private DNS still counts.
    glue = endpoint("glue", serviceName="com.amazonaws.eu-west-1.glue")
    look_alike = endpoint("look-alike", serviceName="com.amazonaws.eu-west-1.lakeformation-fips")
    hidden = endpoint("hidden", serviceName="com.amazonaws.eu-west-1.lakeformation", privateDnsEnabled=False)
    diagnostics = analyzer.analyze_stack([DEFAULT_PROVIDER, glue, look_alike, hidden])
    assert_violation(diagnostics, "net-2-private-endpoints", "Interface endpoint glue", "has no endpoint policy")
    assert_violation(diagnostics, "net-2-private-endpoints", "Interface endpoint look-alike", "has no endpoint policy")
    assert_violation(diagnostics, "net-2-private-endpoints", "Interface endpoint hidden", "private DNS is not enabled")
    # A service dropped from the list is no exception any more.
    with analyzer.configured({"net-2-private-endpoints": {"fullAccessOnlyServices": []}}):
        assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, lake]), "net-2-private-endpoints",
                         "Interface endpoint lake", "has no endpoint policy")


def test_pack_and_program_agree_on_the_full_access_only_services():
    from components.vpc_endpoints import FULL_ACCESS_ONLY_SERVICES
    from ml_guardrails.network import FULL_ACCESS_ONLY_SERVICES as PACK

    assert PACK == list(FULL_ACCESS_ONLY_SERVICES)


def test_private_dns_can_be_left_to_route53_zones(analyzer):
    with analyzer.configured({"net-2-private-endpoints": {"requirePrivateDns": False}}):
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, endpoint(privateDnsEnabled=False, policy=SCOPED)]),
                     "net-2-private-endpoints")


# -- NET-3 ---------------------------------------------------------------------------------------
def test_ingress_from_anywhere(analyzer):
    group = res("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": [
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]})
    assert_violation(analyzer.analyze(group), "net-3-no-ingress-from-anywhere", "SecurityGroup sg admits 0.0.0.0/0 on port 22")
    rule = res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "https",
               {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv6": "::/0"})
    assert_violation(analyzer.analyze(rule), "net-3-no-ingress-from-anywhere", "admits ::/0 on port 443")
    with analyzer.configured({"net-3-no-ingress-from-anywhere": {"allowedPublicPorts": [443]}}):
        assert_clean(analyzer.analyze(rule), "net-3-no-ingress-from-anywhere")


def test_ingress_from_the_corporate_network(analyzer):
    group = res("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": [
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/8"]}]})
    assert_clean(analyzer.analyze(group), "net-3-no-ingress-from-anywhere")
    rule = res("aws:ec2/securityGroupRule:SecurityGroupRule", "egress", {"type": "egress", "fromPort": 0, "toPort": 0,
                                                                         "protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]})
    assert_clean(analyzer.analyze(rule), "net-3-no-ingress-from-anywhere")


# -- NET-4 ---------------------------------------------------------------------------------------
def test_vpc_with_an_encrypted_flow_log(analyzer):
    spoke = vpc()
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke, *flow_log(spoke)]), "net-4-vpc-flow-logs")


def test_vpc_without_flow_log_or_with_plain_destination(analyzer):
    spoke = vpc()
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke]), "net-4-vpc-flow-logs",
                     "VPC spoke has no flow log", urn_=spoke.urn)
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke, *flow_log(spoke, encrypted=False)]),
                     "net-4-vpc-flow-logs", "writes to log group flow-logs, which has no kmsKeyId")


# -- NET-5 ---------------------------------------------------------------------------------------
def test_sandbox_attached_to_the_transit_gateway(analyzer, stack_tags):
    untagged = provider("untagged", tags=None)
    attachment = res("aws:ec2transitgateway/vpcAttachment:VpcAttachment", "tgw",
                     {"transitGatewayId": "tgw-1", "vpcId": "vpc-1", "subnetIds": ["subnet-1"]}, prov=untagged)
    assert_clean(analyzer.analyze_stack([untagged, attachment]), "net-5-sandbox-detached")
    with stack_tags({"environment": "sandbox"}):
        assert_violation(analyzer.analyze_stack([untagged, attachment]), "net-5-sandbox-detached",
                         "VpcAttachment tgw connects a sandbox account (from the stack's tags)")
    sandbox = provider("sandbox", tags={**TAGS, "environment": "sandbox"})
    peering = res("aws:ec2/vpcPeeringConnection:VpcPeeringConnection", "peer", {"vpcId": "vpc-1", "peerVpcId": "vpc-2"},
                  prov=sandbox)
    assert_violation(analyzer.analyze_stack([sandbox, peering]), "net-5-sandbox-detached", "VpcPeeringConnection peer")


def test_workload_attachment_is_allowed(analyzer):
    attachment = res("aws:ec2transitgateway/vpcAttachment:VpcAttachment", "tgw", {"transitGatewayId": "tgw-1", "vpcId": "vpc-1"})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, attachment]), "net-5-sandbox-detached")
