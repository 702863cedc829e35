"""The contract commands of `python -m codegen`: `diff`, `docs-check` and `docs-fingerprints`.

A spec argument is a file, or `REV:PATH` for the file as git has it at a revision
(`HEAD:spec/modelstudio.yaml`, what the uncommitted edit changes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from .core import ir
from .core.diff import diff, report_json
from .core.load import load


def load_spec(arg: str) -> tuple[ir.Spec | None, list[str]]:
    """Load a spec file, or `REV:PATH` out of git."""
    path = Path(arg)
    if path.exists() or ":" not in arg:
        return load(path, strict_citations=False)
    rev, _, rel = arg.partition(":")
    shown = subprocess.run(["git", "show", f"{rev}:{rel}"], capture_output=True)
    if shown.returncode != 0:
        return None, [f"{arg}: {shown.stderr.decode(errors='replace').strip()}"]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / Path(rel).name
        copy.write_bytes(shown.stdout)
        return load(copy, strict_citations=False)


def diff_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codegen diff",
        description="Report what changed from OLD to NEW, grouped as breaking / behaviour / "
        "additive / documentation. OLD and NEW are spec files or REV:PATH (git).",
    )
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    parser.add_argument(
        "--fail-on-breaking",
        action="store_true",
        help="exit 1 on a breaking change unless NEW raises info.version's major",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing when nothing changed")
    args = parser.parse_args(argv)
    specs = []
    for arg in (args.old, args.new):
        spec, problems = load_spec(arg)
        if spec is None:
            for problem in problems[:10]:
                print(problem, file=sys.stderr)
            if len(problems) > 10:
                print(f"... and {len(problems) - 10} more", file=sys.stderr)
            print(f"cannot compare: {arg} does not load", file=sys.stderr)
            return 2
        specs.append(spec)
    report = diff(specs[0], specs[1])
    if args.json:
        print(report_json(report))
    elif report.changes or not args.quiet:
        print(report.to_text())
    if args.fail_on_breaking and report.breaking and not report.major_raised():
        for change in report.by_severity("breaking"):
            print(f"breaking: {change.where}: {change.message}", file=sys.stderr)
        print(
            f"{args.new}: breaking change(s) against {args.old} while info.version stays at "
            f"major {report.new_version.split('.')[0]}: raise the major version, or undo them",
            file=sys.stderr,
        )
        return 1
    return 0


def docs_check_main(argv: list[str]) -> int:
    from .core.docs_check import main

    return main(argv)


def citations_main(argv: list[str]) -> int:
    """`python -m codegen citations SPEC`: rewrite saved-file citations as page ids, in place."""
    from .core.citations import read_pages, rename_text
    from .core.load import Problems
    from .core.yaml_lines import LineMap, load_yaml

    parser = argparse.ArgumentParser(
        prog="python -m codegen citations",
        description="Rewrite citations that name a saved file (001_815efe83d03b75c9.txt § ...) "
        "or an alias (cnblogs-recorded/<case>) as '<page id> § <section>', using the spec's "
        "x-docs-pages: the rename to run after merging a spec written before the map.",
    )
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    text = args.spec.read_text(encoding="utf-8")
    root = load_yaml(text)
    problems = Problems(args.spec.as_posix())
    pages = read_pages(root if isinstance(root, LineMap) else LineMap(), problems)
    if not pages:
        for problem in problems.lines():
            print(problem, file=sys.stderr)
        return 1
    renamed = rename_text(text, pages)
    if renamed != text:
        args.spec.write_text(renamed, encoding="utf-8")
    print(f"{args.spec}: {'citations renamed' if renamed != text else 'nothing to rename'}")
    return 0
