"""Settings of the delivery layer: one `<project>-delivery` stack per ML project.

A project's delivery stack holds everything of the project that lives outside its own
accounts, so that no platform-wide stack grows with the number of projects (ARCHITECTURE.md,
stack table):

- in the **shared-services account**: the project's application image repositories (its ECR
  namespace), its model package group (central registry mode; in distributed mode the group
  is in the project's pre-production account), its code connection or CodeCommit
  repositories, and the SSM parameters that describe them (added to the shared-services
  parameter share);
- in the **automation account**: the cross-account pipelines of the whitepaper ("Cross-account
  CodePipeline setup"): CodePipeline A (training) and A2 (deployment), their roles A and A2,
  the image build project, and the input/output bucket with policy A and its KMS key;
- in the project's **pre-production and production accounts**: cross-account roles B and C
  and the CloudFormation execution roles they pass.

Names are pure functions of the configuration, so a project stack can compute what the
delivery stack creates without reading it (project stacks never read the delivery stack; the
delivery stack reads them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from stacks import shared_services_settings as ss
from stacks.config_model import ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

LAYER = "delivery"
AUTOMATION_ACCOUNT = ss.PIPELINE_ACCOUNT
# The project environments the pipelines deploy into (pre-production trains, production serves).
TARGET_ENVIRONMENTS = ("preprod", "prod")


def stack_name(project: str) -> str:
    return f"{project}-{LAYER}"


def target_environments(platform: "PlatformConfig", project: str) -> list[str]:
    """The project's environments a pipeline deploys into, in pipeline order."""
    return [env for env in TARGET_ENVIRONMENTS if env in platform.project(project).environments]


# -- the `delivery:` section --------------------------------------------------------------------

# The whitepaper's deployment scenarios, each a sequence of the same stage builders (after the
# source stage every pipeline starts with). Training pipeline (A): build, train, register;
# deployment pipeline (A2): approve, deploy.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "end-to-end": ("build", "train", "register", "approve", "deploy"),
    "docker-build": ("build",),
    "training": ("train", "register"),
    "registration": ("register",),
    "deployment": ("approve", "deploy"),
}
TRAINING_STAGES = ("build", "train", "register")
DEPLOYMENT_STAGES = ("approve", "deploy")
# The environment each stage needs (the build runs in the automation account).
STAGE_ENVIRONMENTS = {"train": "preprod", "register": "preprod", "approve": "prod", "deploy": "prod"}
TRIGGER_TYPES = ("source", "schedule", "on-demand")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#L W-]+$")
_GROUP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
# The only schedules Model Monitor accepts (SageMaker API reference, ScheduleConfig): hourly
# `cron(0 * ? * * *)`, daily `cron(0 H ? * * *)` and every N hours `cron(0 H/N ? * * *)`
# (H 0-23, N 1-24). `NOW` is a one-time run, not a schedule.
_MONITOR_CRON = re.compile(r"^cron\(0 (\*|(?P<hour>[0-9]{1,2})(/(?P<every>[0-9]{1,2}))?) \? \* \* \*\)$")
# AWS's analyzer image: `<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-model-monitor-analyzer[:tag|@digest]`.
_ANALYZER_IMAGE = re.compile(r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-[0-9])\.amazonaws\.com"
                             r"/(?P<repository>sagemaker-model-monitor-analyzer)(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})?$")
_BRANCH = re.compile(r"^[^\s~^:?\[\\]{1,255}$")


class ApproverGroup(ConfigModel):
    """Who may approve production releases: a named group and the role (in the automation
    account, a name or `*` pattern, e.g. an Identity Center permission set's role) its members
    act through. Only that role may call PutApprovalResult (CI-2)."""

    name: str
    role: str


class Trigger(ConfigModel):
    """source: a push to `branch` (optionally only when `file_paths` globs change); schedule:
    an EventBridge `rate(...)` or `cron(...)` expression; on-demand: started by hand / API."""

    type: Literal["source", "schedule", "on-demand"]
    branch: str = "main"
    file_paths: list[str] = []
    schedule: str | None = None


class ModelMonitorSettings(ConfigModel):
    """A Model Monitor data-quality schedule on the production endpoint's captured traffic
    (templates/endpoint.yaml's ModelMonitor): `schedule` a cron expression of the forms Model
    Monitor accepts, `image_uri` the home Region's Model Monitor analyzer image (AWS's ECR
    registry of that Region, SageMaker developer guide "Amazon SageMaker Model Monitor prebuilt
    container")."""

    schedule: str = "cron(0 * ? * * *)"
    image_uri: str


