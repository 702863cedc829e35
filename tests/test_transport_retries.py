"""Retries, timeouts and error mapping of the clients, over real HTTP to the loopback MockServer."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

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

KEY = "sk-transport-secret-0123456789"
MSG = [{"role": "user", "content": "Hi"}]
FAST = {"retry-after-ms": "10"}


def ok_body(text: str = "Hello!") -> dict[str, Any]:
    return {
        "output": {"text": text, "finish_reason": "stop"},
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    }


def error_body(code: str, message: str = "failed") -> dict[str, Any]:
    return {"code": code, "message": message}


def sse_event(n: int, text: str, reason: str = "null") -> bytes:
    data = {"output": {"text": text, "finish_reason": reason}, "request_id": "rid"}
    return f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n".encode()


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def client(srv: MockServer) -> Iterator[ModelStudio]:
    with ModelStudio(api_key=KEY, base_url=srv.base_url) as c:
        yield c


def test_429_retry_after_is_honoured(srv: MockServer, client: ModelStudio) -> None:
    srv.enqueue(429, body=error_body("Throttling.RateQuota"), headers={"Retry-After": "1"})
    srv.enqueue(200, body=ok_body())
    started = time.monotonic()
    response = client.generation.create(model="qwen-plus", messages=MSG)
    elapsed = time.monotonic() - started
    assert response.output is not None and response.output.text == "Hello!"
    assert len(srv.requests) == 2
    assert elapsed >= 1.0


async def test_async_429_then_success(srv: MockServer) -> None:
    srv.enqueue(429, body=error_body("Throttling"), headers=FAST)
    srv.enqueue(200, body=ok_body())
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        response = await client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output is not None and response.output.text == "Hello!"
    assert len(srv.requests) == 2


def test_503_three_times_raises_after_three_requests(
    srv: MockServer, client: ModelStudio, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        srv.enqueue(503, body=error_body("ServiceUnavailable"), headers=FAST)
    with (
        caplog.at_level(logging.INFO, logger="modelstudio"),
        pytest.raises(InternalServerError) as info,
    ):
        client.with_options(max_retries=2).generation.create(model="qwen-plus", messages=MSG)
    assert info.value.status_code == 503
    assert len(srv.requests) == 3
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert "attempt 2 of 3" in retries[0] and "attempt 3 of 3" in retries[1]
    assert all("HTTP 503" in line for line in retries)
    assert all(r.levelno == logging.INFO for r in caplog.records if "retrying" in r.getMessage())


async def test_async_503_exhausts_retries(srv: MockServer) -> None:
    for _ in range(3):
        srv.enqueue(503, body=error_body("ServiceUnavailable"), headers=FAST)
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=2) as client:
        with pytest.raises(InternalServerError):
            await client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 3


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (401, "InvalidApiKey", AuthenticationError),
        (400, "DataInspectionFailed", BadRequestError),
        (400, "InvalidParameter", BadRequestError),
        (429, "Arrearage", RateLimitError),
        (500, "InvalidParameter", InternalServerError),
    ],
)
def test_final_errors_are_not_retried(
    srv: MockServer, client: ModelStudio, status: int, code: str, error_type: type[Exception]
) -> None:
    srv.enqueue(status, body=error_body(code), headers=FAST)
    srv.enqueue(200, body=ok_body())
    with pytest.raises(error_type) as info:
        client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 1
    assert getattr(info.value, "code", None) == code


async def test_async_401_is_not_retried(srv: MockServer) -> None:
    async with AsyncModelStudio(api_key="sk-wrong-key", base_url=srv.base_url) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 1
    assert info.value.status_code == 401 and info.value.request_id


def test_moderation_and_throttling_are_distinguishable(
    srv: MockServer, client: ModelStudio
) -> None:
    srv.enqueue(400, body=error_body("DataInspectionFailed", "Input data may contain ..."))
    with pytest.raises(BadRequestError) as moderation:
        client.generation.create(model="qwen-plus", messages=MSG)
    srv.enqueue(429, body=error_body("Throttling.RateQuota", "Requests rate limit exceeded"))
    with pytest.raises(RateLimitError) as throttling:
        client.generation.create(model="qwen-plus", messages=MSG, max_retries=0)
    assert moderation.value.is_moderation and not moderation.value.is_throttling
    assert throttling.value.is_throttling and not throttling.value.is_moderation


@pytest.mark.parametrize("code", ["InternalError", "InternalError.Algo", "SystemError"])
def test_transient_500_codes_are_retried(srv: MockServer, client: ModelStudio, code: str) -> None:
    srv.enqueue(500, body=error_body(code), headers=FAST)
    srv.enqueue(200, body=ok_body())
    client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 2


def test_per_call_max_retries_overrides_the_client(srv: MockServer) -> None:
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        srv.enqueue(502, body="bad gateway", headers=FAST)
        srv.enqueue(200, body=ok_body())
        client.generation.create(model="qwen-plus", messages=MSG, max_retries=1)
        assert len(srv.requests) == 2
        srv.enqueue(502, body="bad gateway", headers=FAST)
        with pytest.raises(InternalServerError):
            client.generation.create(model="qwen-plus", messages=MSG)
        assert len(srv.requests) == 3


def test_error_in_a_200_body_raises(srv: MockServer, client: ModelStudio) -> None:
    srv.enqueue(200, body=error_body("InvalidParameter", "bad input"))
    with pytest.raises(BadRequestError) as info:
        client.generation.create(model="qwen-plus", messages=MSG)
    assert info.value.code == "InvalidParameter" and info.value.message == "bad input"
    assert info.value.request_id
    assert len(srv.requests) == 1


def test_openai_envelope_maps_and_retries_the_same_way(srv: MockServer) -> None:
    envelope = {
        "error": {"message": "slow down", "type": "limit_requests", "code": "limit_requests"}
    }
    srv.enqueue(429, body=envelope, headers={**FAST, "x-request-id": "rid-openai"})
    srv.enqueue(429, body=envelope, headers={**FAST, "x-request-id": "rid-openai"})
    with (
        ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=1) as client,
        pytest.raises(RateLimitError) as info,
    ):
        client.chat.completions.create(model="qwen-plus", messages=MSG)
    error = info.value
    assert len(srv.requests) == 2
    assert (error.status_code, error.code, error.message) == (429, "limit_requests", "slow down")
    assert error.request_id == "rid-openai" and error.is_throttling
    assert error.headers["x-request-id"] == "rid-openai"
    assert b"slow down" in error.body


def test_reset_before_the_response_is_retried(srv: MockServer, client: ModelStudio) -> None:
    srv.enqueue(body=ok_body("lost"), reset_before_status=True)
    srv.enqueue(200, body=ok_body("second"))
    response = client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output is not None and response.output.text == "second"
    assert len(srv.requests) == 2


async def test_async_reset_before_the_response_is_retried(srv: MockServer) -> None:
    srv.enqueue(body=ok_body("lost"), reset_before_status=True)
    srv.enqueue(200, body=ok_body("second"))
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        response = await client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output is not None and response.output.text == "second"
    assert len(srv.requests) == 2


EVENTS = [sse_event(1, "a"), sse_event(2, "b"), sse_event(3, "c"), sse_event(4, "", "stop")]


def test_reset_after_stream_events_raises_without_retry(
    srv: MockServer, client: ModelStudio
) -> None:
    srv.enqueue(chunks=EVENTS, reset_after=3)
    srv.enqueue(chunks=EVENTS)
    seen: list[str | None] = []
    stream = client.generation.create(model="qwen-plus", messages=MSG, stream=True)
    with pytest.raises(IncompleteStreamError) as info:
        for chunk in stream:
            seen.append(chunk.delta.text if chunk.delta else None)
    assert seen == ["a", "b", "c"]
    assert info.value.received_events == 3
    assert len(srv.requests) == 1


async def test_async_reset_after_stream_events_raises_without_retry(srv: MockServer) -> None:
    srv.enqueue(chunks=EVENTS, reset_after=3)
    srv.enqueue(chunks=EVENTS)
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
        with pytest.raises(IncompleteStreamError):
            async for _ in stream:
                pass
    assert len(srv.requests) == 1


def test_read_timeout_raises_after_one_request(srv: MockServer, client: ModelStudio) -> None:
    srv.enqueue(body=ok_body(), stall_after=0)
    srv.enqueue(body=ok_body())
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        client.generation.create(model="qwen-plus", messages=MSG, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert len(srv.requests) == 1


def test_slow_status_line_times_out_with_an_httpx_timeout(srv: MockServer) -> None:
    srv.enqueue(body=ok_body(), first_byte_delay=1.0)
    timeout = httpx.Timeout(5.0, read=0.2)
    with (
        ModelStudio(api_key=KEY, base_url=srv.base_url, timeout=timeout) as client,
        pytest.raises(APITimeoutError),
    ):
        client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 1
    assert srv.requests[0].json is not None and "timeout" not in json.dumps(srv.requests[0].json)


async def test_async_read_timeout_raises_after_one_request(srv: MockServer) -> None:
    srv.enqueue(body=ok_body(), stall_after=0)
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, timeout=0.3) as client:
        with pytest.raises(APITimeoutError):
            await client.generation.create(model="qwen-plus", messages=MSG)
    assert len(srv.requests) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_is_retried_then_raised(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/v1"
    with (
        ModelStudio(api_key=KEY, base_url=url, max_retries=1) as client,
        caplog.at_level(logging.INFO, logger="modelstudio"),
        pytest.raises(APIConnectionError) as info,
    ):
        client.generation.create(model="qwen-plus", messages=MSG)
    assert not isinstance(info.value, APITimeoutError)
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 1 and "ConnectError" in retries[0].getMessage()
