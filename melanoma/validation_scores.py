"""The validation predictions a checkpoint keeps, and decision thresholds re-chosen from them.

Training chooses a Youden threshold and one target-sensitivity threshold. A
screening app may need another operating point; keeping the predictions the
thresholds were chosen on lets evaluate and predict choose it on the same
images, without retraining and without touching the test split.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from melanoma.atomic import atomic_path
from melanoma.checkpoint import Checkpoint, CheckpointError
from melanoma.metrics import sensitivity_threshold

OUT_OF_FOLD_CSV = "out_of_fold.csv"  # cross-validated: name, label, fold, probability
VALIDATION_CSV = "validation.csv"  # held-out split: name, label, probability


def write_scores(path: Path, names, labels, probs, folds=None) -> None:
    """One row per validation image; `folds` (the held-out fold of each) only for CV."""
    columns = {"name": list(names), "label": [int(v) for v in labels]}
    if folds is not None:
        columns["fold"] = [int(v) for v in folds]
    columns["probability"] = [float(v) for v in probs]
    with atomic_path(path) as temp, temp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))


def read_scores(ckpt_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) the checkpoint's thresholds were chosen on."""
    ckpt_dir = Path(ckpt_dir)
    candidates = (ckpt_dir / OUT_OF_FOLD_CSV, ckpt_dir / VALIDATION_CSV)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise CheckpointError(
            f"{ckpt_dir}: keeps no validation predictions ({OUT_OF_FOLD_CSV} or "
            f"{VALIDATION_CSV}; checkpoints from before 2026-12-03 lack them), so only its "
            "stored thresholds can be used"
        )
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        labels = np.array([int(r["label"]) for r in rows])
        # float32, as the model computed them: threshold midpoints then equal the stored ones
        probs = np.array([float(r["probability"]) for r in rows], dtype=np.float32)
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not a validation predictions CSV ({err})") from None
    if set(labels.tolist()) != {0, 1} or not np.all((probs >= 0) & (probs <= 1)):
        raise CheckpointError(f"{path}: needs labels 0 and 1 and probabilities in [0, 1]")
    return labels, probs


def decision_threshold(
    checkpoint: Checkpoint, name: str = "youden", target_sensitivity: float | None = None
) -> tuple[str, float]:
    """(name, probability): a stored threshold, or the highest one whose sensitivity on the
    checkpoint's validation predictions reaches `target_sensitivity`."""
    if target_sensitivity is None:
        return name, checkpoint.meta.threshold(name)
    labels, probs = read_scores(checkpoint.path)
    choice = sensitivity_threshold(labels, probs, target_sensitivity)
    return choice.name, choice.probability
