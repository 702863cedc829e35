"""The spec's documented samples: request-body `examples` of each operation (the docs pages' curl
samples, each citing its page and section) and the documented answers of chatCompletions."""

from __future__ import annotations

from functools import cache
from typing import Any

import attrs
import yaml

from tests.paths import SPEC


@attrs.frozen
class Example:
    operation: str  # operationId
    path: str  # the operation's path
    name: str
    summary: str
    body: dict[str, Any]
    streaming: bool  # sent with X-DashScope-SSE: enable

    @property
    def id(self) -> str:
        return self.name


@cache
def _spec() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return data


def _operations() -> list[tuple[str, dict[str, Any]]]:
    return [(path, item["post"]) for path, item in _spec()["paths"].items() if "post" in item]


def request_examples(operation: str | None = None) -> list[Example]:
    out = []
    for path, op in _operations():
        if operation is not None and op["operationId"] != operation:
            continue
        media = op["requestBody"]["content"]["application/json"]
        for name, example in (media.get("examples") or {}).items():
            headers = {k.lower(): v for k, v in (example.get("x-headers") or {}).items()}
            streaming = headers.get("x-dashscope-sse") == "enable"
            out.append(
                Example(
                    op["operationId"], path, name, example["summary"], example["value"], streaming
                )
            )
    return out


def response_examples(operation: str) -> dict[str, dict[str, Any]]:
    """The documented 200 answers of `operation`, by the name of the request they answer."""
    for _, op in _operations():
        if op["operationId"] == operation:
            media = op["responses"]["200"]["content"]["application/json"]
            return {
                name.removesuffix("-answer"): example["value"]
                for name, example in (media.get("examples") or {}).items()
            }
    raise KeyError(operation)
