"""The SDK's own httpx clients build and send requests without httpx's per-call layers
(`modelstudio._direct`): what reaches the server and what a user sees must not change.

Each test talks to a loopback server that records every request's header lines in the order
they arrived, and compares a client the SDK made with one given as `http_client=` (httpx's full
path, the behaviour before): the same bytes on the wire, cookies stored and sent back, the
`httpx` logger's line, the response's `request` / `elapsed`, proxies from the environment, the
error of a closed client. A user's client keeps its event hooks.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from modelstudio import AsyncModelStudio, ModelStudio
from modelstudio._direct import CACHE_SIZE
from tests.adversarial.raw import Conn, RawServer

KEY = "sk-direct-0123456789abcdef"
MSG = [{"role": "user", "content": "Hi"}]
OK = {
    "request_id": "rid-1",
    "output": {"text": "hello", "finish_reason": "stop"},
    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
}
SSE = (
    b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"text":"a","finish_reason":"stop"},'
    b'"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2},"request_id":"rid-1"}\n\n'
)


class Recorded:
    def __init__(self, line: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.line = line
        self.headers = headers  # as sent: names as written, in order
        self.body = body

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(found) if found else None


class Recorder(ThreadingHTTPServer):
    """Answers every POST (JSON, or one SSE event for `Accept: text/event-stream`) on keep-alive
    connections, recording the request; `reply_headers` go with the next answer only."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []
        self.reply_headers: list[tuple[str, str]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append(Recorded(self.requestline, list(self.headers.items()), body))
        stream = self.headers.get("Accept") == "text/event-stream"
        payload = SSE if stream else json.dumps(OK).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if stream else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in self.server.reply_headers:
            self.send_header(name, value)
        self.server.reply_headers = []
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def rec() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _sent(rec: Recorder, client: ModelStudio, **kwargs: Any) -> Recorded:
    before = len(rec.requests)
    result = client.generation.create(model="qwen-plus", messages=MSG, **kwargs)
    if kwargs.get("stream"):
        list(result)
    assert len(rec.requests) == before + 1
    return rec.requests[-1]


CALLS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {}),
    ({}, {"stream": True}),
    ({"workspace": "ws-1", "default_headers": {"X-Team": "a", "user-agent": "mine/1"}}, {}),
    ({}, {"extra_headers": {"X-Trace": "t-1", "Accept": "application/json"}}),
    ({"default_headers": {"Host": "api.example"}}, {"extra_headers": {"X-Other": "o"}}),
    ({}, {"timeout": 7.5, "seed": 1}),
]


@pytest.mark.parametrize(("settings", "call"), CALLS)
def test_the_own_client_sends_what_httpx_full_path_sends(
    rec: Recorder, settings: dict[str, Any], call: dict[str, Any]
) -> None:
    with httpx.Client(follow_redirects=True) as mine:
        users = ModelStudio(api_key=KEY, base_url=rec.base_url, http_client=mine, **settings)
        theirs = _sent(rec, users, **call)
        with ModelStudio(api_key=KEY, base_url=rec.base_url, **settings) as own:
            ours = _sent(rec, own, **call)
            again = _sent(rec, own, **call)  # from the headers merged once
    assert (ours.line, ours.headers, ours.body) == (theirs.line, theirs.headers, theirs.body)
    assert (again.line, again.headers, again.body) == (ours.line, ours.headers, ours.body)


def test_the_request_object_is_what_a_users_client_makes(rec: Recorder) -> None:
    def sent_request(client: ModelStudio) -> httpx.Request:
        stream = client.generation.create(model="qwen-plus", messages=MSG, stream=True)
        list(stream)
        return stream.response.request

    with httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0)) as mine:
        theirs = sent_request(ModelStudio(api_key=KEY, base_url=rec.base_url, http_client=mine))
        with ModelStudio(api_key=KEY, base_url=rec.base_url) as own:
            ours = sent_request(own)
    assert ours.headers.raw == theirs.headers.raw
    assert (ours.method, ours.url, ours.content) == (theirs.method, theirs.url, theirs.content)
    assert ours.extensions == theirs.extensions


