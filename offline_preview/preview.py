"""Preview every stack of a configuration directory, in dependency order, with policy analysis.

Stacks run in the order their layers suggest (see `engine.LAYER_ORDER`, then by name); the
order is corrected from the StackReferences the stacks actually make: a stack that refers to a
stack of the run that has not been previewed yet is set aside and run again after it. A stack
that refers to a stack outside the run fails, naming both.

With `jobs > 1`, up to `jobs` stacks run side by side, each in a process of its own forked from
a warm one that has imported ahead what earlier stacks imported (`_Zygote`): those of the
lowest layer still to run, and of the next one when a worker would otherwise idle. As many policy pack processes analyze each finished stack from this process
while the workers go on. Results, and every file written from them, do not depend on the
number of jobs or on the order stacks finished in.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import pickle
import queue
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offline_preview.analysis import Violation, analyzed_resources, to_violation

if TYPE_CHECKING:
    from offline_preview.policy_analyzer import PolicyAnalyzer
from offline_preview.engine import (
    DEFAULT_ACCOUNT_ID,
    LAYER_ORDER,
    PreviewError,
    Program,
    Registration,
    RunOptions,
    StackRun,
    UpstreamPending,
    discover_stacks,
    read_stack_config,
    recording_sdk_classes,
    run_stack,
    stack_layer,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_PACK = ROOT / "policypacks" / "ml-guardrails"
DEFAULT_POLICY_CONFIG_NAME = "policy-config.sample.json"


@dataclass
class PolicyInfo:
    """A policy of the pack, as far as the analyzer describes it."""

    name: str
    description: str = ""
    enforcement_level: str = ""
    kind: str = ""  # "resource" or "stack" when known


@dataclass
class StackResult:
    """One stack's preview: what it registered and exported, what the pack said, how long it took."""

    stack: str
    layer: str | None
    run: StackRun | None = None
    error: str | None = None
    registered: list[Registration] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    analyzed: int = 0  # resources sent to the pack
    policy_error: str | None = None
    run_seconds: float = 0.0
    analysis_seconds: float = 0.0
    # Other projects whose stacks the stack referenced but the run did not know.
    missing_projects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.policy_error is None

    @property
    def resources(self) -> list[Registration]:
        return self.run.resources if self.run else self.registered

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.mandatory]

    @property
    def seconds(self) -> float:
        return self.run_seconds + self.analysis_seconds


@dataclass
class PreviewResult:
    """Every stack's result, in dependency order."""

    project: str
    config_dir: Path
    stacks: list[StackResult]
    policy_pack: str | None = None  # the pack's name (None when analysis was skipped)
    policy_note: str | None = None  # why analysis was skipped, or failed to start
    policies: list[PolicyInfo] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[StackResult]:
        return [s for s in self.stacks if not s.ok]

    @property
    def violations(self) -> list[Violation]:
        return [v for s in self.stacks for v in s.violations]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.mandatory]

    @property
    def succeeded(self) -> bool:
        return not self.failed and not self.mandatory

    def stack(self, name: str) -> StackResult:
        return next(s for s in self.stacks if s.stack == name)


# -- policy analysis ---------------------------------------------------------------------------


@dataclass
class PolicySettings:
    """Which pack to run, with which configuration; `pack_dir=None` skips analysis.

    `processes` packs run side by side, each analyzing one stack at a time (the pack is Python:
    one process uses one core); `threads` calls are kept in flight to each over gRPC (futures);
    over pipes (`transport`) a stack's calls travel in one frame.
    """

    pack_dir: Path | None
    config: dict[str, Any] = field(default_factory=dict)
    required: bool = False  # chosen explicitly: failing to start it fails the preview
    processes: int = 1
    threads: int = 4
    transport: str = "pipe"  # see policy_analyzer.TRANSPORTS


