"""Organization-wide threat detection and posture services, administered from security tooling.

* **GuardDuty**: the management account designates the security-tooling account as GuardDuty
  administrator in each allowed region; there a detector auto-enables GuardDuty (and the chosen
  protection features) in ALL member accounts, including accounts created later.
* **Security Hub**: likewise designated; auto-enables Security Hub with the default standards in
  new accounts; the administrator subscribes to AWS Foundational Security Best Practices and
  aggregates findings of every allowed region into the home region.
* **IAM Access Analyzer**: an ORGANIZATION analyzer per allowed region (external access) and an
  ORGANIZATION_UNUSED_ACCESS analyzer (unused roles, keys and permissions) in the home region,
  in the Access Analyzer delegated administrator (delegated by the organization stack).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.naming import regional_suffix

FSBP_STANDARD = "standards/aws-foundational-security-best-practices/v/1.0.0"


@dataclass(frozen=True)
class SecurityServicesArgs:
    """Settings resolved by the stack. The first region of the provider maps is the home region."""

    name_prefix: str
    admin_account_id: pulumi.Input[str]
    guardduty_features: Sequence[str]
    unused_access_age_days: int
    partition: str = "aws"


class SecurityServices(pulumi.ComponentResource):
    """GuardDuty, Security Hub and IAM Access Analyzer for the whole organization.

    `management` and `tooling` map each allowed region (home region first) to a provider in
    the management and security-tooling accounts.
    """

    guardduty_detector_ids: dict[str, pulumi.Output[str]]
    analyzer_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: SecurityServicesArgs, management: Mapping[str, pulumi.ProviderResource],
                 tooling: Mapping[str, pulumi.ProviderResource], tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:SecurityServices", name, None, opts)
        home = next(iter(tooling))
        self.guardduty_detector_ids, self.analyzer_arns = {}, {}
        hubs: list[pulumi.Resource] = []
        for region in tooling:
            sfx = regional_suffix(region, home)
            in_mgmt = pulumi.ResourceOptions(parent=self, provider=management[region])
            in_tool = pulumi.ResourceOptions(parent=self, provider=tooling[region])

            # GuardDuty.
            aws.guardduty.Detector(f"guardduty-management{sfx}", enable=True, tags=dict(tags), opts=in_mgmt)
            detector = aws.guardduty.Detector(
                f"guardduty{sfx}", enable=True, finding_publishing_frequency="FIFTEEN_MINUTES", tags=dict(tags),
                opts=in_tool)
            gd_admin = aws.guardduty.OrganizationAdminAccount(
                f"guardduty-admin{sfx}", admin_account_id=args.admin_account_id,
                opts=pulumi.ResourceOptions(parent=self, provider=management[region], depends_on=[detector]))
            after_gd_admin = pulumi.ResourceOptions(parent=self, provider=tooling[region], depends_on=[gd_admin])
            aws.guardduty.OrganizationConfiguration(
                f"guardduty-organization{sfx}", detector_id=detector.id, auto_enable_organization_members="ALL",
                opts=after_gd_admin)
            for feature in args.guardduty_features:
                slug = feature.lower().replace("_", "-")
                aws.guardduty.DetectorFeature(f"guardduty-{slug}{sfx}", detector_id=detector.id, name=feature,
                                              status="ENABLED", opts=in_tool)
                aws.guardduty.OrganizationConfigurationFeature(
                    f"guardduty-organization-{slug}{sfx}", detector_id=detector.id, name=feature, auto_enable="ALL",
                    opts=after_gd_admin)
            self.guardduty_detector_ids[region] = detector.id

            # Security Hub.
            hub_management = aws.securityhub.Account(
                f"securityhub-management{sfx}", enable_default_standards=False, opts=in_mgmt)
            hub = aws.securityhub.Account(
                f"securityhub{sfx}", enable_default_standards=False, control_finding_generator="SECURITY_CONTROL",
                auto_enable_controls=True, opts=in_tool)
            hubs.append(hub)
            sh_admin = aws.securityhub.OrganizationAdminAccount(
                f"securityhub-admin{sfx}", admin_account_id=args.admin_account_id,
                opts=pulumi.ResourceOptions(parent=self, provider=management[region], depends_on=[hub_management, hub]))
            aws.securityhub.OrganizationConfiguration(
                f"securityhub-organization{sfx}", auto_enable=True, auto_enable_standards="DEFAULT",
                organization_configuration=aws.securityhub.OrganizationConfigurationOrganizationConfigurationArgs(
                    configuration_type="LOCAL"),
                opts=pulumi.ResourceOptions(parent=self, provider=tooling[region], depends_on=[sh_admin]))
            aws.securityhub.StandardsSubscription(
                f"securityhub-fsbp{sfx}", standards_arn=f"arn:{args.partition}:securityhub:{region}::{FSBP_STANDARD}",
                opts=pulumi.ResourceOptions(parent=self, provider=tooling[region], depends_on=[hub]))

            # IAM Access Analyzer (external access, per region).
            analyzer = aws.accessanalyzer.Analyzer(
                f"access-analyzer{sfx}", analyzer_name=f"{args.name_prefix}-organization", type="ORGANIZATION",
                tags=dict(tags), opts=in_tool)
            self.analyzer_arns[region] = analyzer.arn

        others = [r for r in tooling if r != home]
        if others:
            aws.securityhub.FindingAggregator(
                "securityhub-aggregator", linking_mode="SPECIFIED_REGIONS", specified_regions=others,
                opts=pulumi.ResourceOptions(parent=self, provider=tooling[home], depends_on=hubs))
        unused = aws.accessanalyzer.Analyzer(
            "access-analyzer-unused", analyzer_name=f"{args.name_prefix}-organization-unused-access",
            type="ORGANIZATION_UNUSED_ACCESS",
            configuration=aws.accessanalyzer.AnalyzerConfigurationArgs(
                unused_access=aws.accessanalyzer.AnalyzerConfigurationUnusedAccessArgs(
                    unused_access_age=args.unused_access_age_days)),
            tags=dict(tags), opts=pulumi.ResourceOptions(parent=self, provider=tooling[home]))
        self.analyzer_arns["unused-access"] = unused.arn
        self.register_outputs({"guardduty_detector_ids": self.guardduty_detector_ids, "analyzer_arns": self.analyzer_arns})
