"""A float model's predictions on uint8 images, with its stored normalization. Kept apart
from training.py so that evaluation, export checks and the benchmark do not import the
training stack (augmentation, torchvision)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from melanoma.preprocess import normalize


@torch.no_grad()
def predict_logits(
    model: nn.Module, images: torch.Tensor, mean: list[float], std: list[float], batch: int = 256
) -> torch.Tensor:
    """Melanoma logits (CPU) for (N, 3, 32, 32) uint8 images, in eval mode; the model's own
    train/eval modes are put back after."""
    # Per module: a caller validating mid-training expects dropout and BatchNorm on again.
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        device = next(model.parameters()).device
        out = [
            model(normalize(images[i : i + batch], mean, std).to(device)).flatten()
            for i in range(0, len(images), batch)
        ]
    finally:
        for module, training in modes.items():
            module.training = training
    return torch.cat(out).cpu()


def predict_probs(
    model: nn.Module, images: torch.Tensor, mean: list[float], std: list[float], batch: int = 256
) -> np.ndarray:
    """P(melanoma) for (N, 3, 32, 32) uint8 images, in eval mode."""
    return torch.sigmoid(predict_logits(model, images, mean, std, batch)).numpy()
