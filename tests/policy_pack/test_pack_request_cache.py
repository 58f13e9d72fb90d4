"""The pack's request cache (ml_guardrails.request_cache) changes what the SDK's analyzer costs,
never what it answers.

The SDK's servicer runs in this process here, fed the requests the offline preview builds for
sample stacks (as they are, and with properties dropped or unknown, which violates policies):
each response must be byte-identical with and without the cache, each resource must be
deserialized once per request, policies of other types must not run, and no policy may change
the values the cache shares between them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import deserialize_properties

from ml_guardrails import PACK_NAME, all_policies, request_cache
from ml_guardrails.common import _StackIndex, plain, provider_info
from offline_preview.analysis import analyzed_resources
from offline_preview.policy_analyzer import PolicyAnalyzer, analyze_request, analyze_stack_request, load_policy_config
from pack_helpers import PACK_DIR, SAMPLE_CONFIG

STACKS = ("organization", "identity", "security")  # the first sample stacks: SCPs, roles, the baseline


class _InProcess:
    """The analyzer client's stub, answered by a servicer in this process."""

    def __init__(self, servicer: Any) -> None:
        self.servicer = servicer

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.servicer, name)
        return lambda request, timeout=None: method(request, None)


@pytest.fixture(scope="module")
def servicer() -> Iterator[Any]:
    """The pack's policies in the SDK's servicer, configured by the client as the engine does."""
    assert request_cache.install()
    running = sdk._PolicyAnalyzerServicer(PACK_NAME, "0.0.1", all_policies(), EnforcementLevel.MANDATORY)  # noqa: SLF001
    client = PolicyAnalyzer(PACK_DIR)
    client._stub = _InProcess(running)  # noqa: SLF001
    client.info = client._analyzer_info()  # noqa: SLF001
    client.configure(load_policy_config(SAMPLE_CONFIG))
    yield running
    request_cache.uninstall()


def _degraded(value: Any, seed: str) -> Any:
    """`value` with some properties left out, some unknown and booleans flipped, chosen by their
    names (deterministic): what makes the policies report."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, list):
        return [_degraded(item, f"{seed}[{n}]") for n, item in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        pick = int(hashlib.sha256(f"{seed}/{key}".encode()).hexdigest(), 16) % 5
        if pick == 0:
            continue
        out[key] = pulumi.output.UNKNOWN if pick == 1 else _degraded(item, f"{seed}/{key}")
    return out


def _requests(sample_runs: Any, stack: str, degrade: bool) -> tuple[Any, list[Any], Any]:
    run = sample_runs(stack)
    inputs, outputs = analyzed_resources(run), analyzed_resources(run, use_outputs=True)
    if degrade:
        for resource in inputs + outputs:
            resource.properties = _degraded(resource.properties, resource.urn)
    providers: dict = {}
    return run, [analyze_request(r, providers) for r in inputs], analyze_stack_request(outputs)


@pytest.fixture(scope="module")
def requests(sample_runs: Any) -> list[tuple[Any, list[Any], Any]]:
    return [_requests(sample_runs, stack, degrade) for stack in STACKS for degrade in (False, True)]


def _responses(servicer: Any, requests: list[tuple[Any, list[Any], Any]]) -> list[bytes]:
    answers = []
    for run, resources, stack in requests:
        servicer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=run.stack, project=run.project, tags={"pulumi:project": run.project}), None)
        answers += [servicer.Analyze(r, None).SerializeToString(deterministic=True) for r in resources]
        answers.append(servicer.AnalyzeStack(stack, None).SerializeToString(deterministic=True))
    return answers


def test_responses_are_byte_identical_with_and_without_the_cache(servicer, requests):
    cached = _responses(servicer, requests)
    with request_cache.uncached():
        assert not request_cache.installed()
        uncached = _responses(servicer, requests)
    assert request_cache.installed()
    assert cached == uncached
    # The degraded stacks make the comparison cover violations of many policies, not only passes.
    diagnostics = [d for answer in cached for d in analyzer_pb2.AnalyzeResponse.FromString(answer).diagnostics]
    assert len(diagnostics) >= 10 and len({d.policyName for d in diagnostics}) >= 5


@pytest.fixture
def message_to_dict_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The messages the SDK's analyzer converts to dicts (the cache re-installed around a counter)."""
    calls: list[Any] = []
    original = json_format.MessageToDict

    def counting(message: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(message)
        return original(message, *args, **kwargs)

    request_cache.uninstall()
    monkeypatch.setattr(json_format, "MessageToDict", counting)
    request_cache.install()
    yield calls
    request_cache.uninstall()
    monkeypatch.undo()
    request_cache.install()


def test_each_resource_is_deserialized_once_per_request(servicer, requests, message_to_dict_calls):
    _, resources, stack = requests[0]
    resource = next(r for r in resources if r.HasField("provider"))
    servicer.Analyze(resource, None)
    assert message_to_dict_calls == [resource.properties, resource.provider.properties]
    message_to_dict_calls.clear()
    servicer.AnalyzeStack(stack, None)
    with_provider = sum(1 for r in stack.resources if r.HasField("provider"))
    assert len(message_to_dict_calls) == len(stack.resources) + with_provider
    message_to_dict_calls.clear()
    # The SDK's own analyzer: once per policy.
    with request_cache.uncached():
        servicer.Analyze(resource, None)
    resource_policies = [p for p in all_policies() if isinstance(p, ResourceValidationPolicy)]
    assert len(message_to_dict_calls) == 2 * len(resource_policies)


def test_policies_of_other_types_are_not_run(servicer, requests, monkeypatch):
    ran: list[str] = []
    policies = servicer._PolicyAnalyzerServicer__policies  # noqa: SLF001
    for policy in policies:
        original = policy.validate
        monkeypatch.setattr(policy, "validate", lambda args, report, p=policy, f=original: (ran.append(p.name), f(args, report))[1])
    _, resources, _ = requests[0]
    for request in resources:
        ran.clear()
        servicer.Analyze(request, None)
        expected = [p.name for p in policies if isinstance(p, ResourceValidationPolicy)
                    and (p.resource_types is None or request.type in p.resource_types)]
        assert ran == expected, request.type
    assert any(p.resource_types is None for p in policies if isinstance(p, ResourceValidationPolicy))
    assert sum(isinstance(p, ResourceValidationPolicy) and p.resource_types is not None for p in policies) >= 20


def _canonical(value: Any) -> str:
    """A comparable text of plain data, proxies, assets and the pack's dataclasses."""
    return json.dumps(plain(value), sort_keys=True, default=lambda o: [type(o).__name__, _canonical(vars(o))])


def _fresh(request: Any) -> dict[str, Any]:
    return deserialize_properties(json_format.MessageToDict(request.properties))


def test_no_policy_changes_what_the_cache_shares(servicer, requests):
    """After every policy of a request ran, each shared value is still what the request gives afresh."""
    checked = 0
    for run, resources, stack in requests:
        servicer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(stack=run.stack, project=run.project), None)
        for request in [*resources, stack]:
            with request_cache.scope() as memo:
                (servicer.AnalyzeStack if request is stack else servicer.Analyze)(request, None)
            for key, value in memo.items():
                if key[0] == "once":
                    if key[1] == "props":
                        assert _canonical(value) == _canonical(_fresh(request))
                    elif key[1] == "provider":
                        fresh = servicer._get_provider_resource(request)  # noqa: SLF001 (outside a request: not shared)
                        assert _canonical(value) == _canonical(provider_info(fresh))
                    else:
                        assert key[1] == "stack" and isinstance(value, _StackIndex)
                        assert [_canonical(r.props) for r in value.resources] == [
                            _canonical(_fresh(r)) for r in stack.resources]
                else:
                    kind, function, _ = key
                    argument, result = value
                    again = function(servicer, argument) if kind == "method" else function(argument)
                    assert _canonical(result) == _canonical(again)
                checked += 1
    assert checked > 1000


