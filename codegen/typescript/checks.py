"""Writes the TypeScript source of the request validators: one function per request schema.

The rules and their wording are the Python binding's (`codegen/python/checks.py`): the same
paths, the same rule texts, so a conformance vector reads the same in both bindings.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core import ir
from ..core.shapes import describe, fmt_number, request_schemas
from .names import literal

FINITE_RULE = "must be a finite number (not NaN or Infinity)"

__all__ = ["CheckWriter", "request_schemas"]

PRIMITIVE_TEST = {
    "str": ('typeof {x} === "string"', "must be a string"),
    "int": ("Number.isInteger({x})", "must be an integer"),
    "float": ('typeof {x} === "number"', "must be a number"),
    "bool": ('typeof {x} === "boolean"', "must be a boolean"),
    "dict": ("isObject({x})", "must be an object"),
}


def js(value: object) -> str:
    return literal(value)


class CheckWriter:
    """Emits statements that push `Problem`s to `out` for a value `x` at `path`."""

    def __init__(self, spec: ir.Spec) -> None:
        self.by_name = {s.name: s for s in spec.schemas}
        self.patterns: dict[str, str] = {}
        self.counter = 0

    def pattern_name(self, pattern: str) -> str:
        if pattern not in self.patterns:
            self.patterns[pattern] = f"PATTERN_{len(self.patterns)}"
        return self.patterns[pattern]

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def value(self, t: ir.TypeRef, x: str, path: str, docs: str, indent: int) -> list[str]:
        pad = " " * indent

        def fail(rule: str, kind: str) -> str:
            return f"{pad}  out.push(new Problem({path}, {x}, {js(rule)}, {docs}, {js(kind)}));"

        c = t.constraint
        if c.has_const:
            return [
                f"{pad}if ({x} !== {js(c.const)}) {{",
                fail(f"must be {c.const!r}", "const"),
                f"{pad}}}",
            ]
        if t.kind == "ref":
            return [f"{pad}check_{t.name}({x}, {path}, out);"]
        if t.kind == "union":
            return self.union(t, x, path, docs, indent)
        lines: list[str] = []
        if t.kind == "list":
            assert t.items is not None
            lines += [f"{pad}if (!Array.isArray({x})) {{", fail("must be a list", "type")]
            if c.min_items is not None:
                lines += [f"{pad}}} else if ({x}.length < {c.min_items}) {{",
                          fail(f"must have at least {c.min_items} item(s)", "items")]  # fmt: skip
            if c.max_items is not None:
                lines += [f"{pad}}} else if ({x}.length > {c.max_items}) {{",
                          fail(f"must have at most {c.max_items} item(s)", "items")]  # fmt: skip
            lines += self.contains(c, x, fail, pad)
            item = self.fresh("item")
            index = self.fresh("i")
            inner = self.value(t.items, item, f'{path} + "[" + {index} + "]"', docs, indent + 4)
            if inner:
                lines += [
                    f"{pad}}} else {{",
                    f"{pad}  for (let {index} = 0; {index} < {x}.length; {index}++) {{",
                    f"{pad}    const {item}: any = {x}[{index}];",
                    *inner,
                    f"{pad}  }}",
                ]
            return [*lines, f"{pad}}}"]
        if t.kind in PRIMITIVE_TEST:
            test, rule = PRIMITIVE_TEST[t.kind]
            lines += [f"{pad}if (!({test.format(x=x)})) {{", fail(rule, "type")]
            lines += self.finite(t, x, path, docs, fail, pad)
            lines += self.bounds(c, x, fail, pad)
            lines += self.dict_values(t, x, path, docs, indent)
            return [*lines, f"{pad}}}"]
        return lines

    def finite(
        self, t: ir.TypeRef, x: str, path: str, docs: str, fail: Callable[[str, str], str], pad: str
    ) -> list[str]:
        """NaN and Infinity are numbers to JavaScript but not to JSON (JSON.stringify sends null):
        never let one reach the wire."""
        if t.kind == "dict" and t.items is None:
            at = self.fresh("at")
            return [
                f"{pad}}} else if (nonFiniteAt({x}) !== null) {{",
                f"{pad}  const {at} = nonFiniteAt({x}) as string;",
                f'{pad}  out.push(new Problem({path} + {at}, null, {js(FINITE_RULE)}, {docs}, "type"));',
            ]
        if t.kind != "float":
            return []
        return [f"{pad}}} else if (!Number.isFinite({x})) {{", fail(FINITE_RULE, "type")]

    def contains(
        self, c: ir.Constraint, x: str, fail: Callable[[str, str], str], pad: str
    ) -> list[str]:
        """`x-contains`: some item of the list is an object with the given key/value pairs."""
        if not c.contains:
            return []
        test = " && ".join(f"m[{js(k)}] === {js(v)}" for k, v in c.contains)
        want = " and ".join(f"{k}={v!r}" for k, v in c.contains)
        return [
            f"{pad}}} else if (!{x}.some((m: any) => isObject(m) && {test})) {{",
            fail(f"must hold a message with {want}", "items"),
        ]

    def dict_values(self, t: ir.TypeRef, x: str, path: str, docs: str, indent: int) -> list[str]:
        """A free-form object whose values have a declared type (`additionalProperties`)."""
        if t.kind != "dict" or t.items is None:
            return []
        pad = " " * indent
        key = self.fresh("key")
        item = self.fresh("item")
        inner = self.value(t.items, item, f'{path} + "." + {key}', docs, indent + 4)
        if not inner:
            return []
        return [
            f"{pad}}} else {{",
            f"{pad}  for (const [{key}, {item}] of Object.entries({x}) as Array<[string, any]>) {{",
            *inner,
            f"{pad}  }}",
        ]

    def required_any(self, schema: ir.Schema, docs: str) -> list[str]:
        """`x-required-any`: at least one of the named properties must be present."""
        if not schema.required_any:
            return []
        keys = schema.required_any
        rule = "is required unless " + " or ".join(keys[1:]) + " is given"
        test = " && ".join(f"value[{js(k)}] == null" for k in keys)
        return [
            f"  if ({test}) {{",
            f'    out.push(new Problem(path + {js("." + keys[0])}, null, {js(rule)}, {docs}, "required"));',
            "  }",
        ]

    def bounds(
        self, c: ir.Constraint, x: str, fail: Callable[[str, str], str], pad: str
    ) -> list[str]:
        lines: list[str] = []
        if c.enum is not None:
            allowed = ", ".join(repr(v) for v in c.enum)
            values = "[" + ", ".join(js(v) for v in c.enum) + "]"
            lines += [
                f"{pad}}} else if (!{values}.includes({x})) {{",
                fail(f"must be one of {allowed}", "enum"),
            ]
        lo = hi = None
        if c.minimum is not None:
            lo = (f"{x} < {js(c.minimum)}", f">= {fmt_number(c.minimum)}")
        if c.exclusive_minimum is not None:
            lo = (f"{x} <= {js(c.exclusive_minimum)}", f"> {fmt_number(c.exclusive_minimum)}")
        if c.maximum is not None:
            hi = (f"{x} > {js(c.maximum)}", f"<= {fmt_number(c.maximum)}")
        if c.exclusive_maximum is not None:
            hi = (f"{x} >= {js(c.exclusive_maximum)}", f"< {fmt_number(c.exclusive_maximum)}")
        if lo or hi:
            tests = " || ".join(b[0] for b in (lo, hi) if b)
            ranges = " and ".join(b[1] for b in (lo, hi) if b)
            lines += [f"{pad}}} else if ({tests}) {{", fail(f"must be {ranges}", "range")]
        if c.min_length is not None:
            lines += [f"{pad}}} else if (codePoints({x}) < {c.min_length}) {{",
                      fail(f"must be at least {c.min_length} characters", "length")]  # fmt: skip
        if c.max_length is not None:
            lines += [f"{pad}}} else if (codePoints({x}) > {c.max_length}) {{",
                      fail(f"must be at most {c.max_length} characters", "length")]  # fmt: skip
        if c.pattern is not None:
            name = self.pattern_name(c.pattern)
            lines += [
                f"{pad}}} else if (!{name}.test({x})) {{",
                fail(f"must match {c.pattern}", "pattern"),
            ]
        return lines

    def union(self, t: ir.TypeRef, x: str, path: str, docs: str, indent: int) -> list[str]:
        """Accept the value when any variant accepts it; else one problem naming them all."""
        pad = " " * indent
        ok = self.fresh("ok")
        lines = [f"{pad}let {ok} = false;"]
        for variant in t.variants:
            trial = self.fresh("trial")
            lines.append(f"{pad}if (!{ok}) {{")
            lines.append(f"{pad}  const {trial}: Problem[] = [];")
            body = self.value(variant, x, path, docs, indent + 2)
            lines += [
                line.replace("out.push(", f"{trial}.push(").replace(", out);", f", {trial});")
                for line in body
            ]
            lines.append(f"{pad}  {ok} = {trial}.length === 0;")
            lines.append(f"{pad}}}")
        rule = "must be " + describe(t)
        lines += [
            f"{pad}if (!{ok}) {{",
            f'{pad}  out.push(new Problem({path}, {x}, {js(rule)}, {docs}, "type"));',
            f"{pad}}}",
        ]
        return lines

    def schema(self, schema: ir.Schema) -> list[str]:
        docs = js("; ".join(schema.docs))
        lines = [f"function check_{schema.name}(value: any, path: string, out: Problem[]): void {{"]
        if schema.is_union:
            return [*lines, *self.union_schema(schema, docs), "}"]
        lines += [
            "  if (!isObject(value)) {",
            f'    out.push(new Problem(path, value, "must be an object", {docs}, "type"));',
            "    return;",
            "  }",
        ]
        for f in schema.fields:
            fdocs = js("; ".join(f.docs))
            fpath = f"path + {js('.' + f.wire_name)}"
            x = self.fresh("v")
            lines.append(f"  const {x}: any = value[{js(f.wire_name)}];")
            body = self.value(f.type, x, fpath, fdocs, 4)
            if f.required:
                lines += [
                    f"  if ({x} == null) {{",
                    f'    out.push(new Problem({fpath}, null, "is required", {fdocs}, "required"));',
                ]
                lines += ["  } else {", *body, "  }"] if body else ["  }"]
            elif body:
                lines += [f"  if ({x} != null) {{", *body, "  }"]
        lines += self.required_any(schema, docs)
        if schema.closed:
            known = "[" + ", ".join(js(f.wire_name) for f in schema.fields) + "]"
            lines += [
                "  for (const key of Object.keys(value)) {",
                f"    if (!{known}.includes(key)) {{",
                f'      out.push(new Problem(path + "." + key, value[key], "is not a known field", {docs}, "unknown"));',
                "    }",
                "  }",
            ]
        return [*lines, "}"]

    def union_schema(self, schema: ir.Schema, docs: str) -> list[str]:
        disc = schema.discriminator
        if disc is not None:
            allowed = ", ".join(repr(v) for v, _ in disc.mapping)
            lines = [
                "  if (!isObject(value)) {",
                f'    out.push(new Problem(path, value, "must be an object", {docs}, "type"));',
                "    return;",
                "  }",
                f"  const kind: any = value[{js(disc.property)}];",
            ]
            for i, (tag, target) in enumerate(disc.mapping):
                lines += [
                    f"  {'if' if i == 0 else '} else if'} (kind === {js(tag)}) {{",
                    f"    check_{target}(value, path, out);",
                ]
            lines += [
                "  } else {",
                f'    out.push(new Problem(path + {js("." + disc.property)}, kind, {js("must be one of " + allowed)}, {docs}, kind == null ? "required" : "enum"));',
                "  }",
            ]
            return lines
        names = [str(v.name) for v in schema.variants if v.kind == "ref"]
        lines = ["  if (isObject(value)) {"]
        for name in names:
            keys = "[" + ", ".join(js(k) for k in self.by_name[name].required_keys) + "]"
            lines += [
                f"    if (hasKeys(value, {keys})) {{",
                f"      check_{name}(value, path, out);",
                "      return;",
                "    }",
            ]
        lines.append("  }")
        kinds = " or ".join(
            "{" + ", ".join(repr(k) for k in self.by_name[n].required_keys) + "}" for n in names
        )
        lines.append(
            f'  out.push(new Problem(path, value, {js("must be an object with " + kinds)}, {docs}, "type"));'
        )
        return lines

    def rules(self, schema_name: str, rules: tuple[ir.Rule, ...]) -> list[str]:
        lines = [
            f"function rules_{schema_name}(params: Record<string, any>, stream: boolean, out: Problem[], "
            "effective: Record<string, any>): void {"
        ]
        if not rules:
            return [
                *lines,
                "  void params;",
                "  void stream;",
                "  void out;",
                "  void effective;",
                "}",
            ]
        paths = [c.path for r in rules for c in (*r.when, *r.then)]
        if not any(p.startswith("$effective.") for p in paths):
            lines.append("  void effective;")
        if "$stream" not in paths:
            lines.append("  void stream;")
        for rule in rules:
            when = " && ".join(self.condition(c) for c in rule.when) or "true"
            broken = " || ".join(self.broken(c) for c in rule.then) or "false"
            first = rule.then[0].path if rule.then else rule.id
            value = "stream" if first == "$stream" else _param(first)
            first = "stream" if first == "$stream" else _shown_path(first)  # the argument's name
            docs = "; ".join(rule.docs)
            lines += [
                f"  if ({when} && ({broken})) {{",
                f'    out.push(new Problem({js(first)}, {value}, {js(rule.message)}, {js(docs)}, "rule"));',
                "  }",
            ]
        return [*lines, "}"]

    def broken(self, c: ir.Condition) -> str:
        """A test that a `then` condition fails. A `$effective.` value that neither the call nor
        the model's table row gives is undocumented: nothing to check."""
        test = self.condition(c, negate=True)
        if c.path.startswith("$effective."):
            return f"({_param(c.path)} != null && {test})"
        return test

    def condition(self, c: ir.Condition, negate: bool = False) -> str:
        """A TypeScript test for the condition (or for its negation)."""
        x = "stream" if c.path == "$stream" else _param(c.path)
        op, value = c.op, c.value
        if op == "absent":
            op, value = "present", not value
        if op == "not_const":
            op, negate = "const", not negate
        if op == "present":
            return f"{x} {'==' if bool(value) == negate else '!='} null"
        if op == "const":
            if value is None:
                return f"{x} {'!=' if negate else '=='} null"
            return f"{x} {'!==' if negate else '==='} {js(value)}"
        values = "[" + ", ".join(js(v) for v in value) + "]"
        return f"{'!' if negate else ''}{values}.includes({x})"


def _shown_path(path: str) -> str:
    """The parameter a problem names: `$effective.x` is reported as `x`."""
    return path[len("$effective.") :] if path.startswith("$effective.") else path


def _param(path: str) -> str:
    """The parameter at a dotted path; undefined where a step is missing or not an object. A
    `$effective.` path reads the value sent, else the model's documented default."""
    source = "params"
    if path.startswith("$effective."):
        source, path = "effective", path[len("$effective.") :]
    first, *rest = path.split(".")
    return f"{source}[{js(first)}]" + "".join(f"?.[{js(step)}]" for step in rest)
