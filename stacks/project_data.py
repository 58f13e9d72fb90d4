"""The data part of a `<project>-<env>` stack: the project's bucket set in its own account and
its read-only window onto the data lake.

- Buckets by environment (`data_settings.KINDS_BY_ENVIRONMENT`): experimentation in dev;
  datasets, pipeline and models in preprod; pipeline and models in prod; access logs
  everywhere. All encrypted with one project key, logged to the access-log bucket.
- Who uses which kind: the team reads and writes experimentation buckets; only automation
  roles write datasets, models and pipeline buckets, and only they read pipeline buckets;
  reviewers read datasets and models; the project's prod automation reads preprod models to
  promote them.
- Lake access (when `data_lake.consumers` names this environment): Lake Formation
  administration, resource links to the shared databases with read grants to the configured
  roles, and an Athena workgroup with enforced, KMS-encrypted results and a scan cutoff.
- The roles these grants name, where a grant of this environment names them: the notebook
  role (SageMaker's) and the people's roles (`data_settings.PEOPLE_ROLES`, assumed by the data
  scientist persona's sessions of this account, only where that persona works). Their
  permissions, exactly what the grants allow, are the workspace part's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.athena_workgroups import QueryWorkgroup
from components.data_access import ObjectGrant, ServiceGrant
from components.kms_keys import KeyUse, RolePrincipals, role_arn
from components.lake_formation_grants import (
    LakeFormationAdministration,
    SharedDatabase,
    SharedDatabaseLinks,
)
from components.naming import camel
from components.persona_roles import PersonaRoles, PersonaTrust
from components.project_buckets import (
    BucketKind,
    ProjectBucketSet,
    ProjectBucketSetArgs,
)
from stacks import data_settings as ds
from stacks import identity_settings as ids
from stacks import model_sharing_settings as ms
from stacks import shared_services_settings as ss
from stacks import workspace_settings as ws
from stacks.common import stack_reference
from stacks.context import StackContext
from stacks.project_network import ProjectNetwork


@dataclass(frozen=True)
class ProjectData:
    """What the data part built, for the workspace part."""

    key_arn: pulumi.Output[str]
    bucket_names: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]
    persona_arns: dict[str, pulumi.Output[str]]
    # domain -> {keyArn, prefix, bucketArns}: what this environment may read in the lake.
    lake_readable: pulumi.Output[dict] | None
    # The shared catalog databases (the resource links here have their names) -> the roles
    # Lake Formation grants them to (suffixes); the lake's account id; the Athena workgroup.
    lake_databases: dict[str, list[str]]
    lake_account_id: pulumi.Output[str] | None
    athena_workgroup: pulumi.Output[str] | None


def project_data(ctx: StackContext, network: ProjectNetwork,
                 depends_on: list[pulumi.Resource] | None = None) -> ProjectData:
    """Register the project environment's buckets and lake access, in the account and through
    the provider and StackReferences that the network part (`project_network`) made; the
    bucket set waits for `depends_on` (the job roles its policies name)."""
    platform = ctx.platform
    data = platform.data_lake
    project = platform.project(ctx.project)
    env = ctx.environment
    name = f"{project.name}-{env}"
    pb = data.project_buckets
    tags = network.tags
    org_ids = network.organization.require_output("accountIds")
    org_id = network.organization_id
    cache: dict[str, pulumi.Output[str]] = {}

    def account(key: str) -> pulumi.Output[str]:
        if key not in cache:
            cache[key] = org_ids.apply(lambda m, k=key: m[k])
        return cache[key]

    account_id = network.account_id
    opts = pulumi.ResourceOptions(provider=network.provider)

    def roles(names: list[str], acct: pulumi.Input[str] = account_id, environment: str = env) -> RolePrincipals:
        return RolePrincipals(acct, tuple(ds.project_role_name(platform, project.name, environment, r) for r in names))

    # The job roles of the workspace that read or write these buckets join the data layer's roles.
    access = ws.bucket_role_groups(platform, env)
    team, automation, reviewers = roles(access["team"]), roles(access["automation"]), roles(access["reviewers"])
    hosting = roles(access["hosting"])
    producer = ms.is_producer(platform, project.name, env)
    work_kind = ds.WORK_BUCKET_KIND[env]

    def grants_for(kind: str) -> list[ObjectGrant]:
        if kind == "experimentation":
            return [ObjectGrant("ProjectTeam", [team], write=True), ObjectGrant("ModelHosting", [hosting])]
        if kind == "pipeline":
            return [ObjectGrant("AutomationOnly", [automation], write=True)]
        found = [ObjectGrant("Automation", [automation], write=True)]
        if access["reviewers"]:
            found.append(ObjectGrant("ReviewersReadOnly", [reviewers]))
        if kind == "models":
            found.append(ObjectGrant("ModelHosting", [hosting]))
        if kind == "models" and env == "preprod" and "prod" in project.environments:
            # The model registry's consumers in prod (automation, which copies approved versions
            # into prod, and the hosting role SageMaker fetches a version's model with) read
            # exactly the registered versions' artifacts.
            found.append(ObjectGrant("ProdPromotion", [roles(ws.promotion_readers(platform),
                                                             account(f"{project.name}-prod"), "prod")],
                                     prefix=ss.artifact_prefix(platform, project.name)))
        return found

    buckets = []
    for kind in ds.KINDS_BY_ENVIRONMENT[env]:
        if kind == "access-logs":
            continue
        services = []
        if producer and kind in (work_kind, "datasets"):
            # Rekognition Custom Labels (for this account only) reads the training data sets and
            # writes training output into the producer's work bucket (model-sharing blog).
            services.append(ServiceGrant(f"Rekognition{camel(name)}", ds.REKOGNITION, account_id,
                                         write=kind == work_kind))
        kind_tags: dict[str, str] = {}
        if kind == "models":
            kind_tags = {"lineage": "required", "lineage-object-tags": " ".join(pb.model_lineage_tags)}
        if kind == "datasets":
            kind_tags = {"lineage": "required"}
        buckets.append(BucketKind(
            kind=kind,
            bucket_name=ds.project_bucket_name(platform, project.name, env, kind),
            grants=grants_for(kind),
            services=services,
            lifecycle=ds.lifecycle_rules(kind, pb.lifecycle.get(kind)),
            tags=kind_tags,
        ))

    org = platform.organization
    bucket_set = ProjectBucketSet(
        f"{name}-data",
        ProjectBucketSetArgs(
            account_id=account_id,
            region=platform.home_region,
            key_alias=f"{platform.name_prefix}-{name}-data",
            key_administrators=RolePrincipals(account_id, tuple(dict.fromkeys([org.member_role_name, org.break_glass_role_name]))),
            access_log_bucket_name=ds.project_bucket_name(platform, project.name, env, "access-logs"),
            log_source_prefix=ds.project_bucket_prefix(platform, project.name, env),
            buckets=buckets,
            access_log_lifecycle=ds.lifecycle_rules("access-logs", pb.lifecycle.get("access-logs")),
            tags=tags,
            organization_id=org_id,
            bucket_managers=RolePrincipals(account_id, (org.member_role_name,)),
            extra_key_uses=_workspace_key_uses(platform, project.name, env, account_id, org_id),
        ),
        opts=pulumi.ResourceOptions(provider=network.provider, depends_on=depends_on or []),
    )

    exports: dict[str, Any] = {
        "keyArn": bucket_set.key_arn,
        "buckets": {kind: {"name": b.bucket, "arn": b.arn} for kind, b in bucket_set.buckets.items()},
    }
    grants = ds.consumer_grants(platform, project.name, env)
    readers: dict[str, list[str]] = {}
    catalog_id = workgroup_name = None
    # The persona roles this environment's buckets and lake grants name; Lake Formation refuses
    # grants to roles that do not exist, so they are created here. People's roles
    # (`data_settings.PEOPLE_ROLES`) are assumed by their persona's sessions in this account,
    # the others (the notebook role) by SageMaker; their permissions are the workspace part's
    # (stacks/project_workspace.py), exactly what these grants allow.
    persona_names = ws.data_persona_suffixes(platform, project.name, env)
    people_trust = {ds.project_role_name(platform, project.name, env, r):
                    PersonaTrust(people=ids.persona_session_roles(platform, ds.role_persona(r)))
                    for r in persona_names if ds.role_persona(r) is not None}
    personas = PersonaRoles(
        f"{name}-personas", account_id,
        [ds.project_role_name(platform, project.name, env, r) for r in persona_names],
        PersonaTrust(services=("sagemaker.amazonaws.com",)), tags, opts, trusts=people_trust)
    if grants:
        lake = stack_reference("data-lake")
        catalog_id = lake.require_output("accountId")
        lf = LakeFormationAdministration(f"{name}-lake-formation", admins=[role_arn(account_id, org.member_role_name)], opts=opts)
        for consumer, domain in grants:
            for database in ds.consumer_databases(platform, consumer, domain):
                names = readers.setdefault(database, [])
                names.extend(r for r in consumer.roles if r not in names)
        links = SharedDatabaseLinks(
            f"{name}-lake-links",
            catalog_id=catalog_id,
            region=platform.home_region,
            databases=[
                SharedDatabase(link_name=database, target_database=database,
                               readers={r: personas.arns[ds.project_role_name(platform, project.name, env, r)] for r in role_names})
                for database, role_names in readers.items()
            ],
            depends_on=[lf.settings],
            opts=opts,
        )
        cutoffs = [c.bytes_scanned_cutoff_gb for c, _ in grants if c.bytes_scanned_cutoff_gb is not None]
        workgroup = QueryWorkgroup(
            f"{name}-lake-workgroup",
            workgroup_name=f"{platform.name_prefix}-{name}-data-lake",
            results_bucket=bucket_set.buckets[work_kind].bucket,
            results_prefix=ds.ATHENA_RESULTS_PREFIX,
            kms_key_arn=bucket_set.key_arn,
            bytes_scanned_cutoff=(min(cutoffs) if cutoffs else data.athena.bytes_scanned_cutoff_gb) * 1024**3,
            expected_bucket_owner=account_id,
            description=f"Queries of {name} on the data lake (read-only)",
            tags=tags,
            opts=opts,
        )
        exports["lakeDatabases"] = list(links.link_names.values())
        exports["athenaWorkgroup"] = workgroup.name
        workgroup_name = workgroup.name
        # What this environment's roles may read directly in S3 (for their IAM policies).
        readable = {domain: ([z for z in consumer.zones if z in ds.SHARED_ZONES],
                             ds.REDACTED_PREFIX if consumer.redacted_only else "") for consumer, domain in grants}
        exports["lakeReadable"] = lake.require_output("domains").apply(lambda domains: {
            domain: {"keyArn": domains[domain]["keyArn"], "prefix": prefix,
                     "bucketArns": [domains[domain]["buckets"][z]["arn"] for z in zones]}
            for domain, (zones, prefix) in readable.items()
        })
    pulumi.export("data", exports)
    return ProjectData(
        key_arn=bucket_set.key_arn,
        bucket_names={kind: b.bucket for kind, b in bucket_set.buckets.items()},
        bucket_arns={kind: b.arn for kind, b in bucket_set.buckets.items()},
        persona_arns=dict(personas.arns),
        lake_readable=exports.get("lakeReadable"),
        lake_databases=readers,
        lake_account_id=catalog_id,
        athena_workgroup=workgroup_name,
    )


def _workspace_key_uses(platform: Any, project: str, env: str, account_id: pulumi.Output[str],
                        org_id: pulumi.Output[str]) -> list[KeyUse]:
    """The project key beyond S3: the job roles encrypt SageMaker volumes, EFS and read
    SecureString parameters (through grants for AWS resources); the deploying role encrypts the
    parameters and hands the key to the Studio domain."""
    jobs = RolePrincipals(account_id, tuple(ws.service_role_names(platform, project, env).values()))
    deployer = RolePrincipals(account_id, (platform.organization.deployment_role,))
    return [
        KeyUse("WorkspaceJobs", ws.JOB_KEY_ACTIONS, roles=[jobs], allow_grants_for_aws_resources=True,
               organization_id=org_id),
        KeyUse("WorkspaceDeployment", ws.JOB_KEY_ACTIONS, roles=[deployer], allow_grants_for_aws_resources=True,
               organization_id=org_id),
    ]
