"""S3-1 .. S3-4: bucket relations through property dependencies, name matching and unknowns."""

from __future__ import annotations

import pytest
from pack_helpers import (
    ACCOUNT,
    FOREIGN,
    KEY_ARN,
    UNKNOWN,
    assert_clean,
    assert_violation,
    bucket_set,
    doc,
    res,
    urn,
)

BUCKET_URN = urn("aws:s3/bucket:Bucket", "data")
STACK_POLICIES = ("s3-1-bucket-public-access-block", "s3-2-bucket-sse-kms", "s3-3-bucket-versioning", "s3-4-bucket-tls-only")


def test_compliant_bucket_set_passes_every_bucket_policy(analyzer):
    resources = bucket_set()
    diagnostics = analyzer.analyze_stack(resources) + analyzer.analyze_each(resources)
    for policy in STACK_POLICIES + ("s3-1-no-public-bucket-settings", "state-1-stateful-resources-protected"):
        assert_clean(diagnostics, policy)


def test_children_match_the_bucket_by_name_without_property_dependencies(analyzer):
    diagnostics = analyzer.analyze_stack(bucket_set(link=False))
    for policy in STACK_POLICIES:
        assert_clean(diagnostics, policy)


def test_children_link_through_property_dependencies_when_the_name_is_unknown(analyzer):
    diagnostics = analyzer.analyze_stack(bucket_set(bucket_value=UNKNOWN))
    for policy in STACK_POLICIES:
        assert_clean(diagnostics, policy)


def test_missing_public_access_block(analyzer):
    diagnostics = analyzer.analyze_stack(bucket_set(skip=["pab"]))
    d = assert_violation(diagnostics, "s3-1-bucket-public-access-block", "bucket data has no aws.s3.BucketPublicAccessBlock",
                         "Remediation:", urn_=BUCKET_URN)
    assert d.enforcement_level == "mandatory" and d.severity == "critical"


def test_public_access_block_with_a_setting_off(analyzer):
    resources = bucket_set(pab={"blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True,
                                "restrictPublicBuckets": True})
    assert_violation(analyzer.analyze_stack(resources), "s3-1-bucket-public-access-block", "does not set blockPublicPolicy")
    assert_violation(analyzer.analyze_each(resources), "s3-1-no-public-bucket-settings", "blockPublicPolicy")


