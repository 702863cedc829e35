"""The accumulator over the recorded DashScope streams (text, multimodal, deep research)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from modelstudio._accumulate import Accumulator, Delta
from modelstudio._sse import SSEDecoder
from modelstudio.types import ToolCall
from tests.paths import RECORDINGS
from tests.recordings import sse_body

GENERATION_FILES = sorted(
    p.name.split(".")[0]
    for p in RECORDINGS.glob("*-sse.response.body.txt")
    if p.name.startswith(("single-", "conversation-", "multimodal-"))
)


def events(case: str) -> list[dict[str, Any]]:
    """The JSON data of every event, decoded with the SDK's decoder (BOMs are stripped by it:
    recording defect 2)."""
    decoder = SSEDecoder()
    out = [e.json() for e in decoder.feed(sse_body(case))]
    out += [e.json() for e in decoder.end()]
    return out


def oracle_lines(case: str) -> list[dict[str, Any]]:
    """An independent reading of the same file: every `data:` line is one event."""
    text = (RECORDINGS / f"{case}.response.body.txt").read_text("utf-8-sig")
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [])


def run(case: str, incremental: bool = True) -> tuple[Accumulator, list[Delta]]:
    acc = Accumulator(incremental=incremental)
    return acc, [acc.add(chunk) for chunk in events(case)]


@pytest.mark.parametrize("case", GENERATION_FILES)
def test_recording_accumulates_to_the_concatenation(case: str) -> None:
    expected_events = oracle_lines(case)
    assert len(events(case)) == len(expected_events)  # the repair found every event
    acc, deltas = run(case)
    assert acc.finished
    final = acc.final()
    last = expected_events[-1]
    assert final["request_id"] == last["request_id"]
    assert final["usage"] == last["usage"]  # usage is cumulative: the last one is the total
    output = final["output"]
    if "text" in last["output"]:
        assert output["text"] == "".join(e["output"]["text"] for e in expected_events)
        assert output["finish_reason"] == last["output"]["finish_reason"] != "null"
        assert "".join(d.text for d in deltas) == output["text"]
        return
    (choice,) = output["choices"]
    messages = [e["output"]["choices"][0]["message"] for e in expected_events]
    expected_text = "".join(text_of(m.get("content")) for m in messages)
    content = choice["message"]["content"]
    if isinstance(messages[0]["content"], list):
        # Multimodal: one merged text part (or [] when only tool calls came).
        assert content == ([{"text": expected_text}] if expected_text else [])
    else:
        assert content == expected_text
    assert "".join(d.text for d in deltas) == expected_text
    expected_reasoning = "".join(m.get("reasoning_content") or "" for m in messages)
    if any("reasoning_content" in m for m in messages):
        assert choice["message"]["reasoning_content"] == expected_reasoning
    assert "".join(d.reasoning_content for d in deltas) == expected_reasoning
    assert choice["finish_reason"] == last["output"]["choices"][0]["finish_reason"]
    assert choice["finish_reason"] in ("stop", "tool_calls", "length")
    assert [d.finish_reason for d in deltas[:-1]] == [None] * (len(deltas) - 1)
    assert deltas[-1].finish_reason == choice["finish_reason"]
    assert choice["message"]["role"] == "assistant"


def test_text_format() -> None:
    acc, deltas = run("single-generation-text-sse")
    assert [d.text for d in deltas] == ["1+", "1", "等于", "2。", ""]
    assert acc.final()["output"] == {"finish_reason": "stop", "text": "1+1等于2。"}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "single-generation-message-with-parallel-tools-sse",
            [
                ("call_29a870e7106f45deb8add3", "浙江省杭州市"),
                ("call_026e44bb31a74266949a20", "上海市"),
            ],
        ),
        (
            "multimodal-generation-message-with-parallel-function-call-sse",
            [
                ("call_aa99ad078f294a3d81da41d7", "浙江省杭州市"),
                ("call_aa8b6311567847e197e6ca7f", "上海市"),
            ],
        ),
    ],
)
def test_parallel_tool_calls_are_merged_by_index(
    case: str, expected: list[tuple[str, str]]
) -> None:
    acc, deltas = run(case)
    choice = acc.final()["output"]["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    calls = choice["message"]["tool_calls"]
    assert [c["index"] for c in calls] == [0, 1]
    for call, (call_id, location) in zip(calls, expected, strict=True):
        assert call["id"] == call_id  # later fragments carry "id": "" and must not erase it
        assert call["type"] == "function"
        assert call["function"]["name"] == "get_current_weather"
        assert json.loads(call["function"]["arguments"]) == {"location": location}
    # Each delta lists the new fragments with their index.
    fragments = [f for d in deltas for f in d.tool_call_fragments]
    assert all("index" in f for f in fragments)
    for index, call in enumerate(calls):
        args = "".join(f["function"]["arguments"] for f in fragments if f["index"] == index)
        assert args == call["function"]["arguments"]
    # ... and as typed ToolCall objects, the type of the final message's calls.
    typed = [t for d in deltas for t in d.tool_calls]
    assert all(isinstance(t, ToolCall) for t in typed)
    assert [t.to_dict() for t in typed] == fragments
    for index, call in enumerate(calls):
        args = "".join(t.function.arguments for t in typed if t.index == index)
        assert args == call["function"]["arguments"]


def test_reasoning_then_content() -> None:
    acc, deltas = run("single-generation-message-reasoning-sse")
    message = acc.final()["output"]["choices"][0]["message"]
    assert message["reasoning_content"] == "嗯\uff0c用户问的是\u201c1+1是多少"
    assert message["content"].startswith("1+1 等于 **2**。")
    assert deltas[0].reasoning_content == "嗯" and deltas[0].text == ""
    usage = acc.final()["usage"]
    assert usage["output_tokens_details"] == {"reasoning_tokens": 10}  # new usage shape kept


def test_unknown_output_keys_are_kept_non_empty() -> None:
    # search_info comes in full in the first event and empty in the later ones.
    output = run("single-generation-message-search-sse")[0].final()["output"]
    assert len(output["search_info"]["search_results"]) > 0
    assert output["search_info"]["extra_tool_info"] == []
    output = run("single-generation-message-with-code-interpreter-sse")[0].final()["output"]
    assert output["tool_info"] == [
        {"code_interpreter": {"code": "123**21"}, "type": "code_interpreter"}
    ]


def test_unknown_top_level_and_message_keys_of_the_last_chunk_are_kept() -> None:
    acc = Accumulator(incremental=True)
    acc.add({"request_id": "r1", "output": {"choices": [{"message": {"content": "a"}}]}})
    acc.add(
        {
            "request_id": "r1",
            "status_code": 200,
            "output": {
                "choices": [
                    {
                        "finish_reason": "stop",
                        "logprobs": {"content": []},
                        "message": {"content": "b", "role": "assistant", "partial": False},
                    }
                ]
            },
            "usage": {"input_tokens": 1},
        }
    )
    final = acc.final()
    assert final["status_code"] == 200
    choice = final["output"]["choices"][0]
    assert choice["logprobs"] == {"content": []}
    assert choice["message"] == {"role": "assistant", "content": "ab", "partial": False}


DEEP_RESEARCH = [
    "deep-research-planning-type-sse",
    "deep-research-keep-alive-type-sse",
    "deep-research-web-research-streaming-queries-research-goal-sse",
    "deep-research-web-research-streaming-queries-sse",
    "deep-research-web-research-streaming-web-results-sse",
    "deep-research-web-research-streaming-web-results-learning-map-sse",
    "deep-research-web-research-web-result-finished-sse",
    "deep-research-answer-typing-reference-sse",
    "deep-research-answer-finished-sse",
]


def test_deep_research_single_recorded_events() -> None:
    # These files hold one event each, without a final blank line: the decoder's lenient EOF
    # rule dispatches it. Only the answer phase with status "finished" ends the stream (the
    # misspelled "fininshed" flag is false even then).
    for case in DEEP_RESEARCH:
        acc, deltas = run(case)
        assert len(deltas) == 1
        assert acc.finished is (case == "deep-research-answer-finished-sse"), case
    acc, deltas = run("deep-research-planning-type-sse")
    assert deltas[0].text == "本研究聚焦于"


def test_deep_research_sequence() -> None:
    """The recorded deep-research events, played in the order of a research run."""
    acc = Accumulator(incremental=True)
    deltas = [acc.add(events(case)[0]) for case in DEEP_RESEARCH]
    assert acc.finished
    assert [d.finish_reason for d in deltas] == [None] * 8 + ["stop"]
    final = acc.final()
    message = final["output"]["message"]
    assert message["phase"] == "answer" and message["status"] == "finished"
    assert message["content"] == "#"  # the answer phase's text only, not the planning text
    assert final["usage"] == {"input_tokens": 652, "output_tokens": 8930}
    assert final["output"]["fininshed_reason"] == "null"


def make_cumulative(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite an incremental stream as incremental_output=false sends it: every event repeats
    the whole text so far (content, reasoning, tool-call arguments)."""
    out = []
    content = ""
    reasoning = ""
    args: dict[int, str] = {}
    for chunk in chunks:
        chunk = copy.deepcopy(chunk)
        output = chunk["output"]
        if "text" in output:
            content += output["text"]
            output["text"] = content
        for choice in output.get("choices", []):
            message = choice["message"]
            if isinstance(message.get("content"), list):
                content += text_of(message["content"])
                message["content"] = [{"text": content}] if content else []
            elif isinstance(message.get("content"), str):
                content += message["content"]
                message["content"] = content
            if "reasoning_content" in message:
                reasoning += message["reasoning_content"] or ""
                message["reasoning_content"] = reasoning
            for call in message.get("tool_calls", []):
                index = call["index"]
                args[index] = args.get(index, "") + call["function"]["arguments"]
                call["function"]["arguments"] = args[index]
        out.append(chunk)
    return out