class ProjectDelivery(ConfigModel):
    """One project's pipelines: the scenario, its triggers and its release approvers."""

    scenario: str = "end-to-end"
    triggers: list[Trigger] = [Trigger(type="source")]
    approver_group: str | None = None
    # The project's code repository the pipelines build from (default: the first configured).
    repository: str | None = None
    # What runs the training workflow in pre-production (templates/training-workflow.yaml's
    # WorkflowEngine): the whitepaper's Step Functions state machine, or a SageMaker Pipeline.
    workflow_engine: Literal["StepFunctions", "SageMakerPipeline"] = "StepFunctions"
    # A private API Gateway and a Lambda function in the production VPC front the endpoint
    # (templates/endpoint.yaml's ApiFront), reached only through the VPC's execute-api endpoint.
    api_front: bool = False
    # A Model Monitor data-quality schedule on the production endpoint (only with the deploy stage).
    model_monitor: ModelMonitorSettings | None = None


class TemplateSettings(ConfigModel):
    """Where, in the project's repository, the CloudFormation templates the pipelines deploy are
    (the platform ships them in templates/ as the project starter)."""

    training: str = "templates/training-workflow.yaml"
    registration: str = "templates/model-registration.yaml"
    endpoint: str = "templates/endpoint.yaml"


class DeliverySettings(ConfigModel):
    """The `delivery:` section: approver groups and each project's pipelines (a project without
    an entry gets no pipelines; its delivery stack still holds its shared-services part)."""

    approver_groups: list[ApproverGroup] = []
    projects: dict[str, ProjectDelivery] = {}
    templates: TemplateSettings = TemplateSettings()
    build_image: str = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
    build_compute_type: Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"] = \
        "BUILD_GENERAL1_MEDIUM"
    build_log_retention_days: int = 365


# -- derived names (pure functions of the configuration) -----------------------------------------

def delivery(platform: "PlatformConfig", project: str) -> ProjectDelivery | None:
    return platform.delivery.projects.get(project)


def stages(platform: "PlatformConfig", project: str) -> tuple[str, ...]:
    spec = delivery(platform, project)
    # An unknown scenario has no stages (the validator reports it naming the key).
    return SCENARIOS.get(spec.scenario, ()) if spec is not None else ()


def pipeline_stages(platform: "PlatformConfig", project: str) -> dict[str, tuple[str, ...]]:
    """Pipeline kind (`training`: A, `deployment`: A2) -> its stages after the source stage."""
    found = stages(platform, project)
    kinds = {"training": tuple(s for s in found if s in TRAINING_STAGES),
             "deployment": tuple(s for s in found if s in DEPLOYMENT_STAGES)}
    return {kind: kind_stages for kind, kind_stages in kinds.items() if kind_stages}


def workflow_engine(platform: "PlatformConfig", project: str) -> str | None:
    """The training workflow's engine, or None when the project's pipelines do not train."""
    spec = delivery(platform, project)
    return spec.workflow_engine if spec is not None and "train" in stages(platform, project) else None


def api_front(platform: "PlatformConfig", project: str) -> bool:
    """The production endpoint is fronted by API Gateway and Lambda (only with the deploy stage)."""
    spec = delivery(platform, project)
    return spec is not None and spec.api_front and "deploy" in stages(platform, project)


def model_monitor(platform: "PlatformConfig", project: str) -> ModelMonitorSettings | None:
    """The production endpoint's Model Monitor schedule, or None (only with the deploy stage)."""
    spec = delivery(platform, project)
    return spec.model_monitor if spec is not None and "deploy" in stages(platform, project) else None


def monitoring_name(platform: "PlatformConfig", project: str) -> str:
    """The data-quality job definition and monitoring schedule of the endpoint template (both
    `<EndpointName>-data-quality`; the endpoint is `<prefix>-<project>`)."""
    return _name(platform, project, "data-quality")


def analyzer_repository(image_uri: str) -> tuple[str, str, str]:
    """(account, Region, repository) of a Model Monitor analyzer image URI."""
    found = _ANALYZER_IMAGE.match(image_uri)
    assert found is not None, image_uri
    return found.group("account"), found.group("region"), found.group("repository")


