"""Configuration and the request pipeline shared by `ModelStudio` and `AsyncModelStudio`.

Everything but sending and sleeping is here and pure: the sync and async clients differ only in
`_send` (httpx.Client vs httpx.AsyncClient) and in `time.sleep` vs `asyncio.sleep`.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import platform
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import httpx

from ._checks import VALIDATION_MODES, Problem, ValidationMode, enforce
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ModelStudioError,
    error_from_response_body,
    error_in_success_body,
    make_status_error,
)
from ._logs import logger, redact_headers
from ._media import OSS_RESOLVE_HEADER, UPLOAD_MODES, contains_oss, media_problems
from ._protocols import (
    CHAT_COMPLETIONS_PATH,
    PROTOCOLS,
    Translation,
    native_to_openai_request,
    translation_for,
)
from ._retry import DEFAULT_MAX_RETRIES, backoff_delay, decide_for_exception, decide_for_status
from ._retry import describe_retry as _describe_retry

VERSION = "0.1.0"
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
DEFAULT_STREAM_IDLE_TIMEOUT = 120.0
REGIONS = {
    "intl": "https://dashscope-intl.aliyuncs.com/api/v1",
    "cn": "https://dashscope.aliyuncs.com/api/v1",
}
ResponseT = TypeVar("ResponseT")


class InsecureTransportWarning(UserWarning):
    """The API key would be sent over plain http:// to a host that is not this machine."""


@attrs.frozen
class Endpoint:
    """One generated operation as the pipeline needs it."""

    operation_id: str
    path: str
    endpoint: str
    wire: str
    validate: Callable[[Mapping[str, Any], bool], list[Problem]]
    decode_response: Callable[[Mapping[str, Any]], Any]
    chunk_class: Callable[[], Any]
    """The stream-chunk class (imported on first use): `chunk_class()._lazy(data, delta)`."""


@attrs.frozen
class CallOptions:
    """Per-call overrides of the client's settings; None means the client's own."""

    extra_headers: Mapping[str, str] | None = None
    timeout: float | httpx.Timeout | None = None
    max_retries: int | None = None
    stream_idle_timeout: float | None = None
    validation: ValidationMode | None = None
    upload: str | None = None


@functools.cache
def user_agent() -> str:
    return f"modelstudio/{VERSION} python/{platform.python_version()}"


# A request URL parsed once: httpx parses a str URL on every request (~25 µs, a twentieth of a
# loopback call), an httpx.URL it reuses as is. A client has one or two distinct URLs.
_parsed_url = functools.lru_cache(maxsize=64)(httpx.URL)


def compatible_base(base_url: str) -> str:
    """The OpenAI-compatible base that goes with a native base URL."""
    if base_url.endswith("/api/v1"):
        return base_url[: -len("/api/v1")] + "/compatible-mode/v1"
    return base_url.rstrip("/") + "/compatible-mode/v1"


def as_timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, httpx.Timeout):
        return value
    return httpx.Timeout(value, connect=min(float(value), DEFAULT_TIMEOUT.connect or 10.0))


