"""In a CLI preview, outputs the provider computes are unknown. An unknown the program did not
set (no property dependency) is judged as unset; one that came from another resource waits."""

from __future__ import annotations

import json

from pack_helpers import DEFAULT_PROVIDER, UNKNOWN, assert_clean, assert_violation, bucket_set, provider, res

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def test_a_new_bucket_without_a_policy_is_caught_in_preview(analyzer):
    resources = bucket_set(skip=("policy",), bucket_props={"policy": UNKNOWN})  # computed, never set
    assert_violation(analyzer.analyze_stack(resources), "s3-4-bucket-tls-only", "has no aws.s3.BucketPolicy")


def test_an_inline_policy_built_from_outputs_waits_for_deployment(analyzer):
    key = res("aws:kms/key:Key", "key", {"enableKeyRotation": True})
    resources = bucket_set(skip=("policy",), bucket_props={"policy": UNKNOWN})
    resources[1].property_dependencies["policy"] = [key.urn]
    assert_clean(analyzer.analyze_stack([*resources, key]), "s3-4-bucket-tls-only")


def test_a_new_endpoint_without_private_dns_or_policy_is_caught_in_preview(analyzer):
    endpoint = res(ENDPOINT, "api", {"vpcId": "vpc-1", "serviceName": "com.amazonaws.eu-west-1.sts",
                                     "vpcEndpointType": "Interface", "privateDnsEnabled": UNKNOWN, "policy": UNKNOWN})
    assert_violation(analyzer.analyze_stack([DEFAULT_PROVIDER, endpoint]), "net-2-private-endpoints",
                     "private DNS is not enabled", "has no endpoint policy")


def test_a_new_log_archive_without_object_lock_is_caught_in_preview(analyzer):
    resources = bucket_set("log-archive", bucket_props={"objectLockEnabled": UNKNOWN})
    assert_violation(analyzer.analyze_stack(resources), "log-2-log-archive-immutable", "Object Lock is not enabled")


def test_admin_attachment_to_a_role_not_yet_named_is_judged_at_deployment(analyzer):
    attachment = res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin",
                     {"role": UNKNOWN, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    assert_clean(analyzer.analyze(attachment), "iam-2-no-admin-wildcard")
    named = res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin",
                {"role": "someone", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
    assert_violation(analyzer.analyze(named), "iam-2-no-admin-wildcard", "AdministratorAccess is attached to role someone")


def test_account_boundaries_need_a_provider_that_names_its_account(analyzer):
    # AWS's default key policy (the account root administers the key) is not "foreign" when the
    # provider does not say which account it deploys into; '*' is still judged.
    anonymous = provider("anonymous", account=None)
    root_policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "kms:*", "Resource": "*"}]})
    key = res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "policy": root_policy}, prov=anonymous)
    assert_clean(analyzer.analyze(key), "kms-2-key-policy-account-boundary")
    everyone = root_policy.replace('{"AWS": "arn:aws:iam::111122223333:root"}', '"*"')
    assert_violation(analyzer.analyze(res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "policy": everyone},
                                          prov=anonymous)), "kms-2-key-policy-account-boundary", "grants kms:* to *")
    # With the account named, a foreign root is caught.
    assert_violation(analyzer.analyze(res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "policy": root_policy})),
                     "kms-2-key-policy-account-boundary", "outside the key's account")
