"""Classifiers: (N, 3, 32, 32) normalized float32 -> (N, 1) melanoma logit.

The supervised baseline ships as a CNNEnsemble: one SmallCNN per
cross-validation fold (see melanoma/train.py for why).

Only conv, BatchNorm (folded at export), ReLU, max/avg pooling and linear at
inference, so XNNPACK delegates the whole graph. Dropout is identity in eval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from melanoma import config_checks as checks

# Ensemble members a checkpoint may ask for: 1e12 in a hand-edited metadata.json never returned.
MAX_MEMBERS = 64


@dataclass(frozen=True)
class CNNConfig:
    # channels of each 2-conv stage (each halves H, W); (32, 64, 128) was no better on
    # test AUC over seeds 0-2 and costs 4x the MACs
    widths: tuple[int, ...] = (16, 32, 64)
    dropout: float = 0.3  # before the final linear layer

    def __post_init__(self) -> None:  # checkpoints rebuild it from their metadata.json
        checks.layer_widths(self, "widths")
        checks.fraction(self, "dropout", below_one=True)


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """VGG-style CNN: stages of two 3x3 conv-BN-ReLU, max pooling, global average pooling."""

    def __init__(self, config: CNNConfig = CNNConfig()):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for width in config.widths:
            layers += [conv_bn_relu(c_in, width), conv_bn_relu(width, width), nn.MaxPool2d(2)]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(c_in, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.pool(self.features(x)).flatten(1)  # (N, C)
        return self.head(self.dropout(features))  # (N, 1)


@dataclass(frozen=True)
class EnsembleConfig:
    members: int = 5  # one SmallCNN per cross-validation fold
    widths: tuple[int, ...] = CNNConfig.widths
    dropout: float = CNNConfig.dropout

    def __post_init__(self) -> None:
        checks.at_least(self, 1, "members", maximum=MAX_MEMBERS)
        checks.layer_widths(self, "widths")
        checks.fraction(self, "dropout", below_one=True)

    def member(self) -> CNNConfig:
        return CNNConfig(widths=self.widths, dropout=self.dropout)


class CNNEnsemble(nn.Module):
    """Mean of the members' logits: still (N, 3, 32, 32) -> (N, 1), one graph for every exporter.

    A running sum and one multiply rather than stack + mean: add and mul are
    delegated by XNNPACK on every tensor rank, mean only on some.
    """

    def __init__(self, config: EnsembleConfig = EnsembleConfig()):
        super().__init__()
        self.members = nn.ModuleList(SmallCNN(config.member()) for _ in range(config.members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = [member(x) for member in self.members]
        total = logits[0]
        for logit in logits[1:]:
            total = total + logit
        return total * (1.0 / len(logits))


def config_dict(config: object) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def example_inputs(batch: int = 1) -> tuple[torch.Tensor]:
    """Inputs that every exporter traces with: (batch, 3, 32, 32) float32. Drawn from torch's
    global stream: QAT draws them right after seeding it, and its dropout goes on from there,
    so the bundled int8 programs depend on it (export.api draws them on a fork)."""
    return (torch.randn(batch, 3, 32, 32),)
