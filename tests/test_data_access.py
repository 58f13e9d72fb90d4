"""Who can read and write each kind of data, decided from the policies the program registers.

A small evaluator of the IAM policy language (the subset the data layer uses) answers "may
this principal do this action on this object?" from the bucket and key policies as
registered. It is deliberately pessimistic about the bucket's own account: a principal there
is assumed to hold an IAM policy allowing everything, so only the bucket policy's denies can
stop it. A principal of another account needs an allow in the resource policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase

import pytest

REGION = "eu-west-1"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


# -- a minimal policy evaluator ----------------------------------------------------------

@dataclass(frozen=True)
class Who:
    account: str
    role: str | None = None  # IAM role name, or None for a service principal
    service: str | None = None
    organization: str = ""  # for IAM principals: the organization of their account

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role}"

    def context(self) -> dict[str, str]:
        if self.service:
            return {"aws:SourceAccount": self.account, "aws:SecureTransport": "true", "aws:PrincipalIsAWSService": "true"}
        return {"aws:PrincipalArn": self.arn, "aws:SecureTransport": "true", "aws:PrincipalIsAWSService": "false",
                "aws:PrincipalOrgID": self.organization}


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal, who: Who) -> bool:
    if principal == "*":
        return True
    if who.service:
        return who.service in _list(principal.get("Service", []))
    return f"arn:aws:iam::{who.account}:root" in _list(principal.get("AWS", [])) or who.arn in _list(principal.get("AWS", []))


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        if_exists = operator.endswith("IfExists")
        base = operator[: -len("IfExists")] if if_exists else operator
        for key, values in tests.items():
            values = [str(v).lower() if base == "Bool" else str(v) for v in _list(values)]
            present = key in context
            if base == "Null":
                if present == (values[0].lower() == "true"):
                    return False
                continue
            if not present:
                if if_exists or "Not" in base:
                    continue
                return False
            value = context[key]
            like = base.endswith("Like")
            hit = any(fnmatchcase(value, v) if like else value == v for v in values)
            if base in ("StringEquals", "ArnEquals", "Bool", "StringLike", "ArnLike"):
                ok = hit
            elif base in ("StringNotEquals", "ArnNotEquals", "StringNotLike", "ArnNotLike"):
                ok = not hit
            else:
                raise AssertionError(f"the evaluator does not know {operator}")
            if not ok:
                return False
    return True


def _statement_matches(statement: dict, who: Who, action: str, resource: str, context: dict) -> bool:
    if not _principal_matches(statement["Principal"], who):
        return False
    if not any(fnmatchcase(action.lower(), a.lower()) for a in _list(statement["Action"])):
        return False
    if "Resource" in statement:
        if not any(fnmatchcase(resource, r) for r in _list(statement["Resource"])):
            return False
    elif any(fnmatchcase(resource, r) for r in _list(statement["NotResource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def decide(policy: dict, who: Who, action: str, resource: str, extra: dict | None = None) -> str:
    """'deny' (explicit), 'allow', or 'none' for one request against one resource policy."""
    context = {**who.context(), **(extra or {})}
    matched = [s["Effect"] for s in policy["Statement"] if _statement_matches(s, who, action, resource, context)]
    return "deny" if "Deny" in matched else "allow" if "Allow" in matched else "none"


class Buckets:
    """Bucket policies and owners of one run, queried by bucket name."""

    def __init__(self, run, owner: str):
        self.policies = {r.inputs["bucket"]: json.loads(r.inputs["policy"]) for r in run.of_type(BUCKET_POLICY)}
        self.keys = {r.inputs["bucket"]: r.inputs["rules"][0]["applyServerSideEncryptionByDefault"].get("kmsMasterKeyId")
                     for r in run.of_type(SSE)}
        self.owner = owner

    def can(self, who: Who, action: str, bucket: str, key: str = "data/part-0000.parquet", extra: dict | None = None,
            sse_headers: bool = True) -> bool:
        """`sse_headers`: uploads name SSE-KMS and the bucket's key, as a well-configured
        client (SDK, SageMaker with an output KMS key, Athena with SSE_KMS results) does."""
        on_bucket = action.startswith(("s3:List", "s3:GetBucket"))
        resource = f"arn:aws:s3:::{bucket}" if on_bucket else f"arn:aws:s3:::{bucket}/{key}"
        if action == "s3:PutObject" and sse_headers and self.keys[bucket]:
            extra = {"s3:x-amz-server-side-encryption": "aws:kms",
                     "s3:x-amz-server-side-encryption-aws-kms-key-id": self.keys[bucket], **(extra or {})}
        elif action == "s3:PutObject" and sse_headers:  # an SSE-S3 access-log target
            extra = {"s3:x-amz-server-side-encryption": "AES256", **(extra or {})}
        decision = decide(self.policies[bucket], who, action, resource, extra)
        if decision == "deny":
            return False
        # Same account: IAM alone may grant (assumed to); another account needs the bucket's allow.
        return decision == "allow" or (who.account == self.owner and who.service is None)

    def reads(self, who: Who, bucket: str, key: str = "data/part-0000.parquet") -> bool:
        return self.can(who, "s3:GetObject", bucket, key)

    def writes(self, who: Who, bucket: str, key: str = "data/part-0000.parquet") -> bool:
        return self.can(who, "s3:PutObject", bucket, key)


def key_policy_for_bucket(run, bucket: str) -> dict:
    """The policy of the KMS key that encrypts `bucket`."""
    sse = next(r for r in run.of_type(SSE) if r.inputs["bucket"] == bucket)
    key_arn = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
    key = next(r for r in run.of_type(KEY) if r.outputs.get("arn") == key_arn)
    return json.loads(key.inputs["policy"])


def key_allows(run, bucket: str, who: Who, action: str) -> bool:
    """Key policies here never delegate to IAM alone: the key policy must allow."""
    via = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    return decide(key_policy_for_bucket(run, bucket), who, action, "*", via) == "allow"


# -- fixtures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ids(sample_runs) -> AccountIds:
    found = AccountIds(sample_runs("organization").outputs["accountIds"])
    found.organization = sample_runs("organization").outputs["organizationId"]
    return found


@pytest.fixture(scope="module")
def lake(sample_runs, ids) -> Buckets:
    return Buckets(sample_runs("data-lake"), ids["data-lake"])


class AccountIds(dict):
    """Account ids by key, and the organization they belong to."""

    organization: str


def person(ids: AccountIds, account_key: str, role_name: str) -> Who:
    """A role of the organization's account `account_key`."""
    return Who(ids[account_key], role_name, organization=ids.organization)


