"""The reference docs "binding": Markdown written from the spec for readers of every binding
(`generated/docs/reference.md`): parameters, response fields, the model-family table, and the
source of each fact."""

from __future__ import annotations

from .reference import generate

NAME = "docs"
KEEP: tuple[str, ...] = ()

__all__ = ["KEEP", "NAME", "generate"]
