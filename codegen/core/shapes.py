"""Shapes of the API every back end reads the same way: which schemas requests reach, the
arguments of each operation, and the wording of type and number rules (so that every binding's
validation messages read alike)."""

from __future__ import annotations

from . import ir


def request_schemas(spec: ir.Spec) -> list[ir.Schema]:
    """The schemas reachable from the operations' request bodies, in spec order."""
    by_name = {s.name: s for s in spec.schemas}
    seen: set[str] = set()
    stack = [op.request for op in spec.operations]

    def walk(t: ir.TypeRef) -> None:
        if t.kind == "ref" and t.name:
            stack.append(t.name)
        if t.items:
            walk(t.items)
        for v in t.variants:
            walk(v)

    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        schema = by_name[name]
        for f in schema.fields:
            walk(f.type)
        for v in schema.variants:
            walk(v)
    return [s for s in spec.schemas if s.name in seen]


def describe(t: ir.TypeRef) -> str:
    """How a type reads in an error message."""
    if t.constraint.has_const:
        return repr(t.constraint.const)
    if t.kind == "list":
        assert t.items is not None
        return f"a list of {describe(t.items)}"
    if t.kind == "ref":
        return f"a {t.name} object"
    if t.kind == "union":
        return " or ".join(describe(v) for v in t.variants)
    return {"str": "strings", "int": "integers", "float": "numbers", "bool": "booleans"}.get(
        t.kind, "values"
    )


def fmt_number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(value)


def operation_params(spec: ir.Spec, op: ir.Operation) -> tuple[ir.Field, ...]:
    """The keyword arguments of an operation's `create()`, besides model/messages/stream."""
    fields = spec.schema(op.parameters).fields
    if op.wire == "openai":
        return tuple(f for f in fields if f.wire_name not in ("model", "messages", "stream"))
    # native `parameters.stream` is set from the `stream` keyword argument, with the SSE header
    return tuple(f for f in fields if f.wire_name != "stream")


def messages_type(spec: ir.Spec, op: ir.Operation) -> ir.TypeRef:
    request = {f.wire_name: f for f in spec.schema(op.request).fields}
    if op.wire == "native":
        input_ref = request["input"].type
        assert input_ref.name is not None
        request = {f.wire_name: f for f in spec.schema(input_ref.name).fields}
    messages = request["messages"].type
    return messages.items or ir.TypeRef(kind="dict")


def error_code_sets(spec: ir.Spec) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per kind of `x-error-codes` row (billing, throttling, moderation): the lower-cased codes
    matched exactly, as a prefix (`code` or `code.*`) and as a last dotted segment, and the
    message fragments, each sorted: what every binding's classification tables hold."""
    out: dict[str, dict[str, set[str]]] = {
        kind: {"exact": set(), "prefix": set(), "segment": set(), "messages": set()}
        for kind in ("billing", "throttling", "moderation")
    }
    for row in spec.error_codes:
        if row.kind is None:
            continue
        out[row.kind][row.match].add(row.code.strip().lower())
        out[row.kind]["messages"].update(m.lower() for m in row.messages)
    return {kind: {k: tuple(sorted(v)) for k, v in sets.items()} for kind, sets in out.items()}
