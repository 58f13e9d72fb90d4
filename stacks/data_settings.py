"""Settings of the data layer (`data_lake:` in the platform definition).

Two halves, one vocabulary:

- the **data-lake account** (`data-lake` stack): data domains, each with its own KMS key and
  raw / curated / features buckets, Lake Formation administrators, the data engineers who
  write the lake, the one write-back role, and the consumers (project environments) that may
  read curated and feature data;
- the **project bucket sets** (`<project>-<env>` stacks): which environment holds which bucket
  kind (fixed by the whitepaper's workflow, see `KINDS_BY_ENVIRONMENT`), which project roles
  read and write each kind, and each kind's retention and lifecycle.

Every principal the layer grants to is named here, and `validate` rejects a grant to an
account, role or domain this file does not define before any resource is registered.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from components.secure_bucket import LifecycleRule
from stacks import model_sharing_settings as ms
from stacks.identity_settings import PROJECT_ENVIRONMENTS
from stacks.config_model import BUCKET_KINDS, IA_MIN_DAYS, IAM_ROLE_NAME_MAX, ROLE_PERSONAS, ConfigModel, Transition

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

# Zones of a data domain, in the order data flows through them.
ZONES = ("raw", "curated", "features")
# Raw data is never shared outside the data-lake account; consumers read these zones only.
SHARED_ZONES = ("curated", "features")
# Masked copies of curated data for consumers that may not see the unmodified data
# (governed-environments blog, pattern 2: redact on the production side before export).
REDACTED_PREFIX = "redacted/"
# The only prefix the write-back role may write (data promoted back to the lake after approval).
CONTRIBUTED_PREFIX = "contributed/"
# Prefix of Athena query results inside a project's work bucket.
ATHENA_RESULTS_PREFIX = "athena-results/"

# Which environment holds which kind of project bucket (whitepaper "Data management", read
# against its workflow; `access-logs` everywhere). Common feature buckets are the data lake's
# `features` zone, shared to every project.
#  - dev (the data science account): team / experimentation buckets; data scientists pull data
#    here to wrangle and keep their own training sets, scripts and experiment outputs.
#  - preprod (test / UAT, where automated pipelines train): the formal, versioned training /
#    validation / test datasets the pipelines read, the automation-only pipeline buckets, and
#    the model buckets the pipeline writes trained models into with lineage tags.
#  - prod: the model buckets the deployment pipeline promotes approved models into, and
#    automation-only pipeline buckets for batch inference input/output and endpoint data capture.
KINDS_BY_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "dev": ("experimentation", "access-logs"),
    "preprod": ("datasets", "pipeline", "models", "access-logs"),
    "prod": ("pipeline", "models", "access-logs"),
}
# The bucket that holds an environment's Athena results and service output (Rekognition).
WORK_BUCKET_KIND = {"dev": "experimentation", "preprod": "pipeline", "prod": "pipeline"}

_NAME = r"^[a-z][a-z0-9-]*[a-z0-9]$"
# IAM role names, optionally with a path (`aws-reserved/sso.amazonaws.com/eu-west-1/Name`).
_ROLE_NAME = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_MIN_ATHENA_CUTOFF_BYTES = 10_000_000  # Athena API model: BytesScannedCutoffPerQuery min (as components/athena_workgroups.py)




class Lifecycle(ConfigModel):
    """One bucket's lifecycle. Current data never expires unless `expire_days` is set."""

    transitions: list[Transition] = []
    noncurrent_expire_days: int | None = Field(default=None, ge=1)
    expire_days: int | None = Field(default=None, ge=1)


def lifecycle_rules(name: str, lifecycle: Lifecycle | None) -> list[LifecycleRule]:
    """The `SecureBucket` rule for a configured lifecycle (none when nothing is configured)."""
    if lifecycle is None or not (lifecycle.transitions or lifecycle.noncurrent_expire_days or lifecycle.expire_days):
        return []
    return [LifecycleRule(
        id=name,
        transitions=tuple((t.days, t.storage_class) for t in lifecycle.transitions),
        noncurrent_expire_days=lifecycle.noncurrent_expire_days,
        expire_days=lifecycle.expire_days,
    )]


