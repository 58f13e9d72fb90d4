"""The data-lake stack and the project bucket sets, run for real under the mocks: every
bucket's protection, every key's policy, Lake Formation settings and grants, Athena."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components.kms_keys import ADMIN_ACTIONS
from policy_documents.service_authorization import validate_document
from stacks.config import parse_platform
from stacks.data_settings import (
    KINDS_BY_ENVIRONMENT,
    consumer_databases,
    model_producers,
    project_role_name,
)
from stacks.model_sharing_settings import is_producer
from stacks.workspace_settings import service_role_names, service_role_suffixes

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PUBLIC_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LF_SETTINGS = "aws:lakeformation/dataLakeSettings:DataLakeSettings"
LF_PERMISSIONS = "aws:lakeformation/permissions:Permissions"
LF_RESOURCE = "aws:lakeformation/resource:Resource"
GLUE_DB = "aws:glue/catalogDatabase:CatalogDatabase"
WORKGROUP = "aws:athena/workgroup:Workgroup"

DATA_STACKS = ["data-lake", "fraud-detection-dev", "fraud-detection-preprod", "fraud-detection-prod",
               "document-vision-dev", "document-vision-preprod", "document-vision-prod"]


@pytest.fixture(scope="module")
def platform():
    return parse_platform(yaml.safe_load((Path(__file__).resolve().parent.parent / "stacks" / "platform.yaml").read_text()))


@pytest.fixture(scope="module")
def ids(sample_runs) -> dict[str, str]:
    return sample_runs("organization").outputs["accountIds"]


@pytest.fixture(scope="module")
def lake(sample_runs):
    return sample_runs("data-lake")


def for_bucket(run, typ: str, bucket: str):
    found = [r for r in run.of_type(typ) if r.inputs.get("bucket") == bucket]
    assert len(found) == 1, (typ, bucket, len(found))
    return found[0]


def account_of(run, resource) -> str:
    """The account a resource is created in: the one its provider assumes a role in."""
    provider = run.by_urn(resource.provider.rsplit("::", 1)[0])
    roles = provider.inputs.get("assumeRoles")
    roles = json.loads(roles) if isinstance(roles, str) else roles
    return roles[0]["roleArn"].split(":")[4]


def in_data_layer(run, resource) -> bool:
    """Whether the data layer registered `resource` (project stacks hold other layers too)."""
    urns = {r.urn: r for r in run.resources}
    parent = urns.get(resource.parent)
    while parent is not None:
        # People's access is the identity layer's (its assignments are made in the Identity
        # Center account; tests/test_identity.py).
        if parent.type == "ml-platform:identity:PersonaAccess":
            return False
        parent = urns.get(parent.parent)
    if run.stack == "data-lake":
        return True
    while resource is not None:
        if resource.type.startswith("ml-platform:data:"):
            return True
        resource = urns.get(resource.parent)
    return False


def data_buckets(run) -> list[str]:
    return [r.inputs["bucket"] for r in run.of_type(BUCKET) if in_data_layer(run, r)]


def data_keys(run) -> list:
    return [k for k in run.of_type(KEY) if in_data_layer(run, k)]


# -- every bucket, every stack -------------------------------------------------------------

@pytest.mark.parametrize("stack", DATA_STACKS)
def test_every_bucket_is_encrypted_versioned_private_tls_only_logged_and_protected(sample_runs, stack):
    run = sample_runs(stack)
    keys = {k.outputs["arn"] for k in data_keys(run)}
    buckets = data_buckets(run)
    assert buckets
    log_buckets = {b for b in buckets if b.endswith("-access-logs-111111111111")}
    assert len(log_buckets) == 1
    for bucket in buckets:
        resource = next(r for r in run.of_type(BUCKET) if r.inputs["bucket"] == bucket)
        assert resource.protect and resource.retain_on_delete, bucket
        assert resource.inputs["forceDestroy"] is False
        rule = for_bucket(run, SSE, bucket).inputs["rules"][0]
        if bucket in log_buckets:
            # AWS delivers server access logs to SSE-S3 buckets only; the pack knows them by tag.
            assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
            assert resource.inputs["tags"]["access-log-target"] == "true"
        else:
            assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
            assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] in keys, bucket  # a CMK of this stack
            assert rule["bucketKeyEnabled"] is True
        assert for_bucket(run, VERSIONING, bucket).inputs["versioningConfiguration"]["status"] == "Enabled"
        block = for_bucket(run, PUBLIC_BLOCK, bucket).inputs
        assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
        assert for_bucket(run, OWNERSHIP, bucket).inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        statements = json.loads(for_bucket(run, POLICY, bucket).inputs["policy"])["Statement"]
        tls = next(s for s in statements if s["Sid"] == "S34DenyInsecureTransport")
        assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert "S34DenyWrongEncryption" in {s["Sid"] for s in statements}
        if bucket not in log_buckets:
            assert "S34DenyOtherKmsKey" in {s["Sid"] for s in statements}
        assert not any(s["Effect"] == "Allow" and s["Principal"] == "*" for s in statements), bucket
        if bucket in log_buckets:
            assert not [r for r in run.of_type(LOGGING) if r.inputs["bucket"] == bucket]
        else:
            assert for_bucket(run, LOGGING, bucket).inputs["targetBucket"] in log_buckets, bucket


@pytest.mark.parametrize("stack", DATA_STACKS)
def test_every_key_rotates_waits_30_days_and_is_protected(sample_runs, stack):
    for key in data_keys(sample_runs(stack)):
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["rotationPeriodInDays"] == 365
        assert key.inputs["deletionWindowInDays"] == 30
        assert key.inputs["bypassPolicyLockoutSafetyCheck"] is False
        assert key.protect, key.name
        policy = json.loads(key.inputs["policy"])
        for statement in policy["Statement"]:
            assert "kms:*" not in statement["Action"] and statement["Principal"] != "*"
        admin = next(s for s in policy["Statement"] if s["Sid"] == "KeyAdministration")
        # Administrators manage the key but cannot use it or switch rotation off.
        assert set(admin["Action"]) == set(ADMIN_ACTIONS)
        assert not {"kms:Decrypt", "kms:Encrypt", "kms:DisableKeyRotation"} & set(admin["Action"])


@pytest.mark.parametrize("stack", DATA_STACKS)
def test_data_policies_are_valid_against_service_authorization_data(sample_runs, stack):
    run = sample_runs(stack)
    for resource in run.resources:
        if resource.type in (POLICY, KEY, "aws:iam/rolePolicy:RolePolicy") and in_data_layer(run, resource):
            assert validate_document(json.loads(resource.inputs["policy"])) == [], resource.name


@pytest.mark.parametrize("stack", DATA_STACKS)
def test_everything_is_deployed_in_the_stacks_own_account(sample_runs, ids, stack):
    account, run = ids[stack], sample_runs(stack)
    for resource in run.resources:
        if resource.custom and not resource.type.startswith("pulumi:") and in_data_layer(run, resource):
            assert account_of(run, resource) == account, resource.name


# -- key policies name only configured principals ---------------------------------------------

def configured_principals(platform, ids, stack: str) -> tuple[set[str], set[str], set[str]]:
    """(account roots, role ARNs, service principals) the configuration lets a stack's keys name."""
    data, org = platform.data_lake, platform.organization
    own = ids[stack]
    arns = {f"arn:aws:iam::{own}:role/{r}" for r in (org.member_role_name, org.break_glass_role_name)}
    services: set[str] = set()
    if stack == "data-lake":
        arns |= {f"arn:aws:iam::{own}:role/{r}" for r in (*data.admin_roles, *data.data_engineer_roles,
                                                          "mrd-lake-formation-data-access", "mrd-data-write-back")}
        for consumer in data.consumers:
            for env in consumer.environments:
                key = f"{consumer.project}-{env}"
                arns |= {f"arn:aws:iam::{ids[key]}:role/{project_role_name(platform, consumer.project, env, r)}" for r in consumer.roles}
        if model_producers(platform):
            services.add("rekognition.amazonaws.com")
    else:
        project, env = stack.rsplit("-", 1)
        pb = data.project_buckets
        for persona in {*pb.team_roles, *pb.automation_roles, *pb.reviewer_roles}:
            arns.add(f"arn:aws:iam::{own}:role/{project_role_name(platform, project, env, persona)}")
        # The workspace's job roles (configured in workspace.service_roles) and the deploying
        # role, which writes the SecureString parameters and hands the key to Studio.
        arns |= {f"arn:aws:iam::{own}:role/{name}" for name in service_role_names(platform, project, env).values()}
        arns.add(f"arn:aws:iam::{own}:role/{platform.organization.deployment_role}")
        if env == "preprod":
            # The registry's consumers in prod (automation, and the hosting role SageMaker fetches
            # a registered version's model with) read the registered versions' artifacts.
            arns |= {f"arn:aws:iam::{ids[project + '-prod']}:role/{project_role_name(platform, project, 'prod', r)}"
                     for r in [*pb.automation_roles, service_role_suffixes(platform)["hosting"]]}
        # A model producer's Rekognition reads training data and writes output (model_sharing).
        if is_producer(platform, project, env):
            services.add("rekognition.amazonaws.com")
    roots = {f"arn:aws:iam::{a.split(':')[4]}:root" for a in arns}
    return roots, arns, services


