"""The exported declarations of the package's TypeScript modules, read off their source text.

Not a TypeScript parser: it reads this package's own modules, which keep one layout (top-level
declarations at column 0, members at two spaces, bodies deeper). The node test
`test/apiSurface.test.ts` compares what this reads with what `tsc` compiles, so a module that
leaves the layout fails the tests instead of slipping out of `api.md`.
"""

from __future__ import annotations

import re

import attrs

DECLARATION = re.compile(
    r"export (?:declare )?(?:abstract )?(?P<kind>class|interface|type|const|function)\s+"
    r"(?P<name>[A-Za-z_$][\w$]*)"
)
REEXPORT = re.compile(
    r"export (?P<all>type )?\{(?P<names>[^}]*)\} from \"\./(?P<module>[\w]+)\.js\";"
)
STAR = re.compile(r"export type \* from \"\./(?P<module>\w+)\.js\";")
MODIFIERS = ("readonly ", "override ", "static ", "public ", "declare ", "abstract ", "async ")
CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}


@attrs.frozen
class Param:
    name: str
    type: str
    optional: bool = False
    default: str = ""


@attrs.frozen
class Member:
    """A public member of a class or interface."""

    name: str
    kind: str  # "property", "getter", "method", "constructor"
    type: str  # a property's type, a method's or getter's return type
    params: tuple[Param, ...] = ()
    optional: bool = False
    readonly: bool = False
    summary: str = ""
    default: str = ""  # a `@default` tag of its doc comment

    @property
    def signature(self) -> str:
        params = ", ".join(p.name + ("?" if p.optional else "") for p in self.params)
        return f"{self.name}({params})"


@attrs.frozen
class Declaration:
    name: str
    kind: str  # "class", "interface", "type", "const", "function"
    module: str
    summary: str = ""
    type_params: str = ""
    heritage: str = ""  # "extends APIStatusError", "implements AsyncIterable<Chunk>"
    type: str = ""  # the aliased type, the const's type, the function's return type
    params: tuple[Param, ...] = ()
    members: tuple[Member, ...] = ()