# The service that reads models shared with consumer projects (RK blog) and lake data granted to it.
REKOGNITION = "rekognition.amazonaws.com"


class Domain(ConfigModel):
    """A data domain of the lake: its own KMS key, raw / curated / features buckets and
    catalog databases."""

    name: str = Field(pattern=_NAME, max_length=24)
    description: str = ""
    data_classification: Literal["public", "internal", "confidential", "restricted"] = "confidential"
    # Minimum days every object version is kept (regulatory retention); lifecycle rules that
    # would delete data earlier are rejected.
    retention_days: int = Field(default=0, ge=0)
    lifecycle: dict[str, Lifecycle] = {}


class Consumer(ConfigModel):
    """Read access for one project's environments to zones of some domains (never write)."""

    project: str
    environments: list[str] = Field(min_length=1)
    domains: list[str] = Field(min_length=1)
    zones: list[str] = ["curated", "features"]
    # Only the masked copies under `redacted/` of the curated zone (and its catalog database).
    redacted_only: bool = False
    # Roles in the project's account that read the data directly (name suffixes:
    # `<prefix>-<project>-<env>-<role>`); personas or `data_lake.project_roles`.
    roles: list[str] = ["data-scientist", "sm-execution"]
    # Per-query scan limit of this consumer's Athena workgroup; default `athena.bytes_scanned_cutoff_gb`.
    bytes_scanned_cutoff_gb: int | None = Field(default=None, ge=1)


class Approver(ConfigModel):
    """A role, in an account of the platform, allowed to assume the write-back role."""

    account: str
    role: str


class WriteBack(ConfigModel):
    """The only way data goes back into the lake from a project: a named role in the data-lake
    account, assumed by the approval step, writing under `contributed/` of curated / features."""

    role_name: str = Field(default="data-write-back", pattern=_NAME, max_length=48)
    approvers: list[Approver] = []


class AthenaSettings(ConfigModel):
    # Per-query scan limit of every workgroup unless a consumer sets its own.
    bytes_scanned_cutoff_gb: int = Field(default=100, ge=1)
    # Query results of the data engineers' workgroup are deleted after this many days.
    results_expire_days: int = Field(default=30, ge=1)


class ProjectBucketSettings(ConfigModel):
    """Who uses each kind of project bucket, and each kind's retention and lifecycle.

    Roles are name suffixes of roles in the project's account (`<prefix>-<project>-<env>-<role>`).
    """

    # Read and write the dev experimentation bucket.
    team_roles: list[str] = ["data-scientist", "ml-engineer", "sm-execution"]
    # The automation (pipelines, jobs they start): the only writers of datasets, pipeline and
    # models buckets, and the only readers of pipeline buckets.
    automation_roles: list[str] = ["sm-execution"]
    # People who may read (never write) datasets and models, e.g. to review training metrics
    # (whitepaper: no change access to test / UAT, read access if needed); people's roles
    # (`PEOPLE_ROLES`) only where their persona works, so in preprod, not prod.
    reviewer_roles: list[str] = ["ml-engineer"]
    # Object tags every model must carry when written to a models bucket (lineage).
    model_lineage_tags: list[str] = ["source-commit", "dataset-version", "training-job"]
    retention_days: dict[str, int] = {}
    lifecycle: dict[str, Lifecycle] = {}


class DataSettings(ConfigModel):
    """The `data_lake:` section of the platform definition."""

    # Roles of the data-lake account (names, optionally with a path) that administer Lake
    # Formation and the domain keys; the member role the program deploys with is added.
    admin_roles: list[str] = []
    # Roles of the data-lake account that ingest and curate data (write raw / curated / features).
    data_engineer_roles: list[str] = []
    write_back: WriteBack = WriteBack()
    domains: list[Domain] = []
    consumers: list[Consumer] = []
    athena: AthenaSettings = AthenaSettings()
    project_buckets: ProjectBucketSettings = ProjectBucketSettings()
    # Project-account role suffixes other than the personas (e.g. a delivery pipeline role).
    project_roles: list[str] = []
    # Where a model-producer project trains its Rekognition Custom Labels models on lake data
    # is `model_sharing.projects.<project>.producer` (stacks/model_sharing_settings.py).


