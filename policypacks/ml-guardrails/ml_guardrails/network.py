"""Network: workload VPCs without internet paths (NET-1), private interface endpoints with
restrictive policies (NET-2), no ingress from anywhere (NET-3), flow logs on every VPC (NET-4)
and sandboxes detached from the corporate network (NET-5).

A resource's environment comes from its own `environment` tag, its provider's default tags, the
VPC it belongs to, the stack's `environment` tag, or the single environment all the stack's AWS
providers agree on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import (
    UNKNOWN,
    WORKLOAD_ENVIRONMENTS,
    ResourceContext,
    Stack,
    StackResource,
    as_int,
    as_list,
    resource_policy,
    stack_policy,
    truthy,
)
from .identity import is_allow, load_document, statements
from .storage import BUCKET, encryption_problems

DOMAIN = "network"

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
IGW_ATTACHMENT = "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment"
EGRESS_ONLY_IGW = "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
INSTANCE = "aws:ec2/instance:Instance"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ROUTE53_RECORD = "aws:route53/record:Record"
VPC_ENDPOINT_POLICY = "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TGW_ATTACHMENT = "aws:ec2transitgateway/vpcAttachment:VpcAttachment"
TGW_ATTACHMENT_ACCEPTER = "aws:ec2transitgateway/vpcAttachmentAccepter:VpcAttachmentAccepter"
PEERING = "aws:ec2/vpcPeeringConnection:VpcPeeringConnection"
VPN_GATEWAY = "aws:ec2/vpnGateway:VpnGateway"
VPN_CONNECTION = "aws:ec2/vpnConnection:VpnConnection"
ANYWHERE = ("0.0.0.0/0", "::/0")


def _internet_path(resource: StackResource) -> str | None:
    props = resource.props
    if resource.type in (INTERNET_GATEWAY, IGW_ATTACHMENT):
        return "an internet gateway"
    if resource.type == EGRESS_ONLY_IGW:
        return "an egress-only internet gateway"
    if resource.type == NAT_GATEWAY:
        kind = props.get("connectivityType")
        return None if kind in ("private", UNKNOWN) else "a public NAT gateway"
    if resource.type == EIP:
        return "an Elastic IP"
    if resource.type == SUBNET and truthy(props.get("mapPublicIpOnLaunch")) is True:
        return "a subnet mapping public IPs on launch"
    if resource.type == INSTANCE and truthy(props.get("associatePublicIpAddress")) is True:
        return "an instance with a public IP"
    return None


def _validate_no_internet(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    workload = [e.lower() for e in stack.config.get("workloadEnvironments") or []]
    for resource in stack.of_type(INTERNET_GATEWAY, IGW_ATTACHMENT, EGRESS_ONLY_IGW, NAT_GATEWAY, EIP, SUBNET, INSTANCE):
        path = _internet_path(resource)
        if not path:
            continue
        env, source = stack.environment_of(resource)
        if env in workload:
            vpcs = ", ".join(v.name for v in stack.vpcs_of(resource)) or "its VPC"
            report(f"{resource.display} gives {vpcs} ({env} from {source}) {path}; workload VPCs egress only "
                   "through the network hub", resource.urn)


def _endpoint_policy_problems(value: Any, label: str) -> list[str]:
    document = load_document("endpoint", label, value)
    if document is None:
        return [f"{label} has no endpoint policy (the default allows every action for everyone)"]
    if document.unknown or document.doc is None:
        return [document.error] if document.error else []
    for statement in statements(document.doc):
        if not is_allow(statement) or statement.get("Condition"):
            continue
        principal = statement.get("Principal")
        everyone = principal in ("*", {"AWS": "*"}) or "Principal" not in statement
        all_actions = any(a in ("*", "*:*") for a in as_list(statement.get("Action"))) or "NotAction" in statement
        all_resources = "*" in as_list(statement.get("Resource")) or "NotResource" in statement
        if everyone and all_actions and all_resources:
            return [f"{label} allows every action on every resource for everyone (full access)"]
    return []


# Services whose interface endpoints accept only the full-access policy (AWS PrivateLink guide,
# "Control access to VPC endpoints using endpoint policies"; describe-vpc-endpoint-services'
# VpcEndpointPolicySupported): the program must leave their policy unset, IAM and SCPs guard them.
FULL_ACCESS_ONLY_SERVICES = ["lakeformation"]


def _service_key(service_name: Any) -> str | None:
    """`lakeformation` for `com.amazonaws.eu-west-1.lakeformation` (None for other names)."""
    parts = service_name.split(".", 3) if isinstance(service_name, str) else []
    return parts[3] if len(parts) == 4 and parts[:2] == ["com", "amazonaws"] else None


def _validate_endpoints(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    require_dns = stack.config.get("requirePrivateDns", True)
    full_access_only = set(stack.config.get("fullAccessOnlyServices", FULL_ACCESS_ONLY_SERVICES))
    for endpoint in stack.of_type(VPC_ENDPOINT):
        kind = endpoint.props.get("vpcEndpointType") or "Gateway"
        if kind not in ("Interface", "Gateway"):
            continue  # GatewayLoadBalancer, Resource and ServiceNetwork endpoints take no policy
        problems = []
        # A central endpoint answers through a Route 53 private zone whose record aliases it
        # (private DNS must be off there, or the hub VPC would shadow the zone): that is private
        # DNS too.
        served_by_zone = bool(stack.children(endpoint, (ROUTE53_RECORD,), "aliases"))
        private_dns = endpoint.set_by_program("privateDnsEnabled")
        if kind == "Interface" and require_dns and not served_by_zone \
                and private_dns is not UNKNOWN and truthy(private_dns) is not True:
            problems.append("private DNS is not enabled (nor a private hosted zone record aliasing it)")
        policies = [p for p in stack.children(endpoint, (VPC_ENDPOINT_POLICY,), "vpcEndpointId")]
        if policies:
            for policy in policies:
                problems += _endpoint_policy_problems(policy.props.get("policy"), f"endpoint policy {policy.name}")
        elif not (kind == "Interface" and endpoint.set_by_program("policy") is None
                  and _service_key(endpoint.props.get("serviceName")) in full_access_only):
            problems += _endpoint_policy_problems(endpoint.set_by_program("policy"), "the endpoint")
        if problems:
            service = endpoint.props.get("serviceName")
            report(f"{kind} endpoint {endpoint.name} ({service if isinstance(service, str) else 'service unknown'}): "
                   + "; ".join(problems), endpoint.urn)


def _open_rules(ctx: ResourceContext) -> list[tuple[str, Any, Any]]:
    """(cidr, from port, to port) of ingress rules open to the world."""
    props = ctx.props
    rules: list[tuple[str, Any, Any]] = []
    if ctx.type == SECURITY_GROUP:
        for rule in as_list(props.get("ingress")):
            if isinstance(rule, dict):
                for cidr in as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks")):
                    if cidr in ANYWHERE:
                        rules.append((cidr, rule.get("fromPort"), rule.get("toPort")))
    elif ctx.type == INGRESS_RULE:
        for cidr in (props.get("cidrIpv4"), props.get("cidrIpv6")):
            if cidr in ANYWHERE:
                rules.append((cidr, props.get("fromPort"), props.get("toPort")))
    elif ctx.type == SG_RULE and props.get("type") == "ingress":
        for cidr in as_list(props.get("cidrBlocks")) + as_list(props.get("ipv6CidrBlocks")):
            if cidr in ANYWHERE:
                rules.append((cidr, props.get("fromPort"), props.get("toPort")))
    return rules


def _validate_ingress(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    allowed = {as_int(p) for p in ctx.config.get("allowedPublicPorts") or []}
    for cidr, from_port, to_port in _open_rules(ctx):
        low, high = as_int(from_port), as_int(to_port)
        if low is not None and low == high and low in allowed:
            continue
        # Ports arrive as numbers (floats over the protocol): print them as the integers they are.
        first = from_port if low is None else low
        last = to_port if high is None else high
        ports = f"port {first}" if low == high else f"ports {first}-{last}"
        report(f"{ctx.type.split(':')[-1]} {ctx.name} admits {cidr} on {ports}")


def _flow_log_destination_problems(stack: Stack, flow_log: StackResource) -> list[str]:
    kind = flow_log.props.get("logDestinationType") or "cloud-watch-logs"
    problems = []
    if kind == "cloud-watch-logs":
        for group in stack.linked(flow_log, "logDestination", (LOG_GROUP,)):
            if group.props.get("kmsKeyId") is not UNKNOWN and not group.props.get("kmsKeyId"):
                problems.append(f"flow log {flow_log.name} writes to log group {group.name}, which has no kmsKeyId")
    elif kind == "s3":
        for bucket in stack.linked(flow_log, "logDestination", (BUCKET,)):
            problems += [f"flow log {flow_log.name} destination: {p}" for p in encryption_problems(stack, bucket)]
    return problems


def _validate_flow_logs(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    for vpc in stack.of_type(VPC):
        flow_logs = stack.children(vpc, (FLOW_LOG,), "vpcId")
        if not flow_logs:
            report(f"VPC {vpc.name} has no flow log (aws.ec2.FlowLog with vpc_id)", vpc.urn)
            continue
        problems = [p for f in flow_logs for p in _flow_log_destination_problems(stack, f)]
        if problems:
            report(f"VPC {vpc.name}: " + "; ".join(problems), vpc.urn)


def _validate_sandbox(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    sandboxes = [e.lower() for e in stack.config.get("sandboxEnvironments") or []]
    for resource in stack.of_type(TGW_ATTACHMENT, TGW_ATTACHMENT_ACCEPTER, PEERING, VPN_GATEWAY, VPN_CONNECTION):
        env, source = stack.environment_of(resource)
        if env in sandboxes:
            report(f"{resource.display} connects a {env} account (from {source}) to other networks; sandboxes "
                   "are detached from the corporate network", resource.urn)


POLICIES = [
    stack_policy(
        name="net-1-no-internet-in-workload-vpcs", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="NET-1: workload VPCs (environment dev, preprod, prod, sandbox) have no internet gateway, "
                    "egress-only gateway, public NAT gateway, Elastic IP, public subnet or public instance IP; "
                    "egress goes through the network hub.",
        remediation="Remove the internet path; route 0.0.0.0/0 to the Transit Gateway attachment and use the "
                    "hub's egress, and reach AWS services through interface/gateway endpoints.",
        validate=_validate_no_internet,
        config={
            "workloadEnvironments": {"type": "array", "items": {"type": "string"}, "default": WORKLOAD_ENVIRONMENTS,
                                     "description": "Environments whose VPCs are workload VPCs."},
        },
    ),
    stack_policy(
        name="net-2-private-endpoints", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="NET-2: interface VPC endpoints enable private DNS (or, central endpoints, are aliased by "
                    "a Route 53 private hosted zone record), and every interface and gateway "
                    "endpoint has an endpoint policy (inline or aws.ec2.VpcEndpointPolicy) that is not full "
                    "access ('*' for '*' on '*'), except interface endpoints of services that accept only the "
                    "full-access policy (fullAccessOnlyServices), which have none.",
        remediation="Set private_dns_enabled=True and give the endpoint a policy scoped to the organization "
                    "(aws:PrincipalOrgID) and to the actions and resources the platform uses.",
        validate=_validate_endpoints,
        config={
            "requirePrivateDns": {"type": "boolean", "default": True,
                                  "description": "Require private DNS on interface endpoints (turn off for hub "
                                                 "endpoints served through Route 53 private hosted zones)."},
            "fullAccessOnlyServices": {"type": "array", "items": {"type": "string"},
                                       "default": FULL_ACCESS_ONLY_SERVICES,
                                       "description": "Services (the part after com.amazonaws.<region>.) whose "
                                                      "interface endpoints accept only the full-access policy; "
                                                      "their endpoints may have none."},
        },
    ),
    resource_policy(
        name="net-3-no-ingress-from-anywhere", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="NET-3: no security group (inline ingress, aws.vpc.SecurityGroupIngressRule or "
                    "aws.ec2.SecurityGroupRule) admits 0.0.0.0/0 or ::/0.",
        remediation="Admit the source security group or the corporate / VPC CIDR ranges that need the port.",
        types=(SECURITY_GROUP, INGRESS_RULE, SG_RULE), validate=_validate_ingress,
        config={
            "allowedPublicPorts": {"type": "array", "items": {"type": "integer"}, "default": [],
                                   "description": "Single ports that may be open to the world (e.g. 443 on a "
                                                  "public load balancer in the hub)."},
        },
    ),
    stack_policy(
        name="net-4-vpc-flow-logs", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="NET-4: every VPC has a flow log, delivered to a KMS-encrypted log group or an SSE-KMS "
                    "bucket.",
        remediation="Add aws.ec2.FlowLog(vpc_id=<vpc>.id, traffic_type='ALL', log_destination=<log group or "
                    "bucket ARN>) with a KMS-encrypted destination.",
        validate=_validate_flow_logs,
    ),
    stack_policy(
        name="net-5-sandbox-detached", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="NET-5: sandbox stacks have no Transit Gateway attachment, VPC peering or VPN: sandbox "
                    "accounts are detached from the corporate network. A resource is in a sandbox when its "
                    "`environment` tag, its provider's default tags, its VPC's tags or the stack's "
                    "`environment` tag say so.",
        remediation="Remove the attachment; sandboxes reach the internet through their own egress and "
                    "exchange data only through approved, audited paths.",
        validate=_validate_sandbox,
        config={
            "sandboxEnvironments": {"type": "array", "items": {"type": "string"}, "default": ["sandbox"],
                                    "description": "Environments that are sandboxes."},
        },
    ),
]
