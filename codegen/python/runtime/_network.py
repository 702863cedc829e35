"""A sync network backend whose every socket operation ends by the running call's deadline.

httpcore's sync HTTP/1.1 code reads a request's read timeout once per phase (the response
headers, then the body) and hands that same value to each socket read, so a server trickling
its headers one byte at a time, each byte inside the timeout, never trips it. The streams this
backend opens ask, at each connect, TLS handshake, read and write, what is left of the deadline
of the call running in this thread (`_deadline.current`, set by the sync client around a send
and around each read of a body) and cut the timeout to that; with nothing left they raise the
timeout httpcore itself would raise. With no deadline running they pass everything through.

`cover(client)` puts it under each connection pool of an `httpx.Client` (the one the SDK makes,
or one given as `http_client=`), for the connections opened from then on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from ._deadline import current

__all__ = ["DeadlineBackend", "DeadlineStream", "cover"]

HOLD_LIMIT = 16 * 1024
"""Writes are held while together they fit in this many bytes (a request's headers and a
typical JSON body), then sent as one."""

WRITE_PIECE = 64 * 1024
"""A write under a deadline goes in pieces of this size, each cut to what is left: a peer
that reads slowly cannot stretch one long write past the deadline."""


def _cut(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    deadline = current.get()
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        raise error(str(deadline.expired_error()))
    return left if timeout is None or timeout > left else timeout


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes end by the running call's deadline.

    Small writes are held and go out as one send before the next read (or a large write):
    httpcore writes a request's headers and its body separately, and a second send costs a
    system call and, on a real network, a second packet. A write error while sending what was
    held is dropped, as httpcore drops one raised while a request is written: the read that
    follows finds the broken connection and reports it."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._held: list[bytes] = []
        self._held_size = 0
        self._held_timeout: float | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            with contextlib.suppress(httpcore.WriteError):
                self._flush()
        return self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._held_size + len(buffer) <= HOLD_LIMIT:
            self._held.append(buffer)
            self._held_size += len(buffer)
            self._held_timeout = timeout
            return
        if self._held:
            self._flush()
        self._send(buffer, timeout)

    def _flush(self) -> None:
        held = self._held
        data = held[0] if len(held) == 1 else b"".join(held)
        held.clear()
        self._held_size = 0
        self._send(data, self._held_timeout)

    def _send(self, buffer: bytes, timeout: float | None) -> None:
        if current.get() is None or len(buffer) <= WRITE_PIECE:
            self._inner.write(buffer, _cut(timeout, httpcore.WriteTimeout))
            return
        for start in range(0, len(buffer), WRITE_PIECE):
            piece = buffer[start : start + WRITE_PIECE]
            self._inner.write(piece, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._held.clear()
        self._held_size = 0
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        if self._held:
            self._flush()
        cut = _cut(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, cut))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """Opens `DeadlineStream`s through `inner` (httpcore's own sync backend, or a user's)."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        cut = _cut(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(
            self._inner.connect_tcp(host, port, cut, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        cut = _cut(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.connect_unix_socket(path, cut, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def cover(client: httpx.Client) -> bool:
    """Put a `DeadlineBackend` under every connection pool of `client` (its transport and its
    mounts, proxies included); whether every one of them could be covered. A transport that is
    not httpx's own (no httpcore pool: `httpx.MockTransport`, a third-party transport) cannot."""
    transports: list[object] = [getattr(client, "_transport", None)]
    transports += list(getattr(client, "_mounts", {}).values())
    covered = True
    for transport in transports:
        if transport is None:  # a mount that switches proxying off for some URLs
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(backend, httpcore.NetworkBackend):
            covered = False
        elif not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
    return covered
