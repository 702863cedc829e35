"""Every recorded non-streaming body of the two native generation endpoints decodes into typed
objects and encodes back to the same JSON.

Source: RECORDINGS (cnblogs/dashscope-sdk RawHttpData); MANIFEST.tsv one level up lists the cases.
How the known defects of the recordings (their README) are handled here:
- 2. UTF-8 byte-order marks: every file is read with the `utf-8-sig` codec, which drops one.
- 3. partial request headers: not used; the endpoint comes from the manifest's request path.
  One manifest row (single-generation-message-roleplay) has "application/json" in that column;
  its endpoint is taken from the spec's model table (qwen-plus-character -> text-generation).
- 4. field shapes changed over the years: each body is decoded by the same GenerationResponse,
  and the test demands that no key is lost (to_dict() == the JSON) and that every key is named
  by the spec (no `extra_fields` anywhere in the decoded tree).
- 1. (SSE separators) does not concern non-streaming bodies.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from modelstudio import ModelStudio, family_for
from modelstudio.testing import MockServer
from modelstudio.types import (
    Choice,
    GenerationOutput,
    GenerationResponse,
    ResponseContentPart,
    ResponseMessage,
    Usage,
)
from tests.paths import RECORDINGS

TEXT = "text-generation"
MULTIMODAL = "multimodal-generation"
# Free-form objects the spec leaves open on purpose (OCR key-information extraction returns the
# caller's own result_schema filled in): a plain dict is the right decoded value there.
FREE_FORM = {"kv_result"}


@attrs.frozen
class Case:
    name: str
    status: int
    model: str
    endpoint: str

    def read(self, part: str) -> str:
        suffix = "json" if part == "request.body" else "txt"
        return (RECORDINGS / f"{self.name}-nosse.{part}.{suffix}").read_text(encoding="utf-8-sig")


def manifest_cases() -> list[Case]:
    lines = (RECORDINGS.parent / "MANIFEST.tsv").read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split("\t")
    cases = []
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=True))
        if row["mode"] != "nosse":
            continue
        path = row["request_path"]
        if path.endswith(f"/{TEXT}/generation"):
            endpoint = TEXT
        elif path.endswith(f"/{MULTIMODAL}/generation"):
            endpoint = MULTIMODAL
        elif not path.startswith(("/", "http")) and row["model"]:
            endpoint = family_for(row["model"]).endpoints[0]  # manifest defect, see docstring
        else:
            continue  # uploads, not a generation endpoint
        cases.append(Case(row["case"], int(row["http_status"]), row["model"], endpoint))
    return cases


CASES = manifest_cases()
OK = [c for c in CASES if c.status == 200]
ERRORS = [c for c in CASES if c.status != 200]


def test_manifest_cases_cover_both_endpoints() -> None:
    assert len(OK) == 19
    assert {c.name for c in ERRORS} == {"auth-error", "parameter-error"}
    assert sum(c.endpoint == MULTIMODAL for c in OK) == 8
    roleplay = next(c for c in OK if c.name == "single-generation-message-roleplay")
    assert roleplay.endpoint == TEXT


def untyped_leftovers(obj: Any, path: str = "") -> list[str]:
    """Paths in a decoded tree where a key went to `extra_fields` or a dict stayed raw."""
    found: list[str] = []
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            found += untyped_leftovers(item, f"{path}[{i}]")
    elif attrs.has(type(obj)):
        if getattr(obj, "extra_fields", None):
            found.append(f"{path}: extra {sorted(obj.extra_fields)}")
        for field in attrs.fields(type(obj)):
            if field.name != "extra_fields":
                found += untyped_leftovers(getattr(obj, field.name), f"{path}.{field.name}")
    elif isinstance(obj, dict) and path.rsplit(".", 1)[-1] not in FREE_FORM:
        found.append(f"{path}: raw dict")
    return found


def check_typed(response: GenerationResponse, case: Case) -> None:
    assert isinstance(response, GenerationResponse)
    assert isinstance(response.request_id, str) and response.request_id
    assert isinstance(response.output, GenerationOutput)
    assert isinstance(response.usage, Usage)
    # Token counts, except for image generation (qwen-image-max), whose usage counts images.
    usage = response.usage
    assert isinstance(usage.output_tokens, int) or isinstance(usage.image_count, int)
    if response.output.choices is None:
        assert isinstance(response.output.text, str)  # result_format=text
        assert case.endpoint == TEXT
    else:
        for choice in response.output.choices:
            assert isinstance(choice, Choice)
            assert isinstance(choice.message, ResponseMessage)
            assert choice.message.role == "assistant"
            content = choice.message.content
            if case.endpoint == MULTIMODAL:
                assert isinstance(content, list)
                assert all(isinstance(part, ResponseContentPart) for part in content)
            else:
                assert isinstance(content, str)
    assert untyped_leftovers(response) == []


@pytest.mark.parametrize("case", OK, ids=lambda c: c.name)
def test_recorded_body_decodes_typed_and_round_trips(case: Case) -> None:
    data = json.loads(case.read("response.body"))
    response = GenerationResponse.from_dict(data)
    check_typed(response, case)
    assert response.to_dict() == data


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c.name)
def test_recorded_error_body_decodes_and_round_trips(case: Case) -> None:
    data = json.loads(case.read("response.body"))
    response = GenerationResponse.from_dict(data)
    assert isinstance(response.code, str) and response.code
    assert isinstance(response.message, str) and response.message
    assert response.output is None
    assert response.to_dict() == data


def recorded_headers(case: Case) -> dict[str, str]:
    """The recorded response headers, minus the ones about the recorded transfer (gzip, chunks)."""
    headers = {}
    for line in case.read("response.header").splitlines()[1:]:
        name, sep, value = line.partition(":")
        if sep and name.lower() not in {"content-encoding", "transfer-encoding", "content-length"}:
            headers[name.strip()] = value.strip()
    return headers


@pytest.mark.parametrize("case", OK, ids=lambda c: c.name)
def test_recorded_exchange_through_the_client(
    case: Case, client: ModelStudio, srv: MockServer
) -> None:
    """Replays the recorded request with the SDK (strict validation) and serves the recorded
    answer over loopback: the request that arrives equals the recorded one, and the answer decodes
    like `from_dict`. The legacy `input.prompt` form (single-generation-text) has no keyword in
    `create()`, so that prompt is sent as the one user message and only the decode is compared."""
    request = json.loads(case.read("request.body"))
    raw = case.read("response.body")
    srv.enqueue(body=raw, headers=recorded_headers(case))
    messages = request["input"].get("messages")
    prompt = messages is None
    if prompt:
        messages = [{"role": "user", "content": request["input"]["prompt"]}]
    resource = client.multimodal if case.endpoint == MULTIMODAL else client.generation
    response = resource.create(
        model=request["model"], messages=messages, **request.get("parameters", {})
    )
    sent = srv.requests[-1]
    assert sent.path.endswith(f"/{case.endpoint}/generation")
    if prompt:
        assert sent.json["parameters"] == request["parameters"]
    else:
        assert sent.json == request
    assert isinstance(response, GenerationResponse)
    check_typed(response, case)
    assert response.to_dict() == json.loads(raw)
