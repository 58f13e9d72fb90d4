"""Host a Python policy pack's analyzer and answer its calls over two pipes instead of gRPC.

Run by :class:`offline_preview.policy_analyzer.PolicyAnalyzer` with ``transport="pipe"``, in the
pack's own Python, as a script (the pack's environment need not have the offline preview)::

    python -u pack_host.py REQUEST_FD RESPONSE_FD -- [engine flags] ENGINE_ADDRESS .

The pack starts exactly as under the Pulumi CLI: ``pulumi.policy``'s ``__main__`` reads the
configuration from the environment, configures the runtime and runs the pack's ``__main__.py``,
whose ``PolicyPack(...)`` builds the SDK's analyzer servicer and hands it to
``add_AnalyzerServicer_to_server``. That hand-over is where this host takes the servicer, before
any gRPC server starts (under the CLI, ``PolicyPack(...)`` never returns either: it serves until
killed, so nothing after it in a pack ever runs). From then on each request is the message the
engine would send, given to the same servicer method gRPC would call, and the response is the
message gRPC would return; only the transport differs. It saves the cost of one gRPC call per
resource (on both sides, about a millisecond on a 2-core machine) and lets a whole stack's
`Analyze` requests travel in one frame.

Frames, both ways: a 4-byte big-endian length, then the frame. A request frame is the method
name and its requests; a response frame is the status (``ok`` or a gRPC status code name, with
its details) and the responses of the requests answered. Requests of a frame are answered in
order, and the first failure ends the frame, as a failed call does over gRPC (where later calls
in flight are cancelled). A handler that raises is reported as gRPC reports it: the status its
context was given, else ``UNKNOWN`` with ``Exception calling application: ...`` (the traceback
goes to stderr, as gRPC logs it). After a failure's stderr the host writes `STDERR_MARK`, then
answers, so the client's message can hold the whole traceback.

If the pack's Python policy SDK does not hand its servicer over this way, the host says so
(``unsupported``) and the client talks gRPC instead.
"""

from __future__ import annotations

import os
import select
import struct
import sys
import traceback
from collections.abc import Sequence
from typing import Any

_LENGTH = struct.Struct(">I")
# Written to stderr after what a failed call wrote there (its traceback), before the failure is
# answered: the client, which reads stderr on a thread of its own, waits for it so that the
# error it reports holds the whole traceback. A line of its own, not shown.
STDERR_MARK = "\x1eoffline-preview: a failed call's stderr ends here\n"


class _ServicerTaken(BaseException):
    """Unwinds `PolicyPack(...)` once the servicer is taken (not an Exception: the SDK's main
    catches those and reports them as the pack's failure)."""


class _Context:
    """What a servicer method may do with its gRPC context here: set a status code and details."""

    def __init__(self) -> None:
        self.status: Any = None
        self.status_details = ""

    def set_code(self, code: Any) -> None:
        self.status = code

    def set_details(self, details: str) -> None:
        self.status_details = details

    def code(self) -> Any:
        return self.status

    def details(self) -> str:
        return self.status_details

    def is_active(self) -> bool:
        return True

    def invocation_metadata(self) -> tuple:
        return ()


def _read_exactly(fd: int, size: int, timeout: float | None) -> bytes:
    chunks = []
    while size:
        # The client waits at most `timeout` for each chunk; the host blocks until one comes.
        if timeout is not None and not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, timeout: float | None = None) -> bytes:
    """The next frame from `fd` (EOFError at its end, TimeoutError past `timeout` seconds)."""
    (size,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size, timeout))
    return _read_exactly(fd, size, timeout)


def write_frame(fd: int, parts: list[bytes]) -> None:
    """One frame to `fd`: the parts' length, then the parts."""
    body = b"".join(parts)
    view = memoryview(_LENGTH.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view):]


