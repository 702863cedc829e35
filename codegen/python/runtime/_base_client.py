"""Configuration and the request pipeline shared by `ModelStudio` and `AsyncModelStudio`.

Everything but sending and sleeping is here and pure: the sync and async clients differ only in
`_send` (httpx.Client vs httpx.AsyncClient) and in `time.sleep` vs `asyncio.sleep`.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import socket
import ssl
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ._checks import VALIDATION_MODES, Problem, ValidationMode, enforce
from ._deadline import Deadline, DeadlineExceeded, TimedAsyncStream, TimedSyncStream
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    IncompleteResponseError,
    ModelStudioError,
    ValidationError,
    error_from_response_body,
    error_in_success_body,
    make_status_error,
    redact_error,
)
from ._logs import SecretHeaders, logger, redact_headers, redact_key
from ._options import (
    DEFAULT_MAX_RETRIES,
    PROTOCOLS,
    UPLOAD_MODES,
    check_api_key,
    check_base_url,
    check_headers,
    check_max_retries,
    check_seconds,
    check_timeout,
    check_workspace,
    dump_body,
)
from ._record import FrozenRecord, Record
from ._serde import json_kind

if TYPE_CHECKING:
    from ._direct import DirectRequests
    from ._protocols import Translation

# Loaded on first use, not by `import modelstudio` / `ModelStudio()`: media planning (`_media`,
# with the model table's families) on the first call, the OpenAI-compatible translation
# (`_protocols`) on the first call that needs it, the retry policy (`_retry`) on the first
# failure (the test of the import path is tests/test_layout.py).

VERSION = "0.1.0"
# The name to `pip install` (the import name is `modelstudio`; that name on PyPI is taken).
DISTRIBUTION = "modelstudio-client"
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
DEFAULT_STREAM_IDLE_TIMEOUT = 120.0
REGIONS = {
    "intl": "https://dashscope-intl.aliyuncs.com/api/v1",
    "cn": "https://dashscope.aliyuncs.com/api/v1",
}
ResponseT = TypeVar("ResponseT")


class InsecureTransportWarning(UserWarning):
    """The API key would be sent over plain http:// to a host that is not this machine."""


class Endpoint(FrozenRecord):
    """One generated operation as the pipeline needs it.

    `chunk_class` returns the stream-chunk class (imported on first use):
    `chunk_class()._lazy(data, delta)` builds a chunk whose typed fields are decoded on first
    read."""

    __slots__ = (  # noqa: RUF023  (declaration order: the repr's field order)
        "operation_id",
        "path",
        "endpoint",
        "wire",
        "validate",
        "decode_response",
        "decode_chunk",
        "chunk_class",
    )
    operation_id: str
    path: str
    endpoint: str
    wire: str
    validate: Callable[[Mapping[str, Any], bool], list[Problem]]
    decode_response: Callable[[Mapping[str, Any]], Any]
    decode_chunk: Callable[[Mapping[str, Any]], Any]
    chunk_class: Callable[[], Any]

    def __init__(
        self,
        operation_id: str,
        path: str,
        endpoint: str,
        wire: str,
        validate: Callable[[Mapping[str, Any], bool], list[Problem]],
        decode_response: Callable[[Mapping[str, Any]], Any],
        decode_chunk: Callable[[Mapping[str, Any]], Any],
        chunk_class: Callable[[], Any],
    ) -> None:
        self._set(
            operation_id=operation_id,
            path=path,
            endpoint=endpoint,
            wire=wire,
            validate=validate,
            decode_response=decode_response,
            decode_chunk=decode_chunk,
            chunk_class=chunk_class,
        )


