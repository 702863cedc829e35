"""Where the shared reference material lives: `shared/` beside the project root (as in CI)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DOCS = SHARED / "docs"
RECORDINGS = SHARED / "conformance" / "cnblogs-recorded" / "RawHttpData"
SPEC = ROOT / "spec" / "modelstudio.yaml"
