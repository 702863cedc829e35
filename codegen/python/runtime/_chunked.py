"""A chunked response body decoded below h11, for the SDK's own streams (sync and async).

The service sends one HTTP chunk (chunked transfer-encoding) per SSE event. Through httpcore
each chunk is one h11 ``Data`` event (a regex match and a trip through h11's state machine),
wrapped by httpcore's ``_receive_event`` loop and passed up five generators, one event at a
time. :func:`take_over_sync` / :func:`take_over_async` replace the innermost of those
generators (httpcore's ``HTTP11ConnectionByteStream``, inside its ``PoolByteStream``) by a
reader that takes what h11 already buffered plus further reads of the connection's own network
stream (in sync, the deadline-cutting stream of `_network.py`; in async, any
``httpcore.AsyncNetworkStream``: only its ``read(max_bytes, timeout)`` is used) and cuts the
chunk framing out with one regex match and a slice per chunk. It yields one block per read
(split where a chunk began in an earlier read or goes on in the next one, so each block starts
and ends at a chunk boundary when it can: with one event per chunk the SSE decoder then sees
whole events). The SDK's stream takes the blocks from the reader itself, which does what the
wrappers above it did per read (httpx's mapping of httpcore's exceptions, the pool stream's
close on a failure; the per-read deadline of `_deadline.py` stays around it): one generator
instead of five, none of which keeps the last block while the next read waits. The wrappers
stay in place for everything else: closing the response goes through them all (httpx's
``elapsed``, the pool's bookkeeping).

Whatever the reader does not expect it hands back to h11 exactly where it stands: the last
chunk (``0``, then trailers or not), a chunk-size line with an extension or anything else
that is not bare hex digits, a chunk not followed by CRLF, and the end of the connection.
The reader then writes its position into h11's ``ChunkedReader`` (bytes left in the chunk,
footer bytes still due), gives h11 the unread bytes (``receive_data``), and the rest of the
body is read by httpcore's own ``_receive_response_body``. So h11 reaches ``DONE`` as always
(the connection goes back to the pool) and a broken body raises exactly what it raised before
(``RemoteProtocolError``: "illegal chunk header", "malformed chunk footer", "peer closed
connection without sending complete message body").

This reaches into private attributes of httpx, httpcore and h11. Each response is checked
once, before the reader starts: the exact classes of every wrapper, a fresh ``ChunkedReader``
with the attributes and values of the h11 it was written against, a ``ReceiveBuffer`` not
closed, a connection mid-response. Anything else (a content-length or close-delimited body,
a custom transport, an ``http_client=`` whose transport is not httpx's own, another httpcore
or h11) keeps the normal path.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, NamedTuple

import h11
import httpcore
from h11._readers import ChunkedReader
from h11._receivebuffer import ReceiveBuffer
from httpcore._async.connection_pool import PoolByteStream as AsyncPoolByteStream
from httpcore._async.http11 import AsyncHTTP11Connection
from httpcore._async.http11 import HTTP11ConnectionByteStream as AsyncConnectionByteStream
from httpcore._async.http11 import HTTPConnectionState as AsyncConnectionState
from httpcore._sync.connection_pool import PoolByteStream
from httpcore._sync.http11 import HTTP11Connection, HTTP11ConnectionByteStream, HTTPConnectionState
from httpcore._synchronization import AsyncShieldCancellation, ShieldCancellation
from httpcore._trace import Trace
from httpx._client import BoundAsyncStream, BoundSyncStream
from httpx._transports.default import AsyncResponseStream, ResponseStream, map_httpcore_exceptions

from ._deadline import TimedAsyncStream, TimedSyncStream

__all__ = [
    "AsyncChunkedBody",
    "SyncChunkedBody",
    "parse",
    "reads_below_h11",
    "take_over_async",
    "take_over_sync",
]

# httpcore's own logger: the body's trace events are the ones httpcore would log.
_LOGGER = logging.getLogger("httpcore.http11")
_CRLF = b"\r\n"
# A bare chunk-size line; h11's own grammar also allows an extension and trailing whitespace,
# which go to h11. 20 hex digits is h11's own limit.
_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,20})\r\n").match
_LONGEST_SIZE_LINE = 22


def parse(buf: bytes, remaining: int, footer: int) -> tuple[list[bytes], int, int, int, bool]:
    """Decode the chunk framing at the start of `buf`.

    `remaining` is the number of data bytes still due in the chunk the previous read ended in,
    `footer` the number of its CRLF bytes still due (2, 1 or 0). Returns ``(blocks, pos,
    remaining, footer, hand_over)``: the data, as non-empty blocks that each end where a chunk
    ends or where `buf` ends; how far `buf` was consumed; the state after it; and whether h11
    must take over at `pos` (the last chunk, or framing this reader does not decode). Without
    a hand-over, what is left after `pos` is the start of a chunk-size line (under 22 bytes).
    """
    blocks: list[bytes] = []
    n = len(buf)
    pos = 0
    if remaining:
        if remaining > n:
            return [buf], n, remaining - n, 0, False
        blocks.append(buf[:remaining])
        pos = remaining
        remaining = 0
        footer = 2
    if footer:
        due = _CRLF[2 - footer :]
        got = buf[pos : pos + footer]
        if not due.startswith(got):
            return blocks, pos, 0, footer, True
        pos += len(got)
        footer -= len(got)
        if footer:
            return blocks, pos, 0, footer, False
    whole: list[bytes] = []
    match = _SIZE_LINE
    hand_over = False
    while True:
        m = match(buf, pos)
        if m is None:
            hand_over = n - pos >= _LONGEST_SIZE_LINE or buf.find(_CRLF, pos) >= 0
            break
        size = int(m[1], 16)
        if not size:
            hand_over = True  # the last chunk: h11 reads the trailers and ends the message
            break
        start = m.end()
        end = start + size
        if buf.startswith(_CRLF, end):
            whole.append(buf[start:end])
            pos = end + 2
            continue
        if end > n:  # the chunk goes on in the next read
            if whole:
                blocks.append(b"".join(whole) if len(whole) > 1 else whole[0])
                whole = []
            if start < n:
                blocks.append(buf[start:])
            return blocks, n, end - n, 0, False
        # The data is all here, its CRLF is not (yet): 0 or 1 byte of it came, or a wrong one.
        whole.append(buf[start:end])
        pos = end
        got = buf[end:]
        if len(got) >= 2 or not _CRLF.startswith(got):
            footer = 2
            hand_over = True
        else:
            pos = n
            footer = 2 - len(got)
        break
    if whole:
        blocks.append(b"".join(whole) if len(whole) > 1 else whole[0])
    return blocks, pos, 0, footer, hand_over


def _reader_of(connection: Any, active: object) -> ChunkedReader | None:
    """`connection`'s fresh h11 `ChunkedReader` when its body can be read here, else None
    (`active`: the connection state of a response being read)."""
    if connection._state is not active:
        return None
    state = connection._h11_state
    if type(state) is not h11.Connection or state.their_state is not h11.SEND_BODY:
        return None
    reader = state._reader
    if (
        type(reader) is not ChunkedReader
        or type(state._receive_buffer) is not ReceiveBuffer
        or state._receive_buffer_closed is not False
        or type(connection.READ_NUM_BYTES) is not int
    ):
        return None
    # A fresh reader, in the shape of the h11 this was written against (0.16: the footer is
    # bytes to match; before, a count of bytes to skip).
    if (
        reader.__dict__
        != {"_bytes_in_chunk": 0, "_bytes_to_discard": b"", "_reading_trailer": False}
        or type(reader.__dict__["_bytes_to_discard"]) is not bytes
    ):
        return None
    return reader


def _buffered(state: h11.Connection) -> bytes:
    """Take the body bytes h11 already read (with the headers) out of its buffer."""
    buffer = state._receive_buffer
    if not len(buffer):
        return b""
    return bytes(buffer._extract(len(buffer)))


def _hand_back(
    state: h11.Connection,
    reader: ChunkedReader,
    rest: bytes,
    remaining: int,
    footer: int,
    ended: bool,
) -> None:
    """Put h11 where the fast reader stopped: its reader mid-chunk as this one was, its buffer
    holding the unread bytes, and told of the end of the connection when the reader met it
    (as httpcore tells h11)."""
    reader._bytes_in_chunk = remaining
    reader._bytes_to_discard = _CRLF[2 - footer :] if footer else b""
    if rest:
        state.receive_data(rest)
    if ended:
        state.receive_data(b"")


_NOTHING = contextlib.nullcontext()


def _traced(request: httpcore.Request) -> Trace | contextlib.nullcontext[None]:
    """httpcore's trace of the body read (its events and debug log) when anything would see
    it: a `trace` extension, or httpcore's logger at the debug level (as `Trace` decides)."""
    if request.extensions.get("trace") is None and not _LOGGER.isEnabledFor(logging.DEBUG):
        return _NOTHING
    return Trace("receive_response_body", _LOGGER, request, {"request": request})


