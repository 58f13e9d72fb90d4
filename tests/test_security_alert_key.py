"""The alert topic's key follows the rules of every customer-managed key: administered by named
roles only, and no service principal may use it without a condition that scopes it to this
platform (confused-deputy protection)."""

from __future__ import annotations

import json

import pytest

from components.kms_keys import KeyUse

TOPIC_CONTEXT = "kms:EncryptionContext:aws:sns:topicArn"
# Keys that tie a service's use of a key to this platform's resources.
SOURCE_KEYS = ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths")


@pytest.fixture(scope="module")
def run(sample_runs):
    return sample_runs("security")


@pytest.fixture(scope="module")
def tooling(sample_runs):
    return sample_runs("organization").outputs["accountIds"]["security-tooling"]


@pytest.fixture(scope="module")
def key_policy(run):
    [key] = [r for r in run.of_type("aws:kms/key:Key") if r.name == "security-alerts-key"]
    return json.loads(key.inputs["policy"])


def _condition_keys(statement: dict) -> dict[str, object]:
    return {k: v for block in statement.get("Condition", {}).values() for k, v in block.items()}


def test_every_service_statement_of_the_alert_key_is_scoped_to_the_alert_topic(run, key_policy, tooling):
    topic_arn = f"arn:aws:sns:eu-west-1:{tooling}:mrd-security-alerts"
    services = [s for s in key_policy["Statement"] if "Service" in s["Principal"]]
    assert {s["Principal"]["Service"] for s in services} == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    for s in services:
        keys = _condition_keys(s)
        assert any(k in SOURCE_KEYS or k.startswith("kms:EncryptionContext:") for k in keys), s["Sid"]
        # SNS binds the data key to the topic: the service may use the key for this topic only.
        assert s["Condition"]["StringEquals"][TOPIC_CONTEXT] == topic_arn, s["Sid"]
        assert sorted(s["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    by_service = {s["Principal"]["Service"]: s for s in services}
    cloudwatch = by_service["cloudwatch.amazonaws.com"]["Condition"]
    assert cloudwatch["StringEquals"]["aws:SourceAccount"] == tooling
    assert cloudwatch["ArnLike"]["aws:SourceArn"] == f"arn:aws:cloudwatch:eu-west-1:{tooling}:alarm:*"
    # The SNS guide: aws:Source* keys in a key policy are not supported for EventBridge-to-encrypted
    # topics (publishing would fail); the topic policy carries the source account instead.
    assert not any(k.startswith("aws:Source") for k in _condition_keys(by_service["events.amazonaws.com"]))


def test_alert_key_is_administered_by_the_deployment_and_break_glass_roles_only(key_policy, tooling):
    statements = key_policy["Statement"]
    assert all(a not in ("kms:*", "*") for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    roles = [s for s in statements if "AWS" in s["Principal"]]
    assert [s["Sid"] for s in roles] == ["KeyAdministration"]
    admin = roles[0]
    assert admin["Principal"]["AWS"] == f"arn:aws:iam::{tooling}:root"
    assert admin["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{tooling}:role/OrganizationAccountAccessRole", f"arn:aws:iam::{tooling}:role/mrd-break-glass"]
    assert "kms:Decrypt" not in admin["Action"] and "kms:PutKeyPolicy" in admin["Action"]


def test_alert_key_keeps_rotation_deletion_window_and_protection(run):
    [key] = [r for r in run.of_type("aws:kms/key:Key") if r.name == "security-alerts-key"]
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    assert key.protect and key.retain_on_delete
    aliases = [a for a in run.of_type("aws:kms/alias:Alias") if a.inputs["name"] == "alias/mrd-security-alerts"]
    assert len(aliases) == 1 and aliases[0].inputs["targetKeyId"] == key.outputs["keyId"]


@pytest.mark.parametrize("conditions", [
    None,
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}},
])
def test_a_service_principal_without_a_source_or_encryption_context_condition_is_refused(conditions):
    with pytest.raises(ValueError, match="confused-deputy"):
        KeyUse(sid="Unscoped", actions=("kms:Decrypt",), service="events.amazonaws.com", conditions=conditions)


def test_a_service_principal_scoped_by_encryption_context_or_source_is_accepted():
    KeyUse(sid="ByContext", actions=("kms:Decrypt",), service="events.amazonaws.com",
           conditions={"StringEquals": {TOPIC_CONTEXT: "arn:aws:sns:eu-west-1:222222222222:t"}})
    KeyUse(sid="ByOrg", actions=("kms:Decrypt",), service="config.amazonaws.com",
           conditions={"StringEquals": {"aws:SourceOrgID": "o-abc"}})
    KeyUse(sid="ByAccount", actions=("kms:Decrypt",), service="cloudwatch.amazonaws.com", source_account="222222222222")


def test_the_alert_key_moves_under_its_component_without_being_replaced(run):
    """The key used to be registered directly under SecurityAlerts; the alias keeps its
    identity, so the protected key is adopted, not replaced."""
    [key] = [r for r in run.of_type("aws:kms/key:Key") if r.name == "security-alerts-key"]
    [alerts] = run.of_type("ml-platform:security:SecurityAlerts")
    assert run.by_urn(key.parent).type == "ml-platform:security:CustomerManagedKey"
    assert run.by_urn(key.parent).parent == alerts.urn
    assert {"spec": {"parentUrn": alerts.urn}} in key.aliases
