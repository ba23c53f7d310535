"""Predictions, agreement and the sanity checks that mark an artifact ❎."""

import math

import numpy as np
import pytest

from melanoma.benchmarks.accuracy import (
    SanityBounds,
    Scores,
    accuracy_figures,
    agreement_figures,
    predict_logits,
    sanity_failures,
)
from melanoma.checkpoint import load_checkpoint
from melanoma.export.base import RuntimeFailure
from melanoma.inference import predict_logits as infer_logits
from melanoma.metrics import app_probabilities, bootstrap_ci, confusion_metrics


def test_predict_logits_calls_one_image_at_a_time_as_the_app_does():
    seen = []

    def runner(batch):
        seen.append(len(batch))
        return batch.reshape(len(batch), -1)[:, :1] * 2

    inputs = np.arange(5 * 3 * 32 * 32, dtype=np.float32).reshape(5, 3, 32, 32)
    logits = predict_logits(runner, inputs)
    assert seen == [1] * 5
    np.testing.assert_array_equal(logits, inputs[:, 0, 0, 0] * 2)


@pytest.mark.parametrize(
    "output, message",
    [(np.zeros((1,), np.float32), "output shape"), (np.full((1, 1), np.nan), "non-finite")],
)
def test_predict_logits_rejects_bad_outputs(output, message):
    with pytest.raises(RuntimeFailure, match=message):
        predict_logits(lambda batch: output, np.zeros((4, 3, 32, 32), np.float32))


def test_predict_logits_rejects_one_non_finite_logit_among_finite_ones():
    outputs = iter([0.0, np.inf, 1.0, 2.0])
    with pytest.raises(RuntimeFailure, match="^1 non-finite logit"):
        predict_logits(
            lambda batch: np.full((1, 1), next(outputs)), np.zeros((4, 3, 32, 32), np.float32)
        )


def test_agreement_figures():
    reference = Scores(np.array([0.1, 0.4, 0.6, 0.9]), 0.5)
    artifact = Scores(np.array([0.1, 0.5, 0.6, 0.75]), 0.5)  # 0.5: melanoma, at the threshold
    figures = agreement_figures(
        reference, artifact, {"auc": 0.9, "accuracy": 0.75}, {"auc": 0.85, "accuracy": 0.5}
    )
    assert figures["agreement"] == 0.75 and figures["n_disagree"] == 1
    assert figures["max_abs_dprob"] == pytest.approx(0.15)
    assert figures["mean_abs_dprob"] == pytest.approx(0.25 / 4)
    assert figures["delta_auc"] == pytest.approx(-0.05)
    assert figures["delta_accuracy"] == pytest.approx(-0.25)


def test_accuracy_figures_give_the_brier_score_and_calibration_error_by_hand():
    """The app shows the artifact's score: its calibration is measured per row, as
    `melanoma evaluate` measures the float model's."""
    labels = np.array([0, 0, 1, 1])
    scores = Scores(np.array([0.05, 0.15, 0.12, 1.0]), 0.5)
    figures = accuracy_figures(labels, scores, n_bootstrap=10, seed=0)
    assert figures["brier"] == pytest.approx((0.05**2 + 0.15**2 + 0.88**2 + 0) / 4)
    # bins [0, 0.1): 0.05 vs 0; [0.1, 0.2): mean 0.135 vs 0.5, two images; [0.9, 1]: 1.0 vs 1
    assert figures["ece"] == pytest.approx((0.05 + 2 * 0.365 + 0.0) / 4)


def test_each_side_decides_at_its_own_threshold_a_tie_being_melanoma():
    """The artifact at its manifest's threshold, the float model at the checkpoint's."""
    probs = np.array([0.3, 0.5, 0.7])
    same = {"auc": 0.9, "accuracy": 0.5}
    figures = agreement_figures(Scores(probs, 0.5), Scores(probs, 0.6), same, same)
    assert figures["n_disagree"] == 1  # 0.5: melanoma at 0.5, not at 0.6