# Project roles that people assume (the others are job roles a service assumes): role suffix ->
# the persona whose sessions in the same account assume it (its permission set's Identity
# Center role, or its SAML role). The whitepaper's "data scientist / ML engineer" is one
# persona; the two roles are what the grants tell apart. Such a role exists only in the
# environments where its persona works (`identity_settings.PROJECT_ENVIRONMENTS`: dev and
# preprod, never prod), so no grant names a role nobody can use.
PEOPLE_ROLES = {"data-scientist": "data-scientist", "ml-engineer": "data-scientist"}


def role_persona(role: str) -> str | None:
    """The persona whose sessions assume project role `role` (None: a job role)."""
    return PEOPLE_ROLES.get(role)


def roles_in_environment(env: str, roles: "list[str] | tuple[str, ...]") -> list[str]:
    """The role suffixes of `roles` that exist in `env`: job roles everywhere, people's roles
    only where their persona works."""
    return [r for r in roles if r not in PEOPLE_ROLES or env in PROJECT_ENVIRONMENTS.get(PEOPLE_ROLES[r], ())]


# -- derived names (pure functions of the configuration, shared by both stacks) -------------

def project_role_name(platform: "PlatformConfig", project: str, env: str, role: str) -> str:
    """The IAM role name of a persona / project role in a project's account."""
    return f"{platform.name_prefix}-{project}-{env}-{role}"


def project_bucket_name(platform: "PlatformConfig", project: str, env: str, kind: str) -> str:
    """A project environment's bucket of `kind` (`PlatformConfig.bucket_name` is the rule)."""
    return platform.bucket_name(project, env, kind)


def project_bucket_prefix(platform: "PlatformConfig", project: str, env: str) -> str:
    """What every bucket name of a project environment starts with (log delivery sources)."""
    return f"{platform.name_prefix}-{project}-{env}-"


def lake_bucket_name(platform: "PlatformConfig", domain: str, zone: str) -> str:
    """A data domain's bucket of `zone`."""
    return platform.bucket_name("data-lake", domain, zone)


def lake_bucket_prefix(platform: "PlatformConfig") -> str:
    """What every bucket name of the data-lake account starts with (log delivery sources)."""
    return f"{platform.name_prefix}-data-lake-"


def lake_access_log_bucket_name(platform: "PlatformConfig") -> str:
    return platform.bucket_name("data-lake", "access-logs")


def lake_athena_results_bucket_name(platform: "PlatformConfig") -> str:
    """The data engineers' Athena query results."""
    return platform.bucket_name("data-lake", "athena-results")


def lake_platform_bucket_names(platform: "PlatformConfig") -> tuple[str, str]:
    """(access logs, Athena results): the data-lake account's buckets outside the domains."""
    return lake_access_log_bucket_name(platform), lake_athena_results_bucket_name(platform)


def data_bucket_names(platform: "PlatformConfig") -> list[str]:
    """Every bucket of the plan that holds data (not access logs): each domain's zones, the
    data engineers' Athena results and each project environment's buckets (the work buckets
    hold its Athena results). The trail logs their object-level events."""
    found = [lake_bucket_name(platform, d.name, zone) for d in platform.data_lake.domains for zone in ZONES]
    found.append(lake_athena_results_bucket_name(platform))
    for project in platform.projects:
        for env in project.environments:
            found += [project_bucket_name(platform, project.name, env, kind)
                      for kind in KINDS_BY_ENVIRONMENT.get(env, ()) if kind != "access-logs"]
    return found


def lake_database_name(platform: "PlatformConfig", domain: str, zone: str) -> str:
    """Glue database of a domain's zone (`redacted` is the masked copies of `curated`)."""
    return f"{platform.name_prefix}_{domain}_{zone}".replace("-", "_")


