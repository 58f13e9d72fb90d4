"""The `<project>-delivery` stacks: one ML project's delivery, outside its own accounts.

Builds (settings: stacks/delivery_settings.py and the project's part of `shared_services:`),
in the **shared-services account** through an explicit provider:

* the project's **application image repositories** (`<namespace>/<image>`): KMS-encrypted with
  the shared-services key, immutable tags, scan on push, lifecycle; pull only for the project's
  own accounts and the deployment account within the organization, push only for the
  pipeline build roles;
* its **model package group** (central registry mode; in distributed mode, in the project's
  pre-production account) whose policy lets its pre-production automation register and its
  production automation consume;
* its **code**: a CodeConnections connection to the Git provider, or CodeCommit repositories
  associated with the platform's approval rule template;
* its **SSM parameters** (ECR namespace, model package group ARN), added to the shared-services
  parameter share, and its **tag options** (name, owner, cost center) on the Studio
  self-service portfolio.

and, for a project with a `delivery.projects` entry, the whitepaper's cross-account pipelines
(README "Delivery"): in the **automation account** the artifact bucket (policy A) and its key,
CodePipeline A (training) and A2 (deployment) with their roles, the image build; in the
project's **pre-production and production accounts** cross-account roles B and C and the
CloudFormation execution roles they pass; and the project's delivery monitoring.

Reads the organization stack (account ids, organization id), the network stack (the automation
VPC), the shared-services stack (its
key, its parameter share) and the project's pre-production and production stacks; no project
stack reads this one (their names come from the settings).

Outputs: the contract is documented once, under "Stack outputs (contract)" in README.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.codecommit_source import CodeCommitSource, CodeCommitSourceArgs
from components.delivery_monitoring import DeliveryMonitoring, DeliveryMonitoringArgs, EndpointAlarms
from components.cross_account_roles import (
    CrossAccountDeployRole,
    CrossAccountDeployRoleArgs,
    PipelineRole,
    artifact_statements,
)
from components.image_repository import ImageRepository, ImageRepositoryArgs
from components.kms_keys import ENCRYPT_DECRYPT, CustomerManagedKey, KeyUse, RolePrincipals
from components.model_registry import ModelPackageGroup, ModelPackageGroupArgs, group_arn, package_arns
from components.pipeline_stages import (
    COMMIT_ID,
    MODEL_PACKAGE_GROUP_VARIABLE,
    RUN_ID,
    RUN_ROLE_VARIABLE,
    TRAINED_MODEL_DATA_URL,
    StageInputs,
    approved_version_buildspec,
    pipeline_runner_buildspec,
    pipeline_stages,
)
from components.data_access import LogDelivery
from components.project_buckets import access_log_bucket
from components.secure_bucket import BucketAccess, SecureBucket
from policy_documents.serialize import concat, document, policy_json
from stacks import workspace_settings as ws
from stacks import delivery_settings as dv
from stacks import shared_services_settings as ss
from stacks.common import account_ids, account_provider, platform_tags, project_tags, stack_reference
from stacks.config import EMAIL, PlatformConfig
from stacks.context import StackContext
from stacks.principal_settings import RoleReference, require_roles


def named_roles(platform: PlatformConfig, project: str) -> list[RoleReference]:
    """The roles of other accounts or stacks that this stack's policies name."""
    found = [RoleReference(f"ECR repository policies of {project} (pipeline build roles)", ss.PIPELINE_ACCOUNT, r)
             for r in platform.shared_services.pipeline_build_roles]
    if project in ss.registry_projects(platform):
        found += [RoleReference(f"model package group {project} (registration)", f"{project}-preprod", r)
                  for r in ss.registration_roles(platform, project)]
        if "prod" in platform.project(project).environments:
            found += [RoleReference(f"model package group {project} (consumption)", f"{project}-prod", r)
                      for r in ss.consumer_roles(platform, project)]
    return found


def run(ctx: StackContext) -> None:
    platform, project = ctx.platform, ctx.project
    assert project is not None  # load_context requires it for this layer
    require_roles(platform, named_roles(platform, project))
    tags = project_tags(platform, project, "shared")
    organization = stack_reference("organization")
    shared = stack_reference("shared-services")
    # Deployed after the project's target environments, whose roles and networks it uses.
    targets = {env: stack_reference(f"{project}-{env}") for env in dv.target_environments(platform, project)}
    org_id = organization.require_output("organizationId")
    account = account_ids(organization)
    shared_id = account(ss.ACCOUNT)
    shared_opts = pulumi.ResourceOptions(provider=account_provider(ss.ACCOUNT, platform, shared_id, tags))
    shared_key_arn = shared.require_output("keyArn")

    pipelines = bool(dv.pipeline_stages(platform, project))
    repositories = _repositories(platform, project, account, org_id, shared_key_arn, tags, shared_opts,
                                 build_role=dv.role_name(platform, project, "build") if pipelines else None)
    group = _model_package_group(platform, project, account, org_id, shared_id, shared_opts)
    connection, code_repositories = _code(platform, project, shared_key_arn, tags, shared_opts)

    registry_uri = concat(shared_id, ".dkr.ecr.", platform.home_region, ".amazonaws.com")
    parameters: dict[str, pulumi.Input[str]] = {
        "ecr-namespace": concat(registry_uri, "/", ss.namespace(platform, project), "/")}
    if group is not None:
        parameters["model-package-group-arn"] = group.arn
    parameter_names = _parameters(platform, project, parameters, shared_key_arn,
                                  shared.require_output("parameterShareArn"), shared_opts)
    if platform.shared_services.service_catalog.enabled:
        _tag_options(platform, project, shared.require_output("serviceCatalog"), shared_opts)

    pulumi.export("project", project)
    urls = _repository_urls(platform, repositories)
    pulumi.export("repositories", {name: {"arn": repo.arn, "url": urls[name]} for name, repo in repositories.items()})
    pulumi.export("modelPackageGroup", None if group is None else {
        "arn": group.arn, "name": group.name, "artifactPrefix": ss.artifact_prefix(platform, project),
        "mode": platform.shared_services.model_registry.mode})
    pulumi.export("codeConnectionArn", connection)
    pulumi.export("codeCommitRepositories", code_repositories)
    pulumi.export("parameters", parameter_names)
    delivery = _delivery(ctx, account, org_id, targets, repositories, group, connection, code_repositories,
                         shared_key_arn, shared_opts) if pipelines else None
    pulumi.export("delivery", delivery)


def _repositories(platform: PlatformConfig, project: str, account, org_id: pulumi.Output[str],
                  key_arn: pulumi.Output[str], tags: dict[str, str], opts: pulumi.ResourceOptions,
                  build_role: str | None) -> dict[str, ImageRepository]:
    ecr = platform.shared_services.ecr
    # The project's own image build pushes to its namespace (besides the configured build roles).
    names = (*platform.shared_services.pipeline_build_roles, *((build_role,) if build_role else ()))
    builders = RolePrincipals(account(ss.PIPELINE_ACCOUNT), tuple(dict.fromkeys(names)))
    return {name: ImageRepository(f"ecr-{name.replace('/', '-')}", ImageRepositoryArgs(
        name=name, kms_key_arn=key_arn, organization_id=org_id,
        pull_accounts=[account(k) for k in ss.pull_accounts(platform, project)],
        pushers=[builders], keep_tagged_images=ecr.keep_tagged_images,
        untagged_expire_days=ecr.untagged_expire_days, tags=tags), opts=opts)
        for name in ss.project_repositories(platform, project)}