class SyncChunkedBody:
    """Stands in for httpcore's `HTTP11ConnectionByteStream` of one response (same trace
    events, same close on failure); its close is the original's. One lives per open stream:
    slots, and the body read by one generator (not one inside another)."""

    __slots__ = ("_connection", "_original", "_reader", "_request")

    def __init__(
        self,
        original: HTTP11ConnectionByteStream,
        connection: HTTP11Connection,
        reader: ChunkedReader,
    ) -> None:
        self._original = original
        self._connection = connection
        self._reader = reader
        self._request = original._request

    def __iter__(self) -> Iterator[bytes]:
        return self._blocks(None)

    def _blocks(self, pool: PoolByteStream | None) -> Iterator[bytes]:
        """The body, block by block. With `pool` it is read straight from the SDK's stream (see
        `take_over_sync`), and also does what the wrappers in between do: raises httpcore's
        errors as httpx's (httpx's `ResponseStream`), closes the pool stream on a failure
        (httpcore's `PoolByteStream`)."""
        request = self._request
        try:
            with _traced(request):
                connection = self._connection
                state = connection._h11_state
                read = connection._network_stream.read
                size = connection.READ_NUM_BYTES
                timeout = request.extensions.get("timeout", {}).get("read", None)
                pending = _buffered(state)
                remaining = footer = 0
                ended = False
                while True:
                    if pending:
                        blocks, pos, remaining, footer, hand_over = parse(
                            pending, remaining, footer
                        )
                        # The unread rest only: the read itself is not kept while the
                        # blocks cut out of it wait to be taken.
                        pending = pending[pos:]
                        yield from blocks
                        del blocks
                        if hand_over:
                            break
                    data = read(size, timeout)
                    if not data:
                        ended = True
                        break
                    pending = pending + data if pending else data
                    del data
                _hand_back(state, self._reader, pending, remaining, footer, ended)
                yield from connection._receive_response_body(request=request)
        except BaseException as exc:
            with ShieldCancellation():
                self.close()
            if pool is None:
                raise exc
            pool.close()
            if not isinstance(exc, Exception):
                raise exc from None
            with map_httpcore_exceptions():  # entered only now: not kept for the whole body
                raise exc from None

    def close(self) -> None:
        self._original.close()


