"""Organization-wide governance: allowed regions (REG-1), mandatory tags (TAG-1) and protection
of stateful resources (STATE-1, the architecture's "stateful resources are protected" rule)."""

from __future__ import annotations

from collections.abc import Callable

from .common import (
    UNKNOWN,
    ResourceContext,
    Stack,
    StackResource,
    is_taggable,
    resource_policy,
    stack_policy,
    truthy,
)

DOMAIN = "organization"
# REG-1's default, in its schema and where a caller gives no configuration.
REQUIRE_EXPLICIT_REGION = True

MANDATORY_TAGS = ["owner", "project", "environment", "cost-center", "data-classification"]
STATEFUL_TYPES = [
    "aws:organizations/account:Account",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:ecr/repository:Repository",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup",
]
# Properties that, when true, let `pulumi destroy` delete data along with the resource.
DATA_LOSS_FLAGS = {
    "aws:s3/bucket:Bucket": "forceDestroy",
    "aws:ecr/repository:Repository": "forceDelete",
    "aws:organizations/account:Account": "closeOnDeletion",
}


def _service(resource_type: str) -> str:
    return resource_type.split(":")[1].split("/")[0] if resource_type.count(":") >= 2 else ""


SERVICE_QUOTA_TYPE = "aws:servicequotas/serviceQuota:ServiceQuota"


def _is_global(resource: StackResource, global_services: set[str]) -> bool:
    """A resource of a global service, or a Service Quotas request for one: the quotas of
    global services (e.g. Organizations' account quota) exist in us-east-1 only."""
    if _service(resource.type) in global_services:
        return True
    return resource.type == SERVICE_QUOTA_TYPE and resource.props.get("serviceCode") in global_services


