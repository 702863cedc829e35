"""`deadline=` bounds every phase of a call, sync and async, streamed or not: the connect, a
request body the server never reads, headers or a body trickled one byte at a time (each byte
well inside the read timeout), retries and the backoff between them; with the SDK's own HTTP
client and with one given as `http_client=`. Each call ends by its deadline (plus a margin for a
loaded machine) with an `APITimeoutError` saying the deadline passed, and every connection it
opened is closed by then, not left open for the pool or the garbage collector."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from modelstudio import APIError, APITimeoutError, AsyncModelStudio, ModelStudio
from tests.adversarial.raw import EVENT, KEY, MODES, MSG, Conn, RawServer

DEADLINE = 0.6
SLACK = 2.5  # seconds a deadline may overrun on a loaded 2-core machine
TRICKLE = 0.02  # seconds between two bytes: far inside the 5 s read timeout of every case
SSE_HEAD = [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]


class WatchedServer(RawServer):
    """A `RawServer` whose behaviours misbehave until the test says the call is over (`done`),
    then record (in `results`) whether the client had closed the connection by then."""

    def __init__(self, behaviour: Callable[[Conn], None], **kwargs: Any) -> None:
        self.done = threading.Event()
        super().__init__(self._watched(behaviour), **kwargs)

    def _watched(self, behaviour: Callable[[Conn], None]) -> Callable[[Conn], None]:
        def run(conn: Conn) -> None:
            try:
                behaviour(conn)
            except OSError:  # a send to a connection the client closed
                self.results.append(True)
                return
            self.results.append(conn.wait_for_client_close(3))

        return run

    def connections_closed(self) -> bool:
        """Whether every connection the call opened is closed (the call has ended)."""
        self.done.set()
        limit = time.monotonic() + 4
        while len(self.results) < min(self.connections, self.max_connections):
            if time.monotonic() > limit:
                return False
            time.sleep(0.02)
        return all(self.results)


def _until_done(conn: Conn, step: bytes) -> None:
    """Send `step` every TRICKLE seconds until the call ended (at most 6 s: a call the deadline
    did not cut fails its test instead of hanging it)."""
    limit = time.monotonic() + 6
    while not conn.server.done.is_set() and time.monotonic() < limit:  # type: ignore[attr-defined]
        conn.send(step)
        conn.wait(TRICKLE)


def header_trickle(conn: Conn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    _until_done(conn, b"a")


def body_trickle(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "10000000")])
    _until_done(conn, b" ")


def stream_trickle(conn: Conn) -> None:
    conn.head(200, SSE_HEAD)
    _until_done(conn, b"1\r\n:\r\n")  # one byte of an SSE comment line, never an event's end


def events_trickle(conn: Conn) -> None:
    conn.head(200, SSE_HEAD)
    _until_done(conn, f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n")


def never_reads(conn: Conn) -> None:
    """Reads nothing of the request (its body fills the socket buffers) until the call ended."""
    conn.server.done.wait(6)  # type: ignore[attr-defined]


def busy_then_trickle(conn: Conn) -> None:
    """The first attempt gets a retryable 503 (Retry-After 0.2 s), the retry trickled headers."""
    if len(conn.server.requests) == 1:
        busy = b'{"code":"ServiceUnavailable","message":"busy"}'
        conn.reply(503, busy, [("Retry-After", "0.2"), ("Connection", "close")])
        return
    header_trickle(conn)


UNREAD = {"messages": [{"role": "user", "content": "x" * (32 << 20)}]}  # more than socket buffers

# (name, behaviour, stream, create() arguments, server options)
PHASES: list[tuple[str, Callable[[Conn], None], bool, dict[str, Any], dict[str, Any]]] = [
    ("headers-json", header_trickle, False, {}, {}),
    ("headers-stream", header_trickle, True, {}, {}),
    ("body-json", body_trickle, False, {}, {}),
    ("body-stream", stream_trickle, True, {}, {}),
    ("events-stream", events_trickle, True, {}, {}),
    ("unread-body-json", never_reads, False, UNREAD, {"read_request": False}),
    ("unread-body-stream", never_reads, True, UNREAD, {"read_request": False}),
    ("retry-then-headers-json", busy_then_trickle, False, {}, {}),
    ("retry-then-headers-stream", busy_then_trickle, True, {}, {}),
]


def _sync_call(srv: WatchedServer, stream: bool, client: dict[str, Any], create: Any) -> Any:
    """The call's error, how long it took, and whether its connections were closed by then."""
    with ModelStudio(api_key=KEY, base_url=srv.base_url, **client) as sdk:
        started = time.monotonic()
        with pytest.raises(APIError) as caught:
            result = sdk.generation.create(**{"model": "qwen-plus", "messages": MSG, **create},
                                           stream=stream, deadline=DEADLINE)  # fmt: skip
            if stream:
                list(result)
        took = time.monotonic() - started
        return caught.value, took, srv.connections_closed()


