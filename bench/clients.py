"""Client adapters: one object per (library, sync/async) pair, all speaking to the bench server.

Each adapter makes one non-streaming call (``call``) or consumes one stream (``stream``, returning
the number of chunks it saw). Constructing an adapter imports its library; a failure there makes
the harness print "n/a (import failed: ...)" for that client instead of aborting the run.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

API_KEY = "sk-bench"
MODEL = "qwen-plus"
MESSAGES = [{"role": "user", "content": "hi"}]
NATIVE_PATH = "/services/aigc/text-generation/generation"
# What the httpx floor sends: the native request envelope, built once.
FLOOR_HEADERS = {"Authorization": "Bearer " + API_KEY}
FLOOR_STREAM_HEADERS = {**FLOOR_HEADERS, "X-DashScope-SSE": "enable"}
FLOOR_BODY = {
    "model": MODEL,
    "input": {"messages": MESSAGES},
    "parameters": {"result_format": "message"},
}
COMPAT_PATH = "/chat/completions"
COMPAT_STREAM_BODY = {"model": MODEL, "messages": MESSAGES, "stream": True}
FLOOR_STREAM_BODY = {
    "model": MODEL,
    "input": {"messages": MESSAGES},
    "parameters": {"result_format": "message", "incremental_output": True},
}


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of one bench-server profile."""

    native: str  # http://127.0.0.1:PORT/api/v1
    compat: str  # http://127.0.0.1:PORT/compatible-mode/v1

    @classmethod
    def for_port(cls, port: int) -> Endpoints:
        root = f"http://127.0.0.1:{port}"
        return cls(native=root + "/api/v1", compat=root + "/compatible-mode/v1")


class ClientUnavailable(Exception):
    """The client's library cannot be imported or set up: its rows read n/a."""


def _import(what: str) -> Any:
    """Import a module, turning any failure into ClientUnavailable("import failed: ...")."""
    try:
        return __import__(what, fromlist=["_"])
    except Exception as exc:
        raise ClientUnavailable(f"import failed: {type(exc).__name__}: {exc}") from exc


def _reasoning(delta: Any) -> Any:
    """The reasoning text of a delta (openai's `ChoiceDelta` keeps it among its extra fields)."""
    return getattr(delta, "reasoning_content", None)


def _check_status(status: Any, what: str) -> None:
    if status is not None and status != 200:
        raise RuntimeError(f"{what}: HTTP status {status}")


# --------------------------------------------------------------------------------------------
# synchronous adapters


