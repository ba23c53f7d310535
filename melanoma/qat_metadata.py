"""What a QAT directory's metadata.json records: the source's metadata with the QAT
settings, the int8 program measured against the float model (refused first if it
collapsed), and where that was measured. qat.py writes it beside program.pt2."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from melanoma.checkpoint import Checkpoint, CheckpointMeta, file_sha256, package_versions, utc_now
from melanoma.datasets import Split
from melanoma.inference import predict_probs
from melanoma.metrics import all_metrics
from melanoma.pt2e import program_probs
from melanoma.qat_checkpoint import KIND
from melanoma.training import DivergenceError

if TYPE_CHECKING:  # qat.py imports this module
    from melanoma.qat import QATConfig

log = logging.getLogger(__name__)


def _agreement_images(train: Split, val: Split | None, unlabeled: Split | None):
    """(images, name) on which to compare int8 with float decisions: the held-out validation
    split; for a cross-validated source (no held-out labeled image) the unlabeled pool; and,
    for a data set without one, the labeled training images, in-sample but still a check."""
    if val is not None:
        return val, "validation"
    if unlabeled is not None:
        return unlabeled, "unlabeled"
    return train, "labeled training"


def _refuse_collapsed(int8_probs: np.ndarray, float_decisions: np.ndarray, images: str) -> None:
    """The SGAN trainer's rule (sgan_step.validate) for the int8 program: non-finite
    outputs, or one probability for images the float model decides both ways, mean
    fine-tuning diverged. At QATConfig lr 1e6 the weights reached 2e6 with a finite loss,
    and a program giving all 40 validation images 0.00083 was saved, only its low agreement
    telling. One probability for images the float model decides alike is no sign of it:
    a data set with 1 unlabeled image (a supervised source's checked images) was refused."""
    both_ways = bool(float_decisions.any() and not float_decisions.all())
    if not np.all(np.isfinite(int8_probs)):
        why = "a non-finite probability"
    elif np.ptp(int8_probs) == 0 and both_ways:
        why = "one probability, where the float model decides them both ways"
    else:
        return
    raise DivergenceError(
        f"QAT diverged: the int8 program gives the {len(int8_probs)} {images} images {why}; "
        "no program written (try another --seed, or a lower QATConfig.lr from Python)"
    )


def qat_meta(
    checkpoint: Checkpoint,
    program: torch.export.ExportedProgram,
    splits: tuple[Split, Split | None, Split | None],
    config: QATConfig,
    program_path: Path,
    source: tuple[dict | None, str],
) -> CheckpointMeta:
    """The source's metadata with the QAT settings, validation re-measured in int8, and the
    int8-vs-float decision agreement (see _agreement_images); `source` is (this toolkit's
    commit, the source checkpoint's sha256 as loaded).

    A cross-validated source has no held-out labeled images (val is None): its
    out-of-fold float metrics are kept.
    """
    train, val, unlabeled = splits
    commit, source_sha256 = source
    checked, checked_name = _agreement_images(train, val, unlabeled)
    meta = checkpoint.meta
    threshold = meta.threshold("youden")
    int8_probs = program_probs(program, checked.images, meta.mean, meta.std)
    float_probs = predict_probs(checkpoint.model, checked.images, meta.mean, meta.std)
    float_decisions = float_probs >= threshold
    _refuse_collapsed(int8_probs, float_decisions, checked_name)
    agreement = float(np.mean((int8_probs >= threshold) == float_decisions))
    val_metrics = meta.val_metrics
    if val is not None:
        val_metrics = all_metrics(val.labels.numpy(), int8_probs, threshold)
        log.info("int8 val AUC %.4f (float %.4f)", val_metrics["auc"], meta.val_metrics["auc"])
    source_config = meta.train_config
    split = {k: source_config[k] for k in ("validation", "val_fraction") if k in source_config}
    return dataclasses.replace(
        meta,
        # seed stays the source's: it is the split seed, so pick_split("val") still
        # re-carves the same validation images; the QAT seed is train_config["seed"].
        epochs=config.epochs,
        best_epoch=config.epochs,  # no selection: the last weights are kept
        val_metrics=val_metrics,
        train_config={
            **asdict(config),
            **split,
            "kind": KIND,
            "quantization": "qat" if config.epochs else "ptq (calibration only)",
            "split_seed": meta.seed,
            "n_train": len(train),
            "n_val": len(val) if val is not None else 0,
            "int8_val_measured": val is not None,
            "source_checkpoint_sha256": source_sha256,
            "source_val_metrics": meta.val_metrics,
            # decisions at the youden threshold
            "agreement_with_source": agreement,
            "agreement_images": checked_name,
            "n_agreement": len(checked),
            "torch_threads": torch.get_num_threads(),  # as in a float checkpoint's train_config
        },
        versions=package_versions(),
        toolkit_source=commit,  # this run's, not the source checkpoint's
        weights_sha256=file_sha256(program_path),
        created_utc=utc_now(),
    )
