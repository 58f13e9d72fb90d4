"""The order to deploy the stacks in, from the StackReferences the offline preview found.

The offline preview (`offline_preview`) runs every stack with its StackReferences resolved and
records, per stack of its `plan.json`, the stacks it read (`references`) and the account each
resource's provider acts in. This module orders the stacks so that every stack comes after the
stacks it reads (a topological order; between independent stacks, the preview's own order:
layer, then name), names the accounts each stack touches, and selects the stacks of one
environment, one project, or those a change touches. Nothing here hard-codes a layer order: a
new kind of stack (delivery, identity) is placed by the references it makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline_preview.engine import PROJECT, PreviewError, read_stack_config

MANAGEMENT = "management"


class OrderError(RuntimeError):
    """The stacks cannot be ordered or selected as asked; the message says why."""


@dataclass(frozen=True)
class StackStep:
    """One stack of the deployment, with what it reads and where it acts."""

    name: str
    layer: str | None
    project: str | None
    environment: str | None
    references: tuple[str, ...]
    accounts: tuple[str, ...]  # account keys of the organization (`management`, `network`, ...) or ids
    resources: int

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "layer": self.layer, "project": self.project, "environment": self.environment,
                "references": list(self.references), "accounts": list(self.accounts), "resources": self.resources}


def preview_plan(config_dir: Path, jobs: int | None = None) -> dict[str, Any]:
    """Run the offline preview (no policy analysis: the order needs only the references) and
    return its plan, as `plan.json` holds it."""
    from offline_preview.engine import default_program
    from offline_preview.plan import build_plan
    from offline_preview.preview import PolicySettings, default_jobs, preview

    result = preview(default_program(), Path(config_dir), None, PolicySettings(None), jobs or default_jobs())
    return build_plan(result)


def load_plan(path: Path) -> dict[str, Any]:
    """A `plan.json` written by `python -m offline_preview`."""
    try:
        plan = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise OrderError(f"{path}: no such plan (run `make preview` first, or leave out --plan)") from None
    except json.JSONDecodeError as exc:
        raise OrderError(f"{path}: not a plan.json ({exc})") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("stacks"), list):
        raise OrderError(f"{path}: not a plan.json (no `stacks` list)")
    return plan


def account_names(plan: dict[str, Any]) -> dict[str, str]:
    """Account id → the organization's key for it, from the organization layer's outputs."""
    names: dict[str, str] = {}
    for entry in plan["stacks"]:
        outputs = entry.get("outputs") or {}
        if isinstance(outputs.get("accountIds"), dict):
            names.update({str(v): str(k) for k, v in outputs["accountIds"].items() if isinstance(v, str)})
        if isinstance(outputs.get("managementAccountId"), str):
            names[outputs["managementAccountId"]] = MANAGEMENT
    return names


def _stack_settings(config_dir: Path | None, stack: str) -> tuple[str | None, str | None]:
    if config_dir is None:
        return None, None
    try:
        config = read_stack_config(config_dir, stack)
    except PreviewError:
        return None, None
    project, environment = config.get(f"{PROJECT}:project"), config.get(f"{PROJECT}:environment")
    return (project if isinstance(project, str) else None, environment if isinstance(environment, str) else None)


def deployment_order(plan: dict[str, Any], config_dir: Path | None = None) -> list[StackStep]:
    """Every stack of the plan, each after the stacks it references.

    Raises OrderError when a stack failed in the preview (its references are unknown), refers to
    a stack the plan does not have, or the references form a cycle.
    """
    entries = plan["stacks"]
    failed = [f"{e['name']}: {e.get('error') or 'failed'}" for e in entries if e.get("status") != "ok"]
    if failed:
        raise OrderError("the offline preview failed for some stacks, so their StackReferences are unknown "
                         "(fix them, then run again; `make preview` shows the errors):\n"
                         + "\n".join(f"  - {f}" for f in failed))
    position = {e["name"]: n for n, e in enumerate(entries)}
    deps = {e["name"]: list(e.get("references") or []) for e in entries}
    missing = [f"{s} reads {r}" for s, refs in deps.items() for r in refs if r not in position]
    if missing:
        raise OrderError("stacks read stacks the plan does not have: " + "; ".join(missing))

    order: list[str] = []
    placed: set[str] = set()
    pending = sorted(position, key=position.get)
    while pending:
        ready = next((s for s in pending if set(deps[s]) <= placed), None)
        if ready is None:
            cycle = ", ".join(f"{s} -> {'/'.join(r for r in deps[s] if r not in placed)}" for s in pending)
            raise OrderError(f"the StackReferences form a cycle: {cycle}")
        pending.remove(ready)
        placed.add(ready)
        order.append(ready)

    names = account_names(plan)
    by_name = {e["name"]: e for e in entries}
    steps = []
    for stack in order:
        entry = by_name[stack]
        accounts = sorted({r["account"] for r in entry.get("resources") or [] if r.get("account")})
        labels = sorted({names.get(a, a) for a in accounts}, key=lambda a: (a != MANAGEMENT, a))
        project, environment = _stack_settings(config_dir, stack)
        steps.append(StackStep(stack, entry.get("layer"), project, environment, tuple(sorted(deps[stack])),
                               tuple(labels), int(entry.get("resourceCount", len(entry.get("resources") or [])))))
    return steps


def _comparable(entry: dict[str, Any]) -> dict[str, Any]:
    # What the stack manages and exports. Policy findings are no change to the stack, nor is
    # what a read (a StackReference, a `get`) returns: the upstream stack's own entry shows that
    # change, and the reading stack changes only where it uses the value.
    resources = [{k: v for k, v in r.items() if k != "outputs"} if r.get("read") else r
                 for r in entry.get("resources") or []]
    return {**{k: v for k, v in entry.items() if k not in ("violations", "warnings")}, "resources": resources}


def changed_stacks(base: dict[str, Any], head: dict[str, Any]) -> set[str]:
    """Stacks of `head` whose preview differs from `base`'s (or that `base` does not have)."""
    before = {e["name"]: _comparable(e) for e in base["stacks"]}
    return {e["name"] for e in head["stacks"] if before.get(e["name"]) != _comparable(e)}


