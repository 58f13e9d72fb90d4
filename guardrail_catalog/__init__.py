"""The guardrail catalog (`guardrail_catalog/guardrails.yaml`) as validated data.

The one reader for the program, the tests and the generated docs. The CrossGuard pack runs as
its own program from `policypacks/ml-guardrails` and is published as that directory alone, so
it ships a copy of the catalog (`ml_guardrails/data/guardrail_catalog.json`) that
`python -m guardrail_catalog` writes from this one and `--check` (and the tests) keep equal.

The schema is strict: an unknown key, a duplicate or malformed id, an unknown source or area,
or a policy name that does not start with its guardrail id is an error, and every error is
reported at once (:class:`CatalogError`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CATALOG_FILE = Path(__file__).resolve().parent / "guardrails.yaml"
ROOT = CATALOG_FILE.parent.parent
PACK_COPY = ROOT / "policypacks" / "ml-guardrails" / "ml_guardrails" / "data" / "guardrail_catalog.json"

# The ids also start SCP Sids, Config rule names and policy names, so: upper-case letters
# (and S3), a dash, a number without leading zeros.
_ID = re.compile(r"^[A-Z][A-Z0-9]*-[1-9][0-9]*$")
_LIMIT_ID = re.compile(r"^LIM-[1-9][0-9]*$")
_SOURCE_KEY = re.compile(r"^[A-Z]+$")
_AREA_KEY = re.compile(r"^[a-z]+(-[a-z]+)*$")
_TARGET = re.compile(r"^(Root|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)$")
_CONFIG_RULE = re.compile(r"^[A-Z0-9]+(_[A-Z0-9]+)+$")
_POLICY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")

_TOP_KEYS = ("sources", "areas", "guardrails", "limits", "platform_rules")
_SOURCE_KEYS = {"title": True, "seed": False}
_SCP_KEYS = {"targets": True, "optional": False}
# Per list: allowed entry keys -> required.
_ENTRY_KEYS = {
    "guardrails": {"id": True, "area": True, "summary": True, "sources": True, "scp": False, "config": False,
                   "crossguard": False, "notes": False},
    "limits": {"id": True, "summary": True, "value": True, "sources": True, "crossguard": False, "notes": False},
    "platform_rules": {"id": True, "summary": True, "sources": True, "crossguard": False, "notes": False},
}


class CatalogError(ValueError):
    """The catalog file is missing, not YAML, or breaks the schema; `problems` lists every error."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid guardrail catalog:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Source:
    """A document guardrails come from; `seed` names the source-material file, if any."""

    key: str
    title: str
    seed: str | None = None


@dataclass(frozen=True)
class Scp:
    """The preventive layer: the OU paths (or `Root`) the deny statements go to."""

    targets: tuple[str, ...]
    optional: bool = False


@dataclass(frozen=True)
class Guardrail:
    """One catalog entry (guardrail, AWS limit or platform rule) and its enforcement per layer."""

    id: str
    summary: str
    sources: tuple[str, ...]
    area: str | None = None
    scp: Scp | None = None
    config: tuple[str, ...] = ()
    crossguard: tuple[str, ...] = ()
    value: str | None = None
    notes: str | None = None

    @property
    def has_scp(self) -> bool:
        return self.scp is not None

    @property
    def has_crossguard(self) -> bool:
        return bool(self.crossguard)

    @property
    def config_rules(self) -> tuple[str, ...]:
        """AWS Config managed-rule identifiers of the detective layer."""
        return self.config


@dataclass(frozen=True)
class Catalog:
    sources: dict[str, Source]
    areas: dict[str, str]
    guardrails: tuple[Guardrail, ...]
    limits: tuple[Guardrail, ...]
    platform_rules: tuple[Guardrail, ...]

    def entries(self) -> Iterator[Guardrail]:
        """Every entry: guardrails, then limits, then platform rules, each in catalog order."""
        yield from self.guardrails
        yield from self.limits
        yield from self.platform_rules

    def get(self, guardrail_id: str) -> Guardrail:
        for entry in self.entries():
            if entry.id == guardrail_id:
                return entry
        raise KeyError(guardrail_id)


# -- reading -----------------------------------------------------------------------------------

