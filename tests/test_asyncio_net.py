"""The async client's asyncio network backend (`modelstudio._asyncio_net`), on real sockets.

The streams are driven directly (httpcore's contract: at most `max_bytes`, `b""` at the end,
httpcore's own exceptions) and through `AsyncModelStudio` (what a user sees: the same errors,
reconnects, proxies and certificates from the environment, a cancelled call leaves nothing
behind). trio is not installed in this environment, so the fallback to httpcore's own backend
under trio is not exercised here.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

from modelstudio import APIConnectionError, APITimeoutError, AsyncModelStudio
from modelstudio._asyncio_net import READ_HIGH_WATER, AsyncioBackend, AsyncioStream, _expire
from tests.adversarial.raw import KEY, MSG, OK_JSON, Conn, RawServer, free_port

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def _ok(conn: Conn) -> None:
    conn.reply()


def _pending_timers() -> list[asyncio.TimerHandle]:
    """The backend's timeout handles still scheduled on the running loop."""
    scheduled = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    return [h for h in scheduled if not h.cancelled() and h._callback is _expire]


def _backend_of(client: AsyncModelStudio) -> object:
    return client._http._transport._pool._network_backend  # type: ignore[attr-defined]


async def _connect(port: int) -> AsyncioStream:
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
    assert isinstance(stream, AsyncioStream)
    return stream


# the streams


async def test_read_returns_at_most_max_bytes_then_empty_at_the_end() -> None:
    body = bytes(range(256)) * 1200  # 300 KiB: more than the read buffer's high-water mark

    def send_and_close(conn: Conn) -> None:
        conn.send(body)

    with RawServer(send_and_close, read_request=False) as srv:
        stream = await _connect(srv.port)
        got = bytearray()
        while True:
            data = await stream.read(1000, timeout=5)
            assert len(data) <= 1000
            if not data:
                break
            got += data
        assert bytes(got) == body
        assert await stream.read(1000, timeout=5) == b""  # and again: the end stays the end
        await stream.aclose()
        assert _pending_timers() == []


async def test_a_read_that_waits_too_long_is_httpcores_read_timeout() -> None:
    def silent(conn: Conn) -> None:
        conn.wait(5)

    with RawServer(silent, read_request=False) as srv:
        stream = await _connect(srv.port)
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(1000, timeout=0.2)
        assert _pending_timers() == []
        await stream.aclose()


async def test_a_reset_is_a_read_error_after_the_bytes_that_came_before_it() -> None:
    def half_then_reset(conn: Conn) -> None:
        conn.send(b"partial")
        conn.wait(0.2)
        conn.reset()

    with RawServer(half_then_reset, read_request=False) as srv:
        stream = await _connect(srv.port)
        assert await stream.read(1000, timeout=5) == b"partial"
        with pytest.raises(httpcore.ReadError):
            await stream.read(1000, timeout=5)
        await stream.aclose()


async def _answer_waiting_in_the_socket(stream: AsyncioStream) -> list[int]:
    """Send a request, then block the loop until the server's answer (or its end) is in the
    socket unread; the list fills if the loop gets a turn from then on."""
    await stream.write(REQUEST, timeout=5)
    await asyncio.sleep(0.05)  # the request goes out; the server answers 0.1 s after it
    time.sleep(0.3)  # the loop does not run: the answer waits in the socket
    turns: list[int] = []
    asyncio.get_running_loop().call_soon(turns.append, 1)
    return turns


async def test_the_answer_to_a_request_is_read_without_giving_up_the_loop() -> None:
    def answer_twice(conn: Conn) -> None:
        conn.wait(0.1)
        conn.send(b"answer")
        conn.wait(0.6)
        conn.send(b"more")
        conn.wait(5)

    with RawServer(answer_twice) as srv:
        stream = await _connect(srv.port)
        turns = await _answer_waiting_in_the_socket(stream)
        assert await stream.read(1000, timeout=5) == b"answer"
        assert turns == []  # it asked the socket itself: no wait, no timer, no loop turn
        time.sleep(0.6)  # "more" is in the socket too
        assert await stream.read(1000, timeout=5) == b"more"
        assert turns == [1]  # a later read waits for the loop, so other tasks get their turn
        assert _pending_timers() == []
        await stream.aclose()


async def test_an_end_or_a_reset_found_by_that_read_is_reported_as_before() -> None:
    def close_after(conn: Conn) -> None:
        conn.wait(0.1)

    def reset_after(conn: Conn) -> None:
        conn.wait(0.1)
        conn.reset()

    with RawServer(close_after) as srv:
        stream = await _connect(srv.port)
        await _answer_waiting_in_the_socket(stream)
        assert await stream.read(1000, timeout=5) == b""
        assert await stream.read(1000, timeout=5) == b""
        await stream.aclose()
    with RawServer(reset_after) as srv:
        stream = await _connect(srv.port)
        await _answer_waiting_in_the_socket(stream)
        with pytest.raises(httpcore.ReadError, match="reset"):
            await stream.read(1000, timeout=5)
        assert _pending_timers() == []
        await stream.aclose()


