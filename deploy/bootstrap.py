"""Create the Pulumi state backend, idempotently, with boto3: `python -m deploy.bootstrap`.

The backend must exist before any stack (it holds the stacks' state), so it is not a stack
itself. In the management account (`organization.management_account_id` of the platform
definition), or in a dedicated account with `--account-id` (reached through the member role,
`organization.member_role_name`, unless the credentials are already that account's), it makes:

* the state bucket `<prefix>-pulumi-state-<suffix>` (the platform's bucket naming rule):
  versioned, encrypted with its own customer managed key (bucket key on), TLS only,
  public access blocked, owner-enforced object ownership, server access logs to the log
  bucket, and a lifecycle that expires old state versions (`--keep-versions-days`, keeping
  the newest `--keep-versions` of each object regardless) and incomplete uploads;
* the access-log bucket `<prefix>-pulumi-state-access-logs-<suffix>` (SSE-S3, which S3
  requires for server access log delivery), writable only by the S3 logging service for the
  state bucket, with its own lifecycle (`--log-retention-days`);
* two KMS keys with yearly rotation, each with a key policy built as data: `alias/<prefix>-pulumi-state`
  encrypts the bucket (usable only through S3 in this region), `alias/<prefix>-pulumi-secrets`
  is the stacks' `awskms://` secrets provider. Administration stays with the account (IAM
  policies decide who); use is limited to `--deployer` principals (default: the account, i.e.
  whoever IAM allows).

A second run finds everything, creates nothing, and re-applies the settings (a drifted setting
is put back). It prints the `pulumi login` and `pulumi stack init` commands to use next.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from policy_documents.serialize import document, to_json
from policy_documents.service_authorization import validate_document
from stacks.config import ConfigError, PlatformConfig, bucket_name_problem, load_platform_file

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PLATFORM_FILE = ROOT / "stacks" / "platform.yaml"
PROJECT = "ml-platform"
# Stacks of a DIY backend are fully qualified with this organization name (README, "Stacks").
BACKEND_ORGANIZATION = "organization"
SESSION_NAME = "ml-platform-state-bootstrap"

# Key administration without use: the account keeps the key manageable (IAM policies decide
# who), but reading state or secrets needs the use statement.
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
    "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListKeyPolicies", "kms:ListKeyRotations",
    "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion",
    "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
)
STATE_KEY_USE_ACTIONS = (
    "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo",
)
# What the Pulumi CLI's awskms:// provider calls: it wraps the stack's data key.
SECRETS_KEY_USE_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
ROTATION_PERIOD_DAYS = 365


class BootstrapError(RuntimeError):
    """A problem the user must fix; the message says what and how."""


@dataclass(frozen=True)
class BackendSettings:
    """Everything the bootstrap creates, derived from the platform definition and the flags."""

    account_id: str
    region: str
    bucket: str
    log_bucket: str
    state_key_alias: str
    secrets_key_alias: str
    deployers: tuple[str, ...]
    keep_versions_days: int = 90
    keep_versions: int = 10
    log_retention_days: int = 365
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    @property
    def log_bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.log_bucket}"

    @property
    def login_url(self) -> str:
        return f"s3://{self.bucket}?region={self.region}"

    @property
    def secrets_provider(self) -> str:
        return f"awskms://{self.secrets_key_alias}?region={self.region}"

    @property
    def root(self) -> str:
        return f"arn:aws:iam::{self.account_id}:root"


def settings_from_platform(cfg: PlatformConfig, account_id: str, region: str | None = None,
                           deployers: Sequence[str] = (), keep_versions_days: int = 90, keep_versions: int = 10,
                           log_retention_days: int = 365, state_key_alias: str | None = None,
                           secrets_key_alias: str | None = None) -> BackendSettings:
    """The backend's names and settings; raises BootstrapError listing every bad value."""
    problems = []
    bucket = cfg.bucket_name("pulumi-state")
    log_bucket = cfg.bucket_name("pulumi-state-access-logs")
    for name in (bucket, log_bucket):
        problem = bucket_name_problem(name)
        if problem:
            problems.append(f"bucket name '{name}' {problem}; shorten name_prefix or bucket_suffix")
    if keep_versions_days < 1:
        problems.append(f"--keep-versions-days: {keep_versions_days} (allowed: 1 or more)")
    if not 1 <= keep_versions <= 100:
        problems.append(f"--keep-versions: {keep_versions} (allowed: 1 to 100, S3's limit)")
    if log_retention_days < 1:
        problems.append(f"--log-retention-days: {log_retention_days} (allowed: 1 or more)")
    for arn in deployers:
        if not arn.startswith("arn:aws:iam::") or arn.split(":")[4] != account_id:
            problems.append(f"--deployer: '{arn}' is not an IAM principal ARN of account {account_id} "
                            f"(allowed: arn:aws:iam::{account_id}:role/<name> or :user/<name>)")
    state_key_alias = state_key_alias or f"alias/{cfg.name_prefix}-pulumi-state"
    secrets_key_alias = secrets_key_alias or f"alias/{cfg.name_prefix}-pulumi-secrets"
    for flag, alias in (("--state-key-alias", state_key_alias), ("--secrets-key-alias", secrets_key_alias)):
        if not re.fullmatch(r"alias/[A-Za-z0-9/_-]{1,250}", alias) or alias.startswith("alias/aws/"):
            problems.append(f"{flag}: '{alias}' is not a customer key alias (allowed: alias/ followed by letters, "
                            f"digits, '/', '_' and '-', not alias/aws/...)")
    if state_key_alias == secrets_key_alias:
        problems.append(f"--state-key-alias and --secrets-key-alias are both '{state_key_alias}' (each key has its own)")
    if problems:
        raise BootstrapError(f"{len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    tags = {**cfg.default_tags, "purpose": "pulumi-state"}
    return BackendSettings(
        account_id=account_id, region=region or cfg.home_region, bucket=bucket, log_bucket=log_bucket,
        state_key_alias=state_key_alias, secrets_key_alias=secrets_key_alias,
        deployers=tuple(deployers) or (f"arn:aws:iam::{account_id}:root",),
        keep_versions_days=keep_versions_days, keep_versions=keep_versions,
        log_retention_days=log_retention_days, tags=tags,
    )


# -- the policies, as data ---------------------------------------------------------------------


def _admin_statement(s: BackendSettings) -> dict[str, Any]:
    return {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": s.root},
            "Action": list(KEY_ADMIN_ACTIONS), "Resource": "*"}


def state_key_policy(s: BackendSettings) -> dict[str, Any]:
    """The state key: administered by the account, used by the deployers only through S3 here."""
    return document(
        _admin_statement(s),
        {"Sid": "StateThroughS3", "Effect": "Allow", "Principal": {"AWS": list(s.deployers)},
         "Action": list(STATE_KEY_USE_ACTIONS), "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{s.region}.amazonaws.com",
                                        "kms:CallerAccount": s.account_id}}},
    )


