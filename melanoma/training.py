"""What both trainers (train.py, train_sgan.py) share: the device, the weight EMA,
augmented batches, the seeded validation split and checkpoint
metadata from validation predictions."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
import torch
from torch import nn

from melanoma.augment import AugmentConfig, augment
from melanoma.checkpoint import CheckpointMeta
from melanoma.datasets import Dataset, Split
from melanoma.metrics import all_metrics, choose_thresholds
from melanoma.preprocess import channel_stats, normalize
from melanoma.splits import stratified_split
from melanoma.usage_terms import terms_of_data
from melanoma.validation_scores import scores_sha256

if TYPE_CHECKING:  # both trainers import this module
    from melanoma.train import TrainConfig
    from melanoma.train_sgan import SGANConfig


class DivergenceError(RuntimeError):
    """Training diverged (non-finite losses or outputs) past recovery; no checkpoint was
    written. Not bad input: the CLI exits 1."""


P = ParamSpec("P")
R = TypeVar("R")


def select_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class WeightEMA:
    """Exponential moving average of parameters and buffers (BatchNorm stats included).

    `decay` is a ceiling: after n updates the decay in force is min(decay, (1+n)/(10+n)),
    which reaches 0.99 only after 890 updates and 0.995 after 1,790. The default runs stop
    short of both (a supervised member makes 300 updates and ends at 0.971; the SGAN makes
    1,308 and ends at 0.993), so their configured decays never take effect."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        # Warm-up: early on the average would be mostly the random init.
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        pairs = zip(self.model.state_dict().values(), model.state_dict().values(), strict=True)
        for ema_v, v in pairs:
            if ema_v.dtype.is_floating_point:
                ema_v.lerp_(v, 1 - decay)
            else:
                ema_v.copy_(v)


def augmented_batch(
    images: torch.Tensor,
    config: AugmentConfig,
    mean: Sequence[float],
    std: Sequence[float],
    gen: torch.Generator,
) -> torch.Tensor:
    """uint8 (B, 3, 32, 32) -> augmented, normalized float32."""
    augmented = augment(images.to(torch.float32) / 255.0, config, gen)
    return normalize(augmented * 255.0, mean, std)


def own_rng(trainer: Callable[P, R]) -> Callable[P, R]:
    """Run `trainer` on a fork of torch's global RNG. Trainers seed it (dropout draws from
    it, and resume restores it), which would otherwise reseed the caller's random stream
    as a side effect of training."""

    @functools.wraps(trainer)
    def forked(*args: P.args, **kwargs: P.kwargs) -> R:
        with torch.random.fork_rng():
            return trainer(*args, **kwargs)

    return forked


def seeded_split(
    dataset: Dataset, config: SGANConfig
) -> tuple[torch.Generator, Split, Split, list, list]:
    """Seed torch, carve the validation split, and take normalization from train only.

    Returns (generator for batch order and augmentation, train, val, mean, std).
    """
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    train, val = stratified_split(dataset.labeled, config.val_fraction, config.seed)
    mean, std = channel_stats(train.images)
    return gen, train, val, mean, std


def run_conditions(device: str) -> dict:
    """What the run happened under, beside its settings: a retrain that should match it
    needs the same. `device` records "auto", not which one that picked (a GPU's TF32
    convolutions move probabilities by up to 3e-3, evaluate.REPRODUCE_TOLERANCE); the
    CLI's --deterministic is a torch-wide switch, not a config field."""
    return {
        "torch_threads": torch.get_num_threads(),
        "device_used": str(select_device(device)),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
    }


def validated_meta(
    dataset: Dataset,
    config: TrainConfig | SGANConfig,
    mean: list[float],
    std: list[float],
    val_labels: np.ndarray,
    val_probs: np.ndarray,
    best_epoch: int,
    **identity: Any,  # CheckpointMeta's method, arch, arch_args; and extra_config
) -> CheckpointMeta:
    """CheckpointMeta with thresholds and metrics from validation predictions.

    `identity` holds method, arch and arch_args; extra train_config entries
    (n_train, n_val, ...) go in `extra_config`.
    """
    extra = identity.pop("extra_config", {})
    thresholds = choose_thresholds(
        val_labels, val_probs, config.target_sensitivity, config.youden_estimator
    )
    terms = terms_of_data(dataset.fingerprint)
    return CheckpointMeta(
        **identity,
        seed=config.seed,
        epochs=config.epochs,
        best_epoch=best_epoch,
        data_fingerprint=dataset.fingerprint,
        mean=mean,
        std=std,
        val_metrics=all_metrics(val_labels, val_probs, thresholds[0].probability),
        thresholds=[asdict(t) for t in thresholds],
        # Not settings of the weights' identity (compare reuses a checkpoint trained on
        # another thread count), but 1 and 2 threads round differently: a retrain that should
        # match this one bit for bit needs the same --threads, device and --deterministic.
        train_config={**asdict(config), **extra, **run_conditions(config.device)},
        labeled_pixel_hashes=dataset.labeled.pixel_hashes(),
        val_scores_sha256=scores_sha256(val_labels, val_probs),
        # every manifest exported from it carries these (the data's licence binds the weights)
        license=terms.license,
        attribution=terms.attribution,
    )
