"""Every conformance vector of spec/conformance/, run against the Python binding.

One test per case id (spec/conformance/README.md describes each suite). Calls go over real HTTP
to a loopback MockServer; only the retry sleep is replaced, by a recorder of the delay asked
for, so that the delays can be checked without waiting for them.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import modelstudio
from modelstudio import ModelStudio, ValidationError
from modelstudio._accumulate import Accumulator
from modelstudio._accumulate_chat import ChatAccumulator
from modelstudio._sse import SSEDecoder
from modelstudio.testing import MockServer
from tests.paths import CONFORMANCE, SPEC

KEY = "sk-conformance"
BINDING = "python"
SUITES = ("request", "validate", "defaults", "sse", "accumulate", "error", "retry")
FILES = sorted(CONFORMANCE.glob("*/*.json"))
SCHEMA = json.loads((CONFORMANCE / "vectors.schema.json").read_text(encoding="utf-8"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


DOCUMENTS = {path: _load(path) for path in FILES}
CASES = [(doc["suite"], case) for doc in DOCUMENTS.values() for case in doc["cases"]]


def _params(suite: str) -> list[Any]:
    out = []
    for name, case in CASES:
        if name != suite:
            continue
        marks = []
        reason = (case.get("skip") or {}).get(BINDING)
        if reason:
            marks.append(pytest.mark.skip(reason=reason))
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


# -------------------------------------------------------------------------------- the files


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(CONFORMANCE).as_posix() for p in FILES])
def test_file_validates_against_the_schema(path: Path) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(DOCUMENTS[path])


def test_ids_are_unique_and_name_their_suite() -> None:
    ids = [case["id"] for _, case in CASES]
    assert len(ids) == len(set(ids))
    assert all(case["id"].startswith(suite + "/") for suite, case in CASES)


def test_counts_and_coverage() -> None:
    """At least 300 cases, every suite present, every family row and every rule covered."""
    import yaml

    by_suite = {s: [c for n, c in CASES if n == s] for s in SUITES}
    assert len(CASES) >= 300
    assert all(by_suite.values()), {s: len(c) for s, c in by_suite.items()}
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    families = [row["family"] for row in spec["x-model-families"]]
    covered = {c["expect"]["family"] for c in by_suite["defaults"]}
    assert covered == set(families)
    for family in families:
        modes = {c["input"]["enable_thinking"] for c in by_suite["defaults"]
                 if c["expect"]["family"] == family}  # fmt: skip
        assert modes == {None, True, False}, family
    rules = [
        rule["id"]
        for schema in spec["components"]["schemas"].values()
        for rule in schema.get("x-rules", ())
    ]
    for rule_id in rules:
        outcomes = {
            c["expect"]["valid"]
            for c in by_suite["validate"]
            if any(p.get("rule") == rule_id for p in c["expect"].get("problems", ()))
            or c["id"].endswith(f"/rule/{rule_id}/pass")
        }
        assert outcomes == {True, False}, f"rule {rule_id}: a failing and a passing case"
    # a rule on `$effective.<p>`: calls that leave p out, decided by the model's default, both ways
    effective = [
        rule["id"]
        for schema in spec["components"]["schemas"].values()
        for rule in schema.get("x-rules", ())
        if any(path.startswith("$effective.") for path in rule["then"])
    ]
    assert effective
    for rule_id in effective:
        outcomes = {c["expect"]["valid"] for c in by_suite["validate"]
                    if "effective" in c.get("tags", ()) and f"/rule/{rule_id}/" in c["id"]}  # fmt: skip
        assert outcomes == {True, False}, f"rule {rule_id}: the model's default both ways"
    # every row whose mode requires values: refused otherwise, and filled in on the wire
    for row in spec["x-model-families"]:
        if row.get("x-requires") or row.get("x-requires-when-thinking"):
            tag = f"/family/{row['family']}/"
            for suite in ("validate", "request"):
                assert any(tag in c["id"] and "requires" in c.get("tags", ())
                           for c in by_suite[suite]), (suite, row["family"])  # fmt: skip
    # the skips name a binding and a reason; none is skipped for this binding without one
    for _, case in CASES:
        for binding, reason in (case.get("skip") or {}).items():
            assert binding and len(reason) >= 10


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def srv(server: MockServer) -> MockServer:
    server.reset()
    return server


class Clients:
    """One client per set of client options for the whole module: building a client (its TLS
    context) costs more than the call a case makes, and cases never depend on a fresh pool."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._made: dict[str, ModelStudio] = {}

    def get(self, **options: Any) -> ModelStudio:
        key = json.dumps(options, sort_keys=True)
        client = self._made.get(key)
        if client is None:
            client = ModelStudio(api_key=KEY, base_url=self._base_url, **options)
            self._made[key] = client
        return client

    def close(self) -> None:
        for client in self._made.values():
            client.close()


