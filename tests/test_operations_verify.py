"""`python -m operations verify` against moto's in-process AWS, seeded with the organization the
sample platform's stacks register (their SCPs, trail, buckets, VPC and Studio domain), first
compliant and then broken. moto does not evaluate SCPs, so the probes' denials come from
botocore's Stubber (those responses only)."""

from __future__ import annotations

import copy
import json

import pytest
from botocore.stub import Stubber

from operations import __main__ as cli
from operations import verify
from operations.aws import OperationsError, assume
from stacks.config import load_platform_file

from tests.conftest import SAMPLE_DIR

REGION = "eu-west-1"
PROJECT_STACKS = ("document-vision-dev", "document-vision-prod")


@pytest.fixture(scope="module")
def sample_outputs(sample_runs):
    """The outputs and SCP contents the real program registers for the sample platform."""
    org = sample_runs("organization")
    scps = {p.name: p.inputs["content"] for p in org.of_type("aws:organizations/policy:Policy")
            if p.inputs.get("type") == "SERVICE_CONTROL_POLICY"}
    outputs = {"organization": org.outputs, "security": sample_runs("security").outputs,
               **{s: sample_runs(s).outputs for s in PROJECT_STACKS}}
    return copy.deepcopy(outputs), scps


class World:
    """The seeded organization: `outputs` carry moto's ids, `session_in(account)` reaches an account."""

    def __init__(self, session_in, outputs, scps):
        # One session per account, all sharing the first one's loader (a service model is
        # parsed once, not once per account).
        first = session_in(outputs["organization"]["managementAccountId"])
        sessions = {}

        def _in(account):
            if account not in sessions:
                sessions[account] = assume(first, f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
            return sessions[account]
        self.session_in = _in
        self.outputs = outputs
        self.platform = load_platform_file(SAMPLE_DIR / "platform.yaml")
        org_out = outputs["organization"]
        self.mgmt_id = org_out["managementAccountId"]
        self.accounts = org_out["accountIds"]
        self.mgmt = self.session_in(self.mgmt_id)
        self._organization(scps)
        self._security()
        for stack in PROJECT_STACKS:
            self._project(stack)

    def client(self, key, service, region=REGION):
        account = self.mgmt_id if key == "management" else self.accounts[key]
        return self.session_in(account).client(service, region_name=region)

    def _organization(self, scps):
        org = self.mgmt.client("organizations")
        org.create_organization(FeatureSet="ALL")
        root = org.list_roots()["Roots"][0]["Id"]
        ou_ids = {}
        for path in sorted(self.outputs["organization"]["ouIds"], key=lambda p: p.count("/")):
            parent = ou_ids[path.rsplit("/", 1)[0]] if "/" in path else root
            ou_ids[path] = org.create_organizational_unit(ParentId=parent, Name=path.rsplit("/", 1)[-1])[
                "OrganizationalUnit"]["Id"]
        self.outputs["organization"].update(rootId=root, ouIds=ou_ids)
        self.policy_ids = {}
        for name, spec in self.outputs["organization"]["serviceControlPolicies"].items():
            policy = org.create_policy(Name=name, Description=name, Type="SERVICE_CONTROL_POLICY",
                                       Content=scps[name])["Policy"]["PolicySummary"]
            self.policy_ids[name] = policy["Id"]
            target = root if spec["target"] == "Root" else ou_ids[spec["target"]]
            org.attach_policy(PolicyId=policy["Id"], TargetId=target)

    def _bucket(self, key, name, kms: bool):
        s3 = self.client(key, "s3")
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": f"arn:aws:kms:{REGION}:{self.accounts[key]}:key/k"} \
            if kms else {"SSEAlgorithm": "AES256"}
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": rule}]})
        if not kms:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "access-log-target", "Value": "true"}]})
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))

    def _security(self):
        sec = self.outputs["security"]
        self._bucket("log-archive", sec["logArchiveBucketName"], kms=True)
        self._bucket("log-archive", sec["configBucketName"], kms=True)
        self._bucket("log-archive", sec["accessLogBucketName"], kms=False)
        trail_bucket = "mrd-trail-delivery-test"
        self.mgmt.client("s3").create_bucket(Bucket=trail_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        ct = self.mgmt.client("cloudtrail")
        name = sec["trailArn"].rsplit("/", 1)[1]
        ct.create_trail(Name=name, S3BucketName=trail_bucket, IsMultiRegionTrail=True, EnableLogFileValidation=True,
                        IsOrganizationTrail=True)
        ct.start_logging(Name=name)
        iam = self.mgmt.client("iam")
        iam.create_role(RoleName=sec["breakGlassRoleArn"].rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(
            verify.expected_break_glass_trust(self.platform, self.mgmt_id)))
        for key in self.accounts:
            self._member_break_glass(key)
        # The management account has the baseline too (ManagementAccountBaseline), like every member.
        for key, account in {"management": self.mgmt_id, **self.accounts}.items():
            self.client(key, "s3control").put_public_access_block(AccountId=account, PublicAccessBlockConfiguration={
                s: True for s in verify.BLOCK_SETTINGS})
            for region in self.platform.allowed_regions:
                config = self.client(key, "config", region)
                config.put_configuration_recorder(ConfigurationRecorder={
                    "name": "mrd-baseline", "roleARN": f"arn:aws:iam::{account}:role/mrd-config-recorder",
                    "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": region == REGION}})
                config.put_delivery_channel(DeliveryChannel={"name": "mrd-baseline", "s3BucketName": sec["configBucketName"]})
                config.start_configuration_recorder(ConfigurationRecorderName="mrd-baseline")

    def _member_break_glass(self, key):
        # What the account-baseline StackSet's BreakGlassRole makes of the template in a member.
        from components.config_baseline import baseline_template

        role = baseline_template()["Resources"]["BreakGlassRole"]["Properties"]
        text = json.dumps(role["AssumeRolePolicyDocument"])
        for name, value in {"AWS::Partition": "aws", "ManagementAccountId": self.mgmt_id,
                            "BreakGlassRoleName": self.platform.organization.break_glass_role_name}.items():
            text = text.replace("${" + name + "}", value)
        trust = json.loads(text, object_hook=lambda d: d["Fn::Sub"] if set(d) == {"Fn::Sub"} else d)
        self.client(key, "iam").create_role(RoleName=self.platform.organization.break_glass_role_name,
                                            AssumeRolePolicyDocument=json.dumps(trust))

    def _project(self, stack):
        out = self.outputs[stack]
        for kind, bucket in out["data"]["buckets"].items():
            self._bucket(stack, bucket["name"], kms=kind != "access-logs")
        ec2 = self.client(stack, "ec2")
        vpc = ec2.create_vpc(CidrBlock=out["vpcCidr"])["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=out["vpcCidr"])["Subnet"]["SubnetId"]
        out["vpcId"] = vpc
        studio = (out.get("workspace") or {}).get("studio")
        if studio:
            domain = self.client(stack, "sagemaker").create_domain(
                DomainName=studio["domainId"], AuthMode="SSO", VpcId=vpc, SubnetIds=[subnet],
                AppNetworkAccessType="VpcOnly",
                DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{self.accounts[stack]}:role/x"})
            studio["domainId"] = domain["DomainArn"].rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def world(moto_aws_module, sample_outputs):
    """The compliant organization, seeded once for this module's tests, which only read it
    (the broken states are tests/test_operations_verify_broken.py's)."""
    outputs, scps = sample_outputs
    return World(moto_aws_module, copy.deepcopy(outputs), scps)


@pytest.fixture
def run(world, tmp_path, capsys):
    """`run(*args)`: the command on the world's outputs file (or `outputs=`); (exit code, stdout, stderr)."""
    def _run(*argv, hook=None, outputs=None):
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs or world.outputs))
        code = cli.main(["verify", "--outputs", str(path), *argv], session=world.mgmt, client_hook=hook)
        out = capsys.readouterr()
        return code, out.out, out.err
    return _run


