"""The `data-lake` stack (data-lake account): data domains with their keys, raw / curated /
feature buckets and catalog databases, Lake Formation administration, read-only grants to the
project accounts the configuration names, the write-back role, and the data engineers'
Athena workgroup.

Consumers' Athena workgroups live in the consumers' accounts (`stacks/project_data.py`):
Athena runs in the caller's account, so a workgroup here could not be used by a project role,
and query results of lake data stay in the consumer's account under its own key.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from components.athena_workgroups import QueryWorkgroup
from components.data_access import (
    LogDelivery,
    ObjectGrant,
    data_bucket_statements,
    key_uses_for,
)
from components.data_domain import DataDomain, DataDomainArgs, ServiceReader, ZoneReader
from components.kms_keys import CustomerManagedKey, RolePrincipals, role_arn
from components.lake_formation_grants import (
    CrossAccountReadGrant,
    LakeFormationAdministration,
    LocalGrantSpec,
    LocalPrincipalGrants,
)
from components.naming import camel
from components import persona_policies as pp
from components.permission_sets import PersonaAccess
from components.persona_roles import PersonaRoles, PersonaTrust
from components.project_buckets import access_log_bucket
from components.secure_bucket import BucketAccess, LifecycleRule, SecureBucket
from policy_documents.serialize import concat, document, policy_json
from stacks import data_settings as ds
from stacks import identity_settings as ids
from stacks import model_sharing_settings as ms
from stacks.common import account_ids, account_provider, platform_tags, stack_reference
from stacks.config import PlatformConfig
from stacks.context import StackContext
from stacks.principal_settings import RoleReference, administrator_references, require_roles

def _write_back_role(platform: PlatformConfig, account: Callable[[str], pulumi.Output[str]],
                     org_id: pulumi.Output[str], opts: pulumi.ResourceOptions) -> aws.iam.Role | None:
    """The write-back role, trusted by the configured approvers only (none without approvers)."""
    approvers = platform.data_lake.write_back.approvers
    if not approvers:
        return None
    accounts = list(dict.fromkeys(a.account for a in approvers))
    roots = [concat("arn:aws:iam::", account(key), ":root") for key in accounts]
    return aws.iam.Role(
        "data-write-back",
        name=ds.write_back_role_name(platform),
        description="The only way project data goes back into the lake: assumed by the approval step, "
                    f"writes under {ds.CONTRIBUTED_PREFIX} of curated and features",
        max_session_duration=3600,
        assume_role_policy=policy_json(document({
            "Sid": "ApprovedWriteBackOnly", "Effect": "Allow",
            "Principal": {"AWS": roots if len(roots) > 1 else roots[0]}, "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": [role_arn(account(a.account), a.role) for a in approvers]},
                          "StringEquals": {"aws:PrincipalOrgID": org_id}},
        })),
        opts=opts,
    )


def _lake_formation_role(platform: PlatformConfig, lake_id: pulumi.Output[str], opts: pulumi.ResourceOptions) -> aws.iam.Role:
    """The role Lake Formation assumes to read and write registered locations for its principals."""
    return aws.iam.Role(
        "lake-formation-data-access",
        name=ds.lake_formation_role_name(platform),
        description="Lake Formation data access to the data-lake buckets (credential vending)",
        assume_role_policy=policy_json(document({
            "Sid": "LakeFormationOnly", "Effect": "Allow",
            "Principal": {"Service": "lakeformation.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": lake_id}},
        })),
        opts=opts,
    )


def _domain_readers(platform: PlatformConfig, account: Callable[[str], pulumi.Output[str]]
                    ) -> tuple[dict[str, list[ZoneReader]], dict[str, list[ServiceReader]]]:
    """Who reads which domain: exactly the consumers the configuration names, and Rekognition
    for model producers (model-sharing blog: Custom Labels in the producer's account reads its
    training images from the lake through the bucket policy)."""
    data = platform.data_lake
    readers: dict[str, list[ZoneReader]] = {d.name: [] for d in data.domains}
    services: dict[str, list[ServiceReader]] = {d.name: [] for d in data.domains}
    for consumer in data.consumers:
        prefix = ds.REDACTED_PREFIX if consumer.redacted_only else ""
        for env in consumer.environments:
            key = f"{consumer.project}-{env}"
            roles = RolePrincipals(account(key), tuple(ds.project_role_name(platform, consumer.project, env, r) for r in consumer.roles))
            for domain in consumer.domains:
                readers[domain].append(ZoneReader(roles, tuple(consumer.zones), prefix))
                if ms.is_producer(platform, consumer.project, env):
                    services[domain].append(ServiceReader(f"Rekognition{camel(key)}", ds.REKOGNITION, account(key),
                                                          tuple(consumer.zones), prefix))
    return readers, services


def named_roles(platform: PlatformConfig) -> list[RoleReference]:
    """The roles of other accounts, or made by other stacks, that this stack's policies name."""
    data = platform.data_lake
    found = [RoleReference("data-write-back trust policy (ApprovedWriteBackOnly)", a.account, a.role)
             for a in data.write_back.approvers]
    found += administrator_references(platform, "data-lake", "data-lake key and bucket policies (administrators)")
    for consumer in data.consumers:
        for env in consumer.environments:
            found += [RoleReference("data-lake bucket, key and Lake Formation grants (readers)", f"{consumer.project}-{env}",
                                    ds.project_role_name(platform, consumer.project, env, r)) for r in consumer.roles]
    return found


