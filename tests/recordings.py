"""The recorded SSE bodies, repaired where the recordings README says they are defective."""

from __future__ import annotations

import re

from tests.paths import RECORDINGS

# Recording defect 1 (recordings README): these bodies lack the blank line between events
# (single-generation-message-reasoning-sse has one blank line at the very start and none after
# it), so a standards-following SSE decoder joins their events into one. They are repaired by
# inserting a blank line before every `id:` line after the first; nothing else is changed.
MISSING_SEPARATORS = {
    "single-generation-message-sse",
    "single-generation-message-with-tools-sse",
    "single-generation-message-reasoning-sse",
    "conversation-generation-message-sse",
    "conversation-generation-message-with-files-sse",
    "multimodal-generation-audio-sse",
}


def sse_body(case: str) -> bytes:
    """The recorded response body of `case`, with missing event separators restored."""
    body = (RECORDINGS / f"{case}.response.body.txt").read_bytes()
    if case in MISSING_SEPARATORS:
        first = body.find(b"id:")
        body = body[: first + 3] + re.sub(rb"\r?\nid:", b"\n\nid:", body[first + 3 :])
    return body
