"""Run a Python CrossGuard policy pack through the gRPC Analyzer protocol, as the Pulumi engine does.

How the engine runs a Python policy pack (pulumi `sdk/go/common/resource/plugin/analyzer_plugin.go`,
`NewPolicyAnalyzer`, and the `pulumi-analyzer-policy-python` shim it launches):

1. It starts ``python -u -m pulumi.policy <engine address> .`` with the pack directory as the
   working directory (the shim picks the pack's virtualenv, when PulumiPolicy.yaml names one,
   else ``python3``). Logging/tracing flags (``--logtostderr``, ``-v=N``, ``--tracing <endpoint>``)
   are passed only when the CLI runs with them. The environment carries ``PULUMI_CONFIG`` (the
   stack's configuration as JSON), ``PULUMI_ORGANIZATION``, ``PULUMI_PROJECT``, ``PULUMI_STACK``
   and ``PULUMI_DRY_RUN``. ``pulumi.policy`` runs the pack's ``__main__.py``; its ``PolicyPack(...)``
   starts a gRPC server on 127.0.0.1 and prints the port on stdout.
2. It dials the port and calls ``Handshake`` (Python packs answer UNIMPLEMENTED; the engine
   carries on), ``GetAnalyzerInfo``, ``ConfigureStack`` (stack, project, organization, config,
   stack tags: what policies see as ``args.stack_tags``) and ``Configure`` with the reconciled
   policy configuration: every policy's default enforcement level and the ``default`` values of
   its config schema, then the pack's initial config, then ``--policy-pack-config`` (``"all"``
   first, then per policy), validated against each policy's schema.
3. ``Analyze`` per resource with its *inputs*, options and provider; ``AnalyzeStack`` once at the
   end with every resource's *outputs*, parent, dependencies and property dependencies.

This client does the same with one subprocess per :class:`PolicyAnalyzer` (start it once per
pack per run and call :meth:`PolicyAnalyzer.configure_stack` before each stack). There is no
engine to serve the address the pack is given: the Python policy SDK never dials it (its logs go
to stderr, which is captured in :attr:`PolicyAnalyzer.stderr`).

Values unknown during preview are passed as the engine passes them (the unknown sentinel);
use :data:`UNKNOWN` in properties to simulate one.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import queue
import re
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from offline_preview import pack_host

__all__ = [
    "UNKNOWN", "AnalyzedResource", "AnalyzerInfo", "Diagnostic", "PolicyAnalyzer", "PolicyConfigError",
    "PolicyInfo", "PolicyPackError", "analyze_request", "analyze_stack_request", "load_policy_config",
    "reconcile_policy_config", "shared_analyzer",
]

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_ENFORCEMENT_TO_PROTO = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY,
                         "remediate": analyzer_pb2.REMEDIATE, "disabled": analyzer_pb2.DISABLED}
_ENFORCEMENT_FROM_PROTO = {v: k for k, v in _ENFORCEMENT_TO_PROTO.items()}
_SEVERITY_FROM_PROTO = {analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "", analyzer_pb2.POLICY_SEVERITY_LOW: "low",
                        analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium", analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
                        analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical"}
_POLICY_TYPE_FROM_PROTO = {analyzer_pb2.POLICY_TYPE_UNKNOWN: "", analyzer_pb2.POLICY_TYPE_RESOURCE: "resource",
                           analyzer_pb2.POLICY_TYPE_STACK: "stack"}

# The engine's wire form of a value unknown during preview (sdk/go/common/resource/plugin/rpc.go).
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_SIG = "4dabf18193072939515e22adb298388d"
_ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
_MAX_MESSAGE = 400 * 1024 * 1024
# How the client speaks to the pack: over gRPC as the engine does, or over two pipes to the pack's
# own servicer (offline_preview/pack_host.py): the same messages, without a gRPC call per resource.
TRANSPORTS = ("grpc", "pipe")
_PACK_HOST = Path(pack_host.__file__).resolve()
_SERVICE = analyzer_pb2.DESCRIPTOR.services_by_name["Analyzer"]
_RESPONSE_TYPES = {m.name: pack_host.message_class(m.output_type) for m in _SERVICE.methods}
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)]


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
"""Put this in properties for a value the engine would not know during preview."""


class PolicyPackError(RuntimeError):
    """The pack did not start, or failed a call; the message carries its stderr."""


class _CallFailed(PolicyPackError):
    """A call the pack answered with an error status (`code`: the gRPC status code's name)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class PolicyConfigError(ValueError):
    """The policy configuration does not match the pack's policies and schemas."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("invalid policy pack configuration:\n  " + "\n  ".join(problems))
        self.problems = list(problems)


@dataclass
class AnalyzedResource:
    """A resource as the engine hands it to analyzers.

    `properties` are the resource's inputs for :meth:`PolicyAnalyzer.analyze` and its outputs
    for :meth:`PolicyAnalyzer.analyze_stack` (the engine's choice). `provider` is
    ``{"type", "name", "urn", "properties"}`` of the resource's provider (its inputs), or None.
    `retain_on_delete` is kept for callers; the Analyzer protocol does not carry it.
    """

    urn: str
    type: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider: dict[str, Any] | None = None
    protect: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    delete_before_replace_defined: bool | None = None  # None: defined when delete_before_replace is true
    aliases: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Diagnostic:
    """One policy violation."""

    policy_name: str
    policy_pack_name: str
    enforcement_level: str  # advisory | mandatory | remediate | disabled
    urn: str  # the analyzed resource for Analyze; the reported resource, or "" (whole stack), for AnalyzeStack
    message: str
    description: str
    severity: str  # low | medium | high | critical, or "" when the policy names none
    policy_pack_version: str = ""

    @property
    def is_mandatory(self) -> bool:
        return self.enforcement_level in ("mandatory", "remediate")


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    severity: str
    policy_type: str  # resource | stack
    config_schema: dict[str, Any]
    required: tuple[str, ...]
    remediation_steps: str
    tags: tuple[str, ...]
    display_name: str
    framework_reference: str


@dataclass(frozen=True)
class AnalyzerInfo:
    name: str
    version: str
    description: str
    display_name: str
    supports_config: bool
    policies: tuple[PolicyInfo, ...]
    initial_config: dict[str, dict[str, Any]]

    def policy(self, name: str) -> PolicyInfo:
        for policy in self.policies:
            if policy.name == name:
                return policy
        raise KeyError(name)


# ------------------------------------------------------------------------------------------------
# Policy configuration, as `pulumi preview --policy-pack-config` reads and reconciles it
# ------------------------------------------------------------------------------------------------
def load_policy_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a `--policy-pack-config` JSON file (an empty file is no configuration)."""
    text = Path(path).read_text()
    if not text.strip():
        return {}
    data = json.loads(text)
    if not isinstance(data, dict):
        raise PolicyConfigError([f"{path}: the configuration must be a JSON object"])
    return data


def _normalize(config: Mapping[str, Any]) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """policy -> (enforcement level, properties), as the CLI parses the file."""
    problems, result = [], {}
    for name, value in config.items():
        if isinstance(value, str):
            if value not in ENFORCEMENT_LEVELS:
                problems.append(f"{name}: {value!r} is not a valid enforcement level")
            result[name] = (value, {})
        elif isinstance(value, Mapping):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
            if level is not None and level not in ENFORCEMENT_LEVELS:
                problems.append(f"{name}: {level!r} is not a valid enforcement level")
            if level is not None or props:
                result[name] = (level, props)
        else:
            problems.append(f"{name}: {value!r} is not a valid value; must be a string or object")
    if problems:
        raise PolicyConfigError(problems)
    return result


def _check_schema(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    """The JSON-schema subset policy config schemas use (type, enum, items, properties,
    additionalProperties, required, minItems, minimum, maximum)."""
    problems: list[str] = []
    kind = schema.get("type")
    checks = {"string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) or (isinstance(v, float) and v.is_integer()),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "array": lambda v: isinstance(v, list), "object": lambda v: isinstance(v, Mapping),
              "null": lambda v: v is None}
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(checks.get(k, lambda v: True)(value) for k in kinds):
        return [f"{path}: expected {' or '.join(kinds)}, got {json.dumps(value)}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {json.dumps(value)} is not one of {json.dumps(schema['enum'])}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: {value} is less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: {value} is more than {schema['maximum']}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{path}: needs at least {schema['minItems']} item(s)")
        if isinstance(schema.get("items"), Mapping):
            for i, item in enumerate(value):
                problems += _check_schema(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        for key in schema.get("required") or []:
            if key not in value:
                problems.append(f"{path}: {key} is required")
        for key, item in value.items():
            if key in properties:
                problems += _check_schema(item, properties[key], f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), Mapping):
                problems += _check_schema(item, schema["additionalProperties"], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}: {key} is not allowed")
    return problems


def reconcile_policy_config(info: AnalyzerInfo, config: Mapping[str, Any] | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """The configuration the engine sends to `Configure`: policy -> (enforcement level, properties)."""
    result: dict[str, tuple[str, dict[str, Any]]] = {}
    for policy in info.policies:
        defaults = {k: v["default"] for k, v in policy.config_schema.items() if isinstance(v, Mapping) and "default" in v}
        result[policy.name] = (policy.enforcement_level, defaults)
    layers = [{k: (v.get("enforcementLevel"), {p: x for p, x in v.items() if p != "enforcementLevel"})
               for k, v in info.initial_config.items()}, _normalize(config or {})]
    for layer in layers:
        if "all" in layer and layer["all"][0]:
            result = {k: (layer["all"][0], props) for k, (_, props) in result.items()}
        for name, (level, props) in layer.items():
            current_level, current_props = result.get(name, ("advisory", {}))
            result[name] = (level or current_level, {**current_props, **props})
    problems = []
    for policy in info.policies:
        schema = {"type": "object", "properties": policy.config_schema, "required": list(policy.required)}
        problems += _check_schema(result[policy.name][1], schema, policy.name)
    if problems:
        raise PolicyConfigError(problems)
    return result


# ------------------------------------------------------------------------------------------------
# Values to protobuf, as the engine marshals them (KeepUnknowns, KeepSecrets, SkipInternalKeys)
# ------------------------------------------------------------------------------------------------
def _wire(value: Any) -> Any:
    if value is UNKNOWN or type(value).__name__ == "Unknown":  # ours, or pulumi.output.Unknown
        return UNKNOWN_SENTINEL
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    kind = type(value).__name__
    if kind in ("FileAsset", "StringAsset", "RemoteAsset"):
        attr = {"FileAsset": "path", "StringAsset": "text", "RemoteAsset": "uri"}[kind]
        return {_SIG: _ASSET_SIG, attr: getattr(value, attr)}
    if kind in ("FileArchive", "RemoteArchive", "AssetArchive"):
        if kind == "AssetArchive":
            return {_SIG: _ARCHIVE_SIG, "assets": {k: _wire(v) for k, v in value.assets.items()}}
        attr = "path" if kind == "FileArchive" else "uri"
        return {_SIG: _ARCHIVE_SIG, attr: getattr(value, attr)}
    # Resource references, outputs and anything else the engine could not marshal to a value
    # are not known to the analyzer.
    return UNKNOWN_SENTINEL


def _struct(values: Mapping[str, Any] | None) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    _fill_struct(struct, values or {})
    return struct


def _fill_struct(struct: struct_pb2.Struct, values: Mapping[str, Any]) -> None:
    """`struct.update(_wire(values))` in one pass, without the intermediate copy (the same message)."""
    fields = struct.fields
    for key, value in values.items():
        key = str(key)
        if not key.startswith("__"):
            _set_value(fields[key], value)


def _set_value(target: struct_pb2.Value, value: Any) -> None:
    """What `Struct.update` sets for `_wire(value)`; the plain types directly, others through `_wire`."""
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is bool:
        target.bool_value = value
    elif kind is int or kind is float:
        target.number_value = float(value)
    elif value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif kind is dict:
        target.struct_value.Clear()
        _fill_struct(target.struct_value, value)
    elif kind is list or kind is tuple:
        target.list_value.Clear()
        add = target.list_value.values.add
        for item in value:
            _set_value(add(), item)
    else:
        _set_wired(target, _wire(value))


def _set_wired(target: struct_pb2.Value, value: Any) -> None:
    """`Struct.update`'s setter (protobuf's `_SetStructValue`) for a value `_wire` returned."""
    if value is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, (int, float)):
        target.number_value = value
    elif isinstance(value, dict):
        target.struct_value.Clear()
        for key, item in value.items():
            _set_wired(target.struct_value.fields[key], item)
    else:
        target.list_value.Clear()
        for item in value:
            _set_wired(target.list_value.values.add(), item)


def _options(resource: AnalyzedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    defined = resource.delete_before_replace if resource.delete_before_replace_defined is None \
        else resource.delete_before_replace_defined
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect, ignoreChanges=list(resource.ignore_changes),
        deleteBeforeReplace=resource.delete_before_replace, deleteBeforeReplaceDefined=bool(defined),
        additionalSecretOutputs=list(resource.additional_secret_outputs), aliases=list(resource.aliases),
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
        parent=resource.parent or "",
    )


def _provider(resource: AnalyzedResource) -> analyzer_pb2.AnalyzerProviderResource | None:
    if not resource.provider:
        return None
    p = resource.provider
    return analyzer_pb2.AnalyzerProviderResource(type=p.get("type", ""), name=p.get("name", ""), urn=p.get("urn", ""),
                                                 properties=_struct(p.get("properties")))


def _pack_version(pack_dir: Path) -> str:
    """`version:` of PulumiPolicy.yaml, which the engine prefers to the version the pack reports."""
    match = re.search(r"^version:\s*[\"']?([^\s\"'#]+)", (pack_dir / "PulumiPolicy.yaml").read_text(), re.M)
    return match.group(1) if match else ""


def _diagnostics(response: analyzer_pb2.AnalyzeResponse, default_urn: str = "", version: str = "") -> list[Diagnostic]:
    return [Diagnostic(policy_name=d.policyName, policy_pack_name=d.policyPackName,
                       enforcement_level=_ENFORCEMENT_FROM_PROTO.get(d.enforcementLevel, str(d.enforcementLevel)),
                       urn=d.urn or default_urn, message=d.message, description=d.description,
                       severity=_SEVERITY_FROM_PROTO.get(d.severity, ""),
                       policy_pack_version=version or d.policyPackVersion)
            for d in response.diagnostics]


# ------------------------------------------------------------------------------------------------
# The analyzer
# ------------------------------------------------------------------------------------------------
def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class PolicyAnalyzer:
    """One policy pack running as the engine runs it, spoken to over gRPC.

    >>> with PolicyAnalyzer("policypacks/ml-guardrails", load_policy_config("...json")) as analyzer:
    ...     diagnostics = analyzer.analyze_stack(resources)
    """

    # Seconds a failed call waits for the host's stderr mark (the host writes it before it
    # answers, so this bounds only a stalled reader).
    _STDERR_WAIT = 10.0

    def __init__(self, pack_dir: str | os.PathLike[str], policy_config: Mapping[str, Any] | None = None, *,
                 python: str | None = None, project: str = "ml-platform", stack: str = "offline-preview",
                 organization: str = "organization", stack_tags: Mapping[str, str] | None = None,
                 stack_config: Mapping[str, Any] | None = None, dry_run: bool = True,
                 engine_address: str = "127.0.0.1:0", startup_timeout: float = 60.0, call_timeout: float = 300.0,
                 env: Mapping[str, str] | None = None, log_to_stderr: bool = False, verbosity: int = 0,
                 tracing: str | None = None, transport: str = "grpc") -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
        self.pack_dir = Path(pack_dir).resolve()
        if not (self.pack_dir / "PulumiPolicy.yaml").exists():
            raise PolicyPackError(f"{self.pack_dir} has no PulumiPolicy.yaml")
        self.version = _pack_version(self.pack_dir)
        self.python = python or sys.executable
        self.project, self.stack, self.organization = project, stack, organization
        self.stack_tags = dict(stack_tags or {})
        self.stack_config = dict(stack_config or {})
        self.dry_run = dry_run
        self.engine_address = engine_address
        self.startup_timeout, self.call_timeout = startup_timeout, call_timeout
        self.env = dict(env or {})
        # The engine's --logflow flags, placed before the plugin arguments as the engine does.
        self.flags = (["--logtostderr"] if log_to_stderr else []) + ([f"-v={verbosity}"] if verbosity > 0 else []) \
            + (["--tracing", tracing] if tracing else [])
        self._initial_policy_config = dict(policy_config or {})
        self.policy_config: dict[str, tuple[str, dict[str, Any]]] = {}
        self._current_config: dict[str, Any] = {}
        self.info: AnalyzerInfo | None = None
        self.plugin_version = ""
        self.command: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=400)
        self._marked = threading.Condition()  # the host's stderr marks (pack_host.STDERR_MARK) read
        self._marks = self._failures = 0
        self._stdout: collections.deque[str] = collections.deque(maxlen=400)
        self._finalizer: weakref.finalize | None = None
        # "pipe" falls back to "grpc" when the pack's SDK hands over no servicer (pack_host).
        self.transport = transport
        self._pipe: _Pipe | None = None
        self._pipe_lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> PolicyAnalyzer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> PolicyAnalyzer:
        """Start the pack and configure it; on any failure the process is stopped again."""
        if self._process is not None:
            return self
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> PolicyAnalyzer:
        env = {**os.environ, **self.env, "PULUMI_PROJECT": self.project, "PULUMI_STACK": self.stack,
               "PULUMI_ORGANIZATION": self.organization, "PULUMI_DRY_RUN": "true" if self.dry_run else "false"}
        if self.stack_config:
            env["PULUMI_CONFIG"] = json.dumps({k: v if isinstance(v, str) else json.dumps(v)
                                               for k, v in self.stack_config.items()})
        if not (self.transport == "pipe" and self._start_pipe(env)):
            self.transport = "grpc"
            self._start_grpc(env)
        self._handshake()
        self.info = self._analyzer_info()
        try:
            self.plugin_version = self._call("GetPluginInfo", empty_pb2.Empty()).version
        except PolicyPackError:
            self.plugin_version = ""
        self.configure_stack()
        self.configure(self._initial_policy_config)
        return self

    def _start_pipe(self, env: Mapping[str, str]) -> bool:
        """Start the pack under pack_host; False (the process stopped again) when its SDK hands
        over no servicer."""
        host_in, ours_out = os.pipe()  # requests: this process writes, the host reads
        ours_in, host_out = os.pipe()  # responses
        self.command = [self.python, "-u", str(_PACK_HOST), str(host_in), str(host_out), "--",
                        *self.flags, self.engine_address, "."]
        try:
            self._process = subprocess.Popen(self.command, cwd=self.pack_dir, env=env, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             pass_fds=(host_in, host_out))
        except BaseException:
            for fd in (ours_in, ours_out):
                os.close(fd)
            raise
        finally:
            os.close(host_in)
            os.close(host_out)
        self._pipe = _Pipe(ours_out, ours_in)
        self._finalizer = weakref.finalize(self, _terminate, self._process)
        self._follow_output(None)
        try:
            status, details, _ = pack_host.decode_response(self._pipe.receive(self.startup_timeout))
        except (EOFError, OSError, TimeoutError) as exc:
            raise PolicyPackError(f"policy pack {self.pack_dir} did not start ({self._ended(exc)}):\n"
                                  f"{''.join(self._stdout)}{self.stderr}") from None
        if status == "unsupported":
            self._stop_process()
            return False
        return True

    def _start_grpc(self, env: Mapping[str, str]) -> None:
        self.command = [self.python, "-u", "-m", "pulumi.policy", *self.flags, self.engine_address, "."]
        self._process = subprocess.Popen(self.command, cwd=self.pack_dir, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._finalizer = weakref.finalize(self, _terminate, self._process)
        port = self._read_port()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.startup_timeout)
        except grpc.FutureTimeoutError:
            raise PolicyPackError(f"policy pack {self.pack_dir} did not accept connections on port {port}") from None
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._stop_process()
        self._stub = None

    def _stop_process(self) -> None:
        if self._pipe is not None:
            self._pipe.close()  # the host reads the end of its requests and exits
            self._pipe = None
        if self._process is not None:
            _terminate(self._process)
            if self._finalizer is not None:
                self._finalizer.detach()
            self._process = None

    def _ended(self, exc: BaseException) -> str:
        """Why the pack stopped answering: its exit status once it has one (its output read to the end)."""
        if isinstance(exc, TimeoutError):
            return "timed out"
        assert self._process is not None
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "closed its pipe"
        for reader in self._readers:
            reader.join(timeout=2)
        return f"exited with {code}"

    def _read_port(self) -> int:
        ports: queue.Queue[int | None] = queue.Queue()
        self._follow_output(ports)
        try:
            port = ports.get(timeout=self.startup_timeout)
        except queue.Empty:
            port = None
        if port is None:
            assert self._process is not None
            self._process.poll()
            code = self._process.returncode
            raise PolicyPackError(f"policy pack {self.pack_dir} did not print its port "
                                  f"({'exited with ' + str(code) if code is not None else 'timed out'}):\n"
                                  f"{''.join(self._stdout)}{self.stderr}")
        return port

    def _follow_output(self, ports: queue.Queue[int | None] | None) -> None:
        """Keep the pack's stdout and stderr (their last lines); the first number on stdout is the
        port its gRPC server listens on, put on `ports` when given."""
        assert self._process is not None and self._process.stdout is not None and self._process.stderr is not None

        def read_stdout(stream: Any) -> None:
            announced = ports is None
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace")
                if not announced and line.strip().isdigit():
                    announced = True
                    assert ports is not None
                    ports.put(int(line.strip()))
                else:
                    self._stdout.append(line)
            if not announced:
                assert ports is not None
                ports.put(None)

        def read_stderr(stream: Any) -> None:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace")
                if line == pack_host.STDERR_MARK:
                    with self._marked:
                        self._marks += 1
                        self._marked.notify_all()
                    continue
                self._stderr.append(line)
            with self._marked:  # nothing more will come
                self._marks = sys.maxsize
                self._marked.notify_all()

        self._marks = self._failures = 0  # this process's
        self._readers = [threading.Thread(target=read_stdout, args=(self._process.stdout,), daemon=True),
                         threading.Thread(target=read_stderr, args=(self._process.stderr,), daemon=True)]
        for reader in self._readers:
            reader.start()

    # -- protocol ------------------------------------------------------------------------------
    def _call(self, method: str, request: Any) -> Any:
        if self._pipe is not None:
            return self._calls(method, [request])[0]
        if self._stub is None:
            raise PolicyPackError("the analyzer is not running (use it as a context manager or call start())")
        try:
            return getattr(self._stub, method)(request, timeout=self.call_timeout)
        except grpc.RpcError as error:
            raise PolicyPackError(f"{method} failed: {error.code().name}: {error.details()}\n"
                                  f"policy pack stderr:\n{self.stderr}") from None

    def _calls(self, method: str, requests: Sequence[Any]) -> list[Any]:
        """`method` for each request, in one frame to the pack's host; the first failure raises."""
        frame = pack_host.encode_request(method, [r.SerializeToString() for r in requests])
        with self._pipe_lock:
            if self._pipe is None:
                raise PolicyPackError("the analyzer is not running (use it as a context manager or call start())")
            try:
                self._pipe.send(frame)
                status, details, answers = pack_host.decode_response(self._pipe.receive(self.call_timeout))
            except (EOFError, OSError, TimeoutError) as exc:
                raise PolicyPackError(f"{method} failed: the policy pack {self._ended(exc)}\n"
                                      f"policy pack stderr:\n{self.stderr}") from None
            if status != "ok":
                # The host wrote the failure's traceback, then a mark, before answering: the
                # reader thread may not have got to them yet.
                self._failures += 1
                with self._marked:
                    self._marked.wait_for(lambda: self._marks >= self._failures, timeout=self._STDERR_WAIT)
        if status != "ok":
            raise _CallFailed(f"{method} failed: {status}: {details}\npolicy pack stderr:\n{self.stderr}", status)
        return [_RESPONSE_TYPES[method].FromString(a) for a in answers]

    def _handshake(self) -> None:
        request = analyzer_pb2.AnalyzerHandshakeRequest(engine_address=self.engine_address,
                                                        root_directory=str(self.pack_dir),
                                                        program_directory=str(self.pack_dir))
        if self._pipe is not None:
            try:
                self._calls("Handshake", [request])
            except _CallFailed as failure:
                if failure.code != "UNIMPLEMENTED":
                    raise
            return
        try:
            self._stub.Handshake(request, timeout=self.call_timeout)  # type: ignore[union-attr]
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(f"Handshake failed: {error.code().name}: {error.details()}") from None

    def _analyzer_info(self) -> AnalyzerInfo:
        response = self._call("GetAnalyzerInfo", empty_pb2.Empty())
        policies = []
        for p in response.policies:
            schema = json_format.MessageToDict(p.configSchema.properties) if p.HasField("configSchema") else {}
            policies.append(PolicyInfo(
                name=p.name, description=p.description,
                enforcement_level=_ENFORCEMENT_FROM_PROTO.get(p.enforcementLevel, "advisory"),
                severity=_SEVERITY_FROM_PROTO.get(p.severity, ""), policy_type=_POLICY_TYPE_FROM_PROTO.get(p.policy_type, ""),
                config_schema=schema, required=tuple(p.configSchema.required) if p.HasField("configSchema") else (),
                remediation_steps=p.remediation_steps, tags=tuple(p.tags), display_name=p.displayName,
                framework_reference=p.framework.reference if p.HasField("framework") else "",
            ))
        initial = {}
        for name, config in response.initialConfig.items():
            entry = json_format.MessageToDict(config.properties) if config.HasField("properties") else {}
            entry["enforcementLevel"] = _ENFORCEMENT_FROM_PROTO.get(config.enforcementLevel, "advisory")
            initial[name] = entry
        return AnalyzerInfo(name=response.name, version=self.version or response.version, description=response.description,
                            display_name=response.displayName, supports_config=response.supportsConfig,
                            policies=tuple(policies), initial_config=initial)

    def configure(self, policy_config: Mapping[str, Any] | None) -> dict[str, tuple[str, dict[str, Any]]]:
        """Reconcile `policy_config` (the `--policy-pack-config` form) with the pack's defaults,
        validate it and send it with `Configure`; replaces any earlier configuration."""
        assert self.info is not None
        reconciled = reconcile_policy_config(self.info, policy_config)
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in reconciled.items():
            request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(
                enforcementLevel=_ENFORCEMENT_TO_PROTO[level], properties=_struct(properties)))
        self._call("Configure", request)
        self.policy_config = reconciled
        self._current_config = dict(policy_config or {})
        return reconciled

    @contextmanager
    def configured(self, overrides: Mapping[str, Any]) -> Iterator[PolicyAnalyzer]:
        """Overlay `overrides` on the current configuration for the block, then restore it.

        A policy's object merges into its current object; a string (enforcement level) sets the level."""
        previous = self._current_config
        merged: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in previous.items()}
        for name, value in overrides.items():
            current = merged.get(name)
            if isinstance(value, Mapping):
                base = dict(current) if isinstance(current, Mapping) else (
                    {"enforcementLevel": current} if isinstance(current, str) else {})
                merged[name] = {**base, **value}
            elif isinstance(current, Mapping):
                merged[name] = {**current, "enforcementLevel": value}
            else:
                merged[name] = value
        self.configure(merged)
        try:
            yield self
        finally:
            self.configure(previous)

    def configure_stack(self, stack: str | None = None, *, project: str | None = None, organization: str | None = None,
                        tags: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None,
                        dry_run: bool | None = None) -> None:
        """Tell the pack which stack is analyzed next (`ConfigureStack`); tags become `args.stack_tags`."""
        self.stack = stack or self.stack
        self.project = project or self.project
        self.organization = organization or self.organization
        if tags is not None:
            self.stack_tags = dict(tags)
        if config is not None:
            self.stack_config = dict(config)
        if dry_run is not None:
            self.dry_run = dry_run
        self._call("ConfigureStack", analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.stack, project=self.project, organization=self.organization, dry_run=self.dry_run,
            config={k: v if isinstance(v, str) else json.dumps(v) for k, v in self.stack_config.items()},
            tags=self.stack_tags))

    def analyze(self, resource: AnalyzedResource) -> list[Diagnostic]:
        """`Analyze`: the resource policies' violations for one resource (pass its inputs)."""
        # Resource policies report without a URN; the engine files them under the analyzed resource.
        return _diagnostics(self._call("Analyze", analyze_request(resource)), default_urn=resource.urn,
                            version=self.version)

    def analyze_each(self, resources: Iterable[AnalyzedResource]) -> list[Diagnostic]:
        """`Analyze` for each resource in turn, as the engine does while it steps through a plan."""
        return self.analyze_all(resources, in_flight=1)

    def analyze_all(self, resources: Iterable[AnalyzedResource], in_flight: int = 4) -> list[Diagnostic]:
        """`Analyze` for every resource, up to `in_flight` calls under way at once (as the engine
        analyzes the steps it runs in parallel); the diagnostics come in the resources' order.

        The next requests are built while the pack answers; resources that share a provider
        (the same `provider` object) share its message. Over pipes, the requests go in one frame
        and are answered in order."""
        providers: dict[int, tuple[Any, analyzer_pb2.AnalyzerProviderResource]] = {}
        if self._pipe is not None:
            resources = list(resources)
            responses = self._calls("Analyze", [analyze_request(r, providers) for r in resources])
            return [d for resource, response in zip(resources, responses)
                    for d in _diagnostics(response, default_urn=resource.urn, version=self.version)]
        if self._stub is None:
            raise PolicyPackError("the analyzer is not running (use it as a context manager or call start())")
        pending: collections.deque[tuple[AnalyzedResource, Any]] = collections.deque()
        diagnostics: list[Diagnostic] = []
        try:
            for resource in resources:
                if len(pending) >= max(1, in_flight):
                    diagnostics += self._answer(*pending.popleft())
                request = analyze_request(resource, providers)
                pending.append((resource, self._stub.Analyze.future(request, timeout=self.call_timeout)))
            while pending:
                diagnostics += self._answer(*pending.popleft())
        finally:
            for _, call in pending:
                call.cancel()
        return diagnostics

    def _answer(self, resource: AnalyzedResource, call: Any) -> list[Diagnostic]:
        try:
            response = call.result()
        except grpc.RpcError as error:
            raise PolicyPackError(f"Analyze failed: {error.code().name}: {error.details()}\n"
                                  f"policy pack stderr:\n{self.stderr}") from None
        return _diagnostics(response, default_urn=resource.urn, version=self.version)

    def analyze_stack(self, resources: Sequence[AnalyzedResource]) -> list[Diagnostic]:
        """`AnalyzeStack`: the stack policies' violations for all resources (pass their outputs)."""
        return _diagnostics(self._call("AnalyzeStack", analyze_stack_request(resources)), version=self.version)


