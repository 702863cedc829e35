"""Per-model table lookups: which row applies to a model, its defaults, and its rules."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from modelstudio._docs_pages import cite

from ._checks import Problem

ENDPOINT_CALLS = {
    "text-generation": "client.generation.create",
    "multimodal-generation": "client.multimodal.create",
    "compatible": "client.chat.completions.create",
}


@attrs.frozen
class ModelFamily:
    """One row of the spec's per-model table (`x-model-families`)."""

    family: str
    match: tuple[str, ...]
    endpoints: tuple[str, ...] = ()
    thinking_mode: str | None = None
    thinking_default: bool | None = None
    streaming_only: bool = False
    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    defaults_thinking: Mapping[str, Any] = attrs.field(factory=dict)
    defaults_non_thinking: Mapping[str, Any] = attrs.field(factory=dict)
    supports: Mapping[str, bool] = attrs.field(factory=dict)
    limits: Mapping[str, Any] = attrs.field(factory=dict)
    docs: str = ""
    streaming_only_when_thinking: bool = False
    supports_when_thinking: Mapping[str, bool] = attrs.field(factory=dict)
    requires: Mapping[str, Any] = attrs.field(factory=dict)
    requires_when_thinking: Mapping[str, Any] = attrs.field(factory=dict)

    def thinking_on(self, enable_thinking: bool | None) -> bool:
        """The effective mode: the argument, else the row's default (spec/README.md)."""
        if self.thinking_mode == "thinking-only":
            return True
        if self.thinking_mode == "none":
            return False
        # hybrid, or a row whose mode is not documented: the argument, else the row's default
        # (none documented: off)
        return bool(self.thinking_default) if enable_thinking is None else enable_thinking


def make_lookup(families: Sequence[ModelFamily]) -> Any:
    @functools.lru_cache(maxsize=256)
    def family_for(model: str) -> ModelFamily:
        """The first table row whose patterns match `model` (lower-cased); the last row is '*'."""
        name = model.lower()
        for row in families:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in row.match):
                return row
        return families[-1]

    return family_for


# Per (row, mode) results of the two functions below, worked out once: a row is a constant of
# the generated table, and every request of a program consults the same few rows. Keyed by the
# row's id, with the row kept in the value so that the id cannot be reused by another object.
_DEFAULTS: dict[tuple[int, bool], tuple[ModelFamily, dict[str, Any]]] = {}
_REQUIRED: dict[tuple[int, bool], tuple[ModelFamily, dict[str, Any]]] = {}


def _server_defaults(row: ModelFamily, thinking: bool) -> dict[str, Any]:
    """`server_defaults` for the mode that applies (not to be changed: it is shared)."""
    known = _DEFAULTS.get((id(row), thinking))
    if known is not None and known[0] is row:
        return known[1]
    out = dict(row.defaults)
    out.update(row.defaults_thinking if thinking else row.defaults_non_thinking)
    if row.thinking_mode in ("hybrid", "thinking-only") and "enable_thinking" not in out:
        out["enable_thinking"] = thinking
    _DEFAULTS[(id(row), thinking)] = (row, out)
    return out


def _required_values(row: ModelFamily, thinking: bool) -> dict[str, Any]:
    """`required_values`, shared (not to be changed)."""
    known = _REQUIRED.get((id(row), thinking))
    if known is not None and known[0] is row:
        return known[1]
    out = dict(row.requires)
    if thinking:
        out.update(row.requires_when_thinking)
    _REQUIRED[(id(row), thinking)] = (row, out)
    return out


def server_defaults(row: ModelFamily, enable_thinking: bool | None) -> dict[str, Any]:
    """The documented defaults of a row, with the overrides of the thinking mode that applies:
    what the service uses for a parameter the request leaves out."""
    return dict(_server_defaults(row, row.thinking_on(enable_thinking)))


def required_values(row: ModelFamily, thinking: bool) -> dict[str, Any]:
    """The only value some parameters may take for this row, in the mode that applies."""
    return dict(_required_values(row, thinking))


def defaults_for(row: ModelFamily, enable_thinking: bool | None) -> dict[str, Any]:
    """The defaults of a row as the SDK sends them: the service's documented defaults, except
    that where the mode allows only one value (`x-requires*`) that value is given."""
    out = server_defaults(row, enable_thinking)
    out.update(required_values(row, row.thinking_on(enable_thinking)))
    return out


