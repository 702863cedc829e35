"""The retry policy: which failures are retried, how long to wait, what the log line says."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from modelstudio._errors import (
    APIConnectionError,
    APITimeoutError,
    IncompleteStreamError,
    make_status_error,
)
from modelstudio._retry import (
    DEFAULT_MAX_RETRIES,
    RetryDecision,
    backoff_delay,
    decide_for_exception,
    decide_for_status,
    describe_retry,
)

NOW = 1_700_000_000.0


def test_default_max_retries() -> None:
    assert DEFAULT_MAX_RETRIES == 2


# ---------------------------------------------------------------------------- statuses

RETRIED = [
    (429, "Throttling", "Requests throttling triggered."),
    (429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    (429, "Throttling.AllocationQuota", "Allocated quota exceeded, please increase your quota."),
    (429, "Throttling.User", None),
    (429, "LimitRequests", None),
    (429, "limit_requests", None),
    (429, None, None),
    (500, "InternalError", "An internal error has occured, please try again later."),
    (500, "InternalError.Algo", "An error occurred in model serving."),
    (500, "InternalError.Timeout", None),
    (500, "SystemError", None),
    (500, "ModelServiceFailed", None),
    (500, "RequestTimeOut", "Request timed out, please try again later."),
    (500, None, "<html>oops</html>"),
    (502, None, "Bad Gateway"),
    (503, "ServiceUnavailable", None),
    (503, "ModelUnavailable", None),
    (504, None, None),
]

NOT_RETRIED = [
    (400, "InvalidParameter", "Role must be user or assistant"),
    (400, "DataInspectionFailed", "Input data may contain inappropriate content."),
    (400, "Arrearage", "Access denied, please make sure your account is in good standing."),
    (401, "InvalidApiKey", "Invalid API-key provided."),
    (403, "AccessDenied", None),
    (403, "AllocationQuota.FreeTierOnly", None),
    (404, "ModelNotFound", None),
    (408, None, None),
    (429, "Arrearage", None),
    (429, "CommodityNotPurchased", "Commodity has not purchased yet."),
    (429, "PrepaidBillOverdue", "The prepaid bill is overdue."),
    (429, "PostpaidBillOverdue", "The postpaid bill is overdue."),
    (429, "Throttling.AllocationQuota", "Free allocated quota exceeded."),
    (429, "insufficient_quota", None),
    (429, "DataInspectionFailed", None),
    (429, "InvalidParameter", None),
    (500, "DataInspectionFailed", None),
    (500, "InternalError.Algo.DataInspectionFailed", None),
    (500, "InternalError.Algo.InvalidParameter", None),
    (500, "InvalidParameter", None),
    (500, "SomethingDefinite", None),
    (501, None, None),
    (503, "DataInspectionFailed", None),
    (503, "InvalidParameter", None),
    (200, None, None),
]


@pytest.mark.parametrize(("status", "code", "message"), RETRIED)
def test_status_is_retried(status: int, code: str | None, message: str | None) -> None:
    decision = decide_for_status(status, code, message)
    assert decision.retry is True
    assert decision.reason.startswith(f"HTTP {status}")
    if code:
        assert code in decision.reason


@pytest.mark.parametrize(("status", "code", "message"), NOT_RETRIED)
def test_status_is_not_retried(status: int, code: str | None, message: str | None) -> None:
    decision = decide_for_status(status, code, message)
    assert decision.retry is False
    assert decision.reason.startswith(f"HTTP {status}")


def test_status_reason_is_the_log_text() -> None:
    assert decide_for_status(503, "ServiceUnavailable", "busy") == RetryDecision(
        True, "HTTP 503 ServiceUnavailable"
    )
    assert decide_for_status(502, None, None) == RetryDecision(True, "HTTP 502")


def test_billing_reason_says_why() -> None:
    decision = decide_for_status(429, "Arrearage", None)
    assert "billing" in decision.reason


# ---------------------------------------------------------------------------- exceptions

REQUEST = httpx.Request("POST", "https://dashscope.aliyuncs.com/api/v1/x")


def http_error(cls: type[httpx.TransportError], message: str = "boom") -> httpx.TransportError:
    return cls(message, request=REQUEST)


@pytest.mark.parametrize(
    ("exc", "response_received", "retry"),
    [
        (http_error(httpx.ConnectError, "[Errno 111] Connection refused"), False, True),
        (http_error(httpx.ConnectTimeout, "timed out"), False, True),
        (http_error(httpx.PoolTimeout, "no connection"), False, True),
        (
            http_error(
                httpx.RemoteProtocolError, "Server disconnected without sending a response."
            ),
            False,
            True,
        ),
        (
            http_error(
                httpx.RemoteProtocolError, "Server disconnected without sending a response."
            ),
            True,
            True,
        ),
        (http_error(httpx.ReadError, "[Errno 104] Connection reset by peer"), False, True),
        (http_error(httpx.ReadError, "[Errno 104] Connection reset by peer"), True, False),
        (
            http_error(
                httpx.RemoteProtocolError,
                "peer closed connection without sending complete message body",
            ),
            True,
            False,
        ),
        (http_error(httpx.WriteError, "broken pipe"), False, True),
        (http_error(httpx.ReadTimeout, "read timed out"), False, False),
        (http_error(httpx.WriteTimeout, "write timed out"), False, False),
        (http_error(httpx.ProxyError, "proxy refused"), False, False),
        (http_error(httpx.UnsupportedProtocol, "ftp"), False, False),
        (http_error(httpx.LocalProtocolError, "bad header"), False, False),
        (ValueError("not ours"), False, False),
        (APITimeoutError(), False, False),
        (APIConnectionError(), False, False),
        (IncompleteStreamError(received_events=0), False, False),
    ],
)
def test_exception_decisions(exc: BaseException, response_received: bool, retry: bool) -> None:
    decision = decide_for_exception(exc, stream_started=False, response_received=response_received)
    assert decision.retry is retry
    assert type(exc).__name__ in decision.reason


@pytest.mark.parametrize(
    "exc",
    [
        http_error(httpx.ConnectError),
        http_error(httpx.ReadError),
        http_error(httpx.RemoteProtocolError, "Server disconnected without sending a response."),
        make_status_error(503, code=None, message=None, request_id=None, headers=None, body=b""),
    ],
)
def test_nothing_is_retried_once_the_stream_started(exc: BaseException) -> None:
    decision = decide_for_exception(exc, stream_started=True)
    assert decision.retry is False
    assert "stream had already started" in decision.reason


def test_exception_default_is_no_response_received() -> None:
    assert decide_for_exception(http_error(httpx.ReadError), stream_started=False).retry is True


def test_status_errors_are_judged_by_their_status() -> None:
    retried = make_status_error(
        429, code="Throttling", message="x", request_id=None, headers=None, body=b""
    )
    billing = make_status_error(
        429, code="Arrearage", message="x", request_id=None, headers=None, body=b""
    )
    assert decide_for_exception(retried, stream_started=False).retry is True
    assert decide_for_exception(billing, stream_started=False).retry is False


def test_wrapped_httpx_error_is_judged_by_its_cause() -> None:
    for cause, retry in [
        (http_error(httpx.ConnectError), True),
        (http_error(httpx.ReadTimeout), False),
    ]:
        wrapper = APIConnectionError()
        wrapper.__cause__ = cause
        assert decide_for_exception(wrapper, stream_started=False).retry is retry


# ---------------------------------------------------------------------------- backoff


@pytest.mark.parametrize(
    ("attempt", "high"),
    [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (50, 8.0), (10_000, 8.0)],
)
def test_backoff_doubles_up_to_8_seconds_with_jitter(attempt: int, high: float) -> None:
    no_jitter = backoff_delay(attempt, None, rand=lambda: 0.0)
    full_jitter = backoff_delay(attempt, None, rand=lambda: 1.0)
    assert no_jitter == pytest.approx(high)
    assert full_jitter == pytest.approx(high * 0.75)
    middle = backoff_delay(attempt, {}, rand=lambda: 0.5)
    assert high * 0.75 <= middle <= high


def test_backoff_with_real_randomness_stays_in_bounds() -> None:
    for attempt in range(1, 8):
        high = min(0.5 * 2 ** (attempt - 1), 8.0)
        for _ in range(50):
            assert high * 0.75 <= backoff_delay(attempt, None) <= high


def test_backoff_attempt_zero_is_treated_as_first_retry() -> None:
    assert backoff_delay(0, None, rand=lambda: 0.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "junk", "retry-after": "9"}, 9.0),
        ({"Retry-After": "60"}, 60.0),
        (httpx.Headers({"Retry-After": "7"}), 7.0),
        ({"Retry-After": email.utils.formatdate(NOW + 12, usegmt=True)}, 12.0),
    ],
)
def test_server_delay_is_honoured(headers: dict[str, str], expected: float) -> None:
    delay = backoff_delay(1, headers, rand=lambda: 0.0, now=lambda: NOW)
    assert delay == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "61"},
        {"Retry-After": "3600"},
        {"retry-after-ms": "60001"},
        {"Retry-After": "0"},
        {"Retry-After": "-5"},
        {"Retry-After": "nan"},
        {"Retry-After": "inf"},
        {"Retry-After": "soon"},
        {"Retry-After": email.utils.formatdate(NOW - 30, usegmt=True)},
        {"Retry-After": email.utils.formatdate(NOW + 3600, usegmt=True)},
        {"Retry-After": ""},
    ],
)
def test_unusable_server_delay_falls_back_to_backoff(headers: dict[str, str]) -> None:
    assert backoff_delay(2, headers, rand=lambda: 0.0, now=lambda: NOW) == pytest.approx(1.0)


# ---------------------------------------------------------------------------- the log line


def test_describe_retry() -> None:
    assert (
        describe_retry(1, 2, "HTTP 503 ServiceUnavailable", 0.5234)
        == "retrying request (attempt 2 of 3) in 0.52 s: HTTP 503 ServiceUnavailable"
    )
    assert describe_retry(2, 2, "ConnectError: refused", 1.0) == (
        "retrying request (attempt 3 of 3) in 1.00 s: ConnectError: refused"
    )
