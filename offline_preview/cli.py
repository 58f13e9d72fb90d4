"""The `offline-preview` command, also `python -m offline_preview` (what `make preview` runs).

Previews every stack of a configuration directory (or the chosen ones) in dependency order,
checks each with the policy pack, prints a line per stack and a summary, and writes
`plan.json`, `guardrails.md`, `architecture.svg` and `architecture.mmd` to `--out`.

Exit status: 0 when every stack previewed and no mandatory policy was violated; 1 when a stack
failed (a program error, a remote component without --allow-unseen, a duplicate URN, an invoke
no mock answers...) or a mandatory policy was violated (each named, with the resource's URN); 2
when the command itself was used wrongly (unknown stack, no Pulumi.yaml, unreadable mocks or
stack outputs file, a policy pack that cannot start or rejects its configuration): then no stack
is reported as analysed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import warnings
from pathlib import Path

from typing import Any

from offline_preview.engine import ORGANIZATION, ROOT, PreviewError, Program, RunOptions, load_program
from offline_preview.mocks import MocksFileError, load_mocks_file, read_data_file
from offline_preview.preview import (
    DEFAULT_POLICY_CONFIG_NAME,
    DEFAULT_POLICY_PACK,
    PolicySettings,
    PreviewResult,
    StackResult,
    default_jobs,
    load_policy_config,
    preview,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offline-preview",
        description="Preview a Pulumi Python program's stacks offline: no CLI, backend, credentials or network.",
    )
    parser.add_argument("--program-dir", type=Path, action="append", default=None,
                        help="the Pulumi project (directory with Pulumi.yaml); default: the current directory "
                             "if it has a Pulumi.yaml, else this repository. Repeat it to preview several "
                             "projects in one run, in dependency order: StackReferences to an earlier project's "
                             "stacks resolve to what they exported (outputs go to <out>/<project>/)")
    parser.add_argument("--config-dir", type=Path, default=None,
                        help="directory of the Pulumi.<stack>.yaml files; default: the project's stackConfigDir")
    parser.add_argument("--out", type=Path, default=Path("build/preview"), help="output directory (default build/preview)")
    parser.add_argument("--stacks", default="", help="comma-separated stacks to preview (default: all)")
    parser.add_argument("--policy-pack", type=Path, default=None,
                        help=f"policy pack directory (default {DEFAULT_POLICY_PACK.relative_to(ROOT)})")
    parser.add_argument("--policy-config", type=Path, default=None,
                        help=f"policy configuration JSON (default <pack>/{DEFAULT_POLICY_CONFIG_NAME} if present)")
    parser.add_argument("--no-policy", action="store_true", help="skip policy analysis")
    parser.add_argument("--policy-transport", choices=("pipe", "grpc"), default="pipe",
                        help="how calls reach a Python policy pack: pipe (default) gives each message to the pack's "
                             "own analyzer servicer, a stack's Analyze calls in one frame; grpc speaks the Analyzer "
                             "protocol as the Pulumi engine does (one call per resource, slower). Same responses")
    parser.add_argument("--jobs", type=int, default=None,
                        help="stacks previewed in parallel worker processes (default: CPUs, at most 4)")
    parser.add_argument("--account-id", default="111111111111",
                        help="account of providers that name no account (default 111111111111)")
    parser.add_argument("--mocks", type=Path, default=None,
                        help='answers for invokes (data sources) the built-in AWS mocks do not know, JSON or YAML: '
                             '{"invokes": {"<token>": [{"args": {...}, "return": {...}}]}}')
    parser.add_argument("--stack-outputs", type=Path, default=None,
                        help="outputs of stacks of other projects that StackReferences read, JSON or YAML: "
                             "{\"org/project/stack\": <what `pulumi stack output --json` prints>}; a value "
                             "\"[secret]\" is secret, or give {\"outputs\": {...}, \"secrets\": [names]}")
    parser.add_argument("--organization", default=ORGANIZATION,
                        help=f"the organization the programs run in (default {ORGANIZATION})")
    parser.add_argument("--allow-unseen", action="store_true",
                        help="a remote (multi-language) component is a warning, not a failure of its stack")
    return parser


def _programs(args: list[Path] | None) -> list[Program]:
    if args:
        return [load_program(arg) for arg in args]
    cwd = Path.cwd()
    return [load_program(cwd if (cwd / "Pulumi.yaml").exists() else ROOT)]


def _policy(args: argparse.Namespace, jobs: int) -> PolicySettings:
    if args.no_policy:
        return PolicySettings(None)
    pack = args.policy_pack or DEFAULT_POLICY_PACK
    config_path = args.policy_config
    if config_path is None and (pack / DEFAULT_POLICY_CONFIG_NAME).exists():
        config_path = pack / DEFAULT_POLICY_CONFIG_NAME
    # As many pack processes as stack workers: analysis keeps pace with the runs.
    return PolicySettings(pack, load_policy_config(config_path), required=args.policy_pack is not None,
                          processes=jobs, transport=args.policy_transport)


def load_stack_outputs(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Outputs of other projects' stacks by full name, and their secret outputs' names."""
    data = read_data_file(path, "stack outputs file", PreviewError)
    if not isinstance(data, dict):
        raise PreviewError(f"stack outputs file {path}: must map full stack names (org/project/stack) to outputs")
    outputs, secrets, problems = {}, {}, []
    for name, value in data.items():
        parts = str(name).split("/")
        if len(parts) != 3 or not all(parts):
            problems.append(f"'{name}' is not a full stack name (organization/project/stack)")
            continue
        if isinstance(value, dict) and set(value) in ({"outputs"}, {"outputs", "secrets"}):
            marked = value.get("secrets") or []
            value = value["outputs"]
        else:
            # `pulumi stack output --json` without --show-secrets prints a secret as "[secret]".
            marked = [k for k, v in value.items() if v == "[secret]"] if isinstance(value, dict) else []
        if not isinstance(value, dict) or not isinstance(marked, list):
            problems.append(f"'{name}': outputs must be a mapping (and secrets a list of their names)")
            continue
        unknown = sorted(set(marked) - set(value))
        if unknown:
            problems.append(f"'{name}': secrets {', '.join(unknown)} are not among its outputs")
        outputs[str(name)], secrets[str(name)] = value, sorted(str(m) for m in marked)
    if problems:
        raise PreviewError(f"stack outputs file {path}: " + "; ".join(problems))
    return outputs, secrets


