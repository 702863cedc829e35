"""IR -> the generated conformance vectors (`spec/conformance/generated/*.json`).

Language-neutral: nothing here knows a binding. Each case's expectation is derived from the spec
alone (its constraints, `x-rules`, `x-model-families` rows and request `examples`), so a binding
that passes them agrees with the spec, not with another binding. spec/conformance/README.md
describes the format.

- `validate`: every range edge (the failing value and its passing neighbour), every enum value
  and one value outside it, every pattern, `x-contains` and `x-required-any`, NaN and Infinity
  for every number, a wrong type for every primitive parameter, every required nested field,
  every `x-rules` entry (a failing call and its passing neighbour; for a rule on
  `$effective.<p>`, also calls that leave `p` out so that the model's default decides), and the
  per-model rules of every family row: endpoint, thinking and streaming modes, the values a mode
  requires (`x-requires*`), the support lists (`supports`, "only these models"), limits.
- `defaults`: every family row, for a model it matches, with thinking on, off and unset: the
  documented defaults of the mode with the values the mode requires.
- `request`: every request-body example of every operation (the documented curl samples), and
  what the SDK fills in (a mode's required values, incremental events when streaming).

The semantics are spec/README.md's: a call is checked as the SDK sends it (required values
filled in where left out), `$effective.<p>` reads the value sent, else the row's default.
The expected problems of a case are computed here from the spec: the problem the case was built
to have, plus whatever the `x-rules` and the family table say of the call. A case built to be
valid that is not (by that reckoning) is a generator error, reported by `make regenerate`.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeGuard
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
# A frame list the docs allow everywhere (at least 4 images, 004 "Video limits").
FRAMES = [f"https://example.com/frame{i}.jpg" for i in range(1, 5)]
LIST_SAMPLES: dict[tuple[str, str], list[str]] = {("ChatVideoPart", "video"): FRAMES}
STRING_SAMPLES: dict[tuple[str, str], str] = {
    ("VideoPart", "video"): "https://example.com/video.mp4",
    ("ImagePart", "image"): "https://example.com/image.png",
    ("AudioPart", "audio"): "https://example.com/audio.mp3",
}

# The `supports` flags of a family row and the parameter each governs, with a value that uses
# it (spec/README.md, "Per-model tables"); `used` says whether a call's value uses the feature.
# A value of None: the case takes the minimal valid value of the parameter.
SUPPORTS: dict[str, tuple[str, Any, Callable[[Any], bool]]] = {
    "tools": ("tools", None, bool),
    "n": ("n", 2, lambda v: v is not None and v != 1),
    "logprobs": ("logprobs", True, lambda v: v is True),
    "response_format": ("response_format", {"type": "json_object"}, lambda v: v is not None),
    "code_interpreter": ("enable_code_interpreter", True, lambda v: v is True),
    "search": ("enable_search", True, lambda v: v is True),
    "max_input_tokens": ("max_input_tokens", 1024, lambda v: v is not None),
    "output_format": ("output_format", None, lambda v: v is not None),
    "asr_options": ("asr_options", None, lambda v: v is not None),
    "ocr_options": ("ocr_options", None, lambda v: v is not None),
}
# Flags whose docs give an explicit "only these models" list: a known model (any row but the
# last, `*` one) must have the flag true. `partial_mode` is an assistant message with
# `partial: true` (native operations; the compatible messages have no `partial`).
ONLY_LISTED = frozenset(
    ("n", "partial_mode", "max_input_tokens", "code_interpreter", "output_format",
     "asr_options", "ocr_options")
)  # fmt: skip
EFFECTIVE = "$effective."
# Where a case keeps the body parameters it sends beside the arguments (`input.extra_parameters`):
# a declared parameter that is no keyword argument of its own (`parameters.stream`, shadowed by
# the `stream` argument).
EXTRA = "$extra_parameters"
SHADOWED = frozenset(("stream",))
# The numbers JSON cannot carry, by case label; a vector file writes each as {"$number": NAME}.
NON_FINITE = {"nan": math.nan, "infinity": math.inf, "minus-infinity": -math.inf}
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


@attrs.frozen
class CallState:
    """A call as the SDK sends it: the family row, the parameters (with what the SDK fills in),
    whether it streams, the effective values (sent, else the row's default) and the mode."""

    row: ir.ModelFamily | None
    params: dict[str, Any]
    stream: bool
    effective: dict[str, Any]
    thinking: bool


class Vectors:
    """Builds the generated suites from one IR."""

    def __init__(self, spec: ir.Spec) -> None:
        self.spec = spec
        self.by_name = {s.name: s for s in spec.schemas}
        self.rules = dict(spec.rules)
        self.ops = {op_name(op): op for op in spec.operations}
        self.seen_ids: set[str] = set()
        self.unlisted: set[tuple[str, str, bool]] = set()
        self._family_of: dict[str, ir.ModelFamily] = {}

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
            if c.contains:
                return [self.containing(t)]
            if (owner, field) in LIST_SAMPLES:
                return list(LIST_SAMPLES[owner, field])
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
        """The required fields of a schema (and the first of its `x-required-any`)."""
        schema = self.by_name[name]
        if schema.is_union:
            return self.minimal(schema.variants[0])
        wanted = set(schema.required_keys) | set(schema.required_any[:1])
        return {
            f.wire_name: self.minimal(f.type, name, f.wire_name)
            for f in schema.fields
            if f.wire_name in wanted
        }

    def item_variants(self, t: ir.TypeRef) -> list[str]:
        """The object schemas an array item of type `t` may be (a union's variants)."""
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

        assert t.items is not None
        collect(t.items)
        return names

    @staticmethod
    def contained(c: ir.Constraint, item: Any) -> bool:
        """Whether `item` is what `x-contains` asks some item to be."""
        pairs = c.contains or ()
        return isinstance(item, dict) and all(item.get(k) == v for k, v in pairs)

    def containing(self, t: ir.TypeRef, want: bool = True) -> Any:
        """A minimal item that matches the list's `x-contains` (or, `want=False`, that does not)."""
        for name in self.item_variants(t):
            item = self.minimal_object(name)
            if self.contained(t.constraint, item) == want:
                return item
        raise ValueError(f"no item variant of {t} for x-contains={t.constraint.contains}")

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
                # an array that must hold some item (`x-contains`: a user message) gets one
                # after the item the case is about
                t = self.field_type(steps, i - 1)
                contains = t.kind == "list" and t.constraint.contains
                if contains and not self.contained(t.constraint, inner[0]):
                    inner.append(self.containing(t))
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

    def call_state(self, op: ir.Operation, args: Mapping[str, Any]) -> CallState:
        """The call as the SDK sends it and as the service reads it (spec/README.md)."""
        stream = bool(args.get("stream", False))
        if op.wire == "native":
            params = {k: v for k, v in args.items() if k not in ("model", "messages", "stream")}
        else:
            params = {k: v for k, v in args.items() if k != "stream"}
        params.pop(EXTRA, None)
        params.update(copy.deepcopy(args.get(EXTRA) or {}))
        model = args.get("model")
        row = self.family_for(model) if isinstance(model, str) else None
        if row is None:
            return CallState(row, params, stream, dict(params), False)
        thinking = self.thinking_arg(params)
        on = self.thinking_on(row, thinking)
        names = {f.wire_name for f in self.arg_fields(op)}
        if op.wire == "native":
            # The SDK sends the value a mode requires (`x-requires*`) when the call leaves it out,
            # and asks for incremental events when it streams.
            for key, value in self.required_values(row, on).items():
                if key in names and params.get(key) is None:
                    params[key] = value
            if (
                stream
                and "incremental_output" in names
                and params.get("incremental_output") is None
            ):
                params["incremental_output"] = True
        effective = self.server_defaults(row, thinking)
        effective.update((k, v) for k, v in params.items() if v is not None)
        return CallState(row, params, stream, effective, on)

    def expected(self, op: ir.Operation, args: Mapping[str, Any]) -> list[Problem]:
        """The problems the `x-rules` and the family table find in a call."""
        state = self.call_state(op, args)
        out = [
            Problem(self.shown(rule.then[0].path if rule.then else rule.id), "rule", rule.id)
            for rule in self.broken_rules(op, state)
        ]
        if state.row is not None:
            out += self.model_problems(state.row, op, state, args.get("messages"))
            if op.endpoint in ("multimodal-generation", "compatible"):
                out += self.media_problems(state.row, op, args.get("messages"))
        return out

    def broken_rules(self, op: ir.Operation, state: CallState) -> list[ir.Rule]:
        return [
            rule
            for rule in self.rules.get(op.parameters, ())
            if all(self.holds(c, state, "if") for c in rule.when)
            and not all(self.holds(c, state, "then") for c in rule.then)
        ]

    @staticmethod
    def shown(path: str) -> str:
        """The parameter a problem names: `$effective.x` is `x`, `$stream` is `stream`."""
        if path == "$stream":
            return "stream"
        return path.removeprefix(EFFECTIVE)

    def media_problems(self, row: ir.ModelFamily, op: ir.Operation, messages: Any) -> list[Problem]:
        """The per-model limits on the numbers of a media part (`fps_min`/`fps_max`,
        `min_pixels_min`, `max_pixels_max`, `frames_min`/`frames_max` of a frame list), the
        spec's `x-media-limits` where the row names none. Native parts carry
        `image`/`video`/`audio`; compatible ones are typed (`image_url`, `video_url`, `video`)."""
        limits = {m.name: m.value for m in self.spec.media_limits} | dict(row.limits)
        out: list[Problem] = []

        def number(x: Any) -> TypeGuard[float]:
            return isinstance(x, (int, float)) and not isinstance(x, bool)

        for i, message in enumerate(messages if isinstance(messages, list) else ()):
            content = message.get("content") if isinstance(message, dict) else None
            for j, part in enumerate(content if isinstance(content, list) else ()):
                if not isinstance(part, dict):
                    continue
                if op.wire == "native":
                    media = bool({"image", "video", "audio"} & set(part))
                else:
                    media = part.get("type") in ("image_url", "video_url", "video")
                if not media:
                    continue
                at = f"messages[{i}].content[{j}]"
                fps, lo, hi = part.get("fps"), limits.get("fps_min"), limits.get("fps_max")
                if number(fps) and ((lo is not None and fps < lo) or (hi is not None and fps > hi)):
                    out.append(Problem(f"{at}.fps", "media"))
                low, floor = part.get("min_pixels"), limits.get("min_pixels_min")
                if number(low) and isinstance(floor, int) and low < floor:
                    out.append(Problem(f"{at}.min_pixels", "media"))
                high, ceiling = part.get("max_pixels"), limits.get("max_pixels_max")
                if number(high) and isinstance(ceiling, int) and high > ceiling:
                    out.append(Problem(f"{at}.max_pixels", "media"))
                frames = part.get("video")
                fmin, fmax = limits.get("frames_min"), limits.get("frames_max")
                if isinstance(frames, list) and (
                    (fmin is not None and len(frames) < fmin)
                    or (fmax is not None and len(frames) > fmax)
                ):
                    out.append(Problem(f"{at}.video", "media"))
        return out

    @staticmethod
    def value_at(path: str, state: CallState) -> Any:
        if path == "$stream":
            return state.stream
        value: Any = state.params
        if path.startswith(EFFECTIVE):
            value, path = state.effective, path.removeprefix(EFFECTIVE)
        for part in path.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    def holds(self, c: ir.Condition, state: CallState, side: str = "if") -> bool:
        """Whether condition `c` holds for the call. An `$effective.` value that neither the
        call nor the table gives is undocumented: in `if` it never holds, in `then` it is not
        checked (spec/README.md, "Cross-field rules")."""
        x = self.value_at(c.path, state)
        if c.path.startswith(EFFECTIVE) and x is None:
            return side == "then"
        if c.op == "present":
            return (x is not None) == bool(c.value)
        if c.op == "absent":
            return (x is None) == bool(c.value)
        if c.op in ("const", "not_const"):
            same = x is c.value if isinstance(c.value, bool) or c.value is None else x == c.value
            return same if c.op == "const" else not same
        return x in tuple(c.value)

    def family_for(self, model: str) -> ir.ModelFamily:
        found = self._family_of.get(model)
        if found is None:
            found = self._family_of[model] = self._first_family(model.lower())
        return found

    def _first_family(self, name: str) -> ir.ModelFamily:
        for row in self.spec.families:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in row.match):
                return row
        return self.spec.families[-1]

    @staticmethod
    def thinking_arg(params: Mapping[str, Any]) -> bool | None:
        value = params.get("enable_thinking")
        return value if isinstance(value, bool) else None

    @staticmethod
    def thinking_on(row: ir.ModelFamily, enable: bool | None) -> bool:
        if row.thinking_mode == "thinking-only":
            return True
        if row.thinking_mode == "none":
            return False
        # hybrid, or a row whose mode is not documented: the argument, else the row's default
        # (none documented: off)
        return bool(row.thinking_default) if enable is None else enable

    def server_defaults(self, row: ir.ModelFamily, enable: bool | None) -> dict[str, Any]:
        """The row's documented defaults in the thinking mode that applies (what the service
        uses for a parameter left out), with `enable_thinking` for rows that have a mode."""
        on = self.thinking_on(row, enable)
        out = dict(row.defaults)
        out.update(dict(row.defaults_thinking if on else row.defaults_non_thinking))
        if row.thinking_mode in ("hybrid", "thinking-only"):
            out.setdefault("enable_thinking", on)
        return out

    @staticmethod
    def required_values(row: ir.ModelFamily, on: bool) -> dict[str, Any]:
        """`x-requires`, and `x-requires-when-thinking` with thinking on: the only values."""
        out = dict(row.requires)
        if on:
            out.update(dict(row.requires_when_thinking))
        return out

    def supports_of(self, row: ir.ModelFamily, on: bool) -> dict[str, bool]:
        supports = dict(row.supports)
        if on:
            supports.update(dict(row.supports_when_thinking))
        return supports

    def supported(self, row: ir.ModelFamily, flag: str, on: bool) -> bool:
        """`false` refuses; an "only these models" flag must be `true` on a known row."""
        value = self.supports_of(row, on).get(flag)
        if value is False:
            return False
        return not (value is None and flag in ONLY_LISTED and row is not self.spec.families[-1])

    @staticmethod
    def stream_needed(row: ir.ModelFamily, on: bool) -> bool:
        """`streaming_only`, or `x-streaming-only-when-thinking` with thinking on (nothing else
        forces a stream: a thinking-only model is not stream-only by itself)."""
        return row.streaming_only or (on and row.streaming_only_when_thinking)

    def model_problems(
        self, row: ir.ModelFamily, op: ir.Operation, state: CallState, messages: Any
    ) -> list[Problem]:
        """The per-model rules of spec/README.md "Per-model tables" for one call."""
        params, on = state.params, state.thinking
        out: list[Problem] = []
        if row.endpoints and op.endpoint != "compatible" and op.endpoint not in row.endpoints:
            out.append(Problem("model", "model"))
        thinking = params.get("enable_thinking")
        if row.thinking_mode == "thinking-only" and thinking is False:
            out.append(Problem("enable_thinking", "model"))
        if row.thinking_mode == "none" and thinking is True:
            out.append(Problem("enable_thinking", "model"))
        if not state.stream and self.stream_needed(row, on):
            out.append(Problem("stream", "model"))
        names = {f.wire_name for f in self.arg_fields(op)}
        defaults = self.server_defaults(row, self.thinking_arg(params))
        for key, want in self.required_values(row, on).items():
            value = params.get(key)
            if value is None:
                value = defaults.get(key)
            if key in names and value is not None and value != want:
                out.append(Problem(key, "model"))
        for flag, (param, _, used) in SUPPORTS.items():
            if used(params.get(param)) and not self.supported(row, flag, on):
                out.append(Problem(param, "model"))
        if op.wire == "native" and isinstance(messages, list):
            for i, m in enumerate(messages):
                partial = isinstance(m, dict) and m.get("role") == "assistant"
                if (
                    partial
                    and m.get("partial") is True
                    and not self.supported(row, "partial_mode", on)
                ):
                    out.append(Problem(f"messages[{i}].partial", "model"))
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
        out["input"] = _encode_numbers(input_)
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
        input_: dict[str, Any] = {"op": op_id, "args": args}
        if EXTRA in args:
            input_["extra_parameters"] = args.pop(EXTRA)
        return self.case("validate", f"{op_id}/{name}", tags, input_, expect, description)

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
                schema = self.by_name.get(owner)
                if schema is not None and schema.required_any[:1] == (f.wire_name,):
                    cases.append(self.required_any_case(op_id, steps, owner, path))
                if (op.request, path) in done:
                    continue
                done.add((op.request, path))
                cases += self.field_cases(op_id, steps, f, owner, path)
        cases += self.rule_cases()
        cases += self.family_cases()
        cases += self.media_limit_cases()
        return cases

    def media_limit_cases(self) -> list[dict[str, Any]]:
        """`x-media-limits frames_min` on a model whose row names none: a frame list one image
        short is refused, one of exactly that many passes (on both endpoints that take lists)."""
        out: list[dict[str, Any]] = []
        limits = {m.name: m.value for m in self.spec.media_limits}
        lowest = limits.get("frames_min")
        if not isinstance(lowest, int) or lowest < 2:
            return out
        for op_id, part in (("multimodal.create", "video"), ("chat.completions.create", "video")):
            if op_id not in self.ops:
                continue
            endpoint = self.ops[op_id].endpoint
            rows = [r for r in self.spec.families if endpoint in r.endpoints
                    and "frames_min" not in dict(r.limits) and self.model_for(r)]  # fmt: skip
            if not rows:
                continue
            model = self.model_for(rows[0])
            assert model is not None
            for label, n in (("short", lowest - 1), ("enough", lowest)):
                frames = [f"https://example.com/frame{i}.jpg" for i in range(1, n + 1)]
                if op_id == "multimodal.create":
                    content: list[dict[str, Any]] = [{"video": frames}, {"text": "Describe it."}]
                else:
                    content = [{"type": part, "video": frames}, {"type": "text", "text": "Hi"}]
                problems = [Problem("messages[0].content[0].video", "media")] if n < lowest else []
                args = {"model": model, "messages": [{"role": "user", "content": content}]}
                out.append(self.call(op_id, args, problems, f"media-limits/frames-min-{label}",
                                     ["media", "media-limits"]))  # fmt: skip
        return out

    def required_any_case(
        self, op_id: str, steps: list[Step], owner: str, path: str
    ) -> dict[str, Any]:
        """`x-required-any`: an object with none of the properties, reported at the first."""
        if op_id == "generation.create" and any(s.field == "content" for s in steps[:-1]):
            op_id = "multimodal.create"
        key, arg = self.build(steps, None, drop=True)
        kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", owner).lower()
        name = f"{self.id_path(path)}/{kebab}/required-any-missing"
        return self.call(op_id, self.fix(op_id, {key: arg}, key), [Problem(path, "required")],
                         name, ["required"])  # fmt: skip

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
            if t.kind == "dict" and (t.items is None or t.items.kind == "float"):
                one({"x": math.nan}, located(Problem(path + ".x", "type")),
                    "non-finite-inside-fail", ["type", "non-finite"])  # fmt: skip
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
                item = self.containing(t) if c.contains else (
                    self.minimal(t.items) if t.items else None)  # fmt: skip
                over = n - 1 if label == "min-items" else n + 1
                one([item] * over, Problem(path, "items"), f"{label}-fail", ["items"])
                one([item] * n, None, f"{label}-pass", ["items"])
            if c.contains:
                # `x-contains`: some item must match (a user message); none does
                one([self.containing(t, want=False)], Problem(path, "items"), "contains-fail",
                    ["items", "contains"])  # fmt: skip
                one([self.containing(t, want=False), self.containing(t)], None, "contains-pass",
                    ["items", "contains"])  # fmt: skip
            if t.kind == "float":
                # JSON has no NaN or Infinity: never sent (`{"$number": ...}` in a vector file)
                for label, number in NON_FINITE.items():
                    one(number, Problem(path, "type"), f"non-finite-{label}-fail",
                        ["type", "non-finite"])  # fmt: skip
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
        the parameter `keep` (the one the case is about), and streams where the model's mode
        answers only streaming."""
        op = self.ops[op_id]
        fields = {f.wire_name: f for f in self.arg_fields(op)}
        args = {**copy.deepcopy(BASE[op_id]), **extra}
        for _ in range(3):
            state = self.call_state(op, args)
            broken = [
                r for r in self.broken_rules(op, state)
                if keep not in [self.root(c.path) for c in r.then]
            ]  # fmt: skip
            needs_stream = (
                keep != "stream"
                and state.row is not None
                and not state.stream
                and self.stream_needed(state.row, state.thinking)
            )
            if not broken and not needs_stream:
                break
            for rule in broken:
                for c in rule.then:
                    self.satisfy(args, c, fields)
            if needs_stream:
                args["stream"] = True
        return {k: v for k, v in args.items() if BASE[op_id].get(k) != v}

    def root(self, path: str) -> str:
        """The argument a rule path is about: `tool_choice.type` -> `tool_choice`,
        `$effective.enable_thinking` -> `enable_thinking`, `$stream` -> `stream`."""
        return self.shown(path).split(".")[0]

    def satisfy(
        self, args: dict[str, Any], c: ir.Condition, fields: Mapping[str, ir.Field]
    ) -> None:
        """Change `args` so that condition `c` holds. An `$effective.` condition is met by
        sending a value that meets it (what is sent overrides the model's default)."""
        if c.path == "$stream":
            args["stream"] = bool(c.value) if c.op == "const" else not c.value
            return
        path = self.shown(c.path)
        if c.path.startswith(EFFECTIVE) and c.op == "not_const":
            self.set_path(args, path, self.other_than(path, c.value, fields), fields)
        elif c.op in ("absent", "not_const") or (c.op == "present" and not c.value):
            self.set_path(args, path, None, fields)
        elif c.op == "present":
            self.set_path(args, path, self.sample_for(path, fields), fields)
        elif c.op == "const":
            self.set_path(args, path, c.value, fields)
        else:
            self.set_path(args, path, next(iter(c.value)), fields)

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
        if path in SHADOWED:
            extra = args.setdefault(EXTRA, {})
            if value is None:
                extra.pop(path, None)
            else:
                extra[path] = value
            if not extra:
                args.pop(EXTRA)
            return
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
                roots = [self.root(c.path) for c in (*rule.when, *rule.then)]
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
                target = Problem(self.shown(first), "rule", rule.id)
                extra_problems = self.missing_required(args, rule.then[0], fields)
                for label, call_args, made in (
                    ("fail", args, [target, *extra_problems]),
                    ("pass", passing, []),
                ):
                    given = {k: v for k, v in call_args.items() if BASE[case_op].get(k) != v}
                    given = self.fix(case_op, given, self.root(first))
                    case = self.call(case_op, given, made, f"rule/{rule.id}/{label}", ["rule"],
                                     rule.message)  # fmt: skip
                    if label == "pass" and not case["expect"]["valid"]:
                        raise ValueError(f"{case['id']}: meant to be valid: {case['expect']}")
                    found = self.expected(self.ops[case_op], {**BASE[case_op], **given})
                    if label == "fail" and target not in found:
                        raise ValueError(f"{case['id']}: does not break the rule: {call_args}")
                    out.append(case)
                out += self.effective_cases(op, rule)
        return out

    def effective_cases(self, op: ir.Operation, rule: ir.Rule) -> list[dict[str, Any]]:
        """A rule on `$effective.<p>` with `p` left out: the model's default decides. One
        failing and one passing case per kind of row (thinking mode and default, endpoint),
        among the rows whose default breaks / keeps the rule with nothing else wrong."""
        conditions = [c for c in rule.then if c.path.startswith(EFFECTIVE)]
        if not conditions:
            return []
        c = conditions[0]
        param = self.shown(c.path)
        target = Problem(param, "rule", rule.id)
        out: list[dict[str, Any]] = []
        seen: set[tuple[Any, ...]] = set()
        for row in self.spec.families:
            model = self.model_for(row)
            if model is None:
                continue
            if op.wire == "native":
                native = [e for e in row.endpoints if e in ENDPOINT_OPS]
                case_op = ENDPOINT_OPS[native[0]] if native else op_name(op)
            else:
                case_op = op_name(op)
            fields = {f.wire_name: f for f in self.arg_fields(self.ops[case_op])}
            args = copy.deepcopy(BASE[case_op])
            args["model"] = model
            for cond in (*rule.when, *rule.then[1:]):
                self.satisfy(args, cond, fields)
            args.pop(param, None)
            given = self.fix(case_op, {k: v for k, v in args.items()
                                       if BASE[case_op].get(k) != v}, param)  # fmt: skip
            if param in given:
                continue
            state = self.call_state(self.ops[case_op], {**BASE[case_op], **given})
            default = self.value_at(c.path, state)
            if default is None:
                continue  # undocumented: nothing to check
            label = "pass" if self.holds(c, state, "then") else "fail"
            key = (label, row.thinking_mode, row.thinking_default, case_op)
            if key in seen:
                continue
            made = [target] if label == "fail" else []
            found = self.expected(self.ops[case_op], {**BASE[case_op], **given})
            if [p for p in found if p not in made] or (made and made[0] not in found):
                continue  # something else is wrong with this row: another row shows it
            seen.add(key)
            name = f"rule/{rule.id}/default/{row.family}-{label}"
            description = (f"{param} left out: {row.family} defaults to {default!r} "
                           f"(thinking {'on' if state.thinking else 'off'})")  # fmt: skip
            out.append(self.call(case_op, given, made, name, ["rule", "effective"], description))
        return out

    def break_(self, args: dict[str, Any], c: ir.Condition, fields: Mapping[str, ir.Field]) -> None:
        """Change `args` so that condition `c` fails."""
        if c.path == "$stream":
            args["stream"] = not c.value if c.op == "const" else bool(c.value)
            return
        if c.path.startswith(EFFECTIVE):
            c = attrs.evolve(c, path=self.shown(c.path))
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
        parts = self.shown(c.path).split(".")
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
        """Per-model rules of every row that has one: endpoint, thinking, streaming, limits,
        the values a mode requires and the support lists."""
        out: list[dict[str, Any]] = []
        for row in self.spec.families:
            model = self.model_for(row)
            if model is None:
                continue
            native = [e for e in row.endpoints if e in ENDPOINT_OPS]
            op_id = ENDPOINT_OPS[native[0]] if native else "generation.create"
            stream = self.stream_needed(row, self.thinking_on(row, None))
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
            if row.thinking_mode == "hybrid":
                # each explicit mode: streaming where the mode needs it, and (when it does)
                # refused without
                for enable in (True, False):
                    label = "on" if enable else "off"
                    args: dict[str, Any] = {"model": model, "enable_thinking": enable}
                    needed = self.stream_needed(row, enable)
                    if needed:
                        args["stream"] = True
                    out.append(self.call(op_id, args, [], f"{name}/thinking-{label}",
                                         ["model", "thinking"]))  # fmt: skip
                    if needed and not stream:
                        out.append(self.call(op_id, {**args, "stream": False},
                                             [Problem("stream", "model")],
                                             f"{name}/thinking-{label}-not-streamed",
                                             ["model", "thinking"]))  # fmt: skip
            for limit_name in LIMITS:
                limit = dict(row.limits).get(limit_name)
                if not isinstance(limit, int):
                    continue
                args = {**base, limit_name: limit}
                if limit_name == "thinking_budget" and row.thinking_mode == "hybrid":
                    args["enable_thinking"] = True
                    if self.stream_needed(row, True):
                        args["stream"] = True
                for label, value, made in (
                    ("pass", limit, []),
                    ("fail", limit + 1, [Problem(limit_name, "model")]),
                ):
                    args = {**args, limit_name: value}
                    out.append(self.call(op_id, args, made,
                                         f"{name}/{limit_name.replace('_', '-')}-limit-{label}",
                                         ["model", "range"]))  # fmt: skip
            out += self.requires_cases(row, op_id, model)
            out += self.support_cases(row, op_id, model)
        return out

    def modes(self, row: ir.ModelFamily) -> list[tuple[str, dict[str, Any], bool]]:
        """The thinking modes a row has: (label, the argument that selects it, thinking on)."""
        if row.thinking_mode == "hybrid":
            return [("thinking-on", {"enable_thinking": True}, True),
                    ("thinking-off", {"enable_thinking": False}, False)]  # fmt: skip
        out: list[tuple[str, dict[str, Any], bool]] = [("", {}, self.thinking_on(row, None))]
        when_thinking = (row.defaults_thinking or row.requires_when_thinking
                         or row.supports_when_thinking or row.streaming_only_when_thinking)  # fmt: skip
        if row.thinking_mode is None and when_thinking:
            # a mode the docs do not give: the argument decides, and the row has rules for it
            out.append(("thinking-on", {"enable_thinking": True}, True))
        return out

    def requires_cases(self, row: ir.ModelFamily, op_id: str, model: str) -> list[dict[str, Any]]:
        """`x-requires*`: in each mode, the required value left out (the SDK sends it), given,
        and another value (refused)."""
        out: list[dict[str, Any]] = []
        names = {f.wire_name: f for f in self.arg_fields(self.ops[op_id])}
        tags = ["model", "requires"]
        for label, mode_args, on in self.modes(row):
            wanted = {k: v for k, v in self.required_values(row, on).items() if k in names}
            if not wanted:
                continue
            base = {"model": model, **mode_args}
            if self.stream_needed(row, on):
                base["stream"] = True
            where = f"family/{row.family}/" + (f"{label}/" if label else "")
            sends = ", ".join(f"{k}={json.dumps(v)}" for k, v in wanted.items())
            out.append(self.call(op_id, base, [], f"{where}requires-left-out", tags,
                                 f"the SDK sends {sends}"))  # fmt: skip
            for key, want in wanted.items():
                other = self.other_than(key, want, names)
                stem = f"{where}requires-{key.replace('_', '-')}"
                out.append(self.call(op_id, {**base, key: want}, [], f"{stem}-given", tags))
                out.append(self.call(op_id, {**base, key: other}, [Problem(key, "model")],
                                     f"{stem}-other", tags))  # fmt: skip
        return out

    def support_cases(self, row: ir.ModelFamily, op_id: str, model: str) -> list[dict[str, Any]]:
        """Each `supports` flag the row decides (set, or an "only these models" list), in each
        mode where the row's answer differs: the parameter used, refused or accepted."""
        out: list[dict[str, Any]] = []
        op = self.ops[op_id]
        fields = {f.wire_name: f for f in self.arg_fields(op)}
        answers: dict[str, set[bool]] = {}
        for flag in (*SUPPORTS, "partial_mode"):
            for label, mode_args, on in self.modes(row):
                decided = flag in ONLY_LISTED or flag in self.supports_of(row, on)
                ok = self.supported(row, flag, on)
                if not decided or ok in answers.setdefault(flag, set()):
                    continue
                if flag not in self.supports_of(row, on) and not ok:
                    # not on an "only these models" list: one row per operation and mode shows it
                    if (flag, op_id, on) in self.unlisted:
                        continue
                    self.unlisted.add((flag, op_id, on))
                answers[flag].add(ok)
                extra: dict[str, Any] = {"model": model, **mode_args}
                if flag == "partial_mode":
                    param = "messages[1].partial"
                    extra["messages"] = [*BASE[op_id]["messages"], self.partial_message()]
                else:
                    param, value, _ = SUPPORTS[flag]
                    if param not in fields:
                        continue
                    extra[param] = self.minimal(fields[param].type) if value is None else value
                given = self.fix(op_id, extra, self.root(param))
                given["model"] = model
                made = [] if ok else [Problem(param, "model")]
                name = f"family/{row.family}/" + (f"{label}/" if label else "")
                name += f"supports-{flag.replace('_', '-')}-" + ("pass" if ok else "fail")
                case = self.call(op_id, given, made, name, ["model", "supports"])
                if ok and not case["expect"]["valid"]:
                    continue  # the flag allows it, something else does not: no neighbour here
                out.append(case)
        return out

    def partial_message(self) -> dict[str, Any]:
        """An assistant message that asks for partial mode (continue this prefix)."""
        schema = next(s for s in self.spec.schemas if not s.is_union and any(
            f.wire_name == "partial" for f in s.fields))  # fmt: skip
        return {**self.minimal_object(schema.name), "partial": True}

    def defaults_cases(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for row in self.spec.families:
            model = self.model_for(row)
            if model is None:
                raise ValueError(f"family {row.family}: every pattern is shadowed by earlier rows")
            for enable in (None, True, False):
                label = {None: "unset", True: "on", False: "off"}[enable]
                # the documented defaults of the mode, with the values the mode requires
                defaults = self.server_defaults(row, enable)
                defaults.update(self.required_values(row, self.thinking_on(row, enable)))
                out.append(self.case(
                    "defaults", f"{row.family}/thinking-{label}", ["family"],
                    {"model": model, "enable_thinking": enable},
                    {"family": row.family, "defaults": defaults},
                ))  # fmt: skip
        return out

    # -- request examples --------------------------------------------------------------------

    def request_expect(self, op: ir.Operation, stream: bool) -> dict[str, Any]:
        """The method, path and headers of a call of `op` (the body is the case's)."""
        server = op.server or (self.spec.servers[0][1] if self.spec.servers else "")
        expect: dict[str, Any] = {"method": op.method,
                                  "path": urlparse(server).path.rstrip("/") + op.path}  # fmt: skip
        headers = {"Authorization": "Bearer sk-conformance", "Content-Type": "application/json"}
        if stream and op.wire == "native":
            headers["X-DashScope-SSE"] = "enable"
        else:
            expect["absent_headers"] = ["X-DashScope-SSE"]
        expect["headers"] = headers
        return expect

    def fill_cases(self) -> list[dict[str, Any]]:
        """What the SDK fills in: a row's required values (`x-requires*`) when the call leaves
        them out, in each mode that has some, and incremental events when it streams."""
        out: list[dict[str, Any]] = []
        for row in self.spec.families:
            model = self.model_for(row)
            native = [e for e in row.endpoints if e in ENDPOINT_OPS]
            if model is None or not native:
                continue
            op_id = ENDPOINT_OPS[native[0]]
            op = self.ops[op_id]
            for label, mode_args, on in self.modes(row):
                if not self.required_values(row, on):
                    continue
                args = {**copy.deepcopy(BASE[op_id]), "model": model, **mode_args}
                if self.stream_needed(row, on):
                    args["stream"] = True
                state = self.call_state(op, args)
                if self.expected(op, args):
                    raise ValueError(f"{row.family} {label}: a fill case must be valid")
                expect = self.request_expect(op, state.stream)
                body: dict[str, Any] = {"model": model, "input": {"messages": args["messages"]}}
                if state.params:
                    body["parameters"] = state.params
                expect["body"] = body
                name = f"{op_id}/family/{row.family}/" + (f"{label}/" if label else "")
                out.append(self.case("request", name + "fills-required", ["requires", "family"],
                                     {"op": op_id, "args": args}, expect))  # fmt: skip
        return out

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

    def error_cases(self) -> list[dict[str, Any]]:
        """Each `x-error-codes` row: the code at its status (billing rows without one: at 429,
        where only the code stops the retry) raises the status's class and is retried as `retry` says; a `prefix` row also
        as `code.Sub`, a `segment` row inside a 500's dotted code (which would be retried), and
        each message fragment with no code where the status alone would be retried."""
        out: list[dict[str, Any]] = []
        classes = {400: "BadRequestError", 429: "RateLimitError", 500: "InternalServerError"}

        def one(name: str, status: int, code: str | None, message: str, retry: bool) -> None:
            body: dict[str, Any] = {"message": message, "request_id": "req-codes"}
            if code is not None:
                body["code"] = code
            expect = {"class": classes[status], "status_code": status, "code": code,
                      "retryable": retry}  # fmt: skip
            out.append(self.case("error", name.lower(), ["status", "error-codes"],
                                 {"response": {"status": status, "body": body}}, expect))  # fmt: skip

        for row in self.spec.error_codes:
            if row.kind is None or row.retry is None:
                continue
            statuses = [row.status] if row.status in classes else [429]
            for status in statuses:
                one(f"code/{row.code}/{status}", status, row.code, "failed", row.retry)
            if row.match == "prefix":
                one(f"code/{row.code}.Sub/{statuses[0]}", statuses[0], f"{row.code}.Sub",
                    "failed", row.retry)  # fmt: skip
            if row.match == "segment":
                one(f"code/InternalError.Sub.{row.code}/500", 500, f"InternalError.Sub.{row.code}",
                    "failed", row.retry)  # fmt: skip
            for i, fragment in enumerate(row.messages):
                status = 429 if row.kind == "billing" else 500
                one(f"message/{row.code}/{i}", status, None, f"Request failed: {fragment}.",
                    row.retry)  # fmt: skip
        return out


def _encode_numbers(value: Any) -> Any:
    """`value` with every NaN and Infinity written as `{"$number": "NaN" | "Infinity" |
    "-Infinity"}` (spec/conformance/README.md, "Numbers JSON cannot carry")."""
    if isinstance(value, float) and not math.isfinite(value):
        return {
            "$number": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        }
    if isinstance(value, dict):
        return {k: _encode_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_numbers(v) for v in value]
    return value


def _dump(suite: str, description: str, spec_name: str, cases: list[dict[str, Any]]) -> str:
    """One case per line: diffs show which cases changed."""
    head = {"suite": suite, "format": FORMAT, "description": description,
            "source": SOURCE.format(spec=spec_name)}  # fmt: skip
    lines = [json.dumps(c, ensure_ascii=False, sort_keys=False, allow_nan=False) for c in cases]
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n'
    return text + ",\n".join(lines) + "\n]}\n"


def files(spec: ir.Spec) -> dict[str, str]:
    """The generated vector files, by name."""
    v = Vectors(spec)
    out = {
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
            "Every request-body example of the spec (the documented curl samples), replayed; and "
            "what the SDK fills in for each family row whose mode requires values.",
            spec.file_name,
            v.request_cases() + v.fill_cases(),
        ),
    }
    errors = v.error_cases()
    if errors:  # a spec without a classified x-error-codes row has no such suite
        out["error.json"] = _dump(
            "error",
            "Every classified x-error-codes row: its code at its status, its dotted forms and its"
            " message fragments, with the class raised and whether the call is retried.",
            spec.file_name,
            errors,
        )
    return out
