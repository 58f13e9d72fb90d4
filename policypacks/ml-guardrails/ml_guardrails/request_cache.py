"""Each resource of an analyzer request deserialized once, not once per policy.

The Python policy SDK's analyzer (pulumi-policy 1.21, `pulumi_policy.policy._PolicyAnalyzerServicer`)
rebuilds a resource for every policy it runs: `Analyze` converts the request's protobuf Struct to a
dict (`json_format.MessageToDict`, pure Python), deserializes it, wraps it in unknown-checking
proxies and does the same for the provider, once per resource policy (29 in this pack, 28 of
which look at a few types only); `AnalyzeStack` does it for every resource of the stack once per
stack policy, and each stack policy then made its own plain copy and index of the stack.
Profiled on the sample platform that was most of the pack's time.

:func:`install` (called by the pack's ``__main__.py``) wraps the servicer's `Analyze`, and
replaces its `AnalyzeStack` with the same steps that build the stack once (:func:`_analyze_stack`):
during one call, each of those steps runs once per protobuf message and the policies share its
result, and :func:`once` gives the pack's own per-request values (a
resource's plain properties, the stack index) the same lifetime. Nothing else changes: the same
policies run in the same order on equal values and report the same diagnostics, under the
Pulumi CLI as here. Sharing is sound because nothing in this pack changes a value it is given
(`resource_policy` and `stack_policy` hand each policy read-only use of them; the pack's tests
check that every policy leaves them as it found them and that responses are byte-identical with
and without the cache). Other SDK versions are left unwrapped: sharing was checked against this
one's code.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

# The SDK versions whose analyzer was read and tested with the cache.
SUPPORTED_SDK_VERSIONS = ("1.21.0",)

_local = threading.local()  # the gRPC server runs each call on one of its threads


def _memo() -> dict[Any, Any] | None:
    return getattr(_local, "memo", None)


def once(name: str, build: Callable[[], T]) -> T:
    """`build()`, computed once per analyzer request under `name` (every call outside one).

    Within one `Analyze` call every resource policy sees the same resource, within one
    `AnalyzeStack` call every stack policy the same resources: what is built from them once
    serves every policy of the call."""
    memo = _memo()
    if memo is None:
        return build()
    key = ("once", name)
    if key not in memo:
        memo[key] = build()
    return memo[key]


def _per_value(function: Callable[..., T]) -> Callable[..., T]:
    """`function(value)` once per `value` object during a request; the object is kept with the
    result, so its id cannot be reused by another while the request lasts."""

    @functools.wraps(function)
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> T:
        memo = _memo()
        if memo is None or args or kwargs:
            return function(value, *args, **kwargs)
        key = ("value", function, id(value))
        hit = memo.get(key)
        if hit is None or hit[0] is not value:
            hit = memo[key] = (value, function(value))
        return hit[1]

    return wrapper


def _per_request(method: Callable[..., T]) -> Callable[..., T]:
    """A servicer method `method(self, request)` once per request message during a call."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any) -> T:
        memo = _memo()
        if memo is None:
            return method(self, request)
        key = ("method", method, id(request))
        hit = memo.get(key)
        if hit is None or hit[0] is not request:
            hit = memo[key] = (request, method(self, request))
        return hit[1]

    return wrapper


# Providers seen lately, by their message's bytes (a stack has a few; every request carries one).
_PROVIDERS_KEPT = 64
_providers: dict[bytes, Any] = {}
_objects: dict[tuple[str, int], tuple[Any, Any]] = {}
_SHARED_LOCK = threading.Lock()