def split_top(text: str, sep: str = ",") -> list[str]:
    """`text` split at `sep` where no bracket or string is open (`=>` closes nothing)."""
    parts: list[str] = []
    depth: list[str] = []
    quote = ""
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{<":
            depth.append(ch)
        elif ch in ")]}>" and not (ch == ">" and i > 0 and text[i - 1] == "="):
            if depth and depth[-1] == CLOSERS[ch]:
                depth.pop()
        elif not depth and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i += len(sep)
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def first_top(text: str, chars: str) -> int:
    """The index of the first of `chars` outside brackets and strings, or -1."""
    depth = 0
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>" and not (ch == ">" and text[i - 1 : i] == "="):
            depth -= 1
        elif depth == 0 and ch in chars:
            if ch == "=" and text[i + 1 : i + 2] == ">":
                continue
            return i
    return -1


def closing(text: str, start: int) -> int:
    """The index of the bracket that closes the one at `start`."""
    opener = text[start]
    closer = {v: k for k, v in CLOSERS.items()}[opener]
    depth = 0
    quote = ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch == opener:
            depth += 1
        elif ch == closer and not (ch == ">" and text[i - 1] == "="):
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced {opener!r} in {text!r}")


def parse_params(text: str) -> tuple[Param, ...]:
    out: list[Param] = []
    for part in split_top(text):
        for modifier in ("readonly ", "public "):
            part = part.removeprefix(modifier)
        default = ""
        eq = first_top(part, "=")
        if eq >= 0:
            part, default = part[:eq].strip(), part[eq + 1 :].strip()
        colon = first_top(part, ":")
        name, kind = (part[:colon], part[colon + 1 :]) if colon >= 0 else (part, "")
        name = name.strip()
        optional = name.endswith("?") or bool(default)
        out.append(Param(name.rstrip("?"), " ".join(kind.split()), optional, default))
    return tuple(out)


def doc_summary(doc: list[str]) -> tuple[str, str]:
    """The first paragraph of a `/** ... */` comment, and its `@default` tag."""
    text = "\n".join(doc)
    text = re.sub(r"^\s*/\*\*|\*/\s*$", "", text)
    lines = [re.sub(r"^\s*\* ?", "", line).rstrip() for line in text.splitlines()]
    default = ""
    body: list[str] = []
    for line in lines:
        tag = re.search(r"@default\s+(.*)", line)
        if tag:
            default = tag.group(1).strip()
            line = line[: tag.start()].rstrip()
        body.append(line)
    first = "\n".join(body).strip().split("\n\n")[0]
    return " ".join(first.split()), default


def statement(lines: list[str], start: int, indent: int) -> tuple[str, int]:
    """The text of the signature or statement starting at `lines[start]` (joined, up to its
    `{`, `;` or `{}`) and the index of its last line."""
    text = ""
    i = start
    while True:
        line = lines[i].strip()
        text += (" " if text and not text.endswith(("(", "<", "[")) else "") + line
        opened = sum(text.count(c) for c in "([") - sum(text.count(c) for c in ")]")
        if opened <= 0 and (line.endswith(("{", ";", "{}", ",")) or i + 1 == len(lines)):
            return text, i
        if opened <= 0 and i + 1 < len(lines) and not lines[i + 1].startswith(" " * (indent + 1)):
            return text, i
        i += 1


def parse_member(text: str, summary: str, default: str) -> Member | None:
    body = text.rstrip("{;, ").strip()
    if body.endswith("{}"):
        body = body[:-2].strip()
    readonly = False
    changed = True
    while changed:
        changed = False
        for modifier in MODIFIERS:
            if body.startswith(modifier):
                readonly = readonly or modifier == "readonly "
                body = body[len(modifier) :]
                changed = True
    if body.startswith(("#", "private ", "protected ", "set ", "[Symbol.for(")):
        return None
    body = body.lstrip("*").strip()
    if body.startswith("get "):
        name = body[4:].split("(", 1)[0].strip()
        rest = body[closing(body, body.index("(")) + 1 :]
        return Member(name, "getter", rest.strip().lstrip(":").strip(), (), False, True, summary)
    if body.startswith("["):
        end = closing(body, 0)
        name, rest = body[: end + 1], body[end + 1 :]
    else:
        m = re.match(r"[A-Za-z_$][\w$]*\??", body)
        if not m:
            return None
        name, rest = m.group(0), body[m.end() :]
    optional = name.endswith("?")
    name = name.rstrip("?")
    rest = rest.strip()
    if rest.startswith(("(", "<")):
        type_params = ""
        if rest.startswith("<"):
            end = closing(rest, 0)
            type_params, rest = rest[: end + 1], rest[end + 1 :].strip()
        end = closing(rest, 0)
        params = parse_params(rest[1:end])
        returns = rest[end + 1 :].strip().lstrip(":").strip()
        kind = "constructor" if name == "constructor" else "method"
        return Member(name + type_params, kind, returns, params, optional, False, summary)
    kind = rest.lstrip(":").strip()
    eq = first_top(kind, "=")
    if eq >= 0:
        kind = kind[:eq].strip()
    return Member(
        name, "property", " ".join(kind.split()), (), optional, readonly, summary, default
    )


def parameter_properties(constructor: str) -> list[Member]:
    """`constructor(readonly path: string, ...)`: the parameters that declare properties."""
    inner = constructor[constructor.index("(") + 1 : closing(constructor, constructor.index("("))]
    out = []
    for part in split_top(inner):
        if part.startswith(("readonly ", "public ")):
            (param,) = parse_params(part)
            kind = param.type
            out.append(
                Member(param.name, "property", kind, (), False, part.startswith("readonly "))
            )
    return out


def parse_members(lines: list[str]) -> tuple[Member, ...]:
    """The public members in the body lines of a class or interface (members at two spaces)."""
    members: list[Member] = []
    doc: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not line.startswith("  ") or line.startswith("   ") or stripped.startswith("}"):
            i += 1
            continue
        if stripped.startswith("/**"):
            doc = [stripped]
            while not doc[-1].endswith("*/"):
                i += 1
                doc.append(lines[i].strip())
            i += 1
            continue
        if stripped.startswith("//"):
            i += 1
            continue
        text, i = statement(lines, i, 2)
        summary, default = doc_summary(doc) if doc else ("", "")
        doc = []
        member = parse_member(text, summary, default)
        if member is not None:
            members.append(member)
        if member is not None and member.kind == "constructor":
            members.extend(parameter_properties(text))
        i += 1
    # An overloaded method: its signatures, not the implementation's (as in the .d.ts).
    counts: dict[str, int] = {}
    for m in members:
        counts[m.name] = counts.get(m.name, 0) + 1
    out: list[Member] = []
    seen: dict[str, int] = {}
    for m in members:
        seen[m.name] = seen.get(m.name, 0) + 1
        if m.kind == "method" and counts[m.name] > 1 and seen[m.name] == counts[m.name]:
            continue  # the implementation signature after the overloads
        out.append(m)
    return tuple(out)


def _body_end(lines: list[str], start: int) -> int:
    """The index of the `}` (at column 0) that closes the declaration opened at `start`."""
    if lines[start].rstrip().endswith(("{}", "};", "}")) and lines[start].count("{") <= lines[
        start
    ].count("}"):
        return start
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("}"):
            return i
    raise ValueError(f"no end of the declaration at {lines[start]!r}")


def parse_declaration(
    lines: list[str], start: int, module: str, doc: list[str]
) -> tuple[Declaration, int]:
    m = DECLARATION.match(lines[start])
    assert m is not None
    kind, name = m.group("kind"), m.group("name")
    summary, _ = doc_summary(doc) if doc else ("", "")
    if kind in ("class", "interface"):
        end = _body_end(lines, start)
        head = lines[start][m.end() :].rstrip("{} ").strip()
        type_params = ""
        if head.startswith("<"):
            close = closing(head, 0)
            type_params, head = head[: close + 1], head[close + 1 :].strip()
        members = parse_members(lines[start + 1 : end])
        return Declaration(name, kind, module, summary, type_params, head, members=members), end
    text, end = statement(lines, start, 0)
    rest = text[m.end() :].strip()
    if kind == "function":
        type_params = ""
        if rest.startswith("<"):
            close = closing(rest, 0)
            type_params, rest = rest[: close + 1], rest[close + 1 :].strip()
        close = closing(rest, 0)
        params = parse_params(rest[1:close])
        returns = rest[close + 1 :].strip().lstrip(":").rstrip("{").strip()
        return Declaration(name, kind, module, summary, type_params, "", returns, params), end
    if kind == "type":
        while not text.rstrip().endswith(";"):
            end += 1
            text += " " + lines[end].strip()
        rest = text[m.end() :].strip()
        eq = first_top(rest, "=")
        aliased = rest[eq + 1 :].strip().rstrip(";").strip().lstrip("|").strip()
        return Declaration(name, kind, module, summary, rest[:eq].strip(), "", aliased), end
    # const: its declared type, else its value when that is a literal
    eq = first_top(rest, "=")
    head, value = rest[:eq].strip(), rest[eq + 1 :].strip().rstrip(";").strip()
    declared = head.split(":", 1)[1].strip() if ":" in head else ""
    if not declared:
        declared = value if re.fullmatch(r'"[^"]*"|[\d_.]+', value) else "(see source)"
    return Declaration(name, kind, module, summary, "", "", declared), end


def module_declarations(text: str, module: str) -> dict[str, Declaration]:
    """Every exported declaration of one module, by name."""
    lines = [line for line in text.splitlines() if not line.startswith("// ")]
    found: dict[str, Declaration] = {}
    doc: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("/**"):
            doc = [line]
            while not doc[-1].rstrip().endswith("*/"):
                i += 1
                doc.append(lines[i])
            i += 1
            continue
        if DECLARATION.match(line):
            declaration, i = parse_declaration(lines, i, module, doc)
            found.setdefault(declaration.name, declaration)
        if line.strip():
            doc = []
        i += 1
    return found


def exports(sources: dict[str, str], index: str = "index") -> list[Declaration]:
    """What the package's entry module exports, in its order, each with its declaration.

    `sources` maps a module name (`core`, `types`...) to its text."""
    parsed: dict[str, dict[str, Declaration]] = {}

    def module(name: str) -> dict[str, Declaration]:
        if name not in parsed:
            parsed[name] = module_declarations(sources[name], name)
        return parsed[name]

    out: list[Declaration] = []
    text = " ".join(
        line.strip() for line in sources[index].splitlines() if not line.startswith("//")
    )
    text = re.sub(r"/\*\*.*?\*/", "", text)
    for m in re.finditer(r"export [^;]*;", text):
        statement_text = re.sub(r"\s+", " ", m.group(0)).replace("{ ", "{").replace(" }", "}")
        star = STAR.fullmatch(statement_text)
        named = REEXPORT.fullmatch(statement_text)
        if star:
            out.extend(module(star.group("module")).values())
        elif named:
            declared = module(named.group("module"))
            for item in split_top(named.group("names")):
                name = item.removeprefix("type ").strip()
                if name not in declared:
                    raise ValueError(
                        f"{name} is exported from ./{named.group('module')}.js but not found there"
                    )
                out.append(declared[name])
        else:
            raise ValueError(f"an export the surface reader does not know: {statement_text}")
    return out


def declarations(sources: dict[str, str]) -> dict[str, Declaration]:
    """Every exported declaration of every module, by name (the first module wins)."""
    out: dict[str, Declaration] = {}
    for name, text in sorted(sources.items()):
        for key, value in module_declarations(text, name).items():
            out.setdefault(key, value)
    return out
