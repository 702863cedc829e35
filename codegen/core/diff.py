"""What changed between two specs, and whether it breaks a caller: a comparison of two IRs.

Every change has a severity, after oasdiff's rules plus what no OpenAPI tool sees (per-model
rows, cross-field rules, error codes):
- breaking: a caller's working request or code can stop working (a field, operation or server
  removed; a new required field; a request enum value removed; a request bound tightened; a
  response field removed, made optional or nullable; a new rule; a support flag turned off; a
  limit tightened; an error code mapped to another class);
- behaviour: the same call now behaves differently (a default, a thinking mode, which row applies
  to a model, a response enum value added, a retry decision);
- additive: something new that breaks no one (an optional field, an enum value, a looser bound);
- documentation: descriptions and citations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from fnmatch import fnmatchcase
from typing import Any, TypeVar

import attrs

from . import ir

BREAKING, BEHAVIOUR, ADDITIVE, DOCUMENTATION = "breaking", "behaviour", "additive", "documentation"
SEVERITIES = (BREAKING, BEHAVIOUR, ADDITIVE, DOCUMENTATION)
REQUEST, RESPONSE = "request", "response"
T = TypeVar("T")


@attrs.frozen
class Change:
    """One difference: its severity, a stable `kind`, where it is, and a sentence saying it."""

    severity: str
    kind: str
    where: str
    message: str
    models: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "where": self.where, "message": self.message}
        if self.models:
            out["models"] = list(self.models)
        return out


@attrs.frozen
class Report:
    old_version: str
    new_version: str
    changes: tuple[Change, ...]

    @property
    def breaking(self) -> bool:
        return any(c.severity == BREAKING for c in self.changes)

    def by_severity(self, severity: str) -> list[Change]:
        return [c for c in self.changes if c.severity == severity]

    def major_raised(self) -> bool:
        return _major(self.new_version) > _major(self.old_version)

    def to_json(self) -> dict[str, Any]:
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "breaking": self.breaking,
            "changes": {s: [c.to_json() for c in self.by_severity(s)] for s in SEVERITIES},
        }

    def to_text(self, *, limit: int = 40) -> str:
        """The report in words; past `limit` lines a group is summarised by kind."""
        if not self.changes:
            return "No contract change."
        version = (
            f"info.version {self.old_version} -> {self.new_version}"
            if self.old_version != self.new_version
            else f"info.version {self.new_version} (unchanged)"
        )
        lines = [f"Contract changes ({len(self.changes)}; {version}):"]
        for severity in SEVERITIES:
            changes = self.by_severity(severity)
            if not changes:
                continue
            lines.append(f"{severity.capitalize()} ({len(changes)}):")
            lines.extend(f"  - {c.where}: {c.message}" for c in changes[:limit])
            if len(changes) > limit:
                rest: dict[str, int] = {}
                for c in changes[limit:]:
                    rest[c.kind] = rest.get(c.kind, 0) + 1
                kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(rest.items()))
                lines.append(f"  ... and {len(changes) - limit} more ({kinds}; --json lists all)")
        return "\n".join(lines)


def _major(version: str) -> int:
    head = version.strip().lstrip("v").split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def diff(old: ir.Spec, new: ir.Spec) -> Report:
    """Every contract change from `old` to `new`, in a fixed order."""
    changes: list[Change] = []
    changes += _info(old, new)
    changes += _servers(old, new)
    changes += _operations(old, new)
    changes += _schemas(old, new)
    changes += _rules(old, new)
    changes += _families(old, new)
    changes += _error_codes(old, new)
    changes += _media_limits(old, new)
    return Report(old.version, new.version, tuple(changes))


# info, servers, operations ------------------------------------------------------------------


def _info(old: ir.Spec, new: ir.Spec) -> Iterator[Change]:
    for name in ("title", "description"):
        if getattr(old, name) != getattr(new, name):
            yield Change(DOCUMENTATION, f"info-{name}-changed", "info", f"{name} changed")
    old_pages = {p.id: p for p in old.pages}
    for page in new.pages:
        before = old_pages.get(page.id)
        if before is None:
            yield Change(DOCUMENTATION, "docs-page-added", f"x-docs-pages.{page.id}",
                         f"cites a new page: {page.title}")  # fmt: skip
        elif (before.title, before.url) != (page.title, page.url):
            yield Change(DOCUMENTATION, "docs-page-changed", f"x-docs-pages.{page.id}",
                         f"title or address changed: {page.title} ({page.url})")  # fmt: skip
    for page_id in sorted(set(old_pages) - {p.id for p in new.pages}):
        yield Change(DOCUMENTATION, "docs-page-removed", f"x-docs-pages.{page_id}",
                     "no longer cited")  # fmt: skip


def _servers(old: ir.Spec, new: ir.Spec) -> Iterator[Change]:
    old_urls = {url: name for name, url in old.servers}
    new_urls = {url: name for name, url in new.servers}
    for url in new_urls:
        if url not in old_urls:
            yield Change(ADDITIVE, "server-added", f"servers {url}", "server added")
        elif old_urls[url] != new_urls[url]:
            yield Change(DOCUMENTATION, "server-renamed", f"servers {url}",
                         f"region name {old_urls[url]!r} -> {new_urls[url]!r}")  # fmt: skip
    for url in old_urls:
        if url not in new_urls:
            yield Change(BREAKING, "server-removed", f"servers {url}",
                         "server removed: clients configured with it lose their endpoint")  # fmt: skip


def _op_name(op: ir.Operation) -> str:
    return f"{op.operation_id} ({op.method} {op.path})"


def _operations(old: ir.Spec, new: ir.Spec) -> Iterator[Change]:
    before = {op.operation_id: op for op in old.operations}
    after = {op.operation_id: op for op in new.operations}
    for op_id, op in after.items():
        if op_id not in before:
            yield Change(ADDITIVE, "operation-added", _op_name(op),
                         f"new operation client.{'.'.join(op.resource)}.create()")  # fmt: skip
            continue
        was = before[op_id]
        where = _op_name(op)
        if (was.method, was.path) != (op.method, op.path):
            yield Change(BREAKING, "operation-moved", where,
                         f"was {was.method} {was.path}")  # fmt: skip
        if was.server != op.server:
            yield Change(BEHAVIOUR, "operation-server-changed", where,
                         f"server {was.server} -> {op.server}")  # fmt: skip
        if was.resource != op.resource:
            yield Change(BREAKING, "operation-resource-changed", where,
                         f"client.{'.'.join(was.resource)} -> client.{'.'.join(op.resource)}")  # fmt: skip
        for label, a, b in (("request", was.request, op.request),
                            ("parameters", was.parameters, op.parameters),
                            ("response", was.response, op.response)):  # fmt: skip
            if a != b:
                yield Change(BREAKING, f"operation-{label}-schema-changed", where,
                             f"{label} schema {a} -> {b}")  # fmt: skip
        if was.chunk and not op.chunk:
            yield Change(BREAKING, "operation-stream-removed", where, "no longer streams")
        elif op.chunk and not was.chunk:
            yield Change(ADDITIVE, "operation-stream-added", where, f"streams {op.chunk} chunks")
        elif was.chunk != op.chunk:
            yield Change(BREAKING, "operation-chunk-schema-changed", where,
                         f"chunk schema {was.chunk} -> {op.chunk}")  # fmt: skip
        old_errors, new_errors = dict(was.errors), dict(op.errors)
        for status in sorted(set(old_errors) | set(new_errors)):
            body_was, body_now = old_errors.get(status), new_errors.get(status)
            if body_was != body_now:
                yield Change(BREAKING if body_was and body_now else BEHAVIOUR,
                             "operation-error-changed", where,
                             f"{status} error body {body_was or 'none'} -> {body_now or 'none'}")  # fmt: skip
        if (was.summary, was.description) != (op.summary, op.description):
            yield Change(DOCUMENTATION, "operation-description-changed", where,
                         "summary or description changed")  # fmt: skip
        if was.docs != op.docs:
            yield Change(DOCUMENTATION, "operation-docs-changed", where, "citations changed")
    for op_id, op in before.items():
        if op_id not in after:
            yield Change(BREAKING, "operation-removed", _op_name(op),
                         f"client.{'.'.join(op.resource)}.create() removed")  # fmt: skip


# schemas and fields -------------------------------------------------------------------------


def _refs(t: ir.TypeRef | None) -> Iterator[str]:
    if t is None:
        return
    if t.kind == "ref" and t.name:
        yield t.name
    yield from _refs(t.items)
    for v in t.variants:
        yield from _refs(v)


def _reachable(spec: ir.Spec, roots: Iterable[str]) -> set[str]:
    names = {s.name for s in spec.schemas}
    seen: set[str] = set()
    todo = [r for r in roots if r in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        schema = spec.schema(name)
        for t in (*(f.type for f in schema.fields), *schema.variants):
            todo.extend(r for r in _refs(t) if r in names and r not in seen)
        if schema.discriminator:
            todo.extend(n for _, n in schema.discriminator.mapping if n in names)
    return seen


def schema_roles(spec: ir.Spec) -> dict[str, set[str]]:
    """Which side each schema is on: reachable from a request, a response (or chunk, or error
    body), or both."""
    requests = _reachable(spec, [op.request for op in spec.operations])
    answers = [op.response for op in spec.operations] + [
        op.chunk for op in spec.operations if op.chunk
    ]
    answers += [name for op in spec.operations for _, name in op.errors]
    responses = _reachable(spec, answers)
    roles: dict[str, set[str]] = {}
    for name in requests:
        roles.setdefault(name, set()).add(REQUEST)
    for name in responses:
        roles.setdefault(name, set()).add(RESPONSE)
    return roles


def _type_text(t: ir.TypeRef) -> str:
    """The type without its value rules (those are compared separately)."""
    if t.kind == "ref":
        out = str(t.name)
    elif t.kind == "list":
        out = f"list[{_type_text(t.items) if t.items else 'any'}]"
    elif t.kind == "union":
        out = " | ".join(_type_text(v) for v in t.variants)
    else:
        out = t.kind
    return out


def _members(t: ir.TypeRef) -> set[str]:
    if t.kind == "union":
        return {m for v in t.variants for m in _members(v)}
    members = {_type_text(t)}
    if t.kind == "int":
        members.add("int")
    return members


def _widens(old: ir.TypeRef, new: ir.TypeRef) -> bool:
    """Whether every value of `old` is a value of `new` (int -> float, a new union member)."""
    old_m, new_m = _members(old), _members(new)
    if "any" in new_m:
        return True
    if "float" in new_m:
        new_m = new_m | {"int"}
    return old_m <= new_m


@attrs.frozen
class _Side:
    """What a field's change means on the side it is on (a request or a response schema)."""

    request: bool
    response: bool

    def worst(self, on_request: str, on_response: str) -> str:
        picks = ([on_request] if self.request else []) + ([on_response] if self.response else [])
        return min(picks or [on_request], key=SEVERITIES.index)


