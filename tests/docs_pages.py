"""How the spec names the docs pages the tests read: saved file name -> the citation prefix
(`Title § `) that user-facing text shows instead of the file name."""

from __future__ import annotations

from functools import cache

import yaml

from tests.paths import SPEC


@cache
def pages() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return {str(k): v for k, v in data["x-docs-pages"].items()}


def cited(file_name: str) -> str:
    """`Title § `: how a citation of the page saved as `file_name` starts."""
    for page in pages().values():
        if page.get("file") == file_name:
            return f"{page['title']} § "
    raise KeyError(file_name)
