"""Checks of client and call options, and of the request body's JSON, before any I/O.

Every check raises `TypeError` (wrong type) or `ValidationError` (right type, broken rule) naming
the option and the rule, so a bad option never surfaces later as an `AttributeError`, a
`UnicodeEncodeError`, a bare standard-library `ValueError` or an `APIConnectionError`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import httpx

from ._errors import ModelStudioError, ValidationError
from ._logs import REDACTED, Secret
from ._serde import MAX_DEPTH

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "MAX_DEPTH",
    "PROTOCOLS",
    "UPLOAD_MODES",
    "ProtocolName",
    "UploadMode",
    "check_api_key",
    "check_base_url",
    "check_headers",
    "check_max_retries",
    "check_mapping",
    "check_seconds",
    "check_timeout",
    "check_workspace",
    "dump_body",
    "find_unencodable",
]

# The allowed values of the client's options; here rather than beside what they select
# (`_retry`, `_media`, `_protocols`), which load on first use, so that `ModelStudio()` can check
# its options without importing them.
DEFAULT_MAX_RETRIES = 2
UploadMode = Literal["auto", "oss", "inline"]
UPLOAD_MODES: tuple[str, ...] = ("auto", "oss", "inline")
ProtocolName = Literal["native", "openai"]
PROTOCOLS: tuple[ProtocolName, ...] = ("native", "openai")


# RFC 9110 token characters: what a header name may hold. Compiled on the first `headers=`
# option, not at import (`re.compile` runs the regex parser in Python: ~0.5 M instructions).
@functools.cache
def _token() -> re.Pattern[str]:
    return re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _type_name(value: object) -> str:
    return type(value).__name__


def _invalid(option: str, value: object, rule: str, why: str) -> ValidationError:
    return ValidationError(f"{option}: {why}", param=option, value=value, rule=rule)


def _bad_char(text: str, *, allow_space: bool) -> tuple[int, str] | None:
    """The position and a description of the first character an HTTP header cannot carry."""
    for index, char in enumerate(text):
        code = ord(char)
        if char in "\r\n":
            return index, "a line break (CR or LF)"
        if (code < 0x20 and char != "\t") or code == 0x7F:
            return index, f"the control character U+{code:04X}"
        if code > 0x7E:
            return index, f"the non-ASCII character U+{code:04X}"
        if not allow_space and char in " \t":
            return index, "whitespace"
    return None


def check_api_key(value: object) -> Secret:
    """The key, stripped of surrounding whitespace, as a `Secret` (redacted repr).

    Refuses a non-string, and a key holding whitespace, a line break, a control or non-ASCII
    character (it could not be sent in the `Authorization` header). No message shows the key.
    """
    if not isinstance(value, str):
        raise TypeError(f"api_key must be a str, not {_type_name(value)}")
    key = value.strip()
    if not key:
        raise ModelStudioError(
            "No API key: pass api_key= to the client or set the DASHSCOPE_API_KEY "
            "environment variable."
        )
    bad = _bad_char(key, allow_space=False)
    if bad is not None:
        index, what = bad
        raise _invalid(
            "api_key",
            REDACTED,
            "header_value",
            f"the key holds {what} at position {index}; an API key is printable ASCII "
            "without spaces (check how it was copied or read)",
        )
    return Secret(key)


def _valid_host(host: str) -> bool:
    """Whether the IDNA codec takes `host`; an ASCII host by the codec's own label rule (every
    label 1 to 63 characters, the last may be empty), without importing the codec and its
    stringprep tables for the common case."""
    if host.isascii():
        *labels, last = host.split(".")
        return all(0 < len(label) < 64 for label in labels) and len(last) < 64
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def check_base_url(value: object) -> str:
    """An absolute http(s) URL with a host, without whitespace or control characters."""
    if not isinstance(value, str):
        raise TypeError(f"base_url must be a str, not {_type_name(value)}")
    bad = _bad_char(value, allow_space=False)
    if bad is not None:
        raise _invalid("base_url", value, "url", f"holds {bad[1]} at position {bad[0]}")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise _invalid("base_url", value, "url", f"is not a valid URL ({exc})") from None
    if url.userinfo:
        raise _invalid(
            "base_url",
            str(url.copy_with(username=None, password=None)),
            "url",
            "holds user info (user:password@); the API key goes in api_key=, not in the URL",
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise _invalid("base_url", value, "url", f"has a port out of range ({url.port})")
    if not _valid_host(url.host):
        raise _invalid(
            "base_url", value, "url", f"has a host name that is not valid ({url.host[:80]!r})"
        ) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise _invalid(
            "base_url",
            str(url.copy_with(username=None, password=None)) if url.host else value,
            "url",
            "must be an absolute http:// or https:// URL with a host, such as "
            "'https://dashscope-intl.aliyuncs.com/api/v1'",
        )
    return value


def check_workspace(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"workspace must be a str, not {_type_name(value)}")
    bad = _bad_char(value, allow_space=False)
    if bad is not None:
        raise _invalid(
            "workspace",
            value,
            "header_value",
            f"holds {bad[1]} at position {bad[0]}; it is sent as the X-DashScope-WorkSpace header",
        )
    return value


def check_seconds(option: str, value: object) -> float | None:
    """None, or a finite number of seconds greater than 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{option} must be a number of seconds or None, not {_type_name(value)}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise _invalid(option, value, "positive", "must be a finite number of seconds above 0")
    return seconds


