"""`python -m offline_preview`: outputs, progress and summary, exit codes.

In-process through `cli.main` where possible; a subprocess only where the exit status itself
(or a fresh interpreter with another hash seed, for determinism) is what is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from offline_preview.cli import main

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "offline_preview", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def basic_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("basic")
    status = main(["--program-dir", str(PROGRAMS / "basic"), "--out", str(out), "--no-policy", "--jobs", "1"])
    return status, out


def test_writes_every_output(basic_out, capsys):
    status, out = basic_out
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == ["architecture.mmd", "architecture.svg", "guardrails.md",
                                                       "plan.json"]
    plan = json.loads((out / "plan.json").read_text())
    assert [s["name"] for s in plan["stacks"]] == ["base", "app"]
    ET.fromstring((out / "architecture.svg").read_text())  # well-formed
    mermaid = (out / "architecture.mmd").read_text()
    assert mermaid.startswith("flowchart LR") and "stack_base --> stack_app" in mermaid
    assert "| `app` |" in (out / "guardrails.md").read_text()


def test_progress_line_per_stack_and_summary(tmp_path, capsys):
    status = main(["--program-dir", str(PROGRAMS / "basic"), "--out", str(tmp_path), "--no-policy", "--jobs", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    progress = [line for line in lines if line.startswith("  ")]
    assert [line.split()[0] for line in progress] == ["base", "app"]
    assert all("resources" in line and "violations" in line and line.rstrip().endswith("s") for line in progress)
    assert any(line.startswith("2 stacks, 14 resources") for line in lines)


def test_chosen_stacks_only(tmp_path):
    status = main(["--program-dir", str(PROGRAMS / "basic"), "--out", str(tmp_path), "--no-policy",
                   "--stacks", "base", "--jobs", "1"])
    assert status == 0
    assert [s["name"] for s in json.loads((tmp_path / "plan.json").read_text())["stacks"]] == ["base"]


def test_failing_stack_exits_non_zero_naming_it(tmp_path):
    result = _cli("--program-dir", str(PROGRAMS / "faulty"), "--out", str(tmp_path), "--no-policy",
                  "--stacks", "upstream,raises", "--jobs", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED stack raises: ValueError: the program found something it cannot build" in result.stdout
    # What did preview is still written.
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert {s["name"]: s["status"] for s in plan["stacks"]} == {"upstream": "ok", "raises": "failed"}


def test_success_exits_zero_and_plan_is_byte_identical_in_another_interpreter(basic_out, tmp_path):
    _, out = basic_out
    # Another process with another hash seed: set and dict ordering must not leak into the plan.
    result = _cli("--program-dir", str(PROGRAMS / "basic"), "--out", str(tmp_path), "--no-policy", "--jobs", "2",
                  env={"PYTHONHASHSEED": "12345"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "plan.json").read_bytes() == (out / "plan.json").read_bytes()
    assert (tmp_path / "architecture.svg").read_bytes() == (out / "architecture.svg").read_bytes()
    assert (tmp_path / "guardrails.md").read_bytes() == (out / "guardrails.md").read_bytes()


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["--program-dir", str(PROGRAMS / "basic"), "--out", str(tmp_path), "--stacks", "nope",
                 "--no-policy"]) == 2
    assert "unknown stack(s) nope" in capsys.readouterr().err
    assert main(["--program-dir", str(tmp_path), "--out", str(tmp_path), "--no-policy"]) == 2
    assert "no Pulumi.yaml" in capsys.readouterr().err


def test_sample_organization_plan_is_byte_identical_across_interpreters(tmp_path):
    # The real program: set iteration or hash-seeded ordering anywhere in it would show here.
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["--out", str(first), "--stacks", "organization", "--no-policy", "--jobs", "1"]) == 0
    result = _cli("--out", str(second), "--stacks", "organization", "--no-policy", "--jobs", "1",
                  env={"PYTHONHASHSEED": "4242"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (second / "plan.json").read_bytes() == (first / "plan.json").read_bytes()
