"""The spec's `x-error-codes` table is what both bindings classify by: a row added to the spec
reaches the Python and the TypeScript tables, and the installed package answers every row's
`kind` for the code in each form its `match` allows (the retry side is in the generated
conformance vectors, spec/conformance/generated/error.json)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from codegen.core.load import load
from codegen.python.pipeline import package_files
from codegen.typescript import generate as generate_typescript
from modelstudio._errors import is_billing_error, is_moderation_error, is_throttling_error
from tests.paths import SPEC

SPEC_DATA = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
ROWS = SPEC_DATA["x-error-codes"]


def forms(row: dict[str, object]) -> list[str]:
    code = str(row["code"])
    match = row.get("match", "exact")
    if match == "prefix":
        return [code, f"{code}.Sub", code.upper()]
    if match == "segment":
        return [code, f"InternalError.Algo.{code}", code.lower()]
    return [code, code.lower(), f" {code} "]


def classified(kind: str, code: str | None, message: str | None, status: int = 400) -> bool:
    if kind == "billing":
        return is_billing_error(code, message)
    if kind == "moderation":
        return is_moderation_error(code, message)
    return is_throttling_error(status, code, message)


@pytest.mark.parametrize("row", ROWS, ids=[str(r["code"]) for r in ROWS])
def test_the_package_classifies_each_row_as_the_spec_says(row: dict[str, object]) -> None:
    kind = str(row["kind"])
    for code in forms(row):
        assert classified(kind, code, None), code
        for other in {"billing", "moderation", "throttling"} - {kind}:
            # a billing code is never throttling, whatever the status
            assert not classified(other, code, None, status=400), (code, other)
    for fragment in row.get("messages", []):  # type: ignore[attr-defined]
        assert classified(kind, None, f"Request failed: {str(fragment).upper()}.")


def test_a_code_outside_the_table_is_not_classified() -> None:
    for kind in ("billing", "moderation", "throttling"):
        assert not classified(kind, "InvalidParameter", "failed")
        assert not classified(kind, "ThrottlingX", "failed")  # a prefix match needs the dot


def test_a_row_added_to_the_spec_reaches_both_bindings(tmp_path: Path) -> None:
    edited = copy.deepcopy(SPEC_DATA)
    edited["x-error-codes"].append(
        {
            "code": "Rehearsal.SlowDown",
            "kind": "throttling",
            "status": 429,
            "error": "RateLimitError",
            "retry": True,
            "match": "exact",
            "x-docs": "error-codes § Rehearsal.SlowDown",
        }
    )
    path = tmp_path / "modelstudio.yaml"
    path.write_text(yaml.safe_dump(edited, sort_keys=False, allow_unicode=True), encoding="utf-8")
    spec, problems = load(path)
    assert spec is not None, problems[:5]
    python = package_files(spec)["_error_codes.py"]
    typescript = generate_typescript(spec)["src/errorCodes.ts"]
    throttling_py = python.split("THROTTLING: CodeSet = ", 1)[1].split("\n)", 1)[0]
    throttling_ts = typescript.split("export const THROTTLING", 1)[1].split("};", 1)[0]
    # the first of the tuple: the codes matched exactly
    assert '"rehearsal.slowdown"' in throttling_py.split("frozenset(", 2)[1]
    assert '"rehearsal.slowdown"' in throttling_ts.split("prefixes:", 1)[0]
    committed = SPEC.parent.parent / "generated" / "python" / "modelstudio" / "_error_codes.py"
    assert "rehearsal.slowdown" not in committed.read_text(encoding="utf-8")


def test_a_bad_kind_or_match_is_a_problem_with_its_line(tmp_path: Path) -> None:
    edited = copy.deepcopy(SPEC_DATA)
    edited["x-error-codes"][0] = dict(edited["x-error-codes"][0], kind="payment", match="glob")
    path = tmp_path / "modelstudio.yaml"
    path.write_text(yaml.safe_dump(edited, sort_keys=False, allow_unicode=True), encoding="utf-8")
    _, problems = load(path)
    assert any("kind must be one of billing, throttling, moderation, not 'payment'" in p
               for p in problems)  # fmt: skip
    assert any("match must be one of exact, prefix, segment, not 'glob'" in p for p in problems)
