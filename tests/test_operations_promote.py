"""`python -m operations promote-model` against moto's in-process AWS.

moto answers STS (the deployment role, the producer role) and DetectCustomLabels; it has no
Rekognition project, version, policy or copy calls (DescribeProjects, DescribeProjectVersions,
StopProjectVersion, ListProjectPolicies, PutProjectPolicy, CreateProject, CopyProjectVersion),
so those, and the refusals moto cannot give (an AccessDenied trust, throttling), come from
botocore's Stubber. Both patterns: prod as the sample's `delegate` consumer, and as a `copy`
consumer (`consumers.prod.pattern: copy` in a copy of the platform definition).
`pulumi up` runs through the Automation API against tests/test_deploy_order.py's FakeCLI."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import yaml
from botocore.stub import ANY, Stubber
from pulumi import automation as auto

from operations import __main__ as cli
from operations import promote_model
from stacks.config import load_platform_file

from tests.conftest import SAMPLE_DIR
from tests.test_deploy_order import FakeCLI

PRODUCER = "355188204523"   # document-vision-preprod
CONSUMER = "252275674089"   # document-vision-prod
BASE = f"arn:aws:rekognition:eu-west-1:{PRODUCER}:project/documents"
PROJECT_ARN = f"{BASE}/1700000000000"
CURRENT_PROD = f"{BASE}/version/documents.2026-10-02T09.00.00/1759395600000"
PREPROD = f"{BASE}/version/documents.2026-11-20T09.00.00/1763629200000"
NEW = f"{BASE}/version/documents.2026-12-01T09.00.00/1764579600000"
# prod's own copies (the copy pattern), in its own account.
COPY_BASE = f"arn:aws:rekognition:eu-west-1:{CONSUMER}:project/documents"
COPY_PROJECT = f"{COPY_BASE}/1760000000000"
COPY_CURRENT = f"{COPY_BASE}/version/documents.2026-10-02T09.00.00/1759400000000"
COPY_NEW = f"{COPY_BASE}/version/documents.2026-12-01T09.00.00/1764600000000"


@pytest.fixture(scope="module")
def outputs(sample_runs):
    return {"organization": sample_runs("organization").outputs,
            "document-vision-prod": sample_runs("document-vision-prod").outputs}


@pytest.fixture
def env(moto_aws, outputs, tmp_path, capsys, monkeypatch):
    """A copy of the sample platform definition and the outputs file, and `run(*args, stubs=)`:
    `stubs` maps (account, service, role) to a function that loads a Stubber."""
    platform = tmp_path / "platform.yaml"
    shutil.copy(SAMPLE_DIR / "platform.yaml", platform)
    out = tmp_path / "outputs.json"
    out.write_text(json.dumps(outputs))
    image = tmp_path / "invoice.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0 a jpeg")
    base = moto_aws("111111111111")

    class Env:
        stubbers: list[Stubber] = []
        fake = FakeCLI()

        def __init__(self):
            self.platform, self.outputs, self.image = platform, out, image

        def copy_consumer(self):
            """prod as a copy consumer, using its copy of CURRENT_PROD."""
            text = self.platform.read_text()
            old = f"          version: {CURRENT_PROD}\n"
            assert old in text
            self.platform.write_text(text.replace(old, f"          version: {COPY_CURRENT}\n          pattern: copy\n"))

        def run(self, *argv, stubs=None, cli_present=True, fake=None, from_backend=False):
            """`from_backend`: the stacks' outputs from the (fake) backend, not --outputs."""
            stubs = stubs or {}
            fake = fake or self.fake

            def hook(client, account, service, region, role):
                load = stubs.get((account, service, role))
                if load is not None:
                    stub = Stubber(client)
                    load(stub)
                    stub.activate()
                    Env.stubbers.append(stub)
            factory = (lambda **kw: auto.LocalWorkspace(pulumi_command=fake, **kw)) if cli_present else None
            if not cli_present:
                monkeypatch.setattr(promote_model.shutil, "which", lambda name: None)
            inputs = [] if from_backend else ["--outputs", str(out)]
            code = cli.main(["promote-model", "--platform-file", str(platform), *inputs, *argv],
                            session=base, workspace_factory=factory, client_hook=hook)
            captured = capsys.readouterr()
            return code, captured.out, captured.err

    return Env()


