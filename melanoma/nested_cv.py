"""Nested cross-validation of the supervised baseline on the labeled images only.

The test split may choose nothing, yet the Youden threshold needs an
estimator and the baseline an epoch rule, and the out-of-fold predictions that
choose them cannot also judge them. So: outer stratified folds of the labeled
images (seeded apart from the inner ones); for each, the whole baseline (the
5-fold ensemble with its out-of-fold predictions, `train_folds`) trains on the
other outer folds, and each choice is made from those out-of-fold predictions
and then judged on the held-out outer fold:

- every Youden estimator, at the last epoch (the default until 2026-12-03);
- every epoch rule ("last", "val-auc"), with the default estimator. Both come
  from the same training: it keeps every epoch's weights.

    melanoma --threads 2 nested-cv --data ../shared/data --out runs/nested

runs seeds 0-7 (about 2 minutes each on 2 CPU cores) and writes results.json
and results.md: per estimator, held-out accuracy, the spread of its cutoffs
and the paired difference from the empirical estimator; per epoch rule, the
epochs kept, out-of-fold and held-out AUC, held-out accuracy and the paired
difference from "last".
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from melanoma import config_checks as checks
from melanoma import strict_json
from melanoma.atomic import atomic_paths, write_utf8
from melanoma.datasets import Dataset, Split
from melanoma.inference import predict_probs
from melanoma.metrics import YOUDEN_ESTIMATORS, auc, logit, youden_threshold
from melanoma.resume import run_dir_owned
from melanoma.splits import stratified_folds
from melanoma.train import SELECT_EPOCH, TrainConfig, train_folds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NestedConfig:
    seeds: tuple[int, ...] = tuple(range(8))  # each: its own outer and inner folds
    outer_folds: int = 5
    outer_seed_offset: int = 1000  # outer folds are seeded apart from the inner ones
    # val-auc keeps every epoch, so that both epoch rules are judged on the same training.
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(progress=False, select_epoch="val-auc")
    )
    progress: bool = True  # one bar over every outer fold of every seed (not each training's)

    def __post_init__(self) -> None:
        checks.at_least(self, 2, "outer_folds")
        checks.at_least(self, 0, "outer_seed_offset")
        checks.distinct_counts(self, "seeds", 0)


@dataclass(frozen=True)
class OuterFold:
    seed: int
    epoch: int  # the epoch every member of the ensemble kept
    inner_labels: np.ndarray  # out-of-fold predictions of the ensemble trained on this fold's rest
    inner_probs: np.ndarray
    held_out_labels: np.ndarray  # the outer fold, scored by that ensemble
    held_out_probs: np.ndarray
    held_out_index: np.ndarray  # which labeled images those are: every seed scores them all


def outer_folds(
    labeled: Split,
    seed: int,
    config: NestedConfig,
    work_dir: Path,
    done: Callable[[], None] = lambda: None,
) -> dict[str, list[OuterFold]]:
    """Train the baseline once per outer fold of `labeled`; score the fold it left out with
    the ensemble each epoch rule keeps. Returns {rule: one OuterFold per outer fold};
    calls done() after each."""
    fold_of = stratified_folds(labeled.labels, config.outer_folds, seed + config.outer_seed_offset)
    train_config = replace(config.train, seed=seed)
    folds = {rule: [] for rule in SELECT_EPOCH}
    for k in range(config.outer_folds):
        rest = labeled.subset(torch.nonzero(fold_of != k).flatten())
        held_out_index = torch.nonzero(fold_of == k).flatten()
        held_out = labeled.subset(held_out_index)
        data = Dataset(rest, None, None, "nested-cv", f"outer fold {k} of seed {seed}")
        run = train_folds(data, train_config, work_dir / f"seed{seed}-fold{k}", resume=False)
        for rule in SELECT_EPOCH:
            epoch, _ = run.kept_epoch(rule, rest.labels.numpy())
            ensemble = run.ensemble(epoch, train_config)
            held_out_probs = predict_probs(ensemble, held_out.images, run.mean, run.std)
            folds[rule].append(
                OuterFold(seed, epoch, rest.labels.numpy(), run.out_of_fold_probs(epoch),
                          held_out.labels.numpy(), held_out_probs, held_out_index.numpy())
            )  # fmt: skip
        log.info("seed %d: outer fold %d/%d done", seed, k + 1, config.outer_folds)
        done()
    return folds


def estimator_results(folds: list[OuterFold]) -> dict:
    """Per Youden estimator: held-out accuracy, cutoff spread, paired difference from empirical."""
    correct, results = {}, {}
    for estimator in YOUDEN_ESTIMATORS:
        cutoffs = [youden_threshold(f.inner_labels, f.inner_probs, estimator) for f in folds]
        correct[estimator] = _held_out_correct(folds, cutoffs)
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
    _add_paired_differences(results, correct, "empirical", _image_index(folds))
    return results


def _held_out_correct(folds: list[OuterFold], cutoffs) -> np.ndarray:
    """1.0 for each held-out image decided right at its fold's cutoff, fold after fold."""
    decisions = [
        (f.held_out_probs >= c.probability) == f.held_out_labels
        for f, c in zip(folds, cutoffs, strict=True)
    ]
    return np.concatenate(decisions).astype(float)


