"""spec YAML -> `ir.Spec`, or every problem found, each as `file:line: message`."""

from __future__ import annotations

import hashlib
import keyword
import re
from pathlib import Path
from typing import Any

from . import ir
from .citations import Resolver, read_pages
from .yaml_lines import LineMap, YamlError, load_yaml

# operationId -> (resource path on the client, endpoint name used by the model tables)
RESOURCES: dict[str, tuple[tuple[str, ...], str]] = {
    "textGeneration": (("generation",), "text-generation"),
    "multimodalGeneration": (("multimodal",), "multimodal-generation"),
    "chatCompletions": (("chat", "completions"), "compatible"),
}

SCHEMA_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "default", "description", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "oneOf", "$ref",
    "discriminator", "title", "format", "examples", "example", "deprecated",
}  # fmt: skip
EXAMPLE_KEYWORDS = {"summary", "description", "value"}
CONDITION_OPS = ("present", "absent", "const", "not_const", "enum")
ERROR_KINDS = ("billing", "throttling", "moderation")
ERROR_MATCHES = ("exact", "prefix", "segment")
FAMILY_KEYS = {
    "family", "match", "endpoints", "thinking", "streaming_only", "defaults",
    "defaults_thinking", "defaults_non_thinking", "supports", "limits",
}  # fmt: skip
PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


class Problems:
    """Collects `file:line: message` lines so that all problems are reported at once."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.items: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.items.append((line, message))

    def lines(self) -> list[str]:
        return [f"{self.file_name}:{line}: {msg}" for line, msg in sorted(self.items)]


def _plain(value: Any) -> Any:
    """YAML data without the line bookkeeping: plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def docs_of(node: LineMap) -> tuple[str, ...]:
    value = node.get("x-docs")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", name) if part)


RESERVED_ATTRIBUTES = {"extra_fields", "from_dict", "to_dict"}


def py_identifier(wire_name: str) -> str:
    name = re.sub(r"\W", "_", wire_name)
    if name[:1].isdigit():
        name = "_" + name
    return name + "_" if keyword.iskeyword(name) or name in RESERVED_ATTRIBUTES else name


