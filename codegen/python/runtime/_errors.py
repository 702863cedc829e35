"""The exceptions the SDK raises, and how an error response becomes one.

Hierarchy::

    ValueError
     └── ValidationError              bad argument, raised before any I/O
    ModelStudioError                  base of everything else
     └── APIError                     .message, .request_id
          ├── APIResponseValidationError  a 2xx answer that cannot be read (not JSON, wrong shape)
          ├── APIStatusError          the server answered with an error (.status_code, .code, ...)
          │    ├── BadRequestError            400
          │    ├── AuthenticationError        401
          │    ├── PermissionDeniedError      403
          │    ├── NotFoundError              404
          │    ├── ConflictError              409
          │    ├── UnprocessableEntityError   422
          │    ├── RateLimitError             429
          │    └── InternalServerError        >= 500
          └── APIConnectionError      no (complete) answer
               ├── APITimeoutError
               ├── IncompleteResponseError    the answer was cut after its status arrived
               └── IncompleteStreamError      the stream ended before its final event

No error ever holds the request headers, so the API key cannot leak through ``str()``,
``repr()``, a traceback or a pickle. Every class pickles and unpickles to an equal error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ._logs import REDACTED, redact_headers

if TYPE_CHECKING:
    from modelstudio._error_codes import CodeSet

__all__ = [
    "ValidationError",
    "ModelStudioError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "APIConnectionError",
    "APITimeoutError",
    "IncompleteResponseError",
    "IncompleteStreamError",
    "make_status_error",
    "redact_error",
    "request_key",
    "error_from_response_body",
    "error_in_success_body",
    "is_billing_error",
    "is_moderation_error",
    "is_throttling_error",
]

#: Longest message kept from a body that is not JSON.
MAX_TEXT_MESSAGE = 500

_BOM = "\ufeff"

# --------------------------------------------------------------------------------------------
# Error-code classification, shared with _retry. Codes are compared case-insensitively because
# the OpenAI-compatible endpoints spell some of them in snake case. The tables are the spec's
# `x-error-codes` (generated into _error_codes, imported with the first error: a successful
# call never classifies a code).
# --------------------------------------------------------------------------------------------


def _has_code(codes: CodeSet, normalized: str) -> bool:
    exact, prefixes, segments, _ = codes
    return (
        normalized in exact
        or normalized.split(".", 1)[0] in prefixes
        or normalized in segments
        or normalized.rsplit(".", 1)[-1] in segments
    )


def _says(codes: CodeSet, message: str | None) -> bool:
    text = (message or "").lower()
    return any(fragment in text for fragment in codes[3])


def _norm(code: str | None) -> str:
    return (code or "").strip().lower()


def is_billing_error(code: str | None, message: str | None) -> bool:
    """Whether an error is about the account (overdue bill, not purchased, free quota used up).

    Retrying never helps: the account must be fixed first.
    """
    from modelstudio._error_codes import BILLING

    return _has_code(BILLING, _norm(code)) or _says(BILLING, message)


def is_moderation_error(code: str | None, message: str | None) -> bool:
    """Whether content moderation rejected the input or the output.

    Matches ``DataInspectionFailed``, any code ending in ``.DataInspectionFailed`` (for
    example ``InternalError.Algo.DataInspectionFailed``), the OpenAI-compatible
    ``data_inspection_failed`` and a message saying data inspection failed.
    """
    from modelstudio._error_codes import MODERATION

    return _has_code(MODERATION, _norm(code)) or _says(MODERATION, message)


def is_throttling_error(status_code: int | None, code: str | None, message: str | None) -> bool:
    """Whether the request was rejected by a rate limit (worth retrying later).

    True for ``Throttling`` and every ``Throttling.*`` code (``Throttling.RateQuota``,
    ``Throttling.AllocationQuota``, ``Throttling.User``, ...), ``LimitRequests`` and the
    OpenAI-compatible ``limit_requests``, and for any HTTP 429, except billing errors (those are
    not cured by waiting).
    """
    from modelstudio._error_codes import THROTTLING

    if is_billing_error(code, message):
        return False
    if _has_code(THROTTLING, _norm(code)) or _says(THROTTLING, message):
        return True
    return status_code == 429


# --------------------------------------------------------------------------------------------
# Pickling: the constructors take keyword-only arguments, which BaseException.__reduce__
# cannot replay. These errors are rebuilt from their args and their __dict__ instead.
# --------------------------------------------------------------------------------------------


def _rebuild(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    error = cls.__new__(cls, *args)
    BaseException.__init__(error, *args)
    return error


class ValidationError(ValueError):
    """An argument is invalid; raised before any request is sent.

    ``str(error)`` is exactly ``message`` (the generated validator composes it). The other
    attributes say which parameter (``param``, a dotted path such as ``"parameters.top_p"``),
    what it was (``value``), which rule it broke (``rule``, for example ``"maximum"``), for which
    model when the rule depends on the model (``model``) and where it is documented (``docs``).
    ``kind`` names the kind of rule (``"range"``, ``"enum"``, ``"type"``, ``"rule"`` for a
    cross-field rule, ``"model"`` for a per-model one, ...) and ``problems`` holds every problem
    the call has (the first is the one the message starts with), each with ``param``, ``value``,
    ``rule``, ``kind`` and ``docs``.
    """

    def __init__(
        self,
        message: str,
        *,
        param: str,
        value: object,
        rule: str,
        model: str | None = None,
        docs: str | None = None,
        kind: str | None = None,
        problems: Sequence[Any] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.value = value
        self.rule = rule
        self.model = model
        self.docs = docs
        self.kind = kind
        self.problems = tuple(problems)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args), self.__dict__)


class ModelStudioError(Exception):
    """Base class of every error the SDK raises, except :class:`ValidationError`."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args), self.__dict__)


