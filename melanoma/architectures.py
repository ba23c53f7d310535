"""The one registry of deployable architectures: name -> (config dataclass, module class).

Checkpoints store the name and the config fields, so loading needs no flags.
"""

from __future__ import annotations

from torch import nn

from melanoma.model import CNNConfig, CNNEnsemble, EnsembleConfig, SmallCNN
from melanoma.sgan import SGANClassifier, SGANClassifierConfig

ARCHITECTURES: dict[str, tuple[type, type[nn.Module]]] = {
    "small-cnn": (CNNConfig, SmallCNN),
    "small-cnn-ensemble": (EnsembleConfig, CNNEnsemble),
    "sgan-classifier": (SGANClassifierConfig, SGANClassifier),
}


def build_model(arch: str, arch_args: dict) -> nn.Module:
    """Build an architecture from its name and stored config fields."""
    if arch not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {arch!r}; known: {known}")
    config_cls, module_cls = ARCHITECTURES[arch]
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in arch_args.items()}
    return module_cls(config_cls(**fields))