@pytest.mark.parametrize(
    "case",
    [
        "single-generation-text-sse",
        "single-generation-message-reasoning-sse",
        "single-generation-message-with-parallel-tools-sse",
        "multimodal-generation-message-with-parallel-function-call-sse",
        "multimodal-generation-vl-sse",
    ],
)
def test_incremental_and_cumulative_give_the_same_deltas(case: str) -> None:
    chunks = events(case)
    incremental = Accumulator(incremental=True)
    cumulative = Accumulator(incremental=False)
    for inc_chunk, cum_chunk in zip(chunks, make_cumulative(chunks), strict=True):
        assert incremental.add(inc_chunk) == cumulative.add(cum_chunk)
    assert cumulative.finished
    assert cumulative.final() == incremental.final()


def test_cumulative_text_that_is_not_a_prefix_replaces() -> None:
    acc = Accumulator(incremental=False)
    assert acc.add({"output": {"text": "Hello wor", "finish_reason": "null"}}).text == "Hello wor"
    assert acc.add({"output": {"text": "Hello world", "finish_reason": "null"}}).text == "ld"
    delta = acc.add({"output": {"text": "Hello, world!", "finish_reason": "stop"}})
    assert delta.text == "Hello, world!"
    assert delta.finish_reason == "stop"
    assert acc.final()["output"]["text"] == "Hello, world!"


