"""Who reads the data lake from a project account (issue 14): the roles the lake's grants name
(bucket, key and Lake Formation) are exactly the roles that read, and each one's identity
policy in its own account allows exactly those reads, no write.

- Code in a Studio session runs as the notebook execution role (`sm-execution`);
- a data scientist's own queries run as the people's roles (`data-scientist`, `ml-engineer`),
  assumed by the data scientist persona's sessions of the same account, and only where that
  persona works (dev, preprod)."""

from __future__ import annotations

import fnmatch
import json

import pytest

from policy_documents.service_authorization import action_resource_arns, expand_actions, validate_document
from stacks import data_settings as ds
from stacks.config import ConfigError, parse_platform
from stacks.workspace_settings import data_persona_suffixes
from tests.conftest import load_sample_platform

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
PROJECT_STACKS = [f"{p}-{e}" for p in ("fraud-detection", "document-vision") for e in ("dev", "preprod", "prod")]
SSO_SCIENTIST = "aws-reserved/sso.amazonaws.com/*AWSReservedSSO_mrd-DataScientist_*"


@pytest.fixture(scope="module")
def platform():
    return parse_platform(load_sample_platform())


@pytest.fixture(scope="module")
def lake(sample_runs):
    return sample_runs("data-lake").outputs


def _policies(run) -> dict[str, dict]:
    """Role name -> its inline policy documents, merged."""
    found: dict[str, dict] = {}
    for p in run.of_type(ROLE_POLICY):
        doc = json.loads(p.inputs["policy"])
        found.setdefault(p.inputs["role"], {"Version": "2012-10-17", "Statement": []})["Statement"] += doc["Statement"]
    return found


def _list(value):
    return value if isinstance(value, list) else [value]


def _allowed(doc: dict, action: str) -> set[str]:
    """Resources `doc` allows `action` on (with their statements' conditions ignored)."""
    found: set[str] = set()
    for s in doc["Statement"]:
        if s["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action, a) for a in _list(s["Action"])):
            found.update(_list(s["Resource"]))
    return found


def _expected_reads(platform, lake, project, env):
    """From the configuration and the data-lake stack: object ARNs, bucket ARNs, key ARNs and
    catalog databases the consumers entries grant `project`-`env`."""
    objects, buckets, keys, databases = set(), set(), set(), set()
    for consumer, domain in ds.consumer_grants(platform, project, env):
        out = lake["domains"][domain]
        prefix = ds.REDACTED_PREFIX if consumer.redacted_only else ""
        for zone in consumer.zones:
            arn = out["buckets"][zone]["arn"]
            buckets.add(arn)
            objects.add(f"{arn}/{prefix}*")
        keys.add(out["keyArn"])
        databases.update(ds.consumer_databases(platform, consumer, domain))
    return objects, buckets, keys, databases


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_every_role_the_lake_grants_reads_exactly_what_is_granted_and_writes_nothing(sample_runs, platform, lake, stack):
    run = sample_runs(stack)
    project, env = stack.rsplit("-", 1)
    grants = ds.consumer_grants(platform, project, env)
    readers = {ds.project_role_name(platform, project, env, r) for c, _ in grants for r in c.roles}
    policies = _policies(run)
    objects, buckets, keys, databases = _expected_reads(platform, lake, project, env)
    account = run.outputs["data"]["keyArn"].split(":")[4]
    lake_id = lake["accountId"]
    lake_arns = {b["arn"] for d in lake["domains"].values() for b in d["buckets"].values()}
    for role, doc in policies.items():
        on_lake = {r for r in _allowed(doc, "s3:*") if r.split("/")[0] in lake_arns}
        if role not in readers:
            assert on_lake == set(), f"{role} is not granted the lake but its policy names {on_lake}"
            continue
        # S3: list the granted buckets, get under the granted prefixes, nothing else on the lake.
        assert {r for r in _allowed(doc, "s3:GetObject") if r.split("/")[0] in lake_arns} == objects, role
        assert {r for r in _allowed(doc, "s3:ListBucket") if r in lake_arns} == buckets, role
        for write in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"):
            assert not {r for r in _allowed(doc, write) if r.split("/")[0] in lake_arns}, (role, write)
        # KMS: decrypt with the domain keys, only through S3.
        (key_statement,) = [s for s in doc["Statement"] if set(_list(s["Resource"])) & keys]
        assert set(key_statement["Resource"]) == keys
        assert set(key_statement["Action"]) <= {"kms:Decrypt", "kms:DescribeKey"}
        assert key_statement["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{platform.home_region}.amazonaws.com"}}
        assert "*" in _allowed(doc, "lakeformation:GetDataAccess")
        # Glue: read the granted databases, as resource links here and their targets in the lake.
        glue = _allowed(doc, "glue:GetTable")
        assert {r.split(":database/")[1] for r in glue if ":database/" in r} == databases
        assert {r.split(":")[4] for r in glue} == {account, lake_id}
        assert not any(a.startswith(("glue:Create", "glue:Update", "glue:Delete", "glue:BatchCreate"))
                       for s in doc["Statement"] for a in _list(s["Action"])), role
    if grants:
        assert readers <= set(policies), readers - set(policies)
        workgroup = f"arn:aws:athena:{platform.home_region}:{account}:workgroup/{run.outputs['data']['athenaWorkgroup']}"
        for role in readers:
            if role.endswith(("-data-scientist", "-ml-engineer", "-sm-execution")):
                assert _allowed(policies[role], "athena:StartQueryExecution") == {workgroup}, role


