"""Evaluate a checkpoint on a split with its stored normalization (photos: melanoma.predict)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from melanoma.atomic import write_csv
from melanoma.checkpoint import (
    METADATA,
    REFERENCE_NAMES,
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    loaded_checkpoint_sha256,
)
from melanoma.datasets import TEST_SPLIT_PLACES, Dataset, Split, load_dataset
from melanoma.errors import UserError, on_one_line
from melanoma.inference import predict_logits, predict_probs
from melanoma.metrics import app_probabilities, evaluation_report
from melanoma.splits import OUT_OF_FOLD, checkpoint_split, validation_scheme
from melanoma.validation_scores import (
    decision_threshold,
    read_folds,
    read_scores,
    scores_path,
)
from melanoma.versions import package_versions, toolkit_source

SPLITS = ("test", "val", "labeled")
# A rerun on the CPU differs from training's own predictions by float noise: 1e-7 between
# thread counts; if training ran on a GPU with TF32 convolutions, up to 6e-4 (simulated,
# operands rounded to nearest) or 3.3e-3 (truncated). A mean edited by 0.01 moves
# probabilities by 0.07. tests/test_evaluate.py measures these.
REPRODUCE_TOLERANCE = 5e-3


def pick_split(dataset: Dataset, name: str, checkpoint: Checkpoint) -> Split:
    """`val` is re-carved from the checkpoint's own metadata, so it is its real validation split."""
    if name == "test":
        if dataset.test is None:
            raise UserError(
                f"{dataset.source}: this data set has no test split ({TEST_SPLIT_PLACES}); "
                "--split labeled scores its labeled images"
            )
        return dataset.test
    if name == "val":
        return _validation_split(dataset, checkpoint)
    if name == "labeled":
        return dataset.labeled
    raise UserError(f"unknown split {name!r}; choose from {', '.join(SPLITS)}")


def _validation_split(dataset: Dataset, checkpoint: Checkpoint) -> Split:
    meta = checkpoint.meta
    if validation_scheme(meta.train_config) == OUT_OF_FOLD:  # whatever the data
        raise UserError(
            f"{checkpoint.path}: cross-validated on every labeled image, so there is no "
            "held-out val split; its out-of-fold metrics are val_metrics in metadata.json"
        )
    trained_on = dataset.trained_on_by(meta.data_fingerprint)
    if not trained_on and not _kept_validation(checkpoint, dataset):
        # without pixel hashes (checkpoints before 2026-12-03) only the same data will do
        which = ", with other labeled images or labels" if meta.labeled_pixel_hashes else ""
        raise UserError(
            f"{dataset.source}: --split val is re-carved from the data the checkpoint "
            f"was trained on (fingerprint {meta.data_fingerprint}), and this data set "
            f"is {dataset.fingerprint}{which}"
        )
    return checkpoint_split(dataset.labeled, meta.train_config, meta.seed)[1]


def split_caveat(dataset: Dataset, name: str, checkpoint: Checkpoint) -> str | None:
    """Why a split's numbers would flatter the model, or None if nothing says they do."""
    if name == "val":
        return "its epoch and thresholds were chosen on these images: optimistic"
    seen = set(checkpoint.meta.labeled_pixel_hashes or ())
    if seen:  # by pixels: also a renamed or repackaged copy, or a test/ that repeats them
        split = pick_split(dataset, name, checkpoint)
        known = sum(h in seen for h in split.pixel_hashes())
        if known:
            return (
                f"{known} of these {len(split)} images are ones the model was trained or "
                "validated on: optimistic, not an estimate of accuracy"
            )
        return None
    if name == "labeled" and dataset.trained_on_by(checkpoint.meta.data_fingerprint):
        return "the model trained on these images: optimistic, not an estimate of accuracy"
    return None


