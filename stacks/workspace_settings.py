"""Settings of the ML workspace part of the `<project>-<env>` stacks (`workspace:`).

- **Service roles**, one per job kind (whitepaper "Service roles"): the notebook execution
  role (the data layer's `sm-execution` persona by default, so its bucket and lake grants keep
  working), processing, training / tuning, model hosting, Step Functions, SageMaker Pipelines and Glue.
- **Studio**: the environments with a SageMaker Studio domain (dev by default), the
  authentication mode, the presigned URL lifetime, the idle shutdown, the instance types
  (default: `guardrails.notebook_instance_types`, the SM-8 allow-list) and the user profiles,
  each owned by a configured person.
- **People**: the persons (`people`, by user name) who own user profiles; how they get in
  (permission sets or SAML roles, directory groups) is `identity:` (stacks/identity_settings.py).
- **Notebook instances** (`notebook_instances`, off by default): data scientists start, stop
  and open only the instances tagged with their own user name (whitepaper "Service roles").

Every name is a pure function of the configuration, so `principal_settings.created_roles`
and the stacks agree.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stacks import data_settings as ds
from stacks.config_model import ENVIRONMENTS, IAM_ROLE_NAME_MAX, ConfigModel, once_per_definition

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

# Job kinds and the service that assumes each kind's role.
JOB_SERVICES = {
    "notebook": "sagemaker.amazonaws.com",
    "processing": "sagemaker.amazonaws.com",
    "training": "sagemaker.amazonaws.com",
    "hosting": "sagemaker.amazonaws.com",
    "step_functions": "states.amazonaws.com",
    # The role a SageMaker pipeline runs its steps as (the training workflow with
    # delivery.projects.<p>.workflow_engine: SageMakerPipeline, or a data scientist's pipeline).
    "pipelines": "sagemaker.amazonaws.com",
    "glue": "glue.amazonaws.com",
}
# CreatePresignedDomainUrl's ExpiresInSeconds range (botocore sagemaker model).
PRESIGNED_MIN, PRESIGNED_MAX = 5, 300
# SessionExpirationDurationInSeconds range.
SESSION_MIN, SESSION_MAX = 1800, 43200
# SageMaker user profile names (botocore UserProfileName).
_PROFILE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# The tag a user profile and its spaces carry: who owns them (the ABAC key).
OWNER_TAG = "studio-owner"


class ServiceRoleNames(ConfigModel):
    """Role name suffixes (`<prefix>-<project>-<env>-<suffix>`) per job kind."""

    notebook: str = "sm-execution"
    processing: str = "sm-processing"
    training: str = "sm-training"
    hosting: str = "sm-hosting"
    step_functions: str = "sfn-pipelines"
    pipelines: str = "sm-pipelines"
    glue: str = "glue-jobs"


class UserProfile(ConfigModel):
    """A Studio user profile of one project, owned by a configured person."""

    name: str
    owner: str


class StudioSettings(ConfigModel):
    environments: list[str] = ["dev"]
    auth_mode: Literal["SSO", "IAM"] = "SSO"
    presigned_url_seconds: int = Field(default=60, ge=PRESIGNED_MIN, le=PRESIGNED_MAX)
    session_seconds: int = Field(default=28800, ge=SESSION_MIN, le=SESSION_MAX)
    idle_timeout_minutes: int = Field(default=120, ge=60, le=525600)
    instance_types: list[str] = []  # empty: guardrails.notebook_instance_types (SM-8)
    notebook_output: Literal["disabled", "encrypted"] = "disabled"
    user_profiles: dict[str, list[UserProfile]] = {}  # project -> profiles


class Person(ConfigModel):
    """Someone who uses the workspace: the Identity Center user name (or the SAML session
    name) that tags their user profile."""

    user_name: str
    email: str | None = None


class WorkspaceSettings(ConfigModel):
    service_roles: ServiceRoleNames = ServiceRoleNames()
    studio: StudioSettings = StudioSettings()
    people: list[Person] = []
    notebook_instances: bool = False
    parameter_path: str | None = None  # default /<prefix>/<project>/<env>/workspace


# -- derived names ----------------------------------------------------------------------------

def service_role_suffixes(platform: "PlatformConfig") -> dict[str, str]:
    """Job kind -> role name suffix."""
    return dict(_service_role_suffixes(platform))


@once_per_definition
def _service_role_suffixes(platform: "PlatformConfig") -> dict[str, str]:
    return dict(platform.workspace.service_roles.model_dump())


def service_role_name(platform: "PlatformConfig", project: str, env: str, kind: str) -> str:
    return ds.project_role_name(platform, project, env, _service_role_suffixes(platform)[kind])


def service_role_names(platform: "PlatformConfig", project: str, env: str) -> dict[str, str]:
    return {kind: service_role_name(platform, project, env, kind) for kind in JOB_SERVICES}


def has_studio(platform: "PlatformConfig", env: str) -> bool:
    return env in platform.workspace.studio.environments


def instance_types(platform: "PlatformConfig") -> list[str]:
    return list(platform.workspace.studio.instance_types or platform.guardrails.notebook_instance_types)


def parameter_path(platform: "PlatformConfig", project: str, env: str) -> str:
    return platform.workspace.parameter_path or f"/{platform.name_prefix}/{project}/{env}/workspace"


def domain_name(platform: "PlatformConfig", project: str, env: str) -> str:
    return f"{platform.name_prefix}-{project}-{env}"


def user_profiles(platform: "PlatformConfig", project: str) -> list[UserProfile]:
    return list(platform.workspace.studio.user_profiles.get(project, []))


def person(platform: "PlatformConfig", user_name: str) -> Person:
    return next(p for p in platform.workspace.people if p.user_name == user_name)


def job_writer_kinds() -> tuple[str, ...]:
    """Job kinds whose roles write the project's work buckets (added to the bucket grants)."""
    return ("processing", "training", "glue")


