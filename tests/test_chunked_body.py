"""The chunked body reader below h11 (`modelstudio._chunked`), over real loopback sockets.

Every stream a user reads with the SDK's own client (or a plain `httpx.Client` given as
`http_client=`) has its chunked body decoded by `_chunked` instead of h11's per-chunk state
machine. What a user sees must not change: the same chunks, the same errors for a broken body,
the connection back in the pool afterwards. Each case below runs the same server bytes through
the fast path and through today's path (an `http_client=` whose transport wraps the response
stream, which the fast path leaves alone) and compares what came out.
"""

from __future__ import annotations

import asyncio
import gzip
import random
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import h11
import httpcore
import httpx
import pytest

from modelstudio import APIError, AsyncModelStudio, ModelStudio
from modelstudio._chunked import parse, reads_below_h11
from modelstudio.testing import MockServer
from tests.adversarial.raw import (
    EVENT,
    FINAL_EVENT,
    KEY,
    MODES,
    MSG,
    OK_JSON,
    Conn,
    RawServer,
    head_bytes,
    read_request,
)

SSE_HEAD = [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]
LAST = b"0\r\n\r\n"


def chunk(data: bytes, ext: bytes = b"") -> bytes:
    return b"%x%s\r\n%s\r\n" % (len(data), ext, data)


