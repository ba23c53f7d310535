"""verify.compare, the rule every export check ends in, on a runner whose outputs we choose."""

import numpy as np
import pytest

from melanoma.export import verify

THRESHOLD = 0.5  # logit cut 0
REFERENCE = np.array([[-2.0], [-0.01], [0.02], [3.0]])  # two images near the cut


class ShiftedRunner:
    """Returns the reference logits shifted by `batch_shift` (`single_shift` for one image)."""

    runtime = "fake runtime 1.0"

    def __init__(self, batch_shift: float, single_shift: float | None = None, rows=None):
        self.batch_shift, self.rows = batch_shift, rows
        self.single_shift = batch_shift if single_shift is None else single_shift

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch) if self.rows is None else self.rows
        shift = self.single_shift if len(batch) == 1 else self.batch_shift
        return (REFERENCE[:n] + shift).astype(np.float32)


def check(runner, tolerance=0.05, float_logits=REFERENCE):
    inputs = np.zeros((len(REFERENCE), 3, 32, 32), np.float32)
    return verify.compare(
        runner, inputs, REFERENCE, tolerance, THRESHOLD, "the reference", "4 images", float_logits
    )


def test_within_tolerance_passes_even_when_a_decision_near_the_threshold_flips():
    result = check(ShiftedRunner(0.03))  # -0.01 becomes +0.02: within tolerance of the cut
    assert result.passed and result.max_abs_diff == pytest.approx(0.03, abs=1e-6)
    assert result.decision_agreement == 0.75 and result.float_decision_agreement == 0.75
    assert (result.runtime, result.reference, result.n_images) == (
        "fake runtime 1.0",
        "the reference",
        4,
    )
    assert result.check == "outputs on 4 images"


def test_beyond_tolerance_fails():
    result = check(ShiftedRunner(0.06))
    assert not result.passed and result.max_abs_diff == pytest.approx(0.06, abs=1e-6)


def test_the_single_image_call_is_checked_too():
    """The app runs one image at a time: a runtime right for batches only must fail."""
    result = check(ShiftedRunner(0.0, single_shift=0.5))
    assert not result.passed and result.max_abs_diff == pytest.approx(0.5)


def test_a_wrong_output_shape_fails_without_a_difference():
    result = check(ShiftedRunner(0.0, rows=2))
    assert not result.passed and result.max_abs_diff is None
    assert result.check.endswith("wrong output shape")


def test_agreement_with_the_float_model_is_counted_apart_from_the_reference():
    drifted = REFERENCE + np.array([[0.0], [0.0], [0.0], [-4.0]])  # float says benign on the last
    result = check(ShiftedRunner(0.0), float_logits=drifted)
    assert result.passed and result.decision_agreement == 1.0
    assert result.float_decision_agreement == 0.75


def test_decisions_are_made_at_the_threshold_as_a_logit():
    """Shifted by 0.9: at p 0.5 (logit 0) one decision flips, at p 0.7 (logit 0.847) two."""
    inputs = np.zeros((4, 3, 32, 32), np.float32)
    agreement = {
        p: verify.compare(
            ShiftedRunner(0.9), inputs, REFERENCE, 1.0, p, "ref", "4 images", REFERENCE
        ).decision_agreement
        for p in (0.5, 0.7)
    }
    assert agreement == {0.5: 0.75, 0.7: 0.5}


@pytest.mark.parametrize("single_shift", [float("nan"), float("inf")])
def test_a_non_finite_single_image_output_fails(single_shift):
    """Python's max(0.0, nan) is 0.0: a NaN from the app's batch of 1 must not pass."""
    result = check(ShiftedRunner(0.0, single_shift=single_shift))
    assert not result.passed and not np.isfinite(result.max_abs_diff)


def test_a_nan_in_the_batch_fails():
    result = check(ShiftedRunner(float("nan"), single_shift=0.0))
    assert not result.passed


@pytest.mark.parametrize("threshold, flagged", [(0.0, 4), (1.0, 0)])
def test_thresholds_of_zero_and_one_flag_all_or_none(threshold, flagged):
    """A sensitivity target of 1.0 can choose 0: every image is melanoma, not a math error."""
    inputs = np.zeros((4, 3, 32, 32), np.float32)
    result = verify.compare(
        ShiftedRunner(0.0), inputs, REFERENCE, 0.05, threshold, "ref", "4 images", REFERENCE
    )
    assert result.passed and result.decision_agreement == 1.0
    assert np.sum(REFERENCE[:, 0] >= verify.decision_cut(threshold)) == flagged
