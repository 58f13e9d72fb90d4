"""The outputs each stack exports are exactly the ones the README documents as its contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
KINDS = {"organization": "organization", "security": "security", "network": "network",
         "data-lake": "data-lake", "<project>-<env>": "fraud-detection-dev"}


def documented() -> dict[str, set[str]]:
    """`### <stack>` sections of "Stack outputs (contract)": the backticked names in each row's first cell."""
    text = README.read_text().split("## Stack outputs (contract)", 1)[1].split("\n## ", 1)[0]
    found = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        title, body = section.split("\n", 1)
        names = set()
        for row in body.splitlines():
            if row.startswith("| `"):
                names.update(re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", row.split("|")[1]))
        found[title.strip().strip("`")] = names
    return found


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_exports_match_the_documented_contract(kind, sample_runs):
    assert set(sample_runs(KINDS[kind]).outputs) == documented()[kind]


def test_every_project_stack_exports_the_same_contract(sample_runs):
    contract = documented()["<project>-<env>"]
    for stack in ("fraud-detection-preprod", "fraud-detection-prod", "document-vision-dev"):
        assert set(sample_runs(stack).outputs) == contract, stack
