"""The `modelstudio` command line, run as a real subprocess against a MockServer on loopback."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import modelstudio
from modelstudio.testing import MockServer
from tests.paths import ROOT

KEY = "sk-cli-test-key"


def png(side: int) -> bytes:
    """A grey square PNG of `side` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + b"\x80" * 3 * side for _ in range(side)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DASHSCOPE_") and k not in ("NO_COLOR", "PYTHONWARNINGS")
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "modelstudio._cli", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env or _env(),
        check=False,
    )


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as server:
        yield server


def at(srv: MockServer) -> list[str]:
    return ["--base-url", srv.base_url, "--api-key", KEY]


# -- chat -------------------------------------------------------------------------------------


def test_chat_streams_the_answer_for_a_prompt_argument(srv: MockServer) -> None:
    result = cli("chat", *at(srv), "Hello there")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: Hello there\n"
    assert result.stderr == ""
    request = srv.last_request
    assert request is not None
    assert request.path == "/api/v1/services/aigc/text-generation/generation"
    assert request.header("x-dashscope-sse") == "enable"
    assert request.json["model"] == "qwen-plus"
    assert request.json["input"]["messages"] == [{"role": "user", "content": "Hello there"}]
    assert request.json["parameters"]["incremental_output"] is True


def test_chat_reads_the_prompt_from_stdin(srv: MockServer) -> None:
    result = cli("chat", *at(srv), stdin="Piped question\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: Piped question\n"


def test_chat_sends_the_system_message_and_model(srv: MockServer) -> None:
    result = cli("chat", *at(srv), "--system", "Be brief.", "--model", "qwen-turbo", "Hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: Hi\n"
    assert srv.last_request is not None
    body = srv.last_request.json
    assert body["model"] == "qwen-turbo"
    assert body["input"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


def test_chat_json_prints_one_raw_chunk_per_line(srv: MockServer) -> None:
    result = cli("chat", *at(srv), "--json", "one two three")
    assert result.returncode == 0, result.stderr
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(chunks) > 3
    assert "".join(c["output"].get("text") or "" for c in chunks) == "Echo: one two three"
    assert chunks[-1]["output"]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["output_tokens"] == 4
    assert len({c["request_id"] for c in chunks}) == 1


def test_chat_thinking_prints_reasoning_then_answer_plain_when_piped(srv: MockServer) -> None:
    result = cli("chat", *at(srv), "--thinking", "Why?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ('The user asked about "Why?". I will answer plainly.\n\nEcho: Why?\n')
    assert "\x1b[" not in result.stdout
    assert srv.last_request is not None
    assert srv.last_request.json["parameters"]["enable_thinking"] is True


def test_chat_thinking_dims_the_reasoning_on_a_terminal(srv: MockServer) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelstudio._cli", "chat", *at(srv), "--thinking", "Why?"],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=_env(),
        )
        os.close(slave)
        slave = -1
        output = b""
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
        assert proc.wait(30) == 0
        assert proc.stderr is not None
        proc.stderr.close()
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    text = output.decode().replace("\r\n", "\n")
    assert text == (
        '\x1b[2mThe user asked about "Why?". I will answer plainly.\x1b[0m\n\nEcho: Why?\n'
    )


def test_chat_with_an_image_url_uses_the_multimodal_endpoint(srv: MockServer) -> None:
    url = "https://example.com/cat.png"
    result = cli("chat", *at(srv), "--image", url, "What is this?")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: What is this? [image received]\n"
    request = srv.last_request
    assert request is not None
    assert request.path == "/api/v1/services/aigc/multimodal-generation/generation"
    assert request.json["model"] == "qwen-vl-plus"
    assert request.json["input"]["messages"] == [
        {"role": "user", "content": [{"image": url}, {"text": "What is this?"}]}
    ]


# -- models -----------------------------------------------------------------------------------


def test_models_fits_100_columns_by_default() -> None:
    result = cli("models")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FAMILY", "ENDPOINTS", "THINKING", "MATCHES"]
    assert max(len(line) for line in lines) <= 100
    assert len(lines) == 2 + len(modelstudio.FAMILIES)
    assert "--wide" in lines[-1] and "--json" in lines[-1]
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert rows["qwen-plus"].split()[1] == "text,compatible"
    assert "hybrid (off)" in rows["qwen-plus"]
    assert any(line.endswith("…") for line in lines)  # long pattern lists are cut, not wrapped
    column = lines[0].index("MATCHES")
    assert all(line[column - 2 : column] == "  " for line in lines[:-1])
    env = _env()
    env["COLUMNS"] = "80"
    narrow = cli("models", env=env)
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80


def test_models_wide_prints_every_column_in_full() -> None:
    result = cli("models", "--wide")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FAMILY", "MATCHES", "ENDPOINTS", "THINKING", "DEFAULTS"]
    assert len(lines) == 1 + len(modelstudio.FAMILIES)
    column = lines[0].index("ENDPOINTS")
    rows = {line.split()[0]: line for line in lines[1:]}
    plus = rows["qwen-plus"]
    assert plus[column:].startswith("text-generation,compatible")
    assert "hybrid (off)" in plus
    assert "top_k=20" in plus
    assert "always" in rows["qwq"]
    assert "stream only" in rows["qwen-deep-research"]
    # every row's endpoint column starts at the same offset
    assert all(line[column - 2 : column] == "  " for line in lines)


def test_models_json_lists_every_family() -> None:
    result = cli("models", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["family"] for r in rows] == [f.family for f in modelstudio.FAMILIES]
    plus = next(r for r in rows if r["family"] == "qwen-plus")
    row = modelstudio.family_for("qwen-plus")
    assert plus["endpoints"] == list(row.endpoints)
    assert plus["thinking_mode"] == "hybrid"
    assert plus["thinking_default"] is False
    assert plus["defaults"] == dict(row.defaults)
    assert plus["defaults_thinking"] == dict(row.defaults_thinking)


# -- request (dry run) ------------------------------------------------------------------------


def test_request_prints_body_and_redacted_headers_without_sending(srv: MockServer) -> None:
    secret = "sk-very-secret-value-123"
    result = cli(
        "request",
        "--base-url",
        srv.base_url,
        "--api-key",
        secret,
        "--system",
        "Be brief.",
        "--param",
        "temperature=0.5",
        "--param",
        'stop=["END"]',
        "--extra-param",
        "custom_flag=true",
        "--extra-param",
        "note=plain text",
        "Hi",
    )
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout
    shown = json.loads(result.stdout)
    assert shown["method"] == "POST"
    assert shown["url"] == srv.base_url + "/services/aigc/text-generation/generation"
    assert shown["headers"]["Authorization"] == "Bearer sk-***"
    assert shown["headers"]["X-DashScope-SSE"] == "enable"
    assert shown["headers"]["Content-Type"] == "application/json"
    assert shown["body"] == {
        "model": "qwen-plus",
        "input": {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ]
        },
        "parameters": {
            "temperature": 0.5,
            "stop": ["END"],
            "incremental_output": True,
            "custom_flag": True,
            "note": "plain text",
        },
    }
    assert srv.requests == []


def test_request_body_is_what_chat_sends(srv: MockServer) -> None:
    args = ["--param", "top_p=0.5", "--thinking", "Same body?"]
    dry = cli("request", *at(srv), *args)
    assert dry.returncode == 0, dry.stderr
    assert srv.requests == []
    sent = cli("chat", *at(srv), *args)
    assert sent.returncode == 0, sent.stderr
    assert srv.last_request is not None
    assert srv.last_request.json == json.loads(dry.stdout)["body"]


def test_request_no_stream_and_image(srv: MockServer) -> None:
    result = cli("request", *at(srv), "--no-stream", "--image", "https://e.com/a.jpg", "Hi")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["url"].endswith("/services/aigc/multimodal-generation/generation")
    assert "X-DashScope-SSE" not in shown["headers"]
    assert shown["body"]["input"]["messages"][0]["content"] == [
        {"image": "https://e.com/a.jpg"},
        {"text": "Hi"},
    ]
    assert srv.requests == []


# -- mock -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_request_says_when_no_key_is_set(srv: MockServer) -> None:
    result = cli("request", "--base-url", srv.base_url, "Hi")
    assert result.returncode == 0, result.stderr
    authorization = json.loads(result.stdout)["headers"]["Authorization"]
    assert "sk-" not in authorization
    assert "no API key" in authorization and "--api-key" in authorization
    assert "DASHSCOPE_API_KEY" in authorization


def test_request_shows_the_data_url_a_local_file_becomes(srv: MockServer, tmp_path: Any) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(png(48))
    args = ["--image", str(image), "What is it?"]
    dry = cli("request", *at(srv), *args)
    assert dry.returncode == 0, dry.stderr
    shown = json.loads(dry.stdout)
    part = shown["body"]["input"]["messages"][0]["content"][0]["image"]
    assert "file://" not in dry.stdout
    head, _, size = part.partition("... (")
    assert head.startswith("data:image/png;base64,iVBORw0KGgo")
    sent = cli("chat", *at(srv), *args)
    assert sent.returncode == 0, sent.stderr
    assert srv.last_request is not None
    real = srv.last_request.json["input"]["messages"][0]["content"][0]["image"]
    assert real.startswith(head)
    assert size == f"{len(real):,} characters, {len(image.read_bytes()):,} bytes)"
    assert int(shown["headers"]["Content-Length"]) == len(srv.last_request.body)


@pytest.mark.parametrize(
    ("param", "hint"),
    [("temprature=0.5", "did you mean temperature?"), ("max_token=5", "did you mean max_tokens?")],
)
def test_param_names_are_checked_against_the_spec(srv: MockServer, param: str, hint: str) -> None:
    for command in ("request", "chat"):
        result = cli(command, *at(srv), "--param", param, "Hi")
        assert result.returncode == 2
        assert hint in result.stderr and "--extra-param" in result.stderr
        assert "Traceback" not in result.stderr
    assert srv.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["request", "--mod", "qwen-max", "Hi"],  # abbreviations are not guessed
        ["request", "--temperature", "0.5", "Hi"],
        ["models", "--wide", "--json"],
        ["models", "--verbose"],
    ],
)
def test_unknown_options_are_refused(args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_unknown_option_gets_the_closest_known_one() -> None:
    result = cli("request", "--sytem", "Be brief.", "Hi")
    assert result.returncode == 2
    assert "unknown option --sytem for `modelstudio request` (did you mean --system?)" in (
        result.stderr
    )


def test_mock_serves_until_interrupted() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelstudio._cli", "mock", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        base = f"http://127.0.0.1:{port}/api/v1"
        assert base in first
        response = httpx.post(
            base + "/services/aigc/text-generation/generation",
            headers={"Authorization": "Bearer sk-any"},
            json={"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "Yo"}]}},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["output"]["text"] == "Echo: Yo"
        chat = cli("chat", "--base-url", base, "--api-key", "sk-any", "From the CLI")
        assert chat.returncode == 0, chat.stderr
        assert chat.stdout == "Echo: From the CLI\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped" in out
    with pytest.raises(httpx.ConnectError):
        httpx.get(base, timeout=2)


def test_mock_on_a_busy_port_is_a_usage_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = cli("mock", "--port", str(port))
    assert result.returncode == 2
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


# -- exit codes -------------------------------------------------------------------------------


def test_validation_error_exits_2_before_any_request(srv: MockServer) -> None:
    result = cli("chat", *at(srv), "--param", "temperature=5", "Hi")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "temperature=5" in lines[0]
    assert "Traceback" not in result.stderr
    assert srv.requests == []
    dry = cli("request", *at(srv), "--param", "temperature=5", "Hi")
    assert dry.returncode == 2
    assert "temperature=5" in dry.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["chat", "--param", "no-equals-sign", "Hi"],
        ["chat", "--image", "/no/such/file.png", "Hi"],
        ["chat"],  # empty stdin: no prompt
    ],
)
def test_usage_errors_exit_2_without_traceback(srv: MockServer, args: list[str]) -> None:
    result = cli(*args[:1], *(at(srv) if args[0] == "chat" else []), *args[1:])
    assert result.returncode == 2
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr
    assert srv.requests == []


def test_missing_api_key_exits_2(srv: MockServer) -> None:
    result = cli("chat", "--base-url", srv.base_url, "Hi")
    assert result.returncode == 2
    assert "DASHSCOPE_API_KEY" in result.stderr and "--api-key" in result.stderr
    assert srv.requests == []
    assert "Traceback" not in result.stderr
    env = _env()
    env["DASHSCOPE_API_KEY"] = KEY
    ok = cli("chat", "--base-url", srv.base_url, "Hi", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "Echo: Hi\n"


def test_api_error_exits_1_with_code_and_request_id_on_one_line() -> None:
    with MockServer(api_key="sk-right") as server:
        result = cli("chat", "--base-url", server.base_url, "--api-key", "sk-wrong", "Hi")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "InvalidApiKey" in lines[0]
    assert "401" in lines[0]
    assert UUID.search(lines[0])
    assert "sk-wrong" not in result.stderr


def test_error_in_the_middle_of_a_stream_exits_1_after_the_partial_answer(
    srv: MockServer,
) -> None:
    srv.enqueue_stream_error(after_events=2, status=500, code="InternalError", message="boom")
    result = cli("chat", *at(srv), "one two three four")
    assert result.returncode == 1
    assert result.stdout.startswith("Echo: one")
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "InternalError" in lines[0]
    assert "boom" in lines[0]
    assert UUID.search(lines[0])


def test_connection_error_exits_1() -> None:
    base = f"http://127.0.0.1:{_free_port()}/api/v1"
    result = cli("chat", "--base-url", base, "--api-key", KEY, "Hi")
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "Connection" in result.stderr
    assert "Traceback" not in result.stderr


# -- the demo ---------------------------------------------------------------------------------


def test_demo_runs_without_a_key() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "modelstudio._demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "== 1. Streaming chat through the CLI" in out
    assert "Echo: Hello, Model Studio!" in out
    assert "== 2. Tool call round trip" in out
    assert 'model asks for: get_weather({"city": "Hangzhou"})' in out
    assert "final answer:   Based on the tool result:" in out
    assert "== 3. Thinking" in out
    assert 'reasoning: The user asked about "Why is the sky blue?"' in out
    assert "answer:    Echo: Why is the sky blue?" in out
    assert re.search(r"\d+ requests served by the mock in [\d.]+ s; stopped\.", out)
    # sections come in order and the CLI's output sits inside section 1
    assert out.index("== 1.") < out.index("Echo: Hello") < out.index("== 2.") < out.index("== 3.")
