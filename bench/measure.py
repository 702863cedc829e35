"""The figures: each function measures one table of RESULTS.md and returns its rows.

Every loop here is bounded by an iteration count and every subprocess by a timeout.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.metadata as md
import importlib.util
import inspect
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench import clients as cl

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


@dataclass
class Row:
    """One client's (or package's) result in one figure; ``value`` None means n/a."""

    name: str
    value: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def median(xs: Iterable[float]) -> float:
    return float(statistics.median(list(xs)))


def _short(exc: BaseException, limit: int = 160) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _percentile(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, max(0, round(q * (len(ys) - 1))))]


# --------------------------------------------------------------------------------------------
# adapters living in this process


class Pool:
    """The adapters of one run: sync ones plus async ones bound to one private event loop."""

    def __init__(self, ep: cl.Endpoints, names: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.adapters: dict[str, Any] = {}
        self.unavailable: dict[str, str] = {}
        for name in names:
            try:
                if name in cl.SYNC_CLIENTS:
                    self.adapters[name] = cl.SYNC_CLIENTS[name](ep)
                else:
                    self.adapters[name] = self.loop.run_until_complete(
                        self._construct(cl.ASYNC_CLIENTS[name], ep)
                    )
            except cl.ClientUnavailable as exc:
                self.unavailable[name] = str(exc)
            except Exception as exc:
                self.unavailable[name] = "setup failed: " + _short(exc)

    @staticmethod
    async def _construct(factory: cl.AsyncFactory, ep: cl.Endpoints) -> cl.AsyncAdapter:
        return factory(ep)

    def fail(self, name: str, why: str) -> None:
        """Take a client out of the run after an error."""
        adapter = self.adapters.pop(name, None)
        self.unavailable[name] = why
        if adapter is not None:
            self._close(adapter)

    def _close(self, adapter: Any) -> None:
        try:
            if adapter.is_async:
                self.loop.run_until_complete(asyncio.wait_for(adapter.close(), 30))
            else:
                adapter.close()
        except Exception as exc:
            print(f"  warning: closing {adapter.name} failed: {_short(exc)}", file=sys.stderr)

    def close(self) -> None:
        for adapter in list(self.adapters.values()):
            self._close(adapter)
        self.adapters.clear()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


def _timed_calls(pool: Pool, name: str, count: int) -> list[float]:
    """``count`` sequential non-streaming calls; the duration of each in µs."""
    adapter = pool.adapters[name]
    out: list[float] = []
    clock = time.perf_counter_ns
    if adapter.is_async:

        async def batch() -> None:
            for _ in range(count):
                t0 = clock()
                await adapter.call()
                out.append((clock() - t0) / 1000)

        pool.loop.run_until_complete(asyncio.wait_for(batch(), 120))
    else:
        for _ in range(count):
            t0 = clock()
            adapter.call()
            out.append((clock() - t0) / 1000)
    return out


def _timed_stream(pool: Pool, name: str) -> tuple[float, int]:
    """Consume one stream; (seconds, chunks seen)."""
    adapter = pool.adapters[name]
    if adapter.is_async:

        async def one() -> tuple[float, int]:
            t0 = time.perf_counter()
            n = await adapter.stream()
            return time.perf_counter() - t0, n

        return pool.loop.run_until_complete(asyncio.wait_for(one(), 120))
    t0 = time.perf_counter()
    n = adapter.stream()
    return time.perf_counter() - t0, n


def _rotate(names: list[T], k: int) -> list[T]:
    k %= max(1, len(names))
    return names[k:] + names[:k]


def _interleaved(
    pool: Pool,
    names: list[str],
    warmup: Callable[[str], object],
    step: Callable[[str], object],
    rounds: int,
    label: str,
) -> None:
    """Warm every client up, then run ``rounds`` rounds, each giving every client one ``step``.

    The order of clients rotates every round so that drift and position effects hit all equally.
    """
    for name in names:
        if name not in pool.adapters:
            continue
        try:
            warmup(name)
        except Exception as exc:
            pool.fail(name, "error: " + _short(exc))
    for r in range(rounds):
        for name in _rotate(names, r):
            if name not in pool.adapters:
                continue
            gc.collect()
            try:
                step(name)
            except Exception as exc:
                pool.fail(name, "error: " + _short(exc))
        print(f"  {label}: round {r + 1}/{rounds} done", file=sys.stderr)


def bench_nonstream(
    pool: Pool, names: list[str], *, warmup: int, rounds: int, batch: int
) -> list[Row]:
    """Median µs per non-streaming call, interleaved batches of ``batch`` calls per client."""
    samples: dict[str, list[float]] = {n: [] for n in names}
    _interleaved(
        pool,
        names,
        lambda n: _timed_calls(pool, n, warmup) and None,
        lambda n: samples[n].extend(_timed_calls(pool, n, batch)),
        rounds,
        "non-streaming",
    )
    rows = []
    for name in names:
        xs = samples[name]
        if name not in pool.adapters or not xs:
            rows.append(Row(name, note=pool.unavailable.get(name, "n/a")))
            continue
        rows.append(
            Row(
                name,
                median(xs),
                extra={"calls": len(xs), "p10": _percentile(xs, 0.1), "p90": _percentile(xs, 0.9)},
            )
        )
    return rows


def bench_stream(
    pool: Pool, names: list[str], *, events: int, warmup: int, rounds: int
) -> list[Row]:
    """Events/s consumed from an ``events``-event stream: median over ``rounds`` streams."""
    rates: dict[str, list[float]] = {n: [] for n in names}
    chunks: dict[str, set[int]] = {n: set() for n in names}

    def warm(name: str) -> None:
        for _ in range(warmup):
            _timed_stream(pool, name)

    def step(name: str) -> None:
        seconds, n = _timed_stream(pool, name)
        rates[name].append(events / seconds)
        chunks[name].add(n)

    _interleaved(pool, names, warm, step, rounds, "streaming")
    rows = []
    for name in names:
        if name not in pool.adapters or not rates[name]:
            rows.append(Row(name, note=pool.unavailable.get(name, "n/a")))
            continue
        seen = sorted(chunks[name])
        note = "" if seen == [events] else f"chunks seen per stream: {seen}"
        rows.append(
            Row(
                name,
                median(rates[name]),
                note=note,
                extra={
                    "streams": len(rates[name]),
                    "us_per_event": 1e6 / median(rates[name]),
                    "us_min": 1e6 / max(rates[name]),
                    "us_max": 1e6 / min(rates[name]),
                },
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# import time


IMPORTS: list[tuple[str, str]] = [
    ("httpx", "import httpx"),
    ("modelstudio", "import modelstudio"),
    ("modelstudio (client classes)", "from modelstudio import ModelStudio, AsyncModelStudio"),
    ("dashscope", "import dashscope"),
    ("openai", "import openai"),
]
# Marks a row run without bytecode: no .pyc is read or written (an empty PYTHONPYCACHEPREFIX and
# PYTHONDONTWRITEBYTECODE), so every module is compiled from source, as on a first run from a
# read-only source tree.
NO_PYC = " (no bytecode)"
IMPORTS += [(name + NO_PYC, code) for name, code in IMPORTS[:2]]
# What a user pays before the first call: a package whose `__init__` imports nothing would pass
# the import row and pay it here.
CLIENT_ROWS: list[tuple[str, str]] = [
    ("httpx.Client()", "import httpx; httpx.Client()"),
    ("ModelStudio()", "from modelstudio import ModelStudio; ModelStudio(api_key='k')"),
]
IMPORTS += CLIENT_ROWS
# The same, in a virtual environment holding only this package's runtime requirements: there
# `import httpx` does not import click and rich (see bench/README.md), so the ratio is harsher.
CLEAN = "clean venv: "
CLEAN_ROWS = [(CLEAN + name, code) for name, code in [*IMPORTS[:2], *CLIENT_ROWS]]
START_UP = "(interpreter start-up)"
#: Each row's floor: what its ratio divides by.
IMPORT_FLOORS = {
    "modelstudio": "httpx",
    "modelstudio (client classes)": "httpx",
    "dashscope": "httpx",
    "openai": "httpx",
    "modelstudio" + NO_PYC: "httpx" + NO_PYC,
    "ModelStudio()": "httpx.Client()",
    CLEAN + "modelstudio": CLEAN + "httpx",
    CLEAN + "ModelStudio()": CLEAN + "httpx.Client()",
}


def _run_python(
    code: str, cwd: str, bytecode: bool = True, python: str = sys.executable
) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    # Round 0 must be able to write .pyc files, as `pip install` does for every installed
    # package: with PYTHONDONTWRITEBYTECODE set (some CI images, containers) each run would
    # recompile an editable/source checkout from scratch while site-packages (httpx) has its
    # .pyc files, which measures the compiler, not the import.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = os.path.join(cwd, "no-pyc")  # stays empty
    t0 = time.perf_counter()
    proc = subprocess.run(
        [python, "-c", code],
        cwd=cwd,
        capture_output=True,
        timeout=60,
        check=False,
        env=env,
    )
    return time.perf_counter() - t0, proc


def _children_cpu() -> float:
    """CPU seconds (user + system) of the reaped child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def clean_venv(where: Path) -> tuple[str | None, str]:
    """A virtual environment under `where` holding only this checkout (installed by pip, which
    compiles its bytecode) and its runtime requirements; its python, or None and why not."""
    venv = where / "venv"
    python = venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
    ]
    for command in steps:
        proc = subprocess.run(command, capture_output=True, timeout=600, check=False)
        if proc.returncode != 0:
            lines = proc.stderr.decode(errors="replace").strip().splitlines()
            return None, "clean venv not made: " + (lines[-1] if lines else "?")
    return str(python), ""


