"""Runs the Python `modelstudio.testing.MockServer` for the TypeScript suite, scripted over stdio.

Prints `{"base_url": ..., "compatible_base_url": ...}` once listening, then answers one JSON
command per input line with one JSON line: `{"op": "enqueue", ...}` and
`{"op": "enqueue_stream_error", ...}` take `MockServer`'s keyword arguments (`chunks` and `body`
as text), `{"op": "requests"}` lists the requests received, `{"op": "reset"}` forgets them. The
server stops when stdin closes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from modelstudio.testing import MockServer


def handle(server: MockServer, command: dict[str, Any]) -> Any:
    op = command.pop("op")
    if op == "enqueue":
        if "chunks" in command:
            command["chunks"] = [c.encode("utf-8") for c in command["chunks"]]
        server.enqueue(**command)
        return {"ok": True}
    if op == "enqueue_stream_error":
        server.enqueue_stream_error(**command)
        return {"ok": True}
    if op == "requests":
        return [
            {"method": r.method, "path": r.path, "headers": r.headers, "json": r.json}
            for r in server.requests
        ]
    if op == "reset":
        server.reset()
        return {"ok": True}
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    api_key = sys.argv[1] if len(sys.argv) > 1 else None
    with MockServer(api_key=api_key) as server:
        print(
            json.dumps(
                {"base_url": server.base_url, "compatible_base_url": server.compatible_base_url}
            )
        )
        sys.stdout.flush()
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                reply = handle(server, json.loads(line))
            except Exception as exc:  # report to the test, keep serving
                reply = {"error": repr(exc)}
            print(json.dumps(reply))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
