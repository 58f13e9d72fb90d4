"""The one serializer of policy documents: minified, non-ASCII kept as is (AWS counts characters);
`policy_json` is the SDK's deep unwrap of a document with outputs inside, at less cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline_preview.engine import UNKNOWN, Unknown, load_program, run_stack
from policy_documents.serialize import to_json


def test_documents_are_minified_and_keep_non_ascii_characters():
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Deny", "Action": "s3:*",
                                                   "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/owner": "Zoë"}}}]}
    text = to_json(doc)
    assert " " not in text and "\n" not in text
    assert "Zoë" in text and "\\u" not in text  # an escape would count 6 characters against the SCP limit
    assert json.loads(text) == doc


POLICY_JSON = load_program(Path(__file__).resolve().parent / "programs" / "policy_json")


def names_of(run) -> dict:
    return {role: run.named(role, "aws:iam/role:Role").outputs["name"] for role in ("role", "other")}


def _known(inputs: dict) -> dict:
    """Inputs with each unknown value as one marker (the engine's unknowns are distinct objects)."""
    return {key: "<unknown>" if isinstance(value, Unknown) else value for key, value in inputs.items()}


@pytest.fixture(scope="module")
def policy_json_run(tmp_path_factory):
    config = tmp_path_factory.mktemp("policy-json")
    (config / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    return run_stack("dev", config, {}, program=POLICY_JSON)


def test_policy_json_and_concat_are_the_sdks_unwrap_and_concat(policy_json_run):
    # Each case (tests/programs/policy_json) serialized by policy_json and by
    # `Output.from_input(document).apply(to_json)`, or joined by concat and by `Output.concat`:
    # the same text, unknown and secret alike, and the same dependencies of the policy that takes it.
    run = policy_json_run
    cases = sorted({key.split(":")[0] for key in run.outputs})
    assert len(cases) == 17
    for case in cases:
        new, ref = run.outputs[f"{case}:new"], run.outputs[f"{case}:ref"]
        assert new == ref, case
        assert (f"{case}:new" in run.secret_outputs) == (f"{case}:ref" in run.secret_outputs), case
        new_policy, ref_policy = run.named(f"{case}-new"), run.named(f"{case}-ref")
        assert _known(new_policy.inputs) == _known(ref_policy.inputs), case
        assert new_policy.property_dependencies == ref_policy.property_dependencies, case
    # The cases cover what could go wrong: outputs of two resources, a secret, unknowns.
    assert run.secret_outputs == ["secret:new", "secret:ref", "text-secret:new", "text-secret:ref"]
    for unknown in ("unknown", "bare-unknown", "text-unknown", "text-bare-unknown"):
        assert run.outputs[f"{unknown}:new"] is UNKNOWN, unknown
    assert run.outputs["text-two:new"] == f"{names_of(run)['role']}/{names_of(run)['other']}"
    assert len(run.named("outputs-new").property_dependencies["policy"]) == 2
    names = names_of(run)
    assert json.loads(run.outputs["output-key:new"])["Statement"][0]["Condition"]["StringEquals"] == {
        names["role"]: "x", "k": names["other"]}