class SyncAdapter:
    name = ""
    library = ""
    floor = "httpx_floor"
    is_async = False

    def call(self) -> None:
        raise NotImplementedError

    def stream(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


class HttpxFloor(SyncAdapter):
    """Bare httpx: ``Client.post`` + ``json.loads``; streams via ``iter_lines``."""

    name = "httpx_floor"
    library = "httpx"

    def __init__(self, ep: Endpoints, *, limits: Any = None) -> None:
        httpx = _import("httpx")
        kwargs = {"limits": limits} if limits is not None else {}
        self.http = httpx.Client(timeout=60.0, **kwargs)
        self.url = ep.native + NATIVE_PATH
        self.headers, self.stream_headers = FLOOR_HEADERS, FLOOR_STREAM_HEADERS
        self.body, self.stream_body = FLOOR_BODY, FLOOR_STREAM_BODY

    def call(self) -> None:
        r = self.http.post(self.url, json=self.body, headers=self.headers)
        _check_status(r.status_code, self.name)
        json.loads(r.content)

    def stream(self) -> int:
        n = 0
        with self.http.stream(
            "POST", self.url, json=self.stream_body, headers=self.stream_headers
        ) as r:
            _check_status(r.status_code, self.name)
            for line in r.iter_lines():
                if line.startswith("data:"):
                    json.loads(line[5:])
                    n += 1
        return n

    def close(self) -> None:
        self.http.close()


class ModelStudioSync(SyncAdapter):
    name = "modelstudio_sync"
    library = "modelstudio"

    def __init__(self, ep: Endpoints) -> None:
        mod = _import("modelstudio")
        try:
            cls = mod.ModelStudio
        except AttributeError as exc:
            raise ClientUnavailable(f"import failed: {exc}") from exc
        self.client = cls(api_key=API_KEY, base_url=ep.native)

    def call(self) -> None:
        self.client.generation.create(model=MODEL, messages=MESSAGES, result_format="message")

    def stream(self) -> int:
        n = 0
        stream = self.client.generation.create(
            model=MODEL, messages=MESSAGES, result_format="message", stream=True
        )
        try:
            for chunk in stream:
                _ = chunk.delta.text, chunk.delta.reasoning_content  # as the README's loop
                n += 1
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                close()
        return n

    def close(self) -> None:
        self.client.close()


class HttpxFloorCompat(HttpxFloor):
    """Bare httpx on the compatible-mode stream: ``data:`` lines, ``[DONE]`` skipped."""

    name = "httpx_floor_compat"

    def __init__(self, ep: Endpoints, *, limits: Any = None) -> None:
        super().__init__(ep, limits=limits)
        self.url = ep.compat + COMPAT_PATH
        self.stream_headers = FLOOR_HEADERS
        self.stream_body = COMPAT_STREAM_BODY

    def stream(self) -> int:
        n = 0
        with self.http.stream(
            "POST", self.url, json=self.stream_body, headers=self.stream_headers
        ) as r:
            _check_status(r.status_code, self.name)
            for line in r.iter_lines():
                if line.startswith("data:") and line != "data: [DONE]":
                    json.loads(line[5:])
                    n += 1
        return n


class ModelStudioCompatSync(ModelStudioSync):
    """``client.chat.completions.create(stream=True)``: the OpenAI-compatible stream."""

    name = "modelstudio_compat"

    def stream(self) -> int:
        n = 0
        stream = self.client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        try:
            for chunk in stream:
                _ = chunk.delta.text, chunk.delta.reasoning_content
                n += 1
        finally:
            stream.close()
        return n


class DashScope1x(SyncAdapter):
    """dashscope 1.x module-level API: ``dashscope.Generation.call``."""

    name = "dashscope_1x"
    library = "dashscope"

    def __init__(self, ep: Endpoints) -> None:
        self.dashscope = _import("dashscope")
        self.dashscope.base_http_api_url = ep.native
        self.generation = self.dashscope.Generation

    def call(self) -> None:
        r = self.generation.call(
            model=MODEL, messages=MESSAGES, result_format="message", api_key=API_KEY
        )
        _check_status(r.status_code, self.name)

    def stream(self) -> int:
        n = 0
        for r in self.generation.call(
            model=MODEL,
            messages=MESSAGES,
            result_format="message",
            api_key=API_KEY,
            stream=True,
            incremental_output=True,
        ):
            _check_status(r.status_code, self.name)
            message = r.output.choices[0].message
            _ = message.content, message.get("reasoning_content")
            n += 1
        return n


class DashScope2x(SyncAdapter):
    """dashscope 2.x ``dashscope.Client`` (native protocol, ``chat.completions``)."""

    name = "dashscope_2x"
    library = "dashscope"

    def __init__(self, ep: Endpoints) -> None:
        dashscope = _import("dashscope")
        cls = getattr(dashscope, "Client", None)
        if cls is None:
            raise ClientUnavailable("installed dashscope has no 2.x dashscope.Client")
        self.client = cls(api_key=API_KEY, base_url=ep.native, protocol="native")

    def call(self) -> None:
        self.client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def stream(self) -> int:
        n = 0
        stream = self.client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        try:
            for chunk in stream:
                if chunk.choices:
                    _ = chunk.choices[0].delta.content, _reasoning(chunk.choices[0].delta)
                n += 1
        finally:
            stream.close()
        return n

    def close(self) -> None:
        self.client.close()


class OpenAISync(SyncAdapter):
    """OpenAI SDK against the compatible-mode endpoints."""

    name = "openai"
    library = "openai"

    def __init__(self, ep: Endpoints) -> None:
        openai = _import("openai")
        self.client = openai.OpenAI(api_key=API_KEY, base_url=ep.compat)

    def call(self) -> None:
        self.client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def stream(self) -> int:
        n = 0
        stream = self.client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        try:
            for chunk in stream:
                if chunk.choices:
                    _ = chunk.choices[0].delta.content, _reasoning(chunk.choices[0].delta)
                n += 1
        finally:
            stream.close()
        return n

    def close(self) -> None:
        self.client.close()


# --------------------------------------------------------------------------------------------
# asynchronous adapters (construct them inside a running event loop)


class AsyncAdapter:
    name = ""
    library = ""
    floor = "httpx_floor_async"
    is_async = True

    async def call(self) -> None:
        raise NotImplementedError

    async def stream(self) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class HttpxFloorAsync(AsyncAdapter):
    name = "httpx_floor_async"
    library = "httpx"

    def __init__(self, ep: Endpoints, *, limits: Any = None) -> None:
        httpx = _import("httpx")
        kwargs = {"limits": limits} if limits is not None else {}
        self.http = httpx.AsyncClient(timeout=60.0, **kwargs)
        self.url = ep.native + NATIVE_PATH
        self.headers, self.stream_headers = FLOOR_HEADERS, FLOOR_STREAM_HEADERS
        self.body, self.stream_body = FLOOR_BODY, FLOOR_STREAM_BODY

    async def call(self) -> None:
        r = await self.http.post(self.url, json=self.body, headers=self.headers)
        _check_status(r.status_code, self.name)
        json.loads(r.content)

    async def stream(self) -> int:
        n = 0
        async with self.http.stream(
            "POST", self.url, json=self.stream_body, headers=self.stream_headers
        ) as r:
            _check_status(r.status_code, self.name)
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    json.loads(line[5:])
                    n += 1
        return n

    async def close(self) -> None:
        await self.http.aclose()


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def _aclose(obj: Any) -> None:
    for attr in ("aclose", "close"):
        fn = getattr(obj, attr, None)
        if callable(fn):
            await _maybe_await(fn())
            return


class ModelStudioAsync(AsyncAdapter):
    name = "modelstudio_async"
    library = "modelstudio"

    def __init__(self, ep: Endpoints) -> None:
        mod = _import("modelstudio")
        try:
            cls = mod.AsyncModelStudio
        except AttributeError as exc:
            raise ClientUnavailable(f"import failed: {exc}") from exc
        self.client = cls(api_key=API_KEY, base_url=ep.native)

    async def call(self) -> None:
        await self.client.generation.create(model=MODEL, messages=MESSAGES, result_format="message")

    async def stream(self) -> int:
        n = 0
        stream = await _maybe_await(
            self.client.generation.create(
                model=MODEL, messages=MESSAGES, result_format="message", stream=True
            )
        )
        try:
            async for chunk in stream:
                _ = chunk.delta.text, chunk.delta.reasoning_content  # as the README's loop
                n += 1
        finally:
            await _aclose(stream)
        return n

    async def close(self) -> None:
        await _aclose(self.client)


class HttpxFloorCompatAsync(HttpxFloorAsync):
    name = "httpx_floor_compat_async"

    def __init__(self, ep: Endpoints, *, limits: Any = None) -> None:
        super().__init__(ep, limits=limits)
        self.url = ep.compat + COMPAT_PATH
        self.stream_headers = FLOOR_HEADERS
        self.stream_body = COMPAT_STREAM_BODY

    async def stream(self) -> int:
        n = 0
        async with self.http.stream(
            "POST", self.url, json=self.stream_body, headers=self.stream_headers
        ) as r:
            _check_status(r.status_code, self.name)
            async for line in r.aiter_lines():
                if line.startswith("data:") and line != "data: [DONE]":
                    json.loads(line[5:])
                    n += 1
        return n


class ModelStudioCompatAsync(ModelStudioAsync):
    name = "modelstudio_compat_async"

    async def stream(self) -> int:
        n = 0
        stream = await self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True
        )
        try:
            async for chunk in stream:
                _ = chunk.delta.text, chunk.delta.reasoning_content
                n += 1
        finally:
            await stream.aclose()
        return n


