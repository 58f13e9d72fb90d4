"""The network part of a `<project>-<env>` stack: the project account's spoke VPC.

Builds, in the project's account: a private VPC (subnets in the environment's Availability
Zones, no internet gateway, NAT or public IP), flow logs, the S3 gateway endpoint, the
interface endpoints of the environment (or, in `central` mode, associations with the network
account's private hosted zones), a security group for SageMaker workloads, and the Transit
Gateway attachment. In the network account (through its provider): the attachment's
acceptance, its association with the environment's hub route table only, and its propagation
into that table, `shared` and (when configured) `edge`.

It creates the stack's StackReferences to `organization` and `network` and the providers;
the data part reuses them from the returned :class:`ProjectNetwork` (a second reference or
provider with the same name would collide).

Outputs: the contract is documented once, under "Stack outputs (contract)" in README.md
(a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.vpc_endpoints import HTTPS, VpcEndpoints, associate_zone
from components.workload_vpc import TransitGatewaySpoke, WorkloadVpc
from stacks import network_settings as ns
from stacks.common import account_provider, project_tags, stack_reference
from stacks.context import StackContext


@dataclass(frozen=True)
class ProjectNetwork:
    """What the project's network part built, for the data part to reuse."""

    project: str
    environment: str
    label: str  # `<prefix>-<project>-<env>`, the account's name
    tags: dict[str, str]
    provider: aws.Provider  # acts in the project account
    hub_provider: aws.Provider  # acts in the network account
    account_id: pulumi.Output[str]
    organization_id: pulumi.Output[str]
    organization: pulumi.StackReference
    network: pulumi.StackReference
    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    subnet_ids: list[pulumi.Output[str]]
    route_table_ids: list[pulumi.Output[str]]
    endpoint_security_group_id: pulumi.Output[str] | None
    workload_security_group_id: pulumi.Output[str]
    s3_gateway_endpoint_id: pulumi.Output[str]
    transit_gateway_attachment_id: pulumi.Output[str]
    interface_endpoint_ids: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    endpoint_services: list[str] = field(default_factory=list)