def bench_import(*, rounds: int, clean: bool = True) -> list[Row]:
    """Wall ms of ``python -c "import X"`` minus ``python -c "pass"``, medians, interleaved; with
    `clean`, also in a fresh virtual environment with only this package's requirements."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as cwd:
        stmts = [(START_UP, "pass", sys.executable), *((n, c, sys.executable) for n, c in IMPORTS)]
        skipped: dict[str, str] = {}
        if clean:
            python, why = clean_venv(Path(cwd))
            if python is None:
                skipped = {name: why for name, _ in CLEAN_ROWS}
            else:
                stmts += [(CLEAN + START_UP, "pass", python)]
                stmts += [(name, code, python) for name, code in CLEAN_ROWS]
        times: dict[str, list[float]] = {name: [] for name, _, _ in stmts}
        cpu: dict[str, list[float]] = {name: [] for name, _, _ in stmts}
        failed: dict[str, str] = {}
        for r in range(rounds + 1):  # round 0 warms the disk cache and writes .pyc files
            # Rotated, and every other round reversed, so that each row runs as often before
            # its floor as after it.
            order = _rotate(stmts, r)
            for name, code, python in order[::-1] if r % 2 else order:
                if name in failed:
                    continue
                bytecode = not name.endswith(NO_PYC)
                cpu0 = _children_cpu()
                seconds, proc = _run_python(code, cwd, bytecode=bytecode, python=python)
                if proc.returncode != 0:
                    lines = proc.stderr.decode(errors="replace").strip().splitlines()
                    failed[name] = "import failed: " + (lines[-1] if lines else "?")
                elif r:
                    times[name].append(seconds * 1000)
                    cpu[name].append((_children_cpu() - cpu0) * 1000)
            if r:
                print(f"  import: round {r}/{rounds} done", file=sys.stderr)
    rows = []
    for name, *_ in stmts:
        if name.endswith(START_UP):
            note = f"subtracted from the rows below; CPU {median(cpu[name]):.1f} ms"
            rows.append(Row(name, median(times[name]), note=note))
            continue
        start_up = CLEAN + START_UP if name.startswith(CLEAN) else START_UP
        base = median(times[start_up])
        extra: dict[str, Any] = {"floor": IMPORT_FLOORS.get(name)}
        if name in failed:
            rows.append(Row(name, note=failed[name].replace("|", "/"), extra=extra))
        else:
            wall = sorted(t - base for t in times[name])
            quarter = len(wall) // 4
            # The child's own CPU time (user + system, start-up subtracted) beside the wall
            # time: it leaves out the time the child waited for a core, so on a loaded machine
            # it stays near the instruction count's ratio while the wall-clock one wanders.
            cpu_ms = median(cpu[name]) - median(cpu[start_up])
            floor = IMPORT_FLOORS.get(name)
            cpu_note = f"CPU {cpu_ms:.1f} ms"
            floor_times = cpu.get(floor) if floor else None
            if floor_times:
                floor_cpu = median(floor_times) - median(cpu[start_up])
                if floor_cpu > 0:
                    cpu_note += f" ({cpu_ms / floor_cpu:.2f}x)"
            note = f"{cpu_note}; wall quartiles {wall[quarter]:.1f}-{wall[-1 - quarter]:.1f}"
            extra.update(runs=len(wall), cpu_ms=cpu_ms)
            rows.append(Row(name, median(times[name]) - base, note=note, extra=extra))
    rows += [Row(name, note=why.replace("|", "/")) for name, why in skipped.items()]
    return rows


# --------------------------------------------------------------------------------------------
# installed size and dependencies

SIZE_DISTS = ["httpx", "modelstudio-client", "dashscope", "openai"]


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_requires(dist: md.Distribution) -> list[str]:
    """Names of the dependencies that apply here, without extras."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # a rough fallback: drop anything behind an extra marker
        out = []
        for spec in dist.requires or []:
            name, _, marker = spec.partition(";")
            if "extra" not in marker:
                out.append(_canon(re.split(r"[\s\[<>=!~(;]", name.strip(), maxsplit=1)[0]))
        return out
    out = []
    for spec in dist.requires or []:
        req = Requirement(spec)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(_canon(req.name))
    return out