def role(ids: AccountIds, account_key: str, persona: str) -> Who:
    """A persona role of a project account (`mrd-<project>-<env>-<persona>`)."""
    return person(ids, account_key, f"mrd-{account_key}-{persona}")


# -- the data lake -----------------------------------------------------------------------

def test_dev_account_reads_curated_and_feature_data_and_cannot_write_it(lake, ids, sample_runs):
    scientist = role(ids, "fraud-detection-dev", "data-scientist")
    for zone in ("curated", "features"):
        bucket = f"mrd-data-lake-transactions-{zone}-111111111111"
        assert lake.reads(scientist, bucket)
        assert lake.can(scientist, "s3:ListBucket", bucket)
        assert not lake.writes(scientist, bucket)
        assert not lake.can(scientist, "s3:DeleteObject", bucket)
        assert key_allows(sample_runs("data-lake"), bucket, scientist, "kms:Decrypt")
        assert not key_allows(sample_runs("data-lake"), bucket, scientist, "kms:GenerateDataKey")


def test_granted_roles_outside_the_organization_are_refused(lake, ids, sample_runs):
    # The same account and role name, presented by a principal outside the organization
    # (an account id reused after leaving it, a mistyped account): refused.
    outsider = Who(ids["fraud-detection-dev"], "mrd-fraud-detection-dev-data-scientist", organization="o-elsewhere00")
    assert not lake.reads(outsider, "mrd-data-lake-transactions-curated-111111111111")
    assert not key_allows(sample_runs("data-lake"), "mrd-data-lake-transactions-curated-111111111111", outsider, "kms:Decrypt")