class CallOptions(FrozenRecord):
    """Per-call overrides of the client's settings; None means the client's own."""

    __slots__ = (  # noqa: RUF023  (declaration order: the repr's field order)
        "extra_headers",
        "timeout",
        "max_retries",
        "stream_idle_timeout",
        "validation",
        "upload",
        "deadline",
    )
    extra_headers: Mapping[str, str] | None
    timeout: float | httpx.Timeout | None
    max_retries: int | None
    stream_idle_timeout: float | None
    validation: ValidationMode | None
    upload: str | None
    deadline: float | None

    def __init__(
        self,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        stream_idle_timeout: float | None = None,
        validation: ValidationMode | None = None,
        upload: str | None = None,
        deadline: float | None = None,
    ) -> None:
        self._set(
            extra_headers=extra_headers,
            timeout=timeout,
            max_retries=max_retries,
            stream_idle_timeout=stream_idle_timeout,
            validation=validation,
            upload=upload,
            deadline=deadline,
        )


NO_OPTIONS = CallOptions()
"""The options of a call that overrides none of the client's settings (what most calls pass)."""


@functools.cache
def user_agent() -> str:
    import platform  # not at module level: ~2 ms that only the first request needs

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
        deadline: float | None = None,
    ) -> None:
        key = api_key if api_key is not None else environ.get("DASHSCOPE_API_KEY")
        if not key:
            raise ModelStudioError(
                "No API key: pass api_key= to the client or set the DASHSCOPE_API_KEY "
                "environment variable."
            )
        secret = check_api_key(key)
        del key, api_key  # only the redacted-repr Secret stays in this frame's locals
        if region is not None and region not in REGIONS:
            raise _choice("region", region, sorted(REGIONS))
        check_max_retries(max_retries)
        url = (
            base_url
            or (REGIONS[region] if region is not None else None)
            or environ.get("DASHSCOPE_BASE_URL")
            or environ.get("DASHSCOPE_HTTP_BASE_URL")
            or REGIONS[region or "intl"]
        )
        check_base_url(url)
        mode = validation or "strict"
        if mode not in VALIDATION_MODES:
            raise _choice("validation", mode, VALIDATION_MODES)
        self.api_key = secret
        self.base_url = url.rstrip("/")
        self.workspace = check_workspace(workspace)
        self.timeout = as_timeout(check_timeout("timeout", timeout))
        self.max_retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        idle = check_seconds("stream_idle_timeout", stream_idle_timeout)
        self.stream_idle_timeout = DEFAULT_STREAM_IDLE_TIMEOUT if idle is None else idle
        self.deadline = check_seconds("deadline", deadline)
        self.validation: ValidationMode = mode
        self.default_headers = check_headers("default_headers", default_headers) or {}
        if upload is not None and upload not in UPLOAD_MODES:
            raise _choice("upload", upload, UPLOAD_MODES)
        self.upload = upload or "auto"
        if protocol is not None and protocol not in PROTOCOLS:
            raise _choice("protocol", protocol, PROTOCOLS)
        self.protocol = protocol or "native"

    def __repr__(self) -> str:
        url = self.__dict__.get("base_url")  # absent while __init__ runs
        where = safe_url(url) if url is not None else None
        return f"Settings(base_url={where!r}, workspace={self.__dict__.get('workspace')!r})"

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
        headers = SecretHeaders(
            {
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
                "User-Agent": user_agent(),
            }
        )
        if self.workspace:
            headers["X-DashScope-WorkSpace"] = self.workspace
        if stream:
            headers["Accept"] = "text/event-stream"
        headers.update(self.default_headers)
        if extra:
            headers.update(extra)
        return headers


def _choice(option: str, value: object, allowed: Any) -> ValidationError:
    return ValidationError(
        f"{option}={value!r}: must be one of {tuple(allowed)}",
        param=option,
        value=value,
        rule="enum",
    )


