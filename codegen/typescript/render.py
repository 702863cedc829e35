"""IR -> the TypeScript modules of `src/`: the Jinja2 environment and what the templates read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from ..core import ir
from ..core.load import pascal
from ..core.shapes import error_code_sets, messages_type, operation_params
from .checks import CheckWriter, request_schemas
from .names import TypeNames, jsdoc, literal

TEMPLATES = Path(__file__).parent / "templates"

# template -> path of the module it renders, relative to src/
ARTEFACTS = {
    "types.ts.j2": "types.ts",
    "validation.ts.j2": "validation.ts",
    "modelTable.ts.j2": "modelTable.ts",
    "resources.ts.j2": "resources.ts",
    "client.ts.j2": "client.ts",
    "index.ts.j2": "index.ts",
    "errorCodes.ts.j2": "errorCodes.ts",
    "docsPages.ts.j2": "docsPages.ts",
    "mediaLimits.ts.j2": "mediaLimits.ts",
}


def prop_name(name: str) -> str:
    """A property name as TypeScript writes it: bare when it is an identifier, else quoted."""
    return name if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", name) else literal(name)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["jsdoc"] = jsdoc
    env.filters["js"] = literal
    env.filters["pascal"] = pascal
    env.filters["prop"] = prop_name
    env.globals["dict"] = dict
    return env


def qualifier(spec: ir.Spec) -> Any:
    """A filter: schema names in a type spelled as `types.Name` (for modules that import the
    types module as a namespace)."""
    known = {s.name for s in spec.schemas}

    def qualify(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            return f"types.{m.group(0)}" if m.group(0) in known else m.group(0)

        return re.sub(r'(?<![\w."$])[A-Z][A-Za-z0-9_]*(?![\w"])', one, text)

    return qualify


def checks_context(spec: ir.Spec) -> dict[str, Any]:
    writer = CheckWriter(spec)
    lines: list[str] = []
    for schema in request_schemas(spec):
        lines += ["", *writer.schema(schema)]
    rules = dict(spec.rules)
    for name in sorted({op.parameters for op in spec.operations}):
        lines += ["", *writer.rules(name, rules.get(name, ()))]
    source = "\n".join(lines)
    used = [h for h in ("codePoints", "hasKeys", "nonFiniteAt") if re.search(rf"\b{h}\(", source)]
    helpers = ["Problem", "isObject", *used]
    return {"checks": writer, "checks_source": source, "checks_helpers": sorted(helpers)}


def create_doc(op: ir.Operation, params: tuple[ir.Field, ...]) -> str:
    lines = [op.summary or op.operation_id, ""]
    if op.description:
        lines += [op.description, ""]
    lines += [
        "Resolves to the typed response, or with `stream: true` to a `Stream` of typed chunks",
        "whose `delta` holds what each event adds and whose `finalResponse()` gives the whole",
        "answer. Validated before any `fetch`: a broken documented rule throws `ValidationError`.",
    ]
    if any(f.wire_name == "incremental_output" for f in params) and op.wire == "native":
        lines += [
            "",
            "When streaming and `incremental_output` is not given, the SDK sends true (the",
            "server's default is false) so that each event carries only new text.",
        ]
    return jsdoc("\n".join(lines), 2, op.docs)


def render(spec: ir.Spec, header: str) -> dict[str, str]:
    env = environment()
    env.filters["qualify"] = qualifier(spec)
    names = TypeNames(spec)
    request_names = {s.name for s in request_schemas(spec)}
    op_params = {op.operation_id: operation_params(spec, op) for op in spec.operations}
    parents: dict[str, list[tuple[str, ir.Operation]]] = {}
    singles: list[tuple[str, ir.Operation]] = []
    for op in spec.operations:
        if len(op.resource) == 2:
            parents.setdefault(op.resource[0], []).append((op.resource[1], op))
        else:
            singles.append((op.resource[0], op))
    context: dict[str, Any] = {
        **checks_context(spec),
        "spec": spec,
        "names": names,
        "request_names": request_names,
        "response_schemas": {op.response for op in spec.operations},
        "chunk_schemas": {op.chunk for op in spec.operations if op.chunk},
        "op_params": op_params,
        "op_messages": {
            op.operation_id: names.type(messages_type(spec, op)) for op in spec.operations
        },
        "op_doc": {
            op.operation_id: create_doc(op, op_params[op.operation_id]) for op in spec.operations
        },
        "op_class": {op.operation_id: pascal(op.resource[-1]) for op in spec.operations},
        "op_has_incremental": {
            k: any(f.wire_name == "incremental_output" for f in v) for k, v in op_params.items()
        },
        "resource_parents": parents,
        "resource_singles": singles,
        "error_code_sets": error_code_sets(spec),
    }
    files: dict[str, str] = {}
    for template, target in ARTEFACTS.items():
        files[target] = header + env.get_template(template).render(**context)
    return files