def _findings(out):
    return [verify.Finding(**f) for f in json.loads(out)["findings"]]


def _by(findings, guardrail, check_part, account_part=""):
    found = [f for f in findings if f.guardrail == guardrail and check_part in f.check and account_part in f.account]
    assert found, f"no {guardrail} finding on '{check_part}' ({account_part})"
    return found


CHECKED = ("LOG-1", "LOG-3", "S3-1", "S3-2", "S3-3", "S3-4", "NET-1", "SM-4", "IAM-3")


def test_a_compliant_organization_passes_every_check(run, world):
    code, out, err = run("--json")
    assert code == 0, out + err
    findings = _findings(out)
    assert {f.result for f in findings} == {"pass", "skip"}
    for guardrail in CHECKED:
        assert any(f.guardrail == guardrail and f.result == "pass" for f in findings), guardrail
    # Every SCP of the organization stack: its content and its targets, and every catalog
    # guardrail with an SCP in force on the accounts under its targets.
    scp_rows = [f for f in findings if f.check.startswith("SCP mrd-guardrails-")]
    assert len(scp_rows) == 2 * 10
    reach = {f.guardrail for f in findings if f.check == "SCP reaches accounts"}
    assert {"ORG-1", "REG-1", "SM-7", "NET-1", "MOD-1", "CI-2"} <= reach
    assert json.loads(out)["ok"] is True
    # LOG-3 in the management account too (the platform records there), in every allowed region.
    (mgmt_log3,) = _by(findings, "LOG-3", "Config recorder on", "management (111111111111)")
    assert mgmt_log3.result == "pass" and mgmt_log3.evidence.endswith("eu-west-1, eu-central-1")
    (mgmt_s31,) = _by(findings, "S3-1", "account public access block", "management (111111111111)")
    assert mgmt_s31.result == "pass"
    # IAM-3 in every member account the baseline StackSet reaches (the root: all of them).
    members = {f.account.split(" ")[0] for f in _by(findings, "IAM-3", "mrd-break-glass trust unchanged")
               if not f.account.startswith("management")}
    assert members == set(world.accounts)


