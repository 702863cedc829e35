"""The shortcuts of issue 18 give exactly what the general code gives (no timings here).

* the SSE decoder's match for the service's own framing vs its general line loop;
* the accumulators' inline paths for ordinary events (native message format, compatible-mode
  `chat.completion.chunk`) vs their general paths;
* chunks and responses decoded on first access vs `from_dict`.
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import attrs
import pytest

from modelstudio import APIResponseValidationError, ModelStudio
from modelstudio._accumulate import Accumulator, Delta
from modelstudio._accumulate_chat import ChatAccumulator
from modelstudio._sse import SSEDecoder
from modelstudio.testing import MockServer
from modelstudio.types import ChatCompletionChunk, GenerationChunk, Usage

# --------------------------------------------------------------------------------------------
# SSE: the framing match vs the line loop

DATA = json.dumps({"output": {"text": "x"}, "request_id": "r"})
READS = [
    f"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{DATA}\n\n",
    f"id: 7\nevent: result\n: HTTP_STATUS/200\ndata: {DATA}\n\n",
    f"data: {DATA}\n\n",
    f"data:{DATA}\n\ndata: [DONE]\n\n",
    f"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{DATA}\n\nid:2\nevent:error\n:HTTP_STATUS/429\ndata:{{}}\n\n",
    "id:1\nevent:\n:c\ndata:  two spaces\n\n",
    f"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{DATA}\nid:2\n",  # no blank line (recorded)
    "data:a\ndata:b\n\n",
    f"retry:100\ndata:{DATA}\n\n",
    f"id:a\0b\nevent:result\n:HTTP_STATUS/200\ndata:{DATA}\n\n",
    f"event:result\nid:1\ndata:{DATA}\n\n",
    f"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{DATA}\n\ndata:partial",
    ": keep-alive\n\n",
    "data\n\n",
    f"id:1\r\nevent:result\r\n:HTTP_STATUS/200\r\ndata:{DATA}\r\n\r\n",
]


def _by_lines(reads: list[bytes]) -> tuple[list[Any], str | None]:
    decoder = SSEDecoder()
    decoder.feed(b"\n")  # past the BOM check, like the decoder under test below
    events = []
    for raw in reads:
        text = raw.decode().replace("\r\n", "\n")
        if not text.endswith("\n"):
            continue
        lines = text.split("\n")
        lines.pop()
        events += decoder._lines(lines)
    return events, decoder.last_event_id


@pytest.mark.parametrize("text", READS)
def test_service_framing_decodes_like_the_line_loop(text: str) -> None:
    reads = [text.encode(), READS[0].encode(), text.encode()]
    expected, last_id = _by_lines(reads)
    decoder = SSEDecoder()
    decoder.feed(b"\n")
    events = []
    for raw in reads:
        if raw.endswith(b"\n"):
            events += decoder.feed(raw)
    assert events == expected
    assert decoder.last_event_id == last_id


# --------------------------------------------------------------------------------------------
# accumulator: the inline path vs the general one


def _add_as_the_stream_does(accumulator: Accumulator, chunk: dict[str, Any]) -> Delta:
    delta = accumulator.add_common(chunk)
    return accumulator.add(chunk) if delta is None else delta


def _chunk(message: dict[str, Any], reason: Any = "null", **choice: Any) -> dict[str, Any]:
    return {
        "output": {"choices": [{"message": message, "finish_reason": reason, **choice}]},
        "usage": {"total_tokens": 3},
        "request_id": "r",
    }


SEQUENCES = [
    [
        _chunk({"content": "a", "role": "assistant"}),
        _chunk({"content": "b"}),
        _chunk({"content": ""}, "stop"),
    ],
    [
        _chunk({"content": "", "reasoning_content": "think", "role": "assistant"}),
        _chunk({"content": "", "reasoning_content": " more"}),
        _chunk({"content": "answer", "reasoning_content": ""}),
        _chunk({"content": ""}, "stop"),
    ],
    [
        _chunk({"content": "a"}, index=0),
        _chunk({"content": "b"}, index=0),
        _chunk({"content": "c"}, None),
    ],
    [
        _chunk({"content": "a"}),
        _chunk({"content": "b", "role": "tool"}),
        _chunk({"content": "c"}, ""),
    ],
    [_chunk({"content": "a"}), _chunk({"content": [{"text": "b"}]}), _chunk({"content": "c"})],
    [_chunk({"content": "a"}), _chunk({"content": "b", "reasoning_content": None})],
    [_chunk({"content": "a"}), _chunk({"content": "b", "extra": 1}), _chunk({"content": "c"}, 0)],
    [
        _chunk({"content": "a"}),
        _chunk({"content": "b"}, index=1),
        _chunk({"content": "c"}, logprobs={}),
    ],
    [
        _chunk({"content": "a"}),
        _chunk(
            {"content": "", "tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f"}}]}
        ),
        _chunk({"content": "b"}),
    ],
    [_chunk({"content": "a"}), {"output": {"choices": [{"message": {"content": "b"}}], "x": 1}}],
]


@pytest.mark.parametrize("incremental", [True, False])
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_inline_accumulation_matches_the_general_path(
    sequence: list[dict[str, Any]], incremental: bool
) -> None:
    fast, general = Accumulator(incremental=incremental), Accumulator(incremental=incremental)
    for chunk in sequence:
        assert _add_as_the_stream_does(fast, chunk) == general.add(chunk)
    assert fast.final() == general.final()
    assert fast.finished == general.finished


def _chat(delta: Any, reason: Any = None, **choice: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "qwen-plus",
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "finish_reason": reason, **choice}],
        "usage": None,
    }


CHAT_SEQUENCES = [
    [_chat({"content": "a", "role": "assistant"}), _chat({"content": "b"}), _chat({}, "stop")],
    [
        _chat({"content": None, "reasoning_content": "think", "role": "assistant"}),
        _chat({"reasoning_content": " more"}),
        _chat({"content": "answer", "reasoning_content": None}),
        _chat({"content": ""}, "stop"),
    ],
    [_chat({"content": "a"}), _chat({"content": "b", "role": ""}), _chat({"role": None})],
    [_chat({"content": "a"}), _chat({"content": "b"}, index=1), _chat({"content": "c"})],
    [_chat({"content": "a"}), _chat({"content": "b"}, index=True), _chat({"content": "c"})],
    [_chat({"content": "a"}), _chat({"content": "b"}, logprobs={"content": []})],
    [_chat({"content": "a"}), _chat({"content": "b"}, extra=1), _chat({"content": [1]})],
    [_chat({"content": "a"}), _chat({"content": 5}), _chat({"role": 3, "content": "c"})],
    [_chat({"content": "a"}), _chat({"content": "b", "audio": {"id": "x"}})],
    [_chat({"content": "a"}), {**_chat({"content": "b"}), "usage": {"total_tokens": 3}}],
    [_chat({"content": "a"}), {**_chat({"content": "b"}), "id": None, "surprise": [1]}],
    [_chat({"content": "a"}), {**_chat({"content": "b"}), "request_id": "r"}],
    [
        _chat({"content": "a"}),
        _chat({"tool_calls": [{"index": 0, "id": "t", "function": {"name": "f"}}]}),
        _chat({"content": "b"}),
    ],
    [{**_chat({"content": "a"}), "choices": []}, _chat({"content": "b"}), _chat({"x": 1})],
]


@pytest.mark.parametrize("sequence", CHAT_SEQUENCES)
def test_inline_chat_accumulation_matches_the_general_path(
    sequence: list[dict[str, Any]],
) -> None:
    fast, general = ChatAccumulator(include_usage=True), ChatAccumulator(include_usage=True)
    for chunk in sequence:
        delta = fast.add_common(chunk)
        assert (fast.add(chunk) if delta is None else delta) == general.add(chunk)
    assert fast.final() == general.final()
    assert fast.finished == general.finished and fast.events == general.events


# --------------------------------------------------------------------------------------------
# lazily decoded chunks and responses

WIRE = {
    "output": {
        "choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "null"}]
    },
    "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    "request_id": "r1",
    "surprise": True,
}


def test_a_lazy_chunk_is_the_chunk_from_dict_gives() -> None:
    delta = Delta("hi")
    lazy = GenerationChunk._lazy(WIRE, delta)
    eager = GenerationChunk.from_dict(WIRE)
    assert type(lazy) is GenerationChunk
    assert lazy.delta is delta
    assert lazy == eager and repr(lazy) == repr(eager)
    assert lazy.to_dict() == eager.to_dict()
    assert isinstance(lazy.usage, Usage) and lazy.extra_fields == {"surprise": True}
    assert attrs.asdict(GenerationChunk._lazy(WIRE)) == attrs.asdict(eager)
    assert copy.copy(GenerationChunk._lazy(WIRE)) == eager
    assert pickle.loads(pickle.dumps(GenerationChunk._lazy(WIRE))) == eager
    assert attrs.evolve(GenerationChunk._lazy(WIRE), request_id="r2").output == eager.output


def test_assigning_before_reading_keeps_the_assignment() -> None:
    chunk = GenerationChunk._lazy(WIRE)
    chunk.request_id = "mine"
    assert chunk.request_id == "mine"
    assert chunk.usage is not None and chunk.usage.total_tokens == 3
    chunk = GenerationChunk._lazy(WIRE)
    chunk.delta = Delta("x")  # not a wire field: no decoding needed, none lost
    assert chunk.delta.text == "x" and chunk.request_id == "r1"


def test_missing_attributes_and_wrong_shapes() -> None:
    chunk = GenerationChunk._lazy(WIRE)
    assert not hasattr(chunk, "no_such_field")
    with pytest.raises(AttributeError, match="no_such_field"):
        _ = chunk.no_such_field  # type: ignore[attr-defined]
    assert chunk.request_id == "r1"  # still decodes after the miss
    broken = GenerationChunk._lazy({"usage": "not an object"})
    with pytest.raises(APIResponseValidationError) as caught:
        _ = broken.usage
    assert caught.value.path == "usage"


def test_a_common_event_out_of_shape_elsewhere_raises_on_first_read(srv: MockServer) -> None:
    good = json.dumps(WIRE)
    odd = json.dumps({**WIRE, "usage": "lots"})  # the text part is fine: accumulated lazily
    last = json.dumps({**WIRE, "output": {"choices": [{"message": {"content": ""},
                                                       "finish_reason": "stop"}]}})  # fmt: skip
    srv.enqueue(200, chunks=[f"data:{e}\n\n".encode() for e in (good, odd, last)],
                headers={"content-type": "text/event-stream"})  # fmt: skip
    with ModelStudio(api_key="sk-test", base_url=srv.base_url, max_retries=0) as client:
        stream = client.generation.create(
            model="qwen-plus", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        chunks = list(stream)
    assert [c.delta.text for c in chunks] == ["hi", "hi", ""]
    with pytest.raises(APIResponseValidationError) as caught:
        _ = chunks[1].usage
    assert caught.value.path == "usage" and caught.value.request_id == "r1"
    assert chunks[0].usage is not None and chunks[0].usage.total_tokens == 3


def test_streamed_chunks_decode_on_access(srv: MockServer) -> None:
    with ModelStudio(api_key="sk-test", base_url=srv.base_url) as client:
        stream = client.generation.create(
            model="qwen-plus",
            messages=[{"role": "user", "content": "Hi"}],
            result_format="message",
            stream=True,
        )
        chunks = list(stream)
        final = stream.get_final_response()
    assert all(type(c) is GenerationChunk for c in chunks)
    text = "".join(c.output.choices[0].message.content for c in chunks if c.output.choices)
    assert text == "".join(c.delta.text for c in chunks)
    assert final.output.choices[0].message.content == text


def test_compatible_chunks_decode_on_access_and_odd_ones_at_once(srv: MockServer) -> None:
    good = [_chat({"role": "assistant", "content": "a"}), _chat({"content": "b"})]
    odd = {**_chat({"content": "c"}), "usage": "lots"}  # not the common chunk: decoded at once
    chunks = [f"data: {json.dumps(e)}\n\n".encode() for e in good] + [b"data: [DONE]\n\n"]
    srv.enqueue(200, chunks=chunks, headers={"content-type": "text/event-stream"})
    srv.enqueue(200, chunks=[*chunks[:2], f"data: {json.dumps(odd)}\n\n".encode()],
                headers={"content-type": "text/event-stream"})  # fmt: skip
    with ModelStudio(api_key="sk-test", base_url=srv.base_url, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        got = list(stream)
        final = stream.get_final_response()
        assert all(type(c) is ChatCompletionChunk for c in got)
        assert [c.delta.text for c in got] == ["a", "b"]
        assert got == [ChatCompletionChunk.from_dict(e) for e in good]
        assert got[1].choices[0].delta.content == "b" and got[1].extra_fields == {}
        assert final.choices[0].message.content == "ab"
        stream = client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        seen = []
        with pytest.raises(APIResponseValidationError) as caught, stream:
            for chunk in stream:
                seen.append(chunk.delta.text)
    assert seen == ["a", "b"] and caught.value.path == "usage"


@pytest.fixture
def srv() -> Any:
    with MockServer(api_key="sk-test") as server:
        yield server
