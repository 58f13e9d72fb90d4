"""The pack's request cache (ml_guardrails.request_cache) changes what the SDK's analyzer costs,
never what it answers.

The SDK's servicer runs in this process here, fed the requests the offline preview builds for
sample stacks (as they are, and with properties dropped or unknown, which violates policies):
each response must be byte-identical with and without the cache, each resource must be
deserialized once per request, policies of other types must not run, and no policy may change
the values the cache shares between them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from google.protobuf import json_format, struct_pb2
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
    original, direct = json_format.MessageToDict, request_cache.struct_to_dict

    def counting(message: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(message)
        return original(message, *args, **kwargs)

    def counting_direct(message: Any) -> Any:  # the cache converts a Struct itself
        calls.append(message)
        return direct(message)

    request_cache.uninstall()
    monkeypatch.setattr(json_format, "MessageToDict", counting)
    monkeypatch.setattr(request_cache, "struct_to_dict", counting_direct)
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
    # Each resource's properties, and each provider not built before (one per distinct message).
    providers = {r.provider.SerializeToString(deterministic=True) for r in stack.resources if r.HasField("provider")}
    providers.discard(resource.provider.SerializeToString(deterministic=True))
    assert len(message_to_dict_calls) == len(stack.resources) + len(providers)
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


def _random_value(rng: random.Random, depth: int) -> Any:
    kinds = ["text", "number", "bool", "null", "unset"] + (["list", "struct"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "text":
        return rng.choice(["", "a", "ünï", "arn:aws:iam::111111111111:role/x", "1.0", "04:00:00000000000000000000000000000000"])
    if kind == "number":
        return rng.choice([0, -0.0, 1, 1.5, -3, 2**53, 1e-300, 1e300, 12345678901234567890])
    if kind == "bool":
        return rng.random() < 0.5
    if kind in ("null", "unset"):
        return kind
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{n}{rng.choice(['', 'é', '-x'])}": _random_value(rng, depth + 1) for n in range(rng.randrange(5))}


def _set(target: Any, value: Any) -> None:
    """`value` into the protobuf Value `target` ("unset" leaves it without a kind)."""
    if value == "null":
        target.null_value = 0
    elif value == "unset":
        pass
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, (int, float)):
        target.number_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, list):
        target.list_value.SetInParent()
        for item in value:
            _set(target.list_value.values.add(), item)
    else:
        target.struct_value.SetInParent()
        for key, item in value.items():
            _set(target.struct_value.fields[key], item)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    for key, item in values.items():
        _set(struct.fields[key], item)
    return struct


def test_a_struct_converts_to_the_dict_json_format_gives(requests):
    """The cache's Struct conversion against json_format's, value, type and key order alike: on
    every Struct of the sample requests and on 400 seeded random ones."""
    structs = []
    for _, resources, stack in requests:
        for message in [*resources, *stack.resources]:
            structs.append(message.properties)
            if message.HasField("provider"):
                structs.append(message.provider.properties)
    rng = random.Random(17)
    structs += [_struct({f"p{n}": _random_value(rng, 0) for n in range(rng.randrange(6))}) for _ in range(400)]
    structs.append(struct_pb2.Struct())
    for struct in structs:
        ours, theirs = request_cache.struct_to_dict(struct), json_format.MessageToDict(struct)
        assert ours == theirs and json.dumps(ours) == json.dumps(theirs)
    assert any(isinstance(v, float) and v == int(v) for s in structs for v in json_format.MessageToDict(s).values()
               if isinstance(v, float))
    for bad in (math.inf, -math.inf, math.nan):
        struct = _struct({"ok": 1, "nested": {"bad": [bad]}})
        with pytest.raises(ValueError) as ours:
            request_cache.struct_to_dict(struct)
        with pytest.raises(ValueError) as theirs:
            json_format.MessageToDict(struct)
        assert str(ours.value) == str(theirs.value)


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
    # Shared across requests: the providers built once for every request carrying them, and
    # what the pack derived from them, still what a request gives afresh.
    shared = 0
    for run, resources, _ in requests:
        for request in resources:
            if request.HasField("provider"):
                fresh = request_cache._ORIGINALS["_get_provider_resource"](servicer, request)  # noqa: SLF001
                kept = request_cache._providers[request.provider.SerializeToString(deterministic=True)]  # noqa: SLF001
                assert _canonical(kept) == _canonical(fresh)
                info = request_cache._objects.get(("provider", id(kept)))  # noqa: SLF001
                if info is not None:
                    again = provider_info(fresh)
                    assert info[1] == again and info[1].default_tags == again.default_tags  # fields, and the cached tags
                    shared += 1
    assert shared > 100


def test_a_provider_is_built_once_for_the_requests_that_carry_it(servicer, requests):
    """Requests carrying byte-identical providers get one provider object (and one view of it
    from the pack); a provider that differs in anything gets its own."""
    _, resources, _ = requests[0]
    with_provider = [r for r in resources if r.HasField("provider")]
    seen: dict[bytes, Any] = {}
    for request in with_provider:
        with request_cache.scope():
            provider = servicer._get_provider_resource(request)  # noqa: SLF001
        key = request.provider.SerializeToString(deterministic=True)
        assert seen.setdefault(key, provider) is provider
    assert len(seen) < len(with_provider) / 5
    changed = type(with_provider[0])()
    changed.CopyFrom(with_provider[0])
    changed.provider.properties["region"] = "eu-central-1"
    with request_cache.scope():
        other = servicer._get_provider_resource(changed)  # noqa: SLF001
    assert other is not seen[with_provider[0].provider.SerializeToString(deterministic=True)]
    assert other.props["region"] == "eu-central-1"
    with request_cache.uncached():  # the SDK's own: one per request
        assert servicer._get_provider_resource(with_provider[0]) is not servicer._get_provider_resource(with_provider[0])  # noqa: SLF001


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


def _stack_policy_arguments(servicer: Any, stack: Any, monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """The resources each stack policy was given for one AnalyzeStack call."""
    given: list[list[Any]] = []
    for policy in servicer._PolicyAnalyzerServicer__policies:  # noqa: SLF001
        if isinstance(policy, StackValidationPolicy):
            monkeypatch.setattr(policy, "validate",
                                lambda args, report, f=policy.validate: (given.append(args.resources), f(args, report))[1])
    servicer.AnalyzeStack(stack, None)
    monkeypatch.undo()
    return given


def test_stack_policies_share_one_build_of_the_stack(servicer, requests, monkeypatch):
    """AnalyzeStack builds each resource of the stack once for all stack policies (the SDK builds
    it for each), linked to its parent and dependencies as the SDK links them; each policy gets
    a list of its own."""
    _, _, stack = requests[0]
    given = _stack_policy_arguments(servicer, stack, monkeypatch)
    assert len(given) == sum(isinstance(p, StackValidationPolicy) for p in all_policies()) > 10
    first = given[0]
    assert [r.urn for r in first] == [m.urn for m in stack.resources]
    for resources in given[1:]:
        assert resources is not first and all(a is b for a, b in zip(resources, first, strict=True))
    by_urn = {r.urn: r for r in first}
    for resource, message in zip(first, stack.resources):
        assert resource.parent is by_urn.get(message.parent)
        assert resource.dependencies == [by_urn[u] for u in message.dependencies if u in by_urn]
        assert {k: v for k, v in resource.property_dependencies.items()} == {
            k: [by_urn[u] for u in v.urns if u in by_urn] for k, v in message.propertyDependencies.items()}
    assert any(r.parent is not None for r in first) and any(r.dependencies for r in first)
    assert any(r.property_dependencies for r in first)
    with request_cache.uncached():  # the SDK's own: a build per policy
        again = _stack_policy_arguments(servicer, stack, monkeypatch)
    assert again[0][0] is not again[1][0]


def _edge_policies() -> list[Any]:
    """Stack policies that take each of the SDK's paths: a report, an unknown value read, not
    applicable, asynchronous, remediating, disabled, configured; and a resource policy between."""
    def reads_unknowns(args: Any, report: Any) -> None:
        for resource in args.resources:
            for value in resource.props.values():
                str(value)
        report("read them all", args.resources[0].urn)

    async def asynchronous(args: Any, report: Any) -> None:
        report(f"{len(args.resources)} resources, parent of the last: {args.resources[-1].parent.urn}")

    def configured(args: Any, report: Any) -> None:
        report(json.dumps(dict(args.get_config() or {}), sort_keys=True), None)

    def linked(args: Any, report: Any) -> None:
        for resource in args.resources:
            if resource.dependencies or resource.property_dependencies:
                report(f"{[d.urn for d in resource.dependencies]} "
                       f"{ {k: [d.urn for d in v] for k, v in resource.property_dependencies.items()} }", resource.urn)

    return [
        StackValidationPolicy("edge-reads-unknowns", "reads every property", reads_unknowns,
                              enforcement_level=EnforcementLevel.MANDATORY),
        ResourceValidationPolicy("edge-resource", "a resource policy", lambda args, report: report("r")),
        StackValidationPolicy("edge-not-applicable", "never applies",
                              lambda args, report: args.not_applicable("nothing to see")),
        StackValidationPolicy("edge-async", "asynchronous", asynchronous),
        StackValidationPolicy("edge-remediate", "remediating", lambda args, report: report("r"),
                              enforcement_level=EnforcementLevel.REMEDIATE),
        StackValidationPolicy("edge-disabled", "disabled", lambda args, report: report("never"),
                              enforcement_level=EnforcementLevel.DISABLED),
        StackValidationPolicy("edge-configured", "configured", configured),
        StackValidationPolicy("edge-linked", "links", linked),
    ]


def test_stack_analysis_answers_as_the_sdk_on_each_of_its_paths(requests):
    """Policies that take every path of the SDK's AnalyzeStack, on sample stacks with unknown
    values: the same response, byte for byte, with the stack built once and as the SDK builds it."""
    running = sdk._PolicyAnalyzerServicer("edge-pack", "1.2.3", _edge_policies(), EnforcementLevel.ADVISORY)  # noqa: SLF001
    configure = analyzer_pb2.ConfigureAnalyzerRequest()
    configure.policyConfig["edge-configured"].properties.update({"limit": 3, "names": ["a", "b"]})
    running.Configure(configure, None)
    answers = {}
    for cached in (True, False):
        with (contextlib.nullcontext() if cached else request_cache.uncached()):
            assert request_cache.installed() is cached
            answers[cached] = [running.AnalyzeStack(stack, None).SerializeToString(deterministic=True)
                               for _, _, stack in requests]
    assert answers[True] == answers[False]
    responses = [analyzer_pb2.AnalyzeResponse.FromString(a) for a in answers[True]]
    reported = {d.policyName for r in responses for d in r.diagnostics}
    assert {"edge-reads-unknowns", "edge-async", "edge-remediate", "edge-configured", "edge-linked"} <= reported
    assert "edge-disabled" not in reported and "edge-resource" not in reported
    assert any("during preview" in d.message for r in responses for d in r.diagnostics)  # an unknown read
    assert all([n.policy_name for n in r.not_applicable] == ["edge-not-applicable"] for r in responses)


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
