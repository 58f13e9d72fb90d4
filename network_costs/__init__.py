"""Monthly run-rate of the network layer: interface endpoints in every VPC vs central ones.

Interface endpoints are billed per endpoint per Availability Zone per hour, whether used or
not, plus per GB processed; in `central` mode one set in the network account serves every
spoke over the Transit Gateway (which adds its per-GB charge) and needs a Route 53 private
hosted zone per service. Transit Gateway attachments are the same in both modes. The model
counts exactly what the program builds for a platform definition (same service lists and
Availability Zones, via `stacks.network_settings`), priced from `prices.yaml`.

Not counted (same in both modes or outside the comparison): the S3 gateway endpoint (free),
flow-log ingestion and storage, cross-AZ data transfer, NAT/VPN hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stacks import network_settings as ns
from stacks.config import PlatformConfig

PRICES_FILE = Path(__file__).resolve().parent / "prices.yaml"


@dataclass(frozen=True)
class Prices:
    """Regional list prices (see prices.yaml for their source and date)."""

    region: str
    as_of: str
    currency: str
    hours_per_month: float
    interface_endpoint_hour: float
    interface_endpoint_gb: float
    tgw_attachment_hour: float
    tgw_gb: float
    route53_hosted_zone_month: float


def load_prices(region: str, path: Path = PRICES_FILE) -> Prices:
    """The price table's figures for `region`; a region missing from it is an error."""
    data = yaml.safe_load(path.read_text())
    regions = data.get("regions", {})
    if region not in regions:
        raise KeyError(f"{path.name}: no prices for region '{region}' (priced: {', '.join(regions)}); add them from the sources listed in the file")
    return Prices(region=region, as_of=str(data["as_of"]), currency=data["currency"],
                  hours_per_month=float(data["hours_per_month"]),
                  route53_hosted_zone_month=float(data["route53_hosted_zone_month"]), **regions[region])


@dataclass(frozen=True)
class VpcUse:
    """One VPC of the platform: its Availability Zones, interface endpoints it needs, and
    whether it is attached to the Transit Gateway."""

    name: str
    azs: int
    services: tuple[str, ...]
    attached: bool
    isolated: bool = False  # sandboxes keep their own endpoints in both modes


@dataclass
class Estimate:
    """One mode's monthly run-rate, by line."""

    mode: str
    endpoint_az_count: int = 0  # interface endpoints x AZs
    lines: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def platform_vpcs(platform: PlatformConfig) -> list[VpcUse]:
    """Every VPC the program builds, with the endpoints it would hold in per-VPC mode."""
    net = platform.network
    vpcs = []
    for key in platform.cidr_plan.shared:
        services = () if key == "network" else tuple(ns.shared_vpc_services(platform, key))
        vpcs.append(VpcUse(key.replace("_", "-"), net.azs_for("shared"), services, attached=True))
    for project in platform.projects:
        for env, spec in project.environments.items():
            vpcs.append(VpcUse(f"{project.name}-{env}", net.azs_for(env, spec.azs),
                               tuple(ns.project_services(platform, project.name, env)), attached=True))
    for sandbox in platform.sandbox_accounts:
        vpcs.append(VpcUse(sandbox.name, net.azs_for("sandbox"), tuple(net.sandbox.endpoints), attached=False,
                           isolated=True))
    return vpcs