class PolicySession:
    """The policy pack for one preview; analysis is skipped (with a note) when no pack is there."""

    def __init__(self, settings: PolicySettings):
        self.settings = settings
        self.analyzers: list[Any] = []
        self.note: str | None = None
        self.pack_name: str | None = None
        self.policies: list[PolicyInfo] = []
        self._idle: queue.Queue = queue.Queue()

    @property
    def analyzer(self) -> Any:
        return self.analyzers[0] if self.analyzers else None

    def __enter__(self) -> PolicySession:
        pack = self.settings.pack_dir
        if pack is None:
            self.note = "policy analysis skipped (no policy pack chosen)"
            return self
        if not (Path(pack) / "PulumiPolicy.yaml").exists() and not self.settings.required:
            self.note = f"policy analysis skipped: no policy pack at {pack}"
            return self
        # From here on the pack is expected: failing to start it fails the preview.
        self.settings.required = True
        try:
            from offline_preview.policy_analyzer import PolicyAnalyzer
        except ImportError as exc:
            self.note = f"the policy analyzer client is not available ({exc})"
            return self

        try:
            python = pack_python(Path(pack))
        except PreviewError as exc:
            self.note = str(exc)
            return self
        environment = python or sys.executable

        def start() -> Any:
            return PolicyAnalyzer(Path(pack), self.settings.config, python=python,
                                  transport=self.settings.transport).__enter__()

        count = max(1, self.settings.processes)
        with concurrent.futures.ThreadPoolExecutor(max_workers=count) as starter:
            futures = [starter.submit(start) for _ in range(count)]
        errors = []
        for future in futures:
            try:
                self.analyzers.append(future.result())
            except Exception as exc:  # noqa: BLE001 reported as the preview's failure below
                errors.append(f"{type(exc).__name__}: {exc}")
        if errors:
            self.note = f"policy pack {pack} could not be started (with {environment}): {errors[0]}"
            if "ModuleNotFoundError" in errors[0]:
                self.note += f"\ninstall the missing module into the pack's environment ({environment})"
            self.__exit__(None, None, None)
            self.analyzers = []
            return self
        for analyzer in self.analyzers:
            self._idle.put(analyzer)
        self.pack_name = _pack_name(self.analyzer, Path(pack))
        self.policies = _policy_infos(self.analyzer)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for analyzer in self.analyzers:
            analyzer.__exit__(*exc_info)

    @property
    def failed_to_start(self) -> bool:
        return not self.analyzers and self.settings.required

    def analyze(self, result: StackResult) -> None:
        """Run the pack's resource policies on every resource and its stack policies on the stack."""
        if not self.analyzers or result.run is None:
            return
        started = time.perf_counter()
        run = result.run
        analyzer = self._idle.get()
        try:
            # As the engine does before analyzing a stack: which stack, its configuration and the
            # tags the CLI sets on every stack. Each pack process analyzes one stack at a time.
            configure = getattr(analyzer, "configure_stack", None)
            if configure is not None:
                configure(run.stack, project=run.project, config=run.config,
                          tags={"pulumi:project": run.project, "pulumi:runtime": "python"})
            resources = analyzed_resources(run)
            # The pack answers one resource at a time; a few calls in flight keep it busy.
            diagnostics = list(analyzer.analyze_all(resources, in_flight=self.settings.threads))
            diagnostics += list(analyzer.analyze_stack(analyzed_resources(run, use_outputs=True)))
            result.analyzed = len(resources)
            result.violations = sorted({to_violation(run.stack, d) for d in diagnostics}, key=Violation.sort_key)
        except Exception as exc:  # noqa: BLE001 the stack is reported as failed, with the reason
            result.policy_error = f"stack {run.stack}: policy analysis failed: {type(exc).__name__}: {exc}"
        finally:
            self._idle.put(analyzer)
        result.analysis_seconds = time.perf_counter() - started


def pack_python(pack_dir: Path) -> str | None:
    """The interpreter of the pack's own virtualenv (PulumiPolicy.yaml `runtime.options.virtualenv`),
    as the CLI runs the pack; None when it declares none (this interpreter runs it)."""
    import yaml

    try:
        data = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PreviewError(f"policy pack {pack_dir}: PulumiPolicy.yaml cannot be read: {exc}") from None
    runtime = data.get("runtime") if isinstance(data, dict) else None
    options = (runtime.get("options") if isinstance(runtime, dict) else None) or {}
    venv = options.get("virtualenv")
    if not venv:
        return None
    venv_dir = Path(os.path.normpath((pack_dir / str(venv)).absolute()))
    for python in (venv_dir / "bin" / "python", venv_dir / "Scripts" / "python.exe"):
        if python.exists():
            return str(python)
    raise PreviewError(f"policy pack {pack_dir}: its virtualenv {venv_dir} (PulumiPolicy.yaml runtime.options."
                       f"virtualenv) does not exist; create it and install the pack's requirements into it: "
                       f"python3 -m venv {venv_dir} && {venv_dir}/bin/python -m pip install -r "
                       f"{pack_dir}/requirements.txt")


