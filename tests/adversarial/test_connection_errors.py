"""Connection errors name the URL (never a credential) and the cause a user can act on."""

from __future__ import annotations

import pytest

from modelstudio import APIConnectionError
from tests.adversarial.raw import KEY, MODES, Conn, RawServer, free_port, run_call

PATH = "/api/v1/services/aigc/text-generation/generation"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_refused(mode: str, stream: bool) -> None:
    port = free_port()
    with pytest.raises(APIConnectionError) as caught:
        run_call(mode, f"http://127.0.0.1:{port}/api/v1", stream=stream, client={"max_retries": 0})
    text = str(caught.value)
    assert f"http://127.0.0.1:{port}{PATH}" in text
    assert "Connection refused" in text and KEY not in text


@pytest.mark.parametrize("mode", MODES)
def test_tls_to_a_plain_http_port(mode: str) -> None:
    """The TLS handshake fails against a server that answers the ClientHello in plain HTTP."""

    def garbage(conn: Conn) -> None:
        conn.sock.recv(4096)
        conn.send(b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n")

    with RawServer(garbage, read_request=False) as srv:
        base = f"https://127.0.0.1:{srv.port}/api/v1"
        with pytest.raises(APIConnectionError) as caught:
            run_call(mode, base, client={"max_retries": 0, "timeout": 5})
    text = str(caught.value)
    assert f"https://127.0.0.1:{srv.port}{PATH}" in text
    assert "TLS" in text and "SSL" in text and KEY not in text


@pytest.mark.parametrize("mode", MODES)
def test_retries_of_a_refused_connection_end_with_the_same_message(mode: str) -> None:
    port = free_port()
    with pytest.raises(APIConnectionError) as caught:
        run_call(mode, f"http://127.0.0.1:{port}/api/v1", client={"max_retries": 1})
    assert "Connection refused" in str(caught.value)


# A name longer than DNS allows (253 characters; each label within 63, so it gets past URL
# parsing and the idna codec): getaddrinfo refuses it before asking any resolver, so this fails
# the same way, at once, with or without a DNS server (`.invalid` alone would ask the server).
UNRESOLVABLE = ".".join(["a" * 60] * 5) + ".invalid"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_host_name_that_does_not_resolve(mode: str, stream: bool) -> None:
    base = f"http://{UNRESOLVABLE}:8080/api/v1"
    with (
        pytest.warns(UserWarning, match="unencrypted"),
        pytest.raises(APIConnectionError) as caught,
    ):
        run_call(mode, base, stream=stream, client={"max_retries": 0})
    text = str(caught.value)
    assert f"http://{UNRESOLVABLE}:8080{PATH}:" in text
    assert "host name did not resolve (DNS)" in text and KEY not in text
