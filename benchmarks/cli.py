"""`melanoma-bench` (filled in by the benchmark issue)."""

import sys


def main() -> None:
    print("melanoma-bench: not implemented yet", file=sys.stderr)
    sys.exit(2)
