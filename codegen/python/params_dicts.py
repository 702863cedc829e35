"""The `TypedDict` request types (`UserMessageParam`, `ToolParam`, ...) that type checkers hold
plain-dict arguments of `create()` to, written by datamodel-code-generator.

The back end derives one JSON Schema per type area from the IR (only what a caller passes as a
dict: messages, content parts, tools, options), writes it to a temporary folder and runs
`datamodel-codegen --output-model-type typing.TypedDict` on it with the templates in
`templates/datamodel/`. A nested object accepts the generated class or its dict form
(`ContentPart | ContentPartParam`), so `parts.text(...)` fits inside a dict message."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..core import ir
from ..core.cache import cached_text, directory_digest, has_text

TEMPLATE_DIR = Path(__file__).parent / "templates" / "datamodel"
ROOT_NAME = "SpecRoot"  # the unnamed root of each input schema; its template renders nothing
PACKAGE = "modelstudio"

# datamodel-codegen options; its version is pinned in pyproject.toml (dev extra)
OPTIONS = [
    "--input-file-type", "jsonschema",
    "--output-model-type", "typing.TypedDict",
    "--target-python-version", "3.10",
    "--use-union-operator",
    "--use-generic-container-types",
    "--enum-field-as-literal", "all",
    "--use-schema-description",
    "--use-field-description",
    "--keep-model-order",
    "--disable-timestamp",
    "--use-double-quotes",
    "--class-name", ROOT_NAME,
    "--formatters", "builtin",  # the back end formats every module with ruff afterwards
]  # fmt: skip

_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


def param_name(schema_name: str) -> str:
    return schema_name + "Param"


def module_of(area: str) -> str:
    """The module of an area's Params, relative to the package: `types/messages_params.py`."""
    return f"types/{area}_params.py"


class _SchemaWriter:
    """IR -> the JSON Schema datamodel-codegen reads, for the schemas of one area."""

    def __init__(self, area: str, area_of: dict[str, str]) -> None:
        self.area = area
        self.area_of = area_of

    def param_ref(self, name: str) -> dict[str, Any]:
        if self.area_of[name] == self.area:
            return {"$ref": f"#/$defs/{param_name(name)}"}
        module = module_of(self.area_of[name])[: -len(".py")].replace("/", ".")
        return {"customTypePath": f"{PACKAGE}.{module}.{param_name(name)}"}

    def type(self, t: ir.TypeRef) -> dict[str, Any]:
        schema = self._type(t)
        return {"anyOf": [schema, {"type": "null"}]} if t.nullable else schema

    def _type(self, t: ir.TypeRef) -> dict[str, Any]:
        c = t.constraint
        if c.has_const:
            return {"const": c.const}
        if t.kind in _JSON_TYPES:
            out: dict[str, Any] = {"type": _JSON_TYPES[t.kind]}
            if c.enum:
                out["enum"] = list(c.enum)
            return out
        if t.kind == "dict":
            values: Any = self.type(t.items) if t.items else True
            return {"type": "object", "additionalProperties": values}
        if t.kind == "list":
            assert t.items is not None
            return {"type": "array", "items": self.type(t.items)}
        if t.kind == "ref":
            assert t.name is not None
            module = f"{PACKAGE}.types.{self.area_of[t.name]}"
            # the generated class, or its dict form
            return {"anyOf": [{"customTypePath": f"{module}.{t.name}"}, self.param_ref(t.name)]}
        if t.kind == "union":
            return {"anyOf": [self.type(v) for v in t.variants]}
        return {}

    def schema(self, schema: ir.Schema) -> dict[str, Any]:
        description = " ".join(schema.description.split())
        if schema.is_union:
            # the union of the variants' dict forms; use sites add the classes
            variants = [self.param_ref(str(v.name)) for v in schema.variants if v.kind == "ref"]
            variants += [self.type(v) for v in schema.variants if v.kind != "ref"]
            return {"description": description, "anyOf": variants}
        properties = {}
        for f in schema.fields:
            prop = self.type(f.type)
            text = " ".join(f.description.split())
            if text:
                prop = {**prop, "description": text}
            properties[f.wire_name] = prop
        return {
            "type": "object",
            "description": description,
            "properties": properties,
            "required": [f.wire_name for f in schema.fields if f.required],
        }


