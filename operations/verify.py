"""`python -m operations verify`: the live organization against the guardrail catalog.

After `pulumi up`, from the management account's credentials: read the organization and
security stacks' outputs (and the project stacks', for their VPCs, buckets and Studio
domains), assume the deployment role (`organization.deployment_role`) into each account and
compare what is there with what the catalog and the outputs promise:

* every SCP of the organization stack exists, carries its guardrails' statements and is
  attached to its target and nothing else; every catalog guardrail reaches every account
  under its targets through the attached SCPs (ORG-1 ... MOD-1);
* the organization trail logs, validates log files and covers the organization (LOG-1);
* an AWS Config recorder records every resource type in every allowed region of the management
  account and of every member account (LOG-3); the account-level S3 public access block is on
  in them too (S3-1);
* the platform's buckets are KMS-encrypted (SSE-S3 for access-log targets, which S3 requires),
  versioned and TLS-only (S3-2, S3-3, S3-4);
* workload VPCs have no internet gateway (NET-1) and Studio domains are `VpcOnly` (SM-4);
* the break-glass roles' trust is unchanged (IAM-3): the management account's is the one the
  security stack builds, each member's (in every account the account-baseline StackSet
  reaches) the account-baseline template's, evaluated with the stack's parameters.

With `--probe-role` (a role of each account that is *not* exempt from the SCPs, such as a
persona role; the deployment role is exempt, so a probe as it proves nothing) the preventive
guardrails are probed with calls that must be denied and create nothing when allowed: EC2
calls with `DryRun` (NET-1: CreateInternetGateway; REG-1: DescribeVpcs outside the allowed
regions) and SageMaker CreateEndpoint naming an endpoint configuration that does not exist
(SM-7, in sandbox and dev accounts, with the mandatory tags so that only SM-7 can deny it).
A denial (AccessDenied, UnauthorizedOperation) passes; DryRunOperation or a validation error
means the call was authorized, and fails.

Read-only apart from those probes. Exit status: 0 all checks pass, 1 a check failed, 2 the
inputs (platform file, outputs, credentials) are unusable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from guardrail_catalog import Catalog
from operations.aws import ACCESS_DENIED, OperationsError, Sessions, error_code, error_message, explain
from operations.outputs import StackOutputs, require
from policy_documents.scp_packing import guardrail_ids_for_sid
from stacks.config import PlatformConfig

PASS, FAIL, SKIP = "pass", "fail", "skip"
# Regions a REG-1 probe may use: the first one outside the allow-list.
PROBE_REGIONS = ("us-west-2", "ap-southeast-2", "sa-east-1", "eu-north-1", "us-east-2", "ca-central-1")
MANAGEMENT = "management"


@dataclass(frozen=True)
class Finding:
    """One row of the report."""

    guardrail: str
    account: str
    check: str
    result: str
    evidence: str


@dataclass
class Context:
    """What the checks read: the platform definition, the catalog, the outputs, the sessions."""

    platform: PlatformConfig
    catalog: Catalog
    outputs: StackOutputs
    sessions: Sessions
    probe_role: str | None = None

    @property
    def home(self) -> str:
        return self.platform.home_region

    @property
    def management_id(self) -> str:
        return str(require(self.outputs, "organization", "managementAccountId"))

    @property
    def account_ids(self) -> dict[str, str]:
        return dict(require(self.outputs, "organization", "accountIds"))

    def account_id(self, key: str) -> str:
        if key == MANAGEMENT:
            return self.management_id
        ids = self.account_ids
        if key not in ids:
            raise OperationsError(f"unknown account '{key}': the organization stack's accountIds do not have it "
                                  f"(have: {', '.join(sorted(ids))}); deploy the organization stack first")
        return ids[key]

    def label(self, key: str) -> str:
        return f"{key} ({self.account_id(key)})"

    def ou_of(self, key: str) -> str | None:
        found = self.platform.accounts().get(key)
        return found[1] if found else None

    def project_stacks(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(account key, outputs) of every project environment stack in the outputs."""
        for project in self.platform.projects:
            for env in project.environments:
                key = f"{project.name}-{env}"
                if key in self.outputs:
                    yield key, self.outputs[key]