class ModelStudioAsyncAiohttp(ModelStudioAsync):
    """`AsyncModelStudio(http_client=DefaultAioHttpClient())`: the optional aiohttp transport."""

    name = "modelstudio_async_aiohttp"

    def __init__(self, ep: Endpoints) -> None:
        mod = _import("modelstudio")
        try:
            self.http = mod.DefaultAioHttpClient()
        except (AttributeError, ImportError) as exc:
            raise ClientUnavailable(f"import failed: {exc}") from exc
        self.client = mod.AsyncModelStudio(
            api_key=API_KEY, base_url=ep.native, http_client=self.http
        )

    async def close(self) -> None:
        await _aclose(self.client)
        await self.http.aclose()


class DashScope1xAsync(AsyncAdapter):
    """dashscope 1.x ``AioGeneration.call`` (aiohttp)."""

    name = "dashscope_1x_async"
    library = "dashscope"

    def __init__(self, ep: Endpoints) -> None:
        self.dashscope = _import("dashscope")
        self.dashscope.base_http_api_url = ep.native
        self.generation = self.dashscope.AioGeneration

    async def call(self) -> None:
        r = await self.generation.call(
            model=MODEL, messages=MESSAGES, result_format="message", api_key=API_KEY
        )
        _check_status(r.status_code, self.name)

    async def stream(self) -> int:
        n = 0
        responses = await self.generation.call(
            model=MODEL,
            messages=MESSAGES,
            result_format="message",
            api_key=API_KEY,
            stream=True,
            incremental_output=True,
        )
        async for r in responses:
            _check_status(r.status_code, self.name)
            message = r.output.choices[0].message
            _ = message.content, message.get("reasoning_content")
            n += 1
        return n

    async def close(self) -> None:
        close = getattr(self.dashscope, "close_shared_aio_session", None)
        if callable(close):
            await _maybe_await(close())


