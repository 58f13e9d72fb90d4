"""The `security` stack: audit and detection for the whole organization.

Deploys into three accounts, each through its own provider (account ids from the
`organization` stack's outputs):

* **log archive** — KMS log key, the Object-Locked archive bucket (organization trail), the
  Config history bucket and the access-log bucket (`components/log_archive.py`), through the
  deployment role, or through the account's break-glass role when
  `security.log_archive.apply_changes_as` declares a change to the settings the archive's
  bucket policies freeze (README, "Real AWS workflow", step 5);
* **management** — the organization CloudTrail with its CloudWatch Logs group, key and role
  (`components/organization_trail.py`); the management account's own Config recorder and
  account baseline (StackSets never reach it); the baseline StackSet (Config recorder, S3
  account public access block and EBS encryption in every member account and allowed region,
  including accounts created later), administered from here alone because its execution roles
  may create the break-glass role everywhere (IAM-3); GuardDuty and Security Hub administrator
  delegation; Control Tower controls when Control Tower mode is on; the security alarms on the
  trail's log group and their forwarder; the break-glass role the member accounts' break-glass
  roles trust (`components/break_glass_role.py`; its every use is an alarm);
* **security tooling** — the organization Config aggregator and the detective guardrails as organization Config rules,
  GuardDuty and Security Hub administration, IAM Access Analyzer, the alert topic, and the
  auditor roles the log archive admits (`components/security_auditor.py`).

Regional services are deployed in every allowed region (home region first); global ones in the
home region.

Outputs: the contract is documented once, under "Stack outputs (contract)" in README.md
(a test keeps the two equal).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.break_glass_role import BreakGlassRole, BreakGlassRoleArgs, break_glass_alert, role_arn
from components.config_baseline import (
    AccountBaselineStackSet,
    ManagementAccountBaseline,
)
from components.config_rules import (
    OrganizationAggregator,
    OrganizationConfigRules,
    rule_specs,
)
from components.control_tower_controls import (
    CONTROL_OWNED_RULES,
    ControlTowerControls,
    EnabledControl,
)
from components import persona_policies as pp
from components.log_archive import LogArchive, LogArchiveArgs
from components.permission_sets import PersonaAccess
from components.organization_trail import OrganizationTrail, OrganizationTrailArgs
from components.secure_bucket import ObjectLock
from components.security_alerts import ALERTS, SecurityAlerts, SecurityAlertsArgs
from components.security_auditor import SecurityAuditorArgs, SecurityAuditorRoles
from components.security_services import SecurityServices, SecurityServicesArgs
from policy_documents.arns import partition_of
from stacks import identity_settings as ids
from stacks.common import account_provider, platform_tags, stack_reference
from stacks.config import PlatformConfig
from stacks.context import StackContext
from stacks.principal_settings import (
    MANAGEMENT,
    RoleReference,
    administrator_references,
    auditor_roles_created,
    require_roles,
)
from stacks.security_settings import (
    auditor_role_names,
    control_tower_ous,
    data_event_arn_prefixes,
    log_archive_bucket_names,
    log_archive_deployer,
    trail_name,
)


def regions_home_first(platform: PlatformConfig) -> list[str]:
    return [platform.home_region] + [r for r in platform.allowed_regions if r != platform.home_region]


def control_tower_owned_rules(platform: PlatformConfig) -> frozenset[str]:
    """Config managed rules that enabled Control Tower controls replace."""
    ct = platform.security.control_tower
    if not ct.enabled:
        return frozenset()
    return frozenset(CONTROL_OWNED_RULES[c.identifier] for c in ct.controls if c.identifier in CONTROL_OWNED_RULES)


def named_roles(platform: PlatformConfig) -> list[RoleReference]:
    """The roles this stack's policies name that other stacks, AWS or configuration provide
    (checked before any resource is registered)."""
    org = platform.organization
    archive = "log archive bucket and key policies"
    return [
        RoleReference("account-baseline StackSet: member break-glass trust policy", MANAGEMENT, org.break_glass_role_name),
        *(RoleReference("management break-glass trust policy (BreakGlassWithRecentMfa)", MANAGEMENT, arn.split(":role/", 1)[1])
          for arn in org.break_glass.trusted_principals if ":role/" in arn),
        *(RoleReference(f"{archive} (AuditorsRead, AuditorsDecryptThroughS3)", "security-tooling", name)
          for name in auditor_role_names(platform)),
        *administrator_references(platform, "log-archive", f"{archive} (KeyAdministration)"),
    ]


def run(ctx: StackContext) -> None:
    platform = ctx.platform
    require_roles(platform, named_roles(platform))
    settings = platform.security
    prefix = platform.name_prefix
    home = platform.home_region
    regions = regions_home_first(platform)
    partition = partition_of(home)
    management_id = platform.organization.management_account_id
    tags = platform_tags(platform)

    organization = stack_reference("organization")
    account_ids = organization.require_output("accountIds")
    log_archive_id = account_ids.apply(lambda ids: ids["log-archive"])
    tooling_id = account_ids.apply(lambda ids: ids["security-tooling"])
    organization_id = organization.require_output("organizationId")
    root_id = organization.require_output("rootId")
    ou_ids = organization.require_output("ouIds")

    def per_region(name: str, account_id: pulumi.Input[str] | None) -> dict[str, pulumi.ProviderResource]:
        # The home-region provider keeps the plain account name: adding a region adds providers
        # without renaming (and replacing) what exists.
        return {r: account_provider(name if r == home else f"{name}-{r}", platform, account_id, tags, region=r)
                for r in regions}

    management = per_region("management", None)
    tooling = per_region("security-tooling", tooling_id)
    # The archive's bucket policies admit changes to its frozen settings from the break-glass
    # role only: a declared change (security.log_archive.apply_changes_as) switches this
    # provider's role, never its name, so no resource moves to another provider.
    archive_role, archive_session = log_archive_deployer(platform)
    log_archive_provider = account_provider("log-archive", platform, log_archive_id, tags,
                                            role_name=archive_role, session_name=archive_session)

    # The management account's break-glass role, which every member's break-glass role trusts.
    bg = platform.organization.break_glass
    break_glass_name = platform.organization.break_glass_role_name
    if bg.existing:
        # Made outside this program: it must exist (the lookup fails the deployment otherwise).
        break_glass_arn = aws.iam.get_role_output(
            name=break_glass_name, opts=pulumi.InvokeOutputOptions(provider=management[home])).arn
    else:
        break_glass_arn = BreakGlassRole(
            "break-glass", BreakGlassRoleArgs(
                role_name=break_glass_name, management_account_id=management_id,
                trusted_principals=bg.trusted_principals, max_session_seconds=bg.max_session_seconds,
                max_mfa_age_seconds=bg.max_mfa_age_seconds, partition=partition),
            tags, opts=pulumi.ResourceOptions(provider=management[home])).arn

    # Log archive (log-archive account).
    archive_name, config_bucket_name, access_log_name = log_archive_bucket_names(platform)
    trail = trail_name(platform)
    # Known before the trail exists: the bucket and key policies must admit it first.
    trail_arn = f"arn:{partition}:cloudtrail:{home}:{management_id}:trail/{trail}"
    lock = settings.log_archive.object_lock
    archive = LogArchive(
        "log-archive",
        LogArchiveArgs(
            archive_bucket_name=archive_name,
            config_bucket_name=config_bucket_name,
            access_log_bucket_name=access_log_name,
            key_alias=f"{prefix}-log-archive",
            region=home,
            account_id=log_archive_id,
            management_account_id=management_id,
            security_tooling_account_id=tooling_id,
            organization_id=organization_id,
            trail_arn=trail_arn,
            break_glass_role_name=platform.organization.break_glass_role_name,
            auditor_role_names=auditor_role_names(platform),
            object_lock=ObjectLock(mode=lock.mode, days=lock.retention_days),
            transitions=[(t.days, t.storage_class) for t in settings.log_archive.transitions],
            expire_days=settings.log_archive.expire_days,
            access_log_expire_days=settings.log_archive.access_log_expire_days,
            partition=partition,
            local_recorder_role_pattern=f"{prefix}-config-recorder-*",
            key_administrators=(platform.organization.deployment_role, platform.organization.break_glass_role_name),
        ),
        tags,
        opts=pulumi.ResourceOptions(provider=log_archive_provider),
    )
    # The auditor roles the archive's policies admit (read-only; security tooling).
    SecurityAuditorRoles(
        "security-auditor",
        SecurityAuditorArgs(role_names=auditor_roles_created(platform), account_id=tooling_id,
                            bucket_names=(archive_name, config_bucket_name, access_log_name),
                            log_key_arn=archive.key_arn, region=home, partition=partition),
        tags, opts=pulumi.ResourceOptions(provider=tooling[home]))

    # People's access: IT auditors read CloudTrail and Config here and the log archive through
    # the auditor roles above (components/persona_policies.py).
    PersonaAccess("security-tooling-people-access", ids.access_args(
        platform, "security-tooling", tooling_id,
        {"it-auditor": pp.audit_reads(pp.AccountArns(tooling_id, home), management_id, trail, auditor_role_names(platform))},
        tags, lambda key: account_ids.apply(lambda ids_: ids_[key])), opts=pulumi.ResourceOptions(provider=tooling[home]))

    # Organization trail (management account).
    trail_args = OrganizationTrailArgs(
        trail_name=trail, region=home, management_account_id=management_id,
        bucket_name=archive.bucket, kms_key_arn=archive.key_arn,
        data_event_arn_prefixes=data_event_arn_prefixes(platform),
        log_group_name=f"/{prefix}/cloudtrail/{trail}", log_retention_days=settings.trail.cloudwatch_retention_days,
        partition=partition,
    )
    org_trail = OrganizationTrail("organization-trail", trail_args, tags, depends_on=[archive],
                                  opts=pulumi.ResourceOptions(provider=management[home]))

    # AWS Config: every account and region, the aggregator and the detective guardrails.
    management_baseline = ManagementAccountBaseline(
        "management-baseline", prefix, management_id, management, archive.config_bucket, archive.key_arn,
        settings.config.delivery_frequency, tags, partition=partition, depends_on=[archive])
    if settings.config.baseline_ous:
        targets = ou_ids.apply(lambda ids: [ids[path] for path in settings.config.baseline_ous])
    else:
        targets = root_id.apply(lambda r: [r])
    baseline = AccountBaselineStackSet(
        "account-baseline",
        stack_set_name=f"{prefix}-account-baseline",
        parameters={
            "NamePrefix": prefix,
            "HomeRegion": home,
            "ConfigBucketName": archive.config_bucket,
            "LogKeyArn": archive.key_arn,
            "DeliveryFrequency": settings.config.delivery_frequency,
            # Control Tower's landing zone owns the recorders of enrolled accounts.
            "DeployConfigRecorder": "false" if settings.control_tower.enabled else "true",
            "BreakGlassRoleName": platform.organization.break_glass_role_name,
            "ManagementAccountId": management_id,
        },
        target_ou_ids=targets,
        regions=regions,
        tags=tags,
        depends_on=[archive],
        opts=pulumi.ResourceOptions(provider=management[home]),
    )
    aggregator = OrganizationAggregator("config-aggregator", f"{prefix}-organization", tooling_id, regions, tags, partition=partition,
                                        opts=pulumi.ResourceOptions(provider=tooling[home]))
    specs = rule_specs(prefix, home, regions, platform.mandatory_tags, control_tower_owned_rules(platform))
    # Organization rules need a recorder in every account first, the management account's too.
    OrganizationConfigRules("config-rules", specs, tooling, home_region=home,
                            depends_on=[baseline, management_baseline])

    enabled_controls: list[str] = []
    if settings.control_tower.enabled:
        controls = [
            EnabledControl(guardrail=c.guardrail, identifier=c.identifier, ou_path=ou,
                           ou_id=ou_ids.apply(lambda ids, path=ou: ids[path]))
            for c in settings.control_tower.controls
            for ou in control_tower_ous(platform, c)
        ]
        ControlTowerControls("control-tower-controls", controls, home, management_id, organization_id,
                             partition=partition, opts=pulumi.ResourceOptions(provider=management[home]))
        enabled_controls = [f"{c.identifier}@{c.ou_path}" for c in controls]

    # GuardDuty, Security Hub, IAM Access Analyzer.
    SecurityServices(
        "security-services",
        SecurityServicesArgs(name_prefix=prefix, admin_account_id=tooling_id,
                             guardduty_features=settings.services.guardduty_features,
                             unused_access_age_days=settings.services.unused_access_age_days, partition=partition),
        management, tooling, tags)

    # Alerts.
    alerts = SecurityAlerts(
        "security-alerts",
        SecurityAlertsArgs(name_prefix=prefix, region=home, management_account_id=management_id,
                           tooling_account_id=tooling_id, log_group_name=org_trail.log_group_name,
                           emails=settings.alerts.emails, partition=partition,
                           alerts=(*ALERTS, break_glass_alert(prefix, role_arn(partition, management_id, break_glass_name))),
                           key_administrators=(platform.organization.deployment_role,
                                               platform.organization.break_glass_role_name)),
        management[home], tooling[home], tags)

    rule_names: dict[str, list[str]] = {}
    for spec in specs:
        names = rule_names.setdefault(spec.guardrail, [])
        if spec.name not in names:
            names.append(spec.name)
    pulumi.export("logArchiveBucketName", archive.bucket)
    pulumi.export("logArchiveBucketArn", archive.arn)
    pulumi.export("configBucketName", archive.config_bucket)
    pulumi.export("accessLogBucketName", archive.access_log_bucket)
    pulumi.export("logKeyArn", archive.key_arn)
    pulumi.export("trailArn", org_trail.arn)
    pulumi.export("trailLogGroupName", org_trail.log_group_name)
    pulumi.export("alertTopicArn", alerts.topic_arn)
    pulumi.export("breakGlassRoleArn", break_glass_arn)
    pulumi.export("aggregatorName", aggregator.name)
    pulumi.export("baselineStackSetName", baseline.name)
    pulumi.export("configRuleNames", rule_names)
    pulumi.export("controlTowerControls", enabled_controls)
