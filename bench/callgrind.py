"""Instructions per stream event and per call, counted with `valgrind --tool=callgrind`.

Wall-clock figures move with the load of a shared machine; instruction counts barely do. For
each client the harness runs a fresh interpreter under callgrind twice, with a small and a larger
number of streams (or calls) after one warm-up, against the bench server (its own process, not
counted). The difference of the two totals divided by the difference in events (or calls) is
what one more event (or call) costs the client: interpreter start-up, imports, connection set-up
and the warm-up cancel out. `PYTHONHASHSEED=0` keeps dict and set layouts the same between runs.

Per stream shape (:func:`stream_instructions`): one base run per client streams every shape once
after one warm-up stream of each; one more run per shape streams that shape once more. The
difference to the base is one stream of that shape: 1 + shapes runs per client instead of two
per shape. Shapes: `basic`, `usage`, `thinking` (the native streams of `bench/server.py`) and
`compat` (the OpenAI-compatible stream, measured with the `COMPAT_*_CLIENTS` of
`bench/clients.py`: a compatible-mode httpx floor, `chat.completions.create(stream=True)`,
openai). Async clients run in `asyncio.run`.

Run alone (starts its own bench server)::

    python -m bench.callgrind                                  # every shape, the default clients
    python -m bench.callgrind --shapes thinking,compat --clients httpx_floor,modelstudio_sync
    python -m bench.callgrind --port PORT --calls              # the run.py figure (sync, basic)
    python -m bench.callgrind --port PORT --calls --clients httpx_floor_async,modelstudio_async
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import clients as cl

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ["httpx_floor", "modelstudio_sync", "dashscope_1x", "dashscope_2x"]
# Default clients of the per-shape figure, by wire: each compared with the floor of its row.
NATIVE_CLIENTS = [
    "httpx_floor",
    "modelstudio_sync",
    "dashscope_1x",
    "httpx_floor_async",
    "modelstudio_async",
    "dashscope_1x_async",
]
COMPAT_CLIENTS = ["httpx_floor_compat", "modelstudio_compat", "openai",
                  "httpx_floor_compat_async", "modelstudio_compat_async", "openai_async"]  # fmt: skip
SHAPES = ["basic", "usage", "thinking", "compat"]
# The bench server's profile (listening port) of each shape; compat streams come from any.
_PROFILE = {"basic": "fast", "usage": "usage", "thinking": "thinking", "compat": "fast"}
# (kind, runs: small and large count, units per count)
PLAN = {"stream": (1, 2), "call": (20, 120)}
_COLLECTED = re.compile(rb"Collected : (\d+)")

_WORKER = """
import asyncio, json, sys
sys.path.insert(0, {root!r})
from bench import clients as cl
name, kind, plan = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sync = {{**cl.SYNC_CLIENTS, **cl.COMPAT_SYNC_CLIENTS}}
if name in sync:
    for port, n in plan:
        adapter = sync[name](cl.Endpoints.for_port(port))
        step = adapter.stream if kind == "stream" else adapter.call
        step()
        for _ in range(n):
            step()
        adapter.close()
else:
    factory = {{**cl.ASYNC_CLIENTS, **cl.COMPAT_ASYNC_CLIENTS}}[name]

    async def main():
        for port, n in plan:
            adapter = factory(cl.Endpoints.for_port(port))
            step = adapter.stream if kind == "stream" else adapter.call
            await step()
            for _ in range(n):
                await step()
            await adapter.close()

    asyncio.run(main())
"""


def available() -> bool:
    return shutil.which("valgrind") is not None


def _count(script: str, name: str, kind: str, plan: list[tuple[int, int]], timeout: float) -> int:
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
            json.dumps(plan),
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


def _usable(name: str, port: int) -> bool:
    sync = {**cl.SYNC_CLIENTS, **cl.COMPAT_SYNC_CLIENTS}
    if name not in sync:
        return True  # async adapters are built in the worker's loop; a failure raises there
    try:
        sync[name](cl.Endpoints.for_port(port)).close()
    except cl.ClientUnavailable:
        return False
    return True


def instructions(
    port: int, events: int, clients: list[str] | None = None, timeout: float = 600.0
) -> dict[str, dict[str, float]]:
    """{client: {"stream": instructions per event, "call": instructions per call}} (basic
    stream, sync clients: the figure of `bench/run.py`)."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = str(Path(tmp) / "worker.py")
        Path(script).write_text(_WORKER.format(root=str(ROOT)), encoding="utf-8")
        for name in clients or CLIENTS:
            row: dict[str, float] = {}
            if not _usable(name, port):
                results[name] = row
                continue
            for kind, (small, large) in PLAN.items():
                a = _count(script, name, kind, [(port, small)], timeout)
                b = _count(script, name, kind, [(port, large)], timeout)
                units = (large - small) * (events if kind == "stream" else 1)
                row[kind] = (b - a) / units
            results[name] = row
            print(f"  callgrind: {name} {row}", file=sys.stderr)
    return results


