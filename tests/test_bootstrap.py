"""The state backend's bootstrap (`python -m deploy.bootstrap`) against moto's in-process AWS."""

from __future__ import annotations

import json

import pytest

from deploy import bootstrap
from policy_documents.service_authorization import validate_document
from stacks.config import load_platform_file

from tests.conftest import SAMPLE_DIR, load_sample_platform

REGION = "eu-west-1"
MANAGEMENT = str(load_sample_platform()["organization"]["management_account_id"])
STATE_BUCKET = f"mrd-pulumi-state-{MANAGEMENT}"
LOG_BUCKET = f"mrd-pulumi-state-access-logs-{MANAGEMENT}"

@pytest.fixture
def aws(moto_aws):
    """Sessions in moto's accounts; `aws.mgmt` is the management account's."""
    class Accounts:
        session_in = staticmethod(moto_aws)
        mgmt = moto_aws(MANAGEMENT)
    return Accounts


@pytest.fixture
def run(aws, capsys):
    """Run the command (from the management account unless `session=` says otherwise)."""
    def _run(*argv: str, session=None) -> tuple[int, str, str]:
        code = bootstrap.main(list(argv), session=session or aws.mgmt)
        out = capsys.readouterr()
        return code, out.out, out.err
    return _run


def _settings() -> bootstrap.BackendSettings:
    return bootstrap.settings_from_platform(load_platform_file(SAMPLE_DIR / "platform.yaml"), MANAGEMENT)


