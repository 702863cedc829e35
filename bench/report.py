"""Render the measured rows as bench/RESULTS.md."""

from __future__ import annotations

from typing import Any

from bench import clients as cl
from bench.measure import Row

NA = "n/a"


def _fmt(value: float | None, digits: int = 1) -> str:
    return NA if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, floor: float | None) -> str:
    if value is None or floor is None or floor == 0:
        return NA
    return f"{value / floor:.2f}x"


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _by_name(rows: list[Row]) -> dict[str, Row]:
    return {r.name: r for r in rows}


def _floor_of(name: str) -> str:
    return "httpx_floor_async" if name in cl.ASYNC_CLIENTS else "httpx_floor"


def _na_note(row: Row) -> str:
    note = row.note or "no data"
    return note if note.startswith(NA) else f"{NA} ({note})"


# --------------------------------------------------------------------------------------------
# figure sections


def _nonstream(rows: list[Row]) -> list[str]:
    by = _by_name(rows)
    body = []
    for r in rows:
        floor = by.get(_floor_of(r.name))
        if r.value is None:
            body.append([f"`{r.name}`", _na_note(r), NA, "", "", "", ""])
            continue
        body.append(
            [
                f"`{r.name}`",
                _fmt(r.value),
                _ratio(r.value, floor.value if floor else None),
                _fmt(r.extra.get("p10")),
                _fmt(r.extra.get("p90")),
                str(r.extra.get("calls", "")),
                r.note,
            ]
        )
    return _table(
        ["client", "median µs/call", "ratio to floor", "p10 µs", "p90 µs", "timed calls", "note"],
        body,
    )


def _stream(rows: list[Row]) -> list[str]:
    by = _by_name(rows)
    body = []
    for r in rows:
        floor = by.get(_floor_of(r.name))
        if r.value is None:
            body.append([f"`{r.name}`", _na_note(r), NA, "", "", ""])
            continue
        body.append(
            [
                f"`{r.name}`",
                _fmt(r.value, 0),
                _ratio(r.value, floor.value if floor else None),
                _fmt(r.extra.get("us_per_event"), 2),
                f"{_fmt(r.extra.get('us_min'), 2)}-{_fmt(r.extra.get('us_max'), 2)}",
                str(r.extra.get("streams", "")),
                r.note,
            ]
        )
    return _table(
        [
            "client",
            "events/s (median)",
            "ratio to floor",
            "µs/event",
            "µs/event min-max",
            "streams",
            "note",
        ],
        body,
    )


def _import(rows: list[Row]) -> list[str]:
    by = _by_name(rows)
    body = []
    for r in rows:
        floor = by.get(r.extra.get("floor") or "")
        if r.value is None:
            body.append([f"`{r.name}`", _na_note(r), NA, "", ""])
            continue
        ratio = _ratio(r.value, floor.value if floor else None) if floor else ""
        against = f"`{floor.name}`" if floor else ""
        body.append([f"`{r.name}`", _fmt(r.value), ratio, against, r.note])
    return _table(["import", "ms (median, minus start-up)", "ratio", "to", "note"], body)


def _size(rows: list[Row]) -> list[str]:
    by = _by_name(rows)
    floor = by.get("httpx")
    body = []
    for r in rows:
        if r.value is None:
            body.append([f"`{r.name}`", "", _na_note(r), NA, "", "", ""])
            continue
        deps = r.extra.get("deps", [])
        body.append(
            [
                f"`{r.name}`",
                str(r.extra.get("version", "")),
                _fmt(r.value, 2),
                _ratio(r.value, floor.value if floor else None),
                _fmt(r.extra.get("own_mib"), 2),
                str(len(deps)),
                ", ".join(deps) + (f" ({r.note})" if r.note else ""),
            ]
        )
    return _table(
        [
            "distribution",
            "version",
            "MiB with deps",
            "ratio to httpx",
            "MiB alone",
            "runtime deps",
            "dependencies (recursive, no extras)",
        ],
        body,
    )


