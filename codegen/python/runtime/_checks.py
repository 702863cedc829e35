"""What the generated validators report, and how a call turns reports into errors or warnings."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ._errors import ValidationError

ValidationMode = Literal["strict", "warn", "off"]
VALIDATION_MODES = ("strict", "warn", "off")


class ValidationWarning(UserWarning):
    """A request broke a documented rule, and the client was told to warn instead of raise."""


# What kind of rule a problem breaks (spec/conformance/README.md, suite `validate`).
PROBLEM_KINDS = (
    "required", "type", "const", "enum", "range", "length", "items", "pattern", "unknown",
    "rule", "model", "media",
)  # fmt: skip


class Problem:
    """One broken rule: where (`path`, in the request body), the value, the rule (a message),
    the docs, and the `kind` of rule (one of `PROBLEM_KINDS`: "range", "enum", "rule", ...)."""

    __slots__ = ("docs", "kind", "path", "rule", "value")

    def __init__(self, path: str, value: Any, rule: str, docs: str, kind: str = "rule") -> None:
        self.path = path
        self.value = value
        self.rule = rule
        self.docs = docs
        self.kind = kind

    @property
    def param(self) -> str:
        """The name a caller knows: `temperature`, `messages[0].content`, `ocr_options.task`."""
        path = self.path.lstrip(".")
        for prefix in ("parameters.", "input."):
            if path.startswith(prefix):
                return path[len(prefix) :]
        return path

    def __repr__(self) -> str:
        return f"Problem({self.param!r}, {self.value!r}, {self.rule!r}, kind={self.kind!r})"


def _at(params: Mapping[str, Any], dotted: str | tuple[str, ...]) -> Any:
    """The value at a dotted path (or its steps) in nested mappings, or None where any step is
    missing."""
    value: Any = params
    for step in dotted.split(".") if isinstance(dotted, str) else dotted:
        if not (isinstance(value, (dict, Mapping))):
            return None
        value = value.get(step)
        if value is None:
            return None
    return value


def _non_finite_at(value: Any) -> str | None:
    """Where a NaN or an Infinity sits in a JSON-like value (".a[2]"; "" for the value itself),
    or None: JSON has no such numbers, so none may reach the wire."""
    if isinstance(value, float):
        return None if math.isfinite(value) else ""
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = _non_finite_at(item)
            if inner is not None:
                return f".{key}{inner}"
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            inner = _non_finite_at(item)
            if inner is not None:
                return f"[{i}]{inner}"
    return None


def _has_keys(value: Mapping[str, Any], keys: Iterable[str]) -> bool:
    return all(key in value for key in keys)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(problem: Problem, model: str | None, family: str | None) -> str:
    where = f"model {model!r}" + (f", table row {family!r}" if family else "")
    docs = f"; docs: {problem.docs}" if problem.docs else ""
    return f"{problem.param}={_short(problem.value)}: {problem.rule} ({where}{docs})"


def enforce(
    problems: list[Problem], *, mode: ValidationMode, model: str | None, family: str | None
) -> None:
    """Raise `ValidationError` for the first problem (strict), or warn for each (warn)."""
    if not problems or mode == "off":
        return
    if mode == "warn":
        for problem in problems:
            warnings.warn(describe(problem, model, family), ValidationWarning, stacklevel=4)
        return
    first = problems[0]
    message = describe(first, model, family)
    if len(problems) > 1:
        rest = "; ".join(describe(p, model, family) for p in problems[1:4])
        message += f" [and {len(problems) - 1} more: {rest}]"
    raise ValidationError(
        message,
        param=first.param,
        value=first.value,
        rule=first.rule,
        model=model,
        docs=first.docs,
        kind=first.kind,
        problems=tuple(problems),
    )
