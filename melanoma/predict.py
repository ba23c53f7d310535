"""Score single photos with a checkpoint, through the full input contract, as `melanoma
predict` and the app do; the split-level figures are melanoma.evaluate's."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from melanoma.atomic import as_text_cell, as_text_value, write_csv
from melanoma.checkpoint import Checkpoint, loaded_checkpoint_sha256
from melanoma.errors import UserError, listing
from melanoma.evaluate import checkpoint_label, refuse_missing_folder, refuse_undefined_scores
from melanoma.folders import is_hidden
from melanoma.images import IMAGE_SUFFIXES, decode_rgb
from melanoma.metrics import app_probability
from melanoma.preprocess import image_to_input
from melanoma.sources import listed_files_under, read_file

log = logging.getLogger(__name__)
# Photos and folders of them, in a list or tuple, or one path on its own
PhotoPaths = str | os.PathLike | Sequence[str | os.PathLike]


@dataclass(frozen=True)
class Prediction:
    path: str
    probability: float  # P(melanoma)
    melanoma: bool  # probability >= threshold

    @property
    def decision(self) -> str:
        # As the Android app words it: under the threshold a photo is not flagged, which
        # a research model on 200 labels cannot turn into "benign".
        return "flagged" if self.melanoma else "not flagged"


PREDICTION_COLUMNS = ("path", "probability", "decision")


@dataclass(frozen=True)
class DecidedBy:
    """What decided each row of a predictions CSV, on every row after the table's columns: a
    CSV found later said "flagged" without naming the model or the cutoff."""

    threshold_name: str
    threshold: float  # P(melanoma) at or above it is flagged
    checkpoint: str  # evaluate.checkpoint_label: a bundled one by name, else its folder
    checkpoint_sha256: str  # the folder may be retrained later


def decided_by(
    checkpoint_dir: str, checkpoint: Checkpoint, name: str, threshold: float
) -> DecidedBy:
    label = checkpoint_label(checkpoint_dir, checkpoint)
    return DecidedBy(name, float(threshold), label, loaded_checkpoint_sha256(checkpoint))


def write_predictions_csv(path: Path, predictions: list[Prediction], by: DecidedBy) -> None:
    """`predict`'s table as CSV, probabilities at full precision, each row naming what
    decided it; written atomically."""
    refuse_missing_folder(path, "--csv")
    if path.exists() and any(os.path.samefile(path, p.path) for p in predictions):
        raise UserError(f"{path}: --csv names one of the photos it scores; choose another file")
    columns = PREDICTION_COLUMNS + tuple(f.name for f in fields(DecidedBy))
    # the threshold's name as the checkpoint's metadata.json spells it: text too
    checkpoint, name = as_text_cell(by.checkpoint), as_text_value(by.threshold_name)
    decided = astuple(dataclasses.replace(by, checkpoint=checkpoint, threshold_name=name))
    rows = ((as_text_cell(p.path), p.probability, p.decision, *decided) for p in predictions)
    write_csv(path, columns, rows)


def digits_to_tell(probabilities: list[float], threshold: float, least: int = 4) -> int:
    """Decimals at which every probability that differs from the threshold also prints
    differently from it, so the printed numbers never contradict the decision (rounding
    keeps the order: a score printed apart from the threshold is on the side it shows)."""
    most = 20  # a float64 threshold next to a float32 score near 0 can need ~17
    for digits in range(least, most):
        shown = f"{threshold:.{digits}f}"
        if all(p == threshold or f"{p:.{digits}f}" != shown for p in probabilities):
            return digits
    return most


def image_files(paths: PhotoPaths) -> list[Path]:
    """Expand directories (sorted, recursive) into image files; keep explicit files as given.

    Other files in a directory are skipped with a warning naming them: a photo saved as
    .heic or .gif must not vanish unremarked. Hidden files and folders (.DS_Store, the
    ._IMG_1.jpg metadata files macOS leaves on shared drives) are skipped silently, as the
    data loaders do.
    """
    if isinstance(paths, (str, os.PathLike)):  # one photo or folder, not in a list
        paths = [paths]
    files: list[Path] = []
    for path in map(Path, paths):  # a str from Python, too
        if path.is_dir():
            found = sorted(
                p for p in listed_files_under(path) if not is_hidden(p.relative_to(path).as_posix())
            )
            files += [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES]
            _warn_skipped(path, [p for p in found if p.suffix.lower() not in IMAGE_SUFFIXES])
        elif path.is_file():
            files.append(path)
        elif path.exists():  # a device, a pipe, a socket: reading one may never end
            raise UserError(f"{path}: not a regular file or directory")
        else:  # exists() follows links: a loop or a dangling one is "missing"
            linked = " (a broken or looping link)" if path.is_symlink() else ""
            raise UserError(f"{path}: no such file or directory{linked}")
    if not files:
        raise UserError("no images found in " + ", ".join(map(str, paths)))
    unique: dict[str, Path] = {}  # a photo named twice (or by its folder too) is scored once
    for file in files:
        unique.setdefault(os.path.realpath(file), file)
    return list(unique.values())


def _warn_skipped(folder: Path, others: list[Path]) -> None:
    if others:
        log.warning(
            "%s: skipped %d file(s) that are not %s: %s",
            folder, len(others), "/".join(IMAGE_SUFFIXES),
            listing(p.relative_to(folder) for p in others),
        )  # fmt: skip


@torch.no_grad()
def predict_images(checkpoint: Checkpoint, paths: PhotoPaths, threshold: float) -> list[Prediction]:
    """Run the full input contract (crop, area resize, normalize) on each photo; decide
    melanoma at `threshold` (see melanoma.validation_scores.decision_threshold)."""
    files = image_files(paths)
    probs, unusable = [], []
    for path in files:  # all read first: every bad photo in one message, fixed in one pass
        try:
            rgb = decode_rgb(read_file(path), str(path))
            model_input = image_to_input(rgb, checkpoint.meta.mean, checkpoint.meta.std)
        except UserError as err:
            unusable.append(str(err))
        except ValueError as err:  # too small to crop and resize
            unusable.append(f"{path}: {err}")
        except OSError as err:  # unreadable file: permissions, a vanished network drive
            unusable.append(f"{path}: {err.strerror or err}")
        else:  # scored as read, one photo per call as the app does: holding every input
            # until the end took 26 KB a photo (260 MB for 10,000); none scored after a bad one
            if not unusable:
                probs.append(app_probability(float(checkpoint.model(model_input).item())))
    if unusable:
        more = f"; and {len(unusable) - 5} more" if len(unusable) > 5 else ""
        raise UserError(
            f"{len(unusable)} of {len(files)} images unusable, none scored: "
            + "; ".join(unusable[:5])
            + more
        )
    refuse_undefined_scores(checkpoint, np.array(probs))
    return [
        Prediction(str(path), prob, bool(np.float64(prob) >= threshold))
        for path, prob in zip(files, probs, strict=True)
    ]
