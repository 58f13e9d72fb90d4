"""A private VPC for a workload or shared account (guardrails NET-1, NET-3, NET-4, NET-5).

Private subnets only, in two or more Availability Zones: no internet gateway, no NAT gateway,
no public subnet, no public IP on launch. The default security group is taken under
management with no rules, so nothing can fall back on it. Flow logs go to CloudWatch Logs in
the VPC's own account, encrypted with a customer-managed key of that account.

Why CloudWatch Logs and not the log archive bucket: delivery stays inside the account, so no
other layer's bucket policy or key policy has to trust every VPC of the platform (the log
archive keeps its narrow, immutable policy), and the logs are queryable at once with Logs
Insights by the account's operators. The security layer can subscribe the groups to the
archive later without touching this component.

When a `TransitGatewaySpoke` is given, the VPC is attached to the hub's Transit Gateway from
its own account; acceptance, route-table association and propagation are made in the network
account (the hub's provider), into the route tables the caller names and no others.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.kms_keys import CustomerManagedKey, KeyUse, RolePrincipals
from components.naming import cidr_slug
from policy_documents.arns import partition_of
from policy_documents.serialize import concat, document, policy_json

SUBNET_MIN_PREFIX = 28  # AWS: the smallest subnet is a /28


def carve_bits(count: int) -> int:
    """Bits added to the VPC prefix to carve `count` equal subnets, leaving room to grow:
    subnets are always quarters (up to 4 AZs) or eighths, so adding an AZ later never moves
    an existing subnet."""
    return 2 if count <= 4 else max(3, math.ceil(math.log2(count)))


def subnet_blocks(cidr: str, count: int) -> list[str]:
    """The first `count` equal blocks of `cidr` (see :func:`carve_bits`)."""
    net = ipaddress.IPv4Network(cidr)
    bits = carve_bits(count)
    if net.prefixlen + bits > SUBNET_MIN_PREFIX:
        raise ValueError(f"{cidr} is too small for {count} subnets (each would be /{net.prefixlen + bits}; AWS allows at most /{SUBNET_MIN_PREFIX})")
    return [str(block) for block in list(net.subnets(prefixlen_diff=bits))[:count]]


def availability_zone_ids(count: int, parent: pulumi.Resource) -> list[pulumi.Output[str]]:
    """The first `count` available Availability Zone ids of the parent's provider region.

    Zone ids (not names) so that every account's subnet lands in the same physical zone: a
    spoke's subnets then line up with the hub's (no cross-zone hops to central endpoints).
    """
    zones = aws.get_availability_zones_output(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )

    def pick(ids: list[str], i: int) -> str:
        if i >= len(ids):
            raise ValueError(f"the region has {len(ids)} Availability Zones; {count} were asked for")
        return ids[i]

    return [zones.zone_ids.apply(lambda ids, i=i: pick(list(ids), i)) for i in range(count)]


@dataclass(frozen=True)
class FlowLogSettings:
    """Where and how long flow logs are kept."""

    retention_days: int = 365
    traffic_type: str = "ALL"
    max_aggregation_interval: int = 600
    allow_destroy: bool = False
    # Roles that administer the flow-log key (the deployment and break-glass roles); nobody
    # else, however broad their IAM policies, can disable or delete it.
    key_administrators: tuple[str, ...] = ()


@dataclass(frozen=True)
class TransitGatewaySpoke:
    """How a VPC joins the hub: the Transit Gateway, the one route table its attachment is
    associated with, the route tables it propagates into, the network account's provider,
    and which destinations the VPC routes to the Transit Gateway."""

    transit_gateway_id: pulumi.Input[str]
    association_route_table_id: pulumi.Input[str]
    propagation_route_table_ids: Mapping[str, pulumi.Input[str]]
    hub_provider: aws.Provider
    destinations: Sequence[str]
    same_account: bool = False
    # What the attachment must wait for in the same run (the RAM share reaching the account).
    depends_on: Sequence[pulumi.Resource] = ()


def locked_down_vpc(name: str, label: str, cidr: str, tags: Mapping[str, str], parent: pulumi.Resource) -> aws.ec2.Vpc:
    """A VPC with DNS support and hostnames on (interface endpoints' private DNS needs both)
    whose default security group and main route table are taken over and left empty, so
    nothing can fall back on them."""
    vpc = aws.ec2.Vpc(name, cidr_block=cidr, enable_dns_support=True, enable_dns_hostnames=True,
                      tags={**tags, "Name": label}, opts=pulumi.ResourceOptions(parent=parent))
    on_vpc = pulumi.ResourceOptions(parent=vpc)
    aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
                                 tags={**tags, "Name": f"{label}-default-unused"}, opts=on_vpc)
    aws.ec2.DefaultRouteTable(f"{name}-default-rt", default_route_table_id=vpc.default_route_table_id,
                              routes=[], tags={**tags, "Name": f"{label}-main-unused"}, opts=on_vpc)
    return vpc


class VpcFlowLog(pulumi.ComponentResource):
    """Flow logs of one VPC to an encrypted CloudWatch Logs group in the VPC's account (NET-4).

    A customer-managed key (rotated yearly, 30-day deletion window, protected) whose policy
    lets CloudWatch Logs use it for this log group only; a role that only the VPC Flow Logs
    service of this account can assume (aws:SourceAccount, aws:SourceArn) and that may only
    write to this log group. Outputs: `log_group_arn`, `key_arn`.
    """

    log_group_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, label: str, vpc_id: pulumi.Input[str], account_id: pulumi.Input[str],
                 region: str, settings: FlowLogSettings, tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:network:VpcFlowLog", name, None, opts)
        partition = partition_of(region)
        protect = not settings.allow_destroy
        group_name = f"/ml-platform/vpc-flow-logs/{label}"
        group_arn = concat("arn:", partition, ":logs:", region, ":", account_id, ":log-group:", group_name)
        if not settings.key_administrators:
            raise ValueError(f"VpcFlowLog {name}: FlowLogSettings.key_administrators names no role")
        key = CustomerManagedKey(
            f"{name}-key",
            alias=f"{label}-flow-logs",
            description=f"VPC flow logs of {label}",
            administrators=RolePrincipals(account_id, tuple(settings.key_administrators)),
            uses=[KeyUse(
                sid="CloudWatchLogsEncryptsThisGroup",
                # kms:DescribeKey carries no encryption context, so under this condition it could
                # never be granted; CloudWatch Logs needs only the data-key actions.
                actions=("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"),
                service=f"logs.{region}.amazonaws.com",
                conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}},
            )],
            tags={**tags, "Name": f"{label}-flow-logs"},
            allow_destroy=settings.allow_destroy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-group",
            name=group_name,
            kms_key_id=key.arn,
            retention_in_days=settings.retention_days,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=f"{label}-vpc-flow-logs",
            description=f"VPC Flow Logs delivery for {label}",
            assume_role_policy=policy_json(document({
                "Sid": "VpcFlowLogsOfThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": concat(
                        "arn:", partition, ":ec2:", region, ":", account_id, ":vpc-flow-log/*")},
                },
            })),
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=policy_json(document(
                {
                    "Sid": "WriteThisLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [group_arn, concat(group_arn, ":log-stream:*")],
                },
                {
                    "Sid": "FindLogGroups",
                    "Effect": "Allow",
                    "Action": "logs:DescribeLogGroups",
                    # DescribeLogGroups takes no resource-level permissions: only "*" grants it.
                    "Resource": "*",
                },
            )),
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.ec2.FlowLog(
            f"{name}",
            vpc_id=vpc_id,
            traffic_type=settings.traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=settings.max_aggregation_interval,
            tags={**tags, "Name": f"{label}-flow-log"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.log_group_arn = group.arn
        self.key_arn = key.arn
        self.register_outputs({"logGroupArn": group.arn, "keyArn": key.arn})


class WorkloadVpc(pulumi.ComponentResource):
    """A private VPC: `azs` private subnets (one per Availability Zone, carved from `cidr`),
    one route table, the default security group and route table emptied, flow logs, and
    optionally a Transit Gateway attachment (see :class:`TransitGatewaySpoke`).

    The component's provider (from `opts`) is the VPC's account; `account_id` is that
    account's id (for the flow-log key and role policies).

    Outputs: `vpc_id`, `cidr`, `subnet_ids`, `route_table_ids`, `attachment_id` (None when
    not attached), `flow_log`.
    """

    vpc_id: pulumi.Output[str]
    subnet_ids: list[pulumi.Output[str]]
    route_table_ids: list[pulumi.Output[str]]
    attachment_id: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        label: str,
        cidr: str,
        azs: int,
        account_id: pulumi.Input[str],
        region: str,
        tags: Mapping[str, str],
        flow_logs: FlowLogSettings = FlowLogSettings(),
        transit: TransitGatewaySpoke | None = None,
        internet_via_transit: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("ml-platform:network:WorkloadVpc", name, None, opts)
        if azs < 2:
            raise ValueError(f"WorkloadVpc {name}: {azs} Availability Zone(s); at least 2 are required")
        self.cidr = cidr
        self.label = label
        vpc = locked_down_vpc(name, label, cidr, tags, self)
        on_vpc = pulumi.ResourceOptions(parent=vpc)

        zone_ids = availability_zone_ids(azs, self)
        route_table = aws.ec2.RouteTable(f"{name}-private", vpc_id=vpc.id,
                                         tags={**tags, "Name": f"{label}-private"}, opts=on_vpc)
        self.subnet_ids = []
        for i, block in enumerate(subnet_blocks(cidr, azs)):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=block,
                availability_zone_id=zone_ids[i],
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{label}-private-{i}", "tier": "private"},
                opts=on_vpc,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{i}", subnet_id=subnet.id,
                                          route_table_id=route_table.id, opts=pulumi.ResourceOptions(parent=subnet))
            self.subnet_ids.append(subnet.id)
        self.route_table_ids = [route_table.id]

        self.flow_log = VpcFlowLog(f"{name}-flow-log", label, vpc.id, account_id, region, flow_logs, tags,
                                   pulumi.ResourceOptions(parent=self))

        self.attachment_id = None
        if transit is not None:
            self.attachment_id = self._attach(name, label, vpc, route_table, transit, internet_via_transit, tags)
        self.vpc_id = vpc.id
        self.register_outputs({
            "vpcId": vpc.id, "subnetIds": self.subnet_ids, "routeTableIds": self.route_table_ids,
            "attachmentId": self.attachment_id,
        })

    def _attach(self, name: str, label: str, vpc: aws.ec2.Vpc, route_table: aws.ec2.RouteTable,
                transit: TransitGatewaySpoke, internet_via_transit: bool, tags: Mapping[str, str]) -> pulumi.Output[str]:
        extra = {}
        if transit.same_account:
            # Only the Transit Gateway's owner may set these; the hub has no default tables.
            extra = {"transit_gateway_default_route_table_association": False,
                     "transit_gateway_default_route_table_propagation": False}
        attachment = aws.ec2transitgateway.VpcAttachment(
            f"{name}-tgw",
            transit_gateway_id=transit.transit_gateway_id,
            vpc_id=vpc.id,
            subnet_ids=self.subnet_ids,
            dns_support="enable",
            tags={**tags, "Name": label},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(transit.depends_on)),
            **extra,
        )
        hub = pulumi.ResourceOptions(parent=attachment, provider=transit.hub_provider)
        attachment_id: pulumi.Output[str] = attachment.id
        ready: list[pulumi.Resource] = [attachment]
        if not transit.same_account:
            # The hub does not auto-accept: each attachment is accepted here, explicitly, so an
            # account that merely received the share cannot join the network on its own.
            accepter = aws.ec2transitgateway.VpcAttachmentAccepter(
                f"{name}-tgw-accept",
                transit_gateway_attachment_id=attachment.id,
                transit_gateway_default_route_table_association=False,
                transit_gateway_default_route_table_propagation=False,
                tags={**tags, "Name": label},
                opts=hub,
            )
            ready = [accepter]  # same id as the attachment; routes wait for the acceptance
        aws.ec2transitgateway.RouteTableAssociation(
            f"{name}-tgw-association",
            transit_gateway_attachment_id=attachment_id,
            transit_gateway_route_table_id=transit.association_route_table_id,
            opts=pulumi.ResourceOptions(parent=attachment, provider=transit.hub_provider, depends_on=ready),
        )
        for key, table_id in transit.propagation_route_table_ids.items():
            aws.ec2transitgateway.RouteTablePropagation(
                f"{name}-tgw-propagation-{key}",
                transit_gateway_attachment_id=attachment_id,
                transit_gateway_route_table_id=table_id,
                opts=pulumi.ResourceOptions(parent=attachment, provider=transit.hub_provider, depends_on=ready),
            )
        destinations = list(transit.destinations) + (["0.0.0.0/0"] if internet_via_transit else [])
        for destination in destinations:
            aws.ec2.Route(
                f"{name}-to-tgw-{cidr_slug(destination)}",
                route_table_id=route_table.id,
                destination_cidr_block=destination,
                transit_gateway_id=transit.transit_gateway_id,
                opts=pulumi.ResourceOptions(parent=route_table, depends_on=ready),
            )
        return attachment_id