def write_back_role_name(platform: "PlatformConfig") -> str:
    return f"{platform.name_prefix}-{platform.data_lake.write_back.role_name}"


def lake_formation_role_name(platform: "PlatformConfig") -> str:
    return f"{platform.name_prefix}-lake-formation-data-access"


def domain_databases(platform: "PlatformConfig", domain: str) -> dict[str, tuple[str, str]]:
    """Catalog databases of a domain -> (zone, prefix): one per zone, plus `redacted` for the
    masked copies under `curated/redacted/`."""
    found = {lake_database_name(platform, domain, zone): (zone, "") for zone in ZONES}
    found[lake_database_name(platform, domain, "redacted")] = ("curated", REDACTED_PREFIX)
    return found


def consumer_databases(platform: "PlatformConfig", consumer: "Consumer", domain: str) -> list[str]:
    """The catalog databases a consumer entry may read in `domain`."""
    if consumer.redacted_only:
        return [lake_database_name(platform, domain, "redacted")]
    return [lake_database_name(platform, domain, zone) for zone in consumer.zones if zone in SHARED_ZONES]


def consumer_grants(platform: "PlatformConfig", project: str, env: str) -> list[tuple[Consumer, str]]:
    """(consumer entry, domain) pairs that grant `project`-`env` read access."""
    return [(c, d) for c in platform.data_lake.consumers if c.project == project and env in c.environments
            for d in c.domains]


def model_consumer_role_pattern(platform: "PlatformConfig") -> str:
    """Name pattern of the roles model consumers act through: the `model-consumer` persona of
    every project environment and the per-consumer roles a producer account trusts them into
    (`<prefix>-<project>-<env>-model-consumer...`). MOD-1 binds to it."""
    return f"{platform.name_prefix}-*-model-consumer*"


def model_producers(platform: "PlatformConfig") -> set[str]:
    """Projects that share a model (they train on lake data in their producer environment,
    `model_sharing_settings.producer_environment`)."""
    return {p.name for p in platform.projects if ms.producer_environment(platform, p.name) is not None}


def known_project_roles(platform: "PlatformConfig") -> list[str]:
    return [*ROLE_PERSONAS, *platform.data_lake.project_roles]


S3_BUCKET_POLICY_MAX = 20 * 1024
# Minified size of a data bucket's fixed statements (TLS, encryption, writers, write-back,
# denies), of one group of consumer statements (one per prefix), of one role ARN (it appears
# in up to four statements) and of one account, measured on the sample with some margin.
_POLICY_BASE = 4300
_GROUP_OVERHEAD = 850
_ARN_OVERHEAD = len('"arn:aws:iam::123456789012:role/",')
_ROOT_SIZE = len('"arn:aws:iam::123456789012:root",')
# Rekognition reading for a model producer's account (bucket and read statements, and its
# place in the denies), measured on the sample with some margin.
_SERVICE_READER_SIZE = 1000


def estimate_lake_policy_sizes(platform: "PlatformConfig") -> dict[str, int]:
    """Approximate (slightly high) bucket-policy size of every domain bucket, for the S3 limit."""
    data = platform.data_lake
    sizes: dict[str, int] = {}
    fixed = sum(len(r) + _ARN_OVERHEAD for r in data.data_engineer_roles) * 4
    for domain in data.domains:
        for zone in ZONES:
            size = _POLICY_BASE + fixed
            groups: set[bool] = set()
            for consumer in data.consumers:
                if domain.name not in consumer.domains or zone not in consumer.zones:
                    continue
                groups.add(consumer.redacted_only)
                for env in consumer.environments:
                    names = [project_role_name(platform, consumer.project, env, r)
                             for r in roles_in_environment(env, consumer.roles)]
                    size += 2 * _ROOT_SIZE + 4 * sum(len(n) + _ARN_OVERHEAD for n in names)
                    if ms.is_producer(platform, consumer.project, env):
                        size += _SERVICE_READER_SIZE
            sizes[lake_bucket_name(platform, domain.name, zone)] = size + _GROUP_OVERHEAD * len(groups)
    return sizes


