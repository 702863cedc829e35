"""Stream objects over a DashScope ``text/event-stream`` response (sync and async).

A stream reads the response body as it arrives, decodes it with :class:`SSEDecoder`, parses each
event's data as JSON, merges it into an :class:`Accumulator` and yields
``make_chunk(data, delta)``. Errors, all raised from the iteration:

* an ``event:error`` (DashScope sends it inside an HTTP 200) or a ``data`` object with a
  non-empty ``code``: the :class:`APIStatusError` subclass for the status in the event's
  ``:HTTP_STATUS/NNN`` comment (else the HTTP status), with the event's code, message and
  request id (so ``:HTTP_STATUS/429`` gives a :class:`RateLimitError`);
* an OpenAI-compatible ``data: {"error": {...}}`` event: the same, from the error object;
* an event whose data is not a JSON object: :class:`APIError` saying so (``[DONE]`` is skipped,
  and tells a :class:`ChatAccumulator` that the compatible stream ended as it should);
* the read timeout (the transport sets it to the stream idle timeout): :class:`APITimeoutError`;
* a broken connection, or a stream that ends before the final event (a final
  ``finish_reason``): :class:`IncompleteStreamError` (an :class:`APIConnectionError`) with the
  number of events received.

The response is closed when the stream ends or fails, when a ``with`` block is left, on
``close()`` (after a ``break``), and when the stream object is garbage collected, so the
connection goes back to the pool.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from ._accumulate import Accumulator, Delta
from ._accumulate_chat import ChatAccumulator
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    IncompleteStreamError,
    make_status_error,
)
from ._sse import ServerSentEvent, SSEDecoder

__all__ = ["AsyncStream", "Stream"]

ChunkT = TypeVar("ChunkT")
ResponseT = TypeVar("ResponseT")

_loads = json.loads
# The C scanner json.loads ends in, without its two whitespace regex matches and three Python
# calls (~1 µs of ~3 per event). Only a value that fills the whole text is taken from it;
# anything else (whitespace around it, "[DONE]", bad JSON) goes the json.loads way.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


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


def _sync_body(response: httpx.Response) -> Iterator[bytes]:
    stream = response.stream
    if isinstance(stream, httpx.SyncByteStream) and _plain_body(response):
        response.is_stream_consumed = True
        return iter(stream)
    return response.iter_bytes()


def _async_body(response: httpx.Response) -> AsyncIterator[bytes]:
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream) and _plain_body(response):
        response.is_stream_consumed = True
        return stream.__aiter__()
    return response.aiter_bytes()


def _str_or_none(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class _StreamCore(Generic[ChunkT, ResponseT]):
    """What the sync and async streams share: event handling and error building."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        make_chunk: Callable[[dict[str, Any], Delta], ChunkT],
        make_response: Callable[[dict[str, Any]], ResponseT],
        incremental: bool,
        accumulator: Accumulator | ChatAccumulator | None = None,
    ) -> None:
        self._response = response
        self._make_chunk = make_chunk
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
        except ValueError:
            if sse.data.strip() == "[DONE]":
                if isinstance(self._accumulator, ChatAccumulator):
                    self._accumulator.mark_done()
                return None
            raise APIError(
                f"The stream sent an event whose data is not JSON: {sse.data[:200]!r}",
                request_id=self.request_id,
            ) from None
        if type(data) is not dict:
            raise APIError(
                f"The stream sent an event whose data is not a JSON object: {sse.data[:200]!r}",
                request_id=self.request_id,
            )
        code = data.get("code")
        if code and isinstance(code, str) and code.strip():
            raise self._status_error(sse, data)
        if isinstance(data.get("error"), dict):  # the OpenAI-compatible error event
            raise self._status_error(sse, data)
        return self._make_chunk(data, self._accumulator.add(data))

    def _status_error(self, sse: ServerSentEvent, data: Any = None) -> APIStatusError:
        if data is None:
            try:
                data = json.loads(sse.data)
            except ValueError:
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
        )

    def _transport_error(self, exc: httpx.TransportError) -> APIConnectionError:
        events = self._accumulator.events
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"The stream timed out: no data arrived within the read timeout "
                f"(after {_events(events)}).",
                request_id=self.request_id,
            )
        return IncompleteStreamError(
            f"The connection broke before the final event of the stream "
            f"(after {_events(events)}): {exc or type(exc).__name__}",
            received_events=events,
            request_id=self.request_id,
        )

    def _check_complete(self) -> None:
        self._exhausted = True
        if not self._accumulator.finished:
            raise IncompleteStreamError(
                received_events=self._accumulator.events, request_id=self.request_id
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


class Stream(_StreamCore[ChunkT, ResponseT]):
    """A synchronous stream of chunks; use it in a ``with`` block or call :meth:`close`."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        make_chunk: Callable[[dict[str, Any], Delta], ChunkT],
        make_response: Callable[[dict[str, Any]], ResponseT],
        incremental: bool,
        accumulator: Accumulator | ChatAccumulator | None = None,
    ) -> None:
        super().__init__(
            response,
            make_chunk=make_chunk,
            make_response=make_response,
            incremental=incremental,
            accumulator=accumulator,
        )
        self._iterator = self._iterate()

    def _iterate(self) -> Generator[ChunkT, None, None]:
        decoder = SSEDecoder()
        feed = decoder.feed
        handle = self._chunk
        scan = _scan
        add = self._accumulator.add
        make_chunk = self._make_chunk
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
                            except (StopIteration, ValueError):
                                end = -1
                            if (
                                end == len(text)
                                and data.__class__ is dict
                                and not data.get("code")
                                and not data.get("error")
                            ):
                                yield make_chunk(data, add(data))
                                continue
                        chunk = handle(sse)
                        if chunk is not None:
                            yield chunk
                for sse in decoder.end():
                    chunk = handle(sse)
                    if chunk is not None:
                        yield chunk
            except httpx.TransportError as exc:
                raise self._transport_error(exc) from exc
            self._check_complete()
        except Exception as exc:
            self._error = exc
            raise
        finally:
            self._response.close()

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
        self._response.close()

    def get_final_response(self) -> ResponseT:
        """The whole response in the non-streaming shape, reading the rest of the stream first.

        Raises the error that ended the stream, if any, or :class:`IncompleteStreamError` when
        the stream was closed before its final event.
        """
        if not self._exhausted and self._error is None:
            for _ in self._iterator:
                pass
        return self._final_response()

    def __del__(self) -> None:
        # Closing the response returns the connection to the pool; never raise from here.
        try:
            response = self.__dict__.get("_response")
            if response is not None and not response.is_closed:
                response.close()
        except Exception:
            pass


class AsyncStream(_StreamCore[ChunkT, ResponseT]):
    """An asynchronous stream of chunks; use ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        make_chunk: Callable[[dict[str, Any], Delta], ChunkT],
        make_response: Callable[[dict[str, Any]], ResponseT],
        incremental: bool,
        accumulator: Accumulator | ChatAccumulator | None = None,
    ) -> None:
        super().__init__(
            response,
            make_chunk=make_chunk,
            make_response=make_response,
            incremental=incremental,
            accumulator=accumulator,
        )
        self._iterator = self._iterate()

    async def _iterate(self) -> AsyncGenerator[ChunkT, None]:
        decoder = SSEDecoder()
        feed = decoder.feed
        handle = self._chunk
        scan = _scan
        add = self._accumulator.add
        make_chunk = self._make_chunk
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
                            except (StopIteration, ValueError):
                                end = -1
                            if (
                                end == len(text)
                                and data.__class__ is dict
                                and not data.get("code")
                                and not data.get("error")
                            ):
                                yield make_chunk(data, add(data))
                                continue
                        chunk = handle(sse)
                        if chunk is not None:
                            yield chunk
                for sse in decoder.end():
                    chunk = handle(sse)
                    if chunk is not None:
                        yield chunk
            except httpx.TransportError as exc:
                raise self._transport_error(exc) from exc
            self._check_complete()
        except Exception as exc:
            self._error = exc
            raise
        finally:
            await self._response.aclose()

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
        await self._response.aclose()

    async def get_final_response(self) -> ResponseT:
        """The whole response in the non-streaming shape, reading the rest of the stream first.

        Raises the error that ended the stream, if any, or :class:`IncompleteStreamError` when
        the stream was closed before its final event.
        """
        if not self._exhausted and self._error is None:
            async for _ in self._iterator:
                pass
        return self._final_response()
