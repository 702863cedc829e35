"""The spec's `x-media-limits` (limits the vision guide states for every visual model) are what
both bindings and the generated vectors use where a family row is silent: an edit reaches all
three, `codegen diff` classifies it, and no runtime keeps its own copy."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from codegen.core import vectors
from codegen.core.diff import diff
from codegen.core.load import load
from codegen.python.pipeline import package_files
from codegen.typescript import generate as generate_typescript
from modelstudio._media import UNIVERSAL_LIMITS
from tests.paths import ROOT, SPEC

SPEC_DATA = yaml.safe_load(SPEC.read_text(encoding="utf-8"))


def edited(tmp: Path, name: str, value: int) -> Path:
    data = copy.deepcopy(SPEC_DATA)
    data["x-media-limits"][name]["value"] = value
    path = tmp / f"{name}-{value}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_the_package_uses_the_spec_table() -> None:
    table = {name: entry["value"] for name, entry in SPEC_DATA["x-media-limits"].items()}
    assert dict(UNIVERSAL_LIMITS) == table
    assert all(entry.get("x-docs") for entry in SPEC_DATA["x-media-limits"].values())


def test_no_runtime_keeps_its_own_copy() -> None:
    for path in [
        ROOT / "codegen/python/runtime/_media.py",
        ROOT / "codegen/typescript/runtime/media.ts",
    ]:
        source = path.read_text(encoding="utf-8")
        assert "UNIVERSAL_LIMITS" in source
        assert "UNIVERSAL_LIMITS: " not in source and "UNIVERSAL_LIMITS =" not in source, path.name


def test_an_edit_reaches_both_bindings_the_vectors_and_the_report(tmp_path: Path) -> None:
    old, _ = load(SPEC)
    new, problems = load(edited(tmp_path, "frames_min", 3))
    assert old is not None and new is not None, problems[:5]
    assert "    'frames_min': 3," in package_files(new)["_media_limits.py"].replace('"', "'")
    assert "  frames_min: 3," in generate_typescript(new)["src/mediaLimits.ts"]
    cases = json.loads(vectors.files(new)["validate.json"])["cases"]
    short = [c for c in cases if c["id"].endswith("media-limits/frames-min-short")]
    assert len(short) == 2
    for case in short:
        assert len(case["input"]["args"]["messages"][0]["content"][0]["video"]) == 2
    assert [(c.severity, c.kind, c.where) for c in diff(old, new).changes] == [
        ("additive", "media-limit-loosened", "x-media-limits frames_min")
    ]
    tighter, _ = load(edited(tmp_path, "videos_max", 32))
    assert tighter is not None
    assert [(c.severity, c.kind) for c in diff(old, tighter).changes] == [
        ("breaking", "media-limit-tightened")
    ]


def test_a_limit_without_a_number_is_a_problem(tmp_path: Path) -> None:
    data = copy.deepcopy(SPEC_DATA)
    data["x-media-limits"]["videos_max"] = {"value": "many"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    _, problems = load(path)
    assert any("x-media-limits videos_max: needs a number `value`" in p for p in problems)
