"""ECR-1, ECR-2, CI-1 and the AWS limits (LIM-1 .. LIM-7)."""

from __future__ import annotations

import json

import pytest
from pack_helpers import (
    ACCOUNT,
    DEFAULT_PROVIDER,
    FOREIGN,
    KEY_ARN,
    UNKNOWN,
    assert_clean,
    assert_violation,
    doc,
    res,
)

REPOSITORY = "aws:ecr/repository:Repository"
GOOD_REPOSITORY = {"name": "fraud/model", "imageTagMutability": "IMMUTABLE",
                   "imageScanningConfiguration": {"scanOnPush": True},
                   "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}]}


# -- ECR-1 ---------------------------------------------------------------------------------------
def test_scanned_encrypted_immutable_repository(analyzer):
    diagnostics = analyzer.analyze(res(REPOSITORY, "repo", GOOD_REPOSITORY))
    assert_clean(diagnostics, "ecr-1-repository-scan-kms")
    assert_clean(diagnostics, "ecr-1-immutable-image-tags")


def test_repository_with_defaults(analyzer):
    diagnostics = analyzer.analyze(res(REPOSITORY, "repo", {"name": "fraud/model"}))
    assert_violation(diagnostics, "ecr-1-repository-scan-kms", "repository fraud/model: images are not scanned on push",
                     "not KMS-encrypted (encryptionType AES256, the default)")
    d = assert_violation(diagnostics, "ecr-1-immutable-image-tags", "has mutable image tags (MUTABLE, the default)")
    assert d.enforcement_level == "advisory" and d.severity == "low"
    managed_key = res(REPOSITORY, "repo", {**GOOD_REPOSITORY, "encryptionConfigurations": [{"encryptionType": "KMS"}]})
    assert_violation(analyzer.analyze(managed_key), "ecr-1-repository-scan-kms", "AWS-managed ECR key")


def test_mutable_cache_repositories_can_be_listed(analyzer):
    cache = res(REPOSITORY, "cache", {**GOOD_REPOSITORY, "name": "build/cache", "imageTagMutability": "MUTABLE"})
    with analyzer.configured({"ecr-1-immutable-image-tags": {"mutableRepositoryPatterns": ["*/cache"]}}):
        assert_clean(analyzer.analyze(cache), "ecr-1-immutable-image-tags")


# -- ECR-2 ---------------------------------------------------------------------------------------
def _repository_policy(statement):
    return res("aws:ecr/repositoryPolicy:RepositoryPolicy", "pull", {"repository": "fraud/model", "policy": doc(statement)})


def test_pull_for_the_organization_or_named_roles(analyzer):
    org = _repository_policy({"Sid": "OrgPull", "Effect": "Allow", "Principal": "*",
                              "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                              "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})
    assert_clean(analyzer.analyze(org), "ecr-2-cross-account-pull-org-only")
    named = _repository_policy({"Sid": "Role", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:role/train"},
                                "Action": ["ecr:BatchGetImage"]})
    assert_clean(analyzer.analyze(named), "ecr-2-cross-account-pull-org-only")


def test_pull_for_everyone_or_a_whole_account(analyzer):
    everyone = _repository_policy({"Sid": "Any", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]})
    assert_violation(analyzer.analyze(everyone), "ecr-2-cross-account-pull-org-only", "statement Any lets * pull")
    account = _repository_policy({"Sid": "Acct", "Effect": "Allow", "Principal": {"AWS": FOREIGN}, "Action": ["ecr:BatchGetImage"]})
    assert_violation(analyzer.analyze(account), "ecr-2-cross-account-pull-org-only", f"statement Acct lets {FOREIGN} pull")


