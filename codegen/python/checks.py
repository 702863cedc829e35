"""Writes the Python source of the request validators: one function per request schema."""

from __future__ import annotations

from collections.abc import Callable

from ..core import ir
from ..core.shapes import describe, fmt_number

PRIMITIVE_TEST = {
    "str": ("isinstance({x}, str)", "must be a string"),
    "int": ("isinstance({x}, int) and not isinstance({x}, bool)", "must be an integer"),
    "float": ("isinstance({x}, (int, float)) and not isinstance({x}, bool)", "must be a number"),
    "bool": ("isinstance({x}, bool)", "must be a boolean"),
    "dict": ("isinstance({x}, dict)", "must be an object"),
}


FINITE_RULE = "must be a finite number (not NaN or Infinity)"


class CheckWriter:
    """Emits statements that append `Problem`s to `out` for a value `x` at `path`."""

    def __init__(self, spec: ir.Spec) -> None:
        self.by_name = {s.name: s for s in spec.schemas}
        self.patterns: dict[str, str] = {}
        self.counter = 0

    def pattern_name(self, pattern: str) -> str:
        if pattern not in self.patterns:
            self.patterns[pattern] = f"_PATTERN_{len(self.patterns)}"
        return self.patterns[pattern]

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def value(self, t: ir.TypeRef, x: str, path: str, docs: str, indent: int) -> list[str]:
        pad = " " * indent

        def fail(rule: str, kind: str) -> str:
            return f"{pad}    out.append(Problem({path}, {x}, {rule!r}, {docs}, {kind!r}))"

        c = t.constraint
        lines: list[str] = []
        if c.has_const:
            return [f"{pad}if {x} != {c.const!r}:", fail(f"must be {c.const!r}", "const")]
        if t.kind == "ref":
            return [f"{pad}_check_{t.name}({x}, {path}, out)"]
        if t.kind == "union":
            return self.union(t, x, path, docs, indent)
        if t.kind == "list":
            assert t.items is not None
            lines += [f"{pad}if not isinstance({x}, list):", fail("must be a list", "type")]
            if c.min_items is not None:
                lines += [f"{pad}elif len({x}) < {c.min_items}:",
                          fail(f"must have at least {c.min_items} item(s)", "items")]  # fmt: skip
            if c.max_items is not None:
                lines += [f"{pad}elif len({x}) > {c.max_items}:",
                          fail(f"must have at most {c.max_items} item(s)", "items")]  # fmt: skip
            item = self.fresh("item")
            index = self.fresh("i")
            inner = self.value(
                t.items, item, f'{path} + "[" + str({index}) + "]"', docs, indent + 8
            )
            if inner:
                inner = [f"{pad}    for {index}, {item} in enumerate({x}):", *inner]
            inner = self.contains(c, x, fail, pad) + inner
            if inner:
                lines += [f"{pad}else:", *inner]
            return lines
        if t.kind in PRIMITIVE_TEST:
            test, rule = PRIMITIVE_TEST[t.kind]
            lines += [f"{pad}if not ({test.format(x=x)}):", fail(rule, "type")]
            lines += self.finite(t, x, path, docs, fail, pad)
            lines += self.bounds(c, x, fail, pad)
            lines += self.dict_values(t, x, path, docs, indent)
            return lines
        return lines

    def finite(
        self,
        t: ir.TypeRef,
        x: str,
        path: str,
        docs: str,
        fail: Callable[[str, str], str],
        pad: str,
    ) -> list[str]:
        """NaN and Infinity are numbers to Python but not to JSON: never let one reach the wire."""
        if t.kind == "dict" and t.items is None:
            # a free-form object (a JSON Schema, a result_schema): no number inside may be NaN
            at = self.fresh("at")
            return [
                f"{pad}elif ({at} := _non_finite_at({x})) is not None:",
                f"{pad}    out.append(Problem({path} + {at}, None, {FINITE_RULE!r}, {docs}, 'type'))",
            ]
        if t.kind != "float":
            return []
        return [f"{pad}elif not _isfinite({x}):", fail(FINITE_RULE, "type")]

    def contains(
        self, c: ir.Constraint, x: str, fail: Callable[[str, str], str], pad: str
    ) -> list[str]:
        """`x-contains`: some item of the list is an object with the given key/value pairs
        (checked beside the items, so that their own problems are reported too)."""
        if not c.contains:
            return []
        test = " and ".join(f"m.get({k!r}) == {v!r}" for k, v in c.contains)
        want = " and ".join(f"{k}={v!r}" for k, v in c.contains)
        return [
            f"{pad}    for m in {x}:",
            f"{pad}        if isinstance(m, dict) and {test}:",
            f"{pad}            break",
            f"{pad}    else:",
            "    " + fail(f"must hold a message with {want}", "items"),
        ]

    def dict_values(self, t: ir.TypeRef, x: str, path: str, docs: str, indent: int) -> list[str]:
        """A free-form object whose values have a declared type (`additionalProperties`)."""
        if t.kind != "dict" or t.items is None:
            return []
        pad = " " * indent
        key, item = self.fresh("key"), self.fresh("item")
        inner = self.value(t.items, item, f'{path} + "." + str({key})', docs, indent + 8)
        if not inner:
            return []
        return [f"{pad}else:", f"{pad}    for {key}, {item} in {x}.items():", *inner]

    def required_any(self, schema: ir.Schema, docs: str) -> list[str]:
        """`x-required-any`: at least one of the named properties must be present."""
        if not schema.required_any:
            return []
        keys = schema.required_any
        first = keys[0]
        rule = "is required unless " + " or ".join(keys[1:]) + " is given"
        return [
            f"    if all(value.get(k) is None for k in {keys!r}):",
            f"        out.append(Problem(path + '.{first}', None, {rule!r}, {docs}, 'required'))",
        ]

    def bounds(
        self, c: ir.Constraint, x: str, fail: Callable[[str, str], str], pad: str
    ) -> list[str]:
        lines: list[str] = []
        if c.enum is not None:
            allowed = ", ".join(repr(v) for v in c.enum)
            lines += [
                f"{pad}elif {x} not in ({allowed},):",
                fail(f"must be one of {allowed}", "enum"),
            ]
        lo = hi = None
        if c.minimum is not None:
            lo = (f"{x} < {c.minimum!r}", f">= {fmt_number(c.minimum)}")
        if c.exclusive_minimum is not None:
            lo = (f"{x} <= {c.exclusive_minimum!r}", f"> {fmt_number(c.exclusive_minimum)}")
        if c.maximum is not None:
            hi = (f"{x} > {c.maximum!r}", f"<= {fmt_number(c.maximum)}")
        if c.exclusive_maximum is not None:
            hi = (f"{x} >= {c.exclusive_maximum!r}", f"< {fmt_number(c.exclusive_maximum)}")
        if lo or hi:
            tests = " or ".join(b[0] for b in (lo, hi) if b)
            ranges = " and ".join(b[1] for b in (lo, hi) if b)
            lines += [f"{pad}elif {tests}:", fail(f"must be {ranges}", "range")]
        if c.min_length is not None:
            lines += [f"{pad}elif len({x}) < {c.min_length}:",
                      fail(f"must be at least {c.min_length} characters", "length")]  # fmt: skip
        if c.max_length is not None:
            lines += [f"{pad}elif len({x}) > {c.max_length}:",
                      fail(f"must be at most {c.max_length} characters", "length")]  # fmt: skip
        if c.pattern is not None:
            name = self.pattern_name(c.pattern)
            lines += [f"{pad}elif not {name}.search({x}):",
                      fail(f"must match {c.pattern}", "pattern")]  # fmt: skip
        return lines

    def union(self, t: ir.TypeRef, x: str, path: str, docs: str, indent: int) -> list[str]:
        """Accept the value when any variant accepts it; else one problem naming them all."""
        pad = " " * indent
        ok = self.fresh("ok")
        lines = [f"{pad}{ok} = False"]
        for i, variant in enumerate(t.variants):
            body = self.value(variant, x, path, docs, indent + 4)
            if (
                variant.kind in PRIMITIVE_TEST
                and not variant.constraint.has_const
                and len(body) == 2
            ):
                # a bare type test (no bounds): no list of trial problems to build
                test = PRIMITIVE_TEST[variant.kind][0].format(x=x)
                if i == 0:
                    lines[-1] = f"{pad}{ok} = {test}"
                else:
                    lines += [f"{pad}if not {ok}:", f"{pad}    {ok} = {test}"]
                continue
            trial = self.fresh("trial")
            lines.append(f"{pad}if not {ok}:")
            lines.append(f"{pad}    {trial}: list[Problem] = []")
            lines += [
                line.replace("out.append(", f"{trial}.append(").replace(", out)", f", {trial})")
                for line in body
            ]
            lines.append(f"{pad}    {ok} = not {trial}")
        lines += [
            f"{pad}if not {ok}:",
            f"{pad}    out.append(Problem({path}, {x}, {('must be ' + describe(t))!r}, {docs}, 'type'))",
        ]
        return lines

    def schema(self, schema: ir.Schema) -> list[str]:
        docs = repr("; ".join(schema.docs))
        lines = [f"def _check_{schema.name}(value: Any, path: str, out: list[Problem]) -> None:"]
        if schema.is_union:
            return lines + self.union_schema(schema, docs)
        lines += [
            "    if not isinstance(value, dict):",
            f"        out.append(Problem(path, value, 'must be an object', {docs}, 'type'))",
            "        return",
        ]
        for f in schema.fields:
            fdocs = repr("; ".join(f.docs))
            fpath = f'path + ".{f.wire_name}"'
            x = self.fresh("v")
            lines.append(f"    {x} = value.get({f.wire_name!r})")
            if f.required:
                lines += [
                    f"    if {x} is None:",
                    f"        out.append(Problem({fpath}, None, 'is required', {fdocs}, 'required'))",
                ]
                body = self.value(f.type, x, fpath, fdocs, 8)
                if body:
                    lines += ["    else:", *body]
            else:
                # A field left out (most of them, in a typical request) costs one `in` test.
                lines.pop()
                body = self.value(f.type, x, fpath, fdocs, 8)
                if body:
                    key = repr(f.wire_name)
                    lines += [
                        f"    if {key} in value and ({x} := value[{key}]) is not None:",
                        *body,
                    ]
        lines += self.required_any(schema, docs)
        if schema.closed:
            known = ", ".join(repr(f.wire_name) for f in schema.fields)
            lines += [
                f"    for key in value.keys() - {{{known}}}:",
                f"        out.append(Problem(path + '.' + key, value[key], 'is not a known field', {docs}, 'unknown'))",
            ]
        return lines

    def union_schema(self, schema: ir.Schema, docs: str) -> list[str]:
        disc = schema.discriminator
        if disc is not None:
            allowed = ", ".join(repr(v) for v, _ in disc.mapping)
            lines = [
                "    if not isinstance(value, dict):",
                f"        out.append(Problem(path, value, 'must be an object', {docs}, 'type'))",
                "        return",
                f"    kind = value.get({disc.property!r})",
            ]
            for i, (tag, target) in enumerate(disc.mapping):
                lines += [
                    f"    {'if' if i == 0 else 'elif'} kind == {tag!r}:",
                    f"        _check_{target}(value, path, out)",
                ]
            lines += [
                "    else:",
                f"        out.append(Problem(path + '.{disc.property}', kind, {('must be one of ' + allowed)!r}, {docs}, 'enum' if kind is not None else 'required'))",
            ]
            return lines
        names = [str(v.name) for v in schema.variants if v.kind == "ref"]
        lines = ["    if isinstance(value, dict):"]
        for name in names:
            lines += [
                f"        if _has_keys(value, {tuple(self.by_name[name].required_keys)!r}):",
                f"            _check_{name}(value, path, out)",
                "            return",
            ]
        kinds = " or ".join(
            "{" + ", ".join(repr(k) for k in self.by_name[n].required_keys) + "}" for n in names
        )
        lines += [
            f"    out.append(Problem(path, value, {('must be an object with ' + kinds)!r}, {docs}, 'type'))"
        ]
        return lines

    def rules(self, schema_name: str, rules: tuple[ir.Rule, ...]) -> list[str]:
        lines = [
            f"def _rules_{schema_name}(params: Mapping[str, Any], stream: bool, out: list[Problem],"
            " effective: Mapping[str, Any]) -> None:"
        ]
        if not rules:
            return [*lines, "    return"]
        for rule in rules:
            when = " and ".join(self.holds(c) for c in rule.when) or "True"
            broken = " or ".join(self.broken(c) for c in rule.then) or "False"
            first = rule.then[0].path if rule.then else rule.id
            value = "stream" if first == "$stream" else _param(first)
            first = _shown_path(first)
            docs = "; ".join(rule.docs)
            lines += [
                f"    if {when} and ({broken}):",
                f"        out.append(Problem({first!r}, {value}, {rule.message!r}, {docs!r}, 'rule'))",
            ]
        return lines

    def holds(self, c: ir.Condition) -> str:
        """A test that an `if` condition holds. An `$effective.` value that neither the call
        nor the model's table row gives is undocumented: the condition never holds."""
        test = self.condition(c)
        if c.path.startswith("$effective."):
            return f"({_param(c.path)} is not None and {test})"
        if "." in c.path and _needs_value(c):
            # The object holding the value is usually absent: test that first, and only then
            # walk the path.
            return f"(params.get({c.path.split('.')[0]!r}) is not None and {test})"
        return test

    def broken(self, c: ir.Condition) -> str:
        """A test that a `then` condition fails. A `$effective.` value that neither the call
        nor the model's table row gives is undocumented: nothing to check."""
        test = self.condition(c, negate=True)
        if c.path.startswith("$effective."):
            return f"({_param(c.path)} is not None and {test})"
        return test

    def condition(self, c: ir.Condition, negate: bool = False) -> str:
        """A Python test for the condition (or for its negation)."""
        x = "stream" if c.path == "$stream" else _param(c.path)
        op, value = c.op, c.value
        if op == "absent":
            op, value = "present", not value
        if op == "not_const":
            op, negate = "const", not negate
        if op == "present":
            return f"{x} is {'' if bool(value) == negate else 'not '}None"
        if op == "const":
            if isinstance(value, bool) or value is None:
                return f"{x} is {'not ' if negate else ''}{value!r}"
            return f"{x} {'!=' if negate else '=='} {value!r}"
        return f"{x} {'not in' if negate else 'in'} {tuple(value)!r}"


def _needs_value(c: ir.Condition) -> bool:
    """Whether the condition can hold only when the value at its path is present (not None)."""
    op, value = c.op, c.value
    if op == "absent":
        op, value = "present", not value
    if op == "present":
        return bool(value)
    if op == "const":
        return value is not None
    if op == "not_const":
        return value is None
    return None not in tuple(value)


def _shown_path(path: str) -> str:
    """The parameter a problem names: `$effective.x` is reported as `x`, `$stream` as the
    argument's name `stream`."""
    if path == "$stream":
        return "stream"
    return path[len("$effective.") :] if path.startswith("$effective.") else path


def _param(path: str) -> str:
    """The expression for the parameter at a dotted path (`params` is always a mapping); a
    `$effective.` path reads the value sent, else the model's documented default."""
    if path.startswith("$effective."):
        inner = path[len("$effective.") :]
        if "." in inner:
            return f"_at(effective, {tuple(inner.split('.'))!r})"
        return f"effective.get({inner!r})"
    if "." in path:
        return f"_at(params, {tuple(path.split('.'))!r})"
    return f"params.get({path!r})"
