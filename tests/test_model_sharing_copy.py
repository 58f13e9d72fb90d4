"""The `copy` pattern of model sharing (`consumers.<env>.pattern`): a consumer that holds its
own copy of the model version (Rekognition CopyProjectVersion) calls it in its own account,
and the producer has no role for it. Asserts on the settings' validation and on what the
program registers for each pattern."""

from __future__ import annotations

from typing import Any

import pytest
from offline_preview.engine import PreviewError
from stacks import model_sharing_settings as ms
from stacks.config import parse_platform
from tests.conftest import load_sample_platform, run_with_platform
from tests.test_model_sharing import (
    PLATFORM_STACKS,
    PROJECT,
    V1,
    V2,
    parameters,
    problems_of,
    roles,
    statements,
    version,
)

PROD, PREPROD = f"{PROJECT}-prod", f"{PROJECT}-preprod"


@pytest.fixture(scope="module")
def ids(sample_runs) -> dict[str, str]:
    return sample_runs("organization").outputs["accountIds"]


def _copy_prod(platform: dict[str, Any], ids: dict[str, str]) -> str:
    """Make prod a copy consumer using its own copy of V1; returns the copy's ARN."""
    copied = version(ids, V1, PROD)
    platform["model_sharing"]["projects"][PROJECT]["consumers"]["prod"] = {"version": copied, "pattern": "copy"}
    return copied


@pytest.fixture(scope="module")
def copy_runs(tmp_path_factory, sample_runs, ids):
    """The prod consumer stack, then the producer's, with prod a copy consumer: (copy ARN,
    parsed platform, runs)."""
    platform = load_sample_platform()
    copied = _copy_prod(platform, ids)
    where = tmp_path_factory.mktemp("copy-consumer")
    upstream = {s: sample_runs(s).outputs for s in PLATFORM_STACKS}
    runs = {}
    for stack in (PROD, PREPROD):
        runs[stack] = run_with_platform(where, stack, platform, dict(upstream))
        upstream[stack] = runs[stack].outputs
    return copied, parse_platform(platform), runs


# -- settings ------------------------------------------------------------------------------

def test_the_pattern_defaults_to_delegate(sample_platform):
    cfg = parse_platform(sample_platform)
    assert {env: c.pattern for env, c in ms.sharing(cfg, PROJECT).consumers.items()} == {
        "preprod": "delegate", "prod": "delegate"}
    assert ms.delegated_consumers(cfg, PROJECT) == ["prod"] and ms.copy_consumers(cfg, PROJECT) == []


def test_an_unknown_pattern_is_refused_naming_the_key(sample_platform):
    sample_platform["model_sharing"]["projects"][PROJECT]["consumers"]["prod"]["pattern"] = "mirror"
    [problem] = [p for p in problems_of(sample_platform) if ".pattern" in p]
    assert problem.startswith(f"model_sharing.projects.{PROJECT}.consumers.prod.pattern")
    assert "'delegate'" in problem and "'copy'" in problem and "mirror" in problem


def test_copy_in_the_producers_own_environment_is_refused(sample_platform, ids):
    sample_platform["model_sharing"]["projects"][PROJECT]["consumers"]["preprod"]["pattern"] = "copy"
    sample_platform["model_sharing"]["projects"][PROJECT]["consumers"]["prod"]["pattern"] = "nope"
    problems = problems_of(sample_platform)
    # Every problem at once: the schema's and the cross-field one.
    assert any(p.startswith(f"model_sharing.projects.{PROJECT}.consumers.prod.pattern") for p in problems), problems
    sample_platform["model_sharing"]["projects"][PROJECT]["consumers"]["prod"]["pattern"] = "delegate"
    problems = problems_of(sample_platform)
    assert any(p.startswith(f"model_sharing.projects.{PROJECT}.consumers.preprod.pattern: 'copy' in the producer's "
                            f"own environment {PREPROD}") and "(allowed: delegate)" in p for p in problems), problems


