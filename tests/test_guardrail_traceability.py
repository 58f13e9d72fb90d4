"""Every guardrail of the catalog is traced to what enforces it, and the document says so."""

from __future__ import annotations

import pytest

from tools.guardrail_catalog import find_catalog, read_catalog
from tools.guardrail_traceability import OUTPUT, enforcement, missing, render

pytestmark = pytest.mark.skipif(find_catalog() is None, reason="GUARDRAILS.md is not beside the repository")


def test_every_enforcement_the_catalog_names_exists():
    assert missing(read_catalog(), enforcement()) == []


def test_a_missing_enforcement_is_reported():
    found = enforcement()
    found["SM-4"]["scp"] = []
    found["LOG-1"]["config"] = found["LOG-1"]["config"][:1]
    assert missing(read_catalog(), found) == [
        "LOG-1: the catalog names Config rule MULTI_REGION_CLOUD_TRAIL_ENABLED, the security layer has none",
        "SM-4: the catalog asks for an SCP, none carries its Sid",
    ]


def test_the_committed_document_is_up_to_date():
    assert OUTPUT.read_text() == render(), "run `python -m tools.guardrail_traceability`"
