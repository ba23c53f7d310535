"""The console scripts' entry points: Ctrl-C is handled before the CLI module imports.

`melanoma-export`'s module imports torch (about 2 s); a Ctrl-C or SIGTERM in that
window would otherwise print a traceback instead of `interrupted`.
"""

from __future__ import annotations

import importlib

from melanoma.cliutil import Interrupts  # click and the stdlib only


def _run(module: str) -> None:
    with Interrupts().install().reported():
        main = importlib.import_module(module).main
    main()


def melanoma() -> None:
    _run("melanoma.cli")


def melanoma_export() -> None:
    _run("melanoma.export.cli")


def melanoma_bench() -> None:
    _run("melanoma.benchmarks.cli")
