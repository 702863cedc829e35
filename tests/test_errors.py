"""Error classes, error-body decoding, and the redaction and logging helpers."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterator

import httpx
import pytest

from modelstudio import _errors, _logs
from modelstudio._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    IncompleteStreamError,
    InternalServerError,
    ModelStudioError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    ValidationError,
    error_from_response_body,
    error_in_success_body,
    make_status_error,
)
from tests.paths import RECORDINGS as RAW

KEY = "sk-0123456789abcdef0123456789abcdef"


def recorded(name: str) -> tuple[int, httpx.Headers, bytes]:
    """(status, headers, body) of a recorded response, without the UTF-8 byte order marks."""
    head = (RAW / f"{name}.response.header.txt").read_text(encoding="utf-8-sig")
    lines = [line for line in head.splitlines() if line.strip()]
    status = int(lines[0].split()[1])
    pairs = [line.split(":", 1) for line in lines[1:]]
    headers = httpx.Headers([(name.strip(), value.strip()) for name, value in pairs])
    body = (RAW / f"{name}.response.body.txt").read_bytes().removeprefix(b"\xef\xbb\xbf")
    return status, headers, body


# ---------------------------------------------------------------------------- recorded bodies


def test_recorded_auth_error_is_authentication_error() -> None:
    error = error_from_response_body(*recorded("auth-error-nosse"))
    assert type(error) is AuthenticationError
    assert error.status_code == 401
    assert error.code == "InvalidApiKey"
    assert error.message == "Invalid API-key provided."
    assert error.request_id == "a1c0561c-1dfe-98a6-a62f-983577b8bc5e"
    assert str(error) == (
        "Error code: 401 - InvalidApiKey: Invalid API-key provided. "
        "(request_id: a1c0561c-1dfe-98a6-a62f-983577b8bc5e)"
    )
    assert not error.is_throttling and not error.is_billing and not error.is_moderation


def test_recorded_parameter_error_is_bad_request() -> None:
    status, headers, body = recorded("parameter-error-nosse")
    error = error_from_response_body(status, headers, body)
    assert type(error) is BadRequestError
    assert error.status_code == 400
    assert error.code == "InvalidParameter"
    assert error.message == (
        "Role must be user or assistant and Content length must be greater than 0"
    )
    assert error.request_id == "a5898c04-d210-901b-965f-e4bd90478805"
    assert error.body == body
    assert error.headers["eagleeye-traceid"] == "55d6e99a06f86611109f27a9daf8ecc8"


def test_recorded_parameter_error_with_bom_still_decodes() -> None:
    # The raw recording starts with a byte order mark; the decoder must not stumble on it.
    status, headers, _ = recorded("parameter-error-nosse")
    raw = (RAW / "parameter-error-nosse.response.body.txt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    error = error_from_response_body(status, headers, raw)
    assert error.code == "InvalidParameter"


def test_recorded_streamed_parameter_error_takes_status_from_the_stream() -> None:
    status, headers, body = recorded("parameter-error-sse")
    assert status == 200
    error = error_from_response_body(status, headers, body)
    assert type(error) is BadRequestError
    assert error.status_code == 400
    assert error.code == "InvalidParameter"
    assert error.message.startswith("Role must be user or assistant")
    assert error.request_id == "7671ecd8-93cc-9ee9-bc89-739f0fd8b809"


def test_stream_error_without_content_type_is_still_recognised() -> None:
    body = (
        b'id:1\nevent:result\ndata:{"output":{"text":"hi"}}\n\n'
        b"id:2\nevent:error\n:HTTP_STATUS/500\n"
        b'data:{"code":"InternalError.Algo","message":"boom","request_id":"r-2"}\n\n'
    )
    error = error_from_response_body(200, {}, body)
    assert type(error) is InternalServerError
    assert (error.status_code, error.code, error.request_id) == (500, "InternalError.Algo", "r-2")


def test_stream_status_comment_does_not_override_an_http_error_status() -> None:
    body = b'event:error\n:HTTP_STATUS/400\ndata:{"code":"Throttling","message":"slow down"}\n\n'
    error = error_from_response_body(429, {"content-type": "text/event-stream"}, body)
    assert type(error) is RateLimitError
    assert error.status_code == 429


def test_openai_compatible_stream_error() -> None:
    body = b'data: {"error":{"message":"bad","type":"invalid_request_error","code":null}}\n\n'
    error = error_from_response_body(400, {"content-type": "text/event-stream"}, body)
    assert (error.code, error.message) == ("invalid_request_error", "bad")


# ---------------------------------------------------------------------------- other body shapes


def test_openai_envelope_with_code() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "Requests rate limit exceeded, please try again later.",
                "type": "limit_requests",
                "code": "limit_requests",
                "param": None,
            },
            "request_id": "r-429",
        }
    ).encode()
    error = error_from_response_body(429, {"x-request-id": "header-id"}, body)
    assert type(error) is RateLimitError
    assert error.code == "limit_requests"
    assert error.request_id == "r-429"
    assert error.is_throttling


def test_openai_envelope_null_code_uses_type() -> None:
    body = (
        b'{"error":{"message":"model not found","type":"model_not_found","code":null,"param":null}}'
    )
    error = error_from_response_body(404, {"X-Request-Id": "hdr-1"}, body)
    assert type(error) is NotFoundError
    assert error.code == "model_not_found"
    assert error.message == "model not found"
    assert error.request_id == "hdr-1"


def test_non_json_body_becomes_the_message() -> None:
    error = error_from_response_body(502, {"x-request-id": "gw-1"}, b"<html>Bad Gateway</html>\n")
    assert type(error) is InternalServerError
    assert error.code is None
    assert error.message == "<html>Bad Gateway</html>"
    assert str(error) == "Error code: 502 - <html>Bad Gateway</html> (request_id: gw-1)"


def test_long_non_json_body_is_cut_to_500_characters() -> None:
    error = error_from_response_body(503, None, b"x" * 5000)
    assert len(error.message) <= 500
    assert error.message.startswith("x" * 400)
    assert len(error.body) == 5000


def test_empty_body_uses_the_reason_phrase() -> None:
    error = error_from_response_body(504, None, b"")
    assert error.message == "Gateway Timeout"
    assert str(error) == "Error code: 504 - Gateway Timeout"


def test_json_that_is_not_an_object_is_treated_as_text() -> None:
    error = error_from_response_body(400, None, b'["nope"]')
    assert error.message == '["nope"]'
    assert error.code is None


def test_error_body_on_http_200() -> None:
    body = b'{"code":"DataInspectionFailed","message":"Input data may contain inappropriate content.","request_id":"r"}'
    error = error_from_response_body(200, None, body)
    assert type(error) is APIStatusError
    assert error.is_moderation


# ---------------------------------------------------------------------------- status mapping


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
        (599, InternalServerError),
        (402, APIStatusError),
        (418, APIStatusError),
        (200, APIStatusError),
    ],
)
def test_make_status_error_picks_the_class(status: int, cls: type[APIStatusError]) -> None:
    error = make_status_error(
        status, code="X", message="m", request_id=None, headers=None, body=b""
    )
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert isinstance(error, ModelStudioError)
    assert error.status_code == status


def test_every_sdk_error_but_validation_is_a_model_studio_error() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(IncompleteStreamError, APIConnectionError)
    assert issubclass(APIConnectionError, ModelStudioError)
    assert issubclass(ValidationError, ValueError)
    assert not issubclass(ValidationError, ModelStudioError)


# ---------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("status", "code", "message", "moderation", "throttling", "billing"),
    [
        (
            400,
            "DataInspectionFailed",
            "Input data may contain inappropriate content.",
            True,
            False,
            False,
        ),
        (500, "InternalError.Algo.DataInspectionFailed", "x", True, False, False),
        (400, "data_inspection_failed", "x", True, False, False),
        (400, "InvalidParameter", "Data inspection failed.", True, False, False),
        (429, "Throttling", "x", False, True, False),
        (429, "Throttling.RateQuota", "Requests rate limit exceeded", False, True, False),
        (429, "Throttling.AllocationQuota", "Allocated quota exceeded", False, True, False),
        (429, "Throttling.AllocationQuota", "Free allocated quota exceeded.", False, False, True),
        (429, "Throttling.User", "x", False, True, False),
        (429, "LimitRequests", "x", False, True, False),
        (400, "RequestLimitExceeded", "x", False, True, False),
        (429, None, "Too Many Requests", False, True, False),
        (
            400,
            "Arrearage",
            "Access denied, please make sure your account is in good standing.",
            False,
            False,
            True,
        ),
        (429, "CommodityNotPurchased", "x", False, False, True),
        (429, "PrepaidBillOverdue", "x", False, False, True),
        (429, "PostpaidBillOverdue", "x", False, False, True),
        (400, "InvalidParameter", "x", False, False, False),
        (500, "InternalError", "x", False, False, False),
    ],
)
def test_error_kind_properties(
    status: int, code: str | None, message: str, moderation: bool, throttling: bool, billing: bool
) -> None:
    error = make_status_error(
        status, code=code, message=message, request_id=None, headers=None, body=b""
    )
    assert (error.is_moderation, error.is_throttling, error.is_billing) == (
        moderation,
        throttling,
        billing,
    )


# ---------------------------------------------------------------------------- success bodies


@pytest.mark.parametrize(
    ("payload", "is_error"),
    [
        ({"output": {"text": "hi"}, "request_id": "r"}, False),
        ({"output": {}, "code": "", "message": ""}, False),
        ({"output": {}, "code": None}, False),
        ({"code": "DataInspectionFailed", "message": "bad", "request_id": "r"}, True),
        ({"error": {"message": "bad", "type": "invalid_request_error"}}, True),
        ({"id": "chatcmpl-1", "choices": [], "error": None}, False),
    ],
)
def test_error_in_success_body(payload: dict[str, object], is_error: bool) -> None:
    assert error_in_success_body(payload) is is_error


# ---------------------------------------------------------------------------- other errors


def test_connection_error_defaults() -> None:
    assert str(APIConnectionError()) == "Connection error."
    assert str(APITimeoutError()) == "Request timed out."
    assert APITimeoutError().request_id is None


def test_incomplete_stream_error() -> None:
    error = IncompleteStreamError(received_events=3, request_id="r-9")
    assert error.received_events == 3
    assert "cut before the final event" in str(error)
    assert "r-9" in str(error)
    assert isinstance(error, APIConnectionError)


def test_validation_error_keeps_the_message_as_given() -> None:
    message = "parameters.top_p must be <= 1 (got 1.5) for model qwen-max; see https://docs"
    error = ValidationError(
        message,
        param="parameters.top_p",
        value=1.5,
        rule="maximum",
        model="qwen-max",
        docs="https://docs",
    )
    assert str(error) == message
    assert (error.param, error.value, error.rule, error.model, error.docs) == (
        "parameters.top_p",
        1.5,
        "maximum",
        "qwen-max",
        "https://docs",
    )
    with pytest.raises(ValueError, match="top_p"):
        raise error


@pytest.mark.parametrize(
    "error",
    [
        ValidationError("bad", param="p", value=[1], rule="type"),
        make_status_error(
            429, code="Throttling", message="slow", request_id="r", headers={"a": "b"}, body=b"{}"
        ),
        APIConnectionError(),
        APITimeoutError("took too long", request_id="r"),
        IncompleteStreamError(received_events=2),
    ],
)
def test_errors_survive_pickling(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert repr(copy) == repr(error)
    assert copy.__dict__.keys() == error.__dict__.keys()


# ---------------------------------------------------------------------------- the API key


def test_errors_never_show_the_api_key() -> None:
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "x-request-id": "r-1"}
    error = error_from_response_body(
        401, headers, b'{"code":"InvalidApiKey","message":"Invalid API-key provided."}'
    )
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert all(KEY not in value for value in error.headers.values())
    assert error.headers["authorization"] == "Bearer ***"
    assert KEY.encode() not in pickle.dumps(error)


def test_echoed_key_is_removed_when_the_key_is_known() -> None:
    body = json.dumps(
        {"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}}
    )
    error = error_from_response_body(401, None, body.encode(), api_key=KEY)
    assert KEY not in str(error)
    assert KEY.encode() not in error.body
    assert "***" in error.message


# ---------------------------------------------------------------------------- redaction


def test_redact_headers() -> None:
    headers = {
        "Authorization": f"Bearer {KEY}",
        "X-API-Key": KEY,
        "api-key": KEY,
        "Content-Type": "application/json",
        "X-DashScope-SSE": "enable",
    }
    redacted = _logs.redact_headers(headers)
    assert redacted == {
        "Authorization": "Bearer ***",
        "X-API-Key": "***",
        "api-key": "***",
        "Content-Type": "application/json",
        "X-DashScope-SSE": "enable",
    }
    assert headers["Authorization"] == f"Bearer {KEY}"  # the input is not modified
    assert KEY[-4:] not in "".join(redacted.values())


def test_redact_headers_without_scheme_hides_everything() -> None:
    assert _logs.redact_headers({"authorization": KEY}) == {"authorization": "***"}


def test_redact_headers_accepts_httpx_headers() -> None:
    redacted = _logs.redact_headers(httpx.Headers({"Authorization": f"Bearer {KEY}"}))
    assert KEY not in str(redacted)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (f"key={KEY}&again={KEY}", KEY, "key=***&again=***"),
        ("nothing here", KEY, "nothing here"),
        (f"key={KEY}", None, f"key={KEY}"),
        ("text", "", "text"),
        (f"key={KEY}", f"  {KEY}\n", "key=***"),
    ],
)
def test_redact_key(text: str, key: str | None, expected: str) -> None:
    assert _logs.redact_key(text, key) == expected


# ---------------------------------------------------------------------------- logging


@pytest.fixture
def clean_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("modelstudio")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


def env_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers if type(h).__name__ == "_EnvHandler"]


def test_logger_name() -> None:
    assert _logs.logger.name == "modelstudio"
    assert _errors.__name__.endswith("_errors")


@pytest.mark.parametrize(("value", "level"), [("debug", logging.DEBUG), ("INFO", logging.INFO)])
def test_configure_from_env_sets_level_and_one_handler(
    clean_logger: logging.Logger, caplog: pytest.LogCaptureFixture, value: str, level: int
) -> None:
    _logs.configure_from_env({"MODELSTUDIO_LOG": value})
    _logs.configure_from_env({"MODELSTUDIO_LOG": value})
    assert clean_logger.level == level
    assert len(env_handlers(clean_logger)) == 1
    with caplog.at_level(level, logger="modelstudio"):
        _logs.logger.log(level, "hello %s", "there")
    assert [r.getMessage() for r in caplog.records] == ["hello there"]


def test_info_level_hides_debug_lines(
    clean_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    _logs.configure_from_env({"MODELSTUDIO_LOG": "info"})
    caplog.set_level(logging.DEBUG)  # root captures everything; the SDK logger filters
    clean_logger.setLevel(logging.INFO)
    _logs.logger.debug("request headers")
    _logs.logger.info("retrying request")
    assert [r.getMessage() for r in caplog.records] == ["retrying request"]


@pytest.mark.parametrize("environ", [{}, {"MODELSTUDIO_LOG": ""}, {"MODELSTUDIO_LOG": "loud"}])
def test_configure_from_env_leaves_logging_alone_otherwise(
    clean_logger: logging.Logger, environ: dict[str, str]
) -> None:
    before = (clean_logger.level, list(clean_logger.handlers))
    _logs.configure_from_env(environ)
    assert (clean_logger.level, list(clean_logger.handlers)) == before
