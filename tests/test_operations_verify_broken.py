"""`python -m operations verify` on a broken organization: the compliant world of
tests/test_operations_verify.py, seeded once in moto, then broken once per check, each in
another account; every break is reported where it is, and nothing else fails."""

from __future__ import annotations

import copy
import json

from operations import __main__ as cli
from operations import verify

from tests.test_operations_verify import World, sample_outputs  # noqa: F401  (fixture)


def _break_everything(world):
    org = world.mgmt.client("organizations")
    ou = world.outputs["organization"]["ouIds"]
    ids = world.policy_ids
    # SCPs: one attached to one more OU, one detached from its target, one with a statement
    # edited out, one deleted, and a leftover platform SCP the outputs do not list.
    org.attach_policy(PolicyId=ids["mrd-guardrails-sandbox-1"], TargetId=ou["Workloads/Prod"])
    org.detach_policy(PolicyId=ids["mrd-guardrails-workloads-dev-1"], TargetId=ou["Workloads/Dev"])
    org.update_policy(PolicyId=ids["mrd-guardrails-root-2"], Content=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "S31DenyAccountPublicAccessChanges", "Effect": "Deny",
                                                "Action": "s3:PutAccountPublicAccessBlock", "Resource": "*"}]}))
    org.detach_policy(PolicyId=ids["mrd-guardrails-deployments-1"], TargetId=ou["Deployments"])
    org.delete_policy(PolicyId=ids["mrd-guardrails-deployments-1"])
    org.create_policy(Name="mrd-guardrails-root-9", Description="old", Type="SERVICE_CONTROL_POLICY",
                      Content=json.dumps({"Version": "2012-10-17", "Statement": [
                          {"Sid": "ORG1DenyLeave", "Effect": "Deny", "Action": "organizations:LeaveOrganization",
                           "Resource": "*"}]}))
    trail = world.outputs["security"]["trailArn"].rsplit("/", 1)[1]
    world.mgmt.client("cloudtrail").update_trail(Name=trail, EnableLogFileValidation=False)
    world.client("network", "config", "eu-central-1").delete_configuration_recorder(
        ConfigurationRecorderName="mrd-baseline")
    world.client("automation", "s3control").put_public_access_block(
        AccountId=world.accounts["automation"], PublicAccessBlockConfiguration={
            **{s: True for s in verify.BLOCK_SETTINGS}, "BlockPublicPolicy": False})
    dev = world.outputs["document-vision-dev"]
    s3 = world.client("document-vision-dev", "s3")
    experimentation = dev["data"]["buckets"]["experimentation"]["name"]
    s3.put_bucket_encryption(Bucket=experimentation, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_versioning(Bucket=experimentation, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_policy(Bucket=experimentation)
    ec2 = world.client("document-vision-prod", "ec2")
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=world.outputs["document-vision-prod"]["vpcId"])
    world.client("document-vision-dev", "sagemaker").create_domain(
        DomainName="shadow-it", AuthMode="IAM", VpcId=dev["vpcId"], SubnetIds=["subnet-1"],
        AppNetworkAccessType="PublicInternetOnly", DefaultUserSettings={"ExecutionRole": "arn:aws:iam::533956406798:role/x"})
    world.mgmt.client("iam").update_assume_role_policy(RoleName="mrd-break-glass", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                                                "Action": "sts:AssumeRole"}]}))
    # A member's break-glass role trusting any management principal, without MFA; the
    # management account's recorder stopped in one region.
    world.client("data-lake", "iam").update_assume_role_policy(RoleName="mrd-break-glass", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                                                "Action": "sts:AssumeRole"}]}))
    world.client("management", "config", "eu-central-1").stop_configuration_recorder(
        ConfigurationRecorderName="mrd-baseline")
    world.client("mrd-sandbox-research", "iam").delete_role(RoleName="mrd-break-glass")
    world.client("management", "s3control").delete_public_access_block(AccountId=world.mgmt_id)
    return igw, experimentation


def test_a_broken_organization_fails_each_check_where_it_is_broken(moto_aws, sample_outputs, tmp_path, capsys):
    outputs, scps = sample_outputs
    world = World(moto_aws, copy.deepcopy(outputs), scps)
    igw, bucket = _break_everything(world)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(world.outputs))
    code = cli.main(["verify", "--outputs", str(path), "--json"], session=world.mgmt)
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["ok"] is False
    failed = {(f["guardrail"], f["account"].split(" ")[0], f["check"]): f["evidence"]
              for f in report["findings"] if f["result"] == "fail"}
    domain = next(k for k in failed if k[2].startswith("Studio domain"))[2]
    expected = {
        ("IAM-1,SM-7,SM-8", "management", "SCP mrd-guardrails-sandbox-1 targets"):
            "also attached to Workloads/Prod",
        ("SM-1,SM-4,SM-5,SM-7,NET-1", "management", "SCP mrd-guardrails-workloads-dev-1 targets"):
            "not attached to Workloads/Dev",
        ("IAM-3,S3-1", "management", "SCP mrd-guardrails-root-2 content"): "statements of IAM-3 missing",
        ("CI-2", "management", "SCP mrd-guardrails-deployments-1 exists"): "no SCP named mrd-guardrails-deployments-1",
        ("SCP", "management", "SCP mrd-guardrails-root-9 expected"): "left over",
        # Without the dev SCP, SM-5 and SM-7 miss the dev accounts (SM-7 keeps the sandbox's);
        # without the deployments SCP, CI-2 misses the automation account.
        ("SM-5", "organization", "SCP reaches accounts"): "document-vision-dev, fraud-detection-dev",
        ("SM-7", "organization", "SCP reaches accounts"): "document-vision-dev, fraud-detection-dev",
        ("CI-2", "organization", "SCP reaches accounts"): "automation",
        ("LOG-1", "management", "organization trail"): "log file validation off",
        ("LOG-3", "network", "Config recorder on"): "eu-central-1: no recorder",
        ("S3-1", "automation", "account public access block"): "off: BlockPublicPolicy",
        ("S3-1", "management", "account public access block"): "no account public access block",
        ("S3-2", "document-vision-dev", f"{bucket} encrypted"): "not a KMS key",
        ("S3-3", "document-vision-dev", f"{bucket} versioned"): "versioning Suspended",
        ("S3-4", "document-vision-dev", f"{bucket} TLS only"): "no bucket policy",
        ("NET-1", "document-vision-prod", f"{world.outputs['document-vision-prod']['vpcId']} has no internet gateway"):
            f"attached: {igw}",
        ("SM-4", "document-vision-dev", domain): "AppNetworkAccessType PublicInternetOnly",
        ("IAM-3", "management", "mrd-break-glass trust unchanged"): "999999999999",
        ("IAM-3", "data-lake", "mrd-break-glass trust unchanged"):
            "trust differs from the account-baseline StackSet's",
        ("IAM-3", "mrd-sandbox-research", "mrd-break-glass trust unchanged"): "role mrd-break-glass does not exist",
        ("LOG-3", "management", "Config recorder on"): "eu-central-1: recorder mrd-baseline stopped",
    }
    # Exactly these fail: each break where it is, nothing elsewhere.
    assert set(failed) == set(expected)
    for key, evidence in expected.items():
        assert evidence in failed[key], (key, failed[key])
    assert "document-vision-prod" not in failed[("SM-5", "organization", "SCP reaches accounts")]
    assert "mrd-sandbox-research" not in failed[("SM-7", "organization", "SCP reaches accounts")]
