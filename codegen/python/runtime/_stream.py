"""Stream objects over a DashScope ``text/event-stream`` response (sync and async).

A stream reads the response body as it arrives, decodes it with :class:`SSEDecoder`, parses each
event's data as JSON, merges it into an :class:`Accumulator` and yields
``make_chunk(data, delta)`` (``make_lazy_chunk`` for the common event, whose typed fields are
decoded on first read). Errors, all raised from the iteration:

* an ``event:error`` (DashScope sends it inside an HTTP 200) or a ``data`` object with a
  non-empty ``code``: the :class:`APIStatusError` subclass for the status in the event's
  ``:HTTP_STATUS/NNN`` comment (else the HTTP status), with the event's code, message and
  request id (so ``:HTTP_STATUS/429`` gives a :class:`RateLimitError`);
* an OpenAI-compatible ``data: {"error": {...}}`` event: the same, from the error object;
* an event whose data is not a JSON object (not JSON, nested too deeply, an array): the
  :class:`APIResponseValidationError` of every unreadable answer (``[DONE]`` is skipped, and
  tells a :class:`ChatAccumulator` that the compatible stream ended as it should);
* the read timeout (the transport sets it to the stream idle timeout): :class:`APITimeoutError`;
* a broken connection, or a stream that ends before the final event (a final
  ``finish_reason``): :class:`IncompleteStreamError` (an :class:`APIConnectionError`) with the
  number of events received.

The response is closed when the stream ends or fails, when a ``with`` block is left, on
``close()`` (after a ``break``), and as soon as the last reference to the stream is dropped
(no reference cycle makes it wait for the cyclic garbage collector), so the connection goes
back to the pool or is closed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx
import httpx._client

from ._accumulate import Accumulator, Delta
from ._accumulate_chat import ChatAccumulator
from ._deadline import TimedAsyncStream, TimedSyncStream
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    IncompleteStreamError,
    make_status_error,
    redact_error,
    request_key,
)
from ._sse import ServerSentEvent, SSEDecoder

__all__ = ["AsyncStream", "Stream"]

ChunkT = TypeVar("ChunkT")
ResponseT = TypeVar("ResponseT")
_E = TypeVar("_E", bound=Exception)
# Closing tasks of async streams dropped before they were iterated (see `_AsyncCore.__del__`).
_CLOSING: set[Any] = set()

_TIMED = (TimedSyncStream, TimedAsyncStream)
# httpx's streams that hold their response (looked up by name: another httpx may not have them).
_BOUND = tuple(
    cls
    for cls in (
        getattr(httpx._client, "BoundSyncStream", None),
        getattr(httpx._client, "BoundAsyncStream", None),
    )
    if isinstance(cls, type)
)

_loads = json.loads
# The C scanner json.loads ends in, without its two whitespace regex matches and three Python
# calls (~1 µs of ~3 per event). Only a value that fills the whole text is taken from it;
# anything else (whitespace around it, "[DONE]", bad JSON) goes the json.loads way.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


_NO_EVENT = ServerSentEvent("")


def _events(count: int) -> str:
    return f"{count} event{'' if count == 1 else 's'}"


def _plain_body(response: httpx.Response) -> bool:
    """True when the body can be read from `response.stream` itself: nothing was read yet and
    there is no content-encoding to undo. That skips httpx's decoder and two byte-chunkers,
    three Python calls per read (one read is often one event); the bytes are the same."""
    encoding = response.headers.get("content-encoding")
    return (
        (encoding is None or encoding.strip().lower() == "identity")
        and not response.is_stream_consumed
        and not response.is_closed
        and not hasattr(response, "_content")
    )


_TakeOver = tuple[
    Callable[[object], Iterator[bytes] | None], Callable[[object], AsyncIterator[bytes] | None]
]
# `_chunked`'s (sync, async) take-over functions, imported on the first stream: httpcore and h11
# are imported by then, and `import modelstudio` does not import them.
_TAKE_OVER: _TakeOver | None = None


def _never(stream: object) -> None:
    return None


def _take_over() -> _TakeOver:
    global _TAKE_OVER
    if _TAKE_OVER is None:
        try:
            from ._chunked import take_over_async, take_over_sync
        except ImportError:  # another httpx / httpcore / h11: the normal path
            _TAKE_OVER = (_never, _never)
        else:
            _TAKE_OVER = (take_over_sync, take_over_async)
    return _TAKE_OVER


def _sync_body(response: httpx.Response) -> Iterator[bytes]:
    stream = response.stream
    if isinstance(stream, httpx.SyncByteStream) and _plain_body(response):
        response.is_stream_consumed = True
        # A chunked body is read below h11, straight from its reader (`_chunked.py`).
        blocks = _take_over()[0](stream)
        if blocks is None:
            return iter(stream)
        return stream.timed(blocks) if type(stream) is TimedSyncStream else blocks
    return response.iter_bytes()


def _async_body(response: httpx.Response) -> AsyncIterator[bytes]:
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream) and _plain_body(response):
        response.is_stream_consumed = True
        blocks = _take_over()[1](stream)
        if blocks is None:
            return stream.__aiter__()
        return stream.timed(blocks) if type(stream) is TimedAsyncStream else blocks
    return response.aiter_bytes()


def _unbind(response: httpx.Response) -> None:
    """Break httpx's reference cycle of a closed response: ``response.stream`` (under the SDK's
    per-read deadline, when it has one) is httpx's `BoundSyncStream` / `BoundAsyncStream`,
    which holds the response to set ``elapsed`` on close. Once closed nothing reads it again
    (httpx's close and read check ``is_closed`` first), so the response, its request, headers
    and the five stream wrappers (~50 objects) are freed when the last reference goes, not at
    the next full collection of the cyclic garbage collector."""
    if not response.is_closed:
        return
    stream: Any = response.stream
    if type(stream) in _TIMED:
        stream = stream.__dict__.get("_inner")
    if type(stream) in _BOUND:
        stream.__dict__.pop("_response", None)


def _release(response: httpx.Response) -> None:
    response.close()
    _unbind(response)


async def _arelease(response: httpx.Response) -> None:
    await response.aclose()
    _unbind(response)


def _str_or_none(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class _StreamCore(Generic[ChunkT, ResponseT]):
    """What the sync and async streams share: event handling and error building."""

    # Slots: one of these lives per open stream (500 concurrent streams hold 500).
    __slots__ = (
        "_accumulator",
        "_error",
        "_exhausted",
        "_final",
        "_make_chunk",
        "_make_lazy_chunk",
        "_make_response",
        "_response",
    )

    def __init__(
        self,
        response: httpx.Response,
        *,
        make_chunk: Callable[[dict[str, Any], Delta], ChunkT],
        make_response: Callable[[dict[str, Any]], ResponseT],
        incremental: bool,
        accumulator: Accumulator | ChatAccumulator | None = None,
        make_lazy_chunk: Callable[[dict[str, Any], Delta], ChunkT] | None = None,
    ) -> None:
        self._response = response
        self._make_chunk = make_chunk
        self._make_lazy_chunk = make_chunk if make_lazy_chunk is None else make_lazy_chunk
        self._make_response = make_response
        # The native accumulator unless the wire's own is given (chat.completion.chunk events).
        self._accumulator: Accumulator | ChatAccumulator = (
            accumulator if accumulator is not None else Accumulator(incremental=incremental)
        )
        self._error: Exception | None = None
        self._exhausted = False
        self._final: list[ResponseT] = []

    @property
    def response(self) -> httpx.Response:
        """The underlying ``httpx.Response`` (headers, status; the body is streamed)."""
        return self._response

    @property
    def request_id(self) -> str | None:
        """The request id from the events, else from the ``x-request-id`` header."""
        return self._accumulator.request_id or _str_or_none(
            self._response.headers.get("x-request-id")
        )

    @property
    def accumulator(self) -> Accumulator | ChatAccumulator:
        return self._accumulator

    def _chunk(self, sse: ServerSentEvent) -> ChunkT | None:
        """The chunk for one event; ``None`` for an event to skip."""
        if sse.event == "error":
            raise self._status_error(sse)
        try:
            data = _loads(sse.data)
        except RecursionError:
            raise self._unreadable(
                sse, f"is JSON nested too deeply to decode ({len(sse.data)} characters)"
            ) from None
        except ValueError:
            if sse.data.strip() == "[DONE]":
                if isinstance(self._accumulator, ChatAccumulator):
                    self._accumulator.mark_done()
                return None
            raise self._unreadable(sse, f"is not JSON: {sse.data[:200]!r}") from None
        if type(data) is not dict:
            raise self._unreadable(sse, f"is not a JSON object: {sse.data[:200]!r}")
        code = data.get("code")
        if code and isinstance(code, str) and code.strip():
            raise self._status_error(sse, data)
        if isinstance(data.get("error"), dict):  # the OpenAI-compatible error event
            raise self._status_error(sse, data)
        return self._make_chunk(data, self._accumulator.add(data))

    def _unreadable(self, sse: ServerSentEvent, what: str) -> APIResponseValidationError:
        """The error for an event whose data cannot be read as a documented chunk."""
        error = APIResponseValidationError(
            f"The stream sent an event whose data {what}", path="(the event data)"
        )
        return self._answered(error, sse.data)

    def _answered(
        self, error: APIResponseValidationError, data: str = ""
    ) -> APIResponseValidationError:
        """`error` with the stream's status, headers and request id (and the event's data)."""
        response = self._response
        error.request_id = error.request_id or self.request_id
        return error._with_answer(response.status_code, response.headers, data, self._api_key())

    def _status_error(self, sse: ServerSentEvent, data: Any = None) -> APIStatusError:
        if data is None:
            try:
                data = json.loads(sse.data)
            except (ValueError, RecursionError):
                data = None
        code = message = request_id = None
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict):
                code = _str_or_none(error.get("code")) or _str_or_none(error.get("type"))
                message = _str_or_none(error.get("message"))
            else:
                code = _str_or_none(data.get("code"))
                message = _str_or_none(data.get("message"))
            request_id = _str_or_none(data.get("request_id"))
        elif sse.data.strip():
            message = sse.data.strip()[:500]
        status = sse.http_status
        if status is None:
            status = self._response.status_code
        return make_status_error(
            status,
            code=code,
            message=message,
            request_id=request_id or self.request_id,
            headers=self._response.headers,
            body=sse.data.encode("utf-8"),
            api_key=self._api_key(),
        )

    def _api_key(self) -> str | None:
        """The key the request carried: a server may echo it in what it sends back."""
        try:
            return request_key(self._response.request)
        except RuntimeError:  # a response built without a request
            return None

    def _redacted(self, error: _E) -> _E:
        return redact_error(error, self._api_key())

    def _transport_error(self, exc: httpx.TransportError) -> APIConnectionError:
        events = self._accumulator.events
        if isinstance(exc, httpx.TimeoutException):
            why = (
                str(exc)
                if getattr(exc, "deadline", False)
                else "no data arrived within the read timeout"
            )
            return self._redacted(
                APITimeoutError(
                    f"The stream timed out: {why} (after {_events(events)}).",
                    request_id=self.request_id,
                )
            )
        return self._redacted(
            IncompleteStreamError(
                f"The connection broke before the final event of the stream "
                f"(after {_events(events)}): {exc or type(exc).__name__}",
                received_events=events,
                request_id=self.request_id,
            )
        )

    def _check_complete(self) -> None:
        self._exhausted = True
        if not self._accumulator.finished:
            raise self._redacted(
                IncompleteStreamError(
                    received_events=self._accumulator.events, request_id=self.request_id
                )
            )

    def _final_response(self) -> ResponseT:
        """The response once the stream was read to its end, or the error that stopped it."""
        if self._error is not None:
            raise self._error
        if not self._exhausted and not self._accumulator.finished:
            events = self._accumulator.events
            raise IncompleteStreamError(
                f"The stream was closed before its final event (after {_events(events)}).",
                received_events=events,
                request_id=self.request_id,
            )
        if not self._final:
            self._final.append(self._make_response(self._accumulator.final()))
        return self._final[0]


class _SyncCore(_StreamCore[ChunkT, ResponseT]):
    """A `Stream`'s state and its reading generator, which refers to this object and never to
    the `Stream`: with no reference cycle, dropping the last reference to an abandoned stream
    frees it at once (no wait for the cyclic garbage collector), the generator's ``finally``
    closes the response, and a stream never iterated is closed by ``__del__``."""

    __slots__ = ()

    def _iterate(self) -> Generator[ChunkT, None, None]:
        decoder = SSEDecoder()
        feed = decoder.feed
        handle = self._chunk
        scan = _scan
        accumulator = self._accumulator
        add = accumulator.add
        common = accumulator.add_common
        make_chunk = self._make_chunk
        lazy_chunk = self._make_lazy_chunk
        try:
            try:
                for raw in _sync_body(self._response):
                    for sse in feed(raw):
                        # The per-event fast path, inline: an ordinary chunk (a JSON object that
                        # fills the data and carries no error); anything else goes to `handle`.
                        if sse.event != "error":
                            text = sse.data
                            try:
                                data, end = scan(text, 0)
                            except (StopIteration, ValueError, RecursionError):
                                end = -1
                            if (
                                end == len(text)
                                and data.__class__ is dict
                                and not data.get("code")
                                and not data.get("error")
                            ):
                                # The common event (its touched part checked by `add_common`)
                                # makes a lazy chunk; any other is decoded at once, so a wrong
                                # shape raises APIResponseValidationError from the loop.
                                delta = common(data)
                                if delta is not None:
                                    yield lazy_chunk(data, delta)
                                else:
                                    yield make_chunk(data, add(data))
                                continue
                        chunk = handle(sse)
                        if chunk is not None:
                            yield chunk
                    # Not kept while the next read waits (the chunk holds what it needs).
                    raw = b""
                    sse = _NO_EVENT
                    text = ""
                for sse in decoder.end():
                    chunk = handle(sse)
                    if chunk is not None:
                        yield chunk
            except httpx.TransportError as exc:
                raise self._transport_error(exc) from exc
            except APIResponseValidationError as exc:  # a chunk out of shape
                self._answered(exc)
                raise
            self._check_complete()
        except Exception as exc:
            self._error = exc
            raise
        finally:
            _release(self._response)

    def __del__(self) -> None:
        # Closing the response returns the connection to the pool; never raise from here.
        try:
            response = getattr(self, "_response", None)
            if response is not None and not response.is_closed:
                _release(response)
        except Exception:
            pass


class Stream(Generic[ChunkT, ResponseT]):
    """A synchronous stream of chunks; use it in a ``with`` block or call :meth:`close`."""

    __slots__ = ("__weakref__", "_core", "_iterator")

    def __init__(
        self,
        response: httpx.Response,
        *,
        make_chunk: Callable[[dict[str, Any], Delta], ChunkT],
        make_response: Callable[[dict[str, Any]], ResponseT],
        incremental: bool,
        accumulator: Accumulator | ChatAccumulator | None = None,
        make_lazy_chunk: Callable[[dict[str, Any], Delta], ChunkT] | None = None,
    ) -> None:
        self._core = _SyncCore(
            response,
            make_chunk=make_chunk,
            make_response=make_response,
            incremental=incremental,
            accumulator=accumulator,
            make_lazy_chunk=make_lazy_chunk,
        )
        self._iterator = self._core._iterate()

    @property
    def response(self) -> httpx.Response:
        """The underlying ``httpx.Response`` (headers, status; the body is streamed)."""
        return self._core._response

    @property
    def request_id(self) -> str | None:
        """The request id from the events, else from the ``x-request-id`` header."""
        return self._core.request_id

    @property
    def accumulator(self) -> Accumulator | ChatAccumulator:
        return self._core._accumulator

    def __iter__(self) -> Iterator[ChunkT]:
        # The generator itself: one Python frame less per chunk than going through __next__.
        return self._iterator

    def __next__(self) -> ChunkT:
        return next(self._iterator)

    def __enter__(self) -> Stream[ChunkT, ResponseT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading and release the connection (safe to call more than once)."""
        self._iterator.close()
        _release(self._core._response)

    def get_final_response(self) -> ResponseT:
        """The whole response in the non-streaming shape, reading the rest of the stream first.

        Raises the error that ended the stream, if any, or :class:`IncompleteStreamError` when
        the stream was closed before its final event.
        """
        core = self._core
        if not core._exhausted and core._error is None:
            for _ in self._iterator:
                pass
        return core._final_response()


