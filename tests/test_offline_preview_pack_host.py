"""The pack host (transport "pipe") answers as the pack answers over gRPC, failures included."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

import pytest
from google.protobuf import empty_pb2

from offline_preview.analysis import analyzed_resources
from offline_preview.policy_analyzer import (
    AnalyzedResource,
    PolicyAnalyzer,
    PolicyPackError,
    analyze_request,
    analyze_stack_request,
    load_policy_config,
)
from offline_preview.preview import DEFAULT_POLICY_CONFIG_NAME, DEFAULT_POLICY_PACK

PROGRAMS = Path(__file__).resolve().parent / "programs"
CONFIG = load_policy_config(DEFAULT_POLICY_PACK / DEFAULT_POLICY_CONFIG_NAME)
# Stacks of the sample whose resources the pack judges in every way it can (accounts, SCPs,
# keys, buckets, roles, network, SageMaker, delivery).
STACKS = ("organization", "security", "identity", "network", "data-lake", "shared-services", "fraud-detection-dev",
          "fraud-detection-delivery")
NOTEBOOK = AnalyzedResource(
    urn="urn:pulumi:test::ml-platform::aws:sagemaker/notebookInstance:NotebookInstance::nb",
    type="aws:sagemaker/notebookInstance:NotebookInstance", name="nb",
    properties={"instanceType": "ml.p4d.24xlarge", "directInternetAccess": "Enabled", "rootAccess": "Enabled"})


@pytest.fixture(scope="module")
def analyzers():
    with PolicyAnalyzer(DEFAULT_POLICY_PACK, CONFIG, transport="grpc") as grpc_analyzer, \
            PolicyAnalyzer(DEFAULT_POLICY_PACK, CONFIG, transport="pipe") as pipe_analyzer:
        yield grpc_analyzer, pipe_analyzer


def test_the_pack_starts_under_the_host_with_the_engines_arguments(analyzers):
    grpc_analyzer, pipe_analyzer = analyzers
    assert pipe_analyzer.transport == "pipe" and pipe_analyzer.running
    assert pipe_analyzer.command[:3] == [sys.executable, "-u", str(Path("offline_preview/pack_host.py").resolve())]
    # After the two pipe descriptors: what `python -m pulumi.policy` is given.
    assert pipe_analyzer.command[5:] == ["--", pipe_analyzer.engine_address, "."]
    assert grpc_analyzer.command[2:4] == ["-m", "pulumi.policy"]
    assert pipe_analyzer.info == grpc_analyzer.info and pipe_analyzer.plugin_version == grpc_analyzer.plugin_version


def test_every_answer_is_the_grpc_answer_byte_for_byte(analyzers, sample_runs):
    grpc_analyzer, pipe_analyzer = analyzers
    for method in ("GetAnalyzerInfo", "GetPluginInfo"):
        assert (pipe_analyzer._call(method, empty_pb2.Empty()).SerializeToString()
                == grpc_analyzer._call(method, empty_pb2.Empty()).SerializeToString())
    answered = 0
    for stack in STACKS:
        run = sample_runs(stack)
        for analyzer in analyzers:
            analyzer.configure_stack(run.stack, project=run.project, config=run.config,
                                     tags={"pulumi:project": run.project, "pulumi:runtime": "python"})
        requests = [analyze_request(r) for r in [*analyzed_resources(run), NOTEBOOK]]
        over_grpc = [grpc_analyzer._call("Analyze", r).SerializeToString() for r in requests]
        assert [a.SerializeToString() for a in pipe_analyzer._calls("Analyze", requests)] == over_grpc
        stack_request = analyze_stack_request(analyzed_resources(run, use_outputs=True))
        assert (pipe_analyzer._call("AnalyzeStack", stack_request).SerializeToString()
                == grpc_analyzer._call("AnalyzeStack", stack_request).SerializeToString())
        answered += len(requests)
    assert answered > 900
    # What the preview calls: the same diagnostics, in the same order, violations among them.
    diagnostics = pipe_analyzer.analyze_all([NOTEBOOK])
    assert diagnostics == grpc_analyzer.analyze_all([NOTEBOOK])
    assert {d.policy_name for d in diagnostics} >= {"sm-8-notebook-instance-types"}


FAILING_PACK = '''
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

def validate(args, report_violation):
    if args.name == "boom":
        raise ValueError("the policy broke on " + args.name)
    report_violation("seen " + args.name)

PolicyPack(name="failing-demo", enforcement_level=EnforcementLevel.ADVISORY,
           policies=[ResourceValidationPolicy(name="fails-on-boom", description="d", validate=validate)])
'''


def _resource(name: str) -> AnalyzedResource:
    return AnalyzedResource(urn=f"urn:pulumi:s::p::aws:s3/bucket:Bucket::{name}", type="aws:s3/bucket:Bucket", name=name)


def test_a_policy_that_raises_fails_the_call_as_over_grpc(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text(FAILING_PACK)
    failures = {}
    for transport in ("grpc", "pipe"):
        with PolicyAnalyzer(tmp_path, {}, transport=transport) as analyzer:
            seen = analyzer.analyze_all([_resource("a"), _resource("b")])
            assert [d.message for d in seen] == ["d\nseen a", "d\nseen b"]  # the SDK prefixes the description
            with pytest.raises(PolicyPackError) as failure:
                analyzer.analyze_all([_resource("a"), _resource("boom"), _resource("c")])
            failures[transport] = str(failure.value)
            assert analyzer.analyze_all([_resource("c")])[0].message == "d\nseen c"  # still answering
    first_lines = {t: message.splitlines()[0] for t, message in failures.items()}
    assert first_lines["pipe"] == first_lines["grpc"] == \
        "Analyze failed: UNKNOWN: Exception calling application: the policy broke on boom"
    assert "ValueError: the policy broke on boom" in failures["pipe"]  # the traceback, from stderr


class _SlowLines(collections.deque):
    """stderr as a reader thread that lags behind stores it."""

    def append(self, line):
        time.sleep(0.05)
        super().append(line)


def test_a_failed_calls_message_waits_for_its_whole_traceback(tmp_path):
    # The host writes the traceback to stderr before it answers, but the client reads stderr on
    # a thread of its own: the message must not be made before that thread has read it all.
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text(FAILING_PACK)
    analyzer = PolicyAnalyzer(tmp_path, {}, transport="pipe")
    analyzer._stderr = _SlowLines(maxlen=400)  # noqa: SLF001
    with analyzer:
        for _ in range(2):
            with pytest.raises(PolicyPackError) as failure:
                analyzer.analyze_all([_resource("boom")])
            assert str(failure.value).rstrip().endswith("ValueError: the policy broke on boom"), str(failure.value)
    assert "offline-preview:" not in analyzer.stderr  # the host's marks are not shown


def test_a_pack_that_fails_to_start_says_so_with_its_error():
    with pytest.raises(PolicyPackError, match=r"did not start \(exited with 1\)") as failure:
        with PolicyAnalyzer(PROGRAMS / "broken_pack", {}, transport="pipe", startup_timeout=30):
            pass
    assert "policy_helpers_not_installed" in str(failure.value)


def test_an_sdk_that_hands_over_no_servicer_is_spoken_to_over_grpc(tmp_path):
    # A policy SDK without the hand-over this host uses (here: taken away at start-up) makes the
    # client start the pack the engine's way; this one then fails there too, as it would under the CLI.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "from pulumi.runtime.proto import analyzer_pb2_grpc\n"
        "del analyzer_pb2_grpc.add_AnalyzerServicer_to_server\n")
    analyzer = PolicyAnalyzer(DEFAULT_POLICY_PACK, CONFIG, transport="pipe", env={"PYTHONPATH": str(site)},
                              startup_timeout=30)
    with pytest.raises(PolicyPackError, match="did not print its port"):
        analyzer.start()
    assert analyzer.transport == "grpc" and analyzer.command[2:4] == ["-m", "pulumi.policy"]


def test_an_unknown_transport_is_refused():
    with pytest.raises(ValueError, match="transport must be one of grpc, pipe, not 'http'"):
        PolicyAnalyzer(DEFAULT_POLICY_PACK, transport="http")
