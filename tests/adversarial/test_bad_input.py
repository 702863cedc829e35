"""Bad input is refused before any I/O, naming the culprit: `TypeError` or `ValidationError`,
never `AttributeError`, `UnicodeEncodeError`, a bare stdlib `ValueError` or a connection error."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest

from modelstudio import AsyncModelStudio, ModelStudio, ValidationError
from tests.adversarial.raw import KEY, MSG, Conn, RawServer


def _never(conn: Conn) -> None:
    conn.reply(200)


def _self_referencing_dict() -> list[Any]:
    message: dict[str, Any] = {"role": "user"}
    message["content"] = [message]
    return [message]


def _self_referencing_list() -> list[Any]:
    content: list[Any] = [{"text": "hi"}]
    content.append(content)
    return [{"role": "user", "content": content}]


def _deep(levels: int) -> list[Any]:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return [{"role": "user", "content": value}]


def _deep_dict(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"k": value}
    return value


# (name, create() keyword arguments, the word the error must name)
CALL_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("extra-nan", {"extra_parameters": {"x_nan": math.nan}}, "x_nan"),
    (
        "extra-nan-validation-off",
        {"validation": "off", "extra_parameters": {"x_nan": math.nan}},
        "x_nan",
    ),
    ("declared-nan", {"temperature": math.nan}, "temperature"),
    ("declared-inf", {"top_p": math.inf}, "top_p"),
    ("declared-nan-validation-off", {"validation": "off", "temperature": math.nan}, "temperature"),
    ("extra-inf", {"extra_parameters": {"x_inf": math.inf}}, "x_inf"),
    ("extra-minus-inf", {"extra_parameters": {"x_inf": -math.inf}}, "x_inf"),
    ("extra-nested-nan", {"extra_parameters": {"x_deep": {"a": [1, math.nan]}}}, "x_deep"),
    ("extra-huge-int", {"extra_parameters": {"x_big": 10**5000}}, "x_big"),
    ("extra-surrogate", {"extra_parameters": {"x_text": "a\udcff"}}, "x_text"),
    ("extra-self-ref", {"extra_parameters": {"x_loop": _self_referencing_list()}}, "x_loop"),
    ("extra-deep", {"extra_parameters": {"x_deep": _deep_dict(5000)}}, "x_deep"),
    ("extra-set", {"extra_parameters": {"x_set": {1, 2}}}, "x_set"),
    ("extra-not-mapping-list", {"extra_parameters": [("a", 1)]}, "extra_parameters"),
    ("extra-not-mapping-str", {"extra_parameters": "a=1"}, "extra_parameters"),
    ("extra-non-str-key", {"extra_parameters": {1: 2}}, "extra_parameters"),
    ("message-surrogate", {"messages": [{"role": "user", "content": "hi \ud800"}]}, "messages"),
    ("message-self-ref-dict", {"messages": _self_referencing_dict()}, "messages"),
    ("message-self-ref-list", {"messages": _self_referencing_list()}, "messages"),
    ("message-deep-5000", {"messages": _deep(5000)}, "messages"),
    ("message-deep-100000", {"messages": _deep(100_000)}, "messages"),
    ("timeout-negative", {"timeout": -1}, "timeout"),
    ("timeout-nan", {"timeout": math.nan}, "timeout"),
    ("timeout-inf", {"timeout": math.inf}, "timeout"),
    ("timeout-zero", {"timeout": 0}, "timeout"),
    ("timeout-str", {"timeout": "5"}, "timeout"),
    ("timeout-bool", {"timeout": True}, "timeout"),
    ("timeout-httpx-negative", {"timeout": httpx.Timeout(-1.0)}, "timeout"),
    ("max-retries-str", {"max_retries": "2"}, "max_retries"),
    ("max-retries-float", {"max_retries": 1.5}, "max_retries"),
    ("max-retries-negative", {"max_retries": -1}, "max_retries"),
    ("idle-negative", {"stream_idle_timeout": -3}, "stream_idle_timeout"),
    ("idle-nan", {"stream_idle_timeout": math.nan}, "stream_idle_timeout"),
    ("idle-str", {"stream_idle_timeout": "10"}, "stream_idle_timeout"),
    ("deadline-zero", {"deadline": 0}, "deadline"),
    ("deadline-nan", {"deadline": math.nan}, "deadline"),
    ("extra-headers-list", {"extra_headers": [("X-A", "b")]}, "extra_headers"),
    ("extra-headers-int-value", {"extra_headers": {"X-A": 1}}, "extra_headers"),
    ("extra-headers-crlf", {"extra_headers": {"X-A": "b\r\nX-Injected: 1"}}, "extra_headers"),
    ("extra-headers-lf", {"extra_headers": {"X-A": "b\nc"}}, "extra_headers"),
    ("extra-headers-nul", {"extra_headers": {"X-A": "b\x00"}}, "extra_headers"),
    ("extra-headers-non-ascii", {"extra_headers": {"X-A": "café"}}, "extra_headers"),
    ("extra-headers-bad-name", {"extra_headers": {"X A": "b"}}, "extra_headers"),
    (
        "extra-headers-auth-crlf",
        {"extra_headers": {"Authorization": f"Bearer {KEY}\r\n"}},
        "extra_headers",
    ),
    ("upload-bad", {"upload": "ftp"}, "upload"),
    ("validation-bad", {"validation": "loose"}, "validation"),
]

# (name, client keyword arguments, the word the error must name)
CLIENT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("api-key-int", {"api_key": 12345}, "api_key"),
    ("api-key-bytes", {"api_key": KEY.encode()}, "api_key"),
    ("api-key-inner-space", {"api_key": "sk-abc def"}, "api_key"),
    ("api-key-inner-newline", {"api_key": "sk-abc\ndef"}, "api_key"),
    ("api-key-crlf-injection", {"api_key": "sk-abc\r\nX-Evil: 1"}, "api_key"),
    ("api-key-tab", {"api_key": "sk-abc\tdef"}, "api_key"),
    ("api-key-non-ascii", {"api_key": "sk-abcé"}, "api_key"),
    ("api-key-nul", {"api_key": "sk-abc\x00"}, "api_key"),
    ("base-url-int", {"base_url": 5}, "base_url"),
    ("base-url-userinfo", {"base_url": f"http://u:{KEY}@127.0.0.1:9/api/v1"}, "base_url"),
    ("base-url-no-scheme", {"base_url": "127.0.0.1:8080/api/v1"}, "base_url"),
    ("base-url-ftp", {"base_url": "ftp://127.0.0.1/api/v1"}, "base_url"),
    ("base-url-space", {"base_url": "http://127.0.0.1/ api"}, "base_url"),
    ("base-url-crlf", {"base_url": "http://127.0.0.1/\r\nX: y"}, "base_url"),
    ("base-url-bad-host", {"base_url": "http://" + "a" * 64 + ".test/api/v1"}, "base_url"),
    ("base-url-bad-port", {"base_url": "http://127.0.0.1:99999/api/v1"}, "base_url"),
    ("timeout-negative", {"timeout": -1}, "timeout"),
    ("timeout-nan", {"timeout": math.nan}, "timeout"),
    ("timeout-str", {"timeout": "30"}, "timeout"),
    ("max-retries-str", {"max_retries": "3"}, "max_retries"),
    ("max-retries-negative", {"max_retries": -2}, "max_retries"),
    ("max-retries-bool", {"max_retries": True}, "max_retries"),
    ("idle-negative", {"stream_idle_timeout": -1}, "stream_idle_timeout"),
    ("idle-inf", {"stream_idle_timeout": math.inf}, "stream_idle_timeout"),
    ("deadline-negative", {"deadline": -1}, "deadline"),
    ("workspace-crlf", {"workspace": "ws-1\r\nX-Evil: 1"}, "workspace"),
    ("workspace-int", {"workspace": 7}, "workspace"),
    ("workspace-non-ascii", {"workspace": "ws-é"}, "workspace"),
    ("default-headers-list", {"default_headers": ["X-A: b"]}, "default_headers"),
    ("default-headers-crlf", {"default_headers": {"X-A": "b\r\n"}}, "default_headers"),
    ("region-bad", {"region": "mars"}, "region"),
    ("validation-bad", {"validation": "sometimes"}, "validation"),
    ("protocol-bad", {"protocol": "grpc"}, "protocol"),
    ("http-client-wrong", {"http_client": object()}, "http_client"),
]

_FORBIDDEN = (AttributeError, UnicodeEncodeError, RecursionError)


def _check(exc: BaseException, word: str) -> None:
    assert isinstance(exc, (TypeError, ValidationError)), repr(exc)
    assert not isinstance(exc, _FORBIDDEN), repr(exc)
    assert word in str(exc), (word, str(exc))
    assert KEY not in str(exc) and KEY not in repr(getattr(exc, "value", ""))
    if isinstance(exc, ValidationError):
        assert exc.param and exc.rule


def _create_sync(srv: RawServer, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"model": "qwen-plus", "messages": MSG, **kwargs}
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        client.generation.create(**args)


def _create_async(srv: RawServer, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"model": "qwen-plus", "messages": MSG, **kwargs}

    async def main() -> None:
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
            await client.generation.create(**args)

    asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CALL_CASES, ids=[c[0] for c in CALL_CASES])
def test_bad_call_input_is_refused_before_io(
    mode: str, case: tuple[str, dict[str, Any], str]
) -> None:
    _, kwargs, word = case
    with RawServer(_never) as srv:
        with pytest.raises(Exception) as caught:
            (_create_sync if mode == "sync" else _create_async)(srv, kwargs)
        assert srv.connections == 0, "a socket was opened"
    _check(caught.value, word)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", CLIENT_CASES, ids=[c[0] for c in CLIENT_CASES])
def test_bad_client_option_is_refused(mode: str, case: tuple[str, dict[str, Any], str]) -> None:
    _, kwargs, word = case
    with RawServer(_never) as srv:
        options: dict[str, Any] = {"api_key": KEY, "base_url": srv.base_url, **kwargs}
        cls: Any = ModelStudio if mode == "sync" else AsyncModelStudio
        with pytest.raises(Exception) as caught:
            cls(**options)
        assert srv.connections == 0
    _check(caught.value, word)


COPY_CASES = [c for c in CLIENT_CASES if c[2] not in ("region", "http_client")]


@pytest.mark.parametrize("case", COPY_CASES, ids=[c[0] for c in COPY_CASES])
def test_bad_option_in_with_options_is_refused(case: tuple[str, dict[str, Any], str]) -> None:
    _, kwargs, word = case
    client = ModelStudio(api_key=KEY, base_url="http://127.0.0.1:9/api/v1")
    with client, pytest.raises(Exception) as caught:
        client.with_options(**kwargs)
    _check(caught.value, word)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_key_with_surrounding_whitespace_is_stripped(mode: str) -> None:
    def behaviour(conn: Conn) -> None:
        conn.server.results.append(conn.request.headers.get("authorization"))
        conn.reply(200)

    with RawServer(behaviour) as srv:
        args = {"api_key": f"  {KEY}\n", "base_url": srv.base_url}
        if mode == "sync":
            with ModelStudio(**args) as client:
                client.generation.create(model="qwen-plus", messages=MSG)
        else:

            async def main() -> None:
                async with AsyncModelStudio(**args) as client:
                    await client.generation.create(model="qwen-plus", messages=MSG)

            asyncio.run(main())
    assert srv.results == [f"Bearer {KEY}"]
