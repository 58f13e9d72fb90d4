"""The security settings have secure defaults, and a bad value fails naming its key."""

from __future__ import annotations

import pytest

from components.config_rules import DETECTIVE_RULES, rule_name
from stacks.config import ConfigError, parse_platform
from stacks.security_settings import (
    data_event_buckets,
    log_archive_bucket_names,
    trail_name,
)


def problems_of(data) -> str:
    with pytest.raises(ConfigError) as info:
        parse_platform(data)
    return "\n".join(info.value.problems)


def test_defaults_are_the_secure_ones(sample_platform):
    sample_platform["security"] = {}
    cfg = parse_platform(sample_platform)
    s = cfg.security
    assert (s.log_archive.object_lock.mode, s.log_archive.object_lock.retention_days) == ("COMPLIANCE", 365)
    assert s.log_archive.expire_days is None  # logs are never expired unless asked
    assert s.control_tower.enabled is False
    assert log_archive_bucket_names(cfg) == ("mrd-log-archive-111111111111", "mrd-config-history-111111111111",
                                             "mrd-log-access-111111111111")
    assert trail_name(cfg) == "mrd-organization-trail"


def test_default_data_events_follow_the_data_layer(sample_platform):
    cfg = parse_platform(sample_platform)
    targets = data_event_buckets(cfg)
    assert "mrd-data-lake-transactions-raw-111111111111" in targets
    assert "mrd-fraud-detection-prod-models-111111111111" in targets
    # Dev holds production data in its experimentation buckets; it has no datasets bucket.
    assert "mrd-document-vision-dev-experimentation-111111111111" in targets
    assert "mrd-document-vision-dev-datasets-111111111111" not in targets
    assert not any("-access-logs-" in t for t in targets)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda s: s["log_archive"].update(object_lock={"mode": "COMPLIANCE", "retention_days": 0}),
     "security.log_archive.object_lock.retention_days"),
    (lambda s: s["log_archive"].update(object_lock={"mode": "LEGAL_HOLD", "retention_days": 365}),
     "security.log_archive.object_lock.mode"),
    (lambda s: s["log_archive"].update(expire_days=30),
     "security.log_archive.expire_days: 30 is shorter than security.log_archive.object_lock.retention_days"),
    (lambda s: s["log_archive"].update(transitions=[{"days": 10, "storage_class": "STANDARD_IA"}]),
     "security.log_archive.transitions[0].days: 10 is too early for STANDARD_IA"),
    (lambda s: s["log_archive"].update(transitions=[{"days": 90, "storage_class": "GLACIER_IR"},
                                                    {"days": 60, "storage_class": "DEEP_ARCHIVE"}]),
     "security.log_archive.transitions[1].days: 60 does not come after"),
    (lambda s: s["log_archive"].update(transitions=[{"days": 90, "storage_class": "TAPE"}]),
     "security.log_archive.transitions[0].storage_class"),
    (lambda s: s["log_archive"].update(bucket_name="Log_Archive"), "security.log_archive.bucket_name: 'Log_Archive'"),
    (lambda s: s["log_archive"].update(auditor_role_names=["bad role"]), "security.log_archive.auditor_role_names[0]"),
    (lambda s: s["trail"].update(cloudwatch_retention_days=100), "security.trail.cloudwatch_retention_days: 100"),
    (lambda s: s["trail"].update(name="x"), "security.trail.name: 'x'"),
    (lambda s: s["trail"].update(data_event_buckets=["Not A Bucket"]), "security.trail.data_event_buckets[0]"),
    (lambda s: s["config"].update(baseline_ous=["Playground"]), "security.config.baseline_ous[0]: unknown OU 'Playground'"),
    (lambda s: s["config"].update(delivery_frequency="Weekly"), "security.config.delivery_frequency"),
    (lambda s: s["services"].update(guardduty_features=["S3_PROTECTION"]),
     "security.services.guardduty_features[0]: unknown feature 'S3_PROTECTION'"),
    (lambda s: s["alerts"].update(emails=["not-an-email"]), "security.alerts.emails[0]: 'not-an-email'"),
    (lambda s: s["control_tower"].update(enabled=True, controls=[{"guardrail": "S3-9", "identifier": "AWS-GR_X"}]),
     "security.control_tower.controls[0].guardrail: unknown guardrail 'S3-9'"),
    (lambda s: s["control_tower"].update(controls=[{"guardrail": "S3-3", "identifier": "AWS-GR_S3_VERSIONING_ENABLED",
                                                    "ous": ["Nowhere"]}]),
     "security.control_tower.controls[0].ous[0]: unknown OU 'Nowhere'"),
    (lambda s: s.update(unknown_key=True), "security.unknown_key: unknown key"),
])
def test_bad_security_settings_name_the_key(sample_platform, mutate, expected):
    mutate(sample_platform["security"])
    assert expected in problems_of(sample_platform)


def test_every_problem_is_reported_at_once(sample_platform):
    s = sample_platform["security"]
    s["log_archive"]["expire_days"] = 10
    s["trail"]["cloudwatch_retention_days"] = 2
    s["alerts"]["emails"] = ["nope"]
    joined = problems_of(sample_platform)
    for key in ("security.log_archive.expire_days", "security.trail.cloudwatch_retention_days", "security.alerts.emails[0]"):
        assert key in joined


def test_config_rule_names_fit_with_the_longest_prefix(sample_platform):
    sample_platform["name_prefix"] = "p" * 16  # the longest prefix the schema allows
    sample_platform["bucket_suffix"] = "m1"  # so that the bucket names fit too
    cfg = parse_platform(sample_platform)
    assert max(len(rule_name(cfg.name_prefix, r)) for r in DETECTIVE_RULES) <= 64
