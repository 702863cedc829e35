"""The sync and async client bases: connection ownership, options, and the send/retry loops."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from ._base_client import (
    CallOptions,
    Endpoint,
    PreparedCall,
    Settings,
    after_exception,
    after_status,
    cut_error,
    decode_json_response,
    log_response,
    prepare,
    redirect_refusal,
    safe_url,
    timed_body,
    within_deadline,
)
from ._checks import ValidationMode
from ._deadline import arm, send_within, send_within_async
from ._logs import Secret, configure_from_env
from ._options import ProtocolName, UploadMode
from ._upload_policy import PolicyCache

if TYPE_CHECKING:
    from ._direct import DirectRequests
    from ._stream import AsyncStream, Stream

# Streams, uploads and the chat accumulator load on first use (tests/test_layout.py).


class _NotGiven:
    """The default of a `with_options` argument: keep the setting as it is. Its repr is its
    name, so `help()` and `inspect.signature` show `= NOT_GIVEN`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()
# The pool of the httpx clients the SDK makes itself (as openai-python does): httpx's default
# of 100 connections would make the 101st concurrent stream wait for a free connection.
DEFAULT_CONNECTION_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


def _hidden(api_key: Any) -> Any:
    """The key as a `Secret` (redacted repr) for the frames a traceback may print; the check
    of its type and content is the settings'."""
    return Secret(api_key) if isinstance(api_key, str) else api_key


async def _async_sleep(delay: float) -> None:
    import asyncio  # not at module level: a sync-only program need not import asyncio (~8 ms)

    await asyncio.sleep(delay)


class _ClientBase:
    _settings: Settings
    _raw_response: bool = False
    # Builds and sends the requests of an httpx client the SDK made (None for `http_client=`).
    _direct: DirectRequests | None = None

    def _start(
        self, settings: Settings, http: httpx.Client | httpx.AsyncClient, owns_http: bool
    ) -> None:
        """The set-up both clients share, once their settings and connection pool exist."""
        configure_from_env()
        settings.warn_if_insecure()
        self._settings = settings
        self._owns_http = owns_http
        if owns_http:  # a user's `http_client=` keeps httpx's full path (hooks, auth)
            from ._direct import direct_requests

            self._direct = direct_requests(http)
        self._upload_policies = PolicyCache()
        self._attach()

    def _attach(self) -> None:
        """Create the API resources (the generated clients override this)."""

    def _copy_with(self, settings: Settings) -> Any:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._settings = settings
        clone._owns_http = False
        return clone

    def __repr__(self) -> str:
        settings = self.__dict__.get("_settings")  # absent while __init__ runs
        where = safe_url(settings.base_url) if settings is not None else "?"
        return f"{type(self).__name__}(base_url={where!r})"

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def api_key(self) -> str:
        return self._settings.api_key

    @property
    def with_raw_response(self) -> Any:
        """This client, but every `create()` returns a `RawResponse` (status, headers, `parse()`).

        `client.with_raw_response.generation.create(...).headers["x-request-id"]`
        """
        clone = self._copy_with(self._settings)
        clone._raw_response = True
        clone._attach()
        return clone

    def _result(
        self,
        endpoint: Endpoint,
        call: PreparedCall,
        response: httpx.Response,
        stream_type: type[Stream[Any, Any]] | type[AsyncStream[Any, Any]] | None,
    ) -> Any:
        """The answer to a sent call: a stream of `stream_type`, else the decoded response;
        wrapped in a `RawResponse` (parsed on demand) by `with_raw_response`."""

        def parse() -> Any:
            if stream_type is not None:
                return stream_type(response, **_stream_parts(endpoint, call))
            return decode_json_response(call, response, response.content)

        if not self._raw_response:
            return parse()
        from ._raw import RawResponse  # loaded by the first raw call, not by `import modelstudio`

        return RawResponse(response, parse)

    def _new_settings(self, changes: Mapping[str, Any]) -> Settings:
        current = self._settings
        values: dict[str, Any] = {
            "api_key": current.api_key,
            "base_url": current.base_url,
            "region": None,
            "workspace": current.workspace,
            "timeout": current.timeout,
            "max_retries": current.max_retries,
            "stream_idle_timeout": current.stream_idle_timeout,
            "deadline": current.deadline,
            "validation": current.validation,
            "default_headers": current.default_headers,
            "upload": current.upload,
            "protocol": current.protocol,
        }
        values.update({k: v for k, v in changes.items() if v is not NOT_GIVEN})
        settings = Settings(**values)
        if settings.base_url != current.base_url:
            settings.warn_if_insecure()
        return settings


