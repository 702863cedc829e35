"""IR -> the generated conformance vectors (`spec/conformance/generated/*.json`).

Language-neutral: nothing here knows a binding. Each case's expectation is derived from the spec
alone (its constraints, `x-rules`, `x-model-families` rows and request `examples`), so a binding
that passes them agrees with the spec, not with another binding. spec/conformance/README.md
describes the format.

- `validate`: every range edge (the failing value and its passing neighbour), every enum value
  and one value outside it, every pattern, a wrong type for every primitive parameter, every
  required nested field, every `x-rules` entry (a failing call and its passing neighbour), and
  the per-model rules of every family row (endpoint, thinking and streaming modes, limits).
- `defaults`: every family row, for a model it matches, with thinking on, off and unset.
- `request`: every request-body example of every operation (the documented curl samples).

The expected problems of a case are computed here from the spec: the problem the case was built
to have, plus whatever the `x-rules` and the family table say of the call. A case built to be
valid that is not (by that reckoning) is a generator error, reported by `make regenerate`.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

import attrs

from . import ir

FORMAT = 1
SOURCE = "generated from spec/{spec} by codegen/core/vectors.py; do not edit (make regenerate)"

# The call every case starts from, per operation name: a model the operation serves and one
# plain user message.
BASE: dict[str, dict[str, Any]] = {
    "generation.create": {"model": "qwen-plus", "messages": [{"role": "user", "content": "Hi"}]},
    "multimodal.create": {
        "model": "qwen3-vl-plus",
        "messages": [{"role": "user", "content": [{"text": "Describe it."}]}],
    },
    "chat.completions.create": {
        "model": "qwen-plus",
        "messages": [{"role": "user", "content": "Hi"}],
    },
}

# Parameters that belong to special models: the model (and any argument) a case about them uses,
# so that the family table has nothing else to say about the call.
CONTEXT: dict[str, dict[str, Any]] = {
    "ocr_options": {"model": "qwen-vl-ocr-latest"},
    "asr_options": {"model": "qwen3-asr-flash"},
    "output_format": {"model": "qwen-deep-research", "stream": True},
    "enable_code_interpreter": {"model": "qwen3-max", "enable_thinking": True, "stream": True},
    "thinking_budget": {"model": "qwen-plus", "stream": True},
    "logprobs": {"model": "qwen-plus-2025-07-28"},
    "top_logprobs": {"model": "qwen-plus-2025-07-28"},
}
MULTIMODAL_PARAMS = {"ocr_options", "asr_options", "vl_high_resolution_images"}

# Strings that satisfy (first) and break (second) each pattern of the spec.
PATTERN_SAMPLES: dict[str, tuple[str, str]] = {
    "^[A-Za-z0-9_-]{1,64}$": ("get_weather", "get weather"),
    "^[0-9]+\\*[0-9]+$": ("1664*928", "1664x928"),
}
# Values for required strings where any string would not do (media must look like media).
STRING_SAMPLES: dict[tuple[str, str], str] = {
    ("VideoPart", "video"): "https://example.com/video.mp4",
    ("ImagePart", "image"): "https://example.com/image.png",
    ("AudioPart", "audio"): "https://example.com/audio.mp3",
}

# The `supports` flags of a family row and the parameter each governs, with a value that uses
# it (spec/README.md, "Per-model tables"); `used` says whether a call's value uses the feature.
SUPPORTS: dict[str, tuple[str, Any, Callable[[Any], bool]]] = {
    "tools": ("tools", None, bool),
    "n": ("n", 2, lambda v: v is not None and v != 1),
    "logprobs": ("logprobs", True, lambda v: v is True),
    "response_format": ("response_format", {"type": "json_object"}, lambda v: v is not None),
    "code_interpreter": ("enable_code_interpreter", True, lambda v: v is True),
    "search": ("enable_search", True, lambda v: v is True),
}
LIMITS = ("max_tokens", "thinking_budget", "max_input_tokens")
# Generated cases a binding does not run, by id: {binding: reason}. (Hand-written files carry
# their `skip` in the case itself.) None today.
SKIPS: dict[str, dict[str, str]] = {}
ENDPOINT_OPS = {
    "text-generation": "generation.create",
    "multimodal-generation": "multimodal.create",
}


def op_name(op: ir.Operation) -> str:
    return ".".join(op.resource) + ".create"


def _number(value: float) -> float | int:
    rounded = round(value, 10)
    return int(rounded) if float(rounded).is_integer() and isinstance(value, int) else rounded


@attrs.frozen
class Step:
    """One step from the call's arguments to a nested field: a field of `schema`, or item 0."""

    field: str | None = None
    schema: str | None = None


