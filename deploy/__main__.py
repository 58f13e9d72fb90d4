"""`python -m deploy {plan,preview,up}`: the platform's stacks in dependency order.

    python -m deploy plan                              # the order, what each stack reads and touches
    python -m deploy preview --environment dev         # pulumi preview of the dev stacks, in order
    python -m deploy up --include-upstream --stacks fraud-detection-dev
    python -m deploy up --dry-run                      # print the plan; no Pulumi CLI needed

The order comes from the StackReferences of an offline preview run now (or of `--plan
build/preview/plan.json`). `preview` and `up` run through the Pulumi Automation API (the
Pulumi CLI must be installed and logged in to the backend) and stop at the first stack that
fails. Exit status: 0 done; 1 a stack failed (or no Pulumi CLI); 2 the stacks could not be ordered or selected.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from deploy import order, runner

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_PACK = "policypacks/ml-guardrails"
DEFAULT_POLICY_CONFIG = f"{DEFAULT_POLICY_PACK}/policy-config.sample.json"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m deploy", description="Preview or deploy the platform's stacks in dependency order.")
    p.add_argument("operation", choices=("plan", "preview", "up"), help="plan: print the order only")
    p.add_argument("--config-dir", type=Path, default=ROOT / "stacks", help="the Pulumi.<stack>.yaml files (default stacks/)")
    p.add_argument("--plan", type=Path, default=None,
                   help="order from this plan.json (python -m offline_preview) instead of previewing offline now")
    p.add_argument("--stacks", default="", help="comma-separated stacks (default: all)")
    p.add_argument("--environment", default=None, help="only the stacks of this environment (dev, preprod, prod)")
    p.add_argument("--project", default=None, help="only the stacks of this ML project")
    p.add_argument("--include-upstream", action="store_true", help="add every stack the selected ones read")
    p.add_argument("--changed-from", type=Path, default=None, metavar="BASE_PLAN",
                   help="only stacks whose offline preview differs from this plan.json (e.g. the base branch's)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop (no Pulumi CLI needed)")
    p.add_argument("--json", action="store_true", help="print the selected stacks as JSON (with plan or --dry-run)")
    p.add_argument("--org", default="organization",
                   help="the stacks' organization (default 'organization', what a DIY S3 backend uses)")
    p.add_argument("--policy-pack", action="append", default=None,
                   help=f"policy pack directory (repeatable; default {DEFAULT_POLICY_PACK}; 'none' for no pack)")
    p.add_argument("--policy-pack-config", action="append", default=[], help="the pack's configuration JSON (repeatable, in pack order; default for the default pack: its policy-config.sample.json)")
    p.add_argument("--create-missing", action="store_true", help="create stacks the backend does not have yet")
    p.add_argument("--secrets-provider", default=None, help="for --create-missing: awskms://alias/<prefix>-pulumi-secrets?region=<region>")
    p.add_argument("--summary", type=Path, default=None, help="also write a Markdown summary here (CI comments)")
    return p


def main(argv: list[str] | None = None, workspace_factory: Callable | None = None) -> int:
    """Run the command; returns the exit status. `workspace_factory` replaces the Automation
    API's LocalWorkspace (tests)."""
    args = _parser().parse_args(argv)
    operation = "up" if args.operation == "plan" else args.operation
    try:
        plan = order.load_plan(args.plan) if args.plan else order.preview_plan(args.config_dir)
        steps = order.deployment_order(plan, args.config_dir)
        only = order.changed_stacks(order.load_plan(args.changed_from), plan) if args.changed_from else None
        chosen = order.select(steps, stacks=[s.strip() for s in args.stacks.split(",") if s.strip()],
                              environment=args.environment, project=args.project, only=only,
                              include_upstream=args.include_upstream)
        if args.create_missing and not args.secrets_provider:
            raise order.OrderError("--create-missing needs --secrets-provider (python -m deploy.bootstrap prints it)")
    except order.OrderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([s.as_json() for s in chosen], indent=2))
    else:
        for line in order.render(chosen, f"pulumi {operation}"):
            print(line)
    if args.operation == "plan" or args.dry_run:
        return 0
    if not chosen:
        if args.summary:  # CI comments on every previewed pull request, also when nothing changes
            args.summary.write_text(runner.summary_markdown([], operation, args.org))
        return 0

    packs = args.policy_pack if args.policy_pack is not None else [DEFAULT_POLICY_PACK]
    packs = [p for p in packs if p != "none"]
    configs = list(args.policy_pack_config)
    if not configs and packs == [DEFAULT_POLICY_PACK]:
        configs = [DEFAULT_POLICY_CONFIG]  # as the offline preview does
    try:
        outcomes = runner.run_steps(
            chosen, operation, work_dir=ROOT, org=args.org, policy_packs=packs,
            policy_pack_configs=configs, create_missing=args.create_missing,
            secrets_provider=args.secrets_provider,
            **({"workspace_factory": workspace_factory} if workspace_factory else {}))
    except runner.RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.summary:
        args.summary.write_text(runner.summary_markdown(outcomes, operation, args.org))
    failed = [o for o in outcomes if o.status == "failed"]
    done = sum(o.status == "ok" for o in outcomes)
    print(f"{done} of {len(outcomes)} stacks {'previewed' if operation == 'preview' else 'deployed'}"
          + (f"; {failed[0].step.name} failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