def _thinking_argument(params: Mapping[str, Any]) -> bool | None:
    value = params.get("enable_thinking")
    return value if isinstance(value, bool) else None


def effective_params(row: ModelFamily | None, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Each parameter as the service will see it: the value sent, else the model's documented
    default in the thinking mode that applies (the `$effective.` paths of `x-rules`)."""
    if row is None:
        return params
    out = server_defaults(row, _thinking_argument(params))
    for key, value in params.items():
        if value is not None:
            out[key] = value
    return out


class EffectiveParams(Mapping[str, Any]):
    """`effective_params(row, params)`, worked out on the first read: the cross-field rules
    read it only once a condition on the parameters sent holds, which a typical request never
    meets."""

    __slots__ = ("_params", "_row", "_values")

    def __init__(self, row: ModelFamily | None, params: Mapping[str, Any]) -> None:
        self._row = row
        self._params = params
        self._values: Mapping[str, Any] | None = None

    def _resolved(self) -> Mapping[str, Any]:
        values = self._values
        if values is None:
            values = self._values = effective_params(self._row, self._params)
        return values

    def get(self, key: str, default: Any = None) -> Any:
        return self._resolved().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


def fill_required(row: ModelFamily, params: dict[str, Any], stream: bool) -> None:
    """Fill in what the SDK sends when the call leaves it out (in place): the value the model's
    mode requires (`x-requires*`), and incremental events when streaming."""
    thinking = row.thinking_on(_thinking_argument(params))
    for key, value in _required_values(row, thinking).items():
        if params.get(key) is None:
            params[key] = value
    if stream and params.get("incremental_output") is None:
        params["incremental_output"] = True


def _partial_messages(messages: Any) -> list[tuple[int, Any]]:
    if not isinstance(messages, list):
        return []
    return [
        (i, m)
        for i, m in enumerate(messages)
        if isinstance(m, (dict, Mapping))
        and m.get("partial") is True
        and m.get("role") == "assistant"
    ]


# (flag, parameter, whether the call uses it). Flags in ONLY_LISTED have an explicit "only these
# models" list in the docs: a known model must be on it. The others are refused only where a page
# excludes the model (their lists are examples, and recordings show more models).
_SUPPORT_CHECKS = (
    ("tools", "tools", lambda v: bool(v)),
    ("n", "n", lambda v: v is not None and v != 1),
    ("logprobs", "logprobs", lambda v: v is True),
    ("response_format", "response_format", lambda v: v is not None),
    ("code_interpreter", "enable_code_interpreter", lambda v: v is True),
    ("search", "enable_search", lambda v: v is True),
    ("max_input_tokens", "max_input_tokens", lambda v: v is not None),
    ("output_format", "output_format", lambda v: v is not None),
    ("asr_options", "asr_options", lambda v: v is not None),
    ("ocr_options", "ocr_options", lambda v: v is not None),
)
# The parameters those checks read: a request that sends none of them skips the loop.
_SUPPORT_PARAMS = frozenset(param for _, param, _ in _SUPPORT_CHECKS)
_LIMITED = ("max_tokens", "thinking_budget", "max_input_tokens")
ONLY_LISTED = frozenset(
    (
        "n",
        "code_interpreter",
        "max_input_tokens",
        "partial_mode",
        "output_format",
        "asr_options",
        "ocr_options",
    )
)
SUPPORT_DOCS = {
    "n": cite("dashscope-chat-reference", "n"),
    "code_interpreter": cite("dashscope-chat-reference", "enable_code_interpreter"),
    "max_input_tokens": cite("qwen-api-reference", "max_input_tokens"),
    "partial_mode": cite("qwen-api-reference", "Assistant Message partial"),
    "output_format": cite("qwen-api-reference", "output_format (qwen-deep-research only)"),
    "asr_options": cite("qwen-api-reference", "asr_options (Qwen3 ASR only)"),
    "ocr_options": cite("qwen-api-reference", "ocr_options (Qwen-OCR)"),
}
REQUIRES_DOCS = (
    cite("dashscope-chat-reference", "result_format")
    + "; "
    + cite("qwen-api-reference", "incremental_output")
)


def _supported(
    row: ModelFamily, flag: str, supports: Mapping[str, bool], thinking_on: bool
) -> tuple[bool, str]:
    """Whether the row allows a feature, and the reason when it does not."""
    value = supports.get(flag)
    mode = " in thinking mode" if thinking_on and flag in row.supports_when_thinking else ""
    if value is False:
        return False, "is not supported by this model" + mode
    if value is None and flag in ONLY_LISTED and row.match != ("*",):
        return False, "is not supported by this model (the docs list the models that take it)"
    return True, ""


def check_model_rules(
    row: ModelFamily,
    endpoint: str,
    params: Mapping[str, Any],
    stream: bool,
    out: list[Problem],
    messages: Any = None,
) -> None:
    """Append a Problem for every documented per-model rule the request breaks."""
    docs = row.docs
    # The compatible endpoint serves text and multimodal models alike, and the docs name it for
    # few models: only the two native endpoints are routed by the table.
    if row.endpoints and endpoint != "compatible" and endpoint not in row.endpoints:
        calls = " or ".join(ENDPOINT_CALLS.get(e, e) for e in row.endpoints)
        out.append(
            Problem(
                "model", row.family, f"is not served by this endpoint; use {calls}", docs, "model"
            )
        )
    thinking = params.get("enable_thinking")
    if row.thinking_mode == "thinking-only" and thinking is False:
        out.append(
            Problem("enable_thinking", False, "cannot be turned off for this model", docs, "model")
        )
    if row.thinking_mode == "none" and thinking is True:
        out.append(
            Problem("enable_thinking", True, "this model has no thinking mode", docs, "model")
        )
    thinking_on = row.thinking_on(thinking if isinstance(thinking, bool) else None)
    if not stream and row.streaming_only:
        out.append(
            Problem("stream", False, "this model only answers with stream=True", docs, "model")
        )
    elif not stream and thinking_on and row.streaming_only_when_thinking:
        out.append(
            Problem(
                "stream",
                False,
                "in thinking mode this model only answers with stream=True",
                docs,
                "model",
            )
        )
    if endpoint != "compatible":
        _check_requirements(row, params, thinking_on, out)
    supports = row.supports
    if thinking_on and row.supports_when_thinking:
        supports = {**supports, **row.supports_when_thinking}
    for flag, param, used in () if _SUPPORT_PARAMS.isdisjoint(params) else _SUPPORT_CHECKS:
        if used(params.get(param)):
            ok, rule = _supported(row, flag, supports, thinking_on)
            if not ok:
                where = SUPPORT_DOCS.get(flag)
                out.append(
                    Problem(
                        param,
                        params.get(param),
                        rule,
                        f"{where}; {docs}" if where else docs,
                        "model",
                    )
                )
    if endpoint != "compatible":
        for i, _ in _partial_messages(messages):
            ok, rule = _supported(row, "partial_mode", supports, thinking_on)
            if not ok:
                where = f"{SUPPORT_DOCS['partial_mode']}; {docs}"
                out.append(Problem(f"input.messages[{i}].partial", True, rule, where, "model"))
    for name in _LIMITED if row.limits else ():
        limit = row.limits.get(name)
        value = params.get(name)
        if isinstance(limit, int) and isinstance(value, int) and value > limit:
            out.append(Problem(name, value, f"must be <= {limit} for this model", docs, "model"))


def _check_requirements(
    row: ModelFamily, params: Mapping[str, Any], thinking_on: bool, out: list[Problem]
) -> None:
    """A parameter the mode allows only one value of (`x-requires*`) must have that value,
    as sent or, when left out, as the service's default."""
    wanted = _required_values(row, thinking_on)
    if not wanted:
        return
    defaults = _server_defaults(row, thinking_on)
    in_thinking = row.requires_when_thinking if thinking_on else {}
    for key, want in wanted.items():
        value = params.get(key)
        if value is None:
            value = defaults.get(key)
        if value is not None and value != want:
            mode = " in thinking mode" if key in in_thinking else ""
            rule = f"this model takes only {key}={want!r}{mode}"
            out.append(Problem(key, value, rule, f"{REQUIRES_DOCS}; {row.docs}", "model"))