def test_each_call_carries_its_own_headers_and_no_earlier_calls(rec: Recorder) -> None:
    with ModelStudio(api_key=KEY, base_url=rec.base_url) as own:
        assert _sent(rec, own, extra_headers={"X-A": "1"}).header("x-a") == "1"
        second = _sent(rec, own, extra_headers={"X-B": "2"})
        assert (second.header("x-a"), second.header("x-b")) == (None, "2")
        plain = _sent(rec, own)
        assert (plain.header("x-a"), plain.header("x-b")) == (None, None)
        other = own.with_options(default_headers={"X-C": "3"}, workspace="ws-2")
        copied = _sent(rec, other)
        assert (copied.header("x-c"), copied.header("x-dashscope-workspace")) == ("3", "ws-2")
        back = _sent(rec, own)
        assert (back.header("x-c"), back.header("x-dashscope-workspace")) == (None, None)
        assert _sent(rec, own, stream=True).header("x-dashscope-sse") == "enable"
        assert _sent(rec, own).header("x-dashscope-sse") is None
        # More configurations than the client keeps merged: each still gets its own.
        for n in range(CACHE_SIZE + 5):
            assert _sent(rec, own, extra_headers={"X-N": str(n)}).header("x-n") == str(n)


def _set_cookie_then_send_twice(rec: Recorder, client: ModelStudio) -> list[Recorded]:
    rec.reply_headers = [("Set-Cookie", "session=abc; Path=/")]
    first = _sent(rec, client)
    second = _sent(rec, client)
    return [first, second]


def test_a_cookie_the_server_sets_is_sent_back_as_on_a_users_client(rec: Recorder) -> None:
    with httpx.Client() as mine:
        users = ModelStudio(api_key=KEY, base_url=rec.base_url, http_client=mine)
        theirs = _set_cookie_then_send_twice(rec, users)
        with ModelStudio(api_key=KEY, base_url=rec.base_url) as own:
            ours = _set_cookie_then_send_twice(rec, own)
            assert dict(own._http.cookies) == {"session": "abc"}
    assert [r.header("cookie") for r in theirs] == [None, "session=abc"]
    assert [r.headers for r in ours] == [r.headers for r in theirs]


async def test_the_async_own_client_stores_and_sends_cookies(rec: Recorder) -> None:
    async with AsyncModelStudio(api_key=KEY, base_url=rec.base_url) as own:
        rec.reply_headers = [("Set-Cookie", "session=xyz; Path=/")]
        await own.generation.create(model="qwen-plus", messages=MSG)
        await own.generation.create(model="qwen-plus", messages=MSG)
        async with httpx.AsyncClient() as mine:
            users = AsyncModelStudio(api_key=KEY, base_url=rec.base_url, http_client=mine)
            rec.reply_headers = [("Set-Cookie", "session=xyz; Path=/")]
            await users.generation.create(model="qwen-plus", messages=MSG)
            await users.generation.create(model="qwen-plus", messages=MSG)
    ours, theirs = rec.requests[:2], rec.requests[2:]
    assert [r.header("cookie") for r in ours] == [None, "session=xyz"]
    assert [r.headers for r in ours] == [r.headers for r in theirs]


def _http_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "httpx"]


