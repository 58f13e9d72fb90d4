"""The network hub: a Transit Gateway shared through RAM, one route table per environment.

The whitepaper ("Networking architecture") routes between accounts and to on-premises through
AWS Transit Gateway, over Direct Connect or VPN, with an optional internet egress route through
the corporate network. Here the Transit Gateway has no default route table: association and
propagation are always explicit, so an attachment reaches only what its route table holds and
dev can never route to prod. Attachments are accepted explicitly (no auto-accept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.naming import cidr_slug


@dataclass(frozen=True)
class OnPremisesConnection:
    """The corporate network's attachment: a site-to-site VPN to a customer gateway, or an
    existing Direct Connect gateway associated with the Transit Gateway.

    `cidrs` are the corporate ranges; `advertised_prefixes` are the platform ranges offered to
    the corporate network over Direct Connect.
    """

    kind: Literal["vpn", "direct-connect"]
    cidrs: Sequence[str]
    advertised_prefixes: Sequence[str] = ()
    customer_gateway_ip: str | None = None
    bgp_asn: int = 65000
    static_routes_only: bool = True
    dx_gateway_id: str | None = None


class TransitGatewayHub(pulumi.ComponentResource):
    """A Transit Gateway with default route-table association and propagation disabled,
    auto-accept disabled, one route table per name in `route_tables`, shared through RAM with
    `share_principals` (OU ARNs keyed by OU path) and never outside the organization.

    With `on_premises`, the VPN or Direct Connect gateway attachment is associated with
    `edge_route_table` and propagates into `on_premises_route_tables`.

    Outputs: `transit_gateway_id`, `transit_gateway_arn`, `route_table_ids` (by name),
    `resource_share_arn`, `on_premises_attachment_id` (None without on-premises).
    """

    transit_gateway_id: pulumi.Output[str]
    route_table_ids: dict[str, pulumi.Output[str]]
    resource_share_arn: pulumi.Output[str]
    on_premises_attachment_id: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        description: str,
        amazon_side_asn: int,
        route_tables: Sequence[str],
        share_principals: Mapping[str, pulumi.Input[str]],
        tags: Mapping[str, str],
        on_premises: OnPremisesConnection | None = None,
        edge_route_table: str | None = None,
        on_premises_route_tables: Sequence[str] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("ml-platform:network:TransitGatewayHub", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tgw = aws.ec2transitgateway.TransitGateway(
            name,
            description=description,
            amazon_side_asn=amazon_side_asn,
            auto_accept_shared_attachments="disable",
            default_route_table_association="disable",
            default_route_table_propagation="disable",
            dns_support="enable",
            vpn_ecmp_support="enable",
            tags={**tags, "Name": name},
            opts=child,
        )
        self.transit_gateway = tgw
        self.transit_gateway_id = tgw.id
        self.transit_gateway_arn = tgw.arn
        on_tgw = pulumi.ResourceOptions(parent=tgw)
        self.route_table_ids = {}
        for table in route_tables:
            rt = aws.ec2transitgateway.RouteTable(f"{name}-{table}", transit_gateway_id=tgw.id,
                                                  tags={**tags, "Name": f"{name}-{table}"}, opts=on_tgw)
            self.route_table_ids[table] = rt.id

        share = aws.ram.ResourceShare(
            f"{name}-share",
            name=f"{name}-transit-gateway",
            allow_external_principals=False,  # never outside the organization
            tags=dict(tags),
            opts=child,
        )
        # Accounts see the Transit Gateway only once it is shared with them: attachments made in
        # the same run (the shared accounts' VPCs) wait for these (`share_ready`).
        self.share_ready: list[pulumi.Resource] = [
            aws.ram.ResourceAssociation(f"{name}-share-tgw", resource_arn=tgw.arn, resource_share_arn=share.arn,
                                        opts=pulumi.ResourceOptions(parent=share))]
        for path, principal in share_principals.items():
            self.share_ready.append(aws.ram.PrincipalAssociation(
                f"{name}-share-{path.lower().replace('/', '-')}", principal=principal,
                resource_share_arn=share.arn, opts=pulumi.ResourceOptions(parent=share)))
        self.resource_share_arn = share.arn

        self.on_premises_attachment_id = None
        if on_premises is not None:
            if edge_route_table not in self.route_table_ids:
                raise ValueError(f"TransitGatewayHub {name}: on-premises needs the edge route table '{edge_route_table}'")
            attachment_id = self._on_premises(name, tgw, on_premises, tags)
            aws.ec2transitgateway.RouteTableAssociation(
                f"{name}-on-premises-association", transit_gateway_attachment_id=attachment_id,
                transit_gateway_route_table_id=self.route_table_ids[edge_route_table], opts=on_tgw)
            for table in on_premises_route_tables:
                aws.ec2transitgateway.RouteTablePropagation(
                    f"{name}-on-premises-propagation-{table}", transit_gateway_attachment_id=attachment_id,
                    transit_gateway_route_table_id=self.route_table_ids[table], opts=on_tgw)
                if on_premises.kind == "vpn" and on_premises.static_routes_only:
                    # Without BGP nothing propagates: the corporate ranges are routed statically.
                    for cidr in on_premises.cidrs:
                        self.static_route(f"{name}-{table}-on-premises-{cidr_slug(cidr)}", table, cidr, attachment_id)
            self.on_premises_attachment_id = attachment_id
        self.register_outputs({
            "transitGatewayId": tgw.id, "routeTableIds": self.route_table_ids,
            "resourceShareArn": share.arn, "onPremisesAttachmentId": self.on_premises_attachment_id,
        })

    def static_route(self, name: str, table: str, cidr: str, attachment_id: pulumi.Input[str]) -> None:
        """A static route in one of the hub's route tables."""
        aws.ec2transitgateway.Route(name, destination_cidr_block=cidr, transit_gateway_attachment_id=attachment_id,
                                    transit_gateway_route_table_id=self.route_table_ids[table],
                                    opts=pulumi.ResourceOptions(parent=self.transit_gateway))

    def _on_premises(self, name: str, tgw: aws.ec2transitgateway.TransitGateway, spec: OnPremisesConnection,
                     tags: Mapping[str, str]) -> pulumi.Output[str]:
        on_tgw = pulumi.ResourceOptions(parent=tgw)
        if spec.kind == "vpn":
            gateway = aws.ec2.CustomerGateway(f"{name}-on-premises", bgp_asn=str(spec.bgp_asn),
                                              ip_address=spec.customer_gateway_ip, type="ipsec.1",
                                              tags={**tags, "Name": f"{name}-on-premises"}, opts=on_tgw)
            vpn = aws.ec2.VpnConnection(f"{name}-on-premises", customer_gateway_id=gateway.id,
                                        transit_gateway_id=tgw.id, type="ipsec.1",
                                        static_routes_only=spec.static_routes_only,
                                        tags={**tags, "Name": f"{name}-on-premises"}, opts=on_tgw)
            return vpn.transit_gateway_attachment_id
        association = aws.directconnect.GatewayAssociation(
            f"{name}-on-premises", dx_gateway_id=spec.dx_gateway_id, associated_gateway_id=tgw.id,
            allowed_prefixes=list(spec.advertised_prefixes), opts=on_tgw)
        return association.transit_gateway_attachment_id