# -- CI-1 ----------------------------------------------------------------------------------------
def test_pipeline_artifact_stores(analyzer):
    good = res("aws:codepipeline/pipeline:Pipeline", "deliver", {"artifactStores": [
        {"type": "S3", "location": "artifacts", "encryptionKey": {"id": KEY_ARN, "type": "KMS"}}]})
    assert_clean(analyzer.analyze(good), "ci-1-pipeline-artifacts-kms")
    plain = res("aws:codepipeline/pipeline:Pipeline", "deliver", {"artifactStores": [
        {"type": "S3", "location": "artifacts", "region": "eu-central-1"}]})
    assert_violation(analyzer.analyze(plain), "ci-1-pipeline-artifacts-kms",
                     "the artifact store in eu-central-1 has no KMS encryption key")


def test_codebuild_encryption_and_privilege(analyzer):
    project = {"name": "train", "encryptionKey": KEY_ARN,
               "environment": {"computeType": "BUILD_GENERAL1_SMALL", "image": "aws/codebuild/standard:7.0",
                               "type": "LINUX_CONTAINER", "privilegedMode": False}}
    assert_clean(analyzer.analyze(res("aws:codebuild/project:Project", "train", project)),
                 "ci-1-codebuild-encrypted-unprivileged")
    privileged = {**project, "encryptionKey": None, "environment": {**project["environment"], "privilegedMode": True}}
    diagnostics = analyzer.analyze(res("aws:codebuild/project:Project", "train", privileged))
    assert_violation(diagnostics, "ci-1-codebuild-encrypted-unprivileged", "build project train has no encryptionKey")
    assert_violation(diagnostics, "ci-1-codebuild-encrypted-unprivileged", "runs privileged but is not an image build")
    image_build = res("aws:codebuild/project:Project", "image", {**privileged, "name": "image", "encryptionKey": KEY_ARN,
                                                                 "tags": {"builds-images": "true"}})
    assert_clean(analyzer.analyze(image_build), "ci-1-codebuild-encrypted-unprivileged")


# -- limits --------------------------------------------------------------------------------------
def _sized_document(characters: int, indent: int | None = None) -> str:
    """A valid policy whose minified form has exactly `characters` characters."""
    base = {"Version": "2012-10-17", "Statement": [{"Sid": "Pad", "Effect": "Deny", "Action": "s3:DeleteBucket",
                                                    "Resource": "arn:aws:s3:::x"}]}
    padding = characters - len(json.dumps(base, separators=(",", ":")))
    base["Statement"][0]["Resource"] = "arn:aws:s3:::" + "x" * (1 + padding)
    text = json.dumps(base, separators=(",", ":"), indent=indent)
    assert len("".join(text.split())) == characters
    return text


def test_scp_document_size(analyzer):
    fits = res("aws:organizations/policy:Policy", "scp", {"name": "scp", "content": _sized_document(5120)})
    assert_clean(analyzer.analyze(fits), "lim-1-organization-policy-size")
    over = res("aws:organizations/policy:Policy", "scp", {"name": "scp", "content": _sized_document(5121)})
    assert_violation(analyzer.analyze(over), "lim-1-organization-policy-size",
                     "SERVICE_CONTROL_POLICY scp is 5121 characters, over the 5120 limit")
    pretty_text = _sized_document(5080, indent=4)
    assert len(pretty_text) > 5120  # SCPs count whitespace
    pretty = res("aws:organizations/policy:Policy", "scp", {"name": "scp", "content": pretty_text})
    assert_violation(analyzer.analyze(pretty), "lim-1-organization-policy-size", "over the 5120 limit")
    tag_policy = res("aws:organizations/policy:Policy", "tags", {"type": "TAG_POLICY", "content": _sized_document(6000)})
    assert_clean(analyzer.analyze(tag_policy), "lim-1-organization-policy-size")


