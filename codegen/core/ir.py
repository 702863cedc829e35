"""The generator's intermediate representation: small frozen classes the templates read."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class DocsPage:
    """A docs page the spec cites: its public title and address, and the saved copy's name."""

    id: str
    title: str
    url: str | None
    file: str | None = None
    age: int | None = None
    aliases: tuple[str, ...] = ()


@attrs.frozen
class Citation:
    """One `x-docs` citation resolved: which page, which section, and how users see it."""

    page: str
    section: str
    title: str
    url: str | None
    lines: tuple[int, ...] = attrs.field(default=(), eq=False)

    @property
    def text(self) -> str:
        """`Title § section (address)`: what errors, docstrings and docs print."""
        out = self.title + (f" § {self.section}" if self.section else "")
        return out + (f" ({self.url})" if self.url else "")


@attrs.frozen
class Constraint:
    """Value rules of one field, as JSON Schema states them (None = no such rule)."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    enum: tuple[Any, ...] | None = None
    const: Any = None
    has_const: bool = False
    # `x-contains` on an array: some item must be an object with these key/value pairs.
    contains: tuple[tuple[str, Any], ...] | None = None

    @property
    def empty(self) -> bool:
        return self == Constraint()


@attrs.frozen
class TypeRef:
    """A field's type.

    kind: "str", "int", "float", "bool", "any", "dict" (free-form object), "ref" (a named
    schema), "list" (of `items`) or "union" (of `variants`). A "dict" whose values have a
    type (`additionalProperties: {type: ...}`) carries it as `items`.
    """

    kind: str
    name: str | None = None
    items: TypeRef | None = None
    variants: tuple[TypeRef, ...] = ()
    nullable: bool = False
    constraint: Constraint = Constraint()


@attrs.frozen
class Field:
    """One property of an object schema."""

    wire_name: str
    py_name: str
    type: TypeRef
    required: bool
    description: str
    docs: tuple[str, ...]
    default: Any = None
    has_default: bool = False
    line: int = 0


@attrs.frozen
class Discriminator:
    """Which property picks a union's variant, and the value -> schema name mapping."""

    property: str
    mapping: tuple[tuple[str, str], ...]


@attrs.frozen
class Schema:
    """A named schema: an object with fields, or a union of named schemas (`variants`)."""

    name: str
    description: str
    docs: tuple[str, ...]
    fields: tuple[Field, ...] = ()
    variants: tuple[TypeRef, ...] = ()
    discriminator: Discriminator | None = None
    closed: bool = False
    line: int = 0
    # `x-required-any`: at least one of these properties must be present.
    required_any: tuple[str, ...] = ()

    @property
    def is_union(self) -> bool:
        return bool(self.variants)

    @property
    def required_keys(self) -> tuple[str, ...]:
        return tuple(f.wire_name for f in self.fields if f.required)


@attrs.frozen
class Condition:
    """One side of a cross-field rule: `path` must satisfy `op` (present, absent, const,
    not_const, enum) against `value`."""

    path: str
    op: str
    value: Any = None


@attrs.frozen
class Rule:
    """A cross-field rule: when every `when` condition holds, every `then` must hold."""

    id: str
    when: tuple[Condition, ...]
    then: tuple[Condition, ...]
    message: str
    docs: tuple[str, ...]


@attrs.frozen
class Example:
    """A documented request body of an operation (`requestBody` `examples`): what it sends and
    the headers that go with it (`x-headers`, e.g. X-DashScope-SSE: enable for a stream)."""

    name: str
    summary: str
    description: str
    value: Any
    headers: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Operation:
    """One HTTP operation and the schemas the SDK binds to it."""

    operation_id: str
    resource: tuple[str, ...]
    method: str
    path: str
    server: str | None
    summary: str
    description: str
    docs: tuple[str, ...]
    wire: str
    request: str
    parameters: str
    response: str
    chunk: str | None
    endpoint: str
    examples: tuple[Example, ...] = ()
    # Error responses: (status or range such as "4XX", schema name), in spec order.
    errors: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class ModelFamily:
    """A row of the per-model table; the first row whose globs match a model applies."""

    family: str
    match: tuple[str, ...]
    endpoints: tuple[str, ...]
    thinking_mode: str | None
    thinking_default: bool | None
    streaming_only: bool
    defaults: tuple[tuple[str, Any], ...]
    defaults_thinking: tuple[tuple[str, Any], ...]
    defaults_non_thinking: tuple[tuple[str, Any], ...]
    supports: tuple[tuple[str, bool], ...]
    limits: tuple[tuple[str, Any], ...]
    docs: tuple[str, ...]
    # `x-streaming-only-when-thinking` / `x-supports-when-thinking`: apply when thinking is on.
    streaming_only_when_thinking: bool = False
    supports_when_thinking: tuple[tuple[str, bool], ...] = ()
    # `x-requires` / `x-requires-when-thinking`: the only value a parameter may take (in every
    # mode / when thinking is on); the SDK sends it when the call leaves the parameter out.
    requires: tuple[tuple[str, Any], ...] = ()
    requires_when_thinking: tuple[tuple[str, Any], ...] = ()


@attrs.frozen
class ErrorCode:
    """A row of `x-error-codes`: how an API error code maps to the SDK's error classes."""

    code: str
    status: int | None
    error: str
    retry: bool | None
    docs: tuple[str, ...]
    # "billing", "throttling" or "moderation": which classification the code answers yes to.
    kind: str | None = None
    # "exact" (case-insensitive), "prefix" (the code or `code.*`), "segment" (the code or the
    # last dotted segment of a code).
    match: str = "exact"
    # Message fragments that say the same when a response has no code (case-insensitive).
    messages: tuple[str, ...] = ()


@attrs.frozen
class MediaLimit:
    """An `x-media-limits` entry: a limit that applies where a family row names none."""

    name: str
    value: int | float
    docs: tuple[str, ...]


@attrs.frozen
class Spec:
    """Everything the templates need, in a fixed order."""

    file_name: str
    sha256: str
    title: str
    version: str
    description: str
    servers: tuple[tuple[str, str], ...]
    schemas: tuple[Schema, ...]
    operations: tuple[Operation, ...]
    rules: tuple[tuple[str, tuple[Rule, ...]], ...]
    families: tuple[ModelFamily, ...]
    pages: tuple[DocsPage, ...] = ()
    # Every distinct citation in the spec (any `x-docs`, not only those the IR keeps).
    citations: tuple[Citation, ...] = ()
    error_codes: tuple[ErrorCode, ...] = ()
    media_limits: tuple[MediaLimit, ...] = ()

    def schema(self, name: str) -> Schema:
        for schema in self.schemas:
            if schema.name == name:
                return schema
        raise KeyError(name)
