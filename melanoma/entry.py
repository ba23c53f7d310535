"""The console scripts' entry points, importing nothing heavy before Ctrl-C is handled.

Importing a CLI module takes seconds (torch, executorch, coremltools); a Ctrl-C or
SIGTERM in that window would otherwise print a traceback instead of `interrupted`.
"""

from __future__ import annotations

import importlib
import signal
import sys

EXIT_INTERRUPTED = 130  # as melanoma.cliutil, which this module must not import yet


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _run(module: str) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        main = importlib.import_module(module).main
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    main()


def melanoma() -> None:
    _run("melanoma.cli")


def melanoma_export() -> None:
    _run("melanoma.export.cli")


def melanoma_bench() -> None:
    _run("melanoma.benchmarks.cli")
