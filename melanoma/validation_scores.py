"""The validation predictions a checkpoint keeps, and decision thresholds re-chosen from them.

Training chooses a Youden threshold and one target-sensitivity threshold. A
screening app may need another operating point; keeping the predictions the
thresholds were chosen on lets evaluate and predict choose it on the same
images, without retraining and without touching the test split.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import SupportsFloat, SupportsInt

import numpy as np
from numpy.typing import ArrayLike

from melanoma.atomic import write_csv
from melanoma.checkpoint import (
    METADATA,
    Checkpoint,
    CheckpointError,
    refuse_if_held,
    same_threshold_name,
)
from melanoma.config_checks import check_target_sensitivity
from melanoma.errors import UserError
from melanoma.metrics import (
    YOUDEN_ESTIMATORS,
    ThresholdChoice,
    auc,
    confusion_metrics,
    sensitivity_target,
    sensitivity_threshold,
    youden_threshold,
)
from melanoma.splits import OUT_OF_FOLD, validation_scheme

OUT_OF_FOLD_CSV = "out_of_fold.csv"  # cross-validated: name, label, fold, probability
VALIDATION_CSV = "validation.csv"  # held-out split: name, label, probability


def scores_sha256(labels: ArrayLike, probs: ArrayLike) -> str:
    """Of the labels and float32 probabilities, which the CSV stores exactly."""
    data = np.asarray(labels, dtype=np.int64).tobytes() + np.asarray(probs, np.float32).tobytes()
    return hashlib.sha256(data).hexdigest()


def write_scores(
    path: Path,
    names: Iterable[str],
    labels: Iterable[SupportsInt],
    probs: Iterable[SupportsFloat],
    folds: Iterable[SupportsInt] | None = None,
) -> None:
    """One row per validation image; `folds` (the held-out fold of each) only for CV."""
    columns = {"name": list(names), "label": [int(v) for v in labels]}
    if folds is not None:
        columns["fold"] = [int(v) for v in folds]
    columns["probability"] = [float(v) for v in probs]
    write_csv(path, columns, zip(*columns.values(), strict=True))


def scores_path(ckpt_dir: Path, train_config: dict) -> Path:
    """Where a checkpoint keeps them: out_of_fold.csv if cross-validated, else validation.csv."""
    cross_validated = validation_scheme(train_config) == OUT_OF_FOLD
    return Path(ckpt_dir) / (OUT_OF_FOLD_CSV if cross_validated else VALIDATION_CSV)


def read_scores(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of one kept predictions CSV."""
    try:
        rows = _rows(path)
        labels = np.array([int(r["label"]) for r in rows])
        # float32, as the model computed them: threshold midpoints then equal the stored ones
        probs = np.array([float(r["probability"]) for r in rows], dtype=np.float32)
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not a validation predictions CSV ({err})") from None
    if not rows:
        raise CheckpointError(f"{path}: lists no predictions")
    if set(labels.tolist()) != {0, 1} or not np.all((probs >= 0) & (probs <= 1)):
        raise CheckpointError(f"{path}: needs labels 0 and 1 and probabilities in [0, 1]")
    return labels, probs


def checkpoint_scores(checkpoint: Checkpoint) -> tuple[np.ndarray, np.ndarray]:
    """The predictions the checkpoint's thresholds were chosen on, checked against them:
    a file edited, or copied from another model, would silently move every decision."""
    meta = checkpoint.meta
    path = scores_path(checkpoint.path, meta.train_config)
    if not path.is_file():
        refuse_if_held(checkpoint.path)  # read again after the load (--target-sensitivity)
        why = (
            "the out-of-fold predictions its thresholds were chosen on"
            if path.name == OUT_OF_FOLD_CSV
            else "SGAN runs before 2026-12-03 did not write it"
        )
        raise CheckpointError(
            f"{checkpoint.path}: keeps no {path.name} ({why}), so only its stored "
            "thresholds can be used"
        )
    labels, probs = read_scores(path)
    mismatch = _mismatch(meta, labels, probs)
    if mismatch:
        raise CheckpointError(f"{path}: {mismatch}; edited, or from another model")
    unreproduced = _unreproduced_threshold(meta, labels, probs)
    if unreproduced:
        meta_path = checkpoint.path / METADATA
        raise CheckpointError(f"{meta_path}: {unreproduced} {path.name}; one was edited")
    return labels, probs


def _mismatch(meta, labels: np.ndarray, probs: np.ndarray) -> str | None:
    """What in the kept predictions disagrees with what training stored from them, if anything.

    Checkpoints since 2026-12-03 store the predictions' sha256. For older ones the
    validation AUC and count are compared: an edit that keeps the ranking and both
    thresholds passes those."""
    if meta.val_scores_sha256:
        if scores_sha256(labels, probs) != meta.val_scores_sha256:
            return "its predictions are not the ones training stored (sha256 differs)"
        return None
    n_val = meta.train_config.get("n_val")
    if isinstance(n_val, int) and len(labels) != n_val:
        return f"lists {len(labels)} predictions, not the {n_val} the checkpoint was validated on"
    stored_auc, kept_auc = meta.val_metrics.get("auc"), auc(labels, probs)
    if isinstance(stored_auc, float) and abs(kept_auc - stored_auc) > 1e-9:
        return f"its AUC is {kept_auc:.4f}, not the stored {stored_auc:.4f}"
    return None