def _attachments(target, count: int, policy_type: str = "SERVICE_CONTROL_POLICY", target_id: str = "ou-abcd-11111111",
                 prefix: str = ""):
    resources = []
    for i in range(count):
        policy = res("aws:organizations/policy:Policy", f"{prefix}scp-{i}", {"name": f"{prefix}scp-{i}", "type": policy_type,
                                                                              "content": "{}"})
        attachment = res("aws:organizations/policyAttachment:PolicyAttachment", f"{prefix}scp-{i}-attachment",
                         {"policyId": f"p-{prefix}{i}", "targetId": target_id}, deps={"policyId": [policy], "targetId": [target]})
        resources += [policy, attachment]
    return resources


def test_scps_per_target(analyzer):
    ou = res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-workloads", {"name": "Workloads"})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *_attachments(ou, 4)]), "lim-2-scps-per-target")
    d = assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *_attachments(ou, 5)]), "lim-2-scps-per-target",
                         "target OrganizationalUnit ou-workloads (ou-abcd-11111111) would have 6 SCPs",
                         "plus FullAWSAccess), over the limit of 5")
    assert d.urn.endswith("scp-4-attachment")
    tag_policies = _attachments(ou, 6, policy_type="TAG_POLICY")
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *tag_policies]), "lim-2-scps-per-target")
    with analyzer.configured({"lim-2-scps-per-target": {"maxScpsPerTarget": 10}}):
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *_attachments(ou, 5)]), "lim-2-scps-per-target")


def test_managed_policy_size_ignores_whitespace(analyzer):
    fits = res("aws:iam/policy:Policy", "p", {"policy": _sized_document(6144, indent=8)})
    assert_clean(analyzer.analyze(fits), "lim-3-managed-policy-size")
    over = res("aws:iam/policy:Policy", "p", {"policy": _sized_document(6145)})
    assert_violation(analyzer.analyze(over), "lim-3-managed-policy-size", "managed policy p is 6145 characters")


def test_inline_policies_per_role(analyzer):
    trust = doc({"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"})
    role = res("aws:iam/role:Role", "worker", {"name": "worker", "assumeRolePolicy": trust,
                                               "inlinePolicies": [{"name": "a", "policy": _sized_document(6000)}]})
    small = res("aws:iam/rolePolicy:RolePolicy", "b", {"role": "worker", "policy": _sized_document(4000)},
                deps={"role": [role]})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, role, small]), "lim-4-inline-policies-per-role")
    big = res("aws:iam/rolePolicy:RolePolicy", "b", {"role": "worker", "policy": _sized_document(5000)})  # linked by name
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, role, big]), "lim-4-inline-policies-per-role",
                     "role worker has 11000 characters of inline policies (a 6000, b 5000), over the 10240 limit")


def test_trust_policy_size(analyzer):
    statement = {"Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/r{i:04d}" for i in range(60)]},
                 "Action": "sts:AssumeRole"}
    role = res("aws:iam/role:Role", "wide", {"assumeRolePolicy": doc(statement)})
    assert_violation(analyzer.analyze(role), "lim-5-trust-policy-size", "trust policy of role wide is", "over the 2048 limit")
    statement["Principal"]["AWS"] = statement["Principal"]["AWS"][:10]
    assert_clean(analyzer.analyze(res("aws:iam/role:Role", "narrow", {"assumeRolePolicy": doc(statement)})),
                 "lim-5-trust-policy-size")


def test_bucket_and_key_policy_sizes(analyzer):
    bucket_policy = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": _sized_document(20481)})
    assert_violation(analyzer.analyze(bucket_policy), "lim-6-bucket-policy-size", "bucket policy bp is 20481 bytes")
    bucket_policy = res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": _sized_document(20000)})
    assert_clean(analyzer.analyze(bucket_policy), "lim-6-bucket-policy-size")
    key = res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "policy": _sized_document(32769)})
    assert_violation(analyzer.analyze(key), "lim-7-key-policy-size", "key policy k is 32769 bytes, over the 32768 limit")
    key = res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "policy": _sized_document(30000)})
    assert_clean(analyzer.analyze(key), "lim-7-key-policy-size")


