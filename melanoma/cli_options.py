"""The click types and options the three console scripts share: paths, ranges, seeds,
--data, --threshold, --version and the comma-separated lists."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click
from click.decorators import FC

from melanoma.cli_parsing import option_names
from melanoma.config_checks import TARGET_SENSITIVITY_RANGE, repeated

SEED = click.IntRange(0, 2**32 - 1)  # what torch and numpy both take as a seed


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
