"""The optional aiohttp transport behaves like httpx's own: the same async behaviour tests, each
run on both transports over real HTTP to the loopback MockServer."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import modelstudio
from modelstudio import (
    APIConnectionError,
    APITimeoutError,
    AsyncModelStudio,
    AuthenticationError,
    IncompleteResponseError,
    IncompleteStreamError,
    RateLimitError,
)
from modelstudio.testing import MockServer

KEY = "sk-aiohttp-transport-0123456789"
MSG = [{"role": "user", "content": "Hi"}]
FAST = {"retry-after-ms": "10"}

ClientFactory = Callable[..., Any]


def ok_body(text: str = "Hello!") -> dict[str, Any]:
    return {
        "output": {"text": text, "finish_reason": "stop"},
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    }


def sse_event(n: int, text: str, reason: str = "null") -> bytes:
    data = {"output": {"text": text, "finish_reason": reason}, "request_id": "rid"}
    return f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n".encode()


EVENTS = [sse_event(1, "a"), sse_event(2, "b"), sse_event(3, "c"), sse_event(4, "", "stop")]


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


@pytest.fixture(params=["httpx", "aiohttp"])
def make_client(request: pytest.FixtureRequest) -> ClientFactory:
    """`async with make_client(base_url=..., **options) as client`: on httpx's transport or on
    `DefaultAioHttpClient`."""

    @asynccontextmanager
    async def factory(**kwargs: Any) -> AsyncIterator[AsyncModelStudio]:
        if request.param == "httpx":
            async with AsyncModelStudio(api_key=KEY, **kwargs) as client:
                yield client
            return
        async with (
            modelstudio.DefaultAioHttpClient() as http,
            AsyncModelStudio(api_key=KEY, http_client=http, **kwargs) as client,
        ):
            yield client

    return factory


async def test_call_decodes_the_answer(srv: MockServer, make_client: ClientFactory) -> None:
    srv.enqueue(200, body=ok_body("Hi there"), headers={"x-dashscope-partialresponse": "true"})
    async with make_client(base_url=srv.base_url) as client:
        response = await client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output.text == "Hi there"
    assert response.usage.total_tokens == 3
    assert response.partial is True
    sent = srv.requests[0]
    assert sent.header("user-agent").startswith("modelstudio/")  # the server checked the key
    assert sent.json is not None and sent.json["model"] == "qwen-plus"


async def test_gzip_body_is_decoded_once(srv: MockServer, make_client: ClientFactory) -> None:
    payload = json.dumps({**ok_body("zipped"), "request_id": "r1"}).encode()
    srv.enqueue(
        200,
        body=gzip.compress(payload),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    async with make_client(base_url=srv.base_url) as client:
        response = await client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output.text == "zipped"


async def test_429_then_success(srv: MockServer, make_client: ClientFactory) -> None:
    srv.enqueue(429, body={"code": "Throttling.RateQuota", "message": "slow"}, headers=FAST)
    srv.enqueue(200, body=ok_body())
    async with make_client(base_url=srv.base_url) as client:
        response = await client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output.text == "Hello!"
    assert len(srv.requests) == 2


async def test_429_exhausts_retries(srv: MockServer, make_client: ClientFactory) -> None:
    for _ in range(2):
        srv.enqueue(429, body={"code": "Throttling", "message": "slow"}, headers=FAST)
    async with make_client(base_url=srv.base_url, max_retries=1) as client:
        with pytest.raises(RateLimitError) as info:
            await client.generation.create(model="qwen-plus", messages=MSG)
    assert info.value.status_code == 429 and info.value.code == "Throttling"
    assert len(srv.requests) == 2


async def test_401_is_not_retried(srv: MockServer, make_client: ClientFactory) -> None:
    srv.enqueue(401, body={"code": "InvalidApiKey", "message": "Invalid API-key provided."})
    async with make_client(base_url=srv.base_url) as client:
        with pytest.raises(AuthenticationError):
            await client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 1


async def test_reset_after_the_status_is_not_retried(
    srv: MockServer, make_client: ClientFactory
) -> None:
    # The service had answered (it may have generated and billed it): no second request.
    srv.enqueue(body=ok_body("lost"), reset_after=0)
    async with make_client(base_url=srv.base_url) as client:
        with pytest.raises(IncompleteResponseError):
            await client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 1


async def test_read_timeout_raises_after_one_request(
    srv: MockServer, make_client: ClientFactory
) -> None:
    srv.enqueue(body=ok_body(), stall_after=0)
    async with make_client(base_url=srv.base_url, timeout=0.3) as client:
        with pytest.raises(APITimeoutError):
            await client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 1


async def test_connection_refused_is_a_connection_error(make_client: ClientFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with make_client(base_url=f"http://127.0.0.1:{port}/api/v1", max_retries=1) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.generation.create(model="qwen-plus", messages=MSG)
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


async def test_stream_and_final_response(srv: MockServer, make_client: ClientFactory) -> None:
    srv.enqueue(chunks=EVENTS)
    async with make_client(base_url=srv.base_url) as client:
        stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
        texts = [chunk.delta.text async for chunk in stream]
        final = await stream.get_final_response()
    assert texts == ["a", "b", "c", ""]
    assert final.output.text == "abc" and final.output.finish_reason == "stop"
    assert stream.request_id == "rid"


async def test_reset_after_stream_events_raises_without_retry(
    srv: MockServer, make_client: ClientFactory
) -> None:
    srv.enqueue(chunks=EVENTS, reset_after=3)
    srv.enqueue(chunks=EVENTS)
    seen: list[str] = []
    async with make_client(base_url=srv.base_url) as client:
        stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
        with pytest.raises(IncompleteStreamError) as info:
            async for chunk in stream:
                seen.append(chunk.delta.text)
    assert seen == ["a", "b", "c"]
    assert info.value.received_events == 3
    assert len(srv.requests) == 1


async def test_error_event_inside_the_stream(srv: MockServer, make_client: ClientFactory) -> None:
    srv.enqueue_stream_error(after_events=2, status=429, code="Throttling")
    async with make_client(base_url=srv.base_url) as client:
        stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
        with pytest.raises(RateLimitError) as info:
            async for _ in stream:
                pass
    assert info.value.code == "Throttling"


async def test_stream_idle_timeout(srv: MockServer, make_client: ClientFactory) -> None:
    srv.enqueue(chunks=EVENTS, stall_after=2)
    async with make_client(base_url=srv.base_url, stream_idle_timeout=0.3) as client:
        stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="after 2 events"):
            async for _ in stream:
                pass
        # cut by the 0.3 s idle timeout, not by the call's read timeout (minutes)
        assert time.monotonic() - started < 30


async def test_stream_idle_timeout_replaces_a_shorter_read_timeout(
    srv: MockServer, make_client: ClientFactory
) -> None:
    srv.enqueue(chunks=EVENTS, chunk_delay=0.6)
    options = {"timeout": httpx.Timeout(5.0, read=0.3), "stream_idle_timeout": 10.0}
    async with make_client(base_url=srv.base_url, **options) as client:
        stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
        texts = [chunk.output.text async for chunk in stream]
    assert texts == ["a", "b", "c", ""]


async def test_a_closed_stream_frees_its_connection(
    srv: MockServer, make_client: ClientFactory
) -> None:
    for _ in range(3):
        srv.enqueue(chunks=EVENTS)
    srv.enqueue(200, body=ok_body("after"))
    async with make_client(base_url=srv.base_url) as client:
        for _ in range(3):
            stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
            async for _chunk in stream:
                break
            await stream.aclose()
        response = await client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output.text == "after"
    assert len(srv.requests) == 4


def test_without_aiohttp_the_error_says_what_to_install() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "import modelstudio\n"
        "try:\n    modelstudio.DefaultAioHttpClient\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'modelstudio[aiohttp]'" in out.stdout
