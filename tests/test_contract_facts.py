"""The contract's facts, area by area (issue 15): each refusal next to its accepted neighbour,
per model family, on every endpoint that takes the parameter, with the sync and the async client.

A refused call must raise `ValidationError` before any I/O (nothing reaches the MockServer) and
name the parameter and a docs source; its neighbour must reach the MockServer, which checks the
request against the spec too, and answer.
"""

from __future__ import annotations

import asyncio
import base64
import math
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import modelstudio
from modelstudio import AsyncModelStudio, ModelStudio, ValidationError
from modelstudio._model_table import FAMILIES, family_for
from modelstudio._validation import VALIDATORS
from modelstudio.testing import MockServer
from modelstudio.types import GenerationResponse

USER = [{"role": "user", "content": "Hello"}]
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
FORCED = {"type": "function", "function": {"name": "get_weather"}}
KINDS = ("sync", "async")
ENDPOINTS = ("generation", "multimodal", "chat")


@pytest.fixture(scope="module")
def srv() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


def _image_message(text: str = "Describe it") -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"image": "https://example.com/a.png"}, {"text": text}]}]


def _chat_image_message() -> list[dict[str, Any]]:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    return [{"role": "user", "content": [part, {"type": "text", "text": "Describe it"}]}]


def _messages_for(endpoint: str) -> list[dict[str, Any]]:
    return _image_message() if endpoint == "multimodal" else list(USER)


def _sync_call(c: ModelStudio, endpoint: str, kwargs: dict[str, Any]) -> Any:
    create: Any = {
        "generation": c.generation.create,
        "multimodal": c.multimodal.create,
        "chat": c.chat.completions.create,
    }[endpoint]
    result = create(**kwargs)
    if kwargs.get("stream"):
        with result as stream:
            for _ in stream:
                pass
            return stream.get_final_response()
    return result


async def _async_call(base_url: str, endpoint: str, kwargs: dict[str, Any]) -> Any:
    async with AsyncModelStudio(api_key="sk-test", base_url=base_url, max_retries=0) as c:
        create: Any = {
            "generation": c.generation.create,
            "multimodal": c.multimodal.create,
            "chat": c.chat.completions.create,
        }[endpoint]
        result = await create(**kwargs)
        if kwargs.get("stream"):
            async with result as stream:
                async for _ in stream:
                    pass
                return await stream.get_final_response()
        return result


def call(srv: MockServer, kind: str, endpoint: str, **kwargs: Any) -> Any:
    """One call with the sync or the async client; a stream is read to its end."""
    kwargs.setdefault("messages", _messages_for(endpoint))
    if kind == "sync":
        with ModelStudio(api_key="sk-test", base_url=srv.base_url, max_retries=0) as c:
            return _sync_call(c, endpoint, kwargs)
    return asyncio.run(_async_call(srv.base_url, endpoint, kwargs))


def refused(
    srv: MockServer, kind: str, endpoint: str, param: str, **kwargs: Any
) -> ValidationError:
    """The call raises before any I/O, naming `param` and a docs source."""
    srv.reset()
    with pytest.raises(ValidationError) as info:
        call(srv, kind, endpoint, **kwargs)
    assert srv.requests == [], "a refused call must not reach the server"
    error = info.value
    assert error.param == param, str(error)
    assert error.docs, "every refusal cites a docs fact or a recording"
    return error


def accepted(srv: MockServer, kind: str, endpoint: str, **kwargs: Any) -> dict[str, Any]:
    """The call reaches the server (which checks it against the spec too); the body it sent."""
    srv.reset()
    call(srv, kind, endpoint, **kwargs)
    assert len(srv.requests) == 1
    body = srv.requests[0].json
    assert isinstance(body, dict)
    return body


def sent_params(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("parameters") or {}) if "input" in body else body


# ---------------------------------------------------------------- 1. effective thinking mode


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ["generation", "chat"])
def test_forced_tool_refused_for_a_thinking_only_model(
    srv: MockServer, kind: str, endpoint: str
) -> None:
    """qwq-plus always thinks: a forced tool_choice is refused without enable_thinking=True."""
    common: dict[str, Any] = {"model": "qwq-plus", "tools": [TOOL], "stream": True}
    if endpoint == "generation":
        common["result_format"] = "message"
    error = refused(srv, kind, endpoint, "enable_thinking", tool_choice=FORCED, **common)
    assert error.value is True and "tool_choice" in error.rule
    accepted(srv, kind, endpoint, tool_choice="auto", **common)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ["generation", "chat"])
