"""Private access to AWS services from a VPC (guardrail NET-2): the whitepaper's endpoints.

The whitepaper ("Networking architecture") recommends VPC endpoints for S3, the SageMaker API,
SageMaker Runtime (only where endpoints may be invoked), the Feature Store runtime, STS,
CloudWatch, CloudTrail, ECR, CodePipeline, CodeBuild and CodeArtifact; the Rekognition blog
("Avoiding the public internet") adds Rekognition over PrivateLink for model consumers.

Every interface endpoint built here has private DNS (or, for central endpoints, a Route 53
private hosted zone standing in for it) and a security group that admits HTTPS from the allowed
CIDR blocks only. Its endpoint policy (see :func:`interface_endpoint_policy`) admits principals
of the organization only (`aws:PrincipalOrgID`) and, wherever the request names a resource that
an account owns, only resources of the organization (`aws:ResourceOrgID`), so an insider cannot
push images, packages or data to another organization's resources through the endpoint; the
few reads of AWS-owned resources the workloads need (SageMaker's prebuilt images, AWS public
parameters) are allowed by name. Services whose endpoints accept only the full-access policy
(:data:`FULL_ACCESS_ONLY_SERVICES`) get no policy: IAM and the SCPs guard them alone. The S3
gateway endpoint admits the platform's own buckets (by name prefix, and only buckets inside the
organization) plus the few AWS-owned buckets the services read from.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import document, policy_json
from policy_documents.service_authorization import action_resource_arns, compact_actions, expand_actions


# Interface endpoints of these services accept only the default full-access policy, and
# CreateVpcEndpoint rejects a custom one. AWS PrivateLink guide, "Control access to VPC
# endpoints using endpoint policies" (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html):
# "Not all AWS services support endpoint policies. If an AWS service doesn't support endpoint
# policies, we allow full access to any endpoint for the service", and "If an AWS service
# supports endpoint policies, its documentation includes endpoint policy examples" (linked from
# "AWS services that integrate with AWS PrivateLink",
# https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html).
# Lake Formation's page ("AWS Lake Formation and interface VPC endpoints",
# https://docs.aws.amazon.com/lake-formation/latest/dg/privatelink.html) documents the endpoint
# and no endpoint policy; the others in the catalog document one (e.g. CloudTrail: "supports VPC
# endpoints and VPC endpoint policies in all AWS Regions"). On a live account,
# `aws ec2 describe-vpc-endpoint-services` reports `VpcEndpointPolicySupported` per service.
FULL_ACCESS_ONLY_SERVICES: tuple[str, ...] = ("lakeformation",)


@dataclass(frozen=True)
class AwsOwnedRead:
    """Reads of resources the organization does not own that the workloads need through an
    endpoint; the endpoint policy allows them without `aws:ResourceOrgID`. Only List and Read
    actions belong here (the tests check them against the service authorization data), so a
    push or write never escapes the organization through this door. `resources` are ARNs
    (`{region}` substituted), `*` where the owners cannot be named."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)


# SageMaker's prebuilt images (deep learning containers, built-in algorithms, framework images)
# live in AWS-owned ECR registries outside the organization, with different account ids per
# Region and image family (SageMaker developer guide, "Docker Registry Paths and Example Code";
# aws-samples/data-perimeter-policy-examples, vpc_endpoint_policies/README.md, "Using Amazon
# SageMaker Pre-built Docker images"). Notebooks and builds pull them through the ECR endpoints,
# so the three pull actions are allowed on any repository: a pull sends only a repository name
# and digest out, while pushes (PutImage, the layer uploads) stay inside the organization.
ECR_PULL = AwsOwnedRead(
    "PullImagesOfAwsRegistries",
    ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
)
# AWS publishes public parameters (AMI ids, Region and service metadata) under `/aws/` with no
# owner account in the ARN (Systems Manager user guide, "Discovering public parameters";
# data-perimeter examples, "AllowRequestsByOrgsIdentitiesToAWSResources"). The account is a
# wildcard (which matches the empty account) because nobody else can own such a parameter:
# names beginning with `aws` are reserved.
SSM_PUBLIC_PARAMETERS = AwsOwnedRead(
    "ReadAwsPublicParameters",
    ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"),
    ("arn:aws:ssm:{region}:*:parameter/aws/*",),
)


