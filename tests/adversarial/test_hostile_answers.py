"""Hostile answers are typed errors: JSON nested 100,000 levels deep, a 2xx answer that cannot be
read, redirects off the POST."""

from __future__ import annotations

import pickle

import pytest

from modelstudio import APIError, APIResponseValidationError, APIStatusError, ModelStudioError
from modelstudio._errors import MAX_BODY_EXCERPT
from tests.adversarial.raw import KEY, MODES, OK_JSON, Conn, RawServer, run_call

DEPTH = 100_000
DEEP_LIST = b"[" * DEPTH + b"]" * DEPTH
DEEP_OBJECT = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH


def _deep_field(deep: bytes) -> bytes:
    return b'{"request_id":"r","output":{"text":"x","finish_reason":"stop","extra":' + deep + b"}}"


def _sse(data: bytes, event: str = "result", status: int = 200) -> bytes:
    return f"id:1\nevent:{event}\n:HTTP_STATUS/{status}\ndata:".encode() + data + b"\n\n"


CASES: dict[str, tuple[int, bytes, str, bool]] = {
    # name: (status, body, content type, stream)
    "200-deep-list": (200, DEEP_LIST, "application/json", False),
    "200-deep-object": (200, DEEP_OBJECT, "application/json", False),
    "200-deep-field": (200, _deep_field(DEEP_LIST), "application/json", False),
    "400-deep-error-body": (400, DEEP_OBJECT, "application/json", False),
    "500-deep-error-body": (500, DEEP_LIST, "application/json", False),
    "400-deep-sse-error-body": (
        400,
        _sse(DEEP_OBJECT, "error", 400),
        "text/event-stream",
        False,
    ),
    "sse-deep-event": (200, _sse(DEEP_LIST), "text/event-stream", True),
    "sse-deep-object-event": (200, _sse(DEEP_OBJECT), "text/event-stream", True),
    "sse-deep-field-event": (200, _sse(_deep_field(DEEP_LIST)), "text/event-stream", True),
    "sse-deep-error-event": (200, _sse(DEEP_OBJECT, "error", 500), "text/event-stream", True),
    "sse-deep-compatible-error": (
        200,
        b'data: {"error":' + DEEP_OBJECT + b"}\n\n",
        "text/event-stream",
        True,
    ),
    "stream-call-deep-400": (400, DEEP_LIST, "application/json", True),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_deeply_nested_json_is_a_typed_error(mode: str, name: str) -> None:
    status, body, content_type, stream = CASES[name]

    def behaviour(conn: Conn) -> None:
        conn.reply(status, body, [("x-request-id", "rid-deep")], content_type=content_type)

    with RawServer(behaviour) as srv:
        try:
            run_call(mode, srv.base_url, stream=stream, client={"max_retries": 0})
        except RecursionError:  # pragma: no cover - the failure this test guards against
            pytest.fail("RecursionError escaped")
        except ModelStudioError as exc:
            assert isinstance(exc, APIError)
            if status >= 400:
                assert isinstance(exc, APIStatusError) and exc.status_code == status
            assert len(str(exc)) < 2000  # a short message, not the body
        else:
            # A deep value in an unknown field may be kept as is: that is allowed too.
            assert name in ("200-deep-field", "sse-deep-field-event"), name


def redirect_to(status: int, location: str) -> object:
    def behaviour(conn: Conn) -> None:
        if conn.request.path.startswith("/target"):
            conn.server.results.append((conn.request.method, conn.request.body))
            conn.reply(200, OK_JSON)
            return
        conn.reply(status, b"", [("Location", location)], content_type="text/plain")

    return behaviour


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [301, 302, 303])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_redirect_that_drops_the_body_is_refused(mode: str, status: int, stream: bool) -> None:
    with RawServer(redirect_to(status, "/placeholder")) as srv:
        srv.behaviour = redirect_to(  # type: ignore[assignment]
            status, f"http://user:pa55word@127.0.0.1:{srv.port}/target?api_key={KEY}"
        )
        with pytest.raises(APIStatusError) as caught:
            run_call(mode, srv.base_url, stream=stream)
        assert srv.results == [], "the redirect was followed"
        assert len(srv.requests) == 1
    text = str(caught.value) + repr(caught.value)
    assert caught.value.status_code == status
    assert f"127.0.0.1:{srv.port}/target" in text
    assert "pa55word" not in text and KEY not in text and "user:" not in text
    assert "GET" in text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_that_keeps_method_and_body_is_followed(mode: str, status: int) -> None:
    with RawServer(redirect_to(status, "/target")) as srv:
        response = run_call(mode, srv.base_url)
        assert len(srv.results) == 1
        method, body = srv.results[0]  # type: ignore[misc]
    assert method == "POST" and b'"qwen-plus"' in body
    assert response.output.text == "hello"  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_loop_ends(mode: str) -> None:
    with RawServer(redirect_to(307, "/api/v1/loop"), max_connections=40) as srv:
        with pytest.raises(ModelStudioError):
            run_call(mode, srv.base_url, client={"max_retries": 0})
        assert len(srv.requests) <= 22


# A 2xx answer that cannot be read as the documented one, each way it can fail: every one is
# an APIResponseValidationError carrying the status, request id, headers and the body's start.
UNREADABLE: dict[str, tuple[bytes, str, bool]] = {
    # name: (body, content type, stream)
    "html": (
        b"<html><body>502 Bad Gateway (" + KEY.encode() + b")</body></html>",
        "text/html",
        False,
    ),
    "empty": (b"", "application/json", False),
    "truncated-json": (b'{"output":{"text":"hel', "application/json", False),
    "deep-list": (DEEP_LIST, "application/json", False),
    "deep-object": (DEEP_OBJECT, "application/json", False),
    "array": (b"[1,2,3]", "application/json", False),
    "number": (b"42", "application/json", False),
    "wrong-shape": (b'{"output":7,"usage":[1],"request_id":"r"}', "application/json", False),
    "sse-html": (_sse(b"<html>oops</html>"), "text/event-stream", True),
    "sse-deep-list": (_sse(DEEP_LIST), "text/event-stream", True),
    "sse-deep-object": (_sse(DEEP_OBJECT), "text/event-stream", True),
    "sse-array": (_sse(b"[1,2]"), "text/event-stream", True),
    "sse-wrong-shape": (
        _sse(b'{"output":{"choices":["x"]},"usage":[]}'),
        "text/event-stream",
        True,
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_an_unreadable_2xx_answer_is_one_error_class(mode: str, name: str) -> None:
    body, content_type, stream = UNREADABLE[name]

    def behaviour(conn: Conn) -> None:
        conn.reply(200, body, [("x-request-id", "rid-bad")], content_type=content_type)

    with RawServer(behaviour) as srv:
        with pytest.raises(APIResponseValidationError) as caught:
            run_call(mode, srv.base_url, stream=stream, client={"max_retries": 2})
        assert len(srv.requests) == 1, "an answered call was retried"
    error = caught.value
    assert error.status_code == 200 and error.request_id in ("rid-bad", "r")
    assert error.headers["x-request-id"] == "rid-bad"
    assert len(error.body) <= MAX_BODY_EXCERPT
    if not stream and name != "wrong-shape":
        assert body.replace(KEY.encode(), b"***").startswith(error.body)
    text = str(error) + repr(error) + repr(error.body) + repr(error.__dict__)
    assert KEY not in text and len(str(error)) < 2000
    assert pickle.loads(pickle.dumps(error)).__dict__ == error.__dict__