def calls_sagemaker(platform: "PlatformConfig", project: str) -> bool:
    """A build of the automation account calls SageMaker's API: A2's approved-version resolver,
    or the runner of a SageMaker pipeline (the automation VPC then needs SageMaker's endpoint)."""
    return "deploy" in stages(platform, project) or workflow_engine(platform, project) == "SageMakerPipeline"


# The interface endpoint the API front is reached through (components/vpc_endpoints.py).
API_FRONT_ENDPOINT = "execute-api"
# The path the endpoint template creates the front function's role under (templates/endpoint.yaml;
# CloudFormation names the role), in production.
FRONT_ROLE_PATH = "/ml-platform/endpoint-front/"


def front_role_pattern() -> str:
    """The front's role as a role name pattern (path included): any role under its path."""
    return f"{FRONT_ROLE_PATH.strip('/')}/*"


def endpoint_services(platform: "PlatformConfig", project: str, env: str) -> list[str]:
    """Interface endpoints `project`-`env` needs for its delivery: execute-api in production when
    the API front is configured (the private API admits only that endpoint)."""
    return [API_FRONT_ENDPOINT] if env == "prod" and api_front(platform, project) else []


def _name(platform: "PlatformConfig", project: str, suffix: str) -> str:
    return f"{platform.name_prefix}-{project}-{suffix}"


def pipeline_name(platform: "PlatformConfig", project: str, kind: str) -> str:
    return _name(platform, project, kind)


# Roles by key: (account environment or `automation`, name suffix). A / A2 are the pipelines'
# roles, `build` the CodeBuild project's; B and C the cross-account action roles of pre-production
# and production; their CloudFormation execution roles create what the templates declare.
ROLES: dict[str, tuple[str, str]] = {
    "pipeline-training": ("automation", "pipeline-training"),      # CodePipeline role A
    "pipeline-deployment": ("automation", "pipeline-deployment"),  # CodePipeline role A2
    "build": ("automation", "image-build"),
    "deploy-training": ("preprod", "deploy-training"),              # cross-account role B
    "deploy-endpoint": ("prod", "deploy-endpoint"),                 # cross-account role C
    "cfn-training": ("preprod", "cfn-training"),
    "cfn-endpoint": ("prod", "cfn-endpoint"),
    "schedule": ("automation", "pipeline-schedule"),
    # A2's build step that resolves the registry's latest Approved version (reads that group only).
    "approved-model": ("automation", "approved-model"),
    # With workflow_engine SageMakerPipeline: A's build step that runs the pipeline as role B.
    "workflow-runner": ("automation", "training-runner"),
    # With CodeCommit (shared-services account): the source actions' role there, and the
    # EventBridge roles that carry a push to the automation account and start the pipeline.
    "code-source": ("shared", "code-source"),
    "source-events": ("shared", "source-events"),
    "source-trigger": ("automation", "pipeline-source-trigger"),
}


def role_name(platform: "PlatformConfig", project: str, key: str) -> str:
    return _name(platform, project, ROLES[key][1])


def role_account(project: str, key: str) -> str:
    """The account key (`automation`, `<project>-preprod`, ...) a role lives in."""
    where = ROLES[key][0]
    return {"automation": AUTOMATION_ACCOUNT, "shared": ss.ACCOUNT}.get(where, f"{project}-{where}")


def codecommit(platform: "PlatformConfig") -> bool:
    """The pipelines read CodeCommit repositories of the shared-services account (cross-account
    source through the `code-source` role) instead of a CodeConnections connection."""
    return platform.shared_services.code_repositories.provider == "CodeCommit"


def created_role_keys(platform: "PlatformConfig", project: str) -> list[str]:
    """The roles (keys of ROLES) a project's delivery stack creates for its scenario."""
    kinds, found = pipeline_stages(platform, project), stages(platform, project)
    if not kinds:
        return []
    keys = [f"pipeline-{kind}" for kind in kinds] + ["build"]
    if any(s in found for s in ("train", "register")):
        keys += ["deploy-training", "cfn-training"]
    if "deploy" in found:
        keys += ["deploy-endpoint", "cfn-endpoint", "approved-model"]
    if workflow_engine(platform, project) == "SageMakerPipeline":
        keys.append("workflow-runner")
    spec = delivery(platform, project)
    if spec is not None and any(t.type == "schedule" for t in spec.triggers):
        keys.append("schedule")
    if codecommit(platform):
        keys.append("code-source")
        if spec is not None and any(t.type == "source" for t in spec.triggers):
            keys += ["source-events", "source-trigger"]
    return keys


