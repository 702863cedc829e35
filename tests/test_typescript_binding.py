"""The TypeScript back end: found by folder, deterministic, and fed by the same IR as Python, so
that one spec edit shows up in both bindings (the behaviour itself is tested by `make ts-test`:
the conformance vectors and end-to-end tests in generated/typescript/test/)."""

from __future__ import annotations

from pathlib import Path

from codegen import python, typescript
from codegen.bindings import bindings
from codegen.core.load import load
from tests.paths import ROOT, SPEC


def test_the_typescript_back_end_is_a_binding() -> None:
    names = {b.name for b in bindings()}
    assert {"python", "typescript"} <= names
    spec, _ = load(SPEC)
    assert spec is not None
    files = typescript.generate(spec)
    assert {"package.json", "package-lock.json", "tsconfig.json", "src/index.ts"} <= set(files)
    assert all(not name.startswith(("node_modules/", "dist/")) for name in files)


def test_generation_is_deterministic() -> None:
    spec, _ = load(SPEC)
    assert spec is not None
    assert typescript.generate(spec) == typescript.generate(spec)


def test_one_spec_edit_shows_up_in_both_bindings(tmp_path: Path) -> None:
    text = SPEC.read_text(encoding="utf-8")
    old = "exclusiveMaximum: 2\n"
    assert old in text
    edited = tmp_path / SPEC.name
    edited.write_text(text.replace(old, "exclusiveMaximum: 1.5\n", 1), encoding="utf-8")
    spec, problems = load(edited)
    assert spec is not None, problems
    ts = "\n".join(typescript.generate(spec).values())
    py = "\n".join(python.generate(spec).values())
    assert "must be >= 0 and < 1.5" in ts and "must be >= 0 and < 1.5" in py
    committed = (ROOT / "generated" / "typescript" / "src" / "validation.ts").read_text()
    assert "must be >= 0 and < 1.5" not in committed