class Settings:
    """A client's resolved configuration, shared by its `with_options` copies."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        region: str | None,
        workspace: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int | None,
        stream_idle_timeout: float | None,
        validation: ValidationMode | None,
        default_headers: Mapping[str, str] | None,
        environ: Mapping[str, str] = os.environ,
        upload: str | None = None,
        protocol: str | None = None,
    ) -> None:
        key = api_key if api_key is not None else environ.get("DASHSCOPE_API_KEY")
        if not key:
            raise ModelStudioError(
                "No API key: pass api_key= to the client or set the DASHSCOPE_API_KEY "
                "environment variable."
            )
        if region is not None and region not in REGIONS:
            raise ValueError(f"region={region!r}: must be one of {sorted(REGIONS)}")
        if max_retries is not None and max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r}: must be 0 or more")
        url = (
            base_url
            or (REGIONS[region] if region is not None else None)
            or environ.get("DASHSCOPE_BASE_URL")
            or environ.get("DASHSCOPE_HTTP_BASE_URL")
            or REGIONS[region or "intl"]
        )
        mode = validation or "strict"
        if mode not in VALIDATION_MODES:
            raise ValueError(f"validation={mode!r}: must be one of {VALIDATION_MODES}")
        self.api_key = key
        self.base_url = url.rstrip("/")
        self.workspace = workspace
        self.timeout = as_timeout(timeout)
        self.max_retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        self.stream_idle_timeout = (
            DEFAULT_STREAM_IDLE_TIMEOUT if stream_idle_timeout is None else stream_idle_timeout
        )
        self.validation: ValidationMode = mode
        self.default_headers = dict(default_headers or {})
        if upload is not None and upload not in UPLOAD_MODES:
            raise ValueError(f"upload={upload!r}: must be one of {UPLOAD_MODES}")
        self.upload = upload or "auto"
        if protocol is not None and protocol not in PROTOCOLS:
            raise ValueError(f"protocol={protocol!r}: must be one of {PROTOCOLS}")
        self.protocol = protocol or "native"

    def __repr__(self) -> str:
        return f"Settings(base_url={self.base_url!r}, workspace={self.workspace!r})"

    def warn_if_insecure(self, stacklevel: int = 4) -> None:
        """Warn (once per call of this) when the key would travel in clear text off this host."""
        url = httpx.URL(self.base_url)
        if url.scheme == "http" and not _is_loopback(url.host):
            warnings.warn(
                f"The API key will be sent unencrypted to {url.host!r} (base_url uses http://); "
                "use https:// unless this is a trusted local proxy.",
                InsecureTransportWarning,
                stacklevel=stacklevel,
            )

    def url_for(self, endpoint: Endpoint) -> str:
        base = compatible_base(self.base_url) if endpoint.wire == "openai" else self.base_url
        return base + endpoint.path

    def headers(self, stream: bool, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Content-Type": "application/json",
            "User-Agent": user_agent(),
        }
        if self.workspace:
            headers["X-DashScope-WorkSpace"] = self.workspace
        if stream:
            headers["Accept"] = "text/event-stream"
        headers.update(self.default_headers)
        if extra:
            headers.update(extra)
        return headers


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@attrs.define
class PreparedCall:
    """A validated request, ready to send, and what decoding its answer needs."""

    endpoint: Endpoint
    request: httpx.Request
    stream: bool
    incremental: bool
    max_retries: int
    api_key: str
    media: Any = None
    """A `_media.MediaPlan` when local files must be inlined or uploaded before sending."""
    translation: Translation | None = None
    """Set when a native call goes over the OpenAI-compatible wire (`protocol="openai"`)."""
    include_usage: bool = False
    """The compatible-mode body asks for the usage chunk (`stream_options.include_usage`)."""


def prepare(
    settings: Settings,
    http: httpx.Client | httpx.AsyncClient,
    endpoint: Endpoint,
    body: dict[str, Any],
    stream: bool,
    options: CallOptions,
) -> PreparedCall:
    """Validate `body` (before any I/O) and build the request."""
    mode = options.validation or settings.validation
    if mode not in VALIDATION_MODES:
        raise ValueError(f"validation={mode!r}: must be one of {VALIDATION_MODES}")
    media_issues, media = media_problems(body, endpoint.endpoint, options.upload or settings.upload)
    if mode != "off":
        problems = endpoint.validate(body, stream) + media_issues
        if problems:
            model = body.get("model")
            enforce(
                problems, mode=mode, model=model if isinstance(model, str) else None, family=None
            )
    translation, wire_body, url = _wire_of(settings, endpoint, body, stream, media)
    headers = settings.headers(stream, options.extra_headers)
    if stream and endpoint.wire == "native" and translation is None:
        headers["X-DashScope-SSE"] = "enable"
    timeout = as_timeout(options.timeout) if options.timeout is not None else settings.timeout
    if stream:
        idle = options.stream_idle_timeout or settings.stream_idle_timeout
        timeout = httpx.Timeout(timeout.connect, read=idle, write=timeout.write, pool=timeout.pool)
    content = json.dumps(wire_body, ensure_ascii=False, separators=(",", ":")).encode()
    # An oss:// string is in the JSON text as '"oss://': only then walk the body for it.
    if (b'"oss://' in content or wire_body is not body) and contains_oss(body):
        headers[OSS_RESOLVE_HEADER] = "enable"
    request = http.build_request(
        "POST",
        _parsed_url(url),
        content=content,
        headers=headers,
        timeout=timeout,
    )
    if logger.isEnabledFor(10):
        logger.debug(
            "request %s %s headers=%s", request.method, request.url, redact_headers(headers)
        )
    params = body.get("parameters") if endpoint.wire == "native" else body
    incremental = not (isinstance(params, Mapping) and params.get("incremental_output") is False)
    max_retries = settings.max_retries if options.max_retries is None else options.max_retries
    call = PreparedCall(endpoint, request, stream, incremental, max_retries, settings.api_key)
    call.media = media
    if translation is not None or endpoint.wire == "openai":
        call.translation = translation
        options_ = wire_body.get("stream_options")
        call.include_usage = isinstance(options_, Mapping) and options_.get("include_usage") is True
    return call


def _wire_of(
    settings: Settings, endpoint: Endpoint, body: dict[str, Any], stream: bool, media: Any
) -> tuple[Translation | None, dict[str, Any], str]:
    """The answer translation (or None), the body to send and its URL: a native operation goes
    over the OpenAI-compatible wire when the client was made with `protocol="openai"`."""
    if settings.protocol != "openai" or endpoint.wire != "native":
        return None, body, settings.url_for(endpoint)
    if media is not None:
        raise ModelStudioError(
            "protocol='openai' does not send local files (the compatible mode takes only URLs and "
            "data URLs): pass a URL or data URL, or use protocol='native'."
        )
    translated = native_to_openai_request(body, stream=stream)
    url = compatible_base(settings.base_url) + CHAT_COMPLETIONS_PATH
    return translation_for(endpoint.endpoint, body), translated, url


def log_response(response: httpx.Response, attempt: int) -> None:
    """DEBUG: one line per answer (status, request id, attempt); never any request header."""
    if logger.isEnabledFor(10):
        logger.debug(
            "response %s %s (attempt %d) request_id=%s",
            response.status_code,
            response.reason_phrase,
            attempt + 1,
            response.headers.get("x-request-id"),
        )


def after_exception(
    exc: httpx.HTTPError, call: PreparedCall, attempt: int
) -> tuple[ModelStudioError, float | None]:
    """The error an attempt's transport failure means, and the delay before a retry (or None)."""
    error: APIConnectionError
    if isinstance(exc, httpx.TimeoutException):
        error = APITimeoutError()
    else:
        error = APIConnectionError(f"Connection error: {type(exc).__name__}")
    error.__cause__ = exc
    decision = decide_for_exception(exc, stream_started=False)
    return error, retry_delay(decision.retry, decision.reason, attempt, call, None)


