"""Run the real program for one stack under Pulumi's mock resource monitor and capture it.

The capture holds what the Pulumi engine would know at `pulumi preview`: each registration's
type, name, inputs, parent, provider, dependencies, property dependencies and options, plus
the stack's exported outputs. StackReferences resolve to outputs that upstream stacks exported
earlier in the same run.
"""

from __future__ import annotations

import logging
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _sync_await

from offline_preview.mocks import PlatformMocks

PROJECT = "ml-platform"
ORGANIZATION = "organization"
ROOT = Path(__file__).resolve().parent.parent
STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


class PreviewError(RuntimeError):
    """The program failed, or logged an error, for a stack.

    `registered` holds what the program had registered before it failed.
    """

    def __init__(self, message: str, registered: list[Registration] | None = None):
        super().__init__(message)
        self.registered = registered or []


@dataclass
class Registration:
    """One resource registration as the engine sees it."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str | None
    parent: str | None
    provider: str | None
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    delete_before_replace: bool
    import_id: str | None


@dataclass
class StackRun:
    """What one stack registered and exported."""

    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str, typ: str | None = None) -> Registration:
        found = [r for r in self.resources if r.name == name and (typ is None or r.type == typ)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r} (type {typ})")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that records every registration with its options."""

    def __init__(self, mocks: PlatformMocks, stack: str, upstream: dict[str, dict[str, Any]]):
        super().__init__(mocks)
        self.stack = stack
        self.upstream = upstream
        self.captured: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine does: the root stack is not part of its children's type chain.
        if parent and parent.split("::")[2] == STACK_TYPE:
            parent = ""
        return super().make_urn(parent, type_, name)

    def _stack_reference(self, inputs: dict[str, Any]) -> dict[str, Any]:
        name = inputs.get("name", "")
        short = name.split("/")[-1]
        if name.count("/") not in (0, 2) or (name.count("/") == 2 and name.split("/")[1] != PROJECT):
            raise PreviewError(f"stack {self.stack}: StackReference '{name}' is not a stack of project {PROJECT}")
        if short not in self.upstream:
            raise PreviewError(
                f"stack {self.stack}: StackReference '{name}' names stack '{short}', which is not in this run "
                f"or has not run yet (previewed so far: {', '.join(self.upstream) or 'none'})"
            )
        return {"name": name, "outputs": self.upstream[short], "secretOutputNames": []}

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        inputs = rpc.deserialize_properties(request.object)
        if request.type == STACK_REFERENCE_TYPE:
            resource_id, state = inputs.get("name", ""), self._stack_reference(inputs)
        else:
            args = pulumi_mocks.MockResourceArgs(
                typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
                resource_id=request.importId, custom=request.custom or False,
            )
            args.urn = urn  # lets the mocks derive stable values from the URN
            resource_id, state = self.mocks.new_resource(args)
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, resource_id, state)
        self.captured.append(
            Registration(
                urn=urn, type=request.type, name=request.name, custom=bool(request.custom),
                inputs=inputs, outputs=state, id=resource_id if request.custom else None,
                parent=request.parent or None, provider=request.provider or None,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                protect=bool(request.protect), retain_on_delete=bool(request.retainOnDelete),
                ignore_changes=list(request.ignoreChanges),
                delete_before_replace=bool(request.deleteBeforeReplace), import_id=request.importId or None,
            )
        )
        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=obj)


# Dependency order of the layers (see the stack table in ARCHITECTURE.md).
LAYER_ORDER = ("organization", "security", "network", "data-lake", "shared-services", "project")


def discover_stacks(config_dir: Path) -> list[str]:
    """Every stack with a `Pulumi.<stack>.yaml` in `config_dir`, in dependency order."""
    found = []
    for path in sorted(config_dir.glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi."):-len(".yaml")]
        layer = read_stack_config(config_dir, stack).get("ml-platform:layer")
        rank = LAYER_ORDER.index(layer) if layer in LAYER_ORDER else len(LAYER_ORDER)
        found.append((rank, stack))
    return [stack for _, stack in sorted(found)]


def read_stack_config(config_dir: Path, stack: str) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<stack>.yaml`, as the CLI would hand it to the program."""
    path = config_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise PreviewError(f"stack {stack}: no configuration file {path}")
    data = yaml.safe_load(path.read_text()) or {}
    return data.get("config") or {}


def _as_config_value(value: Any) -> str:
    # The CLI hands structured values to programs as JSON text.
    import json

    return value if isinstance(value, str) else json.dumps(value)


def run_stack(
    stack: str,
    config_dir: Path,
    upstream: dict[str, dict[str, Any]] | None = None,
    default_account_id: str = "111111111111",
    program: Path | None = None,
) -> StackRun:
    """Run the program for `stack` under the capturing monitor and return what it registered."""
    config = read_stack_config(config_dir, stack)
    region = str(config.get("aws:region", "us-east-1"))
    mocks = PlatformMocks(stack, default_account_id, region)
    monitor = CapturingMonitor(mocks, stack, upstream or {})
    errors = _ErrorLog()
    logger = logging.getLogger(f"offline_preview.{stack}")
    logger.propagate = False
    logger.handlers = [errors]

    pulumi.runtime.settings.ROOT.set(None)  # a fresh root stack per run
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, logger=logger,
                             monitor=monitor, organization=ORGANIZATION)
    pulumi.runtime.set_all_config({k: _as_config_value(v) for k, v in config.items()}, [])
    # Tell the program where this run's configuration lives (another directory may be chosen).
    pulumi.runtime.set_config("ml-platform:config-dir", str(config_dir.resolve()))
    program = program or ROOT / "__main__.py"
    root = pulumi.runtime.settings.get_root_resource()

    def body() -> None:
        runpy.run_path(str(program), run_name="__main__")

    try:
        _sync_await(pulumi.runtime.stack.run_pulumi_func(body))
        outputs = _sync_await(pulumi.Output.from_input(dict(root.outputs)).future()) if root else {}
    except PreviewError as exc:
        raise PreviewError(str(exc), monitor.captured) from None
    except SystemExit as exc:  # the program stopped itself after logging why
        message = "\n".join(errors.messages) or f"exited with {exc.code}"
        raise PreviewError(f"stack {stack}: {message}", monitor.captured) from None
    except Exception as exc:  # the program's own error, reported with the stack it came from
        raise PreviewError(f"stack {stack}: {type(exc).__name__}: {exc}", monitor.captured) from exc
    run = StackRun(stack=stack, resources=monitor.captured, outputs=outputs or {}, errors=errors.messages)
    if run.errors:
        raise PreviewError(f"stack {stack}: the program logged errors:\n" + "\n".join(run.errors), run.resources)
    return run