@pytest.mark.parametrize("stack", DATA_STACKS)
def test_key_policies_name_only_configured_principals(sample_runs, platform, ids, stack):
    roots, arns, services = configured_principals(platform, ids, stack)
    for key in data_keys(sample_runs(stack)):
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            principal = statement["Principal"]
            if "Service" in principal:
                assert principal["Service"] in services, (key.name, statement["Sid"])
                # A service acts only for a configured account of the platform.
                assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] in set(ids.values())
                continue
            named_roots = set(principal["AWS"] if isinstance(principal["AWS"], list) else [principal["AWS"]])
            named_arns = set(statement["Condition"]["ArnLike"]["aws:PrincipalArn"])
            assert named_roots <= roots, (key.name, statement["Sid"], named_roots - roots)
            assert named_arns <= arns, (key.name, statement["Sid"], named_arns - arns)
            # Every account named is narrowed to roles of that account: no whole-account grant.
            assert {f"arn:aws:iam::{a.split(':')[4]}:root" for a in named_arns} == named_roots


def test_domain_keys_name_only_that_domains_consumers(lake, ids):
    keys = {k.name: json.loads(k.inputs["policy"]) for k in lake.of_type(KEY)}
    transactions = json.dumps(keys["domain-transactions-key"])
    documents = json.dumps(keys["domain-documents-key"])
    for env in ("dev", "preprod", "prod"):
        assert ids[f"document-vision-{env}"] not in transactions
    for env in ("dev", "preprod"):
        assert ids[f"fraud-detection-{env}"] not in documents
    assert ids["fraud-detection-prod"] in transactions and ids["document-vision-prod"] not in documents