def test_code_interpreter_refused_when_thinking_is_off_by_default(
    srv: MockServer, kind: str, endpoint: str
) -> None:
    """qwen3-max thinks only when asked: enable_code_interpreter alone is refused."""
    error = refused(srv, kind, endpoint, "enable_thinking", model="qwen3-max",
                    enable_code_interpreter=True)  # fmt: skip
    assert error.value is False
    accepted(srv, kind, endpoint, model="qwen3-max", enable_code_interpreter=True,
             enable_thinking=True, stream=True)  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_thinking_budget_follows_the_default_mode(srv: MockServer, kind: str) -> None:
    """qwen3.5 thinks by default (D004): a budget alone is fine; qwen-plus does not."""
    accepted(srv, kind, "multimodal", model="qwen3.5-plus", thinking_budget=100)
    error = refused(srv, kind, "generation", "enable_thinking", model="qwen-plus",
                    thinking_budget=100)  # fmt: skip
    assert error.value is False
    accepted(srv, kind, "chat", model="qwen3.5-plus", thinking_budget=100)
    refused(srv, kind, "chat", "enable_thinking", model="qwen-plus", thinking_budget=100)


# ---------------------------------------------------------------- 2. what thinking mode requires


@pytest.mark.parametrize("kind", KINDS)
def test_sdk_fills_what_thinking_mode_requires(srv: MockServer, kind: str) -> None:
    """qwen-plus defaults to text / non-incremental; in thinking mode the SDK sends the only
    values the mode takes (D000/D001/D003)."""
    body = accepted(srv, kind, "generation", model="qwen-plus", enable_thinking=True, stream=True)
    params = sent_params(body)
    assert params["result_format"] == "message"
    assert params["incremental_output"] is True
    # non-thinking: nothing is filled but the incremental events of a stream
    body = accepted(srv, kind, "generation", model="qwen-plus", stream=True)
    assert "result_format" not in sent_params(body)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("model", "endpoint", "extra"),
    [
        ("qwen-plus", "generation", {"stream": True}),
        ("qwen3-max", "generation", {"stream": True}),
        ("qwen3-32b", "generation", {"stream": True}),
        ("qwen3-vl-plus", "multimodal", {}),
        ("qwen3-vl-235b-a22b-thinking", "multimodal", {}),
    ],
)
def test_thinking_mode_takes_only_message_format(
    srv: MockServer, kind: str, model: str, endpoint: str, extra: dict[str, Any]
) -> None:
    thinking = {} if "thinking" in model else {"enable_thinking": True}
    error = refused(srv, kind, endpoint, "result_format", model=model, result_format="text",
                    **thinking, **extra)  # fmt: skip
    assert "in thinking mode" in error.rule and "result_format='message'" in error.rule
    accepted(srv, kind, endpoint, model=model, result_format="message", **thinking, **extra)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("model", "thinking"),
    [("qwen-plus", True), ("qwq-plus", None), ("qwen3-32b", False), ("qwen3-32b", True),
     ("qwen3-235b-a22b-instruct-2507", None)],
)  # fmt: skip
def test_incremental_output_false_refused_where_only_true_is_taken(
    srv: MockServer, kind: str, model: str, thinking: bool | None
) -> None:
    """QwQ and Qwen3 thinking take only true; open-source Qwen3 never takes false."""
    mode = {} if thinking is None else {"enable_thinking": thinking}
    refused(srv, kind, "generation", "incremental_output", model=model, stream=True,
            incremental_output=False, **mode)  # fmt: skip
    accepted(srv, kind, "generation", model=model, stream=True, incremental_output=True, **mode)


def test_qwen_plus_non_thinking_takes_either_incremental_value(srv: MockServer) -> None:
    for value in (True, False):
        accepted(srv, "sync", "generation", model="qwen-plus", stream=True,
                 incremental_output=value)  # fmt: skip


def _sample_name(row: Any) -> str:
    """A model name the row's first pattern matches."""
    name = row.match[0].replace("*", "x")
    assert family_for(name) is row, (row.family, name)
    return name


def _endpoint_of(row: Any) -> tuple[str, str]:
    ops = {"text-generation": "textGeneration", "multimodal-generation": "multimodalGeneration"}
    for endpoint in row.endpoints:
        if endpoint in ops:
            return endpoint, ops[endpoint]
    return "text-generation", "textGeneration"