def _concurrent(rows: list[Row]) -> list[str]:
    by = _by_name(rows)
    floor = by.get("httpx_floor_async")
    body = []
    for r in rows:
        if r.value is None:
            body.append([f"`{r.name}`", _na_note(r), NA, "", "", "", "", "", "", ""])
            continue
        e = r.extra
        body.append(
            [
                f"`{r.name}`",
                _fmt(r.value),
                _ratio(r.value, floor.value if floor else None),
                _fmt((e["peak_kib"] - e["baseline_kib"]) / 1024),
                _fmt(e["wall_s"], 2),
                _ratio(e["wall_s"], floor.extra.get("wall_s") if floor else None),
                _fmt(e["median_s"], 3),
                _fmt(e["slowest_s"], 3),
                _fmt(e["slowest_over_median"], 2),
                r.note,
            ]
        )
    return _table(
        [
            "client",
            "KiB/stream",
            "ratio to floor",
            "peak RSS over baseline MiB",
            "wall s",
            "wall ratio to floor",
            "median stream s",
            "slowest stream s",
            "slowest/median",
            "note",
        ],
        body,
    )


def _single(rows: list[Row], unit: str, digits: int) -> list[str]:
    body = []
    for r in rows:
        if r.value is None:
            body.append([r.name, _na_note(r), ""])
        else:
            body.append([r.name, _fmt(r.value, digits), r.note])
    return _table(["what", unit, "note"], body)


# --------------------------------------------------------------------------------------------
# targets


SYNC_PEERS = ("dashscope_1x", "dashscope_2x", "openai")
ASYNC_PEERS = ("dashscope_1x_async", "dashscope_2x_async", "openai_async")
STREAM_FIGURES = ("stream", "stream_usage", "stream_thinking")


def _callgrind(rows: list[Row]) -> list[str]:
    by = _by_name(rows)
    floor = by.get("httpx_floor")
    body = []
    for r in rows:
        call = r.extra.get("call")
        ratio_stream = _ratio(floor.value, r.value) if floor and floor.value and r.value else ""
        fcall = floor.extra.get("call") if floor else None
        ratio_call = f"{call / fcall:.2f}x" if call and fcall else ""
        body.append(
            [
                f"`{r.name}`",
                _fmt(r.value, 0) if r.value is not None else _na_note(r),
                ratio_stream,
                _fmt(call, 0) if call is not None else "",
                ratio_call,
            ]
        )
    return _table(
        [
            "client",
            "instructions per stream event",
            "floor/client (events per instruction, vs floor)",
            "instructions per call",
            "client/floor",
        ],
        body,
    )


