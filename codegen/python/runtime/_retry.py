"""Retry decisions, shared by the sync and the async transport (only sending and sleeping differ).

What is retried (at most ``max_retries`` times, ``DEFAULT_MAX_RETRIES`` by default):

* HTTP 429, unless it is a billing error (``Arrearage``, ``CommodityNotPurchased``,
  ``PrepaidBillOverdue``, ``PostpaidBillOverdue``, "Free allocated quota exceeded"...):
  waiting does not pay a bill.
* HTTP 500 with a code known to be transient (``InternalError`` and ``InternalError.*``,
  ``SystemError``, ``ModelServiceFailed``, ``RequestTimeOut``, ``ServiceUnavailable``...) or with
  no code at all (the body did not come from the API: a gateway failed). A 500 with any other
  code is the API reporting a definite failure and is not retried.
* HTTP 502, 503 and 504.
* Connection failures before the request reached the server (``ConnectError``,
  ``ConnectTimeout``, ``PoolTimeout``) and a connection closed or reset before any byte of the
  response arrived (``RemoteProtocolError``, ``ReadError``, ``WriteError``).

Never retried: 400, 401, 403, 404 and every other status, ``DataInspectionFailed`` and
``InvalidParameter`` (in any form, with any status), a read or write timeout (the server may be
working on the request, and it would time out again), and anything once a stream event has
reached the caller (the caller would see events twice), and anything once the status line of
the answer arrived: a body cut after it (``IncompleteResponseError``) may already have been
generated and billed, so sending the request again could generate it twice.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping

import httpx

from ._errors import (
    APIConnectionError,
    APIStatusError,
    IncompleteResponseError,
    IncompleteStreamError,
    is_billing_error,
    is_moderation_error,
)
from ._options import DEFAULT_MAX_RETRIES as DEFAULT_MAX_RETRIES
from ._record import FrozenRecord

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "INITIAL_DELAY",
    "MAX_DELAY",
    "MAX_SERVER_DELAY",
    "RetryDecision",
    "decide_for_status",
    "decide_for_exception",
    "backoff_delay",
    "describe_retry",
]

#: Delay before the first retry, in seconds (before jitter).
INITIAL_DELAY = 0.5
#: Longest computed delay, in seconds (before jitter).
MAX_DELAY = 8.0
#: Longest server-requested delay (Retry-After) that is honoured, in seconds.
MAX_SERVER_DELAY = 60.0

# Codes of a 500 that are worth another try (compared case-insensitively).
_TRANSIENT_500_CODES = frozenset(
    {
        "systemerror",
        "modelservicefailed",
        "requesttimeout",
        "serviceunavailable",
        "modelunavailable",
        "internal_error",
        "server_error",
    }
)
_TRANSIENT_500_PREFIXES = ("internalerror",)
_ALWAYS_RETRIED_STATUSES = frozenset({502, 503, 504})


class RetryDecision(FrozenRecord):
    """Whether to retry, and why (the reason goes into the log line)."""

    __slots__ = ("retry", "reason")  # noqa: RUF023  (the repr's field order)
    retry: bool
    reason: str

    def __init__(self, retry: bool, reason: str) -> None:
        self._set(retry=retry, reason=reason)


def _label(status_code: int, code: str | None) -> str:
    return f"HTTP {status_code} {code}" if code else f"HTTP {status_code}"


def _is_invalid_parameter(code: str | None) -> bool:
    normalized = (code or "").strip().lower()
    last_segment = normalized.rsplit(".", 1)[-1]
    return last_segment in {"invalidparameter", "invalid_parameter", "invalid_parameter_error"}


def decide_for_status(status_code: int, code: str | None, message: str | None) -> RetryDecision:
    """Decide whether an error response (status, API code, message) is worth retrying."""
    label = _label(status_code, code)
    if is_moderation_error(code, message):
        return RetryDecision(False, f"{label}: content moderation rejected the request")
    if _is_invalid_parameter(code):
        return RetryDecision(False, f"{label}: the request is invalid")
    if is_billing_error(code, message):
        return RetryDecision(False, f"{label}: billing or quota problem on the account")
    if status_code == 429:
        return RetryDecision(True, label)
    if status_code in _ALWAYS_RETRIED_STATUSES:
        return RetryDecision(True, label)
    if status_code == 500:
        normalized = (code or "").strip().lower()
        if (
            not normalized
            or normalized in _TRANSIENT_500_CODES
            or normalized.split(".", 1)[0] in _TRANSIENT_500_PREFIXES
        ):
            return RetryDecision(True, label)
        return RetryDecision(False, f"{label}: not a transient error")
    return RetryDecision(False, f"{label}: not retryable")


# Errors raised before the request left the client: always safe to retry.
_BEFORE_SEND = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Errors that are safe to retry when no byte of the response had arrived.
_BEFORE_RESPONSE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_NO_RESPONSE_MARKERS = ("without sending a response",)


def _describe_exception(exc: BaseException) -> str:
    detail = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {detail}" if detail else name


def decide_for_exception(
    exc: BaseException,
    *,
    stream_started: bool,
    response_received: bool = False,
) -> RetryDecision:
    """Decide whether a failed attempt is worth retrying.

    ``stream_started`` is True once any stream event has reached the caller: nothing is retried
    after that. ``response_received`` is True once any byte of the response (its status line)
    has arrived; a broken connection is then not retried, because the server has already
    acted on the request. An :class:`APIStatusError` is judged by :func:`decide_for_status`; an
    :class:`APIConnectionError` that wraps an httpx error by that error.
    """
    reason = _describe_exception(exc)
    if stream_started:
        return RetryDecision(False, f"{reason}: the stream had already started")
    if isinstance(exc, APIStatusError):
        return decide_for_status(exc.status_code, exc.code, exc.message)
    if isinstance(exc, IncompleteStreamError):
        return RetryDecision(False, f"{reason}: the stream had already started")
    if isinstance(exc, IncompleteResponseError):
        return RetryDecision(False, f"{reason}: the service had already answered")
    if isinstance(exc, APIConnectionError):
        cause = exc.__cause__
        if isinstance(cause, httpx.HTTPError):
            return decide_for_exception(
                cause, stream_started=stream_started, response_received=response_received
            )
        return RetryDecision(False, f"{reason}: unknown connection failure")
    if isinstance(exc, _BEFORE_SEND):
        return RetryDecision(True, reason)
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return RetryDecision(False, f"{reason}: the server may still be processing the request")
    if isinstance(exc, _BEFORE_RESPONSE):
        said_no_response = any(marker in str(exc).lower() for marker in _NO_RESPONSE_MARKERS)
        if said_no_response or not response_received:
            return RetryDecision(True, reason)
        return RetryDecision(False, f"{reason}: the response had already started")
    return RetryDecision(False, f"{reason}: not retryable")


def _header(headers: Mapping[str, str] | httpx.Headers, name: str) -> str | None:
    if isinstance(headers, httpx.Headers):
        value: str | None = headers.get(name)
        return value
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _server_delay(
    headers: Mapping[str, str] | httpx.Headers | None, now: Callable[[], float]
) -> float | None:
    """The delay the server asked for, in seconds (may be out of range), or None."""
    if not headers:
        return None
    retry_after_ms = _header(headers, "retry-after-ms")
    if retry_after_ms is not None:
        try:
            return _finite(float(retry_after_ms.strip()) / 1000.0)
        except ValueError:
            pass
    retry_after = _header(headers, "retry-after")
    if retry_after is None:
        return None
    try:
        return _finite(float(retry_after.strip()))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(retry_after.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() - now()


def backoff_delay(
    attempt: int,
    headers: Mapping[str, str] | httpx.Headers | None,
    *,
    rand: Callable[[], float] = random.random,
    now: Callable[[], float] = time.time,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 is the first retry).

    A ``retry-after-ms`` (milliseconds) or ``Retry-After`` (seconds, or an HTTP date) header
    between 0 (exclusive) and 60 seconds is obeyed as is. Otherwise the delay is 0.5 s doubled
    at each attempt, at most 8 s, times a random factor in [0.75, 1.0] so that clients that
    failed together do not retry together.
    """
    server_delay = _server_delay(headers, now)
    if server_delay is not None and 0 < server_delay <= MAX_SERVER_DELAY:
        return server_delay
    exponent = min(max(attempt, 1) - 1, 32)
    base = min(INITIAL_DELAY * (2.0**exponent), MAX_DELAY)
    jitter = 1.0 - 0.25 * min(max(rand(), 0.0), 1.0)
    return base * jitter


def describe_retry(attempt: int, max_retries: int, reason: str, delay: float) -> str:
    """The INFO log line announcing a retry.

    ``attempt`` is the retry number (1 for the first retry), so the request attempt it starts is
    ``attempt + 1`` out of ``max_retries + 1``.
    """
    return (
        f"retrying request (attempt {attempt + 1} of {max_retries + 1}) in {delay:.2f} s: {reason}"
    )
