"""``make bench``: measure the modelstudio SDK against a bare-httpx floor and the other SDKs.

Usage (from the repository root)::

    .venv/bin/python bench/run.py                  # full run, ~2-4 minutes, writes bench/RESULTS.md
    .venv/bin/python bench/run.py --quick          # smoke run: fewer iterations
    .venv/bin/python bench/run.py --only nonstream,stream --clients httpx_floor,openai

Figures: nonstream, stream, import, size, concurrent, validation, regenerate.
A client whose library cannot be imported (e.g. ``modelstudio`` before it exists) reads "n/a".
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata as md
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import clients as cl
from bench import measure as ms
from bench import report
from bench import server as srv

FIGURES = [
    "nonstream",
    "stream",
    "stream_usage",
    "stream_thinking",
    "import",
    "size",
    "concurrent",
    "validation",
    "regenerate",
    "callgrind",
]

FULL = {
    "warmup_calls": 50,
    "rounds": 8,
    "batch": 40,  # 8 x 40 = 320 timed calls per client
    "stream_warmup": 1,
    "stream_rounds": 7,
    "import_rounds": 15,
    "concurrent_streams": 500,
    "concurrent_gap_ms": 200,
    "validation_loops": 2000,
    "validation_repeats": 7,
    "regen_runs": 3,
}
QUICK = {
    "warmup_calls": 10,
    "rounds": 3,
    "batch": 20,
    "stream_warmup": 1,
    "stream_rounds": 3,
    "import_rounds": 5,
    "concurrent_streams": 100,
    "concurrent_gap_ms": 50,
    "validation_loops": 300,
    "validation_repeats": 3,
    "regen_runs": 1,
}
STREAM_EVENTS = 2000
# Concurrent streams are paced by the server: CONCURRENT_EVENTS events in bursts of
# CONCURRENT_BURST, "concurrent_gap_ms" apart (full run: ~4 s per stream, so 500 streams ask for
# ~7,500 events/s, below what the clients can parse: the streams really overlap, and the
# slowest/median ratio shows queueing or starvation rather than plain CPU saturation).
CONCURRENT_EVENTS = 60
CONCURRENT_BURST = 3


def _csv(value: str, allowed: list[str], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown {what}: {', '.join(bad)} (known: {allowed})")
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="modelstudio benchmark harness")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument(
        "--only",
        type=lambda v: _csv(v, FIGURES, "figure"),
        default=FIGURES,
        help="comma-separated figures: " + ",".join(FIGURES),
    )
    parser.add_argument(
        "--clients",
        type=lambda v: _csv(v, cl.ALL_CLIENTS, "client"),
        default=cl.ALL_CLIENTS,
        help="comma-separated clients (floors are always included): " + ",".join(cl.ALL_CLIENTS),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "RESULTS.md",
        help="where to write the report (default: bench/RESULTS.md)",
    )
    return parser.parse_args(argv)


def _no_proxy_for_loopback() -> None:
    """Keep a proxy configured in the environment away from the loopback server (children too)."""
    for key in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(key, "").split(",") if h.strip()]
        for host in ("127.0.0.1", "localhost"):
            if host not in hosts:
                hosts.append(host)
        os.environ[key] = ",".join(hosts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _no_proxy_for_loopback()
    params = QUICK if args.quick else FULL
    names = [n for n in cl.ALL_CLIENTS if n in cl.FLOORS or n in args.clients]
    started = time.perf_counter()
    machine = machine_info()
    results: dict[str, list[ms.Row]] = {}
    errors: dict[str, str] = {}
    server_info: dict[str, object] = {}

    def figure(key: str, fn: Callable[[], list[ms.Row]]) -> None:
        if key not in args.only:
            return
        print(f"[bench] {key} ...", file=sys.stderr)
        t0 = time.perf_counter()
        try:
            results[key] = fn()
        except Exception as exc:  # one broken figure must not lose the others
            errors[key] = ms._short(exc, 300)
            print(f"[bench] {key} failed: {errors[key]}", file=sys.stderr)
        print(f"[bench] {key}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    needs_server = {
        "nonstream",
        "stream",
        "stream_usage",
        "stream_thinking",
        "concurrent",
        "callgrind",
    } & set(args.only)
    server_cm = (
        srv.running_server(
            events=STREAM_EVENTS,
            concurrent_events=CONCURRENT_EVENTS,
            burst=CONCURRENT_BURST,
            gap_ms=params["concurrent_gap_ms"],
        )
        if needs_server
        else contextlib.nullcontext({})
    )
    with server_cm as info:
        server_info = dict(info)
        if {"nonstream", "stream"} & set(args.only):
            pool = ms.Pool(cl.Endpoints.for_port(int(str(server_info["fast"]))), names)
            try:
                figure(
                    "nonstream",
                    lambda: ms.bench_nonstream(
                        pool,
                        names,
                        warmup=params["warmup_calls"],
                        rounds=params["rounds"],
                        batch=params["batch"],
                    ),
                )
                figure(
                    "stream",
                    lambda: ms.bench_stream(
                        pool,
                        names,
                        events=STREAM_EVENTS,
                        warmup=params["stream_warmup"],
                        rounds=params["stream_rounds"],
                    ),
                )
            finally:
                pool.close()
        for shape in ("usage", "thinking"):
            key = "stream_" + shape
            if key not in args.only:
                continue
            pool = ms.Pool(cl.Endpoints.for_port(int(str(server_info[shape]))), names)
            try:
                figure(
                    key,
                    lambda pool=pool: ms.bench_stream(  # type: ignore[misc]
                        pool,
                        names,
                        events=STREAM_EVENTS,
                        warmup=params["stream_warmup"],
                        rounds=params["stream_rounds"],
                    ),
                )
            finally:
                pool.close()
        figure(
            "callgrind",
            lambda: ms.bench_callgrind(int(str(server_info["fast"])), STREAM_EVENTS),
        )
        figure(
            "concurrent",
            lambda: ms.bench_concurrent(
                int(str(server_info["concurrent"])),
                [n for n in cl.CONCURRENT_CLIENTS if n in names],
                streams=params["concurrent_streams"],
                events=CONCURRENT_EVENTS,
            ),
        )
    figure("import", lambda: ms.bench_import(rounds=params["import_rounds"]))
    figure("size", ms.bench_size)
    figure(
        "validation",
        lambda: ms.bench_validation(
            loops=params["validation_loops"], repeats=params["validation_repeats"]
        ),
    )
    figure("regenerate", lambda: ms.bench_regenerate(runs=params["regen_runs"]))

    text = report.render(
        results=results,
        errors=errors,
        figures=args.only,
        params=params,
        quick=args.quick,
        server_info=server_info,
        machine={**machine, "load average at end": _load()},
        versions=package_versions(),
        elapsed=time.perf_counter() - started,
        argv=sys.argv[1:] if argv is None else argv,
        stream_events=STREAM_EVENTS,
        concurrent=(CONCURRENT_EVENTS, CONCURRENT_BURST, params["concurrent_gap_ms"]),
    )
    args.out.write_text(text, encoding="utf-8")
    print(f"[bench] wrote {args.out} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average at start (1/5/15 min)": _load(),
    }


def _load() -> str:
    if not hasattr(os, "getloadavg"):
        return "?"
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def package_versions() -> dict[str, str]:
    out = {}
    for name in [
        "modelstudio-client",
        "httpx",
        "httpcore",
        "h11",
        "dashscope",
        "openai",
        "aiohttp",
    ]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


if __name__ == "__main__":
    sys.exit(main())
