"""Exact copies, in the unlabeled pool, of images a model is judged on.

The SGAN trains on the unlabeled pool, and QAT distils and calibrates on it. With class
folders or a CSV, unlabeled/ can hold validation or test photos again (under any name);
either would then choose, or be judged, on images it had fitted. A copy mirrored or turned
by quarter turns counts: training's augmentation flips and turns every image it sees.
Near-copies (another photo of one lesion) pass: compare reports the test AUC without them
(melanoma/near_duplicates.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from melanoma.datasets import Dataset, Split
from melanoma.errors import listing
from melanoma.sources import DataError


def refuse_copies_in_pool(
    dataset: Dataset,
    judged: Mapping[str, tuple[Split | None, str]],
    remedy: str = "take them out of the pool",
) -> None:
    """Refuse `dataset` if its unlabeled pool holds an image of a judged split again (the same
    pixels under any name, or in a flip or quarter turn). `judged` maps a split's name to
    (the split or None, why the caller may not have fitted its images), and each refusal
    names the first copies and ends with `remedy`, what the caller's user can do."""
    if dataset.unlabeled is None:
        return
    pool = dict(zip(dataset.unlabeled.pixel_hashes(), dataset.unlabeled.names, strict=True))
    for split_name, (split, why) in judged.items():
        if split is None:
            continue
        copies = [
            f"{name} as {pool[found[0]]}"
            for name, views in zip(split.names, dihedral_hashes(split), strict=True)
            if (found := [h for h in views if h in pool])
        ]
        if copies:
            raise DataError(
                f"{dataset.source}: the unlabeled pool repeats {len(copies)} {split_name} "
                f"image(s) ({listing(copies, most=2)}): {why}; {remedy}"
            )


def dihedral_hashes(split: Split) -> list[list[str]]:
    """Each image's pixel hashes in its 8 flips and quarter turns, itself first."""
    turned = [torch.rot90(split.images, k, dims=(2, 3)) for k in range(4)]  # (N, 3, H, W)
    views = [Split(v, split.labels, split.names) for v in turned + [v.flip(3) for v in turned]]
    return [list(h) for h in zip(*(view.pixel_hashes() for view in views), strict=True)]
