"""`melanoma`: train, evaluate, predict, compare, nested-cv, qat: options in, the Python
API's functions called, their results printed."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import click

from melanoma import strict_json
from melanoma.cli_options import (
    SEED,
    TARGET_SENSITIVITY,
    NonEmptyPath,
    data_option,
    method_list,
    out_dir_option,
    progress_option,
    refuse_two_thresholds,
    seed_list,
    target_sensitivity_option,
    threshold_option,
    version_option,
)
from melanoma.cli_parsing import Group
from melanoma.cliutil import run, setup_process, training_ends
from melanoma.config_checks import MAX_THREADS
from melanoma.errors import UserError, on_one_line
from melanoma.methods import TRAINERS


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@version_option()
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
@click.option(
    "--threads",
    type=click.IntRange(1, MAX_THREADS),
    default=None,
    help="torch intra-op threads (default: torch's choice).",
)
def cli(verbose: bool, threads: int | None) -> None:
    """Melanoma-vs-nevus screening models: train, evaluate, predict.

    CHECKPOINT_DIR may also be `reference-supervised` or `reference-sgan`,
    the models bundled with the package.
    """
    setup_process(verbose, threads)


@cli.command()
@click.option(
    "--method",
    type=click.Choice(TRAINERS),
    default="supervised",
    show_default=True,
    help="supervised CNN, or the semi-supervised GAN that also uses unlabeled images.",
)
@data_option()
@out_dir_option(
    "Checkpoint directory to write (weights.pt, metadata.json, history.csv; "
    "out_of_fold.csv for the cross-validated baseline, validation.csv for the SGAN)."
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seeds the split or folds, the initial weights, batch order and augmentation.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Training epochs (default: the method's default config).",
)
@click.option(
    "--target-sensitivity",
    type=TARGET_SENSITIVITY,
    default=0.9,
    show_default=True,
    help="Also store the validation threshold reaching this sensitivity.",
)
@click.option(
    "--select-epoch",
    type=click.Choice(["val-auc", "last"]),
    default=None,
    help="supervised only: the epoch every member keeps, the one whose pooled out-of-fold "
    "predictions have the best AUC, or the last.  [default: val-auc] The SGAN always "
    "keeps its best validation-AUC epoch.",
)
@click.option("--deterministic", is_flag=True, help="Use only deterministic torch algorithms.")
@click.option("--resume", is_flag=True, help="Continue from OUT/resume.pt saved by Ctrl-C.")
@progress_option()
def train(
    method: str, data: str | None, out_dir: Path, seed: int, epochs: int | None,
    target_sensitivity: float, select_epoch: str | None, deterministic: bool, resume: bool,
    progress: bool,
) -> None:  # fmt: skip
    """Train a model; thresholds are chosen on labeled images it did not train on.

    supervised: a 5-fold cross-validated ensemble of small CNNs; epoch and
    thresholds from its out-of-fold predictions, one per labeled image (200 in
    the liveProject data). sgan: one discriminator; epoch selection and
    thresholds on a 20% validation split.
    """
    import torch

    from melanoma.checkpoint import read_meta, refuse_bundled_out_dir
    from melanoma.datasets import load_dataset
    from melanoma.methods import method_config
    from melanoma.resume import RESUME
    from melanoma.splits import validation_scheme

    if select_epoch is not None and method != "supervised":
        raise click.UsageError("--select-epoch is for --method supervised only")
    if deterministic:
        # cuBLAS (CUDA >= 10.2) refuses deterministic mode without a fixed workspace; on
        # the CPU the variable is unused. Set before the first CUDA call.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    refuse_bundled_out_dir(out_dir)  # train_method checks too; here before loading the data
    if resume and not (out_dir / RESUME).is_file():  # before minutes of decoding images
        raise UserError(f"{out_dir / RESUME}: no resume state to continue from")
    if not resume and (out_dir / RESUME).is_file():  # a forgotten --resume: never lose it
        raise UserError(
            f"{out_dir / RESUME}: an interrupted run's state: pass --resume to continue it, "
            "or delete the file to start again"
        )
    dataset = load_dataset(data)
    click.echo(dataset.summary(), err=True)
    config = dataclasses.replace(
        method_config(method, seed, epochs, progress=progress),
        target_sensitivity=target_sensitivity,
        **({} if select_epoch is None else {"select_epoch": select_epoch}),
    )
    written = _train_method(method, dataset, config, out_dir, resume)
    meta = read_meta(written)
    settings = meta.train_config
    click.echo(
        f"wrote {written} (epoch {meta.best_epoch}/{meta.epochs}, val AUC "
        f"{meta.val_metrics['auc']:.3f} on {settings['n_val']} {validation_scheme(settings)} "
        "predictions)"
    )


def _train_method(method, dataset, config, out_dir, resume) -> Path:
    from melanoma.methods import train_method

    with training_ends("continue with --resume"):
        return train_method(method, dataset, config, out_dir, resume=resume)


@cli.command()
@data_option()
@click.option(
    "--methods",
    default="supervised,sgan",
    show_default=True,
    callback=method_list,
    help="Comma-separated: supervised, sgan, or the SGAN ablations sgan-labeled-only (no "
    "weight on the unlabeled images, which still set its steps), sgan-mean-teacher (no GAN "
    "losses) and sgan-no-mean-teacher (GAN losses, no consistency). Paired AUC CIs are "
    "against the first.",
)
@click.option(
    "--seeds",
    default="0,1,2",
    show_default=True,
    callback=seed_list,
    help="Comma-separated training seeds; each method is trained once per seed.",
)
@out_dir_option(
    "Holds <method>-seed<N>/ checkpoints (reused if their config matches) and the results."
)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override every method.")
@progress_option()
def compare(
    data: str | None, methods: list[str], seeds: list[int], out_dir: Path, epochs: int | None,
    progress: bool,
) -> None:  # fmt: skip
    """Train missing models and compare methods over seeds on the test split.

    Writes OUT/results.json, OUT/results.md and OUT/roc.png.
    """
    from melanoma.compare import compare as run_compare
    from melanoma.datasets import load_dataset

    dataset = load_dataset(data)
    click.echo(dataset.summary(), err=True)
    with training_ends("rerun the same command to continue from there"):
        run_compare(dataset, out_dir, methods, seeds, epochs=epochs, progress=progress)
    results_md = (out_dir / "results.md").read_text(encoding="utf-8", errors="surrogateescape")
    click.echo(results_md, nl=False)


@cli.command("nested-cv")
@data_option()
@click.option(
    "--seeds",
    default="0,1,2,3,4,5,6,7",
    show_default=True,
    callback=seed_list,
    help="Comma-separated seeds; each gives its own outer folds, inner folds and training seed.",
)
@out_dir_option("Where results.json and results.md go.")
@progress_option()
def nested_cv(data: str | None, seeds: list[int], out_dir: Path, progress: bool) -> None:
    """Nested CV of the Youden estimators and epoch rules on the labeled images only.

    Trains the whole baseline once per outer fold (5 per seed, about 2-3
    minutes per seed on 2 cores); the test split is never used.
    """
    from melanoma.datasets import load_dataset
    from melanoma.nested_cv import NestedConfig, results_markdown
    from melanoma.nested_cv import nested_cv as run_nested_cv

    with training_ends(None):  # it cannot resume: a rerun starts over
        config = NestedConfig(seeds=tuple(seeds), progress=progress)
        results = run_nested_cv(load_dataset(data), config, out_dir)
    click.echo(results_markdown(results), nl=False)


@cli.command()
@click.argument("checkpoint_dir")
@data_option()
@click.option(
    "--split",
    type=click.Choice(["test", "val", "labeled"]),
    default="test",
    show_default=True,
    help="val is an SGAN checkpoint's own validation split (the cross-validated baseline has "
    "none); labeled includes the images it trained on (optimistic).",
)
@threshold_option()
@target_sensitivity_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--roc",
    "roc_path",
    type=NonEmptyPath(dir_okay=False, path_type=Path),
    help="Also write the ROC curve points as CSV (fpr, tpr, threshold).",
)
def evaluate(
    checkpoint_dir: str, data: str | None, split: str, threshold_name: str,
    target_sensitivity: float | None, as_json: bool, roc_path: Path | None,
) -> None:  # fmt: skip
    """Metrics with 95% bootstrap CIs for CHECKPOINT_DIR on a split."""
    from melanoma.atomic import refuse_writing_into_inputs
    from melanoma.checkpoint import resolve_checkpoint_dir, warn_if_name_hides_folder
    from melanoma.evaluate import evaluate_on_data, report_text, write_roc_csv

    refuse_two_thresholds(threshold_name, target_sensitivity)
    warn_if_name_hides_folder(checkpoint_dir)
    if roc_path is not None:  # before the run, which takes seconds to minutes
        inputs = {"checkpoint": resolve_checkpoint_dir(checkpoint_dir), "data": data}
        refuse_writing_into_inputs(roc_path, "--roc", inputs)
    report = evaluate_on_data(checkpoint_dir, data, split, threshold_name, target_sensitivity)
    roc = report.pop("roc")  # hundreds of points: a file, not the one-line JSON
    if roc_path is not None:
        write_roc_csv(roc_path, roc)
    if as_json:
        click.echo(strict_json.dumps(report))
        return
    click.echo(report_text(report, report["checkpoint"], split, report.get("caveat")))


@cli.command()
@click.argument("checkpoint_dir")
@click.argument("images", nargs=-1, required=True, type=NonEmptyPath(path_type=Path))
@click.option(
    "--csv",
    "csv_path",
    type=NonEmptyPath(dir_okay=False, path_type=Path),
    help="Also write the table as CSV (probability at full precision).",
)
@threshold_option()
@target_sensitivity_option()
def predict(
    checkpoint_dir: str, images: tuple[Path, ...], csv_path: Path | None, threshold_name: str,
    target_sensitivity: float | None,
) -> None:  # fmt: skip
    """P(melanoma) for each photo in IMAGES (files or folders), up to 170 megapixels.

    Photos are centre-cropped to a square and area-resized to 32x32, exactly
    as the Android app does. The decision is "flagged" at or above the
    threshold, else "not flagged" (not "benign"): a demo, not a diagnosis.
    """
    from melanoma.atomic import as_text_cell, refuse_writing_into_inputs
    from melanoma.checkpoint import load_checkpoint, warn_if_name_hides_folder
    from melanoma.predict import (
        PREDICTION_COLUMNS,
        decided_by,
        digits_to_tell,
        predict_images,
        write_predictions_csv,
    )
    from melanoma.validation_scores import decision_threshold

    refuse_two_thresholds(threshold_name, target_sensitivity)
    warn_if_name_hides_folder(checkpoint_dir)
    checkpoint = load_checkpoint(checkpoint_dir)
    if csv_path is not None:  # the photos it scores are checked when it writes
        refuse_writing_into_inputs(csv_path, "--csv", {"checkpoint": checkpoint.path})
    name, threshold = decision_threshold(checkpoint, threshold_name, target_sensitivity)
    predictions = predict_images(checkpoint, list(images), threshold)
    if csv_path is not None:  # first: a CSV that cannot be written fails the command
        by = decided_by(checkpoint_dir, checkpoint, name, threshold)
        write_predictions_csv(csv_path, predictions, by)
    digits = digits_to_tell([p.probability for p in predictions], threshold)
    # On stderr, so that stdout stays the table: where every decision below is made.
    decided = f"decided at {name} = {threshold:.{digits}f}, chosen on validation"
    click.echo(on_one_line(decided), err=True)  # the name is the checkpoint's metadata's
    click.echo("\t".join(PREDICTION_COLUMNS))
    for p in predictions:  # a tab, line break or terminal escape in a file name: escaped
        path = on_one_line(as_text_cell(p.path))  # as in the CSV: a table pasted into a
        # spreadsheet would run a name's formula too
        click.echo(f"{path}\t{p.probability:.{digits}f}\t{p.decision}")


@cli.command()
@click.argument("checkpoint_dir")
@data_option()
@out_dir_option(
    "QAT directory to write (program.pt2, metadata.json). "
    "Use CHECKPOINT_DIR/qat so the exporters find it."
)
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seeds batch order, augmentation and unlabeled sampling of the fine-tuning.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=0),
    default=None,
    help="QAT epochs (default: QATConfig's; 0 = calibrate only).",
)
@progress_option()
def qat(
    checkpoint_dir: str, data: str | None, out_dir: Path, seed: int, epochs: int | None,
    progress: bool,
) -> None:  # fmt: skip
    """Quantization-aware fine-tune of CHECKPOINT_DIR into an int8 program for the exporters."""
    from melanoma.checkpoint import load_checkpoint, read_meta, warn_if_name_hides_folder
    from melanoma.datasets import load_dataset
    from melanoma.qat import QATConfig, qat_finetune

    warn_if_name_hides_folder(checkpoint_dir)
    checkpoint = load_checkpoint(checkpoint_dir)
    dataset = load_dataset(data)
    click.echo(dataset.summary(), err=True)  # as train's: QAT reads the unlabeled pool too
    overrides = {"seed": seed, "progress": progress}
    if epochs is not None:
        overrides["epochs"] = epochs
    with training_ends(None):  # a diverged fine-tune: one line, exit 1; nothing to resume
        written = qat_finetune(checkpoint, dataset, QATConfig(**overrides), out_dir)
    config = read_meta(written).train_config
    agreement = f"{config['agreement_with_source']:.2%} decisions agree with float on "
    agreement += f"{config['n_agreement']} {config['agreement_images']} images"
    click.echo(f"wrote {written} ({agreement})")


def main() -> None:
    run(cli)