Check = Callable[[Context], Iterator[Finding]]


def _guarded(guardrail: str, account: str, check: str, ctx: Context, call: Callable[[], Finding]) -> Finding:
    """The finding of `call`, or a failure naming the call AWS refused (missing permission,
    throttling after the retries, an account that cannot be reached)."""
    try:
        return call()
    except ClientError as exc:
        return Finding(guardrail, account, check, FAIL, explain(exc, account, ctx.sessions.config))
    except OperationsError as exc:
        return Finding(guardrail, account, check, FAIL, str(exc))


# -- SCPs ----------------------------------------------------------------------------------


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


def _target_ids(ctx: Context) -> dict[str, str]:
    """Target name (`Root`, OU path) -> id, from the organization stack's outputs."""
    return {"Root": str(require(ctx.outputs, "organization", "rootId")),
            **dict(require(ctx.outputs, "organization", "ouIds"))}


def _live_scps(ctx: Context) -> tuple[dict[str, dict[str, Any]], Any]:
    org = ctx.sessions.client(ctx.management_id, "organizations", ctx.home)
    policies = _paginate(org, "list_policies", "Policies", Filter="SERVICE_CONTROL_POLICY")
    return {p["Name"]: p for p in policies}, org


def _sid_guardrails(content: str) -> set[str]:
    found: set[str] = set()
    for statement in json.loads(content).get("Statement", []):
        try:
            found.update(guardrail_ids_for_sid(str(statement.get("Sid", ""))))
        except ValueError:
            continue  # a statement of someone else's: not a catalog guardrail
    return found


def check_scps(ctx: Context) -> Iterator[Finding]:
    """Each SCP of the organization stack: present, its guardrails' statements in it, attached
    to its target only; then each catalog guardrail on every account under its targets."""
    expected: dict[str, dict[str, Any]] = dict(require(ctx.outputs, "organization", "serviceControlPolicies"))
    target_ids = _target_ids(ctx)
    names_by_id = {v: k for k, v in target_ids.items()}
    mgmt = ctx.label(MANAGEMENT)
    try:
        live, org = _live_scps(ctx)
    except ClientError as exc:
        yield Finding("SCP", mgmt, "list SCPs", FAIL, explain(exc, mgmt, ctx.sessions.config))
        return
    attached: dict[str, set[str]] = {}  # target id -> live guardrails of the platform's SCPs there
    for name, spec in sorted(expected.items()):
        guardrails = ",".join(spec.get("guardrails", []))
        policy = live.get(name)
        if policy is None:
            yield Finding(guardrails, mgmt, f"SCP {name} exists", FAIL,
                          f"no SCP named {name} in the organization; run `pulumi up` of the organization stack")
            continue
        try:
            content = org.describe_policy(PolicyId=policy["Id"])["Policy"]["Content"]
            targets = {t["TargetId"] for t in _paginate(org, "list_targets_for_policy", "Targets", PolicyId=policy["Id"])}
        except ClientError as exc:
            yield Finding(guardrails, mgmt, f"SCP {name}", FAIL, explain(exc, mgmt, ctx.sessions.config))
            continue
        carried = _sid_guardrails(content)
        missing = [g for g in spec.get("guardrails", []) if g not in carried]
        want = target_ids.get(spec["target"])
        for target in targets:
            attached.setdefault(target, set()).update(carried)
        yield Finding(guardrails, mgmt, f"SCP {name} content", FAIL if missing else PASS,
                      f"statements of {', '.join(missing)} missing from {policy['Id']}" if missing
                      else f"{policy['Id']} carries {guardrails}")
        extra = sorted(targets - {want})
        if want in targets and not extra:
            yield Finding(guardrails, mgmt, f"SCP {name} targets", PASS, f"attached to {spec['target']} ({want}) only")
        else:
            problems = [] if want in targets else [f"not attached to {spec['target']} ({want})"]
            if extra:
                problems.append("also attached to " + ", ".join(f"{names_by_id.get(t, 'unknown target')} ({t})"
                                                               for t in extra))
            yield Finding(guardrails, mgmt, f"SCP {name} targets", FAIL,
                          "; ".join(problems) + ": run `pulumi up` of the organization stack, detach the others")
    prefix = f"{ctx.platform.name_prefix}-guardrails-"
    for name in sorted(set(live) - set(expected)):
        if name.startswith(prefix):
            yield Finding("SCP", mgmt, f"SCP {name} expected", FAIL,
                          f"{live[name]['Id']} is not in the organization stack's outputs (left over from an earlier "
                          f"packing?): detach and delete it, or run `pulumi refresh` of the organization stack")
    yield from _coverage(ctx, target_ids, attached)


