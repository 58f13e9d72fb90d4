"""The platform's typed configuration: one model, loaded and validated before any resource.

The platform definition (accounts, OUs, projects, CIDR plan, tags, guardrail settings) is one
YAML document shared by every stack; each stack's `Pulumi.<stack>.yaml` names it with
`ml-platform:platform-file` and says which layer the stack is. Keeping one definition means a
project added to it reaches the organization, network and data stacks without copying.

Validation follows Landing Zone Accelerator's validators: every problem is collected, then all
are reported together, each naming the key, what is wrong and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from stacks import (
    data_settings,
    delivery_settings,
    identity_settings,
    model_sharing_settings,
    network_settings,
    organization_settings,
    principal_settings,
    security_settings,
    shared_services_settings,
    workspace_settings,
)
from stacks.config_model import (  # noqa: F401 (re-exported: the stacks import them from here)
    BUCKET_KINDS,
    DATA_CLASSIFICATIONS,
    EMAIL,
    ENVIRONMENTS,
    IAM_ROLE_NAME_MAX,
    ROLE_PERSONAS,
    ConfigError,
    ConfigModel,
    once_per_definition,
)

ENVIRONMENT_OUS = {"dev": "Workloads/Dev", "preprod": "Workloads/PreProd", "prod": "Workloads/Prod"}
# The OU tree from the governed-environments blog, plus Suspended for accounts being retired.
DEFAULT_OUS = (
    "Security",
    "Infrastructure",
    "Sandbox",
    "Workloads",
    "Workloads/Dev",
    "Workloads/PreProd",
    "Workloads/Prod",
    "Deployments",
    "Deployments/PreProd",
    "Deployments/Prod",
    "Suspended",
)
SHARED_ACCOUNT_OUS = {
    "log_archive": "Security",
    "security_tooling": "Security",
    "network": "Infrastructure",
    "shared_services": "Infrastructure",
    "data_lake": "Workloads/Prod",
    "automation": "Deployments",
}
DERIVED_TAGS = ("project", "environment")
# The layers with a stack module (`stacks/<layer>.py`, hyphens as underscores).
LAYERS = ("organization", "identity", "security", "network", "data-lake", "shared-services", "project", "delivery")

S3_BUCKET_NAME_MAX = 63
ACCOUNT_NAME_MAX = 50

_NAME = r"^[a-z][a-z0-9-]*[a-z0-9]$"
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT_ID = r"^\d{12}$"
_BUCKET_SUFFIX = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
BUCKET_SUFFIX_MAX = 20
# S3 general purpose bucket naming rules beyond length and characters.
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")



class AccountSpec(ConfigModel):
    """A member account: its name and root e-mail; `ou` defaults by role."""

    name: str = Field(pattern=_NAME, max_length=ACCOUNT_NAME_MAX)
    email: str
    ou: str | None = None


class SandboxAccount(AccountSpec):
    owner: str


class SharedAccounts(ConfigModel):
    log_archive: AccountSpec
    security_tooling: AccountSpec
    network: AccountSpec
    shared_services: AccountSpec
    data_lake: AccountSpec
    automation: AccountSpec


class ProjectEnvironment(ConfigModel):
    """One environment of an ML project: its account and its VPC range."""

    email: str
    cidr: str
    azs: int = Field(default=0, ge=0, le=6, description="0 means 2 (3 in prod)")


class Project(ConfigModel):
    name: str = Field(pattern=_NAME, max_length=24)
    owner: str
    cost_center: str
    data_classification: Literal[DATA_CLASSIFICATIONS] = "confidential"
    # Model-consumer projects invoke a model shared by another account (RK blog).
    consumes_models_from: list[str] = []
    environments: dict[str, ProjectEnvironment]


class CidrPlan(ConfigModel):
    """Where VPC ranges come from; project ranges are per environment in `projects`."""

    supernet: str
    shared: dict[str, str]


class Guardrails(ConfigModel):
    scp_limit_per_target: int = Field(default=5, ge=1, le=10)
    notebook_instance_types: list[str] = ["ml.t3.medium", "ml.m5.xlarge"]
    sagemaker_source_vpce_ids: list[str] = []
    sagemaker_source_cidrs: list[str] = []
    # Free SCP slots every target keeps for the next guardrail (besides FullAWSAccess).
    scp_free_slots_per_target: int = Field(default=1, ge=0, le=9)
    # MOD-1: OUs holding model-producer accounts, where consumers' delegated roles act.
    model_producer_ous: list[str] = ["Workloads"]


class OrganizationSettings(ConfigModel):
    # An existing organization is adopted (imported), never created twice.
    organization_id: str | None = Field(default=None, pattern=r"^o-[a-z0-9]{10,32}$")
    management_account_id: str = Field(pattern=_ACCOUNT_ID)
    member_role_name: str = Field(default="OrganizationAccountAccessRole", max_length=64)
    break_glass_role_name: str = Field(max_length=64)
    # The role Pulumi deploys through in member accounts, exempt from the SCPs (IAM-3). It is
    # the member role: Organizations creates it in every new account, so nothing has to
    # bootstrap it past SCPs that deny creating exempt roles.
    deployment_role_name: str | None = Field(default=None, max_length=64)

    @property
    def deployment_role(self) -> str:
        return self.deployment_role_name or self.member_role_name
    close_accounts_on_deletion: bool = False
    organizational_units: list[str] = list(DEFAULT_OUS)
    # The management account's break-glass role and the roles policies name that exist outside
    # this program (stacks/principal_settings.py).
    break_glass: principal_settings.BreakGlassSettings = principal_settings.BreakGlassSettings()
    existing_roles: list[principal_settings.ExistingRole] = []
    # Trusted-access principals the organization uses beyond those the platform's layers need
    # (stacks/organization_settings.py), kept when an existing organization is adopted.
    extra_service_access_principals: list[str] = []
    account_quota: organization_settings.AccountQuotaSettings = organization_settings.AccountQuotaSettings()


class PlatformConfig(ConfigModel):
    """The whole platform definition."""

    name_prefix: str = Field(pattern=_NAME, max_length=16)
    # Last part of every bucket name (S3 names are global across AWS customers); default the
    # management account id. See `bucket_name`.
    bucket_suffix: str | None = Field(default=None, pattern=_BUCKET_SUFFIX, max_length=BUCKET_SUFFIX_MAX)
    home_region: str
    allowed_regions: list[str] = Field(min_length=1)
    mandatory_tags: list[str] = ["owner", "project", "environment", "cost-center", "data-classification"]
    default_tags: dict[str, str]
    organization: OrganizationSettings
    shared_accounts: SharedAccounts
    sandbox_accounts: list[SandboxAccount] = []
    projects: list[Project] = []
    cidr_plan: CidrPlan
    guardrails: Guardrails = Guardrails()
    security: security_settings.SecuritySettings = security_settings.SecuritySettings()
    network: network_settings.NetworkSettings = network_settings.NetworkSettings()
    data_lake: data_settings.DataSettings = data_settings.DataSettings()
    shared_services: shared_services_settings.SharedServicesSettings = shared_services_settings.SharedServicesSettings()
    workspace: workspace_settings.WorkspaceSettings = workspace_settings.WorkspaceSettings()
    delivery: delivery_settings.DeliverySettings = delivery_settings.DeliverySettings()
    identity: identity_settings.IdentitySettings = identity_settings.IdentitySettings()
    model_sharing: model_sharing_settings.ModelSharingSettings = model_sharing_settings.ModelSharingSettings()

    # Derived views used by the stacks; pure functions of the configuration.
    def project(self, name: str) -> Project:
        return next(p for p in self.projects if p.name == name)

    def bucket_name(self, *parts: str) -> str:
        """The one naming rule of every bucket the program creates:
        `<name_prefix>-<parts...>-<bucket_suffix>`, the suffix defaulting to the management
        account id. S3 bucket names are global across all AWS customers, so a name without a
        part this organization owns could already exist elsewhere (`BucketAlreadyExists`) or
        be taken first by someone who guesses it; the prefix still leads, so `<prefix>-*`
        patterns (endpoint policies, SCPs, log delivery) keep matching."""
        suffix = self.bucket_suffix or self.organization.management_account_id
        return f"{self.name_prefix}-{'-'.join(parts)}-{suffix}"

    def shared_account_ou(self, key: str) -> str:
        return getattr(self.shared_accounts, key).ou or SHARED_ACCOUNT_OUS[key]

    def project_account_name(self, project: str, env: str) -> str:
        return f"{self.name_prefix}-{project}-{env}"

    def accounts(self) -> dict[str, tuple[AccountSpec, str]]:
        """Every member account by key (`log-archive`, ..., `<project>-<env>`, a sandbox's
        name), with the OU path it belongs in (the caller's own dict)."""
        return dict(_accounts(self))


@once_per_definition
def _accounts(cfg: PlatformConfig) -> tuple[tuple[str, tuple[AccountSpec, str]], ...]:
    # Built once per definition: validation and the stacks ask for it many times, and each
    # build validates a model per project account.
    found: dict[str, tuple[AccountSpec, str]] = {}
    for key in SharedAccounts.model_fields:
        found[key.replace("_", "-")] = (getattr(cfg.shared_accounts, key), cfg.shared_account_ou(key))
    for sandbox in cfg.sandbox_accounts:
        found[sandbox.name] = (sandbox, sandbox.ou or "Sandbox")
    for project in cfg.projects:
        for env, spec in project.environments.items():
            account = AccountSpec(name=cfg.project_account_name(project.name, env), email=spec.email)
            found[f"{project.name}-{env}"] = (account, ENVIRONMENT_OUS.get(env, "Workloads"))
    for key, (name, email) in _model_accounts(cfg).items():
        found[key] = (AccountSpec(name=name, email=email), model_sharing_settings.MODEL_ACCOUNT_OU)
    return tuple(found.items())


def _model_accounts(cfg: PlatformConfig, buckets: bool = False) -> Any:
    """The dedicated model accounts (or their bucket names); none while `model_sharing` failed
    schema validation (its own problems are reported), so the other checks still run."""
    try:
        if buckets:
            return model_sharing_settings.model_bucket_names(cfg)
        return model_sharing_settings.model_accounts(cfg)
    except UnavailableSetting:
        return [] if buckets else {}


def _check_email(key: str, email: str, seen: dict[str, str], problems: list[str]) -> None:
    if not EMAIL.match(email) or len(email) > 64:
        problems.append(f"{key}: '{email}' is not a valid e-mail address (allowed: name@domain.tld, at most 64 characters)")
    lowered = email.lower()
    if lowered in seen:
        problems.append(f"{key}: e-mail '{email}' is already used by {seen[lowered]} (every account needs its own)")
    else:
        seen[lowered] = key


def _network(key: str, value: str, problems: list[str], prefixes: tuple[int, int] = (16, 28)) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        problems.append(f"{key}: '{value}' is not a valid IPv4 CIDR block ({exc}; allowed: e.g. 10.64.0.0/22)")
        return None
    low, high = prefixes
    if not low <= net.prefixlen <= high:
        problems.append(f"{key}: '{value}' has prefix /{net.prefixlen} (allowed: /{low} to /{high})")
    return net


def _check_regions(cfg: PlatformConfig, problems: list[str]) -> None:
    for i, region in enumerate(cfg.allowed_regions):
        if not _REGION.match(region):
            problems.append(f"allowed_regions[{i}]: '{region}' is not an AWS region name (allowed: e.g. eu-west-1)")
        elif region.startswith("cn-") or "-gov-" in region:
            # Policies and ARNs are written for the commercial `aws` partition.
            problems.append(f"allowed_regions[{i}]: '{region}' is outside the aws partition "
                            "(allowed: commercial regions; China and GovCloud are not supported)")
    if cfg.home_region not in cfg.allowed_regions:
        problems.append(f"home_region: '{cfg.home_region}' is not in allowed_regions (allowed: {', '.join(cfg.allowed_regions)})")


def _check_tags(cfg: PlatformConfig, problems: list[str]) -> None:
    # The program sets `project` and `environment` itself; every other mandatory tag needs a
    # platform-wide default (projects override owner, cost-center and data-classification).
    for tag in (t for t in cfg.mandatory_tags if t not in cfg.default_tags and t not in DERIVED_TAGS):
        problems.append(f"default_tags: mandatory tag '{tag}' has no default value (allowed: add it to default_tags)")


def _check_organization(cfg: PlatformConfig, problems: list[str]) -> None:
    org = cfg.organization
    if org.deployment_role_name not in (None, org.member_role_name):
        problems.append(
            f"organization.deployment_role_name: '{org.deployment_role_name}' differs from member_role_name "
            f"'{org.member_role_name}' (allowed: omit it or use the member role; a separate deployment role would "
            "have to be created in every account past the SCPs that protect it)")
    if org.break_glass_role_name == org.deployment_role:
        problems.append("organization.break_glass_role_name: must differ from the deployment role")
    ous = cfg.organization.organizational_units
    for i, path in enumerate(ous):
        parent = path.rsplit("/", 1)[0] if "/" in path else None
        if parent and parent not in ous:
            problems.append(f"organization.organizational_units[{i}]: parent '{parent}' of '{path}' is not defined")
        if ous.count(path) > 1:
            problems.append(f"organization.organizational_units[{i}]: '{path}' is listed twice")
    for env, ou in ENVIRONMENT_OUS.items():
        if ou not in ous:
            problems.append(f"organization.organizational_units: '{ou}' is required for the {env} environment")
    for i, ou in enumerate(cfg.guardrails.model_producer_ous):
        if ou not in ous:
            problems.append(f"guardrails.model_producer_ous[{i}]: unknown OU '{ou}' (allowed: {', '.join(ous)})")
    g = cfg.guardrails
    if g.scp_limit_per_target < 2:
        problems.append(f"guardrails.scp_limit_per_target: {g.scp_limit_per_target} leaves no slot besides "
                        "FullAWSAccess (allowed: 2 to 10)")
    elif g.scp_free_slots_per_target >= g.scp_limit_per_target - 1:
        problems.append(f"guardrails.scp_free_slots_per_target: {g.scp_free_slots_per_target} leaves no slot for "
                        f"guardrails under scp_limit_per_target {g.scp_limit_per_target} (allowed: at most "
                        f"{max(g.scp_limit_per_target - 2, 0)}; one slot is FullAWSAccess)")


def _check_accounts(cfg: PlatformConfig, problems: list[str]) -> None:
    """Every account's e-mail and name, the project environments' e-mails included."""
    emails: dict[str, str] = {}
    names: dict[str, str] = {}

    def account(key: str, spec: AccountSpec) -> None:
        _check_email(f"{key}.email", spec.email, emails, problems)
        if spec.name in names:
            problems.append(f"{key}.name: account name '{spec.name}' is already used by {names[spec.name]}")
        else:
            names[spec.name] = key

    for key in SharedAccounts.model_fields:
        account(f"shared_accounts.{key}", getattr(cfg.shared_accounts, key))
    for i, sandbox in enumerate(cfg.sandbox_accounts):
        account(f"sandbox_accounts[{i}]", sandbox)
    for i, project in enumerate(cfg.projects):
        for env, spec in project.environments.items():
            if env in ENVIRONMENTS:  # an unknown environment is reported by _check_projects
                _check_email(f"projects[{i}].environments.{env}.email", spec.email, emails, problems)
    for key, (_, email) in _model_accounts(cfg).items():
        _check_email(f"model_sharing.projects.{key.removesuffix('-model')}.model_account.email", email, emails, problems)


def _check_account_ous(cfg: PlatformConfig, problems: list[str]) -> None:
    ous = cfg.organization.organizational_units
    specs = [(f"shared_accounts.{key}", getattr(cfg.shared_accounts, key)) for key in SharedAccounts.model_fields]
    specs += [(f"sandbox_accounts[{i}]", sandbox) for i, sandbox in enumerate(cfg.sandbox_accounts)]
    for key, spec in specs:
        if spec.ou is not None and spec.ou not in ous:
            problems.append(f"{key}.ou: unknown OU '{spec.ou}' (allowed: {', '.join(ous)})")


def _check_project_account_names(cfg: PlatformConfig, problems: list[str]) -> None:
    """The project environments' account names (derived from name_prefix) against the others."""
    names: dict[str, str] = {}
    for key in SharedAccounts.model_fields:
        names.setdefault(getattr(cfg.shared_accounts, key).name, f"shared_accounts.{key}")
    for i, sandbox in enumerate(cfg.sandbox_accounts):
        names.setdefault(sandbox.name, f"sandbox_accounts[{i}]")
    for i, project in enumerate(cfg.projects):
        for env in (e for e in project.environments if e in ENVIRONMENTS):
            env_key = f"projects[{i}].environments.{env}"
            name = cfg.project_account_name(project.name, env)
            if name in names:
                problems.append(f"{env_key}: account name '{name}' is already used by {names[name]}")
            names.setdefault(name, env_key)
            if len(name) > ACCOUNT_NAME_MAX:
                problems.append(f"{env_key}: account name '{name}' is {len(name)} characters (allowed: at most {ACCOUNT_NAME_MAX})")
    for key, (name, _) in _model_accounts(cfg).items():
        model_key = f"model_sharing.projects.{key.removesuffix('-model')}.model_account"
        if name in names:
            problems.append(f"{model_key}: account name '{name}' is already used by {names[name]}")
        names.setdefault(name, model_key)
        if len(name) > ACCOUNT_NAME_MAX:
            problems.append(f"{model_key}: account name '{name}' is {len(name)} characters (allowed: at most {ACCOUNT_NAME_MAX})")


def _check_projects(cfg: PlatformConfig, problems: list[str]) -> None:
    project_names: dict[str, int] = {}
    for i, project in enumerate(cfg.projects):
        key = f"projects[{i}]"
        if project.name in project_names:
            problems.append(f"{key}.name: project '{project.name}' is already defined at projects[{project_names[project.name]}]")
        project_names.setdefault(project.name, i)
        if not project.environments:
            problems.append(f"{key}.environments: a project needs at least one environment (allowed: {', '.join(ENVIRONMENTS)})")
        for env in project.environments:
            if env not in ENVIRONMENTS:
                problems.append(f"{key}.environments.{env}: unknown environment '{env}' (allowed: {', '.join(ENVIRONMENTS)})")
    for i, project in enumerate(cfg.projects):
        for j, source in enumerate(project.consumes_models_from):
            if source not in project_names:
                problems.append(f"projects[{i}].consumes_models_from[{j}]: unknown project '{source}' (allowed: {', '.join(project_names)})")


def _check_networks(cfg: PlatformConfig, problems: list[str]) -> None:
    supernet = _network("cidr_plan.supernet", cfg.cidr_plan.supernet, problems, prefixes=(8, 24))
    ranges: list[tuple[str, ipaddress.IPv4Network]] = []
    for key, value in cfg.cidr_plan.shared.items():
        if key not in ("network", "shared_services", "data_lake", "automation"):
            problems.append(f"cidr_plan.shared.{key}: unknown shared VPC (allowed: network, shared_services, data_lake, automation)")
        net = _network(f"cidr_plan.shared.{key}", value, problems)
        if net:
            ranges.append((f"cidr_plan.shared.{key}", net))
    for i, project in enumerate(cfg.projects):
        for env, spec in project.environments.items():
            if env not in ENVIRONMENTS:
                continue
            key = f"projects[{i}].environments.{env}.cidr"
            net = _network(key, spec.cidr, problems)
            if net:
                ranges.append((key, net))
    overlaps = _overlapping_pairs([net for _, net in ranges])
    for idx, (key, net) in enumerate(ranges):
        if supernet is not None and not net.subnet_of(supernet):
            problems.append(f"{key}: {net} is outside cidr_plan.supernet {supernet}")
        for other in overlaps.get(idx, ()):
            other_key, other_net = ranges[other]
            problems.append(f"{key}: {net} overlaps {other_key} ({other_net})")


def _overlapping_pairs(nets: list[ipaddress.IPv4Network]) -> dict[int, list[int]]:
    """For each index, the earlier indexes whose network overlaps it, in order.

    Every stack parses the platform file, so comparing every pair (quadratic in project
    environments) added up; two CIDR blocks overlap only when one contains the other, so a sweep
    in address order, keeping the blocks that contain the current one open, finds each pair once."""
    found: dict[int, list[int]] = {}
    open_blocks: list[int] = []
    for idx in sorted(range(len(nets)), key=lambda i: (int(nets[i].network_address), nets[i].prefixlen, i)):
        start = int(nets[idx].network_address)
        while open_blocks and int(nets[open_blocks[-1]].broadcast_address) < start:
            open_blocks.pop()
        for other in open_blocks:
            later, earlier = max(idx, other), min(idx, other)
            found.setdefault(later, []).append(earlier)
        open_blocks.append(idx)
    return {idx: sorted(earlier) for idx, earlier in found.items()}


def bucket_name_problem(name: str) -> str | None:
    """What is wrong with `name` as an S3 general purpose bucket name, or None."""
    if not 3 <= len(name) <= S3_BUCKET_NAME_MAX:
        return f"would be {len(name)} characters (allowed: 3 to {S3_BUCKET_NAME_MAX})"
    if not _BUCKET_CHARS.match(name) or ".." in name:
        return "is not a valid bucket name (allowed: lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)"
    if name.startswith(_BUCKET_RESERVED_PREFIXES) or name.endswith(_BUCKET_RESERVED_SUFFIXES):
        return "uses a prefix or suffix S3 reserves (xn--, sthree-, amzn-s3-demo-, -s3alias, --ol-s3, .mrap, --x-s3, --table-s3)"
    return None


def plan_bucket_names(cfg: PlatformConfig) -> list[tuple[str, str, str]]:
    """(key, bucket name, what to shorten) of every bucket the program creates, from the
    naming functions that create them."""
    found = [("security.log_archive", name, "name_prefix or bucket_suffix")
             for name in security_settings.log_archive_bucket_names(cfg)]
    for name in data_settings.lake_platform_bucket_names(cfg):
        found.append(("data_lake", name, "name_prefix or bucket_suffix"))
    for name in shared_services_settings.bucket_names(cfg):
        found.append(("shared_services", name, "name_prefix or bucket_suffix"))
    for name in delivery_settings.created_bucket_names(cfg):
        found.append(("delivery.projects", name, "name_prefix, bucket_suffix or the project name"))
    for i, domain in enumerate(cfg.data_lake.domains):
        for zone in data_settings.ZONES:
            found.append((f"data_lake.domains[{i}].name", data_settings.lake_bucket_name(cfg, domain.name, zone),
                          "name_prefix, bucket_suffix or the domain name"))
    for project, name in _model_accounts(cfg, buckets=True):
        found.append((f"model_sharing.projects.{project}", name, "name_prefix, bucket_suffix or the project name"))
    for i, project in enumerate(cfg.projects):
        for env in (e for e in project.environments if e in ENVIRONMENTS):
            for kind in data_settings.KINDS_BY_ENVIRONMENT[env]:
                found.append((f"projects[{i}].name", data_settings.project_bucket_name(cfg, project.name, env, kind),
                              "name_prefix, bucket_suffix or the project name"))
    return found


def _check_derived_names(cfg: PlatformConfig, problems: list[str]) -> None:
    """Bucket and role names the program derives, against AWS rules (the naming functions
    that create them, so this check and the names cannot drift)."""
    seen: dict[str, str] = {}
    for key, bucket, shorten in plan_bucket_names(cfg):
        problem = bucket_name_problem(bucket)
        # security_settings.validate reports the log archive's names under their own keys.
        if problem is not None and key != "security.log_archive":
            problems.append(f"{key}: bucket name '{bucket}' {problem}"
                            + (f"; shorten {shorten}" if problem.startswith("would be") else ""))
        if bucket in seen:
            problems.append(f"{key}: bucket name '{bucket}' is also the name of a bucket of {seen[bucket]} "
                            "(allowed: every bucket its own name)")
        seen.setdefault(bucket, key)
    for i, project in enumerate(cfg.projects):
        key = f"projects[{i}]"
        for env in (e for e in project.environments if e in ENVIRONMENTS):
            role = data_settings.project_role_name(cfg, project.name, env, max(ROLE_PERSONAS, key=len))
            if len(role) > IAM_ROLE_NAME_MAX:
                problems.append(
                    f"{key}.name: IAM role name '{role}' would be {len(role)} characters "
                    f"(allowed: at most {IAM_ROLE_NAME_MAX}; shorten name_prefix or the project name)"
                )


Check = Callable[[PlatformConfig, list[str]], None]


def _layer(settings: Any) -> tuple[Check, ...]:
    """A layer's checks: its `CHECKS` one by one where it has them, else its `validate`."""
    if hasattr(settings, "CHECKS"):
        return tuple(settings.CHECKS)

    def check(cfg: PlatformConfig, problems: list[str]) -> None:
        problems.extend(settings.validate(cfg))
    return (check,)


# Each check is skipped on its own when it reads a setting whose schema validation failed.
_CHECKS: tuple[Check, ...] = (
    _check_regions, _check_tags, _check_organization, _check_accounts, _check_account_ous,
    _check_project_account_names, _check_projects, _check_networks, _check_derived_names,
    *_layer(security_settings), *_layer(network_settings), *_layer(data_settings),
    *_layer(principal_settings), *_layer(organization_settings), *_layer(shared_services_settings),
    *_layer(workspace_settings), *_layer(identity_settings), *_layer(model_sharing_settings),
    *_layer(delivery_settings),
)


def validate_platform(cfg: PlatformConfig) -> list[str]:
    """Cross-field checks the schema alone cannot express; returns every problem found.

    `cfg` may be a partial configuration (see `_partial`): a check that reads a setting whose
    schema validation failed stops there (keeping what it found) and the other checks run.
    """
    problems: list[str] = []
    for check in _CHECKS:
        found: list[str] = []
        try:
            check(cfg, found)
        except UnavailableSetting:
            pass  # the setting's own problem is already reported
        except TypeError as exc:
            # Built-ins that check types in C (re.match, str.join) refuse the stand-in before
            # any of its methods can raise; anything else is a real error.
            if _Unavailable.__name__ not in str(exc):
                raise
        problems.extend(found)
    return problems


class UnavailableSetting(Exception):
    """A cross-field check read a setting that failed schema validation."""


class _Unavailable:
    """Stands in for a setting that failed schema validation: any use of it raises
    `UnavailableSetting`, so exactly the checks that depend on it are skipped."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        object.__setattr__(self, "key", key)

    def __repr__(self) -> str:
        return f"<unavailable {self.key}>"

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UnavailableSetting(self.key)

    __getattr__ = __setattr__ = __getitem__ = __iter__ = __len__ = __contains__ = __bool__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _fail  # type: ignore[assignment]
    __str__ = __format__ = __add__ = __radd__ = __int__ = __index__ = __call__ = _fail  # type: ignore[assignment]


def _partial(model: type[ConfigModel], data: dict, errors: list[tuple], key: str = "") -> Any:
    """`model` built from `data` whose schema validation failed at `errors` (locations relative
    to `data`): every field without an error is validated as usual, a nested section with
    errors inside is built the same way, and any other field with an error is `_Unavailable`."""
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        here = [loc[1:] for loc in errors if loc and loc[0] == name]
        field_key = f"{key}.{name}" if key else name
        section = info.annotation if isinstance(info.annotation, type) and issubclass(info.annotation, ConfigModel) else None
        if not here and name in data:
            values[name] = TypeAdapter(Annotated[info.annotation, info]).validate_python(data[name])
        elif not here:
            values[name] = info.get_default(call_default_factory=True)
        elif section is not None and all(here) and isinstance(data.get(name), dict):
            values[name] = _partial(section, data[name], here, field_key)
        else:
            values[name] = _Unavailable(field_key)
    return model.model_construct(**values)


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or "(top level)"
        if err["type"] == "missing":
            problems.append(f"{key}: required key is missing")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key (check the spelling; see stacks/platform.yaml for the allowed keys)")
        else:
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return problems


def parse_platform(data: Any) -> PlatformConfig:
    """Validate raw configuration data; raise :class:`ConfigError` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError(["(top level): the platform definition must be a mapping"])
    try:
        cfg = PlatformConfig.model_validate(data)
        problems = []
    except ValidationError as exc:
        # Schema and cross-field problems in one pass: the checks run on what did validate.
        problems = _pydantic_problems(exc)
        cfg = _partial(PlatformConfig, data, [tuple(e["loc"]) for e in exc.errors()])
    problems += validate_platform(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def load_platform_file(path: Path) -> PlatformConfig:
    """Read and validate a platform definition file."""
    try:
        # The C loader when PyYAML has it: every stack parses this file, so it adds up.
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except FileNotFoundError:
        raise ConfigError([f"ml-platform:platform-file: '{path}' does not exist"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"ml-platform:platform-file: '{path}' is not valid YAML ({exc})"]) from None
    return parse_platform(data)
