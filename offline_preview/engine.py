"""Run a Pulumi Python program for one stack under Pulumi's mock resource monitor and capture it.

The capture holds what the Pulumi engine would know at `pulumi preview`: each registration's
type, name, inputs, parent, provider, dependencies, property dependencies and options, plus
the stack's exported outputs. StackReferences resolve to outputs that upstream stacks exported
earlier in the same run.

Any Pulumi Python program works: the project name, the program's entry point and the stack
configuration directory come from its `Pulumi.yaml` (see :class:`Program`), and so does its own
virtualenv. Configuration is handed to the program the way the CLI would hand it over; `secure:`
values are decrypted with the passphrase provider's passphrase from the environment
(offline_preview/secure_config.py), or become placeholder strings marked secret, with a note.

The program runs as a preview (`is_dry_run()`): what no mock answers stays unknown. Remote
(multi-language) components, a URN registered (or read) twice and invokes no mock
answers fail the stack, each with a message naming it.

A parallel preview runs each stack in a process of its own (offline_preview/preview.py), forked
from one that imported ahead the modules earlier runs imported, except those whose import uses
the Pulumi runtime (`import_ahead`). Several stacks, and several programs, can also run in one
process one after another (`--jobs 1`, the tests): each run gets a
fresh root stack, configuration, monitor and event-loop state, and what a failed run left
behind is cancelled. The program's own modules stay imported between its stacks; a module of
another program with the same name is dropped first. The SDK's monitor calls run inline (no
thread hops), which also makes the registration order the same in every run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import functools
import gc
import importlib.util
import json
import logging
import os
import runpy
import traceback
import sys
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import known_types, rpc
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import engine_pb2, provider_pb2, resource_pb2, source_pb2
from pulumi import _types as sdk_types  # noqa: PLC2701 (the SDK's type metadata)
from pulumi import output as pulumi_output
from pulumi.output import UNKNOWN, Unknown
from pulumi.runtime.sync_await import _sync_await

from offline_preview.mocks import MissingInvokeMock, PlatformMocks
from offline_preview.secure_config import SecretsError, stack_decrypter

PROJECT = "ml-platform"
ORGANIZATION = "organization"
ROOT = Path(__file__).resolve().parent.parent
STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
DEFAULT_ACCOUNT_ID = "111111111111"
# What a `secure:` configuration value reads as inside the program.
SECRET_PLACEHOLDER = "[secret {key}]"


class PreviewError(RuntimeError):
    """The program failed, or logged an error, for a stack.

    `registered` holds what the program had registered before it failed; `missing_projects` the
    other projects whose stacks it referenced but the run did not know.
    """

    def __init__(self, message: str, registered: list[Registration] | None = None,
                 missing_projects: Collection[str] = ()):
        super().__init__(message)
        self.registered = registered or []
        self.missing_projects = sorted(set(missing_projects))


class UpstreamPending(PreviewError):
    """A StackReference names a stack of this run that has not been previewed yet.

    The runner catches it, previews the upstream stack first and runs this stack again.
    """

    def __init__(self, stack: str, upstream: str):
        super().__init__(f"stack {stack}: needs stack {upstream}, which has not been previewed yet")
        self.stack = stack
        self.upstream = upstream


@dataclass
class Registration:
    """One resource registration as the engine sees it.

    `account` and `region` are those of the provider that would create the resource (for a
    provider resource: the account and region it acts in); None for components and references.
    """

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
    account: str | None = None
    region: str | None = None
    read: bool = False  # read with `get` (StackReferences, `Resource.get`), not managed
    # Former identities (`aliases` option): alias specs as dicts, or {"urn": ...}.
    aliases: list[dict[str, Any]] = field(default_factory=list)
    # A multi-language (remote) component: its plugin registers its children, which the offline
    # preview does not run, so neither they nor their outputs are known.
    remote: bool = False


@dataclass
class StackRun:
    """What one stack registered and exported."""

    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    secret_outputs: list[str] = field(default_factory=list)
    project: str = PROJECT
    config: dict[str, Any] = field(default_factory=dict)
    # Stacks this stack read through StackReferences (short names).
    references: list[str] = field(default_factory=list)
    # The provider context used for resources without an explicit provider.
    default_account: str = DEFAULT_ACCOUNT_ID
    default_region: str = "us-east-1"
    # Remote components whose children were not seen (URNs), when the run allows them.
    unseen: list[str] = field(default_factory=list)
    # What the offline preview itself has to say about the run (not the program's warnings).
    notes: list[str] = field(default_factory=list)
    # Stacks of other projects read through StackReferences (full names `org/project/stack`).
    external_references: list[str] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str, typ: str | None = None) -> Registration:
        found = [r for r in self.resources if r.name == name and (typ is None or r.type == typ)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r} (type {typ})")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


@dataclass
class RunOptions:
    """What the command line adds to every stack's run; plain data (it travels to workers).

    `invoke_mocks` maps invoke tokens to `[{"args": {...}, "return": {...}}]` (see
    :func:`offline_preview.mocks.load_mocks_file`), `external` full stack names
    (`org/project/stack`) of other projects to their outputs, `external_secrets` to the names of
    their secret outputs.
    """

    allow_unseen: bool = False
    invoke_mocks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mocks_file: str | None = None
    external: dict[str, dict[str, Any]] = field(default_factory=dict)
    external_secrets: dict[str, list[str]] = field(default_factory=dict)
    organization: str = ORGANIZATION


# -- the program -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A Pulumi Python program as its `Pulumi.yaml` describes it."""

    directory: Path  # where Pulumi.yaml is
    project: str
    entry: Path  # the `__main__.py` (or the file `main` names) that runs the program
    stack_config_dir: Path
    project_config: dict[str, Any] = field(default_factory=dict)
    # The program's own environment (Pulumi.yaml `runtime.options`), as the CLI would use it.
    virtualenv: Path | None = None
    toolchain: str = "pip"

    @property
    def main_dir(self) -> Path:
        """The directory the program runs in (its working directory and import root)."""
        return self.entry.parent

    @classmethod
    def load(cls, directory: Path | str) -> Program:
        """Read `<directory>/Pulumi.yaml` (also `.yml`): project name, `main`, `stackConfigDir`."""
        directory = Path(directory).resolve()
        path = next((directory / n for n in ("Pulumi.yaml", "Pulumi.yml") if (directory / n).exists()), None)
        if path is None:
            raise PreviewError(f"{directory}: no Pulumi.yaml; point --program-dir at a Pulumi project")
        try:
            data = _yaml(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise PreviewError(f"{path}: not valid YAML: {exc}") from None
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise PreviewError(f"{path}: `name` (the project name) is missing")
        runtime = data.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        options = (runtime.get("options") if isinstance(runtime, dict) else None) or {}
        if runtime_name not in (None, "python"):
            raise PreviewError(f"{path}: runtime {runtime_name!r} is not python; the offline preview runs Python programs")
        main = directory / str(data.get("main") or ".")
        entry = main / "__main__.py" if main.is_dir() else main
        if not entry.exists():
            raise PreviewError(f"{path}: the program's entry point {entry} does not exist (see `main`)")
        config_dir = directory / str(data.get("stackConfigDir") or ".")
        toolchain = str(options.get("toolchain") or "pip")
        venv = options.get("virtualenv") or (".venv" if toolchain == "uv" else None)
        return cls(directory, name, entry.resolve(), config_dir.resolve(), data.get("config") or {},
                   (directory / str(venv)).absolute() if venv else None, toolchain)


_PROGRAMS: dict[Path, Program] = {}


def default_program() -> Program:
    """This repository's own program."""
    return load_program(ROOT)


def load_program(directory: Path | str) -> Program:
    directory = Path(directory).resolve()
    if directory not in _PROGRAMS:
        _PROGRAMS[directory] = Program.load(directory)
    return _PROGRAMS[directory]


def _as_program(program: Program | Path | str | None) -> Program:
    if program is None:
        return default_program()
    if isinstance(program, Program):
        return program
    path = Path(program).resolve()
    if path.is_file():  # an entry point file: its project is the nearest Pulumi.yaml above it
        for parent in path.parents:
            if (parent / "Pulumi.yaml").exists():
                found = load_program(parent)
                return dataclasses.replace(found, entry=path)
        raise PreviewError(f"{path}: no Pulumi.yaml above the program")
    return load_program(path)


# -- stack configuration -----------------------------------------------------------------------


def discover_stacks(config_dir: Path, project: str | None = None) -> list[str]:
    """Every stack with a `Pulumi.<stack>.yaml` in `config_dir`, in dependency order.

    The order is a hint: layers the platform knows (`<project>:layer`, see LAYER_ORDER) first,
    then by name. The runner corrects it from the StackReferences each stack actually makes.
    """
    found = []
    for path in sorted(Path(config_dir).glob("Pulumi.*.yaml")):
        stack = path.name[len("Pulumi."):-len(".yaml")]
        layer = stack_layer(read_stack_config(Path(config_dir), stack), project)
        rank = LAYER_ORDER.index(layer) if layer in LAYER_ORDER else len(LAYER_ORDER)
        found.append((rank, stack))
    return [stack for _, stack in sorted(found)]


def stack_layer(config: dict[str, Any], project: str | None = None) -> str | None:
    """The stack's `<project>:layer` setting (any project when `project` is None)."""
    if project is not None:
        value = config.get(f"{project}:layer")
    else:
        value = next((v for k, v in config.items() if k.endswith(":layer")), None)
    return value if isinstance(value, str) else None


def read_stack_file(config_dir: Path, stack: str) -> dict[str, Any]:
    """`Pulumi.<stack>.yaml` as written: `config:`, `encryptionsalt:`, `secretsprovider:`..."""
    path = Path(config_dir) / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise PreviewError(f"stack {stack}: no configuration file {path}")
    try:
        data = _yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise PreviewError(f"stack {stack}: {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PreviewError(f"stack {stack}: {path} must be a mapping")
    return data


def read_stack_config(config_dir: Path, stack: str) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<stack>.yaml` as written (keys not yet namespaced)."""
    path = Path(config_dir) / f"Pulumi.{stack}.yaml"
    data = read_stack_file(config_dir, stack)
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise PreviewError(f"stack {stack}: `config` in {path} must be a mapping")
    return config


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)


def _full_key(key: str, project: str) -> str:
    # As the CLI does: a key without a namespace belongs to the project.
    return key if ":" in key else f"{project}:{key}"


def _replace_secure(value: Any, key: str, decrypt: Callable[[str], str] | None = None) -> tuple[Any, bool]:
    """Decrypt `{secure: ...}` values (at any depth), or replace them by placeholders when
    `decrypt` is None; report whether any was found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            if decrypt is None:
                return SECRET_PLACEHOLDER.format(key=key), True
            try:
                return decrypt(str(value["secure"])), True
            except SecretsError as exc:
                raise PreviewError(f"config key {key}: {exc}") from None
        found = False
        out = {}
        for k, v in value.items():
            out[k], secret = _replace_secure(v, key, decrypt)
            found = found or secret
        return out, found
    if isinstance(value, list):
        items = [_replace_secure(v, key, decrypt) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


@dataclass
class StackConfig:
    """A stack's configuration as the program sees it, and which secrets it could not decrypt."""

    values: dict[str, Any]
    secret_keys: list[str]
    undecrypted: list[str] = field(default_factory=list)  # secure keys the program sees as placeholders
    why: str = ""  # why they could not be decrypted


def resolve_config(program: Program, config_dir: Path, stack: str) -> tuple[dict[str, Any], list[str]]:
    """The stack's configuration as the CLI hands it to the program: namespaced keys, project
    defaults from Pulumi.yaml, secure values decrypted when the passphrase provider's passphrase
    is in the environment, else replaced by placeholders. Returns (config, secret keys)."""
    resolved = resolve_stack_config(program, config_dir, stack)
    return resolved.values, resolved.secret_keys


def resolve_stack_config(program: Program, config_dir: Path, stack: str,
                         env: Mapping[str, str] | None = None) -> StackConfig:
    """:func:`resolve_config` with the keys whose secrets could not be decrypted, and why."""
    merged: dict[str, Any] = {}
    for key, spec in (program.project_config or {}).items():
        # Project-level config: `key: value` or `key: {default: value}` / `{value: value}`.
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            merged[_full_key(key, program.project)] = spec.get("value", spec.get("default"))
        elif not isinstance(spec, dict) or "type" not in spec:
            merged[_full_key(key, program.project)] = spec
    stack_file = read_stack_file(config_dir, stack)
    for key, value in read_stack_config(config_dir, stack).items():
        merged[_full_key(str(key), program.project)] = value
    decrypt, why = None, ""
    if any(_replace_secure(v, k)[1] for k, v in merged.items()):
        try:
            decrypt, why = stack_decrypter(stack_file, env)
        except SecretsError as exc:
            raise PreviewError(f"stack {stack}: Pulumi.{stack}.yaml: {exc}") from None
    config, secret_keys = {}, []
    for key, value in merged.items():
        try:
            config[key], secret = _replace_secure(value, key, decrypt)
        except PreviewError as exc:
            raise PreviewError(f"stack {stack}: {exc}") from None
        if secret:
            secret_keys.append(key)
    undecrypted = sorted(secret_keys) if decrypt is None else []
    return StackConfig(config, sorted(secret_keys), undecrypted, why)


def _as_config_value(value: Any) -> str:
    # The CLI hands structured values to programs as JSON text, scalars as their text.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


# -- the capturing monitor ---------------------------------------------------------------------


class _LogCapture:
    """The engine's log service: keeps the program's errors and warnings, with the resource's URN."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def Log(self, request) -> None:  # noqa: N802 (gRPC method name)
        message = f"{request.urn}: {request.message}" if request.urn else request.message
        if request.severity == engine_pb2.ERROR:
            self.errors.append(message)
        elif request.severity == engine_pb2.WARNING:
            self.warnings.append(message)


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that records every registration with its options."""

    def __init__(self, mocks: PlatformMocks, stack: str, upstream: dict[str, dict[str, Any]],
                 project: str = PROJECT, stacks_in_run: Collection[str] | None = None,
                 upstream_secrets: dict[str, Collection[str]] | None = None,
                 options: RunOptions | None = None):
        super().__init__(mocks)
        self.stack = stack
        self.project = project
        self.options = options or RunOptions()
        self.organization = self.options.organization
        self.unseen: list[str] = []  # remote components (URNs)
        self.notes: list[str] = []
        self._urns: set[str] = set()  # registered or read so far
        self.external_references: list[str] = []
        self.missing_projects: set[str] = set()
        self.upstream = upstream
        self.upstream_secrets = upstream_secrets or {}
        self.stacks_in_run = set(stacks_in_run) if stacks_in_run is not None else None
        self.captured: list[Registration] = []
        self.references: list[str] = []
        self.pending: list[str] = []  # stacks of this run referenced before they ran
        self.problems: list[str] = []  # references the run cannot resolve

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine does: the root stack is not part of its children's type chain.
        if parent and parent.split("::")[2] == STACK_TYPE:
            parent = ""
        return super().make_urn(parent, type_, name)

    def _stack_reference(self, inputs: dict[str, Any]) -> dict[str, Any]:
        # Problems are recorded, not raised: an exception here would surface as some unrelated
        # error in the program's Outputs. `run_stack` reports them before anything else.
        name = str(inputs.get("name", ""))
        parts = name.split("/")
        empty = {"name": name, "outputs": {}, "secretOutputNames": []}
        # As the engine does: `stack`, `project/stack` and `org/project/stack`, the missing parts
        # being this run's; a reference matches on the full name.
        if len(parts) > 3 or not all(parts):
            self.problems.append(f"stack {self.stack}: StackReference '{name}' is not a stack name "
                                 "(`stack`, `project/stack` or `organization/project/stack`)")
            return empty
        if len(parts) == 3:
            org, project, short = parts
        elif len(parts) == 2:
            org, (project, short) = self.organization, parts
        else:
            org, project, short = self.organization, self.project, parts[0]
        if (org, project) != (self.organization, self.project):
            return self._external_reference(name, f"{org}/{project}/{short}", project)
        if short == self.stack:
            self.problems.append(f"stack {self.stack}: StackReference '{name}' refers to the stack itself")
            return empty
        if short not in self.upstream:
            if self.stacks_in_run is not None and short in self.stacks_in_run:
                self.pending.append(short)
            else:
                chosen = sorted(self.stacks_in_run) if self.stacks_in_run is not None else sorted(self.upstream)
                self.problems.append(
                    f"stack {self.stack}: StackReference '{name}' names stack '{short}', which is not in this run "
                    f"(stacks in this run: {', '.join(chosen) or 'none'}); add '{short}' to the stacks to preview")
            return empty
        if short not in self.references:
            self.references.append(short)
        return {"name": name, "outputs": self.upstream[short],
                "secretOutputNames": sorted(self.upstream_secrets.get(short, ()))}

    def _external_reference(self, name: str, full: str, project: str) -> dict[str, Any]:
        """A stack of another project: from a program previewed earlier in this invocation or
        the upstream stack outputs file."""
        if full not in self.options.external:
            self.missing_projects.add(project)
            known = sorted(self.options.external)
            hint = (f"; this run's organization is '{self.organization}' (--organization)"
                    if project == self.project else "")
            self.problems.append(
                f"stack {self.stack}: StackReference '{name}' names stack {full}, which is not in this run"
                f"{hint}; preview its program in the same invocation (another --program-dir) "
                f"or give its outputs with --stack-outputs FILE (outputs known for: {', '.join(known) or 'no stack'})")
            return {"name": name, "outputs": {}, "secretOutputNames": []}
        if full not in self.external_references:
            self.external_references.append(full)
        return {"name": name, "outputs": self.options.external[full],
                "secretOutputNames": sorted(self.options.external_secrets.get(full, ()))}

    def _check_unique(self, urn: str) -> None:
        """As the engine: a second registration (or read) of one URN fails the stack, whether or
        not it is identical to the first (the engine never compares them)."""
        if urn in self._urns:
            message = f"stack {self.stack}: Duplicate resource URN '{urn}'; try giving it a unique name"
            self.problems.append(message)
            raise PreviewError(message)
        self._urns.add(urn)

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        self._check_unique(urn)
        inputs = rpc.deserialize_properties(request.object)
        if _has_resource_object(inputs):
            inputs = _without_resource_objects(inputs, request.object)
        account = region = None
        if request.remote:
            # The engine would hand this component to its plugin (Construct), which registers the
            # children and computes the outputs: none of it is known here, so nothing is answered.
            self.unseen.append(urn)
            resource_id, state = "", {}
        elif request.type == STACK_REFERENCE_TYPE:
            resource_id, state = inputs.get("name", ""), self._stack_reference(inputs)
        else:
            args = pulumi_mocks.MockResourceArgs(
                typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
                resource_id=request.importId, custom=request.custom or False,
            )
            args.urn = urn  # lets the mocks derive stable values from the URN
            resource_id, state = self.mocks.new_resource(args)
            if request.type.startswith("pulumi:providers:"):
                account, region = self.mocks.providers.get(f"{urn}::{resource_id}", (None, None))
            elif request.custom:
                account, region = self.mocks.context(request.provider or None)
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
                account=account, region=region,
                aliases=[json_format.MessageToDict(a) for a in request.aliases] + [{"urn": u} for u in request.aliasURNs],
                remote=bool(request.remote),
            )
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=_to_struct(state))

    def ReadResource(self, request):  # noqa: N802 (gRPC method name)
        # StackReferences are read, not registered: `get(name)` of the stack's outputs.
        urn = self.make_urn(request.parent, request.type, request.name)
        self._check_unique(urn)
        inputs = rpc.deserialize_properties(request.properties)
        if request.type == STACK_REFERENCE_TYPE:
            resource_id, state = request.id, self._stack_reference({**inputs, "name": inputs.get("name") or request.id})
        else:
            args = pulumi_mocks.MockResourceArgs(typ=request.type, name=request.name, inputs=inputs,
                                                 provider=request.provider, resource_id=request.id)
            args.urn = urn
            resource_id, state = self.mocks.new_resource(args)
            resource_id = request.id or resource_id
        account, region = (None, None) if request.type == STACK_REFERENCE_TYPE else self.mocks.context(request.provider or None)
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, resource_id, state)
        self.captured.append(
            Registration(
                urn=urn, type=request.type, name=request.name, custom=True, inputs=inputs, outputs=state,
                id=resource_id, parent=request.parent or None, provider=request.provider or None,
                dependencies=list(request.dependencies), property_dependencies={}, protect=False,
                retain_on_delete=False, ignore_changes=[], delete_before_replace=False, import_id=None,
                account=account, region=region, read=True,
            )
        )
        return resource_pb2.ReadResourceResponse(urn=urn, properties=_to_struct(state))

    def Invoke(self, request):  # noqa: N802 (gRPC method name)
        # As MockMonitor.Invoke, without pumping the (running) event loop to serialize plain data.
        args = rpc.deserialize_properties(request.args)
        if request.tok == "pulumi:pulumi:getResource":
            return super().Invoke(request)
        try:
            result = self.mocks.call(pulumi_mocks.MockCallArgs(token=request.tok, args=args, provider=request.provider))
        except MissingInvokeMock as exc:
            self.problems.append(f"stack {self.stack}: {exc}")
            raise
        ret, failures = (result, None) if isinstance(result, dict) else result
        return resource_pb2.ResourceInvokeResponse(
            failures=[provider_pb2.CheckFailure(property=p, reason=r) for p, r in failures or []] or None,
            **{"return": _to_struct(ret)},
        )


def _has_resource_object(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_resource_object(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_resource_object(v) for v in value)
    return isinstance(value, pulumi.Resource)


def _without_resource_objects(value: Any, raw: Any) -> Any:
    """`value` with each resource object (a resource passed as an input, to a component say)
    replaced by the URN its wire form carries: plain data, the same in every run."""
    if isinstance(value, pulumi.Resource):
        try:
            return str(raw["urn"])
        except (KeyError, TypeError, ValueError):
            return f"{type(value).__module__}.{type(value).__name__}"
    if isinstance(value, dict):
        if not value:
            return value
        out = {}
        for key, item in value.items():
            try:
                nested = raw[key]
            except (KeyError, TypeError, ValueError):
                nested = None
            out[key] = _without_resource_objects(item, nested)
        return out
    if isinstance(value, list):
        return [_without_resource_objects(item, raw[i] if raw is not None and i < len(raw) else None)
                for i, item in enumerate(value)]
    return value


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return False


def _to_struct(state: dict[str, Any]) -> struct_pb2.Struct:
    """The protobuf form of a resource's state; plain data converts directly."""
    if not _plain(state):
        state = _unknowns_on_the_wire(state)
    if _plain(state):
        struct = struct_pb2.Struct()
        struct.update({k: v for k, v in state.items() if v is not None})
        return struct
    return _sync_await(rpc.serialize_properties(state, {}))  # assets, resources: the SDK's way


def _unknowns_on_the_wire(value: Any) -> Any:
    """`value` with each unknown as the engine's wire sentinel, which the SDK reads back as
    unknown during a preview (an input the program passed as unknown stays unknown)."""
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, dict):
        return {k: _unknowns_on_the_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns_on_the_wire(v) for v in value]
    return value


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs the SDK's monitor calls on the calling thread.

    The mock monitor answers at once, so handing each call to a worker thread only adds thread
    hops and makes the registration order depend on scheduling; inline, a run is faster and
    registers in the same order every time.
    """

    def submit(self, fn, /, *args, **kwargs):  # noqa: D102
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 handed to the awaiting coroutine
            future.set_exception(exc)
        return future


def _inline_run_in_executor(loop: asyncio.AbstractEventLoop) -> Callable[..., asyncio.Future]:
    """`loop.run_in_executor` for a run whose default executor is the `_InlineExecutor`.

    The SDK sends each monitor call through `run_in_executor(None, ...)`, which wraps the
    executor's future (`futures.wrap_future`): two callbacks, a closure per call and, to hand the
    outcome to the loop, `call_soon_threadsafe`, which also writes a byte to wake the loop's
    selector and so costs two system calls per call. Inline, the call has already run when its
    future is wrapped and the loop is the one running it, so the outcome is handed over with
    `call_soon`: the same callback, queued at the same place, without the wake-up. Any other
    executor is the loop's own way.
    """
    original = loop.run_in_executor
    copy_state = asyncio.futures._copy_future_state  # noqa: SLF001 what wrap_future's callback does

    def run_in_executor(executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future:
        inline = loop._default_executor  # noqa: SLF001
        if executor is not None or not isinstance(inline, _InlineExecutor):
            return original(executor, func, *args)
        source = inline.submit(func, *args)
        destination = loop.create_future()
        loop.call_soon(copy_state, source, destination)
        return destination

    return run_in_executor


# -- the SDK's per-registration work, done the same way at less cost ---------------------------


_SCALARS = frozenset({str, int, float, bool, type(None)})  # never unknown, nothing inside


def _contains_unknowns(value: Any) -> bool:
    """`pulumi.runtime.rpc.contains_unknowns` without its recursive closure.

    The SDK's version defines a self-referencing inner function (and evaluates its annotations)
    on every call: a garbage cycle per output value, tens of thousands per stack, which the
    collector must then find. Same answer: whether an unknown is reachable through dicts and lists.
    """
    if type(value) in _SCALARS:
        return False
    is_unknown = known_types.is_unknown
    if not isinstance(value, (dict, list)):
        return is_unknown(value)
    seen: set[int] = set()
    todo = [value]
    while todo:
        item = todo.pop()
        if type(item) in _SCALARS:
            continue
        if is_unknown(item):
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            # By key, as the SDK does: a dict subclass (an output type) may shadow `values`.
            todo.extend(item[k] for k in item)
        elif isinstance(item, list):
            todo.extend(item)
    return False


@functools.lru_cache(maxsize=4096)
def _source_uri(filename: str) -> str | None:
    try:
        return Path(filename).as_uri()
    except BaseException:  # noqa: BLE001 as the SDK: no position for a frame it cannot place
        return None


def _stack_trace() -> source_pb2.StackTrace:
    """`pulumi.runtime.resource._get_stack_trace` cut to the frame the source position is read from.

    The SDK builds the registration's stack trace with `traceback.extract_stack()`, which stats
    and reads the source file of every frame (linecache) for text it never uses, then a message
    per frame: a large part of each registration's cost. Of that trace the SDK itself reads only
    the first frame (`_get_source_position`: the user's code below the concrete resource's
    `__init__`, the third `__init__` from the top) and the capture reads none, so only that frame
    is sent, as file URI and line: the same source position, no per-frame work for the rest.
    """
    frame = sys._getframe(1)  # noqa: SLF001 the SDK frame that asked (the SDK also counts its own, no __init__)
    seen = 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            seen += 1
            if seen == 3:
                break
        frame = frame.f_back
    user = frame.f_back if frame is not None else None
    if user is None:  # the SDK's `i < 1` (nothing older than that frame), or no third __init__
        return source_pb2.StackTrace()
    filename, line = user.f_code.co_filename, user.f_lineno
    uri = _source_uri(filename) if filename != "" and line is not None else None
    return source_pb2.StackTrace(frames=[source_pb2.StackFrame(
        pc=source_pb2.SourcePosition(uri=uri, line=line) if uri else None)])


_SDK_CREATE_URN = sdk_resource.create_urn


def _create_urn(name: Any, type_: Any, parent: Any = None, project: str | None = None,
                stack: str | None = None) -> pulumi.Output[str]:
    """`pulumi.runtime.resource.create_urn` with one Output where the SDK makes seven.

    Every registration computes one (the URN a run without a monitor would use, then unused
    here) and so do aliases. The same URN, known when the parent's URN is, with the parent's
    URN as its dependency; a name or type that is not text yet is left to the SDK's."""
    if type(name) is not str or type(type_) is not str:
        return _SDK_CREATE_URN(name, type_, parent, project, stack)
    if parent is None:
        stack = pulumi.runtime.settings.get_stack() if stack is None else stack
        project = pulumi.runtime.settings.get_project() if project is None else project
        return pulumi.Output.from_input("urn:pulumi:" + stack + "::" + project + "::" + type_ + "::" + name)
    parent_urn = parent.urn if isinstance(parent, pulumi.Resource) else pulumi.Output.from_input(parent)
    return parent_urn.apply(lambda urn: urn[0:urn.rfind("::")] + "$" + type_ + "::" + name)


_SDK_TRANSFER_PROPERTIES = rpc.transfer_properties


def _transfer_properties(res: Any, props: Any, custom: bool) -> dict[str, Callable[..., None]]:
    """`pulumi.runtime.rpc.transfer_properties` with one future per output property where the
    SDK makes four futures and a task.

    Every registration gives each output property of the resource's class (dozens for many
    pulumi_aws types) an Output and the resolver that settles it once the monitor answers. The
    SDK's Output awaits four futures (dependencies, value, known, secret) in a task of its own,
    which then builds the Output's data; here the resolver builds that data at once and settles
    the Output's one future with it: the same value, known and secret flags and dependencies
    (the resource included), or the same exception."""
    resolvers: dict[str, Callable[..., None]] = {}
    from_data = pulumi.Output._from_data  # noqa: SLF001
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # the SDK settles these itself
        data: asyncio.Future = asyncio.Future()
        resolvers[name] = functools.partial(_settle_output, res, data)
        res.__dict__[name] = from_data(data)
    return resolvers


def _settle_output(res: Any, data: asyncio.Future, value: Any, is_known: bool, is_secret: bool,
                   deps: Any, failed: Exception | None) -> None:
    if failed is not None:
        data.set_exception(failed)
        return
    resources = set(deps) if deps else set()
    resources.add(res)
    data.set_result(pulumi_output._OutputData(  # noqa: SLF001
        resources=resources, value=value, is_known=is_known, is_secret=is_secret))


_SDK_DESERIALIZE_PROPERTIES = rpc.deserialize_properties


def _deserialize_properties(props_struct: struct_pb2.Struct, keep_unknowns: bool | None = None,
                            keep_internal: bool | None = True) -> Any:
    """`pulumi.runtime.rpc.deserialize_properties`, reading the Struct's values directly.

    Both sides of every registration deserialize a Struct (the monitor its inputs, the SDK the
    monitor's answer). The SDK's version reads each value through the Struct's dict-like
    wrappers, which convert it again for every lookup; here each value is read once by its
    kind. The same result: numbers as floats, the unknown sentinel an `Unknown` during a
    preview (else dropped), None values dropped, internal keys kept or skipped alike, secrets
    inside a list or dict pushed up a level, and a value that is not set the SDK's ValueError.
    A Struct with the special signature key (an asset, archive, secret, resource or output
    value) is the SDK's to read."""
    if not isinstance(props_struct, struct_pb2.Struct):
        return _SDK_DESERIALIZE_PROPERTIES(props_struct, keep_unknowns, keep_internal)
    fields = props_struct.fields
    if rpc._special_sig_key in fields:  # noqa: SLF001
        return _SDK_DESERIALIZE_PROPERTIES(props_struct, keep_unknowns, keep_internal)
    output = {}
    for key in fields:
        if keep_internal is False and key.startswith("__") and key != "__provider":
            continue
        value = _deserialized_value(fields[key], keep_unknowns, keep_internal)
        if value is not None:
            output[key] = value
    return output


def _deserialized_value(value: struct_pb2.Value, keep_unknowns: bool | None, keep_internal: bool | None) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        if text == rpc.UNKNOWN:
            return Unknown() if pulumi.runtime.settings.is_dry_run() or keep_unknowns else None
        return text
    if kind == "struct_value":
        props = _deserialize_properties(value.struct_value, keep_unknowns, keep_internal)
        if isinstance(props, dict) and any(rpc.is_rpc_secret(v) for v in props.values()):
            return rpc.wrap_rpc_secret({k: rpc.unwrap_rpc_secret(v) for k, v in props.items()})
        return props
    if kind == "list_value":
        values = [_deserialized_value(item, keep_unknowns, keep_internal) for item in value.list_value.values]
        if any(rpc.is_rpc_secret(v) for v in values):
            return rpc.wrap_rpc_secret([rpc.unwrap_rpc_secret(v) for v in values])
        return values
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "null_value":
        return None
    raise ValueError("Value not set")  # as the Struct's wrappers say it


_SDK_UNWRAP_TYPE = sdk_types.unwrap_type


@functools.lru_cache(maxsize=4096)
def _unwrap_hashable_type(val: Any) -> Any:
    return _SDK_UNWRAP_TYPE(val)


def _unwrap_type(val: Any) -> Any:
    """`pulumi._types.unwrap_type` (the T of `Output[T]`, `Input[T]`, `Optional[T]`, ...) once
    per type: the SDK works it out from the type's typing structure for every typed input of
    every registration, and the answer is a function of the type alone. A type that cannot be a
    cache key is the SDK's to unwrap each time."""
    try:
        return _unwrap_hashable_type(val)
    except TypeError:
        return _SDK_UNWRAP_TYPE(val)


_SDK_RESOURCE_TYPES = sdk_types.resource_types


@functools.lru_cache(maxsize=1024)
def _resource_types(resource_cls: type) -> dict[str, type]:
    """`pulumi._types.resource_types` once per resource class: the SDK merges the class's
    annotated and property types anew for every registration it resolves (its one caller reads
    the dict, never changes it)."""
    return _SDK_RESOURCE_TYPES(resource_cls)


_SDK_DEBUG = pulumi.log.debug


def _debug(msg: str, resource: Any = None, stream_id: int | None = None, ephemeral: bool | None = None) -> None:
    """`pulumi.log.debug` for the offline engine, whose log service keeps no debug message
    (`_LogCapture`: errors and warnings), as `pulumi preview` shows none without `--debug`.

    The SDK sends each of its debug messages to the engine, and one about a resource first waits
    for the resource's URN in a task of its own: several tasks per registration, each for a
    message the engine drops. Here the message is dropped where it is made."""


@contextlib.contextmanager
def _lean_sdk() -> Any:
    """Use the equivalents above in the SDK for the block (a run), then restore the SDK's own."""
    if getattr(sys, "tracebacklimit", None) is not None:  # extract_stack would honour it: keep the SDK's
        yield
        return
    saved = (rpc.contains_unknowns, sdk_resource._get_stack_trace, sdk_resource.create_urn,  # noqa: SLF001
             pulumi.log.debug, rpc.transfer_properties, rpc.deserialize_properties, sdk_types.unwrap_type,
             sdk_types.resource_types)
    (rpc.contains_unknowns, sdk_resource._get_stack_trace, sdk_resource.create_urn,  # noqa: SLF001
     pulumi.log.debug, rpc.transfer_properties, rpc.deserialize_properties, sdk_types.unwrap_type,
     sdk_types.resource_types) = (
        _contains_unknowns, _stack_trace, _create_urn, _debug, _transfer_properties, _deserialize_properties,
        _unwrap_type, _resource_types)
    try:
        yield
    finally:
        (rpc.contains_unknowns, sdk_resource._get_stack_trace, sdk_resource.create_urn,  # noqa: SLF001
         pulumi.log.debug, rpc.transfer_properties, rpc.deserialize_properties, sdk_types.unwrap_type,
         sdk_types.resource_types) = saved


# Dependency order of the platform's layers (see the stack table in ARCHITECTURE.md); a hint only.
LAYER_ORDER = ("organization", "identity", "security", "network", "data-lake", "shared-services", "project", "delivery")


# -- isolation between runs in one process -----------------------------------------------------


class _OutsideRun(RuntimeError):
    """A module touched the Pulumi runtime while imported outside a run."""


def _refuse(*_args: Any, **_kwargs: Any) -> Any:
    raise _OutsideRun("the Pulumi runtime is not available while modules are imported ahead of a run")


class _RefusingConfig(dict):
    """Stack configuration that refuses to be read (see `_no_runtime`)."""

    __contains__ = __getitem__ = get = keys = items = _refuse  # type: ignore[assignment]


@contextlib.contextmanager
def _no_runtime() -> Any:
    """For the block, any use of the Pulumi runtime raises: registering a resource, reading the
    stack's name, project, organization, configuration, dry-run flag or monitor (invokes).

    Class attributes and context variables only: a module that binds a runtime function by name
    while imported here keeps the SDK's own function.
    """
    from pulumi.runtime import config as sdk_config
    from pulumi.runtime import settings as sdk_settings

    cls = sdk_settings.Settings
    names = [n for n in ("stack", "project", "organization", "root_directory", "dry_run", "monitor", "engine")
             if n in cls.__dict__]
    saved = {n: cls.__dict__[n] for n in names}
    saved_init = pulumi.Resource.__init__
    refusing = property(_refuse)
    for name in names:
        setattr(cls, name, refusing)
    pulumi.Resource.__init__ = _refuse
    config_token = sdk_config.CONFIG.set(_RefusingConfig())
    try:
        yield
    finally:
        sdk_config.CONFIG.reset(config_token)
        pulumi.Resource.__init__ = saved_init
        for name, value in saved.items():
            setattr(cls, name, value)


def import_ahead(program: Program, names: Collection[str]) -> list[str]:
    """Import `names` (modules earlier runs of `program` imported) now, outside any run, so that
    processes forked from this one start with them; returns those imported.

    Imported as a run would import them (the program's directory and virtualenv on the path, its
    directory as working directory) but with the Pulumi runtime refused (`_no_runtime`): a module
    whose import registers resources, reads configuration or the stack's name, or calls an
    invoke, fails here and is left to each run to import, as it must be. The program's entry
    point never is.
    """
    import importlib

    entry = str(program.entry)
    site_packages = _site_packages(program)
    saved_path, cwd = list(sys.path), os.getcwd()
    if site_packages is not None:
        import site

        site.addsitedir(site_packages)
        sys.path.remove(site_packages)
        sys.path.insert(0, site_packages)
    sys.path.insert(0, str(program.main_dir))
    os.chdir(program.main_dir)
    _forget_foreign_modules(program.main_dir)
    imported = []
    try:
        with _no_runtime(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in names:
                if name == "__main__" or name in sys.modules:
                    continue
                # A package loaded lazily (pulumi_aws's are) is loaded before its submodules, as
                # in a run: importing a submodule of a package not yet loaded skips the package's
                # own `from .sub import *`.
                try:
                    for parent in _parents(name):
                        if _is_lazy(sys.modules.get(parent)):
                            getattr(sys.modules[parent], "_offline_preview_load_", None)  # loads it
                    module = importlib.import_module(name)
                except BaseException as exc:  # noqa: BLE001 left to the runs (SystemExit included)
                    # Python drops the modules whose code the failure interrupted, but not lazily
                    # loaded ones: those still there are made lazy again, as they were.
                    interrupted = {f.f_code.co_filename for f, _ in traceback.walk_tb(exc.__traceback__)
                                   if f.f_code.co_name == "<module>"}
                    for other in [n for n, m in sys.modules.items() if getattr(m, "__file__", None) in interrupted]:
                        _make_lazy(other)
                    continue
                if getattr(module, "__file__", None) != entry:
                    imported.append(name)
    finally:
        os.chdir(cwd)
        sys.path[:] = saved_path
    return imported


#: The SDK's per-class caches (functools.cache in pulumi._types) a run fills for each resource,
#: input and output class it uses: type hints read from the class's property annotations.
_SDK_CLASS_CACHES = ("_py_properties", "_raw_return_hints", "_types_from_py_properties", "_required_property_names")


@contextlib.contextmanager
def recording_sdk_classes() -> Iterator[set[tuple[str, str]]]:
    """Record, for the block, the classes (module, qualified name) whose SDK caches it filled,
    so a process that forks later runs can fill them ahead (`warm_sdk_classes`)."""
    from pulumi import _types as sdk_types  # noqa: PLC0415 (the SDK's private module, read here only)

    seen: set[tuple[str, str]] = set()
    saved = {}
    for name in _SDK_CLASS_CACHES:
        cached = getattr(sdk_types, name, None)
        if cached is None or not hasattr(cached, "cache_info"):  # another SDK version: not recorded
            continue

        # A cache of its own in front, so a class is recorded on its first call only: the SDK
        # asks these many times per registration, and a hit then costs what the SDK's own does.
        @functools.cache
        def recorder(cls: Any, _cached: Any = cached) -> Any:
            seen.add((getattr(cls, "__module__", ""), getattr(cls, "__qualname__", "")))
            return _cached(cls)

        saved[name] = cached
        setattr(sdk_types, name, recorder)
    try:
        yield seen
    finally:
        for name, cached in saved.items():
            setattr(sdk_types, name, cached)


def warm_sdk_classes(classes: Collection[Sequence[str]]) -> int:
    """Fill the SDK's per-class caches for `classes` (module, qualified name) already imported;
    the number of classes warmed. These caches are pure functions of the class, so a forked run
    finds the same answer it would compute; a class not found, or one whose hints cannot be read
    outside its run, is left to the runs."""
    from pulumi import _types as sdk_types  # noqa: PLC0415

    caches = [c for c in (getattr(sdk_types, name, None) for name in _SDK_CLASS_CACHES) if hasattr(c, "cache_info")]
    warmed = 0
    with _no_runtime(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module_name, qualname in classes:
            module = sys.modules.get(module_name)
            if module is None or _is_lazy(module) or "<locals>" in qualname:
                continue
            cls: Any = module
            for part in qualname.split("."):
                cls = getattr(cls, part, None)
            if not isinstance(cls, type):
                continue
            try:
                for cache in caches:
                    cache(cls)
            except BaseException:  # noqa: BLE001, S112 left to the runs, as an import that fails is
                continue
            warmed += 1
    return warmed


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def _is_lazy(module: Any) -> bool:
    """A lazily loaded module (pulumi's `lazy_import`, importlib's `LazyLoader`) not loaded yet."""
    return module is not None and type(module).__name__ == "_LazyModule"


def _make_lazy(name: str) -> None:
    """Replace module `name` (and its parent's attribute) by a fresh, lazily loaded one."""
    sys.modules.pop(name, None)
    lazy_import = getattr(pulumi._utils, "lazy_import", None)  # noqa: SLF001 what pulumi_aws uses
    if lazy_import is None:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    else:
        module = lazy_import(name)
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, module)


def _top_level_names(directory: Path) -> set[str]:
    names = set()
    for entry in directory.iterdir():
        if entry.suffix == ".py" and entry.stem != "__main__":
            names.add(entry.stem)
        elif entry.is_dir() and (entry / "__init__.py").exists():
            names.add(entry.name)
    return names


def _forget_foreign_modules(main_dir: Path) -> None:
    """Drop cached modules that another program loaded under a name this program also defines.

    Modules of the program itself stay cached between its stacks (they are code, not state);
    only a clash between two programs (both with a `lib` package, say) is undone.
    """
    for name in _top_level_names(main_dir):
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module else None
        if module is None or (origin and Path(origin).resolve().is_relative_to(main_dir)):
            continue
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # A failed run leaves tasks whose exceptions nobody retrieves; run_stack has already
    # reported the failure, so asyncio's "never retrieved" noise is dropped.
    if "never retrieved" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


def _cancel_leftovers() -> None:
    """Cancel what a failed run left scheduled, so it cannot leak into the next stack's run."""
    loop = asyncio.get_event_loop()
    if loop.is_running():
        return
    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


def settle_heap() -> None:
    """Collect a run's garbage, then freeze what survives (imported modules, captured results).

    pulumi_aws alone is a large heap and a preview keeps every stack's registrations: left to
    the cyclic garbage collector, each full collection would scan all of it again, which makes
    later stacks ever slower. Frozen objects are still freed when their reference count drops.
    """
    _collect_quietly()
    gc.freeze()


def _collect_quietly() -> None:
    """Collect a failed run's garbage now, without warnings about coroutines it never awaited."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gc.collect()


async def _settle() -> None:
    """Let fire-and-forget work finish (log messages attached to a resource are sent that way)."""
    for _ in range(3):
        await asyncio.sleep(0)
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=1)


async def _exported(value: Any, registrations: dict[str, Registration]) -> Any:
    """Stack outputs as the engine records them: an exported resource becomes its state
    (with `urn` and `id`), as `pulumi stack output` would show it."""
    if isinstance(value, pulumi.Resource):
        urn = await value.urn.future()
        reg = registrations.get(urn)
        state = dict(reg.outputs) if reg is not None else {}
        state["urn"] = urn
        if reg is not None and reg.id is not None:
            state["id"] = reg.id
        return state
    if isinstance(value, dict):
        return {k: await _exported(v, registrations) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [await _exported(v, registrations) for v in value]
    return value


async def _resolved_exports(raw: dict[str, Any]) -> dict[str, Any]:
    """Each export's value, or UNKNOWN when the preview cannot know it (as `pulumi preview` shows
    it): resolved one by one, so one unknown export does not hide the others."""
    resolved = {}
    for key, value in raw.items():
        output = pulumi.Output.from_input(value)
        if not await output.is_known():
            resolved[key] = UNKNOWN
            continue
        resolved[key] = await output.future()
    return resolved


async def _secret_output_names(outputs: dict[str, Any]) -> list[str]:
    names = []
    for key, value in outputs.items():
        if isinstance(value, pulumi.Output) and await value.is_secret():
            names.append(key)
    return sorted(names)


def run_stack(
    stack: str,
    config_dir: Path,
    upstream: dict[str, dict[str, Any]] | None = None,
    default_account_id: str = DEFAULT_ACCOUNT_ID,
    program: Program | Path | str | None = None,
    stacks_in_run: Collection[str] | None = None,
    upstream_secrets: dict[str, Collection[str]] | None = None,
    options: RunOptions | None = None,
    settle: bool = True,
) -> StackRun:
    """Run the program for `stack` under the capturing monitor and return what it registered.

    The program runs as under `pulumi preview` (`pulumi.runtime.is_dry_run()` is true): what no
    mock knows stays unknown. `upstream` maps stack names to the outputs they exported (what
    StackReferences resolve to); `stacks_in_run` lets a reference to a stack that will run later
    raise :class:`UpstreamPending` instead of an error; `options` adds the command line's mocks,
    other projects' outputs and whether remote components may go unseen. Raises
    :class:`PreviewError` naming the stack when the program fails, raises, logs an error with
    `pulumi.log.error`, registers a URN twice, calls an invoke no mock answers or registers a
    remote component (unless `options.allow_unseen`). `settle=False` leaves the run's garbage
    uncollected, for a process that ends after the run (a forked child of the preview).
    """
    # No cyclic garbage collection while the program runs (it allocates many short-lived
    # cycles); one collection after it, then what survives is frozen (see settle_heap).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_stack(stack, config_dir, upstream, default_account_id, program, stacks_in_run, upstream_secrets,
                          options or RunOptions())
    finally:
        if settle:
            settle_heap()
        if enabled:
            gc.enable()


def _site_packages(prog: Program) -> str | None:
    """The site-packages of the program's own virtualenv (None when it declares none)."""
    venv = prog.virtualenv
    if venv is None:
        return None
    if not venv.is_dir():
        raise PreviewError(
            f"the program's virtualenv {venv} (Pulumi.yaml runtime.options.virtualenv, toolchain "
            f"{prog.toolchain}) does not exist; create it as `pulumi install` would: "
            f"python3 -m venv {venv} && {venv}/bin/python -m pip install -r requirements.txt")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (venv / "lib" / version / "site-packages", venv / "Lib" / "site-packages"):
        if candidate.is_dir():
            # The virtualenv this process runs in (`make preview` in this repository): its
            # packages are loaded already, and adding it again would run its .pth files twice.
            if candidate.resolve() in {Path(p).resolve() for p in sys.path if p}:
                return None
            return str(candidate)
    found = sorted(p.parent.name for p in venv.glob("lib/python*/site-packages"))
    raise PreviewError(
        f"the program's virtualenv {venv} has no {version} site-packages (it has: {', '.join(found) or 'none'}); "
        f"the offline preview runs the program in its own {version} interpreter, so recreate the "
        f"virtualenv with {version}")


def _environment(prog: Program) -> str:
    if prog.virtualenv is not None:
        return f"the program's virtualenv {prog.virtualenv} (Pulumi.yaml runtime.options)"
    return f"the offline preview's environment {sys.prefix} (the program declares no virtualenv)"


def _where(failure: BaseException, prog: Program) -> str:
    """`path:line` of the program's own code where `failure` was raised, or ''."""
    import traceback

    roots = [prog.directory, prog.main_dir]
    venv = prog.virtualenv
    found = ""
    for frame in traceback.extract_tb(failure.__traceback__):
        path = Path(frame.filename)
        if not path.is_absolute() or (venv is not None and path.is_relative_to(venv)):
            continue
        if any(path.is_relative_to(root) for root in roots):
            try:
                shown = path.relative_to(Path.cwd())
            except ValueError:
                shown = path
            found = f"{shown}:{frame.lineno}"
    return found


def _failure_message(stack: str, failure: BaseException, prog: Program) -> str:
    where = _where(failure, prog)
    message = f"stack {stack}: {type(failure).__name__}: {failure}" + (f" (at {where})" if where else "")
    if isinstance(failure, ModuleNotFoundError) and failure.name:
        message += (f"; module '{failure.name}' is not installed in {_environment(prog)}: install the package "
                    f"that provides it there")
    return message


def _unseen_message(stack: str, run: list[Registration], urns: list[str], allowed: bool) -> str:
    regs = {r.urn: r for r in run}
    names = ", ".join(f"{regs[u].type} '{regs[u].name}'" for u in urns)
    text = (f"stack {stack}: {len(urns)} remote (multi-language) component(s) not seen: {names}; "
            "their plugin registers their children, which the offline preview does not run, so those "
            "children were not checked by policies and the components' outputs are unknown")
    if not allowed:
        text += " (pass --allow-unseen to preview the rest with a warning)"
    return text


def _run_stack(stack: str, config_dir: Path, upstream: dict[str, dict[str, Any]] | None, default_account_id: str,
               program: Program | Path | str | None, stacks_in_run: Collection[str] | None,
               upstream_secrets: dict[str, Collection[str]] | None, options: RunOptions) -> StackRun:
    prog = _as_program(program)
    config_dir = Path(config_dir)
    resolved = resolve_stack_config(prog, config_dir, stack)
    config, secret_keys = resolved.values, resolved.secret_keys
    notes: list[str] = []
    if resolved.undecrypted:
        notes.append(f"stack {stack}: the secure value(s) of {', '.join(resolved.undecrypted)} could not be "
                     f"decrypted ({resolved.why}); the program sees placeholders '[secret <key>]'")
    site_packages = _site_packages(prog)
    region = str(config.get("aws:region", "us-east-1"))
    mocks = PlatformMocks(stack, default_account_id, region, options.invoke_mocks, options.mocks_file)
    monitor = CapturingMonitor(mocks, stack, upstream or {}, prog.project, stacks_in_run, upstream_secrets, options)
    capture = _LogCapture()

    # A fresh runtime per run: root stack, outstanding outputs, leftovers of a failed run.
    _cancel_leftovers()
    pulumi.runtime.settings.SETTINGS.outputs.clear()
    pulumi.runtime.settings.ROOT.set(None)
    # preview=True: as under `pulumi preview`, the program sees a dry run and values no mock
    # answers (other providers' computed outputs, unmocked properties) stay unknown.
    pulumi.runtime.set_mocks(mocks, project=prog.project, stack=stack, preview=True,
                             logger=logging.getLogger("offline_preview.program"),
                             monitor=monitor, organization=options.organization)
    pulumi.runtime.settings.SETTINGS.engine = capture
    program_config = {k: _as_config_value(v) for k, v in config.items()}
    # Tell the program where this run's configuration lives (another directory may be chosen);
    # programs that do not read it never see it.
    program_config.setdefault(f"{prog.project}:config-dir", str(config_dir.resolve()))
    pulumi.runtime.set_all_config(program_config, secret_keys)
    root = pulumi.runtime.settings.get_root_resource()

    def body() -> None:
        runpy.run_path(str(prog.entry), run_name="__main__")

    main_dir = str(prog.main_dir)
    cwd = os.getcwd()
    loop = asyncio.get_event_loop()
    previous_executor = getattr(loop, "_default_executor", None)
    loop.set_default_executor(_InlineExecutor(max_workers=1))
    loop.run_in_executor = _inline_run_in_executor(loop)  # type: ignore[method-assign]
    loop.set_exception_handler(_quiet_exception_handler)
    original_outputs = pulumi.StackReference.require_output, pulumi.StackReference.get_output
    pulumi.StackReference.require_output, pulumi.StackReference.get_output = _require_output, _get_output
    _forget_foreign_modules(prog.main_dir)
    saved_path = list(sys.path)
    if site_packages is not None:
        # The program's own packages first (after its directory), .pth files included, as its
        # interpreter would see them; the SDK already loaded here stays the one in use.
        import site

        site.addsitedir(site_packages)
        sys.path.remove(site_packages)
        sys.path.insert(0, site_packages)
    sys.path.insert(0, main_dir)
    os.chdir(main_dir)  # the CLI runs a Python program in its own directory
    failure: BaseException | None = None
    lean = _lean_sdk()
    lean.__enter__()
    try:
        _sync_await(pulumi.runtime.stack.run_pulumi_func(body))
        _sync_await(_settle())
        raw_outputs = dict(root.outputs) if root else {}
        outputs = _sync_await(_resolved_exports(raw_outputs))
        outputs = _sync_await(_exported(outputs, {r.urn: r for r in monitor.captured}))
        secret_outputs = _sync_await(_secret_output_names(raw_outputs))
    except (Exception, SystemExit) as exc:  # reported below, with the stack it came from
        failure = exc
    finally:
        _cancel_leftovers()
        lean.__exit__(None, None, None)
        # Let go of this run's runtime (root stack, outputs, monitor) so it can be collected.
        pulumi.runtime.settings.ROOT.set(None)
        pulumi.runtime.settings.SETTINGS.outputs.clear()
        pulumi.runtime.settings.SETTINGS.monitor = None
        pulumi.StackReference.require_output, pulumi.StackReference.get_output = original_outputs
        loop._default_executor = previous_executor  # noqa: SLF001 (no public way to restore it)
        del loop.run_in_executor  # the loop's own again
        os.chdir(cwd)
        sys.path[:] = saved_path
    # Unresolvable references first: whatever else failed most likely followed from them.
    if monitor.pending:
        raise UpstreamPending(stack, monitor.pending[0])
    if monitor.problems:
        raise PreviewError("\n".join(dict.fromkeys(monitor.problems)), monitor.captured, monitor.missing_projects)
    if isinstance(failure, SystemExit):  # the program stopped itself after logging why
        message = "\n".join(capture.errors) or f"the program exited with {failure.code}"
        raise PreviewError(f"stack {stack}: {message}", monitor.captured) from None
    if isinstance(failure, PreviewError):
        raise PreviewError(str(failure), monitor.captured) from None
    if failure is not None:
        if isinstance(failure, MissingStackOutput):
            raise PreviewError(f"stack {stack}: {failure}", monitor.captured) from None
        raise PreviewError(_failure_message(stack, failure, prog), monitor.captured) from failure
    notes += monitor.notes
    if monitor.unseen:
        unseen = _unseen_message(stack, monitor.captured, monitor.unseen, options.allow_unseen)
        if not options.allow_unseen:
            raise PreviewError(unseen, monitor.captured)
        notes.append(unseen)
    run = StackRun(stack=stack, resources=monitor.captured, outputs=outputs, errors=capture.errors,
                   warnings=capture.warnings, secret_outputs=secret_outputs, project=prog.project,
                   config=config, references=monitor.references, default_account=default_account_id,
                   default_region=region, unseen=list(monitor.unseen), notes=notes,
                   external_references=sorted(monitor.external_references))
    if run.errors:
        raise PreviewError(f"stack {stack}: the program logged errors:\n" + "\n".join(run.errors), run.resources)
    return run


class MissingStackOutput(KeyError):
    """A program required an output its referenced stack does not export."""

    def __init__(self, reference: str, output: str, exported: list[str]):
        super().__init__(output)
        self.reference, self.output, self.exported = reference, output, exported

    def __str__(self) -> str:
        stack = self.reference.split("/")[-1]
        return (f"requires output '{self.output}' of stack '{stack}', which stack '{stack}' does not export "
                f"(it exports: {', '.join(self.exported) or 'nothing'})")


def _stack_output(self: pulumi.StackReference, name: pulumi.Input[str], required: bool) -> pulumi.Output[Any]:
    """`StackReference.require_output` (raising an error that names the stack and the output) or
    `get_output` (None for an output the stack does not export), at less cost.

    The SDK's `Output.all(name, self.outputs)` makes an Output of every key and value of every
    output of the referenced stack, for each output a program reads: this reads the one asked
    for. Same answer: known once the name and the stack's outputs are, the reference as its
    dependency, the value a copy of its own (as the SDK's unwrapped copy is), secret as the SDK says.
    """

    def lookup(outputs: dict[str, Any] | None, key: Any, reference: Any) -> Any:
        if key not in (outputs or {}):
            if required:
                raise MissingStackOutput(str(reference), str(key), sorted(outputs or {}))
            return None
        return copy.deepcopy(outputs[key])

    value = pulumi.Output.all(pulumi.Output.from_input(name), self.name).apply(
        lambda values: self.outputs.apply(lambda outputs: lookup(outputs, *values)))
    is_secret = asyncio.ensure_future(self._StackReference__is_secret_name(name))
    return pulumi.Output(value.resources(), value.future(), value.is_known(), is_secret)


def _require_output(self: pulumi.StackReference, name: pulumi.Input[str]) -> pulumi.Output[Any]:
    return _stack_output(self, name, required=True)


def _get_output(self: pulumi.StackReference, name: pulumi.Input[str]) -> pulumi.Output[Any]:
    return _stack_output(self, name, required=False)