def _producer(status="RUNNING", version=NEW, stop=False):
    def load(stub):
        stub.add_response("describe_projects", {"ProjectDescriptions": [{"ProjectArn": PROJECT_ARN, "Status": "CREATED"}]},
                          {"ProjectNames": ["documents"]})
        stub.add_response("describe_project_versions", {"ProjectVersionDescriptions": [
            {"ProjectVersionArn": version, "Status": status}]},
            {"ProjectArn": PROJECT_ARN, "VersionNames": [version.split("/version/")[1].split("/")[0]]})
        if stop:
            stub.add_response("stop_project_version", {"Status": "STOPPING"}, {"ProjectVersionArn": CURRENT_PROD})
    return load


def _promote(*extra):
    return ("--project", "document-vision", "--environment", "prod", "--version", NEW, *extra)


def test_promotion_updates_the_definition_runs_up_grant_first_and_tests_from_the_consumer(env):
    before = env.platform.read_text()
    code, out, err = env.run(*_promote("--image", str(env.image)), stubs={(PRODUCER, "rekognition", None): _producer()})
    assert code == 0, out + err
    after = env.platform.read_text()
    # Only the prod consumer's version changed; comments and layout stay.
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert changed == [(f"          version: {CURRENT_PROD}", f"          version: {NEW}")]
    cfg = load_platform_file(env.platform)
    assert cfg.model_sharing.projects["document-vision"].consumers["prod"].version == NEW
    # The producer's role policy first, then the consumer's parameter.
    assert env.fake.operations() == [("up", "organization/ml-platform/document-vision-preprod"),
                                     ("up", "organization/ml-platform/document-vision-prod")]
    assert "document-vision-preprod: in-account, uses " + PREPROD in out
    assert "document-vision-prod: delegate, uses " + CURRENT_PROD in out
    # moto's DetectCustomLabels, called as the producer role from the consumer account.
    assert (f"DetectCustomLabels from document-vision-prod ({CONSUMER}) through arn:aws:iam::{PRODUCER}:role/"
            f"mrd-document-vision-preprod-model-consumer-prod on invoice.jpg: ") in out
    assert "%" in out.rsplit("DetectCustomLabels", 1)[1]


def test_without_the_pulumi_cli_the_change_is_written_and_the_commands_printed(env):
    code, out, _ = env.run(*_promote("--image", str(env.image)), stubs={(PRODUCER, "rekognition", None): _producer()},
                           cli_present=False)
    assert code == 0
    assert NEW in env.platform.read_text()
    lines = out.splitlines()
    first = lines.index("  python -m deploy up --stacks document-vision-preprod")
    assert lines[first + 1] == "  python -m deploy up --stacks document-vision-prod"
    assert "--test-only --image <image>" in out and "DetectCustomLabels from" not in out
    assert env.fake.operations() == []


def test_keep_previous_then_stop_superseded_only_when_nothing_uses_it(env):
    code, out, _ = env.run(*_promote("--keep-previous", "--stop-superseded"),
                           stubs={(PRODUCER, "rekognition", None): _producer()})
    assert code == 0
    prod = load_platform_file(env.platform).model_sharing.projects["document-vision"].consumers["prod"]
    assert prod.version == NEW and prod.keep_previous == [CURRENT_PROD]
    assert f"not stopping {CURRENT_PROD}: still used by document-vision-prod" in out

    shutil.copy(SAMPLE_DIR / "platform.yaml", env.platform)
    code, out, _ = env.run(*_promote("--stop-superseded"),
                           stubs={(PRODUCER, "rekognition", None): _producer(stop=True)})
    assert code == 0 and f"stopping {CURRENT_PROD}: STOPPING" in out
    for stub in env.stubbers:
        stub.assert_no_pending_responses()