# -- validation --------------------------------------------------------------------------

def _lifecycle_problems(key: str, lifecycle: Lifecycle, retention_days: int, problems: list[str]) -> None:
    for field in ("expire_days", "noncurrent_expire_days"):
        days = getattr(lifecycle, field)
        if days is not None and days < retention_days:
            problems.append(
                f"{key}.{field}: {days} days would expire data before its retention of {retention_days} days "
                f"(allowed: at least {retention_days}, or remove {field})"
            )
    previous = -1
    for i, transition in enumerate(lifecycle.transitions):
        if transition.days <= previous:
            problems.append(f"{key}.transitions[{i}].days: {transition.days} is not after the previous transition ({previous}) (allowed: increasing days)")
        previous = transition.days
        if transition.storage_class in ("STANDARD_IA", "ONEZONE_IA") and transition.days < IA_MIN_DAYS:
            problems.append(f"{key}.transitions[{i}].days: S3 moves objects to {transition.storage_class} after {IA_MIN_DAYS} days at the earliest (got {transition.days})")
        if lifecycle.expire_days is not None and transition.days >= lifecycle.expire_days:
            problems.append(f"{key}.transitions[{i}].days: {transition.days} is not before expire_days ({lifecycle.expire_days})")


def _role_problems(key: str, roles: list[str], allowed: list[str], problems: list[str]) -> None:
    for i, role in enumerate(roles):
        if role not in allowed:
            problems.append(f"{key}[{i}]: unknown role '{role}' (allowed: {', '.join(allowed)}; add others to data_lake.project_roles)")
    seen = {r for r in roles if roles.count(r) > 1}
    for role in sorted(seen):
        problems.append(f"{key}: role '{role}' is listed twice")


def _check_roles(platform: "PlatformConfig", problems: list[str]) -> None:
    """Data-lake account roles and project role suffixes."""
    data = platform.data_lake
    for field in ("admin_roles", "data_engineer_roles"):
        for i, role in enumerate(getattr(data, field)):
            if not _ROLE_NAME.match(role) or "*" in role:
                problems.append(f"data_lake.{field}[{i}]: '{role}' is not an IAM role name (allowed: letters, digits, +=,.@_- with an optional path; no wildcards, Lake Formation needs exact principals)")
    for i, role in enumerate(data.project_roles):
        if not re.match(_NAME, role):
            problems.append(f"data_lake.project_roles[{i}]: '{role}' is not a role suffix (allowed: lowercase letters, digits and hyphens)")
        for project in platform.projects:
            for env in project.environments:
                name = project_role_name(platform, project.name, env, role)
                if len(name) > IAM_ROLE_NAME_MAX:
                    problems.append(f"data_lake.project_roles[{i}]: role name '{name}' would be {len(name)} characters (allowed: at most {IAM_ROLE_NAME_MAX})")


def _check_write_back(platform: "PlatformConfig", problems: list[str]) -> None:
    """Write-back: only approvers the platform defines."""
    data = platform.data_lake
    accounts = list(platform.accounts())
    wb = write_back_role_name(platform)
    if len(wb) > IAM_ROLE_NAME_MAX:
        problems.append(f"data_lake.write_back.role_name: role name '{wb}' would be {len(wb)} characters (allowed: at most {IAM_ROLE_NAME_MAX})")
    for i, approver in enumerate(data.write_back.approvers):
        key = f"data_lake.write_back.approvers[{i}]"
        if approver.account not in accounts:
            problems.append(f"{key}.account: unknown account '{approver.account}' (allowed: {', '.join(accounts)})")
        if not _ROLE_NAME.match(approver.role) or "*" in approver.role:
            problems.append(f"{key}.role: '{approver.role}' is not an IAM role name (allowed: letters, digits, +=,.@_- with an optional path; no wildcards)")