def _image_index(folds: list[OuterFold]) -> np.ndarray:
    """The labeled image behind each entry of _held_out_correct, in its order."""
    return np.concatenate([f.held_out_index for f in folds])


def _add_paired_differences(results: dict, correct: dict, base: str, image: np.ndarray) -> None:
    """Each entry's held-out accuracy minus `base`'s, image by image, with its standard error.

    Every seed judges the same images, so the decisions of one image are not independent:
    each image's difference is averaged over seeds first and the standard error taken over
    images (treating seeds x images as independent understated it by up to sqrt(seeds)).
    """
    counts = np.bincount(image)  # how many seeds judged each image
    for name, right in correct.items():
        diff = right - correct[base]
        seen = counts > 0
        per_image = np.bincount(image, weights=diff)[seen] / counts[seen]
        se = per_image.std(ddof=1) / np.sqrt(per_image.size) if per_image.size > 1 else 0.0
        results[name][f"accuracy_minus_{base}"] = float(diff.mean())
        results[name][f"accuracy_minus_{base}_se"] = float(se)


def epoch_rule_results(folds: dict[str, list[OuterFold]], estimator: str) -> dict:
    """Per epoch rule: epochs kept, out-of-fold vs held-out AUC (mean over seeds, each pooling
    its outer folds), held-out accuracy at `estimator`'s Youden cutoff, and the paired
    per-image difference from the last epoch."""
    correct, results = {}, {}
    for rule, rule_folds in folds.items():
        cutoffs = [youden_threshold(f.inner_labels, f.inner_probs, estimator) for f in rule_folds]
        correct[rule] = _held_out_correct(rule_folds, cutoffs)
        epochs = [f.epoch for f in rule_folds]
        results[rule] = {
            "epochs_kept_median": float(np.median(epochs)),
            "epochs_kept_range": [min(epochs), max(epochs)],
            "out_of_fold_auc": float(
                np.mean([auc(f.inner_labels, f.inner_probs) for f in rule_folds])
            ),
            "held_out_auc": _pooled_auc_by_seed(rule_folds),
            "held_out_accuracy": float(correct[rule].mean()),
            "n_held_out": int(correct[rule].size),
        }
    _add_paired_differences(results, correct, "last", _image_index(folds["last"]))
    return results


def _pooled_auc_by_seed(folds: list[OuterFold]) -> float:
    """Mean over seeds of the AUC of that seed's held-out predictions, all outer folds pooled."""
    aucs = []
    for seed in sorted({f.seed for f in folds}):
        mine = [f for f in folds if f.seed == seed]
        labels = np.concatenate([f.held_out_labels for f in mine])
        aucs.append(auc(labels, np.concatenate([f.held_out_probs for f in mine])))
    return float(np.mean(aucs))