def test_dry_run_writes_nothing_and_runs_nothing(env):
    before = env.platform.read_text()
    code, out, _ = env.run(*_promote("--dry-run"), stubs={(PRODUCER, "rekognition", None): _producer()})
    assert code == 0 and "dry run: nothing written" in out
    assert f"+          version: {NEW}" in out
    assert env.platform.read_text() == before and env.fake.operations() == []


@pytest.mark.parametrize("argv, message", [
    (("--project", "document-vision", "--environment", "staging", "--version", NEW),
     "--environment: 'staging' is not a consumer of document-vision's model (consumers: preprod, prod)"),
    (("--project", "fraud-detection", "--environment", "prod", "--version", NEW),
     "--project: 'fraud-detection' shares no model (model_sharing.projects has: document-vision)"),
    (("--project", "document-vision", "--environment", "prod", "--version", NEW.replace("eu-west-1", "us-east-1")),
     "region 'us-east-1' is outside the allow-list (allowed_regions: eu-west-1, eu-central-1)"),
    (("--project", "document-vision", "--environment", "prod", "--version", NEW.replace(PRODUCER, "123456789012")),
     f"is in account 123456789012, not in the producer document-vision-preprod ({PRODUCER})"),
    (("--project", "document-vision", "--environment", "prod", "--version", "documents-v3"),
     "is not a Rekognition project version ARN"),
    (("--project", "document-vision", "--environment", "prod", "--version", NEW.replace("project/documents", "project/other")),
     "is a version of project 'other', not of the shared project 'documents'"),
])
def test_bad_requests_fail_before_any_call_naming_what_is_wrong(env, argv, message):
    before = env.platform.read_text()
    code, out, err = env.run(*argv)
    assert code == 1 and message in err, err
    assert env.platform.read_text() == before


class OutputsCLI(FakeCLI):
    """FakeCLI whose `stack output --json` answers the sample's outputs."""

    def __init__(self, outputs, **kwargs):
        super().__init__(**kwargs)
        self.outputs = outputs

    def run(self, args, cwd, additional_env, on_output=None, on_error=None):
        if list(args[:3]) == ["stack", "output", "--json"]:
            self.calls.append(list(args))
            stack = args[args.index("--stack") + 1].rsplit("/", 1)[1]
            return auto.CommandResult(json.dumps(self.outputs.get(stack, {})), "", 0)
        return super().run(args, cwd, additional_env, on_output, on_error)


def test_outputs_come_from_the_backend_and_an_unknown_stack_is_named(env, outputs):
    # The consumer stacks are optional (not deployed yet); the organization stack is not.
    fake = OutputsCLI(outputs, missing={"organization/ml-platform/document-vision-preprod"})
    code, out, err = env.run(*_promote("--dry-run"), stubs={(PRODUCER, "rekognition", None): _producer()},
                             fake=fake, from_backend=True)
    assert code == 0, err
    assert "dry run: nothing written" in out
    read = {c[c.index("--stack") + 1] for c in fake.calls if c[:3] == ["stack", "output", "--json"]}
    assert read == {"organization/ml-platform/organization", "organization/ml-platform/document-vision-prod"}
    fake = OutputsCLI(outputs, missing={"organization/ml-platform/organization"})
    code, _, err = env.run(*_promote("--dry-run"), fake=fake, from_backend=True)
    assert code == 1
    assert "stack organization/ml-platform/organization does not exist in the backend; check --org" in err


def test_an_unknown_account_names_the_missing_key(env, outputs):
    broken = copy.deepcopy(outputs)
    del broken["organization"]["accountIds"]["document-vision-prod"]
    env.outputs.write_text(json.dumps(broken))
    code, _, err = env.run(*_promote())
    assert code == 1 and "unknown account 'document-vision-prod' (the consumer)" in err


