"""The back ends: every subpackage of `codegen` but `core` that names a binding.

Adding a binding means adding a folder whose `__init__` defines `NAME`, `KEEP` and
`generate(spec) -> {path: text}`; nothing here lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path

import attrs

from .core import ir


@attrs.frozen
class Binding:
    name: str
    generate: Callable[[ir.Spec], dict[str, str]]
    keep: tuple[str, ...]


def bindings() -> list[Binding]:
    """Every back end, by name."""
    found: list[Binding] = []
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not info.ispkg or info.name == "core":
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        if hasattr(module, "NAME"):
            found.append(Binding(module.NAME, module.generate, tuple(module.KEEP)))
    return sorted(found, key=lambda b: b.name)
