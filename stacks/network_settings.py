"""Settings of the network layer (`network:` in the platform definition).

Every key has a secure default; the sample sets them explicitly so they can be read in one
place. Cross-field checks (`validate`) report each problem with the key it concerns.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from components.vpc_endpoints import INTERFACE_SERVICES
from components.workload_vpc import SUBNET_MIN_PREFIX, carve_bits
from components.workload_vpc import FlowLogSettings as VpcFlowLogs
from stacks import data_settings, delivery_settings, model_sharing_settings
from stacks.config_model import ENVIRONMENTS, LOG_RETENTION_DAYS, ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

# The whitepaper's list ("Networking architecture"), plus SSM where parameters are read
# (whitepaper: configuration through Parameter Store; RK blog: model ARNs in Parameter Store).
# sagemaker.runtime is dropped in dev (SM-7) and rekognition added for model consumers by the
# project stacks.
PROJECT_SERVICES = [
    "sagemaker.api", "sagemaker.runtime", "sagemaker.featurestore-runtime", "sts", "logs", "monitoring",
    "cloudtrail", "ecr.api", "ecr.dkr", "codepipeline", "codebuild", "codeartifact.api",
    "codeartifact.repositories", "ssm",
]
# The shared accounts' VPCs host build and data tooling, not notebooks.
SHARED_VPC_SERVICES = [
    "sts", "logs", "monitoring", "ecr.api", "ecr.dkr", "codeartifact.api", "codeartifact.repositories", "ssm",
]
# Sandboxes are for experimenting with AWS services, detached from the corporate network;
# no sagemaker.runtime (SM-7 denies invoking endpoints there).
SANDBOX_SERVICES = ["sagemaker.api", "sts", "logs", "monitoring", "ecr.api", "ecr.dkr", "codeartifact.api",
                    "codeartifact.repositories"]
LAKE_QUERY_SERVICES = ("athena", "glue", "lakeformation")
NO_RUNTIME_ENVIRONMENTS = ("dev",)  # SM-7: no SageMaker endpoints in dev (and sandbox)
ENVIRONMENT_KEYS = ("dev", "preprod", "prod", "shared", "sandbox")
MIN_AZS = {"prod": 3}  # production spans three zones; everything else at least two




class EndpointSettings(ConfigModel):
    """Which interface endpoints each kind of VPC gets, and where they live.

    `mode: per-vpc` puts the endpoints in every VPC; `mode: central` puts one set in the
    network account's VPC, reached over the Transit Gateway, with Route 53 private hosted
    zones associated to the spokes (fewer endpoint-hours; `python -m network_costs` compares).
    """

    mode: Literal["per-vpc", "central"] = "per-vpc"
    project_services: list[str] = Field(default_factory=lambda: list(PROJECT_SERVICES))
    shared_vpc_services: list[str] = Field(default_factory=lambda: list(SHARED_VPC_SERVICES))
    # Bucket name prefixes the S3 gateway endpoint admits besides `<name_prefix>-`.
    extra_bucket_prefixes: list[str] = []


class FlowLogSettings(ConfigModel):
    retention_days: int = 365
    traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = "ALL"
    max_aggregation_interval: Literal[60, 600] = 600
    # Flow logs are audit data: their key and log group are protected unless this is set.
    allow_destroy: bool = False


class OnPremisesSettings(ConfigModel):
    """The corporate network's attachment to the hub (whitepaper: Direct Connect or VPN)."""

    connection: Literal["vpn", "direct-connect"]
    cidrs: list[str] = Field(min_length=1)
    # Route the internet through the corporate network (whitepaper's "internet egress route").
    internet_egress: bool = False
    customer_gateway_ip: str | None = None
    bgp_asn: int = 65000
    static_routes_only: bool = True
    dx_gateway_id: str | None = None


class EgressSettings(ConfigModel):
    """A central egress VPC (internet gateway + NAT) in the network account, used only by the
    accounts named in `accounts` (keys as in the organization's `accountIds`)."""

    cidr: str
    accounts: list[str] = Field(min_length=1)
    azs: int = Field(default=0, ge=0, le=6)