# -- validation -------------------------------------------------------------------------------

def validate(platform: "PlatformConfig") -> list[str]:
    """Every problem of `workspace`, each naming its key."""
    problems: list[str] = []
    w = platform.workspace
    suffixes = service_role_suffixes(platform)
    seen: dict[str, str] = {}
    for kind, suffix in suffixes.items():
        key = f"workspace.service_roles.{kind}"
        if not re.match(r"^[a-z][a-z0-9-]*[a-z0-9]$", suffix):
            problems.append(f"{key}: '{suffix}' is not a role name suffix (allowed: lowercase letters, digits, hyphens)")
        if suffix in seen:
            problems.append(f"{key}: '{suffix}' is also the {seen[suffix]} role (allowed: one role per job kind)")
        seen.setdefault(suffix, kind)
        for project in platform.projects:
            for env in project.environments:
                name = ds.project_role_name(platform, project.name, env, suffix)
                if len(name) > IAM_ROLE_NAME_MAX:
                    problems.append(f"{key}: role name '{name}' would be {len(name)} characters "
                                    f"(allowed: at most {IAM_ROLE_NAME_MAX})")

    s = w.studio
    project_accounts = {f"{p.name}-{e}" for p in platform.projects for e in p.environments}
    vpc_less = {"management", *(k for k in platform.accounts() if k not in project_accounts)}
    for i, env in enumerate(s.environments):
        if env in vpc_less:
            # Shared and sandbox accounts have no project VPC, workload security group or
            # project key for a domain.
            problems.append(f"workspace.studio.environments[{i}]: '{env}' is an account without a project VPC "
                            f"(allowed: project environments, whose VPC the domain uses: {', '.join(ENVIRONMENTS)})")
        elif env not in ENVIRONMENTS:
            problems.append(f"workspace.studio.environments[{i}]: unknown environment '{env}' "
                            f"(allowed: {', '.join(ENVIRONMENTS)})")
    allowed = platform.guardrails.notebook_instance_types
    for i, itype in enumerate(s.instance_types):
        if not _INSTANCE.match(itype) or itype not in allowed:
            problems.append(f"workspace.studio.instance_types[{i}]: unknown instance type '{itype}' "
                            f"(allowed: the SM-8 allow-list guardrails.notebook_instance_types: {', '.join(allowed)})")
    if s.idle_timeout_minutes > 525600:
        problems.append("workspace.studio.idle_timeout_minutes: longer than a year")
    people = [p.user_name for p in w.people]
    projects = {p.name: p for p in platform.projects}
    for project, profiles in s.user_profiles.items():
        key = f"workspace.studio.user_profiles.{project}"
        if project not in projects:
            problems.append(f"{key}: unknown project '{project}' (allowed: {', '.join(projects) or 'none'})")
        elif not any(has_studio(platform, env) for env in projects[project].environments):
            problems.append(f"{key}: project '{project}' has no environment with a Studio domain "
                            f"(workspace.studio.environments: {', '.join(s.environments)})")
        names: set[str] = set()
        for i, profile in enumerate(profiles):
            if not _PROFILE.match(profile.name):
                problems.append(f"{key}[{i}].name: '{profile.name}' is not a user profile name "
                                "(allowed: letters, digits and hyphens, at most 63 characters)")
            if profile.name in names:
                problems.append(f"{key}[{i}].name: '{profile.name}' is listed twice")
            names.add(profile.name)
            if profile.owner not in people:
                problems.append(f"{key}[{i}].owner: '{profile.owner}' is not a configured person "
                                f"(allowed: a user_name of workspace.people: {', '.join(people) or 'none'})")
    if len(set(people)) != len(people):
        problems.append("workspace.people: a user_name is listed twice")

    if s.auth_mode == "SSO" and platform.identity.mode != "identity-center" and any(
            has_studio(platform, e) for p in platform.projects for e in p.environments):
        problems.append("workspace.studio.auth_mode: SSO needs identity.mode identity-center "
                        "(allowed: IAM with identity.mode saml)")
    return problems


