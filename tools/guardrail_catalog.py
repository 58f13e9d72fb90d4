"""The guardrail catalog (`GUARDRAILS.md`, in `../shared/` beside the repository) as data.

One reader for every test and tool that traces a requirement to what enforces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = (ROOT / "GUARDRAILS.md", ROOT.parent / "shared" / "GUARDRAILS.md")
_ID = re.compile(r"^[A-Z0-9]+-\d+$")
_RULE = re.compile(r"\b[A-Z0-9]+(?:_[A-Z0-9]+)+\b")
_NONE = ("—", "-", "")


@dataclass(frozen=True)
class Guardrail:
    """One row of the catalog: its id, wording, and the three enforcement columns as written."""

    id: str
    guardrail: str
    scp: str
    config: str
    crossguard: str
    source: str

    @property
    def has_scp(self) -> bool:
        return self.scp not in _NONE

    @property
    def has_crossguard(self) -> bool:
        return self.crossguard not in _NONE

    @property
    def config_rules(self) -> list[str]:
        """AWS Config managed-rule identifiers the Config column names."""
        return _RULE.findall(self.config)


def find_catalog() -> Path | None:
    """The catalog file, when it is beside the repository (CI) or in it."""
    return next((p for p in CANDIDATES if p.exists()), None)


def read_catalog(path: Path | None = None) -> list[Guardrail]:
    """Every guardrail row of the catalog's tables, in catalog order."""
    path = path or find_catalog()
    if path is None:
        raise FileNotFoundError("GUARDRAILS.md is neither in the repository nor in ../shared")
    rows = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and _ID.match(cells[0]):
            rows.append(Guardrail(*cells))
    return rows


def read_limits(path: Path | None = None) -> list[str]:
    """The rows of the "AWS limits" table checked by CrossGuard, in order."""
    path = path or find_catalog()
    if path is None:
        raise FileNotFoundError("GUARDRAILS.md is neither in the repository nor in ../shared")
    section = path.read_text().split("## AWS limits", 1)[1]
    return [line for line in section.splitlines() if line.startswith("|") and "CrossGuard" in line]
