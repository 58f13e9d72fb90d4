"""The offline preview feeds what a program registers to the real policy pack (ml-guardrails)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline_preview.analysis import analyzed_resources
from offline_preview.cli import main
from offline_preview.engine import load_program
from offline_preview.preview import (
    DEFAULT_POLICY_CONFIG_NAME,
    DEFAULT_POLICY_PACK,
    PolicySettings,
    preview,
)

PROGRAMS = Path(__file__).resolve().parent / "programs"
VIOLATION = load_program(PROGRAMS / "violation")
POLICY_CONFIG = json.loads((DEFAULT_POLICY_PACK / DEFAULT_POLICY_CONFIG_NAME).read_text())
RULE_URN = ("urn:pulumi:open-ssh::violation-demo::aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
            "::ssh-from-anywhere")


@pytest.fixture(scope="module")
def result():
    return preview(VIOLATION, VIOLATION.stack_config_dir, policy=PolicySettings(DEFAULT_POLICY_PACK, POLICY_CONFIG))


def test_mandatory_violation_names_policy_and_urn(result):
    assert result.policy_pack == "ml-guardrails"
    found = [(v.policy, v.urn) for v in result.mandatory]
    assert ("net-3-no-ingress-from-anywhere", RULE_URN) in found
    assert not result.succeeded
    stack = result.stack("open-ssh")
    assert stack.analyzed == len(stack.run.resources)  # every resource went to the pack


def test_policies_are_listed_with_their_levels(result):
    levels = {p.name: p.enforcement_level for p in result.policies}
    assert levels["net-3-no-ingress-from-anywhere"] == "mandatory"
    # The policy configuration's levels win over the pack's defaults.
    for name, setting in POLICY_CONFIG.items():
        if isinstance(setting, dict) and "enforcementLevel" in setting:
            assert levels[name] == setting["enforcementLevel"]


def test_default_provider_is_resolved_from_stack_config(result):
    run = result.stack("open-ssh").run
    resource = next(r for r in analyzed_resources(run) if r.name == "vpc")
    assert resource.provider == {
        "type": "pulumi:providers:aws", "name": "default",
        "urn": "urn:pulumi:open-ssh::violation-demo::pulumi:providers:aws::default",
        "properties": {"region": "eu-west-1"},
    }


def test_explicit_provider_is_resolved_from_its_registration():
    basic = load_program(PROGRAMS / "basic")
    run = preview(basic, basic.stack_config_dir, ["base"]).stack("base").run
    vpc = next(r for r in analyzed_resources(run) if r.name == "core")
    assert vpc.provider["urn"] == "urn:pulumi:base::basic-demo::pulumi:providers:aws::shared"
    assert vpc.provider["properties"]["region"] == "eu-central-1"
    assert vpc.parent == "urn:pulumi:base::basic-demo::pulumi:pulumi:Stack::basic-demo-base"


def test_cli_exits_non_zero_and_reports_the_violation(tmp_path, capsys):
    status = main(["--program-dir", str(PROGRAMS / "violation"), "--out", str(tmp_path), "--jobs", "1"])
    out = capsys.readouterr().out
    assert status == 1
    assert f"[net-3-no-ingress-from-anywhere] {RULE_URN}" in out
    plan = json.loads((tmp_path / "plan.json").read_text())
    violation = next(v for v in plan["stacks"][0]["violations"] if v["policy"] == "net-3-no-ingress-from-anywhere")
    assert violation["enforcementLevel"] == "mandatory" and violation["urn"] == RULE_URN
    report = (tmp_path / "guardrails.md").read_text()
    assert "### `net-3-no-ingress-from-anywhere` (mandatory)" in report


def test_over_grpc_the_cli_reports_the_same_plan(tmp_path, capsys, monkeypatch):
    # The default transport (pipes to the pack's servicer) and the engine's (gRPC) give the same plan.
    from offline_preview.policy_analyzer import PolicyAnalyzer

    used = []
    start = PolicyAnalyzer.start
    monkeypatch.setattr(PolicyAnalyzer, "start", lambda self: (start(self), used.append(self.transport))[0])
    plans = {}
    for transport in ("pipe", "grpc"):
        out = tmp_path / transport
        status = main(["--program-dir", str(PROGRAMS / "violation"), "--out", str(out), "--jobs", "1",
                       "--policy-transport", transport])
        assert status == 1
        plans[transport] = (out / "plan.json").read_text()
    assert "net-3-no-ingress-from-anywhere" in plans["grpc"]
    assert plans["pipe"] == plans["grpc"]
    assert used == ["pipe", "grpc"]
    capsys.readouterr()