def test_the_httpx_logger_says_the_same_line(
    rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    with ModelStudio(api_key=KEY, base_url=rec.base_url) as own:
        _sent(rec, own)
    ours = _http_lines(caplog)
    caplog.clear()
    with httpx.Client() as mine:
        _sent(rec, ModelStudio(api_key=KEY, base_url=rec.base_url, http_client=mine))
    theirs = _http_lines(caplog)
    url = rec.base_url + "/services/aigc/text-generation/generation"
    assert theirs == [f'HTTP Request: POST {url} "HTTP/1.1 200 OK"']
    assert ours == theirs


async def test_the_async_httpx_logger_says_the_same_line(
    rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    async with AsyncModelStudio(api_key=KEY, base_url=rec.base_url) as own:
        await own.generation.create(model="qwen-plus", messages=MSG)
    url = rec.base_url + "/services/aigc/text-generation/generation"
    assert _http_lines(caplog) == [f'HTTP Request: POST {url} "HTTP/1.1 200 OK"']


def test_the_stream_response_keeps_request_elapsed_and_encoding(rec: Recorder) -> None:
    with ModelStudio(api_key=KEY, base_url=rec.base_url) as own:
        stream = own.generation.create(model="qwen-plus", messages=MSG, stream=True)
        response = stream.response
        with pytest.raises(RuntimeError, match="elapsed"):
            _ = response.elapsed  # not until the body is closed
        assert [c.output.text for c in stream] == ["a"]
        assert response.is_closed
        assert response.elapsed.total_seconds() > 0
        assert response.request.headers["authorization"] == f"Bearer {KEY}"
        assert response.request.url == rec.base_url + "/services/aigc/text-generation/generation"
        assert response.default_encoding == own._http._default_encoding
        assert response.history == []


async def test_the_async_stream_response_keeps_request_and_elapsed(rec: Recorder) -> None:
    async with AsyncModelStudio(api_key=KEY, base_url=rec.base_url) as own:
        stream = await own.generation.create(model="qwen-plus", messages=MSG, stream=True)
        response = stream.response
        assert [c.output.text async for c in stream] == ["a"]
        assert response.is_closed
        assert response.elapsed.total_seconds() > 0
        assert response.request.method == "POST"


def test_a_closed_own_client_refuses_a_call_as_httpx_does(rec: Recorder) -> None:
    own = ModelStudio(api_key=KEY, base_url=rec.base_url)
    _sent(rec, own)
    own.close()
    with pytest.raises(RuntimeError, match="the client has been closed"):
        own.generation.create(model="qwen-plus", messages=MSG)


async def test_a_closed_async_own_client_refuses_a_call_as_httpx_does(rec: Recorder) -> None:
    own = AsyncModelStudio(api_key=KEY, base_url=rec.base_url)
    await own.close()
    with pytest.raises(RuntimeError, match="the client has been closed"):
        await own.generation.create(model="qwen-plus", messages=MSG)


def test_a_users_client_still_calls_its_event_hooks(rec: Recorder) -> None:
    seen: list[str] = []
    hooks = {
        "request": [lambda request: seen.append(f"request {request.method}")],
        "response": [lambda response: seen.append(f"response {response.status_code}")],
    }
    with httpx.Client(event_hooks=hooks) as mine:
        client = ModelStudio(api_key=KEY, base_url=rec.base_url, http_client=mine)
        _sent(rec, client)
        _sent(rec, client, stream=True)
    assert seen == ["request POST", "response 200"] * 2


async def test_a_users_async_client_still_calls_its_event_hooks(rec: Recorder) -> None:
    seen: list[str] = []

    async def on_request(request: httpx.Request) -> None:
        seen.append(f"request {request.method}")

    async def on_response(response: httpx.Response) -> None:
        seen.append(f"response {response.status_code}")

    hooks = {"request": [on_request], "response": [on_response]}
    async with httpx.AsyncClient(event_hooks=hooks) as mine:
        client = AsyncModelStudio(api_key=KEY, base_url=rec.base_url, http_client=mine)
        await client.generation.create(model="qwen-plus", messages=MSG)
    assert seen == ["request POST", "response 200"]


def test_a_users_client_with_auth_keeps_its_auth_flow(rec: Recorder) -> None:
    def stamp(request: httpx.Request) -> httpx.Request:
        request.headers["X-Signed"] = "yes"
        return request

    with httpx.Client(auth=stamp) as mine:
        client = ModelStudio(api_key=KEY, base_url=rec.base_url, http_client=mine)
        assert _sent(rec, client).header("x-signed") == "yes"


@pytest.mark.filterwarnings("ignore::modelstudio._base_client.InsecureTransportWarning")
def test_a_proxy_from_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def proxy(conn: Conn) -> None:
        conn.reply()

    with RawServer(proxy) as srv:
        monkeypatch.setenv("HTTP_PROXY", srv.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        base = "http://dashscope.example.invalid/api/v1"
        with ModelStudio(api_key=KEY, base_url=base, max_retries=0) as client:
            response = client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output.text == "hello"
    assert srv.requests[0].path.startswith("http://dashscope.example.invalid/api/v1/")


def test_the_own_clients_take_the_direct_path_on_this_httpx() -> None:
    """The direct path leans on httpx privates and falls back quietly when one is missing: a
    new httpx that renames one must fail here, not just bring back the slower path unseen."""
    sync, async_ = ModelStudio(api_key=KEY), AsyncModelStudio(api_key=KEY)
    users = ModelStudio(api_key=KEY, http_client=httpx.Client())
    try:
        assert sync._direct is not None and async_._direct is not None
        assert users._direct is None
    finally:
        sync.close()
        users.close()
        users._http.close()