def test_only_the_sdk_it_was_checked_with_is_wrapped(servicer, monkeypatch):
    import pulumi_policy.version  # noqa: PLC0415

    assert request_cache.sdk_supported() and request_cache.installed()
    analyze = sdk._PolicyAnalyzerServicer.Analyze  # noqa: SLF001
    request_cache.uninstall()
    unwrapped = sdk._PolicyAnalyzerServicer.Analyze  # noqa: SLF001
    assert unwrapped is not analyze
    try:
        monkeypatch.setattr(pulumi_policy.version, "VERSION", "9.9.9")
        assert not request_cache.sdk_supported()
        assert request_cache.install() is False and not request_cache.installed()
        assert sdk._PolicyAnalyzerServicer.Analyze is unwrapped  # noqa: SLF001
    finally:
        monkeypatch.undo()
        assert request_cache.install()


def test_policy_types_are_declared_on_every_resource_policy():
    for policy in all_policies():
        if isinstance(policy, ResourceValidationPolicy):
            assert policy.resource_types is None or isinstance(policy.resource_types, frozenset), policy.name
        else:
            assert isinstance(policy, StackValidationPolicy)


def test_stack_policies_share_one_view_of_each_resource(servicer, requests):
    """AnalyzeStack's resources reach the SDK as views read from protobuf once per request: one
    per resource, the same for every stack policy, with the message's dependencies."""
    _, _, stack = requests[0]
    with request_cache.scope() as memo:
        servicer.AnalyzeStack(stack, None)
    options = [value[0] for key, value in memo.items()
               if key[0] == "method" and key[1].__name__ == "_get_resource_options"]
    assert len(options) == len(stack.resources) > 10
    assert all(isinstance(view, request_cache._StackResource) for view in options)  # noqa: SLF001
    for view, message in zip(options, stack.resources):
        assert view.urn == message.urn and view.dependencies == tuple(message.dependencies)
        assert {k: v.urns for k, v in view.propertyDependencies.items()} == {
            k: tuple(v.urns) for k, v in message.propertyDependencies.items()}
    assert any(view.propertyDependencies for view in options)


def test_the_runtime_settings_signature_is_read_once(servicer, requests, monkeypatch):
    """Every request configures the runtime from the environment the CLI gives a pack; the
    signature of pulumi.runtime.Settings it reads each time is read once."""
    import inspect  # noqa: PLC0415

    calls: list[Any] = []
    monkeypatch.setenv("PULUMI_PROJECT", "ml-platform")
    monkeypatch.setenv("PULUMI_STACK", "identity")
    monkeypatch.setenv("PULUMI_DRY_RUN", "true")
    monkeypatch.setattr(pulumi.runtime, "configure", lambda settings: None)  # this process's runtime stays as it is
    request_cache.uninstall()
    monkeypatch.setattr(sdk, "signature", lambda target: (calls.append(target), inspect.signature(target))[1])
    request_cache.install()
    try:
        _, resources, _ = requests[0]
        for request in resources[:5]:
            servicer.Analyze(request, None)
        assert calls == [pulumi.runtime.Settings]
    finally:
        request_cache.uninstall()
        monkeypatch.undo()
        request_cache.install()
