"""The `modelstudio` command: chat from the terminal, list models, dry-run requests, run the mock.

    modelstudio chat "Hello"                     stream an answer (prompt from stdin if absent)
    modelstudio chat --image URL "What is it?"   ask about images (multimodal endpoint)
    modelstudio models [--wide | --json]         the known model families and their defaults
    modelstudio request --param top_p=0.5 "Hi"   print the body and headers, send nothing
    modelstudio mock --port 8000                 a local DashScope look-alike until Ctrl-C

Exit codes: 0 success, 2 usage or validation error, 1 API or connection error.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import inspect
import json
import os
import pathlib
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from modelstudio._base_client import DISTRIBUTION, VERSION
from modelstudio._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    ModelStudioError,
    ValidationError,
)

EXIT_OK = 0
EXIT_API = 1
EXIT_USAGE = 2
DIM = "\x1b[2m"
RESET = "\x1b[0m"
DEFAULT_MODEL = "qwen-plus"
DEFAULT_VISION_MODEL = "qwen-vl-plus"


class UsageError(Exception):
    """A command line that cannot be run: message on stderr, exit code 2."""


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _add_call_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", nargs="?", help="the user message (read from stdin if absent)")
    parser.add_argument(
        "--model",
        help=f"model name ({DEFAULT_MODEL}; {DEFAULT_VISION_MODEL} with --image)",
    )
    parser.add_argument("--system", help="a system message sent before the prompt")
    parser.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="an image to ask about (repeatable); uses the multimodal endpoint",
    )
    parser.add_argument(
        "--thinking", action="store_true", help="turn thinking on (enable_thinking=true)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a request parameter the spec names, VALUE parsed as JSON when it is JSON "
        "(repeatable)",
    )
    parser.add_argument(
        "--extra-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter the SDK does not name yet, sent as given (repeatable)",
    )
    parser.add_argument("--base-url", help="API base URL (else DASHSCOPE_BASE_URL, else intl)")
    parser.add_argument("--api-key", help="API key (else the DASHSCOPE_API_KEY variable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelstudio",
        description="Alibaba Cloud Model Studio (DashScope) from the terminal.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{DISTRIBUTION} {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    # An abbreviated option (`--mod`) is an unknown option, not a guess at one.
    add_parser = functools.partial(commands.add_parser, allow_abbrev=False)

    chat = add_parser("chat", help="stream an answer to the terminal")
    _add_call_options(chat)
    chat.add_argument("--json", action="store_true", help="print raw chunks, one JSON per line")

    models = add_parser("models", help="list the known model families")
    shape = models.add_mutually_exclusive_group()
    shape.add_argument(
        "--wide", action="store_true", help="every column in full (patterns and defaults)"
    )
    shape.add_argument("--json", action="store_true", help="print JSON instead of a table")

    request = add_parser(
        "request", help="print the body and headers a chat call would send, without sending"
    )
    _add_call_options(request)
    request.add_argument(
        "--no-stream", action="store_true", help="show the non-streaming request instead"
    )

    mock = add_parser("mock", help="run a local mock DashScope server until Ctrl-C")
    mock.add_argument("--port", type=int, default=8000, help="port (0: any free port; 8000)")
    mock.add_argument("--host", default="127.0.0.1", help="interface (127.0.0.1)")
    mock.add_argument("--api-key", help="accept only this key (default: any key)")
    mock.add_argument(
        "--event-delay", type=float, default=0.0, help="seconds between stream events (0)"
    )
    return parser


# ---------------------------------------------------------------------------------------------
# Building a call from the options
# ---------------------------------------------------------------------------------------------


def _parse_params(items: Sequence[str], option: str = "--param") -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _read_prompt(prompt: str | None, stdin: TextIO) -> str:
    if prompt is not None:
        text = prompt
    elif stdin.isatty():
        raise UsageError("no prompt: pass it as an argument or pipe it on stdin")
    else:
        text = stdin.read()
    if not text.strip():
        raise UsageError("the prompt is empty")
    return text.strip("\n")


def _image_ref(value: str) -> str:
    """URLs (http, https, oss, file, data) as given; an existing local path as a file:// URL."""
    if "://" in value or value.startswith("data:"):
        return value
    path = pathlib.Path(value).expanduser()
    if not path.exists():
        raise UsageError(f"--image {value!r}: no such file (give a path or a URL)")
    return path.resolve().as_uri()


