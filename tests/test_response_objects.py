"""What a user sees of a response: short reprs, `to_json()`, a named `with_options` default, and
a typed error naming the field when an answer does not have the documented shape (never an
`AttributeError` from inside the package), for responses and stream events, sync and async."""

from __future__ import annotations

import inspect
import json
import pickle
from typing import Any

import pytest

import modelstudio
from modelstudio import APIResponseValidationError, AsyncModelStudio, ModelStudio
from modelstudio._clients import NOT_GIVEN
from modelstudio.testing import MockServer
from modelstudio.types import ChatCompletion, GenerationResponse, ToolCall

HI = [{"role": "user", "content": "Hi"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "The weather.", "parameters": {}},
}


@pytest.fixture(autouse=True)
def fresh(srv: MockServer) -> None:
    """The module's server (tests/conftest.py) with no script and no request left over."""
    srv.reset()


# -- reading objects ----------------------------------------------------------------------------


def test_repr_shows_only_the_fields_that_are_set(client: ModelStudio) -> None:
    r = client.generation.create(model="qwen-plus", messages=HI, result_format="message")
    text = repr(r)
    assert "None" not in text and "extra_fields" not in text and "partial" not in text
    assert text.startswith("GenerationResponse(request_id=")
    assert "message=ResponseMessage(role='assistant', content='Echo: Hi')" in text
    assert "usage=Usage(input_tokens=" in text
    assert str(r) == text
    # a field set to a non-default value shows
    r.partial = True
    assert "partial=True" in repr(r)
    assert repr(GenerationResponse.from_dict({"surprise": 1})) == (
        "GenerationResponse(extra_fields={'surprise': 1})"
    )


def test_to_json_beside_to_dict(client: ModelStudio) -> None:
    r = client.generation.create(
        model="qwen-plus", messages=[{"role": "user", "content": "你好"}], result_format="message"
    )
    assert json.loads(r.to_json()) == r.to_dict()
    assert "Echo: 你好" in r.to_json()  # readable, not \\u escapes
    assert "\n" not in r.to_json(indent=None)
    c = client.chat.completions.create(model="qwen-plus", messages=HI)
    assert isinstance(c, ChatCompletion) and json.loads(c.to_json()) == c.to_dict()


def test_with_options_signature_names_its_default(client: ModelStudio) -> None:
    signature = str(inspect.signature(client.with_options))
    assert "object at 0x" not in signature
    assert "max_retries: 'int | None' = NOT_GIVEN" in signature
    assert repr(NOT_GIVEN) == "NOT_GIVEN" and not NOT_GIVEN
    assert pickle.loads(pickle.dumps(NOT_GIVEN)) is NOT_GIVEN
    # not given keeps the setting; a value changes it
    assert client.with_options()._settings.max_retries == 0
    assert client.with_options(max_retries=4)._settings.max_retries == 4


def test_stream_delta_tool_calls_are_typed_like_the_final_ones(client: ModelStudio) -> None:
    stream = client.generation.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": "What is the weather in Hangzhou?"}],
        tools=[WEATHER_TOOL],
        result_format="message",
        stream=True,
    )
    with stream:
        fragments = [call for chunk in stream for call in chunk.delta.tool_calls]
        final = stream.get_final_response()
    calls = final.output.choices[0].message.tool_calls
    assert calls and fragments
    assert all(type(f) is ToolCall is type(c) for f in fragments for c in calls)
    assert fragments[0].function.name == calls[0].function.name == "get_weather"
    assert "".join(f.function.arguments for f in fragments) == calls[0].function.arguments


def test_compatible_stream_delta_tool_calls_are_typed_too(client: ModelStudio) -> None:
    stream = client.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": "What is the weather in Hangzhou?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    with stream:
        fragments = [call for chunk in stream for call in chunk.delta.tool_calls]
        final = stream.get_final_response()
    calls = final.choices[0].message.tool_calls
    assert calls and fragments
    assert all(type(f) is ToolCall is type(c) for f in fragments for c in calls)
    assert "".join(f.function.arguments for f in fragments) == calls[0].function.arguments


