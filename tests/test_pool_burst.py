"""A burst of concurrent streams on a warm async client opens its connections together.

httpcore 1.0's pool hands every request of a burst the one idle keep-alive connection a warm
client holds; all but one are turned away, one per turn of the event loop, and the connections
they need are opened one after another (issue 18: 500 streams, the last starting seconds after
the first). The SDK's own `AsyncModelStudio` pool hands one connection to one request.

The server runs in the test's own event loop, so "turns of the event loop until every request of
the burst has reached the server" is a count, not a timing: httpcore's own pass needs one turn per
request of the burst, the SDK's a handful whatever the size of the burst.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpcore
import httpx
import pytest

from modelstudio import AsyncModelStudio
from modelstudio._pool import FairAsyncConnectionPool, share_idle_connections

MSG = [{"role": "user", "content": "Hi"}]
BURST = 40
_EVENT = "id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n"


def _event(n: int, text: str, last: bool) -> str:
    data = {
        "output": {
            "choices": [
                {
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop" if last else "null",
                }
            ]
        },
        "usage": {"input_tokens": 1, "output_tokens": n, "total_tokens": 1 + n},
        "request_id": "burst",
    }
    return _EVENT.format(n=n, data=json.dumps(data))


class BurstServer:
    """Loopback HTTP/1.1 keep-alive server in the test's loop. It counts connections and
    requests, and holds every response until `expect` requests have arrived (so the streams of
    a burst are all open at once), then answers: a stream of two events, or a JSON body."""

    def __init__(self) -> None:
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.requests = 0
        self.expect = 0
        self.arrived = asyncio.Event()
        self.base_url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/api/v1"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def burst(self, size: int) -> None:
        self.expect = self.requests + size
        self.arrived = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                if self.requests >= self.expect:
                    self.arrived.set()
                await self.arrived.wait()
                if headers.get("x-dashscope-sse", "").lower() == "enable":
                    body = (_event(1, "he", False) + _event(2, "llo", True)).encode()
                    kind = b"text/event-stream"
                else:
                    body = json.dumps(
                        {
                            "output": {
                                "choices": [
                                    {
                                        "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": "hello"},
                                    }
                                ]
                            },
                            "request_id": "burst",
                        }
                    ).encode()
                    kind = b"application/json"
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                    % (kind, len(body), body)
                )
                await writer.drain()
        finally:
            self.open_now -= 1
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[BurstServer]:
    srv = BurstServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def _streamed_text(client: AsyncModelStudio) -> str:
    stream = await client.generation.create(
        model="qwen-plus", messages=MSG, result_format="message", stream=True
    )
    text = ""
    async for chunk in stream:
        text += chunk.delta.text or ""
    return text


async def _turns_until(event: asyncio.Event, work: asyncio.Future[object]) -> int:
    """Turns of the event loop until `event` is set (or `work` ended without it)."""
    turns = 0
    while not event.is_set() and not work.done():
        turns += 1
        await asyncio.sleep(0)
    return turns


async def _burst(client: AsyncModelStudio, server: BurstServer) -> tuple[int, list[str]]:
    server.burst(BURST)
    work = asyncio.gather(*(_streamed_text(client) for _ in range(BURST)))
    turns = await _turns_until(server.arrived, work)
    return turns, await work


async def test_a_burst_on_a_warm_client_reaches_the_server_together(server: BurstServer) -> None:
    base_url = server.base_url
    async with AsyncModelStudio(api_key="sk-x", base_url=base_url, max_retries=0) as client:
        server.burst(1)
        await client.generation.create(model="qwen-plus", messages=MSG, result_format="message")
        assert server.connections == 1  # the client is warm: one idle keep-alive connection

        turns, texts = await _burst(client, server)

        assert texts == ["hello"] * BURST
        assert server.most_open == BURST  # every stream of the burst open at once
        assert server.connections == BURST  # the warm one reused, BURST - 1 opened
        # httpcore's own pass turns the burst away one request per turn (>= BURST - 1 turns)
        assert turns < BURST // 2, turns


async def test_idle_connections_are_reused_one_request_each(server: BurstServer) -> None:
    base_url = server.base_url
    async with AsyncModelStudio(api_key="sk-x", base_url=base_url, max_retries=0) as client:
        _, first = await _burst(client, server)
        _, second = await _burst(client, server)  # BURST idle connections, all kept alive
        assert first == second == ["hello"] * BURST
        assert server.connections == BURST  # the second burst opened none
        for _ in range(3):  # one after another: the same connection each time
            server.burst(1)
            assert await _streamed_text(client) == "hello"
        assert server.connections == BURST


async def test_the_pool_limits_still_hold(server: BurstServer) -> None:
    """A pool of 5 connections keeping 2 alive: 8 concurrent requests run 5 at a time on 5
    connections, and afterwards 2 stay open, as httpcore's own pass would leave them."""
    base_url = server.base_url
    limits = httpx.Limits(max_connections=5, max_keepalive_connections=2)
    async with httpx.AsyncClient(limits=limits) as http:
        assert share_idle_connections(http)
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert type(pool) is FairAsyncConnectionPool
        url = base_url + "/services/aigc/text-generation/generation"
        server.burst(5)  # the first 5 are answered together, the last 3 as connections free
        responses = await asyncio.gather(*(http.post(url, json={}) for _ in range(8)))
        assert [r.status_code for r in responses] == [200] * 8
        assert server.most_open == 5
        assert len(pool.connections) == 2
        assert all(c.is_idle() for c in pool.connections)


async def test_only_the_sdks_own_direct_pool_is_changed(server: BurstServer) -> None:
    base_url = server.base_url
    async with httpx.AsyncClient() as http:
        AsyncModelStudio(api_key="sk-x", base_url=base_url, http_client=http)
        assert type(http._transport._pool) is httpcore.AsyncConnectionPool  # type: ignore[attr-defined]
    async with AsyncModelStudio(api_key="sk-x", base_url=base_url) as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert type(pool) is FairAsyncConnectionPool
    mocked = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    async with mocked:
        assert not share_idle_connections(mocked)
    proxied = httpx.AsyncClient(proxy="http://127.0.0.1:9")
    async with proxied:
        assert share_idle_connections(proxied)  # its direct pool; the proxy's is left as it is
        mounts = [t for t in proxied._mounts.values() if t is not None]
        assert mounts
        assert all(type(t._pool) is httpcore.AsyncHTTPProxy for t in mounts)  # type: ignore[attr-defined]


async def test_a_request_waiting_for_a_connection_is_woken_when_one_frees_or_times_out(
    server: BurstServer,
) -> None:
    """The pool sets a request's wake-up event only when the request can be waiting on it: one
    that waits is still woken when a connection frees, and still gets httpx's PoolTimeout when
    none does in time."""
    server.burst(1)  # answer every request at once
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(5.0, pool=0.5)) as http:
        assert share_idle_connections(http)
        url = server.base_url + "/services/aigc/text-generation/generation"
        async with http.stream("POST", url, json={}) as held:  # holds the one connection
            assert held.status_code == 200
            with pytest.raises(httpx.PoolTimeout):
                await http.post(url, json={})
            waiting = asyncio.ensure_future(http.post(url, json={}))
            await asyncio.sleep(0.1)
            assert not waiting.done()
            await held.aread()  # read to its end: the connection goes back to the pool
        response = await waiting  # and to the request waiting for it
        assert response.status_code == 200
        assert server.connections == 1
