"""The SGAN step's loss formulas, worked by hand (test_train_sgan.py runs the step itself)."""

import math

import pytest
import torch

from melanoma.sgan_step import consistency_ramp, feature_matching, real_fake_losses


def test_real_and_fake_losses_follow_the_implicit_fake_class():
    """Class logits (0, 0): Z = 2, D(x) = Z / (Z + 1) = 2/3. A real image then costs
    -log(2/3) and a fake -log(1/3); confident logits cost almost nothing on the side they
    are confident about."""
    even = torch.zeros(4, 2)
    real, fake = real_fake_losses(even, even)
    assert real.item() == pytest.approx(math.log(1.5))
    assert fake.item() == pytest.approx(math.log(3.0))
    confident_real, confident_fake = torch.full((4, 2), 20.0), torch.full((4, 2), -20.0)
    real, fake = real_fake_losses(confident_real, confident_fake)
    assert real.item() < 1e-8 and fake.item() < 1e-8
    real, fake = real_fake_losses(confident_fake, confident_real)  # each on the wrong side
    assert real.item() == pytest.approx(20 - math.log(2), abs=1e-6)
    assert fake.item() == pytest.approx(20 + math.log(2), abs=1e-6)


def test_feature_matching_compares_batch_means_not_images():
    """Two batches with the same feature means match exactly, image by image different."""
    real = torch.tensor([[1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])  # (B=2, F=3): mean (2, 1, 1)
    fake = torch.tensor([[2.0, 2.0, 1.0], [2.0, 0.0, 1.0]])
    assert feature_matching(real, fake).item() == 0.0
    shifted = fake + torch.tensor([3.0, 0.0, 0.0])
    assert feature_matching(real, shifted).item() == pytest.approx(9 / 3)


def test_consistency_ramps_from_e_to_the_minus_5_up_to_1_then_stays():
    steps, rampup = 1000, 0.2  # ramps over the first 200 steps
    assert consistency_ramp(0, steps, rampup) == pytest.approx(math.exp(-5))
    assert consistency_ramp(100, steps, rampup) == pytest.approx(math.exp(-5 / 4))
    assert consistency_ramp(200, steps, rampup) == 1.0
    assert consistency_ramp(900, steps, rampup) == 1.0
    assert consistency_ramp(0, steps, 0.0) == 1.0  # no ramp asked for
