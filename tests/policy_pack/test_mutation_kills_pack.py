"""Pack behaviour the mutation run (`make mutation`) found untested, checked in-process on the
pack's own functions (the subprocess tests cover the same code over the Analyzer protocol)."""

from __future__ import annotations

import json
import sys

from ml_guardrails import identity
from pack_helpers import ACCOUNT, DEFAULT_PROVIDER, assert_clean, assert_violation, res


def test_yaml_short_form_tags_read_as_cloudformation_intrinsics():
    # CloudFormation's short forms: `!GetAtt Name.Attribute` is the list [Name, Attribute];
    # every other tag keeps its scalar as is (a dot in a `!Sub` string is no separator).
    template = identity._parse_template(
        "Resources:\n"
        "  Role:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      Arn: !GetAtt Trainer.Arn\n"
        "      Bucket: !Sub arn:${AWS::Partition}:s3:::logs.example\n"
        "      Name: !Ref Env.Name\n"
        "      Joined: !Join [':', [a, b]]\n")
    properties = template["Resources"]["Role"]["Properties"]
    assert properties["Arn"] == {"Fn::GetAtt": ["Trainer", "Arn"]}
    assert properties["Bucket"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::logs.example"}
    assert properties["Name"] == {"Ref": "Env.Name"}
    assert properties["Joined"] == {"Fn::Join": [":", ["a", "b"]]}


def test_a_yaml_template_is_not_judged_without_a_yaml_reader(monkeypatch):
    # The pack's dependencies may lack PyYAML: a YAML template then reads as unknown (None),
    # it does not fail the pack; JSON templates still parse.
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    identity._parse_template.cache_clear()
    try:
        assert identity._parse_template("Resources: {}\n# without yaml\n") is None
        assert identity._parse_template('{"Resources": {}}') == {"Resources": {}}
    finally:
        identity._parse_template.cache_clear()


def test_an_unknown_minimum_severity_reads_as_the_default_medium():
    # POL-1's `minimumSeverity` defaults to MEDIUM (its config schema); a value outside the
    # severities reaching lint() must not silently raise the bar. RESOURCE_MISMATCH is MEDIUM.
    document = identity.load_document("identity", "mismatch", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mrd-data"}]}))
    medium = identity.lint(document, "MEDIUM")
    assert any(p.startswith("parliament RESOURCE_MISMATCH (MEDIUM)") for p in medium), medium
    assert identity.lint(document, "unheard-of") == medium
    assert not any("RESOURCE_MISMATCH" in p for p in identity.lint(document, "HIGH"))


def test_a_template_condition_parsed_from_json_is_unknown():
    # Templates arrive as text: the `Condition` key of a parsed document is no literal of the
    # pack's source, and still reads as unknown (the condition is decided at deploy time).
    parsed = json.loads('{"Value": {"Condition": "IsProd"}}')
    assert identity._resolve(parsed, {})["Value"] is identity.UNKNOWN


def test_long_action_lists_are_abbreviated_after_five():
    five = [f"s3:Action{i}" for i in range(5)]
    assert identity._listed(five) == ", ".join(five)
    assert identity._listed([*five, "s3:Action5"]) == ", ".join(five) + " and 1 more"


def test_provider_accounts_come_from_allowed_account_ids_and_from_assumed_roles_each():
    # A provider names its account by allowed_account_ids, by the role it assumes, or both;
    # either alone is enough (the sample providers set both, which hides a broken one).
    from ml_guardrails.common import provider_accounts

    allowed = {"allowedAccountIds": json.dumps(["111111111111", "not-an-account"])}
    assert provider_accounts(allowed) == {"111111111111"}
    assumed = {"assumeRoles": json.dumps([{"roleArn": "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"},
                                          {"roleArn": None}, {"sessionName": "no-role"}])}
    assert provider_accounts(assumed) == {"222222222222"}
    assert provider_accounts({"assumeRole": json.dumps({"roleArn": "arn:aws-cn:iam::333333333333:role/Deploy"})}) \
        == {"333333333333"}
    assert provider_accounts({**allowed, **assumed}) == {"111111111111", "222222222222"}
    assert provider_accounts({}) == set()


def test_the_lint_keeps_known_condition_values_and_leaves_unknown_ones_out():
    # Condition values not known in preview are left out of what the linter sees (a placeholder
    # would be the wrong type for the operator); the known ones stay, and a block left empty goes.
    from ml_guardrails.common import UNKNOWN

    document = {"Version": "2012-10-17", "Statement": [{
        "Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*",
        "Condition": {"StringEquals": {"aws:SourceVpce": UNKNOWN, "aws:PrincipalOrgID": "o-abc123"},
                      "IpAddress": {"aws:SourceIp": UNKNOWN}}}]}
    linted = identity._sanitize_for_lint(document, "identity")
    assert linted["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
    document["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": UNKNOWN}}
    assert "Condition" not in identity._sanitize_for_lint(document, "identity")["Statement"][0]


def test_the_federated_token_condition_is_asked_of_role_trust_policies_only():
    # IAM-2: a role trusting a federated principal without a condition on the token lets any
    # holder of a token from that provider assume it. That is a trust policy's question; the
    # resource policies IAM-2 also reads (bucket, key, repository, registry, model package
    # group) grant nothing to a token exchange, so the same statement there is not flagged.
    oidc = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    statement = {"Sid": "Web", "Effect": "Allow", "Principal": {"Federated": oidc},
                 "Action": "sts:AssumeRoleWithWebIdentity"}
    text = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    trust = identity.principal_problems(identity.load_document("trust", "role ci", text), {ACCOUNT}, {})
    assert trust == [f"role ci: statement Web trusts federated principal {oidc} without a condition on the "
                     "token's subject/audience"]
    for kind in identity.RESOURCE_POLICY_KINDS:
        assert identity.principal_problems(identity.load_document(kind, "policy p", text), {ACCOUNT}, {}) == [], kind


def test_scps_on_one_target_count_together_however_its_id_was_given(analyzer):
    # LIM-2 counts by target id: an attachment whose target id comes from the OU resource and
    # one given the same id as a plain value (read from configuration or another stack) land
    # on the same target, so 3 + 2 + FullAWSAccess is 6, over the limit of 5.
    ou = res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-workloads", {"name": "Workloads"})
    resources = [DEFAULT_PROVIDER, ou]
    for i in range(5):
        policy = res("aws:organizations/policy:Policy", f"scp-{i}", {"name": f"scp-{i}", "content": "{}"})
        attachment = res("aws:organizations/policyAttachment:PolicyAttachment", f"scp-{i}-attachment",
                         {"policyId": f"p-{i}", "targetId": "ou-abcd-11111111"},
                         deps={"policyId": [policy], **({"targetId": [ou]} if i < 3 else {})})
        resources += [policy, attachment]
    assert_violation(analyzer.analyze_stack(resources), "lim-2-scps-per-target",
                     "would have 6 SCPs (scp-0, scp-1, scp-2, scp-3, scp-4 plus FullAWSAccess), over the limit of 5")
    assert_clean(analyzer.analyze_stack(resources[:-2]), "lim-2-scps-per-target")


def test_a_target_id_from_several_resources_names_each_of_them(analyzer):
    # A target id can be the output of more than one resource (an id chosen between two OUs,
    # say): the message names every one, as it does when the id is unknown.
    workloads = res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-workloads", {"name": "Workloads"})
    sandbox = res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-sandbox", {"name": "Sandbox"})
    resources = [DEFAULT_PROVIDER, workloads, sandbox]
    for i in range(5):
        policy = res("aws:organizations/policy:Policy", f"scp-{i}", {"name": f"scp-{i}", "content": "{}"})
        attachment = res("aws:organizations/policyAttachment:PolicyAttachment", f"scp-{i}-attachment",
                         {"policyId": f"p-{i}", "targetId": "ou-abcd-11111111"},
                         deps={"policyId": [policy], "targetId": [workloads, sandbox]})
        resources += [policy, attachment]
    assert_violation(analyzer.analyze_stack(resources), "lim-2-scps-per-target",
                     "target OrganizationalUnit ou-workloads, OrganizationalUnit ou-sandbox (ou-abcd-11111111) "
                     "would have 6 SCPs")


def test_a_build_project_is_named_by_its_aws_name_else_by_its_resource_name(analyzer):
    # CI-1 names the project as AWS knows it (its `name`), and the Pulumi resource when the
    # name is not set (Pulumi then auto-names it).
    environment = {"computeType": "BUILD_GENERAL1_SMALL", "image": "aws/codebuild/standard:7.0",
                   "type": "LINUX_CONTAINER", "privilegedMode": False}
    named = res("aws:codebuild/project:Project", "train-build", {"name": "nightly-train", "environment": environment})
    assert_violation(analyzer.analyze(named), "ci-1-codebuild-encrypted-unprivileged",
                     "build project nightly-train has no encryptionKey")
    unnamed = res("aws:codebuild/project:Project", "train-build", {"environment": environment})
    assert_violation(analyzer.analyze(unnamed), "ci-1-codebuild-encrypted-unprivileged",
                     "build project train-build has no encryptionKey")