@pytest.fixture(scope="module")
def clients(server: MockServer) -> Iterator[Clients]:
    made = Clients(server.base_url)
    yield made
    made.close()


def _resource(client: Any, op: str) -> Any:
    target = client
    for part in op.split(".")[:-1]:
        target = getattr(target, part)
    return target


NUMBERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _decode(value: Any) -> Any:
    """The arguments as the binding gets them: `{"$number": "NaN"}` is that number (JSON has
    no NaN or Infinity; spec/conformance/README.md)."""
    if isinstance(value, dict):
        if value.keys() == {"$number"}:
            return NUMBERS[value["$number"]]
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _call(
    client: Any, op: str, args: dict[str, Any], extra_parameters: dict[str, Any] | None = None
) -> Any:
    if extra_parameters:
        args = {**args, "extra_parameters": extra_parameters}
    result = _resource(client, op).create(**_decode(args))
    if args.get("stream"):
        for _ in result:
            pass
    return result


class SleepRecorder:
    """Stands in for the `time` module of the client's send loop: records each delay."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepRecorder:
    recorder = SleepRecorder()
    module = inspect.getmodule(ModelStudio._send)
    assert module is not None and isinstance(getattr(module, "time", None), types.ModuleType)
    monkeypatch.setattr(module, "time", recorder)
    return recorder


# ---------------------------------------------------------------------------------- suites


@pytest.mark.parametrize("case", _params("request"))
def test_request(case: dict[str, Any], srv: MockServer, clients: Clients) -> None:
    given, expect = case["input"], case["expect"]
    client = clients.get(max_retries=0, **(given.get("client") or {}))
    try:
        _call(client, given["op"], given["args"], given.get("extra_parameters"))
    except modelstudio.APIStatusError as error:  # the answer does not matter, the key does
        assert not isinstance(error, modelstudio.AuthenticationError)
    (sent,) = srv.requests
    assert sent.method == expect["method"]
    assert sent.path == expect["path"]
    for name, value in (expect.get("headers") or {}).items():
        if name.lower() == "authorization":
            # The server records it redacted; it answers 401 to any other key than KEY, so the
            # call's success shows the value was `Bearer <KEY>`.
            assert value == f"Bearer {KEY}" and sent.header(name) == "Bearer sk-***"
            continue
        assert sent.header(name) == value, name
    for name in expect.get("absent_headers") or ():
        assert name.lower() not in {k.lower() for k in sent.headers}, name
    assert sent.json == expect["body"]


@pytest.mark.parametrize("case", _params("validate"))
def test_validate(case: dict[str, Any], srv: MockServer, clients: Clients) -> None:
    given, expect = case["input"], case["expect"]
    client = clients.get(max_retries=0)
    try:
        _call(client, given["op"], given["args"], given.get("extra_parameters"))
    except ValidationError as error:
        assert not srv.requests, "an invalid call was sent"
        got = sorted((p.param, p.kind) for p in error.problems)
        assert (error.param, error.kind) == got[0] or (error.param, error.kind) in got
    else:
        got = []
    want = sorted((p["path"], p["kind"]) for p in expect.get("problems", ()))
    assert got == want
    assert expect["valid"] is (not got)


@pytest.mark.parametrize("case", _params("defaults"))
def test_defaults(case: dict[str, Any]) -> None:
    given, expect = case["input"], case["expect"]
    assert modelstudio.family_for(given["model"]).family == expect["family"]
    assert modelstudio.defaults_for(given["model"], given["enable_thinking"]) == expect["defaults"]


def _bytes(spec: dict[str, str]) -> bytes:
    return spec["text"].encode() if "text" in spec else bytes.fromhex(spec["hex"])


@pytest.mark.parametrize("case", _params("sse"))
def test_sse(case: dict[str, Any]) -> None:
    data = _bytes(case["input"]["bytes"])
    splits = case["input"].get("splits") or []
    if splits == "each-byte":
        splits = list(range(1, len(data)))
    cuts = [0, *sorted(splits), len(data)]
    decoder = SSEDecoder()
    events = []
    for a, b in itertools.pairwise(cuts):
        events += decoder.feed(data[a:b])
    events += decoder.end()
    got = [
        {
            "data": e.data,
            "event": e.event,
            "id": e.id,
            "retry": e.retry,
            "comments": list(e.comments),
        }
        for e in events
    ]
    assert got == case["expect"]["events"]


def _subset(want: Any, got: Any, where: str = "$") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: {got!r} is not an object"
        for key, value in want.items():
            assert key in got, f"{where}.{key} is missing"
            _subset(value, got[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got!r}"
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            _subset(a, b, f"{where}[{i}]")
    else:
        assert got == want and type(got) is type(want), f"{where}: {got!r} != {want!r}"


@pytest.mark.parametrize("case", _params("accumulate"))
def test_accumulate(case: dict[str, Any]) -> None:
    given, expect = case["input"], case["expect"]
    acc: Accumulator | ChatAccumulator
    if given["wire"] == "native":
        acc = Accumulator(incremental=given.get("incremental", True))
    else:
        acc = ChatAccumulator(include_usage=given.get("include_usage", False))
    deltas = [acc.add(chunk) for chunk in given["chunks"]]
    if "deltas" in expect:
        assert len(deltas) == len(expect["deltas"])
        for delta, want in zip(deltas, expect["deltas"], strict=True):
            got = {
                "text": delta.text,
                "reasoning_content": delta.reasoning_content,
                "finish_reason": delta.finish_reason,
                "tool_calls": delta.tool_calls,
                "index": delta.index,
            }
            assert {k: got[k] for k in want} == want
    if "finished" in expect:
        assert acc.finished is expect["finished"]
    _subset(expect["final"], acc.final())


def _serve(srv: MockServer, response: dict[str, Any], op: str) -> None:
    """Serve the vector's answer byte for byte (a status 200 without a body: a made-up answer)."""
    body = response.get("body")
    headers = dict(response.get("headers") or {})
    if response["status"] == 200 and body is None:
        if op == "chat.completions.create":
            message = {"role": "assistant", "content": "ok"}
            body = {"id": "c", "object": "chat.completion", "created": 1, "model": "qwen-plus",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip
        else:
            body = {"output": {"text": "ok", "finish_reason": "stop"}, "request_id": "ok"}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        headers.setdefault("content-type", "application/json")
    srv.enqueue(response["status"], body=(body or "").encode() if isinstance(body, str) else body,
                headers=headers)  # fmt: skip


def _default_args(op: str, stream: bool) -> dict[str, Any]:
    content: Any = [{"text": "Hi"}] if op == "multimodal.create" else "Hi"
    model = "qwen3-vl-plus" if op == "multimodal.create" else "qwen-plus"
    return {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}


@pytest.mark.parametrize("case", _params("error"))
def test_error(case: dict[str, Any], srv: MockServer, sleeps: SleepRecorder) -> None:
    given, expect = case["input"], case["expect"]
    op = given.get("op", "generation.create")
    _serve(srv, given["response"], op)
    _serve(srv, given["response"], op)  # for the retry, if the client makes one
    with (
        ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=1) as client,
        pytest.raises(modelstudio.APIError) as caught,
    ):
        _call(client, op, _default_args(op, given.get("stream", False)))
    error: Any = caught.value
    assert type(error).__name__ == expect["class"]
    assert error.status_code == expect["status_code"]
    if "code" in expect:
        assert error.code == expect["code"]
    if "message" in expect:
        assert error.message == expect["message"]
    if "request_id" in expect:
        assert error.request_id == expect["request_id"]
    assert (len(srv.requests) == 2) is expect["retryable"]
    assert len(sleeps.delays) == (1 if expect["retryable"] else 0)


