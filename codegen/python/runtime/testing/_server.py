"""HTTP plumbing: a threaded HTTP/1.1 keep-alive server on the stdlib, with faults on demand."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import socketserver
import struct
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._models import RecordedRequest
from ._script import Reply
from ._wire import JSON_CONTENT_TYPE, dumps, new_request_id

Dispatch = Callable[[RecordedRequest, "str | None"], Reply]


class _Abort(Exception):
    """The connection must end now (server stopping, client gone, or a scripted fault)."""


class _BadRequest(Exception):
    """The request cannot be read (framing, size or JSON): answered 4xx, then the connection
    closes, since its framing can no longer be trusted."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


#: Largest request body accepted (413 past it); `MockServer(max_body_bytes=...)` changes it.
MAX_BODY_BYTES = 128 * 1024 * 1024
#: Deepest JSON nesting accepted in a request body (the service's requests stay far below).
MAX_JSON_DEPTH = 200
#: Seconds a connection may stay silent while a request is being read, or idle between requests.
READ_TIMEOUT = 60.0


def _depth_ok(value: Any, limit: int) -> bool:
    """Whether `value` nests lists and objects at most `limit` levels (without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def parse_json_body(body: bytes) -> Any:
    """The request's JSON, or None when it is not JSON; too deep raises `_BadRequest`."""
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except RecursionError:
        parsed = _TOO_DEEP
    except ValueError:
        return None
    if parsed is _TOO_DEEP or not _depth_ok(parsed, MAX_JSON_DEPTH):
        raise _BadRequest(
            400,
            "InvalidParameter",
            f"The request body nests JSON more than {MAX_JSON_DEPTH} levels deep.",
        )
    return parsed


_TOO_DEEP = object()


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    out = dict(headers)
    auth = out.get("authorization")
    if auth is not None:
        out["authorization"] = "Bearer sk-***" if auth.lower().startswith("bearer") else "***"
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT
    server_version = "modelstudio-mock"
    sys_version = ""
    server: MockHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and demos read the records instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    # -- reading ----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        limit = self.server.max_body_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    raise _Abort
                try:
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    raise _BadRequest(
                        400, "InvalidParameter", "Malformed chunked body: bad chunk size."
                    ) from None
                if size < 0:
                    raise _BadRequest(400, "InvalidParameter", "Malformed chunked body.")
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > limit:
                    raise _BadRequest(
                        413, "RequestTooLarge", f"The request body exceeds {limit} bytes."
                    )
                piece = self.rfile.read(size)
                if len(piece) < size:
                    raise _BadRequest(400, "InvalidParameter", "The chunked body was cut.")
                parts.append(piece)
                self.rfile.readline(3)
        raw = self.headers.get_all("Content-Length") or []
        if len(set(raw)) > 1:
            raise _BadRequest(400, "InvalidParameter", "Conflicting Content-Length headers.")
        text = (raw[0] if raw else "0").strip() or "0"
        if not text.isdigit():
            raise _BadRequest(400, "InvalidParameter", f"Bad Content-Length: {text[:40]!r}.")
        length = int(text)
        if length > limit:
            raise _BadRequest(413, "RequestTooLarge", f"The request body exceeds {limit} bytes.")
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            raise _BadRequest(
                400,
                "InvalidParameter",
                f"The body is shorter ({len(body)} bytes) than its Content-Length ({length}).",
            )
        return body

    def _serve(self) -> None:
        try:
            body = self._read_body()
            split = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            authorization = headers.get("authorization")
            parsed = parse_json_body(body)
            record = RecordedRequest(
                method=self.command,
                path=split.path,
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers=redact_headers(headers),
                body=body,
                json=parsed,
            )
            reply = self.server.dispatch(record, authorization)
            self._write(reply)
        except _BadRequest as bad:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._write(self._error_reply(bad.status, bad.code, bad.message))
        except _Abort:
            self.close_connection = True
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def _error_reply(self, status: int, code: str, message: str) -> Reply:
        """An error in the service's format: OpenAI-compatible under /compatible-mode/."""
        request_id = new_request_id()
        payload: dict[str, Any]
        if self.path.startswith("/compatible-mode/"):
            kind = "invalid_request_error" if status < 500 else "server_error"
            payload = {
                "error": {"message": message, "type": kind, "param": None, "code": code},
                "request_id": request_id,
            }
        else:
            payload = {"request_id": request_id, "code": code, "message": message}
        return Reply(
            status=status,
            headers=[("Content-Type", JSON_CONTENT_TYPE), ("x-request-id", request_id)],
            body=dumps(payload),
        )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request line or header block the stdlib could not parse: the service's JSON error
        format instead of the stdlib's HTML page."""
        self.close_connection = True
        if not hasattr(self, "path") or not isinstance(getattr(self, "path", None), str):
            self.path = "/"
        if not hasattr(self, "command") or self.command is None:
            self.command = "GET"
        self.request_version = "HTTP/1.1"  # answer with a status line, whatever was sent
        reply = self._error_reply(code, "InvalidParameter", message or "Bad request.")
        with contextlib.suppress(OSError):
            self._write(reply)

    # -- writing ----------------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.server.stopping.wait(seconds):
            raise _Abort

    def _write(self, reply: Reply) -> None:
        self._wait(reply.first_byte_delay)
        if reply.reset_before_status:
            self._reset()
        pieces = reply.chunks if reply.chunks is not None else [reply.body or b""]
        chunked = reply.chunks is not None
        self.send_response(reply.status)
        names = {name.lower() for name, _ in reply.headers}
        for name, value in reply.headers:
            self.send_header(name, value)
        if "content-length" not in names and "transfer-encoding" not in names:
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(pieces[0])))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        for index, piece in enumerate(pieces):
            if reply.reset_after is not None and index >= reply.reset_after:
                self._reset()
            if reply.stall_after is not None and index >= reply.stall_after:
                self._stall()
            if index > 0:
                self._wait(reply.chunk_delay)
            if chunked:
                if piece:
                    self.wfile.write(f"{len(piece):X}\r\n".encode("ascii") + piece + b"\r\n")
            else:
                self.wfile.write(piece)
        if reply.reset_after is not None and len(pieces) >= reply.reset_after:
            self._reset()
        if reply.stall_after is not None and len(pieces) >= reply.stall_after:
            self._stall()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _reset(self) -> None:
        """Abort the TCP connection: SO_LINGER 0 makes close() send RST."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()
        raise _Abort

    def _stall(self) -> None:
        """Send nothing more until the client goes away or the server stops."""
        sock = self.connection
        while not self.server.stopping.is_set():
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        break
                except OSError:
                    break
                self.server.stopping.wait(0.05)
        raise _Abort


class MockHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The listen backlog: hundreds of clients connecting at once must all get in (the
    # stdlib's default of 5 refuses or delays connections past it).
    request_queue_size = 1024

    def __init__(
        self, host: str, port: int, dispatch: Dispatch, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.dispatch = dispatch
        self.stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        super().__init__((host, port), Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that resets or drops its connection (as the fault-injection tests make it
        # do) is normal traffic for a mock server, not an error to print.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind: its getfqdn() can stall on a DNS lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections[conn] = threading.current_thread()

    def untrack(self, conn: socket.socket) -> None:
        with self._conn_lock:
            self._connections.pop(conn, None)

    def close_connections(self, timeout: float = 2.0) -> None:
        """Wake every handler (idle keep-alive, stalled, sleeping) and wait for it to finish."""
        self.stopping.set()
        with self._conn_lock:
            items = list(self._connections.items())
        for conn, _ in items:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for _, thread in items:
            if thread is not threading.current_thread():
                thread.join(timeout)
