"""What makes the pack's own code cheaper gives the answers it gave before."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import jsoncfg
import pytest
from google.protobuf import json_format
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import _DictProxy, _ListProxy, unknown_checking_proxy

from ml_guardrails import identity
from ml_guardrails.common import UNKNOWN, UNKNOWN_SENTINELS, plain
from ml_guardrails.identity import _parliament
from offline_preview.analysis import analyzed_resources
from offline_preview.policy_analyzer import analyze_request


def test_the_privilege_index_answers_as_parliaments_scan():
    parliament = _parliament()
    from parliament import statement  # noqa: PLC0415

    indexed, scan = statement.get_privilege_info, statement.get_privilege_info.scan
    assert indexed is not scan
    keys = [(s["prefix"], p["privilege"]) for s in parliament.iam_definition for p in s["privileges"]]
    twice = [k for k, n in Counter(keys).items() if n > 1]
    assert twice  # services listed twice under one prefix: the first one's entry wins, as in the scan
    for service, action in twice + keys[::97] + [keys[0], keys[-1]]:
        found = indexed(service, action)
        assert found is scan(service, action)
        assert found["service_resources"] is not None and "service_conditions" in found
    for service, action in (("s3", "NoSuchAction"), ("nosuchservice", "GetObject"), ("s3", "getobject")):
        with pytest.raises(Exception, match="Unknown action") as raised:
            indexed(service, action)
        assert type(raised.value).__name__ == "UnknownActionException"


def _generic_plain(value: Any) -> Any:
    """`plain` as it was before its exact-type fast paths."""
    if isinstance(value, _DictProxy):
        value = value["__target"]
    elif isinstance(value, _ListProxy):
        value = value["__target"]
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        return {str(k): _generic_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or (isinstance(value, Sequence) and not isinstance(value, (bytes, str))):
        return [_generic_plain(v) for v in value]
    return value


SENTINEL = next(iter(UNKNOWN_SENTINELS))
VALUES = [{}, [], {"a": [1, 2.5, True, None, "x", SENTINEL, {"b": [SENTINEL, []]}]}, ("t", [SENTINEL]),
          {1: "number key", "nested": {"deep": [{"x": (1, 2)}]}}, "text", SENTINEL, 3, None, b"bytes"]


@pytest.mark.parametrize("value", VALUES, ids=[f"value{n}" for n in range(len(VALUES))])
def test_plain_copies_as_before(value):
    assert plain(value) == _generic_plain(value)
    if isinstance(value, dict):
        proxied = unknown_checking_proxy(value)
        assert plain(proxied) == _generic_plain(proxied) == _generic_plain(value)


def _findings(policy: Any) -> list[tuple[Any, ...]]:
    """Parliament's findings as lint() reads them (their locations aside)."""
    parliament = _parliament()
    found = []
    for finding in policy.findings:
        parliament.enhance_finding(finding)
        found.append((finding.issue, json.dumps(finding.detail, sort_keys=True, default=str), finding.severity,
                      finding.title))
    return found


def _outcome(analyze: Any) -> Any:
    """The findings, or the error parliament raised (it fails on some values, e.g. numbers where
    it expects text; lint() reports that as the policy's error)."""
    try:
        return _findings(analyze())
    except Exception as error:  # noqa: BLE001
        return type(error).__name__, str(error)


def _sample_documents(sample_runs: Any) -> list[dict[str, Any]]:
    """The sanitized documents lint() hands parliament for the first sample stacks' resources."""
    docs = []
    for stack in ("organization", "identity", "security"):
        for resource in analyzed_resources(sample_runs(stack)):
            wire = analyze_request(resource).properties
            props = plain(deserialize_properties(json_format.MessageToDict(wire)))
            for document in identity.documents_of(resource.type, props):
                if document.doc is None or not isinstance(document.doc, dict):
                    continue
                text = json.dumps(identity._sanitize_for_lint(document.doc, document.kind), default=lambda _: "*")
                docs.append(identity._sanitize_for_lint(json.loads(text), document.kind))
    return docs


HANDMADE = [
    {"Version": "2012-10-17", "Statement": []},
    {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:Decrypt"], "Resource": "*",
                                             "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                                                           "Bool": {"aws:SecureTransport": True}}}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                                             "Condition": {"NumericGreaterThan": {"s3:max-keys": 1.5}}}]},
    {"Version": "2012-10-17", "Statement": [{"Sid": "Ünïcode", "Effect": "Deny", "NotAction": "s3:Get*",
                                             "Resource": "arn:aws:s3:::bücket/*"}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                             "Resource": "arn:aws:s3:::b\\\"q\n/*", "Principal": None}]},
    {"Statement": "not a list", "Version": 2012},
]


def test_parliament_reads_the_documents_as_from_their_text(sample_runs):
    parliament = _parliament()
    docs = _sample_documents(sample_runs) + HANDMADE
    assert len(docs) >= 30
    fast = 0
    for doc in docs:
        text = json.dumps(doc)
        if identity._simple_json(doc):
            fast += 1
            assert identity._config_tree(doc)() == jsoncfg.loads_config(text)() == json.loads(text)
        assert _outcome(lambda: identity._parliament_findings(parliament, doc)) == _outcome(
            lambda: parliament.analyze_policy_string(text)), text
    assert fast >= len(docs) - 3  # the unicode and control-character documents go through the text