async def test_connect_refused_is_httpcores_connect_error() -> None:
    with pytest.raises(httpcore.ConnectError, match="Connection refused"):
        await AsyncioBackend().connect_tcp("127.0.0.1", free_port(), timeout=5)


async def test_reads_and_writes_after_close_are_errors() -> None:
    with RawServer(lambda conn: conn.wait(5), read_request=False) as srv:
        stream = await _connect(srv.port)
        await stream.aclose()
        with pytest.raises(httpcore.ReadError):
            await stream.read(10)
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"x")
        assert stream.get_extra_info("is_readable") is True  # a pool drops it


async def test_a_peer_that_stops_reading_bounds_the_write_buffer_and_times_out() -> None:
    def never_reads(conn: Conn) -> None:
        conn.wait(10)

    with RawServer(never_reads, read_request=False) as srv:
        stream = await _connect(srv.port)
        transport = stream._transport
        assert transport is not None
        high = transport.get_write_buffer_limits()[1]
        piece = b"x" * 65536
        with pytest.raises(httpcore.WriteTimeout):
            for _ in range(100_000):  # far more than the socket buffers hold
                await stream.write(piece, timeout=0.3)
                assert transport.get_write_buffer_size() <= high + len(piece)
        assert _pending_timers() == []
        await stream.aclose()


async def test_extra_info_httpcore_asks_for() -> None:
    with RawServer(lambda conn: conn.wait(5), read_request=False) as srv:
        stream = await _connect(srv.port)
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", srv.port)
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("socket").fileno() >= 0
        assert stream.get_extra_info("ssl_object") is None
        assert stream.get_extra_info("is_readable") is False  # idle: nothing came
        assert stream.get_extra_info("no such thing") is None
        await stream.aclose()


# TLS: a loopback server with a certificate made for this test


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class TLSServer:
    """Answers each HTTP/1.1 request on a TLS connection with `OK_JSON` (keep-alive)."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert_file, key_file)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = int(self.listener.getsockname()[1])
        self.stopping = threading.Event()
        self.requests: list[bytes] = []
        self.handshakes_failed = 0
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(5)
        try:
            sock = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            raw.close()
            return
        with sock:
            data = b""
            while not self.stopping.is_set():
                try:
                    chunk = sock.recv(65536)
                except (OSError, ssl.SSLError):
                    return
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    head, _, data = data.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        field, _, value = line.partition(b":")
                        if field.strip().lower() == b"content-length":
                            length = int(value)
                    while len(data) < length:
                        data += sock.recv(65536)
                    data = data[length:]
                    self.requests.append(head)
                    sock.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(OK_JSON), OK_JSON)
                    )

    def close(self) -> None:
        self.stopping.set()
        self._acceptor.join(2)
        for thread in self._threads:
            thread.join(6)
        self.listener.close()


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[TLSServer]:
    server = TLSServer(*certificate)
    yield server
    server.close()


async def test_start_tls_then_http_over_it(
    tls_server: TLSServer, certificate: tuple[Path, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    plain = await _connect(tls_server.port)
    stream = await plain.start_tls(context, server_hostname="localhost", timeout=5)
    ssl_object = stream.get_extra_info("ssl_object")
    assert isinstance(ssl_object, ssl.SSLObject) and ssl_object.version() is not None
    await stream.write(REQUEST, timeout=5)
    answer = b""
    while not answer.endswith(OK_JSON):
        data = await stream.read(65536, timeout=5)
        assert data, "the server closed before answering"
        answer += data
    assert answer.startswith(b"HTTP/1.1 200 OK")
    await stream.aclose()


async def test_an_untrusted_certificate_is_httpcores_connect_error(tls_server: TLSServer) -> None:
    plain = await _connect(tls_server.port)
    with pytest.raises(httpcore.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await plain.start_tls(ssl.create_default_context(), "localhost", timeout=5)


async def test_the_sdk_over_https_trusts_ssl_cert_file_from_the_environment(
    tls_server: TLSServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f"https://localhost:{tls_server.port}/api/v1"
    async with AsyncModelStudio(api_key=KEY, base_url=base, max_retries=0, timeout=5) as client:
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.generation.create(model="qwen-plus", messages=MSG)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    async with AsyncModelStudio(api_key=KEY, base_url=base, max_retries=0, timeout=5) as client:
        assert isinstance(_backend_of(client), AsyncioBackend)
        for _ in range(3):
            response = await client.generation.create(model="qwen-plus", messages=MSG)
            assert response.output.text == "hello"
    assert len(tls_server.requests) == 3


# through the SDK's client


async def test_only_the_client_the_sdk_makes_gets_the_backend() -> None:
    async with AsyncModelStudio(api_key=KEY, base_url="http://127.0.0.1:1/api/v1") as client:
        assert isinstance(_backend_of(client), AsyncioBackend)
    async with httpx.AsyncClient() as mine:
        users = AsyncModelStudio(
            api_key=KEY, base_url="http://127.0.0.1:1/api/v1", http_client=mine
        )
        assert not isinstance(_backend_of(users), AsyncioBackend)


@pytest.mark.filterwarnings("ignore::modelstudio._base_client.InsecureTransportWarning")
async def test_a_proxy_from_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx reads the proxy variables only for a client built without `transport=`."""

    def proxy(conn: Conn) -> None:
        conn.reply()

    with RawServer(proxy) as srv:
        monkeypatch.setenv("HTTP_PROXY", srv.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        base = "http://dashscope.example.invalid/api/v1"
        async with AsyncModelStudio(api_key=KEY, base_url=base, max_retries=0) as client:
            response = await client.generation.create(model="qwen-plus", messages=MSG)
    assert response.output.text == "hello"
    assert srv.requests[0].path.startswith("http://dashscope.example.invalid/api/v1/")


async def test_a_read_timeout_is_the_sdks_timeout_error() -> None:
    def stalls(conn: Conn) -> None:
        conn.wait(5)

    with RawServer(stalls) as srv:
        async with AsyncModelStudio(
            api_key=KEY, base_url=srv.base_url, max_retries=0, timeout=0.3
        ) as client:
            with pytest.raises(APITimeoutError):
                await client.generation.create(model="qwen-plus", messages=MSG)
            assert _pending_timers() == []


async def test_a_reset_mid_body_is_a_connection_error() -> None:
    def cut(conn: Conn) -> None:
        conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "1000")])
        conn.send(OK_JSON[:20])
        conn.wait(0.1)
        conn.reset()

    with RawServer(cut) as srv:
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
            with pytest.raises(APIConnectionError):
                await client.generation.create(model="qwen-plus", messages=MSG)


