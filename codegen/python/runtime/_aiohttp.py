"""An optional aiohttp-backed transport for `AsyncModelStudio` (`pip install modelstudio[aiohttp]`).

httpx's own async transport (httpcore on anyio) spends more per request than aiohttp's C-accelerated
HTTP parser; this module keeps httpx's client (the request, response, timeouts and error types the
SDK is written against) and swaps only the transport underneath, as openai-python's
`DefaultAioHttpClient` does::

    from modelstudio import AsyncModelStudio
    from modelstudio.aiohttp import DefaultAioHttpClient

    async with DefaultAioHttpClient() as http:
        client = AsyncModelStudio(http_client=http)
        ...

aiohttp's errors become the httpx errors that httpcore would raise in the same situation
(`ConnectError`, `ConnectTimeout`, `ReadTimeout`, `ReadError`, `RemoteProtocolError`), so retries
and the SDK's error types behave as with the default transport. Content-encoding is left to
httpx (aiohttp's own decompression is off), redirects to httpx's `follow_redirects`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx

from ._base_client import DEFAULT_TIMEOUT

__all__ = ["AioHttpTransport", "DefaultAioHttpClient"]


def _mapped(exc: BaseException, *, connecting: bool) -> httpx.TransportError:
    """The httpx error for an aiohttp (or asyncio) failure."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return httpx.ConnectTimeout(message) if connecting else httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientResponseError):  # a malformed status line or headers
        return httpx.RemoteProtocolError(message)
    return httpx.ReadError(message)


class _ResponseBody(httpx.AsyncByteStream):
    """The body of one aiohttp response, read as it arrives.

    aiohttp fixes a response's socket read timeout when the request is sent; the client re-arms
    the request's `timeout` extension between reads (a stream's idle timeout, what is left of a
    deadline), so each read hands the current value to the connection's protocol.
    """

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def _arm(self) -> None:
        connection = self._response.connection
        protocol = connection.protocol if connection is not None else None
        if protocol is None:
            return
        timeouts = self._request.extensions.get("timeout")
        read = timeouts.get("read") if isinstance(timeouts, dict) else None
        if protocol.read_timeout != read:
            protocol.read_timeout = read
            protocol.start_timeout()  # restarts the running timer with the new value

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                self._arm()
                chunk = await content.readany()
                if not chunk:
                    break
                yield chunk
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _mapped(exc, connecting=False) from exc

    async def aclose(self) -> None:
        response = self._response
        if response.content.at_eof():
            response.release()  # the connection goes back to the pool
        else:
            response.close()  # abandoned part-way: the connection cannot be reused


class AioHttpTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` that sends requests with an `aiohttp.ClientSession`.

    `limit`: the most connections open at once (the SDK's own default pool is 1,000);
    `keepalive_timeout`: seconds an idle connection is kept. The session is created on the first
    request (it needs a running event loop) and closed by `aclose()`.
    """

    def __init__(self, *, limit: int = 1000, keepalive_timeout: float = 15.0) -> None:
        self._limit = limit
        self._keepalive_timeout = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limit, keepalive_timeout=self._keepalive_timeout, ttl_dns_cache=300
        )
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # httpx decodes by the content-encoding header
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies are httpx's business
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._new_session()
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.get("pool"),
            sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        body = await request.aread()
        try:
            response = await session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # Before the status line: a failed connect, or no answer within the read timeout.
            connecting = isinstance(
                exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
            )
            raise _mapped(exc, connecting=connecting) from exc
        return httpx.Response(
            status_code=response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_ResponseBody(response, request),
            extensions={
                "http_version": b"HTTP/%d.%d" % tuple(response.version or (1, 1)),
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class DefaultAioHttpClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` on :class:`AioHttpTransport`, with the SDK's default timeout and
    redirects followed, to pass as `AsyncModelStudio(http_client=...)`. You own it: close it
    (`async with`, or `await aclose()`), as with any `http_client=` you give."""

    def __init__(self, **kwargs: Any) -> None:
        if "transport" not in kwargs:
            kwargs["transport"] = AioHttpTransport()
        kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
        kwargs.setdefault("follow_redirects", True)
        super().__init__(**kwargs)
