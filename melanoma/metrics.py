"""Binary screening metrics, thresholds chosen on validation, bootstrap CIs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr
from sklearn.metrics import roc_auc_score, roc_curve

METRIC_NAMES = (
    "auc",
    "accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "f1",
    "balanced_accuracy",
)


@dataclass(frozen=True)
class ThresholdChoice:
    name: str  # "youden" or "sensitivity_0.90"
    probability: float
    sensitivity: float  # on the data it was chosen on (validation)
    specificity: float
    estimator: str = "empirical"  # how the cutoff was estimated from those data


YOUDEN_ESTIMATORS = ("binormal", "empirical")


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores))


def confusion_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, sensitivity, ... when melanoma is predicted for probs >= threshold; NaN
    where a ratio is 0/0 (precision when nothing is flagged), never a made-up 0."""
    labels = np.asarray(labels).astype(bool)
    # in float64: a float32 array against a Python float compares in float32, which would
    # round the threshold and let ties fall otherwise than where it was chosen
    predicted = np.asarray(probs, dtype=np.float64) >= float(threshold)
    tp = float(np.sum(predicted & labels))
    tn = float(np.sum(~predicted & ~labels))
    fp = float(np.sum(predicted & ~labels))
    fn = float(np.sum(~predicted & labels))
    sensitivity = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    return {
        "accuracy": (tp + tn) / len(labels),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "precision": _ratio(tp, tp + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),  # the harmonic mean, defined when precision is not
        "balanced_accuracy": (sensitivity + specificity) / 2,
    }


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else math.nan


def all_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    return {"auc": auc(labels, probs), **confusion_metrics(labels, probs, threshold)}


def _candidates(probs: np.ndarray) -> np.ndarray:
    # Midpoints between sorted distinct scores: a threshold that sits between
    # two validation scores generalizes better than one equal to a score.
    unique = np.unique(probs)
    mids = (unique[:-1] + unique[1:]) / 2
    return np.concatenate([[0.0], mids, [1.0 + 1e-9]])


