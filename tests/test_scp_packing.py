"""Packing guardrail statements into SCPs within the AWS size and count limits."""

from __future__ import annotations

import random

import pytest

from policy_documents.scp_library import (
    GuardrailStatement,
    ScpSettings,
    guardrail_statements,
)
from policy_documents.scp_packing import ScpLimitError, pack_policies, target_slug
from policy_documents.serialize import document, to_json
from policy_documents.service_authorization import validate_document

EMPTY_DOC = len(to_json(document()))


def padded(guardrail_id: str, sid: str, chars: int, targets=("Workloads",)) -> GuardrailStatement:
    """A statement whose minified JSON is exactly `chars` characters."""
    statement = {"Sid": sid, "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:PrincipalTag/pad": ""}}}
    statement["Condition"]["StringEquals"]["aws:PrincipalTag/pad"] = "x" * (chars - len(to_json(statement)))
    assert len(to_json(statement)) == chars
    return GuardrailStatement(guardrail_id, tuple(targets), statement)


def doc_of(chars: int, **kwargs) -> GuardrailStatement:
    """A statement that alone makes a document of exactly `chars` characters."""
    return padded(kwargs.pop("guardrail_id", "ORG-1"), kwargs.pop("sid", "ORG1Pad"), chars - EMPTY_DOC, **kwargs)


@pytest.fixture(scope="module")
def default_statements():
    return guardrail_statements(ScpSettings(
        name_prefix="ml-platform",
        allowed_regions=("eu-west-1", "eu-central-1"),
        exempt_role_names=("ml-platform-break-glass", "ml-platform-deployment"),
        notebook_instance_types=("ml.t3.medium", "ml.m5.xlarge", "ml.g4dn.xlarge"),
    ))


def test_a_document_of_exactly_the_limit_packs():
    [policy] = pack_policies([doc_of(5120)], "p")
    assert len(policy.json) == 5120
    assert policy.json == to_json(policy.document)


def test_a_document_one_over_the_limit_fails_naming_target_and_guardrail():
    with pytest.raises(ScpLimitError) as error:
        pack_policies([doc_of(5121)], "p")
    message = str(error.value)
    assert "Workloads (guardrails ORG-1)" in message
    assert "ORG1Pad" in message and "5121-character document (limit 5120)" in message
    assert isinstance(error.value, ValueError)


def test_two_statements_that_fit_exactly_share_a_document():
    # The second statement costs its length plus one comma.
    first = padded("SM-1", "SM1A", 3000)
    second = padded("SM-3", "SM3B", 5120 - EMPTY_DOC - 3000 - 1)
    [policy] = pack_policies([first, second], "p")
    assert len(policy.json) == 5120
    assert policy.guardrail_ids == ("SM-1", "SM-3")
    second_big = padded("SM-3", "SM3B", 5120 - EMPTY_DOC - 3000)
    assert len(pack_policies([first, second_big], "p")) == 2


def four_full_documents(target="Workloads", ids=("SM-1", "SM-3", "SM-4", "SM-5", "SM-8")):
    # Each statement needs a document of its own (two would not fit together).
    return [padded(gid, f"{gid.replace('-', '')}Pad", 3000, targets=(target,)) for gid in ids]


def test_a_target_at_exactly_the_policy_limit_passes():
    policies = pack_policies(four_full_documents(ids=("SM-1", "SM-3", "SM-4", "SM-5")), "p")
    assert [p.name for p in policies] == [f"p-guardrails-workloads-{n}" for n in (1, 2, 3, 4)]


def test_a_target_one_policy_over_fails_naming_it_and_its_guardrails():
    with pytest.raises(ScpLimitError) as error:
        pack_policies(four_full_documents(), "p")
    [problem] = error.value.problems
    assert problem.startswith("Workloads (guardrails SM-1, SM-3, SM-4, SM-5, SM-8): needs 5 policies")
    assert "may hold 4 (5 per target, 1 reserved for FullAWSAccess)" in problem


def test_every_failing_target_is_reported_together():
    statements = (four_full_documents("Workloads/Dev", ("SM-7", "SM-1", "SM-3", "SM-4", "SM-5"))
                  + four_full_documents("Sandbox", ("SM-7", "SM-8", "IAM-1", "SM-1", "SM-3"))
                  + [doc_of(6000, guardrail_id="ORG-1", sid="ORG1Huge", targets=("Root",))]
                  + [padded("NET-1", "NET1Fine", 300)])
    with pytest.raises(ScpLimitError) as error:
        pack_policies(statements, "p")
    problems = error.value.problems
    assert [p.split(" ", 1)[0] for p in problems] == ["Root", "Sandbox", "Workloads/Dev"]
    assert "Sandbox (guardrails IAM-1, SM-1, SM-3, SM-7, SM-8)" in problems[1]
    assert "ORG1Huge (ORG-1) alone makes a 6000-character document" in problems[0]


@pytest.mark.parametrize(("limit", "reserved", "fits"), [(5, 1, False), (5, 0, True), (6, 1, True), (4, 0, False)])
def test_policy_count_limit_and_reserved_slots_are_configurable(limit, reserved, fits):
    statements = four_full_documents()  # five documents
    if fits:
        assert len(pack_policies(statements, "p", max_policies_per_target=limit, reserved_per_target=reserved)) == 5
    else:
        with pytest.raises(ScpLimitError):
            pack_policies(statements, "p", max_policies_per_target=limit, reserved_per_target=reserved)


def test_duplicate_sids_in_a_target_are_reported():
    with pytest.raises(ScpLimitError, match="Sid SM1Pad is used by SM-1 and SM-1"):
        pack_policies([padded("SM-1", "SM1Pad", 200), padded("SM-1", "SM1Pad", 300)], "p")


def test_the_default_library_packs_within_the_limits(default_statements):
    policies = pack_policies(default_statements, "ml-platform")
    per_target: dict[str, list] = {}
    for policy in policies:
        assert len(policy.json) <= 5120
        assert policy.json == to_json(policy.document)
        assert validate_document(policy.document) == []
        assert policy.name == f"ml-platform-guardrails-{target_slug(policy.target)}-{len(per_target.get(policy.target, [])) + 1}"
        per_target.setdefault(policy.target, []).append(policy)
    assert all(len(v) <= 4 for v in per_target.values())
    # Every statement lands exactly once in each of its targets.
    for target in {t for g in default_statements for t in g.targets}:
        expected = sorted(g.sid for g in default_statements if target in g.targets)
        assert sorted(sid for p in per_target[target] for sid in p.sids) == expected


def test_packing_is_deterministic(default_statements):
    assert pack_policies(default_statements, "x") == pack_policies(list(default_statements), "x")


def test_statements_within_a_document_keep_catalog_order():
    statements = [padded("NET-1", "NET1A", 200), padded("ORG-1", "ORG1B", 900), padded("SM-4", "SM4C", 500)]
    random.Random(4).shuffle(statements)
    [policy] = pack_policies(statements, "p")
    assert policy.sids == ("ORG1B", "SM4C", "NET1A")
    assert policy.guardrail_ids == ("ORG-1", "SM-4", "NET-1")


@pytest.mark.parametrize(("target", "slug"), [("Root", "root"), ("Workloads/PreProd", "workloads-preprod"),
                                              ("Deployments/Prod", "deployments-prod")])
def test_target_slug(target, slug):
    assert target_slug(target) == slug


def test_packing_does_not_share_state_with_the_input():
    item = padded("SM-1", "SM1A", 200)
    [policy] = pack_policies([item], "p")
    policy.document["Statement"][0]["Sid"] = "Changed"
    assert item.statement["Sid"] == "SM1A"
