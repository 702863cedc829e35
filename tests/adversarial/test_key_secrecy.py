"""The key stays secret: servers that echo it back, in every field, event and header, and every
way an error is looked at (str, repr, fields, the exception chain, locals a traceback prints,
pickles)."""

from __future__ import annotations

import json
import logging
import pickle
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest

import modelstudio
from modelstudio import ModelStudio, ModelStudioError
from modelstudio._sse import ServerSentEvent
from tests.adversarial.raw import KEY, MODES, Conn, RawServer, free_port, run_call

PACKAGE = str(Path(modelstudio.__file__).parent)


def _key_of(conn: Conn) -> str:
    return conn.request.headers.get("authorization", "").removeprefix("Bearer ")


def _json(conn: Conn, status: int, payload: dict[str, Any], headers: Any = ()) -> None:
    conn.reply(status, json.dumps(payload).encode(), list(headers))


def native_error_fields(conn: Conn) -> None:
    key = _key_of(conn)
    _json(conn, 400, {"code": f"Bad.{key}", "message": f"key {key}", "request_id": key})


def echoed_headers(conn: Conn) -> None:
    key = _key_of(conn)
    headers = [("x-request-id", key), ("X-Echo", f"Bearer {key}"), ("WWW-Authenticate", key)]
    _json(conn, 401, {"code": "InvalidApiKey", "message": "no"}, headers)


def error_in_200(conn: Conn) -> None:
    key = _key_of(conn)
    _json(conn, 200, {"code": key, "message": f"Invalid {key}", "request_id": "r"})


def text_500(conn: Conn) -> None:
    conn.reply(
        500,
        f"upstream said Authorization: Bearer {_key_of(conn)}".encode(),
        [],
        content_type="text/plain",
    )


def openai_error_body(conn: Conn) -> None:
    key = _key_of(conn)
    payload = {"error": {"message": f"bad key {key}", "type": key, "code": key}}
    _json(conn, 401, payload, [("x-request-id", key)])


def _sse(conn: Conn, body: bytes, headers: Any = ()) -> None:
    conn.reply(200, body, list(headers), content_type="text/event-stream")


def stream_native_error(conn: Conn) -> None:
    key = _key_of(conn)
    data = json.dumps({"code": f"C{key}", "message": f"m {key}", "request_id": key})
    _sse(conn, f"id:1\nevent:error\n:HTTP_STATUS/401\ndata:{data}\n\n".encode())


def stream_code_in_data(conn: Conn) -> None:
    key = _key_of(conn)
    data = json.dumps({"code": key, "message": key})
    _sse(conn, f"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode())


def stream_compatible_error(conn: Conn) -> None:
    key = _key_of(conn)
    data = json.dumps({"error": {"message": f"m {key}", "code": key, "type": key}})
    _sse(conn, f"data: {data}\n\n".encode(), [("x-request-id", key)])


def stream_not_json(conn: Conn) -> None:
    _sse(conn, f"id:1\nevent:result\ndata:oops {_key_of(conn)}\n\n".encode())


def stream_cut(conn: Conn) -> None:
    key = _key_of(conn)
    conn.head(
        200,
        [("Content-Type", "text/event-stream"), ("Content-Length", "900"), ("x-request-id", key)],
    )
    conn.send(b'id:1\nevent:result\ndata:{"output":{"text":"a"}}\n\n')
    conn.wait(0.1)
    conn.reset()


def json_cut(conn: Conn) -> None:
    conn.head(
        200,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", "900"),
            ("x-request-id", _key_of(conn)),
        ],
    )
    conn.send(b'{"output":')


def redirect_with_key(conn: Conn) -> None:
    location = f"http://{_key_of(conn)}:{_key_of(conn)}@127.0.0.1:1/x?k={_key_of(conn)}"
    conn.reply(302, b"", [("Location", location)], content_type="text/plain")


CASES = {
    "native-error-fields": (native_error_fields, False),
    "echoed-headers": (echoed_headers, False),
    "error-in-200": (error_in_200, False),
    "text-500": (text_500, False),
    "openai-error-body": (openai_error_body, False),
    "json-cut": (json_cut, False),
    "redirect": (redirect_with_key, False),
    "stream-native-error": (stream_native_error, True),
    "stream-code-in-data": (stream_code_in_data, True),
    "stream-compatible-error": (stream_compatible_error, True),
    "stream-not-json": (stream_not_json, True),
    "stream-cut": (stream_cut, True),
}


def _frames(tb: TracebackType | None) -> list[Any]:
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


# What a server sent, as the frames that decoded it hold it: a server that echoes the key in
# its own bytes is not the SDK exposing it. Every other local is checked.
RECEIVED = (bytes, str, dict, list, ServerSentEvent)


def _local_text(value: Any) -> str:
    if isinstance(value, RECEIVED):
        return ""
    if isinstance(value, httpx.Request):  # a redirect target's URL is the server's Location
        return repr(value.headers)
    return repr(value)


def exposures(error: BaseException) -> list[str]:
    """Every text a user, a log, an error tracker or pytest --showlocals could see."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts.append(repr(pickle.dumps(error)))
    texts += [repr(value) for value in vars(error).values()]
    headers = getattr(error, "headers", None)
    if headers is not None:
        texts.append(repr(list(headers.multi_items())))
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        texts.append(body.decode("utf-8", "replace"))
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        for frame in _frames(current.__traceback__):
            if frame.f_code.co_filename.startswith(PACKAGE):
                texts += [_local_text(v) for v in frame.f_locals.values()]
        current = current.__cause__ or current.__context__
    return texts


def assert_secret(error: BaseException) -> None:
    for text in exposures(error):
        assert KEY not in text, text[:300]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_an_echoed_key_never_shows(mode: str, name: str, caplog: pytest.LogCaptureFixture) -> None:
    behaviour, stream = CASES[name]
    caplog.set_level(logging.DEBUG, logger="modelstudio")
    with RawServer(behaviour) as srv, pytest.raises(ModelStudioError) as caught:  # type: ignore[arg-type]
        run_call(mode, srv.base_url, stream=stream, client={"max_retries": 0})
    assert_secret(caught.value)
    assert "response" in caplog.text or name == "redirect"  # the DEBUG lines were written
    assert KEY not in caplog.text


@pytest.mark.parametrize("mode", MODES)
def test_connection_refused_names_url_and_cause_without_the_key(mode: str) -> None:
    base = f"http://127.0.0.1:{free_port()}/api/v1"
    with pytest.raises(ModelStudioError) as caught:
        run_call(mode, base, client={"max_retries": 0})
    assert_secret(caught.value)
    assert "Connection refused" in str(caught.value)
    assert base + "/services/aigc/text-generation/generation" in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [{"timeout": -1}, {"max_retries": "x"}, {"workspace": "a\nb"}, {"base_url": 3}],
    ids=["timeout", "max_retries", "workspace", "base_url"],
)
def test_an_option_error_keeps_the_key_out_of_every_frame(options: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"api_key": KEY, "base_url": "http://127.0.0.1:9/api/v1"}
    arguments.update(options)
    with pytest.raises((TypeError, ValueError)) as caught:
        ModelStudio(**arguments)
    assert_secret(caught.value)


def test_internal_objects_have_redacted_reprs() -> None:
    with RawServer(native_error_fields) as srv:
        client = ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0)
        with client:
            texts = [repr(client), repr(client._settings), repr(vars(client))]
            texts.append(repr(client._settings.headers(True, None)))
            texts.append(repr(vars(client._settings)))
            copy = client.with_options(timeout=3)
            texts.append(repr(vars(copy)))
    for text in texts:
        assert KEY not in text, text[:300]