def code_source_roles(platform: "PlatformConfig") -> list[str]:
    """With CodeCommit: the projects' source roles in the shared-services account (they decrypt
    the repositories with the shared-services key, whose policy names them)."""
    return [role_name(platform, p, "code-source") for p in platform.delivery.projects
            if "code-source" in created_role_keys(platform, p)]


def forwarder_role_name(platform: "PlatformConfig", project: str) -> str:
    """The monitoring's EventBridge forwarder role in preprod and prod (components/delivery_monitoring.py)."""
    return _name(platform, project, "delivery-event-forwarder")


# The role CloudWatch's cross-account dashboards assume (AWS's fixed name), created by the
# delivery monitoring in each monitored environment (components/delivery_monitoring.py).
CLOUDWATCH_SHARING_ROLE = "CloudWatch-CrossAccountSharingRole"


def monitored_environments(platform: "PlatformConfig", project: str) -> list[str]:
    """The target environments whose events the delivery monitoring forwards: where its
    pipelines act."""
    found = stages(platform, project)
    return [env for env, needs in (("preprod", ("train", "register")), ("prod", ("deploy",)))
            if any(s in found for s in needs)]


def build_project_name(platform: "PlatformConfig", project: str) -> str:
    return _name(platform, project, "image-build")


def runner_project_name(platform: "PlatformConfig", project: str) -> str:
    """A's CodeBuild project that runs the SageMaker pipeline as role B (workflow_engine SageMakerPipeline)."""
    return _name(platform, project, "training-runner")


def resolver_project_name(platform: "PlatformConfig", project: str) -> str:
    """A2's CodeBuild project that resolves the latest Approved model package version."""
    return _name(platform, project, "approved-model")


def artifact_bucket_name(platform: "PlatformConfig", project: str) -> str:
    """The pipelines' input/output bucket (policy A) in the automation account."""
    return platform.bucket_name(project, "pipeline-artifacts")


def access_log_bucket_name(platform: "PlatformConfig", project: str) -> str:
    """The artifact bucket's server access logs (S3 delivers them only within its account and
    Region, and the automation account has no other access-log bucket)."""
    return platform.bucket_name(project, "pipeline-access-logs")


def bucket_names(platform: "PlatformConfig") -> list[str]:
    """The artifact buckets (the trail's data events watch them)."""
    return [artifact_bucket_name(platform, p) for p in platform.delivery.projects]


def created_bucket_names(platform: "PlatformConfig") -> list[str]:
    """Every bucket the delivery stacks create: the artifact buckets and their access-log buckets."""
    return [*bucket_names(platform), *(access_log_bucket_name(platform, p) for p in platform.delivery.projects)]


def training_job_name(run_id: str) -> str:
    """The training job of one run of the training workflow (templates/training-workflow.yaml)."""
    return f"train-{run_id}"


def model_artifact_url(output_uri: str, run_id: str) -> str:
    """Where one run's model is: the workflow's training job writes under
    `<OutputS3Uri>/<run id>/model`, and SageMaker adds `<job name>/output/model.tar.gz`. The
    registration reads exactly this (the one definition of the layout on the pipeline side)."""
    return f"{output_uri}/{run_id}/model/{training_job_name(run_id)}/output/model.tar.gz"


def stack_names(platform: "PlatformConfig", project: str) -> dict[str, str]:
    """The CloudFormation stacks the pipelines deploy, by template kind."""
    return {kind: _name(platform, project, kind) for kind in ("training", "registration", "endpoint")}


def source_repository(platform: "PlatformConfig", project: str) -> str:
    """The Git repository the pipelines build from: `owner/name` for a connection, a CodeCommit
    repository's name (`<project>-<name>`) with CodeCommit."""
    spec = delivery(platform, project)
    names = platform.shared_services.code_repositories.repositories
    return (spec.repository if spec and spec.repository else f"{project}-{names[0]}")


def approver_role_patterns(platform: "PlatformConfig") -> list[str]:
    """The roles that may approve releases (PutApprovalResult), every approver group's."""
    return list(dict.fromkeys(g.role for g in platform.delivery.approver_groups))


def approver_group(platform: "PlatformConfig", project: str) -> ApproverGroup | None:
    spec = delivery(platform, project)
    name = spec.approver_group if spec else None
    return next((g for g in platform.delivery.approver_groups if g.name == name), None)