def test_member_break_glass_trust_is_the_baseline_templates(world):
    name, trust = verify.expected_member_break_glass(world.platform, world.mgmt_id, world.accounts["network"])
    assert name == "mrd-break-glass"
    assert trust["Statement"] == [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "sts:AssumeRole",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/mrd-break-glass"},
                      "Bool": {"aws:MultiFactorAuthPresent": "true"}}}]
    with pytest.raises(OperationsError, match="cannot evaluate"):
        verify._resolve({"Fn::GetAtt": ["Role", "Arn"]}, {})


def test_break_glass_is_checked_only_where_the_baseline_stackset_reaches(world):
    import yaml

    from stacks.config import parse_platform

    data = yaml.safe_load((SAMPLE_DIR / "platform.yaml").read_text())
    data.setdefault("security", {}).setdefault("config", {})["baseline_ous"] = ["Workloads"]
    platform = parse_platform(data)
    ctx = verify.Context(platform, None, world.outputs, None)
    reached = {k for k, _ in verify.baseline_accounts(ctx)}
    assert reached == {k for k, (_, ou) in platform.accounts().items() if ou.split("/")[0] == "Workloads"}
    assert "network" not in reached and "document-vision-prod" in reached


def test_the_table_names_guardrail_account_check_result_and_evidence(run):
    code, out, _ = run("--checks", "trail,probes")
    assert code == 0
    head, rule, *rows, summary = out.strip().splitlines()
    assert head.split() == ["guardrail", "account", "check", "result", "evidence"]
    assert any(r.startswith("LOG-1") and "(111111111111)" in r and "logging, log file validation" in r for r in rows)
    assert summary == "1 passed, 0 failed, 1 skipped"