def test_raw_data_stays_in_the_data_lake_account(lake, ids):
    engineer = person(ids, "data-lake", "mrd-data-engineer")
    for domain in ("transactions", "documents"):
        bucket = f"mrd-data-lake-{domain}-raw-111111111111"
        assert lake.reads(engineer, bucket) and lake.writes(engineer, bucket)
        for key in ("fraud-detection-dev", "fraud-detection-prod", "document-vision-preprod"):
            for persona in ("data-scientist", "sm-execution"):
                assert not lake.reads(role(ids, key, persona), bucket)
        # Other roles of the lake's own account are denied even with broad IAM policies; the
        # deploying role lists the bucket (HeadBucket) but reads and writes no object.
        assert not lake.reads(person(ids, "data-lake", "mrd-data-platform-admin"), bucket)
        assert not lake.can(person(ids, "data-lake", "mrd-data-platform-admin"), "s3:ListBucket", bucket)
        deployer = person(ids, "data-lake", "OrganizationAccountAccessRole")
        assert lake.can(deployer, "s3:ListBucket", bucket)
        assert not lake.reads(deployer, bucket) and not lake.writes(deployer, bucket)


def test_only_granted_accounts_and_roles_read_a_domain(lake, ids):
    curated = "mrd-data-lake-transactions-curated-111111111111"
    assert lake.reads(role(ids, "fraud-detection-preprod", "sm-execution"), curated)
    # Not configured: another persona of a granted account, any role of another project.
    assert not lake.reads(role(ids, "fraud-detection-preprod", "data-scientist"), curated)
    assert not lake.reads(role(ids, "fraud-detection-prod", "model-consumer"), curated)
    assert not lake.reads(role(ids, "document-vision-dev", "data-scientist"), curated)
    assert not lake.reads(person(ids, "shared-services", "mrd-shared-services-admin"), curated)


def test_restricted_domain_reaches_dev_only_as_redacted_copies(lake, ids):
    curated = "mrd-data-lake-documents-curated-111111111111"
    dev = role(ids, "document-vision-dev", "data-scientist")
    assert lake.reads(dev, curated, "redacted/cheques/2024/01/batch.parquet")
    assert not lake.reads(dev, curated, "cheques/2024/01/batch.parquet")
    assert lake.can(dev, "s3:ListBucket", curated, extra={"s3:prefix": "redacted/cheques/"})
    assert not lake.can(dev, "s3:ListBucket", curated, extra={"s3:prefix": "cheques/"})
    assert not lake.writes(dev, curated, "redacted/cheques/forged.parquet")
    assert not lake.reads(dev, "mrd-data-lake-documents-features-111111111111")
    # Pre-production pipelines train on the unmodified data.
    assert lake.reads(role(ids, "document-vision-preprod", "sm-execution"), curated, "cheques/2024/01/batch.parquet")


