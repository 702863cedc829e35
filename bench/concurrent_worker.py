"""One client, N concurrent async streams, in a fresh interpreter (``python -m bench.concurrent_worker``).

Prints one JSON line on stdout: memory, wall time and per-stream times.

Memory is the peak resident set size (what ``getrusage(RUSAGE_SELF).ru_maxrss`` reports) during
the streams minus that of the idle client, built and warmed up (one call, one stream) in this same
process. On Linux it is read from ``/proc/self/status`` (``VmHWM``) rather than from ``ru_maxrss``:
the kernel folds the *parent's* peak RSS into the child's ``ru_maxrss`` at ``exec``, so in a worker
started by a large harness ``ru_maxrss`` never moves. Just before the streams start the peak is
reset (``/proc/self/clear_refs``), so that a transient peak left by imports does not hide the
streams' cost; the baseline is then the idle client's current RSS.

The note says so when the kernel dropped connection attempts at a full listen queue during the
streams (``ListenDrops`` in ``/proc/net/netstat``, this network namespace): the harness, not the
client, would then be what delays the slowest streams (a dropped SYN is sent again after 1 s).
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


def _status_kib(key: str) -> float | None:
    """A ``/proc/self/status`` memory line (``VmHWM``, ``VmRSS``) in KiB; None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _peak_kib() -> float:
    peak = _status_kib("VmHWM")
    if peak is not None:
        return peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform == "darwin" else float(rss)  # bytes on macOS, KiB on Linux


def _baseline_kib() -> tuple[float, str]:
    """Reset the peak if the kernel lets us; return (baseline KiB, how it was taken)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return _peak_kib(), "peak RSS of the idle client"
    rss = _status_kib("VmRSS")
    if rss is None:
        return _peak_kib(), "peak RSS of the idle client"
    return rss, "RSS of the idle client, peak reset"


def _listen_drops() -> int | None:
    """``TcpExt: ListenDrops`` of this network namespace; None where it cannot be read."""
    try:
        with open("/proc/net/netstat", encoding="ascii") as f:
            rows = [line.split() for line in f if line.startswith("TcpExt:")]
        return int(dict(zip(rows[0][1:], rows[1][1:], strict=True))["ListenDrops"])
    except (OSError, IndexError, KeyError, ValueError):
        return None


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

            # The floor gets a pool as large as the load (what a tuned bare client would use).
            # Keep-alive stays at httpx's default 20: httpcore's pool does O(idle x all) work
            # per request when hundreds of idle connections are kept, which would make the
            # floor CPU-bound on pool bookkeeping.
            limits = httpx.Limits(max_connections=streams * 2, max_keepalive_connections=20)
            adapter: cl.AsyncAdapter = cl.HttpxFloorAsync(ep, limits=limits)
        else:
            adapter = cl.ASYNC_CLIENTS[name](ep)
    except cl.ClientUnavailable as exc:
        return {"unavailable": str(exc)}
    try:
        await adapter.call()
        await adapter.stream()
        gc.collect()
        baseline, method = _baseline_kib()
        drops_before = _listen_drops()

        async def one() -> tuple[float, int]:
            t0 = time.perf_counter()
            n = await adapter.stream()
            return time.perf_counter() - t0, n

        t0 = time.perf_counter()
        results = await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True), timeout
        )
        wall = time.perf_counter() - t0
        peak = _peak_kib()
        drops_after = _listen_drops()
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
    drops = None if drops_before is None or drops_after is None else drops_after - drops_before
    if drops:
        note.append(f"{drops} connection attempts dropped at a full listen queue meanwhile")
    med = statistics.median(durations) if durations else float("nan")
    return {
        "streams": streams,
        "ok": len(durations),
        "baseline_kib": baseline,
        "baseline_method": method,
        "peak_kib": peak,
        "kib_per_stream": (peak - baseline) / streams,
        "wall_s": wall,
        "median_s": med,
        "slowest_s": max(durations) if durations else float("nan"),
        "slowest_over_median": (max(durations) / med) if durations else float("nan"),
        "listen_drops": drops,
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