def test_missing_permission_is_a_failure_naming_the_call_and_what_to_do(world, run):
    def deny_config(client, account, service, region, role):
        if service == "config" and account == world.accounts["data-lake"] and region == REGION:
            stub = Stubber(client)
            stub.add_client_error("describe_configuration_recorders", "AccessDeniedException",
                                  "not authorized to perform: config:DescribeConfigurationRecorders")
            stub.activate()
    code, out, _ = run("--json", "--checks", "config", hook=deny_config)
    assert code == 1
    (row,) = [f for f in _findings(out) if f.result == "fail"]
    assert row.guardrail == "LOG-3" and row.account == f"data-lake ({world.accounts['data-lake']})"
    assert "DescribeConfigurationRecorders" in row.evidence and "missing permission" in row.evidence


def test_throttling_is_retried_with_backoff_then_reported(world, run, monkeypatch):
    from botocore.awsrequest import AWSResponse
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    throttled = {"left": 2}

    def throttle_s3control(client, account, service, region, role):
        if service != "s3control" or account != world.accounts["network"]:
            return

        def before_send(request, **_):
            if throttled["left"] > 0:
                throttled["left"] -= 1
                body = (b'<?xml version="1.0"?><ErrorResponse><Error><Code>SlowDown</Code>'
                        b'<Message>Please reduce your request rate.</Message></Error></ErrorResponse>')
                return AWSResponse(request.url, 503, {}, type("Raw", (), {"stream": lambda self, **k: [body]})())
            return None
        client.meta.events.register_first("before-send.s3-control.GetPublicAccessBlock", before_send)

    code, out, _ = run("--json", "--checks", "public-access-block", hook=throttle_s3control)
    assert code == 0, out
    assert throttled["left"] == 0  # both throttled attempts were retried by botocore
    throttled["left"] = 99
    code, out, _ = run("--json", "--checks", "public-access-block", "--max-attempts", "3", hook=throttle_s3control)
    (row,) = [f for f in _findings(out) if f.result == "fail"]
    assert code == 1 and row.guardrail == "S3-1"
    assert "SlowDown" in row.evidence and "still throttled after 3 attempts" in row.evidence


# -- probes ----------------------------------------------------------------------------------


def _probe_hook(world, denied: set[str]):
    """Stub the probe role's EC2 and SageMaker answers: AccessDenied for the guardrails in
    `denied`, else what AWS answers an authorized call (DryRunOperation, ValidationException)."""
    def hook(client, account, service, region, role):
        if role != "mrd-probe" or service not in ("ec2", "sagemaker"):
            return
        stub = Stubber(client)
        if service == "ec2" and region != REGION:
            code = "UnauthorizedOperation" if "REG-1" in denied else "DryRunOperation"
            stub.add_client_error("describe_vpcs", code, "explicit deny in a service control policy"
                                  if code != "DryRunOperation" else "Request would have succeeded")
        elif service == "ec2":
            code = "UnauthorizedOperation" if "NET-1" in denied else "DryRunOperation"
            stub.add_client_error("create_internet_gateway", code, "You are not authorized to perform this operation."
                                  if code != "DryRunOperation" else "Request would have succeeded")
        elif service == "sagemaker":
            code = "AccessDeniedException" if "SM-7" in denied else "ValidationException"
            stub.add_client_error("create_endpoint", code, "explicit deny in a service control policy"
                                  if code != "ValidationException" else "Could not find endpoint configuration")
        stub.activate()
    return hook


def test_without_a_probe_role_the_probes_are_skipped_and_say_why(run):
    code, out, _ = run("--json", "--checks", "probes")
    (row,) = [f for f in _findings(out) if f.check == "preventive probes"]
    assert row.result == "skip" and "exempt from the SCPs" in row.evidence


