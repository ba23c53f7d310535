"""Stratified, seeded splits of the labeled images: one hold-out, or cross-validation folds."""

from __future__ import annotations

import torch

from melanoma.datasets import Split
from melanoma.errors import UserError

OUT_OF_FOLD = "out-of-fold"  # train_config["validation"] of a cross-validated checkpoint
HELD_OUT = "held-out"  # a stratified validation split; checkpoints that predate the key


def stratified_split(labeled: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """Carve `val_fraction` of each class out of `labeled`; returns (train, val)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    gen = torch.Generator().manual_seed(seed)
    train_index, val_index = [], []
    for label in (0, 1):
        members = torch.nonzero(labeled.labels == label).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        n_val = max(1, round(len(members) * val_fraction))
        if n_val >= len(members):  # the data's fault: a one-line CLI error, as for folds
            raise UserError(
                f"labeled class {label} has {len(members)} image(s): too few to hold out "
                f"{n_val} for validation and train on the rest"
            )
        val_index.append(members[:n_val])
        train_index.append(members[n_val:])
    train = torch.sort(torch.cat(train_index)).values
    val = torch.sort(torch.cat(val_index)).values
    return labeled.subset(train), labeled.subset(val)


def stratified_folds(labels: torch.Tensor, folds: int, seed: int) -> torch.Tensor:
    """Fold index (0..folds-1) of every image; each class is dealt round-robin after a shuffle."""
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds}")
    gen = torch.Generator().manual_seed(seed)
    fold_of = torch.empty(len(labels), dtype=torch.long)
    for label in (0, 1):
        members = torch.nonzero(labels == label).flatten()
        if len(members) < folds:  # the data's fault, not the caller's: a one-line CLI error
            raise UserError(
                f"labeled class {label} has {len(members)} images, fewer than the {folds} "
                "cross-validation folds"
            )
        members = members[torch.randperm(len(members), generator=gen)]
        fold_of[members] = torch.arange(len(members)) % folds
    return fold_of


def checkpoint_split(labeled: Split, train_config: dict, seed: int) -> tuple[Split, Split | None]:
    """A checkpoint's (training, validation) images, re-carved from its metadata.

    A cross-validated checkpoint trained on every labeled image and was
    validated out-of-fold, so it has no single validation split: (labeled, None).
    """
    if validation_scheme(train_config) == OUT_OF_FOLD:
        return labeled, None
    val_fraction = train_config.get("val_fraction")
    if not isinstance(val_fraction, (int, float)) or not 0 < val_fraction < 1:
        raise UserError(
            f"checkpoint train_config has val_fraction {val_fraction!r}: "
            "its validation split cannot be re-carved"
        )
    return stratified_split(labeled, val_fraction, seed)


def validation_scheme(train_config: dict) -> str:
    """OUT_OF_FOLD or HELD_OUT: how a checkpoint's thresholds and val_metrics were measured."""
    return train_config.get("validation", HELD_OUT)
