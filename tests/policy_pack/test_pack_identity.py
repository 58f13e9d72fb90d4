"""IAM-1, IAM-2 and POL-1 (parliament + service authorization data)."""

from __future__ import annotations

import json

from ml_guardrails.identity import _parliament, _parliament_findings
from pack_helpers import (
    ACCOUNT,
    DEFAULT_PROVIDER,
    FOREIGN,
    TAGS,
    UNKNOWN,
    assert_clean,
    assert_violation,
    doc,
    provider,
    res,
)

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
SAGEMAKER_TRUST = doc({"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"})


def role(name: str, trust: object, **props: object) -> object:
    return res(ROLE, name, {"name": name, "assumeRolePolicy": trust, **props})


# -- IAM-1 ---------------------------------------------------------------------------------------
def test_iam_users_in_workload_stacks(analyzer):
    user = res("aws:iam/user:User", "alice", {"name": "alice"})
    key = res("aws:iam/accessKey:AccessKey", "alice-key", {"user": "alice"}, deps={"user": [user]})
    diagnostics = analyzer.analyze_stack([DEFAULT_PROVIDER, user, key])
    assert_violation(diagnostics, "iam-1-no-iam-users", "User alice in a workload stack (environment dev from "
                     "default tags of provider workload)", urn_=user.urn)
    assert_violation(diagnostics, "iam-1-no-iam-users", "AccessKey alice-key", urn_=key.urn)


def test_iam_users_outside_workload_stacks_pass(analyzer):
    shared = provider("shared", tags={**TAGS, "environment": "shared"})
    user = res("aws:iam/user:User", "ci", {"name": "ci"}, prov=shared)
    assert_clean(analyzer.analyze_stack([shared, user]), "iam-1-no-iam-users")


def test_environment_from_the_stack_tags(analyzer, stack_tags):
    untagged = provider("untagged", tags=None)
    key = res("aws:iam/accessKey:AccessKey", "key", {"user": "bob"}, prov=untagged)
    assert_clean(analyzer.analyze_stack([untagged, key]), "iam-1-no-iam-users")
    with stack_tags({"environment": "prod"}):
        assert_violation(analyzer.analyze_stack([untagged, key]), "iam-1-no-iam-users", "environment prod from the stack's tags")


def test_iam_user_in_a_stack_set_template(analyzer):
    template = {"Resources": {"Legacy": {"Type": "AWS::IAM::User", "Properties": {"UserName": "legacy"}}}}
    stack_set = res("aws:cloudformation/stackSet:StackSet", "baseline", {"templateBody": json.dumps(template)})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, stack_set]), "iam-1-no-iam-users",
                     "deploys AWS::IAM::User Legacy")


# -- IAM-2: administrator access -----------------------------------------------------------------
def test_policy_allowing_everything(analyzer):
    admin = res(POLICY, "admin", {"policy": doc({"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"})})
    d = assert_violation(analyzer.analyze(admin), "iam-2-no-admin-wildcard", "policy: statement All allows '*' on '*'")
    assert d.severity == "critical"
    scoped = res(POLICY, "reader", {"policy": doc({"Effect": "Allow", "Action": "s3:GetObject",
                                                   "Resource": "arn:aws:s3:::mrd-data/*"})})
    assert_clean(analyzer.analyze(scoped), "iam-2-no-admin-wildcard")