class AsyncChunkedBody:
    """The async `SyncChunkedBody`, over any `httpcore.AsyncNetworkStream`."""

    __slots__ = ("_connection", "_original", "_reader", "_request")

    def __init__(
        self,
        original: AsyncConnectionByteStream,
        connection: AsyncHTTP11Connection,
        reader: ChunkedReader,
    ) -> None:
        self._original = original
        self._connection = connection
        self._reader = reader
        self._request = original._request

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._blocks(None)

    async def _blocks(self, pool: AsyncPoolByteStream | None) -> AsyncIterator[bytes]:
        """The async `SyncChunkedBody._blocks` (see `take_over_async`)."""
        request = self._request
        try:
            async with _traced(request):
                connection = self._connection
                state = connection._h11_state
                read = connection._network_stream.read
                size = connection.READ_NUM_BYTES
                timeout = request.extensions.get("timeout", {}).get("read", None)
                pending = _buffered(state)
                remaining = footer = 0
                ended = False
                while True:
                    if pending:
                        blocks, pos, remaining, footer, hand_over = parse(
                            pending, remaining, footer
                        )
                        pending = pending[pos:]  # as in the sync reader
                        for block in blocks:
                            yield block
                        block = b""  # neither the last block nor the list kept while waiting
                        del blocks
                        if hand_over:
                            break
                    data = await read(size, timeout)
                    if not data:
                        ended = True
                        break
                    pending = pending + data if pending else data
                    del data
                _hand_back(state, self._reader, pending, remaining, footer, ended)
                async for block in connection._receive_response_body(request=request):
                    yield block
        except BaseException as exc:
            with AsyncShieldCancellation():
                await self.aclose()
            if pool is None:
                raise exc
            await pool.aclose()
            if not isinstance(exc, Exception):
                raise exc from None
            with map_httpcore_exceptions():  # as in the sync reader
                raise exc from None

    async def aclose(self) -> None:
        await self._original.aclose()


