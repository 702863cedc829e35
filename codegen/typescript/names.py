"""TypeScript spellings of IR types, and the JSDoc comments generated from the spec."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from typing import Any

from ..core import ir


def literal(value: Any) -> str:
    """A TypeScript literal for a JSON value."""
    return json.dumps(value, ensure_ascii=False)


def _members(annotations: Iterable[str]) -> list[str]:
    out: list[str] = []
    for annotation in annotations:
        for member in annotation.split(" | "):
            if member not in out:
                out.append(member)
    return out


class TypeNames:
    """Types as TypeScript spells them, in the context of one spec."""

    def __init__(self, spec: ir.Spec) -> None:
        self.by_name = {s.name: s for s in spec.schemas}

    def type(self, t: ir.TypeRef) -> str:
        base = self._type(t)
        if t.nullable and base != "unknown" and "null" not in base.split(" | "):
            return f"{base} | null"
        return base

    def _type(self, t: ir.TypeRef) -> str:
        c = t.constraint
        if c.has_const:
            return literal(c.const)
        if t.kind == "str":
            if c.enum:
                return " | ".join(literal(v) for v in c.enum)
            return "string"
        if t.kind in ("int", "float"):
            return "number"
        if t.kind == "bool":
            return "boolean"
        if t.kind == "dict":
            return f"Record<string, {self.type(t.items)}>" if t.items else "Record<string, unknown>"
        if t.kind == "list":
            assert t.items is not None
            inner = self.type(t.items)
            return f"Array<{inner}>"
        if t.kind == "ref":
            assert t.name is not None
            return t.name
        if t.kind == "union":
            return " | ".join(_members(self.type(v) for v in t.variants))
        return "unknown"


def jsdoc(text: str, indent: int = 0, docs: tuple[str, ...] = ()) -> str:
    """A `/** ... */` comment for `text`, with the docs citations last."""
    body = text.strip() or "(no description in the spec)"
    if docs:
        body += "\n\nDocs: " + "; ".join(docs) + "."
    body = body.replace("*/", "*\\/")
    pad = " " * indent
    lines: list[str] = []
    for line in body.splitlines():
        lines.extend(textwrap.wrap(line, 96 - indent) or [""])
    if len(lines) == 1 and len(lines[0]) + indent < 90:
        return f"/** {lines[0]} */"
    return "/**\n" + "".join(f"{pad} * {w}".rstrip() + "\n" for w in lines) + f"{pad} */"
