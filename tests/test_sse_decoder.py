"""The SSE decoder against the WHATWG event-stream rules, fed at every possible split point."""

from __future__ import annotations

import json
import random
import time

import pytest

from modelstudio._sse import ServerSentEvent as E
from modelstudio._sse import SSEDecoder
from tests.paths import RECORDINGS

# (name, stream bytes, events expected after feed(...) + end())
VECTORS: list[tuple[str, bytes, list[E]]] = [
    ("lf", b"data:hello\n\n", [E("hello")]),
    ("crlf", b"data:a\r\n\r\ndata:b\r\n\r\n", [E("a"), E("b")]),
    ("cr", b"data:a\r\rdata:b\r\r", [E("a"), E("b")]),
    ("mixed line ends", b"data:a\r\ndata:b\rdata:c\n\r\n", [E("a\nb\nc")]),
    ("cr cr lf is two line ends", b"data:a\r\r\ndata:b\n\n", [E("a"), E("b")]),
    ("multi-line data", b"data:a\ndata:\ndata:b\n\n", [E("a\n\nb")]),
    ("one space removed", b"data: x\ndata:  y\ndata:\tz\n\n", [E("x\n y\n\tz")]),
    ("empty data dispatched", b"data:\n\n", [E("")]),
    ("field without colon", b"data\ndata\n\n", [E("\n")]),
    ("no data not dispatched", b"event:x\nid:3\nretry:10\n:c\n\ndata:y\n\n", [E("y", id="3")]),
    ("event type", b"event:result\ndata:a\n\ndata:b\n\n", [E("a", event="result"), E("b")]),
    ("empty event type", b"event:\ndata:a\n\n", [E("a")]),
    (
        "comments kept",
        b":HTTP_STATUS/200\n: ping\ndata:x\n\n",
        [E("x", comments=("HTTP_STATUS/200", " ping"))],
    ),
    ("comment only is no event", b":keep-alive\n\n", []),
    (
        "id persists, NUL ignored, empty resets",
        b"id:1\ndata:a\n\nid:2\x00x\ndata:b\n\ndata:c\n\nid\ndata:d\n\nid: 5\ndata:e\n\n",
        [E("a", id="1"), E("b", id="1"), E("c", id="1"), E("d", id=""), E("e", id="5")],
    ),
    (
        "retry digits only",
        b"retry:1500\ndata:a\n\nretry:15x\ndata:b\n\nretry: 20\ndata:c\n\nretry:\ndata:d\n\n",
        [E("a", retry=1500), E("b"), E("c", retry=20), E("d")],
    ),
    ("unicode digits are not retry", "retry:\u00b2\ndata:a\n\n".encode(), [E("a")]),
    ("unknown field ignored", b"foo:bar\nData:no\ndata:x\n\n", [E("x")]),
    ("leading blank lines", b"\n\r\n\rdata:x\n\n", [E("x")]),
    ("bom stripped", b"\xef\xbb\xbfdata:x\n\n", [E("x")]),
    ("bom stripped once", b"\xef\xbb\xbf\xef\xbb\xbfdata:x\n\ndata:y\n\n", [E("y")]),
    ("bom-like start kept", b"\xef\xbbdata:x\n\ndata:y\n\n", [E("y")]),
    ("utf-8", "data:中文😀\n\n".encode(), [E("中文😀")]),
    ("invalid utf-8 replaced", b"data:a\xffb\n\n", [E("a\ufffdb")]),
    ("colon in value", b'data:{"a":"b:c"}\n\n', [E('{"a":"b:c"}')]),
    ("eof: pending event with complete lines dispatched", b"data:a\n\ndata:b\n", [E("a"), E("b")]),
    ("eof: unterminated last line dropped", b"data:a\n\ndata:b", [E("a")]),
    ("eof: event without data dropped", b"data:a\n\nevent:x\n", [E("a")]),
    (
        "dashscope",
        b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"x":1}\n\n'
        b'id:2\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling"}\n\n',
        [
            E('{"x":1}', event="result", id="1", comments=("HTTP_STATUS/200",)),
            E('{"code":"Throttling"}', event="error", id="2", comments=("HTTP_STATUS/429",)),
        ],
    ),
]


