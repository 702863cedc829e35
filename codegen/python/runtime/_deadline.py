"""Per-call clocks: the overall `deadline=` and a stream's switch to its idle timeout.

httpcore reads the read timeout from the request's `timeout` extension once per phase (the
headers, the body), so setting that value before each phase bounds it: a stream, whose wait for
the headers is bounded by the call's `timeout`, waits `stream_idle_timeout` between events once
they arrived. httpcore applies that value to each socket read of the phase, so it cannot bound
the phase as a whole: the deadline does, in the sync client by `current` (the deadline of the
call running in this thread, which `_network.DeadlineStream` cuts every socket operation to),
in the async one by an anyio cancel scope around the send and around each read of the body.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

import httpx

__all__ = [
    "Deadline",
    "DeadlineExceeded",
    "TimedAsyncStream",
    "TimedSyncStream",
    "arm",
    "current",
    "send_within",
    "send_within_async",
]


class DeadlineExceeded(httpx.ReadTimeout):
    """The call's `deadline=` passed (raised where httpx would raise its own timeout)."""

    deadline = True


class Deadline:
    """`seconds` from now, on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def spent(self) -> bool:
        """Whether the deadline has (all but) passed: a read bounded by it just timed out."""
        return self.remaining() <= 0.05

    def expired_error(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"The call's deadline of {self.seconds:g} s passed.")

    def check(self) -> float:
        """The seconds left; raises `DeadlineExceeded` when none are."""
        left = self.remaining()
        if left <= 0:
            raise self.expired_error()
        return left


current: ContextVar[Deadline | None] = ContextVar("modelstudio_deadline", default=None)
"""The deadline of the sync call doing I/O in this thread (or context), while it does."""


_T = TypeVar("_T")


def send_within(deadline: Deadline | None, send: Callable[[], _T]) -> _T:
    """`send()`, each socket operation under it cut to what is left of `deadline` (sync: the
    network backend of `_network.py` reads `current`)."""
    if deadline is None:
        return send()
    deadline.check()
    token = current.set(deadline)
    try:
        return send()
    finally:
        current.reset(token)


async def send_within_async(deadline: Deadline | None, send: Callable[[], Awaitable[_T]]) -> _T:
    """`await send()`, ended when `deadline` passes: this also ends a server trickling its
    headers byte by byte, which per-read timeouts never cut."""
    if deadline is None:
        return await send()
    import anyio  # httpx's own dependency: works under asyncio and trio

    try:
        with anyio.fail_after(deadline.check()):
            return await send()
    except TimeoutError:
        raise deadline.expired_error() from None


def _bounded(value: float | None, limit: float | None) -> float | None:
    if limit is None:
        return value
    return limit if value is None else min(value, limit)


def arm(
    request: httpx.Request,
    timeouts: dict[str, float | None],
    deadline: Deadline | None,
    *,
    read: float | None = None,
) -> None:
    """Set the request's timeouts for what comes next: its own (`read` replacing the read
    timeout when given), each cut to what is left of `deadline`."""
    given = request.extensions.get("timeout")
    if not isinstance(given, dict):
        return
    left = deadline.check() if deadline is not None else None
    for name, value in timeouts.items():
        given[name] = _bounded(read if name == "read" and read is not None else value, left)


class TimedSyncStream(httpx.SyncByteStream):
    """A response body that re-arms the read timeout (idle, or left of the deadline) per read."""

    def __init__(
        self,
        inner: httpx.SyncByteStream,
        request: httpx.Request,
        timeouts: dict[str, float | None],
        deadline: Deadline | None,
        read: float | None,
    ) -> None:
        self._inner = inner
        self._request = request
        self._timeouts = timeouts
        self._deadline = deadline
        self._read = read

    def __iter__(self) -> Iterator[bytes]:
        return self.timed(iter(self._inner))

    def timed(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        """`blocks` (this body, however it is read) under these timeouts: with no deadline the
        read timeout is set once, before the first read; with one, each read is armed anew
        and cut to what is left of it."""
        if self._deadline is None:
            arm(self._request, self._timeouts, None, read=self._read)
            return blocks
        return self._within_deadline(blocks, self._deadline)

    def _within_deadline(self, blocks: Iterator[bytes], deadline: Deadline) -> Iterator[bytes]:
        while True:
            arm(self._request, self._timeouts, deadline, read=self._read)
            token = current.set(deadline)
            try:
                chunk = next(blocks)
            except StopIteration:
                return
            except httpx.TimeoutException:
                if deadline.spent():
                    raise deadline.expired_error() from None
                raise
            finally:
                current.reset(token)
            yield chunk
            del chunk  # not kept while the next read waits

    def close(self) -> None:
        self._inner.close()


class TimedAsyncStream(httpx.AsyncByteStream):
    """The async `TimedSyncStream`."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        request: httpx.Request,
        timeouts: dict[str, float | None],
        deadline: Deadline | None,
        read: float | None,
    ) -> None:
        self._inner = inner
        self._request = request
        self._timeouts = timeouts
        self._deadline = deadline
        self._read = read

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.timed(self._inner.__aiter__())

    def timed(self, blocks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The async `TimedSyncStream.timed`."""
        if self._deadline is None:
            arm(self._request, self._timeouts, None, read=self._read)
            return blocks
        return self._within_deadline(blocks, self._deadline)

    async def _within_deadline(
        self, blocks: AsyncIterator[bytes], deadline: Deadline
    ) -> AsyncIterator[bytes]:
        import anyio  # httpx's own dependency: works under asyncio and trio

        while True:
            arm(self._request, self._timeouts, deadline, read=self._read)
            try:
                with anyio.fail_after(deadline.check()):
                    chunk = await blocks.__anext__()
            except StopAsyncIteration:
                return
            except (TimeoutError, httpx.TimeoutException):
                if deadline.spent():
                    raise deadline.expired_error() from None
                raise
            yield chunk
            del chunk  # not kept while the next read waits

    async def aclose(self) -> None:
        await self._inner.aclose()
