"""A loopback TCP server that misbehaves on purpose, byte by byte.

Each accepted connection's first request is read (request line, headers, a Content-Length
body) and handed to a behaviour, which writes whatever bytes it likes, stalls, trickles, resets
or closes. The server is bounded: it accepts at most `max_connections` connections, every
behaviour's waits end when the server stops, and `stop()` ends every connection.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

import attrs

KEY = "sk-adversarial-0123456789abcdef"
MSG = [{"role": "user", "content": "Hi"}]
OK_JSON = (
    b'{"request_id":"rid-1","output":{"text":"hello","finish_reason":"stop"},'
    b'"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}'
)
EVENT = b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"text":"a"}}\n\n'
FINAL_EVENT = (
    b'id:2\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"text":"b","finish_reason":"stop"},'
    b'"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3},"request_id":"rid-1"}\n\n'
)


@attrs.define
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[["Conn"], None]


def head_bytes(status: int = 200, headers: list[tuple[str, str]] | None = None) -> bytes:
    """A response's status line and headers."""
    lines = [f"HTTP/1.1 {status} X"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Conn:
    """One accepted connection, as a behaviour sees it."""

    def __init__(self, sock: socket.socket, server: RawServer, request: Request) -> None:
        self.sock = sock
        self.server = server
        self.request = request

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def head(self, status: int = 200, headers: list[tuple[str, str]] | None = None) -> None:
        self.send(head_bytes(status, headers))

    def reply(
        self,
        status: int = 200,
        body: bytes = OK_JSON,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> None:
        given = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        self.head(status, given + (headers or []))
        self.send(body)

    def wait(self, seconds: float) -> None:
        """Sleep, but end early (and abort) when the server stops."""
        if self.server.stopping.wait(seconds):
            raise ConnectionAbortedError

    def reset(self) -> None:
        """Send RST (SO_LINGER 0) instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def wait_for_client_close(self, limit: float) -> bool:
        """Whether the client closed its side within `limit` seconds."""
        self.sock.settimeout(0.05)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.server.stopping.is_set():
            try:
                if not self.sock.recv(4096):
                    return True
            except TimeoutError:
                continue
            except OSError:
                return True
        return False


def read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    first, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = first.split(" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path, headers, body)


class RawServer:
    """`with RawServer(behaviour) as srv:` serves `behaviour` to each connection on loopback.

    `srv.url` is the origin, `srv.base_url` the native API base. `srv.requests` lists the
    requests read; `srv.connections` counts the connections accepted (a client that opened no
    socket leaves it at 0); `srv.results` holds what behaviours recorded.
    """

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        max_connections: int = 20,
        time_limit: float = 15.0,
        read_request: bool = True,
    ) -> None:
        self.behaviour = behaviour
        self.read_request = read_request
        self.max_connections = max_connections
        self.time_limit = time_limit
        self.stopping = threading.Event()
        self.requests: list[Request] = []
        self.results: list[object] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/api/v1"

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self._acceptor.join(2)
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(2)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
        self._listener.close()

    def _accept(self) -> None:
        started = time.monotonic()
        while not self.stopping.is_set() and time.monotonic() - started < self.time_limit:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.append(sock)
                over = self.connections > self.max_connections
            if over:
                sock.close()
                continue
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(self.time_limit)
        try:
            request = read_request(sock) if self.read_request else Request("", "", {}, b"")
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            self.behaviour(Conn(sock, self, request))
        except (OSError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()


def free_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_call(
    mode: str,
    base_url: str,
    *,
    stream: bool = False,
    client: dict[str, object] | None = None,
    **create: object,
) -> object:
    """One `generation.create` through the sync or the async client (mode "sync"/"async");
    a stream is read to its end. Returns the response or the list of chunks; raises what the
    SDK raised."""
    from modelstudio import AsyncModelStudio, ModelStudio

    options: dict[str, object] = {"api_key": KEY, "base_url": base_url, "max_retries": 2}
    options.update(client or {})
    if mode == "sync":
        with ModelStudio(**options) as sync_client:  # type: ignore[arg-type]
            result = sync_client.generation.create(
                model="qwen-plus", messages=MSG, stream=stream, **create
            )  # type: ignore[call-overload]
            return list(result) if stream else result

    async def main() -> object:
        async with AsyncModelStudio(**options) as async_client:  # type: ignore[arg-type]
            result = await async_client.generation.create(
                model="qwen-plus", messages=MSG, stream=stream, **create
            )  # type: ignore[call-overload]
            if stream:
                return [chunk async for chunk in result]
            return result

    import asyncio

    return asyncio.run(main())


MODES = ("sync", "async")