def decode(pieces: list[bytes]) -> list[E]:
    decoder = SSEDecoder()
    events: list[E] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.end())
    return events


@pytest.mark.parametrize(("name", "stream", "expected"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_at_every_split(name: str, stream: bytes, expected: list[E]) -> None:
    assert decode([stream]) == expected
    # One read split at every position (a CR/LF pair, a BOM and UTF-8 characters get cut).
    for i in range(len(stream) + 1):
        assert decode([stream[:i], stream[i:]]) == expected, f"split at {i}"
    # Byte by byte, with empty reads in between.
    assert decode([stream[i : i + 1] for i in range(len(stream))] + [b""]) == expected
    # Random multi-way splits.
    rng = random.Random(name)
    for _ in range(50):
        cuts = sorted(rng.sample(range(len(stream) + 1), k=min(4, len(stream) + 1)))
        pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert decode(pieces) == expected, f"cuts {cuts}"


def test_events_come_out_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data:a\n") == []
    assert decoder.feed(b"\n") == [E("a")]
    assert decoder.feed(b"data:b\r") == []
    assert decoder.feed(b"\r") == [E("b")]
    # The LF after the CR that ended the previous read is not a second (blank) line.
    assert decoder.feed(b"\ndata:c\n") == []
    assert decoder.end() == [E("c")]


def test_last_event_id_and_retry_are_kept_on_the_decoder() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id:9\nretry:300\n\n")
    assert decoder.last_event_id == "9"
    assert decoder.retry == 300


def test_http_status_and_json() -> None:
    event = E('{"a": [1, 2]}', comments=("HTTP_STATUS/429",))
    assert event.http_status == 429
    assert event.json() == {"a": [1, 2]}
    assert E("x").http_status is None
    assert E("x", comments=("HTTP_STATUS/abc",)).http_status is None
    with pytest.raises(json.JSONDecodeError):
        E("not json").json()
    assert "HTTP_STATUS/429" in repr(event)


def test_line_of_several_mib_in_small_reads_is_linear() -> None:
    payload = "漢" * (3 * 1024 * 1024)  # 9 MiB of UTF-8, a 3-byte character cut by most reads
    stream = b"data:" + payload.encode() + b"\n\n"
    decoder = SSEDecoder()
    events: list[E] = []
    started = time.perf_counter()
    for i in range(0, len(stream), 1000):
        events.extend(decoder.feed(stream[i : i + 1000]))
    elapsed = time.perf_counter() - started
    assert len(events) == 1
    assert events[0].data == payload
    # ~9,400 reads of a growing 9 MiB line: a quadratic rescan would take minutes.
    assert elapsed < 3.0


def test_many_events_in_one_read() -> None:
    stream = b"".join(b'id:%d\ndata:{"n":%d}\n\n' % (i, i) for i in range(5000))
    events = decode([stream])
    assert [e.json()["n"] for e in events] == list(range(5000))
    assert events[-1].id == "4999"


def test_recordings_decode() -> None:
    """Every recorded stream decodes; a BOM at the start (defect 2) is stripped. Files lacking
    blank lines between events (defect 1) decode to joined events here; the accumulator tests
    repair them."""
    files = sorted(RECORDINGS.glob("*-sse.response.body.txt"))
    assert len(files) >= 25
    for path in files:
        events = decode([path.read_bytes()])
        assert events, path.name
        for event in events:
            assert not event.data.startswith("\ufeff")
            assert event.event in ("result", "error", "message"), path.name
            if event.event == "error":
                assert event.http_status == 400
                assert event.json()["code"] == "InvalidParameter"
            elif event.comments:
                assert event.http_status == 200


def test_recording_without_separators_joins_events_as_the_standard_says() -> None:
    events = decode([(RECORDINGS / "single-generation-message-sse.response.body.txt").read_bytes()])
    assert len(events) == 1
    assert events[0].data.count("\n") == 9  # ten data lines joined into one event
