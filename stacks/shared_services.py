"""The `shared-services` stack: what every ML project uses, in the shared-services account.

Builds (settings: `shared_services:`, stacks/shared_services_settings.py):

Only what is platform-wide, so that this stack is the same size for 1 or 50 projects (each
project's application repositories, model package group, code connection or repositories and
its parameters are its `<project>-delivery` stack's, stacks/delivery.py):

* the **image hierarchy** in ECR: `base/*` and `framework/*` (pushed by the pipeline build roles
  and the platform team), KMS-encrypted with the shared-services key, scanned on push
  (enhanced, continuous scanning through the registry scanning configuration when
  `ecr.scanning: ENHANCED`), with a lifecycle policy; pull only for principals of the project
  (workload) accounts and the deployment account, within the organization. Pull-through cache
  rules for the configured public registries, whose repositories ECR creates from a creation
  template (KMS, the same pull policy); replication to `ecr.replication_region` when configured;
* **CodeArtifact**: KMS-encrypted domain, internal repository with a PyPI upstream;
* with CodeCommit, the **approval rule template** the projects' repositories are associated with;
* the **Service Catalog** portfolio with the Studio user-profile product, shared to the
  Workloads OU;
* **SSM parameters** (SecureString, advanced tier, shared through RAM with the workload and
  deployment OUs) describing the above for notebooks and pipelines; the delivery stacks add
  their projects' parameters to the same share.

Reads the organization stack (account ids, organization id, OU ids) and the network stack
(its account's VPC comes from there; only the ordering matters today).

Outputs: the contract is documented once, under "Stack outputs (contract)" in README.md
(a test keeps the two equal).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from components import persona_policies as pp
from components.data_access import LogDelivery
from components.image_repository import (
    ImageRepository,
    ImageRepositoryArgs,
    lifecycle_policy,
    pull_through_registry_policy,
    repository_policy,
)
from components.kms_keys import DECRYPT_ONLY, ENCRYPT_DECRYPT, CustomerManagedKey, KeyUse, RolePrincipals
from components.package_repository import PackageRepositories, PackageRepositoriesArgs
from components.permission_sets import PersonaAccess
from components.service_roles import LaunchRole
from components.project_buckets import access_log_bucket
from components.secure_bucket import SecureBucket
from policy_documents.serialize import concat, document, policy_json, to_json
from stacks import delivery_settings as dv
from stacks import identity_settings as ids
from stacks import shared_services_settings as ss
from stacks.common import account_ids, account_provider, platform_tags, stack_reference
from stacks.config import PlatformConfig
from stacks.context import StackContext
from stacks.principal_settings import RoleReference, administrator_references, require_roles

# The OUs the parameters are shared with: where the notebooks and pipelines run.
PARAMETER_OUS = ("Workloads", "Deployments")


def named_roles(platform: PlatformConfig) -> list[RoleReference]:
    """The roles of other accounts or stacks that this layer's policies name."""
    s = platform.shared_services
    found = [RoleReference("ECR repository and CodeArtifact policies (pipeline build roles)", ss.PIPELINE_ACCOUNT, r)
             for r in s.pipeline_build_roles]
    if s.platform_team_role is not None:
        found.append(RoleReference("base/framework ECR repository policies (platform team)",
                                   s.platform_team_role.account, s.platform_team_role.name))
    found += [RoleReference("shared-services key policy (parameter readers)", key, name)
              for key, names in ss.parameter_readers(platform).items() for name in names]
    found += [RoleReference("shared-services key policy (CodeCommit source roles)", ss.ACCOUNT, name)
              for name in dv.code_source_roles(platform)]
    return found



def _ou_arn(management: str, org_id: str, ou_id: str) -> str:
    return f"arn:aws:organizations::{management}:ou/{org_id}/{ou_id}"


