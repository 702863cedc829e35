"""`python -m codegen docs-check DOCS`: the spec's citations against saved copies of the pages.

For every citation of a page that has a saved copy (`x-docs-pages.<id>.file`):
- the page must be in DOCS;
- the cited section must be found in it;
- the text of the section must still have the fingerprint recorded in
  `spec/docs-fingerprints.json`, else the spec facts citing it need a re-read (a recorded
  `null` says a maintainer knows the section name is not on the page: the scrape of the
  newest reference lost its field names);
and every `examples` entry that cites a page must still equal one of the page's JSON samples.

Finding a section: the page text is compared with all whitespace removed and case folded
(scraping glues words together: "theenable_thinkingparameter"); a trailing "(...)" note is
dropped; "A: B" means B after A; "A / B" means A or B. The section's text is the WINDOW
characters from where it is found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from . import ir
from .load import load
from .yaml_lines import LineMap, load_yaml

WINDOW = 400
FINGERPRINTS = Path("spec/docs-fingerprints.json")


@attrs.frozen
class Page:
    """A saved page, searchable without whitespace."""

    text: str
    squashed: str
    # squashed index -> original index
    origin: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> Page:
        keep = [(i, ch.casefold()) for i, ch in enumerate(text) if not ch.isspace()]
        return cls(text, "".join(c for _, c in keep), tuple(i for i, _ in keep))

    def find(self, phrase: str, start: int = 0) -> int | None:
        """Where `phrase` starts (squashed index) at or after `start`, or None."""
        key = squash(phrase)
        if not key:
            return None
        at = self.squashed.find(key, start)
        return None if at < 0 else at

    def window(self, at: int) -> str:
        """The section's text: WINDOW squashed characters from `at`."""
        return self.squashed[at : at + WINDOW]

    def excerpt(self, at: int, length: int) -> tuple[int, int]:
        """The original-text span of `length` squashed characters from `at`."""
        end = min(at + length, len(self.origin)) - 1
        return self.origin[at], self.origin[max(end, at)] + 1


def squash(text: str) -> str:
    return "".join(ch.casefold() for ch in text if not ch.isspace())


def _core(section: str) -> str:
    """The section without trailing parenthesised notes."""
    core = section.strip()
    while core.endswith(")") and "(" in core:
        core = core[: core.rindex("(")].rstrip()
    return core or section.strip()


def _find_part(page: Page, part: str, start: int) -> tuple[int, list[int]] | None:
    """A part of a section name: the phrase, else (a scrape loses table layout) its words in
    order; parenthesised notes are dropped, "A / B" is either. Returns where it starts and
    every position the search relied on."""
    best: tuple[int, list[int]] | None = None
    for alt in part.split(" / "):
        phrase = re.sub(r"\([^)]*\)", " ", alt).strip() or alt
        hit = page.find(phrase, start)
        found: tuple[int, list[int]] | None = None if hit is None else (hit, [hit])
        if found is None:
            at, steps = start, list[int]()
            for word in phrase.split():
                next_at = page.find(word, at)
                if next_at is None:
                    steps = []
                    break
                steps.append(next_at)
                at = next_at
            found = (steps[-1], steps) if steps else None
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    return best


def locate(page: Page, section: str) -> tuple[int, list[int]] | None:
    """Where the cited section's text starts, and every position the search relied on."""
    parts = [p.strip() for p in _core(section).split(":") if p.strip()]
    if not parts:
        return None
    steps: list[int] = []
    start = 0
    at = 0
    for index, part in enumerate(parts):
        found = _find_part(page, part, start)
        if found is None and index:
            # a heading the scrape lost: the part anywhere on the page will do
            found = _find_part(page, part, 0)
        if found is None:
            return None
        at, used = found
        steps += used
        start = at
    return at, steps


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def key_of(citation: ir.Citation) -> str:
    return f"{citation.page} § {citation.section}"