def test_a_version_that_is_not_running_stops_before_any_change(env):
    before = env.platform.read_text()
    code, _, err = env.run(*_promote(), stubs={(PRODUCER, "rekognition", None): _producer(status="STOPPED")})
    assert code == 1 and "is STOPPED, not RUNNING" in err
    assert f"start-project-version --project-version-arn {NEW}" in err
    assert env.platform.read_text() == before


def test_missing_permission_and_throttling_in_the_producer_account_are_named(env):
    def denied(stub):
        stub.add_client_error("describe_projects", "AccessDeniedException", "not authorized: rekognition:DescribeProjects")
    code, _, err = env.run(*_promote(), stubs={(PRODUCER, "rekognition", None): denied})
    assert code == 1 and f"DescribeProjects in the producer account {PRODUCER}: AccessDeniedException" in err
    assert "missing permission" in err

    def throttled(stub):
        stub.add_client_error("describe_projects", "ThrottlingException", "Rate exceeded")
    code, _, err = env.run(*_promote(), stubs={(PRODUCER, "rekognition", None): throttled})
    assert code == 1 and "still throttled after 8 attempts" in err


def test_a_refused_producer_role_says_where_to_run_the_test(env):
    def refuse(stub):
        stub.add_client_error("assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole")
    code, _, err = env.run(*_promote("--test-only", "--image", str(env.image)),
                           stubs={(PRODUCER, "rekognition", None): _producer(),
                                  (CONSUMER, "sts", "producer-role"): refuse})
    assert code == 1
    assert "assuming the producer role from the consumer account 252275674089" in err
    assert "trusts only the consumer's application role" in err and "--test-only" in err
    assert env.fake.operations() == []  # --test-only changes nothing


def test_a_failed_pulumi_up_stops_before_the_test(env):
    fake = FakeCLI(failures={"organization/ml-platform/document-vision-preprod": ("error: AccessDenied", "")})
    code, out, _ = env.run(*_promote("--image", str(env.image)), stubs={(PRODUCER, "rekognition", None): _producer()},
                           fake=fake)
    assert code == 1 and "pulumi up failed" in out and "DetectCustomLabels from" not in out
    assert fake.operations() == [("up", "organization/ml-platform/document-vision-preprod")]


# -- the copy pattern ----------------------------------------------------------------------


def _copy_target(status=None, project=True):
    """The consumer account's answers: its project (or none), and the copy of NEW in it (or none)."""
    def load(stub):
        stub.add_response("describe_projects", {"ProjectDescriptions": [
            {"ProjectArn": COPY_PROJECT, "Status": "CREATED"}] if project else []}, {"ProjectNames": ["documents"]})
        if project:
            stub.add_response("describe_project_versions", {"ProjectVersionDescriptions": [
                {"ProjectVersionArn": COPY_NEW, "Status": status}] if status else []},
                {"ProjectArn": COPY_PROJECT, "VersionNames": ["documents.2026-12-01T09.00.00"]})
    return load