def _validate_regions(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    allowed = [str(r) for r in stack.config.get("allowedRegions") or []]
    global_services = set(stack.config.get("globalServices") or [])
    users: dict[str, list[StackResource]] = {}
    for resource in stack.resources:
        if resource.provider is not None and resource.provider.is_aws and not resource.is_provider:
            users.setdefault(resource.provider.urn, []).append(resource)
    for urn, provider in stack.providers().items():
        region = provider.region
        if region is UNKNOWN:
            continue
        used = users.get(urn, [])
        regional = [r for r in used if not _is_global(r, global_services)]
        if used and not regional:
            continue  # only global services (IAM, Organizations, ...) use this provider
        if not region:
            if stack.config.get("requireExplicitRegion", REQUIRE_EXPLICIT_REGION):
                report(f"AWS provider {provider.name} sets no region (it would use the environment's)",
                       urn if urn in stack.by_urn else None)
        elif region not in allowed:
            report(f"AWS provider {provider.name} deploys to {region}; allowed regions: {', '.join(allowed)}",
                   urn if urn in stack.by_urn else None)
    for resource in stack.resources:
        region = resource.props.get("region")
        if resource.is_provider or not isinstance(region, str) or not region or region in allowed:
            continue
        if _is_global(resource, global_services):
            continue
        if resource.provider is not None and resource.provider.region == region:
            continue  # the provider's region (its output on every resource), reported with the provider
        report(f"{resource.display} overrides its region to {region}; allowed regions: {', '.join(allowed)}",
               resource.urn)


def _validate_tags(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    mandatory = [str(t) for t in stack.config.get("mandatoryTags") or []]
    exempt_types = set(stack.config.get("exemptTypes") or [])
    for resource in stack.resources:
        if resource.type in exempt_types or not is_taggable(resource.type):
            continue
        tags = resource.tags
        missing = [t for t in mandatory if tags.get(t) is not UNKNOWN and not tags.get(t)]
        if missing:
            report(f"{resource.display} is missing mandatory tags: {', '.join(missing)}", resource.urn)


def _validate_sagemaker_tags(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    if not ctx.type.startswith("aws:sagemaker/") or not is_taggable(ctx.type):
        return
    mandatory = [str(t) for t in ctx.config.get("mandatoryTags") or []]
    tags = ctx.tags
    missing = [t for t in mandatory if tags.get(t) is not UNKNOWN and not tags.get(t)]
    if missing:
        report(f"{ctx.type.split(':')[-1]} {ctx.name} is created without tags {', '.join(missing)}; the "
               "Workloads SCP denies SageMaker Create* calls without them (aws:RequestTag)")


def _validate_protected(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    stateful = set(stack.config.get("statefulTypes") or [])
    for resource in stack.resources:
        if resource.type not in stateful:
            continue
        problems = []
        if not resource.protect:
            problems.append("is not protected (protect=True)")
        flag = DATA_LOSS_FLAGS.get(resource.type)
        if flag and truthy(resource.props.get(flag)) is True:
            problems.append(f"sets {flag}, so deleting it deletes its data")
        if resource.delete_before_replace:
            problems.append("is deleted before its replacement is created (deleteBeforeReplace)")
        if problems:
            report(f"stateful {resource.display} " + " and ".join(problems), resource.urn)


POLICIES = [
    stack_policy(
        name="reg-1-allowed-regions", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="REG-1: every AWS provider deploys to an allowed region, and no resource overrides its "
                    "region outside the list. Providers used only by global services (IAM, Organizations, "
                    "Route 53, CloudFront, ...) are exempt.",
        remediation="Set the provider's region (aws:region in the stack configuration for the default "
                    "provider) to an allowed region; deploy global-service resources with a dedicated provider.",
        validate=_validate_regions,
        config={
            "allowedRegions": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                               "description": "Regions resources may be deployed to."},
            "globalServices": {"type": "array", "items": {"type": "string"},
                               "default": ["iam", "organizations", "route53", "cloudfront", "budgets", "ce",
                                           "account", "shield", "globalaccelerator"],
                               "description": "pulumi-aws modules (aws:<module>/...) of global services."},
            "requireExplicitRegion": {"type": "boolean", "default": REQUIRE_EXPLICIT_REGION,
                                      "description": "A provider without a region is a violation."},
        },
        required=["allowedRegions"],
    ),
    stack_policy(
        name="tag-1-mandatory-tags", domain=DOMAIN, severity="low", enforcement="advisory",
        description="TAG-1: every taggable resource (its schema has `tags`) carries the mandatory tags, "
                    "counting the provider's default tags it inherits (tagsAll).",
        remediation="Add the tags to the provider's default_tags (one place for the whole stack) or to the "
                    "resource's tags.",
        validate=_validate_tags,
        config={
            "mandatoryTags": {"type": "array", "items": {"type": "string"}, "default": MANDATORY_TAGS,
                              "description": "Tag keys every taggable resource carries."},
            "exemptTypes": {"type": "array", "items": {"type": "string"},
                            "default": ["aws:devopsguru/resourceCollection:ResourceCollection",
                                        "aws:inspector/resourceGroup:ResourceGroup"],
                            "description": "Types whose `tags` are not resource tags."},
        },
    ),
    resource_policy(
        name="tag-1-sagemaker-tagged-at-creation", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="TAG-1: SageMaker resources are created with the mandatory tags (the Workloads SCP "
                    "denies sagemaker:Create* without them).",
        remediation="Add the tags to the provider's default_tags or to the resource's tags; they are sent "
                    "with the Create call.",
        validate=_validate_sagemaker_tags,
        config={
            "mandatoryTags": {"type": "array", "items": {"type": "string"}, "default": MANDATORY_TAGS,
                              "description": "Tag keys SageMaker resources carry at creation."},
        },
    ),
    stack_policy(
        name="state-1-stateful-resources-protected", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="STATE-1: stateful resources (accounts, KMS keys, buckets, ECR repositories, model package "
                    "groups) are protected, are not force-destroyed with their data and are not deleted "
                    "before their replacement exists.",
        remediation="Create the resource with opts=ResourceOptions(protect=True) and without force_destroy / "
                    "force_delete / close_on_deletion; opt out only through configuration (exemptResources).",
        validate=_validate_protected,
        config={
            "statefulTypes": {"type": "array", "items": {"type": "string"}, "default": STATEFUL_TYPES,
                              "description": "Resource types holding state that must be protected."},
        },
    ),
]
