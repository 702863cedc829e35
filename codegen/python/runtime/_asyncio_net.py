"""An asyncio-native httpcore network backend for the `httpx.AsyncClient` the SDK makes itself.

httpcore's default async backend goes through anyio: each socket read and write opens an
`anyio.fail_after` cancel scope, passes task checkpoints, and pauses and resumes the socket's
reading around every receive (two selector updates per read). This backend speaks to asyncio's
transports directly: one buffered `asyncio` protocol per connection keeps what arrived in a receive
buffer, a read that finds data returns it without suspending, and a read that must wait parks on
one future with its timeout as a `loop.call_later` handle, cancelled as soon as the wait ends
(nothing is left scheduled after a read, a timeout or a cancellation). Writes go to the transport
and wait only while it reports its buffer full (`pause_writing`), so a slow peer cannot make it
grow without bound; small writes of one loop tick (a request's headers, then its body) go out
as one send; reading pauses when the buffer holds `READ_HIGH_WATER` bytes the caller has not
asked for. The first read after a request went out asks the socket at once (a plain TCP
transport of asyncio's selector loop): on loopback or a fast peer the answer is often already
there, and the call then ends without parking, a timer or a turn of the loop; later reads wait
for the loop as above, so a fast stream cannot keep the loop from its other tasks.

The streams keep httpcore's contract: `read` returns at most `max_bytes`, `b""` at the end of
the stream, and failures raise httpcore's own `ReadTimeout`, `WriteTimeout`, `ConnectTimeout`,
`ConnectError`, `ReadError` and `WriteError`, which httpx maps as it does for its own backend.

Under another async library (trio) the backend hands every call to httpcore's own backend for it,
chosen per call as httpcore chooses (sniffio). `install(client)` puts the backend under the
client's own transport; connections through a proxy mount keep httpcore's backend.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
import threading
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

_SELECTOR_SOCKET_TRANSPORT: Any = getattr(
    getattr(asyncio, "selector_events", None), "_SelectorSocketTransport", None
)

__all__ = ["AsyncioBackend", "AsyncioStream", "install"]

READ_HIGH_WATER = 256 * 1024
"""Unread bytes at which the stream stops reading from the socket (until they are read)."""

HOLD_LIMIT = 64 * 1024
"""Small writes wait, up to this many bytes, for the end of the loop's tick or the next read, and
go out together: httpcore writes a request's headers and its body separately, and one send
instead of two saves a system call and, over TLS, a record and a packet."""

HAPPY_EYEBALLS_DELAY = 0.25
"""Seconds before trying a host's next address while one connect attempt is pending (anyio's
default, which httpcore's backend uses)."""


_is_socket_readable: Any = None


def _socket_readable(sock: Any) -> bool:
    """Whether a read on `sock` would not block (httpcore's test for a dropped idle connection,
    asked twice per request)."""
    global _is_socket_readable
    if _is_socket_readable is None:
        from httpcore._utils import is_socket_readable

        _is_socket_readable = is_socket_readable
    return bool(_is_socket_readable(sock))


def _direct_reader(transport: asyncio.BaseTransport) -> Any:
    """The read callback the selector loop calls when the socket of `transport` is readable,
    or None: only asyncio's own plain TCP transport is read this way (not TLS, uvloop, the
    proactor loop). Called out of turn it does what the loop's call does: one `recv`, then
    `data_received`, `eof_received` or the transport's fatal-error path (connection_lost)."""
    if type(transport) is not _SELECTOR_SOCKET_TRANSPORT:
        return None
    return getattr(transport, "_read_ready", None)


RECEIVE_SIZE = 256 * 1024
"""Bytes one receive may take from the socket (asyncio's own read size)."""

_receive_area = threading.local()


def _receive_buffer() -> memoryview:
    """This thread's receive area: the event loop (one per thread) receives into it and the
    protocol copies out what arrived, at once, so the connections of a thread share one."""
    view: memoryview | None = getattr(_receive_area, "view", None)
    if view is None:
        view = _receive_area.view = memoryview(bytearray(RECEIVE_SIZE))
    return view


