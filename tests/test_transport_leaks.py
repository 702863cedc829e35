"""1,000 calls, most of them failing in some way, must not leave a connection checked out.

The clients run on an `httpx` pool of ONE connection with a short pool timeout and no retries:
a single leaked connection makes the next call fail with a pool timeout instead of its expected
outcome, which every call checks.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from modelstudio import (
    APIConnectionError,
    APITimeoutError,
    AsyncModelStudio,
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    InternalServerError,
    ModelStudio,
    RateLimitError,
)
from modelstudio.testing import MockServer

KEY = "sk-leak-test"
MSG = [{"role": "user", "content": "Hi"}]
CALLS = 1000
LIMITS = httpx.Limits(max_connections=1, max_keepalive_connections=1)
TIMEOUT = httpx.Timeout(2.0, pool=0.2)
EVENT = b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"text":"x"}}\n\n'

Outcome = type[Exception] | None


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


def _matches(outcome: Outcome, expected: Outcome) -> bool:
    if outcome is None or expected is None:
        return outcome is expected
    return issubclass(outcome, expected)


def script(srv: MockServer, i: int) -> tuple[str, Outcome]:
    """Queue the fault for call `i`: how to call ("json", "stream"...) and the error expected."""
    kind = i % 10
    if i % 100 == 99:
        srv.enqueue(body={"output": {"text": "x"}}, stall_after=0)
        return "stall", APITimeoutError
    if kind == 1:
        srv.enqueue(400, body={"code": "InvalidParameter", "message": "no"})
        return "json", BadRequestError
    if kind == 2:
        srv.enqueue(200, body={"code": "InvalidParameter", "message": "in a 200"})
        return "json", BadRequestError
    if kind == 3:
        srv.enqueue(503, body="unavailable")
        return "json", InternalServerError
    if kind == 4 and i % 20 == 4:
        srv.enqueue(500, body={"code": "InternalError", "message": "boom"})
        return "stream", InternalServerError
    if kind == 5:
        srv.enqueue(chunks=[EVENT, EVENT, EVENT], reset_after=1)
        return "stream", IncompleteStreamError
    if kind == 7:
        srv.enqueue_stream_error(after_events=1, status=429, code="Throttling")
        return "stream", RateLimitError
    if kind == 8:
        srv.enqueue(body={"output": {"text": "x"}}, reset_after=0)
        return "json", APIConnectionError  # cut after the status, or before: either way no retry
    if kind == 9:
        return "bad-key", AuthenticationError
    return ("stream" if kind in (4, 6) else "json"), None


def test_sync_calls_leave_no_connection_open(srv: MockServer) -> None:
    with httpx.Client(limits=LIMITS) as http:
        client = ModelStudio(
            api_key=KEY, base_url=srv.base_url, http_client=http, timeout=TIMEOUT, max_retries=0
        )
        bad = client.with_options(api_key="sk-wrong")
        for i in range(CALLS):
            how, expected = script(srv, i)
            outcome: Outcome = None
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
            except Exception as exc:
                outcome = type(exc)
            assert _matches(outcome, expected), (i, how, outcome)
        assert srv.pending == 0


async def test_async_calls_leave_no_connection_open(srv: MockServer) -> None:
    async with httpx.AsyncClient(limits=LIMITS) as http:
        client = AsyncModelStudio(
            api_key=KEY, base_url=srv.base_url, http_client=http, timeout=TIMEOUT, max_retries=0
        )
        bad = client.with_options(api_key="sk-wrong")
        for i in range(CALLS):
            how, expected = script(srv, i)
            outcome: Outcome = None
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
            except Exception as exc:
                outcome = type(exc)
            assert _matches(outcome, expected), (i, how, outcome)
        assert srv.pending == 0
