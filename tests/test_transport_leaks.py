"""1,000 calls, most of them failing in some way, must not leave a connection checked out.

The clients run on an `httpx` pool of ONE connection with a short pool timeout and no retries:
a single leaked connection makes every later call fail with a connection error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from modelstudio import (
    APIConnectionError,
    APIStatusError,
    AsyncModelStudio,
    IncompleteStreamError,
    ModelStudio,
)
from modelstudio.testing import MockServer

KEY = "sk-leak-test"
MSG = [{"role": "user", "content": "Hi"}]
CALLS = 1000
LIMITS = httpx.Limits(max_connections=1, max_keepalive_connections=1)
TIMEOUT = httpx.Timeout(2.0, pool=0.5)
EVENT = b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"text":"x"}}\n\n'


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


def script(srv: MockServer, i: int) -> str:
    """Queue the fault for call `i`; return how the call is made ("json", "stream", ...)."""
    kind = i % 10
    if i % 100 == 99:
        srv.enqueue(body={"output": {"text": "x"}}, stall_after=0)
        return "stall"
    if kind == 1:
        srv.enqueue(400, body={"code": "InvalidParameter", "message": "no"})
    elif kind == 2:
        srv.enqueue(200, body={"code": "InternalError.Algo", "message": "in a 200"})
    elif kind == 3:
        srv.enqueue(503, body="unavailable")
    elif i % 20 == 4:  # an error status on a streaming request
        srv.enqueue(500, body={"code": "InternalError", "message": "boom"})
    elif kind == 5:
        srv.enqueue(chunks=[EVENT, EVENT, EVENT], reset_after=1)
    elif kind == 7:
        srv.enqueue_stream_error(after_events=1, status=429, code="Throttling")
    elif kind == 8:
        srv.enqueue(body={"output": {"text": "x"}}, reset_after=0)
    elif kind == 9:
        return "bad-key"
    return "stream" if kind in (4, 5, 6, 7) else "json"


EXPECTED = (APIStatusError, APIConnectionError, IncompleteStreamError)
# Kinds 1, 2, 3, 5, 7, 8 and 9 fail (each call 99 of a hundred is a stall instead of a kind 9),
# and every other kind 4.
FAILING = 750


def test_sync_calls_leave_no_connection_open(srv: MockServer) -> None:
    started = time.monotonic()
    failures = 0
    with httpx.Client(limits=LIMITS) as http:
        client = ModelStudio(
            api_key=KEY, base_url=srv.base_url, http_client=http, timeout=TIMEOUT, max_retries=0
        )
        bad = client.with_options(api_key="sk-wrong")
        for i in range(CALLS):
            how = script(srv, i)
            try:
                if how == "stream":
                    with client.generation.create(
                        model="qwen-plus", messages=MSG, stream=True
                    ) as s:
                        for _ in s:
                            if i % 10 == 6:
                                break
                elif how == "bad-key":
                    bad.generation.create(model="qwen-plus", messages=MSG)
                else:
                    timeout = 0.05 if how == "stall" else None
                    client.generation.create(model="qwen-plus", messages=MSG, timeout=timeout)
            except EXPECTED:
                failures += 1
        assert srv.pending == 0
        # the single pooled connection is free: a last call gets it at once
        assert client.generation.create(model="qwen-plus", messages=MSG).output is not None
    elapsed = time.monotonic() - started
    assert failures == FAILING
    assert elapsed < 10.0, elapsed


async def test_async_calls_leave_no_connection_open(srv: MockServer) -> None:
    started = time.monotonic()
    failures = 0
    async with httpx.AsyncClient(limits=LIMITS) as http:
        client = AsyncModelStudio(
            api_key=KEY, base_url=srv.base_url, http_client=http, timeout=TIMEOUT, max_retries=0
        )
        bad = client.with_options(api_key="sk-wrong")
        for i in range(CALLS):
            how = script(srv, i)
            try:
                if how == "stream":
                    stream = await client.generation.create(
                        model="qwen-plus", messages=MSG, stream=True
                    )
                    async with stream:
                        async for _ in stream:
                            if i % 10 == 6:
                                break
                elif how == "bad-key":
                    await bad.generation.create(model="qwen-plus", messages=MSG)
                else:
                    timeout = 0.05 if how == "stall" else None
                    await client.generation.create(model="qwen-plus", messages=MSG, timeout=timeout)
            except EXPECTED:
                failures += 1
        assert srv.pending == 0
        response = await client.generation.create(model="qwen-plus", messages=MSG)
        assert response.output is not None
    assert failures == FAILING
    assert time.monotonic() - started < 10.0