def _repository_urls(platform: PlatformConfig, repositories: dict[str, ImageRepository]) -> dict[str, pulumi.Output[str]]:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<name>` of each repository (from its ARN, so a
    reader waits for the repository)."""
    return {name: repo.arn.apply(lambda arn, n=name: f"{arn.split(':')[4]}.dkr.ecr.{platform.home_region}.amazonaws.com/{n}")
            for name, repo in repositories.items()}


def _model_package_group(platform: PlatformConfig, project: str, account, org_id: pulumi.Output[str],
                         shared_id: pulumi.Output[str], shared_opts: pulumi.ResourceOptions) -> ModelPackageGroup | None:
    """The project's group (only with a pre-production environment, where versions are trained)."""
    if project not in ss.registry_projects(platform):
        return None
    central = platform.shared_services.model_registry.mode == "central"
    preprod = account(f"{project}-preprod")
    tags = project_tags(platform, project, "shared" if central else "preprod")
    opts = shared_opts if central else pulumi.ResourceOptions(provider=account_provider(
        f"{project}-preprod", platform, preprod, tags))
    consumers = ([RolePrincipals(account(f"{project}-prod"), tuple(ss.consumer_roles(platform, project)))]
                 if "prod" in platform.project(project).environments else [])
    if "deploy" in dv.stages(platform, project):
        # A2 deploys the latest Approved version: its resolver (automation account) lists and
        # describes the versions, prod's execution role creates the model from one (SageMaker
        # needs DescribeModelPackage on it across accounts).
        consumers += [RolePrincipals(account(dv.AUTOMATION_ACCOUNT), (dv.role_name(platform, project, "approved-model"),)),
                      RolePrincipals(account(f"{project}-prod"), (dv.role_name(platform, project, "cfn-endpoint"),))]
    registrars = list(ss.registration_roles(platform, project))
    if "register" in dv.stages(platform, project):
        # The pipeline's registration stack is created by pre-production's execution role.
        registrars.append(dv.role_name(platform, project, "cfn-training"))
    return ModelPackageGroup(f"model-registry-{project}", ModelPackageGroupArgs(
        group_name=ss.model_package_group(platform, project),
        description=f"Model versions of {project}: registered by its pre-production automation, "
                    "consumed by its production account",
        account_id=shared_id if central else preprod, region=platform.home_region, organization_id=org_id,
        # In distributed mode the registrars are of the group's own account: no resource policy needed.
        registrars=[RolePrincipals(preprod, tuple(registrars))] if central else [],
        consumers=consumers, tags=tags), opts=opts)


def _code(platform: PlatformConfig, project: str, key_arn: pulumi.Output[str], tags: dict[str, str],
          opts: pulumi.ResourceOptions) -> tuple[pulumi.Output[str] | None, dict[str, pulumi.Output[str]]]:
    """A CodeConnections connection to the external Git provider (completed once in the console
    by the provider's administrator: AWS creates connections PENDING), or CodeCommit
    repositories (KMS, protected) associated with the platform's approval rule template."""
    code = platform.shared_services.code_repositories
    if code.provider != "CodeCommit":
        connection = aws.codeconnections.Connection(
            f"code-connection-{project}", name=ss.connection_name(platform, project),
            provider_type=None if code.host_arn else code.provider, host_arn=code.host_arn, tags=tags, opts=opts)
        return connection.arn, {}
    repositories = {}
    for name in ss.project_code_repositories(platform, project):
        repository = aws.codecommit.Repository(
            f"code-{name}", repository_name=name, description=f"ML code of {project}", kms_key_id=key_arn,
            default_branch="main", tags=tags,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True, retain_on_delete=True)))
        if code.approval_rule_template is not None:
            # The template is the shared-services stack's (deployed before this one).
            aws.codecommit.ApprovalRuleTemplateAssociation(
                f"code-{name}-approval-rule", approval_rule_template_name=code.approval_rule_template,
                repository_name=repository.repository_name, opts=pulumi.ResourceOptions(parent=repository))
        repositories[name] = repository.arn
    return None, repositories


def _parameters(platform: PlatformConfig, project: str, values: dict[str, pulumi.Input[str]],
                key_arn: pulumi.Output[str], share_arn: pulumi.Output[str],
                opts: pulumi.ResourceOptions) -> dict[str, str]:
    """SecureString parameters (advanced tier, so RAM can share them) under the project's path of
    the shared-services parameters, in the shared-services stack's share."""
    path = ss.project_parameter_path(platform, project)
    names = {}
    for name, value in values.items():
        logical = f"parameter-projects-{project}-{name}"
        parameter = aws.ssm.Parameter(
            logical, name=f"{path}/{name}", type="SecureString", tier="Advanced", key_id=key_arn, value=value,
            description=f"Shared services of {project}: {name}", opts=opts)
        aws.ram.ResourceAssociation(f"{logical}-share", resource_arn=parameter.arn, resource_share_arn=share_arn,
                                    opts=pulumi.ResourceOptions(parent=parameter))
        names[name] = f"{path}/{name}"
    return names


def _tag_options(platform: PlatformConfig, project: str, catalog: pulumi.Output, opts: pulumi.ResourceOptions) -> None:
    """The project's values of the mandatory tags as tag options of the self-service portfolio."""
    portfolio_id = catalog.apply(lambda c: c["portfolioId"])
    for tag, value in ss.project_tag_options(platform, project):
        slug = re.sub(r"[^a-z0-9]+", "-", f"{tag}-{value}".lower()).strip("-")
        option = aws.servicecatalog.TagOption(f"tag-option-{slug}", key=tag, value=value, active=True, opts=opts)
        aws.servicecatalog.TagOptionResourceAssociation(f"tag-option-{slug}-portfolio", resource_id=portfolio_id,
                                                       tag_option_id=option.id,
                                                       opts=pulumi.ResourceOptions(parent=option))


# -- the cross-account pipelines (whitepaper "Cross-account CodePipeline setup") ----------------

HTTPS = 443
ECR_PUSH = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
            "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart")
ECR_PULL = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def _arn(service: str, region: str, account_id: pulumi.Input[str], resource: str) -> pulumi.Output[str]:
    return concat(f"arn:aws:{service}:{region}:", account_id, f":{resource}")


def _role_arn(account_id: pulumi.Input[str], name: str) -> pulumi.Output[str]:
    return concat("arn:aws:iam::", account_id, ":role/", name)


def _delivery(ctx: StackContext, account, org_id: pulumi.Output[str], targets: dict[str, pulumi.StackReference],
              repositories: dict[str, ImageRepository], group: ModelPackageGroup | None,
              connection_arn: pulumi.Output[str] | None, code_repositories: dict[str, pulumi.Output[str]],
              shared_key_arn: pulumi.Output[str], shared_opts: pulumi.ResourceOptions) -> dict:
    """The project's artifact store, roles, image build and pipelines (A, A2); their source is
    the project's connection, or its CodeCommit repository in the shared-services account."""
    platform, project = ctx.platform, ctx.project
    assert project is not None
    codecommit = dv.codecommit(platform)
    region, org = platform.home_region, platform.organization
    kinds = dv.pipeline_stages(platform, project)
    stages = dv.stages(platform, project)
    name = lambda key: dv.role_name(platform, project, key)  # noqa: E731
    automation_id = account(dv.AUTOMATION_ACCOUNT)
    tags = project_tags(platform, project, "shared")
    automation = account_provider(dv.AUTOMATION_ACCOUNT, platform, automation_id, tags)
    auto_opts = pulumi.ResourceOptions(provider=automation)
    env_ids = {env: account(f"{project}-{env}") for env in targets}
    env_opts = {env: pulumi.ResourceOptions(provider=account_provider(
        f"{project}-{env}", platform, env_ids[env], project_tags(platform, project, env))) for env in targets}
    outputs = {env: {key: ref.require_output(key) for key in ("subnetIds", "workloadSecurityGroupId", "data", "workspace")}
               for env, ref in targets.items()}
    needs_preprod = any(s in stages for s in ("train", "register"))
    needs_prod = "deploy" in stages

    # The roles every policy below names, by ARN (created further down, in dependency order).
    pipeline_roles = [name(f"pipeline-{kind}") for kind in kinds] + [name("build")]
    if needs_prod:
        pipeline_roles.append(name("approved-model"))  # reads the source artifact it is given
    engine = dv.workflow_engine(platform, project)
    runs_pipeline = engine == "SageMakerPipeline"
    if runs_pipeline:
        pipeline_roles.append(name("workflow-runner"))  # likewise
    target_roles = {"preprod": (name("deploy-training"), name("cfn-training")),
                    "prod": (name("deploy-endpoint"), name("cfn-endpoint"))}
    target_roles = {env: roles for env, roles in target_roles.items()
                    if (env == "preprod" and needs_preprod) or (env == "prod" and needs_prod)}
    automation_roles = RolePrincipals(automation_id, tuple(pipeline_roles))
    target_principals = [RolePrincipals(env_ids[env], roles) for env, roles in target_roles.items()]
    # With CodeCommit, the source actions run as a role of the repository's account.
    shared_id = account(ss.ACCOUNT)
    source_principals = RolePrincipals(shared_id, (name("code-source"),)) if codecommit else None

    # The artifact key and bucket (policy A): the pipeline roles and the target accounts' deploy
    # and execution roles, nothing else.
    via_s3 = [f"s3.{region}.amazonaws.com"]
    artifact_key = CustomerManagedKey(
        "artifact-key", alias=f"{platform.name_prefix}-{project}-pipeline-artifacts",
        description=f"{project}: the delivery pipelines' input/output artifacts",
        administrators=RolePrincipals(automation_id, tuple(dict.fromkeys((org.deployment_role, org.break_glass_role_name)))),
        uses=[KeyUse("PipelineRoles", ENCRYPT_DECRYPT, roles=[automation_roles], via_services=via_s3),
              *([KeyUse("TargetAccounts", ENCRYPT_DECRYPT, roles=target_principals, via_services=via_s3,
                        organization_id=org_id)] if target_principals else []),
              *([KeyUse("CodeCommitSource", ENCRYPT_DECRYPT, roles=[source_principals], via_services=via_s3,
                        organization_id=org_id)] if source_principals else [])],
        tags=tags, opts=auto_opts)
    bucket_name = dv.artifact_bucket_name(platform, project)
    bucket_arn = f"arn:aws:s3:::{bucket_name}"
    # Server access logs, as the other accounts' buckets log them (SSE-S3, written by log delivery alone).
    access_logs = access_log_bucket("artifact-access-logs", dv.access_log_bucket_name(platform, project),
                                    LogDelivery(source_account=automation_id, source_bucket_prefix=bucket_name),
                                    tags, [], opts=auto_opts)
    bucket = SecureBucket("artifacts", bucket_name=bucket_name, kms_key_arn=artifact_key.arn,
                          tags={**tags, "bucket-kind": "pipeline-artifacts"}, access_log_bucket=access_logs.bucket,
                          access=BucketAccess(statements=artifact_bucket_policy(bucket_arn, automation_roles,
                                                                                target_principals, org_id,
                                                                                source_principals)),
                          opts=auto_opts)
    build_names = [dv.build_project_name(platform, project)] + (
        [dv.resolver_project_name(platform, project)] if needs_prod else []) + (
        [dv.runner_project_name(platform, project)] if runs_pipeline else [])
    logs_key = CustomerManagedKey(
        "build-logs-key", alias=f"{platform.name_prefix}-{project}-build-logs",
        description=f"{project}: the image build's log group",
        administrators=RolePrincipals(automation_id, tuple(dict.fromkeys((org.deployment_role, org.break_glass_role_name)))),
        uses=[KeyUse("CloudWatchLogs", ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"),
                     service=f"logs.{region}.amazonaws.com",
                     conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
                         _arn("logs", region, automation_id, f"log-group:/aws/codebuild/{build_name}")
                         for build_name in build_names]}})],
        tags=tags, opts=auto_opts)

    stack_names = dv.stack_names(platform, project)
    where = {"automation": automation_id, "shared": shared_id, **env_ids}
    role_arns = {key: _role_arn(where[dv.ROLES[key][0]], name(key)) for key in dv.ROLES if dv.ROLES[key][0] in where}

    # Image build and the other builds (CodeBuild) in the automation VPC.
    network_stack = stack_reference("network")
    network = _automation_network(ctx, network_stack, automation_id, tags, auto_opts)
    build = _build_project(ctx, automation_id, shared_id, network, repositories, bucket.arn, artifact_key.arn, logs_key.arn, tags,
                           auto_opts)
    resolver = (_resolver_project(ctx, automation_id, network, group, bucket.arn, artifact_key.arn, logs_key.arn, tags,
                                  auto_opts)
                if needs_prod and group is not None else None)
    runner = (_runner_project(ctx, automation_id, network, role_arns["deploy-training"], bucket.arn, artifact_key.arn,
                              logs_key.arn, tags, auto_opts) if runs_pipeline else None)

    # Pipeline roles A (training) and A2 (deployment): the bucket, its key, sts:AssumeRole on B
    # or C, the build project and the source connection; nothing else.
    pipeline_role = {}
    for kind in kinds:
        target = "deploy-training" if kind == "training" else "deploy-endpoint"
        assumes = [role_arns[target]] if (kind == "training" and needs_preprod) or (kind == "deployment" and needs_prod) else []
        statements = [
            *artifact_statements(bucket.arn, artifact_key.arn, write=True),
            ({"Sid": "AssumeTheSourceRole", "Effect": "Allow", "Action": "sts:AssumeRole",
              "Resource": role_arns["code-source"]} if codecommit else
             {"Sid": "ReadTheSource", "Effect": "Allow", "Action": ["codeconnections:UseConnection"],
              "Resource": connection_arn}),
            *([{"Sid": "AssumeTheTargetRole", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": assumes}]
              if assumes else []),
            *([{"Sid": "RunTheBuild", "Effect": "Allow", "Action": ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
                "Resource": build["arn"]}] if "build" in kinds[kind] else []),
            *([{"Sid": "ResolveTheApprovedVersion", "Effect": "Allow",
                "Action": ["codebuild:BatchGetBuilds", "codebuild:StartBuild"], "Resource": resolver["arn"]}]
              if resolver is not None and "deploy" in kinds[kind] else []),
            *([{"Sid": "RunTheTrainingPipeline", "Effect": "Allow",
                "Action": ["codebuild:BatchGetBuilds", "codebuild:StartBuild"], "Resource": runner["arn"]}]
              if runner is not None and "train" in kinds[kind] else []),
        ]
        pipeline_role[kind] = PipelineRole(
            f"pipeline-{kind}-role", name(f"pipeline-{kind}"),
            f"CodePipeline {'A (training)' if kind == 'training' else 'A2 (deployment)'} of {project}",
            "codepipeline.amazonaws.com", automation_id, statements, tags, opts=auto_opts)

    # Cross-account roles B and C, and the execution roles they pass.
    deploy_roles: dict[str, CrossAccountDeployRole] = {}
    execution_roles: dict[str, PipelineRole] = {}
    if needs_preprod:
        execution_roles["preprod"] = PipelineRole(
            "cfn-training-role", name("cfn-training"), f"CloudFormation: {project}'s training workflow and registration",
            "cloudformation.amazonaws.com", env_ids["preprod"],
            training_execution_statements(platform, project, region, env_ids["preprod"], outputs["preprod"], group),
            project_tags(platform, project, "preprod"), opts=env_opts["preprod"])
        deploy_roles["preprod"] = CrossAccountDeployRole("deploy-training-role", CrossAccountDeployRoleArgs(
            role_name=name("deploy-training"), description=f"Cross-account role B of {project}: training workflow",
            account_id=env_ids["preprod"], region=region, trusted_role_arn=pipeline_role["training"].arn,
            # The runner build acts as B to run the SageMaker pipeline (no CodePipeline action does).
            also_trusted_role_arns=[runner["role_arn"]] if runner is not None else [],
            execution_role_arn=execution_roles["preprod"].arn,
            stack_names=[stack_names[k] for k in ("training", "registration")],
            artifact_bucket_arn=bucket.arn, artifact_key_arn=artifact_key.arn,
            tags=project_tags(platform, project, "preprod"),
            extra_statements=run_workflow_statements(platform, project, region, env_ids["preprod"])),
            opts=env_opts["preprod"])
    front = (_api_front(ctx, env_ids["prod"], targets["prod"], network_stack, outputs["prod"], env_opts["prod"])
             if needs_prod and dv.api_front(platform, project) else None)
    if needs_prod:
        execution_roles["prod"] = PipelineRole(
            "cfn-endpoint-role", name("cfn-endpoint"), f"CloudFormation: {project}'s production endpoint",
            "cloudformation.amazonaws.com", env_ids["prod"],
            endpoint_execution_statements(platform, project, region, env_ids["prod"], outputs["prod"], group, front),
            project_tags(platform, project, "prod"), opts=env_opts["prod"])
        deploy_roles["prod"] = CrossAccountDeployRole("deploy-endpoint-role", CrossAccountDeployRoleArgs(
            role_name=name("deploy-endpoint"), description=f"Cross-account role C of {project}: production endpoint",
            account_id=env_ids["prod"], region=region, trusted_role_arn=pipeline_role["deployment"].arn,
            execution_role_arn=execution_roles["prod"].arn, stack_names=[stack_names["endpoint"]],
            artifact_bucket_arn=bucket.arn, artifact_key_arn=artifact_key.arn,
            tags=project_tags(platform, project, "prod")), opts=env_opts["prod"])

    spec = dv.delivery(platform, project)
    assert spec is not None
    first = next(iter(kinds))
    source = None
    if codecommit:
        repository = dv.source_repository(platform, project)
        push = next((t for t in spec.triggers if t.type == "source"), None)
        source = CodeCommitSource("code-source", CodeCommitSourceArgs(
            name_prefix=f"{platform.name_prefix}-{project}", project=project, region=region,
            repository_account_id=shared_id, automation_account_id=automation_id,
            repository_arn=code_repositories[repository], repository_key_arn=shared_key_arn,
            pipeline_role_arns=[pipeline_role[kind].arn for kind in kinds],
            artifact_bucket_arn=bucket.arn, artifact_key_arn=artifact_key.arn, source_role_name=name("code-source"),
            tags=tags, trigger_branch=push.branch if push else None,
            # A push starts the first pipeline, as a connection's trigger does.
            pipeline_arn=_arn("codepipeline", region, automation_id, dv.pipeline_name(platform, project, first)),
            events_role_name=name("source-events") if push else None,
            trigger_role_name=name("source-trigger") if push else None),
            repository=shared_opts.provider, automation=automation)
    inputs = _stage_inputs(ctx, connection_arn, source.role_arn if source else None, build, resolver, runner,
                           repositories, group, outputs, deploy_roles, execution_roles, front)
    pipelines = {}
    for kind, kind_stages in kinds.items():
        pipeline_name = dv.pipeline_name(platform, project, kind)
        # CodeCommit pushes arrive through EventBridge (CodeCommitSource), not a pipeline trigger.
        source_triggers = [t for t in spec.triggers if t.type == "source"] if kind == first and not codecommit else []
        pipeline = aws.codepipeline.Pipeline(
            f"pipeline-{kind}", name=pipeline_name, pipeline_type="V2", execution_mode="QUEUED",
            role_arn=pipeline_role[kind].arn,
            artifact_stores=[aws.codepipeline.PipelineArtifactStoreArgs(
                location=bucket.bucket, type="S3",
                encryption_key=aws.codepipeline.PipelineArtifactStoreEncryptionKeyArgs(id=artifact_key.arn, type="KMS"))],
            stages=pipeline_stages(inputs, kind_stages),
            triggers=[aws.codepipeline.PipelineTriggerArgs(
                provider_type="CodeStarSourceConnection",
                git_configuration=aws.codepipeline.PipelineTriggerGitConfigurationArgs(
                    source_action_name="Source", pushes=[aws.codepipeline.PipelineTriggerGitConfigurationPushArgs(
                        branches=aws.codepipeline.PipelineTriggerGitConfigurationPushBranchesArgs(includes=[t.branch]),
                        file_paths=aws.codepipeline.PipelineTriggerGitConfigurationPushFilePathsArgs(
                            includes=list(t.file_paths)) if t.file_paths else None)]))
                for t in source_triggers] or None,
            tags={**tags, "pipeline-kind": kind}, opts=pulumi.ResourceOptions.merge(
                auto_opts, pulumi.ResourceOptions(depends_on=[bucket, *deploy_roles.values(), *([source] if source else [])])))
        # The ARN from its parts (the pipeline's name is fixed), as CodePipeline forms it.
        arn = _arn("codepipeline", platform.home_region, automation_id, pipeline_name)
        pipelines[kind] = {"name": pipeline.name, "arn": arn, "roleArn": pipeline_role[kind].arn,
                           "stages": ["Source", *(s.capitalize() for s in kind_stages)]}
    schedules = [t.schedule for t in spec.triggers if t.type == "schedule"]
    if schedules:
        _schedules(platform, project, schedules, pipelines[first]["arn"], automation_id, tags, auto_opts)
    monitoring = DeliveryMonitoring("delivery-monitoring", DeliveryMonitoringArgs(
        name_prefix=platform.name_prefix, project=project, region=region, automation_account_id=automation_id,
        key_administrators=tuple(dict.fromkeys((org.deployment_role, org.break_glass_role_name))),
        preprod_account_id=env_ids.get("preprod") if needs_preprod else None,
        prod_account_id=env_ids.get("prod") if needs_prod else None,
        pipeline_names=[dv.pipeline_name(platform, project, kind) for kind in kinds],
        build_project_names=build_names,
        endpoint_alarms=EndpointAlarms(endpoint_name=endpoint_name(platform, project)) if needs_prod else None,
        # The project's owner is told (when it is an address: owners may be team names).
        emails=(platform.project(project).owner,) if EMAIL.match(platform.project(project).owner) else (), tags=tags,
        organization_id=org_id),
        automation=automation,
        preprod=env_opts["preprod"].provider if needs_preprod else None,
        prod=env_opts["prod"].provider if needs_prod else None)
    return {
        "monitoring": {"topicArn": monitoring.topic_arn, "dashboardName": monitoring.dashboard_name,
                       "dashboardSharingRoles": monitoring.sharing_role_arns},
        "pipelines": pipelines,
        "scenario": spec.scenario,
        "artifactBucket": {"name": bucket.bucket, "arn": bucket.arn, "accessLogBucket": access_logs.bucket},
        "artifactKeyArn": artifact_key.arn,
        "buildProject": {"name": build["name"], "arn": build["arn"], "roleArn": build["role_arn"]},
        "approvedModelResolver": None if resolver is None else {
            "name": resolver["name"], "arn": resolver["arn"], "roleArn": resolver["role_arn"]},
        "workflowEngine": engine,
        "apiFront": None if front is None else {
            "vpcEndpointId": front.vpc_endpoint_id, "boundaryArn": front.boundary_arn, "keyArn": front.key_arn},
        "trainingRunner": None if runner is None else {
            "name": runner["name"], "arn": runner["arn"], "roleArn": runner["role_arn"]},
        "crossAccountRoles": {env: role.arn for env, role in deploy_roles.items()},
        "executionRoles": {env: role.arn for env, role in execution_roles.items()},
        "source": {"provider": "CodeCommit", "repository": dv.source_repository(platform, project),
                   "roleArn": source.role_arn, "busArn": source.bus_arn} if source else
                  {"provider": "CodeConnections", "repository": dv.source_repository(platform, project),
                   "connectionArn": connection_arn},
    }


def workflow_name(platform: PlatformConfig, project: str) -> str:
    """The training workflow's name (state machine or SageMaker pipeline) the template creates."""
    return f"{platform.name_prefix}-{project}-training"


def endpoint_name(platform: PlatformConfig, project: str) -> str:
    return f"{platform.name_prefix}-{project}"


def artifact_bucket_policy(bucket_arn: str, pipeline_roles: RolePrincipals, targets: list[RolePrincipals],
                           org_id: pulumi.Input[str], source: RolePrincipals | None = None) -> list[dict]:
    """Policy A: the pipeline roles read and write; the target accounts' deploy roles read and
    write their actions' outputs, their execution roles read; with CodeCommit, the repository
    account's source role writes the source artifact; nobody else."""
    objects = f"{bucket_arn}/*"

    def allow(sid: str, principals: list[RolePrincipals], actions: list[str], resource: str) -> dict:
        return {"Sid": sid, "Effect": "Allow",
                "Principal": {"AWS": [concat("arn:aws:iam::", p.account_id, ":root") for p in principals]},
                "Action": actions, "Resource": resource,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": [a for p in principals for a in p.role_arns]},
                              "StringEquals": {"aws:PrincipalOrgID": org_id}}}

    statements = [allow("PipelineRolesObjects", [pipeline_roles], ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                        objects),
                  allow("PipelineRolesBucket", [pipeline_roles], ["s3:GetBucketLocation", "s3:GetBucketVersioning"],
                        bucket_arn)]
    if targets:
        deployers = [RolePrincipals(t.account_id, t.role_names[:1]) for t in targets]
        executors = [RolePrincipals(t.account_id, t.role_names[1:]) for t in targets]
        statements += [
            allow("TargetDeployRolesObjects", deployers, ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], objects),
            allow("TargetExecutionRolesObjects", executors, ["s3:GetObject", "s3:GetObjectVersion"], objects),
            allow("TargetRolesBucket", targets, ["s3:GetBucketLocation", "s3:GetBucketVersioning"], bucket_arn),
        ]
    if source is not None:
        statements += [
            allow("SourceRoleObjects", [source], ["s3:PutObject"], objects),
            allow("SourceRoleBucket", [source], ["s3:GetBucketLocation", "s3:GetBucketVersioning"], bucket_arn),
        ]
    return statements


@dataclass(frozen=True)
class _BuildNetwork:
    """Where the project's CodeBuild projects run: the automation VPC's subnets and one
    security group, and the statements a build role needs for its ENIs there."""

    vpc_config: aws.codebuild.ProjectVpcConfigArgs
    statements: list[dict]


def _automation_network(ctx: StackContext, network_stack: pulumi.StackReference, automation_id: pulumi.Output[str],
                        tags: dict[str, str], opts: pulumi.ResourceOptions) -> _BuildNetwork:
    """The security group of the project's builds in the automation VPC (no ingress; HTTPS out
    to the interface endpoints and to S3 only) and the ENI statements of their roles."""
    platform, region = ctx.platform, ctx.platform.home_region
    project_name = dv.build_project_name(platform, ctx.project or "")
    vpc = network_stack.require_output("sharedVpcs").apply(lambda v: v["automation"])
    group = aws.ec2.SecurityGroup("build-network", name=f"{project_name}-build", vpc_id=vpc.apply(lambda v: v["vpcId"]),
                                  description="Image build: HTTPS to the interface endpoints and S3 only",
                                  tags={**tags, "Name": f"{project_name}-build"}, opts=opts)
    # No ingress. HTTPS out to the interface endpoints only (the automation VPC's CIDR, or the
    # hub VPC's in central mode, where they answer) and to S3 through the gateway endpoint's
    # prefix list, as the network stack exports them.
    endpoint_range = (platform.cidr_plan.shared["network"] if platform.network.endpoints.mode == "central"
                      else vpc.apply(lambda v: v["cidr"]))
    aws.vpc.SecurityGroupEgressRule("build-network-endpoints", security_group_id=group.id, ip_protocol="tcp",
                                    from_port=HTTPS, to_port=HTTPS, cidr_ipv4=endpoint_range,
                                    description="HTTPS to the interface endpoints", tags=dict(tags),
                                    opts=pulumi.ResourceOptions(parent=group))
    aws.vpc.SecurityGroupEgressRule("build-network-s3", security_group_id=group.id, ip_protocol="tcp",
                                    from_port=HTTPS, to_port=HTTPS, prefix_list_id=vpc.apply(lambda v: v["s3PrefixListId"]),
                                    description="HTTPS to S3 through the gateway endpoint", tags=dict(tags),
                                    opts=pulumi.ResourceOptions(parent=group))
    subnets = vpc.apply(lambda v: v["subnetIds"])
    statements = [
        # CodeBuild in a VPC: the ENIs of its builds (describe calls take no resource).
        {"Sid": "BuildNetworkDescribe", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs"], "Resource": "*"},
        {"Sid": "BuildNetworkInterfaces", "Effect": "Allow", "Action": ["ec2:CreateNetworkInterfacePermission"],
         "Resource": _arn("ec2", region, automation_id, "network-interface/*"),
         "Condition": {"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                       "ArnEquals": {"ec2:Subnet": pulumi.Output.all(automation_id, subnets).apply(
                           lambda a: [f"arn:aws:ec2:{region}:{a[0]}:subnet/{i}" for i in a[1]])}}},
    ]
    return _BuildNetwork(aws.codebuild.ProjectVpcConfigArgs(vpc_id=vpc.apply(lambda v: v["vpcId"]), subnets=subnets,
                                                            security_group_ids=[group.id]), statements)


def _build_project(ctx: StackContext, automation_id: pulumi.Output[str], shared_id: pulumi.Output[str],
                   network: _BuildNetwork,
                   repositories: dict[str, ImageRepository], bucket_arn: pulumi.Output[str], key_arn: pulumi.Output[str], logs_key_arn: pulumi.Output[str],
                   tags: dict[str, str], opts: pulumi.ResourceOptions) -> dict[str, pulumi.Output[str]]:
    """CodeBuild in the automation VPC, KMS-encrypted, privileged only because it builds images
    (Docker), logging to an encrypted group; its role pushes only to the project's namespace."""
    platform, project = ctx.platform, ctx.project
    assert project is not None
    region = platform.home_region
    d = platform.delivery
    project_name = dv.build_project_name(platform, project)
    log_group = aws.cloudwatch.LogGroup("build-logs", name=f"/aws/codebuild/{project_name}",
                                        retention_in_days=d.build_log_retention_days, kms_key_id=logs_key_arn,
                                        tags=tags, opts=opts)
    prefixes = [ss.BASE, ss.FRAMEWORK, *(r.prefix for r in platform.shared_services.ecr.pull_through_cache)]
    domain = ss.codeartifact_domain(platform)
    statements = [
        {"Sid": "BuildLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": concat(log_group.arn, ":log-stream:*")},
        *artifact_statements(bucket_arn, key_arn, write=True),
        {"Sid": "EcrToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "PushTheProjectImages", "Effect": "Allow", "Action": list(ECR_PUSH),
         "Resource": [repo.arn for repo in repositories.values()]},
        {"Sid": "PullBaseImages", "Effect": "Allow", "Action": list(ECR_PULL),
         "Resource": [_arn("ecr", region, shared_id, f"repository/{p}/*") for p in prefixes]},
        {"Sid": "PackagesToken", "Effect": "Allow", "Action": ["codeartifact:GetAuthorizationToken"],
         "Resource": _arn("codeartifact", region, shared_id, f"domain/{domain}")},
        {"Sid": "PackagesRead", "Effect": "Allow", "Action": ["codeartifact:ReadFromRepository"],
         "Resource": _arn("codeartifact", region, shared_id,
                          f"repository/{domain}/{platform.shared_services.codeartifact.repository}")},
        {"Sid": "PackagesBearerToken", "Effect": "Allow", "Action": ["sts:GetServiceBearerToken"], "Resource": "*",
         "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
        *network.statements,
    ]
    role = PipelineRole("build-role", dv.role_name(platform, project, "build"), f"Image build of {project}",
                        "codebuild.amazonaws.com", automation_id, statements, tags, opts=opts)
    images = {r.split("/", 1)[1]: repo_url for r, repo_url in _repository_urls(ctx.platform, repositories).items()}
    build = aws.codebuild.Project(
        "image-build", name=project_name, description=f"Builds and pushes {project}'s container images",
        service_role=role.arn, encryption_key=key_arn, build_timeout=60, queued_timeout=480,
        artifacts=aws.codebuild.ProjectArtifactsArgs(type="CODEPIPELINE"),
        source=aws.codebuild.ProjectSourceArgs(type="CODEPIPELINE", buildspec="buildspec.yml"),
        environment=aws.codebuild.ProjectEnvironmentArgs(
            compute_type=d.build_compute_type, image=d.build_image, type="LINUX_CONTAINER",
            image_pull_credentials_type="CODEBUILD",
            # Docker-in-Docker: the only reason this project runs privileged (CI-1).
            privileged_mode=True,
            environment_variables=[
                aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
                    name="REGISTRY", value=concat(shared_id, ".dkr.ecr.", region, ".amazonaws.com")),
                *(aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
                    name=f"{image.upper().replace('-', '_')}_IMAGE_REPOSITORY", value=url) for image, url in images.items()),
            ]),
        vpc_config=network.vpc_config,
        logs_config=aws.codebuild.ProjectLogsConfigArgs(
            cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(group_name=log_group.name, status="ENABLED"),
            s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED")),
        tags={**tags, "builds-images": "true"}, opts=opts)
    # The ARN from its parts (the project's name is fixed), as CodeBuild forms it.
    return {"name": build.name, "arn": _arn("codebuild", region, automation_id, f"project/{project_name}"),
            "role_arn": role.arn}


def _resolver_project(ctx: StackContext, automation_id: pulumi.Output[str], network: _BuildNetwork, group: ModelPackageGroup,
                      bucket_arn: pulumi.Output[str], key_arn: pulumi.Output[str], logs_key_arn: pulumi.Output[str],
                      tags: dict[str, str], opts: pulumi.ResourceOptions) -> dict[str, pulumi.Output[str]]:
    """A2's first deploy action: a CodeBuild project (inline buildspec, unprivileged, KMS,
    encrypted logs) that finds the newest Approved version of the project's model package group
    and exports its ARN. Its role may only list and describe that group's versions (the group's
    resource policy names it), read the source artifact CodePipeline hands it, write its logs and
    run in the automation VPC (which then has SageMaker's API endpoint, network_settings.
    shared_vpc_services), like the image build."""
    platform, project = ctx.platform, ctx.project
    assert project is not None
    region = platform.home_region
    d = platform.delivery
    project_name = dv.resolver_project_name(platform, project)
    log_group = aws.cloudwatch.LogGroup("approved-model-logs", name=f"/aws/codebuild/{project_name}",
                                        retention_in_days=d.build_log_retention_days, kms_key_id=logs_key_arn,
                                        tags=tags, opts=opts)
    registry_account = group.arn.apply(lambda a: a.split(":")[4])
    statements = [
        {"Sid": "ResolverLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": concat(log_group.arn, ":log-stream:*")},
        *artifact_statements(bucket_arn, key_arn, write=False),
        {"Sid": "ReadTheApprovedVersions", "Effect": "Allow",
         "Action": ["sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"],
         "Resource": package_arns(region, registry_account, ss.model_package_group(platform, project))},
        *network.statements,
    ]
    role = PipelineRole("approved-model-role", dv.role_name(platform, project, "approved-model"),
                        f"Resolves {project}'s approved model version for CodePipeline A2",
                        "codebuild.amazonaws.com", automation_id, statements, tags, opts=opts)
    resolver = aws.codebuild.Project(
        "approved-model", name=project_name,
        description=f"Finds the latest Approved version of {project}'s model package group",
        service_role=role.arn, encryption_key=key_arn, build_timeout=5, queued_timeout=60,
        artifacts=aws.codebuild.ProjectArtifactsArgs(type="CODEPIPELINE"),
        source=aws.codebuild.ProjectSourceArgs(type="CODEPIPELINE", buildspec=approved_version_buildspec()),
        environment=aws.codebuild.ProjectEnvironmentArgs(
            compute_type="BUILD_GENERAL1_SMALL", image=d.build_image, type="LINUX_CONTAINER",
            image_pull_credentials_type="CODEBUILD", privileged_mode=False,
            environment_variables=[aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
                name=MODEL_PACKAGE_GROUP_VARIABLE, value=group.arn)]),
        vpc_config=network.vpc_config,
        logs_config=aws.codebuild.ProjectLogsConfigArgs(
            cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(group_name=log_group.name, status="ENABLED"),
            s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED")),
        tags=tags, opts=opts)
    return {"name": resolver.name, "arn": _arn("codebuild", region, automation_id, f"project/{project_name}"),
            "role_arn": role.arn}


# The ML workspace's service role (workspace_settings.JOB_SERVICES) each training workflow engine runs as.
WORKFLOW_ROLE_KINDS = {"StepFunctions": "step_functions", "SageMakerPipeline": "pipelines"}


def _runner_project(ctx: StackContext, automation_id: pulumi.Output[str], network: _BuildNetwork,
                    role_b_arn: pulumi.Output[str], bucket_arn: pulumi.Output[str], key_arn: pulumi.Output[str],
                    logs_key_arn: pulumi.Output[str], tags: dict[str, str],
                    opts: pulumi.ResourceOptions) -> dict[str, pulumi.Output[str]]:
    """A's run of a SageMaker pipeline (workflow_engine SageMakerPipeline): a CodeBuild project
    (inline buildspec, unprivileged, KMS, encrypted logs, in the automation VPC) whose role may
    only assume role B (which may only start and watch that pipeline's executions), read the
    source artifact CodePipeline hands it, write its logs and use its build's ENIs."""
    platform, project = ctx.platform, ctx.project
    assert project is not None
    region = platform.home_region
    d = platform.delivery
    project_name = dv.runner_project_name(platform, project)
    log_group = aws.cloudwatch.LogGroup("training-runner-logs", name=f"/aws/codebuild/{project_name}",
                                        retention_in_days=d.build_log_retention_days, kms_key_id=logs_key_arn,
                                        tags=tags, opts=opts)
    statements = [
        {"Sid": "RunnerLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": concat(log_group.arn, ":log-stream:*")},
        *artifact_statements(bucket_arn, key_arn, write=False),
        {"Sid": "ActAsRoleB", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_b_arn},
        *network.statements,
    ]
    role = PipelineRole("training-runner-role", dv.role_name(platform, project, "workflow-runner"),
                        f"Runs {project}'s SageMaker training pipeline as role B for CodePipeline A",
                        "codebuild.amazonaws.com", automation_id, statements, tags, opts=opts)
    # A training run takes up to the template's MaxTrainingSeconds (a day by default) and the
    # processing before it; CodeBuild allows at most 36 hours.
    runner = aws.codebuild.Project(
        "training-runner", name=project_name,
        description=f"Runs {project}'s SageMaker training pipeline in pre-production and waits for it",
        service_role=role.arn, encryption_key=key_arn, build_timeout=2160, queued_timeout=60,
        artifacts=aws.codebuild.ProjectArtifactsArgs(type="CODEPIPELINE"),
        source=aws.codebuild.ProjectSourceArgs(type="CODEPIPELINE", buildspec=pipeline_runner_buildspec()),
        environment=aws.codebuild.ProjectEnvironmentArgs(
            compute_type="BUILD_GENERAL1_SMALL", image=d.build_image, type="LINUX_CONTAINER",
            image_pull_credentials_type="CODEBUILD", privileged_mode=False,
            environment_variables=[aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
                name=RUN_ROLE_VARIABLE, value=role_b_arn)]),
        vpc_config=network.vpc_config,
        logs_config=aws.codebuild.ProjectLogsConfigArgs(
            cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(group_name=log_group.name, status="ENABLED"),
            s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED")),
        tags=tags, opts=opts)
    return {"name": runner.name, "arn": _arn("codebuild", region, automation_id, f"project/{project_name}"),
            "role_arn": role.arn}


def training_execution_statements(platform: PlatformConfig, project: str, region: str, account_id: pulumi.Output[str],
                                  outputs: dict, group: ModelPackageGroup | None) -> list[dict]:
    """Pre-production's CloudFormation execution role: the training workflow of the project's
    engine (its Step Functions state machine, or its SageMaker pipeline), passing only the
    workspace role that workflow runs as (which passes the job roles itself), and the
    registered model version; nothing else."""
    workflow = workflow_name(platform, project)
    roles = outputs["workspace"].apply(lambda w: w["serviceRoleArns"])
    engine = dv.workflow_engine(platform, project) or "StepFunctions"
    if engine == "SageMakerPipeline":
        statements = [
            {"Sid": "TrainingPipeline", "Effect": "Allow",
             "Action": ["sagemaker:AddTags", "sagemaker:CreatePipeline", "sagemaker:DeletePipeline",
                        "sagemaker:DeleteTags", "sagemaker:DescribePipeline", "sagemaker:ListTags",
                        "sagemaker:UpdatePipeline"],
             "Resource": _arn("sagemaker", region, account_id, f"pipeline/{workflow}")},
            {"Sid": "PassThePipelineRole", "Effect": "Allow", "Action": "iam:PassRole",
             "Resource": roles.apply(lambda r: r["pipelines"]),
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        ]
    else:
        statements = [
            {"Sid": "TrainingStateMachine", "Effect": "Allow",
             "Action": ["states:CreateStateMachine", "states:DeleteStateMachine", "states:DescribeStateMachine",
                        "states:ListTagsForResource", "states:TagResource", "states:UntagResource",
                        "states:UpdateStateMachine"],
             "Resource": _arn("states", region, account_id, f"stateMachine:{workflow}*")},
            {"Sid": "PassTheStateMachineRole", "Effect": "Allow", "Action": "iam:PassRole",
             "Resource": roles.apply(lambda r: r["step_functions"]),
             "Condition": {"StringEquals": {"iam:PassedToService": "states.amazonaws.com"}}},
        ]
    statements.append({"Sid": "ValidateNetworkParameters", "Effect": "Allow",
                       "Action": ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets"], "Resource": "*"})
    if group is not None and "register" in dv.stages(platform, project):
        registry_account = group.arn.apply(lambda a: a.split(":")[4])
        statements.append({
            "Sid": "RegisterModelVersions", "Effect": "Allow",
            "Action": ["sagemaker:AddTags", "sagemaker:CreateModelPackage", "sagemaker:DeleteModelPackage",
                       "sagemaker:DescribeModelPackage"],
            "Resource": package_arns(region, registry_account, ss.model_package_group(platform, project))})
        statements.append({"Sid": "ReadTheModelPackageGroup", "Effect": "Allow",
                           "Action": ["sagemaker:DescribeModelPackageGroup"],
                           "Resource": group_arn(region, registry_account, ss.model_package_group(platform, project))})
    return statements


def run_workflow_statements(platform: PlatformConfig, project: str, region: str,
                            account_id: pulumi.Input[str]) -> list[dict]:
    """What role B does to run the training workflow besides deploying it: start and watch the
    executions of the project's state machine, or of its SageMaker pipeline (and read where that
    pipeline's training job put the model); nothing of the other engine."""
    workflow = workflow_name(platform, project)
    if dv.workflow_engine(platform, project) == "SageMakerPipeline":
        return [
            {"Sid": "RunTheTrainingPipeline", "Effect": "Allow", "Action": ["sagemaker:StartPipelineExecution"],
             "Resource": _arn("sagemaker", region, account_id, f"pipeline/{workflow}")},
            {"Sid": "WatchTheTrainingPipeline", "Effect": "Allow",
             "Action": ["sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"],
             "Resource": _arn("sagemaker", region, account_id, f"pipeline/{workflow}/execution/*")},
            # SageMaker names a pipeline's jobs pipelines-<execution id>-<step>-<suffix>.
            {"Sid": "FindTheTrainedModel", "Effect": "Allow", "Action": ["sagemaker:DescribeTrainingJob"],
             "Resource": _arn("sagemaker", region, account_id, "training-job/pipelines-*")},
        ]
    return [
        {"Sid": "RunTheTrainingWorkflow", "Effect": "Allow", "Action": ["states:StartExecution"],
         "Resource": _arn("states", region, account_id, f"stateMachine:{workflow}*")},
        {"Sid": "WatchTheTrainingWorkflow", "Effect": "Allow", "Action": ["states:DescribeExecution"],
         "Resource": _arn("states", region, account_id, f"execution:{workflow}*:*")},
    ]


@dataclass(frozen=True)
class ApiFront:
    """What the endpoint template's API front is built with in production: the execute-api
    interface endpoint it admits, the permissions boundary of its function's role and the key
    of its log group and the function's environment."""

    vpc_endpoint_id: pulumi.Output[str]
    boundary_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]


def front_name(platform: PlatformConfig, project: str) -> str:
    """The front's API, function and log group name (`<endpoint>-front`, the template's)."""
    return f"{endpoint_name(platform, project)}-front"


def front_role_arn(account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Every role under the front's path (CloudFormation names the role)."""
    return concat("arn:aws:iam::", account_id, f":role/{dv.front_role_pattern()}")


def _api_front(ctx: StackContext, prod_id: pulumi.Output[str], prod: pulumi.StackReference,
               network_stack: pulumi.StackReference, outputs: dict, opts: pulumi.ResourceOptions) -> ApiFront:
    """Production's part of the API front: its key (CloudWatch Logs may use it for the front's
    log group only; prod's execution role attaches it to the function through Lambda, the
    function's role decrypts through Lambda) and the permissions boundary its role must carry,
    which is all that role may ever do: invoke the project's endpoint, its VPC ENIs, its logs,
    decrypt its environment."""
    platform, project = ctx.platform, ctx.project
    assert project is not None
    region, org = platform.home_region, platform.organization
    tags = project_tags(platform, project, "prod")
    front = front_name(platform, project)
    log_group_arn = _arn("logs", region, prod_id, f"log-group:/aws/lambda/{front}")
    via_lambda = [f"lambda.{region}.amazonaws.com"]
    key = CustomerManagedKey(
        "endpoint-front-key", alias=f"{platform.name_prefix}-{project}-endpoint-front",
        description=f"{project}: the production endpoint's API front (log group, function environment)",
        administrators=RolePrincipals(prod_id, tuple(dict.fromkeys((org.deployment_role, org.break_glass_role_name)))),
        uses=[KeyUse("CloudWatchLogs", ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"),
                     service=f"logs.{region}.amazonaws.com",
                     conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [log_group_arn]}}),
              KeyUse("FrontFunction", ("kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
                     roles=[RolePrincipals(prod_id, (dv.role_name(platform, project, "cfn-endpoint"),))],
                     via_services=via_lambda, allow_grants_for_aws_resources=True),
              KeyUse("FrontRole", ("kms:Decrypt",),
                     roles=[RolePrincipals(prod_id, (dv.front_role_pattern(),))], via_services=via_lambda)],
        tags=tags, opts=opts)
    boundary = aws.iam.Policy(
        "endpoint-front-boundary", name=f"{platform.name_prefix}-{project}-endpoint-front-boundary",
        description=f"Permissions boundary of {project}'s endpoint front role: the most it may ever do",
        policy=policy_json(document(
            {"Sid": "InvokeTheEndpoint", "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint",
             "Resource": _arn("sagemaker", region, prod_id, f"endpoint/{endpoint_name(platform, project)}")},
            # Lambda in a VPC: its ENIs (the describe and ENI calls take no resource).
            {"Sid": "EnisInTheVpc", "Effect": "Allow",
             "Action": ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                        "ec2:DescribeNetworkInterfaces", "ec2:UnassignPrivateIpAddresses"], "Resource": "*"},
            {"Sid": "OwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [log_group_arn, concat(log_group_arn, ":log-stream:*")]},
            {"Sid": "EnvironmentKey", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key.arn})),
        tags=tags, opts=opts)
    if platform.network.endpoints.mode == "central":
        endpoint_id = network_stack.require_output("centralEndpointIds").apply(lambda e: e[dv.API_FRONT_ENDPOINT])
    else:
        endpoint_id = prod.require_output("interfaceEndpointIds").apply(lambda e: e[dv.API_FRONT_ENDPOINT])
    return ApiFront(vpc_endpoint_id=endpoint_id, boundary_arn=boundary.arn, key_arn=key.arn)


def front_statements(platform: PlatformConfig, project: str, region: str, account_id: pulumi.Input[str],
                     outputs: dict, front: ApiFront) -> list[dict]:
    """What production's execution role needs for the template's API front, exactly: the
    private REST API named `<endpoint>-front` (API Gateway's resource ARNs carry no API name
    before the id exists, so the name and endpoint type are conditions), the function of that
    name in the project's subnets and security group, its role under the front's path only with
    the front's permissions boundary (so it cannot mint a broader role), passed to Lambda only,
    its log group, the front key through Lambda."""
    name = front_name(platform, project)
    apis = f"arn:aws:apigateway:{region}::/restapis"
    function = _arn("lambda", region, account_id, f"function:{name}")
    log_group = _arn("logs", region, account_id, f"log-group:/aws/lambda/{name}")
    roles = front_role_arn(account_id)
    boundary = {"StringEquals": {"iam:PermissionsBoundary": front.boundary_arn}}
    return [
        {"Sid": "CreateTheFrontApi", "Effect": "Allow", "Action": ["apigateway:POST"], "Resource": apis,
         "Condition": {"StringEquals": {"apigateway:Request/ApiName": name, "apigateway:Request/EndpointType": "PRIVATE"}}},
        {"Sid": "ManageTheFrontApi", "Effect": "Allow",
         "Action": ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:PUT",
                    "apigateway:UpdateRestApiPolicy"],
         "Resource": [f"{apis}/*"], "Condition": {"StringEquals": {"apigateway:Resource/ApiName": name}}},
        # Creating a resource, deployment or stage in an API (POST) takes no API-name condition:
        # only those three kinds, in the account's REST APIs, which this role creates only as the front.
        {"Sid": "BuildTheFrontApi", "Effect": "Allow", "Action": ["apigateway:POST"],
         "Resource": [f"{apis}/*/resources/*", f"{apis}/*/deployments", f"{apis}/*/stages"]},
        {"Sid": "CreateTheFrontFunction", "Effect": "Allow", "Action": ["lambda:CreateFunction",
                                                                         "lambda:UpdateFunctionConfiguration"],
         "Resource": function,
         "Condition": {"ForAllValues:StringEquals": {
             "lambda:SubnetIds": outputs["subnetIds"],
             "lambda:SecurityGroupIds": pulumi.Output.from_input(outputs["workloadSecurityGroupId"]).apply(lambda g: [g])},
             "Null": {"lambda:SubnetIds": "false", "lambda:SecurityGroupIds": "false"}}},
        {"Sid": "ManageTheFrontFunction", "Effect": "Allow",
         "Action": ["lambda:AddPermission", "lambda:DeleteFunction", "lambda:DeleteFunctionConcurrency",
                    "lambda:GetFunction", "lambda:GetFunctionCodeSigningConfig", "lambda:GetFunctionRecursionConfig",
                    "lambda:GetPolicy", "lambda:GetRuntimeManagementConfig", "lambda:PutFunctionConcurrency",
                    "lambda:RemovePermission", "lambda:TagResource", "lambda:UntagResource",
                    "lambda:UpdateFunctionCode"],
         "Resource": function},
        {"Sid": "FrontRoleOnlyWithItsBoundary", "Effect": "Allow",
         "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"],
         "Resource": roles, "Condition": boundary},
        {"Sid": "ManageTheFrontRole", "Effect": "Allow",
         "Action": ["iam:DeleteRole", "iam:DeleteRolePolicy", "iam:GetRole", "iam:GetRolePolicy",
                    "iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "iam:TagRole", "iam:UntagRole"],
         "Resource": roles},
        {"Sid": "PassTheFrontRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": roles,
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
        {"Sid": "TheFrontLogGroup", "Effect": "Allow",
         "Action": ["logs:AssociateKmsKey", "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:ListTagsForResource",
                    "logs:PutRetentionPolicy", "logs:TagResource", "logs:UntagResource"],
         "Resource": [log_group, concat(log_group, ":*")]},
        # List calls take no resource.
        {"Sid": "FindLogGroups", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*"},
        {"Sid": "FrontKeyThroughLambda", "Effect": "Allow",
         "Action": ["kms:CreateGrant", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"], "Resource": front.key_arn,
         "Condition": {"StringEquals": {"kms:ViaService": f"lambda.{region}.amazonaws.com"}}},
        {"Sid": "ValidateTheFrontNetwork", "Effect": "Allow", "Action": ["ec2:DescribeVpcs"], "Resource": "*"},
    ]


def endpoint_execution_statements(platform: PlatformConfig, project: str, region: str, account_id: pulumi.Output[str],
                                  outputs: dict, group: ModelPackageGroup | None = None,
                                  front: ApiFront | None = None) -> list[dict]:
    """Production's CloudFormation execution role: the model (from a version of the project's
    model package group, which it may describe and nothing more), endpoint configuration (KMS,
    data capture) and endpoint of the project, hosted by the workspace's hosting role, and with
    the API front what the front needs (:func:`front_statements`), with Model Monitor what its
    schedule needs (:func:`model_monitor_statements`); nothing else."""
    name = endpoint_name(platform, project)
    roles = outputs["workspace"].apply(lambda w: w["serviceRoleArns"])
    key = outputs["data"].apply(lambda d: d["keyArn"])
    return [
        *(front_statements(platform, project, region, account_id, outputs, front) if front is not None else []),
        *(model_monitor_statements(platform, project, region, account_id, outputs)
          if dv.model_monitor(platform, project) is not None else []),
        {"Sid": "ModelAndEndpoint", "Effect": "Allow",
         "Action": ["sagemaker:AddTags", "sagemaker:CreateEndpoint", "sagemaker:CreateEndpointConfig",
                    "sagemaker:CreateModel", "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig",
                    "sagemaker:DeleteModel", "sagemaker:DeleteTags", "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel", "sagemaker:UpdateEndpoint"],
         "Resource": [_arn("sagemaker", region, account_id, f"{kind}/{name}*")
                      for kind in ("model", "endpoint-config", "endpoint")]},
        {"Sid": "PassTheHostingRole", "Effect": "Allow", "Action": "iam:PassRole",
         "Resource": roles.apply(lambda r: r["hosting"]),
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        {"Sid": "EncryptTheEndpoint", "Effect": "Allow", "Action": ["kms:CreateGrant", "kms:DescribeKey"],
         "Resource": key, "Condition": {"StringEquals": {"kms:ViaService": f"sagemaker.{region}.amazonaws.com"}}},
        {"Sid": "ValidateNetworkParameters", "Effect": "Allow",
         "Action": ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets"], "Resource": "*"},
        *([{"Sid": "ModelFromTheApprovedVersion", "Effect": "Allow", "Action": ["sagemaker:DescribeModelPackage"],
            "Resource": package_arns(region, group.arn.apply(lambda a: a.split(":")[4]),
                                     ss.model_package_group(platform, project))}] if group is not None else []),
    ]


def model_monitor_statements(platform: PlatformConfig, project: str, region: str, account_id: pulumi.Output[str],
                             outputs: dict) -> list[dict]:
    """What the endpoint template's Model Monitor hook needs: its data-quality job definition and
    monitoring schedule (both `<EndpointName>-data-quality`, tagged), and passing the workspace's
    processing role (the jobs' role) to SageMaker; the project key is the endpoint's."""
    name = dv.monitoring_name(platform, project)
    processing = outputs["workspace"].apply(lambda w: w["serviceRoleArns"]["processing"])
    return [
        {"Sid": "ModelMonitorSchedule", "Effect": "Allow",
         "Action": ["sagemaker:AddTags", "sagemaker:CreateDataQualityJobDefinition", "sagemaker:CreateMonitoringSchedule",
                    "sagemaker:DeleteDataQualityJobDefinition", "sagemaker:DeleteMonitoringSchedule",
                    "sagemaker:DeleteTags", "sagemaker:DescribeDataQualityJobDefinition",
                    "sagemaker:DescribeMonitoringSchedule", "sagemaker:ListTags", "sagemaker:UpdateMonitoringSchedule"],
         "Resource": [_arn("sagemaker", region, account_id, f"{kind}/{name}")
                      for kind in ("data-quality-job-definition", "monitoring-schedule")]},
        {"Sid": "PassTheMonitoringRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": processing,
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
    ]


def _stage_inputs(ctx: StackContext, connection_arn: pulumi.Output[str] | None,
                  codecommit_role_arn: pulumi.Output[str] | None, build: dict, resolver: dict | None,
                  runner: dict | None, repositories: dict,
                  group: ModelPackageGroup | None, outputs: dict, deploy_roles: dict, execution_roles: dict,
                  front: ApiFront | None = None) -> StageInputs:
    """Template parameters from the stacks' outputs (the project's environments, this stack)."""
    platform, project = ctx.platform, ctx.project
    assert project is not None
    spec = dv.delivery(platform, project)
    assert spec is not None
    images = {r.split("/", 1)[1]: repo_url for r, repo_url in _repository_urls(ctx.platform, repositories).items()}
    training_image = images.get("training", next(iter(images.values())))
    inference_image = images.get("inference", training_image)
    source = next((t for t in spec.triggers if t.type == "source"), None)

    def env_parameters(env: str) -> dict[str, pulumi.Input[str]]:
        o = outputs[env]
        roles = o["workspace"].apply(lambda w: w["serviceRoleArns"])
        return {
            "SubnetIds": o["subnetIds"].apply(lambda ids: ",".join(ids)),
            "SecurityGroupId": o["workloadSecurityGroupId"],
            "HostingRoleArn": roles.apply(lambda r: r["hosting"]),
            **{f"{k}Tag": v for k, v in (("Owner", platform.project(project).owner), ("Project", project),
                                          ("Environment", env), ("CostCenter", platform.project(project).cost_center),
                                          ("DataClassification", platform.project(project).data_classification))},
        }

    def models_url(env: str) -> pulumi.Output[str]:
        # The training workflow writes each run's model under the registry prefix, by run id.
        return outputs[env]["data"].apply(lambda d: f"s3://{d['buckets']['models']['name']}/"
                                                    f"{ss.artifact_prefix(platform, project)}")

    training = registration = endpoint = {}
    if "preprod" in outputs:
        o = outputs["preprod"]
        roles = o["workspace"].apply(lambda w: w["serviceRoleArns"])
        key = o["data"].apply(lambda d: d["keyArn"])
        # One value for where the training job writes and where the registration reads.
        output_uri = models_url("preprod").apply(lambda u: u.rstrip("/"))
        engine = spec.workflow_engine
        training = {
            "WorkflowEngine": engine, "WorkflowName": workflow_name(platform, project),
            "ImageUri": concat(training_image, ":", COMMIT_ID),
            "ProcessingRoleArn": roles.apply(lambda r: r["processing"]),
            "TrainingRoleArn": roles.apply(lambda r: r["training"]),
            # The role the workflow runs as: the state machine's, or the SageMaker pipeline's.
            "StateMachineRoleArn": roles.apply(lambda r: r[WORKFLOW_ROLE_KINDS[engine]]),
            "VolumeKmsKeyArn": key, "OutputKmsKeyArn": key,
            "InputDataS3Uri": o["data"].apply(lambda d: f"s3://{d['buckets']['datasets']['name']}"),
            "OutputS3Uri": output_uri,
            **env_parameters("preprod"),
        }
        if group is not None:
            registration = {
                "ModelPackageGroupName": group.arn,
                "ImageUri": concat(inference_image, ":", COMMIT_ID),
                # The state machine names its training job by the run; SageMaker names a
                # pipeline's, so the runner reports where its model is.
                "ModelDataUrl": (TRAINED_MODEL_DATA_URL if engine == "SageMakerPipeline"
                                 else output_uri.apply(lambda u: dv.model_artifact_url(u, RUN_ID))),
                "CommitId": COMMIT_ID,
            }
    if "prod" in outputs:
        o = outputs["prod"]
        # No image or artifact: the model comes from the approved version (ModelPackageArn, added
        # by the deploy stage from its resolver's output).
        pipeline_bucket = o["data"].apply(lambda d: f"s3://{d['buckets']['pipeline']['name']}")
        monitor = dv.model_monitor(platform, project)
        endpoint = {
            "EndpointName": endpoint_name(platform, project),
            "KmsKeyArn": o["data"].apply(lambda d: d["keyArn"]),
            # Captured requests and Model Monitor's reports stay in prod's pipeline bucket.
            "DataCaptureS3Uri": pipeline_bucket.apply(lambda b: f"{b}/data-capture"),
            "MonitorOutputS3Uri": pipeline_bucket.apply(lambda b: f"{b}/model-monitor"),
            "MonitorRoleArn": o["workspace"].apply(lambda w: w["serviceRoleArns"]["processing"]),
            # The data-quality schedule on the captured traffic, when configured.
            "ModelMonitor": "true" if monitor is not None else "false",
            **({"MonitorImageUri": monitor.image_uri, "MonitorScheduleExpression": monitor.schedule}
               if monitor is not None else {}),
            # The API Gateway + Lambda front, reached only through the VPC's execute-api endpoint.
            "ApiFront": "true" if front is not None else "false",
            **({"ApiVpcEndpointId": front.vpc_endpoint_id, "FrontRoleBoundaryArn": front.boundary_arn,
                "FrontKmsKeyArn": front.key_arn} if front is not None else {}),
            **env_parameters("prod"),
        }
    group_spec = dv.approver_group(platform, project)
    return StageInputs(
        project=project, region=platform.home_region, connection_arn=connection_arn,
        codecommit_role_arn=codecommit_role_arn,
        repository=dv.source_repository(platform, project), branch=source.branch if source else "main",
        build_project_name=build["name"], resolver_project_name=resolver["name"] if resolver else None,
        workflow_engine=spec.workflow_engine, runner_project_name=runner["name"] if runner else None,
        training_image=training_image, inference_image=inference_image,
        stack_names=dv.stack_names(platform, project), templates=platform.delivery.templates.model_dump(),
        preprod_role_arn=deploy_roles["preprod"].arn if "preprod" in deploy_roles else None,
        preprod_execution_role_arn=execution_roles["preprod"].arn if "preprod" in execution_roles else None,
        prod_role_arn=deploy_roles["prod"].arn if "prod" in deploy_roles else None,
        prod_execution_role_arn=execution_roles["prod"].arn if "prod" in execution_roles else None,
        training_parameters=training, registration_parameters=registration, endpoint_parameters=endpoint,
        approval_message=f"Release {project} to production (approvers: {group_spec.name})" if group_spec else "")


def _schedules(platform: PlatformConfig, project: str, expressions: list[str], pipeline_arn: pulumi.Output[str],
               automation_id: pulumi.Output[str], tags: dict[str, str], opts: pulumi.ResourceOptions) -> None:
    """Scheduled runs: EventBridge starts the pipeline through a role that may do only that."""
    role = PipelineRole("schedule-role", dv.role_name(platform, project, "schedule"),
                        f"EventBridge: scheduled runs of {project}'s pipeline", "events.amazonaws.com", automation_id,
                        [{"Sid": "StartThePipeline", "Effect": "Allow", "Action": ["codepipeline:StartPipelineExecution"],
                          "Resource": pipeline_arn}], tags, opts=opts)
    for i, expression in enumerate(expressions):
        rule = aws.cloudwatch.EventRule(f"pipeline-schedule-{i}", name=f"{platform.name_prefix}-{project}-schedule-{i}",
                                        description=f"Scheduled run of {project}'s pipeline",
                                        schedule_expression=expression, tags=tags, opts=opts)
        aws.cloudwatch.EventTarget(f"pipeline-schedule-{i}-target", rule=rule.name, arn=pipeline_arn,
                                   role_arn=role.arn, opts=pulumi.ResourceOptions.merge(
                                       opts, pulumi.ResourceOptions(parent=rule)))
