"""Another run of the toolkit in a process of its own, for the tests of two commands on
one folder at once (checkpoint, compare, nested-cv, QAT): real processes and real locks,
synchronised by lines on its stdin and stdout, never by sleeps."""

from __future__ import annotations

import contextlib
import logging
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

# How long a child may take to print its ready line (importing torch and the toolkit takes
# a few seconds, more on a loaded CI machine). Not a measure of speed: a bound on a hang, so
# that a child stuck before it is ready fails its test rather than the whole CI run.
READY_WITHIN = 120.0

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
def other_process(
    script: str,
    *args: object,
    ready: str,
    ready_within: float = READY_WITHIN,
    end_within: float = READY_WITHIN,
) -> Iterator[subprocess.Popen]:
    """Run `script` with `args` until it prints the line `ready`; on leaving, send it a
    line (it waits on stdin to go on) and check that it ended well. A child that prints
    another line, or none within `ready_within` seconds, or that has not ended
    `end_within` seconds after its line, is killed and fails the test with its stderr."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = _first_line(process, ready_within)
    if line != ready + "\n":
        # killed first: reading its stderr to the end waited on a child that still ran
        process.kill()
        _, stderr = process.communicate()
        said = "nothing" if line is None else repr(line)
        pytest.fail(
            f"the other process printed {said} within {ready_within:g} s, not {ready!r}; "
            f"its stderr:\n{stderr}"
        )
    try:
        yield process
    finally:
        stderr = _ended(process, end_within)
    assert process.returncode == 0, stderr


def _ended(process: subprocess.Popen, within: float) -> str:
    """Its stderr, once it has ended on the line it waits for (else it would hold the
    folder on); a child still running `within` seconds later is killed, failing the test:
    an unbounded wait here hung the whole run on one stuck child, as the ready line did."""
    try:
        return process.communicate("go\n", timeout=within)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        stderr = process.communicate()[1]
    pytest.fail(
        f"the other process had not ended {within:g} s after its line; its stderr:\n{stderr}"
    )


def _first_line(process: subprocess.Popen, within: float) -> str | None:
    """The first line of the process's stdout ("" if it closed it first), or None if none
    came within `within` seconds. A thread reads it: a pipe's readline has no timeout."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=within)
    except queue.Empty:
        return None


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