@pytest.mark.parametrize("enable_thinking", [None, False, True])
@pytest.mark.parametrize("row", FAMILIES, ids=lambda r: r.family)
def test_defaults_for_never_breaks_a_rule(row: Any, enable_thinking: bool | None) -> None:
    """Every row of the table, in each mode: the defaults as a request pass the validator."""
    model = _sample_name(row)
    params = modelstudio.defaults_for(model, enable_thinking=enable_thinking)
    if row.thinking_mode in (None, "none"):
        params.pop("enable_thinking", None)
    elif row.thinking_mode == "thinking-only":
        params["enable_thinking"] = True
    _, operation = _endpoint_of(row)
    messages = _image_message() if operation == "multimodalGeneration" else list(USER)
    body = {"model": model, "input": {"messages": messages}, "parameters": params}
    for stream in (True, False):
        problems = VALIDATORS[operation](body, stream)
        stream_only = [p for p in problems if p.param == "stream"]
        assert [p for p in problems if p not in stream_only] == [], (model, stream, problems)
        if stream:
            assert stream_only == []


def test_defaults_for_thinking_rows() -> None:
    plus = modelstudio.defaults_for("qwen-plus", enable_thinking=True)
    assert (plus["result_format"], plus["incremental_output"]) == ("message", True)
    plain = modelstudio.defaults_for("qwen-plus", enable_thinking=False)
    assert (plain["result_format"], plain["incremental_output"]) == ("text", False)
    assert modelstudio.defaults_for("qwen3-vl-plus", enable_thinking=True)["result_format"] == (
        "message"
    )


# ---------------------------------------------------------------- 3. streaming-only


@pytest.mark.parametrize("kind", KINDS)
def test_thinking_qwen3_vl_answers_both_ways(srv: MockServer, kind: str) -> None:
    """D004: in thinking mode the VL models answer streaming and non-streaming."""
    for model in ("qwen3-vl-235b-a22b-thinking", "qwen3-vl-30b-a3b-thinking"):
        accepted(srv, kind, "multimodal", model=model)
        accepted(srv, kind, "multimodal", model=model, stream=True)
    accepted(srv, kind, "multimodal", model="qwen3-vl-plus", enable_thinking=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("model", "endpoint"),
    [("qwq-plus", "generation"), ("qvq-max", "multimodal"), ("qwen3-32b", "generation"),
     ("qwen3-30b-a3b-thinking-2507", "generation"), ("qwen-deep-research", "generation")],
)  # fmt: skip
def test_streaming_only_models(srv: MockServer, kind: str, model: str, endpoint: str) -> None:
    """D000/D001 stream; D002 deep research: these answer only streams."""
    error = refused(srv, kind, endpoint, "stream", model=model)
    assert "only answers with stream=True" in error.rule
    accepted(srv, kind, endpoint, model=model, stream=True)


# ---------------------------------------------------------------- 4. support lists


def _partial(content: str = "Once upon") -> list[dict[str, Any]]:
    return [*USER, {"role": "assistant", "content": content, "partial": True}]


@pytest.mark.parametrize("kind", KINDS)
def test_partial_mode_only_on_listed_models(srv: MockServer, kind: str) -> None:
    accepted(srv, kind, "generation", model="qwen-plus", messages=_partial())
    accepted(srv, kind, "generation", model="qwen2.5-7b-instruct", messages=_partial())
    error = refused(srv, kind, "generation", "messages[1].partial", model="qwen-plus",
                    messages=_partial(), enable_thinking=True, stream=True)  # fmt: skip
    assert "in thinking mode" in error.rule
    refused(srv, kind, "generation", "messages[1].partial", model="qwen3-max", messages=_partial())
    mm = [*_image_message(), {"role": "assistant", "content": [{"text": "It"}], "partial": True}]
    refused(srv, kind, "multimodal", "messages[1].partial", model="qwen-vl-max", messages=mm)
    # a model the table does not know is never refused
    accepted(srv, kind, "generation", model="my-model", messages=_partial())


@pytest.mark.parametrize("kind", KINDS)
def test_max_input_tokens_only_on_listed_models(srv: MockServer, kind: str) -> None:
    for model in ("qwen-plus-latest", "qwen-plus-2025-07-28"):
        accepted(srv, kind, "generation", model=model, max_input_tokens=100000)
    for model in ("qwen-max", "qwen-plus"):
        error = refused(srv, kind, "generation", "max_input_tokens", model=model,
                        max_input_tokens=100000)  # fmt: skip
        assert "max_input_tokens" in (error.docs or "")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ["generation", "chat"])
