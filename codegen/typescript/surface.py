"""The TypeScript binding's API surface snapshot (`generated/typescript/api.md`), in the style of
`generated/python/api.md`: the client and its options, each resource method with its
parameters (wire names), then every name the package exports.

Read off the package's own modules (rendered and runtime) by `declarations.py`;
`test/apiSurface.test.ts` holds it to what `tsc` compiles into `dist/src/index.d.ts`.
"""

from __future__ import annotations

import re

from ..core import ir
from ..core.load import pascal
from .declarations import Declaration, Member, Param, declarations, exports

PACKAGE = "modelstudio"
CLIENT = "ModelStudio"


def _cell(text: str) -> str:
    return f"`{text}`".replace("|", "\\|") if text else ""


def _value(text: str) -> str:
    """A default: code when it is a literal or a name, else the doc comment's words."""
    if re.fullmatch(r'[\w.$"{}\[\]-]+', text):
        return _cell(text)
    return text.replace("|", "\\|")


def _first_sentence(text: str) -> str:
    if text == "(no description in the spec)":
        return ""
    return re.split(r"(?<=\.)\s", text, maxsplit=1)[0].replace("|", "\\|")


def _params(params: tuple[Param, ...]) -> str:
    return ", ".join(
        p.name + ("?" if p.optional else "") + (f": {p.type}" if p.type else "") for p in params
    )


def _signature(m: Member) -> str:
    if m.kind == "constructor":
        return f"new ({_params(m.params)})"
    if m.kind in ("getter", "property"):
        return f"{'readonly ' if m.readonly else ''}{m.name}{'?' if m.optional else ''}: {m.type}"
    return f"{m.name}({_params(m.params)}): {m.type}"


def _param_table(params: tuple[Param, ...]) -> list[str]:
    if not params:
        return ["No parameters.", ""]
    rows = ["| parameter | type | default |", "|---|---|---|"]
    for p in params:
        default = p.default or ("(optional)" if p.optional else "")
        rows.append(f"| `{p.name}` | {_cell(p.type)} | {_cell(default)} |")
    return [*rows, ""]


def _property_table(
    members: tuple[Member, ...], first: str = "property", described: bool = False
) -> list[str]:
    """One row per property (one per line, so a diff names the one that changed)."""
    rows = [f"| {first} | type | required | default |", "|---|---|---|---|"]
    if described:
        rows = [rows[0] + " description |", rows[1] + "---|"]
    for m in members:
        if m.kind != "property":
            continue
        required = "no" if m.optional else "yes"
        row = f"| `{m.name}` | {_cell(m.type)} | {required} | {_value(m.default)} |"
        rows.append(row + (f" {_first_sentence(m.summary)} |" if described else ""))
    return [*rows, ""]


def _member_list(members: tuple[Member, ...]) -> list[str]:
    lines = [f"- `{_signature(m)}`" + (f": {m.summary}" if m.summary else "") for m in members]
    return [*lines, ""] if lines else []


def _class_members(
    decl: Declaration, known: dict[str, Declaration], exported: set[str]
) -> tuple[Member, ...]:
    """A class's public members, with those it inherits from a class the package does not
    export (`ModelStudio` from `APIClient`); an exported base has its own section."""
    own = decl.members
    base = decl.heritage.removeprefix("extends ").split("<")[0].strip()
    if base in known and known[base].kind == "class" and base not in exported:
        names = {m.name for m in own}
        inherited = tuple(
            m
            for m in _class_members(known[base], known, exported)
            if m.name not in names and m.kind != "constructor"
        )
        return own + inherited
    return own


def describe(decl: Declaration, known: dict[str, Declaration], exported: set[str]) -> list[str]:
    """The section of one exported declaration."""
    head = {
        "class": f"class {decl.name}{decl.type_params}"
        + (f" {decl.heritage}" if decl.heritage else ""),
        "interface": f"interface {decl.name}{decl.type_params}"
        + (f" {decl.heritage}" if decl.heritage else ""),
        "type": f"type {decl.name}{decl.type_params}",
        "const": f"const {decl.name}",
        "function": f"function {decl.name}{decl.type_params}({_params(decl.params)}): {decl.type}",
    }[decl.kind]
    out = [f"### `{head}`", ""]
    if decl.summary:
        out += [decl.summary, ""]
    if decl.kind == "type":
        out += [
            f"`= {decl.type}`".replace("|", "\\|") if len(decl.type) < 300 else "`= (see source)`",
            "",
        ]
    elif decl.kind == "const":
        out += [f"Type: {_cell(decl.type)}", ""]
    elif decl.kind == "function":
        out += _param_table(decl.params)
    elif decl.kind == "interface":
        properties = tuple(m for m in decl.members if m.kind == "property")
        if properties:
            out += _property_table(properties)
        out += _member_list(tuple(m for m in decl.members if m.kind != "property"))
    else:
        out += _member_list(_class_members(decl, known, exported))
    return out


def resource_section(
    op: ir.Operation, decl: Declaration, known: dict[str, Declaration]
) -> list[str]:
    path = f"client.{'.'.join(op.resource)}"
    overloads = [m for m in decl.members if m.name == "create" and m.kind == "method"]
    if not overloads:
        raise ValueError(f"{decl.name} has no create()")
    params = overloads[-1].params
    params_type = known[params[0].type.split(" ")[0]]
    out = [
        f"### `{path}.create({_params(tuple(Param(p.name, '', p.optional) for p in params))})`",
        "",
    ]
    out += [op.summary, ""]
    out.append(
        f"Calls `{op.method} {op.path}` (operation `{op.operation_id}`) with"
        f" `{params_type.name}` and `RequestOptions`. Overloads:"
    )
    out.append("")
    out += [f"- `create({_params(m.params)}): {m.type}`" for m in overloads]
    out += ["", f"Parameters (`{params_type.name}`, wire names):", ""]
    out += _property_table(params_type.members, "parameter", described=True)
    return out


def api_markdown(spec: ir.Spec, sources: dict[str, str], header: str) -> str:
    """The snapshot of the package whose modules (name -> text, `index` the entry) are given."""
    known = declarations(sources)
    exported = exports(sources)
    names = {d.name for d in exported}
    client = known[CLIENT]
    constructor = next(m for m in client.members if m.kind == "constructor")
    options = known[constructor.params[0].type]
    out = [
        f"# {PACKAGE} API (TypeScript)",
        "",
        "Every name the package exports, with its parameters, types and defaults. A change of the",
        "public surface shows up in this file's diff; `test/apiSurface.test.ts` holds it to what",
        "`tsc` compiles.",
        "",
        "## Client",
        "",
        f"### `new {CLIENT}({_params(constructor.params)})`",
        "",
        client.summary,
        "",
        f"Options (`{options.name}`):",
        "",
        *_property_table(options.members, "option", described=True),
        "Members:",
        "",
        *_member_list(
            tuple(m for m in _class_members(client, known, names) if m.kind != "constructor")
        ),
        "## Resources",
        "",
    ]
    for op in spec.operations:
        out += resource_section(op, known[pascal(op.resource[-1])], known)
    out += [
        "## Exports",
        "",
        f"Every name `{PACKAGE}` exports, in the order of `src/index.ts`.",
        "",
    ]
    for decl in exported:
        out += describe(decl, known, names)
    return header + "\n".join(out).rstrip() + "\n"