def _per_provider(method: Callable[..., T]) -> Callable[..., T]:
    """`servicer._get_provider_resource(request)` once per provider, across requests.

    Every `Analyze` request carries its resource's provider, the same message for most of a
    stack's resources; the SDK builds it (a dict, deserialized, proxied) for each. Here a
    provider whose message has the same bytes as one built lately is the one built then: the
    SDK's answer is a function of that message alone (type, URN, name, properties)."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any) -> T:
        if _memo() is None or not request.HasField("provider"):
            return method(self, request)
        key = request.provider.SerializeToString(deterministic=True)
        hit = _providers.get(key)
        if hit is None:
            hit = method(self, request)
            with _SHARED_LOCK:
                if len(_providers) >= _PROVIDERS_KEPT:
                    _providers.pop(next(iter(_providers)))
                _providers[key] = hit
        return hit

    return wrapper


def per_object(name: str, value: Any, build: Callable[[], T]) -> T:
    """`build()` once per `value` object under `name`, across requests (every call outside one):
    for what the pack derives from a shared provider. The object is kept with the result, so
    its id cannot be reused while it is remembered (as many as `_PROVIDERS_KEPT` per name)."""
    if _memo() is None:
        return build()
    key = (name, id(value))
    hit = _objects.get(key)
    if hit is None or hit[0] is not value:
        hit = (value, build())
        with _SHARED_LOCK:
            if len(_objects) >= 4 * _PROVIDERS_KEPT:
                _objects.pop(next(iter(_objects)))
            _objects[key] = hit
    return hit[1]


def _scoped(method: Callable[..., T], by_type: bool = False) -> Callable[..., T]:
    """An RPC handler whose call is one request: the memo lives as long as the call.

    With `by_type` (`Analyze`: one resource) the handler runs on a view of the servicer whose
    policies are those that can apply to the request's resource type: a policy declaring
    `resource_types` (see `common.resource_policy`) reports nothing on other types, so leaving
    it out changes no response and saves the SDK building the resource for it."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: Any) -> T:
        with scope():
            if by_type:
                return method(_ServicerView(self, _policies_for(self, request.type)), request, context)
            return method(self, request, context)

    return wrapper


def _analyze_stack(servicer: Any, request: Any, _context: Any) -> Any:
    """The SDK's `AnalyzeStack` (1.21.0, read line by line) with the stack built once.

    The SDK builds every resource of the stack (properties, options, provider, then parent and
    dependency links) again for each stack policy (16 in this pack), before running it; here
    they are built once, the same way, and each policy gets its own list of them. Everything
    else is the SDK's, in its order: the runtime configured first, disabled policies skipped,
    a remediating level reported as mandatory, an unknown value or `not_applicable` answered as
    the SDK answers them.
    """
    from pulumi_policy import policy as sdk  # noqa: PLC0415

    servicer._configure_runtime_settings()  # noqa: SLF001
    response = sdk.proto.AnalyzeResponse()
    policies = [p for p in getattr(servicer, _POLICIES) if isinstance(p, sdk.StackValidationPolicy)]
    levels = [servicer._get_enforcement_level(p) for p in policies]  # noqa: SLF001
    if all(level == sdk.EnforcementLevel.DISABLED for level in levels):
        return response
    resources = _stack_resources(servicer, request.resources, sdk)
    pack_name = getattr(servicer, "_PolicyAnalyzerServicer__policy_pack_name")
    pack_version = getattr(servicer, "_PolicyAnalyzerServicer__policy_pack_version")
    stack_tags = getattr(servicer, "_PolicyAnalyzerServicer__stack_tags")
    for policy, level in zip(policies, levels):
        if level == sdk.EnforcementLevel.DISABLED:
            continue
        if level == sdk.EnforcementLevel.REMEDIATE:  # stack policies cannot remediate
            level = sdk.EnforcementLevel.MANDATORY
        report_violation = servicer._create_report_violation(  # noqa: SLF001
            response, policy.name, policy.description, level, policy.severity)
        args = sdk.StackValidationArgs(list(resources), servicer._get_policy_config(policy.name), stack_tags)  # noqa: SLF001
        try:
            result = policy.validate(args, report_violation)
            if sdk.isawaitable(result):
                loop = asyncio.new_event_loop()
                task = asyncio.Task(result, loop=loop)
                loop.run_until_complete(task)
                loop.close()
        except sdk.UnknownValueError as e:
            response.diagnostics.append(sdk.proto.AnalyzeDiagnostic(
                policyName=policy.name, policyPackName=pack_name, policyPackVersion=pack_version,
                message=(f"can't run policy '{policy.name}' from policy pack "
                         f"'{pack_name}@v{pack_version}' during preview: {e.message}"),
                urn="", description=policy.description,
                enforcementLevel=servicer._map_enforcement_level(sdk.EnforcementLevel.ADVISORY),  # noqa: SLF001
            ))
        except sdk._NotApplicableError as e:  # noqa: SLF001
            response.not_applicable.append(sdk.proto.PolicyNotApplicable(policy_name=policy.name, reason=e.reason or ""))
    return response


