"""Run as a script by `surface.py`: import the package at argv[1]/argv[2] and print its public
surface as Markdown. Separate so that the package is imported in a clean interpreter."""

from __future__ import annotations

import enum
import importlib
import inspect
import json
import re
import sys
import typing
from typing import Any


def stable(text: str) -> str:
    """Object addresses (a sentinel default, say) differ per run: a snapshot names none."""
    return re.sub(r"<(?:([\w.]+) )?object(?: object)? at 0x[0-9a-f]+>", "(not given)", text)


def signature(obj: Any) -> str:
    try:
        return stable(str(inspect.signature(obj)))
    except (TypeError, ValueError):
        return "(...)"


def _text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _cell(text: str) -> str:
    return f"`{text}`".replace("|", "\\|") if text else ""


def parameters(obj: Any) -> tuple[list[str], str]:
    """A table row per parameter (one per line, so a diff names the parameter that changed)
    and the return annotation."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return [], ""
    rows = []
    for param in sig.parameters.values():
        if param.name == "self":
            continue
        name = param.name
        if param.kind is param.VAR_POSITIONAL:
            name = "*" + name
        elif param.kind is param.VAR_KEYWORD:
            name = "**" + name
        default = "" if param.default is param.empty else stable(repr(param.default))
        rows.append(f"| `{name}` | {_cell(_text(param.annotation))} | {_cell(default)} |")
    return rows, _text(sig.return_annotation)


def table(rows: list[str]) -> list[str]:
    if not rows:
        return ["No parameters.", ""]
    return ["| parameter | type | default |", "|---|---|---|", *rows, ""]


def first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def bases(cls: type) -> str:
    names = [b.__name__ for b in cls.__bases__ if b is not object]
    return f"({', '.join(names)})" if names else ""


def describe_class(cls: type, out: list[str]) -> None:
    import attrs

    out.append(f"### `{cls.__name__}{bases(cls)}`")
    out.append("")
    summary = first_line(cls)
    if summary:
        out += [summary, ""]
    if attrs.has(cls):
        out.append("| field | type | default |")
        out.append("|---|---|---|")
        for field in attrs.fields(cls):
            if field.name.startswith("_"):
                continue
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                shown = f"{getattr(default.factory, '__name__', 'factory')}()"
            elif default is attrs.NOTHING:
                shown = "required"
            else:
                shown = f"`{default!r}`"
            kind = str(field.type).replace("|", "\\|")
            out.append(f"| `{field.name}` | `{kind}` | {shown} |")
        out.append("")
    elif typing.is_typeddict(cls):
        required: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
        out.append("| key | type | required |")
        out.append("|---|---|---|")
        for key, kind in cls.__annotations__.items():
            text = str(kind).replace("|", "\\|")
            out.append(f"| `{key}` | `{text}` | {'yes' if key in required else 'no'} |")
        out.append("")
    elif issubclass(cls, enum.Enum):
        out.append(", ".join(f"`{m.value!r}`" for m in cls))
        out.append("")
    else:
        if "__init__" in cls.__dict__:
            out += table(parameters(cls.__init__)[0])
        methods = [
            (n, m)
            for n, m in sorted(vars(cls).items())
            if not n.startswith("_") and (inspect.isfunction(m) or isinstance(m, property))
        ]
        for n, m in methods:
            if isinstance(m, property):
                returns = getattr(m.fget, "__annotations__", {}).get("return", "")
                out.append(f"- `{n}` (property): `{_text(returns)}`")
            else:
                out.append(f"- `{n}{signature(m)}`")
        if methods:
            out.append("")


def main() -> None:
    folder, name, ops = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    sys.path.insert(0, folder)
    package = importlib.import_module(name)
    resources = importlib.import_module(f"{name}.resources")
    types = importlib.import_module(f"{name}.types")
    out = [
        f"# {name} API (Python)",
        "",
        "Every public name of the package, with its parameters, types and defaults. A change of",
        "the public surface shows up in this file's diff.",
        "",
        "## Clients",
        "",
    ]
    for client in ("ModelStudio", "AsyncModelStudio"):
        rows, _ = parameters(getattr(package, client))
        out += [f"### `{name}.{client}(...)`", "", *table(rows)]
    out += ["## Resources", ""]
    for op in ops:
        out += [f"### `client.{op['attribute']}`", ""]
        out.append(f"{op['summary']}")
        out.append("")
        sync = getattr(resources, op["class"]).create
        asynchronous = getattr(resources, "Async" + op["class"]).create
        rows, returns = parameters(sync)
        async_rows, async_returns = parameters(asynchronous)
        # the types the method returns, as its annotation names them (the spec may share one
        # response schema between operations that the binding types apart)
        named = dict.fromkeys(re.findall(r"[A-Za-z_]\w*", returns))
        returned = [n for n in named if n in getattr(types, "__all__", ())]
        out.append("Types: " + ", ".join(f"`{n}`" for n in returned))
        out.append("")
        out.append(
            f'<code title="{op["http"]}">client.{op["attribute"]}.<a>create</a>(...)</code>'
            f" calls `{op['http']}` (operation `{op['operation']}`) and returns `{returns}`;"
            f" on the async client it returns `{async_returns}`."
        )
        out += ["", *table(rows)]
        if async_rows != rows:
            out += ["The async client's parameters:", "", *table(async_rows)]
    out += [f"## `{name}`", ""]
    for public in package.__all__:
        obj = getattr(package, public)
        if inspect.isclass(obj):
            describe_class(obj, out)
        elif callable(obj):
            rows, returns = parameters(obj)
            out += [f"### `{public}(...) -> {returns}`", "", first_line(obj), "", *table(rows)]
        else:
            out += [f"### `{public}`: `{type(obj).__name__}`", ""]
    out += [f"## `{name}.types`", ""]
    for public in types.__all__:
        obj = getattr(types, public)
        if inspect.isclass(obj):
            describe_class(obj, out)
        else:
            out += [f"### `{public}`", "", f"`{obj}`".replace(f"{name}.types.", ""), ""]
    sys.stdout.write(stable("\n".join(out)).rstrip() + "\n")


if __name__ == "__main__":
    main()
