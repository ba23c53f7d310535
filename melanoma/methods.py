"""Training methods by name: the trainer behind each and its default config.

`melanoma train --method` takes a trainer; `melanoma compare --methods` also
takes the SGAN ablations, which train with the SGAN's trainer under changed
settings (their checkpoints say method "sgan"). Trainers are imported when
used: each pulls in its own stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from melanoma.config_checks import ConfigError

if TYPE_CHECKING:  # `melanoma --help` would otherwise import torch
    from melanoma.datasets import Dataset
    from melanoma.train import TrainConfig
    from melanoma.train_sgan import SGANConfig

TRAINERS = ("supervised", "sgan")  # also the `method` a checkpoint records
# The same discriminator, loop, steps, augmentation, EMA, epoch selection and
# thresholds, with parts of the unlabeled signal switched off, so a comparison
# can show what the unlabeled images buy this network.
SGAN_ABLATIONS = {
    "sgan-labeled-only": {"unsup_weight": 0.0, "consistency_weight": 0.0},
    "sgan-mean-teacher": {"unsup_weight": 0.0},  # consistency on unlabeled, no GAN losses
    "sgan-no-mean-teacher": {"consistency_weight": 0.0},  # GAN losses alone, as Salimans et al.
}
METHODS = (*TRAINERS, *SGAN_ABLATIONS)


def trainer_of(method: str) -> str:
    """The trainer (and checkpoint method) behind a method; unknown names list the valid ones."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return "sgan" if method in SGAN_ABLATIONS else method


def method_config(
    method: str, seed: int, epochs: int | None = None, progress: bool = True
) -> TrainConfig | SGANConfig:
    """The default config of `method` for `seed` (and `epochs`, if given)."""
    overrides = {"seed": seed, "progress": progress}
    if epochs is not None:
        overrides["epochs"] = epochs
    if trainer_of(method) == "supervised":
        from melanoma.train import TrainConfig

        return TrainConfig(**overrides)
    from melanoma.train_sgan import SGANConfig

    return SGANConfig(**overrides, **SGAN_ABLATIONS.get(method, {}))


def train_method(
    method: str,
    dataset: Dataset,
    config: TrainConfig | SGANConfig,
    out_dir: Path,
    resume: bool = False,
    own: Path | None = None,
) -> Path:
    """Train `method` (its config from method_config) into out_dir with the trainer behind it,
    refusing a folder another run is training into (resume.run_dir_owned), or one inside a
    folder another run holds up to `own`, one this run holds (compare's --out).

    An ablation's config must hold the ablation's settings (SGAN_ABLATIONS[method]), as
    method_config builds it for `compare` and the CLI; any other field may differ. A plain
    SGANConfig() under "sgan-labeled-only" is a ConfigError, not a full SGAN by that name."""
    from melanoma.checkpoint import refuse_bundled_out_dir  # it imports this module
    from melanoma.resume import refuse_inside_a_held_folder, run_dir_owned

    refuse_bundled_out_dir(out_dir)
    if trainer_of(method) == "supervised":
        from melanoma.train import TrainConfig as wanted
        from melanoma.train import train_supervised as trainer
    else:
        from melanoma.train_sgan import SGANConfig as wanted
        from melanoma.train_sgan import train_sgan as trainer
    if not isinstance(config, wanted):  # else an AttributeError once training has begun
        raise ConfigError(
            f"method {method!r} trains with a {wanted.__name__}, not a {type(config).__name__}; "
            f"method_config({method!r}, seed) builds one"
        )
    _refuse_unlike_ablation(method, config)
    with run_dir_owned(Path(out_dir)):
        refuse_inside_a_held_folder(Path(out_dir), own)
        return trainer(dataset, config, out_dir, resume=resume)


def _refuse_unlike_ablation(method: str, config: SGANConfig) -> None:
    """The config of an ablation must switch off what the name says it does: else a
    caller's SGANConfig() trained a full SGAN that compare's table called labeled-only."""
    wrong = {
        name: getattr(config, name)
        for name, value in SGAN_ABLATIONS.get(method, {}).items()
        if getattr(config, name) != value
    }
    if wrong:
        settings = ", ".join(f"{name}={value!r}" for name, value in SGAN_ABLATIONS[method].items())
        found = ", ".join(f"{name}={value!r}" for name, value in wrong.items())
        raise ConfigError(
            f"method {method!r} trains with {settings}, not {found}; "
            f"method_config({method!r}, seed) builds its config"
        )