@attrs.define
class Problem:
    path: str
    kind: str
    rule: str | None = None

    def as_json(self) -> dict[str, str]:
        out = {"path": self.path, "kind": self.kind}
        if self.rule:
            out["rule"] = self.rule
        return out


class Vectors:
    """Builds the generated suites from one IR."""

    def __init__(self, spec: ir.Spec) -> None:
        self.spec = spec
        self.by_name = {s.name: s for s in spec.schemas}
        self.rules = dict(spec.rules)
        self.ops = {op_name(op): op for op in spec.operations}
        self.seen_ids: set[str] = set()

    # -- the shape of a call -----------------------------------------------------------------

    def arg_fields(self, op: ir.Operation) -> list[ir.Field]:
        """The fields that are keyword arguments of the operation, by wire name."""
        if op.wire == "native":
            params = self.by_name[op.parameters]
            request = self.by_name[op.request]
            input_ref = next(f for f in request.fields if f.wire_name == "input").type.name
            messages = next(
                f for f in self.by_name[str(input_ref)].fields if f.wire_name == "messages"
            )
            return [messages, *params.fields]
        return [f for f in self.by_name[op.request].fields if f.wire_name not in ("model",)]

    def minimal(self, t: ir.TypeRef, owner: str = "", field: str = "") -> Any:
        """A small valid value of type `t`."""
        c = t.constraint
        if c.has_const:
            return c.const
        if c.enum:
            return c.enum[0]
        if t.kind == "ref":
            return self.minimal_object(str(t.name))
        if t.kind == "union":
            return self.minimal(t.variants[0], owner, field)
        if t.kind == "list":
            assert t.items is not None
            return [self.minimal(t.items, owner, field)]
        if t.kind == "str":
            if c.pattern is not None:
                return self.pattern_samples(c.pattern)[0]
            return STRING_SAMPLES.get((owner, field), "x")
        if t.kind == "int":
            return int(c.minimum) if c.minimum is not None else 1
        if t.kind == "float":
            return c.minimum if c.minimum is not None else 0.5
        if t.kind == "bool":
            return True
        return {}

    def minimal_object(self, name: str) -> Any:
        schema = self.by_name[name]
        if schema.is_union:
            return self.minimal(schema.variants[0])
        return {
            f.wire_name: self.minimal(f.type, name, f.wire_name)
            for f in schema.fields
            if f.required
        }

    def pattern_samples(self, pattern: str) -> tuple[str, str]:
        if pattern not in PATTERN_SAMPLES:
            raise ValueError(f"codegen/core/vectors.py: add PATTERN_SAMPLES for {pattern!r}")
        good, bad = PATTERN_SAMPLES[pattern]
        assert re.search(pattern, good) and not re.search(pattern, bad), pattern
        return good, bad

    def places(self, op: ir.Operation) -> Iterator[tuple[list[Step], ir.Field, str]]:
        """Every field reachable from the call's arguments: (steps to it, field, owner)."""
        seen: set[str] = set()

        def walk(t: ir.TypeRef, steps: list[Step]) -> Iterator[tuple[list[Step], ir.Field, str]]:
            if t.kind == "list" and t.items is not None:
                yield from walk(t.items, [*steps, Step()])
            elif t.kind == "union":
                for v in t.variants:
                    yield from walk(v, steps)
            elif t.kind == "ref" and t.name and t.name not in seen:
                seen.add(t.name)
                schema = self.by_name[t.name]
                # a user message first: it is the one that may carry every kind of part
                for v in sorted(schema.variants, key=lambda v: "User" not in str(v.name)):
                    yield from walk(v, steps)
                for f in schema.fields:
                    here = [*steps, Step(f.wire_name, t.name)]
                    yield here, f, t.name
                    yield from walk(f.type, here)

        for f in self.arg_fields(op):
            steps = [Step(f.wire_name)]
            yield steps, f, ""
            yield from walk(f.type, steps)

    def build(self, steps: list[Step], value: Any, *, drop: bool = False) -> tuple[str, Any]:
        """The argument (name, value) that puts `value` at `steps` (or leaves it out: `drop`)."""
        inner: Any = value
        for i in range(len(steps) - 1, 0, -1):
            step = steps[i]
            if step.field is None:
                inner = [inner]
                continue
            container = self.minimal_object(str(step.schema))
            if drop:
                container.pop(step.field, None)
                drop = False
            else:
                container[step.field] = inner
            inner = container
        return str(steps[0].field), inner

    def field_type(self, steps: list[Step], i: int) -> ir.TypeRef:
        """The type of the field that step `i` names (an item step: the list's item type)."""
        step = steps[i]
        if step.field is None:
            return ir.TypeRef(kind="any")
        if step.schema is None:
            return next(f.type for op in self.spec.operations for f in self.arg_fields(op)
                        if f.wire_name == step.field)  # fmt: skip
        return next(f.type for f in self.by_name[step.schema].fields if f.wire_name == step.field)

    @staticmethod
    def path_of(steps: list[Step]) -> str:
        out = ""
        for step in steps:
            out += "[0]" if step.field is None else ("." if out else "") + step.field
        return out

    @staticmethod
    def id_path(path: str) -> str:
        return path.replace("[", ".").replace("]", "")

    # -- what the spec says of a call --------------------------------------------------------

    def expected(self, op: ir.Operation, args: Mapping[str, Any]) -> list[Problem]:
        """The problems the `x-rules` and the family table find in a call."""
        stream = bool(args.get("stream", False))
        params = {k: v for k, v in args.items() if k not in ("model", "messages", "stream")}
        if op.wire != "native":
            params = {k: v for k, v in args.items() if k != "stream"}
        out: list[Problem] = []
        for rule in self.rules.get(op.parameters, ()):
            if all(self.holds(c, params, stream) for c in rule.when) and not all(
                self.holds(c, params, stream) for c in rule.then
            ):
                first = rule.then[0].path if rule.then else rule.id
                out.append(Problem("stream" if first == "$stream" else first, "rule", rule.id))
        model = args.get("model")
        if isinstance(model, str):
            row = self.family_for(model)
            out += self.model_problems(row, op, params, stream)
            if op.endpoint == "multimodal-generation":
                out += self.media_problems(row, args.get("messages"))
        return out

    @staticmethod
    def media_problems(row: ir.ModelFamily, messages: Any) -> list[Problem]:
        """The per-model limits on the numbers of a media part (`fps_min`/`fps_max`)."""
        limits = dict(row.limits)
        lo, hi = limits.get("fps_min"), limits.get("fps_max")
        out: list[Problem] = []
        for i, message in enumerate(messages if isinstance(messages, list) else ()):
            content = message.get("content") if isinstance(message, dict) else None
            for j, part in enumerate(content if isinstance(content, list) else ()):
                if not isinstance(part, dict) or not {"image", "video", "audio"} & set(part):
                    continue
                fps = part.get("fps")
                if (
                    isinstance(fps, (int, float))
                    and not isinstance(fps, bool)
                    and ((lo is not None and fps < lo) or (hi is not None and fps > hi))
                ):
                    out.append(Problem(f"messages[{i}].content[{j}].fps", "media"))
        return out

    @staticmethod
    def value_at(params: Mapping[str, Any], path: str, stream: bool) -> Any:
        if path == "$stream":
            return stream
        value: Any = params
        for part in path.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    def holds(self, c: ir.Condition, params: Mapping[str, Any], stream: bool) -> bool:
        x = self.value_at(params, c.path, stream)
        if c.op == "present":
            return (x is not None) == bool(c.value)
        if c.op == "absent":
            return (x is None) == bool(c.value)
        if c.op in ("const", "not_const"):
            same = x is c.value if isinstance(c.value, bool) or c.value is None else x == c.value
            return same if c.op == "const" else not same
        return x in tuple(c.value)

    def family_for(self, model: str) -> ir.ModelFamily:
        name = model.lower()
        for row in self.spec.families:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in row.match):
                return row
        return self.spec.families[-1]

    @staticmethod
    def thinking_on(row: ir.ModelFamily, enable: bool | None) -> bool:
        if row.thinking_mode == "thinking-only":
            return True
        if row.thinking_mode in ("none", None):
            return False
        return bool(row.thinking_default) if enable is None else enable

    def model_problems(
        self, row: ir.ModelFamily, op: ir.Operation, params: Mapping[str, Any], stream: bool
    ) -> list[Problem]:
        """The per-model rules of spec/README.md "Per-model tables" for one call."""
        out: list[Problem] = []
        if row.endpoints and op.endpoint != "compatible" and op.endpoint not in row.endpoints:
            out.append(Problem("model", "model"))
        thinking = params.get("enable_thinking")
        if row.thinking_mode == "thinking-only" and thinking is False:
            out.append(Problem("enable_thinking", "model"))
        if row.thinking_mode == "none" and thinking is True:
            out.append(Problem("enable_thinking", "model"))
        on = self.thinking_on(row, thinking if isinstance(thinking, bool) else None)
        if not stream and (
            row.streaming_only
            or row.thinking_mode == "thinking-only"
            or (on and row.streaming_only_when_thinking)
        ):
            out.append(Problem("stream", "model"))
        supports = dict(row.supports)
        if on:
            supports.update(dict(row.supports_when_thinking))
        for flag, (param, _, used) in SUPPORTS.items():
            if supports.get(flag) is False and used(params.get(param)):
                out.append(Problem(param, "model"))
        limits = dict(row.limits)
        for name in LIMITS:
            limit, value = limits.get(name), params.get(name)
            if (
                isinstance(limit, int)
                and isinstance(value, int)
                and not isinstance(value, bool)
                and value > limit
            ):
                out.append(Problem(name, "model"))
        return out

    # -- cases -------------------------------------------------------------------------------

    def case(
        self,
        suite: str,
        name: str,
        tags: list[str],
        input_: dict[str, Any],
        expect: dict[str, Any],
        description: str = "",
    ) -> dict[str, Any]:
        case_id = f"{suite}/{name}"
        if case_id in self.seen_ids:
            raise ValueError(f"duplicate vector id {case_id}")
        self.seen_ids.add(case_id)
        out: dict[str, Any] = {"id": case_id}
        if description:
            out["description"] = description
        out["tags"] = tags
        out["input"] = input_
        out["expect"] = expect
        if case_id in SKIPS:
            out["skip"] = SKIPS[case_id]
        return out

    def call(
        self, op_id: str, extra: Mapping[str, Any], problems: list[Problem], name: str,
        tags: list[str], description: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        """A validate case: the base call of `op_id` with `extra`; `problems` by construction."""
        op = self.ops[op_id]
        args = copy.deepcopy(BASE[op_id])
        args.update(copy.deepcopy(dict(extra)))
        found = problems + [p for p in self.expected(op, args) if p not in problems]
        expect: dict[str, Any] = {"valid": not found}
        if found:
            expect["problems"] = [p.as_json() for p in found]
        return self.case("validate", f"{op_id}/{name}", tags, {"op": op_id, "args": args}, expect,
                         description)  # fmt: skip

    def context(self, root: str, op_id: str) -> tuple[str, dict[str, Any]]:
        """The operation and extra arguments a case about parameter `root` uses."""
        extra = dict(CONTEXT.get(root, {}))
        if op_id == "generation.create" and root in MULTIMODAL_PARAMS:
            op_id = "multimodal.create"
        if op_id == "chat.completions.create":
            extra = {k: v for k, v in extra.items() if k in ("model",)}
        return op_id, extra

    def validate_cases(self) -> list[dict[str, Any]]:
        cases: list[dict[str, Any]] = []
        done: set[tuple[str, str]] = set()
        for op in self.spec.operations:
            op_id = op_name(op)
            if op.wire == "native" and op.endpoint != "text-generation":
                continue  # the native operations share one request schema: cases use the text one
            for steps, f, owner in self.places(op):
                path = self.path_of(steps)
                if (op.request, path) in done:
                    continue
                done.add((op.request, path))
                cases += self.field_cases(op_id, steps, f, owner, path)
        cases += self.rule_cases()
        cases += self.family_cases()
        return cases

    def field_cases(
        self, op_id: str, steps: list[Step], f: ir.Field, owner: str, path: str
    ) -> list[dict[str, Any]]:
        root = str(steps[0].field)
        if any(step.field == "content" for step in steps) and op_id == "generation.create":
            op_id = "multimodal.create"  # content parts other than text: a multimodal call
        op_id, extra = self.context(root, op_id)
        pid = self.id_path(path)
        out: list[dict[str, Any]] = []
        if root == "stream":
            return out  # a control argument of create(), not a checked body field
        # Inside an inline oneOf (message content: a string or parts; tool_choice: a word or an
        # object) a value that breaks a rule fits no variant: the problem is the oneOf's.
        union_at = next(
            (i for i, s in enumerate(steps[:-1]) if self.field_type(steps, i).kind == "union"),
            None,
        )

        def located(problem: Problem) -> Problem:
            if union_at is None:
                return problem
            return Problem(self.path_of(steps[: union_at + 1]), "type")

        def one(value: Any, problem: Problem | None, name: str, tags: list[str]) -> None:
            key, arg = self.build(steps, value)
            args = self.fix(op_id, {**extra, key: arg}, root)
            made = [located(problem)] if problem else []
            case = self.call(op_id, args, made, f"{pid}/{name}", tags)
            if problem is None and not case["expect"]["valid"]:
                raise ValueError(f"{case['id']}: meant to be valid, but {case['expect']}")
            out.append(case)

        types = [f.type] if f.type.kind != "union" else []
        for t in types:
            c = t.constraint
            if c.has_const or t.kind in ("ref", "any", "dict"):
                continue
            if c.enum is not None:
                for value in c.enum:
                    one(value, None, f"enum-{value}", ["enum"])
                one("not-a-" + f.wire_name.replace("_", "-"), Problem(path, "enum"), "enum-outside",
                    ["enum"])  # fmt: skip
            step: float = 1 if t.kind == "int" else 0.01
            zero: float = 0 if t.kind == "int" else 0.0
            edges = (
                ("minimum", c.minimum, -step, zero),
                ("maximum", c.maximum, step, zero),
                ("exclusive-minimum", c.exclusive_minimum, zero, step),
                ("exclusive-maximum", c.exclusive_maximum, zero, -step),
            )
            for label, bound, fail_off, pass_off in edges:
                if bound is None:
                    continue
                bound = int(bound) if t.kind == "int" else bound
                one(_number(bound + fail_off), Problem(path, "range"), f"{label}-fail", ["range"])
                one(_number(bound + pass_off), None, f"{label}-pass", ["range"])
            if c.pattern is not None:
                good, bad = self.pattern_samples(c.pattern)
                one(good, None, "pattern-pass", ["pattern"])
                one(bad, Problem(path, "pattern"), "pattern-fail", ["pattern"])
            for label, n in (("min-items", c.min_items), ("max-items", c.max_items)):
                if n is None:
                    continue
                item = self.minimal(t.items) if t.items else None
                over = n - 1 if label == "min-items" else n + 1
                one([item] * over, Problem(path, "items"), f"{label}-fail", ["items"])
                one([item] * n, None, f"{label}-pass", ["items"])
            wrong = {"str": 42, "int": "1", "float": "0.5", "bool": "yes"}.get(t.kind)
            if wrong is not None and len(steps) == 1:
                one(wrong, Problem(path, "type"), "type-fail", ["type"])
            if t.kind == "int" and len(steps) == 1:
                one(1.5, Problem(path, "type"), "type-fraction-fail", ["type"])
        if f.required and len(steps) > 1:
            key, arg = self.build(steps, None, drop=True)
            args = {**extra, key: arg}
            out.append(self.call(op_id, args, [located(Problem(path, "required"))],
                                 f"{pid}/required-missing", ["required"]))  # fmt: skip
        return out

    # -- x-rules -----------------------------------------------------------------------------

    def fix(self, op_id: str, extra: dict[str, Any], keep: str) -> dict[str, Any]:
        """`extra`, changed so that the call keeps every `x-rules` entry that does not concern
        the parameter `keep` (the one the case is about)."""
        op = self.ops[op_id]
        fields = {f.wire_name: f for f in self.arg_fields(op)}
        args = {**copy.deepcopy(BASE[op_id]), **extra}
        for _ in range(3):
            stream = bool(args.get("stream", False))
            params = args if op.wire != "native" else {
                k: v for k, v in args.items() if k not in ("model", "messages", "stream")}  # fmt: skip
            broken = [
                r for r in self.rules.get(op.parameters, ())
                if all(self.holds(c, params, stream) for c in r.when)
                and not all(self.holds(c, params, stream) for c in r.then)
                and keep not in [c.path.split(".")[0] for c in r.then]
            ]  # fmt: skip
            if not broken:
                break
            for rule in broken:
                for c in rule.then:
                    self.satisfy(args, c, fields)
        return {k: v for k, v in args.items() if BASE[op_id].get(k) != v}

    def satisfy(
        self, args: dict[str, Any], c: ir.Condition, fields: Mapping[str, ir.Field]
    ) -> None:
        """Change `args` so that condition `c` holds."""
        if c.path == "$stream":
            args["stream"] = bool(c.value) if c.op == "const" else not c.value
            return
        if c.op in ("absent", "not_const") or (c.op == "present" and not c.value):
            self.set_path(args, c.path, None, fields)
        elif c.op == "present":
            self.set_path(args, c.path, self.sample_for(c.path, fields), fields)
        elif c.op == "const":
            self.set_path(args, c.path, c.value, fields)
        else:
            self.set_path(args, c.path, next(iter(c.value)), fields)

    def sample_for(self, path: str, fields: Mapping[str, ir.Field]) -> Any:
        parts = path.split(".")
        t = fields[parts[0]].type
        for part in parts[1:]:
            schema = self.object_with(t, part)
            t = next(f.type for f in schema.fields if f.wire_name == part)
        return self.minimal(t)

    def object_with(self, t: ir.TypeRef, field: str, value: Any = None) -> ir.Schema:
        """The object schema of `t` (or of one of its variants) that has `field`."""
        names: list[str] = []

        def collect(x: ir.TypeRef) -> None:
            if x.kind == "ref" and x.name:
                schema = self.by_name[x.name]
                if schema.is_union:
                    for v in schema.variants:
                        collect(v)
                else:
                    names.append(x.name)
            for v in x.variants:
                collect(v)

        collect(t)
        candidates = [self.by_name[n] for n in names if any(
            f.wire_name == field for f in self.by_name[n].fields)]  # fmt: skip
        for schema in candidates:
            f = next(f for f in schema.fields if f.wire_name == field)
            if value is None or not f.type.constraint.has_const or f.type.constraint.const == value:
                return schema
        raise ValueError(f"no object with field {field!r} (value {value!r})")

    def set_path(
        self, args: dict[str, Any], path: str, value: Any, fields: Mapping[str, ir.Field]
    ) -> None:
        parts = path.split(".")
        if len(parts) == 1:
            if value is None:
                args.pop(path, None)
            else:
                args[path] = value
            return
        head, leaf = parts[0], parts[-1]
        assert len(parts) == 2, path
        current = args.get(head)
        schema = self.object_with(fields[head].type, leaf, value)
        if not isinstance(current, dict) or (
            value is not None
            and any(f.wire_name == leaf and f.type.constraint.has_const for f in schema.fields)
        ):
            current = self.minimal_object(schema.name)
        if value is None:
            current.pop(leaf, None)
        else:
            current[leaf] = value
        args[head] = current

    def rule_cases(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for op in self.spec.operations:
            op_id = op_name(op)
            if op.wire == "native" and op.endpoint != "text-generation":
                continue
            fields = {f.wire_name: f for f in self.arg_fields(op)}
            for rule in self.rules.get(op.parameters, ()):
                roots = [c.path.split(".")[0] for c in (*rule.when, *rule.then)]
                case_op, extra = op_id, {}
                for root in roots:
                    case_op, more = self.context(root, case_op)
                    extra.update(more)
                args = copy.deepcopy(BASE[case_op])
                args.update(extra)
                for c in rule.when:
                    self.satisfy(args, c, fields)
                for c in rule.then[1:]:
                    self.satisfy(args, c, fields)
                passing = copy.deepcopy(args)
                self.satisfy(passing, rule.then[0], fields)
                self.break_(args, rule.then[0], fields)
                first = rule.then[0].path
                target = Problem("stream" if first == "$stream" else first, "rule", rule.id)
                extra_problems = self.missing_required(args, rule.then[0], fields)
                for label, call_args, made in (
                    ("fail", args, [target, *extra_problems]),
                    ("pass", passing, []),
                ):
                    given = {k: v for k, v in call_args.items() if BASE[case_op].get(k) != v}
                    given = self.fix(case_op, given, first.split(".")[0])
                    case = self.call(case_op, given, made, f"rule/{rule.id}/{label}", ["rule"],
                                     rule.message)  # fmt: skip
                    if label == "pass" and not case["expect"]["valid"]:
                        raise ValueError(f"{case['id']}: meant to be valid: {case['expect']}")
                    got = case["expect"].get("problems", [])
                    if label == "fail" and target.as_json() not in got:
                        raise ValueError(f"{case['id']}: does not break the rule: {call_args}")
                    out.append(case)
        return out

    def break_(self, args: dict[str, Any], c: ir.Condition, fields: Mapping[str, ir.Field]) -> None:
        """Change `args` so that condition `c` fails."""
        if c.path == "$stream":
            args["stream"] = not c.value if c.op == "const" else bool(c.value)
            return
        if c.op == "present":
            self.set_path(args, c.path, None if c.value else self.sample_for(c.path, fields),
                          fields)  # fmt: skip
        elif c.op == "absent":
            self.set_path(args, c.path, self.sample_for(c.path, fields), fields)
        elif c.op == "not_const":
            self.set_path(args, c.path, c.value, fields)
        elif c.op == "const":
            self.set_path(args, c.path, self.other_than(c.path, c.value, fields), fields)
        else:
            self.set_path(args, c.path, "not-" + str(c.path), fields)

    def other_than(self, path: str, value: Any, fields: Mapping[str, ir.Field]) -> Any:
        if isinstance(value, bool):
            return not value
        if isinstance(value, int):
            return value + 1
        parts = path.split(".")
        t = fields[parts[0]].type
        if len(parts) > 1:
            schema = self.object_with(t, parts[1])
            t = next(f.type for f in schema.fields if f.wire_name == parts[1])
        enum = t.constraint.enum or ()
        return next((v for v in enum if v != value), f"not-{value}")

    def missing_required(
        self, args: Mapping[str, Any], c: ir.Condition, fields: Mapping[str, ir.Field]
    ) -> list[Problem]:
        """A broken `present` condition on a field its object requires is also a `required`."""
        parts = c.path.split(".")
        if c.op != "present" or len(parts) != 2 or not isinstance(args.get(parts[0]), dict):
            return []
        schema = self.object_with(fields[parts[0]].type, parts[1], None)
        if parts[1] in schema.required_keys:
            return [Problem(c.path, "required")]
        return []

    # -- model table -------------------------------------------------------------------------

    def model_for(self, row: ir.ModelFamily) -> str | None:
        """A model name the row is the first to match (None: every pattern is shadowed)."""
        for pattern in row.match:
            name = re.sub(r"\[([^\]]+)\]", lambda m: m.group(1)[0], pattern)
            name = name.replace("*", "x").replace("?", "x")
            if name == "x":
                name = "model-nobody-documented"
            if self.family_for(name) is row:
                return name
        return None

    def family_cases(self) -> list[dict[str, Any]]:
        """Per-model rules of every row that has one: endpoint, thinking, streaming, limits."""
        out: list[dict[str, Any]] = []
        for row in self.spec.families:
            model = self.model_for(row)
            if model is None:
                continue
            native = [e for e in row.endpoints if e in ENDPOINT_OPS]
            op_id = ENDPOINT_OPS[native[0]] if native else "generation.create"
            stream = (
                row.streaming_only
                or row.thinking_mode == "thinking-only"
                or (self.thinking_on(row, None) and row.streaming_only_when_thinking)
            )
            base: dict[str, Any] = {"model": model}
            if stream:
                base["stream"] = True
            name = f"family/{row.family}"
            out.append(self.call(op_id, base, [], f"{name}/plain", ["model"]))
            if native and len(native) < len(ENDPOINT_OPS):
                other = next(op for e, op in ENDPOINT_OPS.items() if e not in native)
                out.append(self.call(other, base, [Problem("model", "model")],
                                     f"{name}/wrong-endpoint", ["model"]))  # fmt: skip
            if row.thinking_mode == "thinking-only":
                out.append(self.call(op_id, {**base, "enable_thinking": False},
                                     [Problem("enable_thinking", "model")],
                                     f"{name}/thinking-off", ["model"]))  # fmt: skip
            if row.thinking_mode == "none":
                out.append(self.call(op_id, {**base, "enable_thinking": True},
                                     [Problem("enable_thinking", "model")],
                                     f"{name}/thinking-on", ["model"]))  # fmt: skip
            if stream:
                out.append(self.call(op_id, {**base, "stream": False},
                                     [Problem("stream", "model")],
                                     f"{name}/not-streamed", ["model"]))  # fmt: skip
            for limit_name in LIMITS:
                limit = dict(row.limits).get(limit_name)
                if not isinstance(limit, int):
                    continue
                args = {**base, limit_name: limit}
                if limit_name == "thinking_budget" and row.thinking_mode == "hybrid":
                    args["enable_thinking"] = True
                    if row.streaming_only_when_thinking:
                        args["stream"] = True
                for label, value, made in (
                    ("pass", limit, []),
                    ("fail", limit + 1, [Problem(limit_name, "model")]),
                ):
                    args = {**args, limit_name: value}
                    out.append(self.call(op_id, args, made,
                                         f"{name}/{limit_name.replace('_', '-')}-limit-{label}",
                                         ["model", "range"]))  # fmt: skip
        return out

    def defaults_cases(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for row in self.spec.families:
            model = self.model_for(row)
            if model is None:
                raise ValueError(f"family {row.family}: every pattern is shadowed by earlier rows")
            for enable in (None, True, False):
                label = {None: "unset", True: "on", False: "off"}[enable]
                defaults = dict(row.defaults)
                on = self.thinking_on(row, enable)
                defaults.update(dict(row.defaults_thinking if on else row.defaults_non_thinking))
                if row.thinking_mode in ("hybrid", "thinking-only"):
                    defaults.setdefault("enable_thinking", on)
                out.append(self.case(
                    "defaults", f"{row.family}/thinking-{label}", ["family"],
                    {"model": model, "enable_thinking": enable},
                    {"family": row.family, "defaults": defaults},
                ))  # fmt: skip
        return out

    # -- request examples --------------------------------------------------------------------

    def request_cases(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for op in self.spec.operations:
            op_id = op_name(op)
            server = op.server or (self.spec.servers[0][1] if self.spec.servers else "")
            prefix = urlparse(server).path.rstrip("/")
            for example in op.examples:
                value = copy.deepcopy(example.value)
                stream = any(
                    k.lower() == "x-dashscope-sse" and v.lower() == "enable"
                    for k, v in example.headers
                )
                body = copy.deepcopy(value)
                expect: dict[str, Any] = {"method": op.method, "path": prefix + op.path}
                headers = {"Authorization": "Bearer sk-conformance",
                           "Content-Type": "application/json"}  # fmt: skip
                if op.wire == "native":
                    extra_input = set(value.get("input", {})) - {"messages"}
                    if extra_input:
                        raise ValueError(f"{op.operation_id} example {example.name}: input keys "
                                         f"{sorted(extra_input)} are not create() arguments")  # fmt: skip
                    args = {"model": value["model"], "messages": value["input"]["messages"],
                            **(value.get("parameters") or {})}  # fmt: skip
                    if stream:
                        args["stream"] = True
                        headers["X-DashScope-SSE"] = "enable"
                        # A streaming call that does not set incremental_output sends true, so
                        # that each event carries only new text (the server's default is false).
                        body.setdefault("parameters", {}).setdefault("incremental_output", True)
                    else:
                        expect["absent_headers"] = ["X-DashScope-SSE"]
                else:
                    args = dict(value)
                    expect["absent_headers"] = ["X-DashScope-SSE"]
                expect["headers"] = headers
                expect["body"] = body
                out.append(self.case("request", f"{op_id}/example/{example.name}", ["example"],
                                     {"op": op_id, "args": args}, expect,
                                     example.summary))  # fmt: skip
        return out


def _dump(suite: str, description: str, spec_name: str, cases: list[dict[str, Any]]) -> str:
    """One case per line: diffs show which cases changed."""
    head = {"suite": suite, "format": FORMAT, "description": description,
            "source": SOURCE.format(spec=spec_name)}  # fmt: skip
    lines = [json.dumps(c, ensure_ascii=False, sort_keys=False) for c in cases]
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n'
    return text + ",\n".join(lines) + "\n]}\n"


def files(spec: ir.Spec) -> dict[str, str]:
    """The generated vector files, by name."""
    v = Vectors(spec)
    return {
        "validate.json": _dump(
            "validate",
            "Every range edge, enum, pattern, type, required nested field and x-rules entry of the "
            "request schemas, and the per-model rules of every family row.",
            spec.file_name,
            v.validate_cases(),
        ),
        "defaults.json": _dump(
            "defaults",
            "Every x-model-families row, for a model it matches, with thinking unset, on and off.",
            spec.file_name,
            v.defaults_cases(),
        ),
        "request.json": _dump(
            "request",
            "Every request-body example of the spec (the documented curl samples), replayed.",
            spec.file_name,
            v.request_cases(),
        ),
    }