class _AsyncCore(_StreamCore[ChunkT, ResponseT]):
    """The async `_SyncCore`. An abandoned async stream that had started is closed by the
    event loop's async-generator finalizer; one never iterated schedules ``aclose()`` on the
    running loop."""

    __slots__ = ()

    async def _iterate(self) -> AsyncGenerator[ChunkT, None]:
        decoder = SSEDecoder()
        feed = decoder.feed
        handle = self._chunk
        scan = _scan
        accumulator = self._accumulator
        add = accumulator.add
        common = accumulator.add_common
        make_chunk = self._make_chunk
        lazy_chunk = self._make_lazy_chunk
        try:
            try:
                async for raw in _async_body(self._response):
                    for sse in feed(raw):
                        # The per-event fast path, inline: an ordinary chunk (a JSON object that
                        # fills the data and carries no error); anything else goes to `handle`.
                        if sse.event != "error":
                            text = sse.data
                            try:
                                data, end = scan(text, 0)
                            except (StopIteration, ValueError, RecursionError):
                                end = -1
                            if (
                                end == len(text)
                                and data.__class__ is dict
                                and not data.get("code")
                                and not data.get("error")
                            ):
                                # The common event (its touched part checked by `add_common`)
                                # makes a lazy chunk; any other is decoded at once, so a wrong
                                # shape raises APIResponseValidationError from the loop.
                                delta = common(data)
                                if delta is not None:
                                    yield lazy_chunk(data, delta)
                                else:
                                    yield make_chunk(data, add(data))
                                continue
                        chunk = handle(sse)
                        if chunk is not None:
                            yield chunk
                    # Not kept while the next read waits (the chunk holds what it needs).
                    raw = b""
                    sse = _NO_EVENT
                    text = ""
                for sse in decoder.end():
                    chunk = handle(sse)
                    if chunk is not None:
                        yield chunk
            except httpx.TransportError as exc:
                raise self._transport_error(exc) from exc
            except APIResponseValidationError as exc:  # a chunk out of shape
                self._answered(exc)
                raise
            self._check_complete()
        except Exception as exc:
            self._error = exc
            raise
        finally:
            await _arelease(self._response)

    def __del__(self) -> None:
        try:
            response = getattr(self, "_response", None)
            asyncio = sys.modules.get("asyncio")
            if response is None or response.is_closed or asyncio is None:
                return
            task = asyncio.get_running_loop().create_task(_arelease(response))
            _CLOSING.add(task)  # the loop holds tasks weakly: keep it until it is done
            task.add_done_callback(_CLOSING.discard)
        except Exception:
            pass


