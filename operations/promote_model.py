"""`python -m operations promote-model`: move a consumer environment to a new Rekognition
Custom Labels model version (the model-sharing blog's promotion, README "Model sharing").

The pattern each consumer environment uses is the platform definition's (said for every
consumer environment of the project on each run):

* **in-account** (the producer's own environment) and **delegate** (`consumers.<env>.pattern`,
  the default: another account, whose application assumes the producer role,
  `model_sharing_settings.producer_role_name`). The version a consumer uses is
  `model_sharing.projects.<project>.consumers.<env>.version` of the platform definition; the
  producer role's policy and the consumer's SSM parameter are Pulumi-managed, so promotion is:
  check the version exists and is RUNNING in the producer account, write the new ARN into the
  platform definition (the old one into `keep_previous` with `--keep-previous`, for a
  cut-over), `pulumi up` of the producer stack (the grant) and then of the consumer stack (the
  switch) through the Automation API when the Pulumi CLI is there, else print those commands;
  then, from the consumer account, assume the producer role and call DetectCustomLabels on the
  image named.
* **copy** (`pattern: copy`): the consumer holds its own copy (Rekognition's PutProjectPolicy
  and CopyProjectVersion, which the blog predates). The first run lets the consumer account
  copy the version (the producer project's policy) and copies it into the consumer's project
  of the same name (its stack's, with `rekognition_project`; else created when missing),
  output in its `models` bucket, and stops: copying
  takes a while and the copy must be started in the consumer account. Once the copy is
  RUNNING, the next run writes the copy's ARN into the platform definition and runs `pulumi
  up` of the consumer stack only (its role policy and parameter name its own copy; the
  producer has no role for it), then calls the copy directly from the consumer account.

`--stop-superseded` stops the old version (where it is: the producer's, or the consumer's old
copy) when no environment uses it any more. Nothing is written without being asked:
`--dry-run` shows the change and stops.
"""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

from deploy.order import StackStep
from deploy.runner import RunnerError, run_steps
from operations.aws import ACCESS_DENIED, OperationsError, Sessions, assume, error_code, explain
from operations.outputs import StackOutputs, require
from policy_documents.serialize import document, to_json
from policy_documents.service_authorization import validate_document
from stacks import model_sharing_settings as ms
from stacks.config import ConfigError, PlatformConfig, parse_platform

ROOT = Path(__file__).resolve().parent.parent
# DetectCustomLabels takes at most 5 MB of image bytes (botocore's ImageBlob shape).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
IN_ACCOUNT, DELEGATE, COPY = "in-account", "delegate", "copy"
# Rekognition project version statuses (botocore's ProjectVersionStatus).
TRAINED = ("TRAINING_COMPLETED", "RUNNING", "STOPPED", "STOPPING", "STARTING", "COPYING_COMPLETED")
COPYING = ("COPYING_IN_PROGRESS",)


@dataclass(frozen=True)
class Target:
    """The promotion asked for, checked against the platform definition and the outputs."""

    project: str
    environment: str
    version: str
    producer: str
    producer_account: str
    consumer_account: str
    previous: str
    pattern: str  # IN_ACCOUNT, DELEGATE or COPY

    @property
    def cross_account(self) -> bool:
        return self.environment != self.producer

    @property
    def delegated(self) -> bool:
        return self.pattern == DELEGATE

    @property
    def version_name(self) -> str:
        return str(ms.VERSION_ARN.match(self.version)["version"])  # type: ignore[index]

    @property
    def project_name(self) -> str:
        return str(ms.VERSION_ARN.match(self.version)["project"])  # type: ignore[index]


# -- the platform definition ---------------------------------------------------------------


def load_platform(path: Path) -> tuple[str, PlatformConfig]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise OperationsError(f"--platform-file: {path} does not exist") from None
    return text, _parse(text, path)


def _parse(text: str, path: Path) -> PlatformConfig:
    try:
        return parse_platform(yaml.safe_load(text))
    except ConfigError as exc:
        raise OperationsError(f"{path}: {exc}") from None


