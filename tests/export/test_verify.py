"""verify.compare, the rule every export check ends in, on a runner whose outputs we choose."""

import numpy as np
import pytest
import torch

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


def test_the_single_image_call_is_held_to_the_reference_too():
    """The app runs one image at a time: a runtime right for batches only must fail. The
    single image is 0.07 off the reference but only 0.03 off the batch's own output."""
    result = check(ShiftedRunner(0.04, single_shift=0.07))
    assert not result.passed and result.max_abs_diff == pytest.approx(0.07, abs=1e-6)


class FlatSingleRunner(ShiftedRunner):
    """Right values, but shape (1,) instead of (1, 1) for the app's batch of one."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = super().__call__(batch)
        return out[:, 0] if len(batch) == 1 else out


@pytest.mark.parametrize("runner", [ShiftedRunner(0.0, rows=2), FlatSingleRunner(0.0)])
def test_a_wrong_output_shape_fails_without_a_difference(runner):
    result = check(runner)
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


def test_a_logit_exactly_at_the_cut_is_flagged_as_the_app_flags_it():
    """The app flags sigmoid(logit) >= threshold: a logit on the cut is melanoma, for the
    artifact as for the reference and the float model."""
    on_cut = np.array([[0.0], [-1.0], [0.0], [1.0]], np.float32)

    class Exact:
        runtime = "exact runtime"

        def __call__(self, batch):
            return on_cut[: len(batch)]

    inputs = np.zeros((4, 3, 32, 32), np.float32)
    result = verify.compare(Exact(), inputs, on_cut, 0.05, 0.5, "ref", "4 images", on_cut)
    assert verify.decision_cut(0.5) == 0.0
    assert result.passed and result.decision_agreement == result.float_decision_agreement == 1


def test_int8_tolerance_is_steps_of_the_programs_output_quantization():
    """Steps of the logit's int8 quantization (the logit range over its 255 steps), not
    logits: 3 logits would pass nearly any int8 file."""
    from melanoma.export import executorch
    from melanoma.pt2e import int8_ranges
    from melanoma.qat_checkpoint import load_qat

    program = load_qat("reference-supervised").program
    low, high = int8_ranges(program)[1]
    step = (high - low) / 255
    assert 0 < step < 0.5
    assert verify.output_step(program) == pytest.approx(step, rel=1e-4)
    steps = executorch.INT8_TOLERANCE_STEPS
    assert verify.tolerance(executorch, "int8", program) == pytest.approx(steps * step, rel=1e-4)
    assert verify.tolerance(executorch, "fp32", program) == executorch.FP32_TOLERANCE


def test_sample_inputs_are_pixels_over_255_normalized_per_channel():
    """What the app feeds the model: (pixel / 255 - mean) / std per RGB channel."""
    samples = verify.load_samples(None)
    mean, std = [0.7, 0.55, 0.5], [0.15, 0.2, 0.25]
    inputs = verify.sample_inputs(samples, mean, std)
    pixels = samples.images.numpy().astype(np.float64) / 255
    expected = (pixels - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    assert inputs.dtype == np.float32 and inputs.flags.c_contiguous
    np.testing.assert_allclose(inputs, expected, atol=1e-5)


def test_the_int8_tolerance_is_refused_for_a_program_whose_logit_is_no_dequantize():
    """The tolerance is read from the output dequantize's scale: for a program ending in
    anything else that argument is another tensor or number, and would let any file pass."""
    import torch

    from melanoma.model import CNNConfig, SmallCNN, example_inputs

    model = SmallCNN(CNNConfig(widths=(4, 8, 8))).eval()
    float_program = torch.export.export(model, example_inputs(2))
    with pytest.raises(ValueError, match="not a dequantize"):
        verify.output_step(float_program)


@pytest.mark.parametrize(
    "target, fp32, int8_steps",
    [("executorch", 1e-4, 3), ("onnx", 1e-4, 3), ("torchscript", 1e-4, None), ("coreml", 1e-3, 4)],
)
def test_each_target_is_held_to_the_tolerance_the_readme_states(target, fp32, int8_steps):
    """The README promises fp32 within 1e-4 of PyTorch and int8 within 3 output steps (Core
    ML 1e-3 and 4). The round-trip tests use each target's own constants, so a loosened one
    would let a drifted artifact pass every check, and ship."""
    from melanoma.export.registry import get_target

    module = get_target(target)
    assert module.FP32_TOLERANCE == fp32
    assert getattr(module, "INT8_TOLERANCE_STEPS", None) == int8_steps


def test_real_samples_span_the_test_split_and_take_both_classes(dataset):
    """The test split is sorted by class: its first 64 images are all melanomas, so a check on
    them compares no nevus decision, while the manifest says "64 test images"."""
    samples = verify.load_samples(dataset)
    test = dataset.test
    assert len(samples.images) == verify.N_SAMPLES
    assert set(samples.labels.tolist()) == {0, 1}
    assert torch.equal(samples.images[0], test.images[0])
    assert torch.equal(samples.images[-1], test.images[-1])  # evenly spaced, end to end
    assert samples.source.startswith(f"{verify.N_SAMPLES} test images of ")
