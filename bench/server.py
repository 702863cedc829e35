"""Loopback HTTP/1.1 server serving canned DashScope responses, fast enough that clients dominate.

It runs in its own process (``python -m bench.server``) so it never shares a GIL with the client
being measured. It is written on raw asyncio protocols, keeps connections alive, and serves bytes
that were rendered once at start-up:

* ``POST .../services/aigc/text-generation/generation``: the native API. Without the
  ``X-DashScope-SSE: enable`` header a ~600 byte qwen-plus message-format JSON body; with it an
  ``incremental_output`` SSE stream in the exact DashScope framing
  (``id:N\\nevent:result\\n:HTTP_STATUS/200\\ndata:{json}\\n\\n``), ``finish_reason`` "null" until
  the last event, cumulative ``usage``.
* ``POST .../chat/completions``: the OpenAI-compatible API (``"stream": true`` in the body selects
  ``data: {...}\\n\\n`` chunks closed by ``data: [DONE]\\n\\n``).

Paths are matched by suffix, so any base URL prefix works (``/api/v1``, ``/compatible-mode/v1``).

Two listening sockets are opened, each with a profile:

* ``fast``: streams of ``--events`` events (default 2,000) written in one go.
* ``usage`` and ``thinking``: like ``fast``, with native streams of the other shapes (see
  :func:`usage_events` and :func:`thinking_events`).
* ``concurrent``: streams of ``--concurrent-events`` events (default 200) written in bursts of
  ``--burst`` events separated by ``--gap-ms`` sleeps, so that hundreds of streams overlap.

On start the server prints one JSON line ``{"fast": PORT, "concurrent": PORT, ...}`` on stdout,
then serves until its stdin reaches EOF (the parent exited or closed it) or it gets SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NATIVE_SUFFIX = b"/services/aigc/text-generation/generation"
COMPAT_SUFFIX = b"/chat/completions"
REQUEST_ID = "d272255f-82d7-9cc7-93c5-17ff77024349"
CREATED = 1708942342
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024

# Text of the recorded single-generation response (cnblogs-recorded), split into stream tokens.
_TOKENS = [
    "1",
    "+",
    "1",
    " 等于 ",
    "2。这是最基本的数学加法之一",
    "\uff0c在十进制计数体系中",
    "\uff0c任何两个相同的数字相加都等于该数字的二倍",
    " 1 的结果都是 2。",
]
_CONTENT = (
    "1+1 等于 2。这是最基本的数学加法之一\uff0c在十进制计数体系中\uff0c任何两个相同的数字相加都等于"
    "该数字的二倍。例如\uff0c1 加 1 的结果是 2\uff0c2 加 2 的结果是 4。这个规律在所有自然数中都成立\uff0c"
    "也是学习乘法的基础。"
)


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def native_json_body() -> bytes:
    """A realistic qwen-plus ``result_format="message"`` response (compact JSON, ~600 bytes)."""
    return _dumps(
        {
            "output": {
                "choices": [
                    {
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": _CONTENT},
                    }
                ]
            },
            "usage": {
                "total_tokens": 81,
                "output_tokens": 73,
                "input_tokens": 8,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
            "request_id": REQUEST_ID,
        }
    )


def compat_json_body() -> bytes:
    """The same answer as an OpenAI-compatible ``chat.completion`` object."""
    return _dumps(
        {
            "choices": [
                {
                    "message": {"role": "assistant", "content": _CONTENT},
                    "finish_reason": "stop",
                    "index": 0,
                    "logprobs": None,
                }
            ],
            "object": "chat.completion",
            "usage": {
                "prompt_tokens": 8,
                "completion_tokens": 73,
                "total_tokens": 81,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
            "created": CREATED,
            "system_fingerprint": None,
            "model": "qwen-plus",
            "id": "chatcmpl-" + REQUEST_ID,
        }
    )


def native_events(count: int) -> list[bytes]:
    """``count`` native SSE events (each one complete, with its blank-line terminator)."""
    events = []
    for n in range(1, count + 1):
        last = n == count
        data = {
            "output": {
                "choices": [
                    {
                        "message": {
                            "content": "" if last else _TOKENS[(n - 1) % len(_TOKENS)],
                            "role": "assistant",
                        },
                        "finish_reason": "stop" if last else "null",
                    }
                ]
            },
            "usage": {"total_tokens": 8 + n, "input_tokens": 8, "output_tokens": n},
            "request_id": REQUEST_ID,
        }
        events.append(b"id:%d\nevent:result\n:HTTP_STATUS/200\ndata:%s\n\n" % (n, _dumps(data)))
    return events


def usage_events(count: int) -> list[bytes]:
    """The ``usage`` shape: message-format events as qwen-plus sends them with tools or
    caching on (``index`` in the choice, ``prompt_tokens_details`` in the usage)."""
    events = []
    for n in range(1, count + 1):
        last = n == count
        data = {
            "output": {
                "choices": [
                    {
                        "message": {
                            "content": "" if last else _TOKENS[(n - 1) % len(_TOKENS)],
                            "role": "assistant",
                        },
                        "index": 0,
                        "finish_reason": "stop" if last else "null",
                    }
                ]
            },
            "usage": {
                "total_tokens": 283 + n,
                "output_tokens": n,
                "input_tokens": 283,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
            "request_id": REQUEST_ID,
        }
        events.append(b"id:%d\nevent:result\n:HTTP_STATUS/200\ndata:%s\n\n" % (n, _dumps(data)))
    return events


def thinking_events(count: int) -> list[bytes]:
    """The ``thinking`` shape (qwen3 with ``enable_thinking``): the first half of the events
    carry ``reasoning_content`` and an empty ``content``, the second half the answer; the usage
    counts ``reasoning_tokens``."""
    events = []
    half = count // 2
    for n in range(1, count + 1):
        last = n == count
        token = "" if last else _TOKENS[(n - 1) % len(_TOKENS)]
        thinking = n <= half
        message = {
            "content": "" if thinking else token,
            "reasoning_content": token if thinking else "",
            "role": "assistant",
        }
        data = {
            "output": {
                "choices": [{"message": message, "finish_reason": "stop" if last else "null"}]
            },
            "usage": {
                "total_tokens": 16 + n,
                "output_tokens": n,
                "input_tokens": 16,
                "output_tokens_details": {"reasoning_tokens": min(n, half)},
            },
            "request_id": REQUEST_ID,
        }
        events.append(b"id:%d\nevent:result\n:HTTP_STATUS/200\ndata:%s\n\n" % (n, _dumps(data)))
    return events


STREAM_SHAPES = {"basic": native_events, "usage": usage_events, "thinking": thinking_events}


def compat_events(count: int) -> list[bytes]:
    """``count`` OpenAI-compatible chunks followed by the ``[DONE]`` sentinel (not counted)."""
    events = []
    for n in range(1, count + 1):
        last = n == count
        delta: dict[str, object] = {"content": "" if last else _TOKENS[(n - 1) % len(_TOKENS)]}
        if n == 1:
            delta["role"] = "assistant"
        data = {
            "choices": [
                {
                    "delta": delta,
                    "finish_reason": "stop" if last else None,
                    "index": 0,
                    "logprobs": None,
                }
            ],
            "object": "chat.completion.chunk",
            "usage": None,
            "created": CREATED,
            "system_fingerprint": None,
            "model": "qwen-plus",
            "id": "chatcmpl-" + REQUEST_ID,
        }
        events.append(b"data: %s\n\n" % _dumps(data))
    events.append(b"data: [DONE]\n\n")
    return events


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


_LAST_CHUNK = b"0\r\n\r\n"
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream;charset=UTF-8\r\n"
    b"x-request-id: " + REQUEST_ID.encode() + b"\r\n"
    b"cache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _json_response(body: bytes, status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nx-request-id: %s\r\n"
        b"content-length: %d\r\n\r\n%s" % (status, REQUEST_ID.encode(), len(body), body)
    )


@dataclass(frozen=True)
class Profile:
    """What one listening socket serves."""

    name: str
    native_json: bytes
    compat_json: bytes
    native_bursts: list[bytes]  # the stream body split where the server sleeps
    compat_bursts: list[bytes]
    gap: float  # seconds slept between bursts (0: one write)


def make_profile(name: str, events: int, burst: int, gap: float, shape: str = "basic") -> Profile:
    def bursts(items: list[bytes]) -> list[bytes]:
        chunks = [_chunk(item) for item in items]
        step = len(chunks) if gap <= 0 else max(1, burst)
        out = [b"".join(chunks[i : i + step]) for i in range(0, len(chunks), step)]
        out[0] = _SSE_HEAD + out[0]
        out[-1] += _LAST_CHUNK
        return out

    return Profile(
        name=name,
        native_json=_json_response(native_json_body()),
        compat_json=_json_response(compat_json_body()),
        native_bursts=bursts(STREAM_SHAPES[shape](events)),
        compat_bursts=bursts(compat_events(events)),
        gap=gap,
    )


_NOT_FOUND = _json_response(
    b'{"code":"NotFound","message":"bench server: unknown path","request_id":"bench"}',
    b"404 Not Found",
)


class BenchProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a slow stream is being written: later requests wait in buf
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while self.transport is not None and not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self.transport.close()
                return
            lines = bytes(self.buf[:end]).split(b"\r\n")
            parts = lines[0].split(b" ")
            if len(parts) != 3:
                self.transport.close()
                return
            path = parts[1].split(b"?", 1)[0]
            headers = {}
            for line in lines[1:]:
                key, _, value = line.partition(b":")
                headers[key.strip().lower()] = value.strip()
            start = end + 4
            if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                body_end = self.buf.find(b"\r\n0\r\n\r\n", start)
                if body_end < 0 and self.buf.startswith(b"0\r\n\r\n", start):
                    body, consumed = b"", start + 5
                elif body_end < 0:
                    return
                else:
                    body, consumed = self._dechunk(bytes(self.buf[start:body_end])), body_end + 7
            else:
                length = int(headers.get(b"content-length", b"0") or 0)
                if length > MAX_BODY:
                    self.transport.close()
                    return
                if len(self.buf) < start + length:
                    return
                body, consumed = bytes(self.buf[start : start + length]), start + length
            del self.buf[:consumed]
            self.close_after = headers.get(b"connection", b"").lower() == b"close"
            self._dispatch(path, headers, body)

    @staticmethod
    def _dechunk(raw: bytes) -> bytes:
        out = bytearray()
        pos = 0
        while pos < len(raw):
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(raw[pos:eol].split(b";")[0], 16)
            out += raw[eol + 2 : eol + 2 + size]
            pos = eol + 2 + size + 2
        return bytes(out)

    def _dispatch(self, path: bytes, headers: dict[bytes, bytes], body: bytes) -> None:
        assert self.transport is not None
        profile = self.profile
        bursts: list[bytes] | None = None
        if path.endswith(NATIVE_SUFFIX):
            if headers.get(b"x-dashscope-sse", b"").lower() == b"enable":
                bursts = profile.native_bursts
            else:
                self._write_simple(profile.native_json)
                return
        elif path.endswith(COMPAT_SUFFIX):
            try:
                stream = bool(json.loads(body or b"{}").get("stream"))
            except ValueError:
                stream = False
            if stream:
                bursts = profile.compat_bursts
            else:
                self._write_simple(profile.compat_json)
                return
        else:
            self._write_simple(_NOT_FOUND)
            return
        if len(bursts) == 1:
            self._write_simple(bursts[0])
            return
        self.busy = True
        task = asyncio.get_running_loop().create_task(self._write_slowly(bursts))
        task.add_done_callback(self._stream_done)

    def _write_simple(self, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(payload)
        if self.close_after:
            self.transport.close()

    async def _write_slowly(self, bursts: list[bytes]) -> None:
        gap = self.profile.gap
        for i, burst in enumerate(bursts):
            if self.transport is None or self.transport.is_closing():
                return
            if i:
                await asyncio.sleep(gap)
            if self.transport is None:
                return
            self.transport.write(burst)

    def _stream_done(self, task: asyncio.Task[None]) -> None:
        self.busy = False
        if not task.cancelled() and task.exception() is not None:
            if self.transport is not None:
                self.transport.close()
            return
        if self.transport is not None and self.close_after:
            self.transport.close()
            return
        if self.buf:
            self._process()


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    profiles = [
        make_profile("fast", args.events, args.events, 0.0),
        make_profile("concurrent", args.concurrent_events, args.burst, args.gap_ms / 1000.0),
        make_profile("usage", args.events, args.events, 0.0, shape="usage"),
        make_profile("thinking", args.events, args.events, 0.0, shape="thinking"),
    ]
    servers = []
    info: dict[str, object] = {}
    for profile in profiles:
        srv = await loop.create_server(
            lambda p=profile: BenchProtocol(p),
            host=args.host,
            port=0,
            backlog=2048,
            reuse_address=True,
        )
        servers.append(srv)
        info[profile.name] = srv.sockets[0].getsockname()[1]
    fast = profiles[0]
    info["native_json_bytes"] = len(native_json_body())
    info["compat_json_bytes"] = len(compat_json_body())
    info["native_event_bytes"] = len(native_events(2)[0])
    info["compat_event_bytes"] = len(compat_events(2)[0])
    info["native_stream_bytes"] = sum(len(b) for b in fast.native_bursts)
    info["pid"] = os.getpid()

    stop = asyncio.Event()

    def watch_stdin() -> None:
        with contextlib.suppress(Exception):
            while sys.stdin.buffer.read(4096):
                pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    await stop.wait()
    for srv in servers:
        srv.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrent-events", type=int, default=200)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--gap-ms", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("loopback only")
    _raise_nofile()
    asyncio.run(serve(args))


@contextlib.contextmanager
def running_server(
    *,
    events: int = 2000,
    concurrent_events: int = 200,
    burst: int = 10,
    gap_ms: float = 5.0,
    startup_timeout: float = 20.0,
) -> Iterator[dict[str, object]]:
    """Start the server in a child process; yield its start-up info (ports, payload sizes)."""
    root = Path(__file__).resolve().parent.parent
    cmd = [
        sys.executable,
        "-m",
        "bench.server",
        "--events",
        str(events),
        "--concurrent-events",
        str(concurrent_events),
        "--burst",
        str(burst),
        "--gap-ms",
        str(gap_ms),
    ]
    proc = subprocess.Popen(
        cmd, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], startup_timeout)
        line = proc.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError(f"bench server did not start (exit code {proc.poll()})")
        yield json.loads(line)
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    main()
