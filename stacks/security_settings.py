"""Settings of the security and audit layer (`security:` in the platform definition).

Every key has a secure default, so `security: {}` builds the full layer: an immutable log
archive (Object Lock COMPLIANCE, 365 days), an organization trail with S3 data events on the
data-lake and model buckets, AWS Config everywhere with the detective guardrails, GuardDuty,
Security Hub, IAM Access Analyzer and the security alerts. `validate` adds the cross-field
checks the schema cannot express; every problem names its key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from components.config_rules import DETECTIVE_RULES, GUARDRAIL_IDS, rule_name  # the catalog lives with the rules
from policy_documents.arns import partition_of
from stacks import data_settings as ds
from stacks import delivery_settings as dv
from stacks import shared_services_settings as ss
from stacks.config_model import (
    EMAIL,
    IA_MIN_DAYS,
    LOG_RETENTION_DAYS,
    ConfigModel,
    Transition,
)

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

ObjectLockMode = Literal["GOVERNANCE", "COMPLIANCE"]
ChangePrincipal = Literal["deployment-role", "break-glass"]
DeliveryFrequency = Literal["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"]
GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", "EKS_AUDIT_LOGS", "EBS_MALWARE_PROTECTION", "RDS_LOGIN_EVENTS",
                      "EKS_RUNTIME_MONITORING", "LAMBDA_NETWORK_LOGS", "RUNTIME_MONITORING")
_MIN_TRANSITION_DAYS = {"STANDARD_IA": IA_MIN_DAYS, "ONEZONE_IA": IA_MIN_DAYS}
# CloudTrail allows at most 500 values across all conditions of a trail's advanced event
# selectors (a quota that cannot be raised); see `trail_selector_values`.
TRAIL_SELECTOR_VALUES_MAX = 500
# AWS Config rule names are at most 64 characters.
CONFIG_RULE_NAME_MAX = 64

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]*(/.*)?$")
_ROLE_NAME = re.compile(r"^[\w+=,.@*-]{1,64}$")
_TRAIL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$")
_CONTROL_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# A change ticket becomes part of an STS role session name (at most 64 of \w+=,.@-), after
# LOG_ARCHIVE_SESSION and a dash.
LOG_ARCHIVE_SESSION = "ml-platform-log-archive"
_CHANGE_TICKET = re.compile(r"^[\w+=,.@-]{1,40}$")




class ObjectLockSettings(ConfigModel):
    """Default retention of the log archive (WORM). COMPLIANCE cannot be shortened by anyone,
    root included; GOVERNANCE can be bypassed by the break-glass role only."""

    mode: ObjectLockMode = "COMPLIANCE"
    retention_days: int = Field(default=365, ge=1, le=36500)


class LogArchiveSettings(ConfigModel):
    """The log-archive account's buckets. Names default to the platform's bucket naming rule
    (`<prefix>-log-archive-<bucket suffix>`, `-config-history-`, `-log-access-`; the suffix
    defaults to the management account id)."""

    bucket_name: str | None = None
    config_bucket_name: str | None = None
    access_log_bucket_name: str | None = None
    object_lock: ObjectLockSettings = ObjectLockSettings()
    transitions: list[Transition] = [Transition(days=90, storage_class="GLACIER_IR"),
                                     Transition(days=365, storage_class="DEEP_ARCHIVE")]
    # Current log objects are never expired unless set (regulated retention); it must not be
    # shorter than the Object Lock retention.
    expire_days: int | None = Field(default=None, ge=1)
    access_log_expire_days: int = Field(default=365, ge=1)
    # Roles in the security-tooling account that may read (and decrypt) the archive. Empty
    # means `<prefix>-security-auditor`.
    auditor_role_names: list[str] = []
    # Who applies this stack's changes in the log-archive account. The archive's bucket policies
    # deny changing lifecycle, bucket policy and Object Lock settings to everyone but the
    # log-archive account's break-glass role (LOG-2), the deployment role included, so a change
    # to `transitions`, `expire_days`, `object_lock` or `auditor_role_names` is applied with
    # `break-glass` and a `change_ticket`, then this is set back (README, "Real AWS workflow",
    # step 5).
    apply_changes_as: ChangePrincipal = "deployment-role"
    # The change record that authorises a break-glass run; it names the role session, so
    # CloudTrail records it with every call of the run.
    change_ticket: str | None = None


class TrailSettings(ConfigModel):
    """The organization trail. `data_event_buckets` lists buckets whose object-level (data)
    events are logged: a bucket name, a name prefix ending in `*`, or an S3 ARN. Empty means
    every data bucket of the plan (`data_settings.data_bucket_names`: the data-lake zones and
    Athena results, and every bucket of every project environment but its access logs; the
    shared services' templates bucket; the delivery pipelines' artifact buckets)."""

    name: str | None = None
    data_event_buckets: list[str] = []
    cloudwatch_retention_days: int = 365


class ConfigSettings(ConfigModel):
    """AWS Config: recorders and delivery channels in every account and allowed region (a
    service-managed StackSet; the management account directly), the organization aggregator
    and the detective guardrails as organization Config rules."""

    delivery_frequency: DeliveryFrequency = "TwentyFour_Hours"
    # OU paths the baseline StackSet targets; empty means the organization root (every
    # account, including those created later).
    baseline_ous: list[str] = []


class ServicesSettings(ConfigModel):
    """GuardDuty, Security Hub and IAM Access Analyzer, administered from security tooling."""

    guardduty_features: list[str] = ["S3_DATA_EVENTS", "EBS_MALWARE_PROTECTION"]
    unused_access_age_days: int = Field(default=90, ge=1, le=365)


class AlertSettings(ConfigModel):
    """Who hears about security events (e-mail subscriptions of the alert topic)."""

    emails: list[str] = []


class ControlTowerControl(ConfigModel):
    """A Control Tower control enabled on OUs in place of the Config rule(s) it owns.

    `identifier` is the control's regional identifier (e.g. `AWS-GR_S3_VERSIONING_ENABLED`);
    the ARN is built as `arn:aws:controltower:<home region>::control/<identifier>`. Empty `ous`
    means every OU except Security (Control Tower manages its own controls there) and
    Suspended."""

    guardrail: str
    identifier: str
    ous: list[str] = []


# The seeds' suggested Control Tower guardrails (talk, governed-environments blog) that
# Control Tower can enable through its API (mandatory ones are always on).
DEFAULT_CONTROL_TOWER_CONTROLS = [
    ControlTowerControl(guardrail="LOG-4", identifier="AWS-GR_ROOT_ACCOUNT_MFA_ENABLED"),
    ControlTowerControl(guardrail="S3-1", identifier="AWS-GR_S3_BUCKET_PUBLIC_READ_PROHIBITED"),
    ControlTowerControl(guardrail="S3-1", identifier="AWS-GR_S3_BUCKET_PUBLIC_WRITE_PROHIBITED"),
    ControlTowerControl(guardrail="S3-3", identifier="AWS-GR_S3_VERSIONING_ENABLED"),
    ControlTowerControl(guardrail="S3-5", identifier="AWS-GR_AUDIT_BUCKET_POLICY_CHANGES_PROHIBITED"),
]


class ControlTowerSettings(ConfigModel):
    """Optional Control Tower mode: its controls replace the Config rules it owns, and its
    landing zone owns the Config recorders of enrolled accounts (the baseline StackSet then
    deploys the account baseline only)."""

    enabled: bool = False
    controls: list[ControlTowerControl] = DEFAULT_CONTROL_TOWER_CONTROLS


class SecuritySettings(ConfigModel):
    log_archive: LogArchiveSettings = LogArchiveSettings()
    trail: TrailSettings = TrailSettings()
    config: ConfigSettings = ConfigSettings()
    services: ServicesSettings = ServicesSettings()
    alerts: AlertSettings = AlertSettings()
    control_tower: ControlTowerSettings = ControlTowerSettings()


# -- derived names: pure functions of the configuration, shared by the stack and its tests ---

def log_archive_bucket_names(platform: "PlatformConfig") -> tuple[str, str, str]:
    """(archive, config history, access logs) bucket names: the configured ones, else the
    platform's bucket naming rule (`PlatformConfig.bucket_name`). Exact names, usable as SCP
    resource patterns (LOG-2)."""
    s = platform.security.log_archive
    return (s.bucket_name or platform.bucket_name("log-archive"),
            s.config_bucket_name or platform.bucket_name("config-history"),
            s.access_log_bucket_name or platform.bucket_name("log-access"))


def log_archive_deployer(platform: "PlatformConfig") -> tuple[str, str]:
    """(role name, STS session name) through which this stack acts in the log-archive account:
    the deployment role, or for a declared change the account's break-glass role with the
    change ticket in the session name."""
    s = platform.security.log_archive
    if s.apply_changes_as == "break-glass":
        return platform.organization.break_glass_role_name, f"{LOG_ARCHIVE_SESSION}-{s.change_ticket}"
    return platform.organization.deployment_role, LOG_ARCHIVE_SESSION


def baseline_role_pattern(platform: "PlatformConfig") -> str:
    """Name pattern of the account-baseline automation role the baseline StackSet creates
    (`<prefix>-account-baseline-<region>`); S3-1 lets it set the account public access block."""
    return f"{platform.name_prefix}-account-baseline-*"


def recorder_role_pattern(platform: "PlatformConfig") -> str:
    """Name pattern of the AWS Config recorder role the baseline StackSet creates
    (`<prefix>-config-recorder-<region>`): detaching its policy would stop recording (LOG-3)."""
    return f"{platform.name_prefix}-config-recorder-*"


def trail_name(platform: "PlatformConfig") -> str:
    return platform.security.trail.name or f"{platform.name_prefix}-organization-trail"


def auditor_role_names(platform: "PlatformConfig") -> list[str]:
    return platform.security.log_archive.auditor_role_names or [f"{platform.name_prefix}-security-auditor"]


def data_event_buckets(platform: "PlatformConfig") -> list[str]:
    """The configured data-event targets, or by default every data bucket of the plan: the
    names come from the naming functions that create the buckets, so the trail follows the
    data layer's configuration (dev experimentation buckets hold production data too)."""
    configured = platform.security.trail.data_event_buckets
    if configured:
        return list(configured)
    # The shared services' templates bucket too: who replaced a Service Catalog template matters;
    # and the pipelines' artifacts (the templates and code deployed into pre-production and production).
    return [*ds.data_bucket_names(platform), *ss.data_bucket_names(platform), *dv.bucket_names(platform)]