class SandboxSettings(ConfigModel):
    """Sandbox VPCs: isolated (no Transit Gateway attachment, NET-5), so their range may
    repeat across sandboxes; private subnets and their own endpoints."""

    cidr: str = "172.16.0.0/22"
    endpoints: list[str] = Field(default_factory=lambda: list(SANDBOX_SERVICES))


class NetworkSettings(ConfigModel):
    amazon_side_asn: int = 64512
    # Availability Zones per VPC by environment (`shared` for the shared accounts' VPCs);
    # a project environment's own `azs` overrides it.
    default_azs: dict[str, int] = Field(default_factory=lambda: {"dev": 2, "preprod": 2, "prod": 3, "shared": 2,
                                                                  "sandbox": 2})
    endpoints: EndpointSettings = EndpointSettings()
    flow_logs: FlowLogSettings = FlowLogSettings()
    sandbox: SandboxSettings = SandboxSettings()
    on_premises: OnPremisesSettings | None = None
    egress: EgressSettings | None = None

    def azs_for(self, environment: str, override: int = 0) -> int:
        """Availability Zones of a VPC in `environment` (0 means the default)."""
        return override or self.default_azs.get(environment) or (3 if environment == "prod" else 2)


def project_services(platform: "PlatformConfig", project: str, environment: str) -> list[str]:
    """The interface endpoints a project environment's VPC needs: the configured list, without
    SageMaker Runtime where SM-7 forbids invoking endpoints, plus Rekognition for projects that
    consume models shared by another project and for the consumer environments of a project's
    shared model (RK blog, "Avoiding the public internet"; STS too where they assume the
    producer's role), plus execute-api in production when the endpoint has its API front, plus Athena, Glue and Lake Formation where the environment has data-lake grants."""
    services = [s for s in platform.network.endpoints.project_services
                if not (s == "sagemaker.runtime" and environment in NO_RUNTIME_ENVIRONMENTS)]
    if platform.project(project).consumes_models_from and "rekognition" not in services:
        services.append("rekognition")
    # A consumer of the project's shared model calls Rekognition (and, across accounts, STS for
    # the producer's role) through its own endpoints; the role policies require them.
    services.extend(s for s in model_sharing_settings.endpoint_services(platform, project, environment)
                    if s not in services)
    # The production endpoint's API front is reached through its VPC's execute-api endpoint.
    services.extend(s for s in delivery_settings.endpoint_services(platform, project, environment) if s not in services)
    # Environments that read the data lake query it from private subnets.
    if data_settings.consumer_grants(platform, project, environment):
        services.extend(s for s in LAKE_QUERY_SERVICES if s not in services)
    return services


def shared_vpc_services(platform: "PlatformConfig", key: str) -> list[str]:
    """The interface endpoints the shared VPC `key` (of `cidr_plan.shared`) needs: the configured
    list, plus SageMaker's API in the automation VPC where a delivery pipeline deploys (its
    approved-version resolver runs there and lists the registry's versions) or runs a SageMaker
    pipeline (its runner starts and watches the pipeline's executions)."""
    services = list(platform.network.endpoints.shared_vpc_services)
    if key == delivery_settings.AUTOMATION_ACCOUNT and "sagemaker.api" not in services and any(
            delivery_settings.calls_sagemaker(platform, project) for project in platform.delivery.projects):
        services.append("sagemaker.api")
    return services


def central_services(platform: "PlatformConfig") -> list[str]:
    """Every service some spoke needs, in catalog order: the central endpoint set."""
    wanted = {s for key in platform.cidr_plan.shared for s in shared_vpc_services(platform, key)}
    for project in platform.projects:
        for env in project.environments:
            wanted.update(project_services(platform, project.name, env))
    return [key for key in INTERFACE_SERVICES if key in wanted]


