"""Logging for the SDK, and the helpers that keep the API key out of every log line.

The SDK logs to the ``modelstudio`` logger and never configures logging on import.
Set ``MODELSTUDIO_LOG=info`` (retries) or ``MODELSTUDIO_LOG=debug`` (every request and
response, with redacted headers) and call :func:`configure_from_env` (the client does this
when it is built) to get the lines on stderr without touching the logging configuration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

__all__ = ["logger", "configure_from_env", "redact_headers", "redact_key"]

logger = logging.getLogger("modelstudio")

#: What replaces a secret in headers and text.
REDACTED = "***"

_ENV_VAR = "MODELSTUDIO_LOG"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_FORMAT = "[%(asctime)s - %(name)s:%(lineno)d - %(levelname)s] %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Header names (lower case) whose values are credentials.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})
# Of those, the ones whose value is "<scheme> <credentials>".
_SCHEME_HEADERS = frozenset({"authorization", "proxy-authorization"})


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler that :func:`configure_from_env` attaches (at most one)."""


def configure_from_env(environ: Mapping[str, str] = os.environ) -> None:
    """Apply ``MODELSTUDIO_LOG`` (``debug``, ``info``, ``warning`` or ``error``).

    When the variable is set to a known level, the ``modelstudio`` logger gets that level and
    one stderr handler (calling this again never adds a second one). When it is unset, empty or
    unknown, nothing changes, so an application's own logging configuration is left alone.
    """
    value = environ.get(_ENV_VAR, "").strip().lower()
    level = _LEVELS.get(value)
    if level is None:
        return
    logger.setLevel(level)
    if not any(isinstance(handler, _EnvHandler) for handler in logger.handlers):
        handler = _EnvHandler()
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt=_DATE_FORMAT))
        logger.addHandler(handler)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of ``headers`` that is safe to log.

    ``Authorization`` keeps only its scheme (``"Bearer ***"``); ``x-api-key`` and ``api-key``
    become ``"***"``. No part of a credential is kept. Other headers are copied unchanged,
    with their names as given.
    """
    redacted: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _SCHEME_HEADERS:
            scheme, sep, _credentials = value.strip().partition(" ")
            redacted[name] = f"{scheme} {REDACTED}" if sep and scheme else REDACTED
        elif lowered in _SECRET_HEADERS:
            redacted[name] = REDACTED
        else:
            redacted[name] = value
    return redacted


def redact_key(text: str, api_key: str | None) -> str:
    """Replace every occurrence of ``api_key`` in ``text`` with ``"***"``.

    Surrounding whitespace of the key is ignored (a key read from a file often ends with a
    newline). An empty or missing key leaves the text unchanged.
    """
    if not api_key:
        return text
    key = api_key.strip()
    if not key:
        return text
    return text.replace(key, REDACTED)


class Secret(str):
    """An API key: a `str` whose `repr()` is redacted.

    The client keeps its key as one, so the local variables a traceback prints (pytest
    `--showlocals`, error trackers) and the repr of any object holding it never show the key.
    `str()`, formatting and encoding give the key itself (it must go into the header).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{REDACTED}'"

    def __reduce__(self) -> tuple[object, ...]:
        # A pickle never carries the key.
        return (str, (REDACTED,))


class SecretHeaders(dict[str, str]):
    """Request headers as a `dict` whose `repr()` hides the credentials (see `redact_headers`),
    for the frames a traceback with local variables prints."""

    def __repr__(self) -> str:
        return repr(redact_headers(self))
