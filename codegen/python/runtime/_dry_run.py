"""Build a request without sending it: the exact body and headers a `create()` call would send.

    from modelstudio._dry_run import DryRunModelStudio

    with DryRunModelStudio(api_key="sk-...") as client:
        call = client.prepared(client.generation, model="qwen-plus", messages=[...])
        call.request.content  # the JSON body, byte for byte

The resources build the body exactly as for a real call and the shared `prepare()` validates it
and builds the `httpx.Request`; only the sending is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelstudio._base_client import CallOptions, Endpoint, PreparedCall, prepare
from modelstudio._client import ModelStudio

REDACTED_AUTHORIZATION = "Bearer sk-***"


class DryRunModelStudio(ModelStudio):
    """A `ModelStudio` whose `create()` calls return the `PreparedCall` instead of sending it."""

    def _call(
        self, endpoint: Endpoint, body: dict[str, Any], stream: bool, options: CallOptions
    ) -> Any:
        return prepare(self._settings, self._http, endpoint, body, stream, options)

    def prepared(self, resource: Any, **kwargs: Any) -> PreparedCall:
        """The validated request `resource.create(**kwargs)` would send (ValidationError if not)."""
        call = resource.create(**kwargs)
        if not isinstance(call, PreparedCall):  # pragma: no cover - a resource bypassed _call
            raise TypeError(f"{type(resource).__name__}.create() did not go through _call")
        return call


def describe(call: PreparedCall) -> dict[str, Any]:
    """The request as a JSON-able dict: method, url, headers (key redacted) and parsed body."""
    request = call.request
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        if name.lower() == "authorization":
            value = REDACTED_AUTHORIZATION
        headers[_canonical(name)] = value
    content = request.content
    body: Any = json.loads(content) if content else None
    return {
        "method": request.method,
        "url": str(request.url),
        "headers": headers,
        "body": body,
    }


def _canonical(name: str) -> str:
    """`x-dashscope-sse` -> `X-DashScope-SSE`-ish: each dash-separated word capitalised."""
    known: Mapping[str, str] = {
        "x-dashscope-sse": "X-DashScope-SSE",
        "x-dashscope-workspace": "X-DashScope-WorkSpace",
        "x-dashscope-ossresourceresolve": "X-DashScope-OssResourceResolve",
    }
    lowered = name.lower()
    return known.get(lowered) or "-".join(part.capitalize() for part in lowered.split("-"))