def after_status(
    status_code: int, headers: httpx.Headers, body: bytes, call: PreparedCall, attempt: int
) -> tuple[APIStatusError, float | None]:
    """The error a non-2xx answer means, and the delay before a retry (or None)."""
    error = error_from_response_body(status_code, headers, body, api_key=call.api_key)
    decision = decide_for_status(error.status_code, error.code, error.message)
    return error, retry_delay(decision.retry, decision.reason, attempt, call, headers)


def retry_delay(
    retry: bool, reason: str, attempt: int, call: PreparedCall, headers: httpx.Headers | None
) -> float | None:
    if not retry or attempt >= call.max_retries:
        return None
    delay = backoff_delay(attempt + 1, headers)
    logger.info(_describe_retry(attempt + 1, call.max_retries, reason, delay))
    return delay


def decode_json_response(call: PreparedCall, response: httpx.Response, body: bytes) -> Any:
    """A 2xx JSON answer as the typed response; an error code in a 200 body raises."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise APIConnectionError(f"The response was not JSON ({len(body)} bytes)") from exc
    if not isinstance(data, dict):
        raise APIConnectionError("The response was not a JSON object")
    if error_in_success_body(data):
        raise _body_error(response, data, body, call)
    if call.translation is not None:
        data = call.translation.response(data)
    decode = call.endpoint.decode_response
    result = decode(data)
    # The typed fields are decoded when first read: look at the JSON, not at the result.
    if data.get("request_id") is None and "request_id" in getattr(result, "_WIRE_KEYS", ()):
        result = decode({**data, "request_id": response.headers.get("x-request-id")})
    if response.headers.get("x-dashscope-partialresponse", "").lower() == "true":
        result.partial = True
    return result


def _body_error(
    response: httpx.Response, data: Mapping[str, Any], body: bytes, call: PreparedCall
) -> APIStatusError:
    code = data.get("code")
    status = data.get("status_code")
    return make_status_error(
        status if isinstance(status, int) and status >= 400 else 400,
        code=str(code) if code else None,
        message=str(data.get("message") or ""),
        request_id=data.get("request_id") or response.headers.get("x-request-id"),
        headers=response.headers,
        body=body,
        api_key=call.api_key,
    )
