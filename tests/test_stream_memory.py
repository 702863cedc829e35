"""What an open stream holds and a finished one leaves behind (issue 18, 500 concurrent
streams), over real HTTP.

A read waiting in the async backend's receive buffer holds about its own size (asyncio's plain
protocols get each read as a shrunk 256 KiB object, which glibc keeps in a page of its own). A
stream waiting for its next event keeps no block of the reads before (tracemalloc: nothing the
chunked-body reader cut out is still alive). A stream's response, its request, headers and
httpx's stream wrappers are freed as soon as the stream is finished and dropped, not when the
cyclic garbage collector next makes a full pass (with hundreds of long streams their objects
reach the oldest generation, whose pass is rare); a new async connection to an IP address
leaves no asyncio tasks, frames or exceptions in reference cycles, and one whose first request
failed no hook of the SDK's in one. Where the cyclic collector is switched off, whatever is
freed is freed by reference counting alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import weakref
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx
import pytest

from modelstudio import APIConnectionError, AsyncModelStudio, ModelStudio
from modelstudio._asyncio_net import AsyncioBackend
from modelstudio.testing import MockServer
from tests.adversarial.raw import free_port

KEY = "sk-test"
MESSAGES = [{"role": "user", "content": "Hi"}]


def _event(n: int, text: str, reason: str = "null") -> bytes:
    data = {
        "output": {
            "choices": [
                {"message": {"role": "assistant", "content": text}, "finish_reason": reason}
            ]
        },
        "usage": {"input_tokens": 3, "output_tokens": n, "total_tokens": 3 + n},
        "request_id": "5b441aa7-0b9c-9fbc-ae0a-e2b212b71eac",
    }
    return f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n".encode()


EVENTS = [_event(1, "Hello"), _event(2, ", world"), _event(3, "!", "stop")]


@pytest.fixture
def srv() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _cyclic_garbage() -> list[Any]:
    """The objects the cyclic collector would free now (found, kept for inspection)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _described(objects: list[Any]) -> list[str]:
    out = []
    for o in objects:
        code = getattr(o, "f_code", None) or getattr(o, "cr_code", None)
        where = f" {code.co_filename}:{code.co_name}" if code is not None else ""
        out.append(type(o).__qualname__ + where)
    return out


def test_a_finished_sync_stream_frees_its_response_at_once(
    srv: MockServer, no_cyclic_gc: None
) -> None:
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        for how in ("read to the end", "closed early"):
            srv.enqueue(chunks=EVENTS)
            stream = client.generation.create(
                model="qwen-plus", messages=MESSAGES, result_format="message", stream=True
            )
            response = weakref.ref(stream.response)
            if how == "read to the end":
                assert "".join(c.delta.text for c in stream) == "Hello, world!"
            else:
                next(iter(stream))
                stream.close()
            del stream
            assert response() is None, how
        garbage = _cyclic_garbage()
    assert not [o for o in garbage if isinstance(o, httpx.Response)]


async def test_a_finished_async_stream_frees_its_response_at_once(
    srv: MockServer, no_cyclic_gc: None
) -> None:
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        for how in ("read to the end", "closed early"):
            srv.enqueue(chunks=EVENTS)
            stream = await client.generation.create(
                model="qwen-plus", messages=MESSAGES, result_format="message", stream=True
            )
            response = weakref.ref(stream.response)
            if how == "read to the end":
                assert "".join([c.delta.text async for c in stream]) == "Hello, world!"
            else:
                await stream.__aiter__().__anext__()
                await stream.aclose()
            del stream
            assert response() is None, how


async def test_new_async_connections_leave_no_reference_cycles(
    srv: MockServer, no_cyclic_gc: None
) -> None:
    assert srv.base_url.startswith("http://127.0.0.1:")  # an IP address: one to connect to
    _cyclic_garbage()
    for _ in range(3):  # a new client each time: a new connection each time
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
            srv.enqueue(chunks=EVENTS)
            stream = await client.generation.create(
                model="qwen-plus", messages=MESSAGES, result_format="message", stream=True
            )
            assert "".join([c.delta.text async for c in stream]) == "Hello, world!"
            del stream
    garbage = _described(_cyclic_garbage())
    assert not [g for g in garbage if "staggered" in g or g == "CancelledError"], garbage
    assert "Response" not in garbage


async def _connected_pairs(count: int) -> tuple[list[Any], list[socket.socket]]:
    """`count` connections of the async backend to a loopback listener, and their server ends."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        streams, peers = [], []
        for _ in range(count):
            streams.append(await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5))
            peers.append(listener.accept()[0])
    return streams, peers


# Run in a fresh interpreter, under glibc's default mmap threshold held fixed (a process that
# once freed a large mapping has raised its own, and serves such reads from the heap).
_HELD_READ_PROBE = """
import asyncio, ctypes, socket
from modelstudio._asyncio_net import AsyncioBackend

libc = ctypes.CDLL(None)
libc.malloc_usable_size.restype = ctypes.c_size_t
libc.malloc_usable_size.argtypes = [ctypes.c_void_p]

async def main():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        stream = await AsyncioBackend().connect_tcp(
            "127.0.0.1", listener.getsockname()[1], timeout=5
        )
        peer = listener.accept()[0]
    peer.sendall(b"x" * 750)  # one event of a stream, about
    data = await stream.read(65536, timeout=5)
    # A bytes object over 512 bytes is one malloc block, at the object's address.
    print(len(data), libc.malloc_usable_size(id(data)))
    await stream.aclose()
    peer.close()