def _check_domains(platform: "PlatformConfig", problems: list[str]) -> None:
    """Domains and their lifecycles (their bucket names: `stacks.config` checks every bucket)."""
    data = platform.data_lake
    domains = [d.name for d in data.domains]
    for i, domain in enumerate(data.domains):
        key = f"data_lake.domains[{i}]"
        if domains.count(domain.name) > 1 and domains.index(domain.name) != i:
            problems.append(f"{key}.name: domain '{domain.name}' is already defined at data_lake.domains[{domains.index(domain.name)}]")
        for zone, lifecycle in domain.lifecycle.items():
            if zone not in ZONES:
                problems.append(f"{key}.lifecycle.{zone}: unknown zone '{zone}' (allowed: {', '.join(ZONES)})")
                continue
            _lifecycle_problems(f"{key}.lifecycle.{zone}", lifecycle, domain.retention_days, problems)


def _check_consumers(platform: "PlatformConfig", problems: list[str]) -> None:
    """Consumers: only defined projects, environments, domains, zones and roles."""
    data = platform.data_lake
    domains = [d.name for d in data.domains]
    projects = {p.name: p for p in platform.projects}
    project_roles = known_project_roles(platform)
    seen: dict[tuple[str, str, str], str] = {}
    for i, consumer in enumerate(data.consumers):
        key = f"data_lake.consumers[{i}]"
        project = projects.get(consumer.project)
        if project is None:
            problems.append(f"{key}.project: unknown project '{consumer.project}' (allowed: {', '.join(projects) or 'none'})")
        for j, env in enumerate(consumer.environments):
            if project is not None and env not in project.environments:
                problems.append(f"{key}.environments[{j}]: project '{consumer.project}' has no environment '{env}', so no account to grant to (allowed: {', '.join(project.environments)})")
        for j, domain in enumerate(consumer.domains):
            if domain not in domains:
                problems.append(f"{key}.domains[{j}]: unknown domain '{domain}' (allowed: {', '.join(domains) or 'none; define data_lake.domains'})")
            for env in consumer.environments:
                pair = (consumer.project, env, domain)
                if pair in seen:
                    problems.append(f"{key}: {consumer.project}-{env} is already granted domain '{domain}' by {seen[pair]} (allowed: one grant per project environment and domain)")
                seen.setdefault(pair, key)
        for j, zone in enumerate(consumer.zones):
            if zone == "raw":
                problems.append(f"{key}.zones[{j}]: raw data is never shared outside the data-lake account (allowed: {', '.join(SHARED_ZONES)})")
            elif zone not in SHARED_ZONES:
                problems.append(f"{key}.zones[{j}]: unknown zone '{zone}' (allowed: {', '.join(SHARED_ZONES)})")
        if not consumer.zones:
            problems.append(f"{key}.zones: at least one zone is needed (allowed: {', '.join(SHARED_ZONES)})")
        if consumer.redacted_only and "features" in consumer.zones:
            problems.append(f"{key}.zones: redacted_only consumers read the masked copies under curated/{REDACTED_PREFIX} only (allowed: [curated]; features have no redacted copy)")
        _role_problems(f"{key}.roles", consumer.roles, project_roles, problems)
        for env in consumer.environments:
            if project is None or env not in project.environments:
                continue  # reported above
            for j, role in enumerate(consumer.roles):
                if role not in roles_in_environment(env, [role]):
                    works = PROJECT_ENVIRONMENTS.get(PEOPLE_ROLES[role], ())
                    problems.append(
                        f"{key}.roles[{j}]: '{role}' does not exist in {env}: the {PEOPLE_ROLES[role]} persona, whose "
                        f"sessions assume it, works in {', '.join(works)} only (allowed in {env}: job roles such as "
                        "sm-execution)")
        # Lake readers write their Athena results to the environment's work bucket, so they
        # must be its writers: the team in dev, the automation elsewhere.
        for env in consumer.environments:
            if env not in WORK_BUCKET_KIND:
                continue
            writers = data.project_buckets.team_roles if env == "dev" else data.project_buckets.automation_roles
            field = "team_roles" if env == "dev" else "automation_roles"
            for j, role in enumerate(consumer.roles):
                if role in project_roles and role not in writers:
                    problems.append(
                        f"{key}.roles[{j}]: '{role}' cannot read the lake in {env}: it is not in "
                        f"data_lake.project_buckets.{field} ({', '.join(writers)}), so it could not keep "
                        f"query results in the {WORK_BUCKET_KIND[env]} bucket"
                    )
        if not consumer.roles:
            problems.append(f"{key}.roles: at least one role of the project's account is needed")
        if consumer.bytes_scanned_cutoff_gb is not None and consumer.bytes_scanned_cutoff_gb * 1024**3 < _MIN_ATHENA_CUTOFF_BYTES:
            problems.append(f"{key}.bytes_scanned_cutoff_gb: below Athena's minimum of 10 MB")


