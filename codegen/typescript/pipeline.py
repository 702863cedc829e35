"""The TypeScript back end's entry point: IR -> the files of `generated/typescript/`."""

from __future__ import annotations

from pathlib import Path

from ..core import ir
from ..core.files import header_lines
from .render import render
from .surface import api_markdown

HERE = Path(__file__).parent
# folder here -> folder of the package it is copied to
COPIED = {"runtime": "src", "tests": "test"}
# Copied verbatim (no header): npm reads them, and the lock file must stay npm's own output.
PACKAGE_FILES = ("package.json", "package-lock.json", "tsconfig.json", ".gitignore")


def header(spec_name: str, spec_hash: str, source: str, marker: str = "//") -> str:
    return "".join(f"{marker} {line}\n" for line in header_lines(spec_name, spec_hash, source))


def copied_files(spec: ir.Spec) -> dict[str, str]:
    """The hand-written runtime and tests, each with a header naming its source."""
    files: dict[str, str] = {}
    for folder, target in COPIED.items():
        for path in sorted((HERE / folder).rglob("*")):
            if not path.is_file() or path.suffix not in (".ts", ".py", ".json"):
                continue
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(HERE / folder).as_posix()
            source = f"copied from codegen/typescript/{folder}/{rel}"
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".ts":
                text = header(spec.file_name, spec.sha256, source) + text
            elif path.suffix == ".py":
                text = header(spec.file_name, spec.sha256, source, "#") + text
            files[f"{target}/{rel}"] = text
    return files


def generate(spec: ir.Spec) -> dict[str, str]:
    """The files of `generated/typescript/`, relative to it."""
    files = {name: (HERE / "package" / name).read_text(encoding="utf-8") for name in PACKAGE_FILES}
    files.update(copied_files(spec))
    rendered = render(
        spec, header(spec.file_name, spec.sha256, "rendered from codegen/typescript/templates")
    )
    files.update({f"src/{rel}": text for rel, text in rendered.items()})
    modules = {
        rel.removeprefix("src/").removesuffix(".ts"): text
        for rel, text in files.items()
        if rel.startswith("src/") and rel.endswith(".ts")
    }
    lines = header_lines(spec.file_name, spec.sha256, "read off the package's modules")
    comment = "".join(f"<!-- {line} -->\n" for line in lines) + "\n"
    files["api.md"] = api_markdown(spec, modules, comment)
    return files