def _pack_name(analyzer: PolicyAnalyzer, pack_dir: Path) -> str:
    return analyzer.info.name or pack_dir.name


def _policy_infos(analyzer: PolicyAnalyzer) -> list[PolicyInfo]:
    """The pack's policies with the enforcement levels in force once the configuration applied."""
    found = []
    for policy in analyzer.info.policies:
        level, _ = analyzer.policy_config.get(policy.name, (policy.enforcement_level, {}))
        found.append(PolicyInfo(name=policy.name, description=policy.description,
                                enforcement_level=str(level).lower(), kind=policy.policy_type))
    return sorted(found, key=lambda p: p.name)


def load_policy_config(path: Path | None) -> dict[str, Any]:
    """The pack's policy configuration (`--policy-pack-config` format), `{}` when None."""
    from offline_preview.policy_analyzer import (
        load_policy_config as read_policy_config,  # grpc: only when used
    )

    if path is None:
        return {}
    try:
        return read_policy_config(path)
    except (OSError, ValueError) as exc:  # PolicyConfigError is a ValueError
        raise PreviewError(f"policy configuration {path}: {exc}") from None


# -- scheduling --------------------------------------------------------------------------------


@dataclass
class _Task:
    stack: str
    program: Program
    config_dir: Path
    upstream: dict[str, dict[str, Any]]
    upstream_secrets: dict[str, list[str]]
    stacks_in_run: list[str]
    default_account_id: str
    options: RunOptions


@dataclass
class _Outcome:
    stack: str
    run: StackRun | None = None
    error: str | None = None
    registered: list[Registration] = field(default_factory=list)
    pending: str | None = None
    missing_projects: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _run_task(task: _Task, child: bool = False) -> _Outcome:
    """Preview one stack; never raises (a worker's exception would lose the stack's name).

    `child`: in a process forked for this stack alone, which sends the outcome back and ends
    (its garbage is not collected; `_outcome_bytes` pickles the outcome).
    """
    started = time.perf_counter()
    outcome = _Outcome(task.stack)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # un-awaited coroutines of a failed run
            outcome.run = run_stack(task.stack, task.config_dir, task.upstream, task.default_account_id,
                                    task.program, task.stacks_in_run, task.upstream_secrets, task.options,
                                    settle=not child)
    except UpstreamPending as exc:
        outcome.pending = exc.upstream
    except PreviewError as exc:
        outcome.error, outcome.registered = str(exc), exc.registered
        outcome.missing_projects = exc.missing_projects
    except Exception as exc:  # noqa: BLE001 an engine failure, reported against the stack
        outcome.error = f"stack {task.stack}: the offline preview failed: {type(exc).__name__}: {exc}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def _outcome_bytes(outcome: _Outcome) -> bytes:
    """The outcome, pickled to leave its process; a value only that process can hold (a resource
    object, say) in a resource's inputs or outputs leaves as its text."""
    try:
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 pickled again, portable
        for reg in (outcome.run.resources if outcome.run else outcome.registered):
            reg.inputs, reg.outputs = _portable(reg.inputs), _portable(reg.outputs)
        return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)