def data_event_arn_prefixes(platform: "PlatformConfig") -> list[str]:
    """`resources.ARN` StartsWith values of the trail's S3 data events: an exact bucket becomes
    `arn:...:s3:::<bucket>/` (its objects, and no other bucket whose name it begins), a
    `name*` prefix `arn:...:s3:::name`, an ARN stays as it is."""
    partition = partition_of(platform.home_region)
    found = []
    for target in data_event_buckets(platform):
        if target.startswith("arn:"):
            found.append(target)
        elif target.endswith("*"):
            found.append(f"arn:{partition}:s3:::{target[:-1]}")
        else:
            found.append(f"arn:{partition}:s3:::{target}/")
    return list(dict.fromkeys(found))


def trail_selector_values(platform: "PlatformConfig") -> int:
    """How many values the trail's advanced event selectors hold (CloudTrail quota: 500): one
    for the management-event selector; the data-event selector, when there is one, two
    (eventCategory, resources.type) plus one per resources.ARN prefix."""
    prefixes = len(data_event_arn_prefixes(platform))
    return 1 + (2 + prefixes if prefixes else 0)


def control_tower_ous(platform: "PlatformConfig", control: ControlTowerControl) -> list[str]:
    return control.ous or [ou for ou in platform.organization.organizational_units
                           if ou.split("/")[0] not in ("Security", "Suspended")]


