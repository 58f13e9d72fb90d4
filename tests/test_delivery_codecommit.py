"""CodeCommit as the delivery pipelines' source (issue 15): the repository lives in the
shared-services account, the pipelines in the automation account. The source action runs as a
role of the repository's account that only the pipeline roles may assume; policy A and the
artifact key admit it for the source artifact; a push reaches the pipeline through EventBridge
across the two accounts."""

from __future__ import annotations

import json

import pytest

from stacks.config import ConfigError, parse_platform

PROJECT = "fraud-detection"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _codecommit(platform: dict) -> dict:
    platform["shared_services"]["code_repositories"] = {"provider": "CodeCommit", "repositories": ["ml-code"]}
    # CodeCommit's push events carry no file paths.
    for spec in platform["delivery"]["projects"].values():
        for trigger in spec["triggers"]:
            trigger.pop("file_paths", None)
    return platform


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The delivery and shared-services stacks with CodeCommit (once for the module)."""
    from tests.conftest import load_sample_platform, run_with_platform

    platform = _codecommit(load_sample_platform())
    where = tmp_path_factory.mktemp("codecommit")
    return {stack: run_with_platform(where / stack, stack, platform)
            for stack in (f"{PROJECT}-delivery", "shared-services")}


@pytest.fixture(scope="module")
def run(runs):
    return runs[f"{PROJECT}-delivery"]


def _arn(accounts, account, name):
    return f"arn:aws:iam::{accounts[account]}:role/mrd-{PROJECT}-{name}"


def _role(run, name):
    (role,) = [r for r in run.of_type(ROLE) if r.inputs["name"] == f"mrd-{PROJECT}-{name}"]
    return role


def _policy(run, role) -> dict:
    (policy,) = [p for p in run.of_type(ROLE_POLICY) if p.parent == role.urn]
    return json.loads(policy.inputs["policy"])


def _actions(statement) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_the_source_actions_are_codecommit_as_the_repository_accounts_source_role(run, accounts):
    source_role = _arn(accounts, "shared-services", "code-source")
    for pipeline in run.of_type(PIPELINE):
        (action,) = pipeline.inputs["stages"][0]["actions"]
        assert action["provider"] == "CodeCommit" and action["roleArn"] == source_role
        assert action["configuration"] == {"RepositoryName": f"{PROJECT}-ml-code", "BranchName": "main",
                                           "OutputArtifactFormat": "CODE_ZIP", "PollForSourceChanges": "false"}
        # The commit id the build tags images with comes from the same namespace as with a connection.
        assert action["namespace"] == "SourceVariables"
        assert not pipeline.inputs.get("triggers")
    assert not run.of_type("aws:codeconnections/connection:Connection")
    assert run.outputs["delivery"]["source"]["roleArn"] == source_role


def test_the_source_role_lives_with_the_repository_and_only_the_pipeline_roles_may_assume_it(run, accounts):
    role = _role(run, "code-source")
    assert role.account == accounts["shared-services"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Action"] == "sts:AssumeRole" and "Condition" not in trust
    assert sorted(trust["Principal"]["AWS"]) == sorted(
        _arn(accounts, "automation", n) for n in ("pipeline-training", "pipeline-deployment"))
    policy = {s["Sid"]: s for s in _policy(run, role)["Statement"]}
    (repository,) = run.of_type("aws:codecommit/repository:Repository")
    assert policy["ReadTheRepository"]["Resource"] == repository.outputs["arn"]
    assert set(policy["ReadTheRepository"]["Action"]) == {
        "codecommit:CancelUploadArchive", "codecommit:GetBranch", "codecommit:GetCommit", "codecommit:GetRepository",
        "codecommit:GetUploadArchiveStatus", "codecommit:UploadArchive"}
    assert policy["DecryptTheRepository"]["Resource"] == repository.inputs["kmsKeyId"]
    assert policy["DecryptTheRepository"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "codecommit.eu-west-1.amazonaws.com"}}
    bucket = run.outputs["delivery"]["artifactBucket"]["arn"]
    writes = [s for s in policy.values() if any(a.startswith("s3:") and a.endswith("Object") for a in _actions(s))]
    assert [(s["Action"], s["Resource"]) for s in writes] == [(["s3:PutObject"], f"{bucket}/*")]
    # Each pipeline role may assume it instead of using a connection.
    for name in ("pipeline-training", "pipeline-deployment"):
        statements = _policy(run, _role(run, name))["Statement"]
        assert [s["Resource"] for s in statements if s["Sid"] == "AssumeTheSourceRole"] == [role.outputs["arn"]]
        assert not [a for s in statements for a in _actions(s) if a.startswith("codeconnections:")]


def test_policy_a_and_the_artifact_key_admit_the_source_role_to_write_the_source_artifact(run, accounts):
    source_role = _arn(accounts, "shared-services", "code-source")
    bucket = run.outputs["delivery"]["artifactBucket"]["name"]
    (policy,) = [json.loads(p.inputs["policy"]) for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy")
                 if p.inputs["bucket"] == bucket]
    naming = [s for s in policy["Statement"] if s["Effect"] == "Allow"
              and source_role in s["Condition"]["ArnEquals"]["aws:PrincipalArn"]]
    assert {s["Sid"]: s["Action"] for s in naming} == {
        "SourceRoleObjects": ["s3:PutObject"], "SourceRoleBucket": ["s3:GetBucketLocation", "s3:GetBucketVersioning"]}
    assert all(s["Principal"]["AWS"] == [f"arn:aws:iam::{accounts['shared-services']}:root"] for s in naming)
    (key,) = [k for k in run.of_type("aws:kms/key:Key") if k.inputs["description"].endswith("input/output artifacts")]
    (use,) = [s for s in json.loads(key.inputs["policy"])["Statement"] if s["Sid"].startswith("CodeCommitSource")]
    assert use["Condition"]["ArnLike"]["aws:PrincipalArn"] == [source_role]


def test_the_shared_services_key_lets_the_source_roles_decrypt_through_codecommit_only(runs, accounts):
    shared = runs["shared-services"]
    keys = [k for k in shared.of_type("aws:kms/key:Key") if "Shared services" in k.inputs["description"]]
    # The home-region key (CodeCommit's); a replica-region key has no repositories.
    (use,) = [s for k in keys for s in json.loads(k.inputs["policy"])["Statement"]
              if s["Sid"].startswith("CodeCommitSourceRoles")]
    assert sorted(_actions(use)) == ["kms:Decrypt", "kms:DescribeKey"]
    assert set(use["Condition"]["ArnLike"]["aws:PrincipalArn"]) == {
        f"arn:aws:iam::{accounts['shared-services']}:role/mrd-{p}-code-source" for p in ("fraud-detection", "document-vision")}
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == ["codecommit.eu-west-1.amazonaws.com"]


def test_a_push_to_the_branch_crosses_to_the_automation_account_and_starts_the_first_pipeline(run, accounts):
    rules = {(r.account, r.inputs.get("eventBusName")): r for r in run.of_type("aws:cloudwatch/eventRule:EventRule")
             if r.inputs["name"] == f"mrd-{PROJECT}-source-push"}
    bus_name = f"mrd-{PROJECT}-source-changes"
    assert set(rules) == {(accounts["shared-services"], None), (accounts["automation"], bus_name)}
    (repository,) = run.of_type("aws:codecommit/repository:Repository")
    sent = json.loads(rules[(accounts["shared-services"], None)].inputs["eventPattern"])
    assert sent == {"source": ["aws.codecommit"], "detail-type": ["CodeCommit Repository State Change"],
                    "resources": [repository.outputs["arn"]],
                    "detail": {"event": ["referenceCreated", "referenceUpdated"], "referenceType": ["branch"],
                               "referenceName": ["main"]}}
    received = json.loads(rules[(accounts["automation"], bus_name)].inputs["eventPattern"])
    assert received == {**sent, "account": [accounts["shared-services"]]}
    targets = {t.account: t for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")
               if t.inputs["rule"] == f"mrd-{PROJECT}-source-push"}
    bus_arn = f"arn:aws:events:eu-west-1:{accounts['automation']}:event-bus/{bus_name}"
    assert targets[accounts["shared-services"]].inputs["arn"] == bus_arn
    assert targets[accounts["shared-services"]].inputs["roleArn"] == _role(run, "source-events").outputs["arn"]
    training = run.outputs["delivery"]["pipelines"]["training"]["arn"]
    assert targets[accounts["automation"]].inputs["arn"] == training
    # Each role does that one thing; the bus admits only the repository account's events role.
    assert [s["Action"] for s in _policy(run, _role(run, "source-events"))["Statement"]] == ["events:PutEvents"]
    assert [s["Resource"] for s in _policy(run, _role(run, "source-events"))["Statement"]] == [bus_arn]
    assert [(s["Action"], s["Resource"]) for s in _policy(run, _role(run, "pipeline-source-trigger"))["Statement"]] == [
        (["codepipeline:StartPipelineExecution"], training)]
    # (The monitoring's bus is another one, with its own policy.)
    (bus_policy,) = [p for p in run.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
                     if p.inputs["eventBusName"] == bus_name]
    (statement,) = json.loads(bus_policy.inputs["policy"])["Statement"]
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": _arn(accounts, "shared-services", "source-events")}}


def test_the_codecommit_delivery_stack_has_no_mandatory_violation(run):
    from offline_preview.analysis import analyzed_resources
    from offline_preview.policy_analyzer import load_policy_config, shared_analyzer
    from offline_preview.preview import DEFAULT_POLICY_CONFIG_NAME, DEFAULT_POLICY_PACK

    analyzer = shared_analyzer(DEFAULT_POLICY_PACK, load_policy_config(DEFAULT_POLICY_PACK / DEFAULT_POLICY_CONFIG_NAME))
    analyzer.configure_stack(f"{PROJECT}-delivery", project="ml-platform")
    resources = analyzed_resources(run)
    found = [*analyzer.analyze_each(resources), *analyzer.analyze_stack(resources)]
    assert [(d.policy_name, d.urn, d.message) for d in found if d.enforcement_level in ("mandatory", "remediate")] == []
    assert not run.errors


@pytest.mark.parametrize("change, fragment", [
    (lambda d: d["delivery"]["projects"][PROJECT]["triggers"][0].update(file_paths=["src/**"]),
     f"delivery.projects.{PROJECT}.triggers[0].file_paths: CodeCommit triggers cannot filter by path"),
    (lambda d: d["delivery"]["projects"][PROJECT].update(repository="other-ml-code"),
     f"delivery.projects.{PROJECT}.repository: 'other-ml-code' is not a CodeCommit repository of {PROJECT} "
     f"(allowed: {PROJECT}-ml-code)"),
])
def test_bad_codecommit_delivery_input_is_rejected_naming_the_key(sample_platform, change, fragment):
    _codecommit(sample_platform)
    change(sample_platform)
    with pytest.raises(ConfigError) as info:
        parse_platform(sample_platform)
    assert fragment in str(info.value)


def test_without_a_source_trigger_no_push_route_and_the_source_role_trusts_only_the_pipelines_it_has(
        run_platform, sample_platform, accounts):
    _codecommit(sample_platform)
    spec = sample_platform["delivery"]["projects"][PROJECT]
    spec.update(scenario="docker-build", triggers=[{"type": "on-demand"}], api_front=False)
    result = run_platform(f"{PROJECT}-delivery", platform=sample_platform)
    (trust,) = json.loads(_role(result, "code-source").inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"]["AWS"] == [_arn(accounts, "automation", "pipeline-training")]
    assert not [r for r in result.of_type("aws:cloudwatch/eventRule:EventRule")
                if r.inputs["name"] == f"mrd-{PROJECT}-source-push"]
    assert not [r for r in result.of_type(ROLE) if r.inputs["name"].endswith(("source-events", "source-trigger"))]
    assert result.outputs["delivery"]["source"]["busArn"] is None


def test_a_trigger_without_its_pipeline_and_roles_is_refused():
    from components.codecommit_source import CodeCommitSource, CodeCommitSourceArgs

    args = CodeCommitSourceArgs(
        name_prefix="mrd-churn", project="churn", region="eu-west-1", repository_account_id="111122223333",
        automation_account_id="222233334444", repository_arn="arn:aws:codecommit:eu-west-1:111122223333:churn-ml-code",
        repository_key_arn="arn:aws:kms:eu-west-1:111122223333:key/k", pipeline_role_arns=["arn:aws:iam::2:role/a"],
        artifact_bucket_arn="arn:aws:s3:::b", artifact_key_arn="arn:aws:kms:eu-west-1:222233334444:key/k",
        source_role_name="mrd-churn-code-source", tags={}, trigger_branch="main")
    with pytest.raises(ValueError, match="a trigger needs pipeline_arn, events_role_name and trigger_role_name"):
        CodeCommitSource("code-source", args, repository=None, automation=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("connection, role", [(None, None), ("arn:aws:codeconnections:eu-west-1:2:connection/c",
                                                            "arn:aws:iam::1:role/mrd-churn-code-source")])
def test_the_source_stage_takes_a_connection_or_a_codecommit_role_exactly(connection, role):
    from components.pipeline_stages import StageInputs, source_stage

    inputs = StageInputs(project="churn", region="eu-west-1", connection_arn=connection, codecommit_role_arn=role,
                         repository="churn-ml-code", branch="main", build_project_name="b", training_image="t",
                         inference_image="i", stack_names={}, templates={})
    with pytest.raises(ValueError, match="exactly one"):
        source_stage(inputs)
