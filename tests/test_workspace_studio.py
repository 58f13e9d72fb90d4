"""The ML workspace's Studio domain, user profiles and ABAC policy (stacks/project_workspace.py)."""

from __future__ import annotations

import base64
import json

import pytest

from policy_documents.service_authorization import validate_document
from stacks.config import ConfigError, parse_platform

DOMAIN = "aws:sagemaker/domain:Domain"
PROFILE = "aws:sagemaker/userProfile:UserProfile"
LIFECYCLE = "aws:sagemaker/studioLifecycleConfig:StudioLifecycleConfig"
POLICY = "aws:iam/policy:Policy"


def test_domain_is_vpc_only_in_the_private_subnets_with_the_workload_group_and_project_key(sample_runs):
    run = sample_runs("fraud-detection-dev")
    (domain,) = run.of_type(DOMAIN)
    i = domain.inputs
    assert i["appNetworkAccessType"] == "VpcOnly"
    assert i["vpcId"] == run.outputs["vpcId"] and i["subnetIds"] == run.outputs["subnetIds"]
    sg = run.outputs["workloadSecurityGroupId"]
    assert i["domainSettings"]["securityGroupIds"] == [sg]
    assert i["defaultUserSettings"]["securityGroups"] == [sg]
    assert i["kmsKeyId"] == run.outputs["data"]["keyArn"]
    assert i["defaultUserSettings"]["executionRole"] == run.outputs["workspace"]["serviceRoleArns"]["notebook"]
    assert i["defaultUserSettings"]["sharingSettings"] == {"notebookOutputOption": "Disabled"}
    assert i["authMode"] == "SSO"
    for mandatory in ("owner", "project", "environment", "cost-center", "data-classification"):
        assert mandatory in i["tags"]  # TAG-1 denies untagged SageMaker creates


def test_only_dev_has_a_studio_domain_by_default(sample_runs):
    for stack in ("fraud-detection-preprod", "fraud-detection-prod", "document-vision-prod"):
        assert sample_runs(stack).of_type(DOMAIN) == []
        assert "studio" not in sample_runs(stack).outputs["workspace"]


def test_lifecycle_configs_load_parameters_pip_index_default_bucket_and_idle_shutdown(sample_runs):
    run = sample_runs("fraud-detection-dev")
    configs = {c.inputs["studioLifecycleConfigAppType"]: c for c in run.of_type(LIFECYCLE)}
    assert set(configs) == {"JupyterLab", "CodeEditor"}
    script = base64.b64decode(configs["JupyterLab"].inputs["studioLifecycleConfigContent"]).decode()
    assert "get-parameters-by-path --path \"$PARAMS\"" in script and "PARAMS=/mrd/fraud-detection/dev/workspace" in script
    assert "aws codeartifact login --tool pip --domain mrd" in script and "--repository internal" in script
    assert "DefaultS3Bucket: $WORKSPACE_BUCKETS_EXPERIMENTATION" in script
    (domain,) = run.of_type(DOMAIN)
    lab = domain.inputs["defaultUserSettings"]["jupyterLabAppSettings"]
    assert lab["lifecycleConfigArns"] == [configs["JupyterLab"].outputs["arn"]]
    assert lab["appLifecycleManagement"]["idleSettings"]["idleTimeoutInMinutes"] == 120
    assert lab["defaultResourceSpec"]["instanceType"] == "ml.t3.medium"


def test_user_profiles_are_tagged_with_their_owner(sample_runs):
    run = sample_runs("fraud-detection-dev")
    (profile,) = run.of_type(PROFILE)
    assert profile.inputs["userProfileName"] == "ana-ds"
    assert profile.inputs["tags"]["studio-owner"] == "ana.silva@meridian-bank.example"
    assert profile.inputs["singleSignOnUserValue"] == "ana.silva@meridian-bank.example"


