"""The official `dashscope` SDK, unchanged, against modelstudio.testing.MockServer on loopback.

This is the proof that the mock speaks the service's wire protocol rather than only what our own
SDK expects: the official client parses its JSON answers and its SSE streams without help.
(dashscope 2.0.2 sends `incremental_output: true` on the wire even when asked for False and
rebuilds the full text itself; its User-Agent says `incremental_to_full/1`.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import dashscope
import pytest

from modelstudio.testing import MockServer

# The official SDK's own annotations are unions of a response and a generator of responses;
# these tests know which one each call returns.
Generation: Any = dashscope.Generation
MultiModalConversation: Any = dashscope.MultiModalConversation
AioGeneration: Any = dashscope.AioGeneration
AioMultiModalConversation: Any = dashscope.AioMultiModalConversation

KEY = "sk-official-sdk"
IMAGE = "https://example.com/cat.png"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.delenv("DASHSCOPE_HTTP_BASE_URL", raising=False)
    with MockServer(api_key=KEY) as server:
        # the documented way to point the official SDK at another endpoint
        monkeypatch.setattr(dashscope, "base_http_api_url", server.base_url)
        yield server


def _from_official_sdk(srv: MockServer) -> None:
    request = srv.last_request
    assert request is not None
    assert request.header("user-agent").startswith("dashscope/")


def test_non_streaming_text_format(srv: MockServer) -> None:
    r = Generation.call(model="qwen-plus", prompt="hello there", api_key=KEY)
    assert r.status_code == 200
    assert r.code == ""
    assert r.output.text == "Echo: hello there"
    assert r.output.finish_reason == "stop"
    assert r.usage.input_tokens == 2
    assert r.usage.output_tokens == 3
    assert r.usage.total_tokens == 5
    assert r.request_id
    _from_official_sdk(srv)
    assert srv.last_request is not None
    assert srv.last_request.path == "/api/v1/services/aigc/text-generation/generation"


def test_non_streaming_message_format(srv: MockServer) -> None:
    r = Generation.call(
        model="qwen-plus",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there"},
        ],
        result_format="message",
        api_key=KEY,
    )
    assert r.status_code == 200
    choice = r.output.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: hello there"
    assert choice.finish_reason == "stop"
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens


def test_base_address_argument(srv: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashscope, "base_http_api_url", "http://127.0.0.1:9/api/v1")
    r = Generation.call(
        model="qwen-plus",
        messages=[{"role": "user", "content": "via base_address"}],
        result_format="message",
        api_key=KEY,
        base_address=srv.base_url,
    )
    assert r.status_code == 200
    assert r.output.choices[0].message.content == "Echo: via base_address"


def test_streaming_incremental(srv: MockServer) -> None:
    responses = list(
        Generation.call(
            model="qwen-plus",
            messages=[{"role": "user", "content": "one two three"}],
            result_format="message",
            stream=True,
            incremental_output=True,
            api_key=KEY,
        )
    )
    assert len(responses) > 2
    assert all(r.status_code == 200 for r in responses)
    pieces = [r.output.choices[0].message.content for r in responses]
    assert "".join(pieces) == "Echo: one two three"
    assert responses[-1].output.choices[0].finish_reason == "stop"
    assert responses[-1].usage.output_tokens == 4
    assert len({r.request_id for r in responses}) == 1
    assert srv.last_request is not None
    assert srv.last_request.header("x-dashscope-sse") == "enable"


def test_streaming_full_text(srv: MockServer) -> None:
    responses = list(
        Generation.call(
            model="qwen-plus",
            prompt="one two three",
            stream=True,
            incremental_output=False,
            api_key=KEY,
        )
    )
    texts = [r.output.text for r in responses]
    assert texts[-1] == "Echo: one two three"
    assert all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1))
    assert len(set(texts)) > 2
    assert responses[-1].output.finish_reason == "stop"
    assert responses[-1].usage.total_tokens == 3 + 4


def test_streaming_thinking(srv: MockServer) -> None:
    reasoning = answer = ""
    for r in Generation.call(
        model="qwen-plus",
        messages=[{"role": "user", "content": "Why?"}],
        result_format="message",
        stream=True,
        incremental_output=True,
        enable_thinking=True,
        api_key=KEY,
    ):
        assert r.status_code == 200
        message = r.output.choices[0].message
        reasoning += message.get("reasoning_content") or ""
        answer += message.content or ""
    assert reasoning == 'The user asked about "Why?". I will answer plainly.'
    assert answer == "Echo: Why?"


def test_tool_call_round_trip(srv: MockServer) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = Generation.call(
        model="qwen-plus",
        messages=messages,
        tools=[WEATHER_TOOL],
        result_format="message",
        api_key=KEY,
    )
    assert first.status_code == 200
    choice = first.output.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == '{"city": "Paris"}'
    messages += [
        choice.message,
        {"role": "tool", "content": "sunny, 24 C", "tool_call_id": call["id"]},
    ]
    final = Generation.call(
        model="qwen-plus",
        messages=messages,
        tools=[WEATHER_TOOL],
        result_format="message",
        api_key=KEY,
    )
    assert final.status_code == 200
    assert final.output.choices[0].message.content == "Based on the tool result: sunny, 24 C"


def test_multimodal_non_streaming(srv: MockServer) -> None:
    r = MultiModalConversation.call(
        model="qwen-vl-plus",
        messages=[{"role": "user", "content": [{"image": IMAGE}, {"text": "What is it?"}]}],
        api_key=KEY,
    )
    assert r.status_code == 200
    assert r.output.choices[0].message.content == [{"text": "Echo: What is it? [image received]"}]
    assert r.output.choices[0].finish_reason == "stop"
    assert r.usage.image_tokens == 256
    assert r.usage.input_tokens == r.usage.input_tokens_details["text_tokens"] + 256
    _from_official_sdk(srv)
    assert srv.last_request is not None
    assert srv.last_request.path == "/api/v1/services/aigc/multimodal-generation/generation"


@pytest.mark.parametrize("incremental", [True, False])
def test_multimodal_streaming(srv: MockServer, incremental: bool) -> None:
    responses = list(
        MultiModalConversation.call(
            model="qwen-vl-plus",
            messages=[{"role": "user", "content": [{"image": IMAGE}, {"text": "What is it?"}]}],
            stream=True,
            incremental_output=incremental,
            api_key=KEY,
        )
    )
    assert all(r.status_code == 200 for r in responses)
    texts = ["".join(p["text"] for p in r.output.choices[0].message.content) for r in responses]
    full = "Echo: What is it? [image received]"
    assert ("".join(texts) if incremental else texts[-1]) == full
    assert responses[-1].output.choices[0].finish_reason == "stop"


def test_async_clients(srv: MockServer) -> None:
    async def main() -> tuple[Any, Any]:
        # our own session: dashscope leaves the one it opens for a non-streamed call unclosed
        async with aiohttp.ClientSession() as session:
            text = await AioGeneration.call(
                model="qwen-plus",
                messages=[{"role": "user", "content": "async hello"}],
                result_format="message",
                api_key=KEY,
                session=session,
            )
            vision = await AioMultiModalConversation.call(
                model="qwen-vl-plus",
                messages=[{"role": "user", "content": [{"image": IMAGE}, {"text": "async"}]}],
                api_key=KEY,
                session=session,
            )
        return text, vision

    text, vision = asyncio.run(main())
    assert text.status_code == 200
    assert text.output.choices[0].message.content == "Echo: async hello"
    assert vision.status_code == 200
    assert vision.output.choices[0].message.content == [{"text": "Echo: async [image received]"}]


def test_errors_reach_the_official_sdk_as_status_and_code(srv: MockServer) -> None:
    r = Generation.call(model="qwen-plus", prompt="hi", api_key="sk-wrong")
    assert r.status_code == 401
    assert r.code == "InvalidApiKey"
    assert r.message == "Invalid API-key provided."
    assert r.request_id
    bad = Generation.call(
        model="qwen-plus", messages=[{"role": "user", "content": ""}], api_key=KEY
    )
    assert bad.status_code == 400
    assert bad.code == "InvalidParameter"


def test_error_in_the_middle_of_a_stream(srv: MockServer) -> None:
    srv.enqueue_stream_error(after_events=2, status=429, code="Throttling", message="slow down")
    responses = list(
        Generation.call(
            model="qwen-plus",
            messages=[{"role": "user", "content": "one two three four"}],
            result_format="message",
            stream=True,
            incremental_output=True,
            api_key=KEY,
        )
    )
    assert [r.status_code for r in responses[:2]] == [200, 200]
    assert "".join(r.output.choices[0].message.content for r in responses[:2]) == "Echo: one "
    # dashscope reports every in-stream error as 400 (it ignores `:HTTP_STATUS/429`)
    assert responses[-1].status_code != 200
    assert responses[-1].code == "Throttling"
    assert responses[-1].message == "slow down"
