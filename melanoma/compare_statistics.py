"""Statistics over compare's seeds on the test split: mean and spread per method, bootstrap
CIs of the seed-mean AUC and of the paired differences, the seeds' ensemble AUC, and the
AUC without the test images that have a near-copy in the unlabeled pool.

The AUC statistics take the test labels and `probs[method, seed]` (Probs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from melanoma.datasets import Dataset
from melanoma.metrics import logit, rank_auc
from melanoma.near_duplicates import NEAR_DUPLICATE_RMS, near_duplicates

# probs[method, seed]: that model's test probabilities, shape (N,)
Probs = dict[tuple[str, int], np.ndarray]
SUMMARY_METRICS = ("auc", "accuracy", "sensitivity", "specificity", "balanced_accuracy")


def seed_summary(runs: list[dict], methods: Sequence[str]) -> dict:
    """Each method's mean, sample std and values over its seeds, per SUMMARY_METRICS."""
    summary = {}
    for method in methods:
        tests = [r["test"] for r in runs if r["method"] == method]
        summary[method] = {
            name: {
                "mean": float(np.mean([t[name] for t in tests])),
                # one seed has no spread: null, not a 0 that reads as perfect repeatability
                "std": float(np.std([t[name] for t in tests], ddof=1)) if len(tests) > 1 else None,
                "values": [t[name] for t in tests],
            }
            for name in SUMMARY_METRICS
        }
    return summary


def seed_mean_bootstrap(
    labels: np.ndarray,
    probs: Probs,
    methods: Sequence[str],
    seeds: Sequence[int],
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """95% CIs of each method's seed-mean test AUC and of the paired difference to the first.

    Test images are resampled once per round and shared by every model, so the
    difference CI accounts for both methods seeing the same images. That CI holds
    the trained seeds fixed; the "_seeds_too" one also resamples each method's seeds
    (with replacement, from their own generator so the first CI stays as it was),
    since seed-to-seed spread is about as large as the test sampling error here. It is
    left out for one seed, whose resamples are itself. With 3-5 seeds it is still too
    narrow: a bootstrap over so few seeds takes their spread for the whole population's.
    """
    rng, seed_rng = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    means: dict[str, list[float]] = {m: [] for m in methods}
    means_seeds_too: dict[str, list[float]] = {m: [] for m in methods}
    for _ in range(n_resamples):
        index = rng.integers(0, len(labels), len(labels))
        if labels[index].min() == labels[index].max():
            continue
        for m in methods:
            aucs = np.array([rank_auc(labels[index], probs[m, s][index]) for s in seeds])
            means[m].append(float(aucs.mean()))
            means_seeds_too[m].append(
                float(aucs[seed_rng.integers(0, len(aucs), len(aucs))].mean())
            )
    out = {f"{m}_mean_auc_ci": percentiles(means[m]) for m in methods}
    first = methods[0]
    for m in methods[1:]:
        diff = np.asarray(means[m]) - np.asarray(means[first])
        out[f"{m}_minus_{first}_auc_ci"] = percentiles(diff)
        if len(seeds) > 1:
            diff = np.asarray(means_seeds_too[m]) - np.asarray(means_seeds_too[first])
            out[f"{m}_minus_{first}_auc_ci_seeds_too"] = percentiles(diff)
    return out


def seed_ensemble_aucs(
    labels: np.ndarray, probs: Probs, methods: Sequence[str], seeds: Sequence[int]
) -> dict[str, float] | None:
    """Test AUC of each method's seeds averaged (mean logit), None with one seed.

    Shows whether a gap between methods is seed noise that ensembling would
    remove, or survives it; an N-seed ensemble costs N times the training and
    the inference, so it is reported beside the seed mean, not instead of it.
    """
    if len(seeds) < 2:
        return None
    return {
        m: rank_auc(labels, np.mean([logit(probs[m, s]) for s in seeds], axis=0)) for m in methods
    }


def without_near_duplicates(
    dataset: Dataset, probs: Probs, methods: Sequence[str], seeds: Sequence[int]
) -> dict | None:
    """Each method's seed-mean test AUC without the test images that have a near-copy in
    the unlabeled pool (melanoma/near_duplicates.py), beside its AUC on all of them.

    None without an unlabeled pool, or when too few images are left to score.
    """
    if dataset.unlabeled is None:
        return None
    labels = dataset.test.labels.numpy()
    copied = near_duplicates(dataset.test.images, dataset.unlabeled.images)
    kept = labels[~copied]
    if not copied.any() or len(np.unique(kept)) < 2:  # kept may be empty: no min() of it
        return None
    return {
        "max_rms": NEAR_DUPLICATE_RMS,
        "dihedral": True,  # near_duplicates' default: matched in any of the 8 flips and turns
        "n": int(copied.sum()),
        "n_melanoma": int(labels[copied].sum()),
        "auc_all": {m: seed_mean_auc(labels, probs, m, seeds) for m in methods},
        "auc_without": {m: seed_mean_auc(kept, probs, m, seeds, ~copied) for m in methods},
    }


def seed_mean_auc(
    labels: np.ndarray,
    probs: Probs,
    method: str,
    seeds: Sequence[int],
    keep: slice | np.ndarray = slice(None),
) -> float:
    """The mean over seeds of the method's test AUC on the images `keep` selects."""
    return float(np.mean([rank_auc(labels, probs[method, s][keep]) for s in seeds]))


def percentiles(values: Iterable[float]) -> list[float]:
    """The 2.5th and 97.5th percentiles: a 95% interval."""
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