def test_abac_a_person_presigns_and_opens_only_their_own_profile_and_spaces(sample_runs):
    run = sample_runs("fraud-detection-dev")
    (policy,) = [p for p in run.of_type(POLICY) if p.inputs["name"] == "mrd-persona-data-scientist"]
    doc = json.loads(policy.inputs["policy"])
    assert validate_document(doc) == []
    owner = {"StringEquals": {"aws:ResourceTag/studio-owner": "${aws:PrincipalTag/studio-owner}"}}
    by_action = {a: s for s in doc["Statement"] for a in s["Action"]}
    for action in ("sagemaker:CreatePresignedDomainUrl", "sagemaker:DescribeUserProfile", "sagemaker:DescribeSpace"):
        assert by_action[action]["Condition"] == owner, action
    assert by_action["sagemaker:CreateApp"]["Condition"] == {
        "ForAllValues:StringEquals": {"sagemaker:InstanceTypes": ["ml.t3.medium", "ml.m5.xlarge", "ml.g4dn.xlarge"]}}
    domain_id = run.of_type(DOMAIN)[0].id
    assert all(f"user-profile/{domain_id}/" in r for r in by_action["sagemaker:CreatePresignedDomainUrl"]["Resource"])


@pytest.mark.parametrize("change, key", [
    (lambda w: w["studio"].update(instance_types=["ml.p5.48xlarge"]), "workspace.studio.instance_types[0]"),
    (lambda w: w["studio"]["user_profiles"]["fraud-detection"].append({"name": "x", "owner": "nobody@x.example"}),
     "workspace.studio.user_profiles.fraud-detection[1].owner"),
    (lambda w: w["studio"]["user_profiles"].update({"unknown-project": []}), "workspace.studio.user_profiles.unknown-project"),
])
def test_bad_workspace_input_is_rejected_naming_the_key(sample_platform, change, key):
    change(sample_platform["workspace"])
    with pytest.raises(ConfigError) as err:
        parse_platform(sample_platform)
    assert any(p.startswith(f"{key}:") for p in err.value.problems), err.value.problems
    # Once each: the workspace checks ran twice, so every problem was listed (and counted) twice.
    assert len(err.value.problems) == len(set(err.value.problems)), err.value.problems


def test_bad_input_registers_nothing(run_platform, sample_platform):
    sample_platform["workspace"]["studio"]["instance_types"] = ["ml.p5.48xlarge"]
    with pytest.raises(Exception, match="workspace.studio.instance_types"):
        run = run_platform("fraud-detection-dev", platform=sample_platform)
        assert run.resources == [] and run.errors
        raise RuntimeError("; ".join(run.errors))


def _customer_policies(run):
    return {p.inputs["name"]: json.loads(p.inputs["policy"]) for p in run.of_type(POLICY)}


def test_data_scientists_read_only_in_preprod_and_nothing_in_prod(sample_runs):
    from policy_documents.service_authorization import action_access_level

    run = sample_runs("fraud-detection-preprod")
    preprod = _customer_policies(run)
    doc = preprod["mrd-persona-data-scientist"]
    assert "sagemaker:CreatePresignedDomainUrl" not in str(doc)
    assert validate_document(doc) == []
    assumes = [s for s in doc["Statement"] if s["Action"] == ["sts:AssumeRole"]]
    actions = [a for s in doc["Statement"] if s not in assumes for a in s["Action"]]
    assert actions and all(action_access_level(a) in ("Read", "List") for a in actions), actions
    # The roles it may assume (the reviewers') read datasets and models, through S3 only.
    assumed = {arn.rsplit("/", 1)[1] for s in assumes for arn in s["Resource"]}
    assert assumed == {"mrd-fraud-detection-preprod-ml-engineer"}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.inputs["role"] in assumed:
            for statement in json.loads(policy.inputs["policy"])["Statement"]:
                assert set(statement["Action"]) <= {"s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject",
                                                    "kms:Decrypt", "kms:DescribeKey"}, statement
    prod = _customer_policies(sample_runs("fraud-detection-prod"))
    assert "mrd-persona-data-scientist" not in prod
    assert "sagemaker:CreatePresignedDomainUrl" in str(_customer_policies(sample_runs("fraud-detection-dev"))[
        "mrd-persona-data-scientist"])
