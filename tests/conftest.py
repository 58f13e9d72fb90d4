"""The one place tests get the mocks from: the offline preview's engine, which runs the real
program under Pulumi's mock monitor with realistic outputs (offline_preview/mocks.py)."""

from __future__ import annotations

import contextlib
import copy
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from offline_preview.engine import (  # noqa: E402
    StackRun,
    UpstreamPending,
    discover_stacks,
    read_stack_config,
    run_stack,
)

SAMPLE_DIR = ROOT / "stacks"


def load_sample_platform() -> dict[str, Any]:
    """The sample platform definition as raw data, for tests that mutate it."""
    return yaml.safe_load((SAMPLE_DIR / "platform.yaml").read_text())


@pytest.fixture
def sample_platform() -> dict[str, Any]:
    return copy.deepcopy(load_sample_platform())


_SAMPLE_RUNS: dict[str, StackRun] = {}


def sample_run(stack: str) -> StackRun:
    """The sample configuration's run of `stack` (and of its upstream stacks), once per session."""
    if stack not in _SAMPLE_RUNS:
        stacks = discover_stacks(SAMPLE_DIR)
        for name in stacks[: stacks.index(stack) + 1]:
            if name not in _SAMPLE_RUNS:
                _SAMPLE_RUNS[name] = _with_pending(
                    lambda upstream, name=name: run_stack(name, SAMPLE_DIR, upstream, stacks_in_run=stacks),
                    {s: r.outputs for s, r in _SAMPLE_RUNS.items()}, name)
    return _SAMPLE_RUNS[stack]


_RUNNING: list[str] = []


def _with_pending(run: Callable[[dict[str, Any]], StackRun], upstream: dict[str, Any], name: str) -> StackRun:
    """`run(upstream)`; a sample stack it reads that comes later in the name order (a model
    producer reads its consumers' endpoints) is run first, as the preview orders them."""
    _RUNNING.append(name)
    try:
        while True:
            try:
                return run(upstream)
            except UpstreamPending as pending:
                if pending.upstream in _RUNNING:
                    raise
                if pending.upstream not in _SAMPLE_RUNS:
                    stacks = discover_stacks(SAMPLE_DIR)
                    _SAMPLE_RUNS[pending.upstream] = _with_pending(
                        lambda up: run_stack(pending.upstream, SAMPLE_DIR, up, stacks_in_run=stacks),
                        {s: r.outputs for s, r in _SAMPLE_RUNS.items()}, pending.upstream)
                upstream = {**upstream, pending.upstream: _SAMPLE_RUNS[pending.upstream].outputs}
    finally:
        _RUNNING.pop()


@pytest.fixture(scope="session")
def sample_runs() -> Callable[[str], StackRun]:
    return sample_run


@pytest.fixture(scope="session")
def accounts() -> dict[str, str]:
    """The sample organization's account ids by key (`log-archive`, `<project>-<env>`, ...)."""
    return sample_run("organization").outputs["accountIds"]


def run_with_platform(where: Path, stack: str, platform: dict[str, Any] | None = None,
                      upstream: dict[str, dict[str, Any]] | None = None) -> StackRun:
    """`run_platform`'s run, with the configuration directory under `where` (for a module- or
    session-scoped fixture that runs a modified configuration once)."""
    config_dir = where / "config"
    if not config_dir.exists():
        shutil.copytree(SAMPLE_DIR, config_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    if platform is not None:
        (config_dir / "platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))
    if upstream is None:
        # Platform stacks, and the sample's project stacks this one reads (a model producer
        # reads its consumers'; a delivery stack reads its project's stacks).
        delivery = read_stack_config(SAMPLE_DIR, stack).get("ml-platform:layer") == "delivery"
        order = [s for s in discover_stacks(SAMPLE_DIR)
                 if delivery or read_stack_config(SAMPLE_DIR, s).get("ml-platform:layer") != "project"]
        before = order[: order.index(stack)] if stack in order else order
        upstream = {s: sample_run(s).outputs for s in before}
        return _with_pending(lambda up: run_stack(stack, config_dir, up, stacks_in_run=discover_stacks(SAMPLE_DIR)),
                             upstream, f"{stack} (modified)")
    return run_stack(stack, config_dir, upstream)


@pytest.fixture
def run_platform(tmp_path: Path) -> Callable[..., StackRun]:
    """Run one stack on a modified copy of the sample configuration.

    `run_platform(stack, platform=<dict>)` writes the platform definition into a fresh
    configuration directory; upstream stacks come from the sample run unless `upstream` is given.
    """

    def run(stack: str, platform: dict[str, Any] | None = None,
            upstream: dict[str, dict[str, Any]] | None = None) -> StackRun:
        return run_with_platform(tmp_path, stack, platform, upstream)

    return run


@contextlib.contextmanager
def _moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    import boto3
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "MOTO_ACCOUNT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    def session_in(account_id: str) -> Any:
        creds = boto3.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="test")["Credentials"]
        return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                             aws_session_token=creds["SessionToken"], region_name="eu-west-1")

    with mock_aws():
        yield session_in


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """moto's in-process AWS (`mock_aws`) for code that calls AWS with boto3: fake credentials,
    no AWS configuration files. Returns `session_in(account_id)`, a boto3 session whose
    credentials belong to that account (an assumed member role, as moto tracks accounts by key)."""
    with _moto(monkeypatch) as session_in:
        yield session_in


@pytest.fixture(scope="module")
def moto_aws_module() -> Iterator[Callable[[str], Any]]:
    """`moto_aws` for one module: its tests share what they seed, so they must only read it
    (a module using it must not use `moto_aws` too: a second mock_aws resets the first)."""
    with pytest.MonkeyPatch.context() as monkeypatch, _moto(monkeypatch) as session_in:
        yield session_in
