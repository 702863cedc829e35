"""`make docs-check DOCS=<folder>`: every citation against saved pages.

The pages are rebuilt in a temporary folder from `tests/fixtures/docs-excerpts.json` (the cited
passages of each page, with its public title, written by `make docs-fingerprints`), so the test
needs nothing beside the repository.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codegen.core import docs_check
from codegen.core.load import load
from codegen.core.yaml_lines import load_yaml
from tests.paths import ROOT, SPEC

FIXTURES = Path(__file__).parent / "fixtures"
EXCERPTS = FIXTURES / "docs-excerpts.json"
FINGERPRINTS = ROOT / "spec" / "docs-fingerprints.json"
SEPARATOR = "\n\u2026\n"  # between excerpts: no phrase spans it


def build_pages(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    texts = {}
    for name, page in json.loads(EXCERPTS.read_text(encoding="utf-8")).items():
        texts[name] = SEPARATOR.join(page["excerpts"])
        (folder / name).write_text(texts[name], encoding="utf-8")
    return texts


def recorded() -> dict[str, str | None]:
    return json.loads(FINGERPRINTS.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def run_check(docs: Path, spec_path: Path = SPEC) -> docs_check.Result:
    spec, problems = load(spec_path)
    assert spec is not None, problems[:5]
    root = load_yaml(spec_path.read_text(encoding="utf-8"))
    return docs_check.check(spec, root, docs, recorded())


def failures(result: docs_check.Result) -> dict[str, str]:
    """What fails, among the citations recorded by the last `make docs-fingerprints` (one added
    since is not in the excerpts yet)."""
    known = recorded()
    return {
        f.citation: f.level
        for f in result.findings
        if f.level in ("error", "changed") and f.citation in known
    }


def test_the_fixture_carries_the_public_titles() -> None:
    spec, _ = load(SPEC)
    assert spec is not None
    data = json.loads(EXCERPTS.read_text(encoding="utf-8"))
    titles = {p.file: p.title for p in spec.pages if p.file}
    assert data and {name: page["title"] for name, page in data.items()} == {
        name: titles[name] for name in data
    }


def test_every_recorded_citation_still_matches_its_page(tmp_path: Path) -> None:
    build_pages(tmp_path / "docs")
    result = run_check(tmp_path / "docs")
    known = recorded()
    assert failures(result) == {}
    assert result.checked >= len([k for k in known if known[k] is not None])


def test_a_changed_default_lists_exactly_the_sections_around_it(tmp_path: Path) -> None:
    texts = build_pages(tmp_path / "docs")
    name = "001_815efe83d03b75c9.txt"
    text = texts[name]
    phrase = "default value for Qwen3 commercial models is "
    at = text.index(phrase) + len(phrase)
    assert text[at:].startswith("False")
    edited = text[:at] + "True" + text[at + len("False") :]
    (tmp_path / "docs" / name).write_text(edited, encoding="utf-8")
    page = docs_check.Page.of(text)
    edit_at = len(docs_check.squash(text[:at]))
    spec, _ = load(SPEC)
    assert spec is not None
    expected = set()
    for citation in spec.citations:
        key = docs_check.key_of(citation)
        if citation.page != "qwen-api-reference" or recorded().get(key) is None:
            continue
        found = docs_check.locate(page, citation.section)
        if found and found[0] <= edit_at < found[0] + docs_check.WINDOW:
            expected.add(key)
    assert expected, "the edit must fall inside some cited section"
    assert failures(run_check(tmp_path / "docs")) == dict.fromkeys(expected, "changed")


def test_a_removed_section_is_reported_not_found(tmp_path: Path) -> None:
    texts = build_pages(tmp_path / "docs")
    name = "004_999108d049104343.txt"
    heading = "Fault tolerance and stability"
    excerpts = texts[name].split(SEPARATOR)
    kept = [e for e in excerpts if heading not in e]
    assert len(kept) < len(excerpts)
    (tmp_path / "docs" / name).write_text(SEPARATOR.join(kept), encoding="utf-8")
    result = run_check(tmp_path / "docs")
    key = f"vision-guide § {heading}"
    assert failures(result)[key] == "error"
    (finding,) = [f for f in result.findings if f.citation == key]
    assert "section not found in 004_999108d049104343.txt" in finding.message
    assert finding.lines, "the report says which spec lines cite it"


def test_a_missing_page_is_reported(tmp_path: Path) -> None:
    build_pages(tmp_path / "docs")
    (tmp_path / "docs" / "003_bb9708c812a53c71.txt").unlink()
    result = run_check(tmp_path / "docs")
    missing = [f for f in result.findings if "page not found" in f.message]
    assert [f.citation for f in missing] == ["DashScope chat (003_bb9708c812a53c71.txt)"]


# ---- examples taken from the docs, on the small spec --------------------------------------------

SAMPLE = {"model": "mini-1", "input": {"messages": [{"role": "user", "content": "Hi"}]}}


def mini_with_example(tmp: Path) -> Path:
    text = (FIXTURES / "mini-spec.yaml").read_text(encoding="utf-8")
    anchor = '            schema: {$ref: "#/components/schemas/GenerationRequest"}\n'
    assert anchor in text
    example = (
        anchor + "            examples:\n              text-input:\n"
        "                summary: Text generation (the mini reference)\n"
        f"                value: {json.dumps(SAMPLE)}\n"
        '                x-docs: "ref § Text generation"\n'
    )
    path = tmp / "spec.yaml"
    path.write_text(text.replace(anchor, example, 1), encoding="utf-8")
    return path


def write_mini_pages(docs: Path, body: dict[str, Any]) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    sample = json.dumps(body, indent=2)
    ref = f"Text generation\ncurl --location 'https://x' \\\n -d '{sample}'\ntemperature: 0 to 2\n"
    (docs / "ref.txt").write_text(ref + "tools\nthinking\ndefaults\n", encoding="utf-8")
    (docs / "ref-old.txt").write_text(
        "Text generation\nrequest\nparameters\nmessages\nsystem\nuser\ncontent\n", encoding="utf-8"
    )
    (docs / "chat.txt").write_text("response\n", encoding="utf-8")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", "docs-check", *args],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip


def test_an_example_must_still_equal_the_pages_sample(tmp_path: Path) -> None:
    spec = mini_with_example(tmp_path)
    prints = tmp_path / "prints.json"
    write_mini_pages(tmp_path / "docs", SAMPLE)
    first = cli(str(tmp_path / "docs"), "--spec", str(spec), "--fingerprints", str(prints),
                "--update-fingerprints")  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    assert (
        cli(str(tmp_path / "docs"), "--spec", str(spec), "--fingerprints", str(prints)).returncode
        == 0
    )
    changed = dict(SAMPLE, model="mini-2")
    write_mini_pages(tmp_path / "docs", changed)
    again = cli(str(tmp_path / "docs"), "--spec", str(spec), "--fingerprints", str(prints))
    assert again.returncode == 1
    assert "the example no longer equals any sample on ref.txt" in again.stdout
    # the sample sits in the cited "Text generation" section, so its text changed too
    assert "changed: ref § Text generation" in again.stdout


def test_the_cli_names_a_folder_that_is_not_there(tmp_path: Path) -> None:
    run = cli(str(tmp_path / "nowhere"))
    assert run.returncode == 2 and "not a folder of docs pages" in run.stderr


@pytest.mark.parametrize(
    ("section", "starts"),
    [("Limits: Image limits", "imagelimits"), ("top_p", "top_p"),
     ("Tool Message content", "contentstring"), ("Image limits (for every model)", "imagelimits")],
)  # fmt: skip
def test_sections_are_found_through_scraping_damage(section: str, starts: str) -> None:
    page = docs_check.Page.of(
        "Limits\nVideo limits ...\nImage limits: width > 10px\n"
        "Tool Message\nrole string\ncontent string\ntop_p float (Optional)"
    )
    found = docs_check.locate(page, section)
    assert found is not None
    assert page.window(found[0]).startswith(starts)


def test_a_section_that_is_not_on_the_page_is_not_found() -> None:
    page = docs_check.Page.of("Limits\nVideo limits\n")
    assert docs_check.locate(page, "Audio limits") is None


def test_an_example_that_cites_no_page_must_equal_a_sample_of_some_page(tmp_path: Path) -> None:
    spec = mini_with_example(tmp_path)
    text = spec.read_text(encoding="utf-8").replace(
        '                x-docs: "ref § Text generation"\n', ""
    )
    spec.write_text(text, encoding="utf-8")
    prints = tmp_path / "prints.json"
    write_mini_pages(tmp_path / "docs", SAMPLE)
    args = [str(tmp_path / "docs"), "--spec", str(spec), "--fingerprints", str(prints)]
    assert cli(*args, "--update-fingerprints").returncode == 0
    write_mini_pages(tmp_path / "docs", dict(SAMPLE, model="mini-2"))
    again = cli(*args)
    assert "error: /paths/" in again.stdout
    assert "no longer equals any sample on ref-old.txt, ref.txt, chat.txt" in again.stdout