def estimate(platform: PlatformConfig, prices: Prices, gb_per_vpc: float) -> dict[str, Estimate]:
    """Both modes' monthly run-rate; `gb_per_vpc` is the assumed data each VPC sends through
    interface endpoints per month."""
    net = platform.network
    hours = prices.hours_per_month
    vpcs = platform_vpcs(platform)
    users = [v for v in vpcs if v.services]
    attachments = sum(1 for v in vpcs if v.attached) + (1 if net.on_premises else 0) + (1 if net.egress else 0)
    tgw_hours = attachments * hours * prices.tgw_attachment_hour
    data_gb = gb_per_vpc * len(users)

    per_vpc = Estimate("per-vpc")
    per_vpc.endpoint_az_count = sum(len(v.services) * v.azs for v in vpcs)
    per_vpc.lines = {
        "interface endpoint-hours": per_vpc.endpoint_az_count * hours * prices.interface_endpoint_hour,
        "endpoint data processed": data_gb * prices.interface_endpoint_gb,
        "transit gateway attachment-hours": tgw_hours,
        "transit gateway data processed": 0.0,
        "route 53 private hosted zones": 0.0,
    }

    central_set = ns.central_services(platform)
    hub_azs = net.azs_for("shared")
    isolated = [v for v in vpcs if v.isolated]
    spokes_gb = gb_per_vpc * sum(1 for v in users if not v.isolated)
    central = Estimate("central")
    central.endpoint_az_count = len(central_set) * hub_azs + sum(len(v.services) * v.azs for v in isolated)
    central.lines = {
        "interface endpoint-hours": central.endpoint_az_count * hours * prices.interface_endpoint_hour,
        "endpoint data processed": data_gb * prices.interface_endpoint_gb,
        "transit gateway attachment-hours": tgw_hours,
        # Spoke traffic to the central endpoints crosses the Transit Gateway.
        "transit gateway data processed": spokes_gb * prices.tgw_gb,
        "route 53 private hosted zones": len(central_set) * prices.route53_hosted_zone_month,
    }
    return {"per-vpc": per_vpc, "central": central}


def report(platform: PlatformConfig, prices: Prices, gb_per_vpc: float) -> str:
    """The comparison as text, with its assumptions and the price table's date."""
    results = estimate(platform, prices, gb_per_vpc)
    vpcs = platform_vpcs(platform)
    a, b = results["per-vpc"], results["central"]
    cur = "$" if prices.currency == "USD" else prices.currency + " "
    lines = [
        f"Network run-rate per month for '{platform.name_prefix}' in {prices.region} "
        f"(list prices as of {prices.as_of}, {prices.currency}; source: network_costs/prices.yaml)",
        f"Assumptions: {prices.hours_per_month:g} hours/month; {gb_per_vpc:g} GB/month per VPC through interface "
        f"endpoints; {len(vpcs)} VPCs ({sum(v.attached for v in vpcs)} attached to the Transit Gateway, "
        f"{sum(v.isolated for v in vpcs)} isolated sandbox(es) with their own endpoints in both modes)",
        f"Configured mode: {platform.network.endpoints.mode}",
        "",
        f"{'':34}{'per-vpc':>14}{'central':>14}",
        f"{'interface endpoints x AZs':34}{a.endpoint_az_count:>14}{b.endpoint_az_count:>14}",
    ]
    for line in a.lines:
        lines.append(f"{line:34}{cur + format(a.lines[line], ',.2f'):>14}{cur + format(b.lines[line], ',.2f'):>14}")
    lines.append(f"{'total':34}{cur + format(a.total, ',.2f'):>14}{cur + format(b.total, ',.2f'):>14}")
    cheaper = "central" if b.total < a.total else "per-vpc"
    lines += ["", f"Cheaper at this volume: {cheaper} (difference {cur}{abs(a.total - b.total):,.2f} per month).",
              "Central endpoints trade endpoint-hours for Transit Gateway data charges: above "
              f"{_break_even(a, b, len([v for v in vpcs if v.services and not v.isolated]), prices):,.0f} GB/month per "
              "spoke VPC, per-VPC endpoints cost less."]
    return "\n".join(lines)


def _break_even(a: Estimate, b: Estimate, spokes: int, prices: Prices) -> float:
    fixed_gap = (a.lines["interface endpoint-hours"] - b.lines["interface endpoint-hours"]
                 - b.lines["route 53 private hosted zones"])
    per_gb = spokes * prices.tgw_gb
    return max(0.0, fixed_gap / per_gb) if per_gb else float("inf")


def as_dict(results: dict[str, Estimate]) -> dict[str, Any]:
    return {mode: {"endpoint_az_count": e.endpoint_az_count, "lines": e.lines, "total": e.total}
            for mode, e in results.items()}