def test_write_back_only_through_the_approval_role_under_contributed(lake, ids):
    write_back = person(ids, "data-lake", "mrd-data-write-back")
    for zone in ("curated", "features"):
        bucket = f"mrd-data-lake-transactions-{zone}-111111111111"
        assert lake.writes(write_back, bucket, "contributed/fraud-detection/features.parquet")
        assert not lake.writes(write_back, bucket, "cards/2024/part-0.parquet")
        assert not lake.reads(write_back, bucket, "cards/2024/part-0.parquet")
        assert not lake.can(write_back, "s3:DeleteObject", bucket, "contributed/fraud-detection/features.parquet")
        assert not lake.can(write_back, "s3:DeleteObjectVersion", bucket, "contributed/x")
    assert not lake.writes(write_back, "mrd-data-lake-transactions-raw-111111111111", "contributed/x")
    # Nobody in a project account writes back directly, whatever the prefix.
    assert not lake.writes(role(ids, "fraud-detection-dev", "ml-engineer"), "mrd-data-lake-transactions-curated-111111111111", "contributed/x")


def test_log_delivery_without_encryption_headers_is_accepted(lake, ids):
    service = Who(ids["data-lake"], service="logging.s3.amazonaws.com")
    assert lake.can(service, "s3:PutObject", "mrd-data-lake-access-logs-111111111111", "mrd-data-lake-transactions-raw-111111111111/2024-01-01-X",
                    extra={"aws:SourceArn": "arn:aws:s3:::mrd-data-lake-transactions-raw-111111111111"}, sse_headers=False)