def test_organization_policy_limits_are_configurable_per_type(analyzer):
    scp = res("aws:organizations/policy:Policy", "scp", {"name": "scp", "content": _sized_document(5200)})
    tags = res("aws:organizations/policy:Policy", "tags", {"name": "tags", "type": "TAG_POLICY",
                                                           "content": _sized_document(6000)})
    assert_violation(analyzer.analyze(scp), "lim-1-organization-policy-size", "over the 5120 limit")
    with analyzer.configured({"lim-1-organization-policy-size": {"limits": {"SERVICE_CONTROL_POLICY": 6000,
                                                                            "TAG_POLICY": 5999}}}):
        assert_clean(analyzer.analyze(scp), "lim-1-organization-policy-size")
        assert_violation(analyzer.analyze(tags), "lim-1-organization-policy-size",
                         "TAG_POLICY tags is 6000 characters, over the 5999 limit")
    # A type without a known limit is not judged.
    other = res("aws:organizations/policy:Policy", "other", {"name": "other", "type": "SOMETHING_NEW",
                                                             "content": _sized_document(90000)})
    assert_clean(analyzer.analyze(other), "lim-1-organization-policy-size")


def test_full_aws_access_is_counted_once(analyzer):
    ou = res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-workloads", {"name": "Workloads"})
    five = _attachments(ou, 5)
    # Attached by the stack itself, FullAWSAccess is one of the attachments, not one more.
    full = res("aws:organizations/policyAttachment:PolicyAttachment", "full-attachment",
               {"policyId": "p-FullAWSAccess", "targetId": "ou-abcd-11111111"}, deps={"targetId": [ou]})
    four = _attachments(ou, 4)
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *four, full]), "lim-2-scps-per-target")
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *five, full]), "lim-2-scps-per-target",
                     "would have 6 SCPs (scp-0, scp-1, scp-2, scp-3, scp-4, p-FullAWSAccess), over the limit of 5")
    # Where FullAWSAccess was detached from every target, only the stack's own attachments count.
    with analyzer.configured({"lim-2-scps-per-target": {"fullAwsAccessAttached": False}}):
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *five]), "lim-2-scps-per-target")
        six = _attachments(ou, 6)
        d = assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *six]), "lim-2-scps-per-target",
                             "would have 6 SCPs")
        assert "plus FullAWSAccess" not in d.message
    with analyzer.configured({"lim-2-scps-per-target": {"maxScpsPerTarget": 3}}):
        assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *_attachments(ou, 3)]), "lim-2-scps-per-target",
                         "would have 4 SCPs", "over the limit of 3")
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, ou, *_attachments(ou, 2)]), "lim-2-scps-per-target")


def test_two_targets_are_counted_apart(analyzer):
    first = res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-a", {"name": "A"})
    second = res("aws:organizations/organizationalUnit:OrganizationalUnit", "ou-b", {"name": "B"})
    a = _attachments(first, 3)
    b = _attachments(second, 3, target_id="ou-abcd-22222222", prefix="b-")
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, first, second, *a, *b]), "lim-2-scps-per-target")
    # The same six on one target are over the limit.
    same = _attachments(first, 3, prefix="c-")
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, first, *a, *same]), "lim-2-scps-per-target",
                     "would have 7 SCPs")


