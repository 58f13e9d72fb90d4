"""CATALOG.md, the coverage of the guardrail catalog and the generated data stay in step with the pack."""

from __future__ import annotations

import copy
import json

import pytest
from ml_guardrails import DOMAINS, all_policies, catalog, catalog_data, check_guardrail_ids, taggable
from ml_guardrails.common import guardrail_id
from pack_helpers import PACK_DIR, SAMPLE_CONFIG

import guardrail_catalog
from offline_preview.policy_analyzer import load_policy_config, reconcile_policy_config

def test_catalog_is_up_to_date():
    committed = (PACK_DIR / "CATALOG.md").read_text() if (PACK_DIR / "CATALOG.md").exists() else ""
    assert committed == catalog.render(), (
        "policypacks/ml-guardrails/CATALOG.md is stale: run `python -m ml_guardrails.catalog` in policypacks/ml-guardrails")


def test_catalog_lists_every_policy_with_its_metadata():
    text = catalog.render()
    for policy in all_policies():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{policy.name}` |"))
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[1:6] == [policy.guardrail_id, policy.domain, policy.kind, policy.severity_name, policy.enforcement_name]


def test_the_pack_has_exactly_the_policies_the_catalog_names():
    named = {(e.id, name) for e in guardrail_catalog.catalog().entries() for name in e.crossguard}
    assert len({i for i, _ in named}) >= 40
    assert {(p.guardrail_id, p.name) for p in all_policies()} == named


def test_every_crossguard_limit_has_a_policy():
    limits = guardrail_catalog.read_limits()
    assert [g.id for g in limits] == [f"LIM-{i}" for i in range(1, len(limits) + 1)]
    covered = {p.guardrail_id for p in all_policies() if p.guardrail_id.startswith("LIM-")}
    assert covered == {g.id for g in limits if g.crossguard}


def test_the_pack_ships_the_current_catalog():
    assert catalog_data.DATA_FILE.read_text() == guardrail_catalog.render_pack_copy(), (
        "ml_guardrails/data/guardrail_catalog.json is stale: run `python -m guardrail_catalog`")
    assert list(catalog_data.entries()) == [e.id for e in guardrail_catalog.catalog().entries()]


def test_a_policy_naming_a_guardrail_outside_the_catalog_stops_the_pack():
    policies = all_policies()
    stray = copy.copy(policies[0])
    stray.name, stray.guardrail_id = "xyz-1-made-up", "XYZ-1"
    check_guardrail_ids(policies)
    with pytest.raises(ValueError, match=r"xyz-1-made-up -> XYZ-1"):
        check_guardrail_ids([*policies, stray])


def test_catalog_md_lists_the_entries_the_pack_leaves_to_other_layers():
    text = catalog.render()
    covered = {p.guardrail_id for p in all_policies()}
    for entry in guardrail_catalog.catalog().entries():
        listed = any(line.startswith(f"| {entry.id} | {entry.summary} |") for line in text.splitlines())
        assert listed == (entry.id not in covered), entry.id


def test_every_policy_is_described_and_graded():
    policies = all_policies()
    assert {p.domain for p in policies} == set(DOMAINS)
    for policy in policies:
        assert guardrail_id(policy.name) == policy.guardrail_id
        assert policy.description.startswith(f"{policy.guardrail_id}: "), policy.name
        assert policy.remediation and policy.severity is not None and policy.enforcement_level is not None
        assert policy.config_schema is not None and "exemptResources" in policy.config_schema.properties
        if policy.enforcement_name == "advisory":
            assert policy.severity_name == "low", f"{policy.name}: advisory policies are cost/hygiene"


def test_running_pack_reports_what_the_catalog_says(analyzer):
    by_name = {p.name: p for p in all_policies()}
    assert analyzer.info.name == "ml-guardrails" and analyzer.info.supports_config
    assert sorted(by_name) == sorted(p.name for p in analyzer.info.policies)
    for info in analyzer.info.policies:
        policy = by_name[info.name]
        assert (info.enforcement_level, info.severity, info.policy_type) == (
            policy.enforcement_name, policy.severity_name, policy.kind)
        assert info.framework_reference == policy.guardrail_id and info.remediation_steps == policy.remediation


def test_sample_configuration_matches_the_sample_company(analyzer):
    config = load_policy_config(SAMPLE_CONFIG)
    assert set(config) <= {p.name for p in analyzer.info.policies}
    assert config["reg-1-allowed-regions"]["allowedRegions"] == ["eu-west-1", "eu-central-1"]
    assert config["sm-8-notebook-instance-types"]["allowedInstanceTypes"] == ["ml.t3.medium", "ml.m5.xlarge", "ml.g4dn.xlarge"]
    assert config["lim-2-scps-per-target"]["maxScpsPerTarget"] == 5
    assert config["tag-1-mandatory-tags"]["mandatoryTags"] == ["owner", "project", "environment", "cost-center",
                                                               "data-classification"]
    reconciled = reconcile_policy_config(analyzer.info, config)
    assert reconciled["tag-1-mandatory-tags"][0] == "advisory"
    assert reconciled["s3-2-bucket-sse-kms"] == ("mandatory", {"exemptResources": [], "exemptTags": {}})


def test_taggable_types_match_the_installed_sdk():
    data = json.loads(taggable.DATA_FILE.read_text())
    assert taggable.render(taggable.generate()) == taggable.DATA_FILE.read_text(), (
        "ml_guardrails/data/taggable_types.json is stale: run `python -m ml_guardrails.taggable`")
    assert "aws:s3/bucket:Bucket" in data["defaultTags"] and "aws:iam/rolePolicy:RolePolicy" not in data["defaultTags"]