def test_state_bucket_is_versioned_kms_encrypted_private_logged_and_tls_only(aws, run):
    code, out, err = run()
    assert code == 0, err
    s3 = aws.mgmt.client("s3")
    kms = aws.mgmt.client("kms")
    state_key = kms.describe_key(KeyId="alias/mrd-pulumi-state")["KeyMetadata"]

    assert s3.get_bucket_location(Bucket=STATE_BUCKET)["LocationConstraint"] == REGION
    assert s3.get_bucket_versioning(Bucket=STATE_BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=STATE_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": state_key["Arn"]}
    assert rule["BucketKeyEnabled"] is True
    assert s3.get_public_access_block(Bucket=STATE_BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert s3.get_bucket_ownership_controls(Bucket=STATE_BUCKET)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s3.get_bucket_logging(Bucket=STATE_BUCKET)["LoggingEnabled"] == {
        "TargetBucket": LOG_BUCKET, "TargetPrefix": f"{STATE_BUCKET}/"}

    policy = json.loads(s3.get_bucket_policy(Bucket=STATE_BUCKET)["Policy"])
    tls = next(st for st in policy["Statement"] if st["Sid"] == "DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*" and tls["Action"] == "s3:*"
    assert tls["Resource"] == [f"arn:aws:s3:::{STATE_BUCKET}", f"arn:aws:s3:::{STATE_BUCKET}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    other_key = next(st for st in policy["Statement"] if st["Sid"] == "DenyOtherKey")
    assert other_key["Condition"] == {"StringNotEqualsIfExists": {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": state_key["Arn"]}}

    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=STATE_BUCKET)["Rules"]}
    assert rules["expire-old-state-versions"]["Status"] == "Enabled"
    assert rules["expire-old-state-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_lifecycle_keeps_the_newest_versions_whatever_their_age():
    # moto drops NewerNoncurrentVersions, so the configuration sent is checked as data.
    rule = bootstrap.state_lifecycle(_settings())["Rules"][0]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90, "NewerNoncurrentVersions": 10}


def test_access_log_bucket_takes_only_the_state_buckets_logs(aws, run):
    assert run()[0] == 0
    s3 = aws.mgmt.client("s3")
    (rule,) = s3.get_bucket_encryption(Bucket=LOG_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}  # S3 log delivery needs SSE-S3
    assert s3.get_bucket_versioning(Bucket=LOG_BUCKET)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=LOG_BUCKET)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    policy = json.loads(s3.get_bucket_policy(Bucket=LOG_BUCKET)["Policy"])
    (allow,) = [st for st in policy["Statement"] if st["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert allow["Resource"] == f"arn:aws:s3:::{LOG_BUCKET}/{STATE_BUCKET}/*"
    assert allow["Condition"] == {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{STATE_BUCKET}"},
                                  "StringEquals": {"aws:SourceAccount": MANAGEMENT}}
    rules = s3.get_bucket_lifecycle_configuration(Bucket=LOG_BUCKET)["Rules"]
    assert rules[0]["Expiration"] == {"Days": 365}


def test_keys_rotate_and_carry_the_policies_built_as_data(aws, run):
    assert run()[0] == 0
    kms = aws.mgmt.client("kms")
    settings = _settings()
    for alias, expected in (("alias/mrd-pulumi-state", bootstrap.state_key_policy(settings)),
                            ("alias/mrd-pulumi-secrets", bootstrap.secrets_key_policy(settings))):
        meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
        assert meta["KeyManager"] == "CUSTOMER" and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
        assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is True
        assert json.loads(kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"]) == expected
    state = bootstrap.state_key_policy(settings)["Statement"]
    admin, use = state
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin["Action"])  # administration only
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"


def test_every_policy_passes_the_service_authorization_data():
    settings = _settings()
    key_arn = f"arn:aws:kms:{REGION}:{MANAGEMENT}:key/00000000-0000-0000-0000-000000000000"
    for doc in (bootstrap.state_key_policy(settings), bootstrap.secrets_key_policy(settings),
                bootstrap.state_bucket_policy(settings, key_arn), bootstrap.log_bucket_policy(settings)):
        assert validate_document(doc) == []


def test_prints_the_login_and_stack_init_commands(aws, run):
    code, out, _ = run()
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    assert f"pulumi login 's3://{STATE_BUCKET}?region={REGION}'" in lines
    provider = f"'awskms://alias/mrd-pulumi-secrets?region={REGION}'"
    assert f"pulumi stack init organization/ml-platform/organization --secrets-provider {provider}" in lines
    assert f"pulumi stack init organization/ml-platform/fraud-detection-prod --secrets-provider {provider}" in lines
    assert lines.index(f"pulumi login 's3://{STATE_BUCKET}?region={REGION}'") < lines.index(
        f"pulumi stack init organization/ml-platform/organization --secrets-provider {provider}")


def test_second_run_creates_nothing_and_repairs_drift(aws, run):
    assert run()[0] == 0
    s3 = aws.mgmt.client("s3")
    kms = aws.mgmt.client("kms")
    keys = sorted(k["KeyId"] for k in kms.list_keys()["Keys"])
    s3.put_bucket_versioning(Bucket=STATE_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_public_access_block(Bucket=STATE_BUCKET)
    state_key = kms.describe_key(KeyId="alias/mrd-pulumi-state")["KeyMetadata"]["KeyId"]
    kms.disable_key_rotation(KeyId=state_key)

    code, out, err = run()
    assert code == 0, err
    assert "created" not in out
    assert out.count("found ") == 4  # two buckets, two keys
    assert sorted(k["KeyId"] for k in kms.list_keys()["Keys"]) == keys
    assert len(s3.list_buckets()["Buckets"]) == 2
    assert s3.get_bucket_versioning(Bucket=STATE_BUCKET)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=STATE_BUCKET)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    assert kms.get_key_rotation_status(KeyId=state_key)["KeyRotationEnabled"] is True


def test_credentials_of_another_account_are_refused(aws, run):
    code, out, err = run(session=aws.session_in("222222222222"))
    assert code == 1
    assert "the credentials are for account 222222222222" in err
    assert f"management account {MANAGEMENT} (organization.management_account_id)" in err
    assert "--account-id 222222222222" in err
    assert aws.mgmt.client("s3").list_buckets()["Buckets"] == []


def test_dedicated_account_is_reached_through_the_member_role(aws, run):
    code, out, err = run("--account-id", "333333333333")
    assert code == 0, err
    assert "state backend in account 333333333333" in out
    dedicated = aws.session_in("333333333333")
    names = {b["Name"] for b in dedicated.client("s3").list_buckets()["Buckets"]}
    assert names == {STATE_BUCKET, LOG_BUCKET}  # the suffix stays the organization's (management) id
    assert aws.mgmt.client("s3").list_buckets()["Buckets"] == []
    key = dedicated.client("kms").describe_key(KeyId="alias/mrd-pulumi-secrets")["KeyMetadata"]
    assert key["Arn"].split(":")[4] == "333333333333"
    assert f"awskms://alias/mrd-pulumi-secrets?region={REGION}" in out


def test_a_key_pending_deletion_is_reported_with_the_fix(aws, run):
    kms = aws.mgmt.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/mrd-pulumi-state", TargetKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    code, _, err = run()
    assert code == 1
    assert f"KMS key alias/mrd-pulumi-state ({key['Arn']}) is PendingDeletion" in err
    assert "aws kms cancel-key-deletion" in err
    assert STATE_BUCKET not in {b["Name"] for b in aws.mgmt.client("s3").list_buckets()["Buckets"]}


def test_a_bucket_name_taken_by_another_account_is_reported(aws, run):
    other = aws.session_in("444444444444").client("s3", region_name=REGION)
    other.create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    code, _, err = run()
    assert code == 1
    assert f"bucket name {STATE_BUCKET} belongs to another AWS account" in err and "set bucket_suffix" in err


def test_bad_flags_are_reported_together_before_any_call(aws, run):
    code, _, err = run("--keep-versions", "0", "--log-retention-days", "0",
                        "--deployer", "arn:aws:iam::999999999999:role/ci")
    assert code == 1
    assert "3 problem(s)" in err
    assert "--keep-versions: 0 (allowed: 1 to 100" in err
    assert "--log-retention-days: 0" in err
    assert "--deployer: 'arn:aws:iam::999999999999:role/ci' is not an IAM principal ARN of account" in err
    assert aws.mgmt.client("s3").list_buckets()["Buckets"] == []


def test_deployers_alone_may_use_the_keys(aws, run):
    role = f"arn:aws:iam::{MANAGEMENT}:role/ml-platform-ci"
    assert run("--deployer", role)[0] == 0
    kms = aws.mgmt.client("kms")
    key = kms.describe_key(KeyId="alias/mrd-pulumi-secrets")["KeyMetadata"]["KeyId"]
    statements = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])["Statement"]
    use = next(st for st in statements if st["Sid"] == "StackSecrets")
    assert use["Principal"] == {"AWS": [role]}


def test_a_new_state_key_alias_replaces_the_buckets_key(aws, run):
    assert run()[0] == 0
    kms, s3 = aws.mgmt.client("kms"), aws.mgmt.client("s3")
    old = kms.describe_key(KeyId="alias/mrd-pulumi-state")["KeyMetadata"]["Arn"]
    code, out, err = run("--state-key-alias", "alias/mrd-pulumi-state-2027")
    assert code == 0, err
    new = kms.describe_key(KeyId="alias/mrd-pulumi-state-2027")["KeyMetadata"]["Arn"]
    assert new != old and f"created KMS key alias/mrd-pulumi-state-2027 ({new})" in out
    (rule,) = s3.get_bucket_encryption(Bucket=STATE_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == new
    policy = json.loads(s3.get_bucket_policy(Bucket=STATE_BUCKET)["Policy"])
    deny = next(st for st in policy["Statement"] if st["Sid"] == "DenyOtherKey")
    assert deny["Condition"]["StringNotEqualsIfExists"]["s3:x-amz-server-side-encryption-aws-kms-key-id"] == new
    # The old key stays enabled: old state versions are still readable.
    assert kms.describe_key(KeyId=old)["KeyMetadata"]["KeyState"] == "Enabled"


def test_bad_key_aliases_are_refused(aws, run):
    code, _, err = run("--state-key-alias", "alias/aws/s3", "--secrets-key-alias", "mrd-secrets")
    assert code == 1
    assert "--state-key-alias: 'alias/aws/s3' is not a customer key alias" in err
    assert "--secrets-key-alias: 'mrd-secrets' is not a customer key alias" in err
    code, _, err = run("--state-key-alias", "alias/one", "--secrets-key-alias", "alias/one")
    assert code == 1 and "are both 'alias/one'" in err
