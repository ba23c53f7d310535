"""The SGAN step's loss formulas, worked by hand, and D's update checked against them
(test_train_sgan.py runs the step and the epochs)."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from melanoma.augment import augment
from melanoma.preprocess import channel_stats, normalize
from melanoma.sgan import GeneratorConfig, SGANClassifierConfig, melanoma_log_odds
from melanoma.sgan_step import (
    EpochDiverged,
    build_nets,
    consistency_ramp,
    feature_matching,
    real_fake_losses,
    sgan_step,
    validate,
)
from melanoma.train_sgan import SGANConfig
from melanoma.training import augmented_batch


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


# Tiny networks: the update under test, not the accuracy.
TINY = SGANConfig(
    consistency_weight=2.0,
    consistency_rampup=0.5,
    progress=False,
    device="cpu",
    model=SGANClassifierConfig(widths=(8, 16, 32)),
    generator=GeneratorConfig(latent_dim=16, widths=(32, 16, 8)),
)


@pytest.fixture(scope="module")
def batches(dataset):
    """(x_lab, y_lab, x_unl, x_teacher, mean, std): augmented real images, 16 labeled and
    32 unlabeled seen twice (the student's and the teacher's augmentation)."""
    mean, std = channel_stats(dataset.labeled.images)
    rng = torch.Generator().manual_seed(0)
    x_lab = augmented_batch(dataset.labeled.images[:16], TINY.augment, mean, std, rng)
    unlabeled = dataset.unlabeled.images[:32]
    x_unl = augmented_batch(unlabeled, TINY.augment, mean, std, rng)
    x_teacher = augmented_batch(unlabeled, TINY.augment, mean, std, rng)
    return x_lab, dataset.labeled.labels[:16], x_unl, x_teacher, mean, std


def _step_then_redraw_fakes(nets, updated, batches, rng, gen):
    """One step; then `updated`'s parameters from before it, and the step's fakes redrawn by
    `gen` (a copy from before it) with the random state rewound: the same z, augmentation,
    input noise and dropout."""
    x_lab, y_lab, x_unl, x_teacher, mean, std = batches
    before = [p.detach().clone() for p in updated.parameters()]
    states = torch.get_rng_state(), rng.get_state()
    sgan_step(nets, x_lab, y_lab, x_unl, TINY, mean, std, rng, x_teacher)
    torch.set_rng_state(states[0])
    rng.set_state(states[1])
    z = torch.randn(32, TINY.generator.latent_dim, generator=rng)
    return before, normalize(augment(gen(z), TINY.augment, rng) * 255.0, mean, std)


def test_the_discriminator_descends_the_documented_loss(batches):
    """D's update at step 2 of 10 is the gradient of CE + unsup_weight / 2 * (real + fake)
    + ramp * consistency_weight * MSE to the EMA teacher, recomputed here on the same
    draws (under SGD with lr 1 the update is minus that gradient)."""
    x_lab, y_lab, x_unl, x_teacher, mean, std = batches
    torch.manual_seed(0)
    nets, rng = build_nets(TINY, steps=10, device=torch.device("cpu")), torch.Generator()
    for _ in range(2):  # the EMA teacher now differs from D
        sgan_step(nets, x_lab, y_lab, x_unl, TINY, mean, std, rng, x_teacher)
    nets.opt_d = torch.optim.SGD(nets.disc.parameters(), lr=1.0)
    disc, gen, teacher = (copy.deepcopy(m) for m in (nets.disc, nets.gen, nets.ema.model))
    before, x_fake = _step_then_redraw_fakes(nets, nets.disc, batches, rng, gen)
    logits_lab, logits_unl, logits_fake = (disc(x)[0] for x in (x_lab, x_unl, x_fake))
    real, fake = real_fake_losses(logits_unl, logits_fake)
    with torch.no_grad():
        target = torch.sigmoid(melanoma_log_odds(teacher(x_teacher)[0]))
    cons = F.mse_loss(torch.sigmoid(melanoma_log_odds(logits_unl)), target)
    ramp = consistency_ramp(2, 10, TINY.consistency_rampup)
    loss = F.cross_entropy(logits_lab, y_lab) + 0.5 * TINY.unsup_weight * (real + fake)
    loss = loss + ramp * TINY.consistency_weight * cons
    grads = torch.autograd.grad(loss, list(disc.parameters()))
    for old, new, grad in zip(before, nets.disc.parameters(), grads, strict=True):
        torch.testing.assert_close(old - new.detach(), grad, rtol=1e-4, atol=1e-6)


def test_the_generator_descends_feature_matching_and_both_rates_decay(batches):
    """G's update is minus the gradient of the feature-matching loss (under SGD with lr 1),
    the distance it must shrink, not grow; D's and G's learning rates both follow the
    cosine over the run's steps."""
    x_lab, y_lab, x_unl, x_teacher, mean, std = batches
    torch.manual_seed(0)
    nets, rng = build_nets(TINY, steps=10, device=torch.device("cpu")), torch.Generator()
    sgan_step(nets, x_lab, y_lab, x_unl, TINY, mean, std, rng, x_teacher)
    cosine = TINY.lr_d * (1 + math.cos(math.pi / 10)) / 2  # after step 1 of 10
    assert nets.opt_d.param_groups[0]["lr"] == pytest.approx(cosine)
    assert nets.opt_g.param_groups[0]["lr"] == pytest.approx(cosine)
    nets.opt_g = torch.optim.SGD(nets.gen.parameters(), lr=1.0)
    disc, gen = copy.deepcopy(nets.disc), copy.deepcopy(nets.gen)
    before, x_fake = _step_then_redraw_fakes(nets, nets.gen, batches, rng, gen)
    disc(x_lab)  # D's forward passes in the step's order: each draws its own noise
    _, feat_unl = disc(x_unl)
    _, feat_fake = disc(x_fake)
    grads = torch.autograd.grad(feature_matching(feat_unl, feat_fake), list(gen.parameters()))
    for old, new, grad in zip(before, nets.gen.parameters(), grads, strict=True):
        torch.testing.assert_close(old - new.detach(), grad, rtol=1e-4, atol=1e-6)


def test_validation_refuses_a_constant_classifier_and_non_finite_optimizer_moments(
    batches, dataset
):
    """Neither shows as a NaN in the classifier's outputs: a constant one has no AUC to
    select by, and a NaN moment would come back with every restore of the state kept."""
    x_lab, y_lab, x_unl, x_teacher, mean, std = batches
    torch.manual_seed(0)
    nets = build_nets(TINY, steps=10, device=torch.device("cpu"))
    sgan_step(nets, x_lab, y_lab, x_unl, TINY, mean, std, torch.Generator(), x_teacher)
    good = nets.state()
    assert 0 < validate(nets, dataset.labeled, TINY, mean, std) < 1
    next(iter(nets.opt_d.state.values()))["exp_avg_sq"].fill_(float("nan"))
    with pytest.raises(EpochDiverged, match="non-finite exp_avg_sq"):
        validate(nets, dataset.labeled, TINY, mean, std)
    nets.load(good)
    with torch.no_grad():  # the magnitude g of the judged D's head: every logit its bias
        nets.judged().head.parametrizations.weight.original0.zero_()
    with pytest.raises(EpochDiverged, match="non-finite or constant"):
        validate(nets, dataset.labeled, TINY, mean, std)
