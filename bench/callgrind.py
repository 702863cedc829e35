"""Instructions per stream event and per call, counted with `valgrind --tool=callgrind`.

Wall-clock figures move with the load of a shared machine; instruction counts barely do. For
each client the harness runs a fresh interpreter under callgrind twice, with a small and a larger
number of streams (or calls) after one warm-up, against the bench server (its own process, not
counted). The difference of the two totals divided by the difference in events (or calls) is
what one more event (or call) costs the client: interpreter start-up, imports, connection set-up
and the warm-up cancel out. `PYTHONHASHSEED=0` keeps dict and set layouts the same between runs.

Run alone: `python -m bench.callgrind PORT` (a running `python -m bench.server`'s fast port).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import clients as cl

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ["httpx_floor", "modelstudio_sync", "dashscope_1x", "dashscope_2x"]
# (kind, runs: small and large count, units per count)
PLAN = {"stream": (1, 2), "call": (20, 120)}
_COLLECTED = re.compile(rb"Collected : (\d+)")

_WORKER = """
import sys
sys.path.insert(0, {root!r})
from bench import clients as cl
name, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
adapter = cl.SYNC_CLIENTS[name](cl.Endpoints.for_port({port}))
step = adapter.stream if kind == "stream" else adapter.call
step()
for _ in range(n):
    step()
"""


def available() -> bool:
    return shutil.which("valgrind") is not None


def _count(script: str, name: str, kind: str, n: int, timeout: float) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            script,
            name,
            kind,
            str(n),
        ],
        capture_output=True,
        env=env,
        timeout=timeout,
        check=True,
    )
    found = _COLLECTED.search(out.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total for {name} {kind}")
    return int(found.group(1))


def instructions(
    port: int, events: int, clients: list[str] | None = None, timeout: float = 600.0
) -> dict[str, dict[str, float]]:
    """{client: {"stream": instructions per event, "call": instructions per call}}."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = str(Path(tmp) / "worker.py")
        Path(script).write_text(_WORKER.format(root=str(ROOT), port=port), encoding="utf-8")
        for name in clients or CLIENTS:
            row: dict[str, float] = {}
            try:
                cl.SYNC_CLIENTS[name](cl.Endpoints.for_port(port))
            except cl.ClientUnavailable:
                results[name] = row
                continue
            for kind, (small, large) in PLAN.items():
                a = _count(script, name, kind, small, timeout)
                b = _count(script, name, kind, large, timeout)
                units = (large - small) * (events if kind == "stream" else 1)
                row[kind] = (b - a) / units
            results[name] = row
            print(f"  callgrind: {name} {row}", file=sys.stderr)
    return results


if __name__ == "__main__":
    for client, row in instructions(int(sys.argv[1]), 2000).items():
        print(client, {k: round(v) for k, v in row.items()})