def check_reproduces_scores(checkpoint: Checkpoint, dataset: Dataset) -> None:
    """On the data it was trained on, the model must give again the predictions its
    thresholds were chosen on. A hand-edited mean or std in metadata.json passes every
    other check and shifts every score; this is the one place it shows.

    Skipped (nothing to compare with) on other data or without kept predictions. The
    rows are matched by position, not name: an equal fingerprint means the same labeled
    images in the same order, under whatever folder names this copy has. Where only the
    test split or the unlabeled pool differs (one broken unlabeled photo skipped, a copy
    without them), the stored pixel hashes of the labeled images say the same."""
    meta = checkpoint.meta
    path = scores_path(checkpoint.path, meta.train_config)
    same_data = dataset.trained_on_by(meta.data_fingerprint)
    if not (same_data or _same_labeled_pixels(meta, dataset)) or not path.is_file():
        return
    labels, kept = read_scores(path)
    folds = read_folds(path)
    train, val = checkpoint_split(dataset.labeled, meta.train_config, meta.seed)
    rows = train if val is None else val  # out of fold: every labeled image
    if not np.array_equal(rows.labels.numpy(), labels):
        if not same_data:  # the same photos labeled otherwise: not the data it trained on
            return
        raise CheckpointError(
            f"{path}: its rows are not the {len(rows)} validation images of the data "
            "the checkpoint trained on, in order"
        )
    members = getattr(checkpoint.model, "members", ())
    if folds is not None and not all(0 <= f < len(members) for f in folds):
        raise CheckpointError(f"{path}: folds do not name this model's {len(members)} members")
    worst = float(np.abs(_kept_rule_probs(checkpoint, rows.images, folds) - kept).max())
    if not worst <= REPRODUCE_TOLERANCE:  # NaN too
        raise CheckpointError(
            f"{checkpoint.path / METADATA}: the model no longer gives the predictions in "
            f"{path.name} (max |dp| {worst:.3g} on the data it trained on); its mean, std "
            "or that file's folds were edited"
        )


def _kept_validation(checkpoint: Checkpoint, dataset: Dataset) -> bool:
    """Its validation split, re-carved from this data, holds the images (in order, labeled
    alike) whose predictions the checkpoint kept: only the test split or the unlabeled pool
    differs (a broken unlabeled photo skipped). The carve depends on every label, so a
    relabeled copy carves other images; should their labels match the kept ones,
    check_reproduces_scores (which evaluate runs first) refuses them."""
    meta = checkpoint.meta
    path = scores_path(checkpoint.path, meta.train_config)
    if not _same_labeled_pixels(meta, dataset) or not path.is_file():
        return False
    val = checkpoint_split(dataset.labeled, meta.train_config, meta.seed)[1]
    return np.array_equal(val.labels.numpy(), read_scores(path)[0])


def _same_labeled_pixels(meta, dataset: Dataset) -> bool:
    """The labeled images it trained on, in order (empty in checkpoints before 2026-12-03)."""
    stored = meta.labeled_pixel_hashes
    return bool(stored) and dataset.labeled.pixel_hashes() == stored


def refuse_undefined_scores(checkpoint: Checkpoint, probs: np.ndarray) -> None:
    """A NaN score would print as "not flagged" (every comparison with it is false)."""
    undefined = int(np.count_nonzero(~np.isfinite(probs)))
    if undefined:
        raise CheckpointError(
            f"{checkpoint.path}: the model scores {undefined} of {len(probs)} images as NaN; "
            "its weights or the mean/std in its metadata.json are broken"
        )


def _kept_rule_probs(checkpoint: Checkpoint, images: torch.Tensor, folds) -> np.ndarray:
    """What training predicted for these images: out of fold, each by the ensemble member
    that did not train on it; with a held-out split, by the model itself."""
    mean, std = checkpoint.meta.mean, checkpoint.meta.std
    if folds is None:
        return predict_probs(checkpoint.model, images, mean, std)
    folds = torch.tensor(folds)
    probs = np.empty(len(images), dtype=np.float32)
    for fold in folds.unique().tolist():
        rows = folds == fold
        member = checkpoint.model.members[fold]
        probs[rows.numpy()] = predict_probs(member, images[rows], mean, std)
    return probs


def evaluate_checkpoint(
    checkpoint: Checkpoint,
    split: Split,
    threshold_name: str = "youden",
    seed: int = 0,
    target_sensitivity: float | None = None,
) -> dict:
    """Metrics at a validation threshold, 95% bootstrap CIs (seeded) and ROC points.

    The threshold is the stored one named, or with `target_sensitivity` re-chosen on the
    checkpoint's validation predictions."""
    name, threshold = decision_threshold(checkpoint, threshold_name, target_sensitivity)
    mean, std = checkpoint.meta.mean, checkpoint.meta.std
    logits = predict_logits(checkpoint.model, split.images, mean, std)  # (N,) float32
    # the app's float64 sigmoid of each float32 logit, as predict and the bench take it: a
    # float32 sigmoid decided a score within a float32 step of the threshold otherwise
    probs = app_probabilities(logits.numpy())
    refuse_undefined_scores(checkpoint, probs)
    report = evaluation_report(split.labels.numpy(), probs, threshold, seed=seed)
    report["threshold_name"] = name
    return report