class _Builder:
    """Turns the YAML tree into IR; inline object schemas are hoisted into named ones."""

    def __init__(self, root: LineMap, problems: Problems, citations: Resolver) -> None:
        self.root = root
        self.problems = problems
        self.citations = citations
        components = root.get("components") or LineMap()
        self.raw_schemas: LineMap = components.get("schemas") or LineMap()
        self.schemas: dict[str, ir.Schema] = {}
        self.rules: dict[str, tuple[ir.Rule, ...]] = {}

    def docs(self, node: LineMap) -> tuple[str, ...]:
        """The node's `x-docs`, as users read them (page title, section, address)."""
        return self.citations.texts(docs_of(node), node.line_of("x-docs"))

    # schemas -------------------------------------------------------------

    def build_schemas(self) -> None:
        for name, node in self.raw_schemas.items():
            line = self.raw_schemas.line_of(name)
            if not isinstance(node, LineMap):
                self.problems.add(line, f"schema {name}: not a mapping")
                continue
            if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
                self.problems.add(line, f"schema {name}: name must be PascalCase")
            if not docs_of(node):
                self.problems.add(line, f"schema {name}: missing x-docs")
            self.build_named(name, node, self.docs(node))

    def build_named(self, name: str, node: LineMap, inherited_docs: tuple[str, ...]) -> None:
        self.check_keywords(node, name)
        docs = self.docs(node) or inherited_docs
        description = str(node.get("description", "")).strip()
        if "oneOf" in node:
            variants = tuple(
                self.type_of(v, f"{name}{i + 1}", docs) for i, v in enumerate(node["oneOf"])
            )
            self.schemas[name] = ir.Schema(
                name=name,
                description=description,
                docs=docs,
                variants=variants,
                discriminator=self.discriminator_of(node, name),
                line=node.line,
            )
            return
        kind = node.get("type", "object")
        if kind != "object":
            self.problems.add(node.line, f"schema {name}: named schemas must be objects or oneOf")
            return
        properties = node.get("properties") or LineMap()
        required = set(node.get("required") or ())
        for missing in sorted(required - set(properties)):
            self.problems.add(
                node.line_of("required"), f"{name}: required {missing!r} not in properties"
            )
        fields = []
        for wire_name, prop in properties.items():
            line = properties.line_of(wire_name)
            if not isinstance(prop, LineMap):
                self.problems.add(line, f"{name}.{wire_name}: not a mapping")
                continue
            self.check_keywords(prop, f"{name}.{wire_name}")
            field_docs = self.docs(prop) or docs
            typ = self.type_of(prop, name + pascal(wire_name), field_docs)
            fields.append(
                ir.Field(
                    wire_name=wire_name,
                    py_name=str(prop.get("x-python-name") or py_identifier(wire_name)),
                    type=typ,
                    required=wire_name in required,
                    description=str(prop.get("description", "")).strip(),
                    docs=field_docs,
                    default=prop.get("default"),
                    has_default="default" in prop,
                    line=line,
                )
            )
        if "x-rules" in node:
            self.rules[name] = self.rules_of(node["x-rules"], name, set(properties))
        self.schemas[name] = ir.Schema(
            name=name,
            description=description,
            docs=docs,
            fields=tuple(fields),
            closed=node.get("additionalProperties") is False,
            line=node.line,
            required_any=self.required_any_of(node, set(properties)),
        )

    def required_any_of(self, node: LineMap, names: set[str]) -> tuple[str, ...]:
        raw = node.get("x-required-any") or []
        keys = tuple(str(k) for k in raw)
        for key in keys:
            if key not in names:
                self.problems.add(
                    node.line_of("x-required-any"), f"x-required-any: {key!r} names no property"
                )
        return keys

    def check_keywords(self, node: LineMap, where: str) -> None:
        for key in node:
            if key not in SCHEMA_KEYWORDS and not key.startswith("x-"):
                self.problems.add(node.line_of(key), f"{where}: unsupported keyword {key!r}")

    def discriminator_of(self, node: LineMap, where: str) -> ir.Discriminator | None:
        disc = node.get("discriminator")
        if disc is None:
            return None
        mapping = []
        for value, ref in (disc.get("mapping") or {}).items():
            target = self.ref_name(ref, disc.line_of(value), where)
            if target:
                mapping.append((str(value), target))
        return ir.Discriminator(property=str(disc.get("propertyName")), mapping=tuple(mapping))

    def ref_name(self, ref: object, line: int, where: str) -> str | None:
        prefix = "#/components/schemas/"
        if not isinstance(ref, str) or not ref.startswith(prefix):
            self.problems.add(line, f"{where}: only $ref to {prefix}Name is supported")
            return None
        name = ref[len(prefix) :]
        if name not in self.raw_schemas:
            self.problems.add(line, f"{where}: $ref to unknown schema {name!r}")
            return None
        return name

    def type_of(self, node: Any, hoist_name: str, docs: tuple[str, ...]) -> ir.TypeRef:
        if not isinstance(node, LineMap):
            return ir.TypeRef(kind="any")
        constraint = self.constraint_of(node)
        if "$ref" in node:
            name = self.ref_name(node["$ref"], node.line_of("$ref"), hoist_name)
            return ir.TypeRef(kind="ref", name=name) if name else ir.TypeRef(kind="any")
        if "oneOf" in node:
            variants = tuple(
                self.type_of(v, f"{hoist_name}{i + 1}", docs) for i, v in enumerate(node["oneOf"])
            )
            return ir.TypeRef(kind="union", variants=variants, constraint=constraint)
        raw_type = node.get("type")
        nullable = False
        if isinstance(raw_type, list):
            nullable = "null" in raw_type
            kinds = [t for t in raw_type if t != "null"]
            if len(kinds) != 1:
                variants = tuple(self.type_of(LineMap(type=t), hoist_name, docs) for t in kinds)
                return ir.TypeRef(kind="union", variants=variants, nullable=nullable)
            raw_type = kinds[0]
        if raw_type is None and constraint.has_const:
            raw_type = type(constraint.const).__name__
            raw_type = {
                "str": "string",
                "int": "integer",
                "float": "number",
                "bool": "boolean",
            }.get(raw_type, raw_type)
        if raw_type in PRIMITIVES:
            return ir.TypeRef(kind=PRIMITIVES[raw_type], nullable=nullable, constraint=constraint)
        if raw_type == "array":
            items = self.type_of(node.get("items"), hoist_name + "Item", docs)
            return ir.TypeRef(kind="list", items=items, nullable=nullable, constraint=constraint)
        if raw_type == "object" or raw_type is None:
            if node.get("properties"):
                name = str(node.get("title") or hoist_name)
                if name in self.raw_schemas or name in self.schemas:
                    self.problems.add(node.line, f"inline schema name {name!r} is taken")
                else:
                    self.build_named(name, node, docs)
                return ir.TypeRef(kind="ref", name=name, nullable=nullable)
            values = node.get("additionalProperties")
            if raw_type == "object" and isinstance(values, LineMap):
                item = self.type_of(values, hoist_name + "Value", docs)
                return ir.TypeRef(kind="dict", items=item, nullable=nullable)
            return ir.TypeRef(kind="dict" if raw_type == "object" else "any", nullable=nullable)
        self.problems.add(node.line, f"{hoist_name}: unsupported type {raw_type!r}")
        return ir.TypeRef(kind="any")

    def constraint_of(self, node: LineMap) -> ir.Constraint:
        def num(key: str) -> float | None:
            value = node.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.problems.add(node.line_of(key), f"{key} must be a number")
                return None
            return value

        pattern = node.get("pattern")
        if pattern is not None:
            try:
                re.compile(str(pattern))
            except re.error as exc:
                self.problems.add(node.line_of("pattern"), f"invalid pattern: {exc}")
                pattern = None
        enum = node.get("enum")
        contains = node.get("x-contains")
        if contains is not None and not isinstance(contains, LineMap):
            self.problems.add(node.line_of("x-contains"), "x-contains must be a mapping")
            contains = None
        min_length, max_length = num("minLength"), num("maxLength")
        min_items, max_items = num("minItems"), num("maxItems")
        return ir.Constraint(
            minimum=num("minimum"),
            maximum=num("maximum"),
            exclusive_minimum=num("exclusiveMinimum"),
            exclusive_maximum=num("exclusiveMaximum"),
            min_length=None if min_length is None else int(min_length),
            max_length=None if max_length is None else int(max_length),
            pattern=None if pattern is None else str(pattern),
            min_items=None if min_items is None else int(min_items),
            max_items=None if max_items is None else int(max_items),
            enum=tuple(enum) if isinstance(enum, list) else None,
            const=node.get("const"),
            has_const="const" in node,
            contains=None if contains is None else tuple(contains.items()),
        )

    # rules ---------------------------------------------------------------

    def rules_of(self, raw: Any, where: str, names: set[str]) -> tuple[ir.Rule, ...]:
        rules = []
        if not isinstance(raw, list):
            self.problems.add(0, f"{where}: x-rules must be a list")
            return ()
        for entry in raw:
            if not isinstance(entry, LineMap):
                self.problems.add(0, f"{where}: x-rules entries must be mappings")
                continue
            for key in ("id", "if", "then", "message"):
                if key not in entry:
                    self.problems.add(entry.line, f"{where}: rule needs {key!r}")
            if not docs_of(entry):
                self.problems.add(entry.line, f"{where}: rule {entry.get('id')!r} needs x-docs")
            rules.append(
                ir.Rule(
                    id=str(entry.get("id")),
                    when=self.conditions_of(entry.get("if"), entry.line, names),
                    then=self.conditions_of(entry.get("then"), entry.line, names),
                    message=str(entry.get("message", "")),
                    docs=self.docs(entry),
                )
            )
        return tuple(rules)

    def conditions_of(self, raw: Any, line: int, names: set[str]) -> tuple[ir.Condition, ...]:
        if not isinstance(raw, LineMap):
            self.problems.add(line, "rule conditions must be a mapping of path -> condition")
            return ()
        out = []
        for path, cond in raw.items():
            steps = path.split(".")
            root = steps[1] if steps[0] == "$effective" and len(steps) > 1 else steps[0]
            if root != "$stream" and root not in names:
                self.problems.add(raw.line_of(path), f"rule path {path!r} names no parameter")
            if (
                not isinstance(cond, LineMap)
                or len(cond) != 1
                or next(iter(cond)) not in CONDITION_OPS
            ):
                self.problems.add(raw.line_of(path), f"condition must be one of {CONDITION_OPS}")
                continue
            op, value = next(iter(cond.items()))
            out.append(ir.Condition(path=path, op=op, value=value))
        return tuple(out)

    # operations ----------------------------------------------------------

    def build_operations(self) -> list[ir.Operation]:
        operations = []
        paths = self.root.get("paths") or LineMap()
        for path, item in paths.items():
            for method, op in item.items():
                if method not in ("get", "post", "put", "delete", "patch"):
                    continue
                built = self.operation_of(path, method, op)
                if built:
                    operations.append(built)
        return operations

    def operation_of(self, path: str, method: str, op: LineMap) -> ir.Operation | None:
        op_id = str(op.get("operationId"))
        if op_id not in RESOURCES:
            return None  # an operation the SDK does not bind (e.g. uploads)
        resource, endpoint = RESOURCES[op_id]
        if not docs_of(op):
            self.problems.add(op.line, f"operation {op_id}: missing x-docs")
        try:
            request_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        except (KeyError, TypeError):
            self.problems.add(op.line, f"operation {op_id}: needs an application/json $ref body")
            return None
        request = self.ref_name(request_ref, op.line, op_id)
        responses = op.get("responses") or LineMap()
        ok = (responses.get("200") or LineMap()).get("content") or LineMap()
        response = self.content_ref(ok, "application/json", op_id, op.line)
        chunk = (
            self.content_ref(ok, "text/event-stream", op_id, op.line)
            if "text/event-stream" in ok
            else None
        )
        if not request or not response:
            return None
        request_schema = self.raw_schemas[request]
        props = request_schema.get("properties") or LineMap()
        wire = "native" if "parameters" in props else "openai"
        if wire == "native":
            params = self.ref_name(
                props["parameters"].get("$ref"), props.line_of("parameters"), op_id
            )
        else:
            params = request
        servers = op.get("servers")
        body = op["requestBody"]["content"]["application/json"]
        errors = []
        for status, answer in responses.items():
            if str(status).startswith(("4", "5")) and isinstance(answer, LineMap):
                content = answer.get("content") or LineMap()
                ref = ((content.get("application/json") or {}).get("schema") or {}).get("$ref")
                errors.append((str(status), str(ref or "").rsplit("/", 1)[-1]))
        return ir.Operation(
            operation_id=op_id,
            resource=resource,
            method=method.upper(),
            path=path,
            server=str(servers[0]["url"]) if servers else None,
            summary=str(op.get("summary", "")).strip(),
            description=str(op.get("description", "")).strip(),
            docs=self.docs(op),
            wire=wire,
            request=request,
            parameters=params or request,
            response=response,
            chunk=chunk,
            endpoint=endpoint,
            examples=self.examples_of(body.get("examples"), op_id, body.line_of("examples")),
            errors=tuple(errors),
        )

    def examples_of(self, raw: Any, where: str, line: int) -> tuple[ir.Example, ...]:
        """The request-body examples: each needs a `summary` (citing its page) and a `value`."""
        if raw is None:
            return ()
        if not isinstance(raw, LineMap):
            self.problems.add(line, f"{where}: examples must be a mapping of name -> example")
            return ()
        out = []
        for name, node in raw.items():
            at = raw.line_of(name)
            if not isinstance(node, LineMap) or not isinstance(node.get("value"), dict):
                self.problems.add(at, f"{where} example {name}: needs a mapping `value`")
                continue
            for key in node:
                if key not in EXAMPLE_KEYWORDS and not key.startswith("x-"):
                    self.problems.add(node.line_of(key), f"{where} example {name}: unsupported "
                                      f"keyword {key!r}")  # fmt: skip
            if not str(node.get("summary", "")).strip():
                self.problems.add(at, f"{where} example {name}: needs a summary citing its page")
            headers = node.get("x-headers") or {}
            out.append(
                ir.Example(
                    name=str(name),
                    summary=str(node.get("summary", "")).strip(),
                    description=str(node.get("description", "")).strip(),
                    value=_plain(node["value"]),
                    headers=tuple((str(k), str(v)) for k, v in headers.items()),
                )
            )
        return tuple(out)

    def content_ref(self, content: LineMap, media: str, where: str, line: int) -> str | None:
        try:
            return self.ref_name(content[media]["schema"]["$ref"], line, f"{where} {media}")
        except (KeyError, TypeError):
            self.problems.add(line, f"{where}: 200 {media} needs a schema $ref")
            return None

    # error codes ---------------------------------------------------------

    def build_error_codes(self) -> list[ir.ErrorCode]:
        """The optional top-level `x-error-codes` list: {code, status, error, retry, x-docs}."""
        out = []
        for row in self.root.get("x-error-codes") or []:
            if not isinstance(row, LineMap) or "code" not in row or "error" not in row:
                self.problems.add(getattr(row, "line", 0), "x-error-codes rows need code, error")
                continue
            status = row.get("status")
            retry = row.get("retry")
            kind = row.get("kind")
            match = row.get("match", "exact")
            messages = row.get("messages") or []
            line = getattr(row, "line", 0)
            if kind is not None and kind not in ERROR_KINDS:
                self.problems.add(line, f"x-error-codes {row['code']}: kind must be one of"
                                  f" {', '.join(ERROR_KINDS)}, not {kind!r}")  # fmt: skip
            if match not in ERROR_MATCHES:
                self.problems.add(line, f"x-error-codes {row['code']}: match must be one of"
                                  f" {', '.join(ERROR_MATCHES)}, not {match!r}")  # fmt: skip
            if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
                self.problems.add(line, f"x-error-codes {row['code']}: messages must be strings")
                messages = []
            out.append(
                ir.ErrorCode(
                    code=str(row["code"]),
                    status=status if isinstance(status, int) else None,
                    error=str(row["error"]),
                    retry=retry if isinstance(retry, bool) else None,
                    docs=self.docs(row),
                    kind=kind if kind in ERROR_KINDS else None,
                    match=match if match in ERROR_MATCHES else "exact",
                    messages=tuple(messages),
                )
            )
        return out

    def build_media_limits(self) -> list[ir.MediaLimit]:
        """The optional top-level `x-media-limits` map: name -> {value, x-docs}."""
        out: list[ir.MediaLimit] = []
        raw = self.root.get("x-media-limits")
        if raw is None:
            return out
        if not isinstance(raw, LineMap):
            self.problems.add(getattr(raw, "line", 0), "x-media-limits must be a map")
            return out
        for name, entry in raw.items():
            value = entry.get("value") if isinstance(entry, LineMap) else None
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                line = getattr(entry, "line", getattr(raw, "line", 0))
                self.problems.add(line, f"x-media-limits {name}: needs a number `value`")
                continue
            out.append(ir.MediaLimit(str(name), value, self.docs(entry)))
        return out

    # model tables --------------------------------------------------------

    def build_families(self) -> list[ir.ModelFamily]:
        raw = self.root.get("x-model-families") or []
        families = []
        for row in raw:
            if not isinstance(row, LineMap):
                self.problems.add(0, "x-model-families rows must be mappings")
                continue
            for key in row:
                if key not in FAMILY_KEYS and not key.startswith("x-"):
                    self.problems.add(row.line_of(key), f"family: unknown key {key!r}")
            if "family" not in row or "match" not in row:
                self.problems.add(row.line, "family rows need 'family' and 'match'")
                continue
            if not docs_of(row):
                self.problems.add(row.line, f"family {row['family']}: missing x-docs")
            thinking = row.get("thinking") or {}
            families.append(
                ir.ModelFamily(
                    family=str(row["family"]),
                    match=tuple(str(m).lower() for m in row["match"]),
                    endpoints=tuple(row.get("endpoints") or ()),
                    thinking_mode=thinking.get("mode"),
                    thinking_default=thinking.get("default"),
                    streaming_only=bool(row.get("streaming_only", False)),
                    defaults=tuple((row.get("defaults") or {}).items()),
                    defaults_thinking=tuple((row.get("defaults_thinking") or {}).items()),
                    defaults_non_thinking=tuple((row.get("defaults_non_thinking") or {}).items()),
                    supports=tuple((row.get("supports") or {}).items()),
                    limits=tuple((row.get("limits") or {}).items()),
                    docs=self.docs(row),
                    streaming_only_when_thinking=bool(
                        row.get("x-streaming-only-when-thinking", False)
                    ),
                    supports_when_thinking=tuple(
                        (row.get("x-supports-when-thinking") or {}).items()
                    ),
                    requires=tuple((row.get("x-requires") or {}).items()),
                    requires_when_thinking=tuple(
                        (row.get("x-requires-when-thinking") or {}).items()
                    ),
                )
            )
        if families and families[-1].match != ("*",):
            self.problems.add(
                0, "the last x-model-families row must match ['*'] (all other models)"
            )
        return families