def validate(platform: "PlatformConfig") -> list[str]:
    """Cross-field checks of the security settings; every problem, each naming its key."""
    problems: list[str] = []
    s = platform.security
    ous = platform.organization.organizational_units

    # Log archive.
    lock = s.log_archive.object_lock
    if s.log_archive.expire_days is not None and s.log_archive.expire_days < lock.retention_days:
        problems.append(
            f"security.log_archive.expire_days: {s.log_archive.expire_days} is shorter than "
            f"security.log_archive.object_lock.retention_days ({lock.retention_days}) (allowed: at least the retention)")
    previous = 0
    for i, t in enumerate(s.log_archive.transitions):
        key = f"security.log_archive.transitions[{i}]"
        minimum = _MIN_TRANSITION_DAYS.get(t.storage_class, 0)
        if t.days < minimum:
            problems.append(f"{key}.days: {t.days} is too early for {t.storage_class} (allowed: at least {minimum})")
        if i and t.days <= previous:
            problems.append(f"{key}.days: {t.days} does not come after the previous transition ({previous}) (allowed: increasing days)")
        previous = t.days
    classes = [t.storage_class for t in s.log_archive.transitions]
    if len(set(classes)) != len(classes):
        problems.append("security.log_archive.transitions: a storage class is listed twice (allowed: each class once)")
    for key, name in zip(("bucket_name", "config_bucket_name", "access_log_bucket_name"), log_archive_bucket_names(platform)):
        if not _BUCKET.match(name) or ".." in name:
            problems.append(f"security.log_archive.{key}: '{name}' is not a valid S3 bucket name "
                            "(allowed: 3-63 lowercase letters, digits, '.' and '-')")
    if len(set(log_archive_bucket_names(platform))) != 3:
        problems.append("security.log_archive: bucket_name, config_bucket_name and access_log_bucket_name must differ")
    for i, role in enumerate(s.log_archive.auditor_role_names):
        if not _ROLE_NAME.match(role):
            problems.append(f"security.log_archive.auditor_role_names[{i}]: '{role}' is not an IAM role name "
                            "(allowed: 1-64 of letters, digits, +=,.@_- and * as a wildcard)")

    # The change path of the archive's frozen settings.
    ticket = s.log_archive.change_ticket
    if s.log_archive.apply_changes_as == "break-glass":
        if ticket is None:
            problems.append("security.log_archive.change_ticket: required when security.log_archive.apply_changes_as "
                            "is break-glass (allowed: the change record's id, 1-40 of letters, digits and _+=,.@-)")
        archive_ou = platform.shared_account_ou("log_archive")
        if s.config.baseline_ous and not any(archive_ou == ou or archive_ou.startswith(f"{ou}/")
                                             for ou in s.config.baseline_ous):
            problems.append(f"security.log_archive.apply_changes_as: break-glass needs the break-glass role in the "
                            f"log-archive account, which the baseline StackSet creates only in security.config.baseline_ous "
                            f"(allowed: list '{archive_ou}' or an OU above it)")
    elif ticket is not None:
        problems.append("security.log_archive.change_ticket: set while security.log_archive.apply_changes_as is "
                        "deployment-role (allowed: only with break-glass; remove it once the change is applied)")
    if ticket is not None and not _CHANGE_TICKET.match(ticket):
        problems.append(f"security.log_archive.change_ticket: '{ticket}' cannot name a role session "
                        "(allowed: 1-40 of letters, digits and _+=,.@-)")

    # Trail.
    name = trail_name(platform)
    if not _TRAIL_NAME.match(name):
        problems.append(f"security.trail.name: '{name}' is not a valid trail name "
                        "(allowed: 3-128 letters, digits, '.', '_' and '-', starting with a letter or digit)")
    if s.trail.cloudwatch_retention_days not in LOG_RETENTION_DAYS:
        problems.append(f"security.trail.cloudwatch_retention_days: {s.trail.cloudwatch_retention_days} is not a "
                        f"CloudWatch Logs retention (allowed: {', '.join(map(str, LOG_RETENTION_DAYS))})")
    values = trail_selector_values(platform)
    if values > TRAIL_SELECTOR_VALUES_MAX:
        problems.append(f"security.trail.data_event_buckets: the trail's event selectors would hold {values} values "
                        f"for {len(data_event_arn_prefixes(platform))} data-event buckets (allowed: at most "
                        f"{TRAIL_SELECTOR_VALUES_MAX} per trail, a CloudTrail quota; list name prefixes ending in '*')")
    for i, target in enumerate(s.trail.data_event_buckets):
        if target.startswith("arn:"):
            ok = bool(_S3_ARN.match(target))
        else:
            bare = target[:-1] if target.endswith("*") else target
            ok = bool(re.match(r"^[a-z0-9][a-z0-9.-]*$", bare)) and len(bare) <= 63
        if not ok:
            problems.append(f"security.trail.data_event_buckets[{i}]: '{target}' is not a bucket name, a name prefix "
                            "ending in '*' or an S3 ARN (allowed: e.g. mrd-data-lake-raw, mrd-data-lake*, arn:aws:s3:::bucket)")

    # Config.
    for i, ou in enumerate(s.config.baseline_ous):
        if ou not in ous:
            problems.append(f"security.config.baseline_ous[{i}]: unknown OU '{ou}' (allowed: {', '.join(ous)})")
    longest = max((rule_name(platform.name_prefix, r) for r in DETECTIVE_RULES), key=len)
    if len(longest) > CONFIG_RULE_NAME_MAX:
        problems.append(f"name_prefix: Config rule name '{longest}' would be {len(longest)} characters "
                        f"(allowed: at most {CONFIG_RULE_NAME_MAX}; shorten name_prefix)")

    # Services.
    for i, feature in enumerate(s.services.guardduty_features):
        if feature not in GUARDDUTY_FEATURES:
            problems.append(f"security.services.guardduty_features[{i}]: unknown feature '{feature}' "
                            f"(allowed: {', '.join(GUARDDUTY_FEATURES)})")
    if {"EKS_RUNTIME_MONITORING", "RUNTIME_MONITORING"} <= set(s.services.guardduty_features):
        problems.append("security.services.guardduty_features: EKS_RUNTIME_MONITORING and RUNTIME_MONITORING "
                        "exclude each other (allowed: one of them)")

    # Alerts.
    for i, email in enumerate(s.alerts.emails):
        if not EMAIL.match(email):
            problems.append(f"security.alerts.emails[{i}]: '{email}' is not a valid e-mail address (allowed: name@domain.tld)")

    # Control Tower.
    for i, control in enumerate(s.control_tower.controls):
        key = f"security.control_tower.controls[{i}]"
        if control.guardrail not in GUARDRAIL_IDS:
            problems.append(f"{key}.guardrail: unknown guardrail '{control.guardrail}' (allowed: {', '.join(GUARDRAIL_IDS)})")
        if not _CONTROL_ID.match(control.identifier):
            problems.append(f"{key}.identifier: '{control.identifier}' is not a control identifier "
                            "(allowed: e.g. AWS-GR_S3_VERSIONING_ENABLED)")
        for j, ou in enumerate(control.ous):
            if ou not in ous:
                problems.append(f"{key}.ous[{j}]: unknown OU '{ou}' (allowed: {', '.join(ous)})")
    seen: set[tuple[str, str]] = set()
    for i, control in enumerate(s.control_tower.controls):
        for ou in control_tower_ous(platform, control):
            if (control.identifier, ou) in seen:
                problems.append(f"security.control_tower.controls[{i}]: {control.identifier} is enabled twice on OU '{ou}'")
            seen.add((control.identifier, ou))
    return problems
