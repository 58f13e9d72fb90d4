"""Trace every guardrail of the catalog to what enforces it, from the code itself.

    python -m tools.guardrail_traceability          # rewrites docs/guardrail-traceability.md

For each catalog id (`guardrail_catalog/guardrails.yaml`): the SCP statements (Sid and the OUs
they are attached to, for the sample configuration), the AWS Config organization rules, and
the CrossGuard policies. An auditor follows a requirement from its sources to the three places
that enforce it; a test fails when the committed document is stale or when the code and the
catalog disagree in either direction (an enforcement the catalog names is missing, or the code
has one the catalog does not name).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import yaml

from components.config_rules import DETECTIVE_RULES
from guardrail_catalog import Catalog, Guardrail, catalog
from policy_documents.scp_library import guardrail_statements
from stacks.config import parse_platform
from stacks.organization import scp_settings

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "guardrail-traceability.md"
PACK = ROOT / "policypacks" / "ml-guardrails"
LAYERS = ("scp", "config", "crossguard")


def _pack_policies() -> dict[str, list[str]]:
    """Guardrail id -> names of the pack's policies (the pack is its own package)."""
    sys.path.insert(0, str(PACK))
    try:
        from ml_guardrails import all_policies  # noqa: PLC0415 (lives beside the pack)
    finally:
        sys.path.remove(str(PACK))
    found: dict[str, list[str]] = defaultdict(list)
    for policy in all_policies():
        found[policy.guardrail_id].append(policy.name)
    return found


def _empty() -> dict[str, list]:
    return {layer: [] for layer in LAYERS}


def enforcement() -> dict[str, dict[str, list]]:
    """Guardrail id -> {"scp": [(sid, targets)], "config": [rule ids], "crossguard": [names]},
    from the code."""
    platform = parse_platform(yaml.safe_load((ROOT / "stacks" / "platform.yaml").read_text()))
    found: dict[str, dict[str, list]] = defaultdict(_empty)
    # SM-9 is optional (off in the sample); show it as the library builds it when configured.
    settings = replace(scp_settings(platform), sagemaker_source_vpce_ids=("vpce-0123456789abcdef0",))
    for statement in guardrail_statements(settings):
        found[statement.guardrail_id]["scp"].append((statement.sid, tuple(statement.targets)))
    for rule in DETECTIVE_RULES:
        found[rule.guardrail]["config"].append(rule.identifier)
    for guardrail_id, names in _pack_policies().items():
        found[guardrail_id]["crossguard"] = list(names)
    return found


def missing(cat: Catalog, found: dict[str, dict[str, list]]) -> list[str]:
    """Every disagreement between the catalog and the code, catalog order first."""
    problems = []
    for g in cat.entries():
        have = found.get(g.id, _empty())
        if g.scp is not None and not have["scp"]:
            problems.append(f"{g.id}: the catalog asks for an SCP, none carries its Sid")
        for sid, targets in have["scp"]:
            if g.scp is None:
                problems.append(f"{g.id}: SCP statement {sid} is not in the catalog (it names no SCP)")
            elif set(targets) != set(g.scp.targets):
                problems.append(f"{g.id}: SCP statement {sid} goes to {', '.join(targets)}; "
                                f"the catalog says {', '.join(g.scp.targets)}")
        for rule in g.config:
            if rule not in have["config"]:
                problems.append(f"{g.id}: the catalog names Config rule {rule}, the security layer has none")
        for rule in have["config"]:
            if rule not in g.config:
                problems.append(f"{g.id}: the security layer has Config rule {rule}, the catalog does not name it")
        for name in g.crossguard:
            if name not in have["crossguard"]:
                problems.append(f"{g.id}: the catalog names CrossGuard policy {name}, the pack has none")
        for name in have["crossguard"]:
            if name not in g.crossguard:
                problems.append(f"{g.id}: the pack's policy {name} is not in the catalog")
    known = {g.id for g in cat.entries()}
    for guardrail_id in sorted(set(found) - known):
        if any(found[guardrail_id].values()):
            problems.append(f"{guardrail_id}: the code enforces it, the catalog has no such id")
    return problems


def _cells(have: dict[str, list]) -> list[str]:
    scp = [f"`{sid}` → {', '.join(targets)}" for sid, targets in have["scp"]]
    config = [f"`{rule}`" for rule in have["config"]]
    crossguard = [f"`{name}`" for name in have["crossguard"]]
    return ["<br>".join(cell) or "—" for cell in (scp, config, crossguard)]


def _row(g: Guardrail, found: dict[str, dict[str, list]], *first: str) -> str:
    cells = [g.id, *first, *_cells(found.get(g.id, _empty()))]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _described(g: Guardrail) -> str:
    return f"{g.summary}<br>*{g.notes}*" if g.notes else g.summary


def render(cat: Catalog | None = None) -> str:
    cat = cat or catalog()
    found = enforcement()
    lines = [
        "# Guardrail traceability",
        "",
        "Generated by `python -m tools.guardrail_traceability` from the code and the guardrail catalog",
        "(`guardrail_catalog/guardrails.yaml`); do not edit. SCP targets are those of the sample configuration",
        "(`stacks/platform.yaml`), with the optional SM-9 turned on to show it.",
        "",
        "Sources:",
        "",
    ]
    lines += [f"- {key}: {s.title}" + (f" (seed `{s.seed}`)" if s.seed else "") for key, s in cat.sources.items()]
    header = "| id | {} | sources | SCP statements → targets | AWS Config rules | CrossGuard policies |"
    rule = "|---|---|---|---|---|---|"
    for area, title in cat.areas.items():
        lines += ["", f"## {title}", "", header.format("guardrail"), rule]
        lines += [_row(g, found, _described(g), ", ".join(g.sources)) for g in cat.guardrails if g.area == area]
    lines += ["", "## AWS limits", "", "| id | limit | value | SCP statements → targets | AWS Config rules | "
              "CrossGuard policies |", rule]
    lines += [_row(g, found, _described(g), g.value or "") for g in cat.limits]
    lines += ["", "## Platform rules", "", header.format("rule"), rule]
    lines += [_row(g, found, _described(g), ", ".join(g.sources)) for g in cat.platform_rules]
    return "\n".join(lines) + "\n"


def main() -> int:
    problems = missing(catalog(), enforcement())
    for problem in problems:
        print(f"missing: {problem}", file=sys.stderr)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
