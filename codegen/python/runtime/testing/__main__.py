"""`python -m modelstudio.testing [--port N] [--api-key KEY]`: run the mock server until Ctrl-C.

The same as `modelstudio mock`.
"""

from __future__ import annotations

import sys

from modelstudio._cli import main

if __name__ == "__main__":
    sys.exit(main(["mock", *sys.argv[1:]]))