def _node(mapping: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    return next((v for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _consumer_node(text: str, project: str, env: str) -> yaml.MappingNode:
    node: Any = yaml.compose(text)
    for key in ("model_sharing", "projects", project, "consumers", env):
        node = _node(node, key)
        if node is None:
            raise OperationsError(f"model_sharing.projects.{project}.consumers.{env} is not in the platform definition")
    return node


def set_consumer_version(text: str, project: str, env: str, version: str, keep: str | None) -> str:
    """The platform definition with `consumers.<env>.version` set to `version` (and `keep`
    added to `keep_previous`), edited in place so that comments and layout stay."""
    consumer = _consumer_node(text, project, env)
    edits: list[tuple[int, int, str]] = []
    current = _node(consumer, "version")
    if current is None:
        raise OperationsError(f"model_sharing.projects.{project}.consumers.{env} has no version")
    edits.append((current.start_mark.index, current.end_mark.index, version))
    kept = _node(consumer, "keep_previous")
    if kept is not None:
        values = [n.value for n in kept.value if n.value != version]
        if keep and keep not in values:
            values.append(keep)
        edits.append((kept.start_mark.index, kept.end_mark.index, "[" + ", ".join(values) + "]"))
    elif keep:
        key_column = next(k for k, v in consumer.value if v is current).start_mark.column
        # A new key on the line after `version:`, at the same indentation as `version`.
        line_end = text.index("\n", current.end_mark.index) if "\n" in text[current.end_mark.index:] else len(text)
        edits.append((line_end, line_end, "\n" + " " * key_column + f"keep_previous: [{keep}]"))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def pattern_of(platform: PlatformConfig, project: str, env: str) -> str:
    """IN_ACCOUNT for the producer's own environment, else the consumer's configured pattern."""
    settings = ms.sharing(platform, project)
    assert settings is not None
    return IN_ACCOUNT if env == settings.producer else settings.consumers[env].pattern


def patterns(platform: PlatformConfig, project: str) -> dict[str, tuple[str, str]]:
    """Consumer environment -> (pattern, version it uses), from the platform definition."""
    settings = ms.sharing(platform, project)
    return {env: (pattern_of(platform, project, env), used.version)
            for env, used in (settings.consumers.items() if settings else ())}


def _in_use(platform: PlatformConfig, project: str, arn: str) -> list[str]:
    """The consumer environments that may still call `arn` (version, kept, prefix)."""
    settings = ms.sharing(platform, project)
    users = []
    for env, used in (settings.consumers.items() if settings else ()):
        for allowed in ms.allowed_versions(used):
            if allowed == arn or (allowed.endswith("*") and arn.startswith(allowed[:-1])):
                users.append(env)
                break
    return users


def resolve(platform: PlatformConfig, outputs: StackOutputs, project: str, env: str, version: str) -> Target:
    """Check the request against the platform definition and the organization's accounts."""
    settings = ms.sharing(platform, project)
    if settings is None:
        raise OperationsError(f"--project: '{project}' shares no model (model_sharing.projects has: "
                              f"{', '.join(platform.model_sharing.projects) or 'none'})")
    if env not in settings.consumers:
        raise OperationsError(f"--environment: '{env}' is not a consumer of {project}'s model (consumers: "
                              f"{', '.join(settings.consumers)}); add it under model_sharing.projects.{project}.consumers")
    match = ms.VERSION_ARN.match(version)
    if match is None:
        raise OperationsError(f"--version: '{version}' is not a Rekognition project version ARN (allowed: "
                              f"arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<timestamp>)")
    if match["region"] not in platform.allowed_regions:
        raise OperationsError(f"--version: region '{match['region']}' is outside the allow-list (allowed_regions: "
                              f"{', '.join(platform.allowed_regions)}); the REG-1 SCP denies calls there")
    accounts = dict(require(outputs, "organization", "accountIds"))
    keys = {f"{project}-{settings.producer}": "producer", f"{project}-{env}": "consumer"}
    for key, role in keys.items():
        if key not in accounts:
            raise OperationsError(f"unknown account '{key}' (the {role}): the organization stack's accountIds do not "
                                  f"have it; deploy the organization stack or check --project/--environment")
    producer_account = accounts[f"{project}-{settings.producer}"]
    if match["account"] != producer_account:
        raise OperationsError(f"--version: '{version}' is in account {match['account']}, not in the producer "
                              f"{project}-{settings.producer} ({producer_account})")
    if settings.rekognition_project and match["project"] != settings.rekognition_project:
        raise OperationsError(f"--version: '{version}' is a version of project '{match['project']}', not of the "
                              f"shared project '{settings.rekognition_project}'")
    return Target(project, env, version, settings.producer, producer_account, accounts[f"{project}-{env}"],
                  settings.consumers[env].version, pattern_of(platform, project, env))


# -- AWS -----------------------------------------------------------------------------------


def _rekognition_error(exc: ClientError, where: str, sessions: Sessions) -> OperationsError:
    return OperationsError(explain(exc, where, sessions.config))


def _project_arn(sessions: Sessions, account: str, name: str, region: str, where: str) -> str | None:
    rk = sessions.client(account, "rekognition", region)
    try:
        projects = rk.describe_projects(ProjectNames=[name]).get("ProjectDescriptions", [])
    except ClientError as exc:
        raise _rekognition_error(exc, where, sessions) from None
    return str(projects[0]["ProjectArn"]) if projects else None


def producer_project_arn(sessions: Sessions, target: Target, region: str) -> str:
    found = _project_arn(sessions, target.producer_account, target.project_name, region,
                         f"the producer account {target.producer_account}")
    if found is None:
        raise OperationsError(f"Rekognition project '{target.project_name}' does not exist in the producer account "
                              f"{target.producer_account} ({region})")
    return found


def _version(sessions: Sessions, account: str, region: str, project_arn: str, name: str,
             where: str) -> dict[str, Any] | None:
    """The description of version `name` of `project_arn`, or None."""
    rk = sessions.client(account, "rekognition", region)
    try:
        found = rk.describe_project_versions(ProjectArn=project_arn, VersionNames=[name])
    except ClientError as exc:
        raise _rekognition_error(exc, where, sessions) from None
    return next(iter(found.get("ProjectVersionDescriptions", [])), None)


def version_status(sessions: Sessions, target: Target, region: str, project_arn: str) -> str:
    found = _version(sessions, target.producer_account, region, project_arn, target.version_name,
                     f"the producer account {target.producer_account}")
    if found is None or found["ProjectVersionArn"] != target.version:
        raise OperationsError(f"model version {target.version} does not exist in project {project_arn}; check --version "
                              f"(aws rekognition describe-project-versions --project-arn {project_arn})")
    return str(found["Status"])


def invoke_model(sessions: Sessions, target: Target, region: str, image: bytes, producer_role: str,
                 version: str) -> list[dict[str, Any]]:
    """DetectCustomLabels on `version` from the consumer account: through the producer role
    when delegated, directly in-account and on a copy."""
    where = f"the consumer account {target.consumer_account}"
    session = sessions.session(target.consumer_account)
    if target.delegated:
        platform_role = producer_role
        sts = session.client("sts", config=sessions.config)
        if sessions.client_hook is not None:
            sessions.client_hook(sts, target.consumer_account, "sts", region, "producer-role")
        try:
            session = assume(session, platform_role, sessions.config, sts)
        except ClientError as exc:
            hint = ""
            if error_code(exc) in ACCESS_DENIED:
                hint = (f"; {platform_role} trusts only the consumer's application role, through its VPC's STS "
                        f"endpoint: run `promote-model --test-only` where the application runs (as that role, in "
                        f"the consumer VPC)")
            raise OperationsError(f"assuming the producer role from {where}: "
                                  f"{explain(exc, where, sessions.config)}{hint}") from None
        where = f"{where} as {platform_role}"
    rk = session.client("rekognition", region_name=region, config=sessions.config)
    if sessions.client_hook is not None:
        sessions.client_hook(rk, target.consumer_account, "rekognition", region,
                             "producer-role" if target.delegated else "model-call")
    try:
        return list(rk.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image},
                                            MaxResults=10)["CustomLabels"])
    except ClientError as exc:
        code = error_code(exc)
        if code == "ResourceNotReadyException":
            raise OperationsError(f"{version} is not running: start it (aws rekognition start-project-version "
                                  f"--project-version-arn {version} --min-inference-units 1)") from None
        raise _rekognition_error(exc, where, sessions) from None


def copy_policy(target: Target) -> dict[str, Any]:
    """The producer project's policy: the consumer account may copy exactly this version."""
    return document({
        "Sid": "CopyToConsumer",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{target.consumer_account}:root"},
        "Action": "rekognition:CopyProjectVersion",
        "Resource": target.version,
    })


def _policy_revision(producer: Any, project_arn: str, policy_name: str) -> str | None:
    """The revision of the project's policy `policy_name`: PutProjectPolicy replaces an
    existing policy only when given it."""
    token: str | None = None
    while True:
        page = producer.list_project_policies(ProjectArn=project_arn, **({"NextToken": token} if token else {}))
        for policy in page.get("ProjectPolicies", []):
            if policy.get("PolicyName") == policy_name:
                return str(policy["PolicyRevisionId"])
        token = page.get("NextToken")
        if not token:
            return None


def copy_version(sessions: Sessions, target: Target, region: str, project_arn: str, prefix: str,
                 bucket: str, destination: str | None, echo: Callable[[str], None]) -> str:
    """PutProjectPolicy in the producer account, CopyProjectVersion from the consumer's into
    `destination` (its project of the same name; created when None)."""
    doc = copy_policy(target)
    problems = validate_document(doc)
    if problems:
        raise OperationsError("project policy: " + "; ".join(problems))
    producer = sessions.client(target.producer_account, "rekognition", region)
    policy_name = f"{prefix}-copy-to-{target.project}-{target.environment}"
    try:
        revision = _policy_revision(producer, project_arn, policy_name)
        producer.put_project_policy(ProjectArn=project_arn, PolicyName=policy_name, PolicyDocument=to_json(doc),
                                    **({"PolicyRevisionId": revision} if revision else {}))
    except ClientError as exc:
        raise _rekognition_error(exc, f"the producer account {target.producer_account}", sessions) from None
    echo(f"project policy {policy_name} on {project_arn}: account {target.consumer_account} may copy {target.version_name}")
    consumer = sessions.client(target.consumer_account, "rekognition", region)
    where = f"the consumer account {target.consumer_account}"
    try:
        if destination is None:
            destination = str(consumer.create_project(ProjectName=target.project_name)["ProjectArn"])
            echo(f"created project {destination}")
        copied = consumer.copy_project_version(
            SourceProjectArn=project_arn, SourceProjectVersionArn=target.version, DestinationProjectArn=destination,
            VersionName=target.version_name,
            OutputConfig={"S3Bucket": bucket, "S3KeyPrefix": f"rekognition/{target.project_name}/"})
    except ClientError as exc:
        raise _rekognition_error(exc, where, sessions) from None
    return str(copied["ProjectVersionArn"])


def stop_version(sessions: Sessions, version: str, region: str) -> str:
    """StopProjectVersion in the account that holds `version`."""
    account = str(ms.VERSION_ARN.match(version)["account"])  # type: ignore[index]
    rk = sessions.client(account, "rekognition", region)
    try:
        return str(rk.stop_project_version(ProjectVersionArn=version)["Status"])
    except ClientError as exc:
        raise _rekognition_error(exc, f"account {account}", sessions) from None


# -- the command ---------------------------------------------------------------------------


def _steps(target: Target) -> list[StackStep]:
    # The grant before the switch: the producer role allows the new version before the
    # consumer's parameter names it. A copy consumer's grant is in its own stack.
    names = [f"{target.project}-{target.producer}"] if target.delegated else []
    names.append(f"{target.project}-{target.environment}")
    return [StackStep(n, "project", target.project, n.rsplit("-", 1)[1], (), (n,), 0) for n in names]


def _read_image(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OperationsError(f"--image: cannot read {path} ({exc.strerror})") from None
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise OperationsError(f"--image: {path} is {len(data)} bytes (allowed: 1 to {MAX_IMAGE_BYTES}, "
                              f"DetectCustomLabels' limit for image bytes)")
    return data


def promote(args: Any, sessions_factory: Callable[[PlatformConfig], Sessions], outputs: StackOutputs,
            workspace_factory: Callable[..., Any] | None = None, echo: Callable[[str], None] = print) -> int:
    """Run the promotion; returns the exit status (0 done, 1 a step failed)."""
    text, platform = load_platform(args.platform_file)
    target = resolve(platform, outputs, args.project, args.environment, args.version)
    region = ms.VERSION_ARN.match(target.version)["region"]  # type: ignore[index]
    image = _read_image(args.image) if args.image else None
    for env, (pattern, used) in patterns(platform, target.project).items():
        echo(f"{target.project}-{env}: {pattern}, uses {used}")
    if args.copy_bucket and target.pattern != COPY:
        raise OperationsError(f"--copy-bucket: {target.project}-{target.environment} is a {target.pattern} consumer; "
                              f"only a consumer with model_sharing.projects.{target.project}.consumers."
                              f"{target.environment}.pattern: copy holds a copy")
    sessions = sessions_factory(platform)
    producer_role = (f"arn:aws:iam::{target.producer_account}:role/"
                     f"{ms.producer_role_name(platform, target.project, target.environment)}")

    project_arn = producer_project_arn(sessions, target, region)
    status = version_status(sessions, target, region, project_arn)
    if target.pattern == COPY:
        used = _copy(args, sessions, target, region, project_arn, status, outputs, platform, echo)
        if used is None:
            return 0
    else:
        if status != "RUNNING" and not args.dry_run:
            raise OperationsError(f"{target.version} is {status}, not RUNNING: start it in the producer account "
                                  f"{target.producer_account} (aws rekognition start-project-version "
                                  f"--project-version-arn {target.version} --min-inference-units 1), then run again")
        echo(f"{target.version_name}: {status} in {target.project}-{target.producer} ({target.producer_account})")
        used = target.version

    if not args.test_only:
        keep = target.previous if args.keep_previous and target.previous != used else None
        new_text = set_consumer_version(text, target.project, target.environment, used, keep)
        new_platform = _parse(new_text, args.platform_file)  # the whole definition still validates
        if new_text == text:
            echo(f"{args.platform_file}: {target.project}-{target.environment} already uses {used}")
        else:
            echo("".join(difflib.unified_diff(text.splitlines(True), new_text.splitlines(True),
                                              str(args.platform_file), str(args.platform_file))).rstrip("\n"))
        if args.dry_run:
            echo("dry run: nothing written")
            return 0
        if new_text != text:
            args.platform_file.write_text(new_text)
            echo(f"wrote {args.platform_file}")
        applied = _apply(args, target, workspace_factory, echo)
        if applied != "applied":
            return 1 if applied == "failed" else 0
        platform = new_platform

    if image is None:
        echo("no --image: skipped the test invocation")
    else:
        labels = invoke_model(sessions, target, region, image, producer_role, used)
        shown = ", ".join(f"{label['Name']} {label.get('Confidence', 0):.1f}%" for label in labels) or "no labels"
        how = f"through {producer_role}" if target.delegated else "directly"
        echo(f"DetectCustomLabels from {target.project}-{target.environment} ({target.consumer_account}) {how} on "
             f"{args.image.name}: {shown}")

    if args.stop_superseded and target.previous != used:
        users = _in_use(platform, target.project, target.previous)
        if users:
            echo(f"not stopping {target.previous}: still used by {', '.join(f'{target.project}-{e}' for e in users)}")
        else:
            echo(f"stopping {target.previous}: {stop_version(sessions, target.previous, region)}")
    return 0


def _apply(args: Any, target: Target, workspace_factory: Callable[..., Any] | None, echo: Callable[[str], None]) -> str:
    """`pulumi up` of the producer and consumer stacks: "applied", "failed", or "printed" (no
    CLI, or --no-up: the commands to run next are printed)."""
    steps = _steps(target)
    commands = [f"python -m deploy up --stacks {s.name}" for s in steps]
    if args.no_up or (workspace_factory is None and shutil.which("pulumi") is None):
        echo("the role policy and the SSM parameter change through `pulumi up`; next, in this order "
             "(the grant before the switch):")
        for command in commands:
            echo(f"  {command}")
        echo(f"then: python -m operations promote-model --project {target.project} --environment "
             f"{target.environment} --version {target.version} --test-only --image <image>")
        return "printed"
    try:
        outcomes = run_steps(steps, "up", work_dir=ROOT, org=args.org, echo=echo,
                             **({"workspace_factory": workspace_factory} if workspace_factory else {}))
    except RunnerError as exc:
        echo(f"{exc}; next: " + " && ".join(commands))
        return "printed"
    if any(o.status != "ok" for o in outcomes):
        echo("pulumi up failed: the platform definition is changed, the AWS side is not; fix the stack and run "
             + " && ".join(commands))
        return "failed"
    return "applied"


def _copy(args: Any, sessions: Sessions, target: Target, region: str, project_arn: str, status: str,
          outputs: StackOutputs, platform: PlatformConfig, echo: Callable[[str], None]) -> str | None:
    """A copy consumer's copy of `target.version`: its ARN once it is RUNNING in the consumer
    account; else the copy is made (first run) and None returned, or the message says what the
    copy waits for."""
    if status not in TRAINED:
        raise OperationsError(f"{target.version} is {status}: only a trained version can be copied")
    stack = f"{target.project}-{target.environment}"
    where = f"the consumer account {target.consumer_account}"
    destination = _project_arn(sessions, target.consumer_account, target.project_name, region, where)
    copy = (_version(sessions, target.consumer_account, region, destination, target.version_name, where)
            if destination else None)
    if copy is not None:
        arn, state = str(copy["ProjectVersionArn"]), str(copy["Status"])
        if state == "RUNNING":
            echo(f"{target.version_name}: copied, RUNNING in {stack} ({target.consumer_account}) as {arn}")
            return arn
        if state in COPYING:
            raise OperationsError(f"{arn} is still being copied ({state}): run this command again when "
                                  f"it is COPYING_COMPLETED")
        if state == "COPYING_FAILED":
            raise OperationsError(f"copying {target.version} into {stack} failed: {copy.get('StatusMessage', '')}; "
                                  f"delete {arn} in account {target.consumer_account} and run again")
        raise OperationsError(f"{arn} (the copy in {stack}) is {state}, not RUNNING: start it in account "
                              f"{target.consumer_account} (aws rekognition start-project-version --project-version-arn "
                              f"{arn} --min-inference-units 1), then run again")
    if args.test_only:
        raise OperationsError(f"--test-only: {stack} has no copy of {target.version_name} yet; run without --test-only")
    buckets = ((outputs.get(stack) or {}).get("data") or {}).get("buckets") or {}
    bucket = args.copy_bucket or (buckets.get("models") or {}).get("name")
    if not bucket:
        raise OperationsError(f"{stack} is a copy consumer and its copy needs one of its buckets for the output: pass "
                              f"--copy-bucket or add the {stack} stack's outputs (data.buckets.models) to --outputs")
    if args.dry_run:
        echo(f"dry run: would let {target.consumer_account} copy {target.version_name} and copy it into "
             f"s3://{bucket}; nothing written")
        return None
    copied = copy_version(sessions, target, region, project_arn, platform.name_prefix, bucket, destination, echo)
    echo(f"copying into {copied} (COPYING_IN_PROGRESS); the platform definition is unchanged until the copy runs")
    echo(f"next, in account {target.consumer_account}: when it is COPYING_COMPLETED, aws rekognition "
         f"start-project-version --project-version-arn {copied} --min-inference-units 1; then run this command again")
    return None


def add_arguments(p: Any, default_platform: Path) -> None:
    p.add_argument("--project", required=True, help="the ML project whose shared model moves")
    p.add_argument("--environment", required=True, help="the consumer environment (dev, preprod, prod)")
    p.add_argument("--version", required=True, help="the new Rekognition project version ARN")
    p.add_argument("--image", type=Path, default=None, help="image file for the test DetectCustomLabels call")
    p.add_argument("--keep-previous", action="store_true", help="keep the old version callable (keep_previous)")
    p.add_argument("--stop-superseded", action="store_true",
                   help="stop the old version when no environment uses it any more")
    p.add_argument("--copy-bucket", default=None,
                   help="for a copy consumer (consumers.<env>.pattern: copy): its bucket for the copy (default: its "
                        "stack's data.buckets.models)")
    p.add_argument("--test-only", action="store_true", help="only the test invocation (after `pulumi up`)")
    p.add_argument("--no-up", action="store_true", help="write the change, print the pulumi commands, run nothing")
    p.add_argument("--dry-run", action="store_true", help="show the change; write and call nothing that changes")
    p.add_argument("--platform-file", type=Path, default=default_platform,
                   help="the platform definition (default stacks/platform.yaml)")