class DashScope2xAsync(AsyncAdapter):
    name = "dashscope_2x_async"
    library = "dashscope"

    def __init__(self, ep: Endpoints) -> None:
        dashscope = _import("dashscope")
        cls = getattr(dashscope, "AsyncClient", None)
        if cls is None:
            raise ClientUnavailable("installed dashscope has no 2.x dashscope.AsyncClient")
        self.client = cls(api_key=API_KEY, base_url=ep.native, protocol="native")

    async def call(self) -> None:
        await self.client.chat.completions.create(model=MODEL, messages=MESSAGES)

    async def stream(self) -> int:
        n = 0
        stream = await self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True
        )
        try:
            async for chunk in stream:
                if chunk.choices:
                    _ = chunk.choices[0].delta.content, _reasoning(chunk.choices[0].delta)
                n += 1
        finally:
            await _aclose(stream)
        return n

    async def close(self) -> None:
        await self.client.aclose()


class OpenAIAsync(AsyncAdapter):
    name = "openai_async"
    library = "openai"

    def __init__(self, ep: Endpoints) -> None:
        openai = _import("openai")
        self.client = openai.AsyncOpenAI(api_key=API_KEY, base_url=ep.compat)

    async def call(self) -> None:
        await self.client.chat.completions.create(model=MODEL, messages=MESSAGES)

    async def stream(self) -> int:
        n = 0
        stream = await self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True
        )
        try:
            async for chunk in stream:
                if chunk.choices:
                    _ = chunk.choices[0].delta.content, _reasoning(chunk.choices[0].delta)
                n += 1
        finally:
            await stream.close()
        return n

    async def close(self) -> None:
        await self.client.close()


SyncFactory = Callable[[Endpoints], SyncAdapter]
AsyncFactory = Callable[[Endpoints], AsyncAdapter]

# Order = row order in RESULTS.md; floors first.
SYNC_CLIENTS: dict[str, SyncFactory] = {
    "httpx_floor": HttpxFloor,
    "modelstudio_sync": ModelStudioSync,
    "dashscope_1x": DashScope1x,
    "dashscope_2x": DashScope2x,
    "openai": OpenAISync,
}
ASYNC_CLIENTS: dict[str, AsyncFactory] = {
    "httpx_floor_async": HttpxFloorAsync,
    "modelstudio_async": ModelStudioAsync,
    "modelstudio_async_aiohttp": ModelStudioAsyncAiohttp,
    "dashscope_1x_async": DashScope1xAsync,
    "dashscope_2x_async": DashScope2xAsync,
    "openai_async": OpenAIAsync,
}
# The OpenAI-compatible stream (`chat.completions.create(stream=True)`), beside `openai`; not
# in the default figures, measured by `bench/callgrind.py` (shape `compat`).
COMPAT_SYNC_CLIENTS: dict[str, SyncFactory] = {
    "httpx_floor_compat": HttpxFloorCompat,
    "modelstudio_compat": ModelStudioCompatSync,
    "openai": OpenAISync,
}
COMPAT_ASYNC_CLIENTS: dict[str, AsyncFactory] = {
    "httpx_floor_compat_async": HttpxFloorCompatAsync,
    "modelstudio_compat_async": ModelStudioCompatAsync,
    "openai_async": OpenAIAsync,
}
FLOORS = {"httpx_floor", "httpx_floor_async"}
ALL_CLIENTS = [*SYNC_CLIENTS, *ASYNC_CLIENTS]
# Clients of the 500-concurrent-streams figure (each in a fresh subprocess).
CONCURRENT_CLIENTS = [
    "httpx_floor_async",
    "modelstudio_async",
    "modelstudio_async_aiohttp",
    "dashscope_2x_async",
    "openai_async",
]