def analyze_request(resource: AnalyzedResource,
                    providers: dict[int, tuple[Any, analyzer_pb2.AnalyzerProviderResource]] | None = None,
                    ) -> analyzer_pb2.AnalyzeRequest:
    """The `AnalyzeRequest` the engine sends for `resource` (its inputs, options and provider).

    `providers` (kept by the caller across requests) reuses the provider message of resources
    whose `provider` is the same object."""
    request = analyzer_pb2.AnalyzeRequest(type=resource.type, urn=resource.urn, name=resource.name,
                                          options=_options(resource))
    _fill_struct(request.properties, resource.properties or {})
    provider = _provider_message(resource, providers)
    if provider is not None:
        request.provider.CopyFrom(provider)
    return request


def analyze_stack_request(resources: Sequence[AnalyzedResource]) -> analyzer_pb2.AnalyzeStackRequest:
    """The `AnalyzeStackRequest` the engine sends for a stack's resources (their outputs)."""
    request = analyzer_pb2.AnalyzeStackRequest()
    providers: dict[int, tuple[Any, analyzer_pb2.AnalyzerProviderResource]] = {}
    for r in resources:
        item = request.resources.add(type=r.type, urn=r.urn, name=r.name, parent=r.parent or "",
                                     dependencies=list(r.dependencies))
        _fill_struct(item.properties, r.properties or {})
        item.options.CopyFrom(_options(r))
        provider = _provider_message(r, providers)
        if provider is not None:
            item.provider.CopyFrom(provider)
        for key, urns in r.property_dependencies.items():
            if urns:  # the engine skips properties without dependencies
                item.propertyDependencies[key].urns.extend(urns)
    return request


