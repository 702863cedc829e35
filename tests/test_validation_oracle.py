"""Our request validation against an independent oracle: pydantic models that
datamodel-code-generator writes from the same spec (read as OpenAPI, not through our loader).

A seeded random corpus per operation starts from valid requests (built from the spec's schemas
and a few hand-written samples) and mutates them: wrong types, out-of-range numbers, bad enum and
const values, missing required keys, unknown and misplaced keys, wrong nesting. On every request
the schema-level part of our validator and the oracle must agree on accept / reject.

What the oracle cannot express is left out of the comparison, by construction: only the schema
checks of `validate_*` are compared (see EXCLUDED), and the rest of what `validate_*` reports is
counted and shown, never compared."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pydantic
import pytest
import yaml

import modelstudio._validation.operations as ours
from modelstudio._validation import VALIDATORS
from tests.paths import SPEC

SEED = 20261201
MUTANTS_PER_OPERATION = 6000

# What validate_* reports beyond the schema, and why the oracle is not asked about it.
EXCLUDED = {
    "x-rules (cross-field rules, e.g. tools-need-message-format, top-logprobs-need-logprobs)":
        "a pydantic model of one schema checks each field alone; the spec's x-rules relate "
        "several fields (and the stream flag), which JSON Schema / datamodel-codegen cannot say",
    "x-model-families (per-model limits, supports, streaming-only, thinking modes)":
        "the accepted range of a parameter depends on the model id's row in the table, not on "
        "the schema; the oracle has one model per schema",
    "media rules (image counts, pixel bounds, frame counts per model)":
        "per-model limits again (x-model-families limits), applied to content parts",
    "x-contains (messages must hold a user message)":
        "a condition on some item of a list, which the generated pydantic list type cannot say",
    "x-required-any (an assistant message needs content or tool_calls)":
        "one of several optional keys must be present: no pydantic field can say it alone",
}  # fmt: skip

# The schema-level problems of the spec's own keywords (EXCLUDED above), by their rule text.
OWN_KEYWORD_RULES = ("must hold a message with ", "is required unless ")

# Left out of the comparison: requests holding an untagged content part with the keys of two
# kinds ({"audio": "a.mp3", "video": -1}). The docs give one kind per part ("Qwen API reference",
# https://www.alibabacloud.com/help/en/model-studio/qwen-api-reference, section User Message,
# content: text, image, video, audio) and say nothing of a part with two. Our validator reads the
# part as the first kind it carries (spec order: text, image, video, audio, doc_url) and checks
# that; the oracle's union takes any variant that validates and drops the other keys as unknown,
# so it accepts what a typo made wrong. Counted as "ambiguous parts" below.
AMBIGUOUS_PART = "a content part with the keys of two kinds"

OPERATIONS = {
    "textGeneration": "/services/aigc/text-generation/generation",
    "multimodalGeneration": "/services/aigc/multimodal-generation/generation",
    "chatCompletions": "/chat/completions",
}

# Hand-written valid requests, in the shapes the docs pages and README show.
SAMPLES: dict[str, list[dict[str, Any]]] = {
    "textGeneration": [
        {"model": "qwen-plus", "input": {"messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Who are you?"}]},
         "parameters": {"result_format": "message", "temperature": 0.7, "top_p": 0.8,
                        "seed": 1234, "stop": [[37763, 367]], "logit_bias": {"1024": -100}}},
        {"model": "qwen-plus", "input": {"messages": [
            {"role": "user", "content": "What is the weather in Hangzhou?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1",
             "type": "function", "function": {"name": "get_weather",
                                              "arguments": "{\"city\": \"Hangzhou\"}"}}]},
            {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}]},
         "parameters": {"result_format": "message", "tools": [{"type": "function", "function": {
             "name": "get_weather", "description": "The weather in a city.",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
             "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}},
        {"model": "qwen-mt-plus", "input": {"messages": [{"role": "user", "content": "你好"}]},
         "parameters": {"translation_options": {"source_lang": "auto", "target_lang": "English",
                                                "terms": [{"source": "a", "target": "b"}]}}},
        {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "news"}]},
         "parameters": {"enable_search": True, "search_options": {"forced_search": True},
                        "response_format": {"type": "json_object"}, "n": 2}},
    ],
    "multimodalGeneration": [
        {"model": "qwen-vl-max", "input": {"messages": [{"role": "user", "content": [
            {"image": "https://example.com/dog.jpeg", "max_pixels": 1003520},
            {"text": "What is this?"}]}]},
         "parameters": {"vl_high_resolution_images": True}},
        {"model": "qwen-vl-max", "input": {"messages": [{"role": "user", "content": [
            {"video": ["https://example.com/1.jpg", "https://example.com/2.jpg"], "fps": 2},
            {"text": "Describe the video."}]}]}},
        {"model": "qwen-vl-ocr", "input": {"messages": [{"role": "user", "content": [
            {"image": "https://example.com/receipt.png", "min_pixels": 3136,
             "enable_rotate": True}]}]},
         "parameters": {"ocr_options": {"task": "key_information_extraction",
                                        "task_config": {"result_schema": {"total": ""}}}}},
        {"model": "qwen3-asr-flash", "input": {"messages": [
            {"role": "system", "content": [{"text": ""}]},
            {"role": "user", "content": [{"audio": "https://example.com/a.mp3"}]}]},
         "parameters": {"asr_options": {"enable_itn": False}}},
    ],
    "chatCompletions": [
        {"model": "qwen-plus", "messages": [{"role": "user", "content": "Hi"}], "stream": True,
         "stream_options": {"include_usage": True}},
        {"model": "qwen-vl-max", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "text", "text": "What is it?"}]}], "max_tokens": 100},
        {"model": "qwen-plus", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function",
             "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "content": "sunny", "tool_call_id": "c"}],
         "tools": [{"type": "function", "function": {
             "name": "w", "description": "Weather", "parameters": {}}}]},
    ],
}  # fmt: skip

# Values for `pattern` strings: the generator must know each pattern of the spec.
PATTERN_SAMPLES = {
    "^[0-9]+\\*[0-9]+$": ["1664*928", "1024*1024"],
    "^[A-Za-z0-9_-]{1,64}$": ["get_weather", "f-1"],
}


# ------------------------------------------------------------------ the spec, read as YAML


def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return spec


def request_schema(spec: dict[str, Any], operation_id: str) -> str:
    op = spec["paths"][OPERATIONS[operation_id]]["post"]
    assert op["operationId"] == operation_id
    ref: str = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def walk_schemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_schemas(value)


class Pools:
    """Replacement values gathered from the spec: every bound (and just past it), every enum and
    const value, every property name."""

    def __init__(self, spec: dict[str, Any]) -> None:
        # a list, not a set: 4 and 4.0 are both wanted (4.0 where an integer is wanted)
        numbers: list[float] = [-1, 0, 1, 1.0, 0.5, 3, 100, 101, -101, 2**31 - 1, 2**31, 10**12]
        strings: set[str] = {"", "1", "true", "bogus", "1024x1024", "10*10", "x" * 65, "usr"}
        keys: set[str] = {"zz_unknown"}
        schemas = spec["components"]["schemas"]
        for node in walk_schemas(schemas):
            for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                value = node.get(bound)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    numbers += [value, value - 1, value + 1, value - 0.001, value + 0.001]
                    numbers.append(float(value))
            for value in node.get("enum") or ():
                if isinstance(value, str):
                    strings.add(value)
            if isinstance(node.get("const"), str):
                strings.add(node["const"])
            if isinstance(node.get("properties"), dict):
                keys.update(node["properties"])
        self.numbers = sorted({(type(n).__name__, n): n for n in numbers}.values())
        self.strings = sorted(strings)
        self.keys = sorted(keys)


# ------------------------------------------------------------------ valid requests from the spec


class Builder:
    """A random valid instance of a schema (required keys always, optional ones sometimes)."""

    def __init__(self, spec: dict[str, Any], rng: random.Random) -> None:
        self.schemas = spec["components"]["schemas"]
        self.rng = rng

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self.schemas[node["$ref"].rsplit("/", 1)[1]]
        return node

    def value(self, node: dict[str, Any], depth: int = 0) -> Any:
        rng = self.rng
        node = self.resolve(node)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return rng.choice(node["enum"])
        if "oneOf" in node:
            return self.value(rng.choice(node["oneOf"]), depth)
        kind = node.get("type", "object" if "properties" in node else None)
        if kind == "string":
            if "pattern" in node:
                return rng.choice(PATTERN_SAMPLES[node["pattern"]])
            low = node.get("minLength", 0)
            return rng.choice(
                [
                    t
                    for t in ("hi", "https://example.com/a.png", "qwen", "auto", "")
                    if len(t) >= low
                ]
            )
        if kind in ("integer", "number"):
            return self.number(node, kind == "integer")
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "array":
            low = node.get("minItems", 0)
            count = rng.randint(max(low, 1 if depth < 4 else 0), max(low, 2))
            return [self.value(node.get("items", {}), depth + 1) for _ in range(count)]
        if kind == "object":
            out: dict[str, Any] = {}
            required = set(node.get("required", ()))
            for name, prop in (node.get("properties") or {}).items():
                if name in required or (depth < 5 and rng.random() < 0.4):
                    out[name] = self.value(prop, depth + 1)
            extra = node.get("additionalProperties")
            if not node.get("properties") and isinstance(extra, dict):
                out["1024"] = self.value(extra, depth + 1)
            return out
        return "anything"

    def number(self, node: dict[str, Any], integer: bool) -> float:
        low = node.get("minimum", node.get("exclusiveMinimum", -5 if not integer else 0))
        high = node.get("maximum", node.get("exclusiveMaximum", 100))
        for _ in range(100):
            value: float = (
                self.rng.randint(int(low), int(high))
                if integer
                else round(self.rng.uniform(low, high), 3)
            )
            if value == node.get("exclusiveMinimum") or value == node.get("exclusiveMaximum"):
                continue
            return value
        raise AssertionError(f"no number in {node}")


# ------------------------------------------------------------------ mutations


def nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path below the root (dict keys and list indices)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key)
            yield from nodes(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield (*path, i)
            yield from nodes(child, (*path, i))


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


class Mutator:
    def __init__(self, pools: Pools, rng: random.Random) -> None:
        self.pools = pools
        self.rng = rng
        self.kinds: dict[str, Callable[[Any, tuple[Any, ...]], str | None]] = {
            "wrong type": self.wrong_type,
            "boundary number": self.boundary_number,
            "bad string": self.bad_string,
            "null": self.null,
            "drop key": self.drop_key,
            "add key": self.add_key,
            "wrap in list": self.wrap_list,
            "unwrap list": self.unwrap_list,
            "wrap in object": self.wrap_object,
            "hoist object": self.hoist_object,
            "empty list": self.empty_list,
        }

    def any_value(self) -> Any:
        rng = self.rng
        return rng.choice([
            rng.choice(self.pools.strings), rng.choice(self.pools.numbers), True, False, None,
            [], [rng.choice(self.pools.strings)], {}, {"text": "hi"}, {"role": "user"},
            [{"text": "hi"}], 1.5, -1, 0,
        ])  # fmt: skip

    def mutate(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        body = copy.deepcopy(body)
        done: list[str] = []
        for _ in range(self.rng.choice((1, 1, 1, 2, 3))):
            paths = list(nodes(body))
            if not paths:
                break
            path = self.rng.choice(paths)
            name = self.rng.choice(list(self.kinds))
            applied = self.kinds[name](body, path)
            if applied:
                done.append(f"{name} at {'.'.join(map(str, path))}: {applied}")
        return body, done

    def replace(self, body: Any, path: tuple[Any, ...], value: Any) -> str:
        at(body, path[:-1])[path[-1]] = value
        return repr(value)[:60]

    def wrong_type(self, body: Any, path: tuple[Any, ...]) -> str | None:
        old = at(body, path)
        for _ in range(10):
            new = self.any_value()
            if type(new) is not type(old):
                return self.replace(body, path, new)
        return None

    def boundary_number(self, body: Any, path: tuple[Any, ...]) -> str | None:
        old = at(body, path)
        if isinstance(old, bool) or not isinstance(old, (int, float)):
            return None
        return self.replace(body, path, self.rng.choice(self.pools.numbers))

    def bad_string(self, body: Any, path: tuple[Any, ...]) -> str | None:
        if not isinstance(at(body, path), str):
            return None
        return self.replace(body, path, self.rng.choice(self.pools.strings))

    def null(self, body: Any, path: tuple[Any, ...]) -> str | None:
        return self.replace(body, path, None)

    def drop_key(self, body: Any, path: tuple[Any, ...]) -> str | None:
        parent = at(body, path[:-1])
        if not isinstance(parent, dict):
            return None
        del parent[path[-1]]
        return "dropped"

    def add_key(self, body: Any, path: tuple[Any, ...]) -> str | None:
        node = at(body, path)
        if not isinstance(node, dict):
            return None
        key = self.rng.choice(self.pools.keys)
        node[key] = self.any_value()
        return f"{key}={node[key]!r}"[:60]

    def wrap_list(self, body: Any, path: tuple[Any, ...]) -> str | None:
        return self.replace(body, path, [at(body, path)])

    def unwrap_list(self, body: Any, path: tuple[Any, ...]) -> str | None:
        node = at(body, path)
        if not isinstance(node, list) or not node:
            return None
        return self.replace(body, path, node[0])

    def wrap_object(self, body: Any, path: tuple[Any, ...]) -> str | None:
        return self.replace(body, path, {self.rng.choice(self.pools.keys): at(body, path)})

    def hoist_object(self, body: Any, path: tuple[Any, ...]) -> str | None:
        node, parent = at(body, path), at(body, path[:-1])
        if not isinstance(node, dict) or not isinstance(parent, dict):
            return None
        del parent[path[-1]]
        parent.update(node)
        return "merged into its parent"

    def empty_list(self, body: Any, path: tuple[Any, ...]) -> str | None:
        if not isinstance(at(body, path), list):
            return None
        return self.replace(body, path, [])


# ------------------------------------------------------------------ the oracle


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The pydantic models datamodel-code-generator writes from the spec (as OpenAPI)."""
    out = tmp_path_factory.mktemp("oracle") / "spec_models.py"
    subprocess.run(
        [sys.executable, "-m", "datamodel_code_generator", "--input", str(SPEC),
         "--input-file-type", "openapi", "--output", str(out),
         "--output-model-type", "pydantic_v2.BaseModel", "--target-python-version", "3.10",
         "--use-annotated", "--field-constraints", "--enum-field-as-literal", "all",
         "--disable-timestamp", "--formatters", "builtin"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    module_spec = importlib.util.spec_from_file_location("spec_models", out)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["spec_models"] = module
    try:
        module_spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["spec_models"]


Place = tuple[str | int, ...]


def in_body(body: Any, loc: tuple[Any, ...]) -> Place:
    """A pydantic error location as a path in the body: the union tags it adds (`user`,
    `TextPart`, `list[str]`) dropped, a missing key kept as the last step."""
    out: list[str | int] = []
    node = body
    for i, step in enumerate(loc):
        inside = (isinstance(node, dict) and isinstance(step, str) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and step < len(node)
        )
        if inside:
            out.append(step)
            node = node[step]
        elif i == len(loc) - 1 and isinstance(node, dict) and isinstance(step, str):
            out.append(step)
    return tuple(out)


_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]")


def our_place(path: str) -> Place:
    """A Problem's path (`.input.messages[0].content`, `.parameters.logit_bias['1']`) as steps."""
    out: list[str | int] = []
    for m in _STEP.finditer(path):
        key, index, quoted = m.groups()
        out.append(key if key is not None else int(index) if index else ast.literal_eval(quoted))
    return tuple(out)


def related(a: Place, b: Place) -> bool:
    """One place is inside the other (a union names itself, its variants name their fields)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def oracle_problems(model: type[pydantic.BaseModel], body: dict[str, Any]) -> list[Place]:
    """Where pydantic finds problems in the body on the wire (JSON, strict: no coercion)."""
    try:
        model.model_validate_json(json.dumps(body), strict=True)
    except pydantic.ValidationError as exc:
        return [in_body(body, tuple(e["loc"])) for e in exc.errors()]
    return []


def our_schema_problems(request: str, body: dict[str, Any]) -> list[Place]:
    """Where the schema checks of validate_* (the `_check_<request schema>` it starts with)
    find problems."""
    out: list[Any] = []
    getattr(ours, f"_check_{request}")(body, "", out)
    return [our_place(p.path) for p in out if not p.rule.startswith(OWN_KEYWORD_RULES)]


def kind_keys(spec: dict[str, Any], request: str) -> set[str]:
    """The keys that select a variant of the untagged unions a request reaches (ContentPart:
    text, image, video, audio, doc_url)."""
    schemas = spec["components"]["schemas"]
    seen: set[str] = set()
    todo = [request]
    keys: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        node = schemas[name]
        refs = [n["$ref"].rsplit("/", 1)[1] for n in walk_schemas(node) if "$ref" in n]
        todo += refs
        if "oneOf" in node and "discriminator" not in node:
            for variant in node["oneOf"]:
                if "$ref" in variant:
                    keys.update(schemas[variant["$ref"].rsplit("/", 1)[1]].get("required", ()))
    return keys


def has_ambiguous_part(value: Any, kind_keys: set[str]) -> bool:
    if isinstance(value, dict):
        if len(kind_keys & value.keys()) > 1:
            return True
        return any(has_ambiguous_part(v, kind_keys) for v in value.values())
    if isinstance(value, list):
        return any(has_ambiguous_part(v, kind_keys) for v in value)
    return False


def corpus(spec: dict[str, Any], operation_id: str) -> Iterator[tuple[dict[str, Any], list[str]]]:
    """(request, the mutations applied): the valid seeds first, then their mutants."""
    rng = random.Random(f"{SEED}:{operation_id}")
    builder = Builder(spec, rng)
    request = spec["components"]["schemas"][request_schema(spec, operation_id)]
    seeds = [*SAMPLES[operation_id], *(builder.value(request) for _ in range(60))]
    for seed in seeds:
        yield seed, []
    mutator = Mutator(Pools(spec), rng)
    for i in range(MUTANTS_PER_OPERATION):
        yield mutator.mutate(seeds[i % len(seeds)])


@pytest.mark.parametrize("operation_id", list(OPERATIONS))
def test_our_schema_checks_agree_with_the_pydantic_oracle(oracle: Any, operation_id: str) -> None:
    spec = load_spec()
    request = request_schema(spec, operation_id)
    model = getattr(oracle, request)
    selectors = kind_keys(spec, request)
    disagreements: list[str] = []
    counts = dict.fromkeys(
        ("accepted", "rejected", "places compared", "ambiguous parts", "excluded problems seen"), 0
    )
    for body, mutations in corpus(spec, operation_id):
        if selectors and has_ambiguous_part(body, selectors):
            counts["ambiguous parts"] += 1
            continue
        mine = our_schema_problems(request, body)
        theirs = oracle_problems(model, body)
        if not mutations:
            assert not mine and not theirs, (body, mine, theirs)  # the seeds are valid
        disagree = bool(mine) != bool(theirs)
        if mine and theirs and len(mutations) == 1:
            # one mutation: both must point at the same place (or one inside the other)
            disagree = not all(any(related(m, t) for t in theirs) for m in mine) or not all(
                any(related(t, m) for m in mine) for t in theirs
            )
            counts["places compared"] += 1
        if disagree:
            disagreements.append(
                f"{mutations}\n  ours: {mine[:3]}\n  oracle: {theirs[:3]}\n  body: "
                + json.dumps(body)[:400]
            )
        counts["rejected" if mine else "accepted"] += 1
        # validate_* reports every schema problem, plus what EXCLUDED lists
        full = VALIDATORS[operation_id](body, False)
        assert len(full) >= len(mine)
        counts["excluded problems seen"] += len(full) - len(mine)
    print(operation_id, counts)
    assert counts["accepted"] > 100 and counts["rejected"] > 1000, counts
    assert not disagreements, f"{len(disagreements)} disagreements:\n" + "\n".join(
        disagreements[:8]
    )