def select(steps: Sequence[StackStep], *, stacks: Iterable[str] = (), environment: str | None = None,
           project: str | None = None, only: set[str] | None = None, include_upstream: bool = False) -> list[StackStep]:
    """The steps to run, in order: the named `stacks`, or those of `environment` and/or `project`
    (all when none is given), narrowed to `only` (e.g. the changed stacks); with
    `include_upstream`, every stack they read, directly or not, as well."""
    by_name = {s.name: s for s in steps}
    names = list(stacks)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise OrderError(f"unknown stack(s) {', '.join(unknown)} (stacks: {', '.join(by_name)})")
    problems = []
    if environment is not None and environment not in {s.environment for s in steps}:
        known = sorted({s.environment for s in steps if s.environment})
        problems.append(f"no stack has environment '{environment}' (environments: {', '.join(known) or 'none'})")
    if project is not None and project not in {s.project for s in steps}:
        known = sorted({s.project for s in steps if s.project})
        problems.append(f"no stack has project '{project}' (projects: {', '.join(known) or 'none'})")
    if problems:
        raise OrderError("; ".join(problems))
    chosen = {s.name for s in steps
              if (not names or s.name in names)
              and (environment is None or s.environment == environment)
              and (project is None or s.project == project)}
    if only is not None:
        chosen &= only
    if include_upstream:
        todo = list(chosen)
        while todo:
            for ref in by_name[todo.pop()].references:
                if ref not in chosen:
                    chosen.add(ref)
                    todo.append(ref)
    return [s for s in steps if s.name in chosen]


def render(steps: Sequence[StackStep], operation: str) -> list[str]:
    """The plan as printed: one line per stack, what it reads, which accounts it touches."""
    if not steps:
        return [f"nothing to {operation}: no stack selected"]
    width = max(len(s.name) for s in steps)
    lines = [f"{operation} order ({len(steps)} stacks):"]
    for n, step in enumerate(steps, 1):
        after = ", ".join(step.references) or "-"
        lines.append(f"  {n:2d}. {step.name.ljust(width)}  after: {after}")
        lines.append(f"      {' ' * width}  touches: {', '.join(step.accounts) or '-'} ({step.resources} resources)")
    return lines