def _check(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _targets(results: dict[str, list[Row]], figures: list[str]) -> list[list[str]]:
    out: list[list[str]] = []

    def not_run(fig: str) -> str | None:
        return None if fig in results else ("n/a (figure not run)" if fig not in figures else NA)

    def row_pair(fig: str, name: str) -> tuple[Row | None, Row | None, str | None]:
        missing = not_run(fig)
        if missing:
            return None, None, missing
        by = _by_name(results[fig])
        row, floor = by.get(name), by.get(_floor_of(name))
        if row is None or row.value is None:
            return None, None, _na_note(row) if row else f"{NA} (not measured)"
        if floor is None or floor.value is None:
            return None, None, f"{NA} (floor not measured)"
        return row, floor, None

    for name in ("modelstudio_sync", "modelstudio_async", "modelstudio_async_aiohttp"):
        row, floor, why = row_pair("nonstream", name)
        target = f"non-streaming `{name}` <= 1.05x `{_floor_of(name)}`"
        if why or row is None or floor is None or row.value is None or floor.value is None:
            out.append([target, "", why or NA])
        else:
            ratio = row.value / floor.value
            out.append([target, f"{ratio:.2f}x ({row.value:.1f} µs)", _check(ratio <= 1.05)])
    if "nonstream" in results:
        by = _by_name(results["nonstream"])
        peers = [by[p] for p in ASYNC_PEERS if p in by and by[p].value is not None]
        for name in ("modelstudio_async", "modelstudio_async_aiohttp"):
            row = by.get(name)
            target = f"non-streaming `{name}` faster than every async peer"
            if row is None or row.value is None or not peers:
                out.append([target, "", NA])
                continue
            best = min(peers, key=lambda r: r.value or 0.0)
            assert best.value is not None
            measured = f"{row.value:.1f} µs vs `{best.name}` {best.value:.1f} µs"
            out.append([target, measured, _check(row.value < best.value)])
    for fig in STREAM_FIGURES:
        for name in ("modelstudio_sync", "modelstudio_async", "modelstudio_async_aiohttp"):
            row, floor, why = row_pair(fig, name)
            target = f"{fig}: `{name}` >= 0.8x `{_floor_of(name)}` and >= 1.5x the fastest peer"
            if why or row is None or floor is None or row.value is None or floor.value is None:
                if name != "modelstudio_async_aiohttp":
                    out.append([target, "", why or NA])
                continue
            ratio = row.value / floor.value
            by = _by_name(results[fig])
            group = SYNC_PEERS if name == "modelstudio_sync" else ASYNC_PEERS
            peer_rows = [by[p] for p in group if p in by and by[p].value is not None]
            if peer_rows:
                best = max(peer_rows, key=lambda r: r.value or 0.0)
                assert best.value is not None
                lead = row.value / best.value
                measured = f"{ratio:.2f}x floor, {lead:.2f}x `{best.name}` ({row.value:,.0f} ev/s)"
                ok = ratio >= 0.8 and lead >= 1.5
            else:
                measured, ok = f"{ratio:.2f}x floor ({row.value:,.0f} ev/s)", ratio >= 0.8
            out.append([target, measured, _check(ok)])

    import_targets = [
        ("modelstudio", "`import modelstudio` <= 1.2x `import httpx`"),
        (
            "ModelStudio()",
            "`import modelstudio` + `ModelStudio()` <= 1.2x `import httpx` + `httpx.Client()`",
        ),
        ("clean venv: modelstudio", "clean venv: `import modelstudio` <= 1.2x `import httpx`"),
        (
            "clean venv: ModelStudio()",
            "clean venv: `import modelstudio` + `ModelStudio()` <= 1.2x `import httpx` + "
            "`httpx.Client()`",
        ),
    ]
    for name, target in import_targets:
        missing = not_run("import")
        if missing:
            out.append([target, "", missing])
            continue
        by = _by_name(results["import"])
        ms_row = by.get(name)
        hx = by.get(ms_row.extra.get("floor") or "") if ms_row else None
        if ms_row is None or ms_row.value is None:
            out.append([target, "", _na_note(ms_row) if ms_row else NA])
        elif hx is None or hx.value is None or hx.value <= 0:
            out.append([target, "", f"{NA} (floor not measured)"])
        else:
            ratio = ms_row.value / hx.value
            out.append([target, f"{ratio:.2f}x ({ms_row.value:.1f} ms)", _check(ratio <= 1.2)])

    target = "500 streams `modelstudio_async`: <= 30 KiB/stream and slowest <= 1.5x median"
    missing = not_run("concurrent")
    if missing:
        out.append([target, "", missing])
    else:
        row = _by_name(results["concurrent"]).get("modelstudio_async")
        if row is None or row.value is None:
            out.append([target, "", _na_note(row) if row else NA])
        else:
            spread = row.extra["slowest_over_median"]
            ok = row.value <= 30 and spread <= 1.5 and not row.extra.get("note")
            streams = row.extra.get("streams")
            measured = (
                f"{row.value:.1f} KiB/stream, slowest/median {spread:.2f} ({streams} streams)"
            )
            if row.extra.get("note"):
                measured += "; " + row.extra["note"]
            out.append([target, measured, _check(ok)])

    for fig, target, limit, unit in (
        ("validation", "validation of a typical request < 20 µs", 20.0, "µs"),
        ("regenerate", "`make regenerate` < 3 s", 3.0, "s"),
    ):
        missing = not_run(fig)
        if missing:
            out.append([target, "", missing])
            continue
        row = results[fig][0] if results[fig] else None
        if row is None or row.value is None:
            out.append([target, "", _na_note(row) if row else NA])
        elif "not meaningful" in row.note:
            out.append([target, f"{row.value:.2f} {unit}", f"{NA} ({row.note})"])
        else:
            out.append([target, f"{row.value:.2f} {unit}", _check(row.value < limit)])
    return out


# --------------------------------------------------------------------------------------------


def render(
    *,
    results: dict[str, list[Row]],
    errors: dict[str, str],
    figures: list[str],
    params: dict[str, int],
    quick: bool,
    server_info: dict[str, Any],
    machine: dict[str, str],
    versions: dict[str, str],
    elapsed: float,
    argv: list[str],
    stream_events: int,
    concurrent: tuple[int, int, float],
) -> str:
    concurrent_events, burst, gap_ms = concurrent
    cmd = " ".join(["bench/run.py", *argv])
    lines = ["# modelstudio benchmark results", ""]
    if quick:
        lines += [
            "> **QUICK RUN** (`--quick`): a smoke test with few iterations. "
            "Do not quote these numbers; run `make bench` for the real figures.",
            "",
        ]
    lines += [f"Generated by `{cmd}` in {elapsed:.0f} s.", ""]
    lines += ["## Machine", ""]
    lines += _table(["", ""], [[k, v] for k, v in machine.items()])
    lines += ["## Package versions", ""]
    lines += _table(["package", "version"], [[k, v] for k, v in versions.items()])

    lines += ["## Targets", ""]
    lines += _table(["target", "measured", "result"], _targets(results, figures))

    lines += ["## How it is measured", ""]
    lines += [
        "- **Server**: `bench/server.py`, a raw-asyncio HTTP/1.1 keep-alive server in a separate "
        "process (no shared GIL) on 127.0.0.1, serving bytes rendered once at start-up: a "
        f"{server_info.get('native_json_bytes', '?')}-byte qwen-plus message-format JSON body "
        f"(compatible mode: {server_info.get('compat_json_bytes', '?')} bytes), "
        f"{stream_events:,}-event native SSE streams in the DashScope framing "
        "(`id:N` / `event:result` / `:HTTP_STATUS/200` / `data:{json}`, incremental output, "
        '`finish_reason` "null" until the last event, cumulative usage; '
        f"~{server_info.get('native_event_bytes', '?')} bytes/event) and OpenAI-compatible "
        f"streams of {stream_events:,} `data:` chunks plus `data: [DONE]`.",
        "- **Clients**: `httpx_floor` = bare `httpx.Client.post` + `json.loads` (streams: "
        "`client.stream` + `iter_lines` + `json.loads` of `data:` lines); `httpx_floor_async` "
        "is the same on `httpx.AsyncClient`. `modelstudio_*` = `ModelStudio` / "
        "`AsyncModelStudio(...).generation.create(...)`. `dashscope_1x*` = "
        "`dashscope.Generation.call` / `AioGeneration.call` with `dashscope.base_http_api_url`. "
        '`dashscope_2x*` = `dashscope.Client` / `AsyncClient(base_url=..., protocol="native")'
        ".chat.completions.create`. `openai*` = `OpenAI` / `AsyncOpenAI` against the "
        "compatible-mode endpoints. Sync clients are compared with `httpx_floor`, async clients "
        "with `httpx_floor_async`.",
        f"- **Non-streaming**: {params['warmup_calls']} warm-up calls per client, then "
        f"{params['rounds']} rounds x {params['batch']} timed sequential calls; each round runs "
        "every client's batch, the client order rotating every round, so drift hits all alike.",
        f"- **Streaming**: events/s = {stream_events:,} / wall time of one stream, median of "
        f"{params['stream_rounds']} streams per client (after {params['stream_warmup']} warm-up), "
        "interleaved the same way.",
        f'- **Import**: wall time of `python -c "import X"` in a fresh interpreter minus that '
        f"of `python -c pass`, median of {params['import_rounds']} interleaved rounds (after one "
        "discarded round that writes the .pyc files, with `PYTHONDONTWRITEBYTECODE` unset for "
        "the children, as after `pip install`). `ModelStudio()` rows time `from modelstudio "
        "import ModelStudio; ModelStudio(api_key=...)` against `import httpx; httpx.Client()` "
        "(what a user pays before the first call). `clean venv:` rows run in a virtual "
        "environment made for the run with `pip install` of this checkout (its bytecode "
        "compiled by pip) and nothing else, so `import httpx` there does not import click and "
        "rich (bench/README.md); all rows are interleaved in the same rounds.",
        "- **Size**: sum of the installed files (importlib.metadata RECORD) of the distribution "
        "and of its recursive runtime requirements (markers evaluated, extras excluded).",
        f"- **Concurrent streams**: a fresh interpreter per client opens "
        f"{params['concurrent_streams']} async streams at once ({concurrent_events} events each, "
        f"served in bursts of {burst} events {gap_ms:.0f} ms apart, so they overlap and the load "
        "stays below what the clients can parse). Memory is the peak RSS during the streams "
        "minus the RSS of the warmed-up idle client (one call and one stream done) in the same "
        "process. On Linux the peak is `VmHWM` from `/proc/self/status`, reset just before the "
        "streams, not `ru_maxrss`: in a child of a big harness `ru_maxrss` keeps the parent's "
        "pre-exec peak and never moves. The floor gets "
        "a connection pool as large as the load; SDKs use their defaults (httpx's default pool "
        "is 100 connections, so 500 streams run in waves: compare wall times).",
        "- **Validation**: `modelstudio._validation.validate_generation` (else "
        "`validate_text_generation`) on a typical request (system + user message, "
        "result_format, temperature, top_p, max_tokens, seed), "
        f"{params['validation_loops']} calls x {params['validation_repeats']} repeats, median.",
        "- **Regenerate**: `python -m codegen spec/modelstudio.yaml --out <tmp>`, median of "
        f"{params['regen_runs']} runs.",
        "",
    ]

    sections = [
        ("nonstream", "Non-streaming call: median µs per call", _nonstream),
        ("stream", f"Streaming: events/s consumed from a {stream_events:,}-event stream", _stream),
        (
            "stream_usage",
            f"Streaming, `usage` shape ({stream_events:,} message-format events with index and "
            "usage details, incremental)",
            _stream,
        ),
        (
            "stream_thinking",
            f"Streaming, `thinking` shape ({stream_events:,} events: reasoning_content, then "
            "content)",
            _stream,
        ),
        (
            "callgrind",
            "Instructions counted by callgrind (sync clients; repeatable on a loaded machine)",
            _callgrind,
        ),
        (
            "import",
            "Import time in a fresh interpreter (floors: `import httpx`, `httpx.Client()`)",
            _import,
        ),
        ("size", "Installed size and runtime dependencies (floor: httpx)", _size),
        (
            "concurrent",
            f"{params['concurrent_streams']} concurrent async streams: memory and fairness",
            _concurrent,
        ),
        ("validation", "Validation cost per typical request", lambda r: _single(r, "µs/call", 2)),
        ("regenerate", "`make regenerate` wall time", lambda r: _single(r, "median s", 2)),
    ]
    for key, title, fn in sections:
        if key not in figures:
            continue
        lines += [f"## {title}", ""]
        if key in errors:
            lines += [f"Figure failed: `{errors[key]}`", ""]
        elif key in results:
            lines += fn(results[key])
    return "\n".join(lines).rstrip() + "\n"