def _portable(value: Any) -> Any:
    """`value` with anything that cannot leave this process replaced by its text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): _portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_portable(v) for v in value]
    try:
        pickle.dumps(value)
        return value
    except Exception:  # noqa: BLE001
        return str(value)


class _Runner:
    """Runs tasks inline (jobs=1) or each in a process forked for it from a warm one (`_Zygote`)."""

    def __init__(self, jobs: int, program: Program):
        self.zygote = _Zygote(program) if jobs > 1 and hasattr(os, "fork") else None
        self.jobs = jobs if self.zygote else 1

    def submit(self, task: _Task) -> concurrent.futures.Future:
        if self.zygote is not None:
            return self.zygote.submit(task)
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(_run_task(task))
        return future

    def close(self, abort: bool = False) -> None:
        if self.zygote is not None:
            self.zygote.close(abort)


class _Zygote:
    """A process that forks one child per stack, and imports ahead what the children imported.

    Forked from this process before any gRPC channel or thread of the policy analysis exists.
    Each stack runs in a fresh fork of it, so no stack sees what another left behind, and the
    child's garbage dies with it instead of being collected. After a child ends, the zygote
    imports the modules it imported (`engine.import_ahead`, which leaves out any whose import
    uses the Pulumi runtime), so the children forked later start with the SDK's modules and the
    program's loaded: each module is imported once per preview instead of once per stack.
    Outcomes come back as pickle files in a private directory; the zygote reports each child's
    end (and its exit status) on its pipe.
    """

    def __init__(self, program: Program):
        self.directory = Path(tempfile.mkdtemp(prefix="offline-preview-"))
        self._futures: dict[int, concurrent.futures.Future] = {}
        self._lock = threading.Lock()
        self._next = 0
        # The upstream outputs the zygote holds, by stack (the very object sent): each stack's
        # outputs cross the pipe once, not once per later task (which would grow as stacks²).
        self._sent: dict[str, Any] = {}
        ours, theirs = multiprocessing.Pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the zygote
            ours.close()
            status = 1
            try:
                _zygote_main(theirs, program, self.directory)
                status = 0
            finally:
                os._exit(status)
        theirs.close()
        self.pid = pid
        self._conn = ours
        self._reader = threading.Thread(target=self._read, name="zygote-reader", daemon=True)
        self._reader.start()

    def submit(self, task: _Task) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            number, self._next = self._next, self._next + 1
            self._futures[number] = future
        new = {s: (outputs, task.upstream_secrets.get(s, [])) for s, outputs in task.upstream.items()
               if self._sent.get(s) is not outputs}
        self._sent.update((s, outputs) for s, (outputs, _) in new.items())
        bare = replace(task, upstream={}, upstream_secrets={})
        self._conn.send(("run", number, (bare, list(task.upstream), new)))  # only this thread sends
        return future

    def _read(self) -> None:
        while True:
            try:
                _, number, status = self._conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                future = self._futures.pop(number)
            path = self.directory / f"{number}.outcome"
            try:
                if status != 0 or not path.exists():
                    raise RuntimeError(f"the stack's process ended with exit status {status}")
                future.set_result(pickle.loads(path.read_bytes()))
            except Exception as exc:  # noqa: BLE001 reported against the stack
                future.set_exception(exc)
            finally:
                path.unlink(missing_ok=True)
        with self._lock:
            pending, self._futures = list(self._futures.values()), {}
        for future in pending:
            future.set_exception(RuntimeError("the preview's zygote process ended"))

    def close(self, abort: bool = False) -> None:
        try:
            self._conn.send(("abort" if abort else "stop", None, None))
        except OSError:
            pass
        os.waitpid(self.pid, 0)
        self._conn.close()
        self._reader.join(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


def _zygote_main(conn: Any, program: Program, directory: Path) -> None:
    """The zygote's loop: fork a child per task, report its end, import ahead while idle."""
    import gc
    import json
    import signal
    from multiprocessing.connection import wait

    from offline_preview.engine import import_ahead, warm_sdk_classes

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    children: dict[int, tuple[int, int]] = {}  # pid -> (task number, pidfd or -1)
    upstream: dict[str, tuple[Any, list[str]]] = {}  # stack -> (outputs, secret outputs), as sent
    ahead: list[str] = []
    classes: list[tuple[str, ...]] = []  # whose SDK caches the children filled (warm_sdk_classes)
    warmed: set[tuple[str, ...]] = set()
    stopping = False
    while children or not stopping:
        waitable = [conn] if not stopping else []
        waitable += [fd for _, fd in children.values() if fd >= 0]
        ready = wait(waitable, timeout=0 if ahead and not stopping else 0.05)
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            number, fd = children.pop(pid)
            if fd >= 0:
                os.close(fd)
            conn.send(("done", number, os.waitstatus_to_exitcode(status)))
            modules = directory / f"{number}.modules"
            if modules.exists():
                left = json.loads(modules.read_text())
                ahead += [m for m in left["modules"] if m not in sys.modules and m not in ahead]
                classes += [tuple(c) for c in left["classes"] if tuple(c) not in warmed]
                modules.unlink()
        if conn in ready:
            try:
                kind, number, task = conn.recv()
            except EOFError:
                kind = "abort"
            if kind == "abort":
                for pid in children:
                    os.kill(pid, signal.SIGKILL)
                stopping = True
                continue
            if kind == "stop":
                stopping = True
                continue
            task, visible, new = task
            upstream.update(new)
            task.upstream = {s: upstream[s][0] for s in visible}
            task.upstream_secrets = {s: upstream[s][1] for s in visible}
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child_main(task, number, directory)
            children[pid] = (number, _pidfd(pid))
            continue
        if (ahead or classes) and not stopping and not ready:
            import_ahead(program, ahead)
            # After the imports, so the classes' modules and what their annotations name are there.
            warm_sdk_classes(classes)
            warmed.update(classes)
            ahead, classes = [], []
            # What the children share stays out of their (disabled) collector's way.
            gc.collect()
            gc.freeze()