class APIError(ModelStudioError):
    """A request failed. ``message`` is the human-readable reason."""

    message: str
    request_id: str | None

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request_id: {self.request_id})"
        return self.message


class APIResponseValidationError(APIError):
    """The service answered 2xx, but its answer cannot be read as the documented one: the body
    (or a stream event's data) is not JSON, is JSON nested too deeply to decode, is not an
    object, or a field of it does not have the documented shape (``output`` a number,
    ``choices`` holding strings). ``path`` names what is out of shape (``"output.choices[0]"``,
    ``"(the body)"``, ``"(the event data)"``); ``status_code``, ``headers`` and ``request_id``
    are the answer's (None where unknown) and ``body`` its first bytes (at most
    ``MAX_BODY_EXCERPT``). Never retried: the service had answered."""

    path: str
    status_code: int | None
    headers: httpx.Headers
    body: bytes

    def __init__(
        self,
        message: str,
        *,
        path: str,
        request_id: str | None = None,
        status_code: int | None = None,
        headers: httpx.Headers | Mapping[str, str] | None = None,
        body: bytes | str = b"",
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.path = path
        self.status_code = status_code
        self.headers = httpx.Headers(redact_headers(_as_headers(headers)))
        self.body = _excerpt(body)

    def _with_answer(
        self,
        status_code: int,
        headers: httpx.Headers,
        body: bytes | str,
        api_key: str | None,
    ) -> APIResponseValidationError:
        """This error, with the answer's status, headers, body excerpt and (when the decoder
        did not know it) request id, the key redacted; for a decoder that saw only the JSON."""
        if self.status_code is None:
            self.status_code = status_code
            self.headers = httpx.Headers(redact_headers(headers))
            key = (api_key or "").strip()
            if key:  # before the cut, which could leave part of the key
                body = body.replace(key, REDACTED) if isinstance(body, str) else body
                body = (
                    body.replace(key.encode(), REDACTED.encode())
                    if isinstance(body, bytes)
                    else body
                )
            self.body = _excerpt(body)
        if self.request_id is None:
            self.request_id = _str_or_none(self.headers.get("x-request-id"))
        return redact_error(self, api_key)


#: The most bytes of an answer an :class:`APIResponseValidationError` keeps.
MAX_BODY_EXCERPT = 1000


def _excerpt(body: bytes | str) -> bytes:
    data = body.encode("utf-8", "replace") if isinstance(body, str) else body
    return data[:MAX_BODY_EXCERPT]


class APIStatusError(APIError):
    """The server answered with an error.

    ``status_code`` is the HTTP status (for a streamed error, the status the stream reported),
    ``code`` the API's error code (``"InvalidParameter"``, ``"Throttling.RateQuota"``, ...),
    ``message`` its message, ``request_id`` the id to quote to support, ``headers`` the response
    headers and ``body`` the raw response body.
    """

    status_code: int
    code: str | None
    headers: httpx.Headers
    body: bytes

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        headers: httpx.Headers | Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.code = code
        # Response headers carry no credential; the redaction only matters if a caller hands
        # request headers over by mistake.
        self.headers = httpx.Headers(redact_headers(_as_headers(headers)))
        self.body = body

    def __str__(self) -> str:
        text = f"Error code: {self.status_code} - "
        text += f"{self.code}: {self.message}" if self.code else self.message
        if self.request_id:
            text += f" (request_id: {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )

    @property
    def is_moderation(self) -> bool:
        """Content moderation rejected the input or the output (``DataInspectionFailed``)."""
        return is_moderation_error(self.code, self.message)

    @property
    def is_throttling(self) -> bool:
        """A rate limit was hit (``Throttling*``, ``LimitRequests``, any 429 but billing)."""
        return is_throttling_error(self.status_code, self.code, self.message)

    @property
    def is_billing(self) -> bool:
        """The account cannot be charged (``Arrearage``, overdue bill, free quota used up)."""
        return is_billing_error(self.code, self.message)


class BadRequestError(APIStatusError):
    """HTTP 400: the request was rejected (``InvalidParameter``, ``DataInspectionFailed``...)."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing or invalid (``InvalidApiKey``)."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key may not use this model or workspace (``AccessDenied``...)."""


class NotFoundError(APIStatusError):
    """HTTP 404: the model or the resource does not exist (``ModelNotFound``...)."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429: a rate limit or a quota was hit (see ``is_throttling`` and ``is_billing``)."""


class InternalServerError(APIStatusError):
    """HTTP 5xx: the service failed (``InternalError``, ``SystemError``...)."""


class APIConnectionError(APIError):
    """No complete answer arrived: the connection failed or broke."""

    def __init__(
        self, message: str = "Connection error.", *, request_id: str | None = None
    ) -> None:
        super().__init__(message, request_id=request_id)


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(
        self, message: str = "Request timed out.", *, request_id: str | None = None
    ) -> None:
        super().__init__(message, request_id=request_id)


class IncompleteStreamError(APIConnectionError):
    """The stream was cut before its final event; ``received_events`` events had arrived."""

    received_events: int

    def __init__(
        self,
        message: str | None = None,
        *,
        received_events: int,
        request_id: str | None = None,
    ) -> None:
        if message is None:
            message = (
                f"The stream was cut before the final event "
                f"(after {received_events} event{'' if received_events == 1 else 's'})."
            )
        super().__init__(message, request_id=request_id)
        self.received_events = received_events


class IncompleteResponseError(APIConnectionError):
    """The answer was cut after its status line arrived (a reset, a short body, a truncated
    chunked body). It is never retried: the service had answered, so it may have generated
    (and billed) the answer already. ``status_code``, ``headers`` and ``request_id`` are what
    arrived."""

    status_code: int
    headers: httpx.Headers

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: httpx.Headers | Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.headers = httpx.Headers(redact_headers(_as_headers(headers)))


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _status_class(status_code: int) -> type[APIStatusError]:
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


def _as_headers(headers: httpx.Headers | Mapping[str, str] | None) -> httpx.Headers:
    if headers is None:
        return httpx.Headers()
    if isinstance(headers, httpx.Headers):
        return headers
    return httpx.Headers(dict(headers))


def _default_message(status_code: int) -> str:
    phrase = httpx.codes.get_reason_phrase(status_code)
    return phrase or f"HTTP {status_code}"


def make_status_error(
    status_code: int,
    *,
    code: str | None,
    message: str | None,
    request_id: str | None,
    headers: httpx.Headers | Mapping[str, str] | None,
    body: bytes,
    api_key: str | None = None,
) -> APIStatusError:
    """Build the :class:`APIStatusError` subclass that matches ``status_code``.

    400, 401, 403, 404, 409, 422 and 429 have their own class, every status >= 500 is an
    :class:`InternalServerError`, anything else a plain :class:`APIStatusError`. A missing
    message becomes the HTTP reason phrase. When ``api_key`` is given, it is removed from the
    message and the body, in case the server echoed it.
    """
    text = message if message else _default_message(status_code)
    error = _status_class(status_code)(
        text,
        status_code=status_code,
        code=code or None,
        request_id=request_id or None,
        headers=headers,
        body=body,
    )
    return redact_error(error, api_key)


_E = TypeVar("_E", bound=BaseException)


def redact_error(error: _E, api_key: str | None) -> _E:
    """`error` with every occurrence of the API key replaced by ``***``: its message and
    arguments, ``code``, ``request_id``, ``headers`` and ``body`` (a server may echo the key in
    any of them). Returns the same object."""
    key = (api_key or "").strip()
    if not key:
        return error
    fields = error.__dict__
    for name, value in list(fields.items()):
        if isinstance(value, str) and key in value:
            fields[name] = value.replace(key, REDACTED)
        elif isinstance(value, bytes) and key.encode() in value:
            fields[name] = value.replace(key.encode(), REDACTED.encode())
        elif isinstance(value, httpx.Headers) and key in repr(list(value.items())):
            fields[name] = httpx.Headers(
                [(k, v.replace(key, REDACTED)) for k, v in value.multi_items()]
            )
    error.args = tuple(
        arg.replace(key, REDACTED) if isinstance(arg, str) else arg for arg in error.args
    )
    return error


def request_key(request: httpx.Request | None) -> str | None:
    """The bearer key a request carried (to redact it from what its answer holds)."""
    if request is None:
        return None
    value = request.headers.get("authorization", "")
    scheme, _, key = value.partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _fields_from_object(payload: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(code, message, request_id) from a native or an OpenAI-compatible error object."""
    request_id = _str_or_none(payload.get("request_id"))
    error = payload.get("error")
    if isinstance(error, Mapping):
        code = _str_or_none(error.get("code")) or _str_or_none(error.get("type"))
        message = _str_or_none(error.get("message"))
        request_id = request_id or _str_or_none(error.get("request_id"))
        return code, message, request_id
    if isinstance(error, str) and error.strip() and not payload.get("message"):
        return _str_or_none(payload.get("code")), error.strip(), request_id
    return _str_or_none(payload.get("code")), _str_or_none(payload.get("message")), request_id


def _parse_sse_error(text: str) -> tuple[int | None, Mapping[str, Any] | None]:
    """The HTTP_STATUS comment and the JSON data of the error event of an event stream.

    Prefers the event named ``error``; else the last event whose data is an error object.
    """
    status: int | None = None
    chosen: Mapping[str, Any] | None = None
    event_name = ""
    event_status: int | None = None
    data_lines: list[str] = []

    def finish() -> None:
        nonlocal status, chosen, event_name, event_status, data_lines
        if data_lines:
            try:
                data = json.loads("\n".join(data_lines))
            except (ValueError, RecursionError):
                data = None
            is_error_event = event_name == "error"
            is_error = isinstance(data, Mapping) and (is_error_event or error_in_success_body(data))
            if is_error and (chosen is None or is_error_event):
                chosen = data
                status = event_status
        event_name, event_status, data_lines = "", None, []

    for raw_line in text.splitlines():
        line = raw_line.rstrip("\r")
        if not line:
            finish()
            continue
        if line.startswith(":"):
            comment = line[1:].strip()
            if comment.upper().startswith("HTTP_STATUS/"):
                try:
                    event_status = int(comment.split("/", 1)[1].strip())
                except ValueError:
                    event_status = None
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event_name = value.strip()
        elif field == "data":
            data_lines.append(value)
    finish()
    return status, chosen


def _looks_like_event_stream(content_type: str, text: str) -> bool:
    if "text/event-stream" in content_type.lower():
        return True
    first = text.lstrip().split("\n", 1)[0]
    return first.startswith(("id:", "event:", "data:", ":HTTP_STATUS"))


def error_from_response_body(
    status_code: int,
    headers: httpx.Headers | Mapping[str, str] | None,
    body: bytes,
    *,
    api_key: str | None = None,
) -> APIStatusError:
    """Decode an error response into the matching :class:`APIStatusError`.

    Understands the native body ``{"request_id", "code", "message"}``, the OpenAI-compatible
    envelope ``{"error": {"message", "type", "code", "param"}}`` (``type`` stands in for a null
    ``code``), and an event stream whose ``event:error`` carries an ``:HTTP_STATUS/NNN`` comment
    and the JSON error as data (that status replaces an HTTP 200). Any other body becomes the
    message, cut to 500 characters. The request id comes from the body, else from the
    ``x-request-id`` header. A UTF-8 byte order mark is ignored.
    """
    response_headers = _as_headers(headers)
    text = body.decode("utf-8", errors="replace").removeprefix(_BOM)
    stripped = text.strip()
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    status = status_code

    payload: object = None
    if _looks_like_event_stream(response_headers.get("content-type", ""), stripped):
        sse_status, payload = _parse_sse_error(stripped)
        if sse_status is not None and status_code < 400:
            status = sse_status
        if payload is None:
            message = _truncate(stripped)
    else:
        try:
            payload = json.loads(stripped) if stripped else None
        except (ValueError, RecursionError):
            payload = None
        if not isinstance(payload, Mapping):
            message = _truncate(stripped)

    if isinstance(payload, Mapping):
        code, message, request_id = _fields_from_object(payload)

    if request_id is None:
        request_id = _str_or_none(response_headers.get("x-request-id"))

    return make_status_error(
        status,
        code=code,
        message=message,
        request_id=request_id,
        headers=response_headers,
        body=body,
        api_key=api_key,
    )


def _truncate(text: str) -> str | None:
    if not text:
        return None
    if len(text) <= MAX_TEXT_MESSAGE:
        return text
    return text[: MAX_TEXT_MESSAGE - 3] + "..."


def error_in_success_body(payload: Mapping[str, object]) -> bool:
    """Whether an HTTP 200 JSON body is really an error.

    True when it carries a non-empty ``code`` (success bodies have none, or ``""``) or a
    non-empty OpenAI-style ``error`` object.
    """
    code = payload.get("code")
    if isinstance(code, str) and code.strip():
        return True
    error = payload.get("error")
    return isinstance(error, Mapping) and bool(error)