def test_scp_full_access_is_not_an_admin_grant(analyzer):
    full = res("aws:organizations/policy:Policy", "full", {"type": "SERVICE_CONTROL_POLICY", "content": doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"})})
    assert_clean(analyzer.analyze(full), "iam-2-no-admin-wildcard")


def test_inline_not_action_allow_is_near_admin(analyzer):
    inline = [{"name": "almost", "policy": doc({"Sid": "Almost", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})}]
    assert_violation(analyzer.analyze(role("dev", SAGEMAKER_TRUST, inlinePolicies=inline)), "iam-2-no-admin-wildcard",
                     "inlinePolicies[0] (almost): statement Almost allows every action except")


def test_administrator_access_only_for_break_glass_and_deployment(analyzer):
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    attach = res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin", {"role": "data-scientist", "policyArn": arn})
    assert_violation(analyzer.analyze(attach), "iam-2-no-admin-wildcard", "AdministratorAccess is attached to role data-scientist")
    break_glass = res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "bg", {"role": "mrd-break-glass", "policyArn": arn})
    assert_clean(analyzer.analyze(break_glass), "iam-2-no-admin-wildcard")
    template = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "ops", "ManagedPolicyArns": [arn],
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
             "Action": "sts:AssumeRole"}]}}}}}
    stack_set = res("aws:cloudformation/stackSet:StackSet", "baseline", {"templateBody": json.dumps(template)})
    assert_violation(analyzer.analyze(stack_set), "iam-2-no-admin-wildcard", "templateBody role Role (ops) has AdministratorAccess")


