"""IR -> package source: the Jinja2 environment and the helpers templates call."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2

from ..core import ir
from ..core.load import pascal
from ..core.shapes import error_code_sets, messages_type, operation_params, request_schemas
from .checks import CheckWriter
from .params_dicts import param_name, params_files

TEMPLATES = Path(__file__).parent / "templates"

# template -> path of the file it renders, relative to the package root (types and resources
# are rendered once per area and per resource, by `render`)
ARTEFACTS = {
    "model_table.py.j2": "_model_table.py",
    "client.py.j2": "_client.py",
    "init.py.j2": "__init__.py",
    "docs_pages.py.j2": "_docs_pages.py",
    "error_codes.py.j2": "_error_codes.py",
    "media_limits.py.j2": "_media_limits.py",
}

# The areas `types/` is split into, in import order: a module imports only those before it.
TYPE_AREAS = {
    "messages": "Request messages and their content parts (native protocol).",
    "options": "The options request parameters hold: tools, response formats, search, "
    "translation, OCR and ASR options (native protocol).",
    "params": "Request bodies and their parameters (native protocol).",
    "usage": "Token usage and billing details of responses and stream chunks (native protocol).",
    "output_details": "What a response's output carries besides its choices: tool and search "
    "information, deep-research phases, task metrics (native protocol).",
    "responses": "Responses, stream chunks, their choices and messages, and error bodies "
    "(native protocol).",
    "compatible": "The OpenAI-compatible endpoint: requests, messages, responses and chunks.",
}


# What the contract promises beyond the schemas' `required` lists, as narrower static types.
# GenerationResponse: "with result_format=text the answer is in output.text; with message (and
# always on the multimodal endpoint) it is in output.choices"; ResponseMessage.content: "a list
# of parts for multimodal models". A view is a subclass for type checkers only: at run time its
# name is the schema class itself, so an answer that breaks the promise still decodes.
# view -> (schema, docstring, {field: annotation}); a view comes after the views it names.
VIEWS: dict[str, tuple[str, str, dict[str, str]]] = {
    "MessageGenerationOutput": (
        "GenerationOutput",
        'The output of a `result_format="message"` call: the answer is in `choices`.',
        {"choices": "list[Choice]"},
    ),
    "MessageGenerationResponse": (
        "GenerationResponse",
        'A GenerationResponse to a `result_format="message"` call.',
        {"output": "MessageGenerationOutput"},
    ),
    "MessageGenerationChunk": (
        "GenerationChunk",
        'A GenerationChunk of a `result_format="message"` stream.',
        {"output": "MessageGenerationOutput"},
    ),
    "MultimodalMessage": (
        "ResponseMessage",
        "A ResponseMessage of the multimodal endpoint: `content` is a list of parts.",
        {"content": "list[ResponseContentPart]"},
    ),
    "MultimodalChoice": (
        "Choice",
        "A Choice of the multimodal endpoint.",
        {"message": "MultimodalMessage"},
    ),
    "MultimodalOutput": (
        "GenerationOutput",
        "The output of the multimodal endpoint: the answer is always in `choices`.",
        {"choices": "list[MultimodalChoice]"},
    ),
    "MultimodalResponse": (
        "GenerationResponse",
        "A GenerationResponse of the multimodal endpoint.",
        {"output": "MultimodalOutput"},
    ),
    "MultimodalChunk": (
        "GenerationChunk",
        "A GenerationChunk of a multimodal stream.",
        {"output": "MultimodalOutput"},
    ),
}

# The (response, chunk) views `create()` returns: for every call (result_format None) or when
# result_format has the given value.
OPERATION_VIEWS: dict[tuple[str, str | None], tuple[str, str]] = {
    ("textGeneration", "message"): ("MessageGenerationResponse", "MessageGenerationChunk"),
    ("multimodalGeneration", None): ("MultimodalResponse", "MultimodalChunk"),
}


def available_views(spec: ir.Spec) -> dict[str, tuple[str, str, dict[str, str]]]:
    """The VIEWS this spec can express: their schema exists, and so does every view they name."""
    names = {s.name for s in spec.schemas}
    views: dict[str, tuple[str, str, dict[str, str]]] = {}
    for view, (base, doc, retyped) in VIEWS.items():
        named = {w for a in retyped.values() for w in re.findall(r"\w+", a) if w in VIEWS}
        if base in names and named <= set(views):
            views[view] = (base, doc, retyped)
    return views


def _union_members(annotations: Iterable[str]) -> list[str]:
    """The distinct members of the union of these annotations, in first-seen order."""
    members: list[str] = []
    for annotation in annotations:
        for member in annotation.split(" | "):
            if member not in members:
                members.append(member)
    return members


class TypeNames:
    """Python spellings of IR types, in the context of one spec."""

    def __init__(self, spec: ir.Spec) -> None:
        self.spec = spec
        self.by_name = {s.name: s for s in spec.schemas}

    def annotation(self, t: ir.TypeRef) -> str:
        """The attribute annotation of a decoded value (responses may carry raw dicts)."""
        base = self._annotation(t)
        return f"{base} | None" if t.nullable and base != "Any" else base

    def _annotation(self, t: ir.TypeRef) -> str:
        if t.kind in ("str", "int", "float", "bool"):
            if t.constraint.has_const:
                return f"Literal[{t.constraint.const!r}]"
            return t.kind
        if t.kind == "dict":
            return "dict[str, Any]"
        if t.kind == "list":
            assert t.items is not None
            return f"list[{self._annotation(t.items)}]"
        if t.kind == "ref":
            assert t.name is not None
            target = self.by_name[t.name]
            if target.is_union and target.discriminator is None:
                return f"{t.name} | dict[str, Any]"
            return t.name
        if t.kind == "union":
            parts = _union_members(self._annotation(v) for v in t.variants)
            if any(v.kind == "ref" for v in t.variants) and "dict[str, Any]" not in parts:
                parts.append("dict[str, Any]")
            return " | ".join(parts)
        return "Any"

    def param(self, t: ir.TypeRef) -> str:
        """The annotation of a keyword argument: classes or their TypedDict forms (`...Param`,
        see params_dicts.py), enums as Literal."""
        if t.kind == "str" and t.constraint.enum:
            return "Literal[" + ", ".join(repr(v) for v in t.constraint.enum) + "]"
        if t.kind == "float":
            return "float"
        if t.kind == "list":
            assert t.items is not None
            return f"Sequence[{self.param(t.items)}]"
        if t.kind == "ref":
            assert t.name is not None
            return f"{t.name} | {param_name(t.name)}"
        if t.kind == "dict" and t.items is not None:
            return f"Mapping[str, {self.param(t.items)}]"
        if t.kind == "union":
            return " | ".join(_union_members(self.param(v) for v in t.variants))
        return self._annotation(t)

    def optional(self, t: ir.TypeRef) -> str:
        """The annotation of a field that may be absent."""
        base = self.annotation(t)
        return base if base == "Any" or base.endswith(" | None") else f"{base} | None"

    def nested(self, t: ir.TypeRef) -> tuple[int, str] | None:
        """(list depth, name of the class or union decoder) of a field `from_dict` decodes into
        typed values, for locating a wrong shape; None for a field kept as received."""
        depth = 0
        while self.needs_decoding(t):
            lst = self._decoded_list(t)
            if lst is None:
                break
            assert lst.items is not None
            depth, t = depth + 1, lst.items
        if t.kind != "ref" or t.name is None:
            return None
        return depth, f"_decode_{t.name}" if self.by_name[t.name].is_union else t.name

    def needs_decoding(self, t: ir.TypeRef) -> bool:
        if t.kind == "ref":
            return True
        if t.kind == "list":
            assert t.items is not None
            return self.needs_decoding(t.items)
        return t.kind == "union" and any(self.needs_decoding(v) for v in t.variants)

    def decoder(self, t: ir.TypeRef) -> str:
        """An expression: a function that turns a wire object into the typed value (lists are
        decoded inline by `decode_field`)."""
        if t.kind == "ref":
            assert t.name is not None
            if self.by_name[t.name].is_union:
                return f"_decode_{t.name}"
            return f"{t.name}.from_dict"
        if t.kind == "union":
            names = ", ".join(str(v.name) for v in t.variants if v.kind == "ref")
            return f"_first_of(({names},))"
        raise ValueError(f"no object decoder for a {t.kind}")

    def _decoded_list(self, t: ir.TypeRef) -> ir.TypeRef | None:
        """The list type `decoder(t)` decodes as a list of items, or None when it does not."""
        if t.kind == "list":
            return t
        if t.kind == "union" and not any(v.kind == "ref" for v in t.variants):
            return next(v for v in t.variants if v.kind == "list" and self.needs_decoding(v))
        return None

    def decode_field(self, t: ir.TypeRef, var: str, none: str = "None", depth: int = 0) -> str:
        """An expression decoding the wire value `var` the way `decoder(t)` does (None becomes
        `none`, a non-list where a list is expected is kept as received), but straight-line: no
        helper call or closure per value on the decoding hot path."""
        lst = self._decoded_list(t)
        if lst is None:
            return f"{none} if {var} is None else {self.decoder(t)}({var})"
        assert lst.items is not None
        item = f"i{depth}" if depth else "i"
        inner = self._decode_item(lst.items, item, depth + 1)
        return f"[{inner} for {item} in {var}] if isinstance({var}, list) else {var}"

    def _decode_item(self, t: ir.TypeRef, var: str, depth: int) -> str:
        """A list item, decoded like a field (None included)."""
        if self._decoded_list(t) is None:
            return f"{self.decoder(t)}({var})"
        return f"({self.decode_field(t, var, depth=depth)})"


_CITATION = re.compile(r"^(?P<title>.+?) § (?P<section>.+) \((?P<url>https://\S+)\)$")


def cited_once_per_page(docs: tuple[str, ...]) -> str:
    """`Title § a, § b (address); Other § c (address)`: each page and address named once."""
    groups: dict[tuple[str, str], list[str]] = {}
    for text in docs:
        m = _CITATION.match(text)
        key = (m["title"], m["url"]) if m else (text, "")
        groups.setdefault(key, []).append(m["section"] if m else "")
    parts = []
    for (title, url), sections in groups.items():
        named = ", ".join(f"§ {s}" for s in sections if s)
        parts.append(f"{title} {named} ({url})" if url else title)
    return "; ".join(parts)


def docstring(text: str, indent: int, docs: tuple[str, ...] = ()) -> str:
    """A triple-quoted docstring body for `text`, with the docs citations last."""
    body = text.strip() or "(no description in the spec)"
    if docs:
        body += "\n\nDocs: " + cited_once_per_page(docs) + "."
    body = body.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    pad = " " * indent
    lines = body.splitlines()
    if len(lines) == 1 and len(lines[0]) + indent < 90:
        return f'"""{lines[0]}"""'
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(
            textwrap.wrap(line, 96 - indent, break_long_words=False, break_on_hyphens=False) or [""]
        )
    return (
        '"""'
        + wrapped[0]
        + "\n"
        + "\n".join(pad + w if w else "" for w in wrapped[1:])
        + "\n"
        + pad
        + '"""'
    )


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["docstring"] = docstring
    env.filters["py"] = repr
    return env