def _unreproduced_threshold(meta, labels: np.ndarray, probs: np.ndarray) -> str | None:
    """A stored threshold that the kept predictions do not give: one training's rule,
    rerun on them, would not choose, or whose sensitivity or specificity is not the one
    it has on them. Each reaches the manifests and the app, which show those numbers."""
    for stored in meta.thresholds:
        name, probability = stored["name"], stored["probability"]
        if name != "youden" and not 0 < (sensitivity_target(name) or 0) <= 1:
            return f"threshold {name!r} is not one training writes, so it is not reproduced by"
        rechosen = _rechosen(meta, name, labels, probs)
        if rechosen is not None and abs(probability - rechosen.probability) > 1e-6:
            return (
                f"{name} threshold {probability:.6g} is not the "
                f"{rechosen.probability:.6g} that training's rule gives on"
            )
        measured = confusion_metrics(labels, probs, probability)
        for rate in ("sensitivity", "specificity"):
            value = stored.get(rate, measured[rate])  # absent: nothing claimed
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (number and abs(value - measured[rate]) <= 1e-6):  # NaN fails too
                return (
                    f"{name} threshold's {rate} {value!r} is not the {measured[rate]:.6g} it has on"
                )
    return None


def _rechosen(meta, name: str, labels, probs) -> ThresholdChoice | None:
    """Training's choice for a stored threshold's name (youden or sensitivity_X); None for
    a youden whose estimator the checkpoint does not record."""
    target = sensitivity_target(name)
    if target is not None:
        return sensitivity_threshold(labels, probs, target)
    estimator = meta.train_config.get("youden_estimator")
    return youden_threshold(labels, probs, estimator) if estimator in YOUDEN_ESTIMATORS else None


def read_folds(path: Path) -> list[int] | None:
    """The held-out fold of each row of a kept predictions CSV; None if not cross-validated."""
    try:
        rows = _rows(path)
        return [int(r["fold"]) for r in rows] if rows and "fold" in rows[0] else None
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: unreadable fold column ({err})") from None


def _rows(path: Path) -> list[dict]:
    """A kept predictions CSV's rows, decoded as write_csv wrote them: a photo's file name
    that is not UTF-8 is its bytes, which a strict read refused, so a model trained on
    such data (exit 0) could not be evaluated, exported or used to predict."""
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return list(csv.DictReader(handle))


def check_stored_thresholds(checkpoint: Checkpoint) -> None:
    """Refuse a checkpoint whose stored thresholds its kept predictions do not reproduce, or
    that lost them. Only SGAN checkpoints from before 2026-12-03 (no predictions sha256)
    may lack the file; theirs go unchecked."""
    meta = checkpoint.meta
    path = scores_path(checkpoint.path, meta.train_config)
    if path.is_file():
        checkpoint_scores(checkpoint)
    elif meta.val_scores_sha256 or path.name == OUT_OF_FOLD_CSV:
        # without this, deleting the file would let a hand-set threshold through unchecked
        raise CheckpointError(
            f"{path}: missing or not a file; the checkpoint's thresholds were chosen on "
            "these predictions and are checked against them"
        )


def decision_threshold(
    checkpoint: Checkpoint, name: str = "youden", target_sensitivity: float | None = None
) -> tuple[str, float]:
    """(name, probability): a stored threshold, or the highest one whose sensitivity on the
    checkpoint's validation predictions reaches `target_sensitivity`. A name other than
    the default must then be that threshold's (sensitivity_0.95 with 0.95), as the CLIs
    require, rather than be dropped."""
    if target_sensitivity is None:
        stored = checkpoint.meta.threshold_entry(name)
        return stored["name"], float(stored["probability"])
    choice = target_threshold(checkpoint, target_sensitivity)
    if name != "youden" and not same_threshold_name(choice.name, name):
        raise UserError(
            f"threshold {name} is not the one target sensitivity {target_sensitivity:g} "
            f"chooses ({choice.name}): give one of them"
        )
    return choice.name, choice.probability


def target_threshold(checkpoint: Checkpoint, target_sensitivity: float) -> ThresholdChoice:
    """The highest threshold whose sensitivity on the checkpoint's kept validation
    predictions reaches `target_sensitivity`, with its validation sensitivity and specificity."""
    check_target_sensitivity(target_sensitivity, f"target sensitivity {target_sensitivity!r}")
    return sensitivity_threshold(*checkpoint_scores(checkpoint), target_sensitivity)