def run(ctx: StackContext) -> None:
    platform = ctx.platform
    s = platform.shared_services
    org = platform.organization
    require_roles(platform, [*named_roles(platform),
                             *administrator_references(platform, ss.ACCOUNT, "shared-services key policy (administrators)")])
    region = platform.home_region
    tags = platform_tags(platform, project="shared-services")
    organization = stack_reference("organization")
    stack_reference("network")  # deployed after the network that connects the account
    org_id = organization.require_output("organizationId")
    account = account_ids(organization)

    shared_id = account(ss.ACCOUNT)
    provider = account_provider(ss.ACCOUNT, platform, shared_id, tags)
    opts = pulumi.ResourceOptions(provider=provider)
    deployer = RolePrincipals(shared_id, (org.deployment_role,))
    creation_role = RolePrincipals(shared_id, (ss.creation_role_name(platform),))

    def key(name: str, key_region: str, key_opts: pulumi.ResourceOptions) -> CustomerManagedKey:
        via = [f"{svc}.{key_region}.amazonaws.com" for svc in ("ecr", "codeartifact", "ssm", "codecommit", "s3")]
        uses = [
            # ECR and CodeArtifact encrypt through grants the deploying principal creates.
            KeyUse("DeployerThroughServices", ENCRYPT_DECRYPT, roles=[deployer], via_services=via,
                   allow_grants_for_aws_resources=True),
        ]
        if ss.creates_creation_role(platform):
            uses.append(KeyUse("RepositoryCreationTemplates", ("kms:DescribeKey",), roles=[creation_role],
                               via_services=[f"ecr.{key_region}.amazonaws.com"], allow_grants_for_aws_resources=True))
        if dv.code_source_roles(platform) and key_region == region:
            # The delivery pipelines' CodeCommit source roles (delivery stacks) read the repositories.
            uses.append(KeyUse("CodeCommitSourceRoles", DECRYPT_ONLY,
                               roles=[RolePrincipals(shared_id, tuple(dv.code_source_roles(platform)))],
                               via_services=[f"codecommit.{region}.amazonaws.com"]))
        readers = _parameter_readers(platform, account)
        if readers and key_region == region:
            uses.append(KeyUse("ParameterReaders", DECRYPT_ONLY, roles=readers,
                               via_services=[f"ssm.{region}.amazonaws.com"], organization_id=org_id))
        return CustomerManagedKey(
            name, alias=f"{platform.name_prefix}-shared-services",
            description="Shared services: ECR images, CodeArtifact packages, SSM parameters",
            administrators=RolePrincipals(shared_id, tuple(dict.fromkeys((org.deployment_role, org.break_glass_role_name)))),
            uses=uses, tags=tags, opts=key_opts)

    shared_key = key("shared-services-key", region, opts)
    creator = _creation_role(platform, shared_id, opts) if ss.creates_creation_role(platform) else None
    repositories, cache_prefixes = _image_hierarchy(platform, account, org_id, shared_key, tags, creator, opts)

    packages = PackageRepositories("packages", PackageRepositoriesArgs(
        domain=ss.codeartifact_domain(platform), repository=s.codeartifact.repository,
        upstream_repository=s.codeartifact.upstream_repository, kms_key_arn=shared_key.arn,
        owner_account_id=shared_id, region=region, organization_id=org_id,
        reader_accounts=[account(k) for k in ss.pull_accounts(platform, None)],
        publishers=[RolePrincipals(account(ss.PIPELINE_ACCOUNT), tuple(s.pipeline_build_roles))],
        tags=tags), opts=opts)

    approval_template = _approval_rule_template(platform, opts)
    # People's access: model risk managers read the central registry (components/persona_policies.py).
    PersonaAccess("shared-services-people-access", ids.access_args(
        platform, ss.ACCOUNT, shared_id, {"model-risk-manager": pp.registry_reads(pp.AccountArns(shared_id, region))},
        tags, account), opts=opts)
    catalog = _service_catalog(platform, shared_id, shared_key, organization, opts) if s.service_catalog.enabled else None
    if s.ecr.replication_region is not None and creator is not None:
        dr_provider = account_provider(f"{ss.ACCOUNT}-{s.ecr.replication_region}", platform, shared_id, tags,
                                       region=s.ecr.replication_region)
        dr_opts = pulumi.ResourceOptions(provider=dr_provider)
        dr_key = key(f"shared-services-key-{s.ecr.replication_region}", s.ecr.replication_region, dr_opts)
        _creation_templates(platform, "replicated", ["ROOT"], ["REPLICATION"], dr_key, account, org_id, creator, dr_opts)
        aws.ecr.ReplicationConfiguration(
            "ecr-replication",
            replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(rules=[
                aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                    destinations=[aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                        region=s.ecr.replication_region, registry_id=shared_id)])]),
            opts=opts)

    registry_uri = concat(shared_id, ".dkr.ecr.", region, ".amazonaws.com")
    parameters = {
        "ecr/registry-uri": registry_uri,
        "ecr/base-prefix": concat(registry_uri, f"/{ss.BASE}/"),
        "ecr/framework-prefix": concat(registry_uri, f"/{ss.FRAMEWORK}/"),
        "codeartifact/domain": ss.codeartifact_domain(platform),
        "codeartifact/domain-owner": shared_id,
        "codeartifact/repository": s.codeartifact.repository,
        "codeartifact/pip-index-url": packages.pip_index_url,
    }
    # Each project's own parameters (its namespace, its model package group) are written by its
    # delivery stack into the same share, so this stack does not grow with projects.
    parameter_share = _parameters(platform, parameters, shared_key, organization, opts)

    pulumi.export("accountId", shared_id)
    pulumi.export("keyArn", shared_key.arn)
    pulumi.export("registryUri", registry_uri)
    pulumi.export("repositories", {name: {"arn": repo.arn, "url": repo.repository_url}
                                   for name, repo in repositories.items()})
    pulumi.export("pullThroughCachePrefixes", cache_prefixes)
    pulumi.export("codeArtifact", {"domain": ss.codeartifact_domain(platform), "domainOwner": shared_id,
                                   "repository": s.codeartifact.repository, "pipIndexUrl": packages.pip_index_url})
    pulumi.export("approvalRuleTemplateName", approval_template)
    pulumi.export("modelRegistryMode", s.model_registry.mode)
    pulumi.export("parameterPath", ss.parameter_path(platform))
    pulumi.export("parameterShareArn", parameter_share)
    pulumi.export("serviceCatalog", catalog)


