"""The tiny SGAN runs train_sgan's tests make on the real data (test_train_sgan.py and
test_train_sgan_divergence.py): the behaviour under test, not the accuracy."""

from __future__ import annotations

import dataclasses

import torch

from melanoma.datasets import Dataset
from melanoma.sgan import GeneratorConfig, SGANClassifierConfig
from melanoma.train_sgan import SGANConfig

# Tiny networks and 4 steps per epoch (16 of the 160 labeled training images a step).
TINY = SGANConfig(
    epochs=3,
    batch_size=32,
    labeled_batch_size=16,
    sample_every=2,
    consistency_weight=1.0,  # exercise the mean-teacher path too
    progress=False,
    device="cpu",
    model=SGANClassifierConfig(widths=(8, 16, 32)),
    generator=GeneratorConfig(latent_dim=16, widths=(32, 16, 8)),
)


def small_data(dataset: Dataset) -> Dataset:
    """The real labeled split with the first 128 unlabeled images and no test split."""
    return dataclasses.replace(
        dataset, unlabeled=dataset.unlabeled.subset(torch.arange(128)), test=None
    )
