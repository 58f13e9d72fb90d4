"""Pack behaviour the mutation run (`make mutation`) found untested, checked in-process on the
pack's own functions (the subprocess tests cover the same code over the Analyzer protocol)."""

from __future__ import annotations

import json
import sys

from ml_guardrails import identity


def test_yaml_short_form_tags_read_as_cloudformation_intrinsics():
    # CloudFormation's short forms: `!GetAtt Name.Attribute` is the list [Name, Attribute];
    # every other tag keeps its scalar as is (a dot in a `!Sub` string is no separator).
    template = identity._parse_template(
        "Resources:\n"
        "  Role:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      Arn: !GetAtt Trainer.Arn\n"
        "      Bucket: !Sub arn:${AWS::Partition}:s3:::logs.example\n"
        "      Name: !Ref Env.Name\n"
        "      Joined: !Join [':', [a, b]]\n")
    properties = template["Resources"]["Role"]["Properties"]
    assert properties["Arn"] == {"Fn::GetAtt": ["Trainer", "Arn"]}
    assert properties["Bucket"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::logs.example"}
    assert properties["Name"] == {"Ref": "Env.Name"}
    assert properties["Joined"] == {"Fn::Join": [":", ["a", "b"]]}


def test_a_yaml_template_is_not_judged_without_a_yaml_reader(monkeypatch):
    # The pack's dependencies may lack PyYAML: a YAML template then reads as unknown (None),
    # it does not fail the pack; JSON templates still parse.
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    identity._parse_template.cache_clear()
    try:
        assert identity._parse_template("Resources: {}\n# without yaml\n") is None
        assert identity._parse_template('{"Resources": {}}') == {"Resources": {}}
    finally:
        identity._parse_template.cache_clear()


def test_an_unknown_minimum_severity_reads_as_the_default_medium():
    # POL-1's `minimumSeverity` defaults to MEDIUM (its config schema); a value outside the
    # severities reaching lint() must not silently raise the bar. RESOURCE_MISMATCH is MEDIUM.
    document = identity.load_document("identity", "mismatch", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mrd-data"}]}))
    medium = identity.lint(document, "MEDIUM")
    assert any(p.startswith("parliament RESOURCE_MISMATCH (MEDIUM)") for p in medium), medium
    assert identity.lint(document, "unheard-of") == medium
    assert not any("RESOURCE_MISMATCH" in p for p in identity.lint(document, "HIGH"))


def test_a_template_condition_parsed_from_json_is_unknown():
    # Templates arrive as text: the `Condition` key of a parsed document is no literal of the
    # pack's source, and still reads as unknown (the condition is decided at deploy time).
    parsed = json.loads('{"Value": {"Condition": "IsProd"}}')
    assert identity._resolve(parsed, {})["Value"] is identity.UNKNOWN


def test_long_action_lists_are_abbreviated_after_five():
    five = [f"s3:Action{i}" for i in range(5)]
    assert identity._listed(five) == ", ".join(five)
    assert identity._listed([*five, "s3:Action5"]) == ", ".join(five) + " and 1 more"