def test_sigmoid_is_stable_in_float64():
    probs = app_probabilities(np.array([-1000.0, 0.0, 1000.0], np.float32))
    assert probs.dtype == np.float64
    np.testing.assert_allclose(probs, [0.0, 0.5, 1.0])


def test_sanity_failures_name_the_figure():
    bounds = SanityBounds()
    fine = {"max_abs_dprob": 1e-6, "agreement": 0.99, "delta_auc": -0.001}
    assert sanity_failures("fp32", fine, bounds) == []
    assert sanity_failures("int8", dict(fine, max_abs_dprob=0.02), bounds) == []
    # An fp32 file whose manifest was relabelled int8: no quantization error at all.
    assert sanity_failures("int8", fine, bounds) == [
        "labelled int8 but max|Δp| 1e-06 from the float model < 1e-05: not quantized"
    ]
    # on the bounds: 540 of 600 decisions (0.9) and an AUC drop of 0.05 still pass
    at_bounds = dict(fine, max_abs_dprob=0.02, agreement=540 / 600, delta_auc=-0.05)
    assert sanity_failures("int8", at_bounds, bounds) == []
    assert sanity_failures("fp32", dict(fine, max_abs_dprob=5e-4), bounds) == []  # < 1e-3
    broken_fp32 = dict(fine, max_abs_dprob=0.2)
    assert sanity_failures("fp32", broken_fp32, bounds) == ["fp32 max|Δp| 0.2 > 0.001"]
    collapsed = {"max_abs_dprob": 0.5, "agreement": 0.5, "delta_auc": -0.3}
    failures = sanity_failures("int8", collapsed, bounds)
    assert len(failures) == 2 and "agreement" in failures[0] and "ΔAUC" in failures[1]


def test_an_int8_auc_drop_of_exactly_the_bound_passes_and_a_rise_never_fails():
    """AUCs of 0.85 and 0.9 (76,500 and 81,000 of 90,000 pairs on 300 + 300 images) differ by
    -0.050000000000000044 in floating point: that drop is the bound, not past it."""
    bounds, int8 = SanityBounds(), {"max_abs_dprob": 0.02, "agreement": 0.95}
    assert sanity_failures("int8", dict(int8, delta_auc=0.85 - 0.9), bounds) == []
    assert sanity_failures("int8", dict(int8, delta_auc=0.3), bounds) == []  # int8 ranks better
    one_pair_more = dict(int8, delta_auc=0.85 - 0.9 - 1 / 90000)
    assert [f[:4] for f in sanity_failures("int8", one_pair_more, bounds)] == ["ΔAUC"]


def test_accuracy_figures_and_their_intervals_are_at_the_artifacts_threshold():
    """0.35 flags the melanoma at 0.4 and not the one at 0.3, unlike 0.5: CIs bootstrapped at
    another threshold than the figures' would bracket other decisions."""
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    probs = np.array([0.9, 0.8, 0.4, 0.3, 0.6, 0.2, 0.1, 0.05])
    figures = accuracy_figures(labels, Scores(probs, 0.35), n_bootstrap=200, seed=4)
    assert figures["sensitivity"] == confusion_metrics(labels, probs, 0.35)["sensitivity"] == 0.75
    assert figures["ci"] == bootstrap_ci(labels, probs, 0.35, n_resamples=200, seed=4)


def test_a_score_at_the_threshold_is_flagged_as_the_app_flags_it(dataset):
    """The app flags at RiskBands.sigmoid(logit) >= threshold, that sigmoid taken in float64
    as below. The bench's exp(-logaddexp(0, -x)) came out a double away from it for 306 of
    the 600 test logits of reference-supervised: an image scored exactly at the threshold
    by the app went unflagged in the bench's counts."""
    checkpoint = load_checkpoint("reference-supervised")
    images = dataset.test.images[:40]
    logits = infer_logits(checkpoint.model, images, checkpoint.meta.mean, checkpoint.meta.std)
    in_app = [  # RiskBands.sigmoid
        1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        for x in logits.tolist()
    ]
    probs = app_probabilities(logits.numpy())
    assert [p >= at for p, at in zip(probs.tolist(), in_app, strict=True)] == [True] * 40
    assert probs.tolist() == in_app
