"""stacks.common shares what the engine lets a stack register only once: one StackReference per
stack name, one provider per name and settings, within one run of the program (a new run starts
afresh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline_preview.engine import PreviewError, load_program, run_stack

PROGRAM = '''
import types

import pulumi

from stacks.common import account_provider, stack_reference

platform = types.SimpleNamespace(home_region="eu-west-1", organization=types.SimpleNamespace(
    management_account_id="123456789012", deployment_role="Deploy"))
first = account_provider("member", platform, "222222222222", {"team": "a"})
again = account_provider("member", platform, "222222222222", {"team": "a"})
pulumi.export("sameProvider", first is again)
pulumi.export("sameReference", stack_reference("upstream") is stack_reference("upstream"))
if pulumi.Config().get_bool("clash"):
    # Other settings under the same name are a second provider: the engine rejects its URN.
    account_provider("member", platform, "222222222222", {"team": "b"})
'''


@pytest.fixture
def program(tmp_path: Path):
    (tmp_path / "Pulumi.yaml").write_text("name: common-demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "Pulumi.clash.yaml").write_text("config:\n  aws:region: eu-west-1\n  common-demo:clash: true\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    return load_program(tmp_path)


def _run(program, stack: str):
    return run_stack(stack, program.directory, upstream={"upstream": {"x": 1}}, program=program)


def test_a_stack_shares_its_reference_and_provider(program):
    run = _run(program, "dev")
    assert run.outputs == {"sameProvider": True, "sameReference": True}
    assert sorted(r.name for r in run.resources) == ["member", "organization/common-demo/upstream"]


def test_a_new_run_registers_them_again(program):
    _run(program, "dev")
    run = _run(program, "dev")  # same process, same stack: nothing of the first run is reused
    assert sorted(r.name for r in run.resources) == ["member", "organization/common-demo/upstream"]


def test_a_provider_with_other_settings_under_the_same_name_is_a_duplicate(program):
    with pytest.raises(PreviewError, match="Duplicate resource URN 'urn:pulumi:clash::common-demo::pulumi:providers:aws::member'"):
        _run(program, "clash")
