"""`python -m codegen diff`: a rehearsal on the real spec (a known set of edits must be reported
exactly, with the right classes), then one edit per category on the small spec."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.core.diff import diff
from codegen.core.load import load
from tests.paths import ROOT, SPEC

MINI = Path(__file__).parent / "fixtures" / "mini-spec.yaml"
Edit = Callable[[dict[str, Any]], None]
Found = set[tuple[str, str, str]]


def write(data: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def changes(source: Path, edit: Edit, tmp: Path, *, docs: bool = False) -> Found:
    """(severity, kind, where) of every change `edit` makes to the spec at `source`."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    edited = copy.deepcopy(data)
    edit(edited)
    old, problems = load(write(data, tmp / "old.yaml"))
    assert old is not None, problems[:5]
    new, problems = load(write(edited, tmp / "new.yaml"))
    assert new is not None, problems[:5]
    report = diff(old, new)
    return {
        (c.severity, c.kind, c.where)
        for c in report.changes
        if docs or c.severity != "documentation"
    }


# ---- the rehearsal ----------------------------------------------------------------------------


def rehearsal_edits(spec: dict[str, Any]) -> None:
    params = spec["components"]["schemas"]["GenerationParameters"]["properties"]
    params["rehearsal_flag"] = {
        "type": "boolean",
        "description": "A parameter the rehearsal adds.",
        "x-docs": "qwen-api-reference § Request parameters",
    }
    params["incremental_output"]["default"] = True
    params["output_format"]["enum"].remove("model_summary_report")
    params["top_logprobs"]["maximum"] = 4
    families = spec["x-model-families"]
    base = next(f for f in families if f["family"] == "qwen-plus-snapshot")
    row = copy.deepcopy(base)
    row["family"] = "qwen-plus-rehearsal"
    row["match"] = ["qwen-plus-2025-12-01"]
    row.setdefault("defaults", {})["top_k"] = 50
    families.insert(0, row)


def test_rehearsal_reports_exactly_the_edits_with_their_classes(tmp_path: Path) -> None:
    found = changes(SPEC, rehearsal_edits, tmp_path)
    assert found == {
        ("additive", "field-added", "GenerationParameters.rehearsal_flag"),
        ("behaviour", "default-changed", "GenerationParameters.incremental_output"),
        ("breaking", "enum-value-removed", "GenerationParameters.output_format"),
        ("breaking", "bound-tightened", "GenerationParameters.top_logprobs"),
        ("additive", "family-added", "x-model-families qwen-plus-rehearsal"),
        (
            "behaviour",
            "family-models-moved",
            "x-model-families qwen-plus-snapshot -> qwen-plus-rehearsal",
        ),
    }


def test_rehearsal_names_the_moved_model_and_what_changes_for_it(tmp_path: Path) -> None:
    data = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    edited = copy.deepcopy(data)
    rehearsal_edits(edited)
    old, _ = load(write(data, tmp_path / "old.yaml"))
    new, _ = load(write(edited, tmp_path / "new.yaml"))
    assert old is not None and new is not None
    report = diff(old, new)
    (moved,) = [c for c in report.changes if c.kind == "family-models-moved"]
    assert moved.models == ("qwen-plus-2025-12-01",)
    assert "top_k" in moved.message
    text = report.to_text()
    assert "Breaking (2):" in text and "value(s) 'model_summary_report' removed" in text
    assert "maximum <= 5 -> <= 4" in text
    assert "default False -> True" in text