class AsyncStream(Generic[ChunkT, ResponseT]):
    """An asynchronous stream of chunks; use ``async with`` or call :meth:`aclose`."""

    __slots__ = ("__weakref__", "_core", "_iterator")

    def __init__(
        self,
        response: httpx.Response,
        *,
        make_chunk: Callable[[dict[str, Any], Delta], ChunkT],
        make_response: Callable[[dict[str, Any]], ResponseT],
        incremental: bool,
        accumulator: Accumulator | ChatAccumulator | None = None,
        make_lazy_chunk: Callable[[dict[str, Any], Delta], ChunkT] | None = None,
    ) -> None:
        self._core = _AsyncCore(
            response,
            make_chunk=make_chunk,
            make_response=make_response,
            incremental=incremental,
            accumulator=accumulator,
            make_lazy_chunk=make_lazy_chunk,
        )
        self._iterator = self._core._iterate()

    @property
    def response(self) -> httpx.Response:
        """The underlying ``httpx.Response`` (headers, status; the body is streamed)."""
        return self._core._response

    @property
    def request_id(self) -> str | None:
        """The request id from the events, else from the ``x-request-id`` header."""
        return self._core.request_id

    @property
    def accumulator(self) -> Accumulator | ChatAccumulator:
        return self._core._accumulator

    def __aiter__(self) -> AsyncIterator[ChunkT]:
        return self._iterator

    async def __anext__(self) -> ChunkT:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncStream[ChunkT, ResponseT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection (safe to call more than once)."""
        await self._iterator.aclose()
        await _arelease(self._core._response)

    async def get_final_response(self) -> ResponseT:
        """The whole response in the non-streaming shape, reading the rest of the stream first.

        Raises the error that ended the stream, if any, or :class:`IncompleteStreamError` when
        the stream was closed before its final event.
        """
        core = self._core
        if not core._exhausted and core._error is None:
            async for _ in self._iterator:
                pass
        return core._final_response()
