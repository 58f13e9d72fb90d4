"""Which guardrails the scenarios must prove, and which they do.

A guardrail has an *SCP or resource-policy side* when the guardrail catalog gives it an SCP
(`scp:` in `guardrail_catalog/guardrails.yaml`, unless `optional` and absent from the plan), or
when a statement of a policy the plan registers on the organization (SCP, RCP) or on a
resource (bucket, key, endpoint, trust, repository, topic ... policy: any document whose
statements name a `Principal`) carries its id in its Sid. Each such guardrail needs

* an **allowed** scenario that meets one of its statements (a statement carrying the id, in a
  guardrail layer of the request, whose actions cover the request) and gets through, or makes
  a request its statements cover where they do not apply (an endpoint created in prod), and
* a **denied** scenario that one of its statements denies (an explicit Deny carrying the id, or
  the missing Allow of a layer where a statement carrying the id covers the request),

each naming the id in `proves` and matching its expectation. A scenario that claims a
guardrail without meeting its statements is not evidence for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from access_proofs.plan_index import ORG_POLICY
from access_proofs.prove import Outcome, ProofRun, covers, guardrails_in_sid
from guardrail_catalog import catalog as guardrail_catalog


def _documents(value: Any) -> Iterable[dict[str, Any]]:
    """Policy documents in an input value: the value itself (JSON text or data), or nested in
    it (a CloudFormation template's roles)."""
    if isinstance(value, str):
        if not value.lstrip().startswith("{"):
            return
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return
    if isinstance(value, dict):
        if isinstance(value.get("Statement"), (list, dict)):
            yield value
            return
        for item in value.values():
            yield from _documents(item)
    elif isinstance(value, list):
        for item in value:
            yield from _documents(item)


def _statements(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = doc.get("Statement")
    return statements if isinstance(statements, list) else [statements]


def guardrail_statements(plan: Mapping[str, Any]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Guardrail id -> the statements of the plan that carry it in their Sid, each with where
    it is: `SCP <name>` / `RCP <name>`, or the resource type whose resource-side policy has it."""
    ids = [g.id for g in guardrail_catalog().guardrails]
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for stack in plan.get("stacks", []):
        for resource in stack.get("resources", []):
            inputs = resource.get("inputs") or {}
            if resource["type"] == ORG_POLICY:
                kind = {"SERVICE_CONTROL_POLICY": "SCP", "RESOURCE_CONTROL_POLICY": "RCP"}.get(inputs.get("type"))
                if kind is None:
                    continue
                where = f"{kind} {inputs.get('name') or resource['name']}"
                statements = [st for doc in _documents(inputs.get("content")) for st in _statements(doc)]
            else:
                # Identity policies have no Principal; resource-side ones (trust policies
                # included) always do.
                where = resource["type"]
                statements = [st for value in inputs.values() for doc in _documents(value)
                              for st in _statements(doc) if isinstance(st, dict) and "Principal" in st]
            for st in statements:
                for g in guardrails_in_sid(st.get("Sid"), ids):
                    found.setdefault(g, []).append((where, st))
    return found


def required_guardrails(plan: Mapping[str, Any]) -> dict[str, set[str]]:
    """Every guardrail id with an SCP or resource-policy side -> where that side is (the plan's
    policies, and `catalog: SCP on <targets>` for the catalog's SCP guardrails)."""
    sides = {g: {where for where, _ in found} for g, found in guardrail_statements(plan).items()}
    for g in guardrail_catalog().guardrails:
        if g.scp is not None and (not g.scp.optional or g.id in sides):
            sides.setdefault(g.id, set()).add(f"catalog: SCP on {', '.join(g.scp.targets)}")
    return dict(sorted(sides.items()))


def _counts(outcome: Outcome, guardrail: str, statements: Iterable[Mapping[str, Any]]) -> bool:
    if not outcome.matches or outcome.scenario.known_issue or guardrail not in outcome.scenario.proves:
        return False
    if outcome.decision == "allowed":
        # The request met one of the guardrail's statements and got through, or it is a request
        # the guardrail's statements are about, made where they do not apply (an endpoint in prod).
        return any(g == guardrail for _, g in outcome.exercised) \
            or any(covers(st, outcome.scenario.action) for st in statements)
    return any(guardrail in d.guardrails if d.explicit else (d.layer, guardrail) in outcome.exercised
               for d in outcome.deciding)


def evidence(plan: Mapping[str, Any], run: ProofRun, guardrails: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """Per guardrail: the scenarios of the run that are evidence for it, allowed and denied."""
    statements = guardrail_statements(plan)
    out: dict[str, dict[str, list[str]]] = {}
    for g in guardrails:
        found: dict[str, list[str]] = {"allowed": [], "denied": []}
        for o in run.outcomes:
            if _counts(o, g, [st for _, st in statements.get(g, [])]):
                found[o.decision].append(o.scenario.name)
        out[g] = found
    return out


def gaps(plan: Mapping[str, Any], run: ProofRun) -> dict[str, str]:
    """Guardrail id -> what it lacks (`no allowed scenario`, `no denied scenario`, or both) and
    where its side is, for every guardrail with an SCP or resource-policy side."""
    required = required_guardrails(plan)
    out = {}
    for g, found in evidence(plan, run, required).items():
        lacking = [f"no {kind} scenario" for kind in ("allowed", "denied") if not found[kind]]
        if lacking:
            out[g] = f"{' and '.join(lacking)} (its side: {'; '.join(sorted(required[g]))})"
    return out
