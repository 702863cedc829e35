"""Where the tests find the spec and their reference data, all inside the repository."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec" / "modelstudio.yaml"
CONFORMANCE = ROOT / "spec" / "conformance"
# The recorded exchanges of cnblogs/dashscope-sdk (MIT), vendored: see their README.md.
RECORDINGS = CONFORMANCE / "recordings" / "cnblogs-recorded" / "RawHttpData"