def evaluate_on_data(
    checkpoint_dir: str,
    data: str | os.PathLike | None,
    split: str = "test",
    threshold_name: str = "youden",
    target_sensitivity: float | None = None,
) -> dict:
    """What `melanoma evaluate` reports: evaluate_checkpoint's figures on the named split of
    the data, any caveat about that split, and what was measured (the checkpoint by its
    bundled name or path, and its sha256, the split, the data's fingerprint, how the CIs
    were bootstrapped, the package versions and source commit): saved JSON files must say
    it. Refuses a checkpoint that no longer reproduces its kept predictions."""
    checkpoint = load_checkpoint(checkpoint_dir)
    dataset = load_dataset(data)
    # The data takes seconds to read: a train that rewrote the folder meanwhile had its
    # new checkpoint named in the report of the old one's figures.
    sha256 = loaded_checkpoint_sha256(checkpoint)
    check_reproduces_scores(checkpoint, dataset)
    chosen = pick_split(dataset, split, checkpoint)
    report = evaluate_checkpoint(
        checkpoint, chosen, threshold_name, seed=0, target_sensitivity=target_sensitivity
    )
    caveat = split_caveat(dataset, split, checkpoint)
    if caveat:
        report["caveat"] = caveat
    return {
        **report,
        "checkpoint": checkpoint_label(checkpoint_dir, checkpoint),
        "checkpoint_sha256": sha256,  # the path may be reused
        "split": split,
        "data_fingerprint": dataset.fingerprint,
        # a rerun months later on another install: which toolkit and torch gave these numbers
        "versions": package_versions(),
        "toolkit_source": toolkit_source(),  # its version alone does not tell builds apart
    }


def checkpoint_label(checkpoint_dir: str, checkpoint: Checkpoint) -> str:
    """How outputs name the checkpoint: a bundled one by its name, not by a path inside
    site-packages; any other by its folder."""
    return checkpoint_dir if checkpoint_dir in REFERENCE_NAMES else str(checkpoint.path)


def report_text(report: dict, name: str, split: str, caveat: str | None = None) -> str:
    """`evaluate_checkpoint`'s report as the aligned table `melanoma evaluate` prints."""
    # The checkpoint's folder, as given: a control character in it acted on the terminal
    # (ESC[2J cleared it), and a line break split the line.
    head = (
        f"{name} on {split} (n={report['n']}), "
        f"threshold {report['threshold_name']} = {report['threshold']:.3f}"
        + (f" ({caveat})" if caveat else "")
    )
    lines = [on_one_line(head)]
    for metric, (low, high) in report["ci"].items():
        value, low, high = (_undefined_or(x) for x in (report[metric], low, high))
        lines.append(f"  {metric:<18} {value}  [{low}, {high}]")
    calibration = report["calibration"]
    lines.append(f"  {'brier':<18} {calibration['brier']:.3f}")
    lines.append(
        f"  {'calibration error':<18} {calibration['ece']:.3f}  "
        "(ECE over 10 probability bins; --json lists them)"
    )
    screening = report["at_screening_prevalence"]
    ppv, npv = (_undefined_or(screening[key]) for key in ("ppv", "npv"))
    lines.append(
        f"  at {screening['prevalence']:.0%} melanoma (not this split's mix): precision "
        f"{ppv}, NPV {npv}"
    )
    return "\n".join(lines)


def _undefined_or(value: float) -> str:
    # NPV is 0/0 when every image is flagged (a threshold of 0), precision when none is
    return "undefined" if math.isnan(value) else f"{value:.3f}"


def write_roc_csv(path: Path, roc: dict) -> None:
    """ROC points (fpr, tpr, threshold) of evaluation_report, one row each; written atomically."""
    refuse_missing_folder(path, "--roc")
    points = zip(roc["fpr"], roc["tpr"], roc["thresholds"], strict=True)
    write_csv(path, ["fpr", "tpr", "threshold"], points)


def refuse_missing_folder(path: Path, option: str) -> None:
    """A typo in the folder of an output file is an error, not a new folder."""
    if not path.parent.exists():
        raise UserError(f"{path}: {option}'s folder {path.parent} does not exist")