# -- validation -----------------------------------------------------------------------------------

def schedule_problem(expression: str) -> str | None:
    """Why EventBridge would reject `expression` as a schedule, or None."""
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return "a rate must be at least 1"
        if (value == 1) != (not unit.endswith("s")):
            return f"use the {'singular' if value == 1 else 'plural'} unit with {value}"
        return None
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[5:-1].split(" ")
        if len(fields) != 6 or not all(_CRON_FIELD.match(f) for f in fields):
            return "a cron expression has six fields (minutes hours day-of-month month day-of-week year)"
        if "?" not in (fields[2], fields[4]) or fields[2] == fields[4] == "?":
            return "exactly one of day-of-month and day-of-week must be '?'"
        return None
    return "not rate(<value> <unit>) or cron(<six fields>)"


def monitor_schedule_problem(expression: str) -> str | None:
    """Why Model Monitor would reject `expression` as a monitoring schedule, or None."""
    found = _MONITOR_CRON.match(expression)
    if found is None:
        return "not one of the forms Model Monitor accepts"
    if found.group("hour") is not None and int(found.group("hour")) > 23:
        return "the hour is 0-23"
    if found.group("every") is not None and not 1 <= int(found.group("every")) <= 24:
        return "the interval is 1-24 hours"
    return None


def _check_model_monitor(platform: "PlatformConfig", key: str, spec: ProjectDelivery, problems: list[str]) -> None:
    monitor = spec.model_monitor
    if monitor is None:
        return
    if "deploy" not in SCENARIOS[spec.scenario]:
        problems.append(f"{key}.model_monitor: Model Monitor watches the production endpoint, which the "
                        f"{spec.scenario} scenario does not deploy (allowed: leave it out, or a scenario with the "
                        f"deploy stage: {', '.join(s for s, st in SCENARIOS.items() if 'deploy' in st)})")
    if (why := monitor_schedule_problem(monitor.schedule)) is not None:
        problems.append(f"{key}.model_monitor.schedule: '{monitor.schedule}' is not a Model Monitor schedule ({why}; "
                        "allowed: hourly cron(0 * ? * * *), daily cron(0 <hour> ? * * *), every N hours "
                        "cron(0 <hour>/<N> ? * * *), hour 0-23, N 1-24)")
    image = _ANALYZER_IMAGE.match(monitor.image_uri)
    if image is None:
        problems.append(f"{key}.model_monitor.image_uri: '{monitor.image_uri}' is not a Model Monitor analyzer image "
                        "(allowed: <account>.dkr.ecr.<region>.amazonaws.com/sagemaker-model-monitor-analyzer"
                        "[:<tag>], the home Region's image of the SageMaker developer guide)")
    elif image.group("region") != platform.home_region:
        problems.append(f"{key}.model_monitor.image_uri: '{monitor.image_uri}' is in {image.group('region')}; the "
                        f"endpoint and its monitoring jobs run in {platform.home_region} (allowed: the analyzer "
                        f"image of {platform.home_region})")


