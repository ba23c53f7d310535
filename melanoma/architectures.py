"""The one registry of deployable architectures: name -> (config dataclass, module class).

Checkpoints store the name and the config fields, so loading needs no flags.
"""

from __future__ import annotations

from torch import nn

from melanoma import config_checks as checks
from melanoma.model import CNNConfig, CNNEnsemble, EnsembleConfig, SmallCNN
from melanoma.sgan import SGANClassifier, SGANClassifierConfig

ARCHITECTURES: dict[str, tuple[type, type[nn.Module]]] = {
    "small-cnn": (CNNConfig, SmallCNN),
    "small-cnn-ensemble": (EnsembleConfig, CNNEnsemble),
    "sgan-classifier": (SGANClassifierConfig, SGANClassifier),
}
# Far past any model here, short of exhausting memory while building one: a hand-edited
# metadata.json with a width of 1e9 asked for a terabyte, 1e12 members never returned.
# Each stage halves 32x32, so a sixth would pool a 1x1 map.
MAX_WIDTH, MAX_STAGES, MAX_MEMBERS = 1024, 5, 64


def build_model(arch: str, arch_args: dict) -> nn.Module:
    """Build an architecture from its name and stored config fields."""
    if arch not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {arch!r}; known: {known}")
    config_cls, module_cls = ARCHITECTURES[arch]
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in arch_args.items()}
    config = config_cls(**fields)
    check_arch_config(config)
    return module_cls(config)


def check_arch_config(config: object) -> None:
    """Refuse (ValueError) fields out of range: a NaN dropout, a huge width or ensemble."""
    try:
        if hasattr(config, "members"):
            checks.at_least(config, 1, "members", maximum=MAX_MEMBERS)
        if hasattr(config, "dropout"):
            checks.fraction(config, "dropout", below_one=True)
        if hasattr(config, "negative_slope"):
            checks.fraction(config, "negative_slope")
    except checks.ConfigError as err:
        raise ValueError(str(err)) from None
    widths = checks.items_of(config.widths)
    sized = all(type(w) is int and 1 <= w <= MAX_WIDTH for w in widths)  # not bool
    if not (1 <= len(widths) <= MAX_STAGES and sized):
        raise ValueError(
            f"{type(config).__name__}.widths = {config.widths!r}: expected 1 to {MAX_STAGES} "
            f"integers in [1, {MAX_WIDTH}]"
        )
