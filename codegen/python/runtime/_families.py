"""Per-model table lookups: which row applies to a model, its defaults, and its rules."""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

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

    def thinking_on(self, enable_thinking: bool | None) -> bool:
        if self.thinking_mode == "thinking-only":
            return True
        if self.thinking_mode == "none" or self.thinking_mode is None:
            return False
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


def defaults_for(row: ModelFamily, enable_thinking: bool | None) -> dict[str, Any]:
    """The documented defaults of a row, with the overrides of the thinking mode that applies."""
    out = dict(row.defaults)
    thinking = row.thinking_on(enable_thinking)
    out.update(row.defaults_thinking if thinking else row.defaults_non_thinking)
    if row.thinking_mode in ("hybrid", "thinking-only") and "enable_thinking" not in out:
        out["enable_thinking"] = thinking
    return out


_SUPPORT_CHECKS = (
    ("tools", "tools", lambda v: bool(v)),
    ("n", "n", lambda v: v is not None and v != 1),
    ("logprobs", "logprobs", lambda v: v is True),
    ("response_format", "response_format", lambda v: v is not None),
    ("code_interpreter", "enable_code_interpreter", lambda v: v is True),
    ("search", "enable_search", lambda v: v is True),
)


def check_model_rules(
    row: ModelFamily,
    endpoint: str,
    params: Mapping[str, Any],
    stream: bool,
    out: list[Problem],
) -> None:
    """Append a Problem for every documented per-model rule the request breaks."""
    docs = row.docs
    # The compatible endpoint serves text and multimodal models alike, and the docs name it for
    # few models: only the two native endpoints are routed by the table.
    if row.endpoints and endpoint != "compatible" and endpoint not in row.endpoints:
        calls = " or ".join(ENDPOINT_CALLS.get(e, e) for e in row.endpoints)
        out.append(
            Problem("model", row.family, f"is not served by this endpoint; use {calls}", docs)
        )
    thinking = params.get("enable_thinking")
    if row.thinking_mode == "thinking-only" and thinking is False:
        out.append(Problem("enable_thinking", False, "cannot be turned off for this model", docs))
    if row.thinking_mode == "none" and thinking is True:
        out.append(Problem("enable_thinking", True, "this model has no thinking mode", docs))
    thinking_on = row.thinking_on(thinking if isinstance(thinking, bool) else None)
    if not stream and (row.streaming_only or row.thinking_mode == "thinking-only"):
        out.append(Problem("stream", False, "this model only answers with stream=True", docs))
    elif not stream and thinking_on and row.streaming_only_when_thinking:
        out.append(
            Problem(
                "stream", False, "in thinking mode this model only answers with stream=True", docs
            )
        )
    supports = row.supports
    if thinking_on and row.supports_when_thinking:
        supports = {**supports, **row.supports_when_thinking}
    for flag, param, used in _SUPPORT_CHECKS:
        if supports.get(flag) is False and used(params.get(param)):
            rule = "is not supported by this model"
            if thinking_on and flag in row.supports_when_thinking:
                rule += " in thinking mode"
            out.append(Problem(param, params.get(param), rule, docs))
    for name in ("max_tokens", "thinking_budget", "max_input_tokens"):
        limit = row.limits.get(name)
        value = params.get(name)
        if isinstance(limit, int) and isinstance(value, int) and value > limit:
            out.append(Problem(name, value, f"must be <= {limit} for this model", docs))
