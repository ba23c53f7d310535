"""What the three console scripts share: error mapping, logging and thread setup.

Their shared click types and options are in melanoma/cli_options.py."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import sys
import warnings
from collections.abc import Iterator
from typing import NoReturn

import click

from melanoma.atomic import STOPS
from melanoma.cli_parsing import misplaced_option_hint
from melanoma.errors import UserError, on_one_line

EXIT_USAGE = 2  # bad input or flags: one line, no traceback
EXIT_INTERRUPTED = 130
# click >= 8.2 raises this for a group called with no arguments; older clicks print help themselves
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())
HANGUP = getattr(signal, "SIGHUP", None)  # none on Windows


class Interrupts:
    """SIGINT, SIGTERM and SIGHUP handler that raises KeyboardInterrupt and remembers it fired.

    A Ctrl-C that lands inside an import (numpy's, say) can surface as another
    exception, RecursionError among them; with `seen` it still reads as interrupted."""

    def __init__(self):
        self.seen = False

    def __call__(self, signum, frame) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def install(self) -> Interrupts:
        """Ctrl-C, SIGTERM and SIGHUP (a closed terminal: training saves its resume state),
        except a SIGHUP the process ignores: `nohup` asked the run to outlive the terminal."""
        for stop in STOPS:
            if stop == HANGUP and signal.getsignal(stop) == signal.SIG_IGN:
                continue
            signal.signal(stop, self)
        return self

    @contextlib.contextmanager
    def reported(self) -> Iterator[None]:
        """Inside, any exception once a signal fired ends as `interrupted`, exit 130."""
        try:
            yield
        except (Exception, KeyboardInterrupt):
            if not self.seen:
                raise
            exit_interrupted()


def exit_interrupted() -> NoReturn:
    click.echo("interrupted", err=True)
    sys.exit(EXIT_INTERRUPTED)


def run(command: click.Command) -> NoReturn:
    """Run a click command; user errors become `error: ...` on stderr and exit 2.

    SIGTERM is handled as Ctrl-C: training saves its resume state and temporary
    files are removed."""
    with Interrupts().install().reported():
        _run(command)


def _run(command: click.Command) -> NoReturn:
    try:
        command.main(standalone_mode=False)
    except click.exceptions.Exit as stop:
        sys.exit(stop.exit_code)
    except NO_ARGS_IS_HELP as err:  # a bare group call shows its help, as click does
        err.show()
        sys.exit(err.exit_code)
    except click.ClickException as err:
        click.echo(f"error: {one_line_message(err, command)}", err=True)
        sys.exit(err.exit_code)
    except (click.Abort, KeyboardInterrupt):
        exit_interrupted()
    except UserError as err:
        click.echo(f"error: {on_one_line(str(err))}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as err:  # a path the user gave cannot be read or written
        where = f"{err.filename}: " if err.filename else ""
        click.echo(f"error: {on_one_line(where + str(err.strerror or err))}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(0)


def one_line_message(err: click.ClickException, command: click.Command | None = None) -> str:
    """click's message on one line, pointing at --help, instead of its Usage/Try/Error block:
    every bad input, flags included, gets one line that names the problem. A value or
    argument it quotes (click's extra arguments, our unknown methods) is the user's: its
    terminal escapes and bidi overrides shown as escapes, as in every other error."""
    message = on_one_line(" ".join(err.format_message().split())) + misplaced_option_hint(err)
    if not isinstance(err, click.UsageError):
        return message
    ctx = getattr(err, "ctx", None)
    path = ctx.command_path if ctx is not None else _command_path(command)
    return message + (f" (see '{path} --help')" if path else "")


def _command_path(command: click.Command | None) -> str | None:
    """What ctx.command_path would say, for errors click raises before it has a context
    (an option missing its value): the script and the first subcommand named."""
    if command is None:
        return None
    path = [os.path.basename(sys.argv[0]) or command.name or ""]  # click's prog name
    if isinstance(command, click.Group):
        path += [next((a for a in sys.argv[1:] if a in command.commands), "")]
    return " ".join(p for p in path if p)


# Third-party messages that say nothing about this run, printed dozens of times around
# a ten-line result: a deprecation inside torch's pytree that torchao/executorch
# trigger, and coremltools' notes on its untested torch version and on the native
# parts that exist only on macOS (the manifests record every version, and Core ML
# rows already say they need macOS). --verbose shows them all.
THIRD_PARTY_NOISE = (r"`isinstance\(treespec, LeafSpec\)` is deprecated",)
# Logger -> what its dropped messages match: coremltools' own notes only, not the whole
# logger tree, which also warns of lost precision in the file a user ships ("Casting
# zero-points ... loses some precision", "... dB is low!", an input "down casted").
# A filter on the logger itself: torch's loggers have their own handler.
THIRD_PARTY_LOG_NOISE = {
    "torch.utils._pytree": r"",
    "coremltools": r"^(\S+ version \S+ (has not been tested|is not supported)|Failed to load )",
}


class DropMatching(logging.Filter):
    """Drops the records, logged on the logger it filters, whose message matches."""

    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.search(record.getMessage())


class OneLineFormatter(logging.Formatter):
    """Warnings quote file names too: one with a line break must not split its warning
    (a traceback, shown with --verbose, keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return on_one_line(super().formatMessage(record))


def setup_process(verbose: bool = False, threads: int | None = None) -> None:
    """Process-wide settings belong to the CLI, never to library code. A second call in one
    process (`main(standalone_mode=False)` again) replaces, not stacks, what the first set."""
    level = logging.INFO if verbose else logging.WARNING
    root = logging.getLogger()
    if any(isinstance(h.formatter, OneLineFormatter) for h in root.handlers):
        root.setLevel(level)  # ours from an earlier call: basicConfig would keep its level
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(level=level, handlers=[handler])
    for name, pattern in THIRD_PARTY_LOG_NOISE.items():
        logger = logging.getLogger(name)
        for earlier in [f for f in logger.filters if isinstance(f, DropMatching)]:
            logger.removeFilter(earlier)
        if not verbose:
            logger.addFilter(DropMatching(pattern))
    for message in THIRD_PARTY_NOISE:  # first in the list, so this call's action wins
        warnings.filterwarnings("default" if verbose else "ignore", message=message)
    if threads:
        import torch

        torch.set_num_threads(threads)


@contextlib.contextmanager
def training_ends(how_to_continue: str | None) -> Iterator[None]:
    """How train, compare and nested-cv report a run that stopped: one line each. None:
    the run keeps no state to continue from (nested-cv trains in a temporary folder)."""
    from melanoma.resume import TrainingInterrupted
    from melanoma.training import DivergenceError

    try:
        yield
    except DivergenceError as gave_up:  # not bad input (exit 2): the training failed
        click.echo(f"error: {gave_up}", err=True)
        sys.exit(1)
    except TrainingInterrupted as stop:
        said = f"{stop}; {how_to_continue}" if how_to_continue else "interrupted"
        click.echo(said, err=True)
        sys.exit(EXIT_INTERRUPTED)
