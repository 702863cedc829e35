"""Timeouts mean what they say: `timeout=` bounds a stream's first byte, `stream_idle_timeout`
the silence between events, `deadline=` the whole call against a server trickling bytes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from modelstudio import APITimeoutError
from tests.adversarial.raw import EVENT, MODES, Conn, RawServer, run_call

SLACK = 2.5  # seconds a timeout may overrun on a loaded 2-core machine


def never_answers(conn: Conn) -> None:
    conn.wait(8)


def headers_then_silence(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")])
    conn.send(f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n")
    conn.wait(8)


def trickle_body(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "100000")])
    for _ in range(400):
        conn.send(b" ")
        conn.wait(0.02)


def trickle_stream(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")])
    for _ in range(400):
        conn.send(b"1\r\n:\r\n")  # one byte of an SSE comment line, never an event's end
        conn.wait(0.02)


def trickle_events(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")])
    for _ in range(400):
        conn.send(f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n")
        conn.wait(0.02)


# (name, behaviour, stream, client options, create options, the bound in seconds)
CASES: list[tuple[str, Any, bool, dict[str, Any], dict[str, Any], float]] = [
    ("json-never-answers", never_answers, False, {"timeout": 0.4}, {}, 0.4),
    ("stream-first-byte-client-timeout", never_answers, True, {"timeout": 0.4}, {}, 0.4),
    ("stream-first-byte-call-timeout", never_answers, True, {}, {"timeout": 0.4}, 0.4),
    (
        "stream-idle",
        headers_then_silence,
        True,
        {"timeout": 5, "stream_idle_timeout": 0.4},
        {},
        0.4,
    ),
    ("stream-idle-per-call", headers_then_silence, True, {}, {"stream_idle_timeout": 0.4}, 0.4),
    ("json-trickle-deadline", trickle_body, False, {"timeout": 5}, {"deadline": 0.6}, 0.6),
    ("json-trickle-client-deadline", trickle_body, False, {"deadline": 0.6}, {}, 0.6),
    ("stream-trickle-deadline", trickle_stream, True, {"timeout": 5}, {"deadline": 0.6}, 0.6),
    ("stream-events-deadline", trickle_events, True, {}, {"deadline": 0.6}, 0.6),
    ("json-never-answers-deadline", never_answers, False, {"timeout": 5}, {"deadline": 0.5}, 0.5),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_timeout_bounds_the_wait(mode: str, case: tuple[Any, ...]) -> None:
    name, behaviour, stream, client, create, bound = case
    with RawServer(behaviour) as srv:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            run_call(
                mode, srv.base_url, stream=stream, client={"max_retries": 2, **client}, **create
            )
        took = time.monotonic() - started
        assert len(srv.requests) == 1, "a timed-out call was retried"
    assert took < bound + SLACK, (name, took)
    if "deadline" in name:
        assert "deadline" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_deadline_stops_retries(mode: str) -> None:
    def busy(conn: Conn) -> None:
        conn.reply(503, b'{"code":"ServiceUnavailable","message":"busy"}', [("Retry-After", "2")])

    with RawServer(busy) as srv:
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            run_call(mode, srv.base_url, client={"max_retries": 5}, deadline=1.0)
        assert time.monotonic() - started < 1.0 + SLACK
        assert len(srv.requests) == 1  # the 2 s Retry-After would end past the deadline
    assert "busy" in str(caught.value)
