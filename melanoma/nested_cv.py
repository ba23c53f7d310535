"""Nested cross-validation of the supervised baseline on the labeled images only.

The test split may choose nothing, yet the Youden threshold needs an
estimator, and the out-of-fold predictions that choose the threshold cannot
also judge it. So: outer stratified folds of the labeled images (seeded apart
from the inner ones); for each, the whole baseline (`train_supervised`: the
5-fold ensemble with its out-of-fold predictions) trains on the other outer
folds, and every Youden estimator picks a threshold from those out-of-fold
predictions, which then decides the held-out outer fold.

    melanoma --threads 2 nested-cv --data ../shared/data --out runs/nested

runs seeds 0-7 (about 2 minutes each on 2 CPU cores) and writes results.json
and results.md: per estimator, held-out accuracy, the spread of its cutoffs,
and the paired difference from the empirical estimator.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from melanoma.atomic import atomic_path, output_dir
from melanoma.checkpoint import load_checkpoint
from melanoma.datasets import Dataset, Split
from melanoma.metrics import YOUDEN_ESTIMATORS, logit, youden_threshold
from melanoma.splits import stratified_folds
from melanoma.train import TrainConfig, predict_probs, train_supervised
from melanoma.validation_scores import OUT_OF_FOLD_CSV, read_scores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NestedConfig:
    seeds: tuple[int, ...] = tuple(range(8))  # each: its own outer and inner folds
    outer_folds: int = 5
    outer_seed_offset: int = 1000  # outer folds are seeded apart from the inner ones
    train: TrainConfig = field(default_factory=lambda: TrainConfig(progress=False))


@dataclass(frozen=True)
class OuterFold:
    inner_labels: np.ndarray  # out-of-fold predictions of the ensemble trained on this fold's rest
    inner_probs: np.ndarray
    held_out_labels: np.ndarray  # the outer fold, scored by that ensemble
    held_out_probs: np.ndarray


def outer_folds(labeled: Split, seed: int, config: NestedConfig, work_dir: Path) -> list[OuterFold]:
    """Train the baseline once per outer fold of `labeled` and score the fold it left out."""
    fold_of = stratified_folds(labeled.labels, config.outer_folds, seed + config.outer_seed_offset)
    folds = []
    for k in range(config.outer_folds):
        rest = labeled.subset(torch.nonzero(fold_of != k).flatten())
        held_out = labeled.subset(torch.nonzero(fold_of == k).flatten())
        data = Dataset(rest, None, None, "nested-cv", f"outer fold {k} of seed {seed}")
        ckpt_dir = train_supervised(
            data, replace(config.train, seed=seed), work_dir / f"seed{seed}-fold{k}"
        )
        checkpoint = load_checkpoint(ckpt_dir)
        inner_labels, inner_probs = read_scores(ckpt_dir / OUT_OF_FOLD_CSV)
        meta = checkpoint.meta
        held_out_probs = predict_probs(checkpoint.model, held_out.images, meta.mean, meta.std)
        folds.append(OuterFold(inner_labels, inner_probs, held_out.labels.numpy(), held_out_probs))
        log.info("seed %d: outer fold %d/%d done", seed, k + 1, config.outer_folds)
    return folds


def estimator_results(folds: list[OuterFold]) -> dict:
    """Per Youden estimator: held-out accuracy, cutoff spread, paired difference from empirical."""
    correct, results = {}, {}
    for estimator in YOUDEN_ESTIMATORS:
        cutoffs = [youden_threshold(f.inner_labels, f.inner_probs, estimator) for f in folds]
        decisions = [
            (f.held_out_probs >= c.probability) == f.held_out_labels
            for f, c in zip(folds, cutoffs, strict=True)
        ]
        correct[estimator] = np.concatenate(decisions).astype(float)
        # The empirical estimator can return 0 or just above 1 when one class is all
        # on one side; logit clips those so the spread stays finite.
        logits = logit([c.probability for c in cutoffs])
        p10, p90 = 1 / (1 + np.exp(-np.percentile(logits, [10, 90])))
        results[estimator] = {
            "held_out_accuracy": float(correct[estimator].mean()),
            "n_held_out": int(correct[estimator].size),
            "cutoff_logit_sd": float(logits.std()),
            "cutoff_p10_p90": [float(p10), float(p90)],
            "fallbacks": sum(c.estimator != estimator for c in cutoffs),
        }
    for estimator in YOUDEN_ESTIMATORS:
        diff = correct[estimator] - correct["empirical"]
        results[estimator]["accuracy_minus_empirical"] = float(diff.mean())
        results[estimator]["accuracy_minus_empirical_se"] = float(diff.std() / np.sqrt(diff.size))
    return results


def nested_cv(dataset: Dataset, config: NestedConfig, out_dir: Path) -> dict:
    """Run every seed, write OUT/results.json and OUT/results.md, return the results."""
    folds = []
    with output_dir(Path(out_dir)) as out_dir:
        with tempfile.TemporaryDirectory(prefix="nested-cv-") as work:
            for seed in config.seeds:
                folds += outer_folds(dataset.labeled, seed, config, Path(work))
        results = {
            "seeds": list(config.seeds),
            "outer_folds": config.outer_folds,
            "inner_folds": config.train.folds,
            "epochs": config.train.epochs,
            "data_fingerprint": dataset.fingerprint,
            "estimators": estimator_results(folds),
        }
        with atomic_path(out_dir / "results.json") as temp:
            temp.write_text(json.dumps(results, indent=2) + "\n")
        with atomic_path(out_dir / "results.md") as temp:
            temp.write_text(results_markdown(results))
    return results


def results_markdown(results: dict) -> str:
    seeds = ", ".join(map(str, results["seeds"]))
    lines = [
        f"Nested CV on the labeled images, seeds {seeds}: {results['outer_folds']} outer folds, "
        f"each a {results['inner_folds']}-fold ensemble ({results['epochs']} epochs per member).",
        "",
        "| Youden estimator | held-out accuracy | minus empirical (± SE) | cutoff logit SD "
        "| cutoff p10-p90 | fallbacks |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results["estimators"].items():
        low, high = r["cutoff_p10_p90"]
        lines.append(
            f"| {name} | {r['held_out_accuracy']:.4f} (n={r['n_held_out']}) | "
            f"{r['accuracy_minus_empirical']:+.4f} ± {r['accuracy_minus_empirical_se']:.4f} | "
            f"{r['cutoff_logit_sd']:.3f} | {low:.3f}-{high:.3f} | {r['fallbacks']} |"
        )
    return "\n".join(lines) + "\n"