def _stack_resources(servicer: Any, messages: Any, sdk: Any) -> list[Any]:
    """The stack's resources as the SDK builds them for a stack policy, linked to their parents
    and dependencies among them."""
    built = []
    for r in messages:
        props = sdk.unknown_checking_proxy(sdk.deserialize_properties(sdk.json_format.MessageToDict(r.properties)))
        resource = sdk.PolicyResource(r.type, props, r.urn, r.name, servicer._get_resource_options(r),  # noqa: SLF001
                                      servicer._get_provider_resource(r), None, [], {})  # noqa: SLF001
        built.append((resource, r.parent, list(r.dependencies),
                      {k: list(v.urns) for k, v in r.propertyDependencies.items()}))
    by_urn = {resource.urn: resource for resource, *_ in built}
    for resource, parent, dependencies, property_dependencies in built:
        if parent is not None and parent in by_urn:
            resource.parent = by_urn[parent]
        resource.dependencies.extend(by_urn[d] for d in dependencies if d in by_urn)
        for key, urns in property_dependencies.items():
            resource.property_dependencies[key] = [by_urn[d] for d in urns if d in by_urn]
    return [resource for resource, *_ in built]


@contextmanager
def scope() -> Iterator[dict[Any, Any]]:
    """One request's memo on this thread, for the block (the outermost block's, when nested);
    yields it (tests look at what the policies shared)."""
    memo = _memo()
    if memo is not None:
        yield memo
        return
    _local.memo = memo = {}
    try:
        yield memo
    finally:
        _local.memo = None


_POLICIES = "_PolicyAnalyzerServicer__policies"  # the servicer's (name-mangled) list of policies
_BY_TYPE: dict[tuple[int, str], tuple[list[Any], list[Any]]] = {}
_BY_TYPE_LOCK = threading.Lock()


def _policies_for(servicer: Any, resource_type: str) -> list[Any]:
    """The servicer's policies, in their order, less those that declare types other than `resource_type`."""
    policies = getattr(servicer, _POLICIES)
    key = (id(policies), resource_type)
    hit = _BY_TYPE.get(key)
    if hit is None or hit[0] is not policies:
        kept = [p for p in policies
                if getattr(p, "resource_types", None) is None or resource_type in p.resource_types]
        with _BY_TYPE_LOCK:
            hit = _BY_TYPE[key] = (policies, kept)
    return hit[1]


class _ServicerView:
    """The servicer, with only some of its policies (one call's view; everything else is the servicer's)."""

    def __init__(self, servicer: Any, policies: list[Any]) -> None:
        self.__dict__["_servicer"] = servicer
        self.__dict__[_POLICIES] = policies

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_servicer"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__dict__["_servicer"], name, value)


_STRUCT = "google.protobuf.Struct"


def struct_to_dict(struct: Any) -> dict[str, Any]:
    """`json_format.MessageToDict` of a `google.protobuf.Struct` (what the SDK converts: every
    resource's properties), by a direct walk instead of json_format's generic printer, which
    looks up each value's field descriptor and type on the way. The same dict: numbers stay
    floats, an unset value is None, keys in the map's order, and an infinite or NaN number
    raises json_format's ValueError."""
    return _fields(struct)


def _fields(struct: Any) -> dict[str, Any]:
    fields = struct.fields
    return {key: _value(fields[key]) for key in fields}