def pieces_of(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def serve(
    pieces: list[bytes], head: list[tuple[str, str]] | None = None, then: Any = None
) -> Callable[[Conn], None]:
    """A behaviour: the status and `head` with the first piece, then each further piece in its
    own TCP segment (a short pause between them, so the client's reads end where the pieces
    do), then `then(conn)`. The first piece goes with the head: the client is waiting for the
    head then, so it reads the two at once, whereas a first piece sent alone could still be
    waiting in the socket with the second when the client, busy setting the stream up, reads."""

    def run(conn: Conn) -> None:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        first, *rest = pieces or [b""]
        conn.send(head_bytes(200, SSE_HEAD if head is None else head) + first)
        for piece in rest:
            conn.wait(0.004)
            conn.send(piece)
        if then is not None:
            then(conn)

    return run


class _Wrapped(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        self._inner.close()


class _AsyncWrapped(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._inner:
            yield part

    async def aclose(self) -> None:
        await self._inner.aclose()


class WrappingTransport(httpx.HTTPTransport):
    """A user's transport that wraps each response stream: today's path (h11) reads it."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _Wrapped(response.stream)
        return response


class AsyncWrappingTransport(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncWrapped(response.stream)
        return response


Outcome = tuple[list[str], str | None, bool]  # chunk texts, "Type: message" of the error, fast


def _sync_stream(base_url: str, normal: bool, client: dict[str, Any]) -> Outcome:
    http = httpx.Client(transport=WrappingTransport()) if normal else None
    texts: list[str] = []
    error = None
    try:
        options: dict[str, Any] = {"max_retries": 0, "http_client": http, **client}
        with ModelStudio(api_key=KEY, base_url=base_url, **options) as sdk:
            stream = sdk.generation.create(model="qwen-plus", messages=MSG, stream=True)
            try:
                for item in stream:
                    texts.append(item.delta.text)
            except APIError as exc:
                error = f"{type(exc).__name__}: {exc}"
            return texts, error, reads_below_h11(stream.response.stream)
    finally:
        if http is not None:
            http.close()


async def _async_stream(base_url: str, normal: bool, client: dict[str, Any]) -> Outcome:
    http = httpx.AsyncClient(transport=AsyncWrappingTransport()) if normal else None
    texts: list[str] = []
    error = None
    try:
        options: dict[str, Any] = {"max_retries": 0, "http_client": http, **client}
        async with AsyncModelStudio(api_key=KEY, base_url=base_url, **options) as sdk:
            stream = await sdk.generation.create(model="qwen-plus", messages=MSG, stream=True)
            try:
                async for item in stream:
                    texts.append(item.delta.text)
            except APIError as exc:
                error = f"{type(exc).__name__}: {exc}"
            return texts, error, reads_below_h11(stream.response.stream)
    finally:
        if http is not None:
            await http.aclose()


def read_stream(
    mode: str, behaviour: Callable[[Conn], None], normal: bool = False, **client: Any
) -> Outcome:
    with RawServer(behaviour) as srv:
        if mode == "sync":
            return _sync_stream(srv.base_url, normal, client)
        return asyncio.run(_async_stream(srv.base_url, normal, client))


GOOD = chunk(EVENT) + chunk(FINAL_EVENT) + LAST
INCOMPLETE = "IncompleteStreamError: The connection broke before the final event of the stream"

# name -> (the pieces the server sends, what the user gets: texts, start of the error)
CASES: dict[str, tuple[list[bytes], list[str], str | None]] = {
    "one-read": ([GOOD], ["a", "b"], None),
    "reads-of-3-bytes": (pieces_of(GOOD, 3), ["a", "b"], None),
    "reads-of-7-bytes": (pieces_of(GOOD, 7), ["a", "b"], None),
    "events-split-over-chunks": (
        [chunk(EVENT[:9]) + chunk(EVENT[9:30]) + chunk(EVENT[30:] + FINAL_EVENT) + LAST],
        ["a", "b"],
        None,
    ),
    "uppercase-hex-leading-zeros": (
        [b"%08X\r\n%s\r\n" % (len(EVENT), EVENT) + chunk(FINAL_EVENT) + LAST],
        ["a", "b"],
        None,
    ),
    "chunk-extension": (
        [chunk(EVENT, b";name=value") + chunk(FINAL_EVENT) + LAST],
        ["a", "b"],
        None,
    ),
    "whitespace-after-size": ([chunk(EVENT, b" \t") + chunk(FINAL_EVENT) + LAST], ["a", "b"], None),
    "trailers": (
        [chunk(EVENT) + chunk(FINAL_EVENT) + b"0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n"],
        ["a", "b"],
        None,
    ),
    "trailers-in-pieces": (
        pieces_of(chunk(EVENT) + chunk(FINAL_EVENT) + b"0\r\nX-Checksum: 1\r\n\r\n", 5),
        ["a", "b"],
        None,
    ),
    "cut-in-the-middle-of-a-chunk": (
        [chunk(EVENT) + b"400\r\n" + FINAL_EVENT[:20]],
        ["a"],
        INCOMPLETE + " (after 1 event): peer closed connection without sending complete",
    ),
    "cut-in-a-chunk-size-line": ([chunk(EVENT) + b"4"], ["a"], INCOMPLETE),
    "cut-in-a-chunk-footer": ([chunk(EVENT)[:-1]], ["a"], INCOMPLETE),
    "cut-before-the-last-chunk": ([chunk(EVENT) + chunk(FINAL_EVENT)], ["a", "b"], INCOMPLETE),
    "cut-in-the-trailers": (
        [chunk(EVENT) + chunk(FINAL_EVENT) + b"0\r\nX-Checksum: 1\r\n"],
        ["a", "b"],
        INCOMPLETE,
    ),
    "a-chunk-size-that-is-not-hex": (
        [chunk(EVENT) + b"zz\r\n" + FINAL_EVENT + b"\r\n" + LAST],
        ["a"],
        INCOMPLETE + " (after 1 event): illegal chunk header",
    ),
    "a-chunk-size-with-a-sign": (
        [chunk(EVENT) + b"+%x\r\n%s\r\n" % (len(FINAL_EVENT), FINAL_EVENT) + LAST],
        ["a"],
        INCOMPLETE + " (after 1 event): illegal chunk header",
    ),
    "a-chunk-size-of-21-digits": (
        [chunk(EVENT) + b"0" * 19 + b"%x\r\n%s\r\n" % (len(FINAL_EVENT), FINAL_EVENT) + LAST],
        ["a"],
        INCOMPLETE + " (after 1 event): illegal chunk header",
    ),
    "a-chunk-without-its-crlf": (
        [b"%x\r\n%sXX" % (len(EVENT), EVENT) + chunk(FINAL_EVENT) + LAST],
        ["a"],
        INCOMPLETE + " (after 1 event): malformed chunk footer",
    ),
    "a-chunk-footer-wrong-in-its-second-byte": (
        [b"%x\r\n%s\r" % (len(EVENT), EVENT), b"X" + chunk(FINAL_EVENT) + LAST],
        ["a"],
        INCOMPLETE + " (after 1 event): malformed chunk footer",
    ),
}


# h11 names the footer bytes it got in one read and those it still expected: b'X' (expected
# b'\n') when the '\r' came in an earlier read, b'\rX' (expected b'\r\n') when both came
# in one. Which it is depends on how the client's reads fell (a loaded machine merges the
# pieces), not on the path: the comparison stops at the kind of error.
_FOOTER_DETAIL = re.compile(r"(malformed chunk footer): .*")


def _read_independent(error: str | None) -> str | None:
    return None if error is None else _FOOTER_DETAIL.sub(r"\1", error)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_fast_path_gives_what_the_normal_path_gives(mode: str, case: str) -> None:
    pieces, texts, error = CASES[case]
    fast = read_stream(mode, serve(pieces))
    normal = read_stream(mode, serve(pieces), normal=True)
    assert fast[2] is True, "the fast path was not taken"
    assert normal[2] is False
    assert (fast[0], _read_independent(fast[1])) == (normal[0], _read_independent(normal[1]))
    assert fast[0] == texts
    if error is None:
        assert fast[1] is None
    else:
        assert fast[1] is not None and fast[1].startswith(error), fast[1]


def serve_stream_then_call(pieces: list[bytes]) -> Callable[[Conn], None]:
    """The stream, then (on the same connection) a second request answered with JSON."""

    def then(conn: Conn) -> None:
        request = read_request(conn.sock)
        conn.server.requests.append(request)  # type: ignore[arg-type]
        if request is not None:
            conn.reply(200, OK_JSON)

    return serve(pieces, then=then)


REUSED = {
    "plain": [GOOD],
    "in-pieces": pieces_of(GOOD, 5),
    "trailers": [chunk(EVENT) + chunk(FINAL_EVENT) + b"0\r\nX-Checksum: 1\r\n\r\n"],
    "chunk-extension": [chunk(EVENT, b";x") + chunk(FINAL_EVENT) + LAST],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(REUSED))
def test_the_connection_is_reused_after_a_fast_path_stream(mode: str, case: str) -> None:
    with RawServer(serve_stream_then_call(REUSED[case])) as srv:
        if mode == "sync":
            with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as sdk:
                stream = sdk.generation.create(model="qwen-plus", messages=MSG, stream=True)
                texts = [item.delta.text for item in stream]
                fast = reads_below_h11(stream.response.stream)
                answer = sdk.generation.create(model="qwen-plus", messages=MSG)
        else:

            async def main() -> tuple[list[str], bool, Any]:
                async with AsyncModelStudio(
                    api_key=KEY, base_url=srv.base_url, max_retries=0
                ) as sdk:
                    stream = await sdk.generation.create(
                        model="qwen-plus", messages=MSG, stream=True
                    )
                    texts = [item.delta.text async for item in stream]
                    fast = reads_below_h11(stream.response.stream)
                    answer = await sdk.generation.create(model="qwen-plus", messages=MSG)
                    return texts, fast, answer

            texts, fast, answer = asyncio.run(main())
        assert texts == ["a", "b"] and fast
        assert answer.output.text == "hello"
        assert srv.connections == 1, "the stream's connection was not reused for the call"
        assert len(srv.requests) == 2


def stall_after_one_event(conn: Conn) -> None:
    conn.head(200, SSE_HEAD)
    conn.send(chunk(EVENT))
    conn.wait(6)


@pytest.mark.parametrize("mode", MODES)
def test_the_deadline_cuts_a_stalled_fast_path_stream(mode: str) -> None:
    started = time.monotonic()
    texts, error, fast = read_stream(mode, stall_after_one_event, deadline=0.6, timeout=5)
    took = time.monotonic() - started
    assert fast and texts == ["a"]
    assert error is not None and error.startswith("APITimeoutError"), error
    assert "deadline of 0.6 s passed" in error, error
    assert took < 0.6 + 2.5


@pytest.mark.parametrize("mode", MODES)
def test_the_idle_timeout_cuts_a_stalled_fast_path_stream(mode: str) -> None:
    fast = read_stream(mode, stall_after_one_event, stream_idle_timeout=0.3)
    normal = read_stream(mode, stall_after_one_event, normal=True, stream_idle_timeout=0.3)
    assert fast[2] and not normal[2]
    assert fast[:2] == normal[:2]
    assert fast[1] is not None and fast[1].startswith(
        "APITimeoutError: The stream timed out: no data arrived within the read timeout"
    )


SSE_BODY = EVENT + FINAL_EVENT


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_stream_takes_the_normal_path(mode: str) -> None:
    head = [*SSE_HEAD, ("Content-Encoding", "gzip")]
    texts, error, fast = read_stream(mode, serve([chunk(gzip.compress(SSE_BODY)) + LAST], head))
    assert (texts, error, fast) == (["a", "b"], None, False)


@pytest.mark.parametrize("mode", MODES)
def test_a_content_length_stream_takes_the_normal_path(mode: str) -> None:
    head = [("Content-Type", "text/event-stream"), ("Content-Length", str(len(SSE_BODY)))]
    texts, error, fast = read_stream(mode, serve([SSE_BODY], head))
    assert (texts, error, fast) == (["a", "b"], None, False)


def one_event_then_wait_for_close(conn: Conn) -> None:
    if len(conn.server.requests) > 1:
        conn.reply(200, OK_JSON)
        return
    conn.head(200, SSE_HEAD)
    conn.send(chunk(EVENT))
    conn.server.results.append(conn.wait_for_client_close(3))


def _closed_by_then(srv: RawServer) -> bool:
    """Whether the server saw the client close the stream's connection (within 4 s)."""
    limit = time.monotonic() + 4
    while not srv.results and time.monotonic() < limit:
        time.sleep(0.02)
    return srv.results == [True]


@pytest.mark.parametrize("mode", MODES)
def test_closing_a_fast_path_stream_early_closes_its_connection(mode: str) -> None:
    with RawServer(one_event_then_wait_for_close) as srv:
        if mode == "sync":
            with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as sdk:
                stream = sdk.generation.create(model="qwen-plus", messages=MSG, stream=True)
                first = next(iter(stream)).delta.text
                fast = reads_below_h11(stream.response.stream)
                stream.close()
                closed = _closed_by_then(srv)
                answer = sdk.generation.create(model="qwen-plus", messages=MSG)
        else:

            async def main() -> tuple[str, bool, bool, Any]:
                async with AsyncModelStudio(
                    api_key=KEY, base_url=srv.base_url, max_retries=0
                ) as sdk:
                    stream = await sdk.generation.create(
                        model="qwen-plus", messages=MSG, stream=True
                    )
                    first = (await stream.__anext__()).delta.text
                    fast = reads_below_h11(stream.response.stream)
                    await stream.aclose()
                    closed = await asyncio.to_thread(_closed_by_then, srv)
                    answer = await sdk.generation.create(model="qwen-plus", messages=MSG)
                    return first, fast, closed, answer

            first, fast, closed, answer = asyncio.run(main())
    assert first == "a" and fast
    assert closed, "the closed stream's connection stayed open"
    assert answer.output.text == "hello"
    assert srv.connections == 2  # the half-read connection was not put back in the pool


@pytest.mark.parametrize("mode", MODES)
def test_a_plain_http_client_given_by_the_user_takes_the_fast_path(mode: str) -> None:
    with RawServer(serve([GOOD])) as srv:
        if mode == "sync":
            with httpx.Client() as http:
                texts, error, fast = _sync_stream(srv.base_url, False, {"http_client": http})
        else:

            async def main() -> Outcome:
                async with httpx.AsyncClient() as http:
                    return await _async_stream(srv.base_url, False, {"http_client": http})

            texts, error, fast = asyncio.run(main())
    assert (texts, error, fast) == (["a", "b"], None, True)


def test_the_fast_path_is_taken_with_the_pinned_httpx_httpcore_and_h11() -> None:
    """Fails when an upgrade of httpx, httpcore or h11 turns the fast path off (its checks
    found a class or an attribute other than they expect): streams still work then, slower.
    Read `_chunked.py` against the new versions, then update its checks."""
    versions = f"httpx {httpx.__version__}, httpcore {httpcore.__version__}, h11 {h11.__version__}"
    with MockServer() as srv, ModelStudio(api_key=KEY, base_url=srv.base_url) as sdk:
        native = sdk.generation.create(model="qwen-plus", messages=MSG, stream=True)
        list(native)
        compat = sdk.chat.completions.create(model="qwen-plus", messages=MSG, stream=True)
        list(compat)

        async def main() -> list[bool]:
            async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url) as client:
                native = await client.generation.create(
                    model="qwen-plus", messages=MSG, stream=True
                )
                [_ async for _ in native]
                compat = await client.chat.completions.create(
                    model="qwen-plus", messages=MSG, stream=True
                )
                [_ async for _ in compat]
                return [
                    reads_below_h11(native.response.stream),
                    reads_below_h11(compat.response.stream),
                ]

        taken = [reads_below_h11(native.response.stream), reads_below_h11(compat.response.stream)]
        taken += asyncio.run(main())
    assert taken == [True] * 4, f"the chunked fast path is off with {versions}: {taken}"


# The framing decoder itself: any body, cut into reads anywhere, gives the same data, in blocks
# that start and end at chunk boundaries except where a read did, and stops at the last chunk.


def _decode(reads: list[bytes]) -> tuple[list[bytes], bytes, int, int]:
    """Feed `reads` to `parse` as `_chunked` does; the blocks, and what h11 gets at the end."""
    blocks: list[bytes] = []
    pending = b""
    remaining = footer = 0
    for data in reads:
        pending += data
        got, pos, remaining, footer, hand_over = parse(pending, remaining, footer)
        assert all(got), "an empty block"
        blocks += got
        pending = pending[pos:]
        if hand_over:
            break
    return blocks, pending, remaining, footer


@pytest.mark.parametrize("seed", range(40))
def test_parse_decodes_any_chunking_cut_into_any_reads(seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.choice([1, 2, 3, 40, 250, 5000]) for _ in range(rng.randint(1, 30))]
    datas = [bytes(rng.randrange(256) for _ in range(size)) for size in sizes]
    body = b"".join(b"%x\r\n%s\r\n" % (len(d), d) for d in datas) + b"0\r\nX-T: 1\r\n\r\nNEXT"
    cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, rng.randint(0, 12))))
    reads = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    blocks, rest, remaining, footer = _decode(reads)
    assert b"".join(blocks) == b"".join(datas)
    # h11 gets the last chunk's line on, with the trailers that came in the same read.
    last = b"0\r\nX-T: 1\r\n\r\nNEXT"
    assert rest.startswith(b"0\r\n") and last.startswith(rest) and (remaining, footer) == (0, 0)
    # Every block boundary is a chunk boundary or a read boundary.
    chunk_ends = {0}
    for size in sizes:
        chunk_ends.add(max(chunk_ends) + size)
    read_ends = set()
    consumed = 0
    for read in reads:
        consumed += len(read)
        read_ends.add(consumed)
    offset = 0
    for block in blocks:
        offset += len(block)
        assert offset in chunk_ends or _data_offset(body, offset, read_ends)


