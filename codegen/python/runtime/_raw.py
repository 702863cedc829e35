"""`RawResponse`: an answer's HTTP status and headers, with the typed result on `parse()`.

`client.with_raw_response.generation.create(...)` (any resource, sync or async) returns one
instead of the parsed result. Error statuses still raise the usual `APIStatusError`. A raw
response never holds the request, so its repr and attributes cannot reveal the API key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import httpx

__all__ = ["RawResponse"]

T = TypeVar("T")
_NOT_PARSED: object = object()


class RawResponse(Generic[T]):
    """The HTTP side of one answer; `parse()` gives what `create()` would have returned.

    For `stream=True`, `parse()` returns the stream (iterate it or close it, as usual) and
    `content` is not available.
    """

    def __init__(self, response: httpx.Response, parse: Callable[[], T]) -> None:
        self._response = response
        self._parse = parse
        self._parsed: object = _NOT_PARSED

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The response headers."""
        return self._response.headers

    @property
    def request_id(self) -> str | None:
        """The `x-request-id` header."""
        value: str | None = self._response.headers.get("x-request-id")
        return value

    @property
    def content(self) -> bytes:
        """The raw body (not for streams)."""
        return self._response.content

    def parse(self) -> T:
        """The typed result (decoded once; later calls return the same object)."""
        if self._parsed is _NOT_PARSED:
            self._parsed = self._parse()
        parsed: T = self._parsed  # type: ignore[assignment]
        return parsed

    def __repr__(self) -> str:
        return f"<RawResponse [{self.status_code}] request_id={self.request_id!r}>"