def test_n_only_for_non_thinking_qwen3(srv: MockServer, kind: str, endpoint: str) -> None:
    for model in ("qwen-plus", "qwen-turbo", "qwen3-32b"):
        extra = {"enable_thinking": False} if model == "qwen3-32b" else {}
        stream = {"stream": True} if model == "qwen3-32b" else {}
        accepted(srv, kind, endpoint, model=model, n=2, **extra, **stream)
    refused(srv, kind, endpoint, "n", model="qwen-plus", n=2, enable_thinking=True, stream=True)
    for model in ("qwen-max", "qwen3-max"):
        error = refused(srv, kind, endpoint, "n", model=model, n=2)
        assert "003_bb9708c812a53c71.txt § n" in (error.docs or "")
    accepted(srv, kind, endpoint, model="qwen-max", n=1)


# ---------------------------------------------------------------- 5. newer page wins


def test_newer_page_defaults() -> None:
    assert modelstudio.defaults_for("qwen2.5-vl-72b-instruct")["top_k"] == 20
    preview = modelstudio.defaults_for("qwen3-max-preview", enable_thinking=False)
    assert preview["presence_penalty"] == 0.0 and "top_p" not in preview
    thinking = modelstudio.defaults_for("qwen3-max-preview", enable_thinking=True)
    assert (thinking["presence_penalty"], thinking["top_p"]) == (1.5, 1.0)


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_stream_needs_the_header(srv: MockServer, kind: str) -> None:
    """003 lists `stream` as a body parameter that also needs X-DashScope-SSE."""
    error = refused(srv, kind, "generation", "stream", model="qwen-plus",
                    extra_parameters={"stream": True})  # fmt: skip
    assert "X-DashScope-SSE" in error.rule
    body = accepted(srv, kind, "generation", model="qwen-plus", stream=True,
                    extra_parameters={"stream": True})  # fmt: skip
    assert sent_params(body)["stream"] is True
    # the SDK itself streams with the header alone (the 004 samples, every recording)
    body = accepted(srv, kind, "generation", model="qwen-plus", stream=True)
    assert "stream" not in sent_params(body)
    assert srv.requests[0].header("x-dashscope-sse") == "enable"


# ---------------------------------------------------------------- 6. required and well-formed


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_messages_need_a_user_message(srv: MockServer, kind: str, endpoint: str) -> None:
    model = "qwen-vl-max" if endpoint == "multimodal" else "qwen-plus"
    error = refused(srv, kind, endpoint, "messages", model=model, messages=[])
    assert "at least 1" in error.rule
    system_only = [{"role": "system", "content": "Be brief."}]
    error = refused(srv, kind, endpoint, "messages", model=model, messages=system_only)
    assert "role='user'" in error.rule
    accepted(srv, kind, endpoint, model=model)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_model_must_be_non_empty(srv: MockServer, kind: str, endpoint: str) -> None:
    refused(srv, kind, endpoint, "model", model="")
    accepted(srv, kind, endpoint, model="x")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_tool_function_needs_a_description(srv: MockServer, kind: str, endpoint: str) -> None:
    model = "qwen3.6-plus" if endpoint == "multimodal" else "qwen-plus"
    bare = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    fmt = {"result_format": "message"} if endpoint == "generation" else {}
    refused(srv, kind, endpoint, "tools[0].function.description", model=model, tools=[bare],
            **fmt)  # fmt: skip
    accepted(srv, kind, endpoint, model=model, tools=[TOOL], **fmt)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ["generation", "chat"])