def _parameter_readers(platform: PlatformConfig, account: Callable[[str], pulumi.Output[str]]) -> list[RolePrincipals]:
    return [RolePrincipals(account(key), tuple(names)) for key, names in ss.parameter_readers(platform).items()]


def _image_hierarchy(platform: PlatformConfig, account: Callable[[str], pulumi.Output[str]], org_id: pulumi.Output[str],
                     key: CustomerManagedKey, tags: dict[str, str], creator: aws.iam.Role | None,
                     opts: pulumi.ResourceOptions) -> tuple[dict[str, ImageRepository], dict[str, str]]:
    s = platform.shared_services
    ecr = s.ecr
    builders = RolePrincipals(account(ss.PIPELINE_ACCOUNT), tuple(s.pipeline_build_roles))
    team = ([RolePrincipals(account(s.platform_team_role.account), (s.platform_team_role.name,))]
            if s.platform_team_role is not None else [])
    repositories: dict[str, ImageRepository] = {}
    # Only the platform team's tiers: each project's application repositories are its delivery stack's.
    for name in ss.platform_repositories(platform):
        repositories[name] = ImageRepository(f"ecr-{name.replace('/', '-')}", ImageRepositoryArgs(
            name=name, kms_key_arn=key.arn, organization_id=org_id,
            pull_accounts=[account(k) for k in ss.pull_accounts(platform, None)],
            pushers=[builders, *team], mutable_tags=tuple(ecr.stable_tags),
            keep_tagged_images=ecr.keep_tagged_images, untagged_expire_days=ecr.untagged_expire_days,
            tags={**tags, "image-tier": name.split("/")[0]}), opts=opts)
    if ecr.scanning == "ENHANCED":
        aws.ecr.RegistryScanningConfiguration("ecr-scanning", scan_type="ENHANCED", rules=[
            aws.ecr.RegistryScanningConfigurationRuleArgs(scan_frequency=frequency, repository_filters=[
                aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(filter="*", filter_type="WILDCARD")])
            for frequency in ("CONTINUOUS_SCAN", "SCAN_ON_PUSH")], opts=opts)
    cache_prefixes: dict[str, str] = {}
    for rule in ecr.pull_through_cache:
        aws.ecr.PullThroughCacheRule(f"ecr-cache-{rule.prefix}", ecr_repository_prefix=rule.prefix,
                                     upstream_registry_url=rule.upstream, credential_arn=rule.credential_arn, opts=opts)
        cache_prefixes[rule.prefix] = rule.upstream
    if ecr.pull_through_cache:
        shared_id = account(ss.ACCOUNT)
        aws.ecr.RegistryPolicy("ecr-registry-policy", policy=policy_json(pull_through_registry_policy(
            [account(k) for k in ss.pull_accounts(platform, None)], org_id,
            [concat("arn:aws:ecr:", platform.home_region, ":", shared_id, ":repository/", prefix, "/*")
             for prefix in cache_prefixes])), opts=opts)
    if ecr.pull_through_cache and creator is not None:
        _creation_templates(platform, "cache", list(cache_prefixes), ["PULL_THROUGH_CACHE"], key, account, org_id,
                            creator, opts)
    return repositories, cache_prefixes