def _coverage(ctx: Context, target_ids: dict[str, str], attached: dict[str, set[str]]) -> Iterator[Finding]:
    # The expectation is the SCP library's own mapping of the platform definition (the catalog's
    # targets, with the configured ones such as MOD-1's model_producer_ous).
    from policy_documents.scp_library import guardrail_statements
    from stacks.organization import scp_settings

    wanted: dict[str, set[str]] = {}
    for statement in guardrail_statements(scp_settings(ctx.platform)):
        wanted.setdefault(statement.guardrail_id, set()).update(statement.targets)
    accounts = ctx.account_ids
    for entry in ctx.catalog.guardrails:
        if entry.id not in wanted:
            continue
        under = [k for k in accounts if _under(ctx.ou_of(k), wanted[entry.id])]
        lacking = sorted(k for k in under if entry.id not in _effective(ctx.ou_of(k), target_ids, attached))
        targets = ", ".join(sorted(wanted[entry.id]))
        if lacking:
            yield Finding(entry.id, "organization", "SCP reaches accounts", FAIL,
                          f"no attached SCP carries {entry.id} for {', '.join(lacking)} (catalog targets: {targets})")
        else:
            yield Finding(entry.id, "organization", "SCP reaches accounts", PASS,
                          f"in force on all {len(under)} accounts under {targets}")


def _ancestors(ou: str | None) -> list[str]:
    if ou is None:
        return ["Root"]
    parts = ou.split("/")
    return ["Root", *("/".join(parts[: i + 1]) for i in range(len(parts)))]


def _under(ou: str | None, targets: set[str]) -> bool:
    return any(t in targets for t in _ancestors(ou))