def json_schemas(schemas: list[ir.Schema], area_of: dict[str, str]) -> dict[str, dict[str, Any]]:
    """area -> the JSON Schema of its Params (only `$defs`; the root is not rendered)."""
    out: dict[str, dict[str, Any]] = {}
    for schema in schemas:
        area = area_of[schema.name]
        writer = _SchemaWriter(area, area_of)
        defs = out.setdefault(area, {"$defs": {}})["$defs"]
        defs[param_name(schema.name)] = writer.schema(schema)
    return out


_IMPORT_FIX = (
    # NotRequired is in `typing` only from 3.11; annotations are strings (PEP 563), so type
    # checkers read it from typing_extensions (bundled with them) and the runtime never needs it
    (
        re.compile(r"^from typing_extensions import NotRequired\n", re.M),
        "from typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from typing_extensions import NotRequired\n",
    ),
    # the package imports itself relatively, like every other generated module
    (re.compile(rf"^from {PACKAGE}\.types\.", re.M), "from ."),
)


def _datamodel_codegen_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("datamodel-code-generator")
    except PackageNotFoundError:
        return "unknown"


def _run(schemas: dict[str, str], header: str) -> dict[str, str]:
    """area -> datamodel-codegen's module for that JSON Schema text (one process per area, in
    parallel)."""
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="codegen-params-") as tmp:
        procs: dict[str, tuple[subprocess.Popen[str], Path]] = {}
        for area, schema in schemas.items():
            source = Path(tmp) / f"{area}_params.json"
            target = Path(tmp) / f"{area}_params.py"
            source.write_text(schema, encoding="utf-8")
            args = [
                sys.executable, "-m", "datamodel_code_generator",
                "--input", str(source), "--output", str(target), *OPTIONS,
                "--custom-template-dir", str(TEMPLATE_DIR),
                "--custom-file-header", header.rstrip("\n"),
            ]  # fmt: skip
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs[area] = (proc, target)
        for area, (proc, target) in procs.items():
            _, stderr = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"datamodel-codegen failed on the {area} Params:\n{stderr}")
            out[area] = target.read_text(encoding="utf-8")
    return out


def run_datamodel_codegen(schemas: dict[str, dict[str, Any]], header: str) -> dict[str, str]:
    """area -> the module datamodel-codegen writes for that JSON Schema.

    Its output depends only on its version, options, templates, the header and the schema, so
    it is cached under that key (`codegen/core/cache.py`): an unchanged area costs no process."""
    texts = {area: json.dumps(schema, indent=1) for area, schema in schemas.items()}
    common = [
        _datamodel_codegen_version(),
        sys.version.split()[0],
        *OPTIONS,
        directory_digest(TEMPLATE_DIR),
        header,
    ]
    keys = {area: [*common, area, text] for area, text in texts.items()}
    missing = {area: text for area, text in texts.items() if not has_text("datamodel", keys[area])}
    fresh = _run(missing, header) if missing else {}

    out: dict[str, str] = {}
    for area in texts:

        def compute(area: str = area) -> str:
            return fresh[area] if area in fresh else _run({area: texts[area]}, header)[area]

        text = cached_text("datamodel", keys[area], compute)
        for pattern, replacement in _IMPORT_FIX:
            text = pattern.sub(replacement, text)
        out[area] = text
    return out


def params_files(
    schemas: list[ir.Schema], area_of: dict[str, str], header: str, docs: str
) -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """The Params modules of these schemas (path -> source) and the names each defines."""
    by_area = json_schemas(schemas, area_of)
    modules = run_datamodel_codegen(by_area, header + docs)
    files: dict[str, str] = {}
    names: list[tuple[str, list[str]]] = []
    for area, text in modules.items():
        files[module_of(area)] = text
        names.append((f"{area}_params", sorted(by_area[area]["$defs"])))
    return files, names
