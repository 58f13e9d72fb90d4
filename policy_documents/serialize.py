"""The one serializer for policy documents: minified, deterministic JSON."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pulumi
from pulumi.output import Unknown

VERSION = "2012-10-17"


def to_json(document: dict[str, Any]) -> str:
    """Serialize a fully known policy document to minified JSON.

    Key order is kept as built (Version, Statement, Sid, Effect, ...) so documents read
    naturally; separators carry no whitespace because SCPs and trust policies are limited
    by character count.
    """
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def policy_json(document: Any) -> pulumi.Output[str]:
    """Serialize a document that may contain Pulumi outputs (ARNs, ids) anywhere inside.

    The same Output as ``Output.from_input(document).apply(to_json)`` (value, dependencies,
    secrecy, unknown in a preview), built from the document's outputs alone: `from_input` makes
    an Output of every key and value of the document, and a key policy has hundreds of them.
    """
    leaves: list[Any] = []
    _collect(document, leaves)
    if not leaves:
        return pulumi.Output.from_input(to_json(document))
    if len(leaves) == 1 and isinstance(leaves[0], pulumi.Output):  # most documents: one ARN or id
        return leaves[0].apply(lambda value: _serialized(document, [value]))
    return pulumi.Output.all(*leaves).apply(lambda values: _serialized(document, values))


def _serialized(document: Any, values: list[Any]) -> Any:
    """The document's text with its outputs' `values` in place; an output whose value holds
    outputs of its own (as `from_input` unwraps them) is serialized once those are known."""
    resolved = _substitute(document, iter(values))
    nested: list[Any] = []
    _collect(resolved, nested)
    return policy_json(resolved) if nested else to_json(resolved)


def concat(*parts: Any) -> pulumi.Output[str]:
    """`Output.concat(*parts)` (the parts joined as text once known: value, dependencies, secrecy,
    unknown in a preview), built from the parts' outputs alone: the SDK's makes an Output of
    every part, text included, and ARNs are built this way by the thousand."""
    deferred = [part for part in parts if _deferred(part)]
    if not deferred:
        return pulumi.Output.from_input("".join(parts))
    if len(deferred) == 1 and isinstance(deferred[0], pulumi.Output):
        return deferred[0].apply(lambda value: "".join(_substitute(parts, iter([value]))))
    return pulumi.Output.all(*deferred).apply(lambda values: "".join(_substitute(parts, iter(values))))


_PLAIN = frozenset({str, int, float, bool, type(None), dict, list, tuple})


def _deferred(value: Any) -> bool:
    """An input `from_input` resolves: an Output, an awaitable, or an unknown value (which
    makes the document unknown, so it is left to the SDK's Output like the others)."""
    if type(value) in _PLAIN:  # most of a document: skip the awaitable check
        return False
    return isinstance(value, (pulumi.Output, Unknown)) or inspect.isawaitable(value)


def _collect(value: Any, leaves: list[Any]) -> None:
    """The deferred inputs inside `value` (dict keys and values, list and tuple items), in order."""
    if _deferred(value):
        leaves.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(key, leaves)
            _collect(item, leaves)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, leaves)


def _substitute(value: Any, values: Any) -> Any:
    """`value` with each deferred input replaced by the next of `values` (_collect's order); as
    `from_input` does, dicts become dicts, lists lists and tuples tuples."""
    if _deferred(value):
        return next(values)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            key = _substitute(key, values)
            out[key] = _substitute(item, values)
        return out
    if isinstance(value, list):
        return [_substitute(item, values) for item in value]
    if isinstance(value, tuple):
        return tuple(_substitute(item, values) for item in value)
    return value


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    """A policy document with the standard version and the given statements."""
    return {"Version": VERSION, "Statement": list(statements)}
