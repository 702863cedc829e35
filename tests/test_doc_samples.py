"""Every documented curl sample of the native endpoints, replayed through the SDK.

The samples are extracted from the scraped docs pages (DOCS/000..004, listed with their locations
in api-digest.md Appendix B). For each one the SDK is called with the same model, messages and
parameters, against a real loopback MockServer, and the body that arrived must equal the
documented JSON.

Care with the scraped text:
- the curl command may follow prose on the same line ("curlThe API keys ... curl --location");
- the body is the argument of `--data '` or `-d '`, sometimes with a newline before the `{`;
- the JSON may itself contain an apostrophe ("What's the weather"), so the body is not cut at the
  next `'`: it is decoded with `json.JSONDecoder.raw_decode`, which stops at the end of the object.

Streaming samples (header `X-DashScope-SSE: enable`) are replayed with `stream=True`. The SDK adds
`incremental_output: true` to a streaming call that does not set it, so for such a sample the
expected body is the documented JSON plus `parameters.incremental_output = true` (only the
qwen-deep-research samples lack it; every other streaming sample sets it itself).

No sample breaks a documented rule, so every call runs with the default `validation="strict"`;
the OpenAI-compatible samples (`/compatible-mode/`) are counted but belong to the compatible-mode
tests.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import attrs
import pytest

from modelstudio import ModelStudio
from modelstudio.testing import MockServer
from tests.paths import DOCS

_CURL = re.compile(
    r"curl\s+(?:-X\s+POST\s+|--location\s+(?:--request\s+POST\s+)?)"
    r"['\"]?(?P<url>https?://[^\s'\"]+)['\"]?\s*\\\n"
)
_DATA = re.compile(r"(?:--data|-d)\s+'")
_HEADER = re.compile(r"(?:--header|-H)\s+['\"](?P<header>[^'\"]+)['\"]")


@attrs.frozen
class Sample:
    page: str
    line: int
    url: str
    headers: tuple[str, ...]
    body: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.page[:3]}:{self.line}:{self.body['model']}"

    @property
    def streaming(self) -> bool:
        return any(h.replace(" ", "").lower() == "x-dashscope-sse:enable" for h in self.headers)


def extract(page: str, text: str) -> list[Sample]:
    """Every curl command of `text` with its URL, headers and decoded JSON body."""
    samples = []
    decoder = json.JSONDecoder()
    for match in _CURL.finditer(text):
        data = _DATA.search(text, match.end())
        assert data is not None, f"{page}: curl without a body at offset {match.start()}"
        start = data.end()
        while text[start].isspace():
            start += 1
        body, _ = decoder.raw_decode(text, start)
        headers = tuple(h["header"] for h in _HEADER.finditer(text, match.end(), data.start()))
        line = text.count("\n", 0, match.start()) + 1
        samples.append(Sample(page, line, match["url"], headers, body))
    return samples


def all_samples() -> list[Sample]:
    out: list[Sample] = []
    for path in sorted(DOCS.glob("00[0-4]_*.txt")):
        out.extend(extract(path.name, path.read_text(encoding="utf-8")))
    return out


SAMPLES = all_samples()
NATIVE = [s for s in SAMPLES if "/compatible-mode/" not in s.url]


def test_extractor_finds_every_appendix_b_sample() -> None:
    # api-digest.md Appendix B lists 45 curl samples (B.1 .. B.45), 9 of them OpenAI-compatible.
    digest = (DOCS / "api-digest.md").read_text(encoding="utf-8")
    listed = re.findall(r"^### B\.\d+ `(\d{3}_[0-9a-f]+\.txt)` line (\d+)$", digest, re.M)
    assert len(listed) == 45
    found = {(s.page, s.line) for s in SAMPLES}
    assert {(page, int(line)) for page, line in listed} == found
    assert len(NATIVE) == 36


def expected_body(sample: Sample) -> dict[str, Any]:
    """The documented JSON, plus what the SDK documents adding (see the module docstring)."""
    body = copy.deepcopy(sample.body)
    params = body.get("parameters") or {}
    if sample.streaming and "incremental_output" not in params:
        params["incremental_output"] = True
        body["parameters"] = params
    return body


@pytest.mark.parametrize("sample", NATIVE, ids=lambda s: s.id)
def test_documented_sample_body_is_sent_verbatim(
    sample: Sample, client: ModelStudio, srv: MockServer
) -> None:
    resource = client.multimodal if "/multimodal-generation/" in sample.url else client.generation
    assert "/multimodal-generation/" in sample.url or "/text-generation/" in sample.url
    before = len(srv.requests)
    parameters = dict(sample.body.get("parameters") or {})
    result: Any = resource.create(
        model=sample.body["model"],
        messages=sample.body["input"]["messages"],
        stream=sample.streaming,
        **parameters,
    )
    if sample.streaming:
        for _ in result:
            pass
    assert len(srv.requests) == before + 1
    sent = srv.requests[-1]
    assert sent.path.endswith(sample.url.split("/api/v1", 1)[1])
    assert (sent.header("x-dashscope-sse") == "enable") is sample.streaming
    assert sent.json == expected_body(sample)


TOOL_SAMPLES = [s for s in NATIVE if "tools" in (s.body.get("parameters") or {})]


@pytest.mark.parametrize("sample", TOOL_SAMPLES, ids=lambda s: s.id)
def test_tool_samples_keep_required_beside_parameters(
    sample: Sample, client: ModelStudio, srv: MockServer
) -> None:
    """The weather-tool samples (000, 001, 002) put `"required": ["location"]` beside the
    function's `parameters`, where the reference text (and every recording) has it inside the
    `parameters` JSON Schema. The spec reads FunctionDefinition as open (extra keys are kept and
    not rejected; x-disagreement in spec/modelstudio.yaml): the SDK does not move or drop keys a
    caller wrote, so the sample is sent as documented and validates in strict mode."""
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
        "000:383:qwen-plus",
        "001:383:qwen-plus",
        "002:1400:qwen-deep-research",
        "002:1417:qwen-deep-research",
        "002:352:qwen-plus",
        "004:561:qwen3.7-plus",
    ]
    # Only the deep-research samples omit incremental_output; the SDK adds it (module docstring).
    added = sorted(s.id for s in NATIVE if s.streaming and expected_body(s) != s.body)
    assert added == ["002:1400:qwen-deep-research", "002:1417:qwen-deep-research"]
