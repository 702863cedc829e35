"""`make bench`, TypeScript part: the compiled `generated/typescript` package against a bare
`fetch` floor and the `openai` npm package, on the same loopback bench server, in one run.

Usage (from the repository root)::

    .venv/bin/python bench/run_typescript.py            # writes bench/RESULTS-typescript.md
    .venv/bin/python bench/run_typescript.py --quick    # fewer calls and streams

It installs the bench-only npm dependency (`openai`, pinned by bench/typescript/package-lock.json)
and the package's dev dependencies with `npm ci`, compiles the package with `tsc`, starts
`bench/server.py` and runs `bench/typescript/bench.mjs` against it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.server import running_server

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "generated" / "typescript"
HERE = ROOT / "bench" / "typescript"
OUT = ROOT / "bench" / "RESULTS-typescript.md"
NONSTREAM_TARGET = 1.10
STREAM_TARGET = 0.5


def npm_ci(folder: Path) -> None:
    stamp = folder / "node_modules" / ".installed"
    lock = folder / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=folder,
        check=True,
    )
    stamp.touch()


def build() -> None:
    npm_ci(PACKAGE)
    npm_ci(HERE)
    subprocess.run(
        [str(PACKAGE / "node_modules" / ".bin" / "tsc"), "-p", "."], cwd=PACKAGE, check=True
    )


def run(quick: bool) -> dict[str, Any]:
    with running_server(events=2000) as info:
        cmd = ["node", str(HERE / "bench.mjs"), str(info["fast"])] + (["--quick"] if quick else [])
        proc = subprocess.run(cmd, cwd=HERE, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(r: dict[str, Any], quick: bool) -> str:
    wall = r["nonstream"]["wall_median_us"]
    cpu = r["nonstream"]["cpu_us_per_call"]
    rate = r["stream"]["wall_events_per_s"]
    cpu_rate = r["stream"]["cpu_events_per_s"]
    bare_n, ms_n = "bare fetch + JSON.parse (native)", "modelstudio generation.create"
    bare_c = "bare fetch + JSON.parse (compatible)"
    bare_sn, ms_sn = (
        "bare fetch + line split + JSON.parse (native)",
        "modelstudio generation.create stream",
    )
    bare_sc = "bare fetch + line split + JSON.parse (compatible)"
    ns_ratio = wall[ms_n] / wall[bare_n]
    ns_cpu_ratio = cpu[ms_n] / cpu[bare_n]
    st_ratio = rate[ms_sn] / rate[bare_sn]
    st_cpu_ratio = cpu_rate[ms_sn] / cpu_rate[bare_sn]
    lines = [
        "# Benchmark results: TypeScript binding",
        "",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
        + (" (quick)" if quick else "")
        + f"; Node {r['node']}, openai {r['openai']} (npm), {platform.machine()}, "
        + f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end.",
        "Written by `bench/run_typescript.py` (part of `make bench`); the server is `bench/server.py`.",
        "",
        "## Targets",
        "",
        "| target | wall clock | client CPU | verdict (wall) |",
        "|---|---|---|---|",
        f"| non-streaming call <= {NONSTREAM_TARGET:.2f}x bare fetch + JSON.parse | "
        f"{ns_ratio:.3f}x | {ns_cpu_ratio:.3f}x | {verdict(ns_ratio <= NONSTREAM_TARGET)} |",
        f"| stream consumption >= {STREAM_TARGET}x bare fetch + line split + JSON.parse | "
        f"{st_ratio:.3f}x | {st_cpu_ratio:.3f}x | {verdict(st_ratio >= STREAM_TARGET)} |",
        "",
        f"## Non-streaming: one call ({r['calls']} calls per client, interleaved)",
        "",
        "| client | median wall µs/call | client CPU µs/call | vs its bare floor (wall) |",
        "|---|---|---|---|",
    ]
    for name, us in wall.items():
        floor = bare_c if "compatible" in name or "chat" in name else bare_n
        lines.append(f"| {name} | {us:,.0f} | {cpu[name]:,.0f} | {us / wall[floor]:.3f}x |")
    lines += [
        "",
        f"## Streaming: {r['stream']['events_per_stream']:.0f}-event streams "
        f"({r['stream_rounds']} per client, interleaved)",
        "",
        "| client | median events/s (wall) | events per client-CPU second | vs its bare floor (wall) |",
        "|---|---|---|---|",
    ]
    for name, eps in rate.items():
        floor = bare_sc if "compatible" in name or "chat" in name else bare_sn
        lines.append(f"| {name} | {eps:,.0f} | {cpu_rate[name]:,.0f} | {eps / rate[floor]:.3f}x |")
    lines += [
        "",
        "## How it is measured",
        "",
        "- One Node process runs every client against the same `bench/server.py` (its own "
        "process, canned DashScope bytes, keep-alive), one call of each client in turn so that "
        "the load of a shared machine hits all alike; medians are reported.",
        "- Client CPU: `process.cpuUsage()` around each call, summed: the cost in this process, "
        "without the time spent waiting for the server (robust when the machine is shared).",
        "- modelstudio calls validate every request (strict mode, the default); the stream figure "
        "includes SSE decoding, JSON parsing, delta accumulation and the chunk objects.",
        "- The bare floors serialize the same body with `JSON.stringify` (as the Python floor "
        "does with httpx `json=`), send it with the global `fetch`, then `JSON.parse` the answer "
        "(or split lines and `JSON.parse` each `data:` line); openai is `openai` on npm, pointed "
        "at the compatible-mode base URL.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    build()
    result = run(args.quick)
    text = report(result, args.quick)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