@dataclass(frozen=True)
class EndpointService:
    """One AWS service reachable through an interface endpoint.

    `actions` bound the endpoint policy to the service's own actions; `dns_zone` is the
    service's private DNS name (`{region}` substituted) which a central endpoint's private
    hosted zone takes; `wildcard` adds `*.<zone>` (services addressed through sub-domains);
    `aws_owned_reads` are the reads outside the organization its clients need.
    """

    key: str
    actions: tuple[str, ...]
    dns_zone: str
    wildcard: bool = False
    aws_owned_reads: tuple[AwsOwnedRead, ...] = ()

    def service_name(self, region: str) -> str:
        return f"com.amazonaws.{region}.{self.key}"

    def zone_name(self, region: str) -> str:
        return self.dns_zone.format(region=region)

    @property
    def accepts_policy(self) -> bool:
        """False for the services whose endpoints take only the full-access policy."""
        return self.key not in FULL_ACCESS_ONLY_SERVICES


# The catalog of interface endpoints the platform knows (service names are
# `com.amazonaws.<region>.<key>`, see the AWS PrivateLink guide "AWS services that integrate
# with AWS PrivateLink"). Order is the whitepaper's.
INTERFACE_SERVICES: dict[str, EndpointService] = {
    s.key: s
    for s in (
        EndpointService("sagemaker.api", ("sagemaker:*",), "api.sagemaker.{region}.amazonaws.com"),
        # Invoking endpoints only: the runtime endpoint serves nothing else.
        EndpointService("sagemaker.runtime", ("sagemaker:InvokeEndpoint*",), "runtime.sagemaker.{region}.amazonaws.com"),
        EndpointService("sagemaker.featurestore-runtime", ("sagemaker:*",), "featurestore-runtime.sagemaker.{region}.amazonaws.com"),
        EndpointService("sts", ("sts:*",), "sts.{region}.amazonaws.com"),
        EndpointService("logs", ("logs:*",), "logs.{region}.amazonaws.com"),
        EndpointService("monitoring", ("cloudwatch:*",), "monitoring.{region}.amazonaws.com"),
        EndpointService("cloudtrail", ("cloudtrail:*",), "cloudtrail.{region}.amazonaws.com"),
        EndpointService("ecr.api", ("ecr:*",), "api.ecr.{region}.amazonaws.com", aws_owned_reads=(ECR_PULL,)),
        EndpointService("ecr.dkr", ("ecr:*",), "dkr.ecr.{region}.amazonaws.com", wildcard=True,
                        aws_owned_reads=(ECR_PULL,)),
        EndpointService("codepipeline", ("codepipeline:*",), "codepipeline.{region}.amazonaws.com"),
        EndpointService("codebuild", ("codebuild:*",), "codebuild.{region}.amazonaws.com"),
        EndpointService("codeartifact.api", ("codeartifact:*",), "codeartifact.{region}.amazonaws.com"),
        # Repository endpoints are `<domain>-<owner>.d.codeartifact.<region>.amazonaws.com`.
        EndpointService("codeartifact.repositories", ("codeartifact:*",), "d.codeartifact.{region}.amazonaws.com", wildcard=True),
        EndpointService("ssm", ("ssm:*",), "ssm.{region}.amazonaws.com", aws_owned_reads=(SSM_PUBLIC_PARAMETERS,)),
        EndpointService("rekognition", ("rekognition:*",), "rekognition.{region}.amazonaws.com"),
        # Querying the shared data lake: Athena, the Glue Data Catalog and Lake Formation's
        # credential vending (projects with lake grants only).
        EndpointService("athena", ("athena:*",), "athena.{region}.amazonaws.com"),
        EndpointService("glue", ("glue:*",), "glue.{region}.amazonaws.com"),
        EndpointService("lakeformation", ("lakeformation:*",), "lakeformation.{region}.amazonaws.com"),
        # Private REST APIs (the production endpoint's API front), addressed as
        # `<api id>.execute-api.<region>.amazonaws.com`: calling them only.
        EndpointService("execute-api", ("execute-api:Invoke",), "execute-api.{region}.amazonaws.com", wildcard=True),
    )
}

