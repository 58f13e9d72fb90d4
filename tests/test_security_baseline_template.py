"""The account-baseline StackSet template is valid CloudFormation (cfn-lint) in every allowed
region, and does what the baseline promises."""

from __future__ import annotations

import json

from cfnlint.api import ManualArgs, lint

from components.config_baseline import EBS_RUNBOOK, S3_BLOCK_RUNBOOK, baseline_template
from policy_documents.service_authorization import validate_document

REGIONS = ["eu-west-1", "eu-central-1"]


def lint_errors(body: str) -> list[str]:
    return [str(m) for m in lint(body, config=ManualArgs(regions=REGIONS))]


def test_template_the_stack_ships_passes_cfn_lint(sample_runs):
    stack_set = sample_runs("security").of_type("aws:cloudformation/stackSet:StackSet")[0]
    assert lint_errors(stack_set.inputs["templateBody"]) == []


def test_cfn_lint_catches_a_broken_template():
    broken = baseline_template()
    broken["Resources"]["ConfigRecorder"]["Properties"]["RecordingGroup"]["AllSupported"] = "yes please"
    assert lint_errors(json.dumps(broken))


def test_recorder_covers_everything_and_delivers_encrypted():
    resources = baseline_template()["Resources"]
    group = resources["ConfigRecorder"]["Properties"]["RecordingGroup"]
    assert group["AllSupported"] is True
    # Global resource types (IAM) are recorded once, in the home region.
    assert group["IncludeGlobalResourceTypes"] == {"Fn::If": ["IsHomeRegion", True, False]}
    channel = resources["ConfigDeliveryChannel"]["Properties"]
    assert channel["S3BucketName"] == {"Ref": "ConfigBucketName"}
    assert channel["S3KmsKeyArn"] == {"Ref": "LogKeyArn"}
    # Control Tower owns the recorders of enrolled accounts when it is in use.
    for name in ("ConfigRecorderRole", "ConfigRecorder", "ConfigDeliveryChannel"):
        assert resources[name]["Condition"] == "DeployRecorder"


def test_account_settings_are_applied_and_reapplied():
    resources = baseline_template()["Resources"]
    ebs = resources["EbsEncryptionByDefault"]["Properties"]
    assert ebs["Name"] == EBS_RUNBOOK and ebs["ScheduleExpression"] == "rate(1 day)"
    block = resources["S3AccountPublicAccessBlock"]
    assert block["Condition"] == "IsHomeRegion"  # the account-level block is account-wide
    params = block["Properties"]["Parameters"]
    assert block["Properties"]["Name"] == S3_BLOCK_RUNBOOK
    assert all(params[k] == ["true"] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"))


def test_template_roles_are_least_privilege():
    resources = baseline_template()["Resources"]
    role = resources["BaselineAutomationRole"]["Properties"]
    policy = role["Policies"][0]["PolicyDocument"]
    assert validate_document(policy) == []
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"ec2:EnableEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault",
                       "s3:PutAccountPublicAccessBlock", "s3:GetAccountPublicAccessBlock"}
    for name in ("BaselineAutomationRole", "ConfigRecorderRole"):
        trust = resources[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_break_glass_role_reaches_every_account_with_mfa(sample_runs):
    (stack_set,) = sample_runs("security").of_type("aws:cloudformation/stackSet:StackSet")
    template = json.loads(stack_set.inputs["templateBody"])
    role = template["Resources"]["BreakGlassRole"]
    assert role["Condition"] == "IsHomeRegion"  # IAM is global: once per account
    assert role["Properties"]["RoleName"] == {"Ref": "BreakGlassRoleName"}
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    assert "aws:PrincipalArn" in statement["Condition"]["ArnEquals"]
    assert stack_set.inputs["parameters"]["BreakGlassRoleName"] == "mrd-break-glass"
    assert stack_set.inputs["parameters"]["ManagementAccountId"] == "111111111111"


def test_recorder_role_may_deliver_to_the_central_bucket_in_its_own_account():
    # Config uses the recorder's role to deliver to a bucket in the same account (the
    # log-archive account); cross-account it delivers as the service.
    role = baseline_template()["Resources"]["ConfigRecorderRole"]["Properties"]
    (policy,) = role["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["ConfigHistory"]["Action"] == ["s3:GetBucketAcl", "s3:ListBucket", "s3:PutObject"]
    assert {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ConfigBucketName}/AWSLogs/${AWS::AccountId}/Config/*"} \
        in statements["ConfigHistory"]["Resource"]
    assert statements["LogKey"]["Resource"] == {"Ref": "LogKeyArn"}