def _creation_role(platform: PlatformConfig, shared_id: pulumi.Output[str], opts: pulumi.ResourceOptions) -> aws.iam.Role:
    """The role ECR assumes to create repositories from a template that names a KMS key."""
    return aws.iam.Role(
        "ecr-repository-creation",
        name=ss.creation_role_name(platform),
        description="Assumed by ECR to create pull-through cache and replicated repositories from templates (KMS)",
        max_session_duration=3600,
        assume_role_policy=policy_json(document({
            "Sid": "EcrOfThisAccount", "Effect": "Allow", "Principal": {"Service": "ecr.amazonaws.com"},
            "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": shared_id}}})),
        inline_policies=[aws.iam.RoleInlinePolicyArgs(name="create-repositories", policy=policy_json(document(
            {"Sid": "CreateRepositories", "Effect": "Allow",
             "Action": ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"],
             "Resource": concat("arn:aws:ecr:*:", shared_id, ":repository/*")},
            {"Sid": "EncryptRepositories", "Effect": "Allow",
             "Action": ["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"],
             "Resource": concat("arn:aws:kms:*:", shared_id, ":key/*"),
             "Condition": {"StringLike": {"kms:ViaService": "ecr.*.amazonaws.com"}}})))],
        opts=opts)


def _creation_templates(platform: PlatformConfig, name: str, prefixes: list[str], applied_for: list[str],
                        key: CustomerManagedKey, account: Callable[[str], pulumi.Output[str]],
                        org_id: pulumi.Output[str], creator: aws.iam.Role, opts: pulumi.ResourceOptions) -> None:
    """Repositories ECR creates itself (cache, replication) get the same encryption, lifecycle
    and pull policy as the hierarchy's; their tags follow upstream (mutable)."""
    ecr = platform.shared_services.ecr
    for prefix in prefixes:
        aws.ecr.RepositoryCreationTemplate(
            f"ecr-template-{name}-{prefix.lower()}", prefix=prefix, applied_fors=applied_for,
            description=f"Repositories ECR creates for {name} ({prefix})",
            custom_role_arn=creator.arn,
            encryption_configurations=[aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                encryption_type="KMS", kms_key=key.arn)],
            image_tag_mutability="MUTABLE",
            lifecycle_policy=lifecycle_policy(ecr.keep_tagged_images, ecr.untagged_expire_days),
            repository_policy=policy_json(repository_policy(
                [account(k) for k in ss.pull_accounts(platform, None)], org_id, [])),
            resource_tags=platform_tags(platform, project="shared-services"),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[creator])))


