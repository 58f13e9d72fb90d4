"""Packing guardrail statements into SCPs within the AWS size and count limits."""

from __future__ import annotations

import dataclasses
import random

import pytest

from policy_documents.scp_library import (
    GuardrailStatement,
    ScpSettings,
    guardrail_statements,
)
from policy_documents.scp_packing import (
    ScpLimitError,
    guardrail_ids_for_sid,
    pack_policies,
    shape_key,
    slots_used,
    target_slug,
)
from policy_documents.serialize import document, to_json
from policy_documents.service_authorization import validate_document

EMPTY_DOC = len(to_json(document()))


def padded(guardrail_id: str, sid: str, chars: int, targets=("Workloads",)) -> GuardrailStatement:
    """A statement whose minified JSON is exactly `chars` characters. Its condition names its
    Sid, so two padded statements never share a shape (the packer would merge them)."""
    key = f"aws:PrincipalTag/{sid}"
    statement = {"Sid": sid, "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*",
                 "Condition": {"StringEquals": {key: ""}}}
    statement["Condition"]["StringEquals"][key] = "x" * (chars - len(to_json(statement)))
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
    assert "may hold 4 (5 per target, 1 reserved for FullAWSAccess, 0 kept free)" in problem


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
    # Every statement lands exactly once in each of its targets, alone or merged.
    for target in {t for g in default_statements for t in g.targets}:
        packed = [s for p in per_target[target] for s in p.document["Statement"]]
        for item in (g for g in default_statements if target in g.targets):
            assert len([s for s in packed if carries(s, item)]) == 1, (target, item.sid)
        assert sum(len(guardrail_ids_for_sid(s["Sid"])) for s in packed) >= len(packed)


def carries(packed: dict, item: GuardrailStatement) -> bool:
    """`packed` is `item`'s statement, or the merge of it with others of its shape."""
    if packed["Sid"] == item.sid:
        return packed == item.statement
    return (item.guardrail_id in guardrail_ids_for_sid(packed["Sid"]) and shape_key(packed) == shape_key(item.statement)
            and set(_list(item.statement["Action"])) <= set(packed["Action"]))


def _list(value):
    return value if isinstance(value, list) else [value]


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


# --- merging, free slots and pushing down (headroom) -----------------------------------------

def plain(guardrail_id: str, sid: str, actions, targets=("Workloads",), **extra) -> GuardrailStatement:
    """A deny statement with only the exemption condition (the most common shape)."""
    statement = {"Sid": sid, "Effect": "Deny", "Action": actions, "Resource": "*",
                 "Condition": {"ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/bg"]}}, **extra}
    return GuardrailStatement(guardrail_id, tuple(targets), statement)


def test_statements_of_the_same_shape_merge_into_one_with_the_union_of_actions():
    items = [plain("NET-1", "NET1DenyA", ["ec2:CreateInternetGateway", "ec2:AttachInternetGateway"]),
             plain("IAM-1", "IAM1DenyB", ["iam:CreateUser"]),
             plain("NET-1", "NET1DenyC", ["ec2:CreateVpnGateway", "ec2:CreateInternetGateway"])]
    [policy] = pack_policies(items, "p")
    [statement] = policy.document["Statement"]
    assert statement["Sid"] == "IAM1NET1Deny"
    assert statement["Action"] == ["ec2:AttachInternetGateway", "ec2:CreateInternetGateway", "ec2:CreateVpnGateway",
                                   "iam:CreateUser"]
    assert {k: v for k, v in statement.items() if k not in ("Sid", "Action")} == {
        k: v for k, v in items[0].statement.items() if k not in ("Sid", "Action")}
    assert list(statement) == list(items[0].statement)  # element order kept
    assert policy.guardrail_ids == ("IAM-1", "NET-1")
    assert validate_document(policy.document) == []


