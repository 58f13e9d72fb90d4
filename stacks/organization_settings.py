"""What the organization needs from the other layers' settings (`organization:` keys and the
derived views of the organization stack).

* **Trusted access**: the organization's `aws_service_access_principals` is the exact list of
  services integrated with it, so a principal missing from it is disabled by the next
  `pulumi up`. Each principal is derived here from the setting that turns its integration on
  (a GuardDuty feature, Control Tower mode, the layers every platform has), plus the principals
  `organization.extra_service_access_principals` declares for integrations made outside this
  program.
* **Delegated administrators**: which account administers which integration for the
  organization (security tooling for Config and Access Analyzer; shared services for Service
  Catalog while its portfolio is shared to an OU).
* **Account quota**: AWS Organizations' "Default maximum number of accounts" (10 for a new
  organization) is requested through Service Quotas when the platform needs more.
* **Tag policy enforcement**: the resource types on which the mandatory tag keys' spelling is
  enforced.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from stacks.config_model import ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig


@dataclass(frozen=True)
class TrustedService:
    """An integration with AWS Organizations (trusted access) and what turns it on."""

    principal: str
    needed_by: str
    enabled: Callable[["PlatformConfig"], bool] = lambda platform: True


def _guardduty_feature(name: str) -> Callable[["PlatformConfig"], bool]:
    return lambda platform: name in platform.security.services.guardduty_features


# The service principals each page "<Service> and AWS Organizations" of the Organizations User
# Guide (docs.aws.amazon.com/organizations/latest/userguide/services-that-can-integrate-*.html)
# names. GuardDuty's page lists two: guardduty.amazonaws.com and, for Malware Protection for
# EC2 (the EBS_MALWARE_PROTECTION feature), malware-protection.guardduty.amazonaws.com.
TRUSTED_SERVICES = (
    TrustedService("access-analyzer.amazonaws.com", "security: IAM Access Analyzer organization analyzers"),
    TrustedService("cloudtrail.amazonaws.com", "security: the organization trail"),
    TrustedService("config.amazonaws.com", "security: the organization Config aggregator"),
    TrustedService("config-multiaccountsetup.amazonaws.com", "security: the organization Config rules"),
    TrustedService("guardduty.amazonaws.com", "security: GuardDuty administered from security tooling"),
    TrustedService("malware-protection.guardduty.amazonaws.com",
                   "security.services.guardduty_features: EBS_MALWARE_PROTECTION (Malware Protection for EC2)",
                   _guardduty_feature("EBS_MALWARE_PROTECTION")),
    TrustedService("securityhub.amazonaws.com", "security: Security Hub administered from security tooling"),
    TrustedService("member.org.stacksets.cloudformation.amazonaws.com",
                   "security: the service-managed account-baseline StackSet"),
    TrustedService("controltower.amazonaws.com", "security.control_tower.enabled (the landing zone's own integration)",
                   lambda platform: platform.security.control_tower.enabled),
    TrustedService("ram.amazonaws.com", "network: the Transit Gateway shared through RAM with OUs"),
    TrustedService("sso.amazonaws.com", "identity.mode: identity-center (permission sets and account assignments)",
                   lambda platform: platform.identity.mode == "identity-center"),
    TrustedService("servicecatalog.amazonaws.com",
                   "shared_services.service_catalog: the Studio portfolio shared to an OU from shared services",
                   lambda platform: platform.shared_services.service_catalog.enabled),
)
EXTRA_PRINCIPALS_KEY = "organization.extra_service_access_principals"
_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com$")


def service_access_principals(platform: "PlatformConfig") -> dict[str, str]:
    """Every trusted-access principal the organization needs, sorted, each with what needs it:
    the integrations the layers' settings turn on, then the configured extra principals."""
    needed = {s.principal: s.needed_by for s in TRUSTED_SERVICES if s.enabled(platform)}
    for principal in platform.organization.extra_service_access_principals:
        needed.setdefault(principal, EXTRA_PRINCIPALS_KEY)
    return dict(sorted(needed.items()))


# Services whose organization-wide administration moves to the security-tooling account.
# GuardDuty and Security Hub have their own admin-account APIs (security stack). StackSets are
# not delegated: their execution roles may create the break-glass role in every account
# (IAM-3), so only the management account may administer service-managed StackSets.
SECURITY_DELEGATIONS = (
    "access-analyzer.amazonaws.com",
    "config-multiaccountsetup.amazonaws.com",
    "config.amazonaws.com",
)
SERVICE_CATALOG_PRINCIPAL = "servicecatalog.amazonaws.com"
IDENTITY_CENTER_PRINCIPAL = "sso.amazonaws.com"


