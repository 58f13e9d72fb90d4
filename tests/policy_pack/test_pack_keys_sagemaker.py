"""KMS-1, KMS-2 and SM-1 .. SM-8."""

from __future__ import annotations

import json

from pack_helpers import (
    ACCOUNT,
    FOREIGN,
    KEY_ARN,
    TAGS,
    UNKNOWN,
    assert_clean,
    assert_violation,
    doc,
    provider,
    res,
)

KEY = "aws:kms/key:Key"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
DOMAIN = "aws:sagemaker/domain:Domain"
MODEL = "aws:sagemaker/model:Model"
GOOD_NOTEBOOK = {"instanceType": "ml.t3.medium", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/sm", "kmsKeyId": KEY_ARN,
                 "subnetId": "subnet-1", "securityGroups": ["sg-1"], "directInternetAccess": "Disabled",
                 "rootAccess": "Disabled"}
GOOD_DOMAIN = {"domainName": "studio", "authMode": "IAM", "kmsKeyId": KEY_ARN, "vpcId": "vpc-1",
               "subnetIds": ["subnet-1"], "appNetworkAccessType": "VpcOnly"}


# -- KMS-1 ---------------------------------------------------------------------------------------
def test_rotating_key_with_a_30_day_window(analyzer):
    key = res(KEY, "k", {"enableKeyRotation": True, "deletionWindowInDays": 30})
    assert_clean(analyzer.analyze(key), "kms-1-key-rotation-deletion-window")


def test_key_without_rotation_and_a_short_window(analyzer):
    key = res(KEY, "k", {"deletionWindowInDays": 7})
    diagnostics = analyzer.analyze(key)
    assert_violation(diagnostics, "kms-1-key-rotation-deletion-window", "key k does not rotate")
    assert_violation(diagnostics, "kms-1-key-rotation-deletion-window", "deletion window of 7 days, less than 30")
    slow = res(KEY, "k", {"enableKeyRotation": True, "rotationPeriodInDays": 730})
    assert_violation(analyzer.analyze(slow), "kms-1-key-rotation-deletion-window", "rotates every 730 days")


