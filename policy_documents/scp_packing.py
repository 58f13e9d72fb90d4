"""Pack guardrail statements into as few service control policies as the AWS limits allow.

AWS limits an SCP document to 5,120 characters and a root, OU or account to 5 attached SCPs
(FullAWSAccess included). Statements are grouped by target and packed first-fit decreasing
into minified documents; every target that cannot fit is reported in one :class:`ScpLimitError`
so a configuration is fixed in one go. Everything here is pure: no Pulumi resources.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_documents.scp_library import SCP_GUARDRAIL_IDS, TARGETS, GuardrailStatement
from policy_documents.serialize import document, to_json

SCP_MAX_CHARS = 5120
SCP_MAX_PER_TARGET = 5


class ScpLimitError(ValueError):
    """The statements cannot be packed within the SCP limits. `problems` lists every failing
    target (and oversize statement) with the guardrail ids involved and the numbers."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("service control policies do not fit the AWS limits:\n  - " + "\n  - ".join(self.problems))


@dataclass(frozen=True)
class PackedPolicy:
    """One SCP document for one target. `json` is the exact content to upload."""

    name: str
    target: str
    guardrail_ids: tuple[str, ...]
    document: dict[str, Any] = field(hash=False)
    json: str

    @property
    def sids(self) -> tuple[str, ...]:
        return tuple(s["Sid"] for s in self.document["Statement"])


def target_slug(target: str) -> str:
    """`Workloads/Dev` -> `workloads-dev`, `Root` -> `root` (policy names)."""
    return re.sub(r"[^a-z0-9]+", "-", target.lower()).strip("-")


def _empty_document_chars() -> int:
    return len(to_json(document()))


def _statement_chars(statement: dict[str, Any]) -> int:
    # Same serializer as the final document, so the arithmetic below is exact.
    return len(to_json(statement))


def _catalog_order(guardrail_id: str) -> int:
    return SCP_GUARDRAIL_IDS.index(guardrail_id) if guardrail_id in SCP_GUARDRAIL_IDS else len(SCP_GUARDRAIL_IDS)


def pack_policies(statements: list[GuardrailStatement], name_prefix: str, max_chars: int = SCP_MAX_CHARS,
                  max_policies_per_target: int = SCP_MAX_PER_TARGET,
                  reserved_per_target: int = 1) -> list[PackedPolicy]:
    """Pack `statements` per target into minified documents of at most `max_chars`.

    Bins are filled first-fit decreasing (largest statement first, ties by input order), so
    the result only depends on the input. Within a document, statements keep catalog order;
    documents are numbered by their first statement: `<prefix>-guardrails-<target>-<n>`.
    A target may hold `max_policies_per_target - reserved_per_target` documents (the reserved
    slot is FullAWSAccess). Raises :class:`ScpLimitError` listing every target that needs
    more, every statement that alone exceeds `max_chars`, and duplicate Sids in a target.
    """
    budget = max_policies_per_target - reserved_per_target
    overhead = _empty_document_chars()
    problems: list[str] = []

    by_target: dict[str, list[tuple[int, GuardrailStatement, int]]] = {}
    for index, item in enumerate(statements):
        if not item.targets:
            problems.append(f"statement {item.statement.get('Sid')} ({item.guardrail_id}): has no target")
        for target in item.targets:
            by_target.setdefault(target, []).append((index, item, _statement_chars(item.statement)))

    # Known targets first in account-model order, then any others alphabetically.
    order = sorted(by_target, key=lambda t: (TARGETS.index(t) if t in TARGETS else len(TARGETS), t))
    packed: list[PackedPolicy] = []
    for target in order:
        items = by_target[target]
        reasons: list[str] = []

        sids: dict[str, str] = {}
        for _, item, _ in items:
            sid = item.statement.get("Sid", "")
            if sid in sids:
                reasons.append(f"Sid {sid} is used by {sids[sid]} and {item.guardrail_id} "
                               "(Sids must be unique within a policy)")
            sids.setdefault(sid, item.guardrail_id)
        for _, item, chars in items:
            if overhead + chars > max_chars:
                reasons.append(f"statement {item.statement.get('Sid')} ({item.guardrail_id}) alone makes a "
                               f"{overhead + chars}-character document (limit {max_chars})")

        bins: list[list[tuple[int, GuardrailStatement, int]]] = []
        if not reasons:
            # First-fit decreasing; a comma separates statements after the first.
            sizes: list[int] = []
            for entry in sorted(items, key=lambda e: (-e[2], e[0])):
                for b, size in enumerate(sizes):
                    if size + 1 + entry[2] <= max_chars:
                        bins[b].append(entry)
                        sizes[b] += 1 + entry[2]
                        break
                else:
                    bins.append([entry])
                    sizes.append(overhead + entry[2])
            if len(bins) > budget:
                reasons.append(
                    f"needs {len(bins)} policies of at most {max_chars} characters but may hold {budget} "
                    f"({max_policies_per_target} per target, {reserved_per_target} reserved for FullAWSAccess); "
                    f"{len(items)} statements, {sum(chars for _, _, chars in items)} characters"
                )
        if reasons:
            ids = ", ".join(_ids(item for _, item, _ in items))
            problems.append(f"{target} (guardrails {ids}): " + "; ".join(reasons))
            continue

        for b in bins:
            b.sort(key=lambda e: (_catalog_order(e[1].guardrail_id), e[0]))
        bins.sort(key=lambda b: (_catalog_order(b[0][1].guardrail_id), b[0][0]))
        for n, b in enumerate(bins, start=1):
            doc = document(*(copy.deepcopy(item.statement) for _, item, _ in b))
            text = to_json(doc)
            if len(text) > max_chars:  # the arithmetic above is exact; this guards it
                raise RuntimeError(f"packing error: {target} document {n} is {len(text)} characters")
            packed.append(PackedPolicy(
                name=f"{name_prefix}-guardrails-{target_slug(target)}-{n}",
                target=target,
                guardrail_ids=_ids(item for _, item, _ in b),
                document=doc,
                json=text,
            ))

    if problems:
        raise ScpLimitError(problems)
    return packed


def _ids(items: Any) -> tuple[str, ...]:
    """Distinct guardrail ids in catalog order."""
    return tuple(sorted({i.guardrail_id for i in items}, key=lambda g: (_catalog_order(g), g)))