def test_finished_needs_every_choice() -> None:
    acc = Accumulator(incremental=True)

    def chunk(index: int, text: str, reason: str) -> dict[str, Any]:
        message = {"role": "assistant", "content": text}
        return {
            "output": {"choices": [{"index": index, "message": message, "finish_reason": reason}]}
        }

    assert acc.add(chunk(0, "a", "null")).index == 0
    assert acc.add(chunk(1, "x", "null")).index == 1
    assert not acc.finished
    assert acc.add(chunk(0, "b", "stop")).finish_reason == "stop"
    assert not acc.finished
    acc.add(chunk(1, "y", "length"))
    assert acc.finished
    choices = acc.final()["output"]["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "ab", "stop"),
        (1, "xy", "length"),
    ]


@pytest.mark.parametrize("reason", [None, "", "null"])
def test_not_final_finish_reasons(reason: str | None) -> None:
    acc = Accumulator(incremental=True)
    delta = acc.add({"output": {"text": "a", "finish_reason": reason}})
    assert delta.finish_reason is None
    assert not acc.finished


def test_list_content_keeps_non_text_parts_in_place() -> None:
    acc = Accumulator(incremental=True)
    for content in (
        [{"text": "a"}],
        [{"text": "b"}, {"image": "http://x/1.png"}],
        [{"text": "c"}],
        [{"text": "d"}],
    ):
        acc.add({"output": {"choices": [{"message": {"role": "assistant", "content": content}}]}})
    assert acc.final()["output"]["choices"][0]["message"]["content"] == [
        {"text": "ab"},
        {"image": "http://x/1.png"},
        {"text": "cd"},
    ]


def test_chunk_without_output() -> None:
    acc = Accumulator(incremental=True)
    assert acc.add({"request_id": "r"}) == Delta()
    assert acc.events == 1
    assert not acc.finished
    assert acc.final() == {"request_id": "r"}
