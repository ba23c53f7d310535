"""`melanoma-export`: export a checkpoint to mobile targets, verified, each with a manifest."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from melanoma.cli_options import (
    TARGET_SENSITIVITY,
    NonEmptyPath,
    data_option,
    progress_option,
    threshold_option,
    version_option,
)
from melanoma.cli_parsing import Command
from melanoma.cliutil import run, setup_process, training_ends
from melanoma.errors import on_one_line
from melanoma.export.choices import DEFAULT_CHECKPOINT, N_SYNTHETIC, QUANTIZE, TARGET_NAMES
from melanoma.usage_terms import NOT_STATED

if TYPE_CHECKING:  # the exporters import torch and the runtimes: not for --help
    from melanoma.export.api import ExportResult
    from melanoma.manifest import Manifest

EXIT_FAILED_CHECK = 1  # an artifact failed its check in its runtime (and was not kept)


@click.command(cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@version_option()
@click.option(
    "--target",
    required=True,
    type=click.Choice([*TARGET_NAMES, "all"]),
    help="Target to export to, or all of them.",
)
@click.option(
    "--checkpoint",
    default=DEFAULT_CHECKPOINT,
    show_default=True,
    metavar="CHECKPOINT_DIR",
    help="Float checkpoint directory, or reference-supervised / reference-sgan.",
)
@click.option(
    "--quantize",
    default="both",
    show_default=True,
    type=click.Choice(list(QUANTIZE)),
    help="none: fp32 only; int8: the QAT int8 program only; both.",
)
@data_option(optional=True)
@click.option(
    "--out",
    "out_dir",
    type=NonEmptyPath(path_type=Path),
    default=Path("artifacts"),
    show_default=True,
    help="Directory for the artifacts and their .manifest.json files.",
)
@click.option(
    "--target-sensitivity",
    type=TARGET_SENSITIVITY,
    default=None,
    help="Also put in every manifest the highest threshold reaching this sensitivity on "
    "the checkpoint's kept validation predictions (as evaluate --target-sensitivity).",
)
@threshold_option(
    "The manifests' default_threshold, which the app decides at and the checks compare "
    "decisions at: youden, a stored sensitivity_<target>, or the one --target-sensitivity adds."
)
@progress_option()
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def cli(
    target: str, checkpoint: str, quantize: str, data: str | None, out_dir: Path,
    target_sensitivity: float | None, threshold_name: str, progress: bool, verbose: bool,
) -> None:  # fmt: skip
    """Export CHECKPOINT_DIR to mobile formats, check each file in its own runtime.

    Writes <model>-<target>-<precision>.<ext> plus <artifact>.manifest.json
    into --out. int8 uses the checkpoint's qat/ program; without one it runs
    QAT first, which needs --data, into --out/qat-<model>/ (reused by later
    exports; not needed on the phone). --data also supplies the sample images for
    the checks (default: 32 generated mole-like images, as the data set is not
    bundled with the package).
    """
    from melanoma.checkpoint import warn_if_name_hides_folder
    from melanoma.export.api import ExportConfig, ExportFailed, export_checkpoint
    from melanoma.qat import QATConfig

    setup_process(verbose)
    warn_if_name_hides_folder(checkpoint)
    targets = TARGET_NAMES if target == "all" else (target,)
    config = ExportConfig(
        targets=targets,
        checkpoint=checkpoint,
        quantize=quantize,
        data=data,
        out_dir=out_dir,
        target_sensitivity=target_sensitivity,
        threshold_name=threshold_name,
        qat=QATConfig(progress=progress),  # when int8 needs QAT first
    )
    try:
        # int8 of a checkpoint without a qat/ program fine-tunes first: a diverged QAT is
        # one line and exit 1, as `melanoma qat` reports it
        with training_ends(None):
            results = export_checkpoint(config, progress=_announce if progress else None)
    except ExportFailed as failed:
        click.echo(format_table(failed.results))
        for result in failed.results:
            if result.status == "failed":
                click.echo(f"error: {on_one_line(result.note)}", err=True)
        sys.exit(EXIT_FAILED_CHECK)
    _show_results(results, checked_on_data=data is not None)


def _show_results(results: list[ExportResult], checked_on_data: bool) -> None:
    """The table, then what an app developer must know of the files: what int8 clips, the
    weights' terms, and what the checks' 'same as float' counted."""
    click.echo(format_table(results))
    clipping = next((int8_clipping(r.manifest) for r in results if r.precision == "int8"), None)
    if clipping:
        click.echo(clipping)
    written = next((r.manifest for r in results if r.manifest), None)
    if written is not None:
        click.echo(terms_line(written))
    ran = any(r.manifest and r.manifest.verification.n_images for r in results)
    # said, or a flipped decision among the generated images reads like a drop in accuracy
    if ran and not checked_on_data:
        click.echo(
            f"checked on {N_SYNTHETIC} generated mole-like images (no --data): 'same as "
            f"float' counts their decisions at threshold {_default_threshold(results)}, so "
            "one flip is 3%; --data checks on real test images"
        )
    elif ran:
        click.echo(f"'same as float' counts decisions at threshold {_default_threshold(results)}")


def terms_line(manifest: Manifest) -> str:
    """The weights' terms, which every manifest of the run states alike: said where the one
    who ships the files sees them."""
    if manifest.license == NOT_STATED:
        return (
            f"licence: {NOT_STATED} in the manifests (training data not recognised): check "
            "its licence before shipping the model"
        )
    credit = f" ({manifest.attribution})" if manifest.attribution else ""
    # the checkpoint's metadata.json's words, and a control character there acts on a terminal
    return on_one_line(f"licence: {manifest.license} in every manifest{credit}")


def _announce(what: str) -> None:
    # Seconds per artifact: without a line each, a terminal shows nothing for a minute.
    # Not in logs or pipes (progress defaults to a terminal), where the table says it all.
    click.echo(f"exporting {what} ...", err=True)


def _default_threshold(results: list[ExportResult]) -> str:
    return next(r.manifest.decision_threshold_name() for r in results if r.manifest)


def int8_clipping(manifest: Manifest | None) -> str | None:
    """What the int8 program's calibrated ranges clip, in pixel levels and probabilities:
    the manifest has the ranges in normalized units, which say little to an app developer."""
    if manifest is None or manifest.quantization.input_range is None:
        return None
    low, high = manifest.quantization.input_range
    prep = manifest.preprocessing
    levels = []
    for channel, mean, std in zip("RGB", prep.mean, prep.std, strict=True):
        darkest, brightest = 255 * (low * std + mean), 255 * (high * std + mean)
        if darkest > 0:  # levels below it enter as it
            levels.append(f"{channel} 0-{math.ceil(darkest) - 1}")
        if brightest < 255:
            levels.append(f"{channel} {math.floor(brightest) + 1}-255")
    p_low, p_high = (1 / (1 + math.exp(-v)) for v in manifest.quantization.logit_range)
    clipped = " and ".join(levels) or "no pixel level"
    return (
        f"int8 input range clips {clipped} (to its edge); P(melanoma) stays within "
        f"[{p_low:.4f}, {p_high:.4f}] (manifest quantization.input_range, logit_range)"
    )


def format_table(results: list[ExportResult]) -> str:
    """One row per (target, precision): artifact, size, runtime check, max abs diff against
    its reference, decisions shared with the float model, status."""
    rows = [("artifact", "size", "runtime check", "max abs diff", "same as float", "status")]
    notes = []
    for r in results:
        if r.manifest is None:
            rows.append((f"{r.target} {r.precision}", "-", "-", "-", "-", r.status))
            notes.append(on_one_line(f"{r.target} {r.precision}: {r.note}"))
            continue
        check = r.manifest.verification
        diff = "-" if check.max_abs_diff is None else f"{check.max_abs_diff:.2e}"
        how = check.runtime if check.max_abs_diff is not None else check.check.split(":")[0]
        agree = check.float_decision_agreement
        same = "-" if agree is None else f"{agree:.1%} of {check.n_images}"
        size = _size(r.manifest.file.size_bytes)
        # named after the checkpoint's folder: its control characters shown, not acted on
        rows.append((on_one_line(str(r.artifact)), size, how, diff, same, r.status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if any(r.status == "spec-checked" for r in results):
        notes.append(
            "spec-checked: its runtime is not on this machine, so only the file's structure "
            "was checked (manifest verification.check), never its outputs"
        )
    return "\n".join(lines + notes + _size_ratios(results))


def _size(n: int) -> str:
    # 1 KB = 1024 bytes, as in the benchmark report (which prints KB even past 1 MB)
    return f"{n / 2**20:.2f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def _size_ratios(results: list[ExportResult]) -> list[str]:
    sizes = {(r.target, r.precision): r.manifest.file.size_bytes for r in results if r.manifest}
    return [
        f"{target} int8 is {sizes[target, 'int8'] / sizes[target, 'fp32']:.1%} of fp32 in size"
        for target in TARGET_NAMES
        if (target, "int8") in sizes and (target, "fp32") in sizes
    ]


def main() -> None:
    run(cli)
