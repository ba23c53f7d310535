"""Another run of the toolkit in a process of its own, for the tests of two commands on
one folder at once (checkpoint, compare, nested-cv, QAT): real processes and real locks,
synchronised by lines on its stdin and stdout, never by sleeps."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator

# Holds a folder as `melanoma train` does while it trains (resume.run_dir_owned), until a
# line comes on stdin.
HOLDS_A_RUN_DIR = """
import sys
from pathlib import Path
from melanoma.resume import run_dir_owned

with run_dir_owned(Path(sys.argv[1])):
    print("holding", flush=True)
    sys.stdin.readline()
"""


@contextlib.contextmanager
def other_process(script: str, *args: object, ready: str) -> Iterator[subprocess.Popen]:
    """Run `script` with `args` until it prints the line `ready`; on leaving, send it a
    line (it waits on stdin to go on) and check that it ended well."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == ready + "\n", process.stderr.read()
        yield process
    finally:
        _, stderr = process.communicate("go\n")  # else it would hold the folder on
    assert process.returncode == 0, stderr


@contextlib.contextmanager
def ending_when_waited_for(ends: Callable[[], None]) -> Iterator[list[str]]:
    """For the block, each wait melanoma.atomic logs ("...; waiting for it to end", its
    only message) calls `ends`, which lets the other run's hold on the folder go. Yields
    the messages logged."""
    said: list[str] = []

    class Ends(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())
            ends()

    logger, handler = logging.getLogger("melanoma.atomic"), Ends()
    logger.addHandler(handler)
    try:
        yield said
    finally:
        logger.removeHandler(handler)