def _line(result: StackResult, width: int) -> str:
    name = result.stack.ljust(width)
    if result.run is None:
        return f"  {name}  FAILED  ({len(result.registered)} resources registered before the failure, {result.seconds:.1f} s)"
    mandatory = len(result.mandatory)
    if result.policy_error:
        violations = "not analysed"
    else:
        violations = f"{len(result.violations)} violations" + (f" ({mandatory} mandatory)" if mandatory else "")
    if result.run.unseen:  # never "0 violations" for what was not seen
        violations += f" in what was seen, {len(result.run.unseen)} remote component(s) UNSEEN"
    status = "  POLICY ANALYSIS FAILED" if result.policy_error else ""
    return (f"  {name}  {len(result.resources):5d} resources  {violations:<30}"
            f"{result.seconds:6.1f} s{status}")


_ADVISORY_LINES = 20  # the console lists this many; guardrails.md has them all


def _brief(v: Any, limit: int) -> str:
    finding = v.finding if len(v.finding) <= limit else v.finding[: limit - 3] + "..."
    return f"  [{v.policy}] {v.urn or 'stack ' + v.stack}: {finding}"


def _summary(result: PreviewResult) -> list[str]:
    resources = sum(len(s.resources) for s in result.stacks)
    analyzed = sum(s.analyzed for s in result.stacks)
    rate = resources / result.seconds if result.seconds else 0.0
    unseen = sum(len(s.run.unseen) for s in result.stacks if s.run)
    lines = [
        f"{len(result.stacks)} stacks, {resources} resources ({analyzed} checked by policies), "
        f"{len(result.violations)} violations ({len(result.mandatory)} mandatory), "
        f"{len(result.failed)} failed, {result.seconds:.1f} s ({rate:.0f} resources/s)",
    ]
    if unseen:
        lines.append(f"warning: {unseen} remote component(s) unseen: their children were not registered or "
                     "checked by policies (see the stacks' notes)")
    if result.policy_note:
        lines.append(f"note: {result.policy_note}")
    if result.mandatory:
        lines.append("mandatory policy violations:")
        for v in sorted(result.mandatory, key=lambda v: v.sort_key()):
            lines.append(_brief(v, 300))
    advisory = sorted((v for v in result.violations if not v.mandatory), key=lambda v: v.sort_key())
    if advisory:
        lines.append(f"advisory policy violations ({len(advisory)}; in full in guardrails.md):")
        lines += [_brief(v, 160) for v in advisory[:_ADVISORY_LINES]]
        if len(advisory) > _ADVISORY_LINES:
            lines.append(f"  ... and {len(advisory) - _ADVISORY_LINES} more")
    for stack in result.failed:
        lines.append(f"FAILED {stack.error or stack.policy_error}")
    return lines


