"""The generator's cache of tool output: a hit only for the same inputs, never a wrong text."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.core.cache import cached_text, directory_digest, has_text


class Counter:
    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.text


def test_same_key_is_computed_once_and_any_change_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEGEN_CACHE", str(tmp_path))
    first = Counter("one")
    assert cached_text("tool", ["v1", "input"], first) == "one"
    assert cached_text("tool", ["v1", "input"], first) == "one"
    assert first.calls == 1 and has_text("tool", ["v1", "input"])
    other = Counter("two")
    assert cached_text("tool", ["v2", "input"], other) == "two"  # a new tool version
    assert cached_text("tool", ["v1", "input2"], other) == "two"  # a new input
    assert cached_text("other", ["v1", "input"], other) == "two"  # another tool
    assert other.calls == 3


def test_off_always_computes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_CACHE", "off")
    counter = Counter("x")
    cached_text("tool", ["k"], counter)
    cached_text("tool", ["k"], counter)
    assert counter.calls == 2 and not has_text("tool", ["k"])


def test_an_unreadable_entry_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEGEN_CACHE", str(tmp_path))
    cached_text("tool", ["k"], Counter("good"))
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(b"\xff\xfe not utf-8")
    again = Counter("good")
    assert cached_text("tool", ["k"], again) == "good" and again.calls == 1


def test_a_template_edit_changes_the_directory_digest(tmp_path: Path) -> None:
    (tmp_path / "a.j2").write_text("{{ x }}", encoding="utf-8")
    before = directory_digest(tmp_path)
    (tmp_path / "a.j2").write_text("{{ y }}", encoding="utf-8")
    assert directory_digest(tmp_path) != before
