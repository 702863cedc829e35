"""The mock server's check of each request against the spec: the SDK's generated validators."""

from __future__ import annotations

from typing import Any

# Generated modules, imported by the package's absolute name (see codegen/python/runtime/README.md).
from modelstudio._validation import VALIDATORS

OPERATIONS = {
    "/services/aigc/text-generation/generation": "textGeneration",
    "/services/aigc/multimodal-generation/generation": "multimodalGeneration",
    "/chat/completions": "chatCompletions",
}


def spec_problem(path: str, body: dict[str, Any], stream: bool) -> str | None:
    """The first rule of the spec (types, ranges, cross-field and per-model rules) that the
    request breaks, worded for a 400 InvalidParameter answer; None when it breaks none."""
    operation = next((op for suffix, op in OPERATIONS.items() if path.endswith(suffix)), None)
    if operation is None:
        return None
    problems = VALIDATORS[operation](body, stream)
    if not problems:
        return None
    first = problems[0]
    return f"Parameter {first.param} {first.rule} (got {first.value!r})."
