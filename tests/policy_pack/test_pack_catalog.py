"""The catalog, the coverage of GUARDRAILS.md and the generated data stay in step with the pack."""

from __future__ import annotations

import json

import pytest
from ml_guardrails import DOMAINS, all_policies, catalog, taggable
from ml_guardrails.common import guardrail_id
from pack_helpers import PACK_DIR, SAMPLE_CONFIG

from offline_preview.policy_analyzer import load_policy_config, reconcile_policy_config
from tools.guardrail_catalog import find_catalog, read_catalog, read_limits



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


@pytest.mark.skipif(find_catalog() is None, reason="GUARDRAILS.md is not beside the repository")
def test_every_crossguard_guardrail_has_a_policy():
    ids = [g.id for g in read_catalog() if g.has_crossguard]
    assert len(ids) >= 30
    covered = {p.guardrail_id for p in all_policies()}
    assert not [i for i in ids if i not in covered], f"guardrails without a policy: {[i for i in ids if i not in covered]}"


@pytest.mark.skipif(find_catalog() is None, reason="GUARDRAILS.md is not beside the repository")
def test_every_crossguard_limit_has_a_policy():
    covered = {p.guardrail_id for p in all_policies() if p.guardrail_id.startswith("LIM-")}
    assert covered == {f"LIM-{i}" for i in range(1, len(read_limits()) + 1)}


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