def _item(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def _items(frame: bytes, offset: int) -> list[bytes]:
    found = []
    while offset < len(frame):
        (size,) = _LENGTH.unpack_from(frame, offset)
        offset += _LENGTH.size
        found.append(frame[offset:offset + size])
        offset += size
    return found


def encode_request(method: str, requests: list[bytes]) -> list[bytes]:
    """A request frame's parts: the method, then each serialized request."""
    return [_item(method.encode()), *(_item(r) for r in requests)]


def encode_response(status: str, details: str = "", responses: Sequence[bytes] = ()) -> list[bytes]:
    """A response frame's parts: the status (`ok` or a gRPC status code name), its details, then
    each serialized response of the requests answered."""
    return [_item(status.encode()), _item(details.encode()), *(_item(r) for r in responses)]


def decode_response(frame: bytes) -> tuple[str, str, list[bytes]]:
    """(status, details, serialized responses) of a response frame."""
    status, details, *responses = _items(frame, 0)
    return status.decode(), details.decode(errors="replace"), responses


def message_class(descriptor: Any) -> Any:
    """The message class of a descriptor, in old and new protobuf runtimes alike."""
    from google.protobuf import message_factory

    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    from google.protobuf import symbol_database

    return symbol_database.Default().GetSymbol(descriptor.full_name)


def _take_servicer() -> tuple[Any, dict[str, Any]]:
    """Run the pack as `python -m pulumi.policy` would, up to the servicer's hand-over."""
    import runpy

    try:
        from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
    except ImportError:
        return None, {}
    if not hasattr(analyzer_pb2_grpc, "add_AnalyzerServicer_to_server"):
        return None, {}
    taken: list[Any] = []

    def take(servicer: Any, _server: Any) -> None:
        taken.append(servicer)
        raise _ServicerTaken

    analyzer_pb2_grpc.add_AnalyzerServicer_to_server = take
    try:
        runpy.run_module("pulumi.policy", run_name="__main__", alter_sys=True)
    except _ServicerTaken:
        pass
    types = {m.name: message_class(m.input_type) for m in analyzer_pb2.DESCRIPTOR.services_by_name["Analyzer"].methods}
    return (taken[0] if taken else None), types


def _answer(servicer: Any, request_type: Any, method: str, requests: list[bytes]) -> list[bytes]:
    """The response frame to one request frame; a failure's stderr ends with `STDERR_MARK`."""
    frame = _respond(servicer, request_type, method, requests)
    if frame[0][_LENGTH.size:] != b"ok":  # the status, first
        sys.stderr.write(STDERR_MARK)
        sys.stderr.flush()
    return frame


def _respond(servicer: Any, request_type: Any, method: str, requests: list[bytes]) -> list[bytes]:
    import grpc

    responses: list[bytes] = []
    handler = getattr(servicer, method, None)
    if handler is None or request_type is None:  # what a gRPC server says of a method it lacks
        return encode_response("UNIMPLEMENTED", "Method not found!")
    for data in requests:
        context = _Context()
        try:
            response = handler(request_type.FromString(data), context)
        except Exception as exc:  # noqa: BLE001 reported as gRPC would report it
            if context.status is None or context.status == grpc.StatusCode.OK:
                traceback.print_exc()
                status, details = "UNKNOWN", f"Exception calling application: {exc}"
            else:
                status, details = context.status.name, context.status_details
            return encode_response(status, details, responses)
        if context.status is not None and context.status != grpc.StatusCode.OK:
            return encode_response(context.status.name, context.status_details, responses)
        responses.append(response.SerializeToString())
    return encode_response("ok", "", responses)


def main(argv: list[str]) -> int:
    request_fd, response_fd = int(argv[0]), int(argv[1])
    plugin_args = argv[3:] if len(argv) > 2 and argv[2] == "--" else argv[2:]
    sys.argv = ["pulumi.policy", *plugin_args]
    servicer, types = _take_servicer()
    if servicer is None:
        write_frame(response_fd, encode_response("unsupported", "the pack's policy SDK handed over no servicer"))
        return 3
    write_frame(response_fd, encode_response("ok"))
    while True:
        try:
            frame = read_frame(request_fd)
        except EOFError:
            return 0
        method, *requests = _items(frame, 0)
        name = method.decode()
        write_frame(response_fd, _answer(servicer, types.get(name), name, requests))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