# -- answers out of shape -----------------------------------------------------------------------

# (body of a 200, the path the error names); each wrong at a different depth.
NATIVE_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"output": 5, "usage": {}}, "output"),
    ({"output": "text", "usage": {}}, "output"),
    ({"output": {"text": "hi"}, "usage": [1, 2]}, "usage"),
    ({"output": {"choices": ["a", "b"]}, "usage": {}}, "output.choices[0]"),
    ({"output": {"choices": [None]}, "usage": {}}, "output.choices[0]"),
    ({"output": {"choices": [{"message": 3}]}, "usage": {}}, "output.choices[0].message"),
    (
        {"output": {"choices": [{"message": {"role": "assistant", "content": [1]}}]}},
        "output.choices[0].message.content[0]",
    ),
    (
        {"output": {"choices": [{"message": {"content": "", "tool_calls": ["x"]}}]}},
        "output.choices[0].message.tool_calls[0]",
    ),
    (
        {"output": {"choices": [{"message": {"tool_calls": [{"function": "f"}]}}]}},
        "output.choices[0].message.tool_calls[0].function",
    ),
    (
        {"output": {"text": "hi"}, "usage": {"output_tokens_details": []}},
        "usage.output_tokens_details",
    ),
    ({"output": {"search_info": "none"}}, "output.search_info"),
]
CHAT_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"id": "c", "choices": ["x"]}, "choices[0]"),
    ({"id": "c", "choices": [{"message": []}]}, "choices[0].message"),
    ({"id": "c", "choices": [], "usage": "lots"}, "usage"),
    (
        {"id": "c", "choices": [{"message": {"tool_calls": [7]}}]},
        "choices[0].message.tool_calls[0]",
    ),
]


def _check(error: APIResponseValidationError, path: str) -> None:
    assert error.path == path
    assert f"`{path}`" in str(error)
    assert isinstance(error, modelstudio.APIError)


@pytest.mark.parametrize(("body", "path"), NATIVE_BODIES)
def test_native_answer_out_of_shape_names_the_field(
    srv: MockServer, client: ModelStudio, body: dict[str, Any], path: str
) -> None:
    srv.enqueue(200, body=body)
    with pytest.raises(APIResponseValidationError) as caught:
        client.generation.create(model="qwen-plus", messages=HI)
    _check(caught.value, path)
    assert caught.value.request_id  # the mock adds one to every dict body
    assert len(srv.requests) == 1  # an answer arrived: not retried


@pytest.mark.parametrize(("body", "path"), CHAT_BODIES)
def test_compatible_answer_out_of_shape_names_the_field(
    srv: MockServer, client: ModelStudio, body: dict[str, Any], path: str
) -> None:
    srv.enqueue(200, body=body)
    with pytest.raises(APIResponseValidationError) as caught:
        client.chat.completions.create(model="qwen-plus", messages=HI)
    _check(caught.value, path)


