"""`python -m operations verify|promote-model` (README "Operations").

    python -m operations verify --outputs outputs.json [--probe-role mrd-verify-probe] [--json]
    python -m operations verify                      # outputs from the Pulumi backend (Automation API)
    python -m operations promote-model --project document-vision --environment prod \\
        --version arn:aws:rekognition:...:project/documents/version/<name>/<ts> --image sample.jpg

Credentials: the management account's (verify; it assumes the deployment role into the
members), or any account's that may assume the deployment role into the producer and consumer
accounts (promote-model). Exit status: 0 done; 1 a check or a step failed; 2 unusable inputs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, NoCredentialsError

from guardrail_catalog import CatalogError, catalog
from operations import outputs as stack_outputs
from operations import promote_model, verify
from operations.aws import DEFAULT_MAX_ATTEMPTS, RETRY_MODES, OperationsError, Sessions, default_session, retry_config
from stacks.config import PlatformConfig

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PLATFORM_FILE = ROOT / "stacks" / "platform.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m operations", description="Operate the deployed platform.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--outputs", type=Path, default=None,
                        help="stack outputs JSON ({stack: outputs}, or an offline preview plan.json); default: read "
                             "them from the Pulumi backend through the Automation API")
    common.add_argument("--org", default="organization", help="the stacks' organization in the backend")
    common.add_argument("--profile", default=None, help="AWS CLI profile (default: the usual credential chain)")
    common.add_argument("--role-name", default=None,
                        help="role assumed in each account (default: organization.deployment_role)")
    common.add_argument("--retry-mode", choices=RETRY_MODES, default="standard", help="botocore retry mode")
    common.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS,
                        help=f"attempts per call, throttling included (default {DEFAULT_MAX_ATTEMPTS})")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", parents=[common], help="compare the live organization with the guardrail catalog")
    v.add_argument("--platform-file", type=Path, default=DEFAULT_PLATFORM_FILE)
    v.add_argument("--probe-role", default=None,
                   help="role (not exempt from the SCPs) in each account to probe the preventive guardrails as")
    v.add_argument("--checks", default=None,
                   help=f"comma-separated checks to run (default all: {', '.join(verify.CHECKS)})")
    v.add_argument("--json", action="store_true", help="print the findings as JSON")
    m = sub.add_parser("promote-model", parents=[common], help="move a consumer to a new Rekognition model version")
    promote_model.add_arguments(m, DEFAULT_PLATFORM_FILE)
    return p


def _outputs(args: Any, stacks: list[str], workspace_factory: Callable[..., Any] | None) -> stack_outputs.StackOutputs:
    """The outputs of `stacks`; all but the first (organization) and security may be missing."""
    if args.outputs is not None:
        return stack_outputs.load_file(args.outputs)
    return stack_outputs.from_backend(stacks, work_dir=ROOT, org=args.org,
                                      optional=[s for s in stacks if s not in ("organization", "security")],
                                      **({"workspace_factory": workspace_factory} if workspace_factory else {}))


def main(argv: list[str] | None = None, session: Any = None, workspace_factory: Callable[..., Any] | None = None,
         client_hook: Callable[..., None] | None = None) -> int:
    """Run a command; returns the exit status. `session` replaces the default boto3 session,
    `workspace_factory` the Automation API's LocalWorkspace, `client_hook` sees every client (tests)."""
    args = _parser().parse_args(argv)
    try:
        config = retry_config(args.retry_mode, args.max_attempts)

        def sessions_for(platform: PlatformConfig) -> Sessions:
            base = session or default_session(args.profile, platform.home_region)
            return Sessions(base, args.role_name or platform.organization.deployment_role, config, client_hook)

        if args.command == "verify":
            return _verify(args, sessions_for, workspace_factory)
        _, platform = promote_model.load_platform(args.platform_file)
        project_stacks = [f"{args.project}-{env}" for env in
                          (platform.model_sharing.projects[args.project].consumers
                           if args.project in platform.model_sharing.projects else ())]
        outputs = _outputs(args, ["organization", *project_stacks], workspace_factory)
        return promote_model.promote(args, sessions_for, outputs, workspace_factory)
    except OperationsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if args.command == "verify" else 1
    except NoCredentialsError:
        print("error: no AWS credentials found (set AWS_PROFILE or use --profile, or export credentials)", file=sys.stderr)
        return 2
    except BotoCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _verify(args: Any, sessions_for: Callable[[PlatformConfig], Sessions],
            workspace_factory: Callable[..., Any] | None) -> int:
    checks = verify.select_checks(args.checks)
    _, platform = promote_model.load_platform(args.platform_file)
    try:
        cat = catalog()
    except CatalogError as exc:
        raise OperationsError(str(exc)) from None
    stacks = ["organization", "security", *(f"{p.name}-{e}" for p in platform.projects for e in p.environments)]
    outputs = _outputs(args, stacks, workspace_factory)
    ctx = verify.Context(platform, cat, outputs, sessions_for(platform), args.probe_role)
    ctx.management_id  # noqa: B018 - fail early, naming the missing output
    findings = verify.verify(ctx, checks)
    print(verify.render_json(findings) if args.json else verify.render_table(findings))
    return 1 if any(f.result == verify.FAIL for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
