"""Never generate twice: once the status line arrived, a cut answer is an error, not a retry."""

from __future__ import annotations

import pickle

import pytest

from modelstudio import (
    APIConnectionError,
    APITimeoutError,
    IncompleteResponseError,
    IncompleteStreamError,
)
from tests.adversarial.raw import EVENT, FINAL_EVENT, MODES, OK_JSON, Conn, RawServer, run_call

RID = [("x-request-id", "rid-cut")]


def long_content_length_fin(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "500"), *RID])
    conn.send(OK_JSON[:40])


def long_content_length_rst(conn: Conn) -> None:
    long_content_length_fin(conn)
    conn.wait(0.1)
    conn.reset()


def truncated_chunk(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"), *RID])
    conn.send(b"64\r\n" + OK_JSON[:10])


def chunked_without_last_chunk(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"), *RID])
    conn.send(f"{len(OK_JSON):x}\r\n".encode() + OK_JSON + b"\r\n")


def bad_chunk_size(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"), *RID])
    conn.send(b"zz\r\n" + OK_JSON + b"\r\n0\r\n\r\n")


def headers_then_rst(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "200"), *RID])
    conn.wait(0.1)
    conn.reset()


def headers_then_fin(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "200"), *RID])


def mid_body_rst(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "5000"), *RID])
    for _ in range(5):
        conn.send(b" " * 100)
        conn.wait(0.02)
    conn.reset()


def corrupt_gzip(conn: Conn) -> None:
    body = b"\x1f\x8b\x08\x00garbage-not-gzip"
    conn.reply(200, body, [("Content-Encoding", "gzip"), *RID])


CUT = [
    long_content_length_fin,
    long_content_length_rst,
    truncated_chunk,
    chunked_without_last_chunk,
    bad_chunk_size,
    headers_then_rst,
    headers_then_fin,
    mid_body_rst,
    corrupt_gzip,
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("behaviour", CUT, ids=[b.__name__ for b in CUT])
def test_a_cut_answer_is_not_retried(mode: str, behaviour: object) -> None:
    with RawServer(behaviour) as srv:  # type: ignore[arg-type]
        with pytest.raises(APIConnectionError) as caught:
            run_call(mode, srv.base_url, client={"max_retries": 3, "timeout": 5})
        assert len(srv.requests) == 1, "retried after the status arrived"
    error = caught.value
    assert isinstance(error, IncompleteResponseError), repr(error)
    assert error.status_code == 200
    assert error.request_id == "rid-cut"
    assert error.headers["x-request-id"] == "rid-cut"
    assert "cut" in str(error) and "Not retried" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, IncompleteResponseError) and again.request_id == "rid-cut"


def half_body_then_silence(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "500"), *RID])
    conn.send(OK_JSON[:40])
    conn.wait(5)


@pytest.mark.parametrize("mode", MODES)
def test_a_read_timeout_after_the_status_is_not_retried(mode: str) -> None:
    with RawServer(half_body_then_silence) as srv:
        with pytest.raises(APITimeoutError) as caught:
            run_call(mode, srv.base_url, client={"max_retries": 3, "timeout": 0.3})
        assert len(srv.requests) == 1
    assert caught.value.request_id == "rid-cut"


def stream_cut_after_one_event(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "text/event-stream"), ("Content-Length", "5000"), *RID])
    conn.send(EVENT)
    conn.wait(0.1)
    conn.reset()


def stream_chunk_cut(conn: Conn) -> None:
    conn.head(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked"), *RID])
    conn.send(f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n" + b"400\r\n" + FINAL_EVENT[:20])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("behaviour", [stream_cut_after_one_event, stream_chunk_cut])
def test_a_cut_stream_is_not_retried(mode: str, behaviour: object) -> None:
    with RawServer(behaviour) as srv:  # type: ignore[arg-type]
        with pytest.raises(IncompleteStreamError):
            run_call(mode, srv.base_url, stream=True, client={"max_retries": 3, "timeout": 5})
        assert len(srv.requests) == 1


class _FirstFails:
    """The first connection fails before any status byte; the next ones answer."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.calls = 0

    def __call__(self, conn: Conn) -> None:
        self.calls += 1
        if self.calls == 1:
            if self.how == "rst":
                conn.reset()
            return  # "fin": close without a byte
        conn.reply(200, OK_JSON, RID)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["rst", "fin"])
def test_a_connection_lost_before_the_status_is_retried(mode: str, how: str) -> None:
    with RawServer(_FirstFails(how)) as srv:
        response = run_call(mode, srv.base_url, client={"max_retries": 2, "timeout": 5})
        assert len(srv.requests) == 2
    assert response.output.text == "hello"  # type: ignore[attr-defined]