def _dist_size(dist: md.Distribution) -> tuple[int, str]:
    """Bytes of the distribution's installed files; for an editable install, its source tree."""
    total = 0
    for f in dist.files or []:
        p = Path(str(dist.locate_file(f)))
        if p.is_file():
            total += p.stat().st_size
    note = ""
    direct = dist.read_text("direct_url.json")
    if direct and json.loads(direct).get("dir_info", {}).get("editable"):
        top = (dist.read_text("top_level.txt") or "").split() or [_canon(dist.metadata["Name"])]
        for pkg in top:
            spec = importlib.util.find_spec(pkg.replace("-", "_"))
            for loc in (spec.submodule_search_locations or []) if spec else []:
                for dirpath, _dirs, files in os.walk(loc):
                    total += sum((Path(dirpath) / f).stat().st_size for f in files)
        note = "editable install: size of its source tree"
    return total, note


def bench_size(names: list[str] | None = None) -> list[Row]:
    """Installed size of each distribution, alone and with its recursive runtime dependencies."""
    rows = []
    for name in names or SIZE_DISTS:
        try:
            root = md.distribution(name)
        except md.PackageNotFoundError:
            rows.append(Row(name, note="not installed"))
            continue
        seen: dict[str, md.Distribution | None] = {}
        todo = [_canon(name)]
        dists_seen = 0
        while todo and dists_seen < 1000:
            dists_seen += 1
            cur = todo.pop()
            if cur in seen:
                continue
            try:
                dist = md.distribution(cur)
            except md.PackageNotFoundError:
                seen[cur] = None
                continue
            seen[cur] = dist
            todo.extend(r for r in _runtime_requires(dist) if r not in seen)
        own, note = _dist_size(root)
        total = own
        for dep, dep_dist in seen.items():
            if dep != _canon(name) and dep_dist is not None:
                total += _dist_size(dep_dist)[0]
        deps = sorted(d for d in seen if d != _canon(name))
        missing = sorted(d for d, dist in seen.items() if dist is None)
        if missing:
            note = (note + "; " if note else "") + "not installed: " + ", ".join(missing)
        rows.append(
            Row(
                name,
                total / 1024 / 1024,
                note=note,
                extra={
                    "version": root.version,
                    "own_mib": own / 1024 / 1024,
                    "deps": deps,
                    "direct": sorted(set(_runtime_requires(root))),
                },
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# 500 concurrent async streams, one fresh subprocess per client


def bench_concurrent(
    port: int, names: list[str], *, streams: int, events: int, timeout: float = 150.0
) -> list[Row]:
    rows = []
    for name in names:
        cmd = [
            sys.executable,
            "-m",
            "bench.concurrent_worker",
            "--client",
            name,
            "--port",
            str(port),
            "--streams",
            str(streams),
            "--events",
            str(events),
            "--timeout",
            str(timeout - 30),
        ]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            rows.append(Row(name, note=f"error: worker timed out after {timeout:.0f} s"))
            continue
        lines = proc.stdout.decode(errors="replace").strip().splitlines()
        try:
            result = json.loads(lines[-1])
        except (IndexError, ValueError):
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            rows.append(Row(name, note="error: " + (err[-1] if err else f"exit {proc.returncode}")))
            continue
        if "unavailable" in result:
            rows.append(Row(name, note=result["unavailable"]))
            continue
        rows.append(Row(name, result["kib_per_stream"], note=result.get("note", ""), extra=result))
        print(f"  concurrent: {name} done", file=sys.stderr)
    return rows


# --------------------------------------------------------------------------------------------
# validation cost

TYPICAL_KWARGS: dict[str, Any] = {
    "model": "qwen-plus",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Who are you?"},
    ],
    "result_format": "message",
    "temperature": 0.7,
    "top_p": 0.8,
    "max_tokens": 512,
    "seed": 1234,
}


def _typical_body() -> dict[str, Any]:
    params = {k: v for k, v in TYPICAL_KWARGS.items() if k not in ("model", "messages")}
    return {
        "model": TYPICAL_KWARGS["model"],
        "input": {"messages": TYPICAL_KWARGS["messages"]},
        "parameters": params,
    }


VALIDATORS = ["validate_generation", "validate_text_generation"]


def bench_validation(*, loops: int, repeats: int) -> list[Row]:
    """µs per ``modelstudio._validation.validate_generation`` call on a typical request.

    ``validate_text_generation`` is probed when ``validate_generation`` is missing, and a few
    calling conventions are tried (keyword arguments, or the request body with a stream flag).
    """
    try:
        mod = importlib.import_module("modelstudio._validation")
    except Exception as exc:
        return [Row("modelstudio", note="n/a (" + _short(exc) + ")")]
    found = [(n, getattr(mod, n)) for n in VALIDATORS if callable(getattr(mod, n, None))]
    if not found:
        return [Row("modelstudio", note=f"n/a (modelstudio._validation has none of {VALIDATORS})")]
    fname, fn = found[0]
    try:
        sig = str(inspect.signature(fn))
    except (TypeError, ValueError):
        sig = "(?)"
    body = _typical_body()
    conventions: list[tuple[str, Callable[[], Any]]] = [
        ("keyword arguments", lambda: fn(**TYPICAL_KWARGS)),
        ("keyword arguments + stream=False", lambda: fn(**TYPICAL_KWARGS, stream=False)),
        ("the request body", lambda: fn(body)),
        ("the request body, stream=False", lambda: fn(body, False)),
        ("model, request body", lambda: fn(TYPICAL_KWARGS["model"], body)),
    ]
    errors = []
    for label, call in conventions:
        try:
            outcome = call()
        except TypeError as exc:
            errors.append(f"{label}: {_short(exc, 100)}")
            continue
        except Exception as exc:  # it ran, but rejected the typical request: report that
            return [Row("modelstudio", note=f"n/a (typical request rejected: {_short(exc)})")]
        per_call = []
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            for _ in range(loops):
                call()
            per_call.append((time.perf_counter_ns() - t0) / 1000 / loops)
        note = f"`{fname}{sig}` called with {label}"
        if isinstance(outcome, (list, tuple)) and outcome:
            note += f"; it reported {len(outcome)} problem(s) for the typical request: {outcome[0]}"
        return [
            Row(
                "modelstudio",
                median(per_call),
                note=note[:400],
                extra={"loops": loops, "repeats": repeats},
            )
        ]
    return [Row("modelstudio", note="n/a (no calling convention fits: " + "; ".join(errors) + ")")]


# --------------------------------------------------------------------------------------------
# make regenerate


def bench_regenerate(*, runs: int, timeout: float = 60.0) -> list[Row]:
    """Median wall seconds of ``python -m codegen spec/modelstudio.yaml --out <tmp>``."""
    spec = ROOT / "spec" / "modelstudio.yaml"
    times = []
    with tempfile.TemporaryDirectory(prefix="bench-regen-") as tmp:
        for i in range(runs):
            out = Path(tmp) / f"run{i}" / "modelstudio"
            cmd = [sys.executable, "-m", "codegen", str(spec), "--out", str(out)]
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return [Row("make regenerate", note=f"n/a (timed out after {timeout:.0f} s)")]
            seconds = time.perf_counter() - t0
            if proc.returncode != 0:
                err = proc.stderr.decode(errors="replace").strip().splitlines()
                tail = (err[-1] if err else f"exit {proc.returncode}").replace("|", "/")
                return [Row("make regenerate", note=f"n/a (codegen failed: {tail[:160]})")]
            times.append(seconds)
        files = sum(1 for p in (Path(tmp) / "run0").rglob("*") if p.is_file())
    note = f"{runs} runs; {files} files written" + (
        " (spec produced no files: figure not meaningful yet)" if files == 0 else ""
    )
    return [Row("make regenerate", median(times), note=note, extra={"runs": times})]


# --------------------------------------------------------------------------------------------
# instruction counts


def bench_callgrind(port: int, events: int) -> list[Row]:
    """Instructions per stream event and per call under callgrind (see bench/callgrind.py)."""
    from bench import callgrind

    if not callgrind.available():
        return [Row(n, note="n/a (valgrind not installed)") for n in callgrind.CLIENTS]
    rows = []
    for name, row in callgrind.instructions(port, events).items():
        if not row:
            rows.append(Row(name, note="n/a (import failed)"))
        else:
            rows.append(Row(name, row.get("stream"), extra={"call": row.get("call")}))
    return rows
