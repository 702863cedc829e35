"""One client, N concurrent async streams, in a fresh interpreter (``python -m bench.concurrent_worker``).

Prints one JSON line on stdout. Memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the peak
after the streams minus the peak measured once the client was built and warmed up (one call and
one stream), both in this process, so the figure is what the streams themselves cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import resource
import statistics
import sys
import time
from typing import Any

from bench import clients as cl


def _maxrss_kib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform == "darwin" else float(rss)  # bytes on macOS, KiB on Linux


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


async def run(name: str, port: int, streams: int, events: int, timeout: float) -> dict[str, Any]:
    ep = cl.Endpoints.for_port(port)
    try:
        if name == "httpx_floor_async":
            import httpx

            # The floor gets a pool as large as the load: what a tuned bare client would use.
            limits = httpx.Limits(max_connections=streams * 2, max_keepalive_connections=streams)
            adapter: cl.AsyncAdapter = cl.HttpxFloorAsync(ep, limits=limits)
        else:
            adapter = cl.ASYNC_CLIENTS[name](ep)
    except cl.ClientUnavailable as exc:
        return {"unavailable": str(exc)}
    try:
        await adapter.call()
        await adapter.stream()
        gc.collect()
        baseline = _maxrss_kib()

        async def one() -> tuple[float, int]:
            t0 = time.perf_counter()
            n = await adapter.stream()
            return time.perf_counter() - t0, n

        t0 = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True), timeout
        )
        wall = time.perf_counter() - t0
        peak = _maxrss_kib()
    finally:
        await asyncio.wait_for(adapter.close(), 30)
    durations = [r[0] for r in results if isinstance(r, tuple)]
    counts = sorted({r[1] for r in results if isinstance(r, tuple)})
    errors = [r for r in results if isinstance(r, BaseException)]
    note = []
    if errors:
        first = f"{type(errors[0]).__name__}: {errors[0]}".replace("\n", " ").replace("|", "/")
        note.append(f"{len(errors)}/{streams} streams failed (first: {first[:120]})")
    if counts and counts != [events]:
        note.append(f"chunks seen per stream: {counts}")
    med = statistics.median(durations) if durations else float("nan")
    return {
        "streams": streams,
        "ok": len(durations),
        "baseline_kib": baseline,
        "peak_kib": peak,
        "kib_per_stream": (peak - baseline) / streams,
        "wall_s": wall,
        "median_s": med,
        "slowest_s": max(durations) if durations else float("nan"),
        "slowest_over_median": (max(durations) / med) if durations else float("nan"),
        "note": "; ".join(note),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", required=True, choices=sorted(cl.ASYNC_CLIENTS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    _raise_nofile()
    result = asyncio.run(run(args.client, args.port, args.streams, args.events, args.timeout))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
