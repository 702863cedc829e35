"""The OpenAI-compatible wire: `client.chat.completions.create` and `protocol="openai"`.

Every OpenAI-compatible curl sample of the Visual understanding page (the spec's chatCompletions
examples) is replayed through the SDK against a real loopback MockServer and must arrive as the
documented JSON; the documented `chat.completion` answers decode; streams accumulate with and without `stream_options.include_usage`; and the
native and compatible samples of the same request are translations of each other.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

from modelstudio import (
    AsyncModelStudio,
    BadRequestError,
    ModelStudio,
    RateLimitError,
    ValidationError,
)
from modelstudio._protocols import native_to_openai_request, openai_to_native_request
from modelstudio.testing import MockServer
from modelstudio.types import ChatCompletion, ChatCompletionChunk, GenerationResponse
from tests.spec_examples import request_examples, response_examples

KEY = "sk-compat"

# The Visual understanding page's samples, from the spec's examples: (name, body, answer or None).
ANSWERS = response_examples("chatCompletions")
COMPATIBLE = [(s.name, s.body, ANSWERS.get(s.name)) for s in request_examples("chatCompletions")]
NATIVE = {s.name: s.body for s in request_examples("multimodalGeneration")}

# Pairs of samples that send the same request over both wires (compatible, native): one image,
# thinking + streaming, video file, image list, high-resolution images. The other pairs differ in
# their wording ("depict" / "show") or in fps, so they are not translations.
PAIRS = [
    (f"vision-{section}-compatible", f"vision-{section}-dashscope")
    for section in (
        "getting-started",
        "enable-or-disable-thinking-mode",
        "video-understanding-video-files",
        "video-understanding-image-list",
        "process-high-resolution-images",
    )
]


def _any(value: object) -> Any:
    return value


def _first(result: object) -> Any:
    """The first choice of a typed answer (a ChatCompletion or a native output)."""
    return _any(result).choices[0]


@pytest.fixture
def srv() -> Any:
    with MockServer(api_key=KEY) as server:
        yield server


def test_nine_compatible_samples_and_two_documented_answers() -> None:
    assert len(COMPATIBLE) == 9
    assert [s[0] for s in COMPATIBLE if s[2] is not None] == [
        "vision-getting-started-compatible",
        "vision-multiple-image-input-compatible",
    ]


@pytest.mark.parametrize("sample", COMPATIBLE, ids=[s[0] for s in COMPATIBLE])
def test_compatible_samples_are_sent_as_documented(srv: MockServer, sample: Any) -> None:
    _name, body, _ = sample
    kwargs = {k: v for k, v in body.items() if k not in ("model", "messages")}
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        result: Any = client.chat.completions.create(
            model=body["model"], messages=body["messages"], **kwargs
        )
        if body.get("stream"):
            final = result.get_final_response()
            assert isinstance(final, ChatCompletion)
            assert final.usage is not None and final.usage.total_tokens  # include_usage
        else:
            assert type(result) is ChatCompletion
            assert _first(result).message.content
    sent = srv.requests[-1]
    assert sent.path == "/compatible-mode/v1/chat/completions"
    assert sent.json == body
    assert "X-DashScope-SSE" not in sent.headers


def test_documented_answers_decode(srv: MockServer) -> None:
    documented = [s[2] for s in COMPATIBLE if s[2] is not None]
    for answer in documented:
        direct = ChatCompletion.from_dict(answer)
        assert direct.object == "chat.completion"
        assert direct.usage is not None
        assert direct.usage.total_tokens == answer["usage"]["total_tokens"]
        srv.enqueue(body=answer)
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        for answer in documented:
            got: Any = client.chat.completions.create(
                model="qwen3.7-plus", messages=[{"role": "user", "content": "x"}]
            )
            assert got.id == answer["id"]
            assert got.choices[0].message.content == answer["choices"][0]["message"]["content"]
            assert got.choices[0].finish_reason == "stop"
            assert got.usage is not None
            assert got.usage.prompt_tokens == answer["usage"]["prompt_tokens"]
            assert got.system_fingerprint is None


# ---------------------------------------------------------------------------------- streaming


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    data = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "qwen-plus",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        **extra,
    }
    return b"data: " + json.dumps(data).encode() + b"\n\n"


USAGE = {
    "prompt_tokens": 5,
    "completion_tokens": 7,
    "total_tokens": 12,
    "completion_tokens_details": {"reasoning_tokens": 3},
}
SCRIPT = [
    _chunk({"role": "assistant", "content": None, "reasoning_content": "Let me"}),
    _chunk({"content": None, "reasoning_content": " think."}),
    _chunk({"content": "Calling"}),
    _chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":'},
                }
            ]
        }
    ),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    _chunk({}, "tool_calls"),
]
USAGE_CHUNK = (
    b"data: "
    + json.dumps(
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": USAGE}
    ).encode()
    + b"\n\n"
)
DONE = b"data: [DONE]\n\n"


@pytest.mark.parametrize("include_usage", [True, False])
def test_stream_accumulates_reasoning_text_and_tool_calls(
    srv: MockServer, include_usage: bool
) -> None:
    srv.enqueue(chunks=[*SCRIPT, *([USAGE_CHUNK] if include_usage else []), DONE])
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        stream: Any = client.chat.completions.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            stream=True,
            stream_options={"include_usage": True} if include_usage else None,
        )
        chunks: list[Any] = list(stream)
        final: Any = stream.get_final_response()
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert "".join(c.delta.reasoning_content for c in chunks) == "Let me think."
    assert "".join(c.delta.text for c in chunks) == "Calling"
    assert [c.delta.finish_reason for c in chunks if c.delta.finish_reason] == ["tool_calls"]
    message = final.choices[0].message
    assert message.reasoning_content == "Let me think."
    assert message.content == "Calling"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "get_weather",
        '{"city":"Paris"}',
    )
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.id == "chatcmpl-1"
    if include_usage:
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert final.usage is not None
        assert (final.usage.prompt_tokens, final.usage.total_tokens) == (5, 12)
    else:
        assert final.usage is None
    assert json.loads(srv.requests[-1].body)["stream"] is True


def test_stream_with_include_usage_is_incomplete_without_the_usage_chunk(srv: MockServer) -> None:
    from modelstudio import IncompleteStreamError

    srv.enqueue(chunks=SCRIPT)  # neither the usage chunk nor [DONE]
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        stream: Any = client.chat.completions.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        with pytest.raises(IncompleteStreamError):
            stream.get_final_response()


def test_async_stream_and_json_with_the_simulator(srv: MockServer) -> None:
    async def main() -> tuple[Any, Any]:
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
            one = await client.chat.completions.create(
                model="qwen3.7-plus",
                messages=[{"role": "user", "content": "hello"}],
                enable_thinking=True,
            )
            stream: Any = await client.chat.completions.create(
                model="qwen3.7-plus",
                messages=[{"role": "user", "content": "hello"}],
                stream=True,
                enable_thinking=True,
                stream_options={"include_usage": True},
            )
            texts = [c.delta.text async for c in stream]
            return one, (texts, await stream.get_final_response())

    one, (texts, final) = asyncio.run(main())
    assert type(one) is ChatCompletion
    assert _first(one).message.content == "".join(texts) == _first(final).message.content
    assert _first(final).message.reasoning_content == _first(one).message.reasoning_content
    assert final.usage.total_tokens == _any(one).usage.total_tokens
    assert srv.requests[0].json["enable_thinking"] is True


# --------------------------------------------------------------- errors, retries, validation


def test_errors_retries_and_validation_are_shared_with_the_native_binding(
    srv: MockServer,
) -> None:
    limited = {
        "error": {"message": "slow down", "type": "limit_requests", "code": "limit_requests"}
    }
    srv.enqueue(429, body=limited, headers={"retry-after": "0"})
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=1) as client:
        ok: Any = client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "hi"}]
        )
        assert ok.choices[0].message.content
        assert len(srv.requests) == 2  # retried once after the 429
        srv.enqueue(429, body=limited)
        with pytest.raises(RateLimitError) as rate:
            client.chat.completions.create(
                model="qwen-plus", messages=[{"role": "user", "content": "hi"}], max_retries=0
            )
        assert rate.value.code == "limit_requests"
        with pytest.raises(ValidationError):
            client.chat.completions.create(
                model="qwen-plus", messages=[{"role": "user", "content": "hi"}], temperature=5.0
            )
        assert len(srv.requests) == 3  # validation failed before any I/O
        srv.enqueue_stream_error(after_events=2, code="data_inspection_failed", message="bad")
        stream: Any = client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(Exception) as mid:
            list(stream)
        assert getattr(mid.value, "code", None) == "data_inspection_failed"
        srv.enqueue_stream_error(after_events=0, status=400, code="invalid_parameter_error")
        with pytest.raises(BadRequestError):
            client.chat.completions.create(
                model="qwen-plus", messages=[{"role": "user", "content": "hi"}]
            )


# ----------------------------------------------------------------- one request, either wire


@pytest.mark.parametrize("pair", PAIRS, ids=[a for a, _ in PAIRS])
def test_native_and_compatible_samples_translate_into_each_other(pair: Any) -> None:
    compat = next(s for s in COMPATIBLE if s[0] == pair[0])[1]
    native = NATIVE[pair[1]]
    stream = compat.get("stream") is True
    assert native_to_openai_request(native, stream=stream) == compat
    assert openai_to_native_request(compat) == (native, stream)


@pytest.mark.parametrize("pair", PAIRS, ids=[a for a, _ in PAIRS])
def test_protocol_openai_sends_the_native_call_as_the_compatible_sample(
    srv: MockServer, pair: Any
) -> None:
    compat = next(s for s in COMPATIBLE if s[0] == pair[0])[1]
    native = NATIVE[pair[1]]
    stream = compat.get("stream") is True
    params = dict(native.get("parameters") or {})
    with ModelStudio(
        api_key=KEY, base_url=srv.base_url, max_retries=0, protocol="openai"
    ) as client:
        result: Any = client.multimodal.create(
            model=native["model"], messages=native["input"]["messages"], stream=stream, **params
        )
        final: Any = result.get_final_response() if stream else result
    assert type(final) is GenerationResponse
    assert final.output is not None and final.output.choices
    content = _first(final.output).message.content
    assert isinstance(content, list) and content[0].text  # native multimodal shape
    assert final.usage is not None and final.usage.input_tokens
    sent = srv.requests[-1]
    assert sent.path == "/compatible-mode/v1/chat/completions"
    assert sent.json == compat
    assert "X-DashScope-SSE" not in sent.headers


def test_protocol_openai_streams_native_chunks_for_text_generation(srv: MockServer) -> None:
    with ModelStudio(
        api_key=KEY, base_url=srv.base_url, max_retries=0, protocol="openai"
    ) as client:
        stream: Any = client.generation.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            result_format="message",  # dropped on the compatible wire
        )
        texts = [c.delta.text for c in stream]
        final: Any = stream.get_final_response()
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as native:
        same: Any = native.generation.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "hello"}],
            result_format="message",
        )
    assert final.output is not None and same.output is not None
    assert final.output.choices[0].message.content == "".join(texts)
    assert final.output.choices[0].message.content == same.output.choices[0].message.content
    assert (
        final.output.choices[0].message.reasoning_content
        == same.output.choices[0].message.reasoning_content
    )
    assert final.usage is not None and same.usage is not None
    assert final.usage.output_tokens == same.usage.output_tokens
    assert srv.requests[0].json == {
        "model": "qwen-plus",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_protocol_is_checked_and_kept_by_with_options() -> None:
    with pytest.raises(ValueError, match="protocol"):
        ModelStudio(api_key=KEY, protocol="grpc")
    with ModelStudio(api_key=KEY, protocol="openai") as client:
        assert client.with_options(max_retries=0)._settings.protocol == "openai"


# ------------------------------------------------------------------- the openai package


def test_the_openai_package_gets_answers_from_the_mock(srv: MockServer) -> None:
    with openai.OpenAI(api_key=KEY, base_url=srv.compatible_base_url, max_retries=0) as oc:
        # qwen3.7-plus thinks without streaming (page 004); qwen-plus would need stream=True.
        completion = oc.chat.completions.create(
            model="qwen3.7-plus",
            messages=[{"role": "user", "content": "hello"}],
            extra_body={"enable_thinking": True},
        )
        pieces = []
        usage = None
        for chunk in oc.chat.completions.create(
            model="qwen3.7-plus",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            stream_options={"include_usage": True},
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            if chunk.usage is not None:
                usage = chunk.usage
    assert completion.choices[0].message.content == "".join(pieces)
    assert completion.usage is not None and usage is not None
    assert usage.total_tokens > 0
    assert srv.requests[0].json["enable_thinking"] is True
