"""NET-1 .. NET-5."""

from __future__ import annotations

import pytest
from pack_helpers import (
    ACCOUNT,
    DEFAULT_PROVIDER,
    KEY_ARN,
    TAGS,
    UNKNOWN,
    assert_clean,
    assert_violation,
    bucket_set,
    doc,
    messages,
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


@pytest.mark.parametrize(("type_", "props", "path"), [
    ("aws:ec2/internetGatewayAttachment:InternetGatewayAttachment", {}, "an internet gateway"),
    ("aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway", {}, "an egress-only internet gateway"),
    ("aws:ec2/eip:Eip", {"domain": "vpc"}, "an Elastic IP"),
    ("aws:ec2/instance:Instance", {"associatePublicIpAddress": True}, "an instance with a public IP"),
])
def test_every_internet_path_in_a_workload_vpc(analyzer, type_, props, path):
    spoke = vpc()
    resource = res(type_, "path", {"vpcId": "vpc-123", **props}, deps={"vpcId": [spoke]})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke, resource]), "net-1-no-internet-in-workload-vpcs",
                     f"gives spoke (dev from default tags of provider workload) {path}", urn_=resource.urn)


def test_private_resources_are_no_internet_path(analyzer):
    spoke = vpc()
    private = [res("aws:ec2/instance:Instance", "private", {"associatePublicIpAddress": False, "vpcId": "vpc-123"},
                   deps={"vpcId": [spoke]}),
               res("aws:ec2/subnet:Subnet", "private", {"vpcId": "vpc-1", "mapPublicIpOnLaunch": False},
                   deps={"vpcId": [spoke]}),
               res("aws:ec2/natGateway:NatGateway", "later", {"connectivityType": UNKNOWN}, deps={"vpcId": [spoke]})]
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke, *private]), "net-1-no-internet-in-workload-vpcs")


def test_workload_environments_are_configurable(analyzer):
    spoke = vpc()
    igw = res("aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": "vpc-123"}, deps={"vpcId": [spoke]})
    hub_vpc = vpc("hub", prov=HUB)
    hub_igw = res("aws:ec2/internetGateway:InternetGateway", "hub-igw", {"vpcId": "vpc-1"}, deps={"vpcId": [hub_vpc]},
                  prov=HUB)
    stack = [DEFAULT_PROVIDER, HUB, spoke, igw, hub_vpc, hub_igw]
    # Matched case-insensitively against the configured names; only those are workload VPCs.
    with analyzer.configured({"net-1-no-internet-in-workload-vpcs": {"workloadEnvironments": ["PROD", "Shared"]}}):
        diagnostics = analyzer.analyze_stack(stack)
        assert_clean(diagnostics, "net-1-no-internet-in-workload-vpcs", urn_=igw.urn)
        assert_violation(diagnostics, "net-1-no-internet-in-workload-vpcs", "shared from default tags of provider hub",
                         urn_=hub_igw.urn)


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


@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*:*", "Resource": "*"},
    {"Effect": "Allow", "Action": "*", "Resource": ["arn:aws:s3:::a", "*"]},          # no Principal: everyone
    {"Effect": "Allow", "Principal": "*", "NotAction": "iam:*", "Resource": "*"},
    {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "*"], "NotResource": "arn:aws:s3:::a"},
])
def test_every_form_of_full_access_is_refused(analyzer, statement):
    scoped = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    gateway = res(ENDPOINT, "s3", {"serviceName": "com.amazonaws.eu-west-1.s3", "policy": doc(scoped, statement)})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, gateway]), "net-2-private-endpoints",
                     "the endpoint allows every action on every resource for everyone (full access)")


@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
     "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}},              # conditioned
    {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"},               # a deny grants nothing
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "*", "Resource": "*"},
    {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "arn:aws:s3:::mrd-*"},
])
def test_a_policy_narrower_than_full_access_is_accepted(analyzer, statement):
    gateway = res(ENDPOINT, "s3", {"serviceName": "com.amazonaws.eu-west-1.s3", "policy": doc(statement)})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, gateway]), "net-2-private-endpoints")


def test_endpoints_that_take_no_policy_and_unknown_policies(analyzer):
    glb = res(ENDPOINT, "glb", {"serviceName": "com.amazonaws.vpce.eu-west-1.vpce-svc-1",
                                "vpcEndpointType": "GatewayLoadBalancer"})
    # A policy that comes from another resource's output and is unknown in a preview is not judged;
    # an unknown the provider computes (no dependency: the program left it unset) reads as unset.
    source = res("aws:iam/policy:Policy", "source", {"policy": SCOPED})
    later = res(ENDPOINT, "later", {**endpoint().properties, "policy": UNKNOWN, "privateDnsEnabled": UNKNOWN},
                deps={"policy": [source], "privateDnsEnabled": [source]})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, glb, source, later]), "net-2-private-endpoints")
    unset = endpoint("unset", policy=UNKNOWN)
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, unset]), "net-2-private-endpoints",
                     "Interface endpoint unset", "the endpoint has no endpoint policy")
    # A separate VpcEndpointPolicy resource is checked like an inline one.
    api = endpoint()
    full = res("aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy", "api-policy", {"vpcEndpointId": "vpce-1", "policy": FULL},
               deps={"vpcEndpointId": [api]})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, api, full]), "net-2-private-endpoints",
                     "endpoint policy api-policy allows every action on every resource for everyone")


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


