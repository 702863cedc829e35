"""The documented curl samples of the native endpoints, as the spec carries them.

Each sample of the docs pages is a request-body example of its operation in
spec/modelstudio.yaml (`examples`, each citing its page and section). The request conformance
vectors (spec/conformance/generated/request.json) replay every one through the SDK against a
loopback MockServer and compare the body that arrives with the documented JSON; the tests here
check what is particular to some samples.

Streaming samples (`x-headers: {X-DashScope-SSE: enable}`) are replayed with `stream=True`. The
SDK adds `incremental_output: true` to a streaming call that does not set it, so for such a
sample the expected body is the documented JSON plus `parameters.incremental_output = true`
(only the qwen-deep-research samples lack it; every other streaming sample sets it itself).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelstudio import ModelStudio
from modelstudio.testing import MockServer
from tests.spec_examples import Example, request_examples

SAMPLES = request_examples()
NATIVE = [s for s in SAMPLES if s.operation != "chatCompletions"]
PAGES = ("DashScope API reference", "Visual understanding")


def test_the_spec_carries_every_documented_sample() -> None:
    # The pages have 45 curl samples, 9 of them OpenAI-compatible (the digest's Appendix B).
    assert len(SAMPLES) == 45
    assert len(NATIVE) == 36
    assert len({s.name for s in SAMPLES}) == 45
    for sample in SAMPLES:
        assert any(page in sample.summary for page in PAGES), sample.summary
        assert ".txt" not in sample.summary  # cited by public title, not by a file name


def expected_body(sample: Example) -> dict[str, Any]:
    """The documented JSON, plus what the SDK documents adding (see the module docstring)."""
    body = copy.deepcopy(sample.body)
    params = body.get("parameters") or {}
    if sample.streaming and "incremental_output" not in params:
        params["incremental_output"] = True
        body["parameters"] = params
    return body


TOOL_SAMPLES = [s for s in NATIVE if "tools" in (s.body.get("parameters") or {})]


@pytest.mark.parametrize("sample", TOOL_SAMPLES, ids=lambda s: s.id)
def test_tool_samples_keep_required_beside_parameters(
    sample: Example, client: ModelStudio, srv: MockServer
) -> None:
    """The weather-tool samples (both English editions and the Chinese one) put
    `"required": ["location"]` beside the function's `parameters`, where the reference text (and
    every recording) has it inside the `parameters` JSON Schema. The spec reads
    FunctionDefinition as open (extra keys are kept and not rejected; x-disagreement in
    spec/modelstudio.yaml): the SDK does not move or drop keys a caller wrote, so the sample is
    sent as documented and validates in strict mode."""
    tool = sample.body["parameters"]["tools"][1]["function"]
    assert tool["required"] == ["location"]
    assert "required" not in tool["parameters"]
    client.generation.create(
        model=sample.body["model"],
        messages=sample.body["input"]["messages"],
        **sample.body["parameters"],
    )
    assert srv.requests[-1].json["parameters"]["tools"][1]["function"]["required"] == ["location"]
    assert len(TOOL_SAMPLES) == 3


def test_streaming_samples_are_the_documented_ones() -> None:
    streaming = sorted(s.id for s in NATIVE if s.streaming)
    assert streaming == [
        "api-reference-earlier-streaming-output",
        "api-reference-streaming-output",
        "api-reference-zh-deep-research-step-1",
        "api-reference-zh-deep-research-step-2",
        "api-reference-zh-streaming-output",
        "vision-enable-or-disable-thinking-mode-dashscope",
    ]
    # Only the deep-research samples omit incremental_output; the SDK adds it (module docstring).
    added = sorted(s.id for s in NATIVE if s.streaming and expected_body(s) != s.body)
    assert added == [
        "api-reference-zh-deep-research-step-1",
        "api-reference-zh-deep-research-step-2",
    ]


def test_each_sample_is_on_the_operation_its_page_calls() -> None:
    for sample in NATIVE:
        parts = [p for m in sample.body["input"]["messages"] for p in m.get("content") or []
                 if isinstance(p, dict)]  # fmt: skip
        media = any({"image", "video", "audio"} & set(part) for part in parts)
        assert media is (sample.operation == "multimodalGeneration"), sample.id
