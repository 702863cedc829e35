"""The spec's `x-docs` citations: `"<page id> § <section>"`, resolved through `x-docs-pages` into
the page's public title and address, so that no user-facing text names a saved file."""

from __future__ import annotations

import re
from typing import Any

from . import ir
from .yaml_lines import LineMap

SEPARATOR = " § "
PAGE_KEYS = {"title", "url", "file", "age", "aliases"}
# How a saved copy of a docs page is named; such a name never reaches a user.
INTERNAL_FILE_NAME = re.compile(r"[0-9]{3}_[0-9a-f]{16}\.txt")


def read_pages(root: LineMap, problems: Any) -> dict[str, ir.DocsPage]:
    """The top-level `x-docs-pages` map, checked; `problems.add(line, message)` for each fault."""
    raw = root.get("x-docs-pages")
    if raw is None:
        problems.add(1, "x-docs-pages is missing: map each cited page id to {title, url}")
        return {}
    if not isinstance(raw, LineMap):
        problems.add(root.line_of("x-docs-pages"), "x-docs-pages must map page ids to pages")
        return {}
    pages: dict[str, ir.DocsPage] = {}
    for page_id, entry in raw.items():
        line = raw.line_of(page_id)
        if not isinstance(entry, LineMap) or not entry.get("title"):
            problems.add(line, f"x-docs-pages.{page_id}: needs a title")
            continue
        for key in entry:
            if key not in PAGE_KEYS and not key.startswith("x-"):
                problems.add(entry.line_of(key), f"x-docs-pages.{page_id}: unknown key {key!r}")
        title = str(entry["title"])
        if INTERNAL_FILE_NAME.search(title):
            problems.add(line, f"x-docs-pages.{page_id}: the title names a saved file")
        url = entry.get("url")
        if url is not None and not str(url).startswith("https://"):
            problems.add(entry.line_of("url"), f"x-docs-pages.{page_id}: url must be https://")
        age = entry.get("age")
        pages[str(page_id)] = ir.DocsPage(
            id=str(page_id),
            title=title,
            url=None if url is None else str(url),
            file=None if entry.get("file") is None else str(entry["file"]),
            age=age if isinstance(age, int) else None,
            aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        )
    return pages


class Resolver:
    """Turns citation strings into `ir.Citation`s, remembering every use with its line."""

    def __init__(self, pages: dict[str, ir.DocsPage]) -> None:
        self.pages = pages
        self.by_name: dict[str, ir.DocsPage] = {}
        for page in pages.values():
            for name in (page.id, page.file, *page.aliases):
                if name:
                    self.by_name[name] = page
        self.uses: dict[tuple[str, str], list[int]] = {}

    def page_of(self, name: str) -> ir.DocsPage | None:
        """The page a citation's first part names: its id, its saved file name or an alias
        (`alias/<section>` also works, as in `cnblogs-recorded/<case>`)."""
        if name in self.by_name:
            return self.by_name[name]
        head = name.split("/", 1)[0]
        page = self.by_name.get(head)
        return page if page is not None and head in page.aliases else None

    def resolve(self, text: str, line: int = 0) -> ir.Citation | None:
        name, _, section = text.partition(SEPARATOR)
        name, section = name.strip(), section.strip()
        page = self.page_of(name)
        if page is None:
            return None
        if "/" in name and name not in self.by_name:
            section = (name.split("/", 1)[1] + (f" ({section})" if section else "")).strip()
        citation = ir.Citation(page=page.id, section=section, title=page.title, url=page.url)
        self.uses.setdefault((citation.page, citation.section), []).append(line)
        return citation

    def texts(self, raw: tuple[str, ...], line: int) -> tuple[str, ...]:
        """The user-facing text of each citation (an unknown page is left as written: the
        walk over the whole tree reports it, so it never reaches generated files)."""
        out = []
        for item in raw:
            citation = self.resolve(item, line)
            out.append(citation.text if citation else item)
        return tuple(out)

    def check_tree(self, node: Any, problems: Any) -> None:
        """Every `x-docs` anywhere in the spec must name a known page."""
        if isinstance(node, LineMap):
            for key, value in node.items():
                if key == "x-docs":
                    items = [value] if isinstance(value, str) else value
                    if not isinstance(items, list):
                        problems.add(node.line_of(key), "x-docs must be a string or a list")
                        continue
                    for item in items:
                        if self.resolve(str(item), node.line_of(key)) is None:
                            problems.add(
                                node.line_of(key),
                                f"x-docs {str(item)!r}: unknown page (the part before "
                                f"{SEPARATOR.strip()!r} must be a key of x-docs-pages: "
                                f"{', '.join(sorted(self.pages))})",
                            )
                elif key != "x-docs-pages":
                    self.check_tree(value, problems)
        elif isinstance(node, list):
            for item in node:
                self.check_tree(item, problems)

    def citations(self) -> tuple[ir.Citation, ...]:
        """Every distinct citation, in page then section order, with the lines that use it."""
        out = []
        for (page_id, section), lines in sorted(self.uses.items()):
            page = self.pages[page_id]
            out.append(
                ir.Citation(
                    page=page_id,
                    section=section,
                    title=page.title,
                    url=page.url,
                    lines=tuple(sorted({n for n in lines if n})),
                )
            )
        return tuple(out)


def rename_text(text: str, pages: dict[str, ir.DocsPage]) -> str:
    """The spec text with every saved-file name and alias spelling replaced by its page id:
    the mechanical rename of a spec written before `x-docs-pages` (the map itself is kept)."""
    head, marker, tail = text.partition("\nx-docs-pages:")
    body_start = tail.find("\n", 1)
    pages_end = re.search(r"\n\S", tail[body_start:]) if marker else None
    if marker and pages_end is not None:
        keep = marker + tail[: body_start + pages_end.start()]
        rest = tail[body_start + pages_end.start() :]
    else:
        keep, rest = marker + tail, ""

    def rewrite(part: str) -> str:
        for page in pages.values():
            for alias in page.aliases:
                part = re.sub(
                    rf"{re.escape(alias)}/README\.md{re.escape(SEPARATOR)}",
                    f"{page.id}{SEPARATOR}README: ", part,
                )  # fmt: skip
                part = re.sub(rf"{re.escape(alias)}/([\w.-]+)", rf"{page.id}{SEPARATOR}\1", part)
            if page.file:
                part = part.replace(page.file, page.id)
        return part

    return rewrite(head) + keep + rewrite(rest)