class _Entries:
    """Each stack's plan entry and its text, made in a thread as each stack is done (while the
    others run) rather than all at the end."""

    def __init__(self) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="plan")
        self.made: dict[str, tuple[StackResult, concurrent.futures.Future]] = {}

    def add(self, result: StackResult) -> None:
        from offline_preview.plan import render_stack_entry, stack_entry

        def make() -> tuple[dict[str, Any], str]:
            entry = stack_entry(result)
            return entry, render_stack_entry(entry)

        self.made[result.stack] = (result, self.pool.submit(make))

    def of(self, result: PreviewResult) -> dict[str, tuple[dict[str, Any], str]]:
        """The entries made for the result's stacks (by name), each for the very result it holds."""
        return {s.stack: self.made[s.stack][1].result() for s in result.stacks
                if s.stack in self.made and self.made[s.stack][0] is s}

    def clear(self) -> None:
        self.made = {}


def _write(result: PreviewResult, out: Path, entries: _Entries | None = None) -> None:
    from offline_preview.architecture import write_architecture
    from offline_preview.plan import build_plan, render_plan, render_stack_entry
    from offline_preview.report import write_guardrails

    out.mkdir(parents=True, exist_ok=True)
    made = entries.of(result) if entries is not None else {}
    plan = build_plan(result, {name: entry for name, (entry, _) in made.items()})
    texts = [made[s.stack][1] if s.stack in made else render_stack_entry(entry)
             for s, entry in zip(result.stacks, plan["stacks"])]
    (out / "plan.json").write_text(render_plan(plan, texts))
    write_guardrails(result, out / "guardrails.md")
    write_architecture(plan, out)
    for line in _summary(result):
        print(line)
    print(f"wrote {out}/plan.json, guardrails.md, architecture.svg, architecture.mmd", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # un-awaited coroutines of a failed stack's run
    status = 0
    try:
        programs = _programs(args.program_dir)
        if len(programs) > 1 and (args.config_dir or args.stacks):
            raise PreviewError("--config-dir and --stacks choose the stacks of one program; "
                               "with several --program-dir each previews its stackConfigDir")
        jobs = max(1, args.jobs or default_jobs())
        policy = _policy(args, jobs)
        options = RunOptions(allow_unseen=args.allow_unseen, organization=args.organization)
        if args.mocks is not None:
            try:
                options.invoke_mocks = load_mocks_file(args.mocks)
            except MocksFileError as exc:
                raise PreviewError(str(exc)) from None
            options.mocks_file = str(args.mocks)
        if args.stack_outputs is not None:
            options.external, options.external_secrets = load_stack_outputs(args.stack_outputs)
        chosen = [s.strip() for s in args.stacks.split(",") if s.strip()] or None
        width = 24

        entries = _Entries()

        def progress(result: StackResult) -> None:
            entries.add(result)
            print(_line(result, width), flush=True)
            if result.run is None or result.policy_error:
                print(f"    {result.error or result.policy_error}", flush=True)
            for note in result.run.notes if result.run else []:
                print(f"note: {note}", flush=True)

        queue, deferred = list(programs), {p.directory: 0 for p in programs}
        while queue:
            program = queue.pop(0)
            config_dir = args.config_dir or program.stack_config_dir
            print(f"offline preview of {program.project} ({program.directory}), stacks from {config_dir}", flush=True)
            result = preview(program, config_dir, chosen, policy, jobs, args.account_id, on_stack=progress,
                             options=options)
            # Dependency order: a program reading stacks of a project still to come runs again
            # after it (at most once per program of the run, so a cycle ends, reported).
            later = [p.project for p in queue]
            needed = {n for s in result.stacks for n in s.missing_projects} & set(later)
            if needed and deferred[program.directory] < len(programs):
                deferred[program.directory] += 1
                at = max(later.index(n) for n in needed) + 1
                queue.insert(at, program)
                entries.clear()
                print(f"{program.project} reads stacks of {', '.join(sorted(needed))}: previewed again after it",
                      flush=True)
                continue
            _write(result, args.out if len(programs) == 1 else args.out / program.project, entries)
            entries.clear()
            status = max(status, 0 if result.succeeded else 1)
            # What the later programs' StackReferences read: this program's stacks by full name.
            for stack in result.stacks:
                if stack.run is not None:
                    full = f"{options.organization}/{program.project}/{stack.stack}"
                    options.external[full] = stack.run.outputs
                    options.external_secrets[full] = list(stack.run.secret_outputs)
    except PreviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return status