def bucket_prefixes(platform: "PlatformConfig") -> list[str]:
    """Name prefixes of the platform's buckets (S3 gateway endpoint policy)."""
    return [f"{platform.name_prefix}-", *platform.network.endpoints.extra_bucket_prefixes]


def top_level_ou(path: str) -> str:
    return path.split("/", 1)[0]


def share_ous(platform: "PlatformConfig") -> list[str]:
    """Top-level OUs whose accounts attach to the hub: the Transit Gateway is shared with these
    (Workloads, Infrastructure, Deployments in the sample) and never with the Sandbox OU."""
    found: list[str] = []
    for key in platform.cidr_plan.shared:
        if key != "network":
            found.append(top_level_ou(platform.shared_account_ou(key)))
    project_accounts = {f"{p.name}-{env}" for p in platform.projects for env in p.environments}
    for key, (_, ou) in platform.accounts().items():
        if key in project_accounts:
            found.append(top_level_ou(ou))
    return sorted(set(found))


def _cidr(key: str, value: str, problems: list[str]) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        problems.append(f"{key}: '{value}' is not a valid IPv4 CIDR block ({exc}; allowed: e.g. 10.0.0.0/8)")
        return None


def _services(key: str, services: list[str], problems: list[str]) -> None:
    for i, service in enumerate(services):
        if service not in INTERFACE_SERVICES:
            problems.append(f"{key}[{i}]: unknown interface endpoint '{service}' (allowed: {', '.join(INTERFACE_SERVICES)})")
        elif services.index(service) != i:
            problems.append(f"{key}[{i}]: '{service}' is listed twice")


def _fits(key: str, cidr: str, azs: int, problems: list[str], subnets_per_az: int = 1) -> None:
    try:
        net = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        return  # reported where the range is defined
    prefix = net.prefixlen + carve_bits(azs * subnets_per_az)
    if prefix > SUBNET_MIN_PREFIX:
        problems.append(f"{key}: {cidr} is too small for {azs} Availability Zones (subnets would be /{prefix}; "
                        f"allowed: at most /{SUBNET_MIN_PREFIX}, so use a larger range or fewer zones)")


