"""What the notebook role is meant to do fits the SCPs the organization stack attaches on the
project dev account's OU path (root, Workloads, Workloads/Dev): a training job with VPC, volume
key and the mandatory tags is allowed; one without VPC or key is denied."""

from __future__ import annotations

import fnmatch
import json

import pytest

POLICY = "aws:organizations/policy:Policy"
ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"
OU = "aws:organizations/organizationalUnit:OrganizationalUnit"


def _scp_statements(org, ou_path: str) -> list[dict]:
    root = org.of_type("aws:organizations/organization:Organization")[0].outputs["roots"][0]["id"]
    ous = {(o.inputs["parentId"], o.inputs["name"]): o.id for o in org.of_type(OU)}
    targets, parent = [root], root
    for name in ou_path.split("/"):
        parent = ous[(parent, name)]
        targets.append(parent)
    policies = {p.id: p for p in org.of_type(POLICY)}
    found = []
    for attachment in org.of_type(ATTACHMENT):
        if attachment.inputs["targetId"] in targets:
            policy = policies[attachment.inputs["policyId"]]
            if policy.inputs.get("type", "SERVICE_CONTROL_POLICY") == "SERVICE_CONTROL_POLICY":
                found.extend(json.loads(policy.inputs["content"])["Statement"])
    return found


def _values(x):
    return x if isinstance(x, list) else [x]


def _condition_holds(operator: str, key: str, wanted, context: dict) -> bool:
    quantifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    present = key in context
    if op == "Null":
        return (not present) == (str(_values(wanted)[0]).lower() == "true")
    if not present:
        # A missing key: negated operators and ...IfExists hold, ForAllValues holds (empty set).
        return if_exists or op.startswith(("StringNot", "ArnNot")) or quantifier == "ForAllValues"
    actual = [str(v) for v in _values(context[key])]
    wanted = [str(v) for v in _values(wanted)]
    negate = "Not" in op
    base = op.replace("Not", "")
    if base in ("StringLike", "ArnLike"):
        def match(v):
            return any(fnmatch.fnmatchcase(v, w) for w in wanted)
    elif base in ("StringEquals", "ArnEquals"):
        def match(v):
            return v in wanted
    elif base == "Bool":
        def match(v):
            return v.lower() in [w.lower() for w in wanted]
    else:
        raise AssertionError(f"operator {operator} not modelled by this test")
    if quantifier == "ForAllValues":
        return all((not match(v)) if negate else match(v) for v in actual)
    if quantifier == "ForAnyValue":
        return any((not match(v)) if negate else match(v) for v in actual)
    return (not match(actual[0])) if negate else match(actual[0])


def _denied_by(statements: list[dict], action: str, context: dict) -> list[str]:
    denied = []
    for s in statements:
        if s["Effect"] != "Deny":
            continue
        if "Action" in s and not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _values(s["Action"])):
            continue
        if "NotAction" in s and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _values(s["NotAction"])):
            continue
        if all(_condition_holds(op, key, wanted, context)
               for op, block in s.get("Condition", {}).items() for key, wanted in block.items()):
            denied.append(s.get("Sid", "?"))
    return denied


@pytest.fixture(scope="module")
def dev_scps(sample_runs):
    return _scp_statements(sample_runs("organization"), "Workloads/Dev")


@pytest.fixture(scope="module")
def good_training_job(sample_runs):
    run = sample_runs("fraud-detection-dev")
    tags = run.of_type("aws:sagemaker/domain:Domain")[0].inputs["tags"]
    context = {
        "aws:PrincipalArn": run.outputs["workspace"]["serviceRoleArns"]["notebook"],
        "aws:RequestedRegion": "eu-west-1",
        "sagemaker:VpcSubnets": run.outputs["subnetIds"],
        "sagemaker:VpcSecurityGroupIds": [run.outputs["workloadSecurityGroupId"]],
        "sagemaker:VolumeKmsKeyArn": run.outputs["data"]["keyArn"],
        "sagemaker:OutputKmsKey": run.outputs["data"]["keyArn"],
        "sagemaker:InstanceTypes": ["ml.m5.xlarge"],
        "sagemaker:NetworkIsolation": "true",
        "sagemaker:InterContainerTrafficEncryption": "true",
        "aws:TagKeys": list(tags),
    }
    context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
    return context


def test_a_training_job_with_vpc_key_and_tags_passes_the_dev_scps(dev_scps, good_training_job):
    assert dev_scps, "the organization stack attaches SCPs on the dev path"
    assert _denied_by(dev_scps, "sagemaker:CreateTrainingJob", good_training_job) == []


@pytest.mark.parametrize("missing, guardrail", [("sagemaker:VpcSubnets", "SM3"), ("sagemaker:VolumeKmsKeyArn", "SM1"),
                                                ("aws:RequestTag/owner", "TAG1")])
def test_a_training_job_without_vpc_key_or_tags_is_denied(dev_scps, good_training_job, missing, guardrail):
    context = {k: v for k, v in good_training_job.items() if k != missing}
    denied = _denied_by(dev_scps, "sagemaker:CreateTrainingJob", context)
    assert any(guardrail in sid for sid in denied), denied


def test_endpoints_are_denied_in_dev(dev_scps, good_training_job):
    assert any("SM7" in sid for sid in _denied_by(dev_scps, "sagemaker:CreateEndpoint", good_training_job))
