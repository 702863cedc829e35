"""The async connection pool of the SDK's own `httpx.AsyncClient`: one request per idle connection.

httpcore 1.0's pool hands a queued request the first connection that reports itself available,
and an idle HTTP/1.1 connection goes on reporting so until the request that got it has started
on it. A burst of requests arriving while one keep-alive connection is idle (a warm client,
then `asyncio.gather` of 500 streams) is therefore given that one connection, request after
request. Each request then waits its turn on the connection's state lock; all but the first are
turned away (`ConnectionNotAvailable`) and go back to the pool one at a time, one per turn of
the event loop, so the other connections are opened one after another at the pace of a loop
busy with the streams already running: the last stream of the burst starts seconds after the
first (encode/httpcore#1110 and pydantic/httpx2#1075 describe the same double assignment).

`FairAsyncConnectionPool` keeps everything else of httpcore's pass (which connections it drops,
how many idle ones it keeps, which one it reuses first, when it closes an idle one to make
room) and changes two things: a connection already handed to a request is not handed to
another one, nor closed as a surplus idle connection under it; and the pass is linear in the
number of connections instead of quadratic. It also skips two costs of each request that do
nothing there: the wake-up event of a request that gets its connection before it ever waits
(httpcore makes an anyio `Event` for it, asking sniffio which library runs), and the
cancellation shield around closing connections when there are none to close (an anyio cancel
scope, twice per request). `share_idle_connections(client)` puts it under the
client's transport. It leaves HTTP/2 pools (one connection does serve many requests), proxies
and other httpcore versions to httpcore's own pass.
"""

from __future__ import annotations

from typing import Any

import httpcore
import httpx
from httpcore._synchronization import AsyncEvent

__all__ = ["FairAsyncConnectionPool", "share_idle_connections"]

_KNOWN_HTTPCORE = "1.0."
"""The httpcore line whose pool internals (`_requests`, `_connections`, the limits) this pass
is written against; under another one the pool is left as it is."""


def _assign(pool_request: Any, connection: httpcore.AsyncConnectionInterface) -> None:
    """`pool_request.assign_to_connection(connection)`, waking its waiter only if there is one.

    A request given its connection before it waits never waits (`wait_for_connection` looks at
    the connection first), and setting its event, which nothing waits on, would make the
    event's `asyncio.Event` and its empty waiter deque (~0.7 KiB), kept as long as the request
    is (its whole response, for a stream). An event that was waited on has its backend set."""
    event = getattr(pool_request, "_connection_acquired", None)
    if type(event) is AsyncEvent and event._backend == "":
        pool_request.connection = connection
    else:
        pool_request.assign_to_connection(connection)


class FairAsyncConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's async pool, where a connection serves one queued request at a time."""

    async def _close_connections(self, closing: list[httpcore.AsyncConnectionInterface]) -> None:
        if closing:
            await super()._close_connections(closing)

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        if self._http2:
            return super()._assign_requests_to_connections()
        requests: list[Any] = self._requests
        # Handed to a request that is running on it or about to start on it.
        taken = {id(r.connection) for r in requests if r.connection is not None}
        closing: list[httpcore.AsyncConnectionInterface] = []
        kept: list[httpcore.AsyncConnectionInterface] = []
        left = len(self._connections)
        for connection in self._connections:
            if connection.is_closed():
                left -= 1
            elif connection.has_expired() or (
                connection.is_idle()
                and id(connection) not in taken
                and left > self._max_keepalive_connections
            ):
                left -= 1
                closing.append(connection)
            else:
                kept.append(connection)
        self._connections = kept

        queued = [r for r in requests if r.is_queued()]
        if not queued:
            return closing
        free = [c for c in kept if id(c) not in taken and c.is_available()]
        idle = [c for c in kept if id(c) not in taken and c.is_idle()]
        for pool_request in queued:
            origin = pool_request.request.url.origin
            reuse = next((c for c in free if c.can_handle_request(origin)), None)
            if reuse is not None:
                free.remove(reuse)
                if reuse in idle:
                    idle.remove(reuse)
                _assign(pool_request, reuse)
                continue
            if len(self._connections) >= self._max_connections:
                if not idle:
                    continue  # stays queued until a connection is released
                dropped = idle.pop(0)
                self._connections.remove(dropped)
                closing.append(dropped)
                if dropped in free:
                    free.remove(dropped)
            connection = self.create_connection(origin)
            self._connections.append(connection)
            _assign(pool_request, connection)
        return closing


def share_idle_connections(client: httpx.AsyncClient) -> bool:
    """Give the direct connection pool of `client` (an `httpx.AsyncClient` the SDK made) the
    pass of `FairAsyncConnectionPool`; whether it did. The pool keeps its connections, limits
    and network backend: only the class of the object changes, to a subclass adding no state."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if type(pool) is not httpcore.AsyncConnectionPool:  # a proxy, a mock, a custom transport
        return False
    if not httpcore.__version__.startswith(_KNOWN_HTTPCORE):
        return False
    pool.__class__ = FairAsyncConnectionPool
    return True
