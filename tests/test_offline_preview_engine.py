"""The offline preview's engine and runner on small programs of their own (tests/programs/).

`basic`: stacks `base` and `app` (which sorts first but reads `base`), a component with
children, a `secure:` config value, structured config, a provider pinned to an account and one
assuming a role read from a StackReference. `faulty` (with `main:` and `stackConfigDir:` set):
one stack per way a program can fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline_preview.engine import PreviewError, load_program, run_stack
from offline_preview.plan import build_plan, render_plan
from offline_preview.preview import preview

PROGRAMS = Path(__file__).resolve().parent / "programs"
BASIC = load_program(PROGRAMS / "basic")
FAULTY = load_program(PROGRAMS / "faulty")


@pytest.fixture(scope="module")
def basic():
    return preview(BASIC, BASIC.stack_config_dir, jobs=1)


def test_program_is_read_from_its_pulumi_yaml():
    assert BASIC.project == "basic-demo"
    assert FAULTY.project == "faulty-demo"
    assert FAULTY.entry == (PROGRAMS / "faulty" / "src" / "__main__.py").resolve()
    assert FAULTY.stack_config_dir == (PROGRAMS / "faulty" / "config").resolve()


def test_upstream_stack_runs_first_and_references_resolve(basic):
    assert basic.succeeded
    assert [s.stack for s in basic.stacks] == ["base", "app"]
    app = basic.stack("app").run
    assert app.references == ["base"]
    assert app.outputs["account"] == "222233334444"
    # The provider assumes the role `base` exported, so `app`'s resources land in that account.
    bucket = app.named("alpha-bucket")
    assert (bucket.account, bucket.region) == ("222233334444", "eu-central-1")
    assert bucket.outputs["arn"] == "arn:aws:s3:::demo-alpha"


def test_component_children_are_parented_and_keep_their_options(basic):
    app = basic.stack("app").run
    component = app.named("alpha", "demo:index:DataStore")
    children = [r for r in app.resources if r.parent == component.urn]
    assert sorted(r.name for r in children) == ["alpha-bucket", "alpha-key"]
    assert all(r.protect for r in children)
    assert component.urn == "urn:pulumi:app::basic-demo::demo:index:DataStore::alpha"
    assert app.named("alpha-key").urn == "urn:pulumi:app::basic-demo::demo:index:DataStore$aws:kms/key:Key::alpha-key"
    assert component.account is None and component.id is None


def test_resources_as_inputs_and_outputs_become_plain_data(basic):
    app = basic.stack("app").run
    bucket_urn = app.named("alpha-bucket").urn
    assert app.named("reader").inputs == {"bucket": bucket_urn}
    exported = app.outputs["firstBucket"]
    assert exported["urn"] == bucket_urn and exported["arn"] == "arn:aws:s3:::demo-alpha"


def test_secure_config_is_a_secret_placeholder_and_masked_in_the_plan(basic):
    app = basic.stack("app").run
    assert app.secret_outputs == ["password"]
    assert app.outputs["password"] == "[secret basic-demo:dbPassword]"
    plan = build_plan(basic)
    app_plan = next(s for s in plan["stacks"] if s["name"] == "app")
    assert app_plan["outputs"]["password"] == "[secret]"
    parameter = next(r for r in app_plan["resources"] if r["name"] == "db-password")
    assert parameter["inputs"]["value"] == "[secret]"
    assert "secret basic-demo" not in render_plan(plan)


def test_plan_contract(basic):
    plan = build_plan(basic)
    stack = plan["stacks"][0]
    assert {"name", "layer", "resources", "outputs", "violations"} <= set(stack)
    resource = next(r for r in stack["resources"] if r["name"] == "deployer")
    assert {"urn", "type", "name", "id", "inputs", "outputs", "parent", "provider", "account", "region",
            "protect", "retainOnDelete", "dependencies"} <= set(resource)
    assert resource["provider"] == "urn:pulumi:base::basic-demo::pulumi:providers:aws::shared"
    assert resource["outputs"]["arn"] == "arn:aws:iam::222233334444:role/deployer"


def test_plan_is_byte_identical_across_runs(basic):
    again = preview(BASIC, BASIC.stack_config_dir, jobs=1)
    assert render_plan(build_plan(again)) == render_plan(build_plan(basic))


def test_runs_in_one_process_are_isolated():
    # Another program in between, then `base` alone: no config, root stack or module leaks.
    run_stack("upstream", FAULTY.stack_config_dir, {}, program=FAULTY)
    base = run_stack("base", BASIC.stack_config_dir, {}, program=BASIC)
    assert base.config["basic-demo:role"] == "base"
    assert "faulty-demo:mode" not in base.config
    assert sorted(base.outputs) == ["deployerRoleArn", "sharedAccountId", "vpcId"]
    assert all(r.urn.startswith("urn:pulumi:base::basic-demo::") for r in base.resources)


def _faulty(*stacks: str):
    return preview(FAULTY, FAULTY.stack_config_dir, list(stacks), jobs=1)


def test_missing_upstream_output_names_stack_and_output():
    result = _faulty("upstream", "missing-output")
    failed = result.stack("missing-output")
    assert failed.run is None
    assert "stack missing-output" in failed.error
    assert "requires output 'notExported' of stack 'upstream'" in failed.error
    assert "bucketName" in failed.error  # what it does export
    assert result.stack("upstream").ok


def test_reference_to_a_stack_not_in_the_run():
    result = _faulty("outside-run")
    error = result.stack("outside-run").error
    assert "stack outside-run" in error and "'elsewhere'" in error and "not in this run" in error


def test_chosen_stack_whose_upstream_is_not_chosen_names_both():
    result = _faulty("missing-output")
    error = result.stack("missing-output").error
    assert "stack missing-output" in error and "'upstream'" in error and "not in this run" in error


def test_program_exception_fails_the_stack_with_its_name():
    result = _faulty("raises")
    assert not result.succeeded
    assert result.stack("raises").error.startswith("stack raises: ValueError: the program found something")


def test_log_error_fails_the_stack():
    result = _faulty("logs-error")
    error = result.stack("logs-error").error
    assert "stack logs-error" in error and "a configuration value is wrong" in error
    assert "aws:s3/bucket:Bucket::data" in error  # the resource the error was logged against


def test_unknown_stack_is_a_usage_error():
    with pytest.raises(PreviewError, match="unknown stack"):
        _faulty("nope")


def test_upstream_failure_skips_its_readers(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "Pulumi.upstream.yaml").write_text("config:\n  faulty-demo:mode: raises\n")
    (config / "Pulumi.missing-output.yaml").write_text("config:\n  faulty-demo:mode: missing-output\n")
    result = preview(FAULTY, config, jobs=1)
    assert "its upstream stack upstream failed" in result.stack("missing-output").error


def test_reference_cycle_fails_both_stacks_naming_the_cycle():
    result = _faulty("cycle-a", "cycle-b")
    for stack in ("cycle-a", "cycle-b"):
        assert "StackReferences form a cycle (cycle-a -> cycle-b, cycle-b -> cycle-a)" in result.stack(stack).error


def test_parallel_workers_give_the_same_plan(basic):
    parallel = preview(BASIC, BASIC.stack_config_dir, jobs=2)
    assert render_plan(build_plan(parallel)) == render_plan(build_plan(basic))


def test_plan_json_is_valid_json(basic):
    assert json.loads(render_plan(build_plan(basic)))["project"] == "basic-demo"


SECRETS = load_program(PROGRAMS / "secrets")


def test_a_secret_read_through_a_stack_reference_stays_secret():
    # As the engine does: the referenced stack's secret output names travel with its outputs,
    # so what a downstream stack derives from them, exports or passes to a resource is secret.
    result = preview(SECRETS, SECRETS.stack_config_dir, jobs=1)
    assert result.succeeded
    source, reader = result.stack("source").run, result.stack("reader").run
    assert source.secret_outputs == ["apiToken"]
    assert reader.secret_outputs == ["token", "tokenLooked", "tokenUpper"]
    assert reader.outputs["region"] == "eu-west-1" and "region" not in reader.secret_outputs
    plan = build_plan(result)
    reader_plan = next(s for s in plan["stacks"] if s["name"] == "reader")
    assert {k: v for k, v in reader_plan["outputs"].items() if v == "[secret]"} == {
        "token": "[secret]", "tokenLooked": "[secret]", "tokenUpper": "[secret]"}
    parameter = next(r for r in reader_plan["resources"] if r["name"] == "token")
    assert parameter["inputs"]["value"] == "[secret]"
    assert "tok-0123456789" not in render_plan(plan) and "TOK-0123456789" not in render_plan(plan)


def test_each_stack_reference_read_gets_its_own_copy_and_depends_on_the_reference():
    # What the SDK's `Output.all(name, outputs)` gives: a copy of the value (a program changing
    # what it read changes nothing another read sees), None from `get_output` for an output the
    # stack does not export, and the StackReference as the dependency of what uses the value.
    source = run_stack("source", SECRETS.stack_config_dir, {}, program=SECRETS)
    reader = run_stack("reader", SECRETS.stack_config_dir, {"source": source.outputs}, program=SECRETS)
    assert reader.outputs["settingsChanged"] == {"tags": {"team": "changed"}, "zones": ["a", "b", "c"]}
    assert reader.outputs["settingsAgain"] == {"tags": {"team": "ml"}, "zones": ["a", "b"]}
    assert source.outputs["settings"] == {"tags": {"team": "ml"}, "zones": ["a", "b"]}
    assert reader.outputs["absent"] is None
    team = reader.named("team", "aws:sns/topic:Topic")
    assert team.inputs["name"] == "ml"
    reference = reader.of_type("pulumi:pulumi:StackReference")[0].urn
    assert team.property_dependencies["name"] == [reference]


def test_a_stack_reference_marks_only_the_outputs_the_upstream_stack_marked():
    source = run_stack("source", SECRETS.stack_config_dir, {}, program=SECRETS)
    marked = run_stack("reader", SECRETS.stack_config_dir, {"source": source.outputs}, program=SECRETS,
                       upstream_secrets={"source": source.secret_outputs})
    assert marked.secret_outputs == ["token", "tokenLooked", "tokenUpper"]
    # The value itself is handed over; only the marking makes it secret downstream.
    assert marked.outputs["token"] == "tok-0123456789"
    unmarked = run_stack("reader", SECRETS.stack_config_dir, {"source": source.outputs}, program=SECRETS)
    assert unmarked.secret_outputs == []


def test_a_plan_rendered_from_its_stacks_entries_is_the_plan_rendered_whole(basic, sample_runs):
    from offline_preview.plan import render_stack_entry, stack_entry
    from offline_preview.preview import PreviewResult, StackResult

    root = Path(__file__).resolve().parent.parent
    sample = PreviewResult("ml-platform", root / "stacks", [
        StackResult(s, None, run=sample_runs(s)) for s in ("organization", "network", "document-vision-dev")],
        policy_pack="pack", policy_note="note with \u00fcnicode")
    empty = PreviewResult("empty", root, [])
    for result in (basic, sample, empty):
        plan = build_plan(result)
        texts = [render_stack_entry(stack_entry(s)) for s in result.stacks]
        assert render_plan(plan, texts) == render_plan(plan)