class AsyncioStream(asyncio.BufferedProtocol, httpcore.AsyncNetworkStream):
    """One connection: the asyncio protocol of its transport and httpcore's stream over it.

    A buffered protocol: with a plain one, asyncio receives each read into a new object of
    `RECEIVE_SIZE` bytes and shrinks it to what arrived, which glibc serves from a mapping of
    its own (above its mmap threshold), so each read still waiting to be taken holds at least
    a page (4 KiB for a 750-byte read), and when hundreds of connections receive in one turn
    of the loop, hundreds of pages are held at once. Here the loop receives into the thread's
    shared area (`_receive_buffer`, allocated once per thread) and the protocol keeps an
    exact-size copy."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        # A list, not a deque: an empty deque is ~0.7 KiB (a block of 64 slots), one per open
        # connection; a read takes what it hands over with one `del`.
        self._chunks: list[bytes] = []
        self._offset = 0  # bytes of the first chunk already read
        self._size = 0  # unread bytes in the buffer
        # A read waiting for data and a write waiting for buffer space: each future's result
        # is True when the connection woke it, False when its timeout did.
        self._waiter: asyncio.Future[bool] | None = None
        self._drain: asyncio.Future[bool] | None = None
        self._eof = False
        self._lost = False
        self._error: BaseException | None = None
        self._closed = False
        self._tls = False
        self._reading_paused = False
        self._writing_paused = False
        self._held: list[bytes] = []  # small writes not yet handed to the transport
        self._held_size = 0
        self._flush_soon: asyncio.Handle | None = None
        # The transport's read callback (`_direct_reader`), and whether bytes went out since
        # the last read: the next read then asks the socket before it waits.
        self._read_now: Any = None
        self._answer_due = False

    # asyncio.Protocol: called by the event loop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called again with the TLS transport once `start_tls` has done its handshake.
        self._transport = transport  # type: ignore[assignment]
        self._read_now = _direct_reader(transport)
        self._reading_paused = False
        self._writing_paused = False

    def get_buffer(self, sizehint: int) -> memoryview:
        return _receive_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self._received(bytes(_receive_buffer()[:nbytes]))

    def _received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)
        if self._size >= READ_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            assert self._transport is not None
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        # Keep a plain connection open for writing (as anyio does); asyncio closes a TLS one.
        return None if self._tls else True

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._error = exc
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(True)

    def _wake(self) -> None:
        for waiter in (self._waiter, self._drain):
            if waiter is not None and not waiter.done():
                waiter.set_result(True)

    # httpcore.AsyncNetworkStream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            self._flush()
        if self._answer_due:
            self._answer_due = False
            if self._read_now is not None and not (
                self._size or self._reading_paused or self._eof or self._lost or self._closed
            ):
                self._read_now()  # may add to the buffer, see the end or the failure
        if not self._size:
            if self._closed:
                raise httpcore.ReadError("The connection was closed.")
            if self._lost or self._eof:
                if self._error is not None:
                    raise httpcore.ReadError(str(self._error) or type(self._error).__name__)
                return b""
            await self._wait_readable(timeout)
            if not self._size:
                return await self.read(max_bytes, timeout)  # the end, an error, or a close
        return self._take(max_bytes)

    async def _wait_readable(self, timeout: float | None) -> None:
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._waiter = waiter
        timer = None if timeout is None else self._loop.call_later(timeout, _expire, waiter)
        try:
            woken = await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if not woken and not self._size and not (self._lost or self._eof or self._closed):
            raise httpcore.ReadTimeout("timed out")

    def _take(self, max_bytes: int) -> bytes:
        chunks = self._chunks
        first = chunks[0]
        offset = self._offset
        left = len(first) - offset
        if left > max_bytes:
            data = first[offset : offset + max_bytes]
            self._offset = offset + max_bytes
        elif len(chunks) == 1 or left == max_bytes:
            del chunks[0]
            self._offset = 0
            data = first[offset:] if offset else first
        else:  # several chunks arrived: hand over as many as fit, as one socket read would
            parts = [first[offset:] if offset else first]
            room = max_bytes - left
            self._offset = 0
            taken = 1
            count = len(chunks)
            while taken < count and room:
                chunk = chunks[taken]
                if len(chunk) <= room:
                    parts.append(chunk)
                    room -= len(chunk)
                    taken += 1
                else:  # stays first, partly read
                    parts.append(chunk[:room])
                    self._offset = room
                    room = 0
            del chunks[:taken]
            data = b"".join(parts)
        self._size -= len(data)
        if self._reading_paused and self._size < READ_HIGH_WATER // 2 and not self._lost:
            self._reading_paused = False
            assert self._transport is not None
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if not self._writable():
            return
        if not self._writing_paused and self._held_size + len(buffer) <= HOLD_LIMIT:
            if not self._held:
                # A timer due at once, not `call_soon`: it runs in the next turn all the same,
                # and once a read has sent the writes and cancelled it, the loop drops it from
                # the head of its timers before it computes how long to wait. A cancelled
                # `call_soon` handle stays in the ready queue and costs one more turn (a
                # `select` that cannot wait) before the loop waits for the answer.
                self._flush_soon = self._loop.call_at(0.0, self._flush)
            self._held.append(buffer)
            self._held_size += len(buffer)
            return
        if self._held:
            self._flush()
        assert self._transport is not None
        self._transport.write(buffer)
        self._answer_due = True
        if not self._writing_paused:
            return
        drain: asyncio.Future[bool] = self._loop.create_future()
        self._drain = drain
        timer = None if timeout is None else self._loop.call_later(timeout, _expire, drain)
        try:
            woken = await drain
        finally:
            self._drain = None
            if timer is not None:
                timer.cancel()
        if not woken and self._writing_paused and not (self._lost or self._closed):
            raise httpcore.WriteTimeout("timed out")
        self._writable()

    def _flush(self) -> None:
        """Hand the held writes to the transport (dropped if the connection is gone)."""
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            self._flush_soon = None
        held = self._held
        data = held[0] if len(held) == 1 else b"".join(held)
        held.clear()
        self._held_size = 0
        if data and not (self._closed or self._lost):
            assert self._transport is not None
            self._transport.write(data)
            self._answer_due = True

    def _writable(self) -> bool:
        """Whether a write can go out; raises `WriteError` after a close or a failure. A
        connection the peer closed cleanly takes the write and drops it (as httpcore's anyio
        backend does): the read that follows finds the end and httpcore reports the disconnect."""
        if self._closed:
            raise httpcore.WriteError("The connection was closed.")
        if self._lost:
            error = self._error
            if error is not None:
                raise httpcore.WriteError(str(error) or type(error).__name__)
            return False
        return True

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake()
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            self._flush_soon = None
        self._held.clear()
        transport = self._transport
        if transport is not None and not self._lost:
            # Nothing written is still wanted; `abort` also skips TLS's close_notify exchange,
            # which `close` would wait on (httpcore's anyio backend sends none either).
            transport.abort()
            await asyncio.sleep(0)  # the loop closes the socket (connection_lost) in this tick

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._held:
            self._flush()
        transport = self._transport
        assert transport is not None
        handshake = self._loop.start_tls(
            transport,
            self,
            ssl_context,
            server_side=False,
            server_hostname=server_hostname,
            # asyncio's own limit (60 s unless given) stays behind `timeout`, which ends it first
            ssl_handshake_timeout=None if timeout is None else timeout + 1.0,
        )
        try:
            tls = await (handshake if timeout is None else asyncio.wait_for(handshake, timeout))
        except asyncio.TimeoutError as exc:  # before OSError: in 3.11+ it is TimeoutError
            await self.aclose()
            raise httpcore.ConnectTimeout(str(exc) or "timed out") from exc
        except (ssl.SSLError, OSError, EOFError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            await self.aclose()
            raise
        self._transport = tls
        self._tls = True
        self._reading_paused = self._writing_paused = False
        return self

    def get_extra_info(self, info: str) -> Any:
        transport = self._transport
        if transport is None:
            return None
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            if self._size or self._eof or self._lost or self._closed:
                return True
            return _socket_readable(transport.get_extra_info("socket"))
        return None


def _expire(waiter: asyncio.Future[bool]) -> None:
    """The timeout of a wait."""
    if not waiter.done():
        waiter.set_result(False)


def _is_ip_address(host: str) -> bool:
    """Whether `host` is an IPv4 or IPv6 address (one address to connect to), not a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _on_asyncio() -> bool:
    try:
        import sniffio
    except ImportError:  # httpcore assumes asyncio then too
        return True
    try:
        return sniffio.current_async_library() == "asyncio"
    except sniffio.AsyncLibraryNotFoundError:
        return True


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s on the running asyncio loop; under any other async library, the
    streams of httpcore's own backend for it."""

    def __init__(self) -> None:
        self._other: httpcore.AsyncNetworkBackend | None = None

    def _fallback(self) -> httpcore.AsyncNetworkBackend:
        if self._other is None:
            from httpcore._backends.auto import AutoBackend

            self._other = AutoBackend()
        return self._other

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not _on_asyncio():
            return await self._fallback().connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        loop = asyncio.get_running_loop()
        stream = AsyncioStream(loop)
        connecting = loop.create_connection(
            lambda: stream,
            host,
            port,
            local_addr=None if local_address is None else (local_address, 0),
            # One address needs no race; asyncio's (3.11) leaves each connect's tasks, frames
            # and a CancelledError in reference cycles (~50 objects until a full collection).
            happy_eyeballs_delay=None if _is_ip_address(host) else HAPPY_EYEBALLS_DELAY,
        )
        await _connected(connecting, timeout)
        _set_options(stream, socket_options)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not _on_asyncio():
            return await self._fallback().connect_unix_socket(path, timeout, socket_options)
        loop = asyncio.get_running_loop()
        stream = AsyncioStream(loop)
        await _connected(loop.create_unix_connection(lambda: stream, path), timeout)
        _set_options(stream, socket_options)
        return stream

    async def sleep(self, seconds: float) -> None:
        if not _on_asyncio():
            await self._fallback().sleep(seconds)
            return
        await asyncio.sleep(seconds)


