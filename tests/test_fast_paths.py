"""The fast paths of issue 9 behave exactly like the slow paths they skip.

Not timings (benchmarks are never unit tests): what the import leaves out, which pool the SDK's
own httpx clients get, and that the straight-line decoders and the stream's JSON shortcut give
the same values as the general code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest

import modelstudio
from modelstudio import AsyncModelStudio, ModelStudio
from modelstudio._accumulate import Delta
from modelstudio._clients import DEFAULT_CONNECTION_LIMITS
from modelstudio._sse import SSEDecoder
from modelstudio._stream import Stream
from modelstudio.testing import MockServer
from modelstudio.types import GenerationChunk, GenerationResponse, ResponseMessage

# --------------------------------------------------------------------------------------------
# import


def test_import_leaves_the_models_and_asyncio_for_later() -> None:
    code = (
        "import sys, modelstudio\n"
        "from modelstudio import ModelStudio, AsyncModelStudio\n"
        "print(sorted(m for m in ('modelstudio.types', 'modelstudio.parts', 'asyncio')"
        " if m in sys.modules))\n"
        "print(modelstudio.types.GenerationResponse.__name__, 'types' in dir(modelstudio))\n"
        "from modelstudio import parts\n"
        "print(parts.text('x'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == "GenerationResponse True"
    assert "TextPart" in out[2]


def test_unknown_attribute_still_raises() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = modelstudio.no_such_name


# --------------------------------------------------------------------------------------------
# connection pool


def test_own_http_clients_get_a_large_pool() -> None:
    assert DEFAULT_CONNECTION_LIMITS.max_connections == 1000
    assert DEFAULT_CONNECTION_LIMITS.max_keepalive_connections == 100
    with ModelStudio(api_key="sk-x") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == 1000
        assert pool._max_keepalive_connections == 100


async def test_own_async_http_client_gets_a_large_pool() -> None:
    async with AsyncModelStudio(api_key="sk-x") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._max_connections == 1000


def test_a_given_http_client_keeps_its_own_pool() -> None:
    with httpx.Client(limits=httpx.Limits(max_connections=3)) as http:
        client = ModelStudio(api_key="sk-x", http_client=http)
        assert client._http is http
        assert http._transport._pool._max_connections == 3  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# straight-line from_dict


def test_from_dict_sets_every_attribute_like_init() -> None:
    data = {
        "request_id": "r",
        "output": {
            "choices": [
                {"finish_reason": "null", "message": {"role": "assistant", "content": "hi"}}
            ]
        },
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3, "new_key": 4},
        "surprise": True,
    }
    chunk = GenerationChunk.from_dict(data)
    for field in attrs.fields(GenerationChunk):
        assert hasattr(chunk, field.name), field.name
    assert chunk.delta == Delta()  # nothing added: the chunk was not decoded by a stream
    assert chunk.extra_fields == {"surprise": True}
    assert chunk.usage is not None and chunk.usage.extra_fields == {"new_key": 4}
    assert chunk.usage.image_tokens is None
    assert chunk.output is not None and chunk.output.choices is not None
    assert chunk.output.choices[0].message is not None
    assert chunk.output.choices[0].message.content == "hi"
    # the same value as the attrs __init__ builds, and back to the same wire JSON
    rebuilt = attrs.evolve(chunk)
    assert rebuilt == chunk
    assert chunk.to_dict() == data
    response = GenerationResponse.from_dict({"request_id": "r"})
    assert response.partial is False and response.extra_fields == {}


def test_from_dict_keeps_what_it_cannot_decode() -> None:
    # a list field that is not a list, a list content of parts, a null content
    message = ResponseMessage.from_dict({"tool_calls": "odd", "content": [{"text": "a"}]})
    tool_calls: Any = message.tool_calls  # kept as received, whatever the annotation says
    assert tool_calls == "odd"
    assert isinstance(message.content, list) and message.content[0].to_dict() == {"text": "a"}
    assert ResponseMessage.from_dict({"content": None}).content is None


# --------------------------------------------------------------------------------------------
# stream: the JSON shortcut and the SSE fast path


def _event(n: int, data: str) -> bytes:
    return f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode()


def _text(n: int, text: str, reason: str = "null") -> str:
    return json.dumps({"output": {"finish_reason": reason, "text": text}, "request_id": "r"})


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


def test_data_with_spaces_around_the_json_decodes_the_slow_way(srv: MockServer) -> None:
    events = [
        _event(1, _text(1, "a")),
        _event(2, "  " + _text(2, "b") + "  "),  # json.loads takes it, the scanner alone not
        _event(3, _text(3, "", "stop")),
    ]
    srv.enqueue(chunks=events)
    with httpx.Client() as http:
        request = http.build_request("POST", srv.base_url + "/x", json={})
        response = http.send(request, stream=True)

        def make_chunk(data: dict[str, Any], delta: Delta) -> tuple[dict[str, Any], Delta]:
            return data, delta

        with Stream(
            response, make_chunk=make_chunk, make_response=lambda d: d, incremental=True
        ) as stream:
            texts = [delta.text for _, delta in stream]
    assert texts == ["a", "b", ""]


def test_sse_whole_line_reads_decode_like_split_reads() -> None:
    raw = (
        _event(1, '{"a": "é"}')
        + b": comment\nretry: 10\nevent: x\ndata: 1\ndata:2\n\n"
        + _event(2, "{}")
    )
    whole = SSEDecoder()
    events_whole = whole.feed(raw) + whole.end()
    split = SSEDecoder()
    events_split = [e for i in range(len(raw)) for e in split.feed(raw[i : i + 1])] + split.end()
    assert events_whole == events_split
    assert [e.data for e in events_whole] == ['{"a": "é"}', "1\n2", "{}"]
    assert events_whole[1].retry == 10 and events_whole[1].event == "x"
    assert whole.last_event_id == split.last_event_id == "2"
