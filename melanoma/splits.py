"""Stratified, seeded train/validation split of the labeled images."""

from __future__ import annotations

import torch

from melanoma.datasets import Split


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
        val_index.append(members[:n_val])
        train_index.append(members[n_val:])
    train = torch.sort(torch.cat(train_index)).values
    val = torch.sort(torch.cat(val_index)).values
    return labeled.subset(train), labeled.subset(val)