# AWS-owned buckets reached through the S3 gateway endpoint by the services the platform uses.
# Sources: the AWS data-perimeter examples (aws-samples/data-perimeter-policy-examples,
# vpc_endpoint_policies/README.md "AllowRequestsToAWSOwnedResources") and the service guides:
# - ECR keeps image layers in `prod-<region>-starport-layer-bucket` and hands out presigned
#   URLs signed by an ECR account, so the request's principal is NOT in our organization
#   (Amazon ECR user guide, "Interface VPC endpoints", minimum Amazon S3 bucket permissions).
# - Amazon Linux package repositories (notebook instances, CodeBuild images run `yum`/`dnf`),
#   read unauthenticated (EC2 user guide, Kernel Live Patching / AL2023 repositories).
# SageMaker's `sagemaker-<region>-<account-id>` is NOT AWS-owned: it is the SageMaker Python
# SDK's default bucket, created in the caller's account; it is left out on purpose so jobs use
# the platform's KMS-encrypted buckets (set `default_bucket`), not an unmanaged bucket.
AWS_OWNED_BUCKET_TEMPLATES = (
    "prod-{region}-starport-layer-bucket",
    "packages.{region}.amazonaws.com",
    "repo.{region}.amazonaws.com",
    "amazonlinux.{region}.amazonaws.com",
    "amazonlinux-2-repos-{region}",
    "al2023-repos-{region}-de612dc2",
)
# CodeArtifact stores package assets in one AWS-owned bucket per region (CodeArtifact user
# guide, "Create the Amazon S3 gateway endpoint", minimum bucket permissions). Python packages
# do not need it (same page), so regions missing here only lose non-Python formats.
CODEARTIFACT_ASSET_BUCKETS = {
    "us-east-1": "assets-193858265520-us-east-1",
    "us-east-2": "assets-250872398865-us-east-2",
    "us-west-2": "assets-787052242323-us-west-2",
    "eu-west-1": "assets-438097961670-eu-west-1",
    "eu-west-2": "assets-247805302724-eu-west-2",
    "eu-west-3": "assets-762466490029-eu-west-3",
    "eu-north-1": "assets-611884512288-eu-north-1",
    "eu-south-1": "assets-484130244270-eu-south-1",
    "eu-central-1": "assets-769407342218-eu-central-1",
}
HTTPS = 443


def aws_owned_buckets(region: str) -> list[str]:
    """Names of the AWS-owned buckets the platform's services read in `region`."""
    names = [t.format(region=region) for t in AWS_OWNED_BUCKET_TEMPLATES]
    if region in CODEARTIFACT_ASSET_BUCKETS:
        names.append(CODEARTIFACT_ASSET_BUCKETS[region])
    return names


def acts_on_account_resources(action: str) -> bool:
    """True when `action` acts on a resource type whose ARN carries an owner account (service
    authorization data). Only then does `aws:ResourceOrgID` (a global key, so the data lists it
    on no action) name the organization of what the request touches; an action without such a
    resource works on the caller's own account (e.g. `ecr:GetAuthorizationToken`,
    `sts:GetCallerIdentity`, `cloudwatch:PutMetricData`)."""
    return any(":${Account}:" in arn for arn in action_resource_arns(action))


