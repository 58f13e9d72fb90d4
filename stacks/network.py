"""The `network` stack: the hub in the network account and the shared accounts' VPCs.

Deploys into the network account (Transit Gateway, its route tables, the RAM share, the
on-premises attachment and the optional egress VPC, central endpoints and their private hosted
zones) and into each shared account of `cidr_plan.shared` and each sandbox account (their
VPCs). Sandbox VPCs live here rather than in a stack of their own: they are few, have no
upstream but the organization, and keeping them beside the hub makes NET-5 (no attachment)
visible in one place.

Routing: one Transit Gateway route table per environment (dev, preprod, prod), one `shared`
for the shared accounts' VPCs and, when on-premises or egress is configured, one `edge` for
those attachments. A project VPC is associated with its environment's table and propagates
into that table, `shared` and `edge`; a shared VPC is associated with `shared` and propagates
into every table. So dev and prod both reach the shared services and the corporate network,
and never each other.

Outputs: the contract is documented once, under "Stack outputs (contract)" in README.md
(a test keeps the two equal).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.egress_vpc import EgressVpc
from components.transit_gateway_hub import OnPremisesConnection, TransitGatewayHub
from components.vpc_endpoints import CentralEndpointZones, VpcEndpoints, associate_zone
from components.workload_vpc import TransitGatewaySpoke, WorkloadVpc
from stacks import network_settings as ns
from stacks.common import account_provider, platform_tags, stack_reference
from stacks.context import StackContext
from stacks.principal_settings import administrator_references, require_roles

def _ou_arn(management: str, org_id: str, ou_id: str) -> str:
    return f"arn:aws:organizations::{management}:ou/{org_id}/{ou_id}"


def run(ctx: StackContext) -> None:
    platform = ctx.platform
    vpc_accounts = [*(k.replace("_", "-") for k in platform.cidr_plan.shared), *(s.name for s in platform.sandbox_accounts)]
    require_roles(platform, [ref for key in vpc_accounts
                             for ref in administrator_references(platform, key, "VPC flow-log key policy (administrators)")])
    net = platform.network
    region = platform.home_region
    tags = platform_tags(platform, environment="shared")
    organization = stack_reference("organization")
    account_ids = organization.require_output("accountIds")
    organization_id = organization.require_output("organizationId")
    ou_ids = organization.require_output("ouIds")
    management = organization.require_output("managementAccountId")

    def account(key: str) -> pulumi.Output[str]:
        return account_ids.apply(lambda ids: ids[key])

    network_account = account("network")
    hub_provider = account_provider("network", platform, network_account, tags)

    tables = ns.route_table_names(platform)
    principals = {
        path: pulumi.Output.all(management, organization_id, ou_ids).apply(
            lambda args, path=path: _ou_arn(args[0], args[1], args[2][path]))
        for path in ns.share_ous(platform)
    }
    onprem = None
    if net.on_premises is not None:
        op = net.on_premises
        onprem = OnPremisesConnection(kind=op.connection, cidrs=op.cidrs, advertised_prefixes=[platform.cidr_plan.supernet],
                                      customer_gateway_ip=op.customer_gateway_ip, bgp_asn=op.bgp_asn,
                                      static_routes_only=op.static_routes_only, dx_gateway_id=op.dx_gateway_id)
    hub = TransitGatewayHub(
        f"{platform.name_prefix}-hub",
        description=f"{platform.name_prefix} ML platform hub",
        amazon_side_asn=net.amazon_side_asn,
        route_tables=tables,
        share_principals=principals,
        tags=tags,
        on_premises=onprem,
        edge_route_table=ns.EDGE_TABLE if ns.EDGE_TABLE in tables else None,
        on_premises_route_tables=[t for t in tables if t != ns.EDGE_TABLE],
        opts=pulumi.ResourceOptions(provider=hub_provider),
    )
    # Internet through the corporate network: every environment's table sends the default
    # route to the on-premises attachment (the VPCs decide whether they use it).
    if net.on_premises is not None and net.on_premises.internet_egress:
        for table in tables:
            if table != ns.EDGE_TABLE:
                hub.static_route(f"{platform.name_prefix}-hub-{table}-internet-on-premises", table, "0.0.0.0/0",
                                 hub.on_premises_attachment_id)

    zones: CentralEndpointZones | None = None
    central_endpoint_ids: dict[str, Any] = {}
    shared_vpcs: dict[str, Any] = {}
    for key, cidr in platform.cidr_plan.shared.items():
        account_key = key.replace("_", "-")
        label = f"{platform.name_prefix}-{account_key}"
        is_hub = key == "network"
        provider = hub_provider if is_hub else account_provider(account_key, platform, account(account_key), tags)
        vpc = WorkloadVpc(
            f"{account_key}-vpc", label, cidr, net.azs_for("shared"), account(account_key), region, tags,
            flow_logs=ns.flow_log_settings(platform),
            transit=TransitGatewaySpoke(
                transit_gateway_id=hub.transit_gateway_id,
                association_route_table_id=hub.route_table_ids[ns.SHARED_TABLE],
                propagation_route_table_ids=dict(hub.route_table_ids),
                hub_provider=hub_provider,
                destinations=ns.spoke_destinations(platform),
                same_account=is_hub,
                depends_on=[] if is_hub else hub.share_ready,
            ),
            internet_via_transit=ns.internet_via_transit(platform, account_key),
            opts=pulumi.ResourceOptions(provider=provider),
        )
        central = net.endpoints.mode == "central"
        if is_hub:
            # Per-VPC mode: the hub VPC carries no workloads, so only the free S3 gateway.
            services = ns.central_services(platform) if central else []
            ingress = sorted({platform.cidr_plan.supernet}) if central else [cidr]
        else:
            services = [] if central else ns.shared_vpc_services(platform, key)
            ingress = [cidr]
        endpoints = VpcEndpoints(
            f"{account_key}-endpoints", vpc.vpc_id, region, organization_id, services, vpc.subnet_ids, ingress, tags,
            route_table_ids=vpc.route_table_ids, bucket_prefixes=ns.bucket_prefixes(platform),
            private_dns=not (central and is_hub), label=label,
            opts=pulumi.ResourceOptions(provider=provider, parent=vpc),
        )
        if central and is_hub:
            zones = CentralEndpointZones(f"{platform.name_prefix}-central-endpoints", region, vpc.vpc_id,
                                         endpoints.endpoints, tags,
                                         opts=pulumi.ResourceOptions(provider=hub_provider, parent=endpoints))
            central_endpoint_ids = endpoints.endpoint_ids
        shared_vpcs[key] = (vpc, endpoints, provider, account(account_key))

    if zones is not None:
        # The shared accounts' VPCs join the zones of the services they use.
        for key, (vpc, _, provider, _) in shared_vpcs.items():
            if key == "network":
                continue
            for service in ns.shared_vpc_services(platform, key):
                associate_zone(f"{key.replace('_', '-')}-zone-{service.replace('.', '-')}", zones.zone_ids[service],
                               vpc.vpc_id, region, hub_provider, provider, parent=vpc)

    sandbox_vpcs: dict[str, Any] = {}
    for sandbox in platform.sandbox_accounts:
        sandbox_tags = platform_tags(platform, "sandbox", "sandbox", owner=sandbox.owner)
        provider = account_provider(sandbox.name, platform, account(sandbox.name), sandbox_tags)
        # NET-5: no Transit Gateway attachment, and no share reaches the Sandbox OU.
        vpc = WorkloadVpc(f"{sandbox.name}-vpc", sandbox.name, net.sandbox.cidr, net.azs_for("sandbox"),
                          account(sandbox.name), region, sandbox_tags, flow_logs=ns.flow_log_settings(platform),
                          transit=None, opts=pulumi.ResourceOptions(provider=provider))
        endpoints = VpcEndpoints(
            f"{sandbox.name}-endpoints", vpc.vpc_id, region, organization_id, net.sandbox.endpoints, vpc.subnet_ids,
            [net.sandbox.cidr], sandbox_tags, route_table_ids=vpc.route_table_ids,
            bucket_prefixes=ns.bucket_prefixes(platform), label=sandbox.name,
            opts=pulumi.ResourceOptions(provider=provider, parent=vpc))
        sandbox_vpcs[sandbox.name] = (vpc, endpoints, provider, account(sandbox.name))

    egress_attachment = None
    if net.egress is not None:
        egress = EgressVpc(
            f"{platform.name_prefix}-egress", f"{platform.name_prefix}-egress", net.egress.cidr,
            net.azs_for("shared", net.egress.azs), network_account, region, hub.transit_gateway_id,
            hub.route_table_ids[ns.EDGE_TABLE], [platform.cidr_plan.supernet], tags,
            flow_logs=ns.flow_log_settings(platform), opts=pulumi.ResourceOptions(provider=hub_provider))
        # Only the route tables of the named accounts send the default route to the egress VPC.
        for table in sorted({ns.environment_of(platform, key) for key in net.egress.accounts}):
            hub.static_route(f"{platform.name_prefix}-hub-{table}-internet-egress", table, "0.0.0.0/0",
                             egress.attachment_id)
        egress_attachment = egress.attachment_id

    pulumi.export("networkAccountId", network_account)
    pulumi.export("transitGatewayId", hub.transit_gateway_id)
    pulumi.export("transitGatewayArn", hub.transit_gateway_arn)
    pulumi.export("transitGatewayRouteTableIds", hub.route_table_ids)
    pulumi.export("resourceShareArn", hub.resource_share_arn)
    pulumi.export("endpointMode", net.endpoints.mode)
    pulumi.export("centralEndpointIds", central_endpoint_ids)
    pulumi.export("centralEndpointZoneIds", zones.zone_ids if zones else {})
    pulumi.export("sharedVpcs", {key: _vpc_outputs(*value) for key, value in shared_vpcs.items()})
    pulumi.export("sandboxVpcs", {key: _vpc_outputs(*value) for key, value in sandbox_vpcs.items()})
    if hub.on_premises_attachment_id is not None:
        pulumi.export("onPremisesAttachmentId", hub.on_premises_attachment_id)
    if egress_attachment is not None:
        pulumi.export("egressAttachmentId", egress_attachment)


def _vpc_outputs(vpc: WorkloadVpc, endpoints: VpcEndpoints, _provider: aws.Provider,
                 account_id: pulumi.Output[str]) -> dict[str, Any]:
    out = {
        "vpcId": vpc.vpc_id,
        "cidr": vpc.cidr,
        "accountId": account_id,
        "subnetIds": vpc.subnet_ids,
        "routeTableIds": vpc.route_table_ids,
        "endpointSecurityGroupId": endpoints.security_group_id,
        "s3GatewayEndpointId": endpoints.s3_gateway_endpoint_id,
        "s3PrefixListId": endpoints.s3_prefix_list_id,
        "interfaceEndpointIds": endpoints.endpoint_ids,
    }
    if vpc.attachment_id is not None:
        out["attachmentId"] = vpc.attachment_id
    return out
