"""Byte-level framing of what the mock server sends: JSON bodies, DashScope SSE, OpenAI SSE."""

from __future__ import annotations

import json
import uuid
from typing import Any

SSE_CONTENT_TYPE = "text/event-stream;charset=UTF-8"
JSON_CONTENT_TYPE = "application/json"


def new_request_id() -> str:
    """A fresh request id, as the service sends in `x-request-id` and `request_id`."""
    return str(uuid.uuid4())


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (as the service sends it)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dashscope_event(event_id: int, data: Any, *, event: str = "result", status: int = 200) -> bytes:
    """One DashScope SSE event: `id:`, `event:`, `:HTTP_STATUS/`, `data:`, blank line."""
    return (
        f"id:{event_id}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:".encode()
        + dumps(data)
        + b"\n\n"
    )


def openai_event(data: Any) -> bytes:
    """One OpenAI-compatible SSE event: `data: {json}` and a blank line."""
    return b"data: " + dumps(data) + b"\n\n"


OPENAI_DONE = b"data: [DONE]\n\n"


def guess_content_type(data: bytes) -> str:
    """Content type for a scripted body given as bytes or str."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:16]
    if head.startswith((b"{", b"[")):
        return JSON_CONTENT_TYPE
    if head.startswith((b"id:", b"data:", b"event:", b":")):
        return SSE_CONTENT_TYPE
    return "text/plain; charset=utf-8"
