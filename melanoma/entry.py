"""The console scripts' entry points: Ctrl-C is handled before the CLI module imports.

The CLI modules import click and their light modules (torch, about 2 s, waits for a
command that needs it); a Ctrl-C or SIGTERM while they load would otherwise print a
traceback instead of `interrupted`. Before that, what the process inherited and torch's
import cannot take is set right or refused: closed standard streams, a stdout that cannot
encode what the CLIs print, a deleted working directory.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from melanoma.cliutil import EXIT_USAGE, Interrupts  # click and the stdlib only


def _run(module: str) -> None:
    _open_closed_standard_fds()
    _escape_what_the_output_cannot_encode()
    _refuse_deleted_working_directory()
    with Interrupts().install().reported():
        main = importlib.import_module(module).main
    main()


def _open_closed_standard_fds() -> None:
    """A closed stdin, stdout or stderr (`2>&-`) becomes /dev/null, as if redirected there.
    Closed, Python sets sys.stderr to None, which the CLI then crashed on (exit 1, with
    nothing written and no message), and the next file opened would take the free
    number: an artifact that native code's prints to stderr would land in."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
    for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))


def _escape_what_the_output_cannot_encode() -> None:
    """Characters stdout's encoding has no byte for are written as Python escapes (\\u2705),
    as Python's stderr does, instead of raising. Windows writes stdout in its ANSI code page
    (cp1252) when it goes to a file or a pipe: the benchmark's table (its ✅ and ΔAUC)
    crashed there after writing every report, and predict's table on a photo named in
    Chinese; a UTF-8 locale refuses a file name that is not UTF-8 as strictly. A stream
    that already tolerates them (surrogateescape under the C locale, which writes a name's
    own bytes back) is left as it is."""
    stdout = sys.stdout
    if getattr(stdout, "errors", None) == "strict" and hasattr(stdout, "reconfigure"):
        stdout.reconfigure(errors="backslashreplace")


def _refuse_deleted_working_directory() -> None:
    """Run from a directory deleted meanwhile, importing torch fails with "Intel oneMKL
    FATAL ERROR: Cannot load libtorch_cpu.so" (exit 2), which reads as a broken install."""
    try:
        os.getcwd()
    except FileNotFoundError:
        click.echo("error: the current directory no longer exists: cd to one that does", err=True)
        sys.exit(EXIT_USAGE)


def melanoma() -> None:
    _run("melanoma.cli")


def melanoma_export() -> None:
    _run("melanoma.export.cli")


def melanoma_bench() -> None:
    _run("melanoma.benchmarks.cli")