def test_a_copy_consumers_first_run_copies_under_a_project_policy_and_writes_nothing_else(env):
    env.copy_consumer()
    sent = {}

    def producer(stub):
        _producer(status="TRAINING_COMPLETED")(stub)
        stub.add_response("list_project_policies", {"ProjectPolicies": []}, {"ProjectArn": PROJECT_ARN})
        stub.add_response("put_project_policy", {"PolicyRevisionId": "r1"},
                          {"ProjectArn": PROJECT_ARN, "PolicyName": "mrd-copy-to-document-vision-prod",
                           "PolicyDocument": ANY})
        stub.client.meta.events.register("provide-client-params.rekognition.PutProjectPolicy",
                                         lambda params, **_: sent.update(params))

    def consumer(stub):
        _copy_target(project=False)(stub)
        stub.add_response("create_project", {"ProjectArn": COPY_PROJECT}, {"ProjectName": "documents"})
        stub.add_response("copy_project_version", {"ProjectVersionArn": COPY_NEW}, {
            "SourceProjectArn": PROJECT_ARN, "SourceProjectVersionArn": NEW, "DestinationProjectArn": COPY_PROJECT,
            "VersionName": "documents.2026-12-01T09.00.00",
            "OutputConfig": {"S3Bucket": "mrd-document-vision-prod-models-111111111111",
                             "S3KeyPrefix": "rekognition/documents/"}})
    before = env.platform.read_text()
    code, out, err = env.run(*_promote("--image", str(env.image)),
                             stubs={(PRODUCER, "rekognition", None): producer, (CONSUMER, "rekognition", None): consumer})
    assert code == 0, err
    # Which pattern each environment uses, from the platform definition.
    assert f"document-vision-prod: copy, uses {COPY_CURRENT}" in out
    assert f"document-vision-preprod: in-account, uses {PREPROD}" in out
    policy = json.loads(sent["PolicyDocument"])
    assert policy["Statement"] == [{"Sid": "CopyToConsumer", "Effect": "Allow",
                                    "Principal": {"AWS": f"arn:aws:iam::{CONSUMER}:root"},
                                    "Action": "rekognition:CopyProjectVersion", "Resource": NEW}]
    assert "PolicyRevisionId" not in sent  # a new policy
    assert f"copying into {COPY_NEW}" in out and "then run this command again" in out
    # The copy is not running yet: the definition, the stacks and the test call wait for it.
    assert env.platform.read_text() == before and env.fake.operations() == []
    assert "DetectCustomLabels" not in out
    for stub in env.stubbers:
        stub.assert_no_pending_responses()


def test_a_running_copy_is_switched_to_through_the_consumer_stack_only_and_called_directly(env):
    env.copy_consumer()

    def consumer(stub):
        _copy_target(status="RUNNING")(stub)
        stub.add_response("stop_project_version", {"Status": "STOPPING"}, {"ProjectVersionArn": COPY_CURRENT})
    code, out, err = env.run(*_promote("--image", str(env.image), "--stop-superseded"),
                             stubs={(PRODUCER, "rekognition", None): _producer(status="STOPPED"),
                                    (CONSUMER, "rekognition", None): consumer})
    assert code == 0, out + err
    prod = load_platform_file(env.platform).model_sharing.projects["document-vision"].consumers["prod"]
    assert prod.version == COPY_NEW and prod.pattern == "copy"
    # No producer grant to change: only the consumer stack (its role policy and parameter).
    assert env.fake.operations() == [("up", "organization/ml-platform/document-vision-prod")]
    # moto's DetectCustomLabels on the copy, from the consumer account itself.
    assert f"DetectCustomLabels from document-vision-prod ({CONSUMER}) directly on invoice.jpg: " in out
    # The superseded copy is prod's alone: stopped in prod's account.
    assert f"stopping {COPY_CURRENT}: STOPPING" in out
    for stub in env.stubbers:
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("status, message", [
    ("COPYING_IN_PROGRESS", f"{COPY_NEW} is still being copied (COPYING_IN_PROGRESS): run this command again"),
    ("COPYING_COMPLETED", f"{COPY_NEW} (the copy in document-vision-prod) is COPYING_COMPLETED, not RUNNING: start it "
                          f"in account {CONSUMER} (aws rekognition start-project-version --project-version-arn {COPY_NEW}"),
    ("COPYING_FAILED", f"copying {NEW} into document-vision-prod failed"),
])
def test_a_copy_that_is_not_running_changes_nothing(env, status, message):
    env.copy_consumer()
    before = env.platform.read_text()
    code, _, err = env.run(*_promote(), stubs={(PRODUCER, "rekognition", None): _producer(),
                                               (CONSUMER, "rekognition", None): _copy_target(status=status)})
    assert code == 1 and message in err, err
    assert env.platform.read_text() == before and env.fake.operations() == []


