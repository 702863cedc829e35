"""A content-addressed cache for what the generator's external tools write.

An entry is keyed by the SHA-256 of everything its output depends on (the tool's version, its
arguments, its input, the templates it reads), so a hit is the text the tool would write again,
and a change to any input is a miss. Entries live in `.cache/codegen/` at the repository root
(`CODEGEN_CACHE` moves it; `CODEGEN_CACHE=off` turns the cache off). A lost or corrupt entry is a
miss, never an error.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["cached_text", "directory_digest", "has_text"]

_DEFAULT = Path(__file__).resolve().parents[2] / ".cache" / "codegen"


def _directory() -> Path | None:
    setting = os.environ.get("CODEGEN_CACHE", "")
    if setting.lower() in {"off", "0", "no"}:
        return None
    return Path(setting) if setting else _DEFAULT


def directory_digest(folder: Path) -> str:
    """The SHA-256 of every file under `folder` (names and bytes, in a stable order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _entry(folder: Path, kind: str, key: Iterable[str]) -> Path:
    digest = hashlib.sha256("\0".join([kind, *key]).encode("utf-8")).hexdigest()
    return folder / f"{kind}-{digest}.txt"


def cached_text(kind: str, key: Iterable[str], compute: Callable[[], str]) -> str:
    """`compute()`, or the text it returned before for the same `key`."""
    folder = _directory()
    if folder is None:
        return compute()
    entry = _entry(folder, kind, key)
    try:
        return entry.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=folder, prefix=f".{kind}-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(scratch, entry)  # atomic: a concurrent run reads the whole entry or none
    except OSError:
        pass
    return text


def has_text(kind: str, key: Iterable[str]) -> bool:
    """Whether `cached_text(kind, key, ...)` would be a hit."""
    folder = _directory()
    return folder is not None and _entry(folder, kind, key).is_file()