class _Layers(NamedTuple):
    """The classes of one side (sync or async) from ``response.stream`` down to the socket."""

    timed: type[Any]  # the SDK's per-read deadline (`_deadline.py`), when there is one
    bound: type[Any]  # httpx's `elapsed` keeper
    mapped: type[Any]  # httpx's httpcore-exception mapper
    pool: type[Any]  # httpcore's connection-pool stream
    body: type[Any]  # httpcore's HTTP/1.1 body stream, which the fast reader replaces
    connection: type[Any]
    network: type[Any]  # what the connection reads from
    active: object  # the connection state of a response being read
    reader: type[Any]  # the fast reader


_SYNC = _Layers(
    TimedSyncStream,
    BoundSyncStream,
    ResponseStream,
    PoolByteStream,
    HTTP11ConnectionByteStream,
    HTTP11Connection,
    httpcore.NetworkStream,
    HTTPConnectionState.ACTIVE,
    SyncChunkedBody,
)
_ASYNC = _Layers(
    TimedAsyncStream,
    BoundAsyncStream,
    AsyncResponseStream,
    AsyncPoolByteStream,
    AsyncConnectionByteStream,
    AsyncHTTP11Connection,
    httpcore.AsyncNetworkStream,
    AsyncConnectionState.ACTIVE,
    AsyncChunkedBody,
)


def take_over_sync(stream: object) -> Iterator[bytes] | None:
    """Read the body of `stream` (a sync response's ``response.stream``, nothing read yet)
    with `SyncChunkedBody` when it is httpx's own stream over httpcore's HTTP/1.1 connection
    with a chunked body: its blocks, read straight from the reader (one generator, not five,
    none of which keeps the last block while the next read waits), else None. Closing `stream`
    still goes through every wrapper (httpx's `elapsed`, the pool's bookkeeping)."""
    found = _take_over(stream, _SYNC)
    return None if found is None else found[0]._blocks(found[1])


def take_over_async(stream: object) -> AsyncIterator[bytes] | None:
    """The async `take_over_sync` (`AsyncChunkedBody`)."""
    found = _take_over(stream, _ASYNC)
    return None if found is None else found[0]._blocks(found[1])


def _take_over(stream: Any, layers: _Layers) -> tuple[Any, Any] | None:
    """The fast reader put in place under `stream`, and the pool stream above it; or None."""
    try:
        if type(stream) is layers.timed:
            stream = stream._inner
        if type(stream) is not layers.bound:
            return None
        mapped = stream._stream
        if type(mapped) is not layers.mapped:
            return None
        pool = mapped._httpcore_stream
        if type(pool) is not layers.pool or pool._closed is not False:
            return None
        original = pool._stream
        if type(original) is not layers.body or original._closed is not False:
            return None
        connection = original._connection
        if type(connection) is not layers.connection or not isinstance(
            connection._network_stream, layers.network
        ):
            return None
        reader = _reader_of(connection, layers.active)
        if reader is None:
            return None
        body = pool._stream = layers.reader(original, connection, reader)
        return body, pool
    except AttributeError:  # another httpx / httpcore / h11: the normal path
        return None


def reads_below_h11(stream: object) -> bool:
    """Whether this module reads the body of `stream` (a ``response.stream``): what the tests
    check, so that an httpx, httpcore or h11 upgrade that turns the fast path off is noticed."""
    for name in ("_inner", "_stream", "_httpcore_stream", "_stream"):
        if name == "_inner" and type(stream) not in (TimedSyncStream, TimedAsyncStream):
            continue
        stream = getattr(stream, name, None)
    return type(stream) in (SyncChunkedBody, AsyncChunkedBody)
