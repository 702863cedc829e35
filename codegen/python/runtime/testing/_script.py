"""Scripted responses and faults, served first-in first-out before the simulator answers."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import attrs

from ._wire import JSON_CONTENT_TYPE, dumps, guess_content_type


@attrs.define
class Reply:
    """What the server writes for one request.

    `body` is sent with Content-Length; `chunks` with chunked transfer encoding, each piece in
    its own flushed chunk. `reset_after` / `stall_after` count pieces of `chunks` (a `body`
    counts as one piece).
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes | None = None
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0
    reset_after: int | None = None
    stall_after: int | None = None
    reset_before_status: bool = False


@attrs.frozen
class ScriptedResponse:
    """One `MockServer.enqueue(...)` entry."""

    status: int
    body: bytes | str | dict[str, Any] | None
    headers: dict[str, str] | None
    chunks: list[bytes] | None
    chunk_delay: float
    first_byte_delay: float
    reset_after: int | None
    stall_after: int | None
    path: str | None
    reset_before_status: bool = False

    def to_reply(self, request_id: str) -> Reply:
        given = dict(self.headers or {})
        lower = {k.lower(): v for k, v in given.items()}
        rid = lower.get("x-request-id")
        body: bytes | None
        if isinstance(self.body, dict):
            payload = dict(self.body)
            if rid is None and isinstance(payload.get("request_id"), str):
                rid = payload["request_id"]
            rid = rid or request_id
            payload.setdefault("request_id", rid)
            body = dumps(payload)
            default_type = JSON_CONTENT_TYPE
        else:
            rid = rid or request_id
            body = self.body.encode("utf-8") if isinstance(self.body, str) else self.body
            sample = body if body is not None else b"".join(self.chunks or [])
            default_type = guess_content_type(sample) if sample else ""
        headers = list(given.items())
        if "x-request-id" not in lower:
            headers.append(("x-request-id", rid))
        if "content-type" not in lower and default_type:
            headers.append(("Content-Type", default_type))
        if self.chunks is not None:
            pieces = list(self.chunks)
            if body:
                pieces.insert(0, body)
            return Reply(
                status=self.status,
                headers=headers,
                chunks=pieces,
                chunk_delay=self.chunk_delay,
                first_byte_delay=self.first_byte_delay,
                reset_after=self.reset_after,
                stall_after=self.stall_after,
                reset_before_status=self.reset_before_status,
            )
        return Reply(
            status=self.status,
            headers=headers,
            body=body or b"",
            chunk_delay=self.chunk_delay,
            first_byte_delay=self.first_byte_delay,
            reset_after=self.reset_after,
            stall_after=self.stall_after,
            reset_before_status=self.reset_before_status,
        )


@attrs.frozen
class StreamErrorScript:
    """One `MockServer.enqueue_stream_error(...)` entry: a simulated answer cut by an error."""

    after_events: int
    status: int
    code: str
    message: str
    path: str | None


Scripted = ScriptedResponse | StreamErrorScript


class ScriptQueue:
    """Thread-safe FIFO of scripted entries; each entry may be limited to a path suffix."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[Scripted] = deque()

    def put(self, item: Scripted) -> None:
        with self._lock:
            self._items.append(item)

    def take(self, path: str) -> Scripted | None:
        """Remove and return the oldest entry that applies to `path`, if any."""
        with self._lock:
            for item in self._items:
                if item.path is None or path.endswith(item.path):
                    self._items.remove(item)
                    return item
        return None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
