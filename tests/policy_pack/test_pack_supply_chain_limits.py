"""ECR-1, ECR-2, CI-1 and the AWS limits (LIM-1 .. LIM-7)."""

from __future__ import annotations

import json

from pack_helpers import (
    ACCOUNT,
    DEFAULT_PROVIDER,
    FOREIGN,
    KEY_ARN,
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


def _attachments(target, count: int, policy_type: str = "SERVICE_CONTROL_POLICY"):
    resources = []
    for i in range(count):
        policy = res("aws:organizations/policy:Policy", f"scp-{i}", {"name": f"scp-{i}", "type": policy_type,
                                                                     "content": "{}"})
        attachment = res("aws:organizations/policyAttachment:PolicyAttachment", f"scp-{i}-attachment",
                         {"policyId": f"p-{i}", "targetId": "ou-abcd-11111111"}, deps={"policyId": [policy], "targetId": [target]})
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