# KMS actions a job role (and the deploying role, for parameters and the domain) needs on the
# project key; never kms:*.
JOB_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                   "kms:GenerateDataKeyWithoutPlaintext")


def bucket_role_groups(platform: "PlatformConfig", env: str) -> dict[str, list[str]]:
    """Persona / job role suffixes by their place in the project bucket grants of `env`: the
    data layer's team, automation and reviewer roles that exist there (people's roles only
    where their persona works, `data_settings.roles_in_environment`) plus the job roles that
    write (processing, training, Glue) and the hosting role, which reads models only."""
    return {group: list(suffixes) for group, suffixes in _bucket_role_groups(platform, env).items()}


@once_per_definition
def _bucket_role_groups(platform: "PlatformConfig", env: str) -> dict[str, tuple[str, ...]]:
    pb = platform.data_lake.project_buckets
    suffixes = _service_role_suffixes(platform)
    writers = [suffixes[k] for k in job_writer_kinds()]
    return {
        "team": tuple(ds.roles_in_environment(env, list(dict.fromkeys([*pb.team_roles, *writers])))),
        "automation": tuple(ds.roles_in_environment(env, list(dict.fromkeys([*pb.automation_roles, *writers])))),
        "reviewers": tuple(ds.roles_in_environment(env, list(pb.reviewer_roles))),
        "hosting": (suffixes["hosting"],),
    }


def promotion_readers(platform: "PlatformConfig") -> list[str]:
    """Role suffixes in prod that read the registered versions' artifacts in the preprod models
    bucket (under `shared_services_settings.artifact_prefix`): prod automation, which copies
    them into prod, and the hosting role, because SageMaker fetches a model created from a
    registry version with the model's execution role from where the version points."""
    return list(dict.fromkeys([*ds.roles_in_environment("prod", platform.data_lake.project_buckets.automation_roles),
                               service_role_suffixes(platform)["hosting"]]))


def bucket_access(platform: "PlatformConfig", env: str, suffix: str) -> dict[str, str]:
    """Bucket kind -> `write` or `read` for the role `suffix`, exactly as the bucket policies
    of `project_data` grant it (identity policies never ask for more)."""
    groups = _bucket_role_groups(platform, env)
    found: dict[str, str] = {}
    for kind in ds.KINDS_BY_ENVIRONMENT.get(env, ()):  # an unknown environment is reported by validation
        if kind == "access-logs":
            continue
        if kind == "experimentation":
            writes, reads = suffix in groups["team"], suffix in groups["hosting"]
        elif kind == "pipeline":
            writes, reads = suffix in groups["automation"], False
        else:
            writes = suffix in groups["automation"]
            reads = suffix in groups["reviewers"] or (kind == "models" and suffix in groups["hosting"])
        if writes:
            found[kind] = "write"
        elif reads:
            found[kind] = "read"
    return found


def data_persona_suffixes(platform: "PlatformConfig", project: str, env: str) -> list[str]:
    """The persona roles the data part creates in this environment: those its bucket and lake
    grants name (a role no grant of the environment names, e.g. a team role where there is no
    experimentation bucket, would be a role nobody can use)."""
    return list(_data_persona_suffixes(platform, project, env))


@once_per_definition
def _data_persona_suffixes(platform: "PlatformConfig", project: str, env: str) -> tuple[str, ...]:
    pb = platform.data_lake.project_buckets
    listed = ds.roles_in_environment(env, list(dict.fromkeys([*pb.team_roles, *pb.automation_roles, *pb.reviewer_roles])))
    readers = [r for c, _ in ds.consumer_grants(platform, project, env) for r in ds.roles_in_environment(env, c.roles)]
    return tuple(dict.fromkeys([*(r for r in listed if bucket_access(platform, env, r)), *readers]))


def created_job_roles(platform: "PlatformConfig", project: str, env: str) -> dict[str, str]:
    """Job kind -> role name of the job roles the workspace part creates (those the data part
    does not already create as personas, e.g. the notebook role `sm-execution`)."""
    personas = data_persona_suffixes(platform, project, env)
    return {kind: ds.project_role_name(platform, project, env, suffix)
            for kind, suffix in service_role_suffixes(platform).items() if suffix not in personas}