def _check_project_buckets(platform: "PlatformConfig", problems: list[str]) -> None:
    pb = platform.data_lake.project_buckets
    project_roles = known_project_roles(platform)
    for field in ("team_roles", "automation_roles", "reviewer_roles"):
        _role_problems(f"data_lake.project_buckets.{field}", getattr(pb, field), project_roles, problems)
    if not pb.automation_roles:
        problems.append("data_lake.project_buckets.automation_roles: at least one automation role is needed (pipeline buckets admit automation roles only)")
    for i, tag in enumerate(pb.model_lineage_tags):
        if not re.match(r"^[A-Za-z0-9_.:/=+@-]{1,128}$", tag):
            problems.append(f"data_lake.project_buckets.model_lineage_tags[{i}]: '{tag}' is not an S3 object tag key")
    for kind, days in pb.retention_days.items():
        if kind not in BUCKET_KINDS:
            problems.append(f"data_lake.project_buckets.retention_days.{kind}: unknown bucket kind '{kind}' (allowed: {', '.join(BUCKET_KINDS)})")
        elif days < 0:
            problems.append(f"data_lake.project_buckets.retention_days.{kind}: {days} is negative")
    for kind, lifecycle in pb.lifecycle.items():
        if kind not in BUCKET_KINDS:
            problems.append(f"data_lake.project_buckets.lifecycle.{kind}: unknown bucket kind '{kind}' (allowed: {', '.join(BUCKET_KINDS)})")
            continue
        _lifecycle_problems(f"data_lake.project_buckets.lifecycle.{kind}", lifecycle, pb.retention_days.get(kind, 0), problems)


def _check_policy_sizes(platform: "PlatformConfig", problems: list[str]) -> None:
    """S3 bucket policies are limited to 20 KB; each consumer role appears in three statements."""
    for name, size in estimate_lake_policy_sizes(platform).items():
        if size > S3_BUCKET_POLICY_MAX:
            problems.append(
                f"data_lake.consumers: the policy of bucket '{name}' would be about {size} characters "
                f"(allowed: at most {S3_BUCKET_POLICY_MAX}, the S3 limit; grant fewer roles or environments to this domain)"
            )


def _check_model_producers(platform: "PlatformConfig", problems: list[str]) -> None:
    """A project another one `consumes_models_from` without model_sharing settings trains in the
    default producer environment, so that environment must exist (configured producers are
    checked by model_sharing_settings)."""
    for i, project in enumerate(platform.projects):
        for j, name in enumerate(project.consumes_models_from):
            source = next((p for p in platform.projects if p.name == name), None)
            if source is None or ms.sharing(platform, name) is not None:
                continue
            env = ms.producer_environment(platform, name)
            if env not in source.environments:
                problems.append(
                    f"projects[{i}].consumes_models_from[{j}]: model-producer project '{name}' has no '{env}' "
                    f"environment, the default producer (allowed: set model_sharing.projects.{name}.producer "
                    f"to one of {', '.join(source.environments)})")


# Run one by one by `stacks.config`, so a schema problem in one setting skips only the checks
# that read it.
CHECKS = (_check_roles, _check_write_back, _check_domains, _check_consumers, _check_project_buckets,
          _check_policy_sizes, _check_model_producers)


def validate(platform: "PlatformConfig") -> list[str]:
    """Cross-field checks of the data settings; every problem, each naming its key."""
    problems: list[str] = []
    for check in CHECKS:
        check(platform, problems)
    return problems