def test_asymmetric_keys_cannot_rotate(analyzer):
    key = res(KEY, "signing", {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"})
    assert_clean(analyzer.analyze(key), "kms-1-key-rotation-deletion-window")


# -- KMS-2 ---------------------------------------------------------------------------------------
def _key_policy(*statements):
    root = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*", "Resource": "*"}
    return res(KEY, "k", {"enableKeyRotation": True, "policy": doc(root, *statements)})


def test_key_policy_keeps_kms_star_in_the_account(analyzer):
    assert_clean(analyzer.analyze(_key_policy()), "kms-2-key-policy-account-boundary")
    foreign = _key_policy({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"},
                           "Action": "kms:*", "Resource": "*"})
    assert_violation(analyzer.analyze(foreign), "kms-2-key-policy-account-boundary",
                     f"statement Partner grants kms:* to arn:aws:iam::{FOREIGN}:root, outside the key's account {ACCOUNT}")


def test_key_usage_for_consumer_accounts(analyzer):
    usage = _key_policy({"Sid": "Consumer", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:role/reader"},
                         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"})
    assert_violation(analyzer.analyze(usage), "kms-2-key-policy-account-boundary", "neither in the key's account nor a "
                     "configured consumer account")
    with analyzer.configured({"kms-2-key-policy-account-boundary": {"consumerAccountIds": [FOREIGN]}}):
        assert_clean(analyzer.analyze(usage), "kms-2-key-policy-account-boundary")


def test_separate_key_policy_resource(analyzer):
    policy = res("aws:kms/keyPolicy:KeyPolicy", "kp", {"keyId": "k", "policy": doc(
        {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"})})
    assert_violation(analyzer.analyze(policy), "kms-2-key-policy-account-boundary", "grants kms:* to *")


def test_templates_have_only_their_key_policies_judged(analyzer):
    """KMS-2 opens stack (set) templates and judges the key policies in them, not the template's
    other documents: a role that trusts another account is IAM-2's business."""
    foreign_key = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": [
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"},
         "Action": "kms:*", "Resource": "*"}]}}}
    trusting_role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:root"}, "Action": "sts:AssumeRole"}]}}}
    with_key = res("aws:cloudformation/stackSet:StackSet", "baseline", {"templateBody": json.dumps(
        {"Resources": {"Key": foreign_key, "Ops": trusting_role}})})
    assert_violation(analyzer.analyze(with_key), "kms-2-key-policy-account-boundary", "statement Partner grants kms:*")
    role_only = res("aws:cloudformation/stackSet:StackSet", "baseline", {"templateBody": json.dumps(
        {"Resources": {"Ops": trusting_role}})})
    assert_clean(analyzer.analyze(role_only), "kms-2-key-policy-account-boundary")


# -- SM-1 .. SM-5, SM-8: notebooks and domains ---------------------------------------------------
def test_compliant_notebook_and_domain(analyzer):
    diagnostics = analyzer.analyze(res(NOTEBOOK, "nb", GOOD_NOTEBOOK)) + analyzer.analyze(res(DOMAIN, "studio", GOOD_DOMAIN))
    for policy in ("sm-1-notebook-domain-kms", "sm-3-run-in-vpc", "sm-4-no-direct-internet", "sm-5-no-root-access",
                   "sm-8-notebook-instance-types"):
        assert_clean(diagnostics, policy)


def test_notebook_with_defaults(analyzer):
    notebook = res(NOTEBOOK, "nb", {"instanceType": "ml.p3.2xlarge", "roleArn": "arn:aws:iam::1:role/sm"})
    diagnostics = analyzer.analyze(notebook)
    assert_violation(diagnostics, "sm-1-notebook-domain-kms", "notebook instance nb has no KMS key")
    assert_violation(diagnostics, "sm-3-run-in-vpc", "notebook instance nb is not in a VPC (no subnetId and no securityGroups)")
    assert_violation(diagnostics, "sm-4-no-direct-internet", "has direct internet access (Enabled, the default)")
    assert_violation(diagnostics, "sm-5-no-root-access", "gives users root access (Enabled, the default)")
    assert_violation(diagnostics, "sm-8-notebook-instance-types",
                     "uses ml.p3.2xlarge; allowed: ml.t3.medium, ml.m5.xlarge, ml.g4dn.xlarge")


def test_unknown_kms_key_is_accepted(analyzer):
    notebook = res(NOTEBOOK, "nb", {**GOOD_NOTEBOOK, "kmsKeyId": UNKNOWN})
    assert_clean(analyzer.analyze(notebook), "sm-1-notebook-domain-kms")


def test_domain_with_public_internet(analyzer):
    domain = res(DOMAIN, "studio", {**GOOD_DOMAIN, "appNetworkAccessType": "PublicInternetOnly", "kmsKeyId": None})
    diagnostics = analyzer.analyze(domain)
    assert_violation(diagnostics, "sm-4-no-direct-internet", "Studio domain studio app network access type is PublicInternetOnly")
    assert_violation(diagnostics, "sm-1-notebook-domain-kms", "Studio domain studio has no KMS key")


# -- SM-2 ----------------------------------------------------------------------------------------
def test_endpoint_configuration_key(analyzer):
    config = res("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "ec", {"productionVariants": []})
    assert_violation(analyzer.analyze(config), "sm-2-endpoint-config-kms", "endpoint configuration ec has no KMS key")
    config.properties["kmsKeyArn"] = KEY_ARN
    assert_clean(analyzer.analyze(config), "sm-2-endpoint-config-kms")


# -- SM-3, SM-6: models --------------------------------------------------------------------------
def test_model_vpc_and_network_isolation(analyzer):
    prod = provider("prod", tags={**TAGS, "environment": "prod"})
    bare = res(MODEL, "m", {"executionRoleArn": "arn:aws:iam::1:role/x"}, prov=prod)
    diagnostics = analyzer.analyze(bare)
    assert_violation(diagnostics, "sm-3-run-in-vpc", "model m has no vpcConfig")
    assert_violation(diagnostics, "sm-6-model-network-isolation",
                     "model m in prod (from default tags of provider prod) does not enable network isolation")
    good = res(MODEL, "m", {"vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]},
                            "enableNetworkIsolation": True}, prov=prod)
    diagnostics = analyzer.analyze(good)
    assert_clean(diagnostics, "sm-3-run-in-vpc")
    assert_clean(diagnostics, "sm-6-model-network-isolation")


def test_network_isolation_not_required_in_dev(analyzer):
    model = res(MODEL, "m", {"vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}})
    assert_clean(analyzer.analyze(model), "sm-6-model-network-isolation")


# -- SM-7 ----------------------------------------------------------------------------------------
def test_no_endpoints_in_dev(analyzer):
    dev = provider("dev", tags=TAGS)
    endpoint = res("aws:sagemaker/endpoint:Endpoint", "ep", {"endpointConfigName": "ec"}, prov=dev)
    assert_violation(analyzer.analyze_stack([dev, endpoint]), "sm-7-no-endpoints-in-dev-sandbox",
                     "Endpoint ep in environment dev (from default tags of provider dev)", urn_=endpoint.urn)
    prod = provider("prod", tags={**TAGS, "environment": "prod"})
    endpoint = res("aws:sagemaker/endpoint:Endpoint", "ep", {"endpointConfigName": "ec"}, prov=prod)
    assert_clean(analyzer.analyze_stack([prod, endpoint]), "sm-7-no-endpoints-in-dev-sandbox")


def test_endpoint_environment_from_its_own_tag(analyzer):
    untagged = provider("untagged", tags=None)
    config = res("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "ec",
                 {"kmsKeyArn": KEY_ARN, "tags": {"environment": "sandbox"}}, prov=untagged)
    assert_violation(analyzer.analyze_stack([untagged, config]), "sm-7-no-endpoints-in-dev-sandbox",
                     "EndpointConfiguration ec in environment sandbox (from its tags)")


TRAINING_JOB = "aws:sagemaker/trainingJob:TrainingJob"
GOOD_JOB = {
    "trainingJobName": "fraud-train", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/sm",
    "resourceConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": 1, "volumeSizeInGb": 50,
                       "volumeKmsKeyId": KEY_ARN},
    "outputDataConfig": {"s3OutputPath": "s3://mrd-fraud-detection-preprod-models/", "kmsKeyId": KEY_ARN},
    "vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]},
    "enableNetworkIsolation": True, "enableInterContainerTrafficEncryption": True,
}


def test_training_jobs_encrypt_run_in_a_vpc_and_are_isolated_in_prod(analyzer):
    prod = provider("prod", tags={**TAGS, "environment": "prod"})
    good = res(TRAINING_JOB, "train", GOOD_JOB, prov=prod)
    for policy in ("sm-1-notebook-domain-kms", "sm-3-run-in-vpc", "sm-6-model-network-isolation"):
        assert_clean(analyzer.analyze(good), policy)
    bare = res(TRAINING_JOB, "train", {
        **GOOD_JOB, "resourceConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": 1},
        "outputDataConfig": {"s3OutputPath": "s3://bucket/"}, "vpcConfig": None,
        "enableNetworkIsolation": False, "enableInterContainerTrafficEncryption": False}, prov=prod)
    found = analyzer.analyze(bare)
    assert_violation(found, "sm-1-notebook-domain-kms", "training job train has no KMS key for its storage volume")
    assert_violation(found, "sm-1-notebook-domain-kms", "without a KMS key (outputDataConfig.kmsKeyId)")
    assert_violation(found, "sm-3-run-in-vpc", "training job train has no vpcConfig")
    assert_violation(found, "sm-6-model-network-isolation", "training job train in prod", "network isolation")
    assert_violation(found, "sm-6-model-network-isolation", "does not encrypt inter-container traffic")


def test_training_on_local_storage_instances_needs_no_volume_key(analyzer):
    local = res(TRAINING_JOB, "train", {**GOOD_JOB, "resourceConfig": {"instanceType": "ml.g5.2xlarge",
                                                                          "instanceCount": 1}})
    assert_clean(analyzer.analyze(local), "sm-1-notebook-domain-kms")


# -- configured values and boundaries ----------------------------------------------------------------
def test_key_rotation_and_deletion_thresholds_are_configurable(analyzer):
    policy = "kms-1-key-rotation-deletion-window"
    at_limits = res(KEY, "k", {"enableKeyRotation": True, "rotationPeriodInDays": 365, "deletionWindowInDays": 30})
    assert_clean(analyzer.analyze(at_limits), policy)
    over = res(KEY, "k", {"enableKeyRotation": True, "rotationPeriodInDays": 366, "deletionWindowInDays": 29})
    diagnostics = analyzer.analyze(over)
    assert_violation(diagnostics, policy, "key k rotates every 366 days, more than 365")
    assert_violation(diagnostics, policy, "key k has a deletion window of 29 days, less than 30")
    with analyzer.configured({policy: {"minimumDeletionWindowInDays": 20, "maximumRotationPeriodInDays": 400}}):
        assert_clean(analyzer.analyze(over), policy)
    with analyzer.configured({policy: {"minimumDeletionWindowInDays": 25, "maximumRotationPeriodInDays": 90}}):
        assert_violation(analyzer.analyze(at_limits), policy, "rotates every 365 days, more than 90")
        short = res(KEY, "short", {"enableKeyRotation": True, "deletionWindowInDays": 24})
        assert_violation(analyzer.analyze(short), policy, "deletion window of 24 days, less than 25")
        assert_clean(analyzer.analyze(res(KEY, "ok", {"enableKeyRotation": True, "deletionWindowInDays": 25})), policy)
    # Unknown during preview: judged at `pulumi up`.
    later = res(KEY, "later", {"enableKeyRotation": UNKNOWN, "deletionWindowInDays": UNKNOWN})
    assert_clean(analyzer.analyze(later), policy)


def test_local_storage_instance_types_are_configurable(analyzer):
    job = res(TRAINING_JOB, "train", {**GOOD_JOB, "resourceConfig": {"instanceType": "ml.m5.xlarge", "instanceCount": 1}})
    assert_violation(analyzer.analyze(job), "sm-1-notebook-domain-kms",
                     "training job train has no KMS key for its storage volume (resourceConfig.volumeKmsKeyId)")
    with analyzer.configured({"sm-1-notebook-domain-kms": {"localStorageInstanceTypes": ["ml.m5.*"]}}):
        assert_clean(analyzer.analyze(job), "sm-1-notebook-domain-kms")
    with analyzer.configured({"sm-1-notebook-domain-kms": {"localStorageInstanceTypes": ["ml.m5.2xlarge"]}}):
        assert_violation(analyzer.analyze(job), "sm-1-notebook-domain-kms", "no KMS key for its storage volume")


def test_forbidden_endpoint_environments_are_configurable(analyzer):
    prod = provider("prod", tags={**TAGS, "environment": "prod"})
    endpoint = res("aws:sagemaker/endpoint:Endpoint", "ep", {"endpointConfigName": "ec"}, prov=prod)
    config = res("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "ec", {"kmsKeyArn": KEY_ARN}, prov=prod)
    assert_clean(analyzer.analyze_stack([prod, endpoint, config]), "sm-7-no-endpoints-in-dev-sandbox")
    with analyzer.configured({"sm-7-no-endpoints-in-dev-sandbox": {"forbiddenEnvironments": ["PROD"]}}):
        diagnostics = analyzer.analyze_stack([prod, endpoint, config])
    assert_violation(diagnostics, "sm-7-no-endpoints-in-dev-sandbox", "Endpoint ep in environment prod",
                     "no SageMaker endpoints in prod", urn_=endpoint.urn)
    assert_violation(diagnostics, "sm-7-no-endpoints-in-dev-sandbox", "EndpointConfiguration ec in environment prod",
                     urn_=config.urn)


def test_consumer_condition_keys_are_configurable(analyzer):
    usage = _key_policy({"Sid": "Org", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FOREIGN}:role/reader"},
                         "Action": ["kms:Decrypt"], "Resource": "*",
                         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})
    assert_clean(analyzer.analyze(usage), "kms-2-key-policy-account-boundary")
    with analyzer.configured({"kms-2-key-policy-account-boundary": {"consumerConditionKeys": ["aws:PrincipalOrgPaths"]}}):
        assert_violation(analyzer.analyze(usage), "kms-2-key-policy-account-boundary",
                         f"key policy statement Org grants kms:Decrypt to arn:aws:iam::{FOREIGN}:role/reader")


def test_isolated_environments_are_configurable(analyzer):
    model = res(MODEL, "m", {"vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}})  # dev
    with analyzer.configured({"sm-6-model-network-isolation": {"environments": ["DEV"]}}):
        assert_violation(analyzer.analyze(model), "sm-6-model-network-isolation",
                         "model m in dev (from default tags of provider workload) does not enable network isolation")
    prod = provider("prod", tags={**TAGS, "environment": "prod"})
    bare = res(MODEL, "m", {"vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}}, prov=prod)
    with analyzer.configured({"sm-6-model-network-isolation": {"environments": ["dev"]}}):
        assert_clean(analyzer.analyze(bare), "sm-6-model-network-isolation")
