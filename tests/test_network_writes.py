"""The sync network stream sends a request's headers and small body as one write.

httpcore writes a request's headers and its body separately; `DeadlineStream` (under every pool
of the sync client) holds small writes and sends them together before the next read. These
tests run httpcore's own HTTP/1.1 connection over a real loopback socket and record the writes
that reach the socket stream below.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from modelstudio import APIConnectionError, ModelStudio
from modelstudio._network import HOLD_LIMIT, DeadlineStream

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Recording(httpcore.NetworkStream):
    """A real socket stream that remembers the size of every write it is given."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner
        self.writes: list[int] = []

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writes.append(len(buffer))
        self.inner.write(buffer, timeout)

    def close(self) -> None:
        self.inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class OneShotServer:
    """Accepts one connection, reads one request (headers + content-length body), answers it."""

    def __init__(self, answer: bytes = RESPONSE) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answer = answer
        self.received = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += conn.recv(65536)
            self.received = head + b"\r\n\r\n" + body
            if self.answer:
                conn.sendall(self.answer)

    def close(self) -> None:
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def server() -> Iterator[OneShotServer]:
    srv = OneShotServer()
    yield srv
    srv.close()


def _post(srv: OneShotServer, body: bytes) -> tuple[Recording, httpcore.Response]:
    raw = httpcore.SyncBackend().connect_tcp("127.0.0.1", srv.port, timeout=5)
    recording = Recording(raw)
    origin = httpcore.Origin(b"http", b"127.0.0.1", srv.port)
    connection = httpcore.HTTP11Connection(origin, DeadlineStream(recording))
    request = httpcore.Request(
        "POST",
        f"http://127.0.0.1:{srv.port}/api/v1/x",
        headers=[(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())],
        content=body,
    )
    response = connection.handle_request(request)
    response.read()
    connection.close()
    return recording, response


def test_headers_and_a_small_body_leave_in_one_write(server: OneShotServer) -> None:
    body = b'{"model": "qwen-plus", "input": {"messages": []}}'
    recording, response = _post(server, body)
    assert response.status == 200
    assert len(recording.writes) == 1
    assert server.received.endswith(body)
    assert recording.writes[0] == len(server.received)


def test_a_body_over_the_hold_limit_goes_out_on_its_own(server: OneShotServer) -> None:
    body = b"x" * (HOLD_LIMIT + 1)
    recording, response = _post(server, body)
    assert response.status == 200
    assert recording.writes[-1] == len(body)
    assert sum(recording.writes) == len(server.received)
    assert server.received.endswith(body)


def test_the_sdk_client_call_arrives_whole_and_is_answered(
    server: OneShotServer,
) -> None:
    answer = (
        b'{"request_id": "r1", "output": {"text": "hi", "finish_reason": "stop"},'
        b' "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}}'
    )
    server.answer = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(answer)}\r\n\r\n".encode()
        + answer
    )
    with ModelStudio(api_key="sk-test", base_url=f"http://127.0.0.1:{server.port}/api/v1") as c:
        r = c.generation.create(model="qwen-plus", messages=[{"role": "user", "content": "hi"}])
    assert r.output.text == "hi"
    assert server.received.startswith(b"POST /api/v1/services/aigc/text-generation/generation")
    assert b'"qwen-plus"' in server.received


def test_a_peer_gone_before_the_request_is_a_connection_error() -> None:
    """The held request fails to go out at the read; the user sees a connection error, as
    when httpcore drops a write error and reads the closed connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def reset() -> None:
        conn, _ = listener.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # RST

    thread = threading.Thread(target=reset, daemon=True)
    thread.start()
    try:
        with (
            ModelStudio(
                api_key="sk-test", base_url=f"http://127.0.0.1:{port}/api/v1", max_retries=0
            ) as c,
            pytest.raises(APIConnectionError),
        ):
            c.generation.create(model="qwen-plus", messages=[{"role": "user", "content": "hi"}])
    finally:
        thread.join(5)
        listener.close()