def test_a_second_copy_replaces_the_policy_by_its_revision_and_refusals_are_named(env):
    env.copy_consumer()
    sent = {}

    def producer(stub):
        _producer()(stub)
        stub.add_response("list_project_policies", {"ProjectPolicies": [
            {"ProjectArn": PROJECT_ARN, "PolicyName": "someone-elses", "PolicyRevisionId": "x"}], "NextToken": "t"},
            {"ProjectArn": PROJECT_ARN})
        stub.add_response("list_project_policies", {"ProjectPolicies": [
            {"ProjectArn": PROJECT_ARN, "PolicyName": "mrd-copy-to-document-vision-prod", "PolicyRevisionId": "r7"}]},
            {"ProjectArn": PROJECT_ARN, "NextToken": "t"})
        stub.add_response("put_project_policy", {"PolicyRevisionId": "r8"}, {
            "ProjectArn": PROJECT_ARN, "PolicyName": "mrd-copy-to-document-vision-prod", "PolicyDocument": ANY,
            "PolicyRevisionId": "r7"})

    def consumer(stub):
        _copy_target()(stub)
        stub.add_client_error("copy_project_version", "AccessDeniedException",
                              "not authorized to perform: rekognition:CopyProjectVersion")
    code, out, err = env.run(*_promote(), stubs={(PRODUCER, "rekognition", None): producer,
                                                 (CONSUMER, "rekognition", None): consumer})
    assert code == 1
    assert "project policy mrd-copy-to-document-vision-prod" in out
    assert f"CopyProjectVersion in the consumer account {CONSUMER}: AccessDeniedException" in err
    assert "missing permission" in err
    for stub in env.stubbers:
        stub.assert_no_pending_responses()


def test_copy_needs_a_bucket_and_a_copy_bucket_needs_a_copy_consumer(env, outputs):
    code, _, err = env.run(*_promote("--copy-bucket", "b"))
    assert code == 1 and "--copy-bucket: document-vision-prod is a delegate consumer" in err
    assert "consumers.prod.pattern: copy" in err
    env.copy_consumer()
    broken = copy.deepcopy(outputs)
    del broken["document-vision-prod"]["data"]
    env.outputs.write_text(json.dumps(broken))
    code, _, err = env.run(*_promote(), stubs={(PRODUCER, "rekognition", None): _producer(),
                                               (CONSUMER, "rekognition", None): _copy_target()})
    assert code == 1 and "pass --copy-bucket or add the document-vision-prod stack's outputs" in err


def test_a_copy_dry_run_calls_nothing_that_changes(env):
    env.copy_consumer()
    code, out, _ = env.run(*_promote("--dry-run"), stubs={(PRODUCER, "rekognition", None): _producer(),
                                                          (CONSUMER, "rekognition", None): _copy_target()})
    assert code == 0 and "dry run: would let 252275674089 copy documents.2026-12-01T09.00.00" in out
    for stub in env.stubbers:
        stub.assert_no_pending_responses()  # no PutProjectPolicy, CreateProject or CopyProjectVersion queued


def test_an_image_over_the_api_limit_is_refused(env):
    env.image.write_bytes(b"x" * (promote_model.MAX_IMAGE_BYTES + 1))
    code, _, err = env.run(*_promote("--image", str(env.image)))
    assert code == 1 and "allowed: 1 to 5242880" in err


def test_keep_previous_edits_an_existing_list_in_place():
    text = ("model_sharing:\n  projects:\n    p:\n      consumers:\n        prod:  # the app\n"
            "          version: a  # current\n          keep_previous:\n            - b\n")
    new = promote_model.set_consumer_version(text, "p", "prod", "c", "a")
    assert yaml.safe_load(new)["model_sharing"]["projects"]["p"]["consumers"]["prod"] == {
        "version": "c", "keep_previous": ["b", "a"]}
    assert "# the app" in new and "# current" in new
    fresh = promote_model.set_consumer_version(text.replace("          keep_previous:\n            - b\n", ""),
                                               "p", "prod", "c", "a")
    assert yaml.safe_load(fresh)["model_sharing"]["projects"]["p"]["consumers"]["prod"] == {
        "version": "c", "keep_previous": ["a"]}