def test_denied_probes_pass_on_every_account_they_apply_to(world, run):
    code, out, _ = run("--json", "--checks", "probes", "--probe-role", "mrd-probe", hook=_probe_hook(world, {"REG-1", "NET-1", "SM-7"}))
    assert code == 0, out
    probes = [f for f in _findings(out) if "DryRun" in f.check or "CreateEndpoint" in f.check]
    reg = [f for f in probes if f.guardrail == "REG-1"]
    assert len(reg) == len(world.accounts) and all("us-west-2" in f.check for f in reg)
    net = {f.account.split(" ")[0] for f in probes if f.guardrail == "NET-1"}
    # Every account of the Workloads OUs: the projects' and the data lake's.
    assert net == {k for k, (_, ou) in world.platform.accounts().items() if ou.split("/")[0] == "Workloads"}
    assert {"data-lake", "document-vision-prod"} <= net and "network" not in net
    sm7 = {f.account.split(" ")[0] for f in probes if f.guardrail == "SM-7"}
    assert sm7 == {"document-vision-dev", "fraud-detection-dev", "mrd-sandbox-research"}
    assert all(f.result == "pass" and f.evidence.startswith("denied:") for f in probes)


def test_allowed_probes_fail_and_other_errors_are_not_taken_for_denials(world, run):
    code, out, _ = run("--json", "--checks", "probes", "--probe-role", "mrd-probe", hook=_probe_hook(world, {"REG-1"}))
    assert code == 1
    failed = [f for f in _findings(out) if f.result == "fail"]
    assert {f.guardrail for f in failed} == {"NET-1", "SM-7"}
    assert all(f.evidence.startswith("allowed: authorization passed") for f in failed)
    assert any("DryRunOperation" in f.evidence for f in failed) and any("ValidationException" in f.evidence for f in failed)

    def throttled_probe(client, account, service, region, role):
        if role == "mrd-probe" and service == "ec2" and region == REGION and account == world.accounts["document-vision-dev"]:
            stub = Stubber(client)
            stub.add_client_error("create_internet_gateway", "InternalError", "try again")
            stub.activate()
        else:
            _probe_hook(world, {"REG-1", "NET-1", "SM-7"})(client, account, service, region, role)
    code, out, _ = run("--json", "--checks", "probes", "--probe-role", "mrd-probe", hook=throttled_probe)
    (row,) = [f for f in _findings(out) if f.result == "fail"]
    assert row.guardrail == "NET-1" and row.evidence == "inconclusive: InternalError: try again"


def test_sm7_probe_carries_the_mandatory_tags_and_creates_nothing_in_moto(world, run):
    # Unstubbed, moto answers CreateEndpoint for a missing configuration as AWS does after
    # authorization: a validation error, and nothing is created.
    code, out, _ = run("--json", "--checks", "probes", "--probe-role", "mrd-probe")
    sm7 = [f for f in _findings(out) if f.guardrail == "SM-7" and "CreateEndpoint" in f.check]
    assert sm7 and all(f.result == "fail" and "ValidationException" in f.evidence for f in sm7)
    assert world.client("document-vision-dev", "sagemaker").list_endpoints()["Endpoints"] == []
    ctx_tags = verify._probe_tags(verify.Context(world.platform, None, world.outputs, None), "document-vision-dev")
    assert {t["Key"] for t in ctx_tags} == set(world.platform.mandatory_tags)
    assert {"Key": "environment", "Value": "dev"} in ctx_tags


# -- inputs ----------------------------------------------------------------------------------


def test_unknown_or_missing_outputs_are_usage_errors(world, tmp_path, capsys):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"security": world.outputs["security"]}))
    assert cli.main(["verify", "--outputs", str(path)], session=world.mgmt) == 2
    assert "no outputs of stack 'organization'" in capsys.readouterr().err
    assert cli.main(["verify", "--outputs", str(tmp_path / "nope.json")], session=world.mgmt) == 2
    assert "does not exist" in capsys.readouterr().err