def _value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return _fields(value.struct_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        if math.isinf(number):
            raise ValueError("Fail to serialize Infinity for Value.number_value, which would parse as string_value")
        if math.isnan(number):
            raise ValueError("Fail to serialize NaN for Value.number_value, which would parse as string_value")
        return number
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    return None  # null_value, or no kind at all


class _JsonFormat:
    """`google.protobuf.json_format` as the SDK's analyzer module sees it, `MessageToDict`
    memoized, and a Struct converted by :func:`struct_to_dict`."""

    def __init__(self, module: Any) -> None:
        self._module = module
        original = module.MessageToDict

        def message_to_dict(message: Any, *args: Any, **kwargs: Any) -> Any:
            if not args and not kwargs and message.DESCRIPTOR.full_name == _STRUCT:
                return struct_to_dict(message)
            return original(message, *args, **kwargs)

        self.MessageToDict = _per_value(message_to_dict)  # noqa: N815 (the module's name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


_ORIGINALS: dict[str, Any] = {}


def sdk_supported() -> bool:
    try:
        from pulumi_policy import policy  # noqa: PLC0415
        from pulumi_policy.version import VERSION  # noqa: PLC0415
    except ImportError:
        return False
    servicer = getattr(policy, "_PolicyAnalyzerServicer", None)
    names = ("json_format", "deserialize_properties", "unknown_checking_proxy", "signature")
    methods = ("Analyze", "AnalyzeStack", "_get_resource_options", "_get_provider_resource")
    return (VERSION in SUPPORTED_SDK_VERSIONS and servicer is not None
            and all(hasattr(policy, n) for n in names) and all(hasattr(servicer, m) for m in methods))


def installed() -> bool:
    return bool(_ORIGINALS)


def install() -> bool:
    """Wrap the SDK's analyzer (once); False, and nothing changed, for an SDK this was not checked with."""
    if _ORIGINALS:
        return True
    if not sdk_supported():
        return False
    from pulumi_policy import policy  # noqa: PLC0415

    servicer = policy._PolicyAnalyzerServicer  # noqa: SLF001
    _ORIGINALS.update({
        "json_format": policy.json_format, "deserialize_properties": policy.deserialize_properties,
        "unknown_checking_proxy": policy.unknown_checking_proxy, "signature": policy.signature,
        "Analyze": servicer.Analyze,
        "AnalyzeStack": servicer.AnalyzeStack, "_get_resource_options": servicer._get_resource_options,  # noqa: SLF001
        "_get_provider_resource": servicer._get_provider_resource,  # noqa: SLF001
    })
    policy.json_format = _JsonFormat(policy.json_format)
    policy.deserialize_properties = _per_value(policy.deserialize_properties)
    policy.unknown_checking_proxy = _per_value(policy.unknown_checking_proxy)
    # Every request configures the runtime, reading the signature of pulumi.runtime.Settings
    # (a tenth of a small request's time); a class's signature does not change.
    policy.signature = functools.lru_cache(maxsize=64)(policy.signature)
    servicer.Analyze = _scoped(servicer.Analyze, by_type=True)
    servicer.AnalyzeStack = _scoped(_analyze_stack)
    servicer._get_resource_options = _per_request(servicer._get_resource_options)  # noqa: SLF001
    servicer._get_provider_resource = _per_provider(servicer._get_provider_resource)  # noqa: SLF001
    return True


def uninstall() -> None:
    """Put the SDK's own functions back (tests compare the two)."""
    if not _ORIGINALS:
        return
    from pulumi_policy import policy  # noqa: PLC0415

    servicer = policy._PolicyAnalyzerServicer  # noqa: SLF001
    for name in ("json_format", "deserialize_properties", "unknown_checking_proxy", "signature"):
        setattr(policy, name, _ORIGINALS[name])
    for name in ("Analyze", "AnalyzeStack", "_get_resource_options", "_get_provider_resource"):
        setattr(servicer, name, _ORIGINALS[name])
    _ORIGINALS.clear()
    _providers.clear()
    _objects.clear()


@contextmanager
def uncached() -> Iterator[None]:
    """The SDK as it is, for the block (tests)."""
    was = installed()
    uninstall()
    try:
        yield
    finally:
        if was:
            install()