def call_arguments(
    args: argparse.Namespace, prompt: str, *, stream: bool
) -> tuple[str, dict[str, Any]]:
    """Which resource to use ("generation" or "multimodal") and its `create()` keyword arguments.

    `--param` keys must be parameters `create()` names (the spec's); `--extra-param` keys go
    to `extra_parameters` unchecked.
    """
    messages: list[dict[str, Any]] = []
    images = [_image_ref(v) for v in args.image]
    if args.system:
        system: Any = [{"text": args.system}] if images else args.system
        messages.append({"role": "system", "content": system})
    if images:
        content: Any = [{"image": url} for url in images] + [{"text": prompt}]
        resource = "multimodal"
    else:
        content = prompt
        resource = "generation"
    messages.append({"role": "user", "content": content})
    model = args.model or (DEFAULT_VISION_MODEL if images else DEFAULT_MODEL)
    kwargs: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    if args.thinking:
        kwargs["enable_thinking"] = True
    named = _create_parameters(resource)
    for key, value in _parse_params(args.param).items():
        if key in ("model", "messages", "stream"):
            raise UsageError(f"--param {key}=...: use the command's own option or argument")
        if key not in named:
            raise UsageError(_unknown_param(key, named, resource))
        kwargs[key] = value
    extra = _parse_params(args.extra_param, "--extra-param")
    if extra:
        kwargs["extra_parameters"] = extra
    return resource, kwargs


def _create_parameters(resource: str) -> set[str]:
    """The request parameters the spec names for this endpoint (`create()`'s keywords)."""
    from modelstudio import resources

    cls = resources.Generation if resource == "generation" else resources.Multimodal
    names = set(inspect.signature(cls.create).parameters)
    return names - {"self", "model", "messages", "stream", "extra_parameters", "extra_headers"}


