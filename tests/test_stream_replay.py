"""Every recorded SSE stream, replayed byte for byte through the loopback server, comes out of
`create(..., stream=True)` as typed chunks and the right final response, sync and async."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from modelstudio import AsyncModelStudio, BadRequestError, IncompleteStreamError, ModelStudio
from modelstudio._accumulate import Accumulator
from modelstudio._sse import SSEDecoder
from modelstudio.testing import MockServer
from modelstudio.types import DeepResearchMessage, GenerationChunk, GenerationResponse
from tests.paths import RECORDINGS
from tests.recordings import sse_body

CASES = sorted(p.name.split(".")[0] for p in RECORDINGS.glob("*-sse.response.body.txt"))
COMPLETE = [c for c in CASES if c.startswith(("single-", "conversation-", "multimodal-"))]
DEEP_RESEARCH_PARTS = [
    c for c in CASES if c.startswith("deep-research-") and c != "deep-research-answer-finished-sse"
]


def expected_final(case: str) -> dict[str, Any]:
    """What the recording adds up to, computed straight from its events."""
    decoder = SSEDecoder()
    events = decoder.feed(sse_body(case)) + decoder.end()
    acc = Accumulator(incremental=True)
    for event in events:
        acc.add(event.json())
    return acc.final()


def pieces(body: bytes) -> list[bytes]:
    """The body cut into uneven network reads, some inside multi-byte characters."""
    cuts = [*list(range(0, len(body), 97)), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(cuts) if b > a]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer() as srv:
        yield srv


def enqueue(srv: MockServer, case: str) -> None:
    srv.enqueue(chunks=pieces(sse_body(case)), headers={"content-type": "text/event-stream"})


def call_args(case: str) -> tuple[str, dict[str, Any]]:
    resource = "multimodal" if case.startswith("multimodal-") else "generation"
    kwargs: dict[str, Any] = {
        "model": "qwen-deep-research" if case.startswith("deep-") else "qwen-max",
        "messages": [{"role": "user", "content": "replay"}],
        "stream": True,
        "validation": "off",
    }
    return resource, kwargs


@pytest.mark.parametrize("case", COMPLETE)
def test_recorded_stream_gives_typed_chunks_and_final_response(
    server: MockServer, case: str
) -> None:
    enqueue(server, case)
    resource, kwargs = call_args(case)
    with ModelStudio(api_key="sk-test", base_url=server.base_url, max_retries=0) as client:
        stream = getattr(client, resource).create(**kwargs)
        chunks = list(stream)
        final = stream.get_final_response()
    assert chunks and all(isinstance(c, GenerationChunk) for c in chunks)
    assert isinstance(final, GenerationResponse)
    assert final.to_dict() == expected_final(case)
    text = "".join(c.delta.text for c in chunks if c.delta)
    output = final.output
    if output.text is not None:
        assert text == output.text
    else:
        content = output.choices[0].message.content
        joined = content if isinstance(content, str) else "".join(p.text for p in content)
        assert text == joined


@pytest.mark.parametrize("case", ["single-generation-message-with-parallel-tools-sse"])
async def test_async_replay_merges_parallel_tool_calls(server: MockServer, case: str) -> None:
    enqueue(server, case)
    resource, kwargs = call_args(case)
    async with AsyncModelStudio(api_key="sk-test", base_url=server.base_url) as client:
        stream = await getattr(client, resource).create(**kwargs)
        fragments = [t for c in [c async for c in stream] if c.delta for t in c.delta.tool_calls]
        final = await stream.get_final_response()
    calls = final.output.choices[0].message.tool_calls
    assert len(calls) > 1
    assert sorted(c.index for c in calls) == list(range(len(calls)))
    assert all(c.id and c.function.name for c in calls)
    assert len(fragments) > len(calls)  # later fragments carried only argument text
    assert final.to_dict() == expected_final(case)


def test_deep_research_answer_comes_through_typed(server: MockServer) -> None:
    case = "deep-research-answer-finished-sse"
    enqueue(server, case)
    _, kwargs = call_args(case)
    with ModelStudio(api_key="sk-test", base_url=server.base_url) as client:
        stream = client.generation.create(**kwargs)
        chunks = list(stream)
    message = chunks[-1].output.message
    assert isinstance(message, DeepResearchMessage)
    assert (message.phase, message.status) == ("answer", "finished")
    assert stream.get_final_response().to_dict() == expected_final(case)


@pytest.mark.parametrize("case", DEEP_RESEARCH_PARTS)
def test_deep_research_fragment_without_its_end_is_reported_as_cut(
    server: MockServer, case: str
) -> None:
    # These recordings are single phases of a longer research stream: replayed alone, the
    # server closes before the final event, which must raise rather than look complete.
    enqueue(server, case)
    _, kwargs = call_args(case)
    received: list[GenerationChunk] = []
    with (
        ModelStudio(api_key="sk-test", base_url=server.base_url) as client,
        pytest.raises(IncompleteStreamError, match="cut"),
    ):
        for chunk in client.generation.create(**kwargs):
            received.append(chunk)
    assert received
    assert all(isinstance(c.output.message, DeepResearchMessage) for c in received)


def test_recorded_error_event_inside_http_200_raises_bad_request(server: MockServer) -> None:
    enqueue(server, "parameter-error-sse")
    _, kwargs = call_args("parameter-error-sse")
    with (
        ModelStudio(api_key="sk-test", base_url=server.base_url) as client,
        pytest.raises(BadRequestError) as info,
    ):
        list(client.generation.create(**kwargs))
    assert info.value.status_code == 400
    assert info.value.code == "InvalidParameter"
    assert info.value.request_id
