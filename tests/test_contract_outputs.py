"""What the contract tooling writes for readers: citations people can follow, the Python API
snapshot (`generated/python/api.md`) and the reference docs (`generated/docs/reference.md`)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from codegen.core.citations import INTERNAL_FILE_NAME
from codegen.core.load import load
from codegen.docs import generate as generate_docs
from codegen.python import generate as generate_python
from codegen.typescript import generate as generate_typescript
from tests.paths import ROOT, SPEC

GENERATED = ROOT / "generated"
FIXTURES = Path(__file__).parent / "fixtures"


def spec_text_with(tmp: Path, text: str) -> Path:
    path = tmp / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---- citations -------------------------------------------------------------------------------


def test_no_generated_file_names_a_saved_docs_file() -> None:
    offenders = [
        (path.relative_to(ROOT).as_posix(), match.group())
        for path in sorted(GENERATED.rglob("*"))
        if path.is_file() and not {"__pycache__", "node_modules", "dist"} & set(path.parts)
        for match in INTERNAL_FILE_NAME.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_user_facing_text_names_title_section_and_address() -> None:
    package = GENERATED / "python" / "modelstudio"
    types = "".join(p.read_text(encoding="utf-8") for p in sorted(package.glob("types*/**/*.py")))
    validation = "".join(
        p.read_text(encoding="utf-8") for p in sorted(package.glob("_validation*/**/*.py"))
    )
    url = "https://www.alibabacloud.com/help/en/model-studio/use-qwen-by-calling-api"
    assert f"Qwen API reference § top_p ({url})" in validation
    assert "Docs: Qwen API reference §" in types and url in types
    reference = (GENERATED / "docs" / "reference.md").read_text(encoding="utf-8")
    assert f"[Qwen API reference § top_p]({url})" in reference


def test_every_page_the_spec_cites_has_a_public_title(tmp_path: Path) -> None:
    spec, problems = load(SPEC)
    assert spec is not None, problems[:5]
    cited = {c.page for c in spec.citations}
    pages = {p.id: p for p in spec.pages}
    assert cited <= set(pages)
    for page_id in cited:
        assert pages[page_id].title and not INTERNAL_FILE_NAME.search(pages[page_id].title)
        if page_id != "api-digest":  # project notes: no public address
            assert str(pages[page_id].url).startswith("https://")


def test_a_citation_of_an_unknown_page_is_a_problem_with_its_line(tmp_path: Path) -> None:
    text = (FIXTURES / "mini-spec.yaml").read_text(encoding="utf-8")
    text = text.replace("x-docs: ref § temperature", "x-docs: nowhere § temperature")
    spec, problems = load(spec_text_with(tmp_path, text))
    assert spec is None
    line = text.splitlines().index("          x-docs: nowhere § temperature") + 1
    assert any(
        p.startswith(f"{tmp_path / 'spec.yaml'}:{line}: ") and "'nowhere § temperature'" in p
        and "unknown page" in p
        for p in problems
    ), problems  # fmt: skip


def test_old_style_citations_resolve_through_the_saved_file_name(tmp_path: Path) -> None:
    """A citation written before the rename (a saved file name, or `cnblogs-recorded/<case>`
    with the page's alias) still reaches users as title, section and address."""
    text = (FIXTURES / "mini-spec.yaml").read_text(encoding="utf-8")
    text = text.replace("x-docs: ref § temperature", "x-docs: ref.txt § temperature")
    text = text.replace(
        "  chat-ref: {",
        "  recorded: {title: Recordings, url: 'https://example.invalid/rec', aliases: [rec]}\n"
        "  chat-ref: {",
    )
    text = text.replace("x-docs: ref § tools", "x-docs: rec/tools-case")
    spec, problems = load(spec_text_with(tmp_path, text))
    assert spec is not None, problems
    params = {f.wire_name: f for f in spec.schema("GenerationParameters").fields}
    assert params["temperature"].docs == (
        "Mini API reference § temperature (https://example.invalid/docs/ref)",
    )
    (rule,) = dict(spec.rules)["GenerationParameters"]
    assert rule.docs == ("Recordings § tools-case (https://example.invalid/rec)",)


def test_the_pages_map_is_checked(tmp_path: Path) -> None:
    text = (FIXTURES / "mini-spec.yaml").read_text(encoding="utf-8")
    text = text.replace(
        'title: Mini chat reference, url: "https://',
        'title: 001_815efe83d03b75c9.txt, url: "http://',
    )
    spec, problems = load(spec_text_with(tmp_path, text))
    assert spec is None
    assert any("the title names a saved file" in p for p in problems)
    assert any("url must be https://" in p for p in problems)


# ---- the API snapshot and the reference docs follow the spec -----------------------------------


def edited_spec(tmp: Path) -> Path:
    data = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    edited = copy.deepcopy(data)
    edited["components"]["schemas"]["GenerationParameters"]["properties"]["rehearsal_flag"] = {
        "type": "integer",
        "minimum": 1,
        "maximum": 9,
        "default": 3,
        "description": "A parameter only this test has.",
        "x-docs": "vision-guide § Limits",
    }
    path = tmp / "modelstudio.yaml"
    path.write_text(yaml.safe_dump(edited, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_a_new_parameter_shows_in_the_api_snapshot_and_the_reference(tmp_path: Path) -> None:
    spec, problems = load(edited_spec(tmp_path))
    assert spec is not None, problems[:5]
    api = generate_python(spec)["api.md"]
    committed = (GENERATED / "python" / "api.md").read_text(encoding="utf-8")
    row = "| `rehearsal_flag` | `int \\| None` | `None` |"
    assert row not in committed
    # client.generation.create, client.multimodal.create and the GenerationParameters type
    assert api.count(row) == 3
    ts_api = generate_typescript(spec)["api.md"]
    ts_committed = (GENERATED / "typescript" / "api.md").read_text(encoding="utf-8")
    ts_row = "| `rehearsal_flag` | `number \\| null` | no | `3` | A parameter only this test has. |"
    assert ts_row not in ts_committed
    # client.generation.create and client.multimodal.create (the compatible endpoint has its own)
    assert ts_api.count(ts_row) == 2
    # and the GenerationParameters interface of the exports
    section = ts_api.split("### `interface GenerationParameters`", 1)[1].split("\n### ", 1)[0]
    assert "| `rehearsal_flag` | `number` | no |  |" in section
    reference = generate_docs(spec)["reference.md"]
    assert re.search(
        r"\| `rehearsal_flag` \| integer \|  \| >= 1, <= 9 \| `3` \| A parameter only this test"
        r" has\. \| \[Visual understanding § Limits\]\(https://",
        reference,
    )


def test_the_typescript_snapshot_lists_every_parameter_of_every_create() -> None:
    spec, _ = load(SPEC)
    assert spec is not None
    api = (GENERATED / "typescript" / "api.md").read_text(encoding="utf-8")
    for op in spec.operations:
        head = f"### `client.{'.'.join(op.resource)}.create(params, options?)`"
        section = api.split(head, 1)[1].split("\n### ", 1)[0]
        assert f"Calls `{op.method} {op.path}`" in section
        for f in spec.schema(op.parameters).fields:
            assert f"| `{f.wire_name}` |" in section, (op.operation_id, f.wire_name)


def test_the_api_snapshot_lists_every_parameter_of_every_create() -> None:
    spec, _ = load(SPEC)
    assert spec is not None
    api = (GENERATED / "python" / "api.md").read_text(encoding="utf-8")
    for op in spec.operations:
        section = api.split(f"### `client.{'.'.join(op.resource)}`", 1)[1].split("\n### ", 1)[0]
        assert f"calls `{op.method} {op.path}`" in section
        for f in spec.schema(op.parameters).fields:
            if f.wire_name in ("model", "messages", "stream"):
                continue
            assert f"| `{f.py_name}` |" in section, (op.operation_id, f.py_name)


def test_the_reference_has_every_parameter_response_field_and_family() -> None:
    spec, _ = load(SPEC)
    assert spec is not None
    reference = (GENERATED / "docs" / "reference.md").read_text(encoding="utf-8")
    for f in spec.schema("GenerationParameters").fields:
        assert f"| `{f.wire_name}` |" in reference
    for name in ("GenerationResponse", "GenerationChunk", "ChatCompletion", "Usage"):
        section = reference.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
        for f in spec.schema(name).fields:
            assert f"| `{f.wire_name}` |" in section, (name, f.wire_name)
    families = reference.split("## Model families", 1)[1].split("\n## ", 1)[0]
    for family in spec.families:
        assert f"\n| {family.family} | " in families
    # the per-model defaults of a parameter, with the row's own source
    top_p = reference.split("### `top_p`", 1)[1].split("\n### ", 1)[0]
    plus = next(f for f in spec.families if f.family == "qwen-plus")
    assert f"| qwen-plus | {', '.join(plus.match)} | " in top_p


def test_an_error_code_table_reaches_the_reference(tmp_path: Path) -> None:
    text = (FIXTURES / "mini-spec.yaml").read_text(encoding="utf-8")
    text += (
        "x-error-codes:\n"
        "  - {code: Throttling, status: 429, error: RateLimitError, retry: true,"
        " x-docs: 'ref § errors'}\n"
    )
    spec, problems = load(spec_text_with(tmp_path, text))
    assert spec is not None, problems
    reference = generate_docs(spec)["reference.md"]
    assert (
        "| `Throttling` | 429 | `RateLimitError` | yes |  |"
        " [Mini API reference § errors](https://example.invalid/docs/ref) |"
    ) in reference


def test_the_citations_command_renames_saved_file_names_to_page_ids(tmp_path: Path) -> None:
    """After merging a spec written before the rename, one command makes it uniform."""
    import subprocess
    import sys

    text = (FIXTURES / "mini-spec.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  chat-ref: {",
        "  recorded: {title: Recordings, url: 'https://example.invalid/rec', aliases: [rec]}\n"
        "  chat-ref: {",
    )
    old_style = text.replace("x-docs: ref § temperature", "x-docs: ref.txt § temperature")
    old_style = old_style.replace("x-docs: ref § tools", "x-docs: rec/tools-case")
    path = spec_text_with(tmp_path, old_style)
    run = subprocess.run(
        [sys.executable, "-m", "codegen", "citations", str(path)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "citations renamed" in run.stdout
    expected = text.replace("x-docs: ref § tools", "x-docs: recorded § tools-case")
    assert path.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize(("binding", "suffix"), [("python", "*.py"), ("typescript", "*.ts")])
def test_every_page_the_runtime_cites_is_in_the_spec(binding: str, suffix: str) -> None:
    spec, _ = load(SPEC)
    assert spec is not None
    runtime = ROOT / "codegen" / binding / "runtime"
    used = {
        m.group(1)
        for path in runtime.rglob(suffix)
        for m in re.finditer(r'cite\(\s*"([^"]+)"', path.read_text(encoding="utf-8"))
    }
    assert used and used <= {p.id for p in spec.pages}


def test_no_runtime_spells_a_docs_page_address() -> None:
    """The runtimes cite pages by id (`cite(page, section)`); titles and addresses come from
    the spec's x-docs-pages, so an address changed there reaches every binding."""
    spec, _ = load(SPEC)
    assert spec is not None
    spelled = [(page, text) for page in spec.pages for text in (page.url, page.title) if text]
    for path in (ROOT / "codegen").glob("*/runtime/**/*"):
        if path.suffix not in (".py", ".ts"):
            continue
        source = path.read_text(encoding="utf-8")
        for page, text in spelled:
            assert text not in source, (path.name, page.id, text)


def test_a_page_address_changed_in_the_spec_reaches_both_runtimes(tmp_path: Path) -> None:
    data = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    data["x-docs-pages"]["vision-guide"]["url"] = "https://example.invalid/vision-moved"
    path = tmp_path / "modelstudio.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    spec, problems = load(path)
    assert spec is not None, problems[:5]
    pages_ts = generate_typescript(spec)["src/docsPages.ts"]
    assert (
        '"vision-guide": ["Visual understanding", "https://example.invalid/vision-moved"]'
        in pages_ts
    )
    pages_py = generate_python(spec)["modelstudio/_docs_pages.py"]
    assert '"https://example.invalid/vision-moved"' in pages_py