async def _connected(connecting: Any, timeout: float | None) -> None:
    try:
        await (connecting if timeout is None else asyncio.wait_for(connecting, timeout))
    except asyncio.TimeoutError as exc:  # before OSError: in 3.11+ it is TimeoutError
        raise httpcore.ConnectTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise httpcore.ConnectError(_described(exc)) from exc


def _described(exc: OSError) -> str:
    """asyncio's text of a failed connect with the reason its errno names: `[Errno 111] Connect
    call failed ('127.0.0.1', 80) (Connection refused)`."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc.errno, int) and exc.errno > 0:
        reason = os.strerror(exc.errno)
        if reason not in text:
            text = f"{text} ({reason})"
    return text


def _set_options(stream: AsyncioStream, socket_options: Iterable[Any] | None) -> None:
    if not socket_options:
        return
    sock = stream.get_extra_info("socket")
    for option in socket_options:
        sock.setsockopt(*option)


def _uncontended_fast(lock: Any) -> None:
    """Let an httpcore `AsyncLock` that nothing holds or waits for be taken without a turn of
    the event loop.

    httpcore's locks are `anyio.Lock()`s, which yield to the loop on every acquire even when
    free; an HTTP/1.1 request takes three (its connection's request lock, and its state lock
    at the start and at the end of the response): three loop iterations and `epoll_wait` calls
    per call for nothing, as only one request uses a connection at a time. asyncio's own
    `Lock` takes a free lock without that yield (as anyio's `fast_acquire=True` does), and
    makes its queue of waiters only when a task has to wait: anyio's makes a deque (~0.7 KiB)
    per lock, two per open connection. httpcore's `AsyncLock` only calls ``acquire()`` and
    ``release()`` on it. Left as it is where httpcore or anyio differ from what this expects.
    """
    if not _on_asyncio() or getattr(lock, "_backend", None) not in ("", "asyncio"):
        return
    current = getattr(lock, "_anyio_lock", None)
    if current is not None and (current.locked() or current.statistics().tasks_waiting):
        return
    lock._anyio_lock = asyncio.Lock()
    lock._backend = "asyncio"


def _with_fast_locks(create: Any) -> Any:
    """The pool's `create_connection`, its connections' locks made fast (`_uncontended_fast`):
    the request lock at once, the HTTP/1.1 state lock once the first request made it."""

    def create_connection(origin: httpcore.Origin) -> Any:
        connection = create(origin)
        if type(connection) is not httpcore.AsyncHTTPConnection:
            return connection  # through a proxy: left as httpcore makes it
        _uncontended_fast(getattr(connection, "_request_lock", None))
        first = connection.handle_async_request

        async def first_request(request: httpcore.Request) -> httpcore.Response:
            try:
                return await first(request)
            finally:
                # The next ones go straight, and the connection no longer holds this closure,
                # which holds it: a cycle (and the connection, until a full collection) when
                # the first request failed.
                vars(connection).pop("handle_async_request", None)
                http11 = getattr(connection, "_connection", None)
                if type(http11) is httpcore.AsyncHTTP11Connection:
                    _uncontended_fast(getattr(http11, "_state_lock", None))

        connection.handle_async_request = first_request  # type: ignore[method-assign]
        return connection

    return create_connection


def install(client: httpx.AsyncClient) -> bool:
    """Put an `AsyncioBackend` under the connection pool of `client`'s own transport (not its
    proxy mounts), for the connections opened from then on, and let their locks be taken
    without a loop turn when free; whether it could. A transport that is not httpx's own (no
    httpcore pool) cannot take it."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not isinstance(
        backend, httpcore.AsyncNetworkBackend
    ):
        return False
    if not isinstance(backend, AsyncioBackend):
        pool._network_backend = AsyncioBackend()
        pool.create_connection = _with_fast_locks(pool.create_connection)  # type: ignore[method-assign]
    return True
