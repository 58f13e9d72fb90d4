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
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from stacks import data_settings, network_settings, principal_settings, security_settings
from stacks.config_model import EMAIL, ConfigModel

ENVIRONMENTS = ("dev", "preprod", "prod")
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
LAYERS = ("organization", "security", "network", "data-lake", "project")

# Longest names the program derives, checked against AWS limits at load time so that a long
# prefix or project name fails here rather than half-way through `pulumi up`.
BUCKET_KINDS = ("experimentation", "datasets", "pipeline", "models", "access-logs")
ROLE_PERSONAS = ("data-scientist", "ml-engineer", "model-consumer", "sm-execution")
S3_BUCKET_NAME_MAX = 63
IAM_ROLE_NAME_MAX = 64
ACCOUNT_NAME_MAX = 50

_NAME = r"^[a-z][a-z0-9-]*[a-z0-9]$"
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACCOUNT_ID = r"^\d{12}$"


class ConfigError(ValueError):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"{len(problems)} configuration problem(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )




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
    data_classification: Literal["public", "internal", "confidential", "restricted"] = "confidential"
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
    model_consumer_ous: list[str] = ["Workloads/PreProd", "Workloads/Prod"]


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


class PlatformConfig(ConfigModel):
    """The whole platform definition."""

    name_prefix: str = Field(pattern=_NAME, max_length=16)
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

    # Derived views used by the stacks; pure functions of the configuration.
    def project(self, name: str) -> Project:
        return next(p for p in self.projects if p.name == name)

    def shared_account_ou(self, key: str) -> str:
        return getattr(self.shared_accounts, key).ou or SHARED_ACCOUNT_OUS[key]

    def project_account_name(self, project: str, env: str) -> str:
        return f"{self.name_prefix}-{project}-{env}"

    def accounts(self) -> dict[str, tuple[AccountSpec, str]]:
        """Every member account by key (`log-archive`, ..., `<project>-<env>`, a sandbox's
        name), with the OU path it belongs in."""
        found: dict[str, tuple[AccountSpec, str]] = {}
        for key in SharedAccounts.model_fields:
            found[key.replace("_", "-")] = (getattr(self.shared_accounts, key), self.shared_account_ou(key))
        for sandbox in self.sandbox_accounts:
            found[sandbox.name] = (sandbox, sandbox.ou or "Sandbox")
        for project in self.projects:
            for env, spec in project.environments.items():
                account = AccountSpec(name=self.project_account_name(project.name, env), email=spec.email)
                found[f"{project.name}-{env}"] = (account, ENVIRONMENT_OUS.get(env, "Workloads"))
        return found


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


