"""Test images with a near-copy in the unlabeled pool.

HAM10000 holds several photos of some lesions, so a test image can have a
near-copy among the unlabeled images that a semi-supervised method trains on
(the data's README: 18 test images within RMS 0.04 of an unlabeled one, 2
within 0.02, none of a labeled one). Such a method has seen those lesions,
without labels, before it is tested on them. `compare` reports every method's
test AUC without them, to show how much that could have helped. It matches
under the 8 flips and quarter turns too (34 test images, not 18): training
augments with both, and some lesions recur photographed at another angle.
"""

from __future__ import annotations

import numpy as np
import torch

NEAR_DUPLICATE_RMS = 0.04  # per-pixel RMS difference on the 0..1 scale, as in the data's README


def nearest_rms(
    images: torch.Tensor, pool: torch.Tensor, chunk: int = 256, pool_chunk: int = 4096
) -> np.ndarray:
    """For each (3, H, W) uint8 image, the RMS difference (0..1) to its nearest image in pool.
    The pool is taken pool_chunk images at a time: in float64 it takes 24 KB an image (a
    pool of 28,000 peaked at 2.1 GB, twice it while multiplying), the uint8 set 3 KB."""
    nearest = torch.full((len(images),), torch.inf, dtype=torch.float64)
    for start in range(0, len(pool), pool_chunk):
        pool_flat = unit_float(pool[start : start + pool_chunk])
        pool_sq = (pool_flat * pool_flat).sum(1)
        for first in range(0, len(images), chunk):
            flat = unit_float(images[first : first + chunk])
            # |a - b|^2 = |a|^2 + |b|^2 - 2ab, in float64 so that exact copies come out at ~0
            squared = (flat * flat).sum(1, keepdim=True) + pool_sq - 2 * flat @ pool_flat.T
            closest = squared.min(1).values.clamp(min=0) / flat.shape[1]
            nearest[first : first + chunk] = torch.minimum(nearest[first : first + chunk], closest)
    return nearest.sqrt().numpy()


def unit_float(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 as (N, 3*H*W) float64 on the 0..1 scale."""
    return images.flatten(1).to(torch.float64) / 255


def dihedral_nearest_rms(images: torch.Tensor, pool: torch.Tensor) -> np.ndarray:
    """nearest_rms over the 8 flips and quarter turns of each image (square images)."""
    turned = [torch.rot90(images, k, dims=(2, 3)) for k in range(4)]
    views = turned + [view.flip(3) for view in turned]
    return np.min([nearest_rms(view, pool) for view in views], axis=0)


def near_duplicates(
    images: torch.Tensor,
    pool: torch.Tensor,
    max_rms: float = NEAR_DUPLICATE_RMS,
    dihedral: bool = True,
) -> np.ndarray:
    """Boolean mask of the images that have an image of pool closer than max_rms
    (in any of their 8 flips and quarter turns, with `dihedral`)."""
    if len(pool) == 0:
        return np.zeros(len(images), dtype=bool)
    nearest = dihedral_nearest_rms if dihedral else nearest_rms
    return nearest(images, pool) < max_rms
