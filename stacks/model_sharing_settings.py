"""Settings of cross-account model sharing (`model_sharing:` in the platform definition).

The model-sharing blog (seeds/001): a Rekognition Custom Labels model is trained once in an
"ML account" and used from the QA and production accounts through one IAM role per consumer in
the ML account; promotion is a change of the version ARN each consumer is configured to use.

Here the ML account is a project environment, the **producer** (default `preprod`: only
automation changes it, so production never depends on an account where people have change
access), or, with `producer: model`, a dedicated per-project **model account**
(`model_account: {email: ...}`): `<prefix>-<project>-model`, created by the organization stack
in production's OU (`MODEL_ACCOUNT_OU`, production depends on it) and built by its own
`<project>-model` stack (the project stack module's model profile: no VPC, no Studio, no
people's roles). A `dev` producer may serve dev and preprod consumers only. Each **consumer**
environment of the project names the version ARN its application uses (and, during a
cut-over, the versions it keeps using for a while); the producer's own environment may be a
consumer too, in-account, without the cross-account hop.

Names (pure functions of the configuration, so no stack needs another project stack's
outputs to know them):

* producer role per cross-account consumer, in the producer account:
  `<prefix>-<project>-<producer>-model-consumer-<consumer>`;
* application role in each consumer account: `<prefix>-<project>-<env>-model-consumer-app`;
  both match MOD-1's `<prefix>-*-model-consumer*`, so the SCP denies them Rekognition project
  and version changes wherever they act (`data_settings.model_consumer_role_pattern`);
* SSM parameter with the version ARN: `/<prefix>/<project>/<env>/model-sharing/version-arn`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from stacks.config_model import ENVIRONMENTS, IAM_ROLE_NAME_MAX, ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

# The producer unless configured otherwise (whitepaper "Testing/UAT account": automation only).
DEFAULT_PRODUCER = "preprod"
# `producer: model`: the project's dedicated model account and its `<project>-model` stack.
MODEL_ENVIRONMENT = "model"
# Production's OU: production calls the model, so its account gets production's guardrails
# (and MOD-1, attached at Workloads, binds there too).
MODEL_ACCOUNT_OU = "Workloads/Prod"
# The model account's buckets: the training data Rekognition reads, the work bucket it writes
# training output into, and the access logs of both.
MODEL_BUCKET_KINDS = ("datasets", "pipeline", "access-logs")
MODEL_WORK_BUCKET_KIND = "pipeline"
# What a dev producer may serve: never production.
DEV_PRODUCER_CONSUMERS = ("dev", "preprod")
# Rekognition project version ARN (Rekognition API reference, ProjectVersionArn):
# arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<creation timestamp>.
VERSION_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):rekognition:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"project/(?P<project>[A-Za-z0-9_.-]{1,255})/version/(?P<version>[A-Za-z0-9_.-]{1,255})/(?P<created>\d{1,20})$")
_PROJECT_NAME = r"^[A-Za-z0-9_.-]{1,255}$"
_VERSION_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,254}$")
# Who runs the consumer application (the application role's trusted services).
APPLICATION_SERVICES = ("lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com")
PRODUCER_ROLE_SUFFIX = "model-consumer"
APPLICATION_ROLE_SUFFIX = "model-consumer-app"


class ConsumerModel(ConfigModel):
    """What one consumer environment uses: `version` is the ARN its application reads from the
    SSM parameter; `keep_previous` stay callable during a cut-over (drop them afterwards).

    `pattern` is how a consumer in another account than the producer's reaches the model:
    `delegate` (the blog's: its application assumes a role in the producer account allowed
    exactly its versions; the versions are the producer's) or `copy` (it holds its own copy,
    made with Rekognition's CopyProjectVersion under a project policy of the producer, by
    `python -m operations promote-model`: the versions are the copies in its own account, called
    directly through its VPC's endpoint, and the producer has no role for it)."""

    version: str
    pattern: Literal["delegate", "copy"] = "delegate"
    keep_previous: list[str] = []
    # Also every version whose name starts with this prefix, in the project of `version`
    # (a wildcard in the role policy: the blog allows it, MOD-2 reports it).
    version_prefix: str | None = None


class ModelAccount(ConfigModel):
    """The dedicated model account of `producer: model` (name `<prefix>-<project>-model`)."""

    email: str


class ProjectSharing(ConfigModel):
    """One project's shared model."""

    # The environment whose account holds the Rekognition project and the consumer roles;
    # `model`: the dedicated account below.
    producer: Literal["dev", "preprod", "prod", "model"] = DEFAULT_PRODUCER
    model_account: ModelAccount | None = None
    # Create the Rekognition Custom Labels project of this name in the producer account
    # (unset: the project is made outside this program, e.g. by the training pipeline).
    rekognition_project: str | None = Field(default=None, pattern=_PROJECT_NAME)
    # The service that runs the application in each consumer account.
    application_service: Literal["lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com"] = \
        "lambda.amazonaws.com"
    # Consumer environment -> the versions it uses.
    consumers: dict[str, ConsumerModel] = Field(min_length=1)


class ModelSharingSettings(ConfigModel):
    """The `model_sharing:` section: project name -> its shared model."""

    projects: dict[str, ProjectSharing] = {}


# -- derived names and views ---------------------------------------------------------------

def sharing(platform: "PlatformConfig", project: str) -> ProjectSharing | None:
    """The project's model-sharing settings, or None when it shares no model."""
    return platform.model_sharing.projects.get(project)


def producer_environment(platform: "PlatformConfig", project: str) -> str | None:
    """Where `project` trains and keeps its shared model: the configured producer, the
    default one for a project another project `consumes_models_from`, else None."""
    found = sharing(platform, project)
    if found is not None:
        return found.producer
    if any(project in p.consumes_models_from for p in platform.projects):
        return DEFAULT_PRODUCER
    return None


def model_accounts(platform: "PlatformConfig") -> dict[str, tuple[str, str]]:
    """Account key `<project>-model` -> (account name, e-mail) of every dedicated model account
    (`producer: model` with its account configured)."""
    return {f"{project}-{MODEL_ENVIRONMENT}": (platform.project_account_name(project, MODEL_ENVIRONMENT),
                                              settings.model_account.email)
            for project, settings in platform.model_sharing.projects.items()
            if settings.producer == MODEL_ENVIRONMENT and settings.model_account is not None}


def has_model_account(platform: "PlatformConfig", project: str) -> bool:
    """Whether `project` keeps its shared model in a dedicated model account."""
    return f"{project}-{MODEL_ENVIRONMENT}" in model_accounts(platform)


def model_bucket_names(platform: "PlatformConfig") -> list[tuple[str, str]]:
    """(project, bucket name) of every bucket of the model accounts (`PlatformConfig.bucket_name`
    is the rule, as for every project bucket)."""
    return [(project, platform.bucket_name(project, MODEL_ENVIRONMENT, kind))
            for project in platform.model_sharing.projects if has_model_account(platform, project)
            for kind in MODEL_BUCKET_KINDS]


def is_producer(platform: "PlatformConfig", project: str, env: str) -> bool:
    return producer_environment(platform, project) == env


def consumer(platform: "PlatformConfig", project: str, env: str) -> ConsumerModel | None:
    """What `project`-`env` uses of the project's shared model, or None."""
    found = sharing(platform, project)
    return found.consumers.get(env) if found is not None else None


def cross_account_consumers(platform: "PlatformConfig", project: str) -> list[str]:
    """Consumer environments in another account than the producer."""
    found = sharing(platform, project)
    return [env for env in found.consumers if env != found.producer] if found is not None else []


def delegated_consumers(platform: "PlatformConfig", project: str) -> list[str]:
    """Cross-account consumers of the `delegate` pattern: they get a producer role."""
    found = sharing(platform, project)
    return [env for env in cross_account_consumers(platform, project)
            if found is not None and found.consumers[env].pattern == "delegate"]


def copy_consumers(platform: "PlatformConfig", project: str) -> list[str]:
    """Cross-account consumers of the `copy` pattern: they call their own copies."""
    found = sharing(platform, project)
    return [env for env in cross_account_consumers(platform, project)
            if found is not None and found.consumers[env].pattern == "copy"]


def calls_directly(platform: "PlatformConfig", project: str, env: str) -> bool:
    """Whether `project`-`env`'s application calls its versions in its own account (the
    producer's own environment, or a copy consumer) rather than through a producer role."""
    return is_producer(platform, project, env) or env in copy_consumers(platform, project)


def producer_role_name(platform: "PlatformConfig", project: str, consumer_env: str) -> str:
    """The role in the producer account that `consumer_env`'s application assumes."""
    producer = producer_environment(platform, project)
    return f"{platform.name_prefix}-{project}-{producer}-{PRODUCER_ROLE_SUFFIX}-{consumer_env}"


def application_role_name(platform: "PlatformConfig", project: str, env: str) -> str:
    """The consumer application's role in `project`-`env`'s account."""
    return f"{platform.name_prefix}-{project}-{env}-{APPLICATION_ROLE_SUFFIX}"


def parameter_name(platform: "PlatformConfig", project: str, env: str) -> str:
    """The SSM parameter holding the version ARN the application of `project`-`env` uses."""
    return f"/{platform.name_prefix}/{project}/{env}/model-sharing/version-arn"


def allowed_versions(settings: ConsumerModel) -> list[str]:
    """The resources a consumer may call: its version, the kept ones, the prefix wildcard."""
    found = list(dict.fromkeys([settings.version, *settings.keep_previous]))
    if settings.version_prefix:
        base = settings.version.split("/version/", 1)[0]
        found.append(f"{base}/version/{settings.version_prefix}*")
    return found


def endpoint_services(platform: "PlatformConfig", project: str, env: str) -> list[str]:
    """Interface endpoints `project`-`env` needs for the shared model: Rekognition where it
    calls the model, STS where it assumes the producer's role (blog, "Avoiding the public
    internet")."""
    if consumer(platform, project, env) is None:
        return []
    return ["rekognition", "sts"] if env in delegated_consumers(platform, project) else ["rekognition"]


def created_roles(platform: "PlatformConfig") -> list[tuple[str, str]]:
    """(account key, role name) of every role model sharing creates (principal_settings)."""
    found = []
    for project, settings in platform.model_sharing.projects.items():
        for env in settings.consumers:
            found.append((f"{project}-{env}", application_role_name(platform, project, env)))
        for env in delegated_consumers(platform, project):
            found.append((f"{project}-{settings.producer}", producer_role_name(platform, project, env)))
    return found


# -- validation --------------------------------------------------------------------------

def _check_arn(key: str, arn: str, platform: "PlatformConfig", project: str, settings: ProjectSharing,
               problems: list[str], owner: str | None = None) -> None:
    """A Rekognition project version ARN of the producer's region (and project, when the
    program creates it) in `owner`'s account (default the producer's; a copy consumer's own);
    the account is checked when the account ids are known."""
    match = VERSION_ARN.match(arn)
    allowed = (f"arn:aws:rekognition:{platform.home_region}:<{owner or f'{project}-{settings.producer}'} account id>:"
               "project/<project>/version/<version>/<creation timestamp>")
    if match is None:
        problems.append(f"{key}: '{arn}' is not a Rekognition project version ARN (allowed: {allowed})")
        return
    if match["partition"] != "aws":
        problems.append(f"{key}: '{arn}' is in partition '{match['partition']}' (allowed: aws)")
    # (An invalid home_region is reported on its own; the ARNs are not judged against it.)
    if match["region"] != platform.home_region and platform.home_region in platform.allowed_regions:
        problems.append(f"{key}: '{arn}' is in region '{match['region']}', not the producer's "
                        f"{project}-{settings.producer} region (allowed: {platform.home_region})")
    if settings.rekognition_project and match["project"] != settings.rekognition_project:
        problems.append(f"{key}: '{arn}' is a version of project '{match['project']}', not of the shared project "
                        f"(allowed: versions of '{settings.rekognition_project}')")


def _check_projects(platform: "PlatformConfig", problems: list[str]) -> None:
    projects = {p.name: p for p in platform.projects}
    for name, settings in platform.model_sharing.projects.items():
        key = f"model_sharing.projects.{name}"
        project = projects.get(name)
        if project is None:
            problems.append(f"{key}: unknown project '{name}' (allowed: {', '.join(projects) or 'none'})")
            continue
        envs = list(project.environments)
        if settings.producer == MODEL_ENVIRONMENT:
            _check_model_account(platform, key, name, settings, problems)
        elif settings.model_account is not None:
            problems.append(f"{key}.model_account: set, but the producer is '{settings.producer}', so no stack would "
                            f"use the account (allowed: producer: {MODEL_ENVIRONMENT}, or remove model_account)")
        if settings.producer != MODEL_ENVIRONMENT and settings.producer not in envs:
            problems.append(f"{key}.producer: project '{name}' has no '{settings.producer}' environment, so no account "
                            f"to keep the model in (allowed: {', '.join(envs)})")
        for env, used in settings.consumers.items():
            env_key = f"{key}.consumers.{env}"
            if env not in envs:
                problems.append(f"{env_key}: project '{name}' has no environment '{env}', so no consumer account "
                                f"(allowed: {', '.join(e for e in envs if e in ENVIRONMENTS)})")
                continue
            if settings.producer == "dev" and env not in DEV_PRODUCER_CONSUMERS:
                problems.append(f"{env_key}: the {env} consumer {name}-{env} cannot use a model produced in dev "
                                f"({key}.producer: dev, {name}-dev, where people have change access) "
                                f"(allowed: consumers {', '.join(DEV_PRODUCER_CONSUMERS)}; or producer: preprod)")
            owner = None
            if used.pattern == "copy":
                if env == settings.producer:
                    problems.append(f"{env_key}.pattern: 'copy' in the producer's own environment {name}-{env}, which "
                                    "calls the versions where they are (allowed: delegate)")
                else:
                    owner = f"{name}-{env}"
            _check_arn(f"{env_key}.version", used.version, platform, name, settings, problems, owner)
            for i, arn in enumerate(used.keep_previous):
                _check_arn(f"{env_key}.keep_previous[{i}]", arn, platform, name, settings, problems, owner)
                if arn == used.version:
                    problems.append(f"{env_key}.keep_previous[{i}]: '{arn}' is the current version "
                                    "(allowed: earlier versions only)")
                if used.keep_previous.index(arn) != i:
                    problems.append(f"{env_key}.keep_previous[{i}]: '{arn}' is listed twice")
            if used.version_prefix is not None and not _VERSION_PREFIX.match(used.version_prefix):
                problems.append(f"{env_key}.version_prefix: '{used.version_prefix}' is not a version name prefix "
                                "(allowed: letters, digits, '_', '.', '-'; the program adds the '*')")
        for env in cross_account_consumers(platform, name):
            roles = [application_role_name(platform, name, env)]
            if env in delegated_consumers(platform, name):
                roles.insert(0, producer_role_name(platform, name, env))
            for role in roles:
                if len(role) > IAM_ROLE_NAME_MAX:
                    problems.append(f"{key}.consumers.{env}: role name '{role}' would be {len(role)} characters "
                                    f"(allowed: at most {IAM_ROLE_NAME_MAX}; shorten name_prefix or the project name)")


def _check_model_account(platform: "PlatformConfig", key: str, project: str, settings: ProjectSharing,
                         problems: list[str]) -> None:
    """`producer: model` needs its account configured, in an OU MOD-1 binds in."""
    if settings.model_account is None:
        problems.append(f"{key}.model_account: required when {key}.producer is '{MODEL_ENVIRONMENT}' (the dedicated "
                        f"account {platform.project_account_name(project, MODEL_ENVIRONMENT)} needs its root e-mail; "
                        "allowed: model_account: {email: <address>}, or producer: preprod)")
    ous = platform.guardrails.model_producer_ous
    if not any(MODEL_ACCOUNT_OU == ou or MODEL_ACCOUNT_OU.startswith(f"{ou}/") for ou in ous):
        problems.append(f"{key}.producer: the model account goes in {MODEL_ACCOUNT_OU}, where MOD-1 does not bind "
                        f"(guardrails.model_producer_ous: {', '.join(ous) or 'none'}; allowed: add {MODEL_ACCOUNT_OU} "
                        "or one of its parents)")


CHECKS = (_check_projects,)


def validate(platform: "PlatformConfig") -> list[str]:
    """Cross-field checks of the model-sharing settings; every problem, each naming its key."""
    problems: list[str] = []
    for check in CHECKS:
        check(platform, problems)
    return problems


def account_problems(platform: "PlatformConfig", project: str, producer_account: str,
                     consumer_accounts: Mapping[str, str] | None = None) -> list[str]:
    """Version ARNs of another account than the one that holds them: the producer's, or for a
    `copy` consumer its own (checked for the consumers in `consumer_accounts`, environment ->
    account id). Run when the organization's account ids are known, before the roles naming
    the versions are registered."""
    settings = sharing(platform, project)
    problems: list[str] = []
    if settings is None:
        return problems
    copies = copy_consumers(platform, project)
    for env, used in settings.consumers.items():
        key = f"model_sharing.projects.{project}.consumers.{env}"
        if env in copies:
            if env not in (consumer_accounts or {}):
                continue
            owner, account = f"consumer's own {project}-{env} (pattern: copy)", (consumer_accounts or {})[env]
        else:
            owner, account = f"producer's {project}-{settings.producer}", producer_account
        for field, arn in [("version", used.version), *((f"keep_previous[{i}]", a) for i, a in enumerate(used.keep_previous))]:
            match = VERSION_ARN.match(arn)
            if match is not None and match["account"] != account:
                problems.append(f"{key}.{field}: '{arn}' is in account {match['account']}, not the {owner} "
                                f"(allowed: account {account})")
    return problems