asyncio.run(main())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="reads glibc's malloc_usable_size")
def test_a_read_held_by_the_async_backend_takes_its_size_not_a_page() -> None:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    proc = subprocess.run(
        [sys.executable, "-c", _HELD_READ_PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    size, allocated = map(int, proc.stdout.split())
    assert size == 750
    assert allocated < 1024  # was 4080: a page for each read waiting to be taken


async def test_connections_receiving_in_one_turn_each_read_their_own_bytes() -> None:
    """The connections of a loop share one receive area: what each keeps is its own."""
    streams, peers = await _connected_pairs(30)
    payloads = [bytes([65 + i % 26]) * (700 + 97 * i) for i in range(30)]
    try:
        for peer, payload in zip(peers, payloads, strict=True):
            peer.sendall(payload)
        await asyncio.sleep(0.05)  # let them all arrive before any is read
        for stream, payload in zip(streams, payloads, strict=True):
            got = b""
            while len(got) < len(payload):
                got += await stream.read(65536, timeout=5)
            assert got == payload
    finally:
        for stream in streams:
            await stream.aclose()
        for peer in peers:
            peer.close()


async def test_a_connection_whose_first_request_failed_drops_its_first_request_hook(
    no_cyclic_gc: None,
) -> None:
    """The hook that makes a new connection's locks fast once its first request is in holds
    the connection; it was left on it when that request failed (a cycle)."""
    _cyclic_garbage()
    url = f"http://127.0.0.1:{free_port()}/api/v1"  # nothing listens: the connect fails
    async with AsyncModelStudio(api_key=KEY, base_url=url, max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            await client.generation.create(model="qwen-plus", messages=MESSAGES)
    # httpcore's frames in the failure's traceback may still hold the connection in a cycle;
    # the hook must not be one more.
    connections = [o for o in _cyclic_garbage() if type(o) is httpcore.AsyncHTTPConnection]
    assert not [c for c in connections if "handle_async_request" in vars(c)]


BIG_TEXT = "x" * 30_000


def _largest_read_block_held(snapshot: tracemalloc.Snapshot) -> int:
    """The largest allocation still alive that the chunked-body reader made (it cuts the
    blocks it hands out of the socket reads)."""
    held = snapshot.filter_traces([tracemalloc.Filter(True, "*_chunked.py")])
    return max((trace.size for trace in held.traces), default=0)


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def _wait_until_reading(thread: threading.Thread) -> None:
    """Until `thread` waits in a socket read (its innermost Python frame is a `read`)."""
    for _ in range(1000):
        frame = sys._current_frames().get(thread.ident or 0)
        if frame is not None and frame.f_code.co_name == "read":
            return
        time.sleep(0.01)
    raise AssertionError("the stream never went back to reading")


def test_a_sync_stream_waiting_for_its_next_event_keeps_no_read_block(
    srv: MockServer, traced: None
) -> None:
    srv.enqueue(chunks=[_event(1, BIG_TEXT), *EVENTS], stall_after=1)
    got_first = threading.Event()
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        stream = client.generation.create(
            model="qwen-plus", messages=MESSAGES, result_format="message", stream=True
        )

        def read() -> None:
            with contextlib.suppress(Exception):  # the stream is closed under it at the end
                for chunk in stream:
                    assert chunk.delta.text == BIG_TEXT
                    del chunk
                    got_first.set()

        reader = threading.Thread(target=read)
        reader.start()
        assert got_first.wait(10)
        _wait_until_reading(reader)
        held = _largest_read_block_held(tracemalloc.take_snapshot())
        network = stream.response.extensions["network_stream"]
        network.get_extra_info("socket").shutdown(socket.SHUT_RDWR)  # ends the read
        reader.join(10)
        assert not reader.is_alive()
        stream.close()
    assert held < len(BIG_TEXT)  # was the block of the event already handed out


async def test_an_async_stream_waiting_for_its_next_event_keeps_no_read_block(
    srv: MockServer, traced: None
) -> None:
    srv.enqueue(chunks=[_event(1, BIG_TEXT), *EVENTS], stall_after=1)
    got_first = asyncio.Event()
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        stream = await client.generation.create(
            model="qwen-plus", messages=MESSAGES, result_format="message", stream=True
        )

        async def read() -> None:
            async for chunk in stream:
                assert chunk.delta.text == BIG_TEXT
                del chunk
                got_first.set()

        reader = asyncio.create_task(read())
        await asyncio.wait_for(got_first.wait(), 10)
        for _ in range(10):  # a few turns of the loop: the reader is back in its read
            await asyncio.sleep(0)
        held = _largest_read_block_held(tracemalloc.take_snapshot())
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await stream.aclose()
    assert held < len(BIG_TEXT)  # was the block of the event already handed out


def _count(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is kind)


async def test_open_async_streams_keep_no_event_of_the_connection_pool(srv: MockServer) -> None:
    """A request given its connection at once never waits for one: the pool's event for that
    wait (an asyncio.Event with a ~0.7 KiB waiter deque) is not made for it."""
    async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=0) as client:
        srv.enqueue(chunks=EVENTS)
        warm = await client.generation.create(
            model="qwen-plus", messages=MESSAGES, result_format="message", stream=True
        )
        assert "".join([c.delta.text async for c in warm]) == "Hello, world!"
        before = _count(asyncio.Event)
        streams = []
        for _ in range(5):
            srv.enqueue(chunks=EVENTS, stall_after=1)
            stream = await client.generation.create(
                model="qwen-plus", messages=MESSAGES, result_format="message", stream=True
            )
            assert (await stream.__aiter__().__anext__()).delta.text == "Hello"
            streams.append(stream)
        made = _count(asyncio.Event) - before
        for stream in streams:
            await stream.aclose()
    assert made == 0  # was one per open stream
