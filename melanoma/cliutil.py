"""What the three console scripts share: error mapping, logging and thread setup."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import click
from click.decorators import FC

from melanoma.atomic import STOPS
from melanoma.cli_parsing import misplaced_option_hint, option_names
from melanoma.config_checks import TARGET_SENSITIVITY_RANGE, repeated
from melanoma.errors import UserError, on_one_line

EXIT_USAGE = 2  # bad input or flags: one line, no traceback
EXIT_INTERRUPTED = 130
# click >= 8.2 raises this for a group called with no arguments; older clicks print help themselves
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())
SEED = click.IntRange(0, 2**32 - 1)  # what torch and numpy both take as a seed
HANGUP = getattr(signal, "SIGHUP", None)  # none on Windows


class NonEmptyPath(click.Path):
    """click.Path that refuses '': Path('') is '.', so an empty --out would write right here.
    It refuses '-' too where the option does not take it as standard output: melanoma-bench
    --json - prints, so --csv - or --roc - would otherwise write a file named '-'. And it
    refuses an option name: `evaluate --roc --json`, its path forgotten, wrote the ROC to a
    file named '--json' and printed the table."""

    def convert(
        self,
        value: str | os.PathLike[str],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> str | bytes | os.PathLike[str]:
        if isinstance(value, str) and not value.strip():
            self.fail("empty path", param, ctx)
        if value == "-" and not self.allow_dash:
            self.fail("'-' is not standard output here; give a path", param, ctx)
        # click takes the word after an option as its value, even another option's name;
        # an argument (after --) may be a file of that name
        if isinstance(param, click.Option) and value in option_names(ctx):
            self.fail(f"{value} is an option, not a path: is the path missing?", param, ctx)
        return super().convert(value, param, ctx)


class FiniteFloatRange(click.FloatRange):
    """FloatRange that refuses NaN and inf: NaN passes every range check (all comparisons
    are false) and then silently disables what it configures."""

    def convert(
        self, value: str | float, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number", param, ctx)
        return number


# What --target-sensitivity takes: below 0.5 a cutoff misses more melanomas than it finds.
TARGET_SENSITIVITY = FiniteFloatRange(*TARGET_SENSITIVITY_RANGE)


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


def data_option(optional: bool = False) -> Callable[[FC], FC]:
    """--data PATH, defaulting to $MELANOMA_DATA (a folder, the .zip, or its parent folder).

    Never required by click: a command that needs data says so itself, naming both the
    option and the variable; `optional` only tells the help that the command runs without."""
    return click.option(
        "--data",
        "data",
        envvar="MELANOMA_DATA",
        type=NonEmptyPath(),
        required=False,
        default=None,
        show_envvar=True,
        metavar="PATH",
        help="Data folder or .zip (liveProject, class-folder or CSV layout). "
        "Default: $MELANOMA_DATA." + (" Optional." if optional else ""),
    )


def threshold_option(
    help_text: str = "Stored threshold to decide at: youden, or sensitivity_<target> as chosen "
    "at training (sensitivity_0.90 unless trained with another --target-sensitivity).",
    default: str | None = "youden",
) -> Callable[[FC], FC]:
    """--threshold NAME: which validation threshold to decide at."""
    return click.option(
        "--threshold",
        "threshold_name",
        metavar="NAME",
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def target_sensitivity_option() -> Callable[[FC], FC]:
    """--target-sensitivity X: a threshold re-chosen on the checkpoint's validation predictions."""
    return click.option(
        "--target-sensitivity",
        type=TARGET_SENSITIVITY,
        default=None,
        help="Instead of --threshold: decide at the highest threshold whose sensitivity on "
        "the checkpoint's own validation predictions (out-of-fold for the baseline) reaches "
        "this. Chosen now, without retraining, never on the test split.",
    )


def refuse_two_thresholds(threshold_name: str, target_sensitivity: float | None) -> None:
    """Both only when they name one threshold: melanoma-export needs the pair
    (--target-sensitivity 0.95 --threshold sensitivity_0.95), and the same pair must work
    where the decision it exported is checked."""
    ctx = click.get_current_context()
    named = ctx.get_parameter_source("threshold_name") != click.core.ParameterSource.DEFAULT
    if not named or target_sensitivity is None:
        return
    from melanoma.checkpoint import same_threshold_name
    from melanoma.metrics import sensitivity_name

    chosen = sensitivity_name(target_sensitivity)
    if not same_threshold_name(chosen, threshold_name):
        raise click.UsageError(
            f"--threshold {threshold_name} is not the threshold --target-sensitivity "
            f"{target_sensitivity:g} chooses ({chosen}): give one of them",
            ctx,
        )


def version_option() -> Callable[[FC], FC]:
    """--version: this package's version and every library version that decides what an
    artifact or a checkpoint is (the list checkpoints and manifests record)."""

    def show(ctx, param, value):
        if not value or ctx.resilient_parsing:
            return
        from melanoma.versions import package_versions  # no torch import: 0.2 s, not 5

        versions = package_versions()
        own = versions.pop("melanoma-mobile")
        others = ", ".join(f"{name} {version}" for name, version in versions.items())
        click.echo(f"{ctx.find_root().info_name} {own} ({others})")
        ctx.exit()

    return click.option(
        "--version",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=show,
        help="Show the versions of this package and of the libraries it exports with.",
    )


def progress_option() -> Callable[[FC], FC]:
    """--progress/--no-progress: a bar on stderr, by default only when stderr is a terminal
    (in a log file, a bar is thousands of redrawn lines)."""
    return click.option(
        "--progress/--no-progress",
        default=None,
        callback=lambda ctx, param, value: sys.stderr.isatty() if value is None else value,
        help="Progress bar on stderr (default: when stderr is a terminal).",
    )


def out_dir_option(help: str, default: Path | None = None) -> Callable[[FC], FC]:
    """--out DIR (as `out_dir`): a directory to write, required unless given a default."""
    # no default= at all when required: click takes an explicit None for a given default
    given = {"required": True} if default is None else {"default": default, "show_default": True}
    return click.option(
        "--out", "out_dir", type=NonEmptyPath(file_okay=False, path_type=Path), help=help, **given
    )


def comma_separated(value: str, what: str) -> list[str]:
    """' a, b' -> ['a', 'b']. An empty entry ('0,,1', '0,1,') is refused, not skipped: it is
    as likely a lost value as a stray comma, and compare's runs take hours."""
    entries = [entry.strip() for entry in value.split(",")]
    if not any(entries):
        raise click.BadParameter(f"no {what} given")
    if "" in entries:
        raise click.BadParameter(f"empty {what} between commas in {value!r}")
    return entries


def seed_list(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    """click callback: comma-separated seeds, each a valid torch/numpy seed, none repeated."""
    entries = comma_separated(value, "seed")
    try:
        seeds = [SEED.convert(entry, param, ctx) for entry in entries]
    except click.BadParameter:
        raise click.BadParameter(
            f"expected comma-separated integers in 0..2**32-1, got {value!r}"
        ) from None
    refuse_repeats("seed", seeds)
    return seeds


def refuse_repeats(what: str, items: list) -> None:
    """As config_checks.repeated, named after the option."""
    twice = repeated(items)
    if twice:
        raise click.BadParameter(f"{what} {', '.join(map(str, twice))} given more than once")


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


def method_list(ctx: click.Context | None, param: click.Parameter | None, value: str) -> list[str]:
    """click callback: comma-separated method names, each known, none repeated."""
    from melanoma.methods import METHODS

    names = comma_separated(value, "method")
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise click.BadParameter(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}"
        )
    refuse_repeats("method", names)
    return names
