"""Semi-supervised GAN networks (Salimans et al. 2016) and the deployable classifier.

The discriminator has two class logits (benign, melanoma); the "fake" class is
implicit with logit 0, so P(real | x) = Z / (Z + 1) with Z = sum_k exp(l_k).
Melanoma-vs-benign log-odds given that the image is real is l_mel - l_benign:
the fake class cancels out of the softmax over the two real classes.

The deployable `SGANClassifier` is that path alone, with plain weights: conv,
LeakyReLU, global average pooling and one linear layer computing
l_mel - l_benign directly ((N, 3, 32, 32) -> (N, 1), like SmallCNN), so every
exporter treats it like the supervised CNN and XNNPACK delegates every op.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrizations

from melanoma import config_checks as checks


@dataclass(frozen=True)
class SGANClassifierConfig:
    widths: tuple[int, ...] = (32, 64, 128)  # channels per stage; each stage halves H and W
    negative_slope: float = 0.2  # LeakyReLU slope, the usual GAN discriminator choice

    def __post_init__(self) -> None:  # checkpoints rebuild it from their metadata.json
        checks.layer_widths(self, "widths")
        checks.fraction(self, "negative_slope")


def _feature_layers(config: SGANClassifierConfig, dropout: float = 0.0) -> list[nn.Module]:
    """Stages of conv3x3 + LeakyReLU, then a stride-2 conv3x3 + LeakyReLU (+ dropout)."""
    layers: list[nn.Module] = []
    c_in = 3
    for width in config.widths:
        layers += [
            nn.Conv2d(c_in, width, 3, padding=1),
            nn.LeakyReLU(config.negative_slope),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.LeakyReLU(config.negative_slope),
        ]
        if dropout:
            layers.append(nn.Dropout(dropout))
        c_in = width
    return layers


class SGANClassifier(nn.Module):
    """Deployable SGAN classifier: (N, 3, 32, 32) normalized -> (N, 1) melanoma log-odds."""

    def __init__(self, config: SGANClassifierConfig = SGANClassifierConfig()):
        super().__init__()
        self.features = nn.Sequential(*_feature_layers(config))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(config.widths[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))  # (N, 1)


class GaussianNoise(nn.Module):
    """Additive N(0, std^2) noise in training only (Salimans et al. use it on D's input)."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.std:
            return x
        return x + self.std * torch.randn_like(x)


class Discriminator(nn.Module):
    """K=2 class logits with an implicit fake class; weight norm on every conv and linear."""

    def __init__(
        self,
        config: SGANClassifierConfig = SGANClassifierConfig(),
        dropout: float = 0.5,
        input_noise: float = 0.1,
        weight_norm: bool = True,
    ):
        super().__init__()
        layers = _feature_layers(config, dropout)
        self.noise = GaussianNoise(input_noise)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(config.widths[-1], 2)  # (benign, melanoma)
        if weight_norm:
            for module in [*self.features, self.head]:
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    parametrizations.weight_norm(module)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (class logits (N, 2), pooled features (N, C) used for feature matching)."""
        features = self.pool(self.features(self.noise(x))).flatten(1)  # (N, C)
        return self.head(features), features


def melanoma_log_odds(logits: torch.Tensor) -> torch.Tensor:
    """(N, 2) class logits -> (N, 1) log P(melanoma | x, real) / P(benign | x, real)."""
    return (logits[:, 1] - logits[:, 0]).unsqueeze(1)


@torch.no_grad()
def to_classifier(disc: Discriminator, config: SGANClassifierConfig) -> SGANClassifier:
    """Fold weight norm into plain weights and reduce the 2-logit head to l_mel - l_benign."""
    classifier = SGANClassifier(config)
    src = [m for m in disc.features if isinstance(m, nn.Conv2d)]
    dst = [m for m in classifier.features if isinstance(m, nn.Conv2d)]
    for s, d in zip(src, dst, strict=True):
        d.weight.copy_(s.weight)  # evaluates the parametrization: g * v / ||v||
        d.bias.copy_(s.bias)
    weight, bias = disc.head.weight, disc.head.bias  # (2, C), (2,)
    classifier.head.weight.copy_((weight[1] - weight[0]).unsqueeze(0))
    classifier.head.bias.copy_((bias[1] - bias[0]).unsqueeze(0))
    return classifier.eval()


@dataclass(frozen=True)
class GeneratorConfig:
    latent_dim: int = 64  # size of z ~ N(0, I)
    widths: tuple[int, ...] = (128, 64, 32)  # channels at 4x4, 8x8, 16x16


class Generator(nn.Module):
    """DCGAN-style: z -> 4x4 -> ... -> 32x32 RGB in 0..1 (pixel scale, before normalization).

    Emitting pixels in 0..1 lets fakes go through the same augmentation and
    normalization as real images, so D cannot tell them apart by pipeline.
    """

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.config = config
        first = config.widths[0]
        self.project = nn.Sequential(
            nn.Linear(config.latent_dim, first * 16, bias=False),
            nn.BatchNorm1d(first * 16),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        for c_in, c_out in zip(config.widths[:-1], config.widths[1:], strict=False):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.ConvTranspose2d(config.widths[-1], 3, 4, stride=2, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.config.widths[0], 4, 4)  # (N, C, 4, 4)
        return torch.sigmoid(self.body(x))  # (N, 3, 32, 32) in 0..1
