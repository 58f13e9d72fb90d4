"""The stacks' outputs (README "Stack outputs (contract)"): from a JSON file, or from the Pulumi
backend through the Automation API (the Pulumi CLI must be installed and logged in)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from deploy.runner import fully_qualified
from operations.aws import OperationsError

StackOutputs = dict[str, dict[str, Any]]


def load_file(path: Path) -> StackOutputs:
    """`{stack: {output: value}}`, or an offline preview plan.json (`stacks[].outputs`)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise OperationsError(f"--outputs: {path} does not exist (write it with `pulumi stack output --json` per "
                              f"stack, as {{\"organization\": {{...}}, \"security\": {{...}}}})") from None
    except json.JSONDecodeError as exc:
        raise OperationsError(f"--outputs: {path} is not JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("stacks"), list):
        data = {s["name"]: s.get("outputs") or {} for s in data["stacks"] if isinstance(s, dict) and "name" in s}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise OperationsError(f"--outputs: {path} must map each stack name to its outputs object")
    return data


def from_backend(stacks: Sequence[str], *, work_dir: Path, org: str, optional: Sequence[str] = (),
                 workspace_factory: Callable[..., Any] = auto.LocalWorkspace) -> StackOutputs:
    """Each stack's outputs from the backend the CLI is logged in to; an `optional` stack the
    backend does not have (a project environment not deployed yet) is left out."""
    try:
        workspace = workspace_factory(work_dir=str(work_dir))
    except FileNotFoundError:
        raise OperationsError("the Pulumi CLI (`pulumi`) is not on PATH, so the stacks' outputs cannot be read "
                              "from the backend; pass --outputs FILE instead") from None
    found: StackOutputs = {}
    for stack in stacks:
        name = fully_qualified(stack, org)
        try:
            outputs = auto.Stack.select(name, workspace).outputs()
        except auto.errors.StackNotFoundError:
            if stack in optional:
                continue
            raise OperationsError(f"stack {name} does not exist in the backend; check --org and the stack name "
                                  f"(python -m deploy plan lists them)") from None
        except auto.errors.CommandError as exc:
            raise OperationsError(f"reading the outputs of {name} failed: {exc}") from None
        found[stack] = {key: value.value for key, value in outputs.items()}
    return found


def require(outputs: StackOutputs, stack: str, key: str) -> Any:
    """One output, or a message naming the missing stack or output."""
    if stack not in outputs:
        raise OperationsError(f"no outputs of stack '{stack}' (have: {', '.join(sorted(outputs)) or 'none'}); add "
                              f"them to --outputs or deploy the stack")
    if outputs[stack].get(key) is None:
        raise OperationsError(f"stack '{stack}' has no output '{key}' (README \"Stack outputs (contract)\"); "
                              f"deploy the current program to it")
    return outputs[stack][key]
