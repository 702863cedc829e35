"""A real HTTP server on loopback that speaks the DashScope protocol, for tests and demos.

    from modelstudio.testing import MockServer

    with MockServer(api_key="sk-test") as srv:
        client = httpx.Client(base_url=srv.base_url)
        ...

Requests are answered first by scripted responses (`enqueue`, `enqueue_stream_error`, first in
first out), then by a deterministic simulator of the service: text and multimodal generation
(JSON and SSE), the OpenAI-compatible chat completions endpoint, and the temporary-file upload
flow (`GET /api/v1/uploads?action=getPolicy` then a multipart POST to the policy's upload host).
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from ._models import RecordedRequest
from ._script import Reply, ScriptedResponse, ScriptQueue, StreamErrorScript
from ._server import MAX_BODY_BYTES, MockHTTPServer
from ._simulator import Simulator, Validator, count_tokens, split_pieces
from ._wire import dumps, new_request_id

__all__ = ["MockServer", "RecordedRequest", "Validator", "count_tokens", "split_pieces"]


class MockServer:
    """A DashScope look-alike on loopback; use as a context manager or `start()` / `stop()`.

    `api_key`: when set, any other bearer key gets 401 InvalidApiKey; when None, any non-empty
    key is accepted. Every generation request is checked against the spec with the SDK's own
    generated validators (types, ranges, cross-field and per-model rules), as the service checks
    it: a broken rule gets 400 InvalidParameter (`check_spec=False` turns this off). `validate`:
    called with each request body after those checks; a returned string becomes a 400
    InvalidParameter with that message.
    `event_delay`: seconds between simulated stream events (0 in tests; demos may slow down).
    Malformed requests (bad `Content-Length` or chunk size, a body shorter than announced, JSON
    nested deeper than 200 levels) get a 400 and a body over `max_body_bytes` (128 MiB) a 413,
    in the service's error format; the listen backlog holds 1024 pending connections.
    """

    def __init__(
        self,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        validate: Validator | None = None,
        event_delay: float = 0.0,
        check_spec: bool = True,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._host = host
        self._max_body_bytes = max_body_bytes
        self._port = port
        self._queue = ScriptQueue()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._simulator = Simulator(
            api_key=api_key,
            validate=validate,
            base_url=lambda: self.url,
            event_delay=event_delay,
            check_spec=check_spec,
        )
        self._server: MockHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> MockServer:
        """Bind and serve in a daemon thread. Returns self."""
        if self._server is not None:
            return self
        server = MockHTTPServer(self._host, self._port, self._dispatch, self._max_body_bytes)
        self._port = int(server.server_address[1])
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"modelstudio-mock-{self._port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end every open connection and release the port. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(2.0)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """`http://<host>:<port>`, the server's origin."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The native API base: `http://<host>:<port>/api/v1`."""
        return self.url + "/api/v1"

    @property
    def compatible_base_url(self) -> str:
        """The OpenAI-compatible base: `http://<host>:<port>/compatible-mode/v1`."""
        return self.url + "/compatible-mode/v1"

    # -- scripting --------------------------------------------------------------------------

    def enqueue(
        self,
        status: int = 200,
        *,
        body: bytes | str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        chunks: list[bytes] | None = None,
        chunk_delay: float = 0.0,
        first_byte_delay: float = 0.0,
        reset_after: int | None = None,
        stall_after: int | None = None,
        path: str | None = None,
        reset_before_status: bool = False,
    ) -> None:
        """Serve this response to the next request (to a path ending with `path`, if given).

        A dict `body` is sent as JSON with a `request_id` added (the `x-request-id` value);
        str/bytes bodies get a content type guessed from their start (JSON, SSE or text) unless
        `headers` name one. `chunks` are sent with chunked transfer encoding, each flushed
        separately, `chunk_delay` seconds apart. `first_byte_delay` delays the status line.
        `reset_after=n` aborts the connection (TCP RST) after n pieces; `stall_after=n` sends
        nothing after n pieces until the client goes away or the server stops. A `body` without
        `chunks` counts as one piece. `reset_before_status=True` aborts the connection before
        the status line (the client may retry: no answer arrived), where `reset_after=0` aborts
        it after the status line and headers (the answer was cut: the client must not retry).
        """
        self._queue.put(
            ScriptedResponse(
                status=status,
                body=body,
                headers=headers,
                chunks=chunks,
                chunk_delay=chunk_delay,
                first_byte_delay=first_byte_delay,
                reset_after=reset_after,
                stall_after=stall_after,
                path=path,
                reset_before_status=reset_before_status,
            )
        )

    def enqueue_stream_error(
        self,
        after_events: int,
        status: int = 400,
        code: str = "InvalidParameter",
        message: str = "Simulated error in the middle of the stream.",
        *,
        path: str | None = None,
    ) -> None:
        """Make the next simulated answer fail: a streamed answer sends `after_events` events,
        then `event:error` with `:HTTP_STATUS/<status>` and `{"code","message","request_id"}`
        (OpenAI-compatible streams: a `data: {"error": ...}` event, no `[DONE]`); a non-streamed
        request gets HTTP `status` with that error body."""
        self._queue.put(StreamErrorScript(after_events, status, code, message, path))

    def reset(self) -> None:
        """Forget queued scripts, recorded requests and uploaded files."""
        self._queue.clear()
        with self._lock:
            self._requests.clear()
        self._simulator.reset()

    # -- observation ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._requests[-1] if self._requests else None

    @property
    def uploads(self) -> dict[str, bytes]:
        """Files stored by the upload flow, by OSS object key (`oss://<key>` in requests)."""
        return self._simulator.uploads

    @property
    def pending(self) -> int:
        """How many scripted responses are still queued."""
        return len(self._queue)

    # -- serving ----------------------------------------------------------------------------

    def _dispatch(self, record: RecordedRequest, authorization: str | None) -> Reply:
        request_id = new_request_id()
        with self._lock:
            self._requests.append(record)
        item = self._queue.take(record.path)
        if isinstance(item, ScriptedResponse):
            return item.to_reply(request_id)
        try:
            return self._simulator.handle(record, authorization, request_id, item)
        except Exception as exc:  # a validate hook or simulator bug: answer like the service
            payload = {"request_id": request_id, "code": "InternalError", "message": repr(exc)}
            return Reply(
                status=500,
                headers=[("Content-Type", "application/json"), ("x-request-id", request_id)],
                body=dumps(payload),
            )
