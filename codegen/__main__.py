"""`python -m codegen SPEC --out DIR [--vectors DIR] [--check] [--binding NAME]`: regenerate every
binding under DIR/<binding>/ (and the generated conformance vectors), or check that they are
current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .bindings import bindings
from .core.files import write_or_check
from .core.load import load
from .core.vectors import files as vector_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("spec", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="the generated/ folder")
    parser.add_argument("--check", action="store_true", help="fail if --out differs")
    parser.add_argument("--binding", action="append", help="only these bindings (repeatable)")
    parser.add_argument(
        "--vectors", type=Path, help="also write the generated conformance vectors to this folder"
    )
    args = parser.parse_args(argv)
    spec, problems = load(args.spec)
    if spec is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s) in {args.spec}", file=sys.stderr)
        return 1
    failed = False
    outputs: list[tuple[Path, dict[str, str], tuple[str, ...]]] = []
    if args.vectors is not None:
        try:
            outputs.append((args.vectors, vector_files(spec), ()))
        except ValueError as exc:
            print(f"conformance vectors: {exc}", file=sys.stderr)
            return 1
    for binding in bindings():
        if args.binding and binding.name not in args.binding:
            continue
        outputs.append((args.out / binding.name, binding.generate(spec), binding.keep))
    for out, files, keep in outputs:
        stale = write_or_check(files, out, check=args.check, keep=keep)
        if args.check and stale:
            failed = True
            for name in stale:
                print(f"{out / name}: differs from a fresh regeneration", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