@attrs.frozen
class Finding:
    """One line of the report: `level` is error (fails), changed (fails) or note."""

    level: str
    citation: str
    message: str
    lines: tuple[int, ...] = ()

    def text(self, spec_name: str) -> str:
        where = ", ".join(f"{spec_name}:{n}" for n in self.lines[:5])
        more = f" (+{len(self.lines) - 5})" if len(self.lines) > 5 else ""
        return f"{self.level}: {self.citation}: {self.message}" + (
            f" [cited at {where}{more}]" if where else ""
        )


@attrs.frozen
class Result:
    findings: tuple[Finding, ...]
    fingerprints: dict[str, str | None]
    excerpts: dict[str, list[str]]
    checked: int

    @property
    def failed(self) -> bool:
        return any(f.level in ("error", "changed") for f in self.findings)


def _json_samples(text: str) -> Iterator[Any]:
    """Every JSON object in a page (the curl `-d '{...}'` bodies and sample responses)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict) and value:
            yield value


def _examples(node: Any, path: str = "") -> Iterator[tuple[str, LineMap]]:
    """Every OpenAPI example object (`examples: {name: {value, x-docs}}`) in the spec."""
    if isinstance(node, LineMap):
        for key, value in node.items():
            if key == "examples" and isinstance(value, LineMap):
                for name, example in value.items():
                    if isinstance(example, LineMap) and "value" in example:
                        yield f"{path}/examples/{name}", example
            else:
                yield from _examples(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _examples(item, f"{path}/{i}")


def check(spec: ir.Spec, spec_root: Any, docs: Path, recorded: dict[str, str | None]) -> Result:
    """Check every citation of `spec` against the pages in `docs`."""
    pages_by_id = {p.id: p for p in spec.pages}
    loaded: dict[str, Page | None] = {}
    findings: list[Finding] = []
    prints: dict[str, str | None] = {}
    spans: dict[str, list[tuple[int, int]]] = {}
    checked = 0

    def page_of(page_id: str) -> Page | None:
        if page_id not in loaded:
            info = pages_by_id[page_id]
            path = docs / str(info.file)
            loaded[page_id] = Page.of(path.read_text(encoding="utf-8")) if path.is_file() else None
            if loaded[page_id] is None:
                findings.append(Finding("error", f"{info.title} ({info.file})",
                                        f"page not found in {docs}"))  # fmt: skip
        return loaded[page_id]

    for citation in spec.citations:
        info = pages_by_id[citation.page]
        if info.file is None:
            continue
        page = page_of(citation.page)
        if page is None:
            continue
        checked += 1
        key = key_of(citation)
        where = locate(page, citation.section)
        if where is None:
            prints[key] = None
            if key in recorded and recorded[key] is None:
                findings.append(Finding("note", key, "not found on the page (recorded so)",
                                        citation.lines))  # fmt: skip
            else:
                findings.append(Finding("error", key, f"section not found in {info.file}",
                                        citation.lines))  # fmt: skip
            continue
        at, parts = where
        prints[key] = fingerprint(page.window(at))
        for step in parts:
            spans.setdefault(str(info.file), []).append(page.excerpt(step, 60))
        spans.setdefault(str(info.file), []).append(page.excerpt(at, WINDOW))
        if key not in recorded:
            findings.append(Finding("note", key, "no fingerprint yet (a new citation)",
                                    citation.lines))  # fmt: skip
        elif recorded[key] != prints[key]:
            findings.append(Finding("changed", key, "the cited text changed: re-read the spec "
                                    "facts citing it", citation.lines))  # fmt: skip
    for key in sorted(set(recorded) - set(prints)):
        if not any(f.citation == key for f in findings):
            findings.append(Finding("note", key, "fingerprinted but no longer cited"))
    findings += _check_examples(spec_root, docs, pages_by_id, page_of)
    excerpts = {
        name: [loaded_text(loaded, pages_by_id, name)[a:b] for a, b in _merge(ranges)]
        for name, ranges in sorted(spans.items())
    }
    return Result(tuple(findings), prints, excerpts, checked)


def loaded_text(loaded: dict[str, Page | None], pages: dict[str, ir.DocsPage], name: str) -> str:
    for page_id, page in loaded.items():
        if page is not None and pages[page_id].file == name:
            return page.text
    return ""


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _check_examples(
    root: Any, docs: Path, pages: dict[str, ir.DocsPage], page_of: Any
) -> Iterator[Finding]:
    """An example citing a page must equal one of its samples; one citing none, a sample of
    any saved page."""
    samples: dict[str, list[Any]] = {}

    def samples_of(page_id: str) -> list[Any] | None:
        if page_id not in samples:
            page = page_of(page_id)
            samples[page_id] = [] if page is None else list(_json_samples(page.text))
        return samples[page_id]

    saved = [p for p in pages.values() if p.file is not None]
    for path, example in _examples(root):
        cited = example.get("x-docs")
        items = [cited] if isinstance(cited, str) else [str(i) for i in cited or []]
        targets = []
        for item in items:
            page_id = item.partition(" § ")[0].strip()
            info = pages.get(page_id) or next((p for p in saved if p.file == page_id), None)
            if info is not None and info.file is not None:
                targets.append(info)
        label = f"{path} ({'; '.join(items)})" if items else path
        if not items:
            targets = saved
        if not targets:
            continue
        if not any(example["value"] in (samples_of(info.id) or []) for info in targets):
            where = ", ".join(str(info.file) for info in targets)
            yield Finding("error", label, f"the example no longer equals any sample on {where}",
                          (example.line,))  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen docs-check", description=__doc__)
    parser.add_argument("docs", type=Path, help="folder with the saved pages")
    parser.add_argument("--spec", type=Path, default=Path("spec/modelstudio.yaml"))
    parser.add_argument("--fingerprints", type=Path, default=FINGERPRINTS)
    parser.add_argument(
        "--update-fingerprints",
        action="store_true",
        help="record the sections' current text (after re-reading what changed)",
    )
    parser.add_argument("--write-excerpts", type=Path, help="save the cited text as JSON")
    parser.add_argument("--notes", action="store_true", help="also list notes")
    args = parser.parse_args(argv)
    spec, problems = load(args.spec)
    if spec is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2
    if not args.docs.is_dir():
        print(f"{args.docs}: not a folder of docs pages", file=sys.stderr)
        return 2
    root = load_yaml(args.spec.read_text(encoding="utf-8"))
    recorded: dict[str, str | None] = {}
    if args.fingerprints.is_file():
        recorded = json.loads(args.fingerprints.read_text(encoding="utf-8"))
    result = check(spec, root, args.docs, recorded)
    for finding in result.findings:
        if finding.level != "note" or args.notes:
            print(finding.text(args.spec.name))
    notes = sum(f.level == "note" for f in result.findings)
    errors = sum(f.level == "error" for f in result.findings)
    changed = sum(f.level == "changed" for f in result.findings)
    print(
        f"{result.checked} citations checked against {args.docs}: {errors} not found, "
        f"{changed} changed, {notes} notes" + ("" if args.notes or not notes else " (--notes)")
    )
    if args.update_fingerprints:
        args.fingerprints.write_text(
            json.dumps(result.fingerprints, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        print(f"{args.fingerprints}: {len(result.fingerprints)} fingerprints recorded")
    if args.write_excerpts:
        titles = {str(p.file): p.title for p in spec.pages if p.file}
        data = {
            name: {"title": titles.get(name, ""), "excerpts": parts}
            for name, parts in result.excerpts.items()
        }
        args.write_excerpts.write_text(
            json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(f"{args.write_excerpts}: excerpts of {len(data)} pages")
    if args.update_fingerprints:
        # A section not found is recorded as such (null); only a missing page still fails.
        return 1 if any("page not found" in f.message for f in result.findings) else 0
    return 1 if result.failed else 0