@pytest.mark.parametrize(("resource", "fragment"), [
    (res("aws:ec2/securityGroup:SecurityGroup", "sg6", {"ingress": [
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.0.0.0/8"], "ipv6CidrBlocks": ["::/0"]}]}),
     "SecurityGroup sg6 admits ::/0 on port 22"),
    (res("aws:ec2/securityGroupRule:SecurityGroupRule", "rule6", {"type": "ingress", "fromPort": 80, "toPort": 80,
                                                                  "protocol": "tcp", "ipv6CidrBlocks": ["::/0"]}),
     "SecurityGroupRule rule6 admits ::/0 on port 80"),
    (res("aws:ec2/securityGroupRule:SecurityGroupRule", "rule4", {"type": "ingress", "fromPort": 80, "toPort": 80,
                                                                  "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}),
     "SecurityGroupRule rule4 admits 0.0.0.0/0 on port 80"),
    (res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "v4",
         {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 1024, "toPort": 2048, "cidrIpv4": "0.0.0.0/0"}),
     "SecurityGroupIngressRule v4 admits 0.0.0.0/0 on ports 1024-2048"),
])
def test_ingress_from_anywhere_over_ipv6_rules_and_ranges(analyzer, resource, fragment):
    assert_violation(analyzer.analyze(resource), "net-3-no-ingress-from-anywhere", fragment)


def test_allowed_public_ports_are_single_ports_only(analyzer):
    def group(from_port, to_port, name="sg"):
        return res("aws:ec2/securityGroup:SecurityGroup", name, {"ingress": [
            {"protocol": "tcp", "fromPort": from_port, "toPort": to_port, "cidrBlocks": ["0.0.0.0/0"]}]})

    with analyzer.configured({"net-3-no-ingress-from-anywhere": {"allowedPublicPorts": [443, 80]}}):
        assert_clean(analyzer.analyze(group(443, 443)), "net-3-no-ingress-from-anywhere")
        assert_clean(analyzer.analyze(group(80, 80)), "net-3-no-ingress-from-anywhere")
        # A range that includes an allowed port, or another single port, is still refused.
        assert_violation(analyzer.analyze(group(0, 65535)), "net-3-no-ingress-from-anywhere", "admits 0.0.0.0/0 on ports 0-65535")
        assert_violation(analyzer.analyze(group(443, 444)), "net-3-no-ingress-from-anywhere", "on ports 443-444")
        assert_violation(analyzer.analyze(group(8443, 8443)), "net-3-no-ingress-from-anywhere", "on port 8443")
    assert_violation(analyzer.analyze(group(443, 443)), "net-3-no-ingress-from-anywhere", "on port 443")
    # Every open rule is reported, not only the first.
    both = res("aws:ec2/securityGroup:SecurityGroup", "both", {"ingress": [
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]},
        {"protocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipv6CidrBlocks": ["::/0"]}]})
    assert len(messages(analyzer.analyze(both), "net-3-no-ingress-from-anywhere")) == 2


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


def test_flow_log_to_a_bucket_needs_sse_kms(analyzer):
    def to_bucket(spoke, buckets):
        bucket = buckets[1]
        log = res("aws:ec2/flowLog:FlowLog", "flow", {"vpcId": "vpc-123", "logDestinationType": "s3",
                                                      "logDestination": bucket.properties["arn"]},
                  deps={"vpcId": [spoke], "logDestination": [bucket]})
        return [spoke, *buckets, log]

    spoke = vpc()
    assert_clean(analyzer.analyze_stack(to_bucket(spoke, bucket_set("flow"))), "net-4-vpc-flow-logs")
    assert_violation(analyzer.analyze_stack(to_bucket(spoke, bucket_set("flow", skip=("sse",)))), "net-4-vpc-flow-logs",
                     "VPC spoke: flow log flow destination: bucket flow has no aws.s3.BucketServerSideEncryptionConfiguration")


def test_a_log_group_key_unknown_during_preview_is_not_a_violation(analyzer):
    spoke = vpc()
    group, log = flow_log(spoke)
    group.properties["kmsKeyId"] = UNKNOWN
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke, group, log]), "net-4-vpc-flow-logs")


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


def test_sandbox_environments_are_configurable_and_cover_vpns_and_accepters(analyzer):
    lab = provider("lab", tags={**TAGS, "environment": "lab"})
    vpn = res("aws:ec2/vpnConnection:VpnConnection", "vpn", {"customerGatewayId": "cgw-1", "type": "ipsec.1"}, prov=lab)
    accepter = res("aws:ec2transitgateway/vpcAttachmentAccepter:VpcAttachmentAccepter", "accept",
                   {"transitGatewayAttachmentId": "tgw-attach-1"}, prov=lab)
    assert_clean(analyzer.analyze_stack([lab, vpn, accepter]), "net-5-sandbox-detached")
    with analyzer.configured({"net-5-sandbox-detached": {"sandboxEnvironments": ["Lab"]}}):
        diagnostics = analyzer.analyze_stack([lab, vpn, accepter])
    assert_violation(diagnostics, "net-5-sandbox-detached", "VpnConnection vpn connects a lab account", urn_=vpn.urn)
    assert_violation(diagnostics, "net-5-sandbox-detached", "VpcAttachmentAccepter accept", urn_=accepter.urn)


def test_every_resource_and_statement_is_checked_not_only_the_first(analyzer):
    spoke = vpc()
    private_nat = res("aws:ec2/natGateway:NatGateway", "private-nat", {"connectivityType": "private"},
                      deps={"vpcId": [spoke]})
    public_nat = res("aws:ec2/natGateway:NatGateway", "public-nat", {}, deps={"vpcId": [spoke]})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, spoke, private_nat, public_nat]),
                     "net-1-no-internet-in-workload-vpcs", "a public NAT gateway", urn_=public_nat.urn)
    deny_first = doc({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "*"},
                     {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
                      "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}},
                     {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    gateway = res(ENDPOINT, "s3", {"serviceName": "com.amazonaws.eu-west-1.s3", "policy": deny_first})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, gateway]), "net-2-private-endpoints", "full access")