def test_data_lake_trust_policies_name_only_configured_principals(sample_runs, ids):
    run = sample_runs("data-lake")
    trust = json.loads(run.named("data-write-back", "aws:iam/role:Role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ids['automation']}:root"}
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [f"arn:aws:iam::{ids['automation']}:role/mrd-data-approval"]},
                                      "StringEquals": {"aws:PrincipalOrgID": ids.organization}}
    lf = json.loads(run.named("lake-formation-data-access", "aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert lf["Statement"][0]["Principal"] == {"Service": "lakeformation.amazonaws.com"}
    assert lf["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ids["data-lake"]}}


def test_access_logs_are_written_by_the_logging_service_only(lake, ids):
    logs = "mrd-data-lake-access-logs-111111111111"
    service = Who(ids["data-lake"], service="logging.s3.amazonaws.com")
    assert lake.can(service, "s3:PutObject", logs, "mrd-data-lake-transactions-raw-111111111111/2024-01-01-00-00-00-X",
                    extra={"aws:SourceArn": "arn:aws:s3:::mrd-data-lake-transactions-raw-111111111111"})
    assert not lake.can(Who(ids["fraud-detection-dev"], service="logging.s3.amazonaws.com"), "s3:PutObject", logs,
                        extra={"aws:SourceArn": "arn:aws:s3:::mrd-fraud-detection-dev-experimentation-111111111111"})
    for who in (person(ids, "data-lake", "mrd-data-engineer"), person(ids, "data-lake", "OrganizationAccountAccessRole")):
        assert not lake.writes(who, logs) and not lake.can(who, "s3:DeleteObject", logs)


# -- Rekognition Custom Labels training from the model-producer account --------------------

def test_rekognition_in_the_producer_account_reads_training_data(run_platform, sample_platform, sample_runs, ids):
    # The sample's document-vision shares its model from preprod (model_sharing): Rekognition
    # Custom Labels in that account trains on the curated lake documents preprod may read.
    lake = Buckets(sample_runs("data-lake"), ids["data-lake"])
    curated = "mrd-data-lake-documents-curated-111111111111"
    producer = Who(ids["document-vision-preprod"], service="rekognition.amazonaws.com")
    assert lake.can(producer, "s3:GetObject", curated, "labels/manifest.json")
    assert lake.can(producer, "s3:GetBucketAcl", curated)
    assert not lake.can(producer, "s3:PutObject", curated, "output.json")
    # The same service acting for any other account is refused (confused deputy).
    for other in ("fraud-detection-dev", "document-vision-dev", "document-vision-prod"):
        assert not lake.can(Who(ids[other], service="rekognition.amazonaws.com"), "s3:GetObject", curated, "x.png")
    assert key_allows(sample_runs("data-lake"), curated, producer, "kms:Decrypt")
    assert not key_allows(sample_runs("data-lake"), curated, Who(ids["fraud-detection-dev"], service="rekognition.amazonaws.com"),
                          "kms:Decrypt")
    # A dev producer (dev and preprod consumers only) reads what dev may: the redacted copies.
    sharing = sample_platform["model_sharing"]["projects"]["document-vision"]
    sharing["producer"] = "dev"
    sharing["consumers"] = {"dev": sharing["consumers"]["preprod"]}
    dev_lake = Buckets(run_platform("data-lake", platform=sample_platform), ids["data-lake"])
    dev_producer = Who(ids["document-vision-dev"], service="rekognition.amazonaws.com")
    assert dev_lake.can(dev_producer, "s3:GetObject", curated, "redacted/labels/manifest.json")
    assert not dev_lake.can(dev_producer, "s3:GetObject", curated, "cheques/2024/01/scan.png")
    assert not dev_lake.can(producer, "s3:GetObject", curated, "labels/manifest.json")
    # Without a producer the lake admits no service principal at all.
    del sample_platform["model_sharing"]
    plain = Buckets(run_platform("data-lake", platform=sample_platform), ids["data-lake"])
    assert not plain.can(producer, "s3:GetObject", curated, "labels/manifest.json")
    assert not plain.can(dev_producer, "s3:GetObject", curated, "redacted/labels/manifest.json")


def test_rekognition_writes_training_output_to_the_producer_work_bucket(sample_runs, ids):
    # The producer (preprod) reads its data sets and writes output to its pipeline bucket only.
    own = Buckets(sample_runs("document-vision-preprod"), ids["document-vision-preprod"])
    work = "mrd-document-vision-preprod-pipeline-111111111111"
    datasets = "mrd-document-vision-preprod-datasets-111111111111"
    service = Who(ids["document-vision-preprod"], service="rekognition.amazonaws.com")
    acl = {"s3:x-amz-acl": "bucket-owner-full-control"}
    assert own.can(service, "s3:PutObject", work, "rekognition/output/manifest.json", extra=acl)
    assert own.can(service, "s3:GetObject", datasets, "training/manifest.json")
    assert not own.can(service, "s3:PutObject", datasets, "training/manifest.json", extra=acl)
    assert not own.can(Who(ids["fraud-detection-dev"], service="rekognition.amazonaws.com"), "s3:PutObject", work,
                       extra=acl)


# -- the project bucket sets ---------------------------------------------------------------

@pytest.fixture(scope="module")
def preprod(sample_runs, ids) -> Buckets:
    return Buckets(sample_runs("fraud-detection-preprod"), ids["fraud-detection-preprod"])


def test_pipeline_buckets_admit_automation_roles_only(sample_runs, ids):
    for env in ("preprod", "prod"):
        key = f"fraud-detection-{env}"
        run = sample_runs(key)
        buckets = Buckets(run, ids[key])
        bucket = f"mrd-{key}-pipeline-111111111111"
        automation = role(ids, key, "sm-execution")
        assert buckets.reads(automation, bucket) and buckets.writes(automation, bucket)
        for persona in ("data-scientist", "ml-engineer", "model-consumer"):
            human = role(ids, key, persona)
            assert not buckets.reads(human, bucket), (env, persona)
            assert not buckets.writes(human, bucket), (env, persona)
        assert not buckets.reads(person(ids, key, "OrganizationAccountAccessRole"), bucket)
        assert not buckets.reads(role(ids, "fraud-detection-dev", "sm-execution"), bucket)
        assert key_allows(run, bucket, automation, "kms:GenerateDataKey")
        assert not key_allows(run, bucket, role(ids, key, "data-scientist"), "kms:Decrypt")


def test_datasets_and_models_are_written_by_automation_and_read_by_reviewers(preprod, ids, sample_runs):
    key = "fraud-detection-preprod"
    automation, reviewer, scientist = (role(ids, key, p) for p in ("sm-execution", "ml-engineer", "data-scientist"))
    for kind in ("datasets", "models"):
        bucket = f"mrd-{key}-{kind}-111111111111"
        assert preprod.reads(automation, bucket) and preprod.writes(automation, bucket)
        assert preprod.reads(reviewer, bucket) and not preprod.writes(reviewer, bucket)
        assert not preprod.reads(scientist, bucket) and not preprod.writes(scientist, bucket)
        assert not preprod.can(reviewer, "s3:DeleteObjectVersion", bucket)
    # Dev cannot reach pre-production data at all.
    assert not preprod.reads(role(ids, "fraud-detection-dev", "data-scientist"), f"mrd-{key}-datasets-111111111111")


def test_prod_automation_promotes_models_from_preprod(preprod, ids, sample_runs):
    bucket = "mrd-fraud-detection-preprod-models-111111111111"
    prod_automation = role(ids, "fraud-detection-prod", "sm-execution")
    # Only the registered versions' artifacts (shared_services.model_registry.artifact_prefix).
    registered = "registry/mrd-fraud-detection/fraud-xgb/v12/model.tar.gz"
    assert preprod.reads(prod_automation, bucket, registered)
    assert not preprod.reads(prod_automation, bucket, "fraud-xgb/v12/model.tar.gz")
    assert not preprod.reads(prod_automation, bucket, "registry/mrd-document-vision/model.tar.gz")
    assert not preprod.writes(prod_automation, bucket, registered)
    assert key_allows(sample_runs("fraud-detection-preprod"), bucket, prod_automation, "kms:Decrypt")
    assert not preprod.reads(role(ids, "fraud-detection-prod", "data-scientist"), bucket)
    assert not preprod.reads(role(ids, "document-vision-prod", "sm-execution"), bucket)
    prod = Buckets(sample_runs("fraud-detection-prod"), ids["fraud-detection-prod"])
    assert prod.writes(prod_automation, "mrd-fraud-detection-prod-models-111111111111")
    assert not prod.writes(role(ids, "fraud-detection-prod", "ml-engineer"), "mrd-fraud-detection-prod-models-111111111111")


def test_experimentation_bucket_is_the_teams(sample_runs, ids):
    key = "fraud-detection-dev"
    run = sample_runs(key)
    dev = Buckets(run, ids[key])
    bucket = f"mrd-{key}-experimentation-111111111111"
    for persona in ("data-scientist", "ml-engineer", "sm-execution"):
        assert dev.reads(role(ids, key, persona), bucket) and dev.writes(role(ids, key, persona), bucket)
        assert key_allows(run, bucket, role(ids, key, persona), "kms:GenerateDataKey")
    assert not dev.reads(role(ids, key, "model-consumer"), bucket)
    assert not dev.reads(role(ids, "fraud-detection-preprod", "sm-execution"), bucket)
    assert not dev.reads(role(ids, "document-vision-dev", "data-scientist"), bucket)
    assert not key_allows(run, bucket, role(ids, "document-vision-dev", "data-scientist"), "kms:Decrypt")


def test_project_access_logs_take_only_this_accounts_log_delivery(sample_runs, ids):
    key = "fraud-detection-dev"
    dev = Buckets(sample_runs(key), ids[key])
    logs = f"mrd-{key}-access-logs-111111111111"
    service = Who(ids[key], service="logging.s3.amazonaws.com")
    source = {"aws:SourceArn": f"arn:aws:s3:::mrd-{key}-experimentation-111111111111"}
    assert dev.can(service, "s3:PutObject", logs, extra=source)
    assert not dev.can(Who(ids["fraud-detection-prod"], service="logging.s3.amazonaws.com"), "s3:PutObject", logs, extra=source)
    assert not dev.writes(role(ids, key, "data-scientist"), logs)
    assert not dev.can(role(ids, key, "data-scientist"), "s3:DeleteObject", logs)
