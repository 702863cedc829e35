"""The conformance vector generator: request examples in the loader, language neutrality, and
`make check` catching stale vector files."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from codegen.core.load import load
from codegen.core.vectors import files
from tests.paths import CONFORMANCE, ROOT, SPEC

MINI = ROOT / "tests" / "fixtures" / "mini-spec.yaml"


def test_core_imports_no_back_end() -> None:
    for path in sorted((ROOT / "codegen" / "core").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert node.level <= 1 or not module, (path.name, module)
                assert not module.startswith(("codegen.python", "python")), (path.name, module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("codegen.python") for a in node.names)


def test_request_examples_reach_the_ir() -> None:
    spec, problems = load(SPEC)
    assert spec is not None, problems
    counts = {op.operation_id: len(op.examples) for op in spec.operations}
    assert counts == {"textGeneration": 14, "multimodalGeneration": 22, "chatCompletions": 9}
    streaming = [e.name for op in spec.operations for e in op.examples if e.headers]
    assert len(streaming) == 6


def test_example_problems_are_reported_with_their_line(tmp_path: Path) -> None:
    text = MINI.read_text(encoding="utf-8")
    anchor = '            schema: {$ref: "#/components/schemas/GenerationRequest"}\n'
    assert anchor in text
    broken = text.replace(
        anchor,
        anchor
        + "            examples:\n"
        + "              no-summary:\n"
        + "                value: {model: m, input: {messages: []}}\n"
        + "              no-value:\n"
        + "                summary: A sample\n"
        + "                externalValue: https://example.com/x.json\n",
        1,
    )
    path = tmp_path / "spec.yaml"
    path.write_text(broken, encoding="utf-8")
    spec, problems = load(path)
    assert spec is None
    line = broken.splitlines().index("              no-summary:") + 1
    assert any(p.startswith(f"{path.as_posix()}:{line}: ") and "needs a summary" in p
               for p in problems), problems  # fmt: skip
    assert any("no-value: needs a mapping `value`" in p for p in problems), problems


def test_generated_vectors_are_deterministic_and_current() -> None:
    spec, _ = load(SPEC)
    assert spec is not None
    first = files(spec)
    assert first == files(spec)
    for name, text in first.items():
        assert (CONFORMANCE / "generated" / name).read_text(encoding="utf-8") == text, name


def test_check_mode_reports_a_stale_vector_file(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors"
    run = [sys.executable, "-m", "codegen", str(SPEC), "--out", str(tmp_path / "out"),
           "--binding", "none", "--vectors", str(vectors)]  # fmt: skip
    subprocess.run(run, cwd=ROOT, check=True)
    assert sorted(p.name for p in vectors.iterdir()) == [
        "defaults.json", "error.json", "request.json", "validate.json"]  # fmt: skip
    assert subprocess.run([*run, "--check"], cwd=ROOT).returncode == 0
    (vectors / "defaults.json").write_text("{}\n", encoding="utf-8")
    stale = subprocess.run([*run, "--check"], cwd=ROOT, capture_output=True, text=True)
    assert stale.returncode == 1
    assert "defaults.json: differs from a fresh regeneration" in stale.stderr
