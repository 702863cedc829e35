"""Requests built and sent through an httpx client the SDK made itself, without httpx's per-call
layers.

`httpx.Client.build_request` merges the client's headers into each request's (two `Headers`
copies and an update), and `Client.send` goes through its auth flow, its redirect loop and event
hooks, then `Cookies.extract_cookies`, which builds a `urllib.request.Request` and an
`email.message.Message` for every response, Set-Cookie or not. On a client the SDK made (no
auth, no hooks, no base URL, no params: none can be given) that work gives the same result for
every call of one client configuration, so here the merged headers are made once per settings,
URL, stream flag and extra headers, and the request goes straight to the transport httpx would
pick (`_transport_for_url`: the proxies and mounts of the environment still apply), doing what
`Client._send_single_request` does that a user could notice: the `httpx` logger's INFO line,
`response.request`, `.elapsed` (the bound stream), `.default_encoding`, Set-Cookie stored in the
client's jar (and the jar's cookies sent with the next request), and `next_request` on a
redirect. A user's `http_client=` keeps httpx's full path, event hooks, auth and all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import httpx

try:  # httpx's own pieces of `_send_single_request`; without them the full path is taken
    from httpx._client import BoundAsyncStream, BoundSyncStream, ClientState
except ImportError:  # pragma: no cover - an httpx without them
    _AVAILABLE = False
else:
    _AVAILABLE = True

__all__ = ["DirectRequests", "direct_requests"]

_httpx_logger = logging.getLogger("httpx")
_CLOSED_MESSAGE = "Cannot send a request, as the client has been closed."
# Entries kept per client: configurations (with_options copies, extra headers) beyond it start over.
CACHE_SIZE = 64
_NEEDED = ("_transport_for_url", "_build_redirect_request", "_state", "_default_encoding")

_HeadersKey = tuple[Any, ...]


def direct_requests(http: httpx.Client | httpx.AsyncClient) -> DirectRequests | None:
    """The direct builder and sender for `http`, an httpx client the SDK just made; None when
    this httpx lacks a piece the direct path needs (then httpx's full path is used)."""
    if not _AVAILABLE or not all(hasattr(http, name) for name in _NEEDED):
        return None  # pragma: no cover - an httpx without them
    return DirectRequests(http)


class DirectRequests:
    """Builds the requests of one SDK-made httpx client and sends them (sync or async)."""

    __slots__ = ("_headers", "_http")

    def __init__(self, http: httpx.Client | httpx.AsyncClient) -> None:
        self._http = http
        self._headers: dict[_HeadersKey, tuple[httpx.Headers, bool]] = {}

    def request(
        self,
        url: httpx.URL,
        content: bytes,
        timeout: httpx.Timeout,
        key: _HeadersKey,
        headers: Callable[[], Mapping[str, str]],
    ) -> httpx.Request:
        """The POST `http.build_request(...)` would make, byte for byte and header for header.

        `headers()` (the call's own, merged over the client's) is called and merged only when
        `key` (what they are made of) was not seen on this client."""
        cached = self._headers.get(key)
        if cached is None:
            cached = self._merged(url, headers())
            if len(self._headers) >= CACHE_SIZE:
                self._headers.clear()
            self._headers[key] = cached
        merged, needs_length = cached
        request = httpx.Request(
            "POST",
            url,
            headers=merged,
            stream=httpx.ByteStream(content),
            extensions={"timeout": timeout.as_dict()},
        )
        cookies = self._http.cookies
        if cookies:  # the Cookie header httpx's cookie merge adds (a copy: the jar is not pruned)
            httpx.Cookies(cookies).set_cookie_header(request)
        if needs_length:
            request.headers["Content-Length"] = str(len(content))
        request._content = content  # `request.content`, as `Request.read()` would set it
        return request

    def _merged(self, url: httpx.URL, headers: Mapping[str, str]) -> tuple[httpx.Headers, bool]:
        """The client's headers updated by `headers`, with the Host header httpx puts first
        (unless given); and whether Content-Length is still to be added."""
        merged = httpx.Headers(self._http.headers)
        merged.update(headers)
        names = {key.lower() for key, _ in merged.raw}
        raw = (
            merged.raw if b"host" in names or not url.host else [(b"Host", url.netloc), *merged.raw]
        )
        return httpx.Headers(raw), b"content-length" not in names

    def send(self, request: httpx.Request) -> httpx.Response:
        """`http.send(request, stream=True, follow_redirects=False)` on the SDK's own client."""
        transport = cast(httpx.BaseTransport, self._opened_transport(request))
        start = time.perf_counter()
        try:
            response = transport.handle_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)  # as httpx asserts
        response.request = request
        response.stream = BoundSyncStream(response.stream, response=response, start=start)
        try:
            self._received(response)
        except BaseException:
            response.close()
            raise
        return response

    async def send_async(self, request: httpx.Request) -> httpx.Response:
        """`await http.send(request, stream=True, follow_redirects=False)` on the SDK's own
        async client."""
        transport = cast(httpx.AsyncBaseTransport, self._opened_transport(request))
        start = time.perf_counter()
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)  # as httpx asserts
        response.request = request
        response.stream = BoundAsyncStream(response.stream, response=response, start=start)
        try:
            self._received(response)
        except BaseException:
            await response.aclose()
            raise
        return response

    def _opened_transport(
        self, request: httpx.Request
    ) -> httpx.BaseTransport | httpx.AsyncBaseTransport:
        """The transport httpx would send `request` through (proxies and mounts of the
        environment), the client marked opened as `send` marks it; a closed one refuses."""
        http = self._http
        if http._state is ClientState.CLOSED:
            raise RuntimeError(_CLOSED_MESSAGE)
        http._state = ClientState.OPENED
        return http._transport_for_url(request.url)

    def _received(self, response: httpx.Response) -> None:
        http = self._http
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:  # else the jar takes nothing
            http.cookies.extract_cookies(response)
        response.default_encoding = http._default_encoding
        request = response.request
        _httpx_logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
        if response.has_redirect_location:  # what `follow_redirects=False` leaves for the caller
            response.next_request = http._build_redirect_request(request, response)