@pytest.mark.parametrize("differ", [
    {"Resource": "arn:aws:iam::*:role/x"},
    {"Condition": {"ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/other"]}}},
    {"Condition": {"ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/bg"]}, "Bool": {"aws:ViaAWSService": "false"}}},
    {"Effect": "Allow"},
])
def test_statements_that_differ_in_anything_but_actions_stay_apart(differ):
    first = plain("NET-1", "NET1DenyA", ["ec2:CreateInternetGateway"])
    second = plain("IAM-1", "IAM1DenyB", ["iam:CreateUser"])
    second.statement.update(differ)
    [policy] = pack_policies([first, second], "p")
    assert policy.sids == ("IAM1DenyB", "NET1DenyA")


def test_not_action_statements_never_merge():
    first = plain("REG-1", "REG1DenyA", ["iam:*"])
    first.statement["NotAction"] = first.statement.pop("Action")
    second = plain("REG-1", "REG1DenyB", ["sts:*"])
    second.statement["NotAction"] = second.statement.pop("Action")
    [policy] = pack_policies([first, second], "p")
    assert policy.sids == ("REG1DenyA", "REG1DenyB")


def test_two_merges_from_the_same_guardrails_get_distinct_sids():
    items = [plain("NET-1", "NET1A", ["ec2:CreateInternetGateway"]), plain("IAM-1", "IAM1B", ["iam:CreateUser"]),
             plain("NET-1", "NET1C", ["ec2:CreateVpnGateway"], Resource="arn:aws:ec2:*:*:vpc/*"),
             plain("IAM-1", "IAM1D", ["iam:CreateLoginProfile"], Resource="arn:aws:ec2:*:*:vpc/*")]
    [policy] = pack_policies(items, "p")
    assert policy.sids == ("IAM1NET1Deny", "IAM1NET1Deny2")
    assert [guardrail_ids_for_sid(s) for s in policy.sids] == [("IAM-1", "NET-1")] * 2


@pytest.mark.parametrize(("sid", "ids"), [("ORG1LOG1LOG3Deny", ("ORG-1", "LOG-1", "LOG-3")),
                                          ("S31DenyAccount", ("S3-1",)), ("IAM1SM7Deny", ("IAM-1", "SM-7")),
                                          ("SM4DenyNotebookDirectInternet", ("SM-4",))])
def test_guardrail_ids_for_sid_reads_every_merged_id(sid, ids):
    assert guardrail_ids_for_sid(sid) == ids


def test_guardrail_ids_for_sid_rejects_a_sid_without_an_id():
    with pytest.raises(ValueError):
        guardrail_ids_for_sid("DenyEverything")


def test_free_slots_are_kept_on_every_target():
    three = four_full_documents(ids=("SM-1", "SM-3", "SM-4"))
    assert len(pack_policies(three, "p", free_slots_per_target=1)) == 3  # 3 + FullAWSAccess + 1 free = 5
    with pytest.raises(ScpLimitError) as error:
        pack_policies(four_full_documents(ids=("SM-1", "SM-3", "SM-4", "SM-5")), "p", free_slots_per_target=1)
    assert "may hold 3 (5 per target, 1 reserved for FullAWSAccess, 1 kept free)" in str(error.value)


KIDS = {"Workloads": ("Workloads/Dev", "Workloads/PreProd", "Workloads/Prod")}


def test_what_a_parent_cannot_carry_goes_to_each_child():
    parent = four_full_documents(ids=("SM-1", "SM-3", "SM-4", "SM-5"))  # four full documents
    own = padded("SM-7", "SM7Own", 300, targets=("Workloads/Dev",))
    policies = pack_policies([*parent, own], "p", free_slots_per_target=1, children=KIDS)
    at = {t: [p for p in policies if p.target == t] for t in ("Workloads", *KIDS["Workloads"])}
    assert len(at["Workloads"]) == 3
    kept = {sid for p in at["Workloads"] for sid in p.sids}
    [moved] = {g.sid for g in parent} - kept
    for child in KIDS["Workloads"]:
        sids = {sid for p in at[child] for sid in p.sids}
        assert moved in sids and not kept & sids
    assert {sid for p in at["Workloads/Dev"] for sid in p.sids} == {moved, "SM7Own"}
    assert slots_used(policies) == {"Workloads": 4, "Workloads/Dev": 2, "Workloads/PreProd": 2, "Workloads/Prod": 2}