def validate(platform: "PlatformConfig") -> list[str]:
    """Cross-field checks of the network settings; every problem, each naming its key."""
    problems: list[str] = []
    net = platform.network
    asn = net.amazon_side_asn
    if not (64512 <= asn <= 65534 or 4200000000 <= asn <= 4294967294):
        problems.append(f"network.amazon_side_asn: {asn} is not a private ASN (allowed: 64512-65534 or 4200000000-4294967294)")

    for env, count in net.default_azs.items():
        if env not in ENVIRONMENT_KEYS:
            problems.append(f"network.default_azs.{env}: unknown environment (allowed: {', '.join(ENVIRONMENT_KEYS)})")
        elif not MIN_AZS.get(env, 2) <= count <= 6:
            problems.append(f"network.default_azs.{env}: {count} Availability Zones (allowed: {MIN_AZS.get(env, 2)} to 6)")
    for i, project in enumerate(platform.projects):
        for env, spec in project.environments.items():
            if spec.azs and spec.azs < MIN_AZS.get(env, 2):
                problems.append(f"projects[{i}].environments.{env}.azs: {spec.azs} Availability Zone(s) "
                                f"(allowed: 0 for the default, or at least {MIN_AZS.get(env, 2)} in {env})")
            _fits(f"projects[{i}].environments.{env}.cidr", spec.cidr, net.azs_for(env, spec.azs), problems)
    for key, cidr in platform.cidr_plan.shared.items():
        _fits(f"cidr_plan.shared.{key}", cidr, net.azs_for("shared"), problems)

    _services("network.endpoints.project_services", net.endpoints.project_services, problems)
    _services("network.endpoints.shared_vpc_services", net.endpoints.shared_vpc_services, problems)
    _services("network.sandbox.endpoints", net.sandbox.endpoints, problems)
    if "sagemaker.runtime" in net.sandbox.endpoints:
        problems.append("network.sandbox.endpoints: 'sagemaker.runtime' is not allowed in sandboxes "
                        "(SM-7: SageMaker endpoints are denied in sandbox and dev)")
    if net.endpoints.mode == "central" and "network" not in platform.cidr_plan.shared:
        problems.append("network.endpoints.mode: 'central' needs cidr_plan.shared.network (the hub VPC that holds the endpoints)")
    for i, prefix in enumerate(net.endpoints.extra_bucket_prefixes):
        if len(prefix) < 3 or not all(c.islower() or c.isdigit() or c in "-." for c in prefix):
            problems.append(f"network.endpoints.extra_bucket_prefixes[{i}]: '{prefix}' is not a bucket name prefix "
                            "(allowed: at least 3 characters of a-z, 0-9, '-', '.')")

    if net.flow_logs.retention_days not in LOG_RETENTION_DAYS:
        problems.append(f"network.flow_logs.retention_days: {net.flow_logs.retention_days} is not a CloudWatch Logs "
                        f"retention (allowed: {', '.join(map(str, LOG_RETENTION_DAYS))})")

    sandbox = _cidr("network.sandbox.cidr", net.sandbox.cidr, problems)
    if sandbox is not None:
        _fits("network.sandbox.cidr", net.sandbox.cidr, net.azs_for("sandbox"), problems)
    shared = set(share_ous(platform))
    for i, spec in enumerate(platform.sandbox_accounts):
        ou = spec.ou or "Sandbox"
        if top_level_ou(ou) in shared:
            problems.append(f"sandbox_accounts[{i}].ou: '{ou}' is inside {top_level_ou(ou)}, which receives the "
                            "Transit Gateway share (NET-5: sandboxes stay detached; allowed: an OU outside "
                            f"{', '.join(sorted(shared))})")

    planned: list[tuple[str, ipaddress.IPv4Network]] = []
    for key, cidr in platform.cidr_plan.shared.items():
        if (n := _quiet(cidr)) is not None:
            planned.append((f"cidr_plan.shared.{key}", n))
    for i, project in enumerate(platform.projects):
        for env, spec in project.environments.items():
            if (n := _quiet(spec.cidr)) is not None:
                planned.append((f"projects[{i}].environments.{env}.cidr", n))

    if net.on_premises is not None:
        op = net.on_premises
        for i, cidr in enumerate(op.cidrs):
            key = f"network.on_premises.cidrs[{i}]"
            block = _cidr(key, cidr, problems)
            if block is None:
                continue
            if block.prefixlen == 0:
                problems.append(f"{key}: the default route is not a corporate range (allowed: set network.on_premises.internet_egress instead)")
            for other_key, other in planned:
                if block.overlaps(other):
                    problems.append(f"{key}: {block} overlaps {other_key} ({other})")
        if op.connection == "vpn":
            if op.customer_gateway_ip is None:
                problems.append("network.on_premises.customer_gateway_ip: required key is missing for connection 'vpn'")
            else:
                try:
                    address = ipaddress.IPv4Address(op.customer_gateway_ip)
                    if any(address in block for block in _NOT_INTERNET):
                        problems.append(f"network.on_premises.customer_gateway_ip: '{op.customer_gateway_ip}' is not a "
                                        "public address (allowed: the corporate VPN device's internet address)")
                except ValueError:
                    problems.append(f"network.on_premises.customer_gateway_ip: '{op.customer_gateway_ip}' is not an IPv4 address")
            if op.dx_gateway_id is not None:
                problems.append("network.on_premises.dx_gateway_id: only for connection 'direct-connect'")
        else:
            if op.dx_gateway_id is None:
                problems.append("network.on_premises.dx_gateway_id: required key is missing for connection 'direct-connect'")
            if op.customer_gateway_ip is not None:
                problems.append("network.on_premises.customer_gateway_ip: only for connection 'vpn'")
        if not (1 <= op.bgp_asn <= 4294967294):
            problems.append(f"network.on_premises.bgp_asn: {op.bgp_asn} is not an ASN (allowed: 1-4294967294)")

    if net.egress is not None:
        eg = net.egress
        block = _cidr("network.egress.cidr", eg.cidr, problems)
        if block is not None:
            for other_key, other in planned:
                if block.overlaps(other):
                    problems.append(f"network.egress.cidr: {block} overlaps {other_key} ({other})")
            _fits("network.egress.cidr", eg.cidr, net.azs_for("shared", eg.azs), problems, subnets_per_az=2)
        if eg.azs == 1:
            problems.append("network.egress.azs: 1 Availability Zone (allowed: 0 for the default, or at least 2)")
        accounts = platform.accounts()
        sandboxes = {s.name for s in platform.sandbox_accounts}
        attached = {k.replace("_", "-") for k in platform.cidr_plan.shared} | {
            f"{p.name}-{env}" for p in platform.projects for env in p.environments}
        for i, key in enumerate(eg.accounts):
            if key in sandboxes:
                problems.append(f"network.egress.accounts[{i}]: '{key}' is a sandbox (NET-5: sandboxes have no Transit Gateway path)")
            elif key not in accounts or key not in attached:
                problems.append(f"network.egress.accounts[{i}]: '{key}' is not an account with a platform VPC "
                                f"(allowed: {', '.join(sorted(attached))})")
        if net.on_premises is not None and net.on_premises.internet_egress:
            problems.append("network.egress: cannot be combined with network.on_premises.internet_egress "
                            "(one default route per environment; choose one)")
    return problems


