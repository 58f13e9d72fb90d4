"""Shapes of real Pulumi programs the offline preview must handle as `pulumi preview` would
(issue 17): small foreign-style programs under tests/programs/, run through the command
in-process (`cli.main`, which returns the exit status), asserting the exit status and what
the user reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from offline_preview.cli import main
from offline_preview.engine import PreviewError, load_program, run_stack
from offline_preview.policy_analyzer import UNKNOWN_SENTINEL
from offline_preview.secure_config import PASSPHRASE_ENV

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"
PASSPHRASE = "correct horse battery staple"  # the one tests/programs/secure_config was written with


def _run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["--jobs", "1", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _plan(out: Path) -> dict:
    return json.loads((out / "plan.json").read_text())


# -- remote (multi-language) components --------------------------------------------------------


def test_a_remote_component_fails_its_stack_naming_it(tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "remote"), "--out", str(tmp_path), "--no-policy")
    assert status == 1
    assert "FAILED stack dev: 1 remote (multi-language) component(s) not seen: awsx:ec2:Vpc 'main'" in out
    assert "children were not checked by policies" in out and "--allow-unseen" in out
    assert "0 violations" not in next(line for line in out.splitlines() if line.startswith("  dev"))


def test_allow_unseen_warns_and_the_component_stays_unseen_with_unknown_outputs(tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "remote"), "--out", str(tmp_path), "--no-policy",
                          "--allow-unseen")
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("  dev"))
    assert "0 violations in what was seen, 1 remote component(s) UNSEEN" in line
    assert "warning: 1 remote component(s) unseen" in out
    stack = _plan(tmp_path)["stacks"][0]
    urn = "urn:pulumi:dev::remote-demo::awsx:ec2:Vpc::main"
    assert stack["unseen"] == [urn]
    assert next(r for r in stack["resources"] if r["urn"] == urn)["remote"] is True
    # Its outputs are unknown, and what the program derives from them too (the apply never ran).
    assert stack["outputs"] == {"vpcId": "[unknown]", "firstSubnet": "[unknown]"}
    assert "## Not seen" in (tmp_path / "guardrails.md").read_text()


# -- outputs no mock knows ---------------------------------------------------------------------


def test_the_program_sees_a_preview_and_unknown_outputs_stay_unknown(tmp_path, capsys):
    status, _, _ = _run(capsys, "--program-dir", str(PROGRAMS / "unknowns"), "--out", str(tmp_path), "--no-policy")
    assert status == 0  # `passwordLength` would raise if its apply ran on the unknown password
    stack = _plan(tmp_path)["stacks"][0]
    assert stack["outputs"] == {
        "dryRun": True, "password": "[unknown]", "publicKey": "[unknown]", "passwordLength": "[unknown]",
        "vpcIpv6": "[unknown]",  # an AWS property no mock computes
        "bucketArn": "arn:aws:s3:::unknowns-demo-data",  # the AWS mocks still fill what they know
    }
    password = next(r for r in stack["resources"] if r["name"] == "db")
    assert "result" not in password["outputs"]


def test_unknown_inputs_reach_the_policy_pack_as_the_engine_sends_them():
    program = load_program(PROGRAMS / "unknowns")
    run = run_stack("dev", program.stack_config_dir, program=program)
    from offline_preview.analysis import analyzed_resources
    from offline_preview.policy_analyzer import _wire

    parameter = next(r for r in analyzed_resources(run) if r.name == "db-password")
    assert _wire(parameter.properties)["value"] == UNKNOWN_SENTINEL


# -- invokes with no mock ----------------------------------------------------------------------


def test_an_invoke_without_a_mock_names_the_token_and_the_way_in(tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "invokes"), "--out", str(tmp_path), "--no-policy")
    assert status == 1
    assert "FAILED stack dev: invoke aws:ec2/getAmi:getAmi has no mock" in out
    assert "pass it with --mocks FILE" in out and "offline_preview/mocks.py" not in out


def test_a_mocks_file_answers_the_invoke_matched_on_its_arguments(tmp_path, capsys):
    mocks = PROGRAMS / "invokes" / "mocks.yaml"
    status, _, _ = _run(capsys, "--program-dir", str(PROGRAMS / "invokes"), "--out", str(tmp_path), "--no-policy",
                        "--mocks", str(mocks))
    assert status == 0
    stack = _plan(tmp_path)["stacks"][0]
    assert stack["outputs"]["ami"] == "ami-0abc1234def567890"
    assert next(r for r in stack["resources"] if r["name"] == "web")["inputs"]["ami"] == "ami-0abc1234def567890"


def test_a_mocks_file_without_a_matching_entry_names_the_file_to_add_it_to(tmp_path, capsys):
    mocks = PROGRAMS / "invokes" / "other-mocks.json"
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "invokes"), "--out", str(tmp_path), "--no-policy",
                          "--mocks", str(mocks))
    assert status == 1
    assert (f"invoke aws:ec2/getAmi:getAmi has no entry matching these arguments in the mocks file {mocks}" in out
            and f"add one to {mocks}" in out)


def test_a_malformed_mocks_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "mocks.yaml"
    bad.write_text("invokes:\n  aws:ec2/getAmi:getAmi:\n    - args: {owners: [amazon]}\n")
    status, _, err = _run(capsys, "--program-dir", str(PROGRAMS / "invokes"), "--out", str(tmp_path), "--no-policy",
                          "--mocks", str(bad))
    assert status == 2
    assert 'invokes.aws:ec2/getAmi:getAmi[0]: must be a mapping with "return"' in err


# -- duplicate URNs ----------------------------------------------------------------------------


def test_a_duplicate_urn_fails_the_stack_as_the_engine_does(tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "duplicate"), "--out", str(tmp_path), "--no-policy")
    assert status == 1
    assert ("FAILED stack dev: Duplicate resource URN 'urn:pulumi:dev::duplicate-demo::aws:s3/bucket:Bucket::team-bucket'"
            "; try giving it a unique name") in out


def test_an_identical_second_registration_or_read_fails_too(tmp_path, capsys):
    # The engine rejects a second registration of a URN without comparing it with the first.
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "duplicate"), "--out", str(tmp_path), "--no-policy",
                          "--stacks", "identical")
    assert status == 1
    assert ("FAILED stack identical: Duplicate resource URN 'urn:pulumi:identical::duplicate-demo::pulumi:providers:"
            "aws::eu'; try giving it a unique name") in out
    assert "identically" not in out


def test_an_identical_second_read_fails(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: reread-demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "__main__.py").write_text("import pulumi_aws as aws\n"
                                          "aws.s3.Bucket.get('data', 'reread-demo-data')\n"
                                          "aws.s3.Bucket.get('data', 'reread-demo-data')\n")
    with pytest.raises(PreviewError, match="Duplicate resource URN 'urn:pulumi:dev::reread-demo::aws:s3/bucket:Bucket::data'"):
        run_stack("dev", tmp_path, program=load_program(tmp_path))


def test_a_read_of_a_registered_urn_is_a_duplicate(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: reread-demo\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "__main__.py").write_text("import pulumi_aws as aws\n"
                                          "aws.s3.Bucket('data', bucket='reread-demo-data')\n"
                                          "aws.s3.Bucket.get('data', 'reread-demo-data')\n")
    with pytest.raises(PreviewError, match="Duplicate resource URN 'urn:pulumi:dev::reread-demo::aws:s3/bucket:Bucket::data'"):
        run_stack("dev", tmp_path, program=load_program(tmp_path))


# -- StackReferences across projects -----------------------------------------------------------


def test_two_projects_in_one_run_resolve_the_cross_project_reference(tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "network_project"),
                          "--program-dir", str(PROGRAMS / "app_project"), "--out", str(tmp_path), "--no-policy")
    assert status == 0, out
    network, app = _plan(tmp_path / "network-demo")["stacks"][0], _plan(tmp_path / "app-demo")["stacks"][0]
    assert app["externalReferences"] == ["organization/network-demo/prod"]
    assert app["outputs"] == {"vpcId": network["outputs"]["vpcId"], "token": "[secret]"}
    assert next(r for r in app["resources"] if r["name"] == "peering-token")["inputs"]["value"] == "[secret]"


def test_projects_given_downstream_first_are_previewed_in_dependency_order(tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "app_project"),
                          "--program-dir", str(PROGRAMS / "network_project"), "--out", str(tmp_path), "--no-policy")
    assert status == 0, out
    assert "app-demo reads stacks of network-demo: previewed again after it" in out
    assert _plan(tmp_path / "app-demo")["stacks"][0]["externalReferences"] == ["organization/network-demo/prod"]


def test_the_downstream_project_alone_says_how_to_give_it_the_upstream_stack(tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "app_project"), "--out", str(tmp_path), "--no-policy")
    assert status == 1
    assert ("StackReference 'organization/network-demo/prod' names stack organization/network-demo/prod, "
            "which is not in this run") in out
    assert "--stack-outputs FILE" in out


def test_a_stack_outputs_file_gives_the_upstream_outputs_with_their_secrets():
    program = load_program(PROGRAMS / "app_project")
    from offline_preview.cli import load_stack_outputs
    from offline_preview.engine import RunOptions

    for name, secret_value in (("upstream-outputs.json", "peer-from-file"), ("upstream-outputs-cli.json", "[secret]")):
        external, secrets = load_stack_outputs(PROGRAMS / "app_project" / name)
        run = run_stack("prod", program.stack_config_dir, program=program,
                        options=RunOptions(external=external, external_secrets=secrets))
        assert run.outputs == {"vpcId": "vpc-0fedcba9876543210", "token": secret_value}
        assert run.secret_outputs == ["token"]  # marked secret upstream, secret here


def test_references_match_the_full_name_not_its_last_part(tmp_path, capsys):
    # Outputs of a stack `prod` of another project do not answer for network-demo's `prod`.
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "app_project"), "--out", str(tmp_path), "--no-policy",
                          "--stack-outputs", str(PROGRAMS / "app_project" / "wrong-project-outputs.json"))
    assert status == 1
    assert "outputs known for: organization/other-network/prod" in out


# -- secrets in configuration ------------------------------------------------------------------


def test_secure_values_are_decrypted_with_the_passphrase_from_the_environment(monkeypatch):
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    program = load_program(PROGRAMS / "secure_config")
    run = run_stack("passphrase", program.stack_config_dir, program=program)
    assert run.outputs["password"] == "s3cret-Passw0rd" and run.outputs["passwordLength"] == 15
    assert run.secret_outputs == ["password", "passwordLength"] and run.notes == []


def test_the_passphrase_may_come_from_a_file(monkeypatch, tmp_path):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    (tmp_path / "passphrase").write_text(PASSPHRASE + "\n")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(tmp_path / "passphrase"))
    program = load_program(PROGRAMS / "secure_config")
    assert run_stack("passphrase", program.stack_config_dir, program=program).outputs["password"] == "s3cret-Passw0rd"


def test_secrets_that_cannot_be_decrypted_are_named_and_the_program_sees_placeholders(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "secure_config"), "--out", str(tmp_path),
                          "--no-policy")
    assert status == 0
    assert ("note: stack passphrase: the secure value(s) of secure-demo:dbPassword could not be decrypted "
            "(neither PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set") in out
    assert "the program sees placeholders" in out
    assert "note: stack kms: the secure value(s) of secure-demo:dbPassword could not be decrypted (its secrets " \
           "provider awskms://alias/secure-demo?region=eu-west-1 needs the cloud" in out


def test_a_wrong_passphrase_fails_the_stack_as_the_cli_does(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(PASSPHRASE_ENV, "not the passphrase")
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "secure_config"), "--out", str(tmp_path),
                          "--no-policy", "--stacks", "passphrase")
    assert status == 1
    assert "FAILED stack passphrase: Pulumi.passphrase.yaml: incorrect passphrase" in out


# -- messages and exit codes -------------------------------------------------------------------


def test_a_policy_pack_that_cannot_start_is_a_usage_error_and_nothing_claims_zero_violations(tmp_path, capsys):
    status, out, err = _run(capsys, "--program-dir", str(PROGRAMS / "duplicate"), "--out", str(tmp_path),
                            "--policy-pack", str(PROGRAMS / "broken_pack"))
    assert status == 2
    assert f"error: policy pack {PROGRAMS / 'broken_pack'} could not be started (with {sys.executable})" in err
    assert "No module named 'policy_helpers_not_installed'" in err
    assert "install the missing module into the pack's environment" in err
    assert "violations" not in out and not (tmp_path / "plan.json").exists()


def test_a_bad_policy_configuration_is_a_usage_error(tmp_path, capsys):
    pack = PROGRAMS / "advisory_pack"
    status, out, err = _run(capsys, "--program-dir", str(PROGRAMS / "unknowns"), "--out", str(tmp_path),
                            "--policy-pack", str(pack), "--policy-config", str(pack / "bad-config.json"))
    assert status == 2
    assert "bucket-owner-tag: 'sometimes' is not a valid enforcement level" in err
    assert "violations" not in out


def test_a_missing_pack_virtualenv_names_it(tmp_path, capsys):
    pack = tmp_path / "pack"
    shutil.copytree(PROGRAMS / "advisory_pack", pack)
    (pack / "PulumiPolicy.yaml").write_text("runtime:\n  name: python\n  options:\n    virtualenv: venv\n")
    status, _, err = _run(capsys, "--program-dir", str(PROGRAMS / "unknowns"), "--out", str(tmp_path / "out"),
                          "--policy-pack", str(pack))
    assert status == 2
    assert f"its virtualenv {pack / 'venv'} (PulumiPolicy.yaml runtime.options.virtualenv) does not exist" in err


def test_advisory_violations_are_printed_on_the_console(tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(PROGRAMS / "unknowns"), "--out", str(tmp_path),
                          "--policy-pack", str(PROGRAMS / "advisory_pack"))
    assert status == 0
    assert "advisory policy violations (1; in full in guardrails.md):" in out
    assert "  [bucket-owner-tag] urn:pulumi:dev::unknowns-demo::aws:s3/bucket:Bucket::data: the bucket has no owner tag" in out


def test_a_program_error_shows_the_file_and_line_of_the_users_code(tmp_path, capsys):
    faulty = PROGRAMS / "faulty"
    status, out, _ = _run(capsys, "--program-dir", str(faulty), "--out", str(tmp_path), "--no-policy",
                          "--stacks", "raises")
    assert status == 1
    source = faulty / "src" / "__main__.py"
    line = source.read_text().splitlines().index('    raise ValueError("the program found something it cannot build")') + 1
    assert f"(at {source.relative_to(Path.cwd()) if source.is_relative_to(Path.cwd()) else source}:{line})" in out


# -- each program in its own environment -------------------------------------------------------


@pytest.fixture
def own_venv_program(tmp_path):
    program = tmp_path / "own_venv"
    shutil.copytree(PROGRAMS / "own_venv", program)
    return program


def _install_helper(venv_dir: Path) -> None:
    venv.create(venv_dir, with_pip=False)  # what `pulumi install` starts from, without the download
    site = venv_dir / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "naming_helpers.py").write_text("def bucket_name(*parts):\n    return '-'.join(parts) + '-from-venv'\n")


def test_the_programs_own_virtualenv_is_used(own_venv_program):
    _install_helper(own_venv_program / "venv")
    program = load_program(own_venv_program)
    run = run_stack("dev", program.stack_config_dir, program=program)
    assert run.outputs["bucket"] == "own-venv-data-from-venv"
    assert "naming_helpers" not in sys.modules or str(own_venv_program) in sys.modules["naming_helpers"].__file__
    assert not any(str(own_venv_program / "venv") in p for p in sys.path)  # taken out again after the run


def test_a_missing_virtualenv_is_named(own_venv_program, tmp_path, capsys):
    status, out, _ = _run(capsys, "--program-dir", str(own_venv_program), "--out", str(tmp_path / "out"), "--no-policy")
    assert status == 1
    assert f"the program's virtualenv {own_venv_program / 'venv'} (Pulumi.yaml runtime.options.virtualenv" in out
    assert "does not exist" in out


def test_a_module_missing_from_the_virtualenv_names_the_environment(own_venv_program, tmp_path, capsys):
    venv.create(own_venv_program / "venv", with_pip=False)
    sys.modules.pop("naming_helpers", None)
    status, out, _ = _run(capsys, "--program-dir", str(own_venv_program), "--out", str(tmp_path / "out"), "--no-policy")
    assert status == 1
    assert "ModuleNotFoundError: No module named 'naming_helpers'" in out
    assert f"module 'naming_helpers' is not installed in the program's virtualenv {own_venv_program / 'venv'}" in out


# -- runnable where the program is -------------------------------------------------------------


def test_the_console_command_is_declared_and_installed_by_the_makefile():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["offline-preview"] == "offline_preview.cli:main"
    assert "offline_preview" in project["tool"]["setuptools"]["packages"]
    assert "pip install --quiet --no-deps -e ." in (ROOT / "Makefile").read_text()


def test_python_m_offline_preview_previews_the_program_of_the_current_directory(tmp_path):
    # As installed (the package importable, nothing else set): run from the program's directory.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "offline_preview", "--no-policy", "--jobs", "1",
                             "--out", str(tmp_path)], cwd=PROGRAMS / "duplicate", capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 1, result.stderr
    assert f"offline preview of duplicate-demo ({PROGRAMS / 'duplicate'})" in result.stdout
    assert "Duplicate resource URN" in result.stdout


def test_the_virtualenv_the_preview_runs_in_is_not_added_again():
    # Adding the running environment's site-packages again would run its .pth files a second
    # time in this process (editable installs, coverage's subprocess hook starting a second
    # tracer): a program whose virtualenv is the one running here gets nothing added.
    from offline_preview import engine

    assert any(p.endswith("site-packages") and p.startswith(sys.prefix) for p in sys.path)
    program = type("P", (), {"virtualenv": Path(sys.prefix), "toolchain": "pip"})()
    assert engine._site_packages(program) is None