# -- Lake Formation ---------------------------------------------------------------------------

def test_lake_formation_admins_are_the_deployer_and_configured_admins_only(lake, ids, platform):
    (settings,) = lake.of_type(LF_SETTINGS)
    account = ids["data-lake"]
    assert settings.inputs["admins"] == [f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                         f"arn:aws:iam::{account}:role/mrd-data-platform-admin"]
    # No IAMAllowedPrincipals defaults: Lake Formation permissions decide.
    assert settings.inputs.get("createDatabaseDefaultPermissions", []) == []
    assert settings.inputs.get("createTableDefaultPermissions", []) == []
    assert settings.inputs["parameters"] == {"CROSS_ACCOUNT_VERSION": "4"}


def test_every_domain_bucket_is_registered_with_the_lake_formation_role(lake, ids):
    role = f"arn:aws:iam::{ids['data-lake']}:role/mrd-lake-formation-data-access"
    registered = {r.inputs["arn"]: r.inputs["roleArn"] for r in lake.of_type(LF_RESOURCE)}
    expected = {f"arn:aws:s3:::mrd-data-lake-{d}-{z}-111111111111" for d in ("transactions", "documents") for z in ("raw", "curated", "features")}
    assert set(registered) == expected and set(registered.values()) == {role}
    assert not any(r.inputs.get("useServiceLinkedRole") for r in lake.of_type(LF_RESOURCE))


def test_catalog_databases_per_domain(lake):
    names = {r.inputs["name"]: r.inputs["locationUri"] for r in lake.of_type(GLUE_DB)}
    assert names == {
        f"mrd_{d}_{z}": f"s3://mrd-data-lake-{d}-{'curated' if z == 'redacted' else z}-111111111111/{'redacted/' if z == 'redacted' else ''}"
        for d in ("transactions", "documents") for z in ("raw", "curated", "features", "redacted")
    }