# A VPN device's outside address must be reachable from the internet: not RFC 1918, shared
# address space, loopback, link-local or multicast (documentation ranges pass, for samples).
_NOT_INTERNET = [ipaddress.IPv4Network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "224.0.0.0/4", "0.0.0.0/8", "240.0.0.0/4")]


def _quiet(value: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return None


# The hub's routing, shared by the network stack (which builds the route tables) and the
# project stacks (which attach to them).
SHARED_TABLE = "shared"
EDGE_TABLE = "edge"


def route_table_names(platform: PlatformConfig) -> list[str]:
    """The hub's route tables: one per environment, `shared`, and `edge` when needed."""
    names = [*ENVIRONMENTS, SHARED_TABLE]
    if platform.network.on_premises is not None or platform.network.egress is not None:
        names.append(EDGE_TABLE)
    return names


def spoke_destinations(platform: PlatformConfig) -> list[str]:
    """What a VPC routes to the Transit Gateway: the platform's supernet and the corporate
    ranges (the default route only where egress is configured for the account)."""
    onprem = platform.network.on_premises
    return [platform.cidr_plan.supernet, *(onprem.cidrs if onprem else [])]


def internet_via_transit(platform: PlatformConfig, account_key: str) -> bool:
    """Whether an account's VPC routes 0.0.0.0/0 to the hub: through the corporate network
    (on_premises.internet_egress) or the egress VPC for the accounts it names."""
    net = platform.network
    if net.on_premises is not None and net.on_premises.internet_egress:
        return True
    return net.egress is not None and account_key in net.egress.accounts


def flow_log_settings(platform: PlatformConfig) -> VpcFlowLogs:
    """The VPC component's flow-log settings from `network.flow_logs` (the key administered by
    the deployment and break-glass roles)."""
    f = platform.network.flow_logs
    org = platform.organization
    return VpcFlowLogs(retention_days=f.retention_days, traffic_type=f.traffic_type,
                       max_aggregation_interval=f.max_aggregation_interval, allow_destroy=f.allow_destroy,
                       key_administrators=(org.deployment_role, org.break_glass_role_name))


def environment_of(platform: PlatformConfig, account_key: str) -> str:
    """The hub route table an account's VPC is associated with."""
    for project in platform.projects:
        for env in project.environments:
            if account_key == f"{project.name}-{env}":
                return env
    return SHARED_TABLE
