"""Optional central internet egress in the network account (none in the default platform).

The only place the platform may hold an internet gateway and NAT gateways: a dedicated VPC in
the network account, attached to the Transit Gateway. Only accounts named in configuration
route `0.0.0.0/0` to the Transit Gateway, and only their environments' hub route tables send
it on here; every other VPC keeps no path to the internet (NET-1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.naming import cidr_slug
from components.workload_vpc import (
    FlowLogSettings,
    VpcFlowLog,
    availability_zone_ids,
    locked_down_vpc,
    subnet_blocks,
)


class EgressVpc(pulumi.ComponentResource):
    """Per Availability Zone: a public subnet with a NAT gateway and a transit subnet for the
    Transit Gateway attachment. Public subnets route the internet to the internet gateway and
    the platform's ranges (`return_destinations`) back to the Transit Gateway; transit subnets
    route the internet to their zone's NAT gateway. Flow logs as for every VPC (NET-4).

    The attachment (same account as the Transit Gateway) is associated with
    `association_route_table_id` and propagates nowhere: nothing needs to reach the egress VPC
    itself. Outputs: `vpc_id`, `attachment_id`.
    """

    vpc_id: pulumi.Output[str]
    attachment_id: pulumi.Output[str]

    def __init__(self, name: str, label: str, cidr: str, azs: int, account_id: pulumi.Input[str], region: str,
                 transit_gateway_id: pulumi.Input[str], association_route_table_id: pulumi.Input[str],
                 return_destinations: Sequence[str], tags: Mapping[str, str],
                 flow_logs: FlowLogSettings = FlowLogSettings(), opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:network:EgressVpc", name, None, opts)
        vpc = locked_down_vpc(name, label, cidr, tags, self)
        on_vpc = pulumi.ResourceOptions(parent=vpc)
        zone_ids = availability_zone_ids(azs, self)
        blocks = subnet_blocks(cidr, 2 * azs)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={**tags, "Name": label}, opts=on_vpc)
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags={**tags, "Name": f"{label}-public"}, opts=on_vpc)
        aws.ec2.Route(f"{name}-public-internet", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
                      gateway_id=igw.id, opts=pulumi.ResourceOptions(parent=public_rt))
        transit_subnets = []
        transit_tables = []
        for i in range(azs):
            public = aws.ec2.Subnet(f"{name}-public-{i}", vpc_id=vpc.id, cidr_block=blocks[2 * i],
                                    availability_zone_id=zone_ids[i], map_public_ip_on_launch=False,
                                    tags={**tags, "Name": f"{label}-public-{i}", "tier": "public"}, opts=on_vpc)
            aws.ec2.RouteTableAssociation(f"{name}-public-{i}", subnet_id=public.id, route_table_id=public_rt.id,
                                          opts=pulumi.ResourceOptions(parent=public))
            eip = aws.ec2.Eip(f"{name}-nat-{i}", domain="vpc", tags={**tags, "Name": f"{label}-nat-{i}"},
                              opts=pulumi.ResourceOptions(parent=public))
            nat = aws.ec2.NatGateway(f"{name}-nat-{i}", subnet_id=public.id, allocation_id=eip.id,
                                     connectivity_type="public", tags={**tags, "Name": f"{label}-nat-{i}"},
                                     opts=pulumi.ResourceOptions(parent=public, depends_on=[igw]))
            transit = aws.ec2.Subnet(f"{name}-transit-{i}", vpc_id=vpc.id, cidr_block=blocks[2 * i + 1],
                                     availability_zone_id=zone_ids[i], map_public_ip_on_launch=False,
                                     tags={**tags, "Name": f"{label}-transit-{i}", "tier": "transit"}, opts=on_vpc)
            table = aws.ec2.RouteTable(f"{name}-transit-{i}", vpc_id=vpc.id,
                                       tags={**tags, "Name": f"{label}-transit-{i}"}, opts=on_vpc)
            aws.ec2.RouteTableAssociation(f"{name}-transit-{i}", subnet_id=transit.id, route_table_id=table.id,
                                          opts=pulumi.ResourceOptions(parent=transit))
            aws.ec2.Route(f"{name}-transit-{i}-internet", route_table_id=table.id, destination_cidr_block="0.0.0.0/0",
                          nat_gateway_id=nat.id, opts=pulumi.ResourceOptions(parent=table))
            transit_subnets.append(transit.id)
            transit_tables.append(table)
        attachment = aws.ec2transitgateway.VpcAttachment(
            f"{name}-tgw", transit_gateway_id=transit_gateway_id, vpc_id=vpc.id, subnet_ids=transit_subnets,
            dns_support="enable",
            # Keeps both directions of a flow in one zone, as stateful NAT needs.
            appliance_mode_support="enable",
            transit_gateway_default_route_table_association=False,
            transit_gateway_default_route_table_propagation=False,
            tags={**tags, "Name": label}, opts=pulumi.ResourceOptions(parent=self))
        aws.ec2transitgateway.RouteTableAssociation(
            f"{name}-tgw-association", transit_gateway_attachment_id=attachment.id,
            transit_gateway_route_table_id=association_route_table_id, opts=pulumi.ResourceOptions(parent=attachment))
        for destination in return_destinations:
            aws.ec2.Route(f"{name}-public-return-{cidr_slug(destination)}", route_table_id=public_rt.id,
                          destination_cidr_block=destination, transit_gateway_id=transit_gateway_id,
                          opts=pulumi.ResourceOptions(parent=public_rt, depends_on=[attachment]))
        VpcFlowLog(f"{name}-flow-log", label, vpc.id, account_id, region, flow_logs, tags,
                   pulumi.ResourceOptions(parent=self))
        self.vpc_id = vpc.id
        self.attachment_id = attachment.id
        self.register_outputs({"vpcId": vpc.id, "attachmentId": attachment.id})
