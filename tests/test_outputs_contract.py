"""The outputs each stack exports are exactly the ones the README documents as its contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
KINDS = {"organization": "organization", "identity": "identity", "security": "security", "network": "network",
         "data-lake": "data-lake", "shared-services": "shared-services", "<project>-<env>": "fraud-detection-dev",
         "<project>-delivery": "fraud-detection-delivery"}


def documented(optional: bool = False) -> dict[str, set[str]]:
    """`### <stack>` sections of "Stack outputs (contract)": the backticked names in each row's
    first cell; rows whose meaning starts "(when" only with `optional`."""
    text = README.read_text().split("## Stack outputs (contract)", 1)[1].split("\n## ", 1)[0]
    found = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        title, body = section.split("\n", 1)
        names = set()
        for row in body.splitlines():
            cells = row.split("|")
            if row.startswith("| `") and (optional or not cells[2].strip().startswith("(when")):
                names.update(re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", cells[1]))
        found[title.strip().strip("`")] = names
    return found


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_exports_match_the_documented_contract(kind, sample_runs):
    assert set(sample_runs(KINDS[kind]).outputs) == documented()[kind]


def test_optional_outputs_appear_when_configured(run_platform, sample_platform):
    sample_platform["network"]["on_premises"] = {"connection": "vpn", "customer_gateway_ip": "198.51.100.10",
                                                 "bgp_asn": 65010, "cidrs": ["10.0.0.0/12"]}
    sample_platform["network"]["egress"] = {"cidr": "10.64.16.0/24", "accounts": ["shared-services"]}
    assert set(run_platform("network", platform=sample_platform).outputs) == documented(optional=True)["network"]


def test_every_project_stack_exports_the_same_contract(sample_runs):
    contract = documented()["<project>-<env>"]
    for stack in ("fraud-detection-preprod", "fraud-detection-prod", "document-vision-dev"):
        assert set(sample_runs(stack).outputs) == contract, stack