def test_assistant_message_needs_content_or_tool_calls(
    srv: MockServer, kind: str, endpoint: str
) -> None:
    empty = [*USER, {"role": "assistant"}, {"role": "user", "content": "And?"}]
    refused(srv, kind, endpoint, "messages[1].content", model="qwen-plus", messages=empty)
    call_ = {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{}"}}  # fmt: skip
    with_calls = [
        *USER,
        {"role": "assistant", "tool_calls": [call_]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
    ]
    fmt = {"result_format": "message"} if endpoint == "generation" else {}
    accepted(srv, kind, endpoint, model="qwen-plus", messages=with_calls, tools=[TOOL], **fmt)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_max_tokens_at_least_one(srv: MockServer, kind: str, endpoint: str) -> None:
    model = "qwen-vl-max" if endpoint == "multimodal" else "qwen-plus"
    refused(srv, kind, endpoint, "max_tokens", model=model, max_tokens=0)
    accepted(srv, kind, endpoint, model=model, max_tokens=1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("param", "bad"),
    [("temperature", math.nan), ("top_p", math.inf), ("presence_penalty", -math.inf)],
)
def test_numbers_must_be_finite(
    srv: MockServer, kind: str, endpoint: str, param: str, bad: float
) -> None:
    model = "qwen-vl-max" if endpoint == "multimodal" else "qwen-plus"
    error = refused(srv, kind, endpoint, param, model=model, **{param: bad})
    assert "finite" in error.rule
    accepted(srv, kind, endpoint, model=model, **{param: 0.5})


@pytest.mark.parametrize("kind", KINDS)
def test_logit_bias_values_are_finite_numbers(srv: MockServer, kind: str) -> None:
    refused(srv, kind, "generation", "logit_bias.9909", model="qwen-plus",
            logit_bias={"9909": "low"})  # fmt: skip
    refused(srv, kind, "generation", "logit_bias.9909", model="qwen-plus",
            logit_bias={"9909": math.nan})  # fmt: skip
    accepted(srv, kind, "generation", model="qwen-plus", logit_bias={"9909": -100})


def test_nan_in_a_fps_or_nested_number_is_refused(srv: MockServer) -> None:
    video = [{"role": "user", "content": [{"video": "https://example.com/v.mp4", "fps": math.nan}]}]
    # the content union reports the part list as a whole (it has no discriminator)
    refused(srv, "sync", "multimodal", "messages[0].content", model="qwen-vl-max",
            messages=video)  # fmt: skip


# ---------------------------------------------------------------- 7. media limits everywhere


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _bmp_header(width: int, height: int) -> bytes:
    return b"BM" + b"\x00" * 16 + struct.pack("<ii", width, height) + b"\x00" * 28


def _data(mime: str, raw: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def _image_parts(endpoint: str, urls: list[str]) -> list[dict[str, Any]]:
    if endpoint == "chat":
        parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": u}} for u in urls]
        return [{"role": "user", "content": [*parts, {"type": "text", "text": "?"}]}]
    return [{"role": "user", "content": [*({"image": u} for u in urls), {"text": "?"}]}]


def _frames(endpoint: str, n: int) -> list[dict[str, Any]]:
    frames = [f"https://example.com/{i}.jpg" for i in range(n)]
    part = {"type": "video", "video": frames} if endpoint == "chat" else {"video": frames}
    return [{"role": "user", "content": [part]}]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ["multimodal", "chat"])
def test_image_count_and_frame_list_limits(srv: MockServer, kind: str, endpoint: str) -> None:
    """qwen3.7: up to 2,048 images by URL; a frame list has at least 4 images (D004)."""
    urls = [f"https://example.com/{i}.png" for i in range(2049)]
    error = refused(srv, kind, endpoint, error_path(endpoint, 0), model="qwen3.7-plus",
                    messages=_image_parts(endpoint, urls))  # fmt: skip
    assert "2049 images" in error.rule
    accepted(
        srv, kind, endpoint, model="qwen3.7-plus", messages=_image_parts(endpoint, urls[:2048])
    )
    error = refused(srv, kind, endpoint, frames_path(endpoint), model="qwen3.7-plus",
                    messages=_frames(endpoint, 3))  # fmt: skip
    assert "at least 4" in error.rule
    accepted(srv, kind, endpoint, model="qwen3.7-plus", messages=_frames(endpoint, 4))
    # frame-list caps on rows that lacked them: qwen-vl-plus takes 4-80 (D004 "other models")
    refused(srv, kind, endpoint, frames_path(endpoint), model="qwen-vl-plus",
            messages=_frames(endpoint, 81))  # fmt: skip
    accepted(srv, kind, endpoint, model="qwen-vl-plus", messages=_frames(endpoint, 80))


def error_path(endpoint: str, i: int) -> str:
    if endpoint == "chat":
        return f"messages[0].content[{i}].image_url.url"
    return f"messages[0].content[{i}].image"


def frames_path(endpoint: str) -> str:
    return "messages[0].content[0].video"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ["multimodal", "chat"])
def test_image_format_and_size_rules(srv: MockServer, kind: str, endpoint: str) -> None:
    """D004 § Image limits: formats, sides > 10 px, 200:1, above 4K only JPEG and PNG."""
    path = error_path(endpoint, 0)
    model = "qwen-vl-max"

    def bad(url: str, fragment: str) -> None:
        error = refused(
            srv, kind, endpoint, path, model=model, messages=_image_parts(endpoint, [url])
        )
        assert fragment in error.rule, error.rule

    def good(url: str) -> None:
        accepted(srv, kind, endpoint, model=model, messages=_image_parts(endpoint, [url]))

    bad(_data("image/gif", b"GIF89a" + struct.pack("<HH", 64, 64)), "not supported")
    bad(_data("image/png", _png(10, 64)), "greater than 10 px")
    good(_data("image/png", _png(11, 64)))
    bad(_data("image/png", _png(11, 2211)), "200 times")
    good(_data("image/png", _png(11, 2200)))
    bad(_data("image/bmp", _bmp_header(4000, 2200)), "only JPEG and PNG")
    good(_data("image/bmp", _bmp_header(3840, 2160)))
    good(_data("image/png", _png(4000, 2200)))


@pytest.mark.parametrize("kind", KINDS)
def test_compatible_mode_takes_no_local_files(srv: MockServer, kind: str) -> None:
    error = refused(srv, kind, "chat", error_path("chat", 0), model="qwen-vl-max",
                    messages=_image_parts("chat", ["file:///tmp/a.png"]))  # fmt: skip
    assert "DashScope SDK only" in error.rule


@pytest.mark.parametrize("kind", KINDS)
def test_compatible_fps_and_pixels_limits(srv: MockServer, kind: str) -> None:
    part = {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}, "fps": 2}
    ok = [{"role": "user", "content": [part]}]
    accepted(srv, kind, "chat", model="qwen3-vl-plus", messages=ok)
    ocr = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"},
           "min_pixels": 100}  # fmt: skip
    refused(srv, kind, "chat", "messages[0].content[0].min_pixels", model="qwen-vl-ocr",
            messages=[{"role": "user", "content": [ocr]}])  # fmt: skip