def validate_platform(cfg: PlatformConfig) -> list[str]:
    """Cross-field checks the schema alone cannot express; returns every problem found."""
    problems: list[str] = []

    for i, region in enumerate(cfg.allowed_regions):
        if not _REGION.match(region):
            problems.append(f"allowed_regions[{i}]: '{region}' is not an AWS region name (allowed: e.g. eu-west-1)")
        elif region.startswith("cn-") or "-gov-" in region:
            # Policies and ARNs are written for the commercial `aws` partition.
            problems.append(f"allowed_regions[{i}]: '{region}' is outside the aws partition "
                            "(allowed: commercial regions; China and GovCloud are not supported)")
    if cfg.home_region not in cfg.allowed_regions:
        problems.append(f"home_region: '{cfg.home_region}' is not in allowed_regions (allowed: {', '.join(cfg.allowed_regions)})")
    # The program sets `project` and `environment` itself; every other mandatory tag needs a
    # platform-wide default (projects override owner, cost-center and data-classification).
    for tag in (t for t in cfg.mandatory_tags if t not in cfg.default_tags and t not in DERIVED_TAGS):
        problems.append(f"default_tags: mandatory tag '{tag}' has no default value (allowed: add it to default_tags)")

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
    for i, ou in enumerate(cfg.guardrails.model_consumer_ous):
        if ou not in ous:
            problems.append(f"guardrails.model_consumer_ous[{i}]: unknown OU '{ou}' (allowed: {', '.join(ous)})")

    emails: dict[str, str] = {}
    names: dict[str, str] = {}

    def account(key: str, spec: AccountSpec) -> None:
        _check_email(f"{key}.email", spec.email, emails, problems)
        if spec.name in names:
            problems.append(f"{key}.name: account name '{spec.name}' is already used by {names[spec.name]}")
        else:
            names[spec.name] = key
        if spec.ou is not None and spec.ou not in ous:
            problems.append(f"{key}.ou: unknown OU '{spec.ou}' (allowed: {', '.join(ous)})")

    for key in SharedAccounts.model_fields:
        account(f"shared_accounts.{key}", getattr(cfg.shared_accounts, key))
    for i, sandbox in enumerate(cfg.sandbox_accounts):
        account(f"sandbox_accounts[{i}]", sandbox)

    supernet = _network("cidr_plan.supernet", cfg.cidr_plan.supernet, problems, prefixes=(8, 24))
    ranges: list[tuple[str, ipaddress.IPv4Network]] = []
    for key, value in cfg.cidr_plan.shared.items():
        if key not in ("network", "shared_services", "data_lake", "automation"):
            problems.append(f"cidr_plan.shared.{key}: unknown shared VPC (allowed: network, shared_services, data_lake, automation)")
        net = _network(f"cidr_plan.shared.{key}", value, problems)
        if net:
            ranges.append((f"cidr_plan.shared.{key}", net))

    project_names: dict[str, int] = {}
    for i, project in enumerate(cfg.projects):
        key = f"projects[{i}]"
        if project.name in project_names:
            problems.append(f"{key}.name: project '{project.name}' is already defined at projects[{project_names[project.name]}]")
        project_names.setdefault(project.name, i)
        if not project.environments:
            problems.append(f"{key}.environments: a project needs at least one environment (allowed: {', '.join(ENVIRONMENTS)})")
        for env, spec in project.environments.items():
            env_key = f"{key}.environments.{env}"
            if env not in ENVIRONMENTS:
                problems.append(f"{env_key}: unknown environment '{env}' (allowed: {', '.join(ENVIRONMENTS)})")
                continue
            acct = AccountSpec.model_construct(name=cfg.project_account_name(project.name, env), email=spec.email)
            _check_email(f"{env_key}.email", spec.email, emails, problems)
            if acct.name in names:
                problems.append(f"{env_key}: account name '{acct.name}' is already used by {names[acct.name]}")
            names.setdefault(acct.name, env_key)
            if len(acct.name) > ACCOUNT_NAME_MAX:
                problems.append(f"{env_key}: account name '{acct.name}' is {len(acct.name)} characters (allowed: at most {ACCOUNT_NAME_MAX})")
            net = _network(f"{env_key}.cidr", spec.cidr, problems)
            if net:
                ranges.append((f"{env_key}.cidr", net))
            # The data layer's own naming functions, so this check and the names cannot drift.
            bucket = data_settings.project_bucket_name(cfg, project.name, env, max(BUCKET_KINDS, key=len))
            if len(bucket) > S3_BUCKET_NAME_MAX:
                problems.append(
                    f"{key}.name: bucket name '{bucket}' would be {len(bucket)} characters "
                    f"(allowed: at most {S3_BUCKET_NAME_MAX}; shorten name_prefix or the project name)"
                )
            role = data_settings.project_role_name(cfg, project.name, env, max(ROLE_PERSONAS, key=len))
            if len(role) > IAM_ROLE_NAME_MAX:
                problems.append(
                    f"{key}.name: IAM role name '{role}' would be {len(role)} characters "
                    f"(allowed: at most {IAM_ROLE_NAME_MAX}; shorten name_prefix or the project name)"
                )
    for i, project in enumerate(cfg.projects):
        for j, source in enumerate(project.consumes_models_from):
            if source not in project_names:
                problems.append(f"projects[{i}].consumes_models_from[{j}]: unknown project '{source}' (allowed: {', '.join(project_names)})")

    for idx, (key, net) in enumerate(ranges):
        if supernet is not None and not net.subnet_of(supernet):
            problems.append(f"{key}: {net} is outside cidr_plan.supernet {supernet}")
        for other_key, other in ranges[:idx]:
            if net.overlaps(other):
                problems.append(f"{key}: {net} overlaps {other_key} ({other})")
    for layer in (security_settings, network_settings, data_settings, principal_settings):
        problems.extend(layer.validate(cfg))
    return problems


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
    except ValidationError as exc:
        raise ConfigError(_pydantic_problems(exc)) from None
    problems = validate_platform(cfg)
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