class SyncAPIClient(_ClientBase):
    """Owns an `httpx.Client` (unless given one) and sends prepared calls with retries."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        stream_idle_timeout: float | None = None,
        deadline: float | None = None,
        validation: ValidationMode | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        upload: UploadMode | None = None,
        protocol: ProtocolName | None = None,
    ) -> None:
        api_key = _hidden(api_key)
        settings = Settings(
            upload=upload,
            protocol=protocol,
            api_key=api_key,
            base_url=base_url,
            region=region,
            workspace=workspace,
            timeout=timeout,
            max_retries=max_retries,
            stream_idle_timeout=stream_idle_timeout,
            deadline=deadline,
            validation=validation,
            default_headers=default_headers,
        )
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError(
                f"http_client must be an httpx.Client, not {type(http_client).__name__}"
            )
        self._http = http_client or httpx.Client(
            timeout=settings.timeout, follow_redirects=True, limits=DEFAULT_CONNECTION_LIMITS
        )
        from ._network import cover  # imports httpcore, which httpx.Client() just did

        cover(self._http)  # the deadline then bounds each socket operation, headers included
        self._start(settings, self._http, owns_http=http_client is None)

    def close(self) -> None:
        """Close the connections this client opened (not those of an `http_client=` you gave)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(
        self, endpoint: Endpoint, body: dict[str, Any], stream: bool, options: CallOptions
    ) -> Any:
        call = prepare(self._settings, self._http, endpoint, body, stream, options, self._direct)
        if call.media is not None:
            from ._upload import resolve_sync

            resolve_sync(
                self._http, self._settings, self._upload_policies, call, options.extra_headers
            )
        response = self._send(call)
        if not stream:
            return self._result(endpoint, call, response, None)
        from ._stream import Stream

        return self._result(endpoint, call, response, Stream)

    def _send(self, call: PreparedCall) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._send_following(call)
            except httpx.HTTPError as exc:
                error, delay = after_exception(exc, call, attempt)
            else:
                log_response(response, attempt, call.api_key)
                timed_body(response, call)
                if response.status_code < 400:
                    if not call.stream:
                        try:
                            response.read()
                        except httpx.HTTPError as exc:
                            response.close()
                            cut = cut_error(response, exc, call)
                            raise cut from cut.__cause__
                    return response
                try:
                    body = response.read()
                except httpx.HTTPError:
                    body = b""  # the status says what happened; the cut body adds nothing
                finally:
                    response.close()
                error, delay = after_status(
                    response.status_code, response.headers, body, call, attempt
                )
            if delay is None or not within_deadline(call, delay):
                raise error
            time.sleep(delay)
            attempt += 1

    def _send_following(self, call: PreparedCall) -> httpx.Response:
        """Send once, following only the redirects that keep the method and the body."""
        request = call.request
        direct = self._direct
        for hop in range(self._http.max_redirects + 1):
            if call.stream or call.deadline is not None:  # else nothing changed them
                arm(request, call.timeouts, call.deadline)
            if direct is not None and hop == 0:  # a redirect's request goes httpx's full way
                response = send_within(call.deadline, partial(direct.send, request))
            else:
                response = send_within(
                    call.deadline,
                    partial(self._http.send, request, stream=True, follow_redirects=False),
                )
            target = response.next_request
            if target is None:
                return response
            response.close()
            refusal = redirect_refusal(response, target, self._http.follow_redirects, call)
            if refusal is not None:
                raise refusal
            request = target
        raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.", request=request)


