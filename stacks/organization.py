"""The `organization` stack (management account): OU tree, member accounts, SCP guardrails,
tag policy, trusted service access, delegated administrators and the account quota request."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.guardrail_policies import GuardrailPolicies, OrganizationPolicySpec
from components.member_accounts import MemberAccounts, MemberAccountSpec
from components.organizational_units import OrganizationalUnits
from policy_documents.scp_library import ROOT, ScpSettings, guardrail_statements
from policy_documents.scp_packing import PackedPolicy, ScpLimitError, pack_policies, slots_used
from policy_documents.serialize import to_json
from stacks.common import account_provider, platform_tags, project_tags
from stacks.config import ConfigError, PlatformConfig
from stacks.context import StackContext
from stacks import delivery_settings
from stacks import model_sharing_settings as ms
from stacks.data_settings import model_consumer_role_pattern
from stacks.organization_settings import (
    ACCOUNT_QUOTA_CODE,
    ACCOUNT_QUOTA_REGION,
    ACCOUNT_QUOTA_SERVICE_CODE,
    SERVICE_CATALOG_PRINCIPAL,
    TAG_POLICY_ENFORCED_FOR,
    account_quota_request,
    delegated_administrators,
    service_access_principals,
    service_catalog_organization_access,
)
from stacks.security_settings import baseline_role_pattern, log_archive_bucket_names, recorder_role_pattern

def scp_settings(platform: PlatformConfig, compact: bool = False) -> ScpSettings:
    """Map the platform definition onto the SCP library's settings."""
    g = platform.guardrails
    return ScpSettings(
        name_prefix=platform.name_prefix,
        allowed_regions=tuple(platform.allowed_regions),
        exempt_role_names=(platform.organization.break_glass_role_name, platform.organization.deployment_role),
        mandatory_tags=tuple(platform.mandatory_tags),
        notebook_instance_types=tuple(g.notebook_instance_types),
        sagemaker_source_vpce_ids=tuple(g.sagemaker_source_vpce_ids),
        sagemaker_source_cidrs=tuple(g.sagemaker_source_cidrs),
        model_producer_ous=tuple(g.model_producer_ous),
        model_consumer_role_patterns=(model_consumer_role_pattern(platform),),
        pipeline_approver_role_patterns=tuple(delivery_settings.approver_role_patterns(platform)),
        log_archive_bucket_patterns=log_archive_bucket_names(platform),
        baseline_role_patterns=(baseline_role_pattern(platform), recorder_role_pattern(platform)),
        baseline_automation_role_patterns=(baseline_role_pattern(platform),),
        compact_action_lists=compact,
    )


def push_down_targets(platform: PlatformConfig) -> dict[str, tuple[str, ...]]:
    """Targets whose guardrails may be attached to each of their children instead: the root
    and every OU with child OUs and no account of its own in the platform definition (an SCP
    on every child denies the same to every account below)."""
    ous = platform.organization.organizational_units
    occupied = {ou for _, ou in platform.accounts().values()}
    found: dict[str, tuple[str, ...]] = {}
    for parent in (ROOT, *ous):
        kids = tuple(o for o in ous if (o.rsplit("/", 1)[0] if "/" in o else ROOT) == parent)
        if kids and parent not in occupied:
            found[parent] = kids
    return found


def packed_guardrails(platform: PlatformConfig) -> list[PackedPolicy]:
    """The SCP library for this platform, packed within the AWS limits with
    `guardrails.scp_free_slots_per_target` slots left free on every target.

    Explicit action lists are easier to audit, so they are tried first; when a target cannot
    carry them, the same guardrails are packed with wildcard action lists (which match exactly
    the same actions). Raises :class:`ConfigError` naming every target that still cannot fit.
    """
    error: ScpLimitError | None = None
    g = platform.guardrails
    children = push_down_targets(platform)
    for compact in (False, True):
        try:
            return pack_policies(
                guardrail_statements(scp_settings(platform, compact)),
                name_prefix=platform.name_prefix,
                max_policies_per_target=g.scp_limit_per_target,
                free_slots_per_target=g.scp_free_slots_per_target,
                children=children,
            )
        except ScpLimitError as exc:
            error = exc
    raise ConfigError([f"guardrails.scp_limit_per_target: {error}"])


def tag_policy(platform: PlatformConfig) -> dict:
    """A tag policy fixing the spelling (case) of every mandatory tag key across the
    organization, enforced on TAG_POLICY_ENFORCED_FOR: there a tagging call that spells a
    mandatory key in another case is refused. It does not require the tags to exist (AWS
    enforcement has no effect on resources created without tags): TAG-1's "every resource
    carries the tags" is the Workloads SCP (SageMaker create calls) and the REQUIRED_TAGS
    Config rule."""
    return {"tags": {tag: {"tag_key": {"@@assign": tag},
                           "enforced_for": {"@@assign": list(TAG_POLICY_ENFORCED_FOR)}}
                     for tag in platform.mandatory_tags}}


TAG_POLICY_DESCRIPTION = ("ml-platform TAG-1: spelling of the mandatory tag keys, enforced on the platform's data "
                          "and ML resource types; the tags' presence is required by the SCP and the Config rule")