def stream_instructions(
    ports: dict[str, int],
    events: int,
    clients: list[str],
    shapes: list[str],
    *,
    jobs: int = 1,
    timeout: float = 1200.0,
) -> dict[str, dict[str, float]]:
    """{client: {shape: instructions per event}}; `ports` maps the server's profile names to
    ports. Native clients get the native shapes, compatible-mode clients the `compat` shape."""
    compat = {*cl.COMPAT_SYNC_CLIENTS, *cl.COMPAT_ASYNC_CLIENTS}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = str(Path(tmp) / "worker.py")
        Path(script).write_text(_WORKER.format(root=str(ROOT)), encoding="utf-8")
        jobs_of: list[tuple[str, list[str]]] = []
        for name in clients:
            own = [s for s in shapes if (s == "compat") == (name in compat)]
            if own and _usable(name, ports["fast"]):
                jobs_of.append((name, own))
            else:
                results[name] = {}

        def one(job: tuple[str, list[str]]) -> tuple[str, dict[str, float]]:
            name, own = job
            base_plan = [(ports[_PROFILE[s]], 1) for s in own]
            row: dict[str, float] = {}
            try:
                base = _count(script, name, "stream", base_plan, timeout)
                for i, shape in enumerate(own):
                    plan = list(base_plan)
                    plan[i] = (plan[i][0], 2)
                    row[shape] = (_count(script, name, "stream", plan, timeout) - base) / events
            except subprocess.CalledProcessError as exc:
                tail = exc.stderr.decode(errors="replace").strip().splitlines()[-1:]
                print(f"  callgrind: {name} failed: {tail}", file=sys.stderr)
                return name, {}
            print(
                f"  callgrind: {name} { ({k: round(v) for k, v in row.items()}) }", file=sys.stderr
            )
            return name, row

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for name, row in pool.map(one, jobs_of):
                results[name] = row
    return {name: results[name] for name in clients}


def _floor_of(name: str) -> str:
    if name in cl.COMPAT_SYNC_CLIENTS:
        return "httpx_floor_compat"
    if name in cl.COMPAT_ASYNC_CLIENTS:
        return "httpx_floor_compat_async"
    return "httpx_floor_async" if name in cl.ASYNC_CLIENTS else "httpx_floor"


def table(results: dict[str, dict[str, float]], shapes: list[str]) -> str:
    """A Markdown table: instructions per event, and the floor's count over the client's
    (the instruction-count analogue of the events/s ratio: above 1 is faster than the floor)."""
    lines = [
        "| client | " + " | ".join(shapes) + " |",
        "|---|" + "---|" * len(shapes),
    ]
    for name, row in results.items():
        floor = results.get(_floor_of(name), {})
        cells = []
        for shape in shapes:
            value = row.get(shape)
            if value is None:
                cells.append("")
            elif floor.get(shape):
                cells.append(f"{value:,.0f} ({floor[shape] / value:.2f}x)")
            else:
                cells.append(f"{value:,.0f}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="a running bench server's fast port")
    parser.add_argument("--calls", action="store_true", help="the run.py figure (sync, basic)")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument(
        "--clients",
        help="comma-separated (default: every native and compatible client; with --calls: "
        + ",".join(CLIENTS)
        + ")",
    )
    parser.add_argument("--jobs", type=int, default=1, help="clients counted in parallel")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--events", type=int, default=500, help="events per stream")
    args = parser.parse_args(argv)
    events = args.events
    chosen = [c for c in (args.clients or "").split(",") if c]
    if args.calls:
        if args.port is None:
            parser.error("--calls needs --port")
        for client, row in instructions(args.port, 2000, chosen or None).items():
            print(client, {k: round(v) for k, v in row.items()})
        return
    from bench import server

    shapes = [s for s in args.shapes.split(",") if s]
    clients = chosen or NATIVE_CLIENTS + COMPAT_CLIENTS
    with server.running_server(events=events) as info:
        ports = {k: int(str(v)) for k, v in info.items() if k in ("fast", "usage", "thinking")}
        results = stream_instructions(ports, events, clients, shapes, jobs=args.jobs)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(table(results, shapes))


if __name__ == "__main__":
    main()
