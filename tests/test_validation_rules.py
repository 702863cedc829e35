"""Each documented rule rejects a bad request before any I/O and accepts its nearest good neighbour.

One table row per rule: the keyword arguments of a bad call, the smallest change that makes it
good, and what the ValidationError must report (parameter, rule fragment, docs fragment). The bad
call must raise in strict mode with nothing reaching the MockServer; the good call must reach it
and carry the good value. Ranges are probed on both sides of each documented bound, with the open
or closed end exactly as the spec states it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from modelstudio import ModelStudio, ValidationError, ValidationWarning
from modelstudio._checks import ValidationMode
from modelstudio.testing import MockServer

USER = [{"role": "user", "content": "Hello"}]
IMAGE = [{"role": "user", "content": [{"image": "https://example.com/a.png"}, {"text": "Read it"}]}]
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def tool(name: str) -> dict[str, Any]:
    return {**TOOL, "function": {**TOOL["function"], "name": name}}


@attrs.frozen
class Rule:
    id: str
    bad: dict[str, Any]
    good: dict[str, Any]
    param: str  # ValidationError.param
    value: Any  # ValidationError.value
    rule: str  # a fragment of ValidationError.rule
    docs: str  # a fragment of ValidationError.docs
    model: str = "qwen-plus"
    resource: str = "generation"  # for the bad call; the good call may override it
    good_resource: str | None = None
    messages: tuple[dict[str, Any], ...] = tuple(USER)


D001, D003 = "001_815efe83d03b75c9.txt", "003_bb9708c812a53c71.txt"
KIE = "key_information_extraction"

RULES = [
    # ---- ranges: [0, 2) for temperature
    Rule("temperature-max-open", {"temperature": 2.0}, {"temperature": 1.99},
         "temperature", 2.0, ">= 0 and < 2", "§ temperature"),
    Rule("temperature-min-closed", {"temperature": -0.01}, {"temperature": 0.0},
         "temperature", -0.01, ">= 0 and < 2", "§ temperature"),
    # (0, 1] for top_p
    Rule("top_p-min-open", {"top_p": 0.0}, {"top_p": 0.001},
         "top_p", 0.0, "> 0 and <= 1", "§ top_p"),
    Rule("top_p-max-closed", {"top_p": 1.01}, {"top_p": 1.0},
         "top_p", 1.01, "> 0 and <= 1", "§ top_p"),
    # top_k >= 0 (None or > 100 disables it, so no maximum)
    Rule("top_k-min-closed", {"top_k": -1}, {"top_k": 0}, "top_k", -1, ">= 0", "§ top_k"),
    Rule("top_k-integer", {"top_k": 1.5}, {"top_k": 101}, "top_k", 1.5, "integer", "§ top_k"),
    # [-2, 2] for presence_penalty
    Rule("presence-max-closed", {"presence_penalty": 2.01}, {"presence_penalty": 2.0},
         "presence_penalty", 2.01, ">= -2 and <= 2", "§ presence_penalty"),
    Rule("presence-min-closed", {"presence_penalty": -2.01}, {"presence_penalty": -2.0},
         "presence_penalty", -2.01, ">= -2 and <= 2", "§ presence_penalty"),
    # repetition_penalty > 0
    Rule("repetition-min-open", {"repetition_penalty": 0.0}, {"repetition_penalty": 0.01},
         "repetition_penalty", 0.0, "> 0", "§ repetition_penalty"),
    # seed in [0, 2^31 - 1]
    Rule("seed-max-closed", {"seed": 2**31}, {"seed": 2**31 - 1},
         "seed", 2**31, "<= 2147483647", "§ seed"),
    Rule("seed-min-closed", {"seed": -1}, {"seed": 0}, "seed", -1, ">= 0", "§ seed"),
    # n in [1, 4]
    Rule("n-max-closed", {"n": 5}, {"n": 4}, "n", 5, ">= 1 and <= 4", "§ n"),
    Rule("n-min-closed", {"n": 0}, {"n": 1}, "n", 0, ">= 1 and <= 4", "§ n"),
    # top_logprobs in [0, 5] (qwen-max: logprobs supported)
    Rule("top_logprobs-max-closed", {"logprobs": True, "top_logprobs": 6},
         {"logprobs": True, "top_logprobs": 5},
         "top_logprobs", 6, ">= 0 and <= 5", "§ top_logprobs", model="qwen-max"),
    Rule("top_logprobs-min-closed", {"logprobs": True, "top_logprobs": -1},
         {"logprobs": True, "top_logprobs": 0},
         "top_logprobs", -1, ">= 0 and <= 5", "§ top_logprobs", model="qwen-max"),
    # max_tokens: per model; qwen-vl-ocr goes up to 8192 (4096 by default)
    Rule("max_tokens-ocr-limit", {"max_tokens": 8193}, {"max_tokens": 8192},
         "max_tokens", 8193, "<= 8192", "§ parameters: max_tokens",
         model="qwen-vl-ocr", resource="multimodal", messages=tuple(IMAGE)),
    # thinking_budget: no documented bound; it takes effect only with thinking on
    Rule("thinking_budget-needs-thinking",
         {"enable_thinking": False, "thinking_budget": 100},
         {"enable_thinking": True, "thinking_budget": 100, "stream": True},
         "enable_thinking", False, "only when thinking is enabled", "§ thinking_budget"),
    # ---- enums
    Rule("result_format-enum", {"result_format": "json"}, {"result_format": "message"},
         "result_format", "json", "one of 'text', 'message'", "§ result_format"),
    Rule("tool_choice-enum", {"tools": [TOOL], "result_format": "message",
                              "tool_choice": "required"},
         {"tools": [TOOL], "result_format": "message", "tool_choice": "auto"},
         "tool_choice", "required", "", "§ tool_choice"),
    Rule("response_format-type-enum", {"response_format": {"type": "xml"}},
         {"response_format": {"type": "json_object"}},
         "response_format.type", "xml", "one of 'text', 'json_object', 'json_schema'",
         "response_format"),
    Rule("ocr-task-enum", {"ocr_options": {"task": "ocr"}},
         {"ocr_options": {"task": "text_recognition"}},
         "ocr_options.task", "ocr", "one of 'text_recognition'", "ocr_options",
         model="qwen-vl-ocr", resource="multimodal", messages=tuple(IMAGE)),
    # ---- patterns: function names are letters, digits, _ and -, at most 64 characters
    Rule("tool-name-charset", {"tools": [tool("get weather")], "result_format": "message"},
         {"tools": [tool("get_weather-2")], "result_format": "message"},
         "tools[0].function.name", "get weather", "^[A-Za-z0-9_-]{1,64}$", "function name"),
    Rule("tool-name-length", {"tools": [tool("f" * 65)], "result_format": "message"},
         {"tools": [tool("f" * 64)], "result_format": "message"},
         "tools[0].function.name", "f" * 65, "^[A-Za-z0-9_-]{1,64}$", "function name"),
    # ---- cross-field rules (x-rules)
    Rule("tools-need-message-format", {"tools": [TOOL]},
         {"tools": [TOOL], "result_format": "message"},
         "result_format", "text", "result_format='message'", f"{D001} § tools"),
    Rule("tools-fix-n", {"tools": [TOOL], "result_format": "message", "n": 2},
         {"tools": [TOOL], "result_format": "message", "n": 1},
         "n", 2, "n is fixed to 1", f"{D001} § n"),
    Rule("top-logprobs-need-logprobs", {"top_logprobs": 2},
         {"top_logprobs": 2, "logprobs": True},
         "logprobs", None, "only when logprobs=True", "§ top_logprobs", model="qwen-max"),
    Rule("stop-never-mixes", {"stop": ["###", 37763]}, {"stop": ["###", "END"]},
         "stop", ["###", 37763], "a list of strings or a list of integers", "§ stop"),
    Rule("stop-token-ids", {"stop": [[37763, 367], "x"]}, {"stop": [[37763, 367], [1]]},
         "stop", [[37763, 367], "x"], "a list of a list of integers", "§ stop"),
    Rule("json-schema-needs-schema", {"response_format": {"type": "json_schema"}},
         {"response_format": {"type": "json_schema", "json_schema": {"name": "answer"}}},
         "response_format.json_schema", None, "is required", f"{D003} § response_format"),
    Rule("task-config-only-kie",
         {"ocr_options": {"task": "text_recognition", "task_config": {"result_schema": {"a": ""}}}},
         {"ocr_options": {"task": KIE, "task_config": {"result_schema": {"a": ""}}}},
         "ocr_options.task", "text_recognition", "only with task='key_information_extraction'",
         "ocr_options task_config", model="qwen-vl-ocr", resource="multimodal",
         messages=tuple(IMAGE)),
    Rule("stream-needs-sse-header", {"extra_parameters": {"stream": True}},
         {"extra_parameters": {"stream": True}, "stream": True},
         "stream", False, "X-DashScope-SSE", "§ stream"),
    Rule("forced-tool-needs-tools",
         {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
         {"tool_choice": {"type": "function", "function": {"name": "get_weather"}},
          "tools": [TOOL], "result_format": "message"},
         "tools", None, "requires tools", "§ tool_choice"),
    # ---- per-model rules (x-model-families)
    Rule("thinking-only-needs-stream", {}, {"stream": True},
         "stream", False, "only answers with stream=True", "§ parameters: stream",
         model="qwq-plus"),
    Rule("thinking-only-cannot-turn-off", {"enable_thinking": False, "stream": True},
         {"enable_thinking": True, "stream": True},
         "enable_thinking", False, "cannot be turned off", "§ parameters: stream",
         model="qwq-plus"),
    Rule("streaming-only-model", {}, {"stream": True},
         "stream", False, "only answers with stream=True", "qwen-deep-research",
         model="qwen-deep-research"),
    Rule("streaming-only-when-thinking", {"enable_thinking": True},
         {"enable_thinking": True, "stream": True},
         "stream", False, "in thinking mode this model only answers with stream=True",
         "§ parameters: enable_thinking"),
    Rule("supports-when-thinking", {"enable_thinking": True, "stream": True, "n": 2},
         {"enable_thinking": False, "n": 2},
         "n", 2, "not supported by this model in thinking mode", "§ parameters: n"),
    Rule("unsupported-flag", {"logprobs": True}, {"logprobs": False},
         "logprobs", True, "not supported by this model", "§ parameters: logprobs"),
    Rule("unsupported-n", {"n": 2}, {"n": 1}, "n", 2, "not supported by this model",
         "§ parameters: top_p", model="qwen-max"),
    Rule("no-thinking-mode", {"enable_thinking": True}, {"enable_thinking": False},
         "enable_thinking", True, "has no thinking mode", "§ parameters: presence_penalty",
         model="qwen-max"),
    Rule("endpoint-routing", {}, {}, "model", "qwen-vl-max",
         "use client.multimodal.create", "§ messages: user fps", model="qwen-vl-max",
         good_resource="multimodal", messages=tuple(IMAGE)),
    Rule("endpoint-routing-multimodal", {}, {}, "model", "qwen-max",
         "use client.generation.create", "with-tools-nosse", model="qwen-max", resource="multimodal",
         good_resource="generation"),
]  # fmt: skip


@pytest.fixture(scope="module")
def srv() -> Iterator[MockServer]:
    """A mock that takes whatever arrives: the client's checks are under test here, and the
    warn/off modes must be seen sending what the spec forbids."""
    with MockServer(check_spec=False) as server:
        yield server


def call(client: ModelStudio, resource: str, model: str, messages: Any, **kwargs: Any) -> Any:
    """One call; a stream is read to its end."""
    create = client.multimodal.create if resource == "multimodal" else client.generation.create
    result = create(model=model, messages=list(messages), **kwargs)
    if kwargs.get("stream"):
        for _ in result:
            pass
    return result


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_rejects_before_io_and_accepts_neighbour(
    rule: Rule, client: ModelStudio, srv: MockServer
) -> None:
    srv.reset()
    with pytest.raises(ValidationError) as info:
        call(client, rule.resource, rule.model, rule.messages, **rule.bad)
    assert srv.requests == []
    error = info.value
    assert error.param == rule.param
    assert error.value == rule.value
    assert rule.rule in error.rule
    assert error.model == rule.model
    assert error.docs is not None and rule.docs in error.docs
    text = str(error)
    for part in (error.param, repr(error.value)[:60], error.rule, repr(rule.model), error.docs):
        assert part in text

    call(client, rule.good_resource or rule.resource, rule.model, rule.messages, **rule.good)
    assert len(srv.requests) == 1
    sent = srv.requests[0].json
    assert sent["model"] == rule.model
    for name, value in rule.good.items():
        if name == "extra_parameters":
            for key, extra in value.items():
                assert sent["parameters"][key] == extra
        elif name != "stream":
            assert sent["parameters"][name] == value


def test_every_x_rule_of_the_spec_has_a_row() -> None:
    import yaml

    from tests.paths import SPEC

    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    ids = {r["id"] for r in spec["components"]["schemas"]["GenerationParameters"]["x-rules"]}
    covered = {r.id for r in RULES} | {
        "thinking-budget-needs-thinking",  # row thinking_budget-needs-thinking
        "forced-tool-not-with-thinking",  # test_forced_tool_not_with_thinking
        "code-interpreter-needs-thinking",  # test_code_interpreter_needs_thinking
    }
    assert ids <= covered


def test_forced_tool_not_with_thinking(client: ModelStudio, srv: MockServer) -> None:
    srv.reset()
    forced = {"type": "function", "function": {"name": "get_weather"}}
    common: dict[str, Any] = {"tools": [TOOL], "result_format": "message", "stream": True}
    with pytest.raises(ValidationError) as info:
        call(client, "generation", "qwen-plus", USER, tool_choice=forced, enable_thinking=True,
             **common)  # fmt: skip
    assert (info.value.param, info.value.value) == ("enable_thinking", True)
    assert "tool_choice" in info.value.rule
    assert srv.requests == []
    call(
        client, "generation", "qwen-plus", USER, tool_choice="auto", enable_thinking=True, **common
    )
    assert len(srv.requests) == 1


def test_code_interpreter_needs_thinking(client: ModelStudio, srv: MockServer) -> None:
    srv.reset()
    with pytest.raises(ValidationError) as info:
        call(client, "generation", "qwen3-max", USER, enable_code_interpreter=True,
             enable_thinking=False)  # fmt: skip
    assert (info.value.param, info.value.value) == ("enable_thinking", False)
    assert srv.requests == []
    call(client, "generation", "qwen3-max", USER, enable_code_interpreter=True,
         enable_thinking=True, stream=True)  # fmt: skip
    assert len(srv.requests) == 1


BAD_TEMPERATURE = 2.5  # outside [0, 2)


def test_warn_mode_per_call_warns_and_sends(client: ModelStudio, srv: MockServer) -> None:
    srv.reset()
    with pytest.warns(ValidationWarning, match=r"temperature=2\.5: must be >= 0 and < 2"):
        client.generation.create(
            model="qwen-plus", messages=USER, validation="warn", temperature=2.5
        )
    assert srv.requests[-1].json["parameters"]["temperature"] == BAD_TEMPERATURE


def test_off_mode_per_call_sends_silently(client: ModelStudio, srv: MockServer) -> None:
    srv.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.generation.create(
            model="qwen-plus", messages=USER, validation="off", temperature=2.5
        )
    assert srv.requests[-1].json["parameters"]["temperature"] == BAD_TEMPERATURE


@pytest.mark.parametrize("mode", ["warn", "off"])
def test_client_level_modes(mode: ValidationMode, srv: MockServer) -> None:
    srv.reset()
    with ModelStudio(api_key="sk-test", base_url=srv.base_url, validation=mode) as c:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c.generation.create(model="qwen-plus", messages=USER, temperature=BAD_TEMPERATURE)
        kinds = [w.category for w in caught]
        assert kinds == ([ValidationWarning] if mode == "warn" else [])
        assert len(srv.requests) == 1
        # a per-call mode overrides the client's
        with pytest.raises(ValidationError):
            c.generation.create(
                model="qwen-plus", messages=USER, validation="strict", temperature=2.5
            )
        assert len(srv.requests) == 1


def test_strict_client_with_per_call_off(srv: MockServer) -> None:
    srv.reset()
    with ModelStudio(api_key="sk-test", base_url=srv.base_url, validation="strict") as c:
        with pytest.raises(ValidationError):
            c.generation.create(model="qwen-plus", messages=USER, temperature=BAD_TEMPERATURE)
        assert srv.requests == []
        c.generation.create(
            model="qwen-plus", messages=USER, validation="off", temperature=BAD_TEMPERATURE
        )
        assert len(srv.requests) == 1


@pytest.mark.parametrize("resource", ["generation", "multimodal"])
def test_unknown_models_are_accepted(resource: str, client: ModelStudio, srv: MockServer) -> None:
    """The "all other models" row has no endpoint, thinking or support flags: only the
    model-independent schema rules apply to a model the table does not know."""
    srv.reset()
    call(client, resource, "my-finetuned-model-v9", USER, n=3, enable_thinking=True,
         logprobs=True, enable_code_interpreter=True)  # fmt: skip
    assert srv.requests[-1].json["model"] == "my-finetuned-model-v9"
    with pytest.raises(ValidationError):
        call(client, resource, "my-finetuned-model-v9", USER, top_p=0)