def test_a_copy_consumers_versions_must_be_its_own(sample_platform, ids):
    cfg = parse_platform(sample_platform)
    _copy_prod(sample_platform, ids)
    copied = parse_platform(sample_platform)
    accounts = {"prod": ids[PROD]}
    assert ms.account_problems(copied, PROJECT, ids[PREPROD], accounts) == []
    # Unknown consumer account: not judged yet (the producer stack does not check it).
    assert ms.account_problems(copied, PROJECT, ids[PREPROD]) == []
    # A delegate consumer's versions are the producer's; a copy consumer's the producer's: refused.
    assert ms.account_problems(cfg, PROJECT, ids[PREPROD], accounts) == []
    sample_platform["model_sharing"]["projects"][PROJECT]["consumers"]["prod"]["version"] = version(ids, V1)
    [problem] = ms.account_problems(parse_platform(sample_platform), PROJECT, ids[PREPROD], accounts)
    assert problem == (f"model_sharing.projects.{PROJECT}.consumers.prod.version: '{version(ids, V1)}' is in account "
                       f"{ids[PREPROD]}, not the consumer's own {PROD} (pattern: copy) (allowed: account {ids[PROD]})")


# -- what the program registers ------------------------------------------------------------

def test_a_copy_consumer_calls_its_own_copy_directly(copy_runs, ids):
    copied, platform, runs = copy_runs
    consumer = runs[PROD]
    app = roles(consumer)[f"mrd-{PROJECT}-prod-model-consumer-app"]
    # No producer role to assume: its own copy, through its own VPC's Rekognition endpoint.
    assert not any("sts:AssumeRole" in s["Action"] for s in statements(app))
    [use] = [s for s in statements(app) if s["Sid"] == "UseConfiguredModelVersions"]
    assert use["Resource"] == [copied]
    assert use["Condition"] == {"StringEquals": {"aws:SourceVpce": consumer.outputs["interfaceEndpointIds"]["rekognition"]}}
    assert parameters(consumer)[f"/mrd/{PROJECT}/prod/model-sharing/version-arn"] == copied
    sharing = consumer.outputs["modelSharing"]
    assert sharing["pattern"] == "copy" and sharing["crossAccount"] is False and "producerRoleArn" not in sharing
    # Model sharing asks no STS endpoint for a producer role it never assumes.
    assert ms.endpoint_services(platform, PROJECT, "prod") == ["rekognition"]
    assert ms.endpoint_services(parse_platform(load_sample_platform()), PROJECT, "prod") == ["rekognition", "sts"]


def test_a_copy_consumer_gets_its_own_protected_project_for_the_copies(copy_runs, ids):
    _, _, runs = copy_runs
    [project] = runs[PROD].of_type("aws:rekognition/project:Project")
    assert project.inputs["name"] == "documents" and project.inputs["feature"] == "CUSTOM_LABELS"
    assert project.protect
    assert runs[PROD].outputs["modelSharing"]["rekognitionProjectArn"].startswith(
        f"arn:aws:rekognition:eu-west-1:{ids[PROD]}:project/documents/")


def test_the_producer_has_no_role_for_a_copy_consumer(copy_runs, sample_runs):
    _, _, runs = copy_runs
    producer = runs[PREPROD]
    names = set(roles(producer))
    assert f"mrd-{PROJECT}-preprod-model-consumer-prod" not in names
    assert f"mrd-{PROJECT}-preprod-model-consumer-prod" in set(roles(sample_runs(PREPROD)))  # the delegate sample's
    assert producer.outputs["modelSharing"]["producerRoleArns"] == {}
    # The producer's own environment keeps calling its version in-account.
    assert sample_runs(PREPROD).outputs["modelSharing"]["pattern"] == "in-account"
    assert sample_runs(PROD).outputs["modelSharing"]["pattern"] == "delegate"
    assert producer.outputs["modelSharing"]["versionArn"].endswith(V2)


def test_a_copy_consumer_naming_the_producers_version_stops_its_stack(run_platform, sample_platform, ids):
    _copy_prod(sample_platform, ids)
    sample_platform["model_sharing"]["projects"][PROJECT]["consumers"]["prod"]["version"] = version(ids, V1)
    with pytest.raises(PreviewError) as info:
        run_platform(PROD, platform=sample_platform)
    assert (f"model_sharing.projects.{PROJECT}.consumers.prod.version: '{version(ids, V1)}' is in account "
            f"{ids[PREPROD]}, not the consumer's own {PROD} (pattern: copy)") in str(info.value)
    assert not [r for r in info.value.registered if r.type == "aws:iam/rolePolicy:RolePolicy"
                and r.name.startswith(f"mrd-{PROJECT}-prod-model-consumer") and r.inputs.get("policy")]