def _approval_rule_template(platform: PlatformConfig, opts: pulumi.ResourceOptions) -> str | None:
    """With CodeCommit, the approval rule template every project repository is associated with
    (the repositories themselves are the projects' delivery stacks')."""
    code = platform.shared_services.code_repositories
    if code.provider != "CodeCommit" or code.approval_rule_template is None:
        return None
    aws.codecommit.ApprovalRuleTemplate(
        "code-approval-rule", name=code.approval_rule_template,
        description=f"{code.required_approvals} approvals before merging into the default branch",
        content=to_json({"Version": "2018-11-08", "DestinationReferences": ["refs/heads/main"],
                         "Statements": [{"Type": "Approvers", "NumberOfApprovalsNeeded": code.required_approvals}]}),
        opts=opts)
    return code.approval_rule_template


def _service_catalog(platform: PlatformConfig, shared_id: pulumi.Output[str], key: CustomerManagedKey,
                     organization: pulumi.StackReference, opts: pulumi.ResourceOptions) -> dict[str, pulumi.Output[str]]:
    """The self-service portfolio: the Studio user-profile product (its template from the
    repository, uploaded to a templates bucket), launched through the launch constraint role
    of the consuming account, tag options for the mandatory tags, shared to `share_ou` (an
    organization share: its accounts import it without accepting; the dev accounts' project
    stacks associate the data scientists with it, `self_service_accounts`)."""
    sc = platform.shared_services.service_catalog
    tags = platform_tags(platform, project="shared-services")
    logs = access_log_bucket(
        "shared-services-access-logs", ss.access_log_bucket_name(platform),
        LogDelivery(source_account=shared_id, source_bucket_prefix=ss.bucket_prefix(platform)), tags, [], opts=opts)
    bucket = SecureBucket("service-catalog-templates", bucket_name=ss.template_bucket_name(platform),
                          kms_key_arn=key.arn, tags=tags, access_log_bucket=logs.bucket, opts=opts)
    body = ss.STUDIO_PRODUCT_TEMPLATE.read_text()
    version = hashlib.sha256(body.encode()).hexdigest()[:12]
    object_key = f"service-catalog/studio-user-profile/{version}.yaml"
    template = aws.s3.BucketObject("studio-user-profile-template", bucket=bucket.bucket, key=object_key, content=body,
                                   content_type="application/x-yaml", server_side_encryption="aws:kms",
                                   kms_key_id=key.arn, opts=pulumi.ResourceOptions.merge(
                                       opts, pulumi.ResourceOptions(parent=bucket)))
    portfolio = aws.servicecatalog.Portfolio(
        "studio-self-service", name=f"{platform.name_prefix}-ml-self-service",
        description="Self-service SageMaker Studio for the ML projects", provider_name="ML platform team",
        tags=tags, opts=opts)
    product = aws.servicecatalog.Product(
        "studio-user-profile", name=f"{platform.name_prefix}-studio-user-profile", owner="ML platform team",
        type="CLOUD_FORMATION_TEMPLATE", description="A SageMaker Studio user profile in the project's domain",
        provisioning_artifact_parameters=aws.servicecatalog.ProductProvisioningArtifactParametersArgs(
            name=f"v-{version}", type="CLOUD_FORMATION_TEMPLATE", disable_template_validation=False,
            template_url=concat("https://", bucket.bucket, ".s3.", platform.home_region,
                                              ".amazonaws.com/", object_key)),
        tags=tags, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[template])))
    child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=portfolio))
    # AWS checks a LocalRoleName in the account that creates the constraint too; here the role
    # only exists (no permissions: no Studio domain to launch into). The consuming accounts'
    # roles, with the product's permissions, are their project stacks' (stacks/project_workspace.py).
    local_launch_role = LaunchRole("studio-launch", ss.launch_role_name(platform), shared_id, [], tags, opts=opts)
    association = aws.servicecatalog.ProductPortfolioAssociation(
        "studio-user-profile-in-portfolio", portfolio_id=portfolio.id, product_id=product.id, opts=child)
    aws.servicecatalog.Constraint(
        "studio-user-profile-launch", type="LAUNCH", portfolio_id=portfolio.id, product_id=product.id,
        description="Launched as the consuming account's launch role (created by the ML workspace layer)",
        parameters=to_json({"LocalRoleName": ss.launch_role_name(platform)}),
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[association, local_launch_role])))
    for tag, value in ss.tag_options(platform):
        slug = re.sub(r"[^a-z0-9]+", "-", f"{tag}-{value}".lower()).strip("-")
        option = aws.servicecatalog.TagOption(f"tag-option-{slug}", key=tag, value=value, active=True, opts=child)
        aws.servicecatalog.TagOptionResourceAssociation(f"tag-option-{slug}-portfolio", resource_id=portfolio.id,
                                                       tag_option_id=option.id, opts=child)
    ou_ids = organization.require_output("ouIds")
    share = aws.servicecatalog.PortfolioShare(
        "studio-self-service-share", portfolio_id=portfolio.id, type="ORGANIZATIONAL_UNIT",
        principal_id=pulumi.Output.all(organization.require_output("managementAccountId"),
                                       organization.require_output("organizationId"), ou_ids).apply(
            lambda a: _ou_arn(a[0], a[1], a[2][sc.share_ou])),
        share_tag_options=True, opts=child)
    return {"portfolioId": portfolio.id, "productId": product.id, "shareOu": pulumi.Output.from_input(sc.share_ou),
            "launchRoleName": pulumi.Output.from_input(ss.launch_role_name(platform)),
            "templateUrl": product.provisioning_artifact_parameters.template_url, "shareId": share.id}


