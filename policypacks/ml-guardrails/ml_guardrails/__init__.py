"""ml-guardrails: the CrossGuard policies of the ml-platform, one module per domain.

Every policy's name starts with the id of the guardrail it enforces, an id of the guardrail
catalog (:mod:`ml_guardrails.catalog_data`), e.g. `s3-2-bucket-sse-kms` enforces S3-2. :func:`all_policies` is what the pack's `__main__.py`
hands to `PolicyPack`; :mod:`ml_guardrails.catalog` renders the same list as CATALOG.md.
"""

from __future__ import annotations

from typing import Any

from .common import PACK_NAME

DOMAINS = ("organization", "logging", "identity", "storage", "keys", "sagemaker", "network", "supply_chain", "limits")


def all_policies() -> list[Any]:
    """Every policy of the pack, domain by domain."""
    from importlib import import_module  # noqa: PLC0415

    policies: list[Any] = []
    for domain in DOMAINS:
        policies.extend(import_module(f"{__name__}.{domain}").POLICIES)
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate policy names: {', '.join(duplicates)}")
    check_guardrail_ids(policies)
    return policies


def check_guardrail_ids(policies: list[Any]) -> None:
    """Raise ValueError naming every policy whose guardrail id is not in the catalog."""
    from .catalog_data import unknown_guardrails  # noqa: PLC0415

    unknown = unknown_guardrails(policies)
    if unknown:
        raise ValueError(f"policies naming guardrails the catalog does not have: {', '.join(unknown)}")


__all__ = ["DOMAINS", "PACK_NAME", "all_policies", "check_guardrail_ids"]