def _check_delivery(platform: "PlatformConfig", problems: list[str]) -> None:
    d = platform.delivery
    projects = {p.name: p for p in platform.projects}
    groups = [g.name for g in d.approver_groups]
    for i, group in enumerate(d.approver_groups):
        if not _GROUP_NAME.match(group.name):
            problems.append(f"delivery.approver_groups[{i}].name: '{group.name}' is not a group name (allowed: "
                            "lowercase letters, digits and hyphens, at most 32 characters)")
        if groups.count(group.name) > 1:
            problems.append(f"delivery.approver_groups[{i}].name: '{group.name}' is defined twice")
        if not re.match(r"^[\w+=,.@*-]{1,64}$", group.role) or group.role.strip("*") == "":
            problems.append(f"delivery.approver_groups[{i}].role: '{group.role}' is not a role name or pattern "
                            "(allowed: letters, digits, +=,.@_- and '*', not '*' alone)")
    code = platform.shared_services.code_repositories
    for name, spec in d.projects.items():
        key = f"delivery.projects.{name}"
        if name not in projects:
            problems.append(f"{key}: unknown project (allowed: {', '.join(projects) or 'none'})")
            continue
        if spec.scenario not in SCENARIOS:
            problems.append(f"{key}.scenario: unknown scenario '{spec.scenario}' (allowed: {', '.join(SCENARIOS)})")
            continue
        environments = projects[name].environments
        for stage in SCENARIOS[spec.scenario]:
            env = STAGE_ENVIRONMENTS.get(stage)
            if env is not None and env not in environments:
                fitting = [s for s, st in SCENARIOS.items()
                           if all(STAGE_ENVIRONMENTS.get(x) in (None, *environments) for x in st)]
                problems.append(f"{key}.scenario: '{spec.scenario}' has the {stage} stage, which needs a {env} "
                                f"environment that {name} does not have (allowed: {', '.join(fitting)})")
                break
        if "deploy" in SCENARIOS[spec.scenario] and "preprod" not in environments:
            # A2 deploys the group's approved version; the group exists with a preprod environment.
            problems.append(f"{key}.scenario: '{spec.scenario}' deploys the approved version of {name}'s model "
                            f"package group, which needs a preprod environment that {name} does not have "
                            "(allowed: a scenario without the deploy stage, or add preprod)")
        if "approve" in SCENARIOS[spec.scenario]:
            if spec.approver_group is None:
                problems.append(f"{key}.approver_group: the {spec.scenario} scenario approves releases "
                                f"(allowed: one of delivery.approver_groups: {', '.join(groups) or 'none defined'})")
            elif spec.approver_group not in groups:
                problems.append(f"{key}.approver_group: unknown approver group '{spec.approver_group}' "
                                f"(allowed: {', '.join(groups) or 'none; define delivery.approver_groups'})")
        if spec.workflow_engine != "StepFunctions" and "train" not in SCENARIOS[spec.scenario]:
            problems.append(f"{key}.workflow_engine: '{spec.workflow_engine}' runs the training workflow, which the "
                            f"{spec.scenario} scenario does not have (allowed: StepFunctions, or a scenario with the "
                            f"train stage: {', '.join(s for s, st in SCENARIOS.items() if 'train' in st)})")
        if spec.api_front and "deploy" not in SCENARIOS[spec.scenario]:
            problems.append(f"{key}.api_front: the API front is in front of the production endpoint, which the "
                            f"{spec.scenario} scenario does not deploy (allowed: false, or a scenario with the deploy "
                            f"stage: {', '.join(s for s, st in SCENARIOS.items() if 'deploy' in st)})")
        _check_model_monitor(platform, key, spec, problems)
        if code.provider == "CodeCommit":
            own = ss.project_code_repositories(platform, name)
            if spec.repository is not None and spec.repository not in own:
                problems.append(f"{key}.repository: '{spec.repository}' is not a CodeCommit repository of {name} "
                                f"(allowed: {', '.join(own)})")
        elif spec.repository is not None and not re.match(r"^[\w.-]+/[\w.-]+$", spec.repository):
            problems.append(f"{key}.repository: '{spec.repository}' is not <owner>/<repository>")
        for j, trigger in enumerate(spec.triggers):
            tk = f"{key}.triggers[{j}]"
            if trigger.type == "schedule":
                if trigger.schedule is None:
                    problems.append(f"{tk}.schedule: a schedule trigger needs an expression (allowed: rate(...) or cron(...))")
                elif (why := schedule_problem(trigger.schedule)) is not None:
                    problems.append(f"{tk}.schedule: '{trigger.schedule}' is not an EventBridge schedule expression "
                                    f"({why}; allowed: e.g. rate(1 day), cron(0 6 ? * MON *))")
            elif trigger.schedule is not None:
                problems.append(f"{tk}.schedule: only for type: schedule")
            if trigger.type != "source" and trigger.file_paths:
                problems.append(f"{tk}.file_paths: only for type: source")
            elif trigger.file_paths and code.provider == "CodeCommit":
                # CodeCommit's push events name the branch, not the changed files.
                problems.append(f"{tk}.file_paths: CodeCommit triggers cannot filter by path (allowed: with "
                                "a CodeConnections provider; with CodeCommit, leave file_paths empty)")
            if trigger.type == "source" and not _BRANCH.match(trigger.branch):
                problems.append(f"{tk}.branch: '{trigger.branch}' is not a Git branch name or pattern")
        for key_, length in ((k, len(role_name(platform, name, k))) for k in ROLES):
            if length > 64:
                problems.append(f"projects (name '{name}'): role name '{role_name(platform, name, key_)}' would be "
                                f"{length} characters (allowed: at most 64; shorten name_prefix or the project name)")


CHECKS = (_check_delivery,)