#: The repository's ruff settings (line length, first-party packages): the generated tree is
#: formatted as the tree it lives in, whatever directory the generator runs from.
RUFF_CONFIG = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _ruff(args: list[str], where: Path) -> None:
    command = [sys.executable, "-m", "ruff", *args]
    if RUFF_CONFIG.is_file():
        command += ["--config", str(RUFF_CONFIG)]
    proc = subprocess.run([*command, str(where)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ruff could not process the generated files:\n{proc.stderr}")


def ruff_format(files: dict[str, str]) -> dict[str, str]:
    """Drop unused imports, sort imports and format, with ruff: deterministic, like the tree.

    All Python files go through one `ruff check --fix` and one `ruff format` in a scratch
    directory (one process each, not two per file)."""
    python = {name: text for name, text in files.items() if name.endswith(".py")}
    if not python:
        return dict(files)
    with tempfile.TemporaryDirectory(prefix="codegen-ruff-") as scratch:
        root = Path(scratch)
        for name, text in python.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            _ruff(["check", "--fix", "--select", "F401,I", "--exit-zero", "-q"], root)
            _ruff(["format", "-q"], root)
        except RuntimeError as error:
            kept = Path(tempfile.mkdtemp(prefix="codegen-unformatted-"))
            for name, text in python.items():
                (kept / name).parent.mkdir(parents=True, exist_ok=True)
                (kept / name).write_text(text, encoding="utf-8")
            raise RuntimeError(f"{error} (the unformatted files are kept in {kept})") from None
        formatted = {name: (root / name).read_text(encoding="utf-8") for name in python}
    return {name: formatted.get(name, text) for name, text in files.items()}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def checks_context(spec: ir.Spec) -> dict[str, Any]:
    """The validators' source, written before the templates that place it: one body per type
    area (`_validation/<area>.py`) and the cross-field rules (`_validation/__init__.py`)."""
    writer = CheckWriter(spec)
    area = type_areas(spec)
    by_area: dict[str, list[str]] = {}
    for schema in request_schemas(spec):
        by_area.setdefault(area[schema.name], []).extend(["", "", *writer.schema(schema)])
    rules = dict(spec.rules)
    rule_lines: list[str] = []
    for name in sorted({op.parameters for op in spec.operations}):
        rule_lines += ["", "", *writer.rules(name, rules.get(name, ()))]
    return {
        "checks": writer,
        "checks_by_area": {
            name: "\n".join(by_area[name]) for name in TYPE_AREAS if name in by_area
        },
        "rules_source": "\n".join(rule_lines),
    }


_CHECK_CALL = re.compile(r"\b_check_([A-Za-z0-9]+)\(")


def _patterns_in(writer: CheckWriter, source: str) -> list[tuple[str, str]]:
    """The (variable, pattern) pairs a piece of validator source uses."""
    return sorted(
        (var, pattern)
        for pattern, var in writer.patterns.items()
        if re.search(rf"\b{var}\b", source)
    )


def validation_files(
    env: jinja2.Environment, spec: ir.Spec, header: str, context: dict[str, Any]
) -> dict[str, str]:
    """`_validation/<area>.py` per type area with request schemas, `_validation/operations.py`
    with the cross-field rules and one entry point per operation, and the package's `__init__`."""
    writer: CheckWriter = context["checks"]
    area = type_areas(spec)
    order = list(TYPE_AREAS)
    files: dict[str, str] = {}
    template = env.get_template("validation_area.py.j2")
    for name, source in context["checks_by_area"].items():
        defined = set(re.findall(r"^def _check_([A-Za-z0-9]+)\(", source, re.M))
        imports: dict[str, list[str]] = {}
        for called in sorted(set(_CHECK_CALL.findall(source)) - defined):
            assert order.index(area[called]) < order.index(name), (name, called)
            imports.setdefault(area[called], []).append(f"_check_{called}")
        files[f"_validation/{name}.py"] = header + template.render(
            area_doc=TYPE_AREAS[name],
            imports=imports,
            patterns=_patterns_in(writer, source),
            body=source,
        )
    entry_imports: dict[str, list[str]] = {}
    for op in spec.operations:
        wanted = entry_imports.setdefault(area[op.request], [])
        if f"_check_{op.request}" not in wanted:
            wanted.append(f"_check_{op.request}")
    files["_validation/operations.py"] = header + env.get_template("validation.py.j2").render(
        spec=spec,
        imports=entry_imports,
        patterns=_patterns_in(writer, context["rules_source"]),
        **context,
    )
    files["_validation/__init__.py"] = header + env.get_template("validation_init.py.j2").render(
        spec=spec, **context
    )
    return files


def schema_refs(schema: ir.Schema) -> set[str]:
    """The schemas `schema` refers to: fields, union variants and discriminator targets."""
    out: set[str] = set()
    for f in schema.fields:
        refs_of(f.type, out)
    for v in schema.variants:
        refs_of(v, out)
    if schema.discriminator:
        out.update(target for _, target in schema.discriminator.mapping)
    return out


def _closure(spec: ir.Spec, roots: Iterable[str]) -> set[str]:
    refs = {s.name: schema_refs(s) for s in spec.schemas}
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen and name in refs:
            seen.add(name)
            todo.extend(refs[name])
    return seen


def _refs(t: ir.TypeRef) -> set[str]:
    out: set[str] = set()
    refs_of(t, out)
    return out


def _field_types(spec: ir.Spec, schemas: Iterable[str], wire_name: str) -> set[str]:
    """The schemas that the field `wire_name` of these schemas refers to."""
    return {
        name
        for schema in schemas
        for f in spec.schema(schema).fields
        if f.wire_name == wire_name
        for name in _refs(f.type)
    }


def type_areas(spec: ir.Spec) -> dict[str, str]:
    """Each schema's area (a key of TYPE_AREAS): the first area whose roots reach it."""
    native = [op for op in spec.operations if op.wire == "native"]
    messages: set[str] = set()
    for op in native:
        refs_of(messages_type(spec, op), messages)
    answers = {op.response for op in native} | {op.chunk for op in native if op.chunk}
    roots = {
        "messages": messages,
        "options": {
            name
            for op in native
            for f in spec.schema(op.parameters).fields
            for name in _refs(f.type)
        },
        "params": {op.parameters for op in native} | {op.request for op in native},
        "usage": _field_types(spec, answers, "usage"),
        "output_details": {
            name
            for output in _field_types(spec, answers, "output")
            for f in spec.schema(output).fields
            if f.wire_name != "choices"
            for name in _refs(f.type)
        },
        "responses": answers,
        "compatible": {
            name
            for op in spec.operations
            if op.wire == "openai"
            for name in (op.request, op.response, op.chunk)
            if name
        },
    }
    area: dict[str, str] = {}
    for area_name, area_roots in roots.items():
        for reached in _closure(spec, area_roots):
            area.setdefault(reached, area_name)
    for schema in spec.schemas:
        area.setdefault(schema.name, "responses")
    return area


def dict_param_schemas(spec: ir.Spec) -> list[ir.Schema]:
    """The schemas a caller may give `create()` as plain dicts (messages, parts, options)."""
    roots: set[str] = set()
    for op in spec.operations:
        refs_of(messages_type(spec, op), roots)
        for f in operation_params(spec, op):
            refs_of(f.type, roots)
    reached = _closure(spec, roots)
    return [s for s in spec.schemas if s.name in reached]


def dict_params_files(
    spec: ir.Spec, header: str
) -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """`types/<area>_params.py`: the TypedDict forms, written by datamodel-code-generator."""
    docs = (
        '"""Plain-dict forms (TypedDict) of the request types a caller passes to `create()`,\n'
        "for type checkers: `UserMessageParam` is the dict form of `UserMessage`.\n\n"
        "Written by datamodel-code-generator from the spec's request schemas\n"
        '(codegen/python/params_dicts.py)."""\n'
    )
    header = header.replace(
        "rendered from codegen/python/templates", "written by datamodel-code-generator"
    )
    return params_files(dict_param_schemas(spec), type_areas(spec), header, docs)


def types_files(
    env: jinja2.Environment,
    spec: ir.Spec,
    header: str,
    context: dict[str, Any],
    extra_modules: Sequence[tuple[str, list[str]]] = (),
) -> dict[str, str]:
    """`types/<area>.py` per area that holds a schema, and `types/__init__.py` naming them all
    (and the `extra_modules`' names)."""
    area = type_areas(spec)
    by_name = {s.name: s for s in spec.schemas}
    order = list(TYPE_AREAS)
    files: dict[str, str] = {}
    modules: list[tuple[str, list[str]]] = []
    template = env.get_template("types.py.j2")
    for name in order:
        schemas = [s for s in spec.schemas if area[s.name] == name]
        if not schemas:
            continue
        imports: dict[str, list[str]] = {}
        for schema in schemas:
            for ref in sorted(schema_refs(schema)):
                if area[ref] != name:
                    assert order.index(area[ref]) < order.index(name), (schema.name, ref)
                    wanted = imports.setdefault(area[ref], [])
                    for imported in (ref, f"_decode_{ref}") if by_name[ref].is_union else (ref,):
                        if imported not in wanted:
                            wanted.append(imported)
        names = {s.name for s in schemas}
        views = {k: v for k, v in available_views(spec).items() if v[0] in names}
        text = template.render(
            spec=spec,
            schemas=schemas,
            views=views,
            area_doc=TYPE_AREAS[name],
            imports=imports,
            **context,
        )
        files[f"types/{name}.py"] = header + text
        modules.append((name, sorted([*names, *views])))
    modules += extra_modules
    init = env.get_template("types_init.py.j2").render(spec=spec, modules=modules)
    files["types/__init__.py"] = header + init
    return files


def resource_module(op: ir.Operation) -> str:
    """The module path of an operation's resource: `resources/chat/completions.py`."""
    return "resources/" + "/".join(op.resource) + ".py"


def resources_files(
    env: jinja2.Environment, spec: ir.Spec, header: str, context: dict[str, Any]
) -> dict[str, str]:
    """One module per resource, a package per namespace, and `resources/__init__.py`."""
    files: dict[str, str] = {}
    template = env.get_template("resources.py.j2")
    for op in spec.operations:
        up = "." * (len(op.resource) + 1)
        files[resource_module(op)] = header + template.render(spec=spec, op=op, up=up, **context)
    namespace = env.get_template("namespace.py.j2")
    for parent, children in context["resource_parents"].items():
        files[f"resources/{parent}/__init__.py"] = header + namespace.render(
            spec=spec, parent=parent, children=children, **context
        )
    init = env.get_template("resources_init.py.j2")
    files["resources/__init__.py"] = header + init.render(spec=spec, **context)
    return files


def refs_of(t: ir.TypeRef, out: set[str]) -> None:
    if t.kind == "ref" and t.name:
        out.add(t.name)
    if t.items:
        refs_of(t.items, out)
    for v in t.variants:
        refs_of(v, out)


def create_docstring(names: TypeNames, op: ir.Operation, params: tuple[ir.Field, ...]) -> str:
    lines = [op.summary or op.operation_id, ""]
    if op.description:
        lines += [op.description, ""]
    lines += [
        "Returns the typed response, or with `stream=True` a stream of typed chunks whose",
        "`delta` holds what each event adds and whose `get_final_response()` gives the whole answer.",
        "",
        "Args:",
        "    model: The model name, e.g. qwen-plus. Unknown models are sent as given.",
        "    messages: The conversation, as typed messages or plain dicts.",
        "    stream: Stream the answer as server-sent events.",
    ]
    for f in params:
        text = " ".join(f.description.split()) or "(no description in the spec)"
        if f.wire_name == "incremental_output" and op.wire == "native":
            text += (
                " When streaming and not given, the SDK sends true (the server's default is"
                " false) so that each event carries only new text. Where the model's mode"
                " allows only one value of a parameter (thinking mode on Qwen3 models takes"
                " only result_format='message' and incremental_output=true), the SDK sends"
                " that value when the call leaves it out."
            )
        lines.append(f"    {f.py_name}: {text}")
    lines += [
        "    extra_parameters: Parameters this SDK does not name yet, sent as given.",
        "    extra_headers: Headers added to this request.",
        "    timeout: Seconds or an httpx.Timeout for this call (each connect, write and",
        "        read; a stream's wait for its first byte too).",
        "    max_retries: Retries for this call (connection errors, 429, 5xx).",
        "    stream_idle_timeout: Seconds of silence after which a stream fails.",
        "    deadline: Seconds the whole call may take, retries and a stream's reading",
        "        included (default: none); past it, APITimeoutError.",
        '    validation: "strict", "warn" or "off" for this call.',
        '    upload: How local files travel: "auto" (inline up to 10 MB of base64, else',
        '        uploaded), "oss" (always uploaded) or "inline" (never uploaded).',
    ]
    return docstring("\n".join(lines), 8, op.docs)


def resources_context(spec: ir.Spec, names: TypeNames) -> dict[str, Any]:
    op_params = {op.operation_id: operation_params(spec, op) for op in spec.operations}
    used: dict[str, set[str]] = {}
    for op in spec.operations:
        names_used = used.setdefault(op.operation_id, set())
        dict_forms: set[str] = set()
        for f in op_params[op.operation_id]:
            refs_of(f.type, dict_forms)
        refs_of(messages_type(spec, op), dict_forms)
        names_used.update(dict_forms)
        names_used.update(param_name(name) for name in dict_forms)
        names_used.update({op.response, op.chunk or op.response})
    # The static types create() returns (views of OPERATION_VIEWS), for every call and per value
    # of a parameter: [(param, value, response, chunk)].
    response_type: dict[str, str] = {}
    chunk_type: dict[str, str] = {}
    format_views: dict[str, list[tuple[str, str, str, str]]] = {}
    views = available_views(spec)
    op_views = {k: v for k, v in OPERATION_VIEWS.items() if set(v) <= set(views)}
    for op in spec.operations:
        always = op_views.get((op.operation_id, None))
        response_type[op.operation_id] = always[0] if always else op.response
        chunk_type[op.operation_id] = always[1] if always else op.chunk or op.response
        format_views[op.operation_id] = [
            ("result_format", value, *views)
            for (op_id, value), views in op_views.items()
            if op_id == op.operation_id and value is not None
        ]
        used[op.operation_id].update({response_type[op.operation_id], chunk_type[op.operation_id]})
        for _, _, view_response, view_chunk in format_views[op.operation_id]:
            used[op.operation_id].update({view_response, view_chunk})
    op_class = {op.operation_id: pascal(op.resource[-1]) for op in spec.operations}
    parents: dict[str, list[tuple[str, ir.Operation]]] = {}
    attributes: list[tuple[str, str]] = []
    for op in spec.operations:
        if len(op.resource) == 2:
            parents.setdefault(op.resource[0], []).append((op.resource[1], op))
        else:
            attributes.append((op.resource[0], op_class[op.operation_id]))
    attributes += [(parent, pascal(parent)) for parent in parents]
    classes = sorted({t for _, t in attributes} | {"Async" + t for _, t in attributes})
    return {
        "op_params": op_params,
        "op_messages": {
            op.operation_id: names.param(messages_type(spec, op)) for op in spec.operations
        },
        "op_has_incremental": {
            k: any(f.wire_name == "incremental_output" for f in v) for k, v in op_params.items()
        },
        "op_docstring": {
            op.operation_id: create_docstring(names, op, op_params[op.operation_id])
            for op in spec.operations
        },
        "op_class": op_class,
        "op_response_type": response_type,
        "op_chunk_type": chunk_type,
        "op_format_views": format_views,
        "resource_parents": parents,
        "resource_types": {k: sorted(v) for k, v in used.items()},
        "resource_modules": {op.operation_id: ".".join(op.resource) for op in spec.operations},
        "client_attributes": attributes,
        "client_resource_classes": classes,
    }


def render(spec: ir.Spec, header: str, context: dict[str, Any]) -> dict[str, str]:
    env = environment()
    env.filters["snake"] = snake
    env.globals["dict"] = dict
    names = TypeNames(spec)
    response_schemas = {op.response for op in spec.operations}
    chunk_schemas = {op.chunk for op in spec.operations if op.chunk}
    context = {
        **context,
        **checks_context(spec),
        **resources_context(spec, names),
        "response_schemas": response_schemas,
        "chunk_schemas": chunk_schemas,
        "error_code_sets": error_code_sets(spec),
    }
    context["names"] = names
    files: dict[str, str] = {}
    for template, target in ARTEFACTS.items():
        text = env.get_template(template).render(spec=spec, **context)
        files[target] = header + text
    params, params_modules = dict_params_files(spec, header)
    files.update(params)
    files.update(types_files(env, spec, header, context, params_modules))
    files.update(validation_files(env, spec, header, context))
    files.update(resources_files(env, spec, header, context))
    return files