@pytest.mark.parametrize("case", _params("retry"))
def test_retry(case: dict[str, Any], srv: MockServer, sleeps: SleepRecorder) -> None:
    given, expect = case["input"], case["expect"]
    op = given.get("op", "generation.create")
    for outcome in given["outcomes"]:
        if outcome.get("reset"):
            srv.enqueue(200, body=b"{}", reset_before_status=True)  # before any byte
        else:
            _serve(srv, outcome, op)
    max_retries = given.get("max_retries", 2)
    with ModelStudio(api_key=KEY, base_url=srv.base_url, max_retries=max_retries) as client:
        if expect["result"] == "ok":
            _call(client, op, _default_args(op, False))
        else:
            with pytest.raises(modelstudio.APIError) as caught:
                _call(client, op, _default_args(op, False))
            error: Any = caught.value
            assert type(error).__name__ == expect["result"]["class"]
            if "status_code" in expect["result"]:
                assert error.status_code == expect["result"]["status_code"]
    assert len(srv.requests) == expect["attempts"]
    if "delays" in expect:
        assert len(sleeps.delays) == len(expect["delays"])
        for delay, bounds in zip(sleeps.delays, expect["delays"], strict=True):
            assert bounds["min"] - 1e-6 <= delay <= bounds["max"] + 1e-6, (delay, bounds)
