"""Client configuration, secrets hygiene, raw responses and partial answers, over loopback HTTP."""

from __future__ import annotations

import logging
import platform
import re
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelstudio import (
    AsyncModelStudio,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    ModelStudio,
    __version__,
)
from modelstudio._base_client import InsecureTransportWarning
from modelstudio._logs import _EnvHandler, logger
from modelstudio.testing import MockServer

KEY = "sk-config-secret-9876543210"
MSG = [{"role": "user", "content": "Hi"}]


def ok_body(text: str = "Hello!") -> dict[str, Any]:
    return {"output": {"text": text, "finish_reason": "stop"}, "usage": {"total_tokens": 3}}


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_base_url_precedence(env: pytest.MonkeyPatch) -> None:
    assert ModelStudio(api_key=KEY).base_url == "https://dashscope-intl.aliyuncs.com/api/v1"
    assert ModelStudio(api_key=KEY, region="cn").base_url == "https://dashscope.aliyuncs.com/api/v1"
    explicit = ModelStudio(api_key=KEY, region="cn", base_url="https://proxy.example/api/v1/")
    assert explicit.base_url == "https://proxy.example/api/v1"
    env.setenv("DASHSCOPE_HTTP_BASE_URL", "https://http-env.example/api/v1")
    assert ModelStudio(api_key=KEY).base_url == "https://http-env.example/api/v1"
    env.setenv("DASHSCOPE_BASE_URL", "https://env.example/api/v1")
    assert ModelStudio(api_key=KEY).base_url == "https://env.example/api/v1"
    assert ModelStudio(api_key=KEY, region="cn").base_url == "https://dashscope.aliyuncs.com/api/v1"
    with pytest.raises(ValueError, match="region"):
        ModelStudio(api_key=KEY, region="eu")
    with pytest.raises(ValueError, match="max_retries"):
        ModelStudio(api_key=KEY, max_retries=-1)


def test_env_key_and_base_url_are_used(srv: MockServer, env: pytest.MonkeyPatch) -> None:
    env.setenv("DASHSCOPE_API_KEY", KEY)
    env.setenv("DASHSCOPE_BASE_URL", srv.base_url)
    with ModelStudio() as client:
        response = client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output is not None and response.output.text


def test_headers_sent(srv: MockServer) -> None:
    with ModelStudio(
        api_key=KEY, base_url=srv.base_url, workspace="ws-42", default_headers={"X-Trace": "t1"}
    ) as client:
        client.generation.create(model="qwen-plus", messages=MSG)
    headers = srv.requests[0].headers
    assert headers["x-dashscope-workspace"] == "ws-42"
    assert headers["x-trace"] == "t1"
    expected = f"modelstudio/{__version__} python/{platform.python_version()}"
    assert headers["user-agent"] == expected
    assert re.fullmatch(r"modelstudio/\S+ python/\S+", headers["user-agent"])
    allowed = {
        "host", "accept", "accept-encoding", "connection", "user-agent", "content-type",
        "content-length", "authorization", "x-dashscope-workspace", "x-trace",
    }  # fmt: skip
    assert set(headers) <= allowed, set(headers) - allowed


def test_caller_owned_http_client_is_never_closed(srv: MockServer) -> None:
    with httpx.Client() as http:
        client = ModelStudio(api_key=KEY, base_url=srv.base_url, http_client=http)
        client.generation.create(model="qwen-plus", messages=MSG)
        client.close()
        assert not http.is_closed
        srv.enqueue(body={"still": "open"})
        assert http.post(srv.base_url + "/ping").json()["still"] == "open"


async def test_async_caller_owned_http_client_is_never_closed(srv: MockServer) -> None:
    async with httpx.AsyncClient() as http:
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, http_client=http) as c:
            await c.generation.create(model="qwen-plus", messages=MSG)
        assert not http.is_closed


def test_with_options_changes_settings_and_shares_the_pool(srv: MockServer) -> None:
    with ModelStudio(api_key="sk-wrong", base_url=srv.base_url) as client:
        copy = client.with_options(api_key=KEY, workspace="ws-copy", max_retries=0)
        response = copy.generation.create(model="qwen-plus", messages=MSG)
        assert response.output is not None
        assert srv.requests[-1].headers["x-dashscope-workspace"] == "ws-copy"
        copy.close()  # the copy does not own the pool
        with pytest.raises(AuthenticationError):
            client.generation.create(model="qwen-plus", messages=MSG)
        srv.enqueue(503, body={"code": "ServiceUnavailable"}, headers={"retry-after-ms": "1"})
        with pytest.raises(InternalServerError):
            copy.generation.create(model="qwen-plus", messages=MSG)
        assert len(srv.requests) == 3  # max_retries=0 on the copy: no second attempt


