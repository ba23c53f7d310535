"""`melanoma-export` (filled in by the exporters issue)."""

import sys


def main() -> None:
    print("melanoma-export: not implemented yet", file=sys.stderr)
    sys.exit(2)
