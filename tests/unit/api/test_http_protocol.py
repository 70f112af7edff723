"""One write per response (api/http_protocol.py): the transport wrapper on its own, and
uvicorn with the protocol on a real socket, as `brickyard serve` runs it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn

from brickyard.api.http_protocol import CoalescingHttpToolsProtocol, CoalescingTransport


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 4242)}.get(name, default)


async def test_a_write_waits_for_the_next_and_goes_out_with_it() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert real.writes == []
    assert transport.get_write_buffer_size() == 7 + 19
    transport.write(memoryview(b"body"))
    # at once, not at the end of the iteration: the response is out when its send returns
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"alone")  # nothing follows it: out at the end of the iteration
    assert real.writes[1:] == []
    await asyncio.sleep(0)
    assert real.writes[1:] == [b"alone"]


async def test_close_sends_what_was_written_first_and_abort_drops_it() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert real.writes == [b"last words"] and real.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing more
    assert real.writes == [b"last words"]

    other = RecordingTransport()
    transport = CoalescingTransport(other, asyncio.get_running_loop())
    transport.write(b"never")
    transport.abort()
    await asyncio.sleep(0)
    assert other.writes == [] and other.aborted


async def test_the_rest_is_the_real_transports() -> None:
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    assert transport.get_extra_info("peername") == ("127.0.0.1", 4242)
    assert transport.is_closing() is False


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] == "/then-block":
        # The answer first, then the loop is blocked: the client must have it meanwhile.
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        time.sleep(3)
        return
    answer = b"echo:" + body
    headers = [(b"content-length", str(len(answer)).encode()), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _exchange(port: int, request: bytes, until: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = b""
    while until not in data:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        if not chunk:
            break
        data += chunk
    writer.close()
    return data


@pytest.fixture
def served() -> Any:
    """uvicorn with the protocol, on its own thread and event loop (as a separate server: an
    application that blocks its loop does not block the test's client)."""
    port = _free_port()
    config = uvicorn.Config(
        _app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        http=CoalescingHttpToolsProtocol,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(10)


async def test_keep_alive_requests_are_answered_in_order(served: int) -> None:
    request = (
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
        b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n"
    )
    data = await _exchange(served, request, b"echo:second")
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b"echo:first") < data.index(b"echo:second")


async def test_a_streamed_response_arrives_whole(served: int) -> None:
    data = await _exchange(served, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", b"0\r\n\r\n")
    assert b"transfer-encoding: chunked" in data.lower()
    assert data.endswith(b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n")


async def test_connection_close_gets_the_answer_before_the_close(served: int) -> None:
    request = b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = await _exchange(served, request, b"never-seen")
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"echo:")


async def test_the_server_writes_a_response_once(
    served: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bytes] = []
    send = CoalescingTransport._send

    def counting(self: CoalescingTransport, data: bytes) -> None:
        sent.append(data)
        send(self, data)

    monkeypatch.setattr(CoalescingTransport, "_send", counting)
    request = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
    data = await _exchange(served, request, b"echo:hi")
    assert data.endswith(b"echo:hi")
    assert sent == [data]  # status line, headers and body: one write


async def test_the_answer_is_out_before_the_application_goes_on(served: int) -> None:
    """A response is on the wire when the send of its body returns (a server that crashes
    right after answering has answered), even an empty one."""
    started = time.monotonic()
    data = await _exchange(served, b"GET /then-block HTTP/1.1\r\nHost: x\r\n\r\n", b"\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 204 No Content")
    assert time.monotonic() - started < 2  # not after the application's 3 s block