@functools.lru_cache(maxsize=None)
def _endpoint_actions(patterns: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
    """What the service authorization data says of an endpoint's actions: whether any of them
    acts on account-owned resources, and those that do not (compacted)."""
    actions = list(dict.fromkeys(a for pattern in patterns for a in expand_actions(pattern)))
    ownerless = [a for a in actions if not acts_on_account_resources(a)]
    return len(ownerless) < len(actions), tuple(compact_actions(ownerless))


# Derived at import, once per process: every stack with endpoints asks the same of the same
# catalog, and processes forked after the import (the offline preview runs each stack in one)
# inherit the answers instead of loading the data again.
for _service in INTERFACE_SERVICES.values():
    if _service.accepts_policy:
        _endpoint_actions(_service.actions)
del _service


def interface_endpoint_policy(service: EndpointService, organization_id: pulumi.Input[str],
                              region: str) -> dict | None:
    """The endpoint policy of `service` (NET-2), or None where the service accepts only the
    full-access policy (:data:`FULL_ACCESS_ONLY_SERVICES`).

    Every statement admits principals of the organization only. The service's actions on
    account-owned resources are allowed on resources of the organization only
    (`aws:ResourceOrgID`): that is what stops a push to another organization's registry or
    repository. Its actions without an owned resource are listed apart (compacted, derived from
    the data), and its `aws_owned_reads` by name.
    """
    if not service.accepts_policy:
        return None
    owned, ownerless = _endpoint_actions(service.actions)
    principals = {"aws:PrincipalOrgID": organization_id}
    statements = []
    if owned:
        statements.append({
            "Sid": "OrganizationPrincipalsToOrganizationResources",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": list(service.actions),
            "Resource": "*",
            "Condition": {"StringEquals": {**principals, "aws:ResourceOrgID": organization_id}},
        })
    if ownerless:
        statements.append({
            "Sid": "OrganizationPrincipalsActionsWithoutOwnedResource",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": list(ownerless),
            "Resource": "*",
            "Condition": {"StringEquals": dict(principals)},
        })
    for read in service.aws_owned_reads:
        statements.append({
            "Sid": read.sid,
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": list(read.actions),
            "Resource": [r.format(region=region) for r in read.resources],
            "Condition": {"StringEquals": dict(principals)},
        })
    return document(*statements)


def s3_gateway_policy(region: str, organization_id: pulumi.Input[str], bucket_prefixes: Sequence[str]) -> dict:
    """Organization principals to the platform's buckets (and only buckets the organization
    owns, so a look-alike bucket name in a foreign account is no exfiltration path); anyone
    to read the AWS-owned buckets the services need (their requests are presigned by AWS)."""
    platform = [f"arn:aws:s3:::{prefix}*" for prefix in bucket_prefixes]
    return document(
        {
            "Sid": "PlatformBucketsFromOrganization",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": platform + [f"{arn}/*" for arn in platform],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id, "aws:ResourceOrgID": organization_id}},
        },
        {
            "Sid": "ReadAwsOwnedServiceBuckets",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:GetObject",
            "Resource": [f"arn:aws:s3:::{name}/*" for name in aws_owned_buckets(region)],
        },
    )


class VpcEndpoints(pulumi.ComponentResource):
    """Interface endpoints for `services` and, optionally, the S3 gateway endpoint of a VPC.

    One security group fronts every interface endpoint: HTTPS (443) from `ingress_cidrs` (the
    VPC's own CIDR; for central endpoints, the spokes' CIDRs), no egress. `private_dns` is on
    for per-VPC endpoints; central endpoints turn it off and get private hosted zones instead
    (see :class:`CentralEndpointZones`).

    Outputs: `security_group_id` (None without interface endpoints), `endpoint_ids` and
    `endpoints` keyed by service, `s3_gateway_endpoint_id` and `s3_prefix_list_id` (None
    without the gateway).
    """

    security_group_id: pulumi.Output[str] | None
    endpoint_ids: dict[str, pulumi.Output[str]]
    s3_gateway_endpoint_id: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        vpc_id: pulumi.Input[str],
        region: str,
        organization_id: pulumi.Input[str],
        services: Sequence[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        ingress_cidrs: Sequence[str],
        tags: Mapping[str, str],
        route_table_ids: Sequence[pulumi.Input[str]] = (),
        s3_gateway: bool = True,
        bucket_prefixes: Sequence[str] = (),
        private_dns: bool = True,
        label: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("ml-platform:network:VpcEndpoints", name, None, opts)
        label = label or name  # AWS-side names and Name tags
        unknown = [s for s in services if s not in INTERFACE_SERVICES]
        if unknown:
            raise ValueError(f"VpcEndpoints {name}: unknown services {unknown} (known: {', '.join(INTERFACE_SERVICES)})")
        child = pulumi.ResourceOptions(parent=self)
        self.endpoints: dict[str, aws.ec2.VpcEndpoint] = {}
        self.security_group_id = None
        if services:
            group = aws.ec2.SecurityGroup(
                f"{name}-endpoints",
                name=f"{label}-endpoints",
                description="Interface VPC endpoints: HTTPS from the allowed private ranges only",
                vpc_id=vpc_id,
                # No inline rules: the provider removes AWS's default allow-all egress, and the
                # ingress rules below are separate resources (one per range).
                tags={**tags, "Name": f"{label}-endpoints"},
                opts=child,
            )
            for i, cidr in enumerate(ingress_cidrs):
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-endpoints-https-{i}",
                    security_group_id=group.id,
                    description=f"HTTPS to the endpoints from {cidr}",
                    ip_protocol="tcp",
                    from_port=HTTPS,
                    to_port=HTTPS,
                    cidr_ipv4=cidr,
                    tags=dict(tags),
                    opts=pulumi.ResourceOptions(parent=group),
                )
            self.security_group_id = group.id
            for key in services:
                service = INTERFACE_SERVICES[key]
                policy = interface_endpoint_policy(service, organization_id, region)
                self.endpoints[key] = aws.ec2.VpcEndpoint(
                    f"{name}-{key.replace('.', '-')}",
                    vpc_id=vpc_id,
                    service_name=service.service_name(region),
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=private_dns,
                    subnet_ids=list(subnet_ids),
                    security_group_ids=[group.id],
                    # No policy where the service takes only the full-access one (the API
                    # rejects any other); IAM and the SCPs guard those endpoints alone.
                    policy=None if policy is None else policy_json(policy),
                    tags={**tags, "Name": f"{label}-{key}"},
                    opts=child,
                )
        self.endpoint_ids = {k: e.id for k, e in self.endpoints.items()}
        self.s3_gateway_endpoint_id = None
        self.s3_prefix_list_id = None
        if s3_gateway:
            gateway = aws.ec2.VpcEndpoint(
                f"{name}-s3",
                vpc_id=vpc_id,
                service_name=f"com.amazonaws.{region}.s3",
                vpc_endpoint_type="Gateway",
                route_table_ids=list(route_table_ids),
                policy=policy_json(s3_gateway_policy(region, organization_id, bucket_prefixes)),
                tags={**tags, "Name": f"{label}-s3"},
                opts=child,
            )
            self.s3_gateway_endpoint_id = gateway.id
            # The S3 prefix list, for security-group rules towards S3 through this gateway.
            self.s3_prefix_list_id = gateway.prefix_list_id
        self.register_outputs({
            "securityGroupId": self.security_group_id,
            "endpointIds": self.endpoint_ids,
            "s3GatewayEndpointId": self.s3_gateway_endpoint_id,
        })


class CentralEndpointZones(pulumi.ComponentResource):
    """Route 53 private hosted zones that make central interface endpoints answer for the
    services' public names (private DNS cannot be shared across VPCs).

    One zone per service named like the service's endpoint (e.g. `sts.eu-west-1.amazonaws.com`),
    associated with the hub VPC, with an alias record (and `*.` for sub-domain services) to the
    endpoint's regional DNS name. Spoke VPCs join a zone with :func:`associate_zone`.
    Output: `zone_ids` keyed by service.
    """

    zone_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, region: str, hub_vpc_id: pulumi.Input[str],
                 endpoints: Mapping[str, aws.ec2.VpcEndpoint], tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:network:CentralEndpointZones", name, None, opts)
        self.zone_ids = {}
        for key, endpoint in endpoints.items():
            service = INTERFACE_SERVICES[key]
            slug = key.replace(".", "-")
            zone = aws.route53.Zone(
                f"{name}-{slug}",
                name=service.zone_name(region),
                comment=f"ml-platform central interface endpoint for {key}",
                vpcs=[aws.route53.ZoneVpcArgs(vpc_id=hub_vpc_id, vpc_region=region)],
                tags=dict(tags),
                # Spokes join through ZoneAssociation resources in their own stacks; the inline
                # list would otherwise remove them on the next update.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["vpcs"]),
            )
            entry = endpoint.dns_entries[0]
            alias = aws.route53.RecordAliasArgs(name=entry.dns_name, zone_id=entry.hosted_zone_id,
                                                evaluate_target_health=True)
            records = [("apex", service.zone_name(region))]
            if service.wildcard:
                records.append(("wildcard", f"*.{service.zone_name(region)}"))
            for label, record_name in records:
                aws.route53.Record(f"{name}-{slug}-{label}", zone_id=zone.id, name=record_name, type="A",
                                   aliases=[alias], opts=pulumi.ResourceOptions(parent=zone))
            self.zone_ids[key] = zone.id
        self.register_outputs({"zoneIds": self.zone_ids})


def associate_zone(name: str, zone_id: pulumi.Input[str], vpc_id: pulumi.Input[str], region: str,
                   zone_owner: aws.Provider, vpc_owner: aws.Provider,
                   parent: pulumi.Resource | None = None) -> aws.route53.ZoneAssociation:
    """Join a spoke VPC to a central private hosted zone across accounts: the zone's owner
    authorizes the VPC, then the VPC's owner associates it."""
    authorization = aws.route53.VpcAssociationAuthorization(
        f"{name}-authorization", zone_id=zone_id, vpc_id=vpc_id, vpc_region=region,
        opts=pulumi.ResourceOptions(parent=parent, provider=zone_owner))
    return aws.route53.ZoneAssociation(
        name, zone_id=zone_id, vpc_id=vpc_id, vpc_region=region,
        opts=pulumi.ResourceOptions(parent=parent, provider=vpc_owner, depends_on=[authorization]))
