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

Reads the organization stack (account ids, organization id), the shared-services stack (its
key, its parameter share) and the project's pre-production and production stacks; no project
stack reads this one (their names come from the settings).

Outputs: the contract is documented once, under "Stack outputs (contract)" in README.md.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_aws as aws

from components.image_repository import ImageRepository, ImageRepositoryArgs
from components.kms_keys import RolePrincipals
from components.model_registry import ModelPackageGroup, ModelPackageGroupArgs
from stacks import delivery_settings as dv
from stacks import shared_services_settings as ss
from stacks.common import account_ids, account_provider, project_tags, stack_reference
from stacks.config import PlatformConfig
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
    for env in dv.target_environments(platform, project):
        stack_reference(f"{project}-{env}")
    org_id = organization.require_output("organizationId")
    account = account_ids(organization)
    shared_id = account(ss.ACCOUNT)
    shared_opts = pulumi.ResourceOptions(provider=account_provider(ss.ACCOUNT, platform, shared_id, tags))
    shared_key_arn = shared.require_output("keyArn")

    repositories = _repositories(platform, project, account, org_id, shared_key_arn, tags, shared_opts)
    group = _model_package_group(platform, project, account, org_id, shared_id, shared_opts)
    connection, code_repositories = _code(platform, project, shared_key_arn, tags, shared_opts)

    registry_uri = pulumi.Output.concat(shared_id, ".dkr.ecr.", platform.home_region, ".amazonaws.com")
    parameters: dict[str, pulumi.Input[str]] = {
        "ecr-namespace": pulumi.Output.concat(registry_uri, "/", ss.namespace(platform, project), "/")}
    if group is not None:
        parameters["model-package-group-arn"] = group.arn
    parameter_names = _parameters(platform, project, parameters, shared_key_arn,
                                  shared.require_output("parameterShareArn"), shared_opts)
    if platform.shared_services.service_catalog.enabled:
        _tag_options(platform, project, shared.require_output("serviceCatalog"), shared_opts)

    pulumi.export("project", project)
    pulumi.export("repositories", {name: {"arn": repo.arn, "url": repo.repository_url}
                                   for name, repo in repositories.items()})
    pulumi.export("modelPackageGroup", None if group is None else {
        "arn": group.arn, "name": group.name, "artifactPrefix": ss.artifact_prefix(platform, project),
        "mode": platform.shared_services.model_registry.mode})
    pulumi.export("codeConnectionArn", connection)
    pulumi.export("codeCommitRepositories", code_repositories)
    pulumi.export("parameters", parameter_names)


def _repositories(platform: PlatformConfig, project: str, account, org_id: pulumi.Output[str],
                  key_arn: pulumi.Output[str], tags: dict[str, str],
                  opts: pulumi.ResourceOptions) -> dict[str, ImageRepository]:
    ecr = platform.shared_services.ecr
    builders = RolePrincipals(account(ss.PIPELINE_ACCOUNT), tuple(platform.shared_services.pipeline_build_roles))
    return {name: ImageRepository(f"ecr-{name.replace('/', '-')}", ImageRepositoryArgs(
        name=name, kms_key_arn=key_arn, organization_id=org_id,
        pull_accounts=[account(k) for k in ss.pull_accounts(platform, project)],
        pushers=[builders], keep_tagged_images=ecr.keep_tagged_images,
        untagged_expire_days=ecr.untagged_expire_days, tags=tags), opts=opts)
        for name in ss.project_repositories(platform, project)}


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
    return ModelPackageGroup(f"model-registry-{project}", ModelPackageGroupArgs(
        group_name=ss.model_package_group(platform, project),
        description=f"Model versions of {project}: registered by its pre-production automation, "
                    "consumed by its production account",
        account_id=shared_id if central else preprod, region=platform.home_region, organization_id=org_id,
        # In distributed mode the registrars are of the group's own account: no resource policy needed.
        registrars=[RolePrincipals(preprod, tuple(ss.registration_roles(platform, project)))] if central else [],
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