def _unknown_param(key: str, named: set[str], resource: str) -> str:
    close = difflib.get_close_matches(key, sorted(named), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    return (
        f"--param {key}: not a parameter of the {resource} endpoint; {hint}"
        f"--extra-param {key}=... sends a parameter the SDK does not name"
    )


def _require_key(args: argparse.Namespace) -> None:
    if not args.api_key and not os.environ.get("DASHSCOPE_API_KEY"):
        raise UsageError(
            "no API key: pass --api-key KEY or set the DASHSCOPE_API_KEY variable "
            "(`modelstudio mock` runs a local server that takes any key)"
        )


def _client_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if args.api_key:
        kwargs["api_key"] = args.api_key
    if args.base_url:
        kwargs["base_url"] = args.base_url
    return kwargs


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from modelstudio._client import ModelStudio

    prompt = _read_prompt(args.prompt, stdin)
    resource, kwargs = call_arguments(args, prompt, stream=True)
    _require_key(args)
    color = out.isatty() and not os.environ.get("NO_COLOR")
    with ModelStudio(**_client_kwargs(args)) as client:
        stream = getattr(client, resource).create(**kwargs)
        with stream:
            if args.json:
                for chunk in stream:
                    out.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
                    out.flush()
                return EXIT_OK
            _print_stream(stream, out, color=color)
    return EXIT_OK


def _print_stream(stream: Any, out: TextIO, *, color: bool) -> None:
    """Reasoning (dimmed on a terminal), a blank line, then the answer, as they arrive."""
    state = "start"  # start | reasoning | answer
    for chunk in stream:
        delta = chunk.delta
        if delta.reasoning_content:
            if state == "start" and color:
                out.write(DIM)
            state = "reasoning" if state != "answer" else state
            out.write(delta.reasoning_content)
        if delta.text:
            if state == "reasoning":
                out.write((RESET if color else "") + "\n\n")
            state = "answer"
            out.write(delta.text)
        for call in delta.tool_calls:
            if call.function.name:
                out.write(f"\n[tool call {call.function.name}] ")
            out.write(call.function.arguments or "")
        out.flush()
    if state == "reasoning" and color:
        out.write(RESET)
    out.write("\n")
    out.flush()


def cmd_request(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from modelstudio._dry_run import DryRunModelStudio, describe

    prompt = _read_prompt(args.prompt, stdin)
    resource, kwargs = call_arguments(args, prompt, stream=not args.no_stream)
    client_kwargs = _client_kwargs(args)
    has_key = "api_key" in client_kwargs or bool(os.environ.get("DASHSCOPE_API_KEY"))
    if not has_key:
        client_kwargs["api_key"] = "sk-none"  # a dry run needs no key; it is not shown
    client = DryRunModelStudio(**client_kwargs)
    try:
        call = client.prepared(getattr(client, resource), **kwargs)
    finally:
        client.close()
    out.write(json.dumps(describe(call, has_key=has_key), ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK


def cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    from modelstudio._model_table import FAMILIES

    rows: list[dict[str, Any]] = [
        {
            "family": row.family,
            "match": list(row.match),
            "endpoints": list(row.endpoints),
            "thinking_mode": row.thinking_mode,
            "thinking_default": row.thinking_default,
            "streaming_only": row.streaming_only,
            "defaults": dict(row.defaults),
            "defaults_thinking": dict(row.defaults_thinking),
            "defaults_non_thinking": dict(row.defaults_non_thinking),
            "docs": row.docs,
        }
        for row in FAMILIES
    ]
    if args.json:
        out.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    if args.wide:
        table: list[tuple[str, ...]] = [("FAMILY", "MATCHES", "ENDPOINTS", "THINKING", "DEFAULTS")]
        for row, data in zip(FAMILIES, rows, strict=True):
            table.append(
                (
                    row.family,
                    " ".join(row.match),
                    ",".join(row.endpoints) or "-",
                    _thinking_text(row.thinking_mode, row.thinking_default, row.streaming_only),
                    _defaults_text(data),
                )
            )
        _write_table(table, out)
        return EXIT_OK
    table = [("FAMILY", "ENDPOINTS", "THINKING", "MATCHES")]
    for row in FAMILIES:
        table.append(
            (
                row.family,
                ",".join(_SHORT_ENDPOINTS.get(e, e) for e in row.endpoints) or "-",
                _thinking_text(row.thinking_mode, row.thinking_default, row.streaming_only),
                " ".join(row.match),
            )
        )
    _write_table(table, out, width=_table_width())
    out.write("(--wide: patterns in full and the documented defaults; --json: everything)\n")
    return EXIT_OK


# The endpoint names in the narrow table: text-generation and multimodal-generation by the kind
# of model they serve.
_SHORT_ENDPOINTS = {"text-generation": "text", "multimodal-generation": "multimodal"}


def _table_width() -> int:
    """100 columns, or fewer when the terminal (or $COLUMNS) is narrower; never below 60."""
    return max(60, min(100, shutil.get_terminal_size((100, 24)).columns))


def _write_table(table: Sequence[tuple[str, ...]], out: TextIO, width: int | None = None) -> None:
    """Aligned columns two spaces apart; with `width`, the last column is cut to fit (`…`)."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    room = None if width is None else width - sum(widths) - 2 * len(widths)
    for line in table:
        cells = [cell.ljust(w) for cell, w in zip(line, widths, strict=False)]
        last = line[-1]
        if room is not None and len(last) > room:
            last = last[: max(room - 1, 0)].rstrip() + "…"
        out.write("  ".join([*cells, last]).rstrip() + "\n")


def _thinking_text(mode: str | None, default: bool | None, streaming_only: bool) -> str:
    text = {"hybrid": "hybrid", "thinking-only": "always", "none": "none"}.get(mode or "", "-")
    if mode == "hybrid":
        text += " (on)" if default else " (off)"
    if streaming_only:
        text += ", stream only"
    return text


def _defaults_text(row: dict[str, Any]) -> str:
    parts = [f"{k}={_value(v)}" for k, v in row["defaults"].items()]
    for label, key in (
        ("thinking", "defaults_thinking"),
        ("non-thinking", "defaults_non_thinking"),
    ):
        if row[key]:
            inner = ",".join(f"{k}={_value(v)}" for k, v in row[key].items())
            parts.append(f"{label}:{inner}")
    return " ".join(parts) or "-"


def _value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def cmd_mock(args: argparse.Namespace, out: TextIO) -> int:
    from modelstudio.testing import MockServer

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    # Ctrl-C and SIGTERM both stop the server (SIGINT is handled even where a shell started
    # the process with it ignored, as non-interactive shells do for background jobs).
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = MockServer(
            api_key=args.api_key, host=args.host, port=args.port, event_delay=args.event_delay
        )
        try:
            server.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        try:
            out.write(f"Mock DashScope server on {server.base_url}\n")
            out.write(f"OpenAI-compatible endpoint: {server.compatible_base_url}\n")
            key = args.api_key or "sk-test"
            out.write(f"Try: modelstudio chat --base-url {server.base_url} --api-key {key} Hi\n")
            out.write("Press Ctrl-C to stop.\n")
            out.flush()
            while not stop.wait(0.2):
                pass
        finally:
            server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.write("Mock server stopped.\n")
    out.flush()
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def _error_line(exc: APIError) -> str:
    if isinstance(exc, APIStatusError):
        code = exc.code or f"HTTP {exc.status_code}"
        return f"error: {code} (HTTP {exc.status_code}): {exc.message} [request_id: {exc.request_id or '-'}]"
    kind = type(exc).__name__
    rid = f" [request_id: {exc.request_id}]" if exc.request_id else ""
    return f"error: {kind}: {exc.message}{rid}"


def _unknown_arguments(command: str, unknown: Sequence[str]) -> str:
    """What is wrong with the first argument `modelstudio <command>` does not take."""
    first = unknown[0]
    usage = f"`modelstudio {command} --help` lists what it takes"
    if not first.startswith("-"):
        return f"unexpected argument {first!r} for `modelstudio {command}`; {usage}"
    known = [o for a in _command_actions(command) for o in a.option_strings if o.startswith("--")]
    close = difflib.get_close_matches(first.partition("=")[0], known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown option {first} for `modelstudio {command}`{hint}; {usage}"


def _command_actions(command: str) -> list[argparse.Action]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices[command]._actions)
    return []  # pragma: no cover - build_parser always adds the commands


def run(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the command line `argv` and return its exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    stdin = stdin or sys.stdin
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)  # other usage errors: SystemExit(2)
    if unknown:
        err.write(f"error: {_unknown_arguments(args.command, unknown)}\n")
        return EXIT_USAGE
    try:
        if args.command == "chat":
            return cmd_chat(args, out, stdin)
        if args.command == "request":
            return cmd_request(args, out, stdin)
        if args.command == "models":
            return cmd_models(args, out)
        return cmd_mock(args, out)
    except ValidationError as exc:
        err.write(f"error: invalid request: {exc}\n")
        return EXIT_USAGE
    except UsageError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_USAGE
    except APIConnectionError as exc:
        out.flush()
        err.write(_error_line(exc) + "\n")
        return EXIT_API
    except APIError as exc:
        out.flush()
        err.write(_error_line(exc) + "\n")
        return EXIT_API
    except (ModelStudioError, ValueError) as exc:  # no API key, bad region, repeated argument
        err.write(f"error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("\ninterrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point (`modelstudio`)."""
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