def check_call_options(options: CallOptions) -> None:
    """Refuse a call option of the wrong type or out of range (before any I/O)."""
    check_headers("extra_headers", options.extra_headers)
    check_timeout("timeout", options.timeout)
    check_max_retries(options.max_retries)
    check_seconds("stream_idle_timeout", options.stream_idle_timeout)
    check_seconds("deadline", options.deadline)
    if options.upload is not None and options.upload not in UPLOAD_MODES:
        raise _choice("upload", options.upload, UPLOAD_MODES)


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class PreparedCall(Record):
    """A validated request, ready to send, and what decoding its answer needs.

    `media`: a `_media.MediaPlan` when local files must be inlined or uploaded before sending.
    `translation`: set when a native call goes over the OpenAI-compatible wire
    (`protocol="openai"`). `include_usage`: the compatible-mode body asks for the usage chunk
    (`stream_options.include_usage`). `timeouts`: the request's own timeouts (connect, read,
    write, pool), restored at each attempt. `idle_timeout`: the read timeout of a stream once
    its headers arrived. `deadline`: the clock of the whole call (`deadline=`), started when the
    call was prepared. The repr hides `api_key`."""

    __slots__ = (  # noqa: RUF023  (declaration order: the repr's field order)
        "endpoint",
        "request",
        "stream",
        "incremental",
        "max_retries",
        "api_key",
        "media",
        "translation",
        "include_usage",
        "timeouts",
        "idle_timeout",
        "deadline",
    )
    _hidden = frozenset(("api_key",))
    endpoint: Endpoint
    request: httpx.Request
    stream: bool
    incremental: bool
    max_retries: int
    api_key: str
    media: Any
    translation: Translation | None
    include_usage: bool
    timeouts: dict[str, float | None]
    idle_timeout: float
    deadline: Deadline | None

    def __init__(
        self,
        endpoint: Endpoint,
        request: httpx.Request,
        stream: bool,
        incremental: bool,
        max_retries: int,
        api_key: str,
        media: Any = None,
        translation: Translation | None = None,
        include_usage: bool = False,
        timeouts: dict[str, float | None] | None = None,
        idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT,
        deadline: Deadline | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.request = request
        self.stream = stream
        self.incremental = incremental
        self.max_retries = max_retries
        self.api_key = api_key
        self.media = media
        self.translation = translation
        self.include_usage = include_usage
        self.timeouts = {} if timeouts is None else timeouts
        self.idle_timeout = idle_timeout
        self.deadline = deadline


@functools.cache
def _media_checks() -> tuple[Callable[[Any], bool], Callable[..., tuple[list[Problem], Any]]]:
    """`_media`'s checks, imported on the first call (an import statement in `prepare` would
    run the import machinery on every call)."""
    from ._media import contains_oss, media_problems

    return contains_oss, media_problems


def prepare(
    settings: Settings,
    http: httpx.Client | httpx.AsyncClient,
    endpoint: Endpoint,
    body: dict[str, Any],
    stream: bool,
    options: CallOptions,
    direct: DirectRequests | None = None,
) -> PreparedCall:
    """Validate `body` (before any I/O) and build the request (by `direct` on a client the SDK
    made itself, else by `http.build_request`)."""
    if options is not NO_OPTIONS:
        check_call_options(options)
    mode = options.validation or settings.validation
    if mode not in VALIDATION_MODES:
        raise _choice("validation", mode, VALIDATION_MODES)
    contains_oss, media_problems = _media_checks()
    media_issues, media = media_problems(body, endpoint.endpoint, options.upload or settings.upload)
    if mode != "off":
        problems = endpoint.validate(body, stream)
        if media_issues:
            problems += media_issues
        if problems:
            model = body.get("model")
            enforce(
                problems, mode=mode, model=model if isinstance(model, str) else None, family=None
            )
    translation, wire_body, url = _wire_of(settings, endpoint, body, stream, media)
    sse = stream and endpoint.wire == "native" and translation is None
    timeout = as_timeout(options.timeout) if options.timeout is not None else settings.timeout
    content = dump_body(wire_body)
    # An oss:// string is in the JSON text as '"oss://': only then walk the body for it.
    oss = (b'"oss://' in content or wire_body is not body) and contains_oss(body)
    extra = options.extra_headers
    if direct is not None:
        key = (settings, url, stream, sse, oss, tuple(extra.items()) if extra else None)
        request = direct.request(
            _parsed_url(url),
            content,
            timeout,
            key,
            lambda: call_headers(settings, stream, extra, sse, oss),
        )
    else:
        request = http.build_request(
            "POST",
            _parsed_url(url),
            content=content,
            headers=call_headers(settings, stream, extra, sse, oss),
            timeout=timeout,
        )
    if logger.isEnabledFor(10):
        headers = redact_headers(call_headers(settings, stream, extra, sse, oss))
        logger.debug("request %s %s headers=%s", request.method, request.url, headers)
    params = body.get("parameters") if endpoint.wire == "native" else body
    incremental = not (isinstance(params, Mapping) and params.get("incremental_output") is False)
    max_retries = settings.max_retries if options.max_retries is None else options.max_retries
    call = PreparedCall(endpoint, request, stream, incremental, max_retries, settings.api_key)
    call.timeouts = dict(request.extensions.get("timeout") or {})
    call.idle_timeout = options.stream_idle_timeout or settings.stream_idle_timeout
    deadline = options.deadline if options.deadline is not None else settings.deadline
    call.deadline = Deadline(deadline) if deadline is not None else None
    call.media = media
    if translation is not None or endpoint.wire == "openai":
        call.translation = translation
        options_ = wire_body.get("stream_options")
        call.include_usage = isinstance(options_, Mapping) and options_.get("include_usage") is True
    return call


def call_headers(
    settings: Settings,
    stream: bool,
    extra: Mapping[str, str] | None,
    sse: bool,
    oss: bool,
) -> dict[str, str]:
    """The headers of one call, before httpx adds the client's own, Host and Content-Length."""
    headers = settings.headers(stream, extra)
    if sse:
        headers["X-DashScope-SSE"] = "enable"
    if oss:
        from ._media import OSS_RESOLVE_HEADER

        headers[OSS_RESOLVE_HEADER] = "enable"
    return headers


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
    from ._protocols import CHAT_COMPLETIONS_PATH, native_to_openai_request, translation_for

    translated = native_to_openai_request(body, stream=stream)
    url = compatible_base(settings.base_url) + CHAT_COMPLETIONS_PATH
    return translation_for(endpoint.endpoint, body), translated, url


def log_response(response: httpx.Response, attempt: int, api_key: str | None = None) -> None:
    """DEBUG: one line per answer (status, request id, attempt); never any request header, nor
    the key a server might echo in its request id."""
    if logger.isEnabledFor(10):
        logger.debug(
            "response %s %s (attempt %d) request_id=%s",
            response.status_code,
            response.reason_phrase,
            attempt + 1,
            redact_key(response.headers.get("x-request-id") or "", api_key) or None,
        )


def safe_url(url: httpx.URL | str) -> str:
    """`url` without user info and query (either may hold a credential)."""
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


def _cause_text(exc: BaseException) -> str:
    """What a transport error says, down its chain: `[Errno 111] Connection refused`, a DNS
    failure, a TLS alert."""
    seen: set[int] = set()
    current: BaseException | None = exc
    texts: list[str] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip()
        errno = getattr(current, "errno", None)
        if (
            isinstance(current, OSError)
            and not isinstance(current, ssl.SSLError)  # its errno is a TLS library code
            and isinstance(errno, int)
            and errno > 0
        ):
            reason = os.strerror(errno)  # "Connection refused" where asyncio says "Connect call"
            if reason not in text:
                text = f"{text} ({reason})" if text else reason
        if text and not any(text in seen_text for seen_text in texts):
            texts.append(text)
        current = current.__cause__ or current.__context__
    return "; ".join(texts) or type(exc).__name__


def _failed_to_resolve(exc: BaseException) -> bool:
    """Whether `exc` (down its chain) is a failed name resolution: `socket.gaierror` from
    getaddrinfo, or aiohttp's DNS error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror) or type(current).__name__.endswith("DNSError"):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe_transport_error(exc: httpx.HTTPError, url: httpx.URL) -> str:
    """The message a user sees for a transport failure: what failed, where, and why."""
    where = safe_url(url)
    detail = _cause_text(exc)
    if isinstance(exc, DeadlineExceeded):
        return f"{detail} ({where})"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"Timed out connecting to {where}."
    if isinstance(exc, httpx.PoolTimeout):
        return f"Timed out waiting for a free connection to {where}."
    if isinstance(exc, httpx.TimeoutException):
        return f"Timed out waiting for {where} ({type(exc).__name__})."
    if isinstance(exc, httpx.ConnectError):
        if _failed_to_resolve(exc):
            return f"Could not connect to {where}: its host name did not resolve (DNS): {detail}"
        if "ssl" in detail.lower() or "certificate" in detail.lower():
            return f"TLS handshake with {where} failed: {detail}"
        return f"Could not connect to {where}: {detail}"
    return f"Connection to {where} failed ({type(exc).__name__}): {detail}"


def _redacted_cause(exc: BaseException, key: str) -> BaseException:
    """`exc`, or a stand-in of the same name with the key removed when its chain shows it."""
    if key not in _cause_text(exc) and key not in repr(exc.args):
        return exc
    stand_in = httpx.TransportError(f"{type(exc).__name__}: {_cause_text(exc).replace(key, '***')}")
    stand_in.__suppress_context__ = True
    return stand_in


def after_exception(
    exc: httpx.HTTPError, call: PreparedCall, attempt: int
) -> tuple[ModelStudioError, float | None]:
    """The error an attempt's transport failure means, and the delay before a retry (or None)."""
    error: APIConnectionError
    if isinstance(exc, httpx.TimeoutException) and call.deadline and call.deadline.spent():
        exc = call.deadline.expired_error()  # the timeout was the deadline's bound
    from ._retry import decide_for_exception

    message = redact_key(describe_transport_error(exc, call.request.url), call.api_key)
    if isinstance(exc, httpx.TimeoutException):
        error = APITimeoutError(message)
    else:
        error = APIConnectionError(message)
    error.__cause__ = _redacted_cause(exc, call.api_key)
    decision = decide_for_exception(exc, stream_started=False)
    return error, retry_delay(decision.retry, decision.reason, attempt, call, None)


def redirect_refusal(
    response: httpx.Response, target: httpx.Request, follow: bool, call: PreparedCall
) -> APIStatusError | None:
    """None when the redirect to `target` may be followed (307/308: same method and body),
    else the error to raise: the service does not redirect generation calls, and a POST turned
    into a bodyless GET would return some other page as the answer."""
    sent = response.request
    where = safe_url(target.url)
    if target.method == sent.method and follow:
        return None
    if target.method != sent.method:
        why = f"which would turn this {sent.method} into a {target.method} without its body"
    else:
        why = "and this client does not follow redirects"
    message = (
        f"The server answered {response.status_code} {response.reason_phrase}, redirecting to "
        f"{where}, {why}; it was not followed. Check base_url (a proxy or a wrong host?)."
    )
    return make_status_error(
        response.status_code,
        code=None,
        message=redact_key(message, call.api_key),
        request_id=response.headers.get("x-request-id"),
        headers=response.headers,
        body=b"",
        api_key=call.api_key,
    )


def timed_body(response: httpx.Response, call: PreparedCall) -> None:
    """Bound each read of the body: by the stream idle timeout for a 2xx stream, else by the
    call's read timeout, each cut to what is left of the deadline."""
    if not call.stream and call.deadline is None:
        return  # the request's own timeouts bound each read already
    read = call.idle_timeout if call.stream and response.status_code < 400 else None
    inner = response.stream
    if isinstance(inner, httpx.AsyncByteStream):
        response.stream = TimedAsyncStream(
            inner, response.request, call.timeouts, call.deadline, read
        )
    elif isinstance(inner, httpx.SyncByteStream):
        response.stream = TimedSyncStream(
            inner, response.request, call.timeouts, call.deadline, read
        )


def cut_error(response: httpx.Response, exc: httpx.HTTPError, call: PreparedCall) -> APIError:
    """The error for a body that failed after its status arrived: never retried."""
    request_id = response.headers.get("x-request-id")
    where = safe_url(response.request.url)
    if isinstance(exc, httpx.TimeoutException):
        timeout: APIError = APITimeoutError(
            redact_key(
                f"The answer from {where} (HTTP {response.status_code}) stopped arriving: "
                f"{_cause_text(exc) if isinstance(exc, DeadlineExceeded) else 'read timeout'}. "
                "Not retried: the service had answered, so it may have generated it.",
                call.api_key,
            ),
            request_id=request_id,
        )
        timeout.__cause__ = _redacted_cause(exc, call.api_key)
        return redact_error(timeout, call.api_key)
    error = IncompleteResponseError(
        redact_key(
            f"The answer from {where} was cut after its status (HTTP {response.status_code}) "
            f"arrived: {_cause_text(exc)}. Not retried: the service had answered, so it may "
            "have generated (and billed) it; check request_id before sending it again.",
            call.api_key,
        ),
        status_code=response.status_code,
        headers=response.headers,
        request_id=request_id,
    )
    error.__cause__ = _redacted_cause(exc, call.api_key)
    return redact_error(error, call.api_key)


def after_status(
    status_code: int, headers: httpx.Headers, body: bytes, call: PreparedCall, attempt: int
) -> tuple[APIStatusError, float | None]:
    """The error a non-2xx answer means, and the delay before a retry (or None)."""
    from ._retry import decide_for_status

    error = error_from_response_body(status_code, headers, body, api_key=call.api_key)
    decision = decide_for_status(error.status_code, error.code, error.message)
    return error, retry_delay(decision.retry, decision.reason, attempt, call, headers)


def within_deadline(call: PreparedCall, delay: float) -> bool:
    """Whether a retry after `delay` seconds would still start before the call's deadline."""
    return call.deadline is None or call.deadline.remaining() > delay


def retry_delay(
    retry: bool, reason: str, attempt: int, call: PreparedCall, headers: httpx.Headers | None
) -> float | None:
    if not retry or attempt >= call.max_retries:
        return None
    from ._retry import backoff_delay, describe_retry

    delay = backoff_delay(attempt + 1, headers)
    logger.info(describe_retry(attempt + 1, call.max_retries, reason, delay))
    return delay


def decode_json_response(call: PreparedCall, response: httpx.Response, body: bytes) -> Any:
    """A 2xx JSON answer as the typed response; an error code in a 200 body raises. An answer
    that cannot be read as the documented one (not JSON, nested too deeply, not an object, a
    field out of shape) raises `APIResponseValidationError` with the answer's status, headers
    and first bytes."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise _unreadable(
            call,
            response,
            body,
            f"the body is JSON nested too deeply to decode ({len(body)} bytes)",
        ) from None
    except ValueError as exc:
        raise _unreadable(
            call, response, body, f"the body is not JSON ({len(body)} bytes)"
        ) from exc
    if not isinstance(data, dict):
        raise _unreadable(call, response, body, f"the body is {json_kind(data)}, not an object")
    if error_in_success_body(data):
        raise _body_error(response, data, body, call)
    try:
        if call.translation is not None:
            data = call.translation.response(data)
        result = call.endpoint.decode_response(data)
    except APIResponseValidationError as error:
        error._with_answer(response.status_code, response.headers, body, call.api_key)
        raise
    if response.headers.get("x-dashscope-partialresponse", "").lower() == "true":
        result.partial = True
    if getattr(result, "request_id", "") is None:
        result.request_id = response.headers.get("x-request-id")
    return result


def _unreadable(
    call: PreparedCall, response: httpx.Response, body: bytes, what: str
) -> APIResponseValidationError:
    error = APIResponseValidationError(
        f"The answer (HTTP {response.status_code}) cannot be read as the documented one: {what}",
        path="(the body)",
    )
    return error._with_answer(response.status_code, response.headers, body, call.api_key)


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