def _rates_at_candidates(labels: np.ndarray, probs: np.ndarray, candidates: np.ndarray):
    """(sensitivity, specificity) at every candidate threshold, as confusion_metrics gives
    them one at a time, by sorting once: a loop over candidates is quadratic in the
    number of validation scores (0.7 s for both rules at 10,000)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(probs, dtype=np.float64)  # as confusion_metrics compares, so ties
    candidates = np.asarray(candidates, dtype=np.float64)  # fall the same way
    positives = np.sort(scores[labels])
    negatives = np.sort(scores[~labels])
    tp = (len(positives) - np.searchsorted(positives, candidates, side="left")).astype(float)
    tn = np.searchsorted(negatives, candidates, side="left").astype(float)
    sensitivity = tp / len(positives) if len(positives) else np.zeros(len(candidates))
    specificity = tn / len(negatives) if len(negatives) else np.zeros(len(candidates))
    return sensitivity, specificity


def youden_threshold(
    labels: np.ndarray, probs: np.ndarray, estimator: str = "binormal"
) -> ThresholdChoice:
    """Threshold maximizing Youden's J = sensitivity + specificity - 1.

    "binormal" maximizes J under a normal model of each class's logits (the
    "normal method" of Fluss, Faraggi and Reiser 2005). The empirical maximum
    of J on a few hundred validation scores jumps with a handful of images: in
    nested 5-fold cross-validation on the 200 labeled images (8 seeds), its
    cutoff spread twice as wide (logit SD 0.47 against 0.24) for the same
    held-out accuracy (0.794 empirical, 0.797 binormal).
    "empirical" takes the middle one of the candidate thresholds that maximize J
    on the data; binormal falls back to it when a class has under 2 distinct scores.
    """
    if estimator not in YOUDEN_ESTIMATORS:
        raise ValueError(f"unknown Youden estimator {estimator!r}; choose from {YOUDEN_ESTIMATORS}")
    labels, probs = np.asarray(labels), np.asarray(probs)
    best = _binormal_youden(labels, probs) if estimator == "binormal" else None
    if best is None:
        estimator, best = "empirical", _empirical_youden(labels, probs)
    m = confusion_metrics(labels, probs, best)
    return ThresholdChoice("youden", best, m["sensitivity"], m["specificity"], estimator)


def _empirical_youden(labels: np.ndarray, probs: np.ndarray) -> float:
    # Small validation sets have several equally good thresholds; the middle one is less
    # fragile than the lowest. It must be one of them: they can lie in separate runs with
    # a worse J between, where their mean would fall. Of an even count, the lower middle
    # one, which misses fewer melanomas.
    candidates = _candidates(probs)
    sensitivity, specificity = _rates_at_candidates(labels, probs, candidates)
    scores = sensitivity + specificity - 1
    best = candidates[np.isclose(scores, scores.max())]  # ascending, as candidates are
    return float(best[(len(best) - 1) // 2])


def app_probability(logit: float) -> float:
    """P(melanoma) from the model's float32 logit as the app computes it (RiskBands.sigmoid:
    float64, this formula), so a score within a float32 step of the threshold is decided
    alike by `melanoma predict` and melanoma-bench: a float32 sigmoid differs from it by up
    to ~9e-8, and numpy's exp(-logaddexp(0, -x)) by a double for half of all logits; each
    flagged or missed a photo at the threshold that the app does not."""
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    e = math.exp(logit)  # no overflow for a large negative logit
    return e / (1.0 + e)


def app_probabilities(logits: ArrayLike) -> np.ndarray:
    """app_probability of every logit, float64, in the logits' shape: what `melanoma
    evaluate` and melanoma-bench decide on, so that they decide each image as the app does."""
    probs = [app_probability(float(x)) for x in np.ravel(logits)]
    return np.array(probs, dtype=np.float64).reshape(np.shape(logits))


def logit(probs: ArrayLike) -> np.ndarray:
    """log(p / (1 - p)), with p clipped to [1e-7, 1 - 1e-7] so that 0 and 1 stay finite."""
    clipped = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(clipped) - np.log1p(-clipped)


def _binormal_youden(labels: np.ndarray, probs: np.ndarray) -> float | None:
    # Probabilities pile up near 0 and 1; their logits are close to normal per class.
    logits = logit(probs)
    negatives, positives = logits[labels == 0], logits[labels == 1]
    if min(np.unique(negatives).size, np.unique(positives).size) < 2:
        return None
    grid = np.linspace(logits.min() - 1, logits.max() + 1, 4001)
    specificity = ndtr((grid - negatives.mean()) / negatives.std())
    sensitivity = 1 - ndtr((grid - positives.mean()) / positives.std())
    best = grid[np.argmax(sensitivity + specificity - 1)]
    return float(1 / (1 + np.exp(-best)))


def sensitivity_threshold(labels: np.ndarray, probs: np.ndarray, target: float) -> ThresholdChoice:
    """Highest threshold whose sensitivity reaches `target` (so specificity is highest)."""
    candidates = _candidates(probs)
    sensitivity, _ = _rates_at_candidates(labels, probs, candidates)
    best = float(candidates[sensitivity >= target].max())  # t = 0 always reaches sensitivity 1
    m = confusion_metrics(labels, probs, best)
    return ThresholdChoice(sensitivity_name(target), best, m["sensitivity"], m["specificity"])


SENSITIVITY_PREFIX = "sensitivity_"


def sensitivity_name(target: float) -> str:
    """sensitivity_0.90 for 0.9 (the name checkpoints store), sensitivity_0.925 for 0.925:
    two places when they are exact, else every digit, so two targets never share a name."""
    two_places = f"{target:.2f}"
    shown = two_places if float(two_places) == target else repr(float(target))
    return f"{SENSITIVITY_PREFIX}{shown}"


def sensitivity_target(name: str) -> float | None:
    """0.9 for sensitivity_0.90 or sensitivity_0.9; None for any other name."""
    if not name.startswith(SENSITIVITY_PREFIX):
        return None
    try:
        return float(name.removeprefix(SENSITIVITY_PREFIX))
    except ValueError:
        return None


def choose_thresholds(
    labels: np.ndarray,
    probs: np.ndarray,
    target_sensitivity: float = 0.9,
    youden_estimator: str = "binormal",
) -> list[ThresholdChoice]:
    """The thresholds stored with a model: Youden's J and the target-sensitivity one."""
    return [
        youden_threshold(labels, probs, youden_estimator),
        sensitivity_threshold(labels, probs, target_sensitivity),
    ]


def rank_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC with tied scores ranked by their average: the value roc_auc_score gives."""
    positive = np.asarray(labels).astype(bool)
    scores = np.asarray(scores)
    order = np.argsort(scores, kind="stable")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)  # 1-based average ranks
    n_pos = int(positive.sum())
    n_neg = len(scores) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_ci(
    labels: np.ndarray,
    probs: np.ndarray,
    threshold: float,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """95% percentile bootstrap intervals of every metric, resampling images with replacement."""
    labels, probs = np.asarray(labels), np.asarray(probs)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    for _ in range(n_resamples):
        index = rng.integers(0, len(labels), len(labels))
        if labels[index].min() == labels[index].max():
            continue  # AUC is undefined without both classes
        # rank_auc equals roc_auc_score (to 1e-16) at ~1/50 of its cost, which
        # matters when a benchmark bootstraps every exported artifact.
        sample = {
            "auc": rank_auc(labels[index], probs[index]),
            **confusion_metrics(labels[index], probs[index], threshold),
        }
        for name, value in sample.items():
            samples[name].append(value)
    return {name: _percentile_interval(values) for name, values in samples.items()}


def _percentile_interval(values: list[float]) -> list[float]:
    """2.5th and 97.5th percentiles of the resamples where the metric is defined (a
    resample that flags nothing has no precision; counting it as 0 dragged the interval
    down); NaN if it is defined in none."""
    defined = [v for v in values if not math.isnan(v)]
    if not defined:
        return [math.nan, math.nan]
    return [float(np.percentile(defined, 2.5)), float(np.percentile(defined, 97.5))]


def roc_points(labels: np.ndarray, probs: np.ndarray) -> dict[str, list[float]]:
    """ROC points with the threshold that gives each under the `P >= threshold` rule. The
    (0, 0) point's is sklearn's inf, which JSON cannot hold: 1.0, or the next double above
    it when a score is exactly 1.0 (the app's sigmoid of a logit past ~36.7, a float32
    sigmoid's past ~16.6), which 1.0 would flag."""
    fpr, tpr, thresholds = roc_curve(labels, probs)
    thresholds = thresholds.astype(np.float64)
    thresholds[0] = 1.0 if np.max(probs) < 1.0 else np.nextafter(1.0, 2.0)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thresholds.tolist()}


def calibration(labels: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> dict:
    """How far P(melanoma) is from the melanoma rate actually seen: the Brier score, the
    expected calibration error (ECE) over equal-width probability bins, and the bins
    themselves (a reliability diagram).

    AUC and thresholds ignore calibration; an app that shows the probability does not.
    These are at the split's own prevalence (50/50 here, like training): at another
    prevalence every probability shifts, however well calibrated it is here.
    """
    labels = np.asarray(labels, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    # k / n_bins is the double nearest each edge; linspace's 0.30000000000000004 put a score
    # of exactly 0.3 (also 0.6, 0.7) in the bin below, and printed so in --json
    edges = np.arange(n_bins + 1) / n_bins
    which = np.clip(np.searchsorted(edges, probs, side="right") - 1, 0, n_bins - 1)
    bins, gap = [], 0.0
    for b in range(n_bins):
        inside = which == b
        if not inside.any():
            continue
        mean_prob, rate = float(probs[inside].mean()), float(labels[inside].mean())
        gap += inside.sum() * abs(mean_prob - rate)
        bins.append(
            {"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(inside.sum()),
             "mean_probability": mean_prob, "melanoma_rate": rate}
        )  # fmt: skip
    return {
        "brier": float(np.mean((probs - labels) ** 2)),
        "ece": float(gap / len(labels)),
        "bins": bins,
    }


# The unlabeled pool's melanoma share (inferred from HAM10000's counts): closer to the moles
# a screening app sees than the 50/50 test split, which makes precision look high.
SCREENING_PREVALENCE = 0.1


def predictive_values(sensitivity: float, specificity: float, prevalence: float) -> dict:
    """Precision (PPV) and NPV at another prevalence, by Bayes' rule from sensitivity and
    specificity (which do not depend on prevalence): the 50/50 split's precision would
    overstate how many flagged moles are melanoma."""
    flagged = sensitivity * prevalence + (1 - specificity) * (1 - prevalence)
    cleared = (1 - sensitivity) * prevalence + specificity * (1 - prevalence)
    return {
        "prevalence": prevalence,
        "ppv": sensitivity * prevalence / flagged if flagged > 0 else float("nan"),
        "npv": specificity * (1 - prevalence) / cleared if cleared > 0 else float("nan"),
    }


def evaluation_report(
    labels: np.ndarray, probs: np.ndarray, threshold: float, seed: int = 0, n_resamples: int = 1000
) -> dict:
    """Every metric at `threshold`, their 95% CIs, the ROC points, the calibration and
    the predictive values at SCREENING_PREVALENCE.

    `bootstrap` records how the CIs were drawn: without it, a saved report and a rerun
    with other resamples or another seed differ in their CIs with nothing to say why."""
    report = all_metrics(labels, probs, threshold)
    report.update(
        threshold=float(threshold),
        n=int(len(labels)),
        ci=bootstrap_ci(labels, probs, threshold, n_resamples=n_resamples, seed=seed),
        bootstrap={"n_resamples": n_resamples, "seed": seed},
        roc=roc_points(labels, probs),
        calibration=calibration(labels, probs),
        at_screening_prevalence=predictive_values(
            report["sensitivity"], report["specificity"], SCREENING_PREVALENCE
        ),
    )
    return report
