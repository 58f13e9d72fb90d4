"""A dedicated model account (issue 20: "or a dedicated model account when configuration asks
for one"): `model_sharing.projects.document-vision.producer: model` puts the blog's ML account
in its own account, `<prefix>-document-vision-model`, built by the `document-vision-model`
stack; preprod and prod both reach it cross-account. Asserts on what the program registers."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from access_proofs.plan_index import build_index, plan_from_runs
from deploy.order import deployment_order
from offline_preview.engine import PreviewError, discover_stacks, read_stack_config, run_stack
from stacks import model_sharing_settings as ms
from stacks.config import ConfigError, parse_platform
from tests.conftest import SAMPLE_DIR, load_sample_platform, sample_run
from tests.test_model_sharing import V1, V2, _scp_denies, roles, statements
from tests.test_outputs_contract import documented

REGION = "eu-west-1"
PROJECT = "document-vision"
MODEL = f"{PROJECT}-model"
EMAIL = "aws-docvision-model@meridian-bank.example"
PLATFORM_STACKS = [s for s in discover_stacks(SAMPLE_DIR)
                   if read_stack_config(SAMPLE_DIR, s).get("ml-platform:layer") not in ("project", "delivery")]


def with_model_account(data: dict[str, Any], model_id: str | None = None) -> dict[str, Any]:
    """The sample with document-vision's model in its dedicated account (versions of that
    account when its id is known)."""
    data = copy.deepcopy(data)
    sharing = data["model_sharing"]["projects"][PROJECT]
    sharing["producer"] = "model"
    sharing["model_account"] = {"email": EMAIL}
    if model_id is not None:
        sharing["consumers"] = {
            "preprod": {"version": f"arn:aws:rekognition:{REGION}:{model_id}:{V2}"},
            "prod": {"version": f"arn:aws:rekognition:{REGION}:{model_id}:{V1}"},
        }
    return data


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_platform(data)
    return info.value.problems


def write_config(directory: Path, data: dict[str, Any]) -> Path:
    if not directory.exists():
        shutil.copytree(SAMPLE_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (directory / "platform.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (directory / f"Pulumi.{MODEL}.yaml").write_text(yaml.safe_dump({"config": {
        "aws:region": REGION, "ml-platform:layer": "project", "ml-platform:platform-file": "platform.yaml",
        "ml-platform:project": PROJECT, "ml-platform:environment": "model"}}))
    return directory


@pytest.fixture(scope="module")
def model_runs(tmp_path_factory) -> dict[str, Any]:
    """organization, the consumers and the model stack, in the deployment order."""
    directory = tmp_path_factory.mktemp("model-account") / "config"
    # The account ids come from the organization stack, so it runs first on the new account list.
    write_config(directory, with_model_account(load_sample_platform()))
    upstream = {s: sample_run(s).outputs for s in PLATFORM_STACKS}
    runs = {"organization": run_stack("organization", directory, dict(upstream))}
    upstream["organization"] = runs["organization"].outputs
    write_config(directory, with_model_account(load_sample_platform(), runs["organization"].outputs["accountIds"][MODEL]))
    stacks = discover_stacks(directory)
    for stack in (f"{PROJECT}-preprod", f"{PROJECT}-prod", MODEL):
        runs[stack] = run_stack(stack, directory, dict(upstream), stacks_in_run=stacks)
        upstream[stack] = runs[stack].outputs
    runs["directory"] = directory
    return runs


def account_ids(runs: dict[str, Any]) -> dict[str, str]:
    return runs["organization"].outputs["accountIds"]


# -- the account -------------------------------------------------------------------------

def test_the_model_account_is_created_in_productions_ou(model_runs):
    org = model_runs["organization"]
    [account] = [a for a in org.of_type("aws:organizations/account:Account") if a.inputs["name"] == f"mrd-{MODEL}"]
    assert account.inputs["email"] == EMAIL
    assert account.inputs["parentId"] == org.outputs["ouIds"][ms.MODEL_ACCOUNT_OU] == org.outputs["ouIds"]["Workloads/Prod"]
    assert account.protect
    assert account.inputs["tags"]["project"] == PROJECT and account.inputs["tags"]["environment"] == "model"
    # The sample keeps preprod as the producer: no model account there.
    assert MODEL not in sample_run("organization").outputs["accountIds"]


def test_the_model_stack_holds_the_producer_roles_scoped_to_the_configured_versions(model_runs):
    ids = account_ids(model_runs)
    found = roles(model_runs[MODEL])
    assert set(found) == {f"mrd-{PROJECT}-model-model-consumer-preprod", f"mrd-{PROJECT}-model-model-consumer-prod"}
    for env, path in (("preprod", V2), ("prod", V1)):
        role = found[f"mrd-{PROJECT}-model-model-consumer-{env}"]
        [detect] = statements(role)
        assert detect["Action"] == ["rekognition:DetectCustomLabels"]
        assert detect["Resource"] == [f"arn:aws:rekognition:{REGION}:{ids[MODEL]}:{path}"]
        endpoints = model_runs[f"{PROJECT}-{env}"].outputs["interfaceEndpointIds"]
        assert detect["Condition"] == {"StringEquals": {"aws:SourceVpce": endpoints["rekognition"]}}
        [trust] = role["trust"]["Statement"]
        assert trust["Principal"] == {"AWS": f"arn:aws:iam::{ids[f'{PROJECT}-{env}']}:role/mrd-{PROJECT}-{env}-model-consumer-app"}
        assert trust["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": model_runs["organization"].outputs["organizationId"],
                                                       "aws:SourceVpce": endpoints["sts"]}}
    [project] = model_runs[MODEL].of_type("aws:rekognition/project:Project")
    assert project.inputs["name"] == "documents" and project.protect
    sharing = model_runs[MODEL].outputs["modelSharing"]
    assert sharing["producerEnvironment"] == "model"
    assert sharing["producerRoleArns"] == {
        env: f"arn:aws:iam::{ids[MODEL]}:role/mrd-{PROJECT}-model-model-consumer-{env}" for env in ("preprod", "prod")}


def test_both_consumers_assume_the_model_accounts_role(model_runs):
    ids = account_ids(model_runs)
    for env in ("preprod", "prod"):
        run = model_runs[f"{PROJECT}-{env}"]
        producer_role = f"arn:aws:iam::{ids[MODEL]}:role/mrd-{PROJECT}-model-model-consumer-{env}"
        app = roles(run)[f"mrd-{PROJECT}-{env}-model-consumer-app"]
        assert [s["Resource"] for s in statements(app) if "sts:AssumeRole" in s["Action"]] == [[producer_role]]
        # Nobody in the consumer account calls the model directly any more.
        assert not any("rekognition:DetectCustomLabels" in s["Action"] for r in roles(run).values() for s in statements(r))
        assert run.outputs["modelSharing"]["producerRoleArn"] == producer_role
        assert run.outputs["modelSharing"]["crossAccount"] is True
        assert {"rekognition", "sts"} <= set(run.outputs["interfaceEndpointIds"])
        # No producer part in preprod any more.
        assert run.of_type("aws:rekognition/project:Project") == []


def test_the_model_account_has_no_vpc_studio_or_peoples_roles(model_runs):
    run = model_runs[MODEL]
    types = {r.type for r in run.resources if r.custom}
    assert not {t for t in types if t.startswith(("aws:ec2/", "aws:sagemaker/", "aws:vpc/", "aws:ssoadmin/"))}, types
    # The only roles are the producer roles (automation deploys through the member role).
    assert all("-model-consumer-" in name for name in roles(run))
    assert set(run.outputs) == documented()["<project>-model"]
    # Every resource acts in the model account (none in the network account: no attachment).
    assert {r.account for r in run.resources if r.custom and r.account} == {account_ids(model_runs)[MODEL]}


def test_the_training_data_bucket_admits_rekognition_for_this_account_only(model_runs):
    ids = account_ids(model_runs)
    run = model_runs[MODEL]
    policies = {p.inputs["bucket"]: json.loads(p.inputs["policy"]) for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    datasets = next(p for b, p in policies.items() if "-model-datasets-" in str(b))
    reads = [s for s in datasets["Statement"] if s.get("Principal") == {"Service": "rekognition.amazonaws.com"}]
    # The blog's bucket policy: the bucket's ACL and location, and reading the images, for
    # Rekognition acting for this account only; no write.
    assert {a for s in reads for a in s["Action"]} == {
        "s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectVersion",
        "s3:GetObjectTagging"}
    assert all(s["Condition"] == {"StringEquals": {"aws:SourceAccount": ids[MODEL]}} for s in reads)
    work = next(p for b, p in policies.items() if "-model-pipeline-" in str(b))
    writes = [s for s in work["Statement"] if s.get("Principal") == {"Service": "rekognition.amazonaws.com"}]
    assert any("s3:PutObject" in s["Action"] for s in writes)
    # The training data is written by the project's pre-production automation only.
    writers = [s for s in datasets["Statement"] if s["Effect"] == "Allow" and "s3:PutObject" in s.get("Action", [])]
    assert [s["Condition"]["ArnLike"]["aws:PrincipalArn"] for s in writers] == [
        [f"arn:aws:iam::{ids[f'{PROJECT}-preprod']}:role/mrd-{PROJECT}-preprod-sm-execution"]]
    assert [s for s in work["Statement"] if s["Effect"] == "Allow" and "s3:PutObject" in s.get("Action", [])
            and s.get("Principal") != {"Service": "rekognition.amazonaws.com"}] == []


def test_the_model_stack_deploys_after_the_consumers_it_reads(model_runs):
    # The model stack listed first: its place comes from what it reads, not from the list.
    runs = {MODEL: model_runs[MODEL], **{s: sample_run(s) for s in PLATFORM_STACKS},
            **{s: model_runs[s] for s in ("organization", f"{PROJECT}-preprod", f"{PROJECT}-prod")}}
    plan = {"stacks": [{"name": name, "status": "ok", "references": sorted(run.references), "resources": []}
                       for name, run in runs.items()]}
    order = [step.name for step in deployment_order(plan)]
    assert set(model_runs[MODEL].references) >= {"organization", f"{PROJECT}-preprod", f"{PROJECT}-prod"}
    assert order.index(MODEL) > max(order.index(f"{PROJECT}-preprod"), order.index(f"{PROJECT}-prod"),
                                    order.index("organization"))


def test_mod1_binds_in_the_model_account(model_runs):
    runs = [model_runs["organization"], *(sample_run(s) for s in PLATFORM_STACKS if s != "organization"),
            model_runs[f"{PROJECT}-preprod"], model_runs[f"{PROJECT}-prod"], model_runs[MODEL]]
    index = build_index(plan_from_runs(runs))
    ids = account_ids(model_runs)
    account = ids[MODEL]
    resource = f"arn:aws:rekognition:{REGION}:{account}:{V1}"
    delegated = f"arn:aws:iam::{account}:role/mrd-{PROJECT}-model-model-consumer-prod"
    assert delegated in index.roles
    for action in ("rekognition:StopProjectVersion", "rekognition:DeleteProjectVersion", "rekognition:StartProjectVersion"):
        assert any("MOD1" in sid for sid in _scp_denies(index, account, delegated, action, resource)), action
    assert _scp_denies(index, account, delegated, "rekognition:DetectCustomLabels", resource) == []


# -- bad input ---------------------------------------------------------------------------

def test_a_model_producer_without_its_account_is_refused_naming_the_key(sample_platform):
    data = with_model_account(sample_platform)
    del data["model_sharing"]["projects"][PROJECT]["model_account"]
    problems = problems_of(data)
    assert any(p.startswith(f"model_sharing.projects.{PROJECT}.model_account: required when "
                            f"model_sharing.projects.{PROJECT}.producer is 'model'") for p in problems), problems


def test_bad_model_account_settings_are_reported_together(sample_platform):
    data = with_model_account(sample_platform)
    sharing = data["model_sharing"]["projects"][PROJECT]
    sharing["model_account"]["email"] = data["projects"][1]["environments"]["prod"]["email"]
    data["guardrails"]["model_producer_ous"] = ["Workloads/PreProd"]
    # A version of the preprod account, known from the sample's ids only at run time; here the
    # region is wrong, which the schema check sees at load time.
    sharing["consumers"]["prod"]["version"] = sharing["consumers"]["prod"]["version"].replace(REGION, "eu-central-1")
    problems = problems_of(data)
    key = f"model_sharing.projects.{PROJECT}"
    for fragment in (f"{key}.model_account.email: e-mail '{data['projects'][1]['environments']['prod']['email']}' is already used",
                     f"{key}.producer: the model account goes in Workloads/Prod, where MOD-1 does not bind",
                     f"{key}.consumers.prod.version: ", f"not the producer's {PROJECT}-model region"):
        assert any(fragment in p for p in problems), (fragment, problems)


def test_a_model_account_without_producer_model_is_refused(sample_platform):
    sample_platform["model_sharing"]["projects"][PROJECT]["model_account"] = {"email": EMAIL}
    problems = problems_of(sample_platform)
    assert any(p.startswith(f"model_sharing.projects.{PROJECT}.model_account: set, but the producer is 'preprod'")
               for p in problems), problems


def test_a_version_of_another_account_stops_the_model_stack(model_runs, tmp_path):
    ids = account_ids(model_runs)
    directory = write_config(tmp_path / "config", with_model_account(load_sample_platform(), ids[MODEL]))
    data = yaml.safe_load((directory / "platform.yaml").read_text())
    wrong = f"arn:aws:rekognition:{REGION}:{ids[f'{PROJECT}-preprod']}:{V1}"
    data["model_sharing"]["projects"][PROJECT]["consumers"]["prod"]["version"] = wrong
    write_config(directory, data)
    upstream = {s: sample_run(s).outputs for s in PLATFORM_STACKS}
    upstream.update({s: model_runs[s].outputs for s in ("organization", f"{PROJECT}-preprod", f"{PROJECT}-prod")})
    with pytest.raises(PreviewError) as info:
        run_stack(MODEL, directory, upstream)
    assert (f"model_sharing.projects.{PROJECT}.consumers.prod.version: '{wrong}' is in account {ids[f'{PROJECT}-preprod']}, "
            f"not the producer's {MODEL} (allowed: account {ids[MODEL]})") in str(info.value)
    assert not [r for r in info.value.registered if r.type == "aws:iam/rolePolicy:RolePolicy" and r.inputs.get("policy")]


def test_a_model_stack_of_a_project_without_a_model_account_is_refused(tmp_path):
    write_config(tmp_path / "config", load_sample_platform())
    with pytest.raises(PreviewError) as info:
        run_stack(MODEL, tmp_path / "config", {s: sample_run(s).outputs for s in PLATFORM_STACKS})
    assert f"ml-platform:environment: 'model' is not an environment of {PROJECT} (allowed: dev, preprod, prod)" \
        in str(info.value)


def test_every_consumer_of_a_model_account_is_cross_account(sample_platform):
    data = with_model_account(sample_platform)
    prod = data["model_sharing"]["projects"][PROJECT]["consumers"]["prod"]
    data["model_sharing"]["projects"][PROJECT]["consumers"]["dev"] = copy.deepcopy(prod)
    cfg = parse_platform(data)  # a dev consumer is fine: people have no change access there
    assert ms.cross_account_consumers(cfg, PROJECT) == ["preprod", "prod", "dev"]
    assert ms.endpoint_services(cfg, PROJECT, "dev") == ["rekognition", "sts"]
    assert cfg.accounts()[MODEL][1] == "Workloads/Prod"
    assert (f"{MODEL}", f"mrd-{PROJECT}-model-model-consumer-dev") in ms.created_roles(cfg)


def test_the_model_accounts_names_are_checked_with_every_other_name(sample_platform):
    from stacks.config import plan_bucket_names
    cfg = parse_platform(with_model_account(sample_platform))
    assert [(k, b) for k, b, _ in plan_bucket_names(cfg) if "-model-" in b] == [
        (f"model_sharing.projects.{PROJECT}", f"mrd-{PROJECT}-model-{kind}-111111111111")
        for kind in ("datasets", "pipeline", "access-logs")]
    # The account's name against every other account's.
    data = with_model_account(sample_platform)
    data["sandbox_accounts"] = [*data.get("sandbox_accounts", []), {
        "name": f"mrd-{PROJECT}-model", "email": "sandbox-x@meridian-bank.example", "owner": "someone@meridian-bank.example"}]
    problems = problems_of(data)
    assert any(p.startswith(f"model_sharing.projects.{PROJECT}.model_account: account name 'mrd-{PROJECT}-model' is "
                            "already used by sandbox_accounts[") for p in problems), problems