def test_public_acl_and_public_policy(analyzer):
    acl = res("aws:s3/bucketAcl:BucketAcl", "data-acl", {"bucket": "mrd-data-bucket", "acl": "public-read"})
    assert_violation(analyzer.analyze(acl), "s3-1-no-public-bucket-settings", "canned ACL public-read")
    private = res("aws:s3/bucketAcl:BucketAcl", "data-acl", {"bucket": "mrd-data-bucket", "acl": "private"})
    assert_clean(analyzer.analyze(private), "s3-1-no-public-bucket-settings")

    public = doc({"Sid": "Read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                  "Resource": "arn:aws:s3:::mrd-data-bucket/*"})
    policy = res("aws:s3/bucketPolicy:BucketPolicy", "data-policy", {"bucket": "mrd-data-bucket", "policy": public})
    assert_violation(analyzer.analyze(policy), "s3-1-no-public-bucket-settings", "statement Read allows '*'")
    org_only = doc({"Sid": "Read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::mrd-data-bucket/*",
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})
    policy = res("aws:s3/bucketPolicy:BucketPolicy", "data-policy", {"bucket": "mrd-data-bucket", "policy": org_only})
    assert_clean(analyzer.analyze(policy), "s3-1-no-public-bucket-settings")


def test_account_public_access_block(analyzer):
    block = res("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "account",
                {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": False, "restrictPublicBuckets": True})
    assert_violation(analyzer.analyze(block), "s3-1-no-public-bucket-settings", "ignorePublicAcls")


def test_encryption_missing_or_weak(analyzer):
    assert_violation(analyzer.analyze_stack(bucket_set(skip=["sse"])), "s3-2-bucket-sse-kms",
                     "has no aws.s3.BucketServerSideEncryptionConfiguration")
    aes = bucket_set(sse_rule={"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}})
    assert_violation(analyzer.analyze_stack(aes), "s3-2-bucket-sse-kms", "encrypts with AES256 instead of aws:kms")
    no_key = bucket_set(sse_rule={"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}, "bucketKeyEnabled": True})
    assert_violation(analyzer.analyze_stack(no_key), "s3-2-bucket-sse-kms", "without kmsMasterKeyId")
    managed = bucket_set(sse_rule={"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                                                          "kmsMasterKeyId": "alias/aws/s3"},
                                   "bucketKeyEnabled": True})
    assert_violation(analyzer.analyze_stack(managed), "s3-2-bucket-sse-kms", "AWS-managed key alias/aws/s3")
    no_bucket_key = bucket_set(sse_rule={"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                                                                "kmsMasterKeyId": UNKNOWN}})
    assert_violation(analyzer.analyze_stack(no_bucket_key), "s3-2-bucket-sse-kms", "bucket key (bucketKeyEnabled)")


def test_encryption_key_unknown_during_preview_is_accepted(analyzer):
    resources = bucket_set(sse_rule={"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms",
                                                                            "kmsMasterKeyId": UNKNOWN},
                                     "bucketKeyEnabled": True})
    assert_clean(analyzer.analyze_stack(resources), "s3-2-bucket-sse-kms")


def test_versioning(analyzer):
    assert_violation(analyzer.analyze_stack(bucket_set(skip=["versioning"])), "s3-3-bucket-versioning",
                     "has no aws.s3.BucketVersioning")
    assert_violation(analyzer.analyze_stack(bucket_set(versioning="Suspended")), "s3-3-bucket-versioning",
                     "versioning status Suspended, not Enabled")


def test_tls_only_policy(analyzer):
    assert_violation(analyzer.analyze_stack(bucket_set(skip=["policy"])), "s3-4-bucket-tls-only",
                     "has no aws.s3.BucketPolicy denying requests without TLS")
    other = doc({"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/reader"},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mrd-data-bucket/*"})
    assert_violation(analyzer.analyze_stack(bucket_set(policy=other)), "s3-4-bucket-tls-only",
                     "aws:SecureTransport = false")
    assert_clean(analyzer.analyze_stack(bucket_set(policy=UNKNOWN)), "s3-4-bucket-tls-only")


def test_policy_given_as_a_dict_is_read(analyzer):
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": ["arn:aws:s3:::mrd-data-bucket/*"],
         "Condition": {"Bool": {"aws:SecureTransport": False}}}]}
    assert_clean(analyzer.analyze_stack(bucket_set(policy=policy)), "s3-4-bucket-tls-only")


def test_a_bucket_without_children_reports_each_guardrail_once(analyzer):
    resources = bucket_set(skip=["pab", "sse", "versioning", "policy"])
    diagnostics = analyzer.analyze_stack(resources)
    for policy in STACK_POLICIES:
        assert len([d for d in diagnostics if d.policy_name == policy]) == 1


def test_foreign_bucket_policy_principal_needs_a_condition(analyzer):
    grant = doc({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mrd-data-bucket/*"})
    policy = res("aws:s3/bucketPolicy:BucketPolicy", "data-policy", {"bucket": "mrd-data-bucket", "policy": grant})
    assert_violation(analyzer.analyze(policy), "iam-2-trusted-principals", f"whole foreign account arn:aws:iam::{FOREIGN}:root")


def test_server_access_log_targets_may_use_sse_s3(analyzer):
    resources = bucket_set("access-logs", sse_rule={"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}})
    assert_violation(analyzer.analyze_stack(resources), "s3-2-bucket-sse-kms", "encrypts with AES256")
    source = resources[1]
    logging = res("aws:s3/bucketLogging:BucketLogging", "data-logging", {"bucket": "mrd-data-bucket",
                                                                         "targetBucket": "mrd-access-logs-bucket"},
                  deps={"targetBucket": [source]})
    assert_clean(analyzer.analyze_stack(resources + [logging]), "s3-2-bucket-sse-kms")


def test_public_grants_on_the_bucket_itself(analyzer):
    public = res("aws:s3/bucket:Bucket", "shared", {"bucket": "mrd-shared", "grants": [
        {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers", "permissions": ["READ"]}]})
    assert_violation(analyzer.analyze(public), "s3-1-no-public-bucket-settings",
                     "bucket shared grants READ to http://acs.amazonaws.com/groups/global/AllUsers")
    owner = res("aws:s3/bucket:Bucket", "shared", {"bucket": "mrd-shared", "grants": [
        {"type": "CanonicalUser", "id": "abc123", "permissions": ["FULL_CONTROL"]}]})
    assert_clean(analyzer.analyze(owner), "s3-1-no-public-bucket-settings")


def test_deprecated_v2_bucket_types_are_refused(analyzer):
    legacy = res("aws:s3/bucketV2:BucketV2", "legacy", {"bucket": "mrd-legacy"})
    assert_violation(analyzer.analyze(legacy), "pol-2-no-deprecated-s3-types",
                     "BucketV2 legacy is a deprecated S3 type", "use aws:s3/bucket:Bucket")
    assert_clean(analyzer.analyze(res("aws:s3/bucket:Bucket", "current", {"bucket": "mrd-current"})),
                 "pol-2-no-deprecated-s3-types")


def test_public_condition_keys_are_configurable(analyzer):
    org_only = doc({"Sid": "Read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::mrd-data-bucket/*",
                    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})
    policy = res("aws:s3/bucketPolicy:BucketPolicy", "data-policy", {"bucket": "mrd-data-bucket", "policy": org_only})
    with analyzer.configured({"s3-1-no-public-bucket-settings": {"publicConditionKeys": ["aws:SourceVpce"]}}):
        assert_violation(analyzer.analyze(policy), "s3-1-no-public-bucket-settings", "statement Read allows '*'")
    # The same document inline on the bucket is judged the same way.
    bucket = res("aws:s3/bucket:Bucket", "data", {"bucket": "mrd-data-bucket", "policy": org_only}, protect=True)
    assert_clean(analyzer.analyze(bucket), "s3-1-no-public-bucket-settings")
    with analyzer.configured({"s3-1-no-public-bucket-settings": {"publicConditionKeys": ["aws:SourceVpce"]}}):
        assert_violation(analyzer.analyze(bucket), "s3-1-no-public-bucket-settings", "bucket data policy")


def tls(**changes):
    statement = {"Sid": "Tls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": ["arn:aws:s3:::mrd-data-bucket", "arn:aws:s3:::mrd-data-bucket/*"],
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    statement.update(changes)
    return doc({k: v for k, v in statement.items() if v is not None})


@pytest.mark.parametrize("policy", [
    tls(Effect="Allow"),                                                    # an Allow denies nothing
    tls(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/reader"}),          # only for one role
    tls(Action="s3:GetObject"),                                             # only for one action
    tls(Resource="arn:aws:s3:::mrd-data-bucket"),                           # not on the objects
    tls(Condition={"Bool": {"aws:SecureTransport": "true"}}),               # the opposite test
    tls(Condition={"StringEquals": {"aws:SecureTransport": "false"}}),      # not a Bool test
    tls(Condition=None),                                                    # no condition: not a TLS rule
])
def test_only_a_deny_for_everyone_on_all_of_s3_without_tls_counts(analyzer, policy):
    assert_violation(analyzer.analyze_stack(bucket_set(policy=policy)), "s3-4-bucket-tls-only",
                     "aws:SecureTransport = false")


@pytest.mark.parametrize("policy", [
    tls(), tls(Principal={"AWS": "*"}), tls(Principal={"AWS": ["*"]}), tls(Action="*"), tls(Resource="*"),
    tls(Condition={"BoolIfExists": {"aws:SecureTransport": ["false"]}}),
])
def test_every_form_of_the_tls_deny_counts(analyzer, policy):
    assert_clean(analyzer.analyze_stack(bucket_set(policy=policy)), "s3-4-bucket-tls-only")


def test_public_acl_grants(analyzer):
    for uri in ("http://acs.amazonaws.com/groups/global/AllUsers",
                "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"):
        acl = res("aws:s3/bucketAcl:BucketAcl", "data-acl", {"bucket": "mrd-data-bucket", "accessControlPolicy": {
            "owner": {"id": "o"}, "grants": [
                {"grantee": {"type": "CanonicalUser", "id": "o"}, "permission": "FULL_CONTROL"},
                {"grantee": {"type": "Group", "uri": uri}, "permission": "READ"}]}})
        assert_violation(analyzer.analyze(acl), "s3-1-no-public-bucket-settings", f"bucket ACL data-acl grants READ to {uri}")
    bucket = res("aws:s3/bucket:Bucket", "data", {"bucket": "mrd-data-bucket", "grants": [
        {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers", "permissions": ["READ", "WRITE"]}]},
        protect=True)
    assert_violation(analyzer.analyze(bucket), "s3-1-no-public-bucket-settings",
                     "bucket data grants READ, WRITE to http://acs.amazonaws.com/groups/global/AllUsers")
    own = res("aws:s3/bucketAcl:BucketAcl", "own-acl", {"bucket": "mrd-data-bucket", "accessControlPolicy": {
        "owner": {"id": "o"}, "grants": [{"grantee": {"type": "CanonicalUser", "id": "o"}, "permission": "FULL_CONTROL"}]}})
    assert_clean(analyzer.analyze(own), "s3-1-no-public-bucket-settings")


def test_inline_encryption_in_the_deprecated_list_form(analyzer):
    inline = {"rule": [{"applyServerSideEncryptionByDefault": [{"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}],
                        "bucketKeyEnabled": True}]}
    resources = bucket_set(skip=["sse"], bucket_props={"serverSideEncryptionConfiguration": inline})
    assert_clean(analyzer.analyze_stack(resources), "s3-2-bucket-sse-kms")
    empty = {"rule": [{"applyServerSideEncryptionByDefault": []}]}
    resources = bucket_set(skip=["sse"], bucket_props={"serverSideEncryptionConfiguration": empty})
    assert_violation(analyzer.analyze_stack(resources), "s3-2-bucket-sse-kms",
                     "(inline serverSideEncryptionConfiguration) has no default encryption")
    later = bucket_set(sse_rule={"applyServerSideEncryptionByDefault": UNKNOWN})
    assert_clean(analyzer.analyze_stack(later), "s3-2-bucket-sse-kms")


def test_inline_versioning_counts_only_without_a_versioning_resource(analyzer):
    inline = bucket_set(skip=["versioning"], bucket_props={"versioning": {"enabled": True}})
    assert_clean(analyzer.analyze_stack(inline), "s3-3-bucket-versioning")
    both = bucket_set(versioning="Suspended", bucket_props={"versioning": {"enabled": True}})
    assert_violation(analyzer.analyze_stack(both), "s3-3-bucket-versioning", "versioning status Suspended, not Enabled")