def _provider_message(resource: AnalyzedResource,
                      cache: dict[int, tuple[Any, analyzer_pb2.AnalyzerProviderResource]] | None,
                      ) -> analyzer_pb2.AnalyzerProviderResource | None:
    if cache is None or not resource.provider:
        return _provider(resource)
    hit = cache.get(id(resource.provider))
    if hit is None or hit[0] is not resource.provider:  # the object is kept, so its id is not reused
        hit = cache[id(resource.provider)] = (resource.provider, _provider(resource))
    return hit[1]


class _Pipe:
    """The two pipe ends this process holds to a pack's host: frames out, frames in."""

    def __init__(self, out_fd: int, in_fd: int):
        self.out_fd, self.in_fd = out_fd, in_fd

    def send(self, parts: list[bytes]) -> None:
        pack_host.write_frame(self.out_fd, parts)

    def receive(self, timeout: float) -> bytes:
        return pack_host.read_frame(self.in_fd, timeout)

    def close(self) -> None:
        for fd in (self.out_fd, self.in_fd):
            try:
                os.close(fd)
            except OSError:
                pass


_SHARED: dict[tuple[str, str], PolicyAnalyzer] = {}


def shared_analyzer(pack_dir: str | os.PathLike[str], policy_config: Mapping[str, Any] | None = None,
                    **options: Any) -> PolicyAnalyzer:
    """A started analyzer for (pack, configuration), started once per process and stopped at exit,
    for callers that analyze many stacks (call :meth:`PolicyAnalyzer.configure_stack` per stack)."""
    key = (str(Path(pack_dir).resolve()), json.dumps(policy_config or {}, sort_keys=True, default=str))
    analyzer = _SHARED.get(key)
    if analyzer is None or not analyzer.running:
        analyzer = PolicyAnalyzer(pack_dir, policy_config, **options).start()
        _SHARED[key] = analyzer
    return analyzer


@atexit.register
def _close_shared() -> None:
    for analyzer in _SHARED.values():
        analyzer.close()
    _SHARED.clear()