def check_timeout(option: str, value: object) -> float | httpx.Timeout | None:
    """None, seconds (`check_seconds`), or an `httpx.Timeout` whose every set part is seconds."""
    if isinstance(value, httpx.Timeout):
        for part, seconds in value.as_dict().items():
            check_seconds(f"{option}.{part}", seconds)
        return value
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise TypeError(
            f"{option} must be a number of seconds, an httpx.Timeout or None, "
            f"not {_type_name(value)}"
        )
    return check_seconds(option, value)


def check_max_retries(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"max_retries must be an int or None, not {_type_name(value)}")
    if value < 0:
        raise _invalid("max_retries", value, "minimum", "must be 0 or more")
    return value


def check_mapping(option: str, value: object) -> Mapping[Any, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{option} must be a mapping (a dict) or None, not {_type_name(value)}")
    return value


def check_headers(option: str, value: object) -> dict[str, str] | None:
    """A mapping of header names (RFC 9110 tokens) to printable ASCII values without CR/LF."""
    headers = check_mapping(option, value)
    if headers is None:
        return None
    out: dict[str, str] = {}
    for name, header_value in headers.items():
        if not isinstance(name, str):
            raise TypeError(f"{option}: header names must be str, not {_type_name(name)}")
        if not _token().match(name):
            raise _invalid(
                f"{option}[{name!r}]", name, "header_name", "is not a valid HTTP header name"
            )
        if not isinstance(header_value, str):
            raise TypeError(f"{option}[{name!r}] must be a str, not {_type_name(header_value)}")
        bad = _bad_char(header_value, allow_space=True)
        if bad is not None:
            secret = name.lower() in ("authorization", "proxy-authorization", "x-api-key")
            raise _invalid(
                f"{option}[{name!r}]",
                REDACTED if secret else header_value,
                "header_value",
                f"holds {bad[1]} at position {bad[0]}; a header value is printable ASCII",
            )
        out[name] = header_value
    return out


# -- the request body -------------------------------------------------------------------------


def _compact_encoder() -> Callable[[Any], str]:
    """`json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)`, with its
    encoder made once rather than per call (a sixth of what encoding a typical body costs). A
    structure that contains itself ends in RecursionError rather than ValueError."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - an interpreter without the C accelerator
        return encoder.encode
    iterencode = make(
        None, encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def encode(value: Any) -> str:
        return "".join(iterencode(value, 0))

    return encode


_encode_compact = _compact_encoder()


def dump_body(body: Any) -> bytes:
    """The body as compact UTF-8 JSON; a value JSON cannot carry raises, naming its path."""
    try:
        return _encode_compact(body).encode()
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        problem = find_unencodable(body, "")
        if problem is None:  # pragma: no cover - the walk finds what json refused
            raise
        raise problem from None


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def find_unencodable(root: Any, path: str) -> ValidationError | TypeError | None:
    """The error for the first value under `root` that JSON cannot carry, or None.

    Walks without recursion, so a structure nested far beyond the interpreter's recursion
    limit, or one that contains itself, is reported rather than crashing the walk.
    """
    stack: list[tuple[Any, str, int]] = [(root, path or "body", 0)]
    open_ids: set[int] = set()
    exits: list[tuple[int, int]] = []  # (stack height, id) to drop from open_ids
    while stack:
        while exits and exits[-1][0] >= len(stack):
            open_ids.discard(exits.pop()[1])
        value, where, depth = stack.pop()
        if isinstance(value, str):
            for index, char in enumerate(value):
                if 0xD800 <= ord(char) <= 0xDFFF:
                    return _invalid(
                        where,
                        value[max(0, index - 20) : index + 20],
                        "utf8",
                        f"holds a lone surrogate U+{ord(char):04X} at position {index}, which "
                        "is not valid Unicode text and cannot be sent (check how the text was "
                        "decoded)",
                    )
            continue
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            try:
                str(value)
            except ValueError:
                return _invalid(
                    where,
                    f"<int of about {value.bit_length() * 30103 // 100000} digits>",
                    "int_size",
                    "is an integer too large to encode as JSON",
                )
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                return _invalid(
                    where, value, "finite", "must be a finite number (JSON has no NaN or Infinity)"
                )
            continue
        if isinstance(value, (dict, list, tuple)):
            if id(value) in open_ids:
                return _invalid(where, None, "cycle", "contains itself (a reference cycle)")
            if depth >= MAX_DEPTH:
                return _invalid(
                    where, None, "depth", f"is nested more than {MAX_DEPTH} levels deep"
                )
            open_ids.add(id(value))
            exits.append((len(stack), id(value)))
            if isinstance(value, dict):
                items = list(value.items())
                for key, _ in items:
                    if not isinstance(key, (str, int, float, bool)) and key is not None:
                        return TypeError(f"{where}: object keys must be str, not {_type_name(key)}")
                pushed = [(v, _join(where, k), depth + 1) for k, v in items]
            else:
                pushed = [(v, _join(where, i), depth + 1) for i, v in enumerate(value)]
            stack.extend(reversed(pushed))
            continue
        return TypeError(f"{where}: a {_type_name(value)} cannot be sent as JSON")
    return None
