"""The Python back end's entry point: IR -> the files of `generated/python/`."""

from __future__ import annotations

from pathlib import Path

from ..core import ir
from ..core.files import header_lines
from .render import render, ruff_format
from .surface import api_markdown

RUNTIME_DIR = Path(__file__).parent / "runtime"
PACKAGE = "modelstudio"


def header(spec_name: str, spec_hash: str, source: str) -> str:
    return "".join(f"# {line}\n" for line in header_lines(spec_name, spec_hash, source))


def runtime_files(spec_name: str, spec_hash: str) -> dict[str, str]:
    """The hand-written runtime modules, copied with a header naming their source."""
    files: dict[str, str] = {}
    for path in sorted(RUNTIME_DIR.rglob("*.py")):
        rel = path.relative_to(RUNTIME_DIR).as_posix()
        if rel == "__init__.py" or "__pycache__" in rel:
            continue
        source = f"copied from codegen/python/runtime/{rel}"
        files[rel] = header(spec_name, spec_hash, source) + path.read_text(encoding="utf-8")
    files["py.typed"] = ""
    return files


def package_files(spec: ir.Spec) -> dict[str, str]:
    """The package's files, relative to the package root."""
    files = runtime_files(spec.file_name, spec.sha256)
    rendered = render(
        spec, header(spec.file_name, spec.sha256, "rendered from codegen/python/templates"), {}
    )
    files.update(ruff_format(rendered))
    return files


def generate(spec: ir.Spec) -> dict[str, str]:
    """The files of `generated/python/`, relative to it: the package and its API snapshot."""
    package = package_files(spec)
    files = {f"{PACKAGE}/{rel}": text for rel, text in package.items()}
    lines = header_lines(spec.file_name, spec.sha256, "read off the generated package")
    comment = "".join(f"<!-- {line} -->\n" for line in lines) + "\n"
    files["api.md"] = api_markdown(spec, package, PACKAGE, comment)
    return files