async def test_a_keep_alive_connection_the_server_closed_is_replaced() -> None:
    """The server answers, then closes the idle connection: the next call opens a new one
    (no retry needed: `max_retries=0`)."""

    def answer_then_close(conn: Conn) -> None:
        conn.reply()

    with RawServer(answer_then_close) as srv:
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
            for _ in range(3):
                response = await client.generation.create(model="qwen-plus", messages=MSG)
                assert response.output.text == "hello"
                await asyncio.sleep(0.1)  # the server's FIN arrives while the connection idles
    assert srv.connections == 3


async def test_many_calls_share_one_connection() -> None:
    def keep_alive(conn: Conn) -> None:
        from tests.adversarial.raw import read_request

        conn.reply()
        while read_request(conn.sock) is not None:
            conn.reply()

    with RawServer(keep_alive) as srv:
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
            for _ in range(20):
                response = await client.generation.create(model="qwen-plus", messages=MSG)
                assert response.output.text == "hello"
    assert srv.connections == 1


async def test_a_call_cancelled_mid_read_leaves_nothing_scheduled_and_the_pool_usable() -> None:
    first = threading.Event()

    def stall_first_then_answer(conn: Conn) -> None:
        if not first.is_set():
            first.set()
            conn.head(200, [("Content-Type", "application/json"), ("Content-Length", "1000")])
            conn.wait(5)  # the body never comes
        else:
            conn.reply()

    with RawServer(stall_first_then_answer) as srv:
        async with AsyncModelStudio(
            api_key=KEY, base_url=srv.base_url, max_retries=0, timeout=30
        ) as client:
            task = asyncio.ensure_future(client.generation.create(model="qwen-plus", messages=MSG))
            while not first.is_set():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # the call now waits in a read of the body
            assert len(_pending_timers()) == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert _pending_timers() == []
            response = await client.generation.create(model="qwen-plus", messages=MSG)
            assert response.output.text == "hello"
        assert srv.connections == 2


async def test_a_read_buffer_full_of_unread_bytes_stops_reading_the_socket() -> None:
    body = b"y" * (READ_HIGH_WATER * 4)

    def floods(conn: Conn) -> None:
        conn.send(body)
        conn.wait(5)

    with RawServer(floods, read_request=False) as srv:
        stream = await _connect(srv.port)
        await asyncio.sleep(0.3)  # nobody reads: the buffer fills to the mark, no further
        assert READ_HIGH_WATER <= stream._size < READ_HIGH_WATER + 256 * 1024
        got = 0
        while got < len(body):
            got += len(await stream.read(65536, timeout=5))
        assert got == len(body)
        await stream.aclose()


async def test_concurrent_calls_each_get_a_connection_of_their_own() -> None:
    """The connections' locks skip anyio's loop turn when free: they still keep two requests
    off one HTTP/1.1 connection (a server reading one request at a time answers every call)."""

    def keep_alive(conn: Conn) -> None:
        from tests.adversarial.raw import read_request

        conn.reply()
        while read_request(conn.sock) is not None:
            conn.reply()

    with RawServer(keep_alive, max_connections=40) as srv:
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
            for _ in range(3):
                calls = [
                    client.generation.create(model="qwen-plus", messages=MSG) for _ in range(12)
                ]
                responses = await asyncio.gather(*calls)
                assert [r.output.text for r in responses] == ["hello"] * 12
    assert srv.connections == 12  # the later rounds reuse the first round's connections
