"""The management account's break-glass role (which the member accounts' break-glass roles
trust) and the security-tooling auditor roles (which the log archive's policies admit), as the
security stack registers them."""

from __future__ import annotations

import json

import pytest

from components.log_archive import AUDITOR_READ_ACTIONS
from components.security_alerts import FILTER_PATTERN_MAX
from policy_documents.service_authorization import validate_document
from tests.test_security_stack import MANAGEMENT, account_of, as_list, doc, one, statement

ROLE = "aws:iam/role:Role"
BREAK_GLASS_ARN = f"arn:aws:iam::{MANAGEMENT}:role/mrd-break-glass"


@pytest.fixture(scope="module")
def run(sample_runs):
    return sample_runs("security")


def _roles(run, name):
    return [r for r in run.of_type(ROLE) if r.inputs["name"] == name]


def test_management_break_glass_role_is_mfa_only_short_and_administrator(run):
    (role,) = _roles(run, "mrd-break-glass")
    assert account_of(run, role) == (MANAGEMENT, "eu-west-1")
    assert role.inputs["maxSessionDuration"] == 3600
    trust = doc(role, "assumeRolePolicy")
    assert validate_document(trust) == []
    (allow,) = trust["Statement"]
    assert allow["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}
    assert allow["Action"] == "sts:AssumeRole"
    assert allow["Condition"] == {
        "ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{MANAGEMENT}:user/mrd-break-glass-1",
                                         f"arn:aws:iam::{MANAGEMENT}:user/mrd-break-glass-2"]},
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "NumericLessThan": {"aws:MultiFactorAuthAge": "900"},
    }
    (admin,) = [a for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == "mrd-break-glass"]
    assert admin.inputs["policyArn"] == "arn:aws:iam::aws:policy/AdministratorAccess"
    assert run.outputs["breakGlassRoleArn"] == role.outputs["arn"] == BREAK_GLASS_ARN


def test_member_break_glass_roles_trust_the_role_the_stack_creates(run):
    stack_set = one(run, "aws:cloudformation/stackSet:StackSet")
    template = json.loads(stack_set.inputs["templateBody"])
    trust = template["Resources"]["BreakGlassRole"]["Properties"]["AssumeRolePolicyDocument"]
    trusted = trust["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]["Fn::Sub"]
    params = {**stack_set.inputs["parameters"], "AWS::Partition": "aws"}
    for key, value in params.items():
        trusted = trusted.replace("${" + key + "}", value)
    assert trusted == run.outputs["breakGlassRoleArn"]


def test_every_break_glass_use_is_an_alarm(run):
    filters = {f.inputs["name"]: f for f in run.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")}
    alarms = {a.inputs["name"]: a for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    metric_filter = filters["mrd-break-glass-use"]
    assert metric_filter.inputs["logGroupName"] == one(run, "aws:cloudwatch/logGroup:LogGroup").outputs["name"]
    pattern = metric_filter.inputs["pattern"]
    for fragment in ('$.eventSource = "sts.amazonaws.com"', '$.eventName = "AssumeRole"',
                     f'$.requestParameters.roleArn = "{BREAK_GLASS_ARN}"',
                     f'$.userIdentity.sessionContext.sessionIssuer.arn = "{BREAK_GLASS_ARN}"'):
        assert fragment in pattern
    assert pattern.count("(") == pattern.count(")") and len(pattern) <= FILTER_PATTERN_MAX
    # Named like the other security alarms, so the forwarder takes it to the alert topic.
    alarm = alarms["mrd-security-break-glass-use"]
    assert alarm.inputs["metricName"] == metric_filter.inputs["metricTransformation"]["name"]
    assert "IAM-3" in alarm.inputs["alarmDescription"]
    assert account_of(run, alarm) == (MANAGEMENT, "eu-west-1")


def test_break_glass_session_and_mfa_age_follow_configuration(run_platform, sample_platform):
    sample_platform["organization"]["break_glass"].update(max_session_seconds=7200, max_mfa_age_seconds=300)
    changed = run_platform("security", platform=sample_platform)
    (role,) = _roles(changed, "mrd-break-glass")
    assert role.inputs["maxSessionDuration"] == 7200
    condition = doc(role, "assumeRolePolicy")["Statement"][0]["Condition"]
    assert condition["NumericLessThan"] == {"aws:MultiFactorAuthAge": "300"}


def test_an_existing_break_glass_role_is_looked_up_not_created(run_platform, sample_platform):
    sample_platform["organization"]["break_glass"] = {"existing": True}
    changed = run_platform("security", platform=sample_platform)
    assert _roles(changed, "mrd-break-glass") == []
    assert changed.outputs["breakGlassRoleArn"] == BREAK_GLASS_ARN
    # Its use still raises the alarm.
    assert any(f.inputs["name"] == "mrd-break-glass-use"
               for f in changed.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter"))


def test_security_auditor_reads_the_archive_and_nothing_else(run, accounts):
    tooling = accounts["security-tooling"]
    (role,) = _roles(run, "mrd-security-auditor")
    assert account_of(run, role)[0] == tooling
    trust = doc(role, "assumeRolePolicy")
    assert validate_document(trust) == []
    assert [s["Principal"] for s in trust["Statement"]] == [{"AWS": f"arn:aws:iam::{tooling}:root"}]
    (policy,) = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] in (role.id, role.inputs["name"])]
    document = doc(policy)
    assert validate_document(document) == []
    read = statement(document, "ReadLogArchive")
    assert set(as_list(read["Action"])) == set(AUDITOR_READ_ACTIONS)
    # Exactly the buckets whose policies admit the auditor (AuditorsRead).
    admitted = set()
    for bucket_policy in run.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        for s in doc(bucket_policy)["Statement"]:
            if s.get("Sid") == "AuditorsRead":
                assert f"arn:aws:iam::{tooling}:role/mrd-security-auditor" in s["Condition"]["ArnLike"]["aws:PrincipalArn"]
                admitted |= set(as_list(s["Resource"]))
    assert admitted and set(read["Resource"]) == admitted
    decrypt = statement(document, "DecryptLogsThroughS3")
    assert set(decrypt["Action"]) == {"kms:Decrypt", "kms:DescribeKey"}
    assert decrypt["Resource"] == one(run, "aws:kms/key:Key", "log-archive-key").outputs["arn"]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert all(s["Effect"] == "Allow" for s in document["Statement"]) and len(document["Statement"]) == 2
