"""The one serializer for policy documents: minified, deterministic JSON."""

from __future__ import annotations

import json
from typing import Any

import pulumi

VERSION = "2012-10-17"


def to_json(document: dict[str, Any]) -> str:
    """Serialize a fully known policy document to minified JSON.

    Key order is kept as built (Version, Statement, Sid, Effect, ...) so documents read
    naturally; separators carry no whitespace because SCPs and trust policies are limited
    by character count.
    """
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def policy_json(document: Any) -> pulumi.Output[str]:
    """Serialize a document that may contain Pulumi outputs (ARNs, ids) anywhere inside."""
    return pulumi.Output.from_input(document).apply(to_json)


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    """A policy document with the standard version and the given statements."""
    return {"Version": VERSION, "Statement": list(statements)}