def test_the_cli_reports_json_and_gates_on_the_major_version(tmp_path: Path) -> None:
    data = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    edited = copy.deepcopy(data)
    rehearsal_edits(edited)
    old, new = write(data, tmp_path / "old.yaml"), write(edited, tmp_path / "new.yaml")
    run = [sys.executable, "-m", "codegen", "diff", str(old), str(new)]
    out = subprocess.run([*run, "--json"], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["breaking"] is True
    assert {c["kind"] for c in report["changes"]["breaking"]} == {
        "enum-value-removed",
        "bound-tightened",
    }
    gate = subprocess.run([*run, "--fail-on-breaking"], cwd=ROOT, capture_output=True, text=True)
    assert gate.returncode == 1 and "raise the major version" in gate.stderr
    edited["info"]["version"] = "2.0.0"
    write(edited, tmp_path / "new.yaml")
    gate = subprocess.run([*run, "--fail-on-breaking"], cwd=ROOT, capture_output=True, text=True)
    assert gate.returncode == 0, gate.stderr
    assert "info.version 1.0.0 -> 2.0.0" in gate.stdout


def test_no_change_is_said_in_words(tmp_path: Path) -> None:
    assert changes(SPEC, lambda spec: None, tmp_path, docs=True) == set()
    same = subprocess.run(
        [sys.executable, "-m", "codegen", "diff", str(SPEC), str(SPEC)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert same.stdout.strip() == "No contract change."


def test_a_spec_that_does_not_load_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: [\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "codegen", "diff", str(bad), str(SPEC)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2 and "cannot compare" in run.stderr


# ---- one edit per category (the small spec) -----------------------------------------------------


def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["components"]["schemas"]  # type: ignore[no-any-return]


def params(spec: dict[str, Any]) -> dict[str, Any]:
    return schemas(spec)["GenerationParameters"]["properties"]  # type: ignore[no-any-return]


def op(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["paths"]["/services/aigc/text-generation/generation"]["post"]  # type: ignore[no-any-return]


def family(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in spec["x-model-families"] if f["family"] == name)


def add_rule(spec: dict[str, Any]) -> None:
    schemas(spec)["GenerationParameters"]["x-rules"].append(
        {"id": "no-stop-with-tools", "if": {"tools": {"present": True}},
         "then": {"stop": {"absent": True}}, "message": "no stop with tools",
         "x-docs": "ref § tools"}
    )  # fmt: skip


def reorder(spec: dict[str, Any]) -> None:
    rows = spec["x-model-families"]
    rows.insert(1, {"family": "mini", "match": ["mini-*"], "endpoints": ["text-generation"],
                    "defaults": {"temperature": 0.5}, "x-docs": "ref § defaults"})  # fmt: skip
    rows[0], rows[1] = rows[1], rows[0]


def error_codes(codes: list[dict[str, Any]]) -> Edit:
    def edit(spec: dict[str, Any]) -> None:
        spec["x-error-codes"] = codes

    return edit


THROTTLING = {"code": "Throttling", "status": 429, "error": "RateLimitError", "retry": True}

CASES: list[tuple[str, Edit, set[tuple[str, str, str]]]] = [
    ("operation removed", lambda s: s.__setitem__("paths", {}),
     {("breaking", "operation-removed", "textGeneration (POST /services/aigc/text-generation/generation)")}),
    ("server added", lambda s: s["servers"].append({"url": "https://b.invalid/api/v1"}),
     {("additive", "server-added", "servers https://b.invalid/api/v1")}),
    ("server removed", lambda s: s.__setitem__("servers", []),
     {("breaking", "server-removed", "servers https://example.invalid/api/v1")}),
    ("stream removed", lambda s: op(s)["responses"]["200"]["content"].pop("text/event-stream"),
     {("breaking", "operation-stream-removed", "textGeneration (POST /services/aigc/text-generation/generation)")}),
    ("optional request field added", lambda s: params(s).__setitem__("seed", {"type": "integer"}),
     {("additive", "field-added", "GenerationParameters.seed")}),
    ("required request field added",
     lambda s: (params(s).__setitem__("seed", {"type": "integer"}),
                schemas(s)["GenerationParameters"].__setitem__("required", ["seed"])),
     {("breaking", "field-added-required", "GenerationParameters.seed")}),
    ("request field removed", lambda s: params(s).pop("stop"),
     {("breaking", "field-removed", "GenerationParameters.stop")}),
    ("request field made required",
     lambda s: schemas(s)["GenerationParameters"].__setitem__("required", ["temperature"]),
     {("breaking", "field-made-required", "GenerationParameters.temperature")}),
    ("request field widened", lambda s: params(s)["temperature"].__setitem__("type", ["number", "string"]),
     # the loader keeps no bounds on a multi-type union: they are gone too
     {("additive", "field-retyped", "GenerationParameters.temperature"),
      ("additive", "bound-loosened", "GenerationParameters.temperature")}),
    ("request field retyped", lambda s: params(s)["result_format"].__setitem__("type", "integer"),
     {("breaking", "field-retyped", "GenerationParameters.result_format")}),
    ("request enum value added", lambda s: params(s)["result_format"]["enum"].append("json"),
     {("additive", "enum-value-added", "GenerationParameters.result_format")}),
    ("request enum value removed", lambda s: params(s)["result_format"]["enum"].remove("text"),
     {("breaking", "enum-value-removed", "GenerationParameters.result_format")}),
    ("bound tightened", lambda s: params(s)["temperature"].__setitem__("minimum", 0.1),
     {("breaking", "bound-tightened", "GenerationParameters.temperature")}),
    ("bound loosened", lambda s: params(s)["temperature"].__setitem__("exclusiveMaximum", 3),
     {("additive", "bound-loosened", "GenerationParameters.temperature")}),
    ("open bound closed at the same value loosens",
     lambda s: (params(s)["temperature"].pop("exclusiveMaximum"),
                params(s)["temperature"].__setitem__("maximum", 2)),
     {("additive", "bound-loosened", "GenerationParameters.temperature")}),
    ("list bound tightened", lambda s: schemas(s)["GenerationRequest"]["properties"]["input"]["properties"]["messages"].__setitem__("maxItems", 10),
     {("breaking", "bound-tightened", "GenerationRequestInput.messages")}),
    ("default changed", lambda s: params(s)["result_format"].__setitem__("default", "message"),
     {("behaviour", "default-changed", "GenerationParameters.result_format")}),
    ("response field removed", lambda s: schemas(s)["GenerationResponse"]["properties"].pop("request_id"),
     {("breaking", "field-removed", "GenerationResponse.request_id")}),
    ("response field made required",
     lambda s: schemas(s)["GenerationResponse"].__setitem__("required", ["request_id"]),
     {("additive", "field-made-required", "GenerationResponse.request_id")}),
    ("response field made nullable",
     lambda s: schemas(s)["GenerationResponse"]["properties"]["request_id"].__setitem__("type", ["string", "null"]),
     {("breaking", "field-made-nullable", "GenerationResponse.request_id")}),
    ("message kind added to a request union",
     lambda s: (schemas(s).__setitem__("AssistantMessage", {"type": "object", "x-docs": "ref § a", "properties": {"role": {"const": "assistant"}}}),
                schemas(s)["Message"]["oneOf"].append({"$ref": "#/components/schemas/AssistantMessage"}),
                schemas(s)["Message"]["discriminator"]["mapping"].__setitem__("assistant", "#/components/schemas/AssistantMessage")),
     {("additive", "schema-added", "AssistantMessage"),
      ("additive", "union-variants-changed", "Message"),
      ("additive", "discriminator-value-added", "Message")}),
    ("family added after its models' row: nothing moves", lambda s: s["x-model-families"].insert(1, {"family": "mini-2", "match": ["mini-think-2"], "x-docs": "ref § x"}),
     {("additive", "family-added", "x-model-families mini-2")}),
    ("family removed", lambda s: s["x-model-families"].pop(0),
     {("behaviour", "family-removed", "x-model-families mini-thinker"),
      # thinking mode and defaults change for mini-think*; streaming is no longer required
      ("behaviour", "family-models-moved", "x-model-families mini-thinker -> default")}),
    ("families reordered", reorder,
     {("additive", "family-added", "x-model-families mini"),
      ("behaviour", "family-models-moved", "x-model-families mini-thinker -> mini"),
      ("behaviour", "family-models-moved", "x-model-families default -> mini")}),
    ("family default changed", lambda s: family(s, "default")["defaults"].__setitem__("temperature", 0.8),
     {("behaviour", "family-default-changed", "x-model-families default")}),
    ("support flag turned off", lambda s: family(s, "default").__setitem__("supports", {"n": False}),
     {("breaking", "family-support-removed", "x-model-families default")}),
    ("limit added", lambda s: family(s, "default").__setitem__("limits", {"images_max": 3}),
     {("breaking", "family-limit-added", "x-model-families default")}),
    ("streaming no longer required", lambda s: family(s, "mini-thinker").__setitem__("streaming_only", False),
     {("additive", "family-streaming-changed", "x-model-families mini-thinker")}),
    ("thinking mode changed", lambda s: family(s, "mini-thinker")["thinking"].__setitem__("mode", "hybrid"),
     {("behaviour", "family-thinking-mode-changed", "x-model-families mini-thinker")}),
    ("endpoint removed", lambda s: family(s, "default").__setitem__("endpoints", []),
     {("breaking", "family-endpoint-removed", "x-model-families default")}),
    ("rule added", add_rule, {("breaking", "rule-added", "GenerationParameters rule no-stop-with-tools")}),
    ("rule removed", lambda s: schemas(s)["GenerationParameters"]["x-rules"].clear(),
     {("additive", "rule-removed", "GenerationParameters rule tools-need-message-format")}),
    ("rule tightened",
     lambda s: schemas(s)["GenerationParameters"]["x-rules"][0].__setitem__("if", {"stop": {"present": True}}),
     {("breaking", "rule-tightened", "GenerationParameters rule tools-need-message-format")}),
    ("rule loosened",
     lambda s: schemas(s)["GenerationParameters"]["x-rules"][0]["if"].__setitem__("stop", {"present": True}),
     {("additive", "rule-loosened", "GenerationParameters rule tools-need-message-format")}),
    ("error code added", error_codes([THROTTLING]),
     {("additive", "error-code-added", "x-error-codes Throttling")}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_category(name: str, edit: Edit, expected: Found, tmp_path: Path) -> None:
    assert changes(MINI, edit, tmp_path) == expected


def test_error_code_remapped_and_retry_changed(tmp_path: Path) -> None:
    data = yaml.safe_load(MINI.read_text(encoding="utf-8"))
    data["x-error-codes"] = [THROTTLING]
    base = write(data, tmp_path / "base.yaml")
    remapped = dict(THROTTLING, error="APIStatusError", status=400, retry=False)
    assert changes(base, error_codes([remapped]), tmp_path) == {
        ("breaking", "error-code-remapped", "x-error-codes Throttling"),
        ("behaviour", "error-code-retry-changed", "x-error-codes Throttling"),
    }
    assert changes(base, error_codes([]), tmp_path) == {
        ("behaviour", "error-code-removed", "x-error-codes Throttling")
    }


def test_error_code_kind_and_matching_changes_are_behaviour(tmp_path: Path) -> None:
    data = yaml.safe_load(MINI.read_text(encoding="utf-8"))
    data["x-error-codes"] = [dict(THROTTLING, kind="throttling", match="prefix")]
    base = write(data, tmp_path / "base.yaml")
    billing = dict(THROTTLING, kind="billing", match="prefix")
    assert changes(base, error_codes([billing]), tmp_path) == {
        ("behaviour", "error-code-kind-changed", "x-error-codes Throttling")
    }
    exact = dict(THROTTLING, kind="throttling", match="exact", messages=["slow down"])
    assert changes(base, error_codes([exact]), tmp_path) == {
        ("behaviour", "error-code-match-changed", "x-error-codes Throttling")
    }


def test_descriptions_and_citations_are_documentation(tmp_path: Path) -> None:
    def edit(spec: dict[str, Any]) -> None:
        params(spec)["temperature"]["description"] = "How random."
        params(spec)["temperature"]["x-docs"] = "ref § sampling"
        op(spec)["summary"] = "Generate some text."

    assert changes(MINI, edit, tmp_path, docs=True) == {
        ("documentation", "field-description-changed", "GenerationParameters.temperature"),
        ("documentation", "field-docs-changed", "GenerationParameters.temperature"),
        ("documentation", "operation-description-changed",
         "textGeneration (POST /services/aigc/text-generation/generation)"),
    }  # fmt: skip


def finish_reason(spec: dict[str, Any]) -> dict[str, Any]:
    output = schemas(spec)["GenerationResponse"]["properties"]["output"]
    return output["properties"]["finish_reason"]  # type: ignore[no-any-return]


def base_with(edit: Edit, tmp: Path) -> Path:
    data = yaml.safe_load(MINI.read_text(encoding="utf-8"))
    edit(data)
    return write(data, tmp / "base.yaml")


def test_response_field_made_optional_and_response_enum_value_added(tmp_path: Path) -> None:
    def base(spec: dict[str, Any]) -> None:
        schemas(spec)["GenerationResponse"]["required"] = ["request_id"]
        finish_reason(spec)["enum"] = ["stop"]

    def edit(spec: dict[str, Any]) -> None:
        del schemas(spec)["GenerationResponse"]["required"]
        finish_reason(spec)["enum"].append("length")

    assert changes(base_with(base, tmp_path), edit, tmp_path) == {
        ("breaking", "field-made-optional", "GenerationResponse.request_id"),
        # typed clients with exhaustive matches see a new case (oasdiff: a warning)
        ("behaviour", "enum-value-added", "GenerationResponseOutput.finish_reason"),
    }


def test_support_flag_turned_back_on_and_limit_tightened(tmp_path: Path) -> None:
    def base(spec: dict[str, Any]) -> None:
        family(spec, "default")["supports"] = {"n": False}
        family(spec, "default")["limits"] = {"images_max": 3, "frames_min": 4}

    def edit(spec: dict[str, Any]) -> None:
        family(spec, "default")["supports"] = {"n": True}
        family(spec, "default")["limits"] = {"images_max": 2, "frames_min": 2}

    assert changes(base_with(base, tmp_path), edit, tmp_path) == {
        ("additive", "family-support-added", "x-model-families default"),
        ("breaking", "family-limit-tightened", "x-model-families default"),
        ("additive", "family-limit-loosened", "x-model-families default"),
    }


def test_a_spec_is_read_out_of_git_as_rev_colon_path(tmp_path: Path) -> None:
    """`make regenerate` compares the spec with `HEAD:spec/modelstudio.yaml`."""
    head = subprocess.run(["git", "show", "HEAD:spec/modelstudio.yaml"], cwd=ROOT,
                          capture_output=True)  # fmt: skip
    assert head.returncode == 0, head.stderr
    edited = yaml.safe_load(head.stdout)
    edited["components"]["schemas"]["GenerationParameters"]["properties"].pop("seed")
    new = write(edited, tmp_path / "modelstudio.yaml")
    run = subprocess.run(
        [sys.executable, "-m", "codegen", "diff", "HEAD:spec/modelstudio.yaml", str(new)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "GenerationParameters.seed: field removed from the request" in run.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "codegen", "diff", "HEAD:no/such.yaml", str(new)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 2 and "cannot compare" in missing.stderr