@pytest.mark.parametrize(("policy", "build", "default", "unit"), [
    ("lim-3-managed-policy-size", lambda text: res("aws:iam/policy:Policy", "p", {"policy": text}), 6144,
     "characters (whitespace not counted)"),
    ("lim-5-trust-policy-size", lambda text: res("aws:iam/role:Role", "r", {"assumeRolePolicy": text}), 2048,
     "characters (whitespace not counted)"),
    ("lim-6-bucket-policy-size", lambda text: res("aws:s3/bucket:Bucket", "b", {"bucket": "b", "policy": text}), 20480,
     "bytes"),
    ("lim-7-key-policy-size", lambda text: res("aws:kms/keyPolicy:KeyPolicy", "kp", {"keyId": "k", "policy": text}),
     32768, "bytes"),
])
def test_document_size_limits_at_the_boundary_and_configured(analyzer, policy, build, default, unit):
    assert_clean(analyzer.analyze(build(_sized_document(default))), policy)
    assert_violation(analyzer.analyze(build(_sized_document(default + 1))), policy,
                     f"is {default + 1} {unit}, over the {default} limit")
    with analyzer.configured({policy: {"maxCharacters": 1500}}):
        assert_violation(analyzer.analyze(build(_sized_document(1501))), policy, f"is 1501 {unit}, over the 1500 limit")
        assert_clean(analyzer.analyze(build(_sized_document(1500))), policy)
    with analyzer.configured({policy: {"maxCharacters": default + 100}}):
        assert_clean(analyzer.analyze(build(_sized_document(default + 1))), policy)


def test_bucket_and_key_policies_count_whitespace(analyzer):
    pretty = _sized_document(20400, indent=4)
    assert len(pretty.encode()) > 20480
    assert_violation(analyzer.analyze(res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": pretty})),
                     "lim-6-bucket-policy-size", f"is {len(pretty.encode())} bytes")


def test_inline_policy_total_is_configurable_and_flags_unknown_parts(analyzer):
    role = res("aws:iam/role:Role", "worker", {"name": "worker",
                                               "inlinePolicies": [{"name": "a", "policy": _sized_document(3000)},
                                                                  {"name": "later", "policy": UNKNOWN}]})
    extra = res("aws:iam/rolePolicy:RolePolicy", "b", {"role": "worker", "policy": _sized_document(2000)},
                deps={"role": [role]})
    assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, role, extra]), "lim-4-inline-policies-per-role")
    with analyzer.configured({"lim-4-inline-policies-per-role": {"maxCharacters": 4999}}):
        assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, role, extra]), "lim-4-inline-policies-per-role",
                         "role worker has 5000 characters of inline policies (a 3000, b 2000), over the 4999 limit "
                         "(and more not yet known)")
    with analyzer.configured({"lim-4-inline-policies-per-role": {"maxCharacters": 5000}}):
        assert_clean(analyzer.analyze_stack([DEFAULT_PROVIDER, role, extra]), "lim-4-inline-policies-per-role")


# -- supply chain: configured values -------------------------------------------------------------
def test_registry_scanning_and_the_aws_managed_key_are_configurable(analyzer):
    unscanned = res(REPOSITORY, "repo", {**GOOD_REPOSITORY, "imageScanningConfiguration": {"scanOnPush": False}})
    assert_violation(analyzer.analyze(unscanned), "ecr-1-repository-scan-kms", "images are not scanned on push")
    with analyzer.configured({"ecr-1-repository-scan-kms": {"registryScanning": True}}):
        assert_clean(analyzer.analyze(unscanned), "ecr-1-repository-scan-kms")
    aws_key = res(REPOSITORY, "repo", {**GOOD_REPOSITORY, "encryptionConfigurations": [{"encryptionType": "KMS"}]})
    assert_violation(analyzer.analyze(aws_key), "ecr-1-repository-scan-kms",
                     "repository fraud/model: the repository uses the AWS-managed ECR key instead of a customer-managed key")
    with analyzer.configured({"ecr-1-repository-scan-kms": {"requireCustomerManagedKey": False}}):
        assert_clean(analyzer.analyze(aws_key), "ecr-1-repository-scan-kms")
        aes = res(REPOSITORY, "repo", {**GOOD_REPOSITORY, "encryptionConfigurations": [{"encryptionType": "AES256"}]})
        assert_violation(analyzer.analyze(aes), "ecr-1-repository-scan-kms", "is not KMS-encrypted (encryptionType AES256)")