def _effective(ou: str | None, target_ids: dict[str, str], attached: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    for target in _ancestors(ou):
        found |= attached.get(target_ids.get(target, ""), set())
    return found


# -- logging -------------------------------------------------------------------------------


def check_trail(ctx: Context) -> Iterator[Finding]:
    """LOG-1: the organization trail logs, validates log files, covers all regions and accounts."""
    arn = str(require(ctx.outputs, "security", "trailArn"))
    region = arn.split(":")[3]
    mgmt = ctx.label(MANAGEMENT)

    def run() -> Finding:
        ct = ctx.sessions.client(ctx.management_id, "cloudtrail", region)
        trails = ct.describe_trails(trailNameList=[arn], includeShadowTrails=False).get("trailList", [])
        if not trails:
            return Finding("LOG-1", mgmt, "organization trail", FAIL, f"trail {arn} does not exist")
        trail = trails[0]
        logging = ct.get_trail_status(Name=arn).get("IsLogging", False)
        problems = [what for what, ok in (("not logging", logging),
                                          ("log file validation off", trail.get("LogFileValidationEnabled")),
                                          ("not an organization trail", trail.get("IsOrganizationTrail")),
                                          ("not multi-region", trail.get("IsMultiRegionTrail"))) if not ok]
        if problems:
            return Finding("LOG-1", mgmt, "organization trail", FAIL, f"{trail['Name']}: {', '.join(problems)}")
        return Finding("LOG-1", mgmt, "organization trail", PASS,
                       f"{trail['Name']}: logging, log file validation, organization, multi-region")
    yield _guarded("LOG-1", mgmt, "organization trail", ctx, run)


def baselined_accounts(ctx: Context) -> list[tuple[str, str]]:
    """(account key, id) of every account with the per-account baseline (Config recorders in
    every allowed region, the account public access block): the management account (the
    security stack's ManagementAccountBaseline) and every member (the baseline StackSet; Control
    Tower's landing zone for the recorders when it owns them)."""
    return [(MANAGEMENT, ctx.management_id), *sorted(ctx.account_ids.items())]


def check_config_recorders(ctx: Context) -> Iterator[Finding]:
    """LOG-3: a recorder of every resource type is recording in each allowed region of the
    management account and of every member account."""
    for key, account_id in baselined_accounts(ctx):
        label = ctx.label(key)

        def run(account_id: str = account_id, label: str = label) -> Finding:
            off = []
            for region in ctx.platform.allowed_regions:
                config = ctx.sessions.client(account_id, "config", region)
                recorders = config.describe_configuration_recorders().get("ConfigurationRecorders", [])
                status = {s["name"]: s for s in config.describe_configuration_recorder_status()
                          .get("ConfigurationRecordersStatus", [])}
                good = [r for r in recorders if status.get(r["name"], {}).get("recording")
                        and r.get("recordingGroup", {}).get("allSupported")]
                if not good:
                    if not recorders:
                        why = "no recorder"
                    elif not any(status.get(r["name"], {}).get("recording") for r in recorders):
                        why = "recorder " + ", ".join(r["name"] for r in recorders) + " stopped"
                    else:
                        why = "not recording every resource type"
                    off.append(f"{region}: {why}")
            if off:
                return Finding("LOG-3", label, "Config recorder on", FAIL, "; ".join(off))
            return Finding("LOG-3", label, "Config recorder on", PASS,
                           f"recording all resource types in {', '.join(ctx.platform.allowed_regions)}")
        yield _guarded("LOG-3", label, "Config recorder on", ctx, run)


# -- data protection -----------------------------------------------------------------------


BLOCK_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def check_public_access_block(ctx: Context) -> Iterator[Finding]:
    """S3-1: the account-level public access block, all four settings, in the management account
    and every member account."""
    for key, account_id in baselined_accounts(ctx):
        label = ctx.label(key)

        def run(account_id: str = account_id, label: str = label) -> Finding:
            s3control = ctx.sessions.client(account_id, "s3control", ctx.home)
            try:
                block = s3control.get_public_access_block(AccountId=account_id)["PublicAccessBlockConfiguration"]
            except ClientError as exc:
                if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
                    raise
                return Finding("S3-1", label, "account public access block", FAIL, "no account public access block")
            off = [s for s in BLOCK_SETTINGS if not block.get(s)]
            return Finding("S3-1", label, "account public access block", FAIL if off else PASS,
                           f"off: {', '.join(off)}" if off else "all four settings on")
        yield _guarded("S3-1", label, "account public access block", ctx, run)


def platform_buckets(ctx: Context) -> list[tuple[str, str]]:
    """(account key, bucket) of the security stack's archive buckets and each project's buckets."""
    found = []
    security = ctx.outputs.get("security", {})
    for output in ("logArchiveBucketName", "configBucketName", "accessLogBucketName"):
        if security.get(output):
            found.append(("log-archive", str(security[output])))
    for key, outputs in ctx.project_stacks():
        for bucket in ((outputs.get("data") or {}).get("buckets") or {}).values():
            found.append((key, str(bucket["name"])))
    return found


def _tls_only(policy: dict[str, Any]) -> bool:
    for st in policy.get("Statement", []):
        actions = st.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        insecure = (st.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
        if st.get("Effect") == "Deny" and st.get("Principal") in ("*", {"AWS": "*"}) \
                and ("s3:*" in actions or "*" in actions) and str(insecure).lower() == "false":
            return True
    return False


def check_buckets(ctx: Context) -> Iterator[Finding]:
    """S3-2, S3-3, S3-4 for each platform bucket."""
    for key, bucket in platform_buckets(ctx):
        try:
            label, account_id = ctx.label(key), ctx.account_id(key)
        except OperationsError as exc:
            yield Finding("S3-2", key, f"{bucket} encrypted", FAIL, str(exc))
            continue
        yield _guarded("S3-2", label, f"{bucket} encrypted", ctx, lambda a=account_id, b=bucket, lb=label: _encryption(ctx, a, b, lb))
        yield _guarded("S3-3", label, f"{bucket} versioned", ctx, lambda a=account_id, b=bucket, lb=label: _versioning(ctx, a, b, lb))
        yield _guarded("S3-4", label, f"{bucket} TLS only", ctx, lambda a=account_id, b=bucket, lb=label: _tls(ctx, a, b, lb))


def _s3(ctx: Context, account_id: str) -> Any:
    return ctx.sessions.client(account_id, "s3", ctx.home)


def _encryption(ctx: Context, account_id: str, bucket: str, label: str) -> Finding:
    s3 = _s3(ctx, account_id)
    check = f"{bucket} encrypted"
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return Finding("S3-2", label, check, FAIL, f"bucket {bucket} does not exist in account {account_id}")
        if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    algorithms = {r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
    if algorithms & {"aws:kms", "aws:kms:dsse"}:
        return Finding("S3-2", label, check, PASS, "default encryption aws:kms")
    if algorithms == {"AES256"}:
        # Server access logs are delivered to SSE-S3 buckets only: SecureBucket tags those.
        try:
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        except ClientError as exc:
            if error_code(exc) != "NoSuchTagSet":
                raise
            tags = {}
        if tags.get("access-log-target") == "true":
            return Finding("S3-2", label, check, PASS, "AES256 on an access-log target (S3 requires SSE-S3 there)")
        return Finding("S3-2", label, check, FAIL, "AES256 (SSE-S3), not a KMS key, and not an access-log target")
    return Finding("S3-2", label, check, FAIL, "no default encryption")


def _versioning(ctx: Context, account_id: str, bucket: str, label: str) -> Finding:
    status = _s3(ctx, account_id).get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    return Finding("S3-3", label, f"{bucket} versioned", PASS if status == "Enabled" else FAIL, f"versioning {status}")


def _tls(ctx: Context, account_id: str, bucket: str, label: str) -> Finding:
    check = f"{bucket} TLS only"
    try:
        policy = json.loads(_s3(ctx, account_id).get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if error_code(exc) != "NoSuchBucketPolicy":
            raise
        return Finding("S3-4", label, check, FAIL, "no bucket policy, so plain HTTP is not refused")
    if _tls_only(policy):
        return Finding("S3-4", label, check, PASS, "policy denies s3:* when aws:SecureTransport is false")
    return Finding("S3-4", label, check, FAIL, "no Deny of s3:* on aws:SecureTransport false in the bucket policy")


# -- network and SageMaker -----------------------------------------------------------------


def check_internet_gateways(ctx: Context) -> Iterator[Finding]:
    """NET-1: no internet gateway (nor egress-only one) attached to a workload VPC."""
    for key, outputs in ctx.project_stacks():
        vpc = outputs.get("vpcId")
        if not vpc:
            continue
        label = ctx.label(key)

        def run(key: str = key, vpc: str = str(vpc), label: str = label) -> Finding:
            ec2 = ctx.sessions.client(ctx.account_id(key), "ec2", ctx.home)
            gateways = [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(
                Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"]]
            gateways += [g["EgressOnlyInternetGatewayId"] for g in
                         ec2.describe_egress_only_internet_gateways().get("EgressOnlyInternetGateways", [])
                         if any(a.get("VpcId") == vpc for a in g.get("Attachments", []))]
            if gateways:
                return Finding("NET-1", label, f"{vpc} has no internet gateway", FAIL,
                               f"attached: {', '.join(gateways)}")
            return Finding("NET-1", label, f"{vpc} has no internet gateway", PASS, "none attached")
        yield _guarded("NET-1", label, f"{vpc} has no internet gateway", ctx, run)


def check_studio_domains(ctx: Context) -> Iterator[Finding]:
    """SM-4: every Studio domain in a project account is VpcOnly; the stack's domain exists."""
    for key, outputs in ctx.project_stacks():
        studio = (outputs.get("workspace") or {}).get("studio") or {}
        label = ctx.label(key)

        def run(key: str = key, expected: str | None = studio.get("domainId"), label: str = label) -> list[Finding]:
            sm = ctx.sessions.client(ctx.account_id(key), "sagemaker", ctx.home)
            found = []
            domains = _paginate(sm, "list_domains", "Domains")
            for domain in domains:
                access = sm.describe_domain(DomainId=domain["DomainId"]).get("AppNetworkAccessType", "PublicInternetOnly")
                found.append(Finding("SM-4", label, f"Studio domain {domain['DomainId']} VpcOnly",
                                     PASS if access == "VpcOnly" else FAIL, f"AppNetworkAccessType {access}"))
            if expected and expected not in {d["DomainId"] for d in domains}:
                found.append(Finding("SM-4", label, f"Studio domain {expected} VpcOnly", FAIL,
                                     f"the stack's domain {expected} does not exist in {ctx.home}"))
            return found
        try:
            yield from run()
        except ClientError as exc:
            yield Finding("SM-4", label, "Studio domains VpcOnly", FAIL, explain(exc, label, ctx.sessions.config))
        except OperationsError as exc:
            yield Finding("SM-4", label, "Studio domains VpcOnly", FAIL, str(exc))


# -- identity ------------------------------------------------------------------------------


def expected_break_glass_trust(platform: PlatformConfig, management_id: str) -> dict[str, Any]:
    """The trust the security stack gives the management break-glass role (same builder)."""
    from components.break_glass_role import BreakGlassRoleArgs, break_glass_trust

    bg = platform.organization.break_glass
    return break_glass_trust(BreakGlassRoleArgs(
        role_name=platform.organization.break_glass_role_name, management_account_id=management_id,
        trusted_principals=bg.trusted_principals, max_session_seconds=bg.max_session_seconds,
        max_mfa_age_seconds=bg.max_mfa_age_seconds))


def _canonical(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True)


def check_break_glass(ctx: Context) -> Iterator[Finding]:
    """IAM-3: the break-glass roles' trust is the one the platform gives them, unchanged: the
    management account's (security stack) and every member's the baseline StackSet reaches."""
    yield from _management_break_glass(ctx)
    yield from _member_break_glass(ctx)


def _live_trust(ctx: Context, account_id: str, name: str) -> Any:
    """The role's trust policy as a document, or None when the role does not exist."""
    iam = ctx.sessions.client(account_id, "iam", ctx.home)
    try:
        live = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        return None
    return json.loads(live) if isinstance(live, str) else live  # boto3 decodes IAM's URL-encoded JSON


def _management_break_glass(ctx: Context) -> Iterator[Finding]:
    mgmt = ctx.label(MANAGEMENT)
    arn = str(require(ctx.outputs, "security", "breakGlassRoleArn"))
    name = arn.rsplit("/", 1)[1]
    if ctx.platform.organization.break_glass.existing:
        yield Finding("IAM-3", mgmt, f"{name} trust unchanged", SKIP,
                      "made outside the program (organization.break_glass.existing): no trust to compare with")
        return

    def run() -> Finding:
        live = _live_trust(ctx, ctx.management_id, name)
        if live is None:
            return Finding("IAM-3", mgmt, f"{name} trust unchanged", FAIL, f"role {arn} does not exist")
        want = expected_break_glass_trust(ctx.platform, ctx.management_id)
        if _canonical(live) == _canonical(want):
            return Finding("IAM-3", mgmt, f"{name} trust unchanged", PASS,
                           "trusts " + ", ".join(ctx.platform.organization.break_glass.trusted_principals) + " with MFA")
        return Finding("IAM-3", mgmt, f"{name} trust unchanged", FAIL,
                       f"trust differs from the security stack's: {_canonical(live)}")
    yield _guarded("IAM-3", mgmt, f"{name} trust unchanged", ctx, run)


def baseline_accounts(ctx: Context) -> list[tuple[str, str]]:
    """(account key, id) of the members the account-baseline StackSet reaches: those under
    `security.config.baseline_ous`, or every member (its instances target the root)."""
    targets = set(ctx.platform.security.config.baseline_ous) or {"Root"}
    return [(k, a) for k, a in sorted(ctx.account_ids.items()) if _under(ctx.ou_of(k), targets)]


def _resolve(node: Any, values: dict[str, str]) -> Any:
    """A CloudFormation template fragment with its `Ref`s and `Fn::Sub`s replaced by `values`."""
    if isinstance(node, list):
        return [_resolve(n, values) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return values[node["Ref"]]
    if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: values[m[1]], node["Fn::Sub"])
    if any(k.startswith("Fn::") for k in node):
        raise OperationsError(f"cannot evaluate {sorted(node)} of the account-baseline template here")
    return {k: _resolve(v, values) for k, v in node.items()}


def expected_member_break_glass(platform: PlatformConfig, management_id: str, account_id: str) -> tuple[str, Any]:
    """(role name, trust policy) of a member's break-glass role: the account-baseline
    template's BreakGlassRole, evaluated with the parameters the security stack passes."""
    from components.config_baseline import baseline_template
    from policy_documents.arns import partition_of

    role = baseline_template()["Resources"]["BreakGlassRole"]["Properties"]
    values = {"AWS::Partition": partition_of(platform.home_region), "AWS::AccountId": account_id,
              "AWS::Region": platform.home_region, "ManagementAccountId": management_id,
              "BreakGlassRoleName": platform.organization.break_glass_role_name}
    return str(_resolve(role["RoleName"], values)), _resolve(role["AssumeRolePolicyDocument"], values)


def _member_break_glass(ctx: Context) -> Iterator[Finding]:
    for key, account_id in baseline_accounts(ctx):
        label = ctx.label(key)
        name, want = expected_member_break_glass(ctx.platform, ctx.management_id, account_id)
        check = f"{name} trust unchanged"

        def run(account_id: str = account_id, label: str = label, name: str = name, want: Any = want,
                check: str = check) -> Finding:
            live = _live_trust(ctx, account_id, name)
            if live is None:
                return Finding("IAM-3", label, check, FAIL,
                               f"role {name} does not exist (the account-baseline StackSet creates it)")
            if _canonical(live) == _canonical(want):
                return Finding("IAM-3", label, check, PASS,
                               f"trusts only management's {ctx.platform.organization.break_glass_role_name}, with MFA")
            return Finding("IAM-3", label, check, FAIL,
                           f"trust differs from the account-baseline StackSet's: {_canonical(live)}")
        yield _guarded("IAM-3", label, check, ctx, run)


# -- probes of the preventive guardrails ---------------------------------------------------


def probe_region(platform: PlatformConfig) -> str:
    return next(r for r in PROBE_REGIONS if r not in platform.allowed_regions)


def _judge(guardrail: str, label: str, check: str, call: Callable[[], Any], allowed_codes: set[str]) -> Finding:
    """Denied: pass. A code in `allowed_codes` (DryRunOperation, a validation error after
    authorization): the SCP did not stop it, fail. Anything else proves nothing: fail, with it."""
    try:
        call()
    except ClientError as exc:
        code, message = error_code(exc), error_message(exc)
        if code in ACCESS_DENIED:
            return Finding(guardrail, label, check, PASS, f"denied: {code}: {message}"[:300])
        if code in allowed_codes:
            return Finding(guardrail, label, check, FAIL, f"allowed: authorization passed ({code}: {message})"[:300])
        return Finding(guardrail, label, check, FAIL, f"inconclusive: {code}: {message}"[:300])
    return Finding(guardrail, label, check, FAIL, "allowed: the call succeeded (it should have been denied)")


def _probe_tags(ctx: Context, key: str) -> list[dict[str, str]]:
    # With every mandatory tag, so that TAG-1 cannot be what denies the call.
    project, _, env = key.rpartition("-")
    values = {**ctx.platform.default_tags, "project": project or key, "environment": env}
    return [{"Key": t, "Value": values.get(t, "verify-probe")} for t in ctx.platform.mandatory_tags]


def check_probes(ctx: Context) -> Iterator[Finding]:
    """NET-1, REG-1 and SM-7 denials, as `--probe-role` in each account."""
    role = ctx.probe_role
    if role is None:
        yield Finding("NET-1,REG-1,SM-7", "organization", "preventive probes", SKIP,
                      "no --probe-role: the deployment role is exempt from the SCPs, so probes need a role that is not")
        return
    outside = probe_region(ctx.platform)
    prefix = ctx.platform.name_prefix
    for key, account_id in sorted(ctx.account_ids.items()):
        ou = ctx.ou_of(key) or ""
        label = ctx.label(key)
        probes: list[tuple[str, str, Callable[[], Any], set[str]]] = [
            ("REG-1", f"ec2:DescribeVpcs in {outside} (DryRun)",
             lambda a=account_id: ctx.sessions.client(a, "ec2", outside, role).describe_vpcs(DryRun=True),
             {"DryRunOperation"}),
        ]
        if ou.startswith("Workloads"):
            probes.append(("NET-1", "ec2:CreateInternetGateway (DryRun)",
                           lambda a=account_id: ctx.sessions.client(a, "ec2", ctx.home, role).create_internet_gateway(DryRun=True),
                           {"DryRunOperation"}))
        if ou in ("Sandbox", "Workloads/Dev"):
            probes.append(("SM-7", "sagemaker:CreateEndpoint (missing endpoint config)",
                           lambda a=account_id, k=key: ctx.sessions.client(a, "sagemaker", ctx.home, role).create_endpoint(
                               EndpointName=f"{prefix}-verify-probe",
                               EndpointConfigName=f"{prefix}-verify-probe-does-not-exist",
                               Tags=_probe_tags(ctx, k)),
                           {"ValidationException", "ResourceNotFound"}))
        for guardrail, check, call, allowed in probes:
            try:
                yield _judge(guardrail, label, check, call, allowed)
            except OperationsError as exc:
                yield Finding(guardrail, label, check, FAIL, str(exc))


# Name (`--checks`) -> check, in report order.
CHECKS: dict[str, Check] = {
    "scps": check_scps, "trail": check_trail, "config": check_config_recorders,
    "public-access-block": check_public_access_block, "buckets": check_buckets,
    "internet-gateways": check_internet_gateways, "studio": check_studio_domains,
    "break-glass": check_break_glass, "probes": check_probes,
}


def select_checks(names: str | None) -> list[Check]:
    """The checks `--checks` names (comma-separated; default all), in report order."""
    if not names:
        return list(CHECKS.values())
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in CHECKS]
    if unknown:
        raise OperationsError(f"--checks: unknown {', '.join(unknown)} (allowed: {', '.join(CHECKS)})")
    return [check for name, check in CHECKS.items() if name in wanted]


def verify(ctx: Context, checks: list[Check] | None = None) -> list[Finding]:
    """The findings of `checks` (default all), in order."""
    return [finding for check in (checks or list(CHECKS.values())) for finding in check(ctx)]


# -- report --------------------------------------------------------------------------------


def render_table(findings: list[Finding]) -> str:
    head = ("guardrail", "account", "check", "result", "evidence")
    rows = [head] + [(f.guardrail, f.account, f.check, f.result.upper() if f.result == FAIL else f.result, f.evidence)
                     for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 8)
    failed = sum(f.result == FAIL for f in findings)
    passed = sum(f.result == PASS for f in findings)
    lines.append(f"{passed} passed, {failed} failed, {len(findings) - passed - failed} skipped")
    return "\n".join(lines)


def render_json(findings: list[Finding]) -> str:
    failed = sum(f.result == FAIL for f in findings)
    return json.dumps({"ok": failed == 0, "failed": failed, "findings": [asdict(f) for f in findings]}, indent=2)