def test_a_parent_within_its_budget_moves_nothing():
    parent = four_full_documents(ids=("SM-1", "SM-3", "SM-4"))
    policies = pack_policies(parent, "p", free_slots_per_target=1, children=KIDS)
    assert {p.target for p in policies} == {"Workloads"}


def test_a_statement_already_on_a_child_is_not_pushed_there_twice():
    parent = four_full_documents(ids=("SM-1", "SM-3", "SM-4"))
    both = padded("SM-5", "SM5Both", 3000, targets=("Workloads", "Workloads/Dev"))
    policies = pack_policies([*parent, both], "p", free_slots_per_target=1, children=KIDS)
    dev = [sid for p in policies if p.target == "Workloads/Dev" for sid in p.sids]
    assert sorted(dev) == sorted(set(dev))


def test_a_parent_with_accounts_of_its_own_cannot_push_down():
    parent = four_full_documents(ids=("SM-1", "SM-3", "SM-4", "SM-5"))
    with pytest.raises(ScpLimitError, match=r"^[^\n]*\n  - Workloads \(guardrails SM-1, SM-3, SM-4, SM-5\): needs 4"):
        pack_policies(parent, "p", free_slots_per_target=1, children={})


def test_a_child_that_cannot_take_what_moves_down_fails_naming_the_child():
    parent = four_full_documents(ids=("SM-1", "SM-3", "SM-4", "SM-5"))
    full_child = four_full_documents("Workloads/Prod", ids=("SM-6", "MOD-1", "SM-8"))
    with pytest.raises(ScpLimitError) as error:
        pack_policies([*parent, *full_child], "p", free_slots_per_target=1, children=KIDS)
    [problem] = error.value.problems
    assert problem.startswith("Workloads/Prod (guardrails ") and "needs 4 policies" in problem


def test_packed_policies_are_immutable():
    [policy] = pack_policies([padded("SM-1", "SM1A", 200)], "p")
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.name = "other"  # type: ignore[misc]


def test_known_targets_come_in_account_model_order_before_others():
    items = [padded("SM-1", "SM1A", 200, targets=("Custom",)), padded("SM-3", "SM3B", 200, targets=("Workloads",)),
             padded("SM-4", "SM4C", 200, targets=("Root",)), padded("SM-5", "SM5D", 200, targets=("Another",))]
    assert [p.target for p in pack_policies(items, "p")] == ["Root", "Workloads", "Another", "Custom"]


def test_largest_statements_are_placed_first():
    # Largest first pairs each 3,000-character statement with a 2,000 one: two documents.
    # Smallest first would pair the two small ones and leave each large one alone: three.
    items = [padded("SM-1", "SM1Small", 2000), padded("SM-3", "SM3Small", 2000),
             padded("SM-4", "SM4Big", 3000), padded("SM-5", "SM5Big", 3000)]
    policies = pack_policies(items, "p")
    assert [p.sids for p in policies] == [("SM1Small", "SM4Big"), ("SM3Small", "SM5Big")]


def test_documents_are_numbered_by_their_first_statement_in_catalog_order():
    items = [padded("NET-1", "NET1Big", 4000), padded("ORG-1", "ORG1Big", 4000)]
    policies = pack_policies(items, "p")
    assert [(p.name, p.sids) for p in policies] == [("p-guardrails-workloads-1", ("ORG1Big",)),
                                                    ("p-guardrails-workloads-2", ("NET1Big",))]