def test_cross_account_grants_go_only_to_configured_accounts_read_only(lake, ids, platform):
    lake_account = ids["data-lake"]
    expected: set[tuple[str, str]] = set()
    for consumer in platform.data_lake.consumers:
        for env in consumer.environments:
            for domain in consumer.domains:
                expected |= {(ids[f"{consumer.project}-{env}"], db) for db in consumer_databases(platform, consumer, domain)}
    granted: dict[tuple[str, str], set[str]] = {}
    for grant in lake.of_type(LF_PERMISSIONS):
        principal = grant.inputs["principal"]
        if principal.startswith("arn:"):
            # In-account grants: the data engineers only.
            assert principal == f"arn:aws:iam::{lake_account}:role/mrd-data-engineer", grant.name
            continue
        assert principal in set(ids.values()) and principal != lake_account
        database = grant.inputs.get("database", {}).get("name") or grant.inputs["table"]["databaseName"]
        if "table" in grant.inputs:
            assert grant.inputs["table"]["wildcard"] is True
        assert set(grant.inputs["permissions"]) <= {"SELECT", "DESCRIBE"}
        granted.setdefault((principal, database), set()).update(grant.inputs["permissions"])
    assert set(granted) == expected
    assert all(perms == {"SELECT", "DESCRIBE"} for perms in granted.values())
    # The restricted domain reaches document-vision's dev account as masked copies only.
    assert {db for acct, db in granted if acct == ids["document-vision-dev"]} == {"mrd_documents_redacted"}
    assert not any(db.endswith("_raw") for _, db in granted)


def test_data_engineers_athena_workgroup_is_enforced_and_encrypted(lake):
    (workgroup,) = lake.of_type(WORKGROUP)
    config = workgroup.inputs["configuration"]
    assert workgroup.inputs["name"] == "mrd-data-engineering"
    assert config["enforceWorkgroupConfiguration"] is True
    assert config["bytesScannedCutoffPerQuery"] == 100 * 1024**3
    result = config["resultConfiguration"]
    assert result["outputLocation"] == "s3://mrd-data-lake-athena-results-111111111111/athena-results/"
    assert result["encryptionConfiguration"]["encryptionOption"] == "SSE_KMS"
    platform_key = lake.named("data-lake-platform-key", KEY).outputs["arn"]
    assert result["encryptionConfiguration"]["kmsKeyArn"] == platform_key


def test_lifecycle_follows_configuration(lake):
    rules = for_bucket(lake, LIFECYCLE, "mrd-data-lake-transactions-raw-111111111111").inputs["rules"]
    assert rules[0]["transitions"] == [{"days": 90, "storageClass": "GLACIER_IR"}]
    assert rules[0]["noncurrentVersionExpiration"]["noncurrentDays"] == 2555
    assert "expiration" not in rules[0] or not rules[0]["expiration"]


def test_data_lake_outputs_contract(lake, ids):
    out = lake.outputs
    assert out["accountId"] == ids["data-lake"]
    assert set(out["domains"]) == {"transactions", "documents"}
    transactions = out["domains"]["transactions"]
    assert transactions["keyArn"].startswith(f"arn:aws:kms:eu-west-1:{ids['data-lake']}:key/")
    assert transactions["buckets"]["curated"] == {"name": "mrd-data-lake-transactions-curated-111111111111",
                                                   "arn": "arn:aws:s3:::mrd-data-lake-transactions-curated-111111111111"}
    assert set(transactions["databases"]) == {"mrd_transactions_raw", "mrd_transactions_curated",
                                              "mrd_transactions_features", "mrd_transactions_redacted"}
    assert out["consumerGrants"]["document-vision-dev"] == {"documents": ["mrd_documents_redacted"]}
    assert out["writeBackRoleArn"] == f"arn:aws:iam::{ids['data-lake']}:role/mrd-data-write-back"


# -- project bucket sets ---------------------------------------------------------------------

@pytest.mark.parametrize("stack", DATA_STACKS[1:])
def test_each_environment_holds_its_bucket_kinds(sample_runs, stack):
    project, env = stack.rsplit("-", 1)
    assert sorted(data_buckets(sample_runs(stack))) == sorted(f"mrd-{project}-{env}-{k}-111111111111" for k in KINDS_BY_ENVIRONMENT[env])


def test_model_and_dataset_buckets_carry_lineage_tags(sample_runs):
    run = sample_runs("fraud-detection-preprod")
    models = next(r for r in run.of_type(BUCKET) if r.inputs["bucket"] == "mrd-fraud-detection-preprod-models-111111111111")
    assert models.inputs["tags"]["lineage"] == "required"
    assert models.inputs["tags"]["lineage-object-tags"] == "source-commit dataset-version training-job"
    datasets = next(r for r in run.of_type(BUCKET) if r.inputs["bucket"] == "mrd-fraud-detection-preprod-datasets-111111111111")
    assert datasets.inputs["tags"]["lineage"] == "required"
    rules = for_bucket(run, LIFECYCLE, "mrd-fraud-detection-preprod-datasets-111111111111").inputs["rules"]
    assert rules[0]["noncurrentVersionExpiration"]["noncurrentDays"] == 2555