def _parameters(platform: PlatformConfig, values: dict[str, pulumi.Input[str]], key: CustomerManagedKey,
                organization: pulumi.StackReference, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """SecureString parameters under `parameter_path`, shared through RAM with the OUs where
    notebooks and pipelines run (only advanced-tier parameters can be shared); the share's ARN."""
    path = ss.parameter_path(platform)
    share = aws.ram.ResourceShare("shared-services-parameters", name=f"{platform.name_prefix}-shared-services-parameters",
                                  allow_external_principals=False, opts=opts)
    management = organization.require_output("managementAccountId")
    ou_ids = organization.require_output("ouIds")
    org_id = organization.require_output("organizationId")
    for ou in PARAMETER_OUS:
        if ou in platform.organization.organizational_units:
            aws.ram.PrincipalAssociation(
                f"shared-services-parameters-{ou.lower()}", resource_share_arn=share.arn,
                principal=pulumi.Output.all(management, org_id, ou_ids).apply(lambda a, ou=ou: _ou_arn(a[0], a[1], a[2][ou])),
                opts=pulumi.ResourceOptions(parent=share))
    for name, value in values.items():
        parameter = aws.ssm.Parameter(
            f"parameter-{name.replace('/', '-')}", name=f"{path}/{name}", type="SecureString", tier="Advanced",
            key_id=key.arn, value=value, description=f"Shared services: {name}", opts=opts)
        aws.ram.ResourceAssociation(f"parameter-{name.replace('/', '-')}-share", resource_arn=parameter.arn,
                                    resource_share_arn=share.arn, opts=pulumi.ResourceOptions(parent=share))
    return share.arn
