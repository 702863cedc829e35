"""The Python binding's API surface snapshot (`generated/python/api.md`), in the manner of the
`api.md` of openai-node and anthropic-sdk-python: per resource its methods with the HTTP
operation each calls, then every public name, type, parameter and default.

The snapshot is read off the freshly generated package (imported in a child process from a
temporary folder), so it shows what a user gets, hand-written runtime included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ..core import ir
from ..core.load import pascal

PROBE = Path(__file__).with_name("surface_probe.py")


def operations(spec: ir.Spec) -> list[dict[str, str]]:
    """What the probe needs to know of each operation: where it hangs on the client."""
    return [
        {
            "attribute": ".".join(op.resource),
            "class": pascal(op.resource[-1]),
            "operation": op.operation_id,
            "http": f"{op.method} {op.path}",
            "summary": op.summary,
        }
        for op in spec.operations
    ]


def api_markdown(spec: ir.Spec, package: dict[str, str], name: str, header: str) -> str:
    """The snapshot of the package whose files (relative to its root) are `package`."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / name
        for rel, text in package.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-I", str(PROBE), tmp, name, json.dumps(operations(spec))],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"the API surface probe failed:\n{proc.stderr}")
    return header + proc.stdout