def test_organization_condition_keys_are_configurable(analyzer):
    by_path = _repository_policy({"Sid": "Paths", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"],
                                  "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-abc/r-1/ou-1/*"]}}})
    assert_clean(analyzer.analyze(by_path), "ecr-2-cross-account-pull-org-only")
    with analyzer.configured({"ecr-2-cross-account-pull-org-only": {"organizationConditionKeys": ["aws:PrincipalOrgID"]}}):
        assert_violation(analyzer.analyze(by_path), "ecr-2-cross-account-pull-org-only",
                         "statement Paths lets * pull without aws:PrincipalOrgID")


def test_image_builders_are_recognised_by_configured_tags_and_patterns(analyzer):
    privileged = {"name": "docker-build", "encryptionKey": KEY_ARN, "tags": {"team": "ml"},
                  "environment": {"computeType": "BUILD_GENERAL1_SMALL", "image": "aws/codebuild/standard:7.0",
                                  "type": "LINUX_CONTAINER", "privilegedMode": True}}
    project = res("aws:codebuild/project:Project", "docker-build", privileged)
    assert_violation(analyzer.analyze(project), "ci-1-codebuild-encrypted-unprivileged",
                     "build project docker-build runs privileged but is not an image build")
    with analyzer.configured({"ci-1-codebuild-encrypted-unprivileged": {"imageBuilderPatterns": ["docker-*"]}}):
        assert_clean(analyzer.analyze(project), "ci-1-codebuild-encrypted-unprivileged")
    with analyzer.configured({"ci-1-codebuild-encrypted-unprivileged": {"imageBuilderTags": {"team": "ml"}}}):
        assert_clean(analyzer.analyze(project), "ci-1-codebuild-encrypted-unprivileged")
    with analyzer.configured({"ci-1-codebuild-encrypted-unprivileged": {"imageBuilderTags": {"team": "data"}}}):
        assert_violation(analyzer.analyze(project), "ci-1-codebuild-encrypted-unprivileged",
                         "(tag it {'team': 'data'} or name it per imageBuilderPatterns)")


# The AWS quotas per organization policy type (Organizations, "Quotas for AWS Organizations").
@pytest.mark.parametrize(("policy_type", "limit"), [
    ("RESOURCE_CONTROL_POLICY", 5120), ("TAG_POLICY", 10000), ("BACKUP_POLICY", 10000),
    ("AISERVICES_OPT_OUT_POLICY", 2500), ("CHATBOT_POLICY", 10000), ("DECLARATIVE_POLICY_EC2", 10000),
])
def test_each_organization_policy_type_has_its_aws_size_limit(analyzer, policy_type, limit):
    def policy(size):
        return res("aws:organizations/policy:Policy", "p", {"name": "p", "type": policy_type, "content": _sized_document(size)})

    assert_clean(analyzer.analyze(policy(limit)), "lim-1-organization-policy-size")
    assert_violation(analyzer.analyze(policy(limit + 1)), "lim-1-organization-policy-size",
                     f"{policy_type} p is {limit + 1} characters, over the {limit} limit")


def test_trust_policy_size_does_not_count_whitespace(analyzer):
    pretty = _sized_document(2048, indent=4)
    assert len(pretty) > 2048
    assert_clean(analyzer.analyze(res("aws:iam/role:Role", "r", {"assumeRolePolicy": pretty})), "lim-5-trust-policy-size")


def test_an_inline_policy_resource_unknown_in_preview_is_flagged_as_such(analyzer):
    role = res("aws:iam/role:Role", "worker", {"name": "worker",
                                               "inlinePolicies": [{"name": "a", "policy": _sized_document(10241)}]})
    later = res("aws:iam/rolePolicy:RolePolicy", "later", {"role": "worker", "policy": UNKNOWN}, deps={"role": [role]})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, role, later]), "lim-4-inline-policies-per-role",
                     "over the 10240 limit (and more not yet known)")
    assert "(and more not yet known)" not in assert_violation(
        analyzer.analyze_stack([DEFAULT_PROVIDER, role]), "lim-4-inline-policies-per-role", "over the 10240 limit").message