def _schemas(old: ir.Spec, new: ir.Spec) -> Iterator[Change]:
    old_roles, new_roles = schema_roles(old), schema_roles(new)
    before = {s.name: s for s in old.schemas}
    after = {s.name: s for s in new.schemas}
    for name in sorted(set(before) | set(after)):
        roles = old_roles.get(name, set()) | new_roles.get(name, set())
        side = _Side(REQUEST in roles, RESPONSE in roles)
        label = "/".join(sorted(roles)) or "unused"
        a, b = before.get(name), after.get(name)
        if a is None and b is not None:
            yield Change(ADDITIVE, "schema-added", name, f"new {label} type")
        elif b is None and a is not None:
            yield Change(BREAKING, "schema-removed", name, f"{label} type removed")
        elif a is not None and b is not None:
            yield from _schema(a, b, side)


def _schema(a: ir.Schema, b: ir.Schema, side: _Side) -> Iterator[Change]:
    name = a.name
    if a.closed != b.closed and side.request:
        yield Change(BREAKING if b.closed else ADDITIVE, "schema-closed-changed", name,
                     "unknown keys are now rejected" if b.closed else "unknown keys now accepted")  # fmt: skip
    if a.is_union or b.is_union:
        old_t = ir.TypeRef(kind="union", variants=a.variants)
        new_t = ir.TypeRef(kind="union", variants=b.variants)
        if _type_text(old_t) != _type_text(new_t):
            wider = _widens(old_t, new_t)
            yield Change(side.worst(ADDITIVE if wider else BREAKING,
                                    BEHAVIOUR if wider else ADDITIVE),
                         "union-variants-changed", name,
                         f"variants {_type_text(old_t)} -> {_type_text(new_t)}")  # fmt: skip
    old_map = dict(a.discriminator.mapping) if a.discriminator else {}
    new_map = dict(b.discriminator.mapping) if b.discriminator else {}
    for value in sorted(set(old_map) - set(new_map)):
        yield Change(side.worst(BREAKING, DOCUMENTATION), "discriminator-value-removed", name,
                     f"kind {value!r} removed")  # fmt: skip
    for value in sorted(set(new_map) - set(old_map)):
        yield Change(side.worst(ADDITIVE, BEHAVIOUR), "discriminator-value-added", name,
                     f"new kind {value!r}")  # fmt: skip
    if a.description != b.description:
        yield Change(DOCUMENTATION, "schema-description-changed", name, "description changed")
    if a.docs != b.docs:
        yield Change(DOCUMENTATION, "schema-docs-changed", name, "citations changed")
    old_fields = {f.wire_name: f for f in a.fields}
    new_fields = {f.wire_name: f for f in b.fields}
    for wire, f in new_fields.items():
        where = f"{name}.{wire}"
        if wire not in old_fields:
            if f.required:
                yield Change(side.worst(BREAKING, ADDITIVE), "field-added-required", where,
                             f"new required field ({_type_text(f.type)})")  # fmt: skip
            else:
                yield Change(ADDITIVE, "field-added", where,
                             f"new optional field ({_type_text(f.type)}"
                             + (f", default {f.default!r})" if f.has_default else ")"))  # fmt: skip
            continue
        yield from _field(old_fields[wire], f, where, side)
    for wire in old_fields:
        if wire not in new_fields:
            yield Change(BREAKING, "field-removed", f"{name}.{wire}",
                         "field removed" + (" from the request" if side.request else ""))  # fmt: skip


def _field(a: ir.Field, b: ir.Field, where: str, side: _Side) -> Iterator[Change]:
    if a.required != b.required:
        if b.required:
            yield Change(side.worst(BREAKING, ADDITIVE), "field-made-required", where,
                         "now required")  # fmt: skip
        else:
            yield Change(side.worst(ADDITIVE, BREAKING), "field-made-optional", where,
                         "now optional" + (": readers must handle its absence"
                                           if side.response else ""))  # fmt: skip
    if _type_text(a.type) != _type_text(b.type):
        wider = _widens(a.type, b.type)
        narrower = _widens(b.type, a.type)
        yield Change(side.worst(ADDITIVE if wider else BREAKING,
                                ADDITIVE if narrower else BREAKING),
                     "field-retyped", where,
                     f"type {_type_text(a.type)} -> {_type_text(b.type)}")  # fmt: skip
    if a.type.nullable != b.type.nullable:
        if b.type.nullable:
            yield Change(side.worst(ADDITIVE, BREAKING), "field-made-nullable", where,
                         "may now be null")  # fmt: skip
        else:
            yield Change(side.worst(BREAKING, ADDITIVE), "field-made-non-nullable", where,
                         "may no longer be null")  # fmt: skip
    yield from _constraints(a.type, b.type, where, side)
    if (a.has_default, a.default) != (b.has_default, b.default):
        old = repr(a.default) if a.has_default else "none"
        new = repr(b.default) if b.has_default else "none"
        yield Change(BEHAVIOUR, "default-changed", where, f"default {old} -> {new}")
    if a.description != b.description:
        yield Change(DOCUMENTATION, "field-description-changed", where, "description changed")
    if a.docs != b.docs:
        yield Change(DOCUMENTATION, "field-docs-changed", where, "citations changed")


def _constraints(a: ir.TypeRef, b: ir.TypeRef, where: str, side: _Side) -> Iterator[Change]:
    """Value rules of a field and of its list items (`where[]`)."""
    ca, cb = a.constraint, b.constraint
    if ca.enum is not None or cb.enum is not None:
        old_values = list(ca.enum or ())
        new_values = list(cb.enum or ())
        removed = [v for v in old_values if v not in new_values]
        added = [v for v in new_values if v not in old_values]
        if cb.enum is None:
            yield Change(side.worst(ADDITIVE, BEHAVIOUR), "enum-removed", where,
                         "any value now accepted (was an enum)")  # fmt: skip
        elif ca.enum is None:
            yield Change(side.worst(BREAKING, DOCUMENTATION), "enum-added", where,
                         f"now limited to {new_values!r}")  # fmt: skip
        else:
            if removed:
                yield Change(side.worst(BREAKING, DOCUMENTATION), "enum-value-removed", where,
                             f"value(s) {', '.join(map(repr, removed))} removed")  # fmt: skip
            if added:
                yield Change(side.worst(ADDITIVE, BEHAVIOUR), "enum-value-added", where,
                             f"new value(s) {', '.join(map(repr, added))}")  # fmt: skip
    if (ca.has_const, ca.const) != (cb.has_const, cb.const):
        yield Change(side.worst(BREAKING, BEHAVIOUR), "const-changed", where,
                     f"fixed value {ca.const!r} -> {cb.const!r}")  # fmt: skip
    if ca.pattern != cb.pattern:
        yield Change(side.worst(BREAKING, DOCUMENTATION), "pattern-changed", where,
                     f"pattern {ca.pattern!r} -> {cb.pattern!r}")  # fmt: skip
    yield from _bound(where, side, "minimum", _lower(ca), _lower(cb), lower=True)
    yield from _bound(where, side, "maximum", _upper(ca), _upper(cb), lower=False)
    for key, is_lower in (("min_length", True), ("max_length", False),
                          ("min_items", True), ("max_items", False)):  # fmt: skip
        old, new = getattr(ca, key), getattr(cb, key)
        yield from _bound(
            where, side, key.replace("_", " "),
            None if old is None else (old, False), None if new is None else (new, False),
            lower=is_lower,
        )  # fmt: skip
    if a.items is not None and b.items is not None:
        yield from _constraints(a.items, b.items, where + "[]", side)


Bound = tuple[float, bool]  # (value, exclusive)


def _lower(c: ir.Constraint) -> Bound | None:
    if c.exclusive_minimum is not None:
        return (c.exclusive_minimum, True)
    return None if c.minimum is None else (c.minimum, False)


def _upper(c: ir.Constraint) -> Bound | None:
    if c.exclusive_maximum is not None:
        return (c.exclusive_maximum, True)
    return None if c.maximum is None else (c.maximum, False)


def _bound_text(b: Bound | None, lower: bool) -> str:
    if b is None:
        return "none"
    op = (">" if b[1] else ">=") if lower else ("<" if b[1] else "<=")
    return f"{op} {b[0]:g}"


def _tighter(old: Bound | None, new: Bound | None, lower: bool) -> bool:
    """Whether `new` rejects a value `old` accepts."""
    if new is None:
        return False
    if old is None:
        return True
    if new[0] != old[0]:
        return new[0] > old[0] if lower else new[0] < old[0]
    return new[1] and not old[1]


def _bound(
    where: str, side: _Side, name: str, old: Bound | None, new: Bound | None, *, lower: bool
) -> Iterator[Change]:
    if old == new:
        return
    text = f"{name} {_bound_text(old, lower)} -> {_bound_text(new, lower)}"
    if _tighter(old, new, lower):
        yield Change(side.worst(BREAKING, DOCUMENTATION), "bound-tightened", where, text)
    else:
        yield Change(side.worst(ADDITIVE, DOCUMENTATION), "bound-loosened", where, text)


# cross-field rules --------------------------------------------------------------------------


def _conditions(conds: tuple[ir.Condition, ...]) -> set[str]:
    return {f"{c.path} {c.op} {c.value!r}" for c in conds}


def _rules(old: ir.Spec, new: ir.Spec) -> Iterator[Change]:
    before = {(schema, r.id): r for schema, rules in old.rules for r in rules}
    after = {(schema, r.id): r for schema, rules in new.rules for r in rules}
    for key, rule in after.items():
        where = f"{key[0]} rule {key[1]}"
        if key not in before:
            yield Change(BREAKING, "rule-added", where, f"new rule: {rule.message}")
            continue
        was = before[key]
        old_when, new_when = _conditions(was.when), _conditions(rule.when)
        old_then, new_then = _conditions(was.then), _conditions(rule.then)
        if (old_when, old_then) != (new_when, new_then):
            # Fewer `if` conditions or more `then` conditions reject more requests.
            looser = new_when >= old_when and new_then <= old_then
            text = (
                f"if {sorted(old_when)} then {sorted(old_then)} -> "
                f"if {sorted(new_when)} then {sorted(new_then)}"
            )
            yield Change(ADDITIVE if looser else BREAKING,
                         "rule-loosened" if looser else "rule-tightened", where, text)  # fmt: skip
        if was.message != rule.message:
            yield Change(DOCUMENTATION, "rule-message-changed", where, "message changed")
        if was.docs != rule.docs:
            yield Change(DOCUMENTATION, "rule-docs-changed", where, "citations changed")
    for key in before:
        if key not in after:
            yield Change(ADDITIVE, "rule-removed", f"{key[0]} rule {key[1]}", "rule removed")


# per-model rows ------------------------------------------------------------------------------


def _sample_models(*specs: ir.Spec) -> list[str]:
    """A model id for every `match` glob of either spec (the glob itself when it has
    wildcards, standing for the models it names)."""
    seen: dict[str, None] = {}
    for spec in specs:
        for family in spec.families:
            for glob in family.match:
                if glob != "*":
                    seen.setdefault(glob, None)
    return list(seen)


def _row_for(spec: ir.Spec, model: str) -> ir.ModelFamily | None:
    probe = model.replace("*", "").replace("?", "x")
    for family in spec.families:
        if any(fnmatchcase(probe, glob) for glob in family.match):
            return family
    return None


def _limit_tighter(key: str, old: Any, new: Any) -> bool | None:
    """Whether a limit change rejects more (None when the key's direction is not known)."""
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old, new)):
        return None
    if "_max" in key:
        return bool(new < old)
    if "_min" in key:
        return bool(new > old)
    return None


def _row_changes(a: ir.ModelFamily, b: ir.ModelFamily) -> Iterator[tuple[str, str, str]]:
    """(severity, kind, text) for what differs between two rows, for the models they serve."""
    for e in a.endpoints:
        if e not in b.endpoints:
            yield BREAKING, "family-endpoint-removed", f"endpoint {e} no longer listed"
    for e in b.endpoints:
        if e not in a.endpoints:
            yield ADDITIVE, "family-endpoint-added", f"endpoint {e} added"
    if a.thinking_mode != b.thinking_mode:
        yield (
            BEHAVIOUR,
            "family-thinking-mode-changed",
            (f"thinking mode {a.thinking_mode!r} -> {b.thinking_mode!r}"),
        )
    if a.thinking_default != b.thinking_default:
        yield (
            BEHAVIOUR,
            "family-thinking-default-changed",
            (f"thinking default {a.thinking_default!r} -> {b.thinking_default!r}"),
        )
    for name, old_flag, new_flag in (
        ("streaming only", a.streaming_only, b.streaming_only),
        ("streaming only when thinking", a.streaming_only_when_thinking,
         b.streaming_only_when_thinking),
    ):  # fmt: skip
        if old_flag != new_flag:
            yield (
                (BREAKING if new_flag else ADDITIVE),
                "family-streaming-changed",
                (f"{name} {old_flag} -> {new_flag}"),
            )
    for label, old_d, new_d in (
        ("default", a.defaults, b.defaults),
        ("default when thinking", a.defaults_thinking, b.defaults_thinking),
        ("default when not thinking", a.defaults_non_thinking, b.defaults_non_thinking),
    ):
        od, nd = dict(old_d), dict(new_d)
        for key in sorted(set(od) | set(nd)):
            if od.get(key, _MISSING) != nd.get(key, _MISSING):
                yield (
                    BEHAVIOUR,
                    "family-default-changed",
                    (
                        f"{label} {key} {_show(od.get(key, _MISSING))} -> "
                        f"{_show(nd.get(key, _MISSING))}"
                    ),
                )
    for label, old_s, new_s in (
        ("supports", a.supports, b.supports),
        ("supports when thinking", a.supports_when_thinking, b.supports_when_thinking),
    ):
        os_, ns = dict(old_s), dict(new_s)
        for key in sorted(set(os_) | set(ns)):
            was, now = os_.get(key), ns.get(key)
            if was == now:
                continue
            text = f"{label} {key} {_show(was)} -> {_show(now)}"
            # False rejects the parameter; absent (None) or True accepts it.
            if now is False:
                yield BREAKING, "family-support-removed", text
            else:
                yield ADDITIVE, "family-support-added", text
    ol, nl = dict(a.limits), dict(b.limits)
    for key in sorted(set(ol) | set(nl)):
        was, now = ol.get(key, _MISSING), nl.get(key, _MISSING)
        if was == now:
            continue
        text = f"limit {key} {_show(was)} -> {_show(now)}"
        if was is _MISSING:
            yield BREAKING, "family-limit-added", text
        elif now is _MISSING:
            yield ADDITIVE, "family-limit-removed", text
        else:
            tighter = _limit_tighter(key, was, now)
            if tighter is None:
                yield BEHAVIOUR, "family-limit-changed", text
            else:
                kind = "family-limit-tightened" if tighter else "family-limit-loosened"
                yield (BREAKING if tighter else ADDITIVE), kind, text


class _Missing:
    def __repr__(self) -> str:
        return "unset"


_MISSING: Any = _Missing()


def _show(value: Any) -> str:
    return "unset" if value is None or value is _MISSING else repr(value)


def _pairs(before: dict[str, T], after: dict[str, T]) -> Iterator[tuple[str, T | None, T | None]]:
    """(key, old, new) for every key of either table: the new table's order, then the keys
    only the old one has."""
    for key, row in after.items():
        yield key, before.get(key), row
    for key, row in before.items():
        if key not in after:
            yield key, row, None


def _families(old: ir.Spec, new: ir.Spec) -> Iterator[Change]:
    before = {f.family: f for f in old.families}
    after = {f.family: f for f in new.families}
    for name, was, row in _pairs(before, after):
        where = f"x-model-families {name}"
        if was is None and row is not None:
            yield Change(ADDITIVE, "family-added", where, f"new row matching {list(row.match)}")
        elif row is None and was is not None:
            yield Change(BEHAVIOUR, "family-removed", where,
                         f"row removed (matched {list(was.match)})")  # fmt: skip
        elif was is not None and row is not None:
            for severity, kind, text in _row_changes(was, row):
                yield Change(severity, kind, where, text)
            if was.docs != row.docs:
                yield Change(DOCUMENTATION, "family-docs-changed", where, "citations changed")
    # Which row serves each model: a new, removed, reordered or re-matched row moves models.
    moved: dict[tuple[str, str], list[str]] = {}
    for model in _sample_models(old, new):
        a, b = _row_for(old, model), _row_for(new, model)
        if a is not None and b is not None and a.family != b.family:
            moved.setdefault((a.family, b.family), []).append(model)
    for (a_name, b_name), models in moved.items():
        a, b = before[a_name], after[b_name]
        effects = list(_row_changes(a, b))
        severity = min((s for s, _, _ in effects), key=SEVERITIES.index, default=BEHAVIOUR)
        if severity in (ADDITIVE, DOCUMENTATION):
            severity = BEHAVIOUR
        summary = "; ".join(text for _, _, text in effects) or "no difference in the table"
        yield Change(severity, "family-models-moved", f"x-model-families {a_name} -> {b_name}",
                     f"{', '.join(models)} now use row {b_name} (was {a_name}): {summary}",
                     tuple(models))  # fmt: skip


