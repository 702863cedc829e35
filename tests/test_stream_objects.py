"""Stream and AsyncStream over real HTTP on loopback (the MockServer)."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelstudio._accumulate import Delta
from modelstudio._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    IncompleteStreamError,
    RateLimitError,
)
from modelstudio._stream import AsyncStream, Stream
from modelstudio.testing import MockServer
from tests.paths import RECORDINGS

PATH = "/services/aigc/text-generation/generation"
RID = "5b441aa7-0b9c-9fbc-ae0a-e2b212b71eac"

Chunk = tuple[dict[str, Any], Delta]


def event(n: int, data: Any, *, name: str = "result", status: int = 200) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"id:{n}\nevent:{name}\n:HTTP_STATUS/{status}\ndata:{payload}\n\n".encode()


def text_event(n: int, text: str, reason: str = "null") -> bytes:
    data = {
        "output": {"finish_reason": reason, "text": text},
        "usage": {"input_tokens": 3, "output_tokens": n, "total_tokens": 3 + n},
        "request_id": RID,
    }
    return event(n, data)


WORDS = ["Hello", ", ", "wor", "ld", "!"]
GOOD = [text_event(i + 1, w) for i, w in enumerate(WORDS)] + [text_event(6, "", "stop")]


def make_chunk(data: dict[str, Any], delta: Delta) -> Chunk:
    return data, delta


def make_response(data: dict[str, Any]) -> dict[str, Any]:
    return data


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # One connection only: a stream that did not give its connection back would make the next
    # request wait for the pool and fail with PoolTimeout.
    limits = httpx.Limits(max_connections=1)
    with httpx.Client(limits=limits, timeout=httpx.Timeout(5.0, pool=1.0)) as c:
        yield c


def open_stream(
    srv: MockServer, client: httpx.Client, read_timeout: float = 5.0
) -> Stream[Chunk, dict[str, Any]]:
    request = client.build_request(
        "POST",
        srv.base_url + PATH,
        json={"model": "qwen-max"},
        timeout=httpx.Timeout(5.0, read=read_timeout, pool=1.0),
    )
    response = client.send(request, stream=True)
    return Stream(response, make_chunk=make_chunk, make_response=make_response, incremental=True)


def assert_pool_is_free(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(body={"ok": True})
    response = client.post(srv.base_url + "/ping")
    assert response.json()["ok"] is True


def split_awkwardly(stream: bytes) -> list[bytes]:
    """Reads of 1 to 7 bytes, so events, CR/LF pairs and UTF-8 characters are cut."""
    pieces = []
    i = size = 0
    while i < len(stream):
        size = size % 7 + 1
        pieces.append(stream[i : i + size])
        i += size
    return pieces


# --------------------------------------------------------------------------------------------
# sync
# --------------------------------------------------------------------------------------------


def test_chunks_in_order_and_final_response(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=split_awkwardly(b"".join(GOOD)))
    with open_stream(srv, client) as stream:
        chunks = list(stream)
        assert [delta.text for _, delta in chunks] == [*WORDS, ""]
        assert [data["usage"]["output_tokens"] for data, _ in chunks] == [1, 2, 3, 4, 5, 6]
        assert chunks[-1][1].finish_reason == "stop"
        assert stream.request_id == RID
        assert stream.response.is_closed  # read to the end: closed, connection reusable
        final = stream.get_final_response()
        assert final["output"] == {"finish_reason": "stop", "text": "Hello, world!"}
        assert final["usage"]["output_tokens"] == 6
        assert stream.get_final_response() is final
    assert_pool_is_free(srv, client)


def test_get_final_response_without_iterating(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=GOOD)
    with open_stream(srv, client) as stream:
        final = stream.get_final_response()
        assert final["output"]["text"] == "Hello, world!"
        assert final["request_id"] == RID
        assert list(stream) == []


def test_get_final_response_after_partial_iteration(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=GOOD)
    with open_stream(srv, client) as stream:
        assert next(stream)[1].text == "Hello"
        assert stream.get_final_response()["output"]["text"] == "Hello, world!"


def test_recorded_stream_with_crlf_and_bom(srv: MockServer, client: httpx.Client) -> None:
    body = (RECORDINGS / "single-generation-message-search-sse.response.body.txt").read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    srv.enqueue(chunks=split_awkwardly(body.replace(b"\n", b"\r\n")))
    with open_stream(srv, client) as stream:
        deltas = [delta for _, delta in stream]
        final = stream.get_final_response()
    assert len(deltas) == 25
    content = final["output"]["choices"][0]["message"]["content"]
    assert content == "".join(d.text for d in deltas)
    assert content.startswith("根据杭州市气象台")
    assert final["output"]["search_info"]["search_results"]


def test_error_event_inside_200_raises_rate_limit(srv: MockServer, client: httpx.Client) -> None:
    error = {
        "code": "Throttling.RateQuota",
        "message": "Requests rate limit exceeded.",
        "request_id": "req-429",
    }
    srv.enqueue(chunks=[GOOD[0], event(2, error, name="error", status=429)])
    received = []
    with open_stream(srv, client) as stream:
        with pytest.raises(RateLimitError) as info:
            for _, delta in stream:
                received.append(delta.text)
        assert stream.response.is_closed
        with pytest.raises(RateLimitError):
            stream.get_final_response()
    assert received == ["Hello"]
    assert info.value.status_code == 429
    assert info.value.code == "Throttling.RateQuota"
    assert info.value.message == "Requests rate limit exceeded."
    assert info.value.request_id == "req-429"
    assert_pool_is_free(srv, client)


def test_recorded_parameter_error(srv: MockServer, client: httpx.Client) -> None:
    body = (RECORDINGS / "parameter-error-sse.response.body.txt").read_bytes()
    srv.enqueue(chunks=[body], headers={"Content-Type": "text/event-stream;charset=UTF-8"})
    with open_stream(srv, client) as stream, pytest.raises(BadRequestError) as info:
        list(stream)
    assert info.value.status_code == 400
    assert info.value.code == "InvalidParameter"
    assert info.value.request_id == "7671ecd8-93cc-9ee9-bc89-739f0fd8b809"


def test_data_that_is_not_json(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=[GOOD[0], b"data:<html>oops</html>\n\n"])
    with (
        open_stream(srv, client) as stream,
        pytest.raises(APIResponseValidationError, match="not JSON"),
    ):
        list(stream)


def test_stream_ending_early_is_incomplete(srv: MockServer, client: httpx.Client) -> None:
    # The server ends the body properly, but before the event with finish_reason.
    srv.enqueue(chunks=GOOD[:3])
    with open_stream(srv, client) as stream:
        received = []
        with pytest.raises(IncompleteStreamError) as info:
            for _, delta in stream:
                received.append(delta.text)
    assert received == WORDS[:3]
    assert info.value.received_events == 3
    assert "cut" in str(info.value)
    assert isinstance(info.value, APIConnectionError)
    assert_pool_is_free(srv, client)


def test_connection_reset_is_incomplete(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=GOOD, reset_after=2)
    with open_stream(srv, client) as stream:
        with pytest.raises(IncompleteStreamError) as info:
            list(stream)
        assert stream.response.is_closed
    assert info.value.received_events == 2
    assert_pool_is_free(srv, client)


def test_stall_raises_timeout_and_closes(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=GOOD, stall_after=2)
    with open_stream(srv, client, read_timeout=0.3) as stream:
        received = []
        with pytest.raises(APITimeoutError):
            for _, delta in stream:
                received.append(delta.text)
        assert stream.response.is_closed
    assert received == WORDS[:2]
    assert_pool_is_free(srv, client)


def test_break_and_close_release_the_connection(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=GOOD, chunk_delay=0.01)
    stream = open_stream(srv, client)
    for _, delta in stream:
        assert delta.text == "Hello"
        break
    stream.close()
    assert stream.response.is_closed
    with pytest.raises(IncompleteStreamError, match="closed before its final event"):
        stream.get_final_response()
    assert_pool_is_free(srv, client)


def test_final_response_after_closing_once_the_final_event_arrived(
    srv: MockServer, client: httpx.Client
) -> None:
    srv.enqueue(chunks=GOOD)
    with open_stream(srv, client) as stream:
        for _, delta in stream:
            if delta.finish_reason:
                break
    assert stream.get_final_response()["output"]["text"] == "Hello, world!"


def test_empty_code_in_a_success_event_is_not_an_error(
    srv: MockServer, client: httpx.Client
) -> None:
    data = {"output": {"text": "ok", "finish_reason": "stop"}, "code": "", "message": ""}
    srv.enqueue(chunks=[event(1, data)])
    with open_stream(srv, client) as stream:
        assert [delta.text for _, delta in stream] == ["ok"]


def test_leaving_with_closes(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=GOOD, chunk_delay=0.01)
    with open_stream(srv, client) as stream:
        next(stream)
    assert stream.response.is_closed
    assert_pool_is_free(srv, client)


def test_garbage_collection_closes(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=GOOD, chunk_delay=0.01)
    stream = open_stream(srv, client)
    response = stream.response
    next(stream)
    del stream
    gc.collect()
    assert response.is_closed
    assert_pool_is_free(srv, client)


# --------------------------------------------------------------------------------------------
# async
# --------------------------------------------------------------------------------------------


async def open_async_stream(
    srv: MockServer, client: httpx.AsyncClient, read_timeout: float = 5.0
) -> AsyncStream[Chunk, dict[str, Any]]:
    request = client.build_request(
        "POST",
        srv.base_url + PATH,
        json={"model": "qwen-max"},
        timeout=httpx.Timeout(5.0, read=read_timeout, pool=1.0),
    )
    response = await client.send(request, stream=True)
    return AsyncStream(
        response, make_chunk=make_chunk, make_response=make_response, incremental=True
    )


def async_client() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=1)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(5.0, pool=1.0))


async def assert_async_pool_is_free(srv: MockServer, client: httpx.AsyncClient) -> None:
    srv.enqueue(body={"ok": True})
    response = await client.post(srv.base_url + "/ping")
    assert response.json()["ok"] is True


async def test_async_chunks_in_order_and_final(srv: MockServer) -> None:
    srv.enqueue(chunks=split_awkwardly(b"".join(GOOD)))
    async with async_client() as client:
        async with await open_async_stream(srv, client) as stream:
            texts = [delta.text async for _, delta in stream]
            assert texts == [*WORDS, ""]
            final = await stream.get_final_response()
            assert final["output"]["text"] == "Hello, world!"
            assert await stream.get_final_response() is final
        srv.enqueue(chunks=GOOD)
        async with await open_async_stream(srv, client) as stream:
            final = await stream.get_final_response()  # without iterating first
            assert final["output"]["finish_reason"] == "stop"
        await assert_async_pool_is_free(srv, client)


async def test_async_error_event(srv: MockServer) -> None:
    error = {"code": "Throttling", "message": "Too many requests", "request_id": "r-a"}
    srv.enqueue(chunks=[GOOD[0], event(2, error, name="error", status=429)])
    async with async_client() as client:
        async with await open_async_stream(srv, client) as stream:
            with pytest.raises(RateLimitError) as info:
                async for _ in stream:
                    pass
            assert stream.response.is_closed
        assert info.value.code == "Throttling"
        await assert_async_pool_is_free(srv, client)


async def test_async_cut_stream(srv: MockServer) -> None:
    srv.enqueue(chunks=GOOD[:4])
    async with async_client() as client:
        async with await open_async_stream(srv, client) as stream:
            with pytest.raises(IncompleteStreamError) as info:
                await stream.get_final_response()
        assert info.value.received_events == 4
        srv.enqueue(chunks=GOOD, reset_after=1)
        async with await open_async_stream(srv, client) as stream:
            with pytest.raises(IncompleteStreamError):
                async for _ in stream:
                    pass
        await assert_async_pool_is_free(srv, client)


async def test_async_stall_times_out(srv: MockServer) -> None:
    srv.enqueue(chunks=GOOD, stall_after=1)
    async with async_client() as client:
        stream = await open_async_stream(srv, client, read_timeout=0.3)
        with pytest.raises(APITimeoutError):
            async for _ in stream:
                pass
        assert stream.response.is_closed
        await stream.aclose()
        await assert_async_pool_is_free(srv, client)


async def test_async_break_and_aclose(srv: MockServer) -> None:
    srv.enqueue(chunks=GOOD, chunk_delay=0.01)
    async with async_client() as client:
        stream = await open_async_stream(srv, client)
        async for _, delta in stream:
            assert delta.text == "Hello"
            break
        await stream.aclose()
        assert stream.response.is_closed
        with pytest.raises(IncompleteStreamError):
            await stream.get_final_response()
        await assert_async_pool_is_free(srv, client)
