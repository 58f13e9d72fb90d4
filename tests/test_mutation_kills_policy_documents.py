"""policy_documents behaviour the mutation run (`make mutation`) found untested."""

from __future__ import annotations

import pytest

from policy_documents.scp_library import GuardrailStatement
from policy_documents.scp_packing import ScpLimitError, pack_policies
from policy_documents.service_authorization import validate_document

STATEMENT = {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def test_only_the_current_policy_language_version_is_accepted():
    # 2008-10-17 is a real, older IAM policy language version (no policy variables): refused
    # like a missing or a later one; only 2012-10-17 passes.
    assert validate_document({"Version": "2012-10-17", "Statement": [STATEMENT]}) == []
    for version in ("2008-10-17", "2012-10-18", None):
        document = {"Statement": [STATEMENT]} if version is None else {"Version": version, "Statement": [STATEMENT]}
        assert validate_document(document) == [f"document: Version must be '2012-10-17', not {version!r}"], version


def test_an_action_entry_is_star_or_service_colon_action_nothing_shorter():
    # IAM's action grammar: `*` alone or `service:action`; an empty entry or punctuation is no
    # action however it compares with `*`.
    for entry in ("", "!", "(", "*:"):
        statement = {"Sid": "Odd", "Effect": "Deny", "Action": [entry], "Resource": "*"}
        assert validate_document({"Version": "2012-10-17", "Statement": [statement]}) == [
            f"Sid Odd: Action entry {entry!r} is not of the form service:Action"], entry
    assert validate_document({"Version": "2012-10-17", "Statement": [
        {"Sid": "All", "Effect": "Deny", "Action": "*", "Resource": "*"}]}) == []


def _full(gid: str, target: str = "Workloads") -> GuardrailStatement:
    """A statement of about 3,000 characters: two never share one 5,120-character SCP."""
    statement = {"Sid": f"{gid.replace('-', '')}Pad", "Effect": "Deny", "Action": "organizations:LeaveOrganization",
                 "Resource": "*", "Condition": {"StringEquals": {f"aws:PrincipalTag/{gid}": "x" * 2900}}}
    return GuardrailStatement(gid, (target,), statement)


def test_a_target_without_a_slot_pushes_every_guardrail_to_its_children():
    # With 4 SCPs per target, FullAWSAccess and one free slot, Workloads holds both documents.
    # With 2 it may hold no guardrail SCP itself: both documents move down to each child OU
    # (none stays), where the same limit leaves no slot either, so the error names the children
    # needing both documents, never Workloads.
    kids = {"Workloads": ("Workloads/Dev", "Workloads/Prod")}
    policies = pack_policies([_full("SM-1"), _full("SM-3")], "p", max_policies_per_target=4,
                             free_slots_per_target=1, children=kids)
    assert [p.target for p in policies] == ["Workloads", "Workloads"]
    with pytest.raises(ScpLimitError) as error:
        pack_policies([_full("SM-1"), _full("SM-3")], "p", max_policies_per_target=2,
                      free_slots_per_target=1, children=kids)
    problems = str(error.value).splitlines()[1:]
    assert [line.split(" (guardrails")[0] for line in problems] == ["  - Workloads/Dev", "  - Workloads/Prod"]
    assert all("(guardrails SM-1, SM-3): needs 2 policies" in line for line in problems), problems


def test_a_target_left_without_slots_is_said_to_hold_none():
    # The budget is 0 (2 - 1 - 1) or below (1 - 1 - 1): the message says 0 either way.
    for limit in (2, 1):
        with pytest.raises(ScpLimitError) as error:
            pack_policies([_full("SM-1")], "p", max_policies_per_target=limit, free_slots_per_target=1)
        assert (f"needs 1 policies of at most 5120 characters but may hold 0 ({limit} per target, "
                "1 reserved for FullAWSAccess, 1 kept free)") in str(error.value), limit


def test_service_keys_are_read_from_the_service_whatever_its_prefix_sorts_like():
    # Only the `aws:` prefix is special (its non-global keys are the per-action tag keys);
    # a service prefix sorting before it (acm, apigateway, autoscaling) is judged by its own
    # documented keys, exactly like one sorting after it (s3).
    from policy_documents.service_authorization import _service_key_templates, condition_key_exists

    for service in ("acm", "apigateway", "autoscaling", "s3"):
        own = [k for k in _service_key_templates(service) if k.startswith(f"{service}:") and "${" not in k]
        assert own, service
        assert condition_key_exists(own[0]), own[0]
        assert not condition_key_exists(f"{service}:NoSuchConditionKey"), service
    assert condition_key_exists("aws:RequestTag/team")
    assert not condition_key_exists("aws:NoSuchConditionKey")