def nested_cv(dataset: Dataset, config: NestedConfig, out_dir: Path) -> dict:
    """Run every seed, write OUT/results.json and OUT/results.md, return the results."""
    folds = {rule: [] for rule in SELECT_EPOCH}
    total = len(config.seeds) * config.outer_folds  # trainings of the whole baseline
    # Held to the end, as compare's --out: its results waited out a train or a compare
    # holding OUT, then landed beside the checkpoint, or over the compare's results.json.
    with run_dir_owned(Path(out_dir)) as out_dir:
        with (
            tempfile.TemporaryDirectory(prefix="nested-cv-") as work,
            tqdm(total=total, desc="outer folds", disable=not config.progress) as bar,
        ):
            for seed in config.seeds:
                for rule, rule_folds in outer_folds(
                    dataset.labeled, seed, config, Path(work), lambda: bar.update(1)
                ).items():
                    folds[rule] += rule_folds
        results = {
            "seeds": list(config.seeds),
            "outer_folds": config.outer_folds,
            "inner_folds": config.train.folds,
            "epochs": config.train.epochs,
            "data_fingerprint": dataset.fingerprint,
            "estimators": estimator_results(folds["last"]),
            "epoch_rule_estimator": config.train.youden_estimator,
            "epoch_rules": epoch_rule_results(folds, config.train.youden_estimator),
        }
        _write_results(out_dir, results)
    return results


def _write_results(out_dir: Path, results: dict) -> None:
    """results.json and results.md as one pair, renamed in together: a Ctrl-C between
    them must not leave this run's results.json beside an earlier run's results.md."""
    finals = (out_dir / "results.json", out_dir / "results.md")
    with atomic_paths(*finals) as (json_temp, md_temp):
        write_utf8(json_temp, strict_json.dumps(results, indent=2) + "\n")
        write_utf8(md_temp, results_markdown(results))


def results_markdown(results: dict) -> str:
    seeds = ", ".join(map(str, results["seeds"]))
    lines = [
        f"Nested CV on the labeled images, seeds {seeds}: {results['outer_folds']} outer folds, "
        f"each a {results['inner_folds']}-fold ensemble ({results['epochs']} epochs per member).",
        "",
        "| Youden estimator | held-out accuracy | minus empirical (± SE over images) "
        "| cutoff logit SD | cutoff p10-p90 | fallbacks |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results["estimators"].items():
        low, high = r["cutoff_p10_p90"]
        lines.append(
            f"| {name} | {r['held_out_accuracy']:.4f} (n={r['n_held_out']}) | "
            f"{r['accuracy_minus_empirical']:+.4f} ± {r['accuracy_minus_empirical_se']:.4f} | "
            f"{r['cutoff_logit_sd']:.3f} | {low:.3f}-{high:.3f} | {r['fallbacks']} |"
        )
    return "\n".join(lines + ["", *epoch_rules_markdown(results)]) + "\n"


def epoch_rules_markdown(results: dict) -> list[str]:
    lines = [
        f"Epoch kept by every member (of {results['epochs']}), from the same training; AUCs "
        f"are means over seeds; accuracy at the {results['epoch_rule_estimator']} Youden cutoff.",
        "",
        "| epoch rule | epoch median (range) | out-of-fold AUC | held-out AUC "
        "| held-out accuracy | minus last (± SE over images) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results["epoch_rules"].items():
        low, high = r["epochs_kept_range"]
        lines.append(
            f"| {name} | {r['epochs_kept_median']:g} ({low}-{high}) | {r['out_of_fold_auc']:.4f} | "
            f"{r['held_out_auc']:.4f} | {r['held_out_accuracy']:.4f} (n={r['n_held_out']}) | "
            f"{r['accuracy_minus_last']:+.4f} ± {r['accuracy_minus_last_se']:.4f} |"
        )
    return lines
