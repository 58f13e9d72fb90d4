"""The guardrail catalog (guardrail_catalog/guardrails.yaml): its schema and the pack's copy of it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import guardrail_catalog
from guardrail_catalog import CATALOG_FILE, CatalogError, load_catalog, parse_catalog
from guardrail_catalog.__main__ import main as catalog_main

ROOT = Path(__file__).resolve().parent.parent
RAW = yaml.safe_load(CATALOG_FILE.read_text())


def problems(data) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data)
    return caught.value.problems


def raw() -> dict:
    return copy.deepcopy(RAW)


def test_the_committed_catalog_is_valid():
    cat = load_catalog()
    assert len(cat.guardrails) >= 37 and len(cat.limits) == 7 and cat.platform_rules
    assert {g.area for g in cat.guardrails} == set(cat.areas)
    cited = {s for e in cat.entries() for s in e.sources}
    assert cited == set(cat.sources), "every source is cited and every cited source is described"
    for entry in cat.entries():
        assert entry.summary and entry.sources


def test_seeds_are_named_for_the_source_documents():
    sources = load_catalog().sources
    assert {k for k, s in sources.items() if s.seed} == {"WP", "GOV", "TALK", "RK"}
    assert sources["WP"].seed.startswith("002_")


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d.update(version=2), "(top level).version: unknown key"),
    (lambda d: d["guardrails"][0].update(owner="x"), "guardrails[0] (ORG-1).owner: unknown key"),
    (lambda d: d["guardrails"][0]["scp"].update(ous=["Root"]), "guardrails[0] (ORG-1).scp.ous: unknown key"),
    (lambda d: d["sources"]["WP"].update(url="x"), "sources.WP.url: unknown key"),
    (lambda d: d["limits"][0].update(area="organization"), "limits[0] (LIM-1).area: unknown key"),
    (lambda d: d["guardrails"][1].update(id="ORG-1"), "guardrails[1] (ORG-1).id: duplicate id ORG-1 (first in guardrails[0])"),
    (lambda d: d["platform_rules"][0].update(id="SM-4"), "platform_rules[0] (SM-4).id: duplicate id SM-4"),
    (lambda d: d["guardrails"][0].update(id="org-1"), "guardrails[0] (org-1).id: 'org-1' is not an id like SM-4"),
    (lambda d: d["guardrails"][0].update(id="ORG1"), "guardrails[0] (ORG1).id: 'ORG1' is not an id"),
    (lambda d: d["guardrails"][0].update(id="ORG-01"), "guardrails[0] (ORG-01).id: 'ORG-01' is not an id"),
    (lambda d: d["guardrails"][0].update(id=7), "guardrails[0].id: 7 is not an id"),
    (lambda d: d["guardrails"][0].update(id="LIM-9"), "guardrails[0] (LIM-9).id: LIM-n ids are for the limits list"),
    (lambda d: d["limits"][0].update(id="SIZE-1"), "limits[0] (SIZE-1).id: LIM-n ids are for the limits list"),
    (lambda d: d["guardrails"][0].update(sources=["WP", "BLOG"]), "guardrails[0] (ORG-1).sources: unknown source 'BLOG'"),
    (lambda d: d["guardrails"][0].update(sources=[]), "guardrails[0] (ORG-1).sources: name at least one source"),
    (lambda d: d["guardrails"][0].update(area="identity"), "guardrails[0] (ORG-1).area: unknown area 'identity'"),
    (lambda d: d["guardrails"][0].pop("summary"), "guardrails[0] (ORG-1).summary: required key is missing"),
    (lambda d: d["guardrails"][0].update(summary=""), "guardrails[0] (ORG-1).summary: must be a non-empty string"),
    (lambda d: d["guardrails"][0]["scp"].update(targets=[]), "guardrails[0] (ORG-1).scp.targets: name at least one"),
    (lambda d: d["guardrails"][0]["scp"].update(targets=["Workloads/"]), "scp.targets: 'Workloads/' is malformed"),
    (lambda d: d["guardrails"][0]["scp"].update(optional="yes"), "guardrails[0] (ORG-1).scp.optional: must be true or false"),
    (lambda d: d["guardrails"][1].update(config=["cloudtrail-enabled"]), "config: 'cloudtrail-enabled' is malformed"),
    (lambda d: d["guardrails"][1].update(crossguard=["log-2-archive"]),
     "guardrails[1] (LOG-1).crossguard: policy 'log-2-archive' must start with 'log-1-'"),
    (lambda d: d["guardrails"][1].update(crossguard="log-1-trail"), "guardrails[1] (LOG-1).crossguard: must be a list"),
    (lambda d: d["guardrails"][1].update(config=["CLOUD_TRAIL_ENABLED"] * 2), "config: duplicates CLOUD_TRAIL_ENABLED"),
    (lambda d: d.pop("limits"), "(top level).limits: required key is missing"),
])
def test_a_schema_error_is_reported(edit, expected):
    data = raw()
    edit(data)
    assert any(expected in p for p in problems(data)), problems(data)


def test_every_error_is_reported_at_once():
    data = raw()
    data["guardrails"][0]["owner"] = "x"
    data["guardrails"][4]["id"] = "ORG-1"  # LOG-4, which has no policies to rename
    data["limits"][0]["sources"] = ["NOPE"]
    assert [p.split(":")[0] for p in problems(data)] == [
        "guardrails[0] (ORG-1).owner", "limits[0] (LIM-1).sources", "guardrails[4] (ORG-1).id"]


def test_a_key_given_twice_is_an_error(tmp_path):
    text = CATALOG_FILE.read_text().replace("  - id: LOG-4\n", "  - id: LOG-4\n    summary: twice\n", 1)
    path = tmp_path / "guardrails.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError, match="duplicate key 'summary'"):
        load_catalog(path)


def test_a_missing_catalog_is_an_error_not_an_empty_catalog(tmp_path):
    with pytest.raises(CatalogError, match="the guardrail catalog does not exist"):
        load_catalog(tmp_path / "guardrails.yaml")


def test_the_pack_copy_is_written_and_checked(tmp_path, monkeypatch, capsys):
    assert catalog_main(["--check"]) == 0  # the committed copy is current
    copy_path = tmp_path / "guardrail_catalog.json"
    monkeypatch.setattr("guardrail_catalog.__main__.PACK_COPY", copy_path)
    assert catalog_main(["--check"]) == 1
    assert catalog_main([]) == 0 and copy_path.read_text() == guardrail_catalog.render_pack_copy()
    assert catalog_main(["--check"]) == 0
    copy_path.write_text(copy_path.read_text().replace("ORG-1", "ORG-9"))
    assert catalog_main(["--check"]) == 1
    assert "is stale; run python -m guardrail_catalog" in capsys.readouterr().err


def test_nothing_reads_a_catalog_outside_the_repository():
    # A user's clone has nothing beside it: the catalog is this repository's own data.
    outside = ("GUARDRAILS.md", "../shared", '"shared" /', "'shared' /")
    found = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if path == Path(__file__) or not path.is_file() or parts[0] in (".venv", ".git", "build", ".pytest_cache"):
            continue
        if path.suffix not in (".py", ".md", ".yaml", ".yml", ".json", ".ini", ".txt", "") or "__pycache__" in parts:
            continue
        text = path.read_text(errors="ignore")
        found += [f"{path.relative_to(ROOT)}: {s}" for s in outside if s in text]
    assert found == []