def load(path: Path, *, strict_citations: bool = True) -> tuple[ir.Spec | None, list[str]]:
    """Read the spec at `path`: the IR when it is sound, else every problem as `file:line: ...`.

    Without `strict_citations` a citation of an unknown page (or a spec older than
    `x-docs-pages`) is kept as written instead of being a problem: for comparing old specs.
    """
    data = path.read_bytes()
    problems = Problems(path.as_posix())
    try:
        root = load_yaml(data.decode("utf-8"))
    except YamlError as exc:
        problems.add(exc.line, str(exc))
        return None, problems.lines()
    if not isinstance(root, LineMap):
        problems.add(1, "the spec must be a YAML mapping")
        return None, problems.lines()
    if not str(root.get("openapi", "")).startswith("3.1"):
        problems.add(root.line_of("openapi"), "openapi must be 3.1.x")
    if strict_citations or "x-docs-pages" in root:
        citations = Resolver(read_pages(root, problems))
    else:
        citations = Resolver({})
    if strict_citations:
        citations.check_tree(root, problems)
    builder = _Builder(root, problems, citations)
    builder.build_schemas()
    operations = builder.build_operations()
    families = builder.build_families()
    error_codes = builder.build_error_codes()
    media_limits = builder.build_media_limits()
    if problems.items:
        return None, problems.lines()
    info = root.get("info") or {}
    spec = ir.Spec(
        file_name=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        title=str(info.get("title", "")),
        version=str(info.get("version", "")),
        description=str(info.get("description", "")).strip(),
        servers=tuple(
            (str(s.get("x-region") or s.get("description") or ""), str(s["url"]))
            for s in root.get("servers") or ()
        ),
        schemas=tuple(builder.schemas[name] for name in sorted(builder.schemas)),
        operations=tuple(operations),
        rules=tuple(sorted(builder.rules.items())),
        families=tuple(families),
        pages=tuple(citations.pages.values()),
        citations=citations.citations(),
        error_codes=tuple(error_codes),
        media_limits=tuple(media_limits),
    )
    return spec, []
