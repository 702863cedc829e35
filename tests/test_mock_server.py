"""modelstudio.testing.MockServer over real loopback HTTP, driven with plain httpx."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelstudio.testing import MockServer

KEY = "sk-test-123"
TEXT = "/services/aigc/text-generation/generation"
MULTI = "/services/aigc/multimodal-generation/generation"
SSE = {"X-DashScope-SSE": "enable"}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def client(srv: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=srv.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5.0
    ) as c:
        yield c


def gen_body(text: str = "hello there world", **parameters: Any) -> dict[str, Any]:
    return {
        "model": "qwen-plus",
        "input": {"messages": [{"role": "user", "content": text}]},
        "parameters": parameters,
    }


def sse_events(raw: str) -> list[dict[str, Any]]:
    """Parse DashScope SSE: each event as {"id","event","status","data"}."""
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            if line.startswith(":HTTP_STATUS/"):
                fields["status"] = int(line.split("/", 1)[1])
            else:
                name, _, value = line.partition(":")
                fields[name] = value
        fields["data"] = json.loads(fields["data"])
        events.append(fields)
    return events


def openai_chunks(raw: str) -> list[Any]:
    out: list[Any] = []
    for block in raw.split("\n\n"):
        if block:
            assert block.startswith("data: ")
            payload = block[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


# -- addresses and lifecycle ------------------------------------------------------------------


def test_urls_and_start_stop() -> None:
    server = MockServer().start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.base_url == server.url + "/api/v1"
        assert server.compatible_base_url == server.url + "/compatible-mode/v1"
        assert server.port > 0
    finally:
        server.stop()
    server.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/api/v1/x", timeout=1.0)


def test_stop_is_quick_with_an_idle_keep_alive_connection(srv: MockServer) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}) as c:
        assert c.post(srv.base_url + TEXT, json=gen_body()).status_code == 200
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 1.0


def test_keep_alive_reuses_one_connection(srv: MockServer, client: httpx.Client) -> None:
    ports = set()
    for _ in range(3):
        with client.stream("POST", TEXT, json=gen_body()) as r:
            stream = r.extensions["network_stream"]
            ports.add(stream.get_extra_info("client_addr")[1])
            r.read()
    assert len(ports) == 1


# -- native generation: JSON ------------------------------------------------------------------


def test_text_format_json_answer(client: httpx.Client) -> None:
    r = client.post(TEXT, json=gen_body(result_format="text"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["output"] == {"finish_reason": "stop", "text": "Echo: hello there world"}
    assert body["usage"] == {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    assert body["request_id"] == r.headers["x-request-id"]
    uuid.UUID(body["request_id"])


def test_message_format_json_answer_and_prompt_input(client: httpx.Client) -> None:
    r = client.post(TEXT, json=gen_body("你好 world", result_format="message"))
    choice = r.json()["output"]["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": "Echo: 你好 world"}
    assert r.json()["usage"]["input_tokens"] == 3  # two CJK characters and one word

    r = client.post(TEXT, json={"model": "qwen-max", "input": {"prompt": "hi"}, "parameters": {}})
    assert r.json()["output"]["text"] == "Echo: hi"


def test_answers_are_deterministic_and_usage_counts_all_messages(client: httpx.Client) -> None:
    body = gen_body(result_format="message")
    body["input"]["messages"].insert(0, {"role": "system", "content": "Be brief please"})
    first, second = client.post(TEXT, json=body).json(), client.post(TEXT, json=body).json()
    assert first["output"] == second["output"]
    assert (
        first["usage"]
        == second["usage"]
        == {
            "input_tokens": 6,
            "output_tokens": 4,
            "total_tokens": 10,
        }
    )


def test_thinking_answer_has_reasoning_first(client: httpx.Client) -> None:
    # qwen3.6-plus thinks without streaming (page 004); the mock checks the table as well.
    body = {
        **gen_body("hi", result_format="message", enable_thinking=True),
        "model": "qwen3.6-plus",
    }
    r = client.post(TEXT, json=body)
    message = r.json()["output"]["choices"][0]["message"]
    assert message["reasoning_content"]
    assert message["content"] == "Echo: hi"
    usage = r.json()["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] > 0
    assert usage["output_tokens"] == usage["output_tokens_details"]["reasoning_tokens"] + 2

    r = client.post(
        TEXT,
        json={**gen_body("hi", result_format="message"), "model": "qwq-plus"},
        headers={"X-DashScope-SSE": "enable"},
    )
    assert '"reasoning_content":"' in r.text


def test_requests_are_checked_against_the_spec_like_the_service_does() -> None:
    auth = {"Authorization": "Bearer sk-x"}
    with MockServer() as server:
        url = server.base_url + TEXT
        r = httpx.post(url, json=gen_body(temperature=2.5), headers=auth)
        assert r.status_code == 400
        assert r.json()["code"] == "InvalidParameter"
        assert r.json()["message"] == "Parameter temperature must be >= 0 and < 2 (got 2.5)."
        # thinking-only models answer only when streamed (a per-model rule of the table)
        r = httpx.post(url, json={**gen_body(), "model": "qwq-plus"}, headers=auth)
        assert r.status_code == 400
        assert "stream=True" in r.json()["message"]
    with MockServer(check_spec=False) as server:
        url = server.base_url + TEXT
        assert httpx.post(url, json=gen_body(temperature=2.5), headers=auth).status_code == 200


def test_tool_call_then_tool_result(client: httpx.Client) -> None:
    body = gen_body(
        "What is the weather in Hangzhou?", result_format="message", tools=[WEATHER_TOOL]
    )
    r = client.post(TEXT, json=body)
    choice = r.json()["output"]["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == ""
    [call] = choice["message"]["tool_calls"]
    assert call["index"] == 0 and call["type"] == "function"
    assert call["id"].startswith("call_") and int(call["id"][5:], 16) >= 0
    assert call["function"]["name"] == "get_current_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "Hangzhou"}

    messages = body["input"]["messages"]
    messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
    messages.append({"role": "tool", "content": "Sunny, 21C", "tool_call_id": call["id"]})
    r = client.post(TEXT, json=body)
    choice = r.json()["output"]["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "Sunny, 21C" in choice["message"]["content"]
    assert "tool_calls" not in choice["message"]


def test_no_tool_call_when_not_asked(client: httpx.Client) -> None:
    r = client.post(TEXT, json=gen_body("hello", result_format="message", tools=[WEATHER_TOOL]))
    choice = r.json()["output"]["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["content"] == "Echo: hello"


def test_multimodal_json_answer(client: httpx.Client) -> None:
    body = {
        "model": "qwen-vl-plus",
        "input": {
            "messages": [
                {"role": "system", "content": [{"text": "You are helpful."}]},
                {
                    "role": "user",
                    "content": [{"image": "https://example.com/dog.jpeg"}, {"text": "where"}],
                },
            ]
        },
        "parameters": {},
    }
    r = client.post(MULTI, json=body)
    choice = r.json()["output"]["choices"][0]
    assert choice["message"]["content"] == [{"text": "Echo: where [image received]"}]
    usage = r.json()["usage"]
    assert usage["image_tokens"] > 0
    assert usage["input_tokens_details"]["image_tokens"] == usage["image_tokens"]
    assert usage["input_tokens"] == usage["image_tokens"] + 4  # "You are helpful." + "where"


# -- native generation: SSE -------------------------------------------------------------------


def test_sse_framing_byte_exact(client: httpx.Client) -> None:
    r = client.post(TEXT, json=gen_body("hi", incremental_output=True), headers=SSE)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream;charset=UTF-8"
    rid = r.headers["x-request-id"]
    expected = (
        "id:1\nevent:result\n:HTTP_STATUS/200\n"
        'data:{"output":{"finish_reason":"null","text":"Echo: "},'
        '"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2},'
        f'"request_id":"{rid}"}}\n\n'
        "id:2\nevent:result\n:HTTP_STATUS/200\n"
        'data:{"output":{"finish_reason":"null","text":"hi"},'
        '"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3},'
        f'"request_id":"{rid}"}}\n\n'
        "id:3\nevent:result\n:HTTP_STATUS/200\n"
        'data:{"output":{"finish_reason":"stop","text":""},'
        '"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3},'
        f'"request_id":"{rid}"}}\n\n'
    )
    assert r.text == expected
    assert "[DONE]" not in r.text


def test_accept_event_stream_also_streams(client: httpx.Client) -> None:
    r = client.post(TEXT, json=gen_body(), headers={"Accept": "text/event-stream"})
    assert r.text.startswith("id:1\nevent:result\n:HTTP_STATUS/200\ndata:{")


def test_incremental_vs_cumulative(client: httpx.Client) -> None:
    full = "Echo: one two three four"
    inc = sse_events(
        client.post(
            TEXT, json=gen_body("one two three four", incremental_output=True), headers=SSE
        ).text
    )
    cum = sse_events(
        client.post(
            TEXT, json=gen_body("one two three four", incremental_output=False), headers=SSE
        ).text
    )
    for events in (inc, cum):
        assert [e["id"] for e in events] == [str(i) for i in range(1, len(events) + 1)]
        assert all(e["event"] == "result" and e["status"] == 200 for e in events)
        reasons = [e["data"]["output"]["finish_reason"] for e in events]
        assert reasons[:-1] == ["null"] * (len(events) - 1) and reasons[-1] == "stop"
        outs = [e["data"]["usage"]["output_tokens"] for e in events]
        assert outs == sorted(outs) and outs[-1] == 5
        assert len({e["data"]["request_id"] for e in events}) == 1
    assert len(inc) >= 5
    assert "".join(e["data"]["output"]["text"] for e in inc) == full
    texts = [e["data"]["output"]["text"] for e in cum]
    assert texts[-1] == full
    assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(texts))


def test_streamed_thinking_and_multimodal_parts(client: httpx.Client) -> None:
    body = {
        "model": "qwen3-vl-plus",
        "input": {"messages": [{"role": "user", "content": [{"text": "describe"}]}]},
        "parameters": {"enable_thinking": True, "incremental_output": True},
    }
    events = sse_events(client.post(MULTI, json=body, headers=SSE).text)
    messages = [e["data"]["output"]["choices"][0]["message"] for e in events]
    first_text = next(i for i, m in enumerate(messages) if m["content"])
    assert first_text > 0
    assert all(m["content"] == [] and m["reasoning_content"] for m in messages[:first_text])
    assert all(m["reasoning_content"] == "" for m in messages[first_text:])
    text = "".join(part["text"] for m in messages for part in m["content"])
    assert text == "Echo: describe"
    assert events[-1]["data"]["output"]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["data"]["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


def test_streamed_tool_call_fragments(client: httpx.Client) -> None:
    body = gen_body(
        "call get_current_weather for Paris",
        result_format="message",
        incremental_output=True,
        tools=[WEATHER_TOOL],
    )
    events = sse_events(client.post(TEXT, json=body, headers=SSE).text)
    choices = [e["data"]["output"]["choices"][0] for e in events]
    calls = [c["message"]["tool_calls"][0] for c in choices]
    assert (
        calls[0]["id"].startswith("call_") and calls[0]["function"]["name"] == "get_current_weather"
    )
    assert all(c["id"] == "" and "name" not in c["function"] for c in calls[1:])
    assert len(calls) >= 2
    args = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(args) == {"location": "Paris"}
    assert [c["finish_reason"] for c in choices][-1] == "tool_calls"
    assert all(c["message"]["content"] == "" for c in choices)


# -- auth and validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "No API-key provided."),
        ({"Authorization": "Bearer"}, "No API-key provided."),
        ({"Authorization": "Bearer sk-wrong"}, "Invalid API-key provided."),
    ],
)
def test_auth_errors(srv: MockServer, headers: dict[str, str], message: str) -> None:
    r = httpx.post(srv.base_url + TEXT, json=gen_body(), headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert body == {
        "request_id": r.headers["x-request-id"],
        "code": "InvalidApiKey",
        "message": message,
    }


def test_any_key_accepted_without_api_key() -> None:
    with MockServer() as server:
        r = httpx.post(
            server.base_url + TEXT, json=gen_body(), headers={"Authorization": "Bearer sk-any"}
        )
        assert r.status_code == 200
        assert httpx.post(server.base_url + TEXT, json=gen_body()).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"input": {"messages": [{"role": "user", "content": "x"}]}},
        {"model": "qwen-plus", "input": {}},
        {"model": "qwen-plus", "input": {"messages": []}},
        {"model": "qwen-plus", "input": {"messages": "hi"}},
        {"model": "qwen-plus", "input": {"messages": [{"content": "no role"}]}},
    ],
)
def test_bad_request_is_invalid_parameter(client: httpx.Client, body: dict[str, Any]) -> None:
    r = client.post(TEXT, json=body)
    assert r.status_code == 400
    assert r.json()["code"] == "InvalidParameter"
    assert r.json()["message"]
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_bad_streaming_request_is_an_error_event(client: httpx.Client) -> None:
    """Like recording parameter-error-sse: HTTP 200, one event:error with :HTTP_STATUS/400."""
    body = {"model": "qwen-max", "input": {"messages": []}, "parameters": {}}
    r = client.post(TEXT, json=body, headers=SSE)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream;charset=UTF-8"
    rid = r.headers["x-request-id"]
    assert r.text == (
        "id:1\nevent:error\n:HTTP_STATUS/400\n"
        'data:{"code":"InvalidParameter","message":"Role must be user or assistant and '
        f'Content length must be greater than 0","request_id":"{rid}"}}\n\n'
    )


def test_validate_hook() -> None:
    def validate(body: dict[str, Any]) -> str | None:
        seed = body.get("parameters", {}).get("seed")
        return "This test server refuses seed 42." if seed == 42 else None

    with MockServer(validate=validate) as server:
        url = server.base_url + TEXT
        auth = {"Authorization": "Bearer sk-x"}
        r = httpx.post(url, json=gen_body(seed=42), headers=auth)
        assert r.status_code == 400
        assert r.json()["message"] == "This test server refuses seed 42."
        assert httpx.post(url, json=gen_body(seed=7), headers=auth).status_code == 200


def test_unknown_path_is_404_json(client: httpx.Client) -> None:
    r = client.get("/no/such/thing")
    assert r.status_code == 404
    assert r.json()["request_id"] == r.headers["x-request-id"]


# -- scripted responses ---------------------------------------------------------------------------


def test_enqueue_status_headers_body_fifo_then_simulator(
    srv: MockServer, client: httpx.Client
) -> None:
    srv.enqueue(
        429, body={"code": "Throttling", "message": "slow down"}, headers={"Retry-After": "1"}
    )
    srv.enqueue(200, body="plain", headers={"x-dashscope-partialresponse": "true"})
    r = client.post(TEXT, json=gen_body())
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "code": "Throttling",
        "message": "slow down",
        "request_id": r.headers["x-request-id"],
    }
    r = client.post(TEXT, json=gen_body())
    assert (r.status_code, r.text) == (200, "plain")
    assert r.headers["x-dashscope-partialresponse"] == "true"
    assert int(r.headers["content-length"]) == 5
    assert srv.pending == 0
    r = client.post(TEXT, json=gen_body())
    assert r.json()["output"]["text"] == "Echo: hello there world"


def test_enqueue_path_filter_and_reset(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(503, body={"code": "ServiceUnavailable"}, path="multimodal-generation/generation")
    assert client.post(TEXT, json=gen_body()).status_code == 200
    assert client.post(MULTI, json=gen_body()).status_code == 503
    srv.enqueue(500)
    srv.reset()
    assert srv.pending == 0 and srv.requests == []
    assert client.post(TEXT, json=gen_body()).status_code == 200


def test_chunks_arrive_as_separate_reads(srv: MockServer, client: httpx.Client) -> None:
    pieces = [b"id:1\nevent:result\n", b":HTTP_STATUS/200\ndata:{}\n\n", b"id:2\n"]
    srv.enqueue(chunks=pieces, chunk_delay=0.05)
    received: list[tuple[float, bytes]] = []
    started = time.monotonic()
    with client.stream("POST", TEXT, json=gen_body()) as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert r.headers["content-type"] == "text/event-stream;charset=UTF-8"
        for data in r.iter_raw():
            received.append((time.monotonic(), data))
    assert [d for _, d in received] == pieces
    # The last piece cannot arrive before the two delays between the three pieces have passed,
    # however loaded the machine (a bound on gaps between reads would depend on scheduling).
    assert received[-1][0] - started >= 2 * 0.05


def test_reset_after_breaks_the_client_read(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(chunks=[b"data:one\n\n", b"data:two\n\n"], reset_after=1)
    got: list[bytes] = []
    with pytest.raises(httpx.TransportError), client.stream("POST", TEXT, json=gen_body()) as r:
        for data in r.iter_raw():
            got.append(data)
    assert got == [b"data:one\n\n"]
    # the server keeps serving new connections
    assert client.post(TEXT, json=gen_body()).status_code == 200


def test_reset_after_zero_on_a_plain_body(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(body={"a": 1}, reset_after=0)
    with pytest.raises(httpx.TransportError):
        client.post(TEXT, json=gen_body())


def test_stall_after_hits_the_client_read_timeout(srv: MockServer) -> None:
    srv.enqueue(chunks=[b"data:one\n\n", b"data:two\n\n"], stall_after=1)
    got: list[bytes] = []
    timeout = httpx.Timeout(5.0, read=0.3)
    with httpx.Client(timeout=timeout) as c:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout), c.stream("POST", srv.base_url + TEXT) as r:
            for data in r.iter_raw():
                got.append(data)
        assert 0.25 < time.monotonic() - started < 2.0
    assert got == [b"data:one\n\n"]
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 1.0


def test_stalled_stream_ends_when_server_stops() -> None:
    server = MockServer().start()
    server.enqueue(chunks=[b"data:one\n\n", b"data:two\n\n"], stall_after=1)
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with httpx.stream("POST", server.base_url + TEXT, timeout=10.0) as r:
                for _ in r.iter_raw():
                    pass
        except httpx.TransportError as exc:
            errors.append(exc)

    t = threading.Thread(target=consume)
    t.start()
    time.sleep(0.2)
    server.stop()
    t.join(3.0)
    assert not t.is_alive()
    assert len(errors) == 1


def test_first_byte_delay(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue(body="late", first_byte_delay=0.2)
    started = time.monotonic()
    assert client.post(TEXT, json=gen_body()).text == "late"
    assert time.monotonic() - started >= 0.2
    srv.enqueue(body="later", first_byte_delay=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.post(TEXT, json=gen_body(), timeout=httpx.Timeout(5.0, read=0.2))


def test_enqueue_stream_error(srv: MockServer, client: httpx.Client) -> None:
    srv.enqueue_stream_error(2, status=500, code="InternalError", message="boom")
    r = client.post(TEXT, json=gen_body("a b c d", incremental_output=True), headers=SSE)
    assert r.status_code == 200
    events = sse_events(r.text)
    assert [(e["id"], e["event"], e["status"]) for e in events] == [
        ("1", "result", 200),
        ("2", "result", 200),
        ("3", "error", 500),
    ]
    assert events[2]["data"] == {
        "code": "InternalError",
        "message": "boom",
        "request_id": r.headers["x-request-id"],
    }
    srv.enqueue_stream_error(0)
    r = client.post(TEXT, json=gen_body())
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter"


def test_enqueue_stream_error_on_the_compatible_endpoint(srv: MockServer) -> None:
    srv.enqueue_stream_error(1, code="data_inspection_failed", message="bad content")
    r = httpx.post(
        srv.compatible_base_url + "/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "x y"}], "stream": True},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    chunks = openai_chunks(r.text)
    assert len(chunks) == 2 and "[DONE]" not in r.text
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[1]["error"]["code"] == "data_inspection_failed"
    assert chunks[1]["error"]["message"] == "bad content"


# -- request recording ----------------------------------------------------------------------------


def test_requests_are_recorded_with_the_key_redacted(srv: MockServer, client: httpx.Client) -> None:
    client.post(TEXT + "?x=1", json=gen_body(), headers=SSE)
    client.get("/uploads", params={"action": "getPolicy", "model": "qwen-vl-plus"})
    first, second = srv.requests
    assert first.method == "POST"
    assert first.path == "/api/v1" + TEXT
    assert first.query == {"x": "1"}
    assert first.headers["authorization"] == "Bearer sk-***"
    assert KEY not in repr(first)
    assert first.headers["x-dashscope-sse"] == "enable"
    assert first.header("X-DashScope-SSE") == "enable"
    assert first.json == gen_body()
    assert json.loads(first.body) == gen_body()
    assert second.method == "GET" and second.json is None and second.body == b""
    assert second.query == {"action": "getPolicy", "model": "qwen-vl-plus"}
    assert srv.last_request == second


# -- upload flow --------------------------------------------------------------------------------


def upload(client: httpx.Client, policy: dict[str, Any], name: str, data: bytes) -> httpx.Response:
    form = {
        "OSSAccessKeyId": policy["oss_access_key_id"],
        "Signature": policy["signature"],
        "policy": policy["policy"],
        "key": policy["upload_dir"] + "/" + name,
        "x-oss-object-acl": policy["x_oss_object_acl"],
        "x-oss-forbid-overwrite": policy["x_oss_forbid_overwrite"],
        "success_action_status": "200",
    }
    return client.post(policy["upload_host"], data=form, files={"file": (name, data)})


def test_upload_flow_then_oss_url_in_generation(srv: MockServer, client: httpx.Client) -> None:
    r = client.get("/uploads", params={"action": "getPolicy", "model": "qwen-vl-plus"})
    assert r.status_code == 200
    policy = r.json()["data"]
    assert r.json()["request_id"] == r.headers["x-request-id"]
    assert policy["upload_host"] == srv.url + "/oss-upload"
    assert policy["expire_in_seconds"] > 0
    assert policy["upload_dir"].startswith("dashscope-instant/")
    image = bytes(range(256)) * 8
    r = upload(client, policy, "cat.png", image)
    assert r.status_code == 200
    key = policy["upload_dir"] + "/cat.png"
    assert srv.uploads == {key: image}
    # forbid-overwrite
    assert upload(client, policy, "cat.png", b"again").status_code == 409

    body: dict[str, Any] = {
        "model": "qwen-vl-plus",
        "input": {
            "messages": [{"role": "user", "content": [{"image": f"oss://{key}"}, {"text": "what"}]}]
        },
    }
    r = client.post(MULTI, json=body, headers={"X-DashScope-OssResourceResolve": "enable"})
    assert r.status_code == 200
    assert r.json()["output"]["choices"][0]["message"]["content"][0]["text"].endswith(
        "[image received]"
    )
    assert client.post(MULTI, json=body).status_code == 400  # header missing
    body["input"]["messages"][0]["content"][0] = {"image": "file:///tmp/cat.png"}
    assert client.post(MULTI, json=body).status_code == 400


def test_upload_rejects_bad_signature_and_key(srv: MockServer, client: httpx.Client) -> None:
    policy = client.get("/uploads", params={"action": "getPolicy", "model": "m"}).json()["data"]
    r = upload(client, {**policy, "signature": "forged="}, "a.txt", b"x")
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    r = upload(client, {**policy, "upload_dir": "elsewhere"}, "a.txt", b"x")
    assert r.status_code == 403 and b"AccessDenied" in r.content
    assert srv.uploads == {}
    assert httpx.get(srv.base_url + "/uploads?action=getPolicy&model=m").status_code == 401


# -- OpenAI-compatible endpoint -------------------------------------------------------------------


def test_compatible_json(srv: MockServer) -> None:
    r = httpx.post(
        srv.compatible_base_url + "/chat/completions",
        json={"model": "qwen-plus", "messages": [{"role": "user", "content": "hi there"}]},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    body = r.json()
    assert r.status_code == 200
    assert body["object"] == "chat.completion"
    assert body["id"] == "chatcmpl-" + r.headers["x-request-id"]
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Echo: hi there"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_compatible_sse_with_include_usage(srv: MockServer) -> None:
    r = httpx.post(
        srv.compatible_base_url + "/chat/completions",
        json={
            "model": "qwen-plus",
            "messages": [{"role": "user", "content": "hi there"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.text.endswith("data: [DONE]\n\n")
    chunks = openai_chunks(r.text)
    assert chunks[-1] == "[DONE]"
    usage_chunk = chunks[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] == 5
    deltas = chunks[:-2]
    assert all(c["object"] == "chat.completion.chunk" for c in deltas)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in deltas) == (
        "Echo: hi there"
    )
    assert deltas[-1]["choices"][0]["finish_reason"] == "stop"


def test_compatible_errors_use_the_openai_envelope(srv: MockServer) -> None:
    url = srv.compatible_base_url + "/chat/completions"
    r = httpx.post(url, json={"model": "m", "messages": []}, headers={"Authorization": "Bearer x"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"
    r = httpx.post(
        url, json={"model": "m", "messages": []}, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


def test_official_openai_client(srv: MockServer) -> None:
    import openai  # a dev dependency: the official client must accept the mock's answers

    with openai.OpenAI(api_key=KEY, base_url=srv.compatible_base_url, max_retries=0) as oc:
        completion = oc.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "hello"}]
        )
        assert completion.choices[0].message.content == "Echo: hello"
        assert completion.usage is not None and completion.usage.total_tokens == 3
        stream = oc.chat.completions.create(  # type: ignore[call-overload]
            model="qwen-plus",
            messages=[{"role": "user", "content": "weather in Oslo?"}],
            tools=[WEATHER_TOOL],
            stream=True,
            stream_options={"include_usage": True},
        )
        args = ""
        name = None
        usage = None
        for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or []:
                    name = name or (call.function.name if call.function else None)
                    args += (call.function.arguments or "") if call.function else ""
        assert name == "get_current_weather"
        assert json.loads(args) == {"location": "Oslo"}
        assert usage is not None and usage.completion_tokens > 0
    with (
        openai.OpenAI(api_key="wrong", base_url=srv.compatible_base_url, max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