class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """Read and validate a catalog file; raise :class:`CatalogError` listing every problem."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CatalogError([f"{path}: the guardrail catalog does not exist"]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise CatalogError([f"{path}: not valid YAML ({exc})"]) from None
    return parse_catalog(data)


@cache
def catalog() -> Catalog:
    """The repository's catalog, read once."""
    return load_catalog()


def read_catalog() -> list[Guardrail]:
    """The guardrails (without the limits and platform rules), in catalog order."""
    return list(catalog().guardrails)


def read_limits() -> list[Guardrail]:
    """The AWS limits (LIM-n), in order."""
    return list(catalog().limits)


def guardrail_ids() -> tuple[str, ...]:
    """Every guardrail id, in catalog order (what configuration may refer to)."""
    return tuple(g.id for g in catalog().guardrails)


def scp_guardrail_ids() -> tuple[str, ...]:
    """The ids of the guardrails with a preventive (SCP) layer, in catalog order."""
    return tuple(g.id for g in catalog().guardrails if g.scp is not None)


# -- validation --------------------------------------------------------------------------------

def parse_catalog(data: Any) -> Catalog:
    """Validate raw catalog data; raise :class:`CatalogError` listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise CatalogError(["(top level): the catalog must be a mapping"])
    _keys("(top level)", data, dict.fromkeys(_TOP_KEYS, True), problems)

    sources: dict[str, Source] = {}
    for key, value in _as_mapping("sources", data.get("sources"), problems).items():
        where = f"sources.{key}"
        if not isinstance(key, str) or not _SOURCE_KEY.match(key):
            problems.append(f"{where}: a source key is upper-case letters (e.g. WP)")
        if not isinstance(value, dict):
            problems.append(f"{where}: must be a mapping with title (and seed)")
            continue
        _keys(where, value, _SOURCE_KEYS, problems)
        title = _text(f"{where}.title", value.get("title"), problems, "title" in value)
        seed = value.get("seed")
        if seed is not None and not isinstance(seed, str):
            problems.append(f"{where}.seed: must be a file name")
        sources[str(key)] = Source(str(key), title, seed)

    areas: dict[str, str] = {}
    for key, value in _as_mapping("areas", data.get("areas"), problems).items():
        if not isinstance(key, str) or not _AREA_KEY.match(key):
            problems.append(f"areas.{key}: an area key is lower-case words joined by '-'")
        areas[str(key)] = _text(f"areas.{key}", value, problems)

    lists = {name: tuple(_entries(name, data.get(name), sources, areas, problems)) for name in _ENTRY_KEYS}
    seen: dict[str, str] = {}
    for name, entries in lists.items():
        for i, entry in enumerate(entries):
            if entry.id in seen:
                problems.append(f"{name}[{i}] ({entry.id}).id: duplicate id {entry.id} (first in {seen[entry.id]})")
            else:
                seen[entry.id] = f"{name}[{i}]"
    if problems:
        raise CatalogError(problems)
    return Catalog(sources, areas, lists["guardrails"], lists["limits"], lists["platform_rules"])


def _entries(name: str, raw: Any, sources: dict[str, Source], areas: dict[str, str],
             problems: list[str]) -> Iterator[Guardrail]:
    if not isinstance(raw, list):
        if raw is not None:
            problems.append(f"{name}: must be a list of entries")
        return
    allowed = _ENTRY_KEYS[name]
    for i, item in enumerate(raw):
        where = f"{name}[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        gid = item.get("id")
        if isinstance(gid, str):
            where = f"{name}[{i}] ({gid})"
        _keys(where, item, allowed, problems)
        if not isinstance(gid, str) or not _ID.match(gid):
            problems.append(f"{where}.id: {gid!r} is not an id like SM-4 (upper-case letters or S3, '-', a number)")
            gid = str(gid)
        elif (name == "limits") != bool(_LIMIT_ID.match(gid)):
            problems.append(f"{where}.id: LIM-n ids are for the limits list, and only they are")
        summary = _text(f"{where}.summary", item.get("summary"), problems, "summary" in item)
        cited = _names(f"{where}.sources", item.get("sources"), None, problems)
        if "sources" in item and not cited:
            problems.append(f"{where}.sources: name at least one source")
        for source in cited:
            if source not in sources:
                problems.append(f"{where}.sources: unknown source {source!r} (allowed: {', '.join(sources)})")
        area = item.get("area")
        if "area" in allowed and area is not None and area not in areas:
            problems.append(f"{where}.area: unknown area {area!r} (allowed: {', '.join(areas)})")
        scp = _scp(f"{where}.scp", item.get("scp"), problems) if "scp" in item else None
        config = _names(f"{where}.config", item.get("config"), _CONFIG_RULE, problems)
        crossguard = _names(f"{where}.crossguard", item.get("crossguard"), _POLICY, problems)
        for policy in crossguard:
            if not policy.startswith(f"{gid.lower()}-"):
                problems.append(f"{where}.crossguard: policy {policy!r} must start with '{gid.lower()}-'")
        value = _text(f"{where}.value", item.get("value"), problems, "value" in item) if "value" in allowed else None
        notes = _text(f"{where}.notes", item.get("notes"), problems) if "notes" in item else None
        yield Guardrail(gid, summary, tuple(cited), area if isinstance(area, str) else None, scp,
                        tuple(config), tuple(crossguard), value, notes)


def _scp(where: str, raw: Any, problems: list[str]) -> Scp | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping with targets (and optional)")
        return None
    _keys(where, raw, _SCP_KEYS, problems)
    targets = _names(f"{where}.targets", raw.get("targets"), _TARGET, problems)
    if "targets" in raw and not targets:
        problems.append(f"{where}.targets: name at least one OU path or Root")
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        problems.append(f"{where}.optional: must be true or false")
        optional = False
    return Scp(tuple(targets), optional)


def _keys(where: str, raw: dict[Any, Any], allowed: dict[str, bool], problems: list[str]) -> None:
    for key in raw:
        if key not in allowed:
            problems.append(f"{where}.{key}: unknown key (allowed: {', '.join(allowed)})")
    for key, required in allowed.items():
        if required and key not in raw:
            problems.append(f"{where}.{key}: required key is missing")


def _as_mapping(where: str, raw: Any, problems: list[str]) -> dict[Any, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return {}
    return raw


def _text(where: str, raw: Any, problems: list[str], present: bool = True) -> str:
    if raw is None and not present:
        return ""  # reported as a missing key
    if not isinstance(raw, str) or not raw.strip():
        problems.append(f"{where}: must be a non-empty string")
        return ""
    return " ".join(raw.split())


def _names(where: str, raw: Any, pattern: re.Pattern[str] | None, problems: list[str]) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        problems.append(f"{where}: must be a list of strings")
        return []
    for value in raw:
        if pattern is not None and not pattern.match(value):
            problems.append(f"{where}: {value!r} is malformed")
    duplicates = sorted({v for v in raw if raw.count(v) > 1})
    if duplicates:
        problems.append(f"{where}: duplicates {', '.join(duplicates)}")
    return list(raw)


# -- the pack's copy ---------------------------------------------------------------------------

def _entry_data(entry: Guardrail) -> dict[str, Any]:
    data: dict[str, Any] = {"id": entry.id, "summary": entry.summary, "sources": list(entry.sources)}
    if entry.area is not None:
        data["area"] = entry.area
    if entry.scp is not None:
        data["scp"] = {"targets": list(entry.scp.targets), "optional": entry.scp.optional}
    data["config"] = list(entry.config)
    data["crossguard"] = list(entry.crossguard)
    for key in ("value", "notes"):
        if getattr(entry, key) is not None:
            data[key] = getattr(entry, key)
    return data


def render_pack_copy(cat: Catalog | None = None) -> str:
    """The pack's copy of the catalog: the validated data as JSON."""
    cat = cat or catalog()
    data = {
        "generated": "by `python -m guardrail_catalog` from guardrail_catalog/guardrails.yaml; do not edit",
        "sources": {k: {"title": s.title, **({"seed": s.seed} if s.seed else {})} for k, s in cat.sources.items()},
        "areas": dict(cat.areas),
        "guardrails": [_entry_data(g) for g in cat.guardrails],
        "limits": [_entry_data(g) for g in cat.limits],
        "platform_rules": [_entry_data(g) for g in cat.platform_rules],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


__all__ = [
    "CATALOG_FILE", "PACK_COPY", "Catalog", "CatalogError", "Guardrail", "Scp", "Source", "catalog",
    "guardrail_ids", "load_catalog", "parse_catalog", "read_catalog", "read_limits", "render_pack_copy",
    "scp_guardrail_ids",
]
