"""The SGAN networks and the deployable classifier (reference-sgan: tests/test_reference.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from melanoma.architectures import build_model
from melanoma.model import config_dict, example_inputs
from melanoma.preprocess import channel_stats, normalize
from melanoma.sgan import (
    Discriminator,
    GaussianNoise,
    Generator,
    SGANClassifier,
    SGANClassifierConfig,
    melanoma_log_odds,
    to_classifier,
)

CONFIG = SGANClassifierConfig()


@pytest.fixture(scope="module")
def real_batch(dataset) -> torch.Tensor:
    """16 normalized labeled images, (16, 3, 32, 32)."""
    mean, std = channel_stats(dataset.labeled.images)
    return normalize(dataset.labeled.images[:16], mean, std)


def _trained_like_discriminator() -> Discriminator:
    """Weight-normed D whose g and v differ, so folding really has to compute g * v / ||v||."""
    torch.manual_seed(0)
    disc = Discriminator(CONFIG)
    with torch.no_grad():
        for name, param in disc.named_parameters():
            param.add_(0.05 * torch.randn_like(param))
            if name.endswith("original0"):  # the magnitude g
                param.mul_(1.7)
    return disc.eval()


def test_classifier_output_equals_discriminator_log_odds(real_batch):
    disc = _trained_like_discriminator()
    classifier = to_classifier(disc, CONFIG)
    with torch.no_grad():
        logits, _ = disc(real_batch)
        expected = melanoma_log_odds(logits)  # log P(mel | x, real) - log P(benign | x, real)
        probs = torch.softmax(logits, dim=1)
        got = classifier(real_batch)
    assert got.shape == (16, 1)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(torch.sigmoid(got).squeeze(1), probs[:, 1], rtol=1e-4, atol=1e-5)
    assert not any("parametrizations" in k for k in classifier.state_dict())


def test_registry_builds_the_deployable_arch_that_takes_the_folded_weights():
    """What load_checkpoint does: the registry's arch, then the exported state_dict, strictly."""
    model = build_model("sgan-classifier", config_dict(CONFIG))
    assert isinstance(model, SGANClassifier)
    classifier = to_classifier(_trained_like_discriminator(), CONFIG)
    model.load_state_dict(classifier.state_dict())  # strict: same names and shapes
    (images,) = example_inputs(3)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(images), classifier.eval()(images))


def test_generator_emits_pixels_in_unit_range():
    images = Generator()(torch.randn(4, 64))
    assert images.shape == (4, 3, 32, 32)
    assert images.min() >= 0 and images.max() <= 1


# Core ATen ops of conv, LeakyReLU, global average pooling and linear: all XNNPACK-delegable.
# (The ExecuTorch exporter's own tests check delegation of every registered architecture.)
DELEGABLE = {"conv2d", "leaky_relu", "adaptive_avg_pool2d", "mean", "linear", "view", "flatten"}


def test_deployable_graph_uses_only_xnnpack_delegable_ops():
    model = to_classifier(_trained_like_discriminator(), CONFIG)
    program = torch.export.export(model, example_inputs()).run_decompositions({})
    ops = {
        node.target.__name__.split(".")[0]
        for node in program.graph.nodes
        if node.op == "call_function"
    }
    assert ops <= DELEGABLE, f"ops XNNPACK may not delegate: {sorted(ops - DELEGABLE)}"
    assert {"conv2d", "leaky_relu", "linear"} <= ops


def test_input_noise_has_the_given_std_in_training_and_none_in_eval():
    noise, x = GaussianNoise(0.3), torch.zeros(100_000)
    torch.manual_seed(0)
    assert noise.train()(x).std().item() == pytest.approx(0.3, rel=0.02)  # not 0.3 ** 2
    assert torch.equal(noise.eval()(x), x)


def test_every_discriminator_layer_is_weight_normed_and_each_stage_drops_out():
    modules = list(Discriminator(CONFIG, dropout=0.3).modules())
    layers = [m for m in modules if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 2 * len(CONFIG.widths) + 1  # the convs and the head
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert [m.p for m in modules if isinstance(m, nn.Dropout)] == [0.3] * len(CONFIG.widths)
    plain = Discriminator(CONFIG, weight_norm=False)
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())
