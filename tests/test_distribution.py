"""One installable name everywhere: the package metadata, the README and `modelstudio --version`.

The import name is `modelstudio`; the distribution is `modelstudio-client`, because `modelstudio`
(and `modelstudio-sdk`) on the package index belong to unrelated projects.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import modelstudio
from modelstudio._base_client import DISTRIBUTION, VERSION
from tests.paths import ROOT


def test_metadata_names_the_distribution_and_its_version() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = dict(re.findall(r'^(name|version) = "([^"]+)"', pyproject, re.M))
    assert project["name"] == DISTRIBUTION == "modelstudio-client"
    assert project["version"] == VERSION == modelstudio.__version__
    installed = importlib.metadata.distribution(DISTRIBUTION)
    assert installed.version == VERSION
    assert installed.metadata["Name"] == DISTRIBUTION
    assert Path(modelstudio.__file__).parent.name == "modelstudio"  # the import name stays


def test_readme_installs_the_distribution_name() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    installs = re.findall(r"pip install (\S+)", readme)
    assert installs and set(installs) == {DISTRIBUTION}, installs


def test_cli_version_names_the_distribution() -> None:
    script = Path(sys.executable).parent / "modelstudio"
    proc = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == f"{DISTRIBUTION} {VERSION}"