def test_an_unreachable_account_is_a_failure_naming_the_role(world, run):
    def deny_assume(client, account, service, region, role):
        if service == "sts" and account == world.accounts["network"]:
            stub = Stubber(client)
            stub.add_client_error("assume_role", "AccessDenied", "User: arn:aws:sts::111111111111:assumed-role/x is "
                                  "not authorized to perform: sts:AssumeRole")
            stub.activate()
    code, out, _ = run("--json", "--checks", "config,public-access-block", hook=deny_assume)
    rows = [f for f in _findings(out) if f.result == "fail"]
    # The network account's checks (Config, public access block) fail, each naming the role and
    # what to check; the other accounts' pass.
    assert code == 1 and {f.guardrail for f in rows} == {"LOG-3", "S3-1"}
    assert all(f.account == f"network ({world.accounts['network']})" for f in rows)
    assert all(f"cannot assume arn:aws:iam::{world.accounts['network']}:role/OrganizationAccountAccessRole: "
               "AccessDenied" in f.evidence and "trusts account 111111111111" in f.evidence for f in rows)

    outputs = copy.deepcopy(world.outputs)
    outputs["organization"]["accountIds"]["network"] = "not-an-id"
    code, out, _ = run("--json", "--checks", "config,public-access-block", outputs=outputs)
    rows = [f for f in _findings(out) if f.result == "fail"]
    assert code == 1 and rows and all("account id 'not-an-id' is not 12 digits" in f.evidence for f in rows)


def test_checks_selects_what_runs_and_rejects_unknown_names(run):
    code, out, _ = run("--json", "--checks", "trail,break-glass")
    assert code == 0 and {f.guardrail for f in _findings(out)} == {"LOG-1", "IAM-3"}
    code, _, err = run("--checks", "trail,iam")
    assert code == 2 and "--checks: unknown iam (allowed: scps, trail, config," in err


def test_outputs_come_from_the_backend_through_the_automation_api(world, capsys):
    from pulumi import automation as auto

    from tests.test_deploy_order import FakeCLI

    class OutputsCLI(FakeCLI):
        def run(self, args, cwd, additional_env, on_output=None, on_error=None):
            if args[:3] == ["stack", "output", "--json"]:
                self.calls.append(list(args))
                stack = args[args.index("--stack") + 1].rsplit("/", 1)[1]
                return auto.CommandResult(json.dumps(world.outputs[stack]), "", 0)
            return super().run(args, cwd, additional_env, on_output, on_error)

    projects = [f"{p.name}-{e}" for p in world.platform.projects for e in p.environments]
    fake = OutputsCLI(missing={f"organization/ml-platform/{s}" for s in projects if s not in PROJECT_STACKS})
    code = cli.main(["verify", "--checks", "trail,buckets"], session=world.mgmt,
                    workspace_factory=lambda **kw: auto.LocalWorkspace(pulumi_command=fake, **kw))
    assert code == 0, capsys.readouterr().out
    read = {c[c.index("--stack") + 1] for c in fake.calls if c[:3] == ["stack", "output", "--json"]}
    assert read == {f"organization/ml-platform/{s}" for s in ("organization", "security", *PROJECT_STACKS)}

    fake = OutputsCLI(missing={"organization/ml-platform/security"})
    assert cli.main(["verify"], session=world.mgmt,
                    workspace_factory=lambda **kw: auto.LocalWorkspace(pulumi_command=fake, **kw)) == 2
    assert "stack organization/ml-platform/security does not exist in the backend" in capsys.readouterr().err


def test_without_credentials_the_message_says_how_to_give_them(world, tmp_path, capsys, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookup
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(world.outputs))
    assert cli.main(["verify", "--outputs", str(path), "--checks", "trail"]) == 2
    assert "no AWS credentials found (set AWS_PROFILE or use --profile" in capsys.readouterr().err


def test_sessions_use_botocore_retries(world):
    from operations.aws import Sessions, retry_config

    sessions = Sessions(world.mgmt, "OrganizationAccountAccessRole", retry_config("adaptive", 5))
    client = sessions.client(world.accounts["network"], "ec2", REGION)
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 5}
    with pytest.raises(OperationsError, match="--retry-mode: 'legacy'"):
        retry_config("legacy")