def test_consumer_workgroup_in_the_consumers_account(sample_runs, ids):
    run = sample_runs("fraud-detection-dev")
    (workgroup,) = run.of_type(WORKGROUP)
    config = workgroup.inputs["configuration"]
    assert workgroup.inputs["name"] == "mrd-fraud-detection-dev-data-lake"
    assert config["enforceWorkgroupConfiguration"] is True
    assert config["bytesScannedCutoffPerQuery"] == 50 * 1024**3
    result = config["resultConfiguration"]
    assert result["outputLocation"] == "s3://mrd-fraud-detection-dev-experimentation-111111111111/athena-results/"
    assert result["expectedBucketOwner"] == ids["fraud-detection-dev"]
    (key,) = data_keys(run)
    assert result["encryptionConfiguration"] == {"encryptionOption": "SSE_KMS", "kmsKeyArn": key.outputs["arn"]}
    preprod = sample_runs("fraud-detection-preprod").of_type(WORKGROUP)[0]
    assert preprod.inputs["configuration"]["bytesScannedCutoffPerQuery"] == 100 * 1024**3
    assert preprod.inputs["configuration"]["resultConfiguration"]["outputLocation"].startswith("s3://mrd-fraud-detection-preprod-pipeline-111111111111/")
    # document-vision's prod account reads nothing from the lake: no workgroup, no links.
    assert not sample_runs("document-vision-prod").of_type(WORKGROUP)
    assert not sample_runs("document-vision-prod").of_type(LF_PERMISSIONS)


def test_consumer_links_and_grants_name_configured_roles_only(sample_runs, ids, platform):
    run = sample_runs("document-vision-dev")
    (link,) = run.of_type(GLUE_DB)
    assert link.inputs["name"] == "mrd_documents_redacted"
    assert link.inputs["targetDatabase"]["catalogId"] == ids["data-lake"]
    assert link.inputs["targetDatabase"]["databaseName"] == "mrd_documents_redacted"
    (settings,) = run.of_type(LF_SETTINGS)
    assert settings.inputs["admins"] == [f"arn:aws:iam::{ids['document-vision-dev']}:role/OrganizationAccountAccessRole"]
    principals = {g.inputs["principal"] for g in run.of_type(LF_PERMISSIONS)}
    account = ids["document-vision-dev"]
    assert principals == {f"arn:aws:iam::{account}:role/mrd-document-vision-dev-{r}" for r in ("data-scientist", "sm-execution")}
    for grant in run.of_type(LF_PERMISSIONS):
        assert set(grant.inputs["permissions"]) <= {"SELECT", "DESCRIBE"}
        assert not grant.inputs.get("permissionsWithGrantOptions")


def test_project_data_outputs_contract(sample_runs, ids):
    data = sample_runs("document-vision-dev").outputs["data"]
    account = ids["document-vision-dev"]
    assert data["keyArn"].startswith(f"arn:aws:kms:eu-west-1:{account}:key/")
    assert set(data["buckets"]) == {"experimentation", "access-logs"}
    assert data["buckets"]["experimentation"]["arn"] == "arn:aws:s3:::mrd-document-vision-dev-experimentation-111111111111"
    assert data["lakeDatabases"] == ["mrd_documents_redacted"]
    assert data["athenaWorkgroup"] == "mrd-document-vision-dev-data-lake"
    lake_domains = sample_runs("data-lake").outputs["domains"]
    assert data["lakeReadable"] == {"documents": {
        "keyArn": lake_domains["documents"]["keyArn"], "prefix": "redacted/",
        "bucketArns": ["arn:aws:s3:::mrd-data-lake-documents-curated-111111111111"]}}
    prod = sample_runs("document-vision-prod").outputs["data"]
    assert set(prod) == {"keyArn", "buckets"}


def test_grants_wait_for_lake_formation_administration_and_registration(lake):
    (settings,) = lake.of_type(LF_SETTINGS)
    locations = {r.urn for r in lake.of_type(LF_RESOURCE)}
    for grant in lake.of_type(LF_PERMISSIONS):
        assert settings.urn in grant.dependencies, grant.name
        if "dataLocation" in grant.inputs:
            assert locations <= set(grant.dependencies), grant.name
    for location in lake.of_type(LF_RESOURCE):
        assert settings.urn in location.dependencies