async def _async_call(srv: WatchedServer, stream: bool, client: dict[str, Any], create: Any) -> Any:
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, **client) as sdk:
        started = time.monotonic()
        with pytest.raises(APIError) as caught:
            result = await sdk.generation.create(
                **{"model": "qwen-plus", "messages": MSG, **create},
                stream=stream,
                deadline=DEADLINE,
            )
            if stream:
                [chunk async for chunk in result]
        took = time.monotonic() - started
        return caught.value, took, await asyncio.to_thread(srv.connections_closed)


def _run(mode: str, srv: WatchedServer, stream: bool, client: dict[str, Any], create: Any) -> Any:
    options = {"timeout": 5, "max_retries": 3, "validation": "off", **client}
    if mode == "sync":
        return _sync_call(srv, stream, options, create)
    return asyncio.run(_async_call(srv, stream, options, create))


def _assert_cut_by_the_deadline(error: APIError, took: float, closed: bool) -> None:
    assert isinstance(error, APITimeoutError), repr(error)
    assert f"deadline of {DEADLINE:g} s passed" in str(error)
    assert DEADLINE - 0.05 <= took < DEADLINE + SLACK, took
    assert closed, "a connection of the timed-out call was left open"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("phase", PHASES, ids=[p[0] for p in PHASES])
def test_the_deadline_bounds_every_phase(mode: str, phase: tuple[Any, ...]) -> None:
    _name, behaviour, stream, create, server = phase
    with WatchedServer(behaviour, **server) as srv:
        error, took, closed = _run(mode, srv, stream, {}, create)
    _assert_cut_by_the_deadline(error, took, closed)


USER_CLIENT_PHASES = [p for p in PHASES if p[0] in ("headers-json", "headers-stream", "body-json")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("phase", USER_CLIENT_PHASES, ids=[p[0] for p in USER_CLIENT_PHASES])
def test_the_deadline_bounds_a_given_http_client(mode: str, phase: tuple[Any, ...]) -> None:
    """`http_client=httpx.Client(...)` (a proxy-less one here): the same bound."""
    _name, behaviour, stream, create, server = phase
    http: Any = httpx.Client() if mode == "sync" else httpx.AsyncClient()
    try:
        with WatchedServer(behaviour, **server) as srv:
            error, took, closed = _run(mode, srv, stream, {"http_client": http}, create)
    finally:
        if mode == "sync":
            http.close()
        else:
            asyncio.run(http.aclose())
    _assert_cut_by_the_deadline(error, took, closed)


@contextlib.contextmanager
def _unaccepting_listener() -> Iterator[int]:
    """A port whose accept queue is full: a new connection's SYN is dropped, connect hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(listener.getsockname())
            fillers.append(filler)
        time.sleep(0.05)
        yield int(listener.getsockname()[1])
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_deadline_bounds_the_connect(mode: str, stream: bool) -> None:
    """The connect timeout (10 s) is cut to the deadline, and the connect is not retried."""
    with _unaccepting_listener() as port:
        base_url = f"http://127.0.0.1:{port}/api/v1"
        client = {"api_key": KEY, "base_url": base_url, "max_retries": 3}
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"deadline of 0\.6 s passed"):
            if mode == "sync":
                with ModelStudio(**client) as sdk:  # type: ignore[arg-type]
                    result = sdk.generation.create(
                        model="qwen-plus", messages=MSG, stream=stream, deadline=DEADLINE
                    )
                    list(result) if stream else None
            else:

                async def main() -> None:
                    async with AsyncModelStudio(**client) as sdk:  # type: ignore[arg-type]
                        await sdk.generation.create(
                            model="qwen-plus", messages=MSG, stream=stream, deadline=DEADLINE
                        )

                asyncio.run(main())
        took = time.monotonic() - started
    assert DEADLINE - 0.05 <= took < DEADLINE + SLACK, took
