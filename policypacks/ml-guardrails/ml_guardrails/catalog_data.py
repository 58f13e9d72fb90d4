"""The guardrail catalog as the pack ships it (`data/guardrail_catalog.json`).

The pack is published as this directory alone, so it carries its own copy of the repository's
catalog (`guardrail_catalog/guardrails.yaml`), written and checked by `python -m
guardrail_catalog` at the repository root; the copy is already validated, so this module only
reads it. A missing copy is an error: the pack does not load without its catalog.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).resolve().parent / "data" / "guardrail_catalog.json"


@cache
def entries() -> dict[str, dict[str, Any]]:
    """Catalog id -> entry (guardrails, limits and platform rules), in catalog order."""
    data = json.loads(DATA_FILE.read_text())
    return {e["id"]: e for key in ("guardrails", "limits", "platform_rules") for e in data[key]}


def unknown_guardrails(policies: list[Any]) -> list[str]:
    """`policy -> id` for every policy whose guardrail id the catalog does not have."""
    known = entries()
    return [f"{p.name} -> {p.guardrail_id}" for p in policies if p.guardrail_id not in known]
