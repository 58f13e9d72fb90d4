"""Cross-account model sharing (issue 20, model-sharing blog): document-vision's Rekognition
Custom Labels model, kept in its preprod (producer) account, used in-account from preprod and
through a producer role from prod. Asserts on what the program registers."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from access_proofs.catalog import CatalogError, parse_catalog
from access_proofs.plan_index import build_index, plan_from_runs
from offline_preview.engine import PreviewError, discover_stacks, read_stack_config
from stacks import model_sharing_settings as ms
from stacks.config import ConfigError, parse_platform
from tests.conftest import SAMPLE_DIR
from tests.test_outputs_contract import documented

REGION = "eu-west-1"
PROJECT = "document-vision"
V1 = "project/documents/version/documents.2026-10-02T09.00.00/1759395600000"
V2 = "project/documents/version/documents.2026-11-20T09.00.00/1763629200000"
V3 = "project/documents/version/documents.2026-12-01T09.00.00/1764579600000"
PLATFORM_STACKS = [s for s in discover_stacks(SAMPLE_DIR)
                   if read_stack_config(SAMPLE_DIR, s).get("ml-platform:layer") != "project"]


def version(ids: dict[str, str], path: str, account: str = f"{PROJECT}-preprod") -> str:
    return f"arn:aws:rekognition:{REGION}:{ids[account]}:{path}"


def role_arn(ids: dict[str, str], env: str, name: str) -> str:
    return f"arn:aws:iam::{ids[f'{PROJECT}-{env}']}:role/{name}"


def roles(run: Any) -> dict[str, dict[str, Any]]:
    """Role name -> {trust, policies: [documents]} of a run."""
    found = {r.inputs["name"]: {"trust": json.loads(r.inputs["assumeRolePolicy"]), "policies": []}
             for r in run.of_type("aws:iam/role:Role")}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        found[policy.inputs["role"]]["policies"].append(json.loads(policy.inputs["policy"]))
    return found


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for doc in role["policies"] for s in doc["Statement"]]


def parameters(run: Any) -> dict[str, str]:
    """Parameter name -> value (the provider marks every parameter value secret)."""
    def plain(value: Any) -> Any:
        return value["value"] if isinstance(value, dict) and "value" in value else value
    return {p.inputs["name"]: plain(p.inputs["value"]) for p in run.of_type("aws:ssm/parameter:Parameter")}


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_platform(data)
    return info.value.problems


def run_chain(run_platform, sample_runs, platform: dict[str, Any], *stacks: str) -> dict[str, Any]:
    """Run `stacks` in order on `platform`, each reading the sample's platform stacks and the
    project stacks run before it."""
    upstream = {s: sample_runs(s).outputs for s in PLATFORM_STACKS}
    runs = {}
    for stack in stacks:
        runs[stack] = run_platform(stack, platform=platform, upstream=dict(upstream))
        upstream[stack] = runs[stack].outputs
    return runs


@pytest.fixture(scope="module")
def ids(sample_runs) -> dict[str, str]:
    return sample_runs("organization").outputs["accountIds"]


# -- the sample --------------------------------------------------------------------------

def test_sample_shares_document_vision_from_preprod_with_preprod_and_prod(sample_platform):
    cfg = parse_platform(sample_platform)
    sharing = ms.sharing(cfg, PROJECT)
    assert sharing.producer == "preprod" and set(sharing.consumers) == {"preprod", "prod"}
    assert ms.cross_account_consumers(cfg, PROJECT) == ["prod"]
    assert "model_producer_environment" not in sample_platform["data_lake"]


def test_each_consumer_role_is_scoped_to_its_versions_only(sample_runs, ids):
    producer, consumer = sample_runs(f"{PROJECT}-preprod"), sample_runs(f"{PROJECT}-prod")
    found = roles(producer)
    prod_role = found[f"mrd-{PROJECT}-preprod-model-consumer-prod"]
    [detect] = statements(prod_role)
    assert detect["Action"] == ["rekognition:DetectCustomLabels"]
    assert detect["Resource"] == [version(ids, V1)]
    # Only through the prod VPC's Rekognition endpoint.
    assert detect["Condition"] == {"StringEquals": {"aws:SourceVpce": consumer.outputs["interfaceEndpointIds"]["rekognition"]}}
    # preprod uses its own version in-account, through its own endpoint, without a producer role.
    app = found[f"mrd-{PROJECT}-preprod-model-consumer-app"]
    use = [s for s in statements(app) if "rekognition:DetectCustomLabels" in s["Action"]]
    assert [s["Resource"] for s in use] == [[version(ids, V2)]]
    assert use[0]["Condition"]["StringEquals"]["aws:SourceVpce"] == producer.outputs["interfaceEndpointIds"]["rekognition"]
    assert not any(s["Action"] == ["sts:AssumeRole"] for s in statements(app))
    assert f"mrd-{PROJECT}-preprod-model-consumer-preprod" not in found
    # No other role of either account may call a model.
    for run in (producer, consumer):
        callers = [name for name, role in roles(run).items()
                   if any("rekognition:DetectCustomLabels" in s.get("Action", []) for s in statements(role))]
        assert callers in ([f"mrd-{PROJECT}-preprod-model-consumer-prod", f"mrd-{PROJECT}-preprod-model-consumer-app"],
                           [f"mrd-{PROJECT}-preprod-model-consumer-app", f"mrd-{PROJECT}-preprod-model-consumer-prod"], [])


def test_trust_names_exactly_the_consumer_application_role(sample_runs, ids):
    producer, consumer = sample_runs(f"{PROJECT}-preprod"), sample_runs(f"{PROJECT}-prod")
    prod_app = role_arn(ids, "prod", f"mrd-{PROJECT}-prod-model-consumer-app")
    producer_role = role_arn(ids, "preprod", f"mrd-{PROJECT}-preprod-model-consumer-prod")
    [trust] = roles(producer)[f"mrd-{PROJECT}-preprod-model-consumer-prod"]["trust"]["Statement"]
    assert trust["Principal"] == {"AWS": prod_app}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {
        "aws:PrincipalOrgID": sample_runs("organization").outputs["organizationId"],
        "aws:SourceVpce": consumer.outputs["interfaceEndpointIds"]["sts"]}}
    # The application role in prod: assume only that producer role, read only its parameter.
    app = roles(consumer)[f"mrd-{PROJECT}-prod-model-consumer-app"]
    assume = [s for s in statements(app) if "sts:AssumeRole" in s["Action"]]
    assert [s["Resource"] for s in assume] == [[producer_role]]
    parameter = f"arn:aws:ssm:{REGION}:{ids[f'{PROJECT}-prod']}:parameter/mrd/{PROJECT}/prod/model-sharing/version-arn"
    assert {a for s in statements(app) for a in s["Action"]} == {"sts:AssumeRole", "ssm:GetParameter", "ssm:GetParameters"}
    assert [s["Resource"] for s in statements(app) if s["Sid"] == "ReadModelVersionParameter"] == [[parameter]]
    assert app["trust"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    # The parameter the application reads, and the outputs of the contract.
    assert parameters(consumer)[f"/mrd/{PROJECT}/prod/model-sharing/version-arn"] == version(ids, V1)
    assert consumer.outputs["modelSharing"]["producerRoleArn"] == producer_role
    assert producer.outputs["modelSharing"]["producerRoleArns"] == {"prod": producer_role}
    assert producer.outputs["modelSharing"]["rekognitionProjectArn"].startswith(
        f"arn:aws:rekognition:{REGION}:{ids[f'{PROJECT}-preprod']}:project/documents/")


def test_the_rekognition_project_is_created_protected_in_the_producer_only(sample_runs):
    [project] = sample_runs(f"{PROJECT}-preprod").of_type("aws:rekognition/project:Project")
    assert project.inputs["name"] == "documents" and project.inputs["feature"] == "CUSTOM_LABELS"
    assert project.protect
    for stack in (f"{PROJECT}-dev", f"{PROJECT}-prod", "fraud-detection-preprod"):
        assert sample_runs(stack).of_type("aws:rekognition/project:Project") == []


def test_consumers_call_rekognition_and_sts_through_their_own_endpoints(sample_runs):
    services = {s: set(sample_runs(s).outputs["interfaceEndpointIds"]) for s in
                (f"{PROJECT}-dev", f"{PROJECT}-preprod", f"{PROJECT}-prod")}
    assert {"rekognition", "sts"} <= services[f"{PROJECT}-prod"]
    assert "rekognition" in services[f"{PROJECT}-preprod"]
    assert "rekognition" not in services[f"{PROJECT}-dev"]


def test_sharing_outputs_are_in_the_contract(sample_runs):
    contract = documented(optional=True)["<project>-<env>"]
    for stack in (f"{PROJECT}-preprod", f"{PROJECT}-prod"):
        assert set(sample_runs(stack).outputs) == contract, stack
    assert "modelSharing" not in sample_runs(f"{PROJECT}-dev").outputs


# -- promotion ---------------------------------------------------------------------------

def test_promotion_changes_only_the_promoted_environment(run_platform, sample_platform, sample_runs, ids):
    # The blog's "Promoting the model version": prod moves to the version preprod has tested,
    # keeping its old one during the cut-over.
    consumers = sample_platform["model_sharing"]["projects"][PROJECT]["consumers"]
    consumers["prod"] = {"version": version(ids, V2), "keep_previous": [version(ids, V1)]}
    promoted = run_chain(run_platform, sample_runs, sample_platform, f"{PROJECT}-prod", f"{PROJECT}-preprod")

    def changed(before: Any, after: Any) -> set[str]:
        old = {(r.type, r.name): r.inputs for r in before.resources}
        new = {(r.type, r.name): r.inputs for r in after.resources}
        assert old.keys() == new.keys()
        return {name for key, name in ((k, k[1]) for k in old) if old[key] != new[key]}

    assert changed(sample_runs(f"{PROJECT}-preprod"), promoted[f"{PROJECT}-preprod"]) == {
        f"mrd-{PROJECT}-preprod-model-producer-prod-versions"}
    assert changed(sample_runs(f"{PROJECT}-prod"), promoted[f"{PROJECT}-prod"]) == {
        f"mrd-{PROJECT}-prod-model-consumer-version-arn"}
    [detect] = statements(roles(promoted[f"{PROJECT}-preprod"])[f"mrd-{PROJECT}-preprod-model-consumer-prod"])
    assert detect["Resource"] == [version(ids, V2), version(ids, V1)]
    assert parameters(promoted[f"{PROJECT}-prod"])[f"/mrd/{PROJECT}/prod/model-sharing/version-arn"] == version(ids, V2)
    # After the cut-over the old version is dropped. (And preprod opts into a version prefix:
    # a wildcard only when configured, and the run says so.)
    consumers["prod"] = {"version": version(ids, V2)}
    consumers["preprod"]["version_prefix"] = "documents.2026-12-"
    done = run_chain(run_platform, sample_runs, sample_platform, f"{PROJECT}-prod", f"{PROJECT}-preprod")
    found = roles(done[f"{PROJECT}-preprod"])
    [detect] = statements(found[f"mrd-{PROJECT}-preprod-model-consumer-prod"])
    assert detect["Resource"] == [version(ids, V2)]
    [use] = [s for s in statements(found[f"mrd-{PROJECT}-preprod-model-consumer-app"]) if s["Sid"] == "UseConfiguredModelVersions"]
    assert use["Resource"] == [version(ids, V2), version(ids, "project/documents/version/documents.2026-12-*")]
    assert any("version_prefix" in w and "wildcard" in w for w in done[f"{PROJECT}-preprod"].warnings)


def test_a_version_prefix_is_a_wildcard_only_when_configured():
    exact = ms.ConsumerModel(version=f"arn:aws:rekognition:{REGION}:123456789012:{V2}")
    assert ms.allowed_versions(exact) == [exact.version]
    wide = exact.model_copy(update={"version_prefix": "documents.2026-"})
    assert ms.allowed_versions(wide) == [
        exact.version, f"arn:aws:rekognition:{REGION}:123456789012:project/documents/version/documents.2026-*"]


# -- bad input ---------------------------------------------------------------------------

def _sharing(data: dict[str, Any]) -> dict[str, Any]:
    return data["model_sharing"]["projects"][PROJECT]


def test_bad_sharing_settings_are_rejected_together_naming_the_key(sample_platform, ids):
    s = _sharing(sample_platform)
    s["consumers"]["prod"]["version"] = f"arn:aws:rekognition:{REGION}:{ids[f'{PROJECT}-preprod']}:project/documents"
    s["consumers"]["preprod"]["version"] = version(ids, V2).replace(REGION, "eu-central-1")
    s["consumers"]["preprod"]["keep_previous"] = [version(ids, V1).replace("documents/", "invoices/", 1)]
    s["consumers"]["staging"] = {"version": version(ids, V2)}
    sample_platform["model_sharing"]["projects"]["payments"] = {"consumers": {"prod": {"version": version(ids, V2)}}}
    problems = problems_of(sample_platform)
    key = f"model_sharing.projects.{PROJECT}.consumers"
    for fragment in (f"{key}.prod.version: 'arn:aws:rekognition:{REGION}:{ids[f'{PROJECT}-preprod']}:project/documents' "
                     "is not a Rekognition project version ARN",
                     f"{key}.preprod.version: '{version(ids, V2).replace(REGION, 'eu-central-1')}' is in region "
                     f"'eu-central-1', not the producer's {PROJECT}-preprod region (allowed: {REGION})",
                     f"{key}.preprod.keep_previous[0]: ", "is a version of project 'invoices'",
                     f"{key}.staging: project '{PROJECT}' has no environment 'staging'",
                     "model_sharing.projects.payments: unknown project 'payments'"):
        assert any(fragment in p for p in problems), (fragment, problems)


def test_a_production_consumer_of_a_dev_producer_is_refused_naming_both(sample_platform, ids):
    s = _sharing(sample_platform)
    s["producer"] = "dev"
    s["consumers"] = {"dev": {"version": version(ids, V2, f"{PROJECT}-dev")},
                      "prod": {"version": version(ids, V1, f"{PROJECT}-dev")}}
    problems = problems_of(sample_platform)
    assert any(p.startswith(f"model_sharing.projects.{PROJECT}.consumers.prod: the prod consumer {PROJECT}-prod "
                            f"cannot use a model produced in dev (model_sharing.projects.{PROJECT}.producer: dev, "
                            f"{PROJECT}-dev") for p in problems), problems
    # dev and preprod consumers of a dev producer are allowed.
    s["consumers"] = {"dev": s["consumers"]["dev"], "preprod": {"version": version(ids, V1, f"{PROJECT}-dev")}}
    assert ms.sharing(parse_platform(sample_platform), PROJECT).producer == "dev"


def test_a_producer_environment_the_project_lacks_is_refused(sample_platform):
    _sharing(sample_platform)["producer"] = "prod"
    sample_platform["projects"][1]["environments"].pop("prod")
    _sharing(sample_platform)["consumers"].pop("prod")
    problems = problems_of(sample_platform)
    assert any(p.startswith(f"model_sharing.projects.{PROJECT}.producer: project '{PROJECT}' has no 'prod' environment")
               for p in problems), problems


def test_a_version_of_another_account_stops_the_stack(run_platform, sample_platform, ids):
    other = version(ids, V1, f"{PROJECT}-prod")
    _sharing(sample_platform)["consumers"]["prod"]["version"] = other
    with pytest.raises(PreviewError) as info:
        run_platform(f"{PROJECT}-prod", platform=sample_platform)
    assert (f"model_sharing.projects.{PROJECT}.consumers.prod.version: '{other}' is in account {ids[f'{PROJECT}-prod']}, "
            f"not the producer's {PROJECT}-preprod (allowed: account {ids[f'{PROJECT}-preprod']})") in str(info.value)
    assert not [r for r in info.value.registered if r.type == "aws:iam/rolePolicy:RolePolicy"
                and r.name.startswith(f"mrd-{PROJECT}-prod-model-consumer")
                and r.inputs.get("policy")]


# -- the guardrail -----------------------------------------------------------------------

def _matches(value: str, patterns: Any) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in ([patterns] if isinstance(patterns, str) else patterns))


def _scp_denies(index: Any, account: str, principal: str, action: str, resource: str) -> list[str]:
    """Sids of the Deny statements on the account's OU path matching the request (ArnLike /
    ArnNotLike on aws:PrincipalARN are the only conditions MOD-1 uses; others do not match)."""
    found = []
    for level in index.org_levels(account, index.scps, False):
        for policy in level["policies"]:
            for s in policy["policy"]["Statement"]:
                if s["Effect"] != "Deny" or not _matches(action, s.get("Action", [])) \
                        or not _matches(resource, s.get("Resource", [])):
                    continue
                cond = s.get("Condition", {})
                if set(cond) - {"ArnLike", "ArnNotLike"}:
                    continue
                if "ArnLike" in cond and not _matches(principal, cond["ArnLike"]["aws:PrincipalARN"]):
                    continue
                if "ArnNotLike" in cond and _matches(principal, cond["ArnNotLike"]["aws:PrincipalARN"]):
                    continue
                found.append(s["Sid"])
    return found


def test_mod1_denies_the_consumer_roles_changes_to_the_shared_project(sample_runs, ids):
    index = build_index(plan_from_runs(sample_runs(s) for s in discover_stacks(SAMPLE_DIR)))
    resource = version(ids, V1)
    project = f"arn:aws:rekognition:{REGION}:{ids[f'{PROJECT}-preprod']}:project/documents/1700000000000"
    delegated = role_arn(ids, "preprod", f"mrd-{PROJECT}-preprod-model-consumer-prod")
    in_account = role_arn(ids, "preprod", f"mrd-{PROJECT}-preprod-model-consumer-app")
    producer_automation = role_arn(ids, "preprod", f"mrd-{PROJECT}-preprod-sm-execution")
    account = ids[f"{PROJECT}-preprod"]
    for principal in (delegated, in_account):
        assert principal in index.roles  # created by the plan, not only reserved
        for action, target in (("rekognition:StopProjectVersion", resource), ("rekognition:DeleteProjectVersion", resource),
                               ("rekognition:StartProjectVersion", resource), ("rekognition:DeleteProject", project),
                               ("rekognition:CreateProjectVersion", project)):
            assert any("MOD1" in sid for sid in _scp_denies(index, account, principal, action, target)), (principal, action)
        assert _scp_denies(index, account, principal, "rekognition:DetectCustomLabels", resource) == []
    assert not any("MOD1" in sid for sid in
                   _scp_denies(index, account, producer_automation, "rekognition:StopProjectVersion", resource))


def test_an_endpoint_account_needs_an_endpoint():
    scenario = {"name": "x", "description": "x", "principal": {"account": "a", "role": "r"},
                "action": "rekognition:DetectCustomLabels", "resource": "*", "endpoint_account": "b",
                "expect": {"decision": "allowed"}}
    with pytest.raises(CatalogError, match="endpoint_account names whose via_endpoint"):
        parse_catalog({"scenarios": [scenario]})
    parse_catalog({"scenarios": [{**scenario, "via_endpoint": "rekognition"}]})


def test_in_central_mode_the_roles_name_the_hub_endpoints_and_read_no_consumer_stack(run_platform, sample_platform,
                                                                                       sample_runs):
    sample_platform["network"]["endpoints"]["mode"] = "central"
    runs = run_chain(run_platform, sample_runs, sample_platform, "network", f"{PROJECT}-preprod")
    central = runs["network"].outputs["centralEndpointIds"]
    producer = runs[f"{PROJECT}-preprod"]
    assert f"{PROJECT}-prod" not in producer.references
    prod_role = roles(producer)[f"mrd-{PROJECT}-preprod-model-consumer-prod"]
    [detect] = statements(prod_role)
    assert detect["Condition"] == {"StringEquals": {"aws:SourceVpce": central["rekognition"]}}
    [trust] = prod_role["trust"]["Statement"]
    assert trust["Condition"]["StringEquals"]["aws:SourceVpce"] == central["sts"]


def test_bad_sharing_settings_stop_the_program_before_any_resource(run_platform, sample_platform):
    _sharing(sample_platform)["consumers"]["prod"]["version"] = "arn:aws:rekognition:eu-west-1:123:project/x"
    with pytest.raises(PreviewError) as info:
        run_platform(f"{PROJECT}-prod", platform=sample_platform)
    assert f"model_sharing.projects.{PROJECT}.consumers.prod.version: 'arn:aws:rekognition:eu-west-1:123:project/x'" \
        in str(info.value)
    assert [r for r in info.value.registered if r.custom] == []


def test_the_producer_key_admits_rekognition_once_for_reading_and_writing(sample_runs, ids):
    # Rekognition reads the datasets bucket and writes the pipeline bucket under one key: one
    # key statement that encrypts (and so decrypts), for the producer account only.
    [key] = [k for k in sample_runs(f"{PROJECT}-preprod").of_type("aws:kms/key:Key")
             if k.name == f"{PROJECT}-preprod-data-key"]
    found = [s for s in json.loads(key.inputs["policy"])["Statement"]
             if s.get("Principal") == {"Service": "rekognition.amazonaws.com"}]
    assert len(found) == 1
    assert "kms:GenerateDataKey" in found[0]["Action"] and "kms:Decrypt" in found[0]["Action"]
    assert found[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == ids[f"{PROJECT}-preprod"]