# ---------------------------------------------------------------- 8. fields the contract lacked


def test_image_hw_is_decoded() -> None:
    data = {"output": {"choices": [], "image_hw": [[532, 896]]}, "request_id": "r"}
    response = GenerationResponse.from_dict(data)
    assert response.output is not None and response.output.image_hw == [[532, 896]]


@pytest.mark.parametrize("kind", KINDS)
def test_max_frames_video_option(srv: MockServer, kind: str) -> None:
    part = {"video": "https://example.com/v.mp4", "fps": 2, "max_frames": 64}
    body = accepted(srv, kind, "multimodal", model="qwen3-vl-plus",
                    messages=[{"role": "user", "content": [part]}])  # fmt: skip
    assert body["input"]["messages"][0]["content"][0]["max_frames"] == 64
    bad = {**part, "max_frames": 0}
    refused(srv, kind, "multimodal", "messages[0].content", model="qwen3-vl-plus",
            messages=[{"role": "user", "content": [bad]}])  # fmt: skip


# ---------------------------------------------------------------- 9. nothing invented


@pytest.mark.parametrize("kind", KINDS)
def test_rules_without_a_source_are_gone(srv: MockServer, kind: str) -> None:
    schema_only = {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}
    accepted(srv, kind, "generation", model="qwen-max", response_format=schema_only)
    accepted(srv, kind, "chat", model="qwen-max", response_format=schema_only)
    accepted(srv, kind, "generation", model="qwen-plus", search_options={"forced_search": True})
    accepted(srv, kind, "generation", model="qwen-plus", incremental_output=True)
    # json_schema itself stays required with type json_schema (003)
    refused(srv, kind, "generation", "response_format.json_schema", model="qwen-max",
            response_format={"type": "json_schema"})  # fmt: skip


# ---------------------------------------------------------------- 10. the mock follows the table


def _raw(
    srv: MockServer, model: str, params: dict[str, Any], stream: bool = False
) -> httpx.Response:
    body = {"model": model, "input": {"messages": USER}, "parameters": params}
    headers = {"Authorization": "Bearer sk-test"}
    if stream:
        headers["X-DashScope-SSE"] = "enable"
    url = srv.base_url + "/services/aigc/text-generation/generation"
    return httpx.post(url, json=body, headers=headers, timeout=10)


def test_mock_answers_in_the_models_default_format(srv: MockServer) -> None:
    max_answer = _raw(srv, "qwen3-max", {}).json()
    assert max_answer["output"]["choices"][0]["message"]["content"]
    plus_answer = _raw(srv, "qwen-plus", {}).json()
    assert plus_answer["output"]["text"] and "choices" not in plus_answer["output"]
    assert _raw(srv, "qwen-plus", {"result_format": "message"}).json()["output"]["choices"]