def test_with_raw_response_gives_status_headers_and_parse(srv: MockServer) -> None:
    srv.enqueue(200, body=ok_body("raw"), headers={"x-request-id": "rid-raw", "X-Extra": "1"})
    with ModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        raw = client.with_raw_response.generation.create(model="qwen-plus", messages=MSG)
        assert raw.status_code == 200
        assert raw.headers["x-extra"] == "1" and raw.request_id == "rid-raw"
        parsed = raw.parse()
        assert parsed.output.text == "raw" and raw.parse() is parsed
        assert KEY not in repr(raw) and KEY.encode() not in raw.content
        # the client itself is unchanged
        assert client.generation.create(model="qwen-plus", messages=MSG).output is not None
        srv.enqueue(400, body={"code": "InvalidParameter", "message": "no"})
        with pytest.raises(BadRequestError):
            client.with_raw_response.generation.create(model="qwen-plus", messages=MSG)


async def test_async_with_raw_response_stream(srv: MockServer) -> None:
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        raw = await client.with_raw_response.generation.create(
            model="qwen-plus", messages=MSG, stream=True
        )
        assert raw.status_code == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk.delta.text async for chunk in raw.parse()])
    assert text


def test_partial_response_and_continue_partial(srv: MockServer) -> None:
    srv.enqueue(200, body=ok_body("Once upon"), headers={"x-dashscope-partialresponse": "true"})
    srv.enqueue(200, body=ok_body(" a time."))
    with ModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        first = client.generation.create(model="qwen-plus", messages=MSG, temperature=0.5)
        assert first.partial is True
        second = client.continue_partial(first, model="qwen-plus", messages=MSG, temperature=0.5)
    assert second.partial is False
    assert second.output is not None and second.output.text == " a time."
    sent = srv.requests[1].json
    assert sent["input"]["messages"] == [
        *MSG,
        {"role": "assistant", "content": "Once upon", "partial": True},
    ]
    assert sent["parameters"]["temperature"] == 0.5


async def test_async_continue_partial_extends_the_partial_message(srv: MockServer) -> None:
    partial = {"x-dashscope-partialresponse": "true"}
    srv.enqueue(200, body=ok_body("Once"), headers=partial)
    srv.enqueue(200, body=ok_body(" upon"), headers=partial)
    srv.enqueue(200, body=ok_body(" a time."))
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        first = await client.generation.create(model="qwen-plus", messages=MSG)
        second = await client.continue_partial(first, model="qwen-plus", messages=MSG)
        assert second.partial
        messages = srv.requests[1].json["input"]["messages"]
        await client.continue_partial(second, model="qwen-plus", messages=messages)
    assert srv.requests[2].json["input"]["messages"][-1] == {
        "role": "assistant",
        "content": "Once upon",
        "partial": True,
    }
    assert len(srv.requests[2].json["input"]["messages"]) == 2


def test_api_key_never_leaks(srv: MockServer, caplog: pytest.LogCaptureFixture) -> None:
    echo = {"code": "InvalidApiKey", "message": f"Invalid key {KEY}"}
    srv.enqueue(401, body=echo)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG), ModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        texts += [repr(client), str(client), repr(client.with_options(max_retries=1))]
        with pytest.raises(AuthenticationError) as info:
            client.generation.create(model="qwen-plus", messages=MSG)
        error = info.value
        texts += [str(error), repr(error), error.message, error.body.decode()]
        texts += [repr(client.with_raw_response.generation.create(model="qwen-plus", messages=MSG))]
    debug_lines = [r.getMessage() for r in caplog.records]
    assert any("Authorization" in line and "***" in line for line in debug_lines)
    for text in texts + debug_lines:
        assert KEY not in text


def test_plain_http_to_a_remote_host_warns_once() -> None:
    with pytest.warns(InsecureTransportWarning) as record:
        client = ModelStudio(api_key=KEY, base_url="http://models.example.com/api/v1")
        client.with_options(max_retries=1)
    assert len(record) == 1 and issubclass(record[0].category, UserWarning)
    assert KEY not in str(record[0].message)
    client.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ModelStudio(api_key=KEY, base_url="http://127.0.0.1:9/api/v1").close()
        ModelStudio(api_key=KEY, base_url="http://localhost:9/api/v1").close()
        ModelStudio(api_key=KEY, base_url="http://[::1]:9/api/v1").close()
        ModelStudio(api_key=KEY, base_url="https://models.example.com/api/v1").close()


def test_modelstudio_log_env_turns_logging_on(monkeypatch: pytest.MonkeyPatch) -> None:
    level, handlers = logger.level, list(logger.handlers)
    monkeypatch.setenv("MODELSTUDIO_LOG", "debug")
    try:
        ModelStudio(api_key=KEY).close()
        ModelStudio(api_key=KEY).close()
        assert logger.level == logging.DEBUG
        assert sum(isinstance(h, _EnvHandler) for h in logger.handlers) == 1
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers
