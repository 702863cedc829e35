"""IR -> `reference.md`: the contract as a reader sees it, every fact with its source."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..core import ir
from ..core.diff import REQUEST, RESPONSE, schema_roles
from ..core.files import header_lines


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return f"`{text}`".replace("|", "\\|")


class Writer:
    def __init__(self, spec: ir.Spec) -> None:
        self.spec = spec
        self.citations = {c.text: c for c in spec.citations}
        self.schemas = {s.name: s for s in spec.schemas}

    # small pieces ------------------------------------------------------------------------------

    def sources(self, docs: Iterable[str]) -> str:
        links = []
        for text in docs:
            c = self.citations.get(text)
            if c is None:
                links.append(cell(text))
                continue
            label = cell(c.title + (f" § {c.section}" if c.section else ""))
            links.append(f"[{label}]({c.url})" if c.url else label)
        return "; ".join(dict.fromkeys(links))

    def about(self, docs: tuple[str, ...], name: str) -> tuple[str, ...]:
        """The citations whose section names `name` (a row cites many), else all of them."""
        named = tuple(
            d for d in docs if name in (self.citations[d].section if d in self.citations else d)
        )
        return named or docs

    def type_text(self, t: ir.TypeRef) -> str:
        if t.kind == "ref":
            out = f"[{t.name}](#{str(t.name).lower()})"
        elif t.kind == "list":
            out = f"array of {self.type_text(t.items) if t.items else 'any'}"
        elif t.kind == "union":
            out = " or ".join(self.type_text(v) for v in t.variants)
        else:
            out = {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
                   "dict": "object", "any": "any"}.get(t.kind, t.kind)  # fmt: skip
        return out + (" or null" if t.nullable else "")

    def allowed(self, t: ir.TypeRef) -> str:
        c = t.constraint
        parts = []
        if c.enum is not None:
            parts.append("one of " + ", ".join(code(v) for v in c.enum))
        if c.has_const:
            parts.append("exactly " + code(c.const))
        if c.exclusive_minimum is not None:
            parts.append(f"> {num(c.exclusive_minimum)}")
        elif c.minimum is not None:
            parts.append(f">= {num(c.minimum)}")
        if c.exclusive_maximum is not None:
            parts.append(f"< {num(c.exclusive_maximum)}")
        elif c.maximum is not None:
            parts.append(f"<= {num(c.maximum)}")
        for key, label in (("min_length", "length >="), ("max_length", "length <="),
                           ("min_items", "items >="), ("max_items", "items <=")):  # fmt: skip
            value = getattr(c, key)
            if value is not None:
                parts.append(f"{label} {value}")
        if c.pattern is not None:
            parts.append("matches " + code(c.pattern))
        if t.kind == "list" and t.items is not None:
            inner = self.allowed(t.items)
            if inner:
                parts.append(f"each item {inner}")
        return ", ".join(parts)

    # sections ---------------------------------------------------------------------------------

    def fields_table(self, schema: ir.Schema, *, request: bool) -> list[str]:
        if schema.is_union:
            kinds = " or ".join(self.type_text(v) for v in schema.variants)
            out = [f"One of: {kinds}."]
            if schema.discriminator:
                pairs = ", ".join(
                    f"{code(v)} -> [{n}](#{n.lower()})" for v, n in schema.discriminator.mapping
                )
                out.append(f"Chosen by `{schema.discriminator.property}`: {pairs}.")
            return [*out, ""]
        if not schema.fields:
            return ["No fields.", ""]
        head = "| field | type | required | allowed values | default | description | source |"
        if not request:
            head = "| field | type | always present | description | source |"
        out = [head, "|" + "---|" * (head.count("|") - 1)]
        for f in schema.fields:
            default = code(f.default) if f.has_default else ""
            if request:
                out.append(
                    f"| `{f.wire_name}` | {self.type_text(f.type)} | {'yes' if f.required else ''}"
                    f" | {self.allowed(f.type)} | {default} | {cell(f.description)}"
                    f" | {self.sources(f.docs)} |"
                )
            else:
                out.append(
                    f"| `{f.wire_name}` | {self.type_text(f.type)} | {'yes' if f.required else ''}"
                    f" | {cell(f.description)} | {self.sources(f.docs)} |"
                )
        return [*out, ""]

    def schema_section(self, schema: ir.Schema, *, request: bool, level: str = "###") -> list[str]:
        out = [f"{level} {schema.name}", ""]
        if schema.description:
            out += [cell(schema.description), ""]
        if schema.closed and request:
            out += ["Unknown keys are rejected.", ""]
        out += self.fields_table(schema, request=request)
        if schema.docs:
            out += [f"Source: {self.sources(schema.docs)}", ""]
        return out

    def per_model(self, param: str) -> list[str]:
        """Which families set a default for `param`, and which say whether they support it."""
        rows = []
        for fam in self.spec.families:
            d, dt, dn = (
                dict(fam.defaults),
                dict(fam.defaults_thinking),
                dict(fam.defaults_non_thinking),
            )
            flags = {**dict(fam.supports)}
            support = next((v for k, v in flags.items() if param in (k, f"enable_{k}")), None)
            thinking_support = next(
                (v for k, v in fam.supports_when_thinking if param in (k, f"enable_{k}")), None
            )
            if param not in d and param not in dt and param not in dn and support is None \
                    and thinking_support is None:  # fmt: skip
                continue
            supported = "" if support is None else ("yes" if support else "**no**")
            if thinking_support is not None:
                supported += f" (thinking: {'yes' if thinking_support else '**no**'})"
            rows.append(
                f"| {fam.family} | {cell(', '.join(fam.match))} | "
                f"{code(d[param]) if param in d else ''} | "
                f"{code(dt[param]) if param in dt else ''} | "
                f"{code(dn[param]) if param in dn else ''} | {supported.strip()} | "
                f"{self.sources(self.about(fam.docs, param))} |"
            )
        if not rows:
            return []
        return [
            "Per model family (first matching row applies; blank = not documented):",
            "",
            "| family | models | default | default (thinking) | default (not thinking) | supported | source |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]

    def parameters_section(self, op_label: str, schema: ir.Schema) -> list[str]:
        out = [f"## Parameters of {op_label}", ""]
        if schema.description:
            out += [cell(schema.description), ""]
        out += self.fields_table(schema, request=True)
        for f in schema.fields:
            more = self.per_model(f.wire_name)
            if more:
                out += [f"### `{f.wire_name}`", "", *more]
        rules = dict(self.spec.rules).get(schema.name, ())
        if rules:
            out += [f"### Cross-field rules ({schema.name})", "",
                    "| rule | if | then | message | source |", "|---|---|---|---|---|"]  # fmt: skip
            for r in rules:
                when = ", ".join(f"`{c.path}` {c.op} {code(c.value)}" for c in r.when)
                then = ", ".join(f"`{c.path}` {c.op} {code(c.value)}" for c in r.then)
                out.append(
                    f"| `{r.id}` | {when} | {then} | {cell(r.message)} | {self.sources(r.docs)} |"
                )
            out.append("")
        return out

    def families_section(self) -> list[str]:
        out = [
            "## Model families",
            "",
            "The first row whose patterns match the lower-cased model name applies; the last row",
            "covers every other model.",
            "",
            "| family | models | endpoints | thinking | streaming only | defaults | limits | supports | source |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for fam in self.spec.families:
            thinking = fam.thinking_mode or ""
            if fam.thinking_default is not None:
                thinking += f" (default {'on' if fam.thinking_default else 'off'})"
            streaming = "yes" if fam.streaming_only else ""
            if fam.streaming_only_when_thinking:
                streaming = "when thinking"
            defaults = [f"{k}={code(v)}" for k, v in fam.defaults]
            defaults += [f"{k}={code(v)} (thinking)" for k, v in fam.defaults_thinking]
            defaults += [f"{k}={code(v)} (not thinking)" for k, v in fam.defaults_non_thinking]
            limits = [f"{k}={code(v)}" for k, v in fam.limits]
            supports = [f"{k}: {'yes' if v else 'no'}" for k, v in fam.supports]
            supports += [
                f"{k}: {'yes' if v else 'no'} (thinking)" for k, v in fam.supports_when_thinking
            ]
            out.append(
                f"| {fam.family} | {cell(', '.join(fam.match))} | {', '.join(fam.endpoints)} | "
                f"{thinking.strip()} | {streaming} | {'; '.join(defaults)} | {'; '.join(limits)} | "
                f"{'; '.join(supports)} | {self.sources(fam.docs)} |"
            )
        return [*out, ""]

    def document(self) -> str:
        spec = self.spec
        lines = [
            f"<!-- {line} -->"
            for line in header_lines(spec.file_name, spec.sha256, "written by codegen/docs")
        ]
        out = [
            *lines,
            "",
            f"# {spec.title}: reference",
            "",
            f"Contract version {spec.version}.",
            "",
        ]
        if spec.description:
            out += [cell(spec.description), ""]
        out += [
            "Every fact below comes from the spec and names its source page and section. "
            "Types and parameter spellings are the wire's; each binding spells them its own way "
            "(the Python binding's surface is in `generated/python/api.md`).",
            "",
            "## Sources",
            "",
            "| page | address |",
            "|---|---|",
        ]
        for page in spec.pages:
            out.append(f"| {cell(page.title)} | {page.url or 'not public'} |")
        out += ["", "## Servers", "", "| region | base URL |", "|---|---|"]
        for name, url in spec.servers:
            out.append(f"| {cell(name)} | `{url}` |")
        out += ["", "## Operations", "",
                "| SDK call | HTTP | request | response | stream chunk | source |",
                "|---|---|---|---|---|---|"]  # fmt: skip
        for op in spec.operations:
            out.append(
                f"| `client.{'.'.join(op.resource)}.create()` | `{op.method} {op.path}` | "
                f"[{op.request}](#{op.request.lower()}) | [{op.response}](#{op.response.lower()}) | "
                + (f"[{op.chunk}](#{op.chunk.lower()})" if op.chunk else "")
                + f" | {self.sources(op.docs)} |"
            )
        out.append("")
        seen: set[str] = set()
        for op in spec.operations:
            if op.parameters in seen:
                continue
            calls = [f"`client.{'.'.join(o.resource)}.create()`" for o in spec.operations
                     if o.parameters == op.parameters]  # fmt: skip
            seen.add(op.parameters)
            out += self.parameters_section(" and ".join(calls), self.schemas[op.parameters])
        out += self.families_section()
        if spec.error_codes:
            out += ["## Error codes", "",
                    "| code | HTTP status | error class | retried | classified as | source |",
                    "|---|---|---|---|---|---|"]  # fmt: skip
            for e in spec.error_codes:
                retry = "" if e.retry is None else ("yes" if e.retry else "no")
                kind = e.kind or ""
                if kind and e.match != "exact":
                    kind += " (or `" + (f"{e.code}.*" if e.match == "prefix" else f"*.{e.code}")
                    kind += "`)"
                if e.messages:
                    kind += "; messages: " + ", ".join(f"“{m}”" for m in e.messages)
                out.append(f"| `{e.code}` | {e.status or ''} | `{e.error}` | {retry} | {kind} | "
                           f"{self.sources(e.docs)} |")  # fmt: skip
            out.append("")
        roles = schema_roles(spec)
        request_types = [s for s in spec.schemas if REQUEST in roles.get(s.name, set())
                         and s.name not in seen]  # fmt: skip
        response_types = [s for s in spec.schemas if RESPONSE in roles.get(s.name, set())]
        out += ["## Request types", ""]
        for schema in request_types:
            out += self.schema_section(schema, request=True)
        out += ["## Response and stream-chunk fields", "",
                "Unknown fields in a response are kept, never rejected.", ""]  # fmt: skip
        for schema in response_types:
            out += self.schema_section(schema, request=False)
        return "\n".join(out).rstrip() + "\n"


def generate(spec: ir.Spec) -> dict[str, str]:
    """The files of `generated/docs/`."""
    return {"reference.md": Writer(spec).document()}