def test_mock_applies_default_incremental_output_and_thinking(srv: MockServer) -> None:
    def texts(model: str) -> list[str]:
        lines = _raw(srv, model, {"result_format": "message"}, stream=True).text.splitlines()
        out = []
        for line in lines:
            if line.startswith("data:"):
                import json

                choice = json.loads(line[5:])["output"]["choices"][0]["message"]
                out.append(choice.get("content") or "")
        return [t for t in out if t]

    incremental = texts("qwen3-max")  # Qwen3-Max defaults to incremental_output=true
    cumulative = texts("qwen-plus")  # qwen-plus defaults to false
    assert "".join(incremental) == cumulative[-1]
    assert cumulative[-1].startswith(cumulative[0])
    # qwen3.5 thinks by default (D004): the mock answers with reasoning
    url = srv.base_url + "/services/aigc/multimodal-generation/generation"
    body = {"model": "qwen3.5-plus", "input": {"messages": _image_message()}}
    answer = httpx.post(url, json=body, headers={"Authorization": "Bearer sk-test"}, timeout=10)
    assert answer.json()["output"]["choices"][0]["message"]["reasoning_content"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("param", "value", "good_model", "bad_model", "endpoint"),
    [
        ("output_format", "model_summary_report", "qwen-deep-research", "qwen-plus", "generation"),
        ("asr_options", {"language": "en"}, "qwen3-asr-flash", "qwen-vl-max", "multimodal"),
        ("ocr_options", {"task": "text_recognition"}, "qwen-vl-ocr-latest", "qwen-vl-max",
         "multimodal"),
    ],
)  # fmt: skip
def test_model_specific_parameters(
    srv: MockServer, kind: str, param: str, value: Any, good_model: str, bad_model: str,
    endpoint: str,
) -> None:  # fmt: skip
    """D000/D001: output_format only for qwen-deep-research, asr_options only for Qwen3 ASR,
    ocr_options for Qwen-OCR; a model the table does not know is not refused."""
    stream = {"stream": True} if good_model == "qwen-deep-research" else {}
    accepted(srv, kind, endpoint, model=good_model, **{param: value}, **stream)
    refused(srv, kind, endpoint, param, model=bad_model, **{param: value})
    accepted(srv, kind, endpoint, model="my-model", **{param: value})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ["generation", "chat"])
def test_nan_inside_a_free_form_object_is_refused(
    srv: MockServer, kind: str, endpoint: str
) -> None:
    """A tool's JSON Schema is free-form, but a NaN in it would still be invalid JSON."""
    schema = {"type": "object", "properties": {"t": {"type": "number", "maximum": math.inf}}}
    bad = {"type": "function", "function": {**TOOL["function"], "parameters": schema}}
    fmt = {"result_format": "message"} if endpoint == "generation" else {}
    error = refused(srv, kind, endpoint, "tools[0].function.parameters.properties.t.maximum",
                    model="qwen-plus", tools=[bad], **fmt)  # fmt: skip
    assert "finite" in error.rule
    accepted(srv, kind, endpoint, model="qwen-plus", tools=[TOOL], **fmt)


@pytest.mark.parametrize("kind", KINDS)
def test_cross_field_rules_hold_on_the_compatible_endpoint(srv: MockServer, kind: str) -> None:
    """The x-rules of GenerationParameters that concern parameters chat.completions takes."""
    error = refused(srv, kind, "chat", "n", model="qwen-plus", tools=[TOOL], n=2)
    assert "fixed to 1" in error.rule
    accepted(srv, kind, "chat", model="qwen-plus", tools=[TOOL], n=1)
    refused(srv, kind, "chat", "logprobs", model="qwen-plus-2025-07-28", top_logprobs=2)
    accepted(srv, kind, "chat", model="qwen-plus-2025-07-28", top_logprobs=2, logprobs=True)
    refused(srv, kind, "chat", "tools", model="qwen-plus", tool_choice=FORCED)
    accepted(srv, kind, "chat", model="qwen-plus", tool_choice=FORCED, tools=[TOOL])


# ---------------------------------------------------------------- every table row, every flag