def _data_offset(body: bytes, data_offset: int, read_ends: set[int]) -> bool:
    """Whether the data offset `data_offset` falls on a read boundary of the raw `body`."""
    pos = data = 0
    while True:
        line_end = body.index(b"\r\n", pos)
        size = int(body[pos:line_end], 16)
        start = line_end + 2
        if data <= data_offset <= data + size:
            return start + (data_offset - data) in read_ends
        data += size
        pos = start + size + 2


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        ([b"5\r\nhello\r\n5;x\r\n"], ([b"hello"], b"5;x\r\n", 0, 0)),  # an extension: h11's
        ([b"5\r\nhel", b"lo\r", b"\n0\r\n"], ([b"hel", b"lo"], b"0\r\n", 0, 0)),
        ([b"5\r\nhelloXY"], ([b"hello"], b"XY", 0, 2)),  # the footer is h11's to reject
        ([b"5\r\nhello\rY"], ([b"hello"], b"\rY", 0, 2)),
        ([b"5\r\nhello\r", b"Y"], ([b"hello"], b"Y", 0, 1)),
        ([b"5\r\nhel"], ([b"hel"], b"", 2, 0)),  # a cut: h11 is told where the reader was
        ([b"1" * 22], ([], b"1" * 22, 0, 0)),  # too long for a bare size line
        ([b"g\r\n"], ([], b"g\r\n", 0, 0)),
    ],
)
def test_parse_hands_h11_what_it_does_not_decode(
    reads: list[bytes], expected: tuple[list[bytes], bytes, int, int]
) -> None:
    assert _decode(reads) == expected


def test_a_body_h11_already_reads_or_a_stream_of_another_kind_is_left_alone() -> None:
    from modelstudio._chunked import take_over_async, take_over_sync

    assert not take_over_sync(httpx.ByteStream(b"data"))
    assert not take_over_async(httpx.ByteStream(b"data"))
    assert not take_over_sync(object())
    with (
        RawServer(serve([chunk(EVENT) + chunk(FINAL_EVENT) + LAST])) as srv,
        httpx.Client() as http,
        http.stream("POST", srv.base_url, content=b"{}") as response,
    ):
        body = iter(response.stream)
        first = next(body)  # h11 has read one chunk: its reader is mid-body
        assert not take_over_sync(response.stream)
        assert first + b"".join(body) == EVENT + FINAL_EVENT