@pytest.mark.parametrize("stack", ["fraud-detection-dev", "document-vision-dev", "fraud-detection-preprod"])
def test_people_roles_are_assumed_only_by_the_data_scientists_sessions_of_their_account(sample_runs, stack):
    run = sample_runs(stack)
    account = run.outputs["data"]["keyArn"].split(":")[4]
    people = [r for r in run.of_type(ROLE) if r.inputs["name"].endswith(("-data-scientist", "-ml-engineer"))]
    assert people
    for role in people:
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}, role.inputs["name"]
        assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{account}:role/{SSO_SCIENTIST}"]}}
    # The notebook role stays SageMaker's.
    (notebook,) = [r for r in run.of_type(ROLE) if r.inputs["name"].endswith("-sm-execution")]
    (statement,) = json.loads(notebook.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": ["sagemaker.amazonaws.com"]}


def test_people_roles_exist_only_where_a_grant_names_them_and_their_persona_works(sample_runs, platform):
    found = {}
    for stack in PROJECT_STACKS:
        names = {r.inputs["name"] for r in sample_runs(stack).of_type(ROLE)}
        found[stack] = {s for s in ("data-scientist", "ml-engineer") if f"mrd-{stack}-{s}" in names}
    # dev: the team (experimentation bucket) and lake readers; preprod: the reviewers (ml-engineer
    # reads datasets and models); prod: nobody, data scientists have no access there.
    assert found == {"fraud-detection-dev": {"data-scientist", "ml-engineer"}, "document-vision-dev": {"data-scientist", "ml-engineer"},
                     "fraud-detection-preprod": {"ml-engineer"}, "document-vision-preprod": {"ml-engineer"},
                     "fraud-detection-prod": set(), "document-vision-prod": set()}
    for stack, roles in found.items():
        project, env = stack.rsplit("-", 1)
        assert {r for r in data_persona_suffixes(platform, project, env) if ds.role_persona(r)} == roles
    # Nothing grants to a role that does not exist: prod's models bucket names no reviewer.
    prod = sample_runs("fraud-detection-prod")
    for bucket in prod.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        assert "-ml-engineer" not in bucket.inputs["policy"] and "-data-scientist" not in bucket.inputs["policy"]


@pytest.mark.parametrize("stack, roles", [
    ("fraud-detection-dev", ["data-scientist", "ml-engineer"]),
    ("document-vision-dev", ["data-scientist", "ml-engineer"]),
    ("fraud-detection-preprod", ["ml-engineer"]),
])
def test_the_data_scientists_policy_assumes_exactly_the_people_roles_of_its_account(sample_runs, stack, roles):
    run = sample_runs(stack)
    account = run.outputs["data"]["keyArn"].split(":")[4]
    (policy,) = [p for p in run.of_type(POLICY) if p.inputs["name"] == "mrd-persona-data-scientist"]
    doc = json.loads(policy.inputs["policy"])
    assert _allowed(doc, "sts:AssumeRole") == {f"arn:aws:iam::{account}:role/mrd-{stack}-{r}" for r in roles}


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_people_role_policies_are_valid_and_scoped(sample_runs, stack):
    run = sample_runs(stack)
    checked = 0
    for p in run.of_type(ROLE_POLICY):
        if not p.inputs.get("name", "").endswith("-data"):
            continue
        checked += 1
        doc = json.loads(p.inputs["policy"])
        assert validate_document(doc) == [], p.name
        for s in doc["Statement"]:
            for action in _list(s["Action"]):
                assert "*" not in action, (p.name, action)
                if s["Resource"] == "*":
                    assert all(not action_resource_arns(a) for a in expand_actions(action)), (p.name, s["Sid"], action)
    assert checked == {"dev": 2, "preprod": 1, "prod": 0}[stack.rsplit("-", 1)[1]]


def test_a_people_role_granted_where_its_persona_does_not_work_is_refused(sample_platform):
    sample_platform["data_lake"]["consumers"][1]["roles"] = ["sm-execution", "data-scientist"]  # preprod, prod
    sample_platform["data_lake"]["project_buckets"]["automation_roles"] = ["sm-execution", "data-scientist"]
    with pytest.raises(ConfigError) as error:
        parse_platform(sample_platform)
    assert ("data_lake.consumers[1].roles[1]: 'data-scientist' does not exist in prod: the data-scientist persona, whose "
            "sessions assume it, works in dev, preprod only") in str(error.value)
