"""Accuracy of one artifact on the test images, its agreement with the float model, its checks.

These figures do not depend on the thread count, so the harness computes them
once per artifact and copies them into each thread row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from melanoma.benchmarks.gate import ROUNDING
from melanoma.export.base import RuntimeFailure
from melanoma.metrics import (
    all_metrics,
    bootstrap_ci,
    calibration,
    roc_points,
)


@dataclass(frozen=True)
class SanityBounds:
    """What "failed a check" (❎) means, beyond the manifest and sha256 checks.

    These are loose on purpose: they catch a broken artifact (wrong
    normalization, swapped output, a collapsed quantization), not drift, which
    the gate flags (--max-auc-drop, --max-accuracy-drop, --min-agreement, --max-abs-dprob).
    """

    fp32_max_abs_dprob: float = 1e-3  # an fp32 artifact is the same math as eager fp32
    int8_min_agreement: float = 0.90  # decisions still mostly the float model's
    int8_max_auc_drop: float = 0.05  # AUC at most 0.05 below the float model's (a rise passes)
    # Real int8 moves some probability by at least one output quantization step (~1e-2);
    # an "int8" artifact that matches the float model this closely is a float file.
    int8_min_max_abs_dprob: float = 1e-5


@dataclass(frozen=True)
class Scores:
    probs: np.ndarray  # (N,) float64 P(melanoma)
    threshold: float  # decide melanoma when probs >= threshold


def predict_logits(runner: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray) -> np.ndarray:
    """(N, 3, 32, 32) float32 -> (N,) logits, one image per call: the app's batch of 1, so
    the figures are those of the path a phone runs (a batched call can take another plan,
    and a broken batch-1 plan must not hide behind a working batch)."""
    outputs = []
    for index in range(len(inputs)):
        out = np.asarray(runner(np.ascontiguousarray(inputs[index : index + 1])))
        if out.shape != (1, 1):
            raise RuntimeFailure(f"output shape {out.shape}, expected (1, 1)")
        outputs.append(out[0, 0])
    logits = np.asarray(outputs)
    if not np.all(np.isfinite(logits)):
        raise RuntimeFailure(f"{int(np.sum(~np.isfinite(logits)))} non-finite logit(s)")
    return logits


def accuracy_figures(labels: np.ndarray, scores: Scores, n_bootstrap: int, seed: int) -> dict:
    """The metrics of `melanoma evaluate` at the threshold, with 95% bootstrap CIs, and its
    Brier score and calibration error: the app shows the int8 file's score, whose
    calibration quantization may move where AUC and decisions do not show it."""
    figures = all_metrics(labels, scores.probs, scores.threshold)
    figures["ci"] = bootstrap_ci(labels, scores.probs, scores.threshold, n_bootstrap, seed)
    fit = calibration(labels, scores.probs)
    figures.update(brier=fit["brier"], ece=fit["ece"])
    return figures


AGREEMENT_FIGURES = (
    "agreement",
    "n_disagree",
    "max_abs_dprob",
    "mean_abs_dprob",
    "delta_auc",
    "delta_accuracy",
)


def agreement_figures(
    reference: Scores, scores: Scores, reference_figures: dict, figures: dict
) -> dict:
    """Same-decision fraction, |Δ probability|, ΔAUC and Δaccuracy (artifact minus float
    model); the figures are each one's accuracy_figures."""
    same = (scores.probs >= scores.threshold) == (reference.probs >= reference.threshold)
    dprob = np.abs(scores.probs - reference.probs)
    return {
        "agreement": float(same.mean()),
        "n_disagree": int((~same).sum()),
        "max_abs_dprob": float(dprob.max()),
        "mean_abs_dprob": float(dprob.mean()),
        "delta_auc": float(figures["auc"] - reference_figures["auc"]),
        "delta_accuracy": float(figures["accuracy"] - reference_figures["accuracy"]),
    }


def roc_curve_points(labels: np.ndarray, probs: np.ndarray) -> dict[str, list[float]]:
    points = roc_points(labels, probs)
    return {key: [round(v, 6) for v in points[key]] for key in ("fpr", "tpr")}


def sanity_failures(precision: str, figures: dict, bounds: SanityBounds) -> list[str]:
    """Checks an artifact fails against the float model, each as 'figure value vs bound'."""
    failures = []
    if precision == "fp32" and figures["max_abs_dprob"] > bounds.fp32_max_abs_dprob:
        failures.append(
            f"fp32 max|Δp| {figures['max_abs_dprob']:.2g} > {bounds.fp32_max_abs_dprob:g}"
        )
    if precision != "fp32" and figures["agreement"] < bounds.int8_min_agreement:
        failures.append(f"agreement {figures['agreement']:.3f} < {bounds.int8_min_agreement:g}")
    # A difference of two AUCs: a drop of exactly the bound (0.85 - 0.9) is 0.050000000000000044
    if precision != "fp32" and -figures["delta_auc"] > bounds.int8_max_auc_drop + ROUNDING:
        failures.append(f"ΔAUC {figures['delta_auc']:+.4f} < -{bounds.int8_max_auc_drop:g}")
    if precision != "fp32" and figures["max_abs_dprob"] < bounds.int8_min_max_abs_dprob:
        failures.append(
            f"labelled {precision} but max|Δp| {figures['max_abs_dprob']:.2g} from the float "
            f"model < {bounds.int8_min_max_abs_dprob:g}: not quantized"
        )
    return failures
