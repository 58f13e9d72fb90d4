"""`python -m deploy`: the stack order from the StackReferences, the selection, and the runs
through the Automation API with the CLI replaced at LocalWorkspace's boundary (its PulumiCommand)."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi import automation as auto
from pulumi.automation.errors import create_command_error
from pulumi.runtime.proto import events_pb2, events_pb2_grpc
from semver import VersionInfo

from deploy import __main__ as cli
from deploy import order, runner
from offline_preview.engine import discover_stacks, read_stack_config, stack_layer
from offline_preview.plan import stack_entry
from offline_preview.preview import StackResult
from tests.conftest import ROOT, SAMPLE_DIR

SHARED = ["organization", "identity", "security", "network", "data-lake", "shared-services"]
# document-vision's preprod produces the model its prod consumes and reads prod's endpoints
# (README "Model sharing"), so prod comes first.
PROJECT_STACKS = ["document-vision-dev", "document-vision-prod", "document-vision-preprod",
                  "fraud-detection-dev", "fraud-detection-preprod", "fraud-detection-prod"]
DELIVERY_STACKS = ["document-vision-delivery", "fraud-detection-delivery"]


@pytest.fixture(scope="module")
def sample_plan(sample_runs) -> dict[str, Any]:
    """The sample's plan as `python -m offline_preview` writes it (built from the session's runs)."""
    entries = [stack_entry(StackResult(s, stack_layer(read_stack_config(SAMPLE_DIR, s), "ml-platform"), run=sample_runs(s)))
               for s in discover_stacks(SAMPLE_DIR)]
    return {"project": "ml-platform", "stacks": entries}


@pytest.fixture
def plan_file(tmp_path: Path, sample_plan) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(sample_plan))
    return path


def _entry(name: str, references: list[str], layer: str = "project", accounts: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": name, "layer": layer, "status": "ok", "error": None, "references": references,
            "resourceCount": len(accounts), "outputs": {}, "violations": [],
            "resources": [{"urn": f"urn:{name}:{n}", "account": a} for n, a in enumerate(accounts)]}


# -- the order --------------------------------------------------------------------------------


def test_sample_order_is_organization_security_network_data_shared_services_then_projects(sample_plan):
    steps = order.deployment_order(sample_plan, SAMPLE_DIR)
    assert [s.name for s in steps] == SHARED + PROJECT_STACKS + DELIVERY_STACKS
    position = {s.name: n for n, s in enumerate(steps)}
    for step in steps:
        assert all(position[r] < position[step.name] for r in step.references), step
    by_name = {s.name: s for s in steps}
    assert by_name["shared-services"].references == ("identity", "network", "organization")
    # Dev reads the shared-services stack's self-service portfolio (Studio self-service).
    assert by_name["fraud-detection-dev"].references == ("data-lake", "identity", "network", "organization",
                                                        "shared-services")
    assert by_name["fraud-detection-prod"].references == ("data-lake", "identity", "network", "organization")
    assert (by_name["fraud-detection-dev"].project, by_name["fraud-detection-dev"].environment) == ("fraud-detection", "dev")


def test_each_stack_names_the_accounts_it_touches(sample_plan):
    by_name = {s.name: s for s in order.deployment_order(sample_plan, SAMPLE_DIR)}
    assert by_name["organization"].accounts == ("management",)
    assert by_name["security"].accounts == ("management", "log-archive", "security-tooling")
    # Account assignments go to the Identity Center (management) account.
    assert by_name["data-lake"].accounts == ("management", "data-lake")
    # A spoke attaches itself to the hub: its stack acts in the network account too.
    assert by_name["fraud-detection-dev"].accounts == ("management", "fraud-detection-dev", "network")


def test_dry_run_prints_the_sample_order_and_needs_no_cli(plan_file, capsys):
    def no_cli(**kwargs):
        raise AssertionError("--dry-run must not open a workspace")

    assert cli.main(["up", "--dry-run", "--plan", str(plan_file)], workspace_factory=no_cli) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "pulumi up order (14 stacks):"
    assert lines[1].split() == ["1.", "organization", "after:", "-"]
    assert re.fullmatch(r" +touches: management \(\d+ resources\)", lines[2])
    numbered = [line.split()[1] for line in lines if line.strip()[:1].isdigit()]
    assert numbered == SHARED + PROJECT_STACKS + DELIVERY_STACKS
    assert "after: identity, network, organization" in out


def test_new_kinds_of_stack_are_placed_by_their_references():
    # Listed first on purpose: only the references decide (delivery reads both project
    # environments and shared services; identity reads the organization).
    plan = {"stacks": [
        _entry("fd-delivery", ["fd-preprod", "fd-prod", "shared-services"], layer="delivery"),
        _entry("fd-prod", ["organization", "network"]),
        _entry("identity", ["organization"], layer="identity"),
        _entry("fd-preprod", ["organization", "network"]),
        _entry("shared-services", ["organization", "network"], layer="shared-services"),
        _entry("network", ["organization"], layer="network"),
        _entry("organization", [], layer="organization"),
    ]}
    names = [s.name for s in order.deployment_order(plan)]
    assert names.index("organization") == 0
    assert names.index("network") < names.index("shared-services") < names.index("fd-delivery")
    assert names.index("fd-preprod") < names.index("fd-delivery") and names.index("fd-prod") < names.index("fd-delivery")
    assert names.index("organization") < names.index("identity")
    # Between independent stacks the plan's own order holds.
    assert names.index("fd-prod") < names.index("fd-preprod")


def test_a_cycle_is_refused_naming_the_stacks():
    plan = {"stacks": [_entry("organization", []), _entry("a", ["b"]), _entry("b", ["a"])]}
    with pytest.raises(order.OrderError, match=r"cycle: a -> b, b -> a"):
        order.deployment_order(plan)


def test_a_stack_that_failed_offline_is_refused_with_its_error():
    failed = _entry("network", [])
    failed.update(status="failed", error="stack network: 1 configuration problem(s)")
    with pytest.raises(order.OrderError) as exc:
        order.deployment_order({"stacks": [_entry("organization", []), failed]})
    assert "StackReferences are unknown" in str(exc.value)
    assert "network: stack network: 1 configuration problem(s)" in str(exc.value)


def test_a_reference_outside_the_plan_is_refused():
    with pytest.raises(order.OrderError, match="security reads organization"):
        order.deployment_order({"stacks": [_entry("security", ["organization"])]})


# -- the selection -----------------------------------------------------------------------------


def test_environment_filter_keeps_that_environments_stacks(sample_plan):
    steps = order.deployment_order(sample_plan, SAMPLE_DIR)
    assert [s.name for s in order.select(steps, environment="dev")] == ["document-vision-dev", "fraud-detection-dev"]
    assert [s.name for s in order.select(steps, environment="prod", project="fraud-detection")] == ["fraud-detection-prod"]
    with_upstream = order.select(steps, environment="prod", include_upstream=True)
    # shared-services and security are read by no prod stack.
    assert [s.name for s in with_upstream] == ["organization", "identity", "network", "data-lake",
                                               "document-vision-prod", "fraud-detection-prod"]
    assert len(order.select(steps)) == 14


def test_unknown_environment_project_or_stack_is_a_usage_error(plan_file, capsys):
    assert cli.main(["plan", "--plan", str(plan_file), "--environment", "qa", "--project", "churn"]) == 2
    err = capsys.readouterr().err
    assert "no stack has environment 'qa' (environments: dev, preprod, prod)" in err
    assert "no stack has project 'churn' (projects: document-vision, fraud-detection)" in err
    assert cli.main(["plan", "--plan", str(plan_file), "--stacks", "netwrk"]) == 2
    assert "unknown stack(s) netwrk" in capsys.readouterr().err


def test_changed_from_keeps_the_stacks_whose_preview_differs(sample_plan, plan_file, tmp_path, capsys):
    head = copy.deepcopy(sample_plan)
    network = next(e for e in head["stacks"] if e["name"] == "network")
    network["resources"][0]["inputs"] = {"changed": True}
    head["stacks"].append(_entry("fraud-detection-delivery", ["fraud-detection-prod"], layer="delivery"))
    head_file = tmp_path / "head.json"
    head_file.write_text(json.dumps(head))
    # A changed policy finding is no change to the stack, nor a changed upstream output it reads
    # (the new account's id in the organization's outputs) where it does not use it.
    next(e for e in head["stacks"] if e["name"] == "security")["violations"] = [{"policy": "x"}]
    reference = next(r for r in next(e for e in head["stacks"] if e["name"] == "fraud-detection-dev")["resources"]
                     if r["type"] == "pulumi:pulumi:StackReference" and r["name"].endswith("/organization"))
    assert reference["read"] is True
    reference["outputs"]["outputs"]["accountIds"]["churn-model-dev"] = "123456789012"
    assert order.changed_stacks(sample_plan, head) == {"network", "fraud-detection-delivery"}

    assert cli.main(["plan", "--plan", str(head_file), "--changed-from", str(plan_file), "--json"]) == 0
    chosen = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in chosen] == ["network", "fraud-detection-delivery"]
    assert chosen[0]["accounts"][0] == "automation"


def test_missing_plan_file_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["plan", "--plan", str(tmp_path / "nope.json")]) == 2
    assert "no such plan (run `make preview` first" in capsys.readouterr().err


# -- the runs, with the CLI replaced at LocalWorkspace's boundary -------------------------------


class FakeCLI(auto.PulumiCommand):
    """The Pulumi CLI as LocalWorkspace and Stack call it (`PulumiCommand.run`), answered in
    process: stack select/init, preview (with its summary event sent to the Automation API's
    event server, as the CLI does), up, stack output and history. `failures` maps a stack to
    the (stdout, stderr) the CLI would print when its operation fails; `missing` stacks do not
    exist in the backend."""

    def __init__(self, failures: dict[str, tuple[str, str]] | None = None, missing: set[str] | None = None):
        self.command = "pulumi"
        self.version = VersionInfo(3, 272, 0)
        self.failures = failures or {}
        self.missing = set(missing or ())
        self.calls: list[list[str]] = []

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        args = list(args)
        self.calls.append(args)
        stack = args[args.index("--stack") + 1] if "--stack" in args else None
        if args[:2] == ["stack", "select"]:
            if stack in self.missing:
                raise create_command_error(auto.CommandResult("", f"error: no stack named '{stack}' found", 255))
            return auto.CommandResult("", "", 0)
        if args[:2] == ["stack", "init"]:
            self.missing.discard(args[2])
            return auto.CommandResult(f"Created stack '{args[2]}'", "", 0)
        if args[0] in ("preview", "up"):
            if on_output:
                on_output(f"{'Previewing' if args[0] == 'preview' else 'Updating'} update ({stack})")
            if stack in self.failures:
                stdout, stderr = self.failures[stack]
                raise create_command_error(auto.CommandResult(stdout, stderr, 255))
            if "--event-log" in args:
                self._send_summary(args[args.index("--event-log") + 1])
            return auto.CommandResult(f"Resources: 3 unchanged ({stack})", "", 0)
        if args[:3] == ["stack", "output", "--json"]:
            return auto.CommandResult("{}", "", 0)
        if args[:3] == ["stack", "history", "--json"]:
            return auto.CommandResult(json.dumps([{
                "kind": "update", "startTime": "2026-12-01T00:00:00.000000Z", "endTime": "2026-12-01T00:01:00.000000Z",
                "message": "", "environment": {}, "config": {}, "result": "succeeded",
                "resourceChanges": {"create": 2, "same": 5}}]), "", 0)
        raise AssertionError(f"unexpected CLI call {args}")

    @staticmethod
    def _send_summary(target: str) -> None:
        event = {"sequence": 1, "timestamp": 0,
                 "summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {"same": 3, "update": 1}}}
        with grpc.insecure_channel(target.removeprefix("tcp://")) as channel:
            events_pb2_grpc.EventsStub(channel).StreamEvents(iter([events_pb2.EventRequest(event=json.dumps(event))]))

    def operations(self) -> list[tuple[str, str]]:
        return [(c[0], c[c.index("--stack") + 1]) for c in self.calls if c[0] in ("preview", "up")]


def _workspace(fake: FakeCLI):
    def factory(**kwargs):
        return auto.LocalWorkspace(pulumi_command=fake, **kwargs)
    return factory


def test_preview_runs_every_stack_in_order_with_the_policy_pack(plan_file, tmp_path, capsys):
    fake = FakeCLI()
    summary = tmp_path / "summary.md"
    code = cli.main(["preview", "--plan", str(plan_file), "--summary", str(summary)], workspace_factory=_workspace(fake))
    assert code == 0, capsys.readouterr()
    assert fake.operations() == [("preview", f"organization/ml-platform/{s}") for s in SHARED + PROJECT_STACKS + DELIVERY_STACKS]
    first = next(c for c in fake.calls if c[0] == "preview")
    assert first[first.index("--policy-pack") + 1] == "policypacks/ml-guardrails"
    assert first[first.index("--policy-pack-config") + 1] == "policypacks/ml-guardrails/policy-config.sample.json"
    out = capsys.readouterr().out
    assert "[1/14] pulumi preview -s organization/ml-platform/organization (touches management)" in out
    assert "organization: 3 same, 1 update" in out
    assert "14 of 14 stacks previewed" in out
    text = summary.read_text()
    assert "| 1 | `organization/ml-platform/organization` | management | ok | 3 same, 1 update |" in text


def test_the_first_failure_stops_the_run_with_the_stacks_name_and_the_cli_message(plan_file, tmp_path, capsys):
    cli_stdout = ("Previewing update (organization/ml-platform/network)\n"
                  "Diagnostics:\n  aws:ec2transitgateway:TransitGateway (hub):\n"
                  "    error: operation error EC2: CreateTransitGateway, api error UnauthorizedOperation")
    fake = FakeCLI(failures={"organization/ml-platform/network": (cli_stdout, "error: preview failed")})
    summary = tmp_path / "summary.md"
    code = cli.main(["preview", "--plan", str(plan_file), "--summary", str(summary)], workspace_factory=_workspace(fake))
    assert code == 1
    # Nothing after the failed stack ran.
    assert [s for _, s in fake.operations()] == [f"organization/ml-platform/{s}" for s in ("organization", "identity", "security", "network")]
    out = capsys.readouterr().out
    assert "FAILED network: pulumi preview -s organization/ml-platform/network failed:" in out
    assert "error: operation error EC2: CreateTransitGateway, api error UnauthorizedOperation" in out
    assert "error: preview failed" in out
    assert "not run (they come after network): data-lake, shared-services, document-vision-dev" in out
    assert "3 of 14 stacks previewed; network failed" in out
    text = summary.read_text()
    assert "| 4 | `organization/ml-platform/network` | automation, data-lake, mrd-sandbox-research, network, shared-services | **failed** |" in text
    assert "| 5 | `organization/ml-platform/data-lake` | management, data-lake | not run |" in text


def test_up_runs_the_chosen_environment_and_reports_the_update_summary(plan_file, capsys):
    fake = FakeCLI()
    code = cli.main(["up", "--plan", str(plan_file), "--environment", "dev", "--policy-pack", "none"],
                    workspace_factory=_workspace(fake))
    assert code == 0
    assert fake.operations() == [("up", "organization/ml-platform/document-vision-dev"),
                                 ("up", "organization/ml-platform/fraud-detection-dev")]
    up = next(c for c in fake.calls if c[0] == "up")
    assert up[:3] == ["up", "--yes", "--skip-preview"] and "--policy-pack" not in up
    out = capsys.readouterr().out
    assert "document-vision-dev: 2 create, 5 same" in out
    assert "2 of 2 stacks deployed" in out


def test_a_missing_stack_is_explained_or_created(plan_file, capsys):
    name = "organization/ml-platform/organization"
    fake = FakeCLI(missing={name})
    assert cli.main(["up", "--plan", str(plan_file), "--stacks", "organization"], workspace_factory=_workspace(fake)) == 1
    out = capsys.readouterr().out
    assert f"stack {name} does not exist in the backend; create it with `pulumi stack init {name}" in out

    provider = "awskms://alias/mrd-pulumi-secrets?region=eu-west-1"
    assert cli.main(["up", "--plan", str(plan_file), "--stacks", "organization", "--create-missing"]) == 2
    assert "--create-missing needs --secrets-provider" in capsys.readouterr().err
    code = cli.main(["up", "--plan", str(plan_file), "--stacks", "organization", "--create-missing",
                     "--secrets-provider", provider], workspace_factory=_workspace(fake))
    assert code == 0
    assert ["stack", "init", name, "--secrets-provider", provider] in fake.calls


def test_cli_message_prefers_the_error_lines():
    exc = create_command_error(auto.CommandResult("Updating\n    error: 1 error occurred:\n", "warning: x\n", 255))
    assert runner.cli_message(exc) == "error: 1 error occurred:"
    exc = create_command_error(auto.CommandResult("", "failed to load plugin\npanic: boom", 1))
    assert runner.cli_message(exc) == "failed to load plugin\npanic: boom"


def test_the_commands_the_readme_and_runbooks_name_exist():
    from deploy import bootstrap

    found = {"deploy": 0, "deploy.bootstrap": 0}
    for doc in (ROOT / "README.md", ROOT / "docs" / "runbooks.md"):
        text = doc.read_text().replace("\\\n", " ")
        for match in re.finditer(r"python -m (deploy(?:\.bootstrap)?) ([^`\n#]*)", text):
            module, rest = match.groups()
            argv = [a for a in shlex.split(rest) if a != "..."]
            parser = bootstrap._parser() if module == "deploy.bootstrap" else cli._parser()
            if module == "deploy" and (not argv or argv[0] not in ("plan", "preview", "up")):
                continue  # prose such as "python -m deploy computes ..."
            try:
                parser.parse_args(argv)
            except SystemExit:
                pytest.fail(f"{doc.name}: `python -m {module} {rest.strip()}` is not a valid command")
            found[module] += 1
    assert found["deploy"] >= 8 and found["deploy.bootstrap"] >= 2


def test_without_the_cli_preview_says_so_and_dry_run_still_works(plan_file, capsys):
    def no_cli(**kwargs):
        # What LocalWorkspace raises when `pulumi version` cannot be started.
        raise FileNotFoundError(2, "No such file or directory", "pulumi")

    assert cli.main(["preview", "--plan", str(plan_file)], workspace_factory=no_cli) == 1
    assert "the Pulumi CLI (`pulumi`) is not on PATH" in capsys.readouterr().err
    assert cli.main(["preview", "--plan", str(plan_file), "--dry-run"], workspace_factory=no_cli) == 0


def test_a_change_that_touches_no_stack_previews_nothing_and_still_leaves_a_summary(plan_file, tmp_path, capsys):
    fake = FakeCLI()
    summary = tmp_path / "summary.md"
    code = cli.main(["preview", "--plan", str(plan_file), "--changed-from", str(plan_file), "--summary", str(summary)],
                    workspace_factory=_workspace(fake))
    assert code == 0
    assert fake.calls == []
    assert "nothing to pulumi preview: no stack selected" in capsys.readouterr().out
    assert "No stack's offline preview differs from the base." in summary.read_text()