def _validate(row: Any, params: dict[str, Any], stream: bool, messages: Any = None) -> list[Any]:
    model = _sample_name(row)
    _, operation = _endpoint_of(row)
    if messages is None:
        messages = _image_message() if operation == "multimodalGeneration" else list(USER)
    body = {"model": model, "input": {"messages": messages}, "parameters": params}
    return [p for p in VALIDATORS[operation](body, stream) if p.param != "model"]


def _base(row: Any, thinking: bool) -> dict[str, Any]:
    """The parameters that put a row in a mode, with what that mode requires."""
    params = modelstudio.defaults_for(_sample_name(row), enable_thinking=thinking)
    if row.thinking_mode in (None, "none"):
        params.pop("enable_thinking", None)
    elif row.thinking_mode == "thinking-only":
        params["enable_thinking"] = True
    return params


@pytest.mark.parametrize("row", FAMILIES, ids=lambda r: r.family)
def test_every_row_streaming_only_flag(row: Any) -> None:
    params = _base(row, False)
    refusals = [p for p in _validate(row, params, stream=False) if p.param == "stream"]
    assert bool(refusals) == row.streaming_only, refusals
    assert [p for p in _validate(row, params, stream=True) if p.param == "stream"] == []


@pytest.mark.parametrize("row", FAMILIES, ids=lambda r: r.family)
def test_every_row_mode_requirements(row: Any) -> None:
    thinking = row.thinking_mode in ("hybrid", "thinking-only")
    params = _base(row, thinking)
    wanted = {**row.requires, **(row.requires_when_thinking if thinking else {})}
    for key, value in wanted.items():
        other = "text" if key == "result_format" else False
        problems = _validate(row, {**params, key: other}, stream=True)
        assert [p.param for p in problems] == [key], (key, problems)
        assert _validate(row, {**params, key: value}, stream=True) == []


ONLY_LISTED_USES: dict[str, tuple[str, Any]] = {
    "n": ("n", 2),
    "max_input_tokens": ("max_input_tokens", 1000),
    "code_interpreter": ("enable_code_interpreter", True),
    "output_format": ("output_format", "model_summary_report"),
    "asr_options": ("asr_options", {"language": "en"}),
    "ocr_options": ("ocr_options", {"task": "text_recognition"}),
}


@pytest.mark.parametrize("flag", sorted(ONLY_LISTED_USES))
@pytest.mark.parametrize("row", FAMILIES, ids=lambda r: r.family)
def test_every_row_support_lists(row: Any, flag: str) -> None:
    """A feature with an "only these models" list: a known row takes it only when it says so."""
    param, value = ONLY_LISTED_USES[flag]
    thinking = flag == "code_interpreter" and row.thinking_mode in ("hybrid", "thinking-only")
    params = {**_base(row, thinking), param: value}
    supports = {**row.supports, **(row.supports_when_thinking if thinking else {})}
    problems = [p for p in _validate(row, params, stream=True) if p.param == param]
    allowed = supports.get(flag) is True or row.match == ("*",)
    assert (problems == []) == allowed, (flag, problems)


@pytest.mark.parametrize("row", FAMILIES, ids=lambda r: r.family)
def test_every_row_partial_mode(row: Any) -> None:
    model = _sample_name(row)
    _, operation = _endpoint_of(row)
    user = _image_message() if operation == "multimodalGeneration" else list(USER)
    messages = [*user, {"role": "assistant", "content": "Once", "partial": True}]
    params = _base(row, False)
    problems = [p for p in _validate(row, params, True, messages) if "partial" in p.param]
    allowed = row.supports.get("partial_mode") is True or row.match == ("*",)
    assert (problems == []) == allowed, (model, problems)


@pytest.mark.parametrize("kind", KINDS)
def test_code_interpreter_only_on_the_named_models(srv: MockServer, kind: str) -> None:
    """D003: only qwen3.5, qwen3-max, qwen3-max-2026-01-23 and qwen3-max-preview, thinking."""
    thinking = {"enable_code_interpreter": True, "enable_thinking": True, "stream": True}
    for model in ("qwen3-max", "qwen3-max-2026-01-23", "qwen3-max-preview"):
        accepted(srv, kind, "generation", model=model, **thinking)
    accepted(srv, kind, "multimodal", model="qwen3.5-plus", **thinking)
    for model in ("qwen3-max-latest", "qwen3-max-2025-09-23", "qwen-plus"):
        refused(srv, kind, "generation", "enable_code_interpreter", model=model, **thinking)
    refused(srv, kind, "multimodal", "enable_code_interpreter", model="qwen3.6-plus", **thinking)
