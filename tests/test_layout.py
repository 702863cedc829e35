"""The architecture says what it is: a neutral core, back ends by folder, a package that mirrors
the API, and a namespace of public names only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import modelstudio
from codegen.bindings import bindings
from tests.paths import ROOT

CODEGEN = ROOT / "codegen"
PACKAGE = ROOT / "generated" / "python" / "modelstudio"


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of what a module under codegen/ imports (relative imports resolved)."""
    rel = path.relative_to(ROOT).with_suffix("")
    package = list(rel.parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names.add(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                names.add(node.module)
    return names


def test_the_core_imports_no_back_end_and_back_ends_import_no_other() -> None:
    back_ends = {p.name for p in CODEGEN.iterdir() if (p / "__init__.py").exists()} - {"core"}
    assert "python" in back_ends
    for path in (CODEGEN / "core").rglob("*.py"):
        for name in _imported_modules(path):
            assert not any(name.startswith(f"codegen.{b}") for b in back_ends), (path, name)
    for back_end in back_ends:
        for path in (CODEGEN / back_end).rglob("*.py"):
            if "runtime" in path.relative_to(CODEGEN / back_end).parts:
                continue
            for name in _imported_modules(path):
                others = back_ends - {back_end}
                assert not any(name.startswith(f"codegen.{o}") for o in others), (path, name)


def test_every_back_end_folder_is_a_binding_written_under_its_own_folder() -> None:
    found = {b.name for b in bindings()}
    assert "python" in found
    for name in found:
        assert (ROOT / "generated" / name).is_dir(), name


def test_the_package_mirrors_the_api_one_module_per_resource() -> None:
    client = modelstudio.ModelStudio(api_key="sk-layout")
    assert type(client.generation).__module__ == "modelstudio.resources.generation"
    assert type(client.multimodal).__module__ == "modelstudio.resources.multimodal"
    assert type(client.chat.completions).__module__ == "modelstudio.resources.chat.completions"
    areas = {p.stem for p in (PACKAGE / "types").glob("*.py")} - {"__init__"}
    assert {"messages", "params", "responses", "compatible"} <= areas
    assert modelstudio.types.UserMessage.__module__ == "modelstudio.types.messages"
    assert modelstudio.types.GenerationChunk.__module__ == "modelstudio.types.responses"
    assert modelstudio.types.ChatCompletion.__module__ == "modelstudio.types.compatible"
    client.close()


def test_no_generated_module_is_longer_than_about_1500_lines() -> None:
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text(encoding="utf-8").count("\n")
        # about: docstrings cite each page with its public address, which costs lines
        assert lines <= 1600, (path.relative_to(PACKAGE), lines)


def test_the_namespace_exports_only_public_names() -> None:
    # Subpackages a test or a user imported (`modelstudio.testing`) are attributes too.
    public = {
        name
        for name, value in vars(modelstudio).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(modelstudio.__all__), public - set(modelstudio.__all__)
    for leaked in ("Any", "TYPE_CHECKING", "annotations"):
        assert not hasattr(modelstudio, leaked), leaked
    assert set(dir(modelstudio)) == set(modelstudio.__all__)
    for name in modelstudio.__all__:
        assert getattr(modelstudio, name) is not None, name


# What `import modelstudio` and `ModelStudio()` must not load: each loads on first use (a call,
# a decoded answer, an attribute). A later eager import of one of them fails here, in a fresh
# interpreter, whatever the machine's speed.
_LOADED_ON_FIRST_USE = (
    "attr",
    "attrs",
    "aiohttp",
    "modelstudio.types",
    "modelstudio.parts",
    "modelstudio._validation",
    "modelstudio._model_table",
    "modelstudio._families",
    "modelstudio.resources",
    "modelstudio._media",
    "modelstudio._raw",
    "modelstudio._error_codes",
    "modelstudio._upload",
    "modelstudio._protocols",
    "modelstudio._retry",
    "modelstudio._stream",
    "modelstudio._sse",
    "modelstudio._accumulate",
    "modelstudio._accumulate_chat",
    "modelstudio._aiohttp",
    "modelstudio._cli",
    "modelstudio.testing",
)


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE", "MODELSTUDIO"))},
    )
    return set(proc.stdout.split())


def _eager(loaded: set[str]) -> list[str]:
    return sorted(
        name
        for name in loaded
        for lazy in _LOADED_ON_FIRST_USE
        if name == lazy or name.startswith(lazy + ".")
    )


def test_import_and_a_client_load_no_types_validation_model_table_or_resources() -> None:
    assert _eager(_modules_after("import modelstudio")) == []
    assert _eager(_modules_after("import modelstudio; modelstudio.ModelStudio(api_key='k')")) == []
    async_client = "import modelstudio; modelstudio.AsyncModelStudio(api_key='k')"
    assert _eager(_modules_after(async_client)) == []
    # The probe sees what a real first use loads: a resource brings its own module only.
    loaded = _modules_after("import modelstudio; modelstudio.ModelStudio(api_key='k').generation")
    assert "modelstudio.resources.generation" in loaded
    assert "modelstudio.resources.multimodal" not in loaded
    assert "modelstudio.resources.chat" not in loaded


def test_the_names_that_load_on_first_use_are_the_modules_own() -> None:
    import modelstudio._families
    import modelstudio._model_table
    import modelstudio._raw
    import modelstudio._stream

    assert modelstudio.defaults_for is modelstudio._model_table.defaults_for
    assert modelstudio.family_for is modelstudio._model_table.family_for
    assert modelstudio.FAMILIES is modelstudio._model_table.FAMILIES
    assert modelstudio.ModelFamily is modelstudio._families.ModelFamily
    assert modelstudio.Stream is modelstudio._stream.Stream
    assert modelstudio.AsyncStream is modelstudio._stream.AsyncStream
    assert modelstudio.RawResponse is modelstudio._raw.RawResponse
    assert modelstudio.resources.Chat is modelstudio.resources.chat.Chat
    assert set(dir(modelstudio.resources)) >= set(modelstudio.resources.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = modelstudio.resources.Nope  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = modelstudio.nope  # type: ignore[attr-defined]


def test_a_copy_of_a_client_builds_its_resources_for_itself() -> None:
    client = modelstudio.ModelStudio(api_key="k")
    first = client.generation
    assert client.generation is first  # built once
    copy = client.with_options(max_retries=0)
    raw = client.with_raw_response
    for other in (copy, raw):
        assert other.generation is not first
        assert other.generation._client is other
        assert other.chat.completions._client is other
    assert client.generation._client is client
    client.close()