def run(ctx: StackContext) -> None:
    platform = ctx.platform
    packed = packed_guardrails(platform)  # fails before any resource when the SCPs cannot fit
    tags = platform_tags(platform)
    provider = account_provider("management", platform, None, tags)
    opts = pulumi.ResourceOptions(provider=provider)

    organization = aws.organizations.Organization(
        "organization",
        feature_set="ALL",
        # The exact list: a principal missing here is disabled, so it follows the settings.
        aws_service_access_principals=list(service_access_principals(platform)),
        enabled_policy_types=["SERVICE_CONTROL_POLICY", "TAG_POLICY"],
        opts=pulumi.ResourceOptions(provider=provider, protect=True, import_=platform.organization.organization_id),
    )
    root_id = organization.roots[0].id

    ous = OrganizationalUnits("organizational-units", root_id, platform.organization.organizational_units, tags, opts)

    specs = {
        key: MemberAccountSpec(name=spec.name, email=spec.email, parent_id=ous.ids[ou],
                               tags=_account_tags(platform, key))
        for key, (spec, ou) in platform.accounts().items()
    }
    quota = _account_quota(platform, organization, tags)
    accounts = MemberAccounts("member-accounts", specs, platform.organization.member_role_name,
                              platform.organization.close_accounts_on_deletion, opts,
                              depends_on=[quota] if quota else ())

    policies = [
        OrganizationPolicySpec(name=p.name, target=p.target, content=p.json,
                               description=f"ml-platform guardrails {', '.join(p.guardrail_ids)}")
        for p in packed
    ]
    policies.append(OrganizationPolicySpec(
        name=f"{platform.name_prefix}-mandatory-tags", target="Root", content=to_json(tag_policy(platform)),
        description=TAG_POLICY_DESCRIPTION, type="TAG_POLICY"))
    GuardrailPolicies("guardrail-policies", policies, {"Root": root_id, **ous.ids}, tags,
                      pulumi.ResourceOptions(provider=provider, depends_on=[organization]))

    # Service Catalog's own organization access (its EnableAWSOrganizationsAccess, from the
    # management account only): it keeps OU shares in step with the organization's structure.
    # Trusted access for servicecatalog.amazonaws.com is also in the organization's exact list,
    # so the next `up` does not disable what this turns on.
    catalog_access = None
    if service_catalog_organization_access(platform):
        catalog_access = aws.servicecatalog.OrganizationsAccess(
            "service-catalog-organizations-access", enabled=True,
            opts=pulumi.ResourceOptions(provider=provider, depends_on=[organization]))
    for principal, account_key in delegated_administrators(platform).items():
        # Registering needs the service's trusted access (and Service Catalog's own access) first.
        after = [organization, catalog_access] if catalog_access is not None and principal == SERVICE_CATALOG_PRINCIPAL \
            else [organization]
        aws.organizations.DelegatedAdministrator(
            f"delegated-admin-{principal.split('.amazonaws.com')[0].replace('.', '-')}",
            account_id=accounts.ids[account_key],
            service_principal=principal,
            opts=pulumi.ResourceOptions(provider=provider, depends_on=after),
        )

    # RAM shares to OUs (the Transit Gateway hub) need sharing with the organization turned on.
    aws.ram.SharingWithOrganization(
        "ram-sharing-with-organization", opts=pulumi.ResourceOptions(provider=provider, depends_on=[organization]))

    pulumi.export("organizationId", organization.id)
    pulumi.export("rootId", root_id)
    pulumi.export("managementAccountId", platform.organization.management_account_id)
    pulumi.export("memberRoleName", platform.organization.member_role_name)
    pulumi.export("ouIds", ous.ids)
    pulumi.export("accountIds", accounts.ids)
    pulumi.export("serviceControlPolicies", {
        p.name: {"target": p.target, "guardrails": list(p.guardrail_ids), "characters": len(p.json)} for p in packed
    })
    limit = platform.guardrails.scp_limit_per_target
    pulumi.export("serviceControlPolicySlots", {
        target: {"used": used, "limit": limit, "free": limit - used} for target, used in slots_used(packed).items()
    })


def _account_quota(platform: PlatformConfig, organization: aws.organizations.Organization,
                   tags: dict[str, str]) -> aws.servicequotas.ServiceQuota | None:
    """The account quota increase request, when the plan needs more accounts than the default.

    Organizations' quotas are requested from the management account in us-east-1 (a provider
    used for nothing else); the request may wait for AWS's approval, and accounts beyond the
    current quota fail to be created until then (README, "Real AWS workflow")."""
    value = account_quota_request(platform)
    if value is None:
        return None
    quotas = account_provider("management-service-quotas", platform, None, tags, region=ACCOUNT_QUOTA_REGION)
    return aws.servicequotas.ServiceQuota(
        "account-quota",
        service_code=ACCOUNT_QUOTA_SERVICE_CODE,
        quota_code=ACCOUNT_QUOTA_CODE,
        value=float(value),
        opts=pulumi.ResourceOptions(provider=quotas, depends_on=[organization]),
    )


def _account_tags(platform: PlatformConfig, key: str) -> dict[str, str]:
    for project in platform.projects:
        for env in project.environments:
            if key == f"{project.name}-{env}":
                return project_tags(platform, project.name, env)
        if key == f"{project.name}-{ms.MODEL_ENVIRONMENT}":  # its dedicated model account
            return project_tags(platform, project.name, ms.MODEL_ENVIRONMENT)
    sandbox = next((s for s in platform.sandbox_accounts if s.name == key), None)
    if sandbox:
        return platform_tags(platform, "sandbox", "sandbox", owner=sandbox.owner)
    return platform_tags(platform)
