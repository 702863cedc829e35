"""Build a request without sending it: the body and headers a `create()` call would send.

    from modelstudio._dry_run import DryRunModelStudio

    with DryRunModelStudio(api_key="sk-...") as client:
        call = client.prepared(client.generation, model="qwen-plus", messages=[...])
        call.request.content  # the JSON body, byte for byte

The resources build the body exactly as for a real call and the shared `prepare()` validates it
and builds the `httpx.Request`; local files are inlined as `data:` URLs as a real call does, and a
file a real call would upload stands as a placeholder; only the sending (and uploading) is left
out. `describe()` shows long `data:` URLs abbreviated, with their size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelstudio._base_client import CallOptions, Endpoint, PreparedCall, prepare
from modelstudio._client import ModelStudio
from modelstudio._media import MediaPlan, data_url
from modelstudio._upload import _apply, _rebuild

REDACTED_AUTHORIZATION = "Bearer sk-***"
NO_KEY = "(none: no API key is set; pass --api-key or set DASHSCOPE_API_KEY)"
# A data: URL longer than this is shown as its head and its size.
DATA_URL_SHOWN = 80


class DryRunModelStudio(ModelStudio):
    """A `ModelStudio` whose `create()` calls return the `PreparedCall` instead of sending it."""

    def _call(
        self, endpoint: Endpoint, body: dict[str, Any], stream: bool, options: CallOptions
    ) -> Any:
        call = prepare(self._settings, self._http, endpoint, body, stream, options)
        if call.media is not None:
            _resolve_without_uploading(call, call.media)
        return call

    def prepared(self, resource: Any, **kwargs: Any) -> PreparedCall:
        """The validated request `resource.create(**kwargs)` would send (ValidationError if not)."""
        call = resource.create(**kwargs)
        if not isinstance(call, PreparedCall):  # pragma: no cover - a resource bypassed _call
            raise TypeError(f"{type(resource).__name__}.create() did not go through _call")
        return call


def _resolve_without_uploading(call: PreparedCall, plan: MediaPlan) -> None:
    """Inline local files as a real call does; a file it would upload gets a placeholder URL."""
    uploads = 0
    for file in plan.files:
        if file.upload:
            uploads += 1
            size = f"{file.size:,} bytes"
            _apply(file, f"oss://(uploaded when sent: {file.path.name}, {size})")
        else:
            _apply(file, data_url(file.path, file.mime))
    _rebuild(call, plan)
    if uploads:
        call.request.headers["content-length"] = "(known after the upload)"


def _abbreviated(value: Any) -> Any:
    """`value` with every long `data:` URL cut to its head and its length."""
    if isinstance(value, str):
        if value.startswith("data:") and len(value) > DATA_URL_SHOWN:
            head, _, payload = value.partition(",")
            decoded = len(payload) * 3 // 4 - payload[-2:].count("=")
            return f"{head},{payload[:24]}... ({len(value):,} characters, {decoded:,} bytes)"
        return value
    if isinstance(value, list):
        return [_abbreviated(v) for v in value]
    if isinstance(value, dict):
        return {k: _abbreviated(v) for k, v in value.items()}
    return value


def describe(call: PreparedCall, *, has_key: bool = True) -> dict[str, Any]:
    """The request as a JSON-able dict: method, url, headers (key redacted, or said to be
    missing) and parsed body (long `data:` URLs abbreviated with their size)."""
    request = call.request
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        if name.lower() == "authorization":
            value = REDACTED_AUTHORIZATION if has_key else NO_KEY
        headers[_canonical(name)] = value
    content = request.content
    body: Any = _abbreviated(json.loads(content)) if content else None
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