def _sse(*events: dict[str, Any] | str) -> list[bytes]:
    return [f"data:{e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events]


GOOD_NATIVE_EVENT = {
    "request_id": "r",
    "output": {
        "choices": [{"finish_reason": "null", "message": {"role": "assistant", "content": "a"}}]
    },
    "usage": {},
}


@pytest.mark.parametrize(("body", "path"), NATIVE_BODIES)
def test_native_stream_event_out_of_shape_names_the_field(
    srv: MockServer, client: ModelStudio, body: dict[str, Any], path: str
) -> None:
    srv.enqueue(200, chunks=_sse(GOOD_NATIVE_EVENT, {"request_id": "r", **body}),
                headers={"content-type": "text/event-stream"})  # fmt: skip
    stream = client.generation.create(model="qwen-plus", messages=HI, stream=True)
    seen = []
    with pytest.raises(APIResponseValidationError) as caught, stream:
        for chunk in stream:
            seen.append(chunk.delta.text)
    assert seen == ["a"]  # the good event came through first
    _check(caught.value, path)
    assert caught.value.request_id == "r"


@pytest.mark.parametrize(("body", "path"), CHAT_BODIES)
def test_compatible_stream_event_out_of_shape_names_the_field(
    srv: MockServer, client: ModelStudio, body: dict[str, Any], path: str
) -> None:
    chunk = {**body, "object": "chat.completion.chunk"}
    if "message" in json.dumps(body):  # a chunk's choices carry `delta`, not `message`
        chunk = json.loads(json.dumps(chunk).replace('"message"', '"delta"'))
        path = path.replace("message", "delta")
    srv.enqueue(200, chunks=_sse(chunk, "[DONE]"), headers={"content-type": "text/event-stream"})
    stream = client.chat.completions.create(model="qwen-plus", messages=HI, stream=True)
    with pytest.raises(APIResponseValidationError) as caught, stream:
        list(stream)
    _check(caught.value, path)


@pytest.mark.parametrize(("body", "path"), NATIVE_BODIES[:4])
async def test_async_answers_out_of_shape_name_the_field(
    srv: MockServer, body: dict[str, Any], path: str
) -> None:
    async with AsyncModelStudio(api_key="sk-test", base_url=srv.base_url, max_retries=0) as c:
        srv.enqueue(200, body=body)
        with pytest.raises(APIResponseValidationError) as caught:
            await c.generation.create(model="qwen-plus", messages=HI)
        _check(caught.value, path)
        srv.enqueue(200, chunks=_sse({"request_id": "r", **body}),
                    headers={"content-type": "text/event-stream"})  # fmt: skip
        stream = await c.generation.create(model="qwen-plus", messages=HI, stream=True)
        with pytest.raises(APIResponseValidationError) as caught:
            async with stream:
                async for _ in stream:
                    pass
        _check(caught.value, path)


def test_values_of_the_wrong_type_are_kept_where_no_object_is_expected(
    srv: MockServer, client: ModelStudio
) -> None:
    body = {
        "output": {"text": 5, "choices": "none", "finish_reason": []},
        "usage": {"total_tokens": "many"},
    }
    srv.enqueue(200, body=body)
    r = client.generation.create(model="qwen-plus", messages=HI)
    assert r.output.text == 5 and r.output.choices == "none"
    assert r.usage.total_tokens == "many"
    assert r.to_dict()["output"] == body["output"]


@pytest.mark.parametrize(("raw", "kind"), [(b"5", "a number"), (b"[1, 2]", "an array")])
def test_a_body_that_is_not_an_object_is_out_of_shape(
    srv: MockServer, client: ModelStudio, raw: bytes, kind: str
) -> None:
    srv.enqueue(200, body=raw, headers={"content-type": "application/json"})
    with pytest.raises(APIResponseValidationError) as caught:
        client.generation.create(model="qwen-plus", messages=HI)
    assert caught.value.path == "(the body)" and f"the body is {kind}" in str(caught.value)
    assert len(srv.requests) == 1


@pytest.mark.parametrize(("body", "path"), CHAT_BODIES)
def test_translated_answers_out_of_shape_do_not_crash(
    srv: MockServer, body: dict[str, Any], path: str
) -> None:
    # protocol="openai": the compatible answer is translated to the native shape first; what
    # cannot be translated is left out or raises the typed error, never AttributeError.
    with ModelStudio(api_key="k", base_url=srv.base_url, protocol="openai", max_retries=0) as c:
        srv.enqueue(200, body=body)
        try:
            r = c.generation.create(model="qwen-plus", messages=HI, result_format="message")
        except APIResponseValidationError as error:
            assert error.path
        else:
            assert isinstance(r, GenerationResponse)
