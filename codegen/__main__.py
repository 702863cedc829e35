"""`python -m codegen SPEC --out DIR [--check]`: regenerate the package or check it is current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .pipeline import generate, write_or_check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("spec", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--check", action="store_true", help="fail if --out differs")
    args = parser.parse_args(argv)
    result = generate(args.spec)
    if result.problems:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        print(f"{len(result.problems)} problem(s) in {args.spec}", file=sys.stderr)
        return 1
    stale = write_or_check(result.files, args.out, check=args.check)
    if args.check and stale:
        for name in stale:
            print(f"{args.out / name}: differs from a fresh regeneration", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
