"""Every guardrail of the catalog is traced to what enforces it, and the document says so."""

from __future__ import annotations

from guardrail_catalog import catalog
from tools.guardrail_traceability import OUTPUT, enforcement, missing, render


def test_every_enforcement_the_catalog_names_exists():
    assert missing(catalog(), enforcement()) == []


def test_a_missing_enforcement_is_reported():
    found = enforcement()
    found["SM-4"]["scp"] = []
    found["LOG-1"]["config"] = found["LOG-1"]["config"][:1]
    assert missing(catalog(), found) == [
        "LOG-1: the catalog names Config rule MULTI_REGION_CLOUD_TRAIL_ENABLED, the security layer has none",
        "SM-4: the catalog asks for an SCP, none carries its Sid",
    ]


def test_an_enforcement_the_catalog_does_not_name_is_reported():
    found = enforcement()
    found["S3-2"]["config"].append("S3_DEFAULT_ENCRYPTION_KMS")
    found["KMS-2"]["scp"].append(("KMS2DenyKeyPolicyChanges", ("Root",)))
    found["NET-5"]["crossguard"].append("net-5-no-peering")
    found["MOD-1"]["scp"] = [("MOD1DenyRekognitionProjectChanges", ("Workloads/Dev",))]
    found["XYZ-1"]["crossguard"] = ["xyz-1-something"]
    assert missing(catalog(), found) == [
        "S3-2: the security layer has Config rule S3_DEFAULT_ENCRYPTION_KMS, the catalog does not name it",
        "KMS-2: SCP statement KMS2DenyKeyPolicyChanges is not in the catalog (it names no SCP)",
        "NET-5: the pack's policy net-5-no-peering is not in the catalog",
        "MOD-1: SCP statement MOD1DenyRekognitionProjectChanges goes to Workloads/Dev; "
        "the catalog says Workloads",
        "XYZ-1: the code enforces it, the catalog has no such id",
    ]


def test_the_document_shows_each_entry_with_its_sources():
    text = render()
    for entry in catalog().entries():
        row = next(line for line in text.splitlines() if line.startswith(f"| {entry.id} | "))
        assert entry.summary in row
    assert "| S3-1 | No bucket is public, and the account-level public access block cannot be changed. | WP, GOV, TALK |" in text
    for key, source in catalog().sources.items():
        assert f"- {key}: {source.title}" in text


def test_the_committed_document_is_up_to_date():
    assert OUTPUT.read_text() == render(), "run `python -m tools.guardrail_traceability`"