def run(ctx: StackContext) -> None:
    platform = ctx.platform
    require_roles(platform, named_roles(platform))
    data = platform.data_lake
    org = platform.organization
    region = platform.home_region
    organization = stack_reference("organization")
    account = account_ids(organization)
    org_id = organization.require_output("organizationId")
    lake_id = account("data-lake")
    tags = platform_tags(platform, project="data-lake")
    provider = account_provider("data-lake", platform, lake_id, tags)
    opts = pulumi.ResourceOptions(provider=provider)

    deployer = org.member_role_name
    admins = RolePrincipals(lake_id, tuple(dict.fromkeys([deployer, org.break_glass_role_name, *data.admin_roles])))
    deployer_role = RolePrincipals(lake_id, (deployer,))
    engineers = RolePrincipals(lake_id, tuple(data.data_engineer_roles))
    writers = RolePrincipals(lake_id, (*data.data_engineer_roles, ds.lake_formation_role_name(platform)))

    # The people's roles Lake Formation names (it refuses principals that do not exist).
    people = PersonaRoles(
        "data-lake-people", lake_id,
        [r for r in (*data.admin_roles, *data.data_engineer_roles) if r not in (deployer, org.break_glass_role_name)],
        PersonaTrust(people=ids.persona_session_roles(platform, "data-engineer")), tags, opts)

    def people_arn(name: str) -> pulumi.Input[str]:
        return people.arns.get(name) or role_arn(lake_id, name)

    # Administrators: the deployer (it registers locations and grants below) and the configured admins.
    lake_admins = LakeFormationAdministration(
        "lake-formation", admins=[people_arn(r) for r in dict.fromkeys([deployer, *data.admin_roles])], opts=opts)
    lf_role = _lake_formation_role(platform, lake_id, opts)
    write_back_role = _write_back_role(platform, account, org_id, opts)
    write_back = RolePrincipals(lake_id, (ds.write_back_role_name(platform),)) if write_back_role is not None else None

    # Access logs of the lake's buckets, and the data engineers' Athena results.
    engineer_grants = [ObjectGrant("DataEngineersAthenaResults", [engineers], write=True)] if engineers.role_names else []
    log_delivery = LogDelivery(source_account=lake_id, source_bucket_prefix=ds.lake_bucket_prefix(platform))
    platform_key = CustomerManagedKey(
        "data-lake-platform-key",
        alias=f"{platform.name_prefix}-data-lake-platform",
        description="Data-lake account: Athena query results of the data engineers",
        administrators=admins,
        uses=key_uses_for(region, engineer_grants, (), organization_id=org_id),
        tags=tags,
        opts=opts,
    )
    log_bucket_name = ds.lake_access_log_bucket_name(platform)
    access_logs = access_log_bucket(
        "data-lake-access-logs", log_bucket_name, log_delivery, tags,
        ds.lifecycle_rules("access-logs", data.project_buckets.lifecycle.get("access-logs")), opts=opts)
    results_name = ds.lake_athena_results_bucket_name(platform)
    results = SecureBucket(
        "data-lake-athena-results",
        bucket_name=results_name,
        kms_key_arn=platform_key.arn,
        tags={**tags, "bucket-kind": "athena-results"},
        access_log_bucket=access_logs.bucket,
        lifecycle_rules=[LifecycleRule(id="athena-results", expire_days=data.athena.results_expire_days,
                                       noncurrent_expire_days=1)],
        access=BucketAccess(statements=data_bucket_statements(f"arn:aws:s3:::{results_name}", engineer_grants,
                                                              organization_id=org_id, managers=deployer_role)),
        opts=opts,
    )
    workgroup = QueryWorkgroup(
        "data-engineering-workgroup",
        workgroup_name=f"{platform.name_prefix}-data-engineering",
        results_bucket=results.bucket,
        results_prefix=ds.ATHENA_RESULTS_PREFIX,
        kms_key_arn=platform_key.arn,
        bytes_scanned_cutoff=data.athena.bytes_scanned_cutoff_gb * 1024**3,
        expected_bucket_owner=lake_id,
        description="Data engineers of the data-lake account",
        tags=tags,
        opts=opts,
    )

    readers, services = _domain_readers(platform, account)
    domains: dict[str, DataDomain] = {}
    for domain in data.domains:
        domains[domain.name] = DataDomain(
            f"domain-{domain.name}",
            DataDomainArgs(
                domain=domain.name,
                region=region,
                bucket_names={z: ds.lake_bucket_name(platform, domain.name, z) for z in ds.ZONES},
                databases=ds.domain_databases(platform, domain.name),
                key_alias=f"{platform.name_prefix}-data-lake-{domain.name}",
                key_administrators=admins,
                writers=writers,
                lake_formation_role_arn=lf_role.arn,
                write_back=write_back,
                write_back_prefix=ds.CONTRIBUTED_PREFIX,
                readers=readers[domain.name],
                service_readers=services[domain.name],
                lifecycle={z: ds.lifecycle_rules(f"{domain.name}-{z}", domain.lifecycle.get(z)) for z in ds.ZONES},
                access_log_bucket=access_logs.bucket,
                tags={**tags, "data-classification": domain.data_classification},
                description=domain.description,
                organization_id=org_id,
                bucket_managers=deployer_role,
            ),
            lake_formation_settings=lake_admins.settings,
            opts=opts,
        )

    # The Lake Formation role and the write-back role may use exactly the domains' buckets and keys.
    bucket_arns = [f"arn:aws:s3:::{ds.lake_bucket_name(platform, d.name, z)}" for d in data.domains for z in ds.ZONES]
    key_arns = [domains[d.name].key_arn for d in data.domains]
    if data.domains:
        aws.iam.RolePolicy(
            "lake-formation-data-access-policy",
            role=lf_role.name,
            policy=policy_json(document(
                {"Sid": "DomainBuckets", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": bucket_arns},
                {"Sid": "DomainObjects", "Effect": "Allow",
                 "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                 "Resource": [f"{arn}/*" for arn in bucket_arns]},
                {"Sid": "DomainKeys", "Effect": "Allow",
                 "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": key_arns},
            )),
            opts=opts,
        )
    if data.domains and write_back_role is not None:
        contributed = [f"arn:aws:s3:::{ds.lake_bucket_name(platform, d.name, z)}/{ds.CONTRIBUTED_PREFIX}*"
                       for d in data.domains for z in ds.SHARED_ZONES]
        aws.iam.RolePolicy(
            "data-write-back-policy",
            role=write_back_role.name,
            policy=policy_json(document(
                {"Sid": "WriteContributedOnly", "Effect": "Allow",
                 "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"], "Resource": contributed},
                {"Sid": "DomainKeys", "Effect": "Allow",
                 "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": key_arns},
            )),
            opts=opts,
        )

    # People's access: the data engineers' persona policy (permission set or SAML role), held
    # by the data-engineer roles the lake's policies name too, which the persona's sessions assume.
    PersonaAccess("data-lake-people-access", ids.access_args(
        platform, "data-lake", lake_id,
        {"data-engineer": [*pp.assume_roles(pp.AccountArns(lake_id, region), data.data_engineer_roles, "DataEngineerRoles"),
                           *pp.data_engineering(pp.AccountArns(lake_id, region), bucket_arns, key_arns,
                                                [n for d in domains.values() for n in d.database_names.values()],
                                                f"{platform.name_prefix}-data-engineering", f"arn:aws:s3:::{results_name}",
                                                platform_key.arn)]},
        tags, account, attach_to_roles={"data-engineer": [people_arn(r) for r in data.data_engineer_roles]}), opts=opts)

    # Catalog permissions: the data engineers here, read-only grants to the consumer accounts.
    if engineers.role_names and data.domains:
        LocalPrincipalGrants(
            "data-engineers",
            LocalGrantSpec(principals={n.rsplit("/", 1)[-1]: people_arn(n.rsplit("/", 1)[-1]) for n in engineers.role_names},
                           location_arns=[domains[d.name].buckets[z].arn for d in data.domains for z in ds.ZONES]),
            databases={db: domains[d.name].database_names[db] for d in data.domains for db in ds.domain_databases(platform, d.name)},
            depends_on=[lake_admins.settings, *(loc for d in domains.values() for loc in d.locations)],
            opts=opts,
        )
    grants_out: dict[str, dict[str, list[str]]] = {}
    for consumer in data.consumers:
        for env in consumer.environments:
            key = f"{consumer.project}-{env}"
            for domain in consumer.domains:
                names = ds.consumer_databases(platform, consumer, domain)
                CrossAccountReadGrant(
                    f"grant-{key}-{domain}",
                    account_id=account(key),
                    databases={n: domains[domain].database_names[n] for n in names},
                    depends_on=[lake_admins.settings],
                    opts=opts,
                )
                grants_out.setdefault(key, {})[domain] = names

    pulumi.export("accountId", lake_id)
    pulumi.export("lakeFormationRoleArn", lf_role.arn)
    pulumi.export("writeBackRoleArn", write_back_role.arn if write_back_role is not None else None)
    pulumi.export("athenaWorkgroup", workgroup.name)
    pulumi.export("accessLogBucket", access_logs.bucket)
    pulumi.export("domains", {
        name: {
            "keyArn": d.key_arn,
            "buckets": {z: {"name": b.bucket, "arn": b.arn} for z, b in d.buckets.items()},
            "databases": d.database_names,
        }
        for name, d in domains.items()
    })
    pulumi.export("consumerGrants", grants_out)