# -- IAM-2: trusted principals -------------------------------------------------------------------
def _trust(principal: object, condition: dict | None = None) -> str:
    statement = {"Sid": "Trust", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return doc(statement)


def test_trust_in_own_account_and_named_roles(analyzer):
    own = role("r", _trust(f"arn:aws:iam::{ACCOUNT}:root"))
    assert_clean(analyzer.analyze(own), "iam-2-trusted-principals")
    named = role("r", _trust(f"arn:aws:iam::{FOREIGN}:role/pipeline"))
    assert_clean(analyzer.analyze(named), "iam-2-trusted-principals")


def test_trust_of_a_whole_foreign_account(analyzer):
    for principal in (f"arn:aws:iam::{FOREIGN}:root", FOREIGN):
        d = assert_violation(analyzer.analyze(role("r", _trust(principal))), "iam-2-trusted-principals",
                             f"assumeRolePolicy: statement Trust trusts the whole foreign account {principal} "
                             "without a condition on aws:PrincipalOrgID")
        assert "Remediation: Name the role ARNs" in d.message
    conditioned = role("r", _trust(f"arn:aws:iam::{FOREIGN}:root", {"StringEquals": {"sts:ExternalId": "x-123"}}))
    assert_clean(analyzer.analyze(conditioned), "iam-2-trusted-principals")


def test_trust_of_everyone(analyzer):
    assert_violation(analyzer.analyze(role("r", _trust("*"))), "iam-2-trusted-principals", "trusts '*' without a condition")
    org = role("r", _trust("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))
    assert_clean(analyzer.analyze(org), "iam-2-trusted-principals")


def test_federated_trust_needs_a_condition(analyzer):
    oidc = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    bare = doc({"Effect": "Allow", "Principal": {"Federated": oidc}, "Action": "sts:AssumeRoleWithWebIdentity"})
    assert_violation(analyzer.analyze(role("ci", bare)), "iam-2-trusted-principals", f"trusts federated principal {oidc}")
    scoped = doc({"Effect": "Allow", "Principal": {"Federated": oidc}, "Action": "sts:AssumeRoleWithWebIdentity",
                  "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:mrd/ml:*"}}})
    diagnostics = analyzer.analyze(role("ci", scoped))
    assert_clean(diagnostics, "iam-2-trusted-principals")
    assert_clean(diagnostics, "pol-1-policy-documents-valid")


def test_trust_in_a_stack_set_template(analyzer):
    template = {"Resources": {"BreakGlass": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "mrd-break-glass",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"}, "Action": "sts:AssumeRole"}]}}}}}
    stack_set = res("aws:cloudformation/stackSet:StackSet", "baseline", {"templateBody": json.dumps(template)})
    assert_violation(analyzer.analyze(stack_set), "iam-2-trusted-principals", "templateBody BreakGlass (AWS::IAM::Role)")
    template["Resources"]["BreakGlass"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    stack_set = res("aws:cloudformation/stackSet:StackSet", "baseline", {"templateBody": json.dumps(template)})
    assert_clean(analyzer.analyze(stack_set), "iam-2-trusted-principals")


def test_unknown_trust_policy_is_skipped_during_preview(analyzer):
    diagnostics = analyzer.analyze(role("r", UNKNOWN))
    for policy in ("iam-2-trusted-principals", "pol-1-policy-documents-valid", "lim-5-trust-policy-size"):
        assert_clean(diagnostics, policy)


# -- POL-1 ---------------------------------------------------------------------------------------
def test_valid_documents_pass_the_linters(analyzer):
    key_policy = doc(
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Trail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"}}})
    for resource in (role("r", SAGEMAKER_TRUST), res("aws:kms/key:Key", "k", {"policy": key_policy}),
                     res("aws:ecr/repositoryPolicy:RepositoryPolicy", "p", {"repository": "r", "policy": doc(
                         {"Sid": "Pull", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"],
                          "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})})):
        assert_clean(analyzer.analyze(resource), "pol-1-policy-documents-valid")


def test_unknown_actions_and_condition_keys(analyzer):
    typo = res(POLICY, "typo", {"policy": doc({"Effect": "Allow", "Action": ["s3:GetObjekt", "foo:Bar"],
                                               "Resource": "*", "Condition": {"StringEquals": {"s3:prefixx": "a"}}})})
    d = assert_violation(analyzer.analyze(typo), "pol-1-policy-documents-valid",
                         "Action 's3:GetObjekt' matches no action of s3", "unknown service prefix 'foo'",
                         "condition key 's3:prefixx' does not exist")
    assert d.enforcement_level == "mandatory"


def test_deny_condition_key_must_apply_to_every_action(analyzer):
    scp = res("aws:organizations/policy:Policy", "sm-kms", {"type": "SERVICE_CONTROL_POLICY", "content": doc(
        {"Sid": "SM1", "Effect": "Deny", "Action": ["sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedDomainUrl"],
         "Resource": "*", "Condition": {"Null": {"sagemaker:VolumeKmsKeyArn": "true"}}})})
    assert_violation(analyzer.analyze(scp), "pol-1-policy-documents-valid",
                     "statement SM1: Deny uses condition key 'sagemaker:VolumeKmsKeyArn', which "
                     "sagemaker:CreatePresignedDomainUrl do(es) not support")
    good = res("aws:organizations/policy:Policy", "sm-kms", {"type": "SERVICE_CONTROL_POLICY", "content": doc(
        {"Sid": "SM1", "Effect": "Deny", "Action": ["sagemaker:CreateNotebookInstance", "sagemaker:CreateTrainingJob"],
         "Resource": "*", "Condition": {"Null": {"sagemaker:VolumeKmsKeyArn": "true"}}})})
    assert_clean(analyzer.analyze(good), "pol-1-policy-documents-valid")


def test_tag_policies_are_not_iam_documents(analyzer):
    tag_policy = res("aws:organizations/policy:Policy", "tags", {"type": "TAG_POLICY", "content": json.dumps(
        {"tags": {"owner": {"tag_key": {"@@assign": "owner"}}}})})
    assert_clean(analyzer.analyze(tag_policy), "pol-1-policy-documents-valid")


def test_parliament_findings_and_invalid_json(analyzer):
    mismatch = res(POLICY, "mismatch", {"policy": doc({"Effect": "Allow", "Action": "s3:GetObject",
                                                       "Resource": "arn:aws:s3:::mrd-data"})})
    assert_violation(analyzer.analyze(mismatch), "pol-1-policy-documents-valid", "parliament RESOURCE_MISMATCH (MEDIUM)")
    broken = res(POLICY, "broken", {"policy": '{"Version": "2012-10-17", "Statement": ['})
    assert_violation(analyzer.analyze(broken), "pol-1-policy-documents-valid", "not valid JSON")


def _issues(policy: object) -> list[tuple[str, str, str]]:
    parliament = _parliament()
    found = []
    for finding in policy.findings:
        parliament.enhance_finding(finding)
        found.append((finding.issue, str(finding.severity), json.dumps(finding.detail, default=str)))
    return found


def test_parliament_reads_a_document_whose_root_is_not_an_object_from_its_text():
    # _parliament_findings builds parliament's tree from the values only for a plain object:
    # an array read that way is analyzed as a policy with no Statement (HIGH), where from its
    # text parliament refuses the root (CRITICAL); other roots fail on the tree and fall back.
    parliament = _parliament()
    for document in ([], ["Statement"], [{"Statement": []}], "Statement", 5, None):
        text = json.dumps(document)
        assert _issues(_parliament_findings(parliament, document)) == _issues(
            parliament.analyze_policy_string(text)), text
    assert [(i, s) for i, s, _ in _issues(_parliament_findings(parliament, []))] == [("MALFORMED_JSON", "CRITICAL")]


# -- MOD-2 ---------------------------------------------------------------------------------------
VERSION_ARN = f"arn:aws:rekognition:eu-west-1:{FOREIGN}:project/documents/version/documents.2024-01-01T00.00.00/1704067200000"


def _consumer_policy(resource, condition=None):
    statement = {"Sid": "UseModel", "Effect": "Allow", "Action": "rekognition:DetectCustomLabels", "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return res(POLICY, "consumer", {"policy": doc(statement)})


def test_model_access_per_version_over_private_link(analyzer):
    scoped = _consumer_policy(VERSION_ARN, {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}})
    diagnostics = analyzer.analyze(scoped)
    assert_clean(diagnostics, "mod-2-model-access-per-version")
    assert_clean(diagnostics, "pol-1-policy-documents-valid")


def test_model_access_on_a_whole_project_or_without_endpoint(analyzer):
    project = f"arn:aws:rekognition:eu-west-1:{FOREIGN}:project/documents/*"
    diagnostics = analyzer.analyze(_consumer_policy(project))
    assert_violation(diagnostics, "mod-2-model-access-per-version", f"statement UseModel grants model access on {project}")
    assert_violation(diagnostics, "mod-2-model-access-per-version", "without an aws:SourceVpce condition")
    wildcard = res(POLICY, "consumer", {"policy": doc({"Effect": "Allow", "Action": "rekognition:Detect*", "Resource": "*"})})
    assert_violation(analyzer.analyze(wildcard), "mod-2-model-access-per-version", "model access on *")
    unrelated = res(POLICY, "reader", {"policy": doc({"Effect": "Allow", "Action": "rekognition:DetectLabels", "Resource": "*"})})
    assert_clean(analyzer.analyze(unrelated), "mod-2-model-access-per-version")


def test_parliament_false_positives_are_suppressed_with_reason(analyzer):
    # s3:* scoped to a bucket (endpoint and bucket policies): only some S3 actions match bucket ARNs, by design.
    endpoint_policy = doc({"Sid": "Buckets", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
                           "Resource": ["arn:aws:s3:::mrd-data", "arn:aws:s3:::mrd-data/*"],
                           "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})
    endpoint = res("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {"serviceName": "com.amazonaws.eu-west-1.s3",
                                                             "policy": endpoint_policy})
    assert_clean(analyzer.analyze(endpoint), "pol-1-policy-documents-valid")
    # ArnEquals on kms:EncryptionContext:aws:logs:arn is the key policy AWS documents for CloudWatch Logs.
    logs_key = res("aws:kms/key:Key", "logs", {"enableKeyRotation": True, "policy": doc(
        {"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*", "kms:Describe*"], "Resource": "*",
         "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn":
                                     f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/vpc/flow"}}})})
    assert_clean(analyzer.analyze(logs_key), "pol-1-policy-documents-valid")


def test_explicit_action_on_a_resource_it_does_not_support(analyzer):
    policy = res("aws:iam/rolePolicy:RolePolicy", "flow", {"role": "flow", "policy": doc(
        {"Sid": "Find", "Effect": "Allow", "Action": "logs:DescribeLogGroups",
         "Resource": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:*"})})
    d = assert_violation(analyzer.analyze(policy), "pol-1-policy-documents-valid", "RESOURCE_MISMATCH",
                         "logs:DescribeLogGroups")
    assert d.urn == policy.urn  # the engine files resource-policy violations under the analyzed resource


def test_allow_condition_key_an_explicit_action_does_not_support(analyzer):
    policy = res(POLICY, "lister", {"policy": doc(
        {"Sid": "Home", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
         "Resource": ["arn:aws:s3:::mrd-data", "arn:aws:s3:::mrd-data/*"],
         "Condition": {"StringLike": {"s3:prefix": "home/*"}}})})
    assert_violation(analyzer.analyze(policy), "pol-1-policy-documents-valid",
                     "Allow uses condition key 's3:prefix', which s3:GetObject do(es) not support")
    lenient = res(POLICY, "lister", {"policy": doc(
        {"Sid": "Home", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
         "Resource": ["arn:aws:s3:::mrd-data", "arn:aws:s3:::mrd-data/*"],
         "Condition": {"StringLikeIfExists": {"s3:prefix": "home/*"}}})})
    assert_clean(analyzer.analyze(lenient), "pol-1-policy-documents-valid")


def test_stack_set_template_roles_resolve_parameters(analyzer):
    # A role named by a template parameter is judged by the value the stack set passes.
    template = {"Resources": {"Admin": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": {"Ref": "RoleName"},
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${Mgmt}:root"}},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": {"Fn::Sub": "arn:aws:iam::${Mgmt}:role/${RoleName}"}},
                          "Bool": {"aws:MultiFactorAuthPresent": "true"}}}]},
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}}}}

    def stack_set(role_name):
        return res("aws:cloudformation/stackSet:StackSet", "baseline", {
            "templateBody": json.dumps(template), "permissionModel": "SERVICE_MANAGED",
            "parameters": {"RoleName": role_name, "Mgmt": "111111111111"}})

    assert_clean(analyzer.analyze(stack_set("mrd-break-glass")), "iam-2-no-admin-wildcard")
    assert_violation(analyzer.analyze(stack_set("someone-else")), "iam-2-no-admin-wildcard",
                     "templateBody role Admin (someone-else) has AdministratorAccess")


def test_template_values_known_only_at_deployment_are_not_findings(analyzer):
    # A stack-set template whose bucket policy conditions on a resource's ARN (Fn::GetAtt) and
    # an IP range parameter nobody passes: nothing to judge yet, so no invented findings.
    template = {"Parameters": {"Office": {"Type": "String"}}, "Resources": {
        "Logs": {"Type": "AWS::S3::Bucket"},
        "LogsPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Logs"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "Delivery", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject", "Resource": {"Fn::Sub": "${Logs.Arn}/*"},
                "Condition": {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": ["Logs", "Arn"]}},
                              "IpAddress": {"aws:SourceIp": {"Ref": "Office"}}}}]}}}}}
    stack_set = res("aws:cloudformation/stackSet:StackSet", "logs", {
        "templateBody": json.dumps(template), "permissionModel": "SERVICE_MANAGED"})
    assert_clean(analyzer.analyze(stack_set), "pol-1-policy-documents-valid")


def test_a_wildcard_that_matches_none_of_its_resources_is_reported(analyzer):
    def policy(action, resource):
        return res("aws:iam/policy:Policy", "p", {"policy": json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "Read", "Effect": "Allow", "Action": action, "Resource": resource}]})})

    # s3:GetObject* acts on objects; on the bucket ARN it grants nothing.
    assert_violation(analyzer.analyze(policy("s3:GetObject*", "arn:aws:s3:::mrd-data")),
                     "pol-1-policy-documents-valid", "RESOURCE_MISMATCH")
    assert_clean(analyzer.analyze(policy("s3:GetObject*", "arn:aws:s3:::mrd-data/*")), "pol-1-policy-documents-valid")
    # A wildcard some of whose actions match the resource keeps them: scoping is its purpose.
    assert_clean(analyzer.analyze(policy("s3:List*", "arn:aws:s3:::mrd-data")), "pol-1-policy-documents-valid")


# -- configured values ---------------------------------------------------------------------------
def test_templates_are_checked_in_every_stack_unless_configured(analyzer):
    shared = provider("shared", tags={**TAGS, "environment": "shared"})
    template = {"Resources": {"Legacy": {"Type": "AWS::IAM::User", "Properties": {"UserName": "legacy"}}}}
    stack_set = res("aws:cloudformation/stackSet:StackSet", "baseline", {"templateBody": json.dumps(template)}, prov=shared)
    assert_violation(analyzer.analyze_stack([shared, stack_set]), "iam-1-no-iam-users", "deploys AWS::IAM::User Legacy")
    with analyzer.configured({"iam-1-no-iam-users": {"checkTemplatesInEveryStack": False}}):
        assert_clean(analyzer.analyze_stack([shared, stack_set]), "iam-1-no-iam-users")
        # In a workload stack the template is still checked.
        workload = res("aws:cloudformation/stackSet:StackSet", "baseline", {"templateBody": json.dumps(template)})
        assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, workload]), "iam-1-no-iam-users",
                         "deploys AWS::IAM::User Legacy")


def test_admin_role_name_patterns_are_configurable(analyzer):
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    scientist = res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin", {"role": "data-scientist", "policyArn": arn})
    break_glass = res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "bg", {"role": "mrd-break-glass", "policyArn": arn})
    with analyzer.configured({"iam-2-no-admin-wildcard": {"adminRoleNamePatterns": ["data-*"]}}):
        assert_clean(analyzer.analyze(scientist), "iam-2-no-admin-wildcard")
        assert_violation(analyzer.analyze(break_glass), "iam-2-no-admin-wildcard",
                         "AdministratorAccess is attached to role mrd-break-glass")


def test_trusted_accounts_and_condition_keys_are_configurable(analyzer):
    foreign = role("r", _trust(f"arn:aws:iam::{FOREIGN}:root"))
    with analyzer.configured({"iam-2-trusted-principals": {"trustedAccountIds": [FOREIGN]}}):
        assert_clean(analyzer.analyze(foreign), "iam-2-trusted-principals")
    external = role("r", _trust(f"arn:aws:iam::{FOREIGN}:root", {"StringEquals": {"sts:ExternalId": "x-123"}}))
    with analyzer.configured({"iam-2-trusted-principals": {"accountConditionKeys": ["aws:PrincipalOrgID"]}}):
        assert_violation(analyzer.analyze(external), "iam-2-trusted-principals",
                         f"trusts the whole foreign account arn:aws:iam::{FOREIGN}:root without a condition on "
                         "aws:PrincipalOrgID")
    org = role("r", _trust("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))
    with analyzer.configured({"iam-2-trusted-principals": {"everyoneConditionKeys": ["aws:SourceVpce"]}}):
        assert_violation(analyzer.analyze(org), "iam-2-trusted-principals",
                         "statement Trust trusts '*' without a condition on aws:SourceVpce")


def test_model_actions_and_the_endpoint_condition_are_configurable(analyzer):
    unrelated = res(POLICY, "reader", {"policy": doc({"Sid": "Labels", "Effect": "Allow",
                                                      "Action": "rekognition:DetectLabels", "Resource": "*"})})
    with analyzer.configured({"mod-2-model-access-per-version": {"modelActions": ["rekognition:DetectLabels"]}}):
        assert_violation(analyzer.analyze(unrelated), "mod-2-model-access-per-version",
                         "statement Labels grants model access on *")
    bare = _consumer_policy(VERSION_ARN)
    assert_violation(analyzer.analyze(bare), "mod-2-model-access-per-version", "without an aws:SourceVpce condition")
    with analyzer.configured({"mod-2-model-access-per-version": {"requireSourceVpce": False}}):
        assert_clean(analyzer.analyze(bare), "mod-2-model-access-per-version")


def test_linter_minimum_severity_is_configurable(analyzer):
    mismatch = res(POLICY, "mismatch", {"policy": doc({"Effect": "Allow", "Action": "s3:GetObject",
                                                       "Resource": "arn:aws:s3:::mrd-data"})})
    with analyzer.configured({"pol-1-policy-documents-valid": {"minimumSeverity": "HIGH"}}):
        assert_clean(analyzer.analyze(mismatch), "pol-1-policy-documents-valid")
    with analyzer.configured({"pol-1-policy-documents-valid": {"minimumSeverity": "LOW"}}):
        assert_violation(analyzer.analyze(mismatch), "pol-1-policy-documents-valid", "parliament RESOURCE_MISMATCH (MEDIUM)")


def test_workload_environments_of_iam_1_are_configurable(analyzer):
    user = res("aws:iam/user:User", "alice", {"name": "alice"})  # dev
    with analyzer.configured({"iam-1-no-iam-users": {"workloadEnvironments": ["Prod"]}}):
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, user]), "iam-1-no-iam-users")
        prod = provider("prod", tags={**TAGS, "environment": "prod"})
        prod_user = res("aws:iam/user:User", "bob", {"name": "bob"}, prov=prod)
        assert_violation(analyzer.analyze_stack([prod, prod_user]), "iam-1-no-iam-users", "User bob in a workload stack")


# -- stack set templates: intrinsic functions ---------------------------------------------------
def test_template_intrinsics_resolve_what_is_known_and_nothing_else():
    from ml_guardrails.common import UNKNOWN as PACK_UNKNOWN
    from ml_guardrails.identity import TEMPLATE_ACCOUNT, _resolve

    params = {"Env": "prod"}
    assert _resolve({"Ref": "AWS::Partition"}, params) == "aws"
    assert _resolve({"Ref": "Env"}, params) == "prod"
    assert _resolve({"Ref": "Other"}, params) is PACK_UNKNOWN
    assert _resolve({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Env}-x"}, params) == \
        f"arn:aws:iam::{TEMPLATE_ACCOUNT}:role/prod-x"
    assert _resolve({"Fn::Sub": "${!Literal}-${Env}"}, params) == "${Literal}-prod"
    assert _resolve({"Fn::Sub": "${Missing}"}, params) is PACK_UNKNOWN
    assert _resolve({"Fn::Sub": ["${Name}-${Env}", {"Name": "trainer"}]}, params) == "trainer-prod"
    # A variable that is not a string (here unknown) leaves the whole value unknown.
    assert _resolve({"Fn::Sub": ["${Name}", {"Name": {"Fn::GetAtt": ["Role", "Arn"]}}]}, params) is PACK_UNKNOWN
    assert _resolve({"Fn::Join": [":", ["a", {"Ref": "Env"}]]}, params) == "a:prod"
    assert _resolve({"Fn::Join": [":", ["a", {"Ref": "Other"}]]}, params) is PACK_UNKNOWN
    assert _resolve({"Fn::Join": [":"]}, params) is PACK_UNKNOWN
    assert _resolve({"Fn::GetAtt": ["Role", "Arn"]}, params) is PACK_UNKNOWN
    assert _resolve({"Condition": "IsProd"}, params) is PACK_UNKNOWN
    assert _resolve({"Key": [{"Ref": "Env"}, 3]}, params) == {"Key": ["prod", 3]}


def test_condition_keys_are_checked_key_by_key(analyzer):
    # An unknown key is reported and the next key is still checked.
    policy = res(POLICY, "keys", {"policy": doc(
        {"Sid": "Keys", "Effect": "Deny", "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:DeleteObject",
                                                     "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:GetBucketTagging"],
         "Resource": "*", "Condition": {"StringEquals": {"aaa:NoSuchKey": "x", "s3:prefix": "home/"}}})})
    diagnostics = analyzer.analyze(policy)
    assert_violation(diagnostics, "pol-1-policy-documents-valid", "statement Keys: condition key 'aaa:NoSuchKey' does not exist")
    # Seven actions, six of them without s3:prefix: five are named, the rest counted.
    assert_violation(diagnostics, "pol-1-policy-documents-valid", "Deny uses condition key 's3:prefix', which ",
                     " and 1 more do(es) not support")
    # A global key after a service key is not judged per action.
    mixed = res(POLICY, "mixed", {"policy": doc(
        {"Sid": "Mixed", "Effect": "Deny", "Action": ["s3:ListBucket"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123", "s3:prefix": "home/"}}})})
    assert_clean(analyzer.analyze(mixed), "pol-1-policy-documents-valid")


def test_an_allow_whose_key_no_action_supports_grants_nothing(analyzer):
    policy = res(POLICY, "never", {"policy": doc(
        {"Sid": "Never", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::mrd-data/*",
         "Condition": {"StringLike": {"s3:prefix": "home/*"}}})})
    assert_violation(analyzer.analyze(policy), "pol-1-policy-documents-valid",
                     "statement Never: Allow uses condition key 's3:prefix', which none of its actions support")
    some = res(POLICY, "some", {"policy": doc(
        {"Sid": "Some", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
         "Resource": ["arn:aws:s3:::mrd-data", "arn:aws:s3:::mrd-data/*"],
         "Condition": {"StringLike": {"s3:prefix": "home/*"}}})})
    d = assert_violation(analyzer.analyze(some), "pol-1-policy-documents-valid", "statement Some")
    assert "none of its actions support" not in d.message


def test_every_principal_of_a_statement_is_judged(analyzer):
    # A service principal, then everyone, then a whole foreign account: each is looked at.
    trust = doc({"Sid": "Mixed", "Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"Service": "sagemaker.amazonaws.com", "AWS": ["*", f"arn:aws:iam::{FOREIGN}:root"]}})
    diagnostics = analyzer.analyze(role("r", trust))
    assert_violation(diagnostics, "iam-2-trusted-principals", "statement Mixed trusts '*' without a condition")
    assert_violation(diagnostics, "iam-2-trusted-principals", f"trusts the whole foreign account arn:aws:iam::{FOREIGN}:root")


def test_a_global_key_does_not_stop_the_check_of_the_next_key(analyzer):
    policy = res(POLICY, "mixed", {"policy": doc(
        {"Sid": "Mixed", "Effect": "Deny", "Action": ["s3:GetObject"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123", "s3:prefix": "home/"}}})})
    assert_violation(analyzer.analyze(policy), "pol-1-policy-documents-valid",
                     "statement Mixed: Deny uses condition key 's3:prefix', which s3:GetObject do(es) not support")


def test_a_deny_on_every_action_reports_each_service_key(analyzer):
    policy = res(POLICY, "all", {"policy": doc(
        {"Sid": "All", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"Null": {"s3:prefix": "true", "sagemaker:VolumeKmsKey": "true"}}})})
    diagnostics = analyzer.analyze(policy)
    for key in ("s3:prefix", "sagemaker:VolumeKmsKey"):
        assert_violation(diagnostics, "pol-1-policy-documents-valid", f"statement All: Deny on Action '*' uses '{key}'")