# error codes ---------------------------------------------------------------------------------


def _error_codes(old: ir.Spec, new: ir.Spec) -> Iterator[Change]:
    before = {e.code: e for e in old.error_codes}
    after = {e.code: e for e in new.error_codes}
    for code, was, row in _pairs(before, after):
        where = f"x-error-codes {code}"
        if was is None and row is not None:
            yield Change(ADDITIVE, "error-code-added", where, f"maps to {row.error}")
            continue
        if row is None and was is not None:
            yield Change(BEHAVIOUR, "error-code-removed", where,
                         f"no longer mapped (was {was.error})")  # fmt: skip
            continue
        assert was is not None and row is not None
        if (was.error, was.status) != (row.error, row.status):
            yield Change(BREAKING, "error-code-remapped", where,
                         f"{was.error} (HTTP {was.status}) -> {row.error} (HTTP {row.status}):"
                         " code catching the old class no longer sees it")  # fmt: skip
        if was.kind != row.kind:
            yield Change(BEHAVIOUR, "error-code-kind-changed", where,
                         f"classified {was.kind or 'as nothing'} -> {row.kind or 'as nothing'}")  # fmt: skip
        if (was.match, was.messages) != (row.match, row.messages):
            yield Change(BEHAVIOUR, "error-code-match-changed", where,
                         f"matched {was.match} {list(was.messages)} -> {row.match}"
                         f" {list(row.messages)}")  # fmt: skip
        if was.retry != row.retry:
            yield Change(BEHAVIOUR, "error-code-retry-changed", where,
                         f"retried {_show(was.retry)} -> {_show(row.retry)}")  # fmt: skip
        if was.docs != row.docs:
            yield Change(DOCUMENTATION, "error-code-docs-changed", where, "citations changed")


# media limits --------------------------------------------------------------------------------


def _media_limits(old: ir.Spec, new: ir.Spec) -> Iterator[Change]:
    """`x-media-limits`: a tighter limit rejects requests that passed, so it is breaking; a new
    limit is reported as behaviour (the bindings enforced these before the spec listed them)."""
    before = {m.name: m for m in old.media_limits}
    after = {m.name: m for m in new.media_limits}
    for name, was, now in _pairs(before, after):
        where = f"x-media-limits {name}"
        if was is None and now is not None:
            yield Change(
                BEHAVIOUR, "media-limit-added", where, f"{_show(now.value)} where a row is silent"
            )
        elif now is None and was is not None:
            yield Change(ADDITIVE, "media-limit-removed", where, f"no longer {_show(was.value)}")
        elif was is not None and now is not None:
            if was.value != now.value:
                text = f"{_show(was.value)} -> {_show(now.value)}"
                tighter = _limit_tighter(name, was.value, now.value)
                if tighter is None:
                    yield Change(BEHAVIOUR, "media-limit-changed", where, text)
                elif tighter:
                    yield Change(BREAKING, "media-limit-tightened", where, text)
                else:
                    yield Change(ADDITIVE, "media-limit-loosened", where, text)
            if was.docs != now.docs:
                yield Change(DOCUMENTATION, "media-limit-docs-changed", where, "citations changed")


def report_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=repr)
