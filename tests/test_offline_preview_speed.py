"""What makes the offline preview fast, without changing what it computes.

The engine swaps SDK helpers for equivalents during a run (`engine._lean_sdk`, and the loop's
`run_in_executor` for the inline monitor calls): each must
give the SDK's answer, cost less in the way it was measured to cost, and be put back after.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc

from offline_preview import engine
from offline_preview.engine import load_program, run_stack

PROGRAMS = Path(__file__).resolve().parent / "programs"
SDK_CONTAINS_UNKNOWNS = rpc.contains_unknowns
SDK_STACK_TRACE = sdk_resource._get_stack_trace  # noqa: SLF001

UNKNOWN = pulumi.output.UNKNOWN


def _write_program(directory: Path, name: str, main: str, stacks: dict[str, str], **modules: str):
    """A small Pulumi program in `directory`: `main` as its __main__.py, a Pulumi.<stack>.yaml
    per stack (in eu-west-1, plus the stack's own config lines), and helper `modules`; loaded."""
    (directory / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    for stack, config in stacks.items():
        (directory / f"Pulumi.{stack}.yaml").write_text("config:\n  aws:region: eu-west-1\n" + config)
    (directory / "__main__.py").write_text(main)
    for module, text in modules.items():
        (directory / f"{module}.py").write_text(text)
    return load_program(directory)

SHARED = {"k": [1, 2]}
class _OutputType(dict):
    """A dict subclass whose attributes shadow dict methods, as generated output types do."""

    @property
    def values(self):  # noqa: D401 (an output property named like the dict method)
        return [UNKNOWN]


VALUES = [
    _OutputType(values=["known"]), _OutputType(values=UNKNOWN),
    None, "text", 3, 2.5, True, UNKNOWN, [], {}, [1, "a", None], [1, [2, [3, UNKNOWN]]],
    {"a": {"b": {"c": "d"}}}, {"a": [{"b": UNKNOWN}]}, {"x": SHARED, "y": SHARED, "z": [SHARED, SHARED]},
    {"x": SHARED, "y": [SHARED, {"u": UNKNOWN}]}, ("tuple", UNKNOWN), {UNKNOWN: "key only"},
]


@pytest.mark.parametrize("value", VALUES, ids=[f"value{n}" for n in range(len(VALUES))])
def test_contains_unknowns_answers_as_the_sdk(value):
    assert engine._contains_unknowns(value) is SDK_CONTAINS_UNKNOWNS(value)  # noqa: SLF001


def _garbage_after(function, value) -> int:
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(50):
            function(value)
        return gc.collect()
    finally:
        if enabled:
            gc.enable()


def test_contains_unknowns_leaves_no_garbage_cycles():
    value = {"a": [1, {"b": "c"}], "d": "e"}
    # The SDK's recursive closure is a cycle per call (what the collector had to find after each stack).
    assert _garbage_after(SDK_CONTAINS_UNKNOWNS, value) >= 50
    assert _garbage_after(engine._contains_unknowns, value) == 0  # noqa: SLF001


class _Base:
    def __init__(self, traces: list) -> None:
        traces.append((SDK_STACK_TRACE(), engine._stack_trace()))  # noqa: SLF001


class _Middle(_Base):
    def __init__(self, traces: list) -> None:
        super().__init__(traces)


class _Concrete(_Middle):
    def __init__(self, traces: list) -> None:
        super().__init__(traces)


def _user_code(traces: list) -> None:
    _Concrete(traces)


@pytest.mark.parametrize("make", [_user_code, _Concrete, _Middle, _Base], ids=lambda f: f.__name__)
def test_stack_trace_has_the_sdks_source_position(make):
    traces: list = []
    make(traces)
    (sdk, ours), = traces
    # The frame the SDK reads the source position from, and only that one.
    assert list(ours.frames) == list(sdk.frames[:1])
    assert sdk_resource._get_source_position(ours) == sdk_resource._get_source_position(sdk)  # noqa: SLF001
    if make is _user_code:  # below the concrete resource's __init__: this file's frames, newest first
        assert sdk.frames and sdk.frames[0].pc.uri == Path(__file__).as_uri()


def test_a_run_uses_the_lean_helpers_and_restores_the_sdks(monkeypatch):
    seen = []
    original = engine._contains_unknowns  # noqa: SLF001

    def spy(value):
        seen.append(rpc.contains_unknowns is spy and sdk_resource._get_stack_trace is engine._stack_trace  # noqa: SLF001
                    and sdk_resource.create_urn is engine._create_urn  # noqa: SLF001
                    and pulumi.log.debug is engine._debug)  # noqa: SLF001
        return original(value)

    monkeypatch.setattr(engine, "_contains_unknowns", spy)
    program = load_program(PROGRAMS / "basic")
    run = run_stack("base", program.stack_config_dir, program=program)
    assert run.resources and seen and all(seen)
    assert rpc.contains_unknowns is SDK_CONTAINS_UNKNOWNS
    assert sdk_resource._get_stack_trace is SDK_STACK_TRACE  # noqa: SLF001
    assert sdk_resource.create_urn is engine._SDK_CREATE_URN  # noqa: SLF001
    assert pulumi.log.debug is engine._SDK_DEBUG  # noqa: SLF001


def test_debug_messages_are_dropped_where_they_are_made_and_warnings_still_arrive(monkeypatch, tmp_path):
    """The SDK sends the engine several debug messages per registration, in a task each when they
    name a resource; the offline engine keeps none, so none is sent (a warning still is)."""
    from pulumi.runtime.proto import engine_pb2

    severities = []
    log = engine._LogCapture.Log  # noqa: SLF001
    monkeypatch.setattr(engine._LogCapture, "Log",  # noqa: SLF001
                        lambda self, request: severities.append(request.severity) or log(self, request))
    program = _write_program(tmp_path, "chatty", "import pulumi\nimport pulumi_aws as aws\n"
                             "buckets = [aws.s3.Bucket(f'b{n}') for n in range(3)]\n"
                             "pulumi.log.debug('only with --debug', buckets[0])\n"
                             "pulumi.log.warn('careful', buckets[0])\n", {"dev": ""})
    run = run_stack("dev", program.stack_config_dir, program=program)
    assert len(run.resources) == 3 and engine_pb2.DEBUG not in severities  # the stack is not among them
    assert run.warnings == ["urn:pulumi:dev::chatty::aws:s3/bucket:Bucket::b0: careful"]
    monkeypatch.setattr(engine, "_debug", engine._SDK_DEBUG)  # noqa: SLF001 (what the SDK would send)
    run_stack("dev", program.stack_config_dir, program=program)
    assert severities.count(engine_pb2.DEBUG) >= 2 * len(run.resources)


def test_monitor_calls_hand_their_outcome_to_the_loop_without_waking_it(monkeypatch, tmp_path):
    """Each registration's monitor call runs inline; its outcome reaches the awaiting SDK code by
    a callback queued on the running loop, not through `wrap_future`'s thread-safe hand-over,
    which writes a wake-up byte to the loop's selector per call. Same resources, same order, and
    the loop's own `run_in_executor` afterwards."""
    import asyncio

    wakeups = []
    write = asyncio.selector_events.BaseSelectorEventLoop._write_to_self  # noqa: SLF001
    monkeypatch.setattr(asyncio.selector_events.BaseSelectorEventLoop, "_write_to_self",
                        lambda self: wakeups.append(1) or write(self))
    program = _write_program(tmp_path, "calls", "import pulumi_aws as aws\n"
                             "buckets = [aws.s3.Bucket(f'b{n}', tags={'n': str(n)}) for n in range(5)]\n"
                             "aws.s3.BucketPolicy('p', bucket=buckets[0].id, policy=buckets[1].arn)\n"
                             "aws.get_caller_identity()\n", {"dev": ""})
    run = run_stack("dev", program.stack_config_dir, program=program)
    assert [r.name for r in run.resources] == ["b0", "b1", "b2", "b3", "b4", "p"] and wakeups == []
    assert run.named("p").inputs["bucket"] == run.named("b0").id and run.named("p").inputs["policy"] == run.named("b1").outputs["arn"]
    loop = asyncio.get_event_loop()
    assert "run_in_executor" not in vars(loop)
    monkeypatch.setattr(engine, "_inline_run_in_executor", lambda loop: loop.run_in_executor)  # the SDK's way
    again = run_stack("dev", program.stack_config_dir, program=program)
    assert [r.name for r in again.resources] == [r.name for r in run.resources]
    assert len(wakeups) >= len(run.resources)


def _observed(program_dir: Path, stack: str, tmp_path: Path) -> object:
    """What a run of a program shows: every registration (inputs, outputs, dependencies by
    property), the exports, which are secret and unknown, or the error it fails with."""
    import re  # noqa: PLC0415

    def text(value: object) -> str:  # an unknown is an object of its own in each run
        return re.sub(r"<pulumi\.output\.Unknown object at 0x[0-9a-f]+>", "UNKNOWN", repr(value))

    program = load_program(program_dir)
    try:
        run = run_stack(stack, program.stack_config_dir, program=program)
    except engine.PreviewError as exc:
        return ("failed", str(exc), sorted(r.urn for r in exc.registered))
    return ([(r.urn, text(r.inputs), text(r.outputs), sorted(r.dependencies),
              sorted((k, sorted(v)) for k, v in r.property_dependencies.items())) for r in run.resources],
            text(run.outputs), run.secret_outputs)


OUTPUT_PROGRAM = """import pulumi
import pulumi_aws as aws

bucket = aws.s3.Bucket("b", tags={"team": "ml"})
role = aws.iam.Role("r", assume_role_policy=bucket.arn.apply(lambda arn: '{"Statement": [{"Resource": "%s"}]}' % arn))
param = aws.ssm.Parameter("s", type="SecureString", value=pulumi.Output.secret("hidden"))
copy = aws.ssm.Parameter("c", type="String", value=param.value.apply(lambda v: v.upper()))
policy = aws.s3.BucketPolicy("p", bucket=bucket.id, policy=pulumi.Output.all(bucket.arn, role.arn).apply(
    lambda parts: '{"Resource": "%s", "Principal": "%s"}' % tuple(parts)))
vpc = aws.ec2.Vpc("v", cidr_block="10.1.0.0/16")
aws.ec2.Subnet("n", vpc_id=vpc.id, cidr_block="10.1.0.0/24", ipv6_cidr_block=vpc.ipv6_cidr_block)
pulumi.export("arn", bucket.arn)
pulumi.export("secret", copy.value)
pulumi.export("unknown", vpc.ipv6_cidr_block)
pulumi.export("applied", vpc.ipv6_cidr_block.apply(lambda c: c.upper()))
pulumi.export("tags", bucket.tags_all)
"""


def test_output_properties_settle_as_the_sdks_do(monkeypatch, tmp_path):
    """The lean `transfer_properties` against the SDK's, on programs that read outputs known,
    unknown and secret, depend on them through applies, export them, and fail on a duplicate
    URN: every registration, export and error the same."""
    written = tmp_path / "outputs"
    written.mkdir()
    _write_program(written, "outputs", OUTPUT_PROGRAM, {"dev": ""})
    failing = tmp_path / "failing"  # the second bucket's registration fails: its outputs fail
    failing.mkdir()
    _write_program(failing, "failing", "import pulumi_aws as aws\n"
                   "aws.s3.Bucket('same')\nagain = aws.s3.Bucket('same')\n"
                   "aws.s3.BucketPolicy('after', bucket=again.bucket, policy=again.arn)\n"
                   "aws.s3.Bucket('independent')\n", {"dev": ""})
    cases = [(written, "dev"), (PROGRAMS / "unknowns", "dev"), (PROGRAMS / "basic", "base"),
             (PROGRAMS / "duplicate", "dev"), (failing, "dev")]
    made = []
    lean = engine._transfer_properties  # noqa: SLF001
    monkeypatch.setattr(engine, "_transfer_properties", lambda *a: (made.append(1), lean(*a))[1])
    ours = [_observed(d, stack, tmp_path) for d, stack in cases]
    assert made
    monkeypatch.setattr(engine, "_transfer_properties", engine._SDK_TRANSFER_PROPERTIES)  # noqa: SLF001
    theirs = [_observed(d, stack, tmp_path) for d, stack in cases]
    assert ours == theirs
    assert ours[-2][0] == "failed" and "Duplicate resource URN" in ours[-2][1]
    assert ours[-1][0] == "failed" and not any(urn.endswith("::after") for urn in ours[-1][2])
    assert any(urn.endswith("::independent") for urn in ours[-1][2])
    assert "secret" in ours[0][2] and "'applied': UNKNOWN" in ours[0][1] and "'secret': 'HIDDEN'" in ours[0][1]
    assert rpc.transfer_properties is engine._SDK_TRANSFER_PROPERTIES  # noqa: SLF001 (put back after each run)


def _wire_value(rng, depth: int) -> object:
    """A random property value as the SDK puts it on the wire: plain data, the unknown sentinel,
    secrets, assets and archives (special-signature structs), internal keys, nulls."""
    sig = rpc._special_sig_key  # noqa: SLF001
    kinds = ["text", "number", "bool", "null", "unknown"] + (
        ["list", "dict", "secret", "asset", "archive"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "text":
        return rng.choice(["", "a", "ünï", "arn:aws:s3:::b", "04da6b54"])
    if kind == "number":
        return rng.choice([0, 1, -2.5, 2**40, 1e-9])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "unknown":
        return rpc.UNKNOWN
    if kind == "list":
        return [_wire_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "secret":
        return {sig: rpc._special_secret_sig, "value": _wire_value(rng, depth + 1)}  # noqa: SLF001
    if kind == "asset":
        return {sig: rpc._special_asset_sig, "text": "hello"}  # noqa: SLF001
    if kind == "archive":
        return {sig: rpc._special_archive_sig, "assets": {"a": {sig: rpc._special_asset_sig, "path": "f.txt"}}}  # noqa: SLF001
    keys = rng.sample(["k", "name", "é", "__internal", "__provider", "__x"], rng.randrange(5))
    return {key: _wire_value(rng, depth + 1) for key in keys}


def _comparable(value: object) -> object:
    if isinstance(value, pulumi.output.Unknown):
        return "UNKNOWN"
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return (type(value).__name__, _comparable(dict(vars(value))))
    return (type(value).__name__, value)


@pytest.mark.parametrize("dry_run", [True, False])
def test_properties_deserialize_as_the_sdks_do(dry_run, monkeypatch):
    """The lean `deserialize_properties` against the SDK's on 500 seeded random Structs, each
    with and without unknowns kept and internal keys, in a preview and not: the same values,
    types and key order; and a value that is not set fails alike."""
    import random  # noqa: PLC0415

    from google.protobuf import struct_pb2  # noqa: PLC0415

    monkeypatch.setattr(pulumi.runtime.settings, "is_dry_run", lambda: dry_run)
    rng = random.Random(23)
    checked = 0
    for _ in range(500):
        struct = struct_pb2.Struct()
        struct.update({f"p{n}": _wire_value(rng, 0) for n in range(rng.randrange(6))})
        for keep_unknowns in (None, True):
            for keep_internal in (True, False):
                ours = engine._deserialize_properties(struct, keep_unknowns, keep_internal)  # noqa: SLF001
                theirs = engine._SDK_DESERIALIZE_PROPERTIES(struct, keep_unknowns, keep_internal)  # noqa: SLF001
                assert _comparable(ours) == _comparable(theirs)
                assert list(ours) == list(theirs)
                checked += 1
    assert checked == 2000
    unset = struct_pb2.Struct()
    unset.fields["x"].list_value.values.add()  # a list holding a Value with no kind
    with pytest.raises(ValueError, match="Value not set"):
        engine._SDK_DESERIALIZE_PROPERTIES(unset)  # noqa: SLF001
    with pytest.raises(ValueError, match="Value not set"):
        engine._deserialize_properties(unset)  # noqa: SLF001


def test_types_unwrap_as_the_sdk_unwraps_them(monkeypatch):
    """Every type a run of the sample's identity stack asks the SDK to unwrap, and the typing
    shapes the SDK recognises, unwrap to what the SDK says; an unhashable one too."""
    from typing import Any, Optional

    from pulumi import _types as sdk_types

    asked: list[object] = []
    lean = engine._unwrap_type  # noqa: SLF001
    # An earlier run in this process leaves the classes' types cached (ours and the SDK's), and
    # with them most of the unwrapping: start cold, as a fresh process does.
    engine._resource_types.cache_clear()  # noqa: SLF001
    sdk_types._types_from_py_properties.cache_clear()  # noqa: SLF001
    monkeypatch.setattr(engine, "_unwrap_type", lambda val: (asked.append(val), lean(val))[1])
    program = load_program(Path(__file__).resolve().parent.parent)
    sample = run_stack("identity", program.stack_config_dir, program=program)
    assert sample.resources and len({repr(t) for t in asked}) > 20
    import pulumi_aws as aws

    shapes = [pulumi.Output[str], pulumi.Input[str], Optional[pulumi.Input[str]], pulumi.Input[Optional[str]],
              pulumi.InputType[aws.iam.RoleInlinePolicyArgs],
              Optional[pulumi.Input[pulumi.InputType[aws.iam.RoleInlinePolicyArgs]]],
              pulumi.Input[list[pulumi.Input[str]]], Optional[dict[str, Any]], str, int, Any, None]
    for val in [*asked, *shapes]:
        assert lean(val) == sdk_types.unwrap_type(val), val
    unhashable = type("Unhashable", (), {"__hash__": None})()
    assert lean(unhashable) is sdk_types.unwrap_type(unhashable)
    engine._unwrap_hashable_type.cache_clear()  # noqa: SLF001
    for val in asked:
        lean(val)
    info = engine._unwrap_hashable_type.cache_info()  # noqa: SLF001
    assert info.hits > 2 * info.misses  # asked again and again: answered from the cache


def test_resource_types_are_the_sdks_once_per_class(monkeypatch):
    """The types of every resource class the identity stack and a program with annotated
    classes of its own register are the SDK's, built once per class."""
    from pulumi import _types as sdk_types

    classes: list[type] = []
    lean = engine._resource_types  # noqa: SLF001
    monkeypatch.setattr(engine, "_resource_types", lambda cls: (classes.append(cls), lean(cls))[1])
    program = load_program(Path(__file__).resolve().parent.parent)
    run_stack("identity", program.stack_config_dir, program=program)
    unknowns = load_program(PROGRAMS / "unknowns")
    run_stack("dev", unknowns.stack_config_dir, program=unknowns)
    distinct = set(classes)
    assert len(distinct) > 5 and len(classes) > len(distinct)
    assert any(c.__name__ == "RandomPassword" for c in distinct)  # annotated: `result: pulumi.Output[str]`
    for cls in distinct:
        assert lean(cls) == sdk_types.resource_types(cls) and lean(cls) is lean(cls), cls
    assert any("result" in lean(c) for c in distinct)


def test_created_roles_costs_linear_in_projects(monkeypatch):
    """The role inventory every stack's validation builds: each role compared with a few, not all."""
    import sys

    from stacks import principal_settings
    from stacks.config import parse_platform
    from tests.conftest import load_sample_platform

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        from preview_scale import generate_platform
    finally:
        sys.path.pop(0)
    platform = parse_platform(generate_platform(load_sample_platform(), 50))
    comparisons = 0
    equal = principal_settings.KnownRole.__eq__

    def counting(self, other):
        nonlocal comparisons
        comparisons += 1
        return equal(self, other)

    monkeypatch.setattr(principal_settings.KnownRole, "__eq__", counting)
    roles = principal_settings._created_roles.__wrapped__(platform)  # noqa: SLF001 afresh (validation computed them)
    assert len(roles) > 1000
    assert comparisons < 2 * len(roles)


def _benchmark():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "preview_scale.py"
    spec = importlib.util.spec_from_file_location("preview_scale_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_reads_each_stack_line_the_cli_prints():
    """The benchmark's time per stack kind comes from the CLI's stack lines: it must read them all."""
    from offline_preview import cli
    from offline_preview.preview import preview

    program = load_program(PROGRAMS / "basic")
    result = preview(program, program.stack_config_dir, jobs=1)
    bench = _benchmark()
    for stack in result.stacks:
        stack.run_seconds = 12.25
        match = bench._STACK_LINE.match(cli._line(stack, 24))  # noqa: SLF001
        assert match, cli._line(stack, 24)  # noqa: SLF001
        assert (match.group(1), int(match.group(2)), float(match.group(3))) == (stack.stack, len(stack.resources), 12.2)
    stack.policy_error = "analysis failed"
    assert bench._STACK_LINE.match(cli._line(stack, 24))  # noqa: SLF001


# -- one process per stack, forked from a warm one (preview._Zygote) ---------------------------

IMPORT_TIME = '''
import pulumi
import pulumi_aws as aws

import quiet
import reads_config
import registers

pulumi.export("suffix", reads_config.SUFFIX)
pulumi.export("answer", quiet.ANSWER)
'''


@pytest.fixture
def import_time_program(tmp_path):
    """A program whose helper modules use the runtime when imported (as many programs do)."""
    return _write_program(tmp_path, "import-demo", IMPORT_TIME,
                          {stack: f"  import-demo:suffix: {stack}\n" for stack in ("one", "two", "three")},
                          quiet="ANSWER = 42\n",
                          reads_config="import pulumi\nSUFFIX = pulumi.Config().get('suffix')\n",
                          registers="import pulumi_aws as aws\nBUCKET = aws.s3.Bucket('made-at-import')\n")


def test_modules_using_the_runtime_when_imported_are_not_imported_ahead(import_time_program):
    import sys

    imported = engine.import_ahead(import_time_program, ["quiet", "reads_config", "registers"])
    try:
        assert imported == ["quiet"]
        assert "reads_config" not in sys.modules and "registers" not in sys.modules
    finally:
        sys.modules.pop("quiet", None)


def test_each_stack_of_a_parallel_preview_runs_in_its_own_process(import_time_program):
    from offline_preview.preview import preview

    result = preview(import_time_program, import_time_program.stack_config_dir, jobs=2)
    assert not result.failed
    # Module-level code runs for every stack: the bucket is registered and the configuration
    # read in each, as separate `pulumi preview` runs would.
    for stack in result.stacks:
        assert stack.run.outputs == {"suffix": stack.stack, "answer": 42}
        assert [r.name for r in stack.run.resources if r.type == "aws:s3/bucket:Bucket"] == ["made-at-import"]


FAN_OUT = '''
import pulumi

stack = pulumi.get_stack()
pulumi.export("blob", stack + "x" * 50_000)
if stack != "s0":
    pulumi.export("read", pulumi.StackReference("organization/fan-out/s0").get_output("blob").apply(len))
'''


def test_each_stacks_outputs_reach_the_zygote_once(tmp_path, monkeypatch):
    """Every task may read every stack previewed before it, but the outputs of each cross the
    pipe once: the bytes sent grow with the stacks, not with their square."""
    from multiprocessing.connection import Connection
    import pickle

    from offline_preview.preview import preview

    stacks = [f"s{n}" for n in range(8)]
    program = _write_program(tmp_path, "fan-out", FAN_OUT, dict.fromkeys(stacks, ""))
    sent: list[int] = []
    real_send = Connection.send

    def counting_send(self, obj):
        sent.append(len(pickle.dumps(obj)))
        return real_send(self, obj)

    monkeypatch.setattr(Connection, "send", counting_send)
    result = preview(program, program.stack_config_dir, jobs=2)
    assert not result.failed
    for stack in stacks[1:]:
        assert result.stack(stack).run.outputs["read"] == 50_002
    # Seven stacks' outputs at most (the last one's is read by nobody); each task sent all of
    # them, previewed before it, would be more than twenty.
    assert sum(sent) < 8 * 50_000, sent


def test_the_sample_previewed_in_forked_processes_is_what_one_process_computes(tmp_path, sample_runs):
    """Byte for byte, each stack of the sample as the parallel preview writes it (a process per
    stack, forked from one that imported ahead) and as the test session's one process runs it."""
    import json
    import subprocess
    import sys

    from offline_preview.plan import stack_entry
    from offline_preview.preview import StackResult

    result = subprocess.run([sys.executable, "-m", "offline_preview", "--out", str(tmp_path), "--no-policy",
                             "--jobs", "2"], cwd=Path(engine.ROOT), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert len(plan["stacks"]) == len(engine.discover_stacks(engine.ROOT / "stacks"))
    for entry in plan["stacks"]:
        expected = stack_entry(StackResult(entry["name"], entry["layer"], run=sample_runs(entry["name"])))
        assert json.dumps(entry, sort_keys=True) == json.dumps(expected, sort_keys=True), entry["name"]


def test_the_sdk_class_caches_a_run_fills_are_recorded_and_can_be_filled_ahead(tmp_path):
    # A forked run starts with the SDK's per-class type-hint caches its zygote holds: the
    # zygote fills them for the classes earlier runs used, and a run then finds them filled.
    from pulumi import _types as sdk_types

    import pulumi_aws as aws

    basic = load_program(PROGRAMS / "basic")
    with engine.recording_sdk_classes() as seen:
        run_stack("base", basic.stack_config_dir, {}, program=basic)
    assert ("pulumi_aws.iam.role", "Role") in seen and ("pulumi_aws.ec2.vpc", "Vpc") in seen
    # Recording put the SDK's own functions back.
    assert all(hasattr(getattr(sdk_types, name), "cache_info") for name in engine._SDK_CLASS_CACHES)  # noqa: SLF001

    for name in engine._SDK_CLASS_CACHES:  # noqa: SLF001
        getattr(sdk_types, name).cache_clear()
    warmed = engine.warm_sdk_classes(sorted(seen) + [("no.such.module", "Thing"), ("pulumi_aws.iam.role", "Nope")])
    assert warmed == len(seen)
    hints = sdk_types._types_from_py_properties  # noqa: SLF001
    filled = hints.cache_info().currsize
    assert filled >= len({c for c in seen if c[0].startswith("pulumi_aws.")})
    before = hints.cache_info().misses
    hints(aws.iam.Role)
    assert hints.cache_info().misses == before  # filled ahead: the run's call is a hit
    with engine.recording_sdk_classes():
        run_stack("base", basic.stack_config_dir, {}, program=basic)
    assert hints.cache_info().misses == before


def test_a_class_is_recorded_on_its_first_call_only():
    # The SDK asks its per-class caches many times per registration: recording must not add a
    # Python call to each hit.
    from pulumi import _types as sdk_types

    reads = []

    class Counting(type):
        def __getattribute__(cls, name):
            if name == "__qualname__":
                reads.append(name)
            return super().__getattribute__(name)

    class Args(metaclass=Counting):
        pass

    with engine.recording_sdk_classes() as seen:
        for _ in range(50):
            sdk_types._py_properties(Args)  # noqa: SLF001
    assert (__name__, Args.__qualname__) in seen
    assert len(reads) == 2  # recorded once, and read once more just above


def test_create_urn_is_the_sdks():
    # Each case (tests/programs/urns) by the run's create_urn (the engine's) and the SDK's own:
    # the same URN, unknown and secret alike, and the same dependencies of what takes it.
    program = load_program(PROGRAMS / "urns")
    run = run_stack("dev", program.stack_config_dir, {}, program=program)
    cases = sorted({key.split(":")[0] for key in run.outputs})
    assert len(cases) == 9
    for case in cases:
        new, ref = run.outputs[f"{case}:new"], run.outputs[f"{case}:ref"]
        assert (new is UNKNOWN) == (ref is UNKNOWN) and (new is UNKNOWN or new == ref), case
        assert (f"{case}:new" in run.secret_outputs) == (f"{case}:ref" in run.secret_outputs), case
        topics = run.named(f"{case}-new"), run.named(f"{case}-ref")
        assert topics[0].property_dependencies == topics[1].property_dependencies, case
    assert run.outputs["parent:new"] == "urn:pulumi:dev::urns-demo::demo:index:Group$demo:index:Group$aws:s3/bucket:Bucket::x"
    assert run.outputs["project-stack:new"] == "urn:pulumi:prod::other::aws:s3/bucket:Bucket::x"
    assert run.outputs["parent-unknown:new"] is UNKNOWN and run.secret_outputs == ["secret-parent:new", "secret-parent:ref"]
    assert sdk_resource.create_urn is engine._SDK_CREATE_URN  # noqa: SLF001 put back after the run


class _Text(str):
    pass


PLAIN_VALUES = [
    {}, [], (), "", None, True, False, 0, -1, 2**80, 1.5, -0.0, 1e16, 5e-324, 1e-7, float("nan"), float("inf"),
    -float("inf"), "naïve “quotes” \" \\ \n \t \u2028 \x00 😀", {"b": 1, "a": [True, None, {"c": []}], "": {}},
    [{"x": ()}, [[[]]], ("t", 1)], {1: "int key"}, {"k": _Text("subclass")}, {"k": {3, 4}.__class__.__name__},
    {"z": {"y": {"x": {"w": [1, 2.25, "v", {"u": None}]}}}}, {"é": 1, "e": 2, "E": 3, "ß": [False]},
]


@pytest.mark.parametrize("value", PLAIN_VALUES, ids=range(len(PLAIN_VALUES)))
@pytest.mark.parametrize("depth", [0, 1, 2])
def test_the_plan_is_rendered_as_json_dumps_renders_it(value, depth):
    import json

    from offline_preview.plan import _dumps

    expected = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * depth)
    assert _dumps(value, depth) == expected


def test_a_seeded_random_plan_is_rendered_as_json_dumps_renders_it():
    import json
    import random

    from offline_preview.plan import _dumps

    rng = random.Random(20261203)
    atoms = [None, True, False, 0, 7, -3, 0.1, 1e300, "", "a", "ü\n", '"q"', "\\", "\u0007"]

    def make(level):
        roll = rng.random()
        if level > 4 or roll < 0.4:
            return rng.choice(atoms)
        if roll < 0.7:
            return [make(level + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(["a", "b", "Z", "é", "", "key with space", "k1", "k10", "k2"]): make(level + 1)
                for _ in range(rng.randrange(5))}

    for _ in range(300):
        value = make(0)
        assert _dumps(value) == json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


def test_a_stacks_outcome_is_pickled_once_and_what_cannot_leave_leaves_as_text(monkeypatch):
    import pickle
    import threading

    from offline_preview import preview
    from offline_preview.engine import Registration

    def registration(inputs):
        return Registration(urn="urn:pulumi:s::p::t::n", type="t", name="n", custom=True, inputs=inputs,
                            outputs={}, id="i", parent=None, provider=None, dependencies=[],
                            property_dependencies={}, protect=False, retain_on_delete=False, ignore_changes=[],
                            delete_before_replace=False, import_id=None)

    dumps, calls = pickle.dumps, []
    monkeypatch.setattr(preview.pickle, "dumps", lambda *a, **k: calls.append(1) or dumps(*a, **k))
    basic = load_program(PROGRAMS / "basic")
    task = preview._Task("base", basic, basic.stack_config_dir, {}, {}, ["base"],  # noqa: SLF001
                         preview.DEFAULT_ACCOUNT_ID, engine.RunOptions())
    ran = preview._run_task(task, child=True)  # noqa: SLF001
    assert ran.run.resources and calls == []  # pickled where it leaves, not also to try
    assert len(pickle.loads(preview._outcome_bytes(ran)).run.resources) == len(ran.run.resources)  # noqa: SLF001
    plain = preview._Outcome("s", error="e", registered=[registration({"a": [1]})])  # noqa: SLF001
    assert pickle.loads(preview._outcome_bytes(plain)).registered[0].inputs == {"a": [1]}  # noqa: SLF001
    assert len(calls) == 2
    lock = threading.Lock()
    held = preview._Outcome("s", error="e", registered=[registration({"a": lock, "b": "kept"})])  # noqa: SLF001
    assert pickle.loads(preview._outcome_bytes(held)).registered[0].inputs == {"a": str(lock), "b": "kept"}  # noqa: SLF001
