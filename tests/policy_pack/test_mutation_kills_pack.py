"""Pack behaviour the mutation run (`make mutation`) found untested, checked in-process on the
pack's own functions (the subprocess tests cover the same code over the Analyzer protocol)."""

from __future__ import annotations

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
