"""Run `pulumi preview` or `pulumi up` stack by stack through the Automation API.

One `LocalWorkspace` on the repository (its Pulumi.yaml and stacks/ configuration); each step
selects the fully qualified stack (`<org>/ml-platform/<stack>`) and runs the operation with the
policy packs given. The first stack that fails stops the run: what ran, what failed (the
stack's name and the CLI's error lines) and what was not run are reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from deploy.order import StackStep
from offline_preview.engine import PROJECT

OPERATIONS = ("preview", "up")


class RunnerError(RuntimeError):
    """Nothing could run (no CLI); the message says what to do."""


@dataclass
class StackOutcome:
    """What one stack's operation did."""

    step: StackStep
    status: str  # "ok", "failed", "not run"
    changes: dict[str, int] = field(default_factory=dict)
    message: str = ""


def fully_qualified(stack: str, org: str) -> str:
    return f"{org}/{PROJECT}/{stack}"


def cli_message(exc: auto.errors.CommandError) -> str:
    """The CLI's own explanation from an Automation API CommandError: its `error:` lines (the
    engine prints diagnostics on stdout, usage errors on stderr), else the end of stderr."""
    text = str(exc)
    head, _, stderr = text.partition("\n stderr: ")
    stdout = head.partition("\n stdout: ")[2]
    errors = [line.strip() for line in (stdout + "\n" + stderr).splitlines() if line.strip().startswith("error:")]
    if errors:
        return "\n".join(dict.fromkeys(errors))
    tail = [line for line in (stderr.strip() or stdout.strip()).splitlines() if line.strip()][-5:]
    return "\n".join(tail) or text.strip()


def _changes(summary: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted((summary or {}).items())}


def run_steps(
    steps: Sequence[StackStep],
    operation: str,
    *,
    work_dir: Path,
    org: str,
    policy_packs: Sequence[str] = (),
    policy_pack_configs: Sequence[str] = (),
    create_missing: bool = False,
    secrets_provider: str | None = None,
    workspace_factory: Callable[..., auto.LocalWorkspace] = auto.LocalWorkspace,
    echo: Callable[[str], None] = print,
) -> list[StackOutcome]:
    """Run `operation` on each step in order; stop at the first failure (later steps: "not run")."""
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {OPERATIONS}, not {operation!r}")
    try:
        workspace = workspace_factory(work_dir=str(work_dir), secrets_provider=secrets_provider)
    except FileNotFoundError:
        raise RunnerError("the Pulumi CLI (`pulumi`) is not on PATH; install it (see the README, \"Real AWS "
                          "workflow\"), or use --dry-run to print the plan without it") from None
    except auto.errors.InvalidVersionError as exc:
        raise RunnerError(f"the Pulumi CLI is too old for the Automation API: {exc}") from None
    outcomes: list[StackOutcome] = []
    failed = False
    for n, step in enumerate(steps, 1):
        if failed:
            outcomes.append(StackOutcome(step, "not run"))
            continue
        name = fully_qualified(step.name, org)
        echo(f"[{n}/{len(steps)}] pulumi {operation} -s {name} (touches {', '.join(step.accounts) or '-'})")
        options: dict[str, Any] = {"color": "never", "on_output": lambda line: echo(f"    {line}")}
        if policy_packs:
            options["policy_packs"] = list(policy_packs)
        if policy_pack_configs:
            options["policy_pack_configs"] = list(policy_pack_configs)
        try:
            stack = (auto.Stack.create_or_select if create_missing else auto.Stack.select)(name, workspace)
            if operation == "preview":
                changes = _changes(stack.preview(**options).change_summary)
            else:
                changes = _changes(stack.up(**options).summary.resource_changes)
        except auto.errors.StackNotFoundError:
            failed = True
            message = (f"stack {name} does not exist in the backend; create it with `pulumi stack init {name} "
                       f"--secrets-provider <awskms://...>` (python -m deploy.bootstrap prints it) or run with "
                       f"--create-missing --secrets-provider <awskms://...>")
            outcomes.append(StackOutcome(step, "failed", message=message))
        except auto.errors.CommandError as exc:
            failed = True
            outcomes.append(StackOutcome(step, "failed", message=cli_message(exc)))
        else:
            outcomes.append(StackOutcome(step, "ok", changes))
            echo(f"    {step.name}: {format_changes(changes)}")
            continue
        echo(f"FAILED {step.name}: pulumi {operation} -s {name} failed:")
        for line in outcomes[-1].message.splitlines():
            echo(f"    {line}")
        rest = [s.name for s in steps[n:]]
        if rest:
            echo(f"not run (they come after {step.name}): {', '.join(rest)}")
    return outcomes


def format_changes(changes: dict[str, int]) -> str:
    shown = {k: v for k, v in changes.items() if v}
    return ", ".join(f"{v} {k}" for k, v in shown.items()) or "no resources"


def summary_markdown(outcomes: Sequence[StackOutcome], operation: str, org: str) -> str:
    """A Markdown summary (the CI's pull-request comment): one row per stack, in order."""
    if not outcomes:
        return f"### `pulumi {operation}`: no stack selected\n\nNo stack's offline preview differs from the base.\n"
    lines = [f"### `pulumi {operation}` of {len(outcomes)} stack(s), in dependency order", "",
             "| # | stack | touches | result | changes |", "|---|---|---|---|---|"]
    for n, o in enumerate(outcomes, 1):
        result = {"ok": "ok", "failed": "**failed**", "not run": "not run"}[o.status]
        changes = format_changes(o.changes) if o.status == "ok" else ""
        lines.append(f"| {n} | `{fully_qualified(o.step.name, org)}` | {', '.join(o.step.accounts)} | {result} | {changes} |")
    for o in outcomes:
        if o.status == "failed":
            lines += ["", f"**{o.step.name}** failed:", "", "```", o.message, "```"]
    return "\n".join(lines) + "\n"
