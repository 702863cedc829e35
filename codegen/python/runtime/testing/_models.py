"""Public record types of the mock server."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class RecordedRequest:
    """One request as the mock server received it.

    `headers` has lower-case names; an `authorization` value is redacted to `Bearer sk-***`.
    `query` maps each query parameter to its last value. `json` is the parsed body, or None
    when the body is empty or not JSON.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None

    def header(self, name: str, default: str = "") -> str:
        """A header value by case-insensitive name (`default` when absent)."""
        return self.headers.get(name.lower(), default)
