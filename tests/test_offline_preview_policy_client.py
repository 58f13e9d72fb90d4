"""The policy analyzer client builds the engine's requests for less, and keeps several in flight."""

from __future__ import annotations

import enum
from typing import Any

import grpc
import pulumi
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from offline_preview.analysis import analyzed_resources
from offline_preview.policy_analyzer import (
    UNKNOWN,
    AnalyzedResource,
    PolicyAnalyzer,
    PolicyPackError,
    _struct,
    _wire,
    analyze_request,
)
from offline_preview.preview import DEFAULT_POLICY_PACK


class _Text(str, enum.Enum):
    A = "a"


class _Number(enum.IntEnum):
    THREE = 3


class _OutputType(dict):
    """A dict subclass whose attributes shadow dict methods, as generated output types do."""

    @property
    def values(self):  # noqa: D401 (an output property named like the dict method)
        return [1]


VALUES: list[dict[Any, Any]] = [
    {}, {"a": {}}, {"a": []}, {"a": [[], {}, [[]]]}, {"e": _Text.A, "i": _Number.THREE, "t": (1, "x")},
    {"o": _OutputType(x=1, y=[_OutputType()])}, {"u": pulumi.output.UNKNOWN, "v": UNKNOWN, "w": [UNKNOWN]},
    {"__internal": 1, 7: "number key", "f": 1.5, "n": None, "b": True, "big": 2 ** 60 + 1, "neg": -0.0},
    {"asset": pulumi.StringAsset("x"), "archive": pulumi.AssetArchive({"a": pulumi.FileAsset("f")}),
     "nested": {"__hidden": 1, "k": [None, False, {"z": ()}]}},
    {"resource": object(), "deep": {"a": {"b": {"c": [1, {"d": "e"}]}}}},
]


def _reference(values: dict[Any, Any]) -> bytes:
    """What the client sent before it built Structs in one pass: `Struct.update(_wire(values))`."""
    struct = struct_pb2.Struct()
    struct.update(_wire(dict(values)))
    return struct.SerializeToString(deterministic=True)


@pytest.mark.parametrize("values", VALUES, ids=[f"values{n}" for n in range(len(VALUES))])
def test_struct_is_the_message_struct_update_builds(values):
    assert _struct(values).SerializeToString(deterministic=True) == _reference(values)


def test_sample_properties_become_the_same_messages(sample_runs):
    run = sample_runs("organization")
    resources = analyzed_resources(run) + analyzed_resources(run, use_outputs=True)
    values = [r.properties for r in resources] + [r.provider["properties"] for r in resources if r.provider]
    assert len(values) > 100
    assert [_struct(v).SerializeToString(deterministic=True) for v in values] == [_reference(v) for v in values]


def test_resources_of_one_provider_share_its_view_and_message(sample_runs):
    resources = analyzed_resources(sample_runs("organization"))
    by_urn: dict[str, list[AnalyzedResource]] = {}
    for resource in resources:
        if resource.provider:
            by_urn.setdefault(resource.provider["urn"], []).append(resource)
    shared = [group for group in by_urn.values() if len(group) > 1]
    assert shared
    for group in shared:
        assert all(r.provider is group[0].provider for r in group)
    providers: dict = {}
    first, second = (analyze_request(r, providers) for r in shared[0][:2])
    assert first.provider == second.provider and len(providers) == 1
    # Without the cache the same message is built for each.
    assert analyze_request(shared[0][0]).provider == first.provider


class _Call:
    def __init__(self, stub: _Stub, request: Any) -> None:
        self.stub, self.request, self.cancelled = stub, request, False

    def result(self) -> Any:
        self.stub.outstanding -= 1
        if self.request.name == "broken":
            raise _RpcError()
        diagnostic = analyzer_pb2.AnalyzeDiagnostic(policyName="p", message=self.request.name,
                                                   enforcementLevel=analyzer_pb2.MANDATORY)
        return analyzer_pb2.AnalyzeResponse(diagnostics=[diagnostic])

    def cancel(self) -> None:
        self.cancelled = True


class _RpcError(grpc.RpcError):
    def code(self) -> Any:
        return grpc.StatusCode.INTERNAL

    def details(self) -> str:
        return "boom"


class _Stub:
    """Answers `Analyze.future` at once, counting the calls under way."""

    def __init__(self) -> None:
        self.outstanding = self.most = 0
        self.calls: list[_Call] = []
        self.Analyze = self  # noqa: N815 (the stub's method name)

    def future(self, request: Any, timeout: float | None = None) -> _Call:
        self.outstanding += 1
        self.most = max(self.most, self.outstanding)
        self.calls.append(_Call(self, request))
        return self.calls[-1]


def _client(stub: _Stub) -> PolicyAnalyzer:
    client = PolicyAnalyzer(DEFAULT_POLICY_PACK)
    client._stub = stub  # noqa: SLF001
    return client


def test_analyze_all_keeps_calls_in_flight_and_answers_in_order():
    stub = _Stub()
    names = [f"r{n}" for n in range(10)]
    resources = [AnalyzedResource(urn=f"urn:{name}", type="t:m:T", name=name) for name in names]
    found = _client(stub).analyze_all(resources, in_flight=3)
    assert [d.message for d in found] == names and [d.urn for d in found] == [f"urn:{n}" for n in names]
    assert stub.most == 3 and stub.outstanding == 0
    stub = _Stub()
    assert [d.message for d in _client(stub).analyze_each(resources)] == names and stub.most == 1


def test_a_failed_call_names_the_method_and_cancels_the_others():
    stub = _Stub()
    resources = [AnalyzedResource(urn=f"urn:{name}", type="t:m:T", name=name) for name in ("a", "broken", "c", "d")]
    with pytest.raises(PolicyPackError, match="Analyze failed: INTERNAL: boom"):
        _client(stub).analyze_all(resources, in_flight=3)
    assert [c.cancelled for c in stub.calls] == [False, False, True, True]