def service_catalog_organization_access(platform: "PlatformConfig") -> bool:
    """Whether Service Catalog shares portfolios through AWS Organizations: the shared-services
    portfolio is shared to an OU, which only the management account or a delegated
    administrator can do once Service Catalog's organization access is on."""
    return platform.shared_services.service_catalog.enabled


def delegated_administrators(platform: "PlatformConfig") -> dict[str, str]:
    """Service principal -> the key of the account registered as its delegated administrator."""
    found = {principal: "security-tooling" for principal in SECURITY_DELEGATIONS}
    if service_catalog_organization_access(platform):
        # The portfolio share to the OU is made from shared services (shared-services stack).
        found[SERVICE_CATALOG_PRINCIPAL] = "shared-services"
    identity = platform.identity
    if identity.mode == "identity-center" and identity.admin_account != "management":
        # The identity stack runs in that account, which must administer Identity Center.
        found[IDENTITY_CENTER_PRINCIPAL] = identity.admin_account
    return found


# AWS Organizations quota "Default maximum number of accounts" (Service Quotas service code
# `organizations`, quota code L-29A0C5DF, as `aws service-quotas list-aws-default-service-quotas
# --service-code organizations --region us-east-1` lists it). Organizations is a global service
# hosted in us-east-1, so its quotas are read and requested there, and only the management
# account may request this one (Organizations User Guide, "Quotas and service limits for AWS
# Organizations"). Invitations and closed accounts still in their post-closure period count too.
ACCOUNT_QUOTA_SERVICE_CODE = "organizations"
ACCOUNT_QUOTA_CODE = "L-29A0C5DF"
ACCOUNT_QUOTA_NAME = "Default maximum number of accounts"
ACCOUNT_QUOTA_DEFAULT = 10
ACCOUNT_QUOTA_REGION = "us-east-1"


class AccountQuotaSettings(ConfigModel):
    """The account quota increase the organization stack requests (Service Quotas)."""

    # Requested value = accounts of the platform (management account included) + other_accounts
    # + headroom, so the next sandbox or project environment does not wait for another approval.
    headroom: int = Field(default=5, ge=0, le=1000)
    # Accounts of an adopted organization that this program does not manage (they count too).
    other_accounts: int = Field(default=0, ge=0, le=50000)
    # False when the quota is managed outside this program (e.g. already raised through
    # Support): nothing is requested.
    request_increase: bool = True


def organization_account_count(platform: "PlatformConfig") -> int:
    """Accounts the organization holds: the member accounts of the plan, the management
    account and the other accounts configuration declares."""
    return len(platform.accounts()) + 1 + platform.organization.account_quota.other_accounts


def account_quota_request(platform: "PlatformConfig") -> int | None:
    """The quota value to request, or None when the default quota already holds the plan (or
    requests are turned off). A request only when needed: a new organization's default covers
    small plans, and a Service Quotas request below an already raised quota would be a
    standing difference."""
    settings = platform.organization.account_quota
    count = organization_account_count(platform)
    if not settings.request_increase or count <= ACCOUNT_QUOTA_DEFAULT:
        return None
    return count + settings.headroom


# Resource types on which the tag policy enforces the mandatory tag keys' spelling (a tagging
# call with the key in another case is refused; a resource created without the tags is not:
# "Enforcement has no effect on resources that are created without tags", Organizations User
# Guide, "Understanding enforcement"). The data and ML resources the platform's accounts hold,
# named as in AWS's tag policy resource types (the generated table of terraform-provider-aws's
# tag-policy-compliance guide reproduces them); a type added here must be on the Guide's
# "Services and resource types that support enforcement" page.
TAG_POLICY_ENFORCED_FOR = (
    "kms:key",
    "s3:bucket",
    "sagemaker:domain",
    "sagemaker:endpoint",
    "sagemaker:endpoint-config",
    "sagemaker:feature-group",
    "sagemaker:model",
    "sagemaker:model-package-group",
    "sagemaker:notebook-instance",
    "sagemaker:pipeline",
    "sagemaker:user-profile",
)


def validate(platform: "PlatformConfig") -> list[str]:
    """Cross-field checks of the organization layer's settings; every problem, each naming its key."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, principal in enumerate(platform.organization.extra_service_access_principals):
        key = f"{EXTRA_PRINCIPALS_KEY}[{i}]"
        if not _SERVICE_PRINCIPAL.match(principal):
            problems.append(f"{key}: '{principal}' is not an AWS service principal "
                            "(allowed: lowercase names ending in .amazonaws.com, e.g. sso.amazonaws.com)")
        if principal in seen:
            problems.append(f"{key}: '{principal}' is listed twice (allowed: each principal once)")
        seen.add(principal)
    return problems