def project_network(ctx: StackContext) -> ProjectNetwork:
    """Build the project environment's network; see the module docstring for the outputs."""
    platform, env = ctx.platform, ctx.environment
    net = platform.network
    region = platform.home_region
    spec = platform.project(ctx.project).environments[env]
    account_key = f"{ctx.project}-{env}"
    label = platform.project_account_name(ctx.project, env)
    tags = project_tags(platform, ctx.project, env)
    central = net.endpoints.mode == "central"

    organization = stack_reference("organization")
    network = stack_reference("network")
    account_ids = organization.require_output("accountIds")
    organization_id = organization.require_output("organizationId")
    account_id = account_ids.apply(lambda ids: ids[account_key])
    provider = account_provider(account_key, platform, account_id, tags)
    hub_provider = account_provider("network", platform, network.require_output("networkAccountId"), tags)

    tables = network.require_output("transitGatewayRouteTableIds")
    # Dev never reaches prod: the attachment sits in its environment's table and propagates
    # into that table, `shared` (the shared services answer back) and `edge` (on-premises).
    propagate = [env, ns.SHARED_TABLE] + ([ns.EDGE_TABLE] if ns.EDGE_TABLE in ns.route_table_names(platform) else [])
    vpc = WorkloadVpc(
        "vpc", label, spec.cidr, net.azs_for(env, spec.azs), account_id, region, tags,
        flow_logs=ns.flow_log_settings(platform),
        transit=TransitGatewaySpoke(
            transit_gateway_id=network.require_output("transitGatewayId"),
            association_route_table_id=tables.apply(lambda t: t[env]),
            propagation_route_table_ids={name: tables.apply(lambda t, name=name: t[name]) for name in propagate},
            hub_provider=hub_provider,
            destinations=ns.spoke_destinations(platform),
        ),
        internet_via_transit=ns.internet_via_transit(platform, account_key),
        opts=pulumi.ResourceOptions(provider=provider),
    )

    services = ns.project_services(platform, ctx.project, env)
    endpoints = VpcEndpoints(
        "endpoints", vpc.vpc_id, region, organization_id, [] if central else services, vpc.subnet_ids,
        [spec.cidr], tags, route_table_ids=vpc.route_table_ids, bucket_prefixes=ns.bucket_prefixes(platform),
        label=label, opts=pulumi.ResourceOptions(provider=provider, parent=vpc),
    )
    if central:
        zone_ids = network.require_output("centralEndpointZoneIds")
        for service in services:
            associate_zone(f"zone-{service.replace('.', '-')}", zone_ids.apply(lambda z, s=service: z[s]),
                           vpc.vpc_id, region, hub_provider, provider, parent=vpc)

    # Where the interface endpoints answer: this VPC, or the hub VPC in central mode.
    endpoint_range = platform.cidr_plan.shared["network"] if central else spec.cidr
    workload_sg = _workload_security_group(label, vpc.vpc_id, endpoint_range, endpoints.s3_prefix_list_id, tags,
                                           pulumi.ResourceOptions(provider=provider, parent=vpc))

    result = ProjectNetwork(
        project=ctx.project, environment=env, label=label, tags=tags, provider=provider, hub_provider=hub_provider,
        account_id=account_id, organization_id=organization_id, organization=organization, network=network,
        vpc_id=vpc.vpc_id, vpc_cidr=spec.cidr, subnet_ids=vpc.subnet_ids, route_table_ids=vpc.route_table_ids,
        endpoint_security_group_id=endpoints.security_group_id, workload_security_group_id=workload_sg,
        s3_gateway_endpoint_id=endpoints.s3_gateway_endpoint_id, transit_gateway_attachment_id=vpc.attachment_id,
        interface_endpoint_ids=endpoints.endpoint_ids, endpoint_services=services,
    )
    pulumi.export("vpcId", result.vpc_id)
    pulumi.export("vpcCidr", result.vpc_cidr)
    pulumi.export("subnetIds", result.subnet_ids)
    pulumi.export("routeTableIds", result.route_table_ids)
    pulumi.export("endpointSecurityGroupId", result.endpoint_security_group_id)
    pulumi.export("workloadSecurityGroupId", result.workload_security_group_id)
    pulumi.export("s3GatewayEndpointId", result.s3_gateway_endpoint_id)
    pulumi.export("interfaceEndpointIds", result.interface_endpoint_ids)
    pulumi.export("endpointServices", result.endpoint_services)
    pulumi.export("transitGatewayAttachmentId", result.transit_gateway_attachment_id)
    return result


def _workload_security_group(label: str, vpc_id: pulumi.Input[str], endpoint_range: str,
                             s3_prefix_list_id: pulumi.Input[str] | None, tags: dict[str, str],
                             opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """SageMaker ENIs: members talk to each other (distributed training, Studio apps), and out
    only to the interface endpoints (HTTPS) and S3 through the gateway endpoint (NET-3)."""
    group = aws.ec2.SecurityGroup(f"{label}-workloads", name=f"{label}-workloads",
                                  description="SageMaker workloads: intra-group traffic, HTTPS to endpoints and S3",
                                  vpc_id=vpc_id, tags={**tags, "Name": f"{label}-workloads"}, opts=opts)
    on_group = pulumi.ResourceOptions(parent=group)
    aws.vpc.SecurityGroupIngressRule(f"{label}-workloads-from-self", security_group_id=group.id, ip_protocol="-1",
                                     referenced_security_group_id=group.id, description="Within the group",
                                     tags=dict(tags), opts=on_group)
    aws.vpc.SecurityGroupEgressRule(f"{label}-workloads-to-self", security_group_id=group.id, ip_protocol="-1",
                                    referenced_security_group_id=group.id, description="Within the group",
                                    tags=dict(tags), opts=on_group)
    aws.vpc.SecurityGroupEgressRule(f"{label}-workloads-to-endpoints", security_group_id=group.id, ip_protocol="tcp",
                                    from_port=HTTPS, to_port=HTTPS, cidr_ipv4=endpoint_range,
                                    description="HTTPS to the interface endpoints", tags=dict(tags), opts=on_group)
    if s3_prefix_list_id is not None:
        aws.vpc.SecurityGroupEgressRule(f"{label}-workloads-to-s3", security_group_id=group.id, ip_protocol="tcp",
                                        from_port=HTTPS, to_port=HTTPS, prefix_list_id=s3_prefix_list_id,
                                        description="HTTPS to S3 through the gateway endpoint", tags=dict(tags),
                                        opts=on_group)
    return group.id
