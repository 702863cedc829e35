"""The Python back end: templates, the validator writer and the hand-written runtime.

Its files land in `generated/python/`, the package under `modelstudio/`.
"""

from __future__ import annotations

from .pipeline import generate

NAME = "python"
KEEP: tuple[str, ...] = ()

__all__ = ["KEEP", "NAME", "generate"]