def _pidfd(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux 5.3+: the zygote polls
        return -1


def _child_main(task: _Task, number: int, directory: Path) -> None:
    """A stack's own process: run it, leave the outcome and the modules it imported, end."""
    import gc
    import json
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()
    status = 1
    try:
        before = set(sys.modules)
        with recording_sdk_classes() as classes:
            outcome = _run_task(task, child=True)
        imported = [m for m in sys.modules if m not in before]
        path = directory / f"{number}.outcome"
        partial = path.with_suffix(".partial")
        partial.write_bytes(_outcome_bytes(outcome))
        partial.rename(path)
        (directory / f"{number}.modules").write_text(json.dumps({"modules": imported, "classes": sorted(classes)}))
        status = 0
    except BaseException:  # noqa: BLE001 the exit status tells the parent
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def plan_stacks(config_dir: Path, program: Program, chosen: Sequence[str] | None = None) -> list[str]:
    """The stacks to preview, in the order their layers suggest; `chosen` must all exist."""
    available = discover_stacks(config_dir, program.project)
    if not available:
        raise PreviewError(f"{config_dir}: no stack configuration files (Pulumi.<stack>.yaml)")
    if not chosen:
        return available
    unknown = [s for s in chosen if s not in available]
    if unknown:
        raise PreviewError(f"unknown stack(s) {', '.join(unknown)} (stacks in {config_dir}: {', '.join(available)})")
    return [s for s in available if s in set(chosen)]


def _rank(layer: str | None) -> int:
    return LAYER_ORDER.index(layer) if layer in LAYER_ORDER else len(LAYER_ORDER)


def preview(
    program: Program,
    config_dir: Path,
    stacks: Sequence[str] | None = None,
    policy: PolicySettings | None = None,
    jobs: int = 1,
    default_account_id: str = DEFAULT_ACCOUNT_ID,
    on_stack: Callable[[StackResult], None] | None = None,
    options: RunOptions | None = None,
) -> PreviewResult:
    """Preview the chosen stacks (all by default) of `config_dir`; see the module docstring.

    `on_stack` is called as each stack's result (run and analysis) is complete; `options` go to
    every stack's run. A policy pack that was chosen (or is there) but cannot start, or rejects
    its configuration, raises :class:`PreviewError` before any stack runs: nothing would be checked.
    """
    options = options or RunOptions()
    started = time.perf_counter()
    config_dir = Path(config_dir)
    planned = plan_stacks(config_dir, program, stacks)
    layers = {s: stack_layer(read_stack_config(config_dir, s), program.project) for s in planned}
    rank = {s: _rank(layers[s]) for s in planned}
    order = {s: n for n, s in enumerate(planned)}
    waiting_on: dict[str, str] = {}
    results: dict[str, StackResult] = {}
    remaining = list(planned)
    runner = _Runner(min(jobs, len(planned)), program)
    session = PolicySession(policy or PolicySettings(None))
    session.__enter__()
    if session.failed_to_start:
        runner.close(abort=True)
        session.__exit__(None, None, None)
        raise PreviewError(session.note or "the policy pack could not be started")
    analysis_pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(session.analyzers)),
                                                          thread_name_prefix="analysis")
    lock = threading.Lock()
    runs: dict[concurrent.futures.Future, str] = {}
    # Stacks whose policy analysis is under way, with their results: their outputs are known
    # to downstream stacks already.
    analyses: dict[concurrent.futures.Future, StackResult] = {}

    def finish(result: StackResult) -> None:
        with lock:
            results[result.stack] = result
        if on_stack is not None:
            on_stack(result)

    def analyze_and_finish(result: StackResult) -> None:
        session.analyze(result)
        finish(result)

    try:
        while remaining or runs or analyses:
            # Stacks set aside for an upstream that has since failed fail too, naming it.
            for stack in [s for s in remaining if waiting_on.get(s) in _failed(results)]:
                remaining.remove(stack)
                finish(StackResult(stack, layers[stack], error=(
                    f"stack {stack}: not previewed: its upstream stack {waiting_on[stack]} failed")))
            running = list(runs.values())
            free = [s for s in remaining if waiting_on.get(s) is None or waiting_on[s] in _previewed(results, analyses)]
            if free and len(runs) < runner.jobs:
                # Layer order first; a worker that would idle may start a stack of the next layer
                # (if it reads a stack still running, it is set aside and run again after it).
                lowest = min(rank[s] for s in free + running)
                eligible = sorted((s for s in free if rank[s] <= lowest + 1), key=lambda s: (rank[s], order[s]))
                for stack in eligible[: runner.jobs - len(runs)]:
                    remaining.remove(stack)
                    upstream = _upstream_outputs(results, analyses)
                    task = _Task(stack, program, config_dir, {s: r.outputs for s, r in upstream.items()},
                                 {s: list(r.secret_outputs) for s, r in upstream.items()}, planned,
                                 default_account_id, options)
                    runs[runner.submit(task)] = stack
            if not runs and not analyses:
                if remaining:  # every remaining stack waits on another remaining stack
                    cycle = ", ".join(f"{s} -> {waiting_on.get(s)}" for s in sorted(remaining))
                    for stack in list(remaining):
                        remaining.remove(stack)
                        finish(StackResult(stack, layers[stack],
                                           error=f"stack {stack}: StackReferences form a cycle ({cycle})"))
                break
            done, _ = concurrent.futures.wait(list(runs) + list(analyses),
                                              return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                if future in analyses:
                    analyses.pop(future)
                    future.result()
                    continue
                stack = runs.pop(future)
                try:
                    outcome: _Outcome = future.result()
                except Exception as exc:  # noqa: BLE001 a worker died
                    outcome = _Outcome(stack, error=f"stack {stack}: the preview worker failed: {exc}")
                if outcome.pending is not None:
                    waiting_on[stack] = outcome.pending
                    remaining.append(stack)
                    continue
                result = StackResult(stack, layers[stack], run=outcome.run, error=outcome.error,
                                     registered=outcome.registered, run_seconds=outcome.seconds,
                                     missing_projects=outcome.missing_projects)
                if result.run is not None and session.analyzers:
                    analyses[analysis_pool.submit(analyze_and_finish, result)] = result
                else:
                    finish(result)
    except BaseException:
        runner.close(abort=True)
        analysis_pool.shutdown(wait=False, cancel_futures=True)
        session.__exit__(None, None, None)
        raise
    runner.close()
    analysis_pool.shutdown(wait=True)
    session.__exit__(None, None, None)

    ordered = _dependency_order(planned, results, rank)
    note = session.note
    return PreviewResult(program.project, config_dir, ordered, session.pack_name, note, session.policies,
                         time.perf_counter() - started)


def _upstream_outputs(results: dict[str, StackResult],
                      analyses: dict[concurrent.futures.Future, StackResult]) -> dict[str, StackRun]:
    """The runs downstream stacks may read: finished stacks and those being analysed."""
    runs = {s: r.run for s, r in results.items() if r.run is not None}
    runs.update({r.stack: r.run for r in analyses.values()})
    return runs


def _previewed(results: dict[str, StackResult], analyses: dict[concurrent.futures.Future, StackResult]) -> set[str]:
    return set(_upstream_outputs(results, analyses))


def _failed(results: dict[str, StackResult]) -> set[str]:
    return {s for s, r in results.items() if r.run is None}


def _dependency_order(planned: list[str], results: dict[str, StackResult], rank: dict[str, int]) -> list[StackResult]:
    """Upstream stacks before the stacks that read them; otherwise by layer, then name.

    Computed from the references each stack made, so the order is the same however many jobs ran.
    """
    deps = {s: set(r.run.references) & set(planned) if r.run else set() for s, r in results.items()}
    order: list[StackResult] = []
    placed: set[str] = set()
    pending = sorted(results, key=lambda s: (rank[s], s))
    while pending:
        ready = next((s for s in pending if deps[s] <= placed), pending[0])
        pending.remove(ready)
        placed.add(ready)
        order.append(results[ready])
    return order


def default_jobs() -> int:
    """Worker processes by default: one per CPU, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))