class AsyncAPIClient(_ClientBase):
    """Owns an `httpx.AsyncClient` (unless given one) and sends prepared calls with retries."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        stream_idle_timeout: float | None = None,
        deadline: float | None = None,
        validation: ValidationMode | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        upload: UploadMode | None = None,
        protocol: ProtocolName | None = None,
    ) -> None:
        api_key = _hidden(api_key)
        settings = Settings(
            upload=upload,
            protocol=protocol,
            api_key=api_key,
            base_url=base_url,
            region=region,
            workspace=workspace,
            timeout=timeout,
            max_retries=max_retries,
            stream_idle_timeout=stream_idle_timeout,
            deadline=deadline,
            validation=validation,
            default_headers=default_headers,
        )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, not {type(http_client).__name__}"
            )
        self._http = http_client or httpx.AsyncClient(
            timeout=settings.timeout, follow_redirects=True, limits=DEFAULT_CONNECTION_LIMITS
        )
        if http_client is None:
            from ._asyncio_net import install  # imports asyncio, which a sync program need not
            from ._pool import share_idle_connections  # imports httpcore, as AsyncClient() did

            share_idle_connections(self._http)  # a burst of streams opens its connections at once
            # The client is built as before (httpx reads the proxy environment only when given
            # no `transport=`); then its own pool runs on asyncio's transports directly instead
            # of anyio's streams (under trio, on httpcore's own backend). Not a user's client.
            install(self._http)
        self._start(settings, self._http, owns_http=http_client is None)

    async def close(self) -> None:
        """Close the connections this client opened (not those of an `http_client=` you gave)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(
        self, endpoint: Endpoint, body: dict[str, Any], stream: bool, options: CallOptions
    ) -> Any:
        call = prepare(self._settings, self._http, endpoint, body, stream, options, self._direct)
        if call.media is not None:
            from ._upload import resolve_async

            await resolve_async(
                self._http, self._settings, self._upload_policies, call, options.extra_headers
            )
        response = await self._send(call)
        if not stream:
            return self._result(endpoint, call, response, None)
        from ._stream import AsyncStream

        return self._result(endpoint, call, response, AsyncStream)

    async def _send(self, call: PreparedCall) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._send_following(call)
            except httpx.HTTPError as exc:
                error, delay = after_exception(exc, call, attempt)
            else:
                log_response(response, attempt, call.api_key)
                timed_body(response, call)
                if response.status_code < 400:
                    if not call.stream:
                        try:
                            await response.aread()
                        except httpx.HTTPError as exc:
                            await response.aclose()
                            cut = cut_error(response, exc, call)
                            raise cut from cut.__cause__
                    return response
                try:
                    body = await response.aread()
                except httpx.HTTPError:
                    body = b""  # the status says what happened; the cut body adds nothing
                finally:
                    await response.aclose()
                error, delay = after_status(
                    response.status_code, response.headers, body, call, attempt
                )
            if delay is None or not within_deadline(call, delay):
                raise error
            await _async_sleep(delay)
            attempt += 1

    async def _send_following(self, call: PreparedCall) -> httpx.Response:
        """Send once, following only the redirects that keep the method and the body."""
        request = call.request
        direct = self._direct
        for hop in range(self._http.max_redirects + 1):
            if call.stream or call.deadline is not None:  # else nothing changed them
                arm(request, call.timeouts, call.deadline)
            if direct is not None and hop == 0:  # a redirect's request goes httpx's full way
                response = await send_within_async(
                    call.deadline, partial(direct.send_async, request)
                )
            else:
                response = await send_within_async(
                    call.deadline,
                    partial(self._http.send, request, stream=True, follow_redirects=False),
                )
            target = response.next_request
            if target is None:
                return response
            await response.aclose()
            refusal = redirect_refusal(response, target, self._http.follow_redirects, call)
            if refusal is not None:
                raise refusal
            request = target
        raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.", request=request)


def _chunk_maker(endpoint: Endpoint) -> Any:
    decode = endpoint.decode_chunk

    def make_chunk(data: dict[str, Any], delta: Any) -> Any:
        chunk = decode(data)
        chunk.delta = delta
        return chunk

    return make_chunk


def _stream_parts(endpoint: Endpoint, call: PreparedCall) -> dict[str, Any]:
    """The chunk and response decoders and the accumulator of a stream, by the wire used:
    `chat.completion.chunk` events (translated back to the native shape when a native call
    went over the compatible wire) or native DashScope events."""
    if endpoint.wire != "openai" and call.translation is None:
        return {
            "make_chunk": _chunk_maker(endpoint),
            # The common event's chunk: typed fields decoded on first read.
            "make_lazy_chunk": endpoint.chunk_class()._lazy,
            "make_response": endpoint.decode_response,
            "incremental": call.incremental,
        }
    from ._accumulate_chat import ChatAccumulator

    accumulator = ChatAccumulator(include_usage=call.include_usage)
    translation = call.translation
    if translation is None:
        return {
            "make_chunk": _chunk_maker(endpoint),
            "make_lazy_chunk": endpoint.chunk_class()._lazy,
            "make_response": endpoint.decode_response,
            "incremental": True,
            "accumulator": accumulator,
        }
    decode_chunk = endpoint.decode_chunk
    decode_response = endpoint.decode_response

    def make_chunk(data: dict[str, Any], delta: Any) -> Any:
        chunk = decode_chunk(translation.chunk(data))
        chunk.delta = delta
        return chunk

    def make_response(data: dict[str, Any]) -> Any:
        return decode_response(translation.response(data))

    return {
        "make_chunk": make_chunk,
        "make_response": make_response,
        "incremental": True,
        "accumulator": accumulator,
    }
