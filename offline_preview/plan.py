"""`plan.json`: the machine-readable result of an offline preview.

Contract (fields may be added, never renamed)::

    {"stacks": [{"name", "layer",
                 "resources": [{"urn", "type", "name", "id", "inputs", "outputs", "parent",
                                "provider", "account", "region", "protect", "retainOnDelete",
                                "dependencies"}],
                 "outputs": {},
                 "violations": [{"policy", "enforcementLevel", "urn", "message"}]}]}

Present only when there is something in them: a stack's `unseen` (URNs of remote components,
whose children the offline preview did not see), `notes` (what the offline preview itself says
about the run: undecrypted secrets, unseen components) and `externalReferences` (stacks of other
projects read, `org/project/stack`); a resource's `remote: true`. A value the preview cannot
know reads "[unknown]".

`provider` is the URN of the provider the resource uses (the package's default provider when
the program set none); `account`/`region` are where that provider acts. Secret values read
"[secret]". The file is byte-identical for the same program and configuration: keys sorted,
resources by URN, no timestamps, durations or absolute paths.
"""

from __future__ import annotations

import json
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

from offline_preview.analysis import Violation, provider_urn
from offline_preview.engine import STACK_REFERENCE_TYPE, Registration, StackRun
from offline_preview.preview import PreviewResult, StackResult

SECRET = "[secret]"
UNKNOWN_TEXT = "[unknown]"  # a value the preview cannot know (computed at `pulumi up`)


def masked(value: Any) -> Any:
    """`value` as JSON data with every secret replaced by "[secret]"."""
    if isinstance(value, dict):
        if rpc.is_rpc_secret(value):
            return SECRET
        return {str(k): masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Unknown):
        return UNKNOWN_TEXT
    for attr in ("path", "text", "uri"):  # assets and archives
        if isinstance(getattr(value, attr, None), str):
            return {"asset": type(value).__name__, attr: getattr(value, attr)}
    return str(value)


def _violation(v: Violation) -> dict[str, Any]:
    return {"policy": v.policy, "enforcementLevel": v.enforcement_level, "urn": v.urn, "message": v.message,
            "policyPack": v.pack, "description": v.description, "severity": v.severity}


def _resource(run: StackRun | None, reg: Registration) -> dict[str, Any]:
    outputs = reg.outputs
    if reg.type == STACK_REFERENCE_TYPE and isinstance(outputs, dict):
        secret = set(outputs.get("secretOutputNames") or [])
        values = outputs.get("outputs") or {}
        outputs = {**outputs, "outputs": {k: SECRET if k in secret else v for k, v in values.items()}}
    entry = {
        "urn": reg.urn,
        "type": reg.type,
        "name": reg.name,
        "id": reg.id,
        "custom": reg.custom,
        "inputs": masked(reg.inputs),
        "outputs": masked(outputs),
        "parent": reg.parent,
        "provider": provider_urn(run, reg) if run is not None else (reg.provider or "").rsplit("::", 1)[0] or None,
        "account": reg.account,
        "region": reg.region,
        "protect": reg.protect,
        "retainOnDelete": reg.retain_on_delete,
        "ignoreChanges": sorted(reg.ignore_changes),
        "deleteBeforeReplace": reg.delete_before_replace,
        "dependencies": sorted(set(reg.dependencies)),
        "read": reg.read,
    }
    if reg.remote:  # a multi-language component: children and outputs unseen
        entry["remote"] = True
    return entry


def stack_entry(result: StackResult) -> dict[str, Any]:
    """One stack's part of the plan."""
    run = result.run
    outputs = {}
    if run is not None:
        outputs = {k: SECRET if k in run.secret_outputs else masked(v) for k, v in run.outputs.items()}
    resources = sorted((_resource(run, r) for r in result.resources), key=lambda r: r["urn"])
    entry = {
        "name": result.stack,
        "layer": result.layer,
        "status": "ok" if result.ok else "failed",
        "error": result.error or result.policy_error,
        "references": sorted(run.references) if run else [],
        "warnings": list(run.warnings) if run else [],
        "resourceCount": len(resources),
        "resources": resources,
        "outputs": outputs,
        "violations": [_violation(v) for v in sorted(result.violations, key=Violation.sort_key)],
    }
    # Only when there is something to say, so plans of programs without them keep their bytes.
    if run is not None and run.unseen:
        entry["unseen"] = sorted(run.unseen)
    if run is not None and run.notes:
        entry["notes"] = list(run.notes)
    if run is not None and run.external_references:
        entry["externalReferences"] = sorted(run.external_references)
    return entry


def build_plan(result: PreviewResult, entries: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The whole plan as JSON data; `entries` are stacks' entries made already (by name)."""
    entries = entries or {}
    return {
        "project": result.project,
        "policyPack": result.policy_pack,
        "policyNote": result.policy_note,
        "stacks": [entries[s.stack] if s.stack in entries else stack_entry(s) for s in result.stacks],
    }


class _NotPlain(Exception):
    """A value `_render` leaves to the json module (a subclass, a non-text key, an object)."""


def _render(value: Any, newline: str, out: list[str]) -> None:
    # json.dumps(sort_keys=True, indent=2, ensure_ascii=False), whose indenting encoder is pure
    # Python and yields token by token (a plan of 50 projects is tens of MB): the same text,
    # with the C string encoder. `newline` is a newline and the value's indentation.
    kind = type(value)
    if kind is str:
        out.append(_encode_string(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner, sep = newline + "  ", "{"
        for key in sorted(value):
            if type(key) is not str:
                raise _NotPlain
            out.append(sep + inner + _encode_string(key) + ": ")
            _render(value[key], inner, out)
            sep = ","
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner, sep = newline + "  ", "["
        for item in value:
            out.append(sep + inner)
            _render(item, inner, out)
            sep = ","
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and value == value and value not in (_INFINITY, -_INFINITY):
        out.append(float.__repr__(value))
    else:
        raise _NotPlain


_encode_string = json.encoder.encode_basestring  # the C encoder where there is one
_INFINITY = float("inf")


def _dumps(value: Any, depth: int = 0) -> str:
    """`json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)`, every line after the
    first indented `depth` levels more."""
    out: list[str] = []
    try:
        _render(value, "\n" + "  " * depth, out)
    except (_NotPlain, RecursionError):
        text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)
        # JSON text has no raw newline inside a string: each one starts a line.
        return text.replace("\n", "\n" + "  " * depth) if depth else text
    return "".join(out)


def render_stack_entry(entry: dict[str, Any]) -> str:
    """A stack's entry as :func:`render_plan` writes it (at its depth in the plan), so that it can
    be rendered as soon as the stack is done, while other stacks still run."""
    return _dumps(entry, depth=2)


def render_plan(plan: dict[str, Any], stacks: list[str] | None = None) -> str:
    """plan.json's text for :func:`build_plan`'s data: sorted keys, two-space indent, final newline.

    `stacks`: the text of each stack's entry (:func:`render_stack_entry`), in the plan's order;
    the same text as without them, made faster.
    """
    if stacks is None:
        return _dumps(plan) + "\n"
    if len(stacks) != len(plan["stacks"]):
        raise ValueError(f"{len(stacks)} rendered stacks for a plan of {len(plan['stacks'])}")
    parts = []
    for key in sorted(plan):
        if key == "stacks":
            value = "[\n    " + ",\n    ".join(stacks) + "\n  ]" if stacks else "[]"
        else:
            value = _dumps(plan[key], depth=1)
        parts.append(f"  {json.dumps(key, ensure_ascii=False)}: {value}")
    return "{\n" + ",\n".join(parts) + "\n}\n"
