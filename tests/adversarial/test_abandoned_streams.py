"""A stream abandoned mid-way (a break, no `with`, the last reference dropped) closes its
connection at once, with the cyclic garbage collector switched off."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from modelstudio import AsyncModelStudio, ModelStudio
from tests.adversarial.raw import EVENT, KEY, MSG, Conn, RawServer

CLOSE_WITHIN = 1.0


class _Watch:
    """Serves headers and one event, then reports when the client closed the connection."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def __call__(self, conn: Conn) -> None:
        try:
            conn.head(
                200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]
            )
            for _ in range(3):
                conn.send(f"{len(EVENT):x}\r\n".encode() + EVENT + b"\r\n")
        except OSError:  # the client closed while these were being sent
            self.closed.set()
            return
        if conn.wait_for_client_close(5.0):
            self.closed.set()


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _break_after_one(client: ModelStudio) -> None:
    stream = client.generation.create(model="qwen-plus", messages=MSG, stream=True)
    for _ in stream:
        break
    del stream


def _never_iterated(client: ModelStudio) -> None:
    stream = client.generation.create(model="qwen-plus", messages=MSG, stream=True)
    del stream


def _temporary_in_for(client: ModelStudio) -> None:
    for _ in client.generation.create(model="qwen-plus", messages=MSG, stream=True):
        break


def _next_then_return(client: ModelStudio) -> None:
    stream = client.generation.create(model="qwen-plus", messages=MSG, stream=True)
    next(iter(stream))


def _raw_iterator_kept_then_dropped(client: ModelStudio) -> None:
    iterator = iter(client.generation.create(model="qwen-plus", messages=MSG, stream=True))
    next(iterator)
    del iterator


SYNC: list[Callable[[ModelStudio], None]] = [
    _break_after_one,
    _never_iterated,
    _temporary_in_for,
    _next_then_return,
    _raw_iterator_kept_then_dropped,
]


@pytest.mark.usefixtures("no_gc")
@pytest.mark.parametrize("abandon", SYNC, ids=[f.__name__.strip("_") for f in SYNC])
def test_an_abandoned_stream_closes_at_once(abandon: Callable[[ModelStudio], None]) -> None:
    watch = _Watch()
    with RawServer(watch) as srv, ModelStudio(api_key=KEY, base_url=srv.base_url) as client:
        abandon(client)
        started = time.monotonic()
        assert watch.closed.wait(CLOSE_WITHIN), "the connection stayed open"
        assert time.monotonic() - started < CLOSE_WITHIN


async def _async_break(client: AsyncModelStudio) -> None:
    stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
    async for _ in stream:
        break
    del stream


async def _async_never_iterated(client: AsyncModelStudio) -> None:
    stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
    del stream


async def _async_anext_then_return(client: AsyncModelStudio) -> None:
    stream = await client.generation.create(model="qwen-plus", messages=MSG, stream=True)
    await stream.__anext__()


ASYNC: list[Callable[[AsyncModelStudio], Any]] = [
    _async_break,
    _async_never_iterated,
    _async_anext_then_return,
]


@pytest.mark.usefixtures("no_gc")
@pytest.mark.parametrize("abandon", ASYNC, ids=[f.__name__.strip("_") for f in ASYNC])
def test_an_abandoned_async_stream_closes_at_once(abandon: Any) -> None:
    watch = _Watch()

    async def main() -> bool:
        async with AsyncModelStudio(api_key=KEY, base_url=srv.base_url) as client:
            await abandon(client)
            # The event loop runs the async generator's (or the stream's) close on its next
            # turns: give it a few, without sleeping past the bound.
            for _ in range(20):
                await asyncio.sleep(0.01)
                if watch.closed.is_set():
                    return True
            return await asyncio.to_thread(watch.closed.wait, CLOSE_WITHIN)

    with RawServer(watch) as srv:
        assert asyncio.run(main()), "the connection stayed open"
