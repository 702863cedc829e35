"""Every Python code block of the README type-checks with `mypy --strict` and strict `pyright`.

Each block is written to a module of its own (a block must stand alone: one that uses `client`
defines it) and both checkers run once over all of them, against the installed package. The
README is what users copy; an error here is an error in their editor.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from tests.paths import ROOT

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def readme_blocks() -> list[tuple[int, str]]:
    """(line of the opening fence, source) of every ```python block of README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _BLOCK.finditer(text)]


@attrs.frozen
class Snippets:
    folder: Path
    line_of: dict[str, int]  # module file name -> line of its README fence

    def readme_line(self, name: str, line: int) -> int:
        """The README line of line `line` (1-based) of module `name`."""
        return self.line_of[Path(name).name] + line


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Snippets:
    """The README blocks as modules in a fresh folder."""
    folder = tmp_path_factory.mktemp("readme")
    line_of: dict[str, int] = {}
    for line, source in readme_blocks():
        name = f"readme_line_{line}.py"
        (folder / name).write_text(source, encoding="utf-8")
        line_of[name] = line
    return Snippets(folder, line_of)


def test_readme_blocks_define_the_client_they_use() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 10
    for line, source in blocks:
        uses = re.search(r"\bclient\.", source)
        defines = re.search(r"^\s*(client\s*=|async with .* as client)", source, re.M)
        assert not uses or defines, f"README.md:{line}: the block uses `client` without defining it"


def test_readme_blocks_pass_mypy_strict(snippets: Snippets) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.10",
         "--config-file", "/dev/null", *sorted(snippets.line_of)],
        cwd=snippets.folder,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    errors = []
    for message in proc.stdout.splitlines():
        if ": error:" in message:
            name, line, rest = message.split(":", 2)
            errors.append(f"README.md:{snippets.readme_line(name, int(line))}:{rest}")
    assert not errors, "\n".join(errors)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_blocks_pass_pyright_strict(snippets: Snippets) -> None:
    config = {"typeCheckingMode": "strict", "pythonVersion": "3.10"}
    (snippets.folder / "pyrightconfig.json").write_text(json.dumps(config), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pyright", "--pythonpath", sys.executable, "--outputjson"],
        cwd=snippets.folder,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(proc.stdout)
    errors = [
        f"README.md:{snippets.readme_line(d['file'], d['range']['start']['line'] + 1)}: "
        f"{d['message']} ({d.get('rule', '')})"
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]
    assert not errors, "\n".join(errors)
    assert report["summary"]["filesAnalyzed"] == len(snippets.line_of)