def secrets_key_policy(s: BackendSettings) -> dict[str, Any]:
    """The secrets provider's key: administered by the account, used by the deployers."""
    return document(
        _admin_statement(s),
        {"Sid": "StackSecrets", "Effect": "Allow", "Principal": {"AWS": list(s.deployers)},
         "Action": list(SECRETS_KEY_USE_ACTIONS), "Resource": "*"},
    )


def _deny_insecure_transport(arn: str) -> list[dict[str, Any]]:
    # As SecureBucket does. (An `s3:TlsVersion` test on `s3:*` would deny the actions that do
    # not support the key to everyone; AWS's endpoints require TLS 1.2 already.)
    return [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]


def state_bucket_policy(s: BackendSettings, key_arn: str) -> dict[str, Any]:
    """TLS only, and objects encrypted with the state key only (default encryption sets it)."""
    return document(
        *_deny_insecure_transport(s.bucket_arn),
        {"Sid": "DenyOtherEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"{s.bucket_arn}/*",
         "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        {"Sid": "DenyOtherKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"{s.bucket_arn}/*",
         "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}},
    )


def log_bucket_policy(s: BackendSettings) -> dict[str, Any]:
    """Only S3's logging service writes, only the state bucket's logs; TLS only."""
    return document(
        {"Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"{s.log_bucket_arn}/{log_prefix(s)}*",
         "Condition": {"ArnLike": {"aws:SourceArn": s.bucket_arn},
                       "StringEquals": {"aws:SourceAccount": s.account_id}}},
        *_deny_insecure_transport(s.log_bucket_arn),
    )


def log_prefix(s: BackendSettings) -> str:
    return f"{s.bucket}/"


def state_lifecycle(s: BackendSettings) -> dict[str, Any]:
    """Old state versions expire; the newest `keep_versions` of each object are always kept."""
    return {"Rules": [
        {"ID": "expire-old-state-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": s.keep_versions_days,
                                         "NewerNoncurrentVersions": s.keep_versions}},
        {"ID": "remove-expired-delete-markers", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "abort-incomplete-uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
    ]}


def log_lifecycle(s: BackendSettings) -> dict[str, Any]:
    return {"Rules": [
        {"ID": "expire-access-logs", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Expiration": {"Days": s.log_retention_days},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
    ]}


def _checked(doc: dict[str, Any], what: str) -> str:
    # The policies are fixed by this module; a problem here is a bug, reported before any call.
    problems = validate_document(doc)
    if problems:
        raise BootstrapError(f"{what}: " + "; ".join(problems))
    return to_json(doc)


# -- AWS ---------------------------------------------------------------------------------------


@dataclass
class BootstrapResult:
    """What the run found, created and applied."""

    settings: BackendSettings
    state_key_arn: str = ""
    secrets_key_arn: str = ""
    created: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _ensure_key(kms: Any, s: BackendSettings, alias: str, description: str, policy: dict[str, Any],
                result: BootstrapResult) -> str:
    policy_json = _checked(policy, f"key policy of {alias}")
    try:
        meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
    except ClientError as exc:
        if _code(exc) != "NotFoundException":
            raise
        meta = None
    if meta is None:
        meta = kms.create_key(
            Policy=policy_json, Description=description, KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT",
            Tags=[{"TagKey": k, "TagValue": v} for k, v in sorted(s.tags.items())],
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        result.created.append(f"KMS key {alias} ({meta['Arn']})")
    else:
        if meta.get("KeyManager") != "CUSTOMER":
            raise BootstrapError(f"{alias} names an AWS managed key ({meta['Arn']}); the backend needs a customer "
                                 f"managed key: delete the alias or choose another name_prefix")
        if meta.get("KeyState") != "Enabled":
            raise BootstrapError(
                f"KMS key {alias} ({meta['Arn']}) is {meta.get('KeyState')}, not Enabled: "
                + ("cancel its deletion (aws kms cancel-key-deletion) and enable it (aws kms enable-key), then run again"
                   if meta.get("KeyState") == "PendingDeletion" else "enable it (aws kms enable-key), then run again"))
        kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default", Policy=policy_json)
        result.found.append(f"KMS key {alias} ({meta['Arn']})")
    kms.enable_key_rotation(KeyId=meta["KeyId"], RotationPeriodInDays=ROTATION_PERIOD_DAYS)
    return str(meta["Arn"])


def _owned_buckets(s3: Any) -> set[str]:
    # ListBuckets lists the caller account's buckets only: a name missing here either is free or
    # belongs to someone else (create_bucket tells which).
    if s3.can_paginate("list_buckets"):
        return {b["Name"] for page in s3.get_paginator("list_buckets").paginate() for b in page.get("Buckets", [])}
    return {b["Name"] for b in s3.list_buckets().get("Buckets", [])}


def _ensure_bucket(s3: Any, s: BackendSettings, name: str, result: BootstrapResult) -> None:
    exists = name in _owned_buckets(s3)
    if exists:
        location = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        if location != s.region:
            raise BootstrapError(f"bucket {name} exists in {location}, not in {s.region}; run with --region {location} "
                                 f"or move the bucket")
        result.found.append(f"bucket {name}")
        return
    kwargs: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
    if s.region != "us-east-1":  # us-east-1 takes no location constraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": s.region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if _code(exc) == "BucketAlreadyExists":
            raise BootstrapError(
                f"bucket name {name} belongs to another AWS account; S3 names are global: set bucket_suffix in the "
                f"platform definition to a value your organization owns") from None
        raise
    result.created.append(f"bucket {name}")


def _secure_bucket(s3: Any, name: str, tags: dict[str, str]) -> None:
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]})


def bootstrap(session: Any, s: BackendSettings) -> BootstrapResult:
    """Create or update the backend in the session's account; see the module docstring."""
    result = BootstrapResult(s)
    s3 = session.client("s3", region_name=s.region)
    kms = session.client("kms", region_name=s.region)
    log_policy = _checked(log_bucket_policy(s), f"bucket policy of {s.log_bucket}")

    # The log bucket first: the state bucket's logging configuration names it.
    _ensure_bucket(s3, s, s.log_bucket, result)
    _secure_bucket(s3, s.log_bucket, s.tags)
    s3.put_bucket_encryption(Bucket=s.log_bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_policy(Bucket=s.log_bucket, Policy=log_policy)
    s3.put_bucket_lifecycle_configuration(Bucket=s.log_bucket, LifecycleConfiguration=log_lifecycle(s))

    result.state_key_arn = _ensure_key(kms, s, s.state_key_alias, f"Pulumi state bucket {s.bucket}",
                                       state_key_policy(s), result)
    result.secrets_key_arn = _ensure_key(kms, s, s.secrets_key_alias, f"Pulumi secrets provider of {PROJECT}",
                                         secrets_key_policy(s), result)

    state_policy = _checked(state_bucket_policy(s, result.state_key_arn), f"bucket policy of {s.bucket}")
    _ensure_bucket(s3, s, s.bucket, result)
    _secure_bucket(s3, s.bucket, s.tags)
    s3.put_bucket_encryption(Bucket=s.bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": result.state_key_arn},
        "BucketKeyEnabled": True}]})
    s3.put_bucket_policy(Bucket=s.bucket, Policy=state_policy)
    s3.put_bucket_logging(Bucket=s.bucket, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": s.log_bucket, "TargetPrefix": log_prefix(s)}})
    s3.put_bucket_lifecycle_configuration(Bucket=s.bucket, LifecycleConfiguration=state_lifecycle(s))
    return result


def account_session(session: Any, caller_account: str, account_id: str, role_name: str) -> Any:
    """A session in `account_id`: the given one when it is already there, else through the role."""
    if caller_account == account_id:
        return session
    role_arn = f"arn:aws:iam::{account_id}:role/{role_name}"
    try:
        creds = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
    except ClientError as exc:
        raise BootstrapError(f"cannot assume {role_arn} from account {caller_account}: "
                             f"{exc.response.get('Error', {}).get('Message', exc)}") from None
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=session.region_name)


def next_commands(result: BootstrapResult, stacks: Sequence[str]) -> list[str]:
    """The commands to run next, in order: log in to the backend, create each stack."""
    s = result.settings
    lines = [f"pulumi login '{s.login_url}'"]
    for stack in stacks:
        lines.append(f"pulumi stack init {BACKEND_ORGANIZATION}/{PROJECT}/{stack} "
                     f"--secrets-provider '{s.secrets_provider}'")
    return lines


def report(result: BootstrapResult, stacks: Sequence[str]) -> str:
    s = result.settings
    lines = [f"state backend in account {s.account_id}, {s.region}:"]
    lines += [f"  created {c}" for c in result.created]
    lines += [f"  found   {f} (settings applied again)" for f in result.found]
    lines += [f"  state bucket {s.bucket}: versioned, {s.state_key_alias} (rotated yearly), TLS only, "
              f"public access blocked, logs to {s.log_bucket}/{log_prefix(s)}, noncurrent versions kept "
              f"{s.keep_versions_days} days (the newest {s.keep_versions} always)",
              "next, from the repository root:"]
    lines += [f"  {c}" for c in next_commands(result, stacks)]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m deploy.bootstrap",
                                description="Create the Pulumi state backend (S3 bucket and KMS keys), idempotently.")
    p.add_argument("--platform-file", type=Path, default=DEFAULT_PLATFORM_FILE,
                   help="the platform definition (default stacks/platform.yaml)")
    p.add_argument("--account-id", default=None,
                   help="a dedicated account for the backend (default: organization.management_account_id)")
    p.add_argument("--role-name", default=None,
                   help="role assumed in --account-id when the credentials are not that account's "
                        "(default: organization.member_role_name)")
    p.add_argument("--region", default=None, help="default: home_region of the platform definition")
    p.add_argument("--profile", default=None, help="AWS CLI profile (default: the usual credential chain)")
    p.add_argument("--deployer", action="append", default=[],
                   help="IAM role or user ARN that may use the keys (repeatable; default: the account, i.e. IAM decides)")
    p.add_argument("--keep-versions-days", type=int, default=90, help="days a noncurrent state version is kept (default 90)")
    p.add_argument("--keep-versions", type=int, default=10,
                   help="noncurrent versions of each state file always kept (default 10)")
    p.add_argument("--log-retention-days", type=int, default=365, help="days access logs are kept (default 365)")
    p.add_argument("--state-key-alias", default=None,
                   help="the state bucket's key (default alias/<name_prefix>-pulumi-state; a new alias replaces the key)")
    p.add_argument("--secrets-key-alias", default=None,
                   help="the secrets provider's key (default alias/<name_prefix>-pulumi-secrets)")
    return p


def main(argv: list[str] | None = None, session: Any = None) -> int:
    """Run the command; returns the exit status (0 done, 1 an AWS or configuration problem)."""
    from offline_preview.engine import discover_stacks

    args = _parser().parse_args(argv)
    try:
        cfg = load_platform_file(args.platform_file)
    except ConfigError as exc:
        print(f"error: {args.platform_file}: {exc}", file=sys.stderr)
        return 1
    target = args.account_id or cfg.organization.management_account_id
    try:
        session = session or boto3.Session(profile_name=args.profile, region_name=args.region or cfg.home_region)
        caller = session.client("sts").get_caller_identity()["Account"]
        if args.account_id is None and caller != target:
            raise BootstrapError(
                f"the credentials are for account {caller}, but the backend belongs in the management account {target} "
                f"(organization.management_account_id); use management-account credentials, or --account-id {caller} "
                f"for a dedicated backend account")
        settings = settings_from_platform(cfg, target, args.region, args.deployer, args.keep_versions_days,
                                          args.keep_versions, args.log_retention_days, args.state_key_alias,
                                          args.secrets_key_alias)
        target_session = account_session(session, caller, target, args.role_name or cfg.organization.member_role_name)
        result = bootstrap(target_session, settings)
    except BootstrapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except NoCredentialsError:
        print("error: no AWS credentials found (set AWS_PROFILE or use --profile, or export credentials)", file=sys.stderr)
        return 1
    except ClientError as exc:
        err = exc.response.get("Error", {})
        print(f"error: AWS refused {exc.operation_name}: {err.get('Code')}: {err.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stacks = discover_stacks(args.platform_file.parent, PROJECT)
    print(report(result, stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
