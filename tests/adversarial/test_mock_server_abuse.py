"""`MockServer` holds what users' tests throw at it: hundreds of simultaneous connections, and
malformed requests answered 4xx in the service's error format, never a traceback."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import pytest

from modelstudio import AsyncModelStudio
from modelstudio.testing import MockServer
from tests.adversarial.raw import KEY, MSG

GEN = "/api/v1/services/aigc/text-generation/generation"
COMPAT = "/compatible-mode/v1/chat/completions"
GOOD = json.dumps({"model": "qwen-plus", "input": {"messages": MSG}}).encode()


@pytest.fixture(scope="module")
def srv() -> Iterator[MockServer]:
    with MockServer(max_body_bytes=4096) as server:
        yield server


def _post(path: str, headers: str, body: bytes = b"") -> bytes:
    start = f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
    return f"{start}{headers}\r\n".encode() + body


def _deep(levels: int) -> bytes:
    return b'{"model":"qwen-plus","input":{"messages":' + b"[" * levels + b"]" * levels + b"}}"


CASES: dict[str, tuple[bytes, bool, int]] = {
    # name: (raw request, half-close after sending, expected status)
    "content-length-not-a-number": (_post(GEN, "Content-Length: abc\r\n", GOOD), False, 400),
    "content-length-negative": (_post(GEN, "Content-Length: -5\r\n", GOOD), False, 400),
    "content-length-huge": (_post(GEN, "Content-Length: 1000000000000\r\n"), False, 413),
    "content-length-twice": (
        _post(GEN, f"Content-Length: {len(GOOD)}\r\nContent-Length: 3\r\n", GOOD),
        False,
        400,
    ),
    "body-shorter-than-length": (_post(GEN, "Content-Length: 100\r\n", b"{}"), True, 400),
    "chunk-size-not-hex": (
        _post(GEN, "Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n"),
        False,
        400,
    ),
    "chunk-cut": (_post(GEN, "Transfer-Encoding: chunked\r\n", b"64\r\n{}"), True, 400),
    "chunk-too-large": (_post(GEN, "Transfer-Encoding: chunked\r\n", b"FFFFFF\r\n"), False, 413),
    "body-over-limit": (_post(GEN, "Content-Length: 5000\r\n", b" " * 5000), False, 413),
    "not-json": (_post(GEN, "Content-Length: 9\r\n", b"not json!"), False, 400),
    "not-utf8": (_post(GEN, "Content-Length: 3\r\n", b"\xff\xfe{"), False, 400),
    "json-1900-deep": (
        _post(GEN, f"Content-Length: {len(_deep(1900))}\r\n", _deep(1900)),
        False,
        400,
    ),
    "json-300-deep": (
        _post(GEN, f"Content-Length: {len(_deep(300))}\r\n", _deep(300)),
        False,
        400,
    ),
    "garbage-request-line": (b"HELLO\r\n\r\n", False, 400),
    "bad-http-version": (b"POST / HTTP/9.9\r\n\r\n", False, 505),
    # The stdlib's header parser stops at the broken line: the request has no key left.
    "header-without-colon": (b"POST " + GEN.encode() + b" HTTP/1.1\r\nbroken\r\n\r\n", False, 401),
    "request-line-too-long": (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", False, 414),
    "unknown-method": (b"BREW " + GEN.encode() + b" HTTP/1.1\r\n\r\n", False, 501),
    "compatible-bad-length": (_post(COMPAT, "Content-Length: x\r\n"), False, 400),
}


def _exchange(srv: MockServer, raw: bytes, half_close: bool) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    status = int(head.split(b" ", 2)[1])
    return status, body


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_request_gets_a_4xx_in_the_service_format(
    srv: MockServer, name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    raw, half_close, expected = CASES[name]
    # This server's body limit is 4 KiB: the 100,000 levels go to a default server below.
    status, body = _exchange(srv, raw, half_close)
    assert status == expected, (status, body[:200])
    payload = json.loads(body)
    if name.startswith("compatible"):
        assert payload["error"]["message"] and payload["error"]["code"]
    else:
        assert payload["code"] and payload["message"] and payload["request_id"]
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Exception" not in captured.err


def test_json_nested_100000_levels_is_a_400(capfd: pytest.CaptureFixture[str]) -> None:
    body = _deep(100_000)
    with MockServer() as server:
        status, answer = _exchange(
            server, _post(GEN, f"Content-Length: {len(body)}\r\n", body), False
        )
    assert status == 400 and b"levels deep" in answer
    assert "Traceback" not in capfd.readouterr().err


def test_hundreds_of_simultaneous_calls_all_get_in() -> None:
    calls = 300

    async def main() -> list[object]:
        with MockServer() as server:
            async with AsyncModelStudio(
                api_key=KEY, base_url=server.base_url, max_retries=0, timeout=30
            ) as client:
                return await asyncio.gather(
                    *(
                        client.generation.create(model="qwen-plus", messages=MSG)
                        for _ in range(calls)
                    ),
                    return_exceptions=True,
                )

    results = asyncio.run(main())
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == [], f"{len(failures)} of {calls} failed: {failures[:3]!r}"


def test_hundreds_of_raw_connections_at_once_are_all_accepted() -> None:
    count = 400
    with MockServer() as server:
        socks = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(count)
        ]
        try:
            request = _post(GEN, f"Content-Length: {len(GOOD)}\r\n", GOOD)
            for sock in socks:
                sock.sendall(request)
            statuses = []
            for sock in socks:
                statuses.append(sock.recv(12)[9:12])
        finally:
            for sock in socks:
                sock.close()
    assert statuses == [b"200"] * count
