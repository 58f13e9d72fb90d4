"""The `python -m offline_preview` command (what `make preview` runs).

Previews every stack of a configuration directory (or the chosen ones) in dependency order,
checks each with the policy pack, prints a line per stack and a summary, and writes
`plan.json`, `guardrails.md`, `architecture.svg` and `architecture.mmd` to `--out`.

Exit status: 0 when every stack previewed and no mandatory policy was violated; 1 when a stack
failed or a mandatory policy was violated (each named, with the resource's URN); 2 when the
command itself was used wrongly (unknown stack, no Pulumi.yaml, unreadable policy config).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from offline_preview.engine import ROOT, PreviewError, Program, load_program
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
        prog="python -m offline_preview",
        description="Preview a Pulumi Python program's stacks offline: no CLI, backend, credentials or network.",
    )
    parser.add_argument("--program-dir", type=Path, default=None,
                        help="the Pulumi project (directory with Pulumi.yaml); default: the current directory "
                             "if it has a Pulumi.yaml, else this repository")
    parser.add_argument("--config-dir", type=Path, default=None,
                        help="directory of the Pulumi.<stack>.yaml files; default: the project's stackConfigDir")
    parser.add_argument("--out", type=Path, default=Path("build/preview"), help="output directory (default build/preview)")
    parser.add_argument("--stacks", default="", help="comma-separated stacks to preview (default: all)")
    parser.add_argument("--policy-pack", type=Path, default=None,
                        help=f"policy pack directory (default {DEFAULT_POLICY_PACK.relative_to(ROOT)})")
    parser.add_argument("--policy-config", type=Path, default=None,
                        help=f"policy configuration JSON (default <pack>/{DEFAULT_POLICY_CONFIG_NAME} if present)")
    parser.add_argument("--no-policy", action="store_true", help="skip policy analysis")
    parser.add_argument("--jobs", type=int, default=None,
                        help="stacks previewed in parallel worker processes (default: CPUs, at most 4)")
    parser.add_argument("--account-id", default="111111111111",
                        help="account of providers that name no account (default 111111111111)")
    return parser


def _program(arg: Path | None) -> Program:
    if arg is not None:
        return load_program(arg)
    cwd = Path.cwd()
    return load_program(cwd if (cwd / "Pulumi.yaml").exists() else ROOT)


def _policy(args: argparse.Namespace, jobs: int) -> PolicySettings:
    if args.no_policy:
        return PolicySettings(None)
    pack = args.policy_pack or DEFAULT_POLICY_PACK
    config_path = args.policy_config
    if config_path is None and (pack / DEFAULT_POLICY_CONFIG_NAME).exists():
        config_path = pack / DEFAULT_POLICY_CONFIG_NAME
    # As many pack processes as stack workers: analysis keeps pace with the runs.
    return PolicySettings(pack, load_policy_config(config_path), required=args.policy_pack is not None,
                          processes=jobs)


def _line(result: StackResult, width: int) -> str:
    name = result.stack.ljust(width)
    if result.run is None:
        return f"  {name}  FAILED  ({len(result.registered)} resources registered before the failure, {result.seconds:.1f} s)"
    mandatory = len(result.mandatory)
    violations = f"{len(result.violations)} violations" + (f" ({mandatory} mandatory)" if mandatory else "")
    status = "  POLICY ANALYSIS FAILED" if result.policy_error else ""
    return (f"  {name}  {len(result.resources):5d} resources  {violations:<30}"
            f"{result.seconds:6.1f} s{status}")


def _summary(result: PreviewResult) -> list[str]:
    resources = sum(len(s.resources) for s in result.stacks)
    analyzed = sum(s.analyzed for s in result.stacks)
    rate = resources / result.seconds if result.seconds else 0.0
    lines = [
        f"{len(result.stacks)} stacks, {resources} resources ({analyzed} checked by policies), "
        f"{len(result.violations)} violations ({len(result.mandatory)} mandatory), "
        f"{len(result.failed)} failed, {result.seconds:.1f} s ({rate:.0f} resources/s)",
    ]
    if result.policy_note:
        lines.append(f"note: {result.policy_note}")
    if result.mandatory:
        lines.append("mandatory policy violations:")
        for v in sorted(result.mandatory, key=lambda v: v.sort_key()):
            finding = v.finding if len(v.finding) <= 300 else v.finding[:297] + "..."
            lines.append(f"  [{v.policy}] {v.urn or 'stack ' + v.stack}: {finding}")
    for stack in result.failed:
        lines.append(f"FAILED {stack.error or stack.policy_error}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # un-awaited coroutines of a failed stack's run
    try:
        program = _program(args.program_dir)
        config_dir = args.config_dir or program.stack_config_dir
        jobs = max(1, args.jobs or default_jobs())
        policy = _policy(args, jobs)
        chosen = [s.strip() for s in args.stacks.split(",") if s.strip()] or None
        width = 24

        def progress(result: StackResult) -> None:
            print(_line(result, width), flush=True)
            if result.run is None or result.policy_error:
                print(f"    {result.error or result.policy_error}", flush=True)

        print(f"offline preview of {program.project} ({program.directory}), stacks from {config_dir}", flush=True)
        result = preview(program, config_dir, chosen, policy, jobs,
                         args.account_id, on_stack=progress)
    except PreviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from offline_preview.architecture import write_architecture
    from offline_preview.plan import build_plan, render_plan
    from offline_preview.report import write_guardrails

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    plan = build_plan(result)
    (out / "plan.json").write_text(render_plan(plan))
    write_guardrails(result, out / "guardrails.md")
    write_architecture(plan, out)
    for line in _summary(result):
        print(line)
    print(f"wrote {out}/plan.json, guardrails.md, architecture.svg, architecture.mmd")
    return 0 if result.succeeded else 1
