"""The TypeScript back end: templates, the validator writer and the hand-written runtime.

Its files land in `generated/typescript/`: an npm package (`modelstudio`) whose `src/` holds the
rendered modules and the runtime copied from `runtime/`, and whose `test/` holds the suites
copied from `tests/`. `package.json` and `package-lock.json` are copied from `package/`.
"""

from __future__ import annotations

from .pipeline import generate

NAME = "typescript"
KEEP: tuple[str, ...] = ()

__all__ = ["KEEP", "NAME", "generate"]
