"""The input contract shared by training, `melanoma predict` and the Android app.

An image becomes model input in four exactly defined steps, mirrored line for
line by `android_demo/.../Preprocessor.java`:

1. **square crop**: side = min(H, W); by default centred, with
   top = (H - side) // 2 and left = (W - side) // 2.
2. **area resize** to 32x32: output pixel (i, j) is the mean of the source
   square it covers, with partially covered source pixels weighted by the
   covered fraction. This is separable, so it is `R @ img @ R.T` per channel,
   where R (32, side) holds the overlap weights. Pillow's and Android's
   filters differ from this (and from each other), which is why it is defined
   here rather than borrowed from a library.
3. **normalize**: x = (value / 255 - mean[c]) / std[c], with the mean and std
   computed on the training split and stored in the checkpoint and manifest.
4. **layout**: NCHW float32.

Steps 1-2 happen in float64 without rounding; the dataset loaders round the
result to uint8 only to keep the in-memory set small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from melanoma.errors import UserError

IMAGE_SIZE = 32
MIN_SIDE = IMAGE_SIZE  # smaller images would have to be upsampled: refused instead


def area_weights(src: int, dst: int = IMAGE_SIZE) -> np.ndarray:
    """Return R (dst, src): R[i, k] is the fraction of output cell i covered by source pixel k."""
    scale = src / dst
    weights = np.zeros((dst, src), dtype=np.float64)
    for i in range(dst):
        start, end = i * scale, (i + 1) * scale
        for k in range(int(np.floor(start)), min(int(np.ceil(end)), src)):
            overlap = min(end, k + 1) - max(start, k)
            if overlap > 0:
                weights[i, k] = overlap / scale
    return weights


def square_crop_box(height: int, width: int) -> tuple[int, int, int]:
    """Return (top, left, side) of the centred square crop."""
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side


def crop_and_resize(
    rgb: np.ndarray, box: tuple[int, int, int] | None = None, size: int = IMAGE_SIZE
) -> np.ndarray:
    """Square-crop (H, W, 3) uint8 RGB and area-resize it to (size, size, 3) float64 in 0..255."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    top, left, side = box or square_crop_box(rgb.shape[0], rgb.shape[1])
    if side < MIN_SIDE:
        raise ValueError(f"image is too small: {side}px square crop, need at least {MIN_SIDE}px")
    square = rgb[top : top + side, left : left + side]
    if side == size:
        return square.astype(np.float64)
    weights = area_weights(side, size)  # (size, side)
    # Rows first, one output row's band of source rows at a time: the whole crop in
    # float64 takes 24 bytes per pixel (a 108 MP photo took 2.8 GB of memory, now under 1).
    rows = np.empty((size, side, 3), dtype=np.float64)
    for i, row_weights in enumerate(weights):
        covered = np.flatnonzero(row_weights)
        first, last = covered[0], covered[-1] + 1
        band = square[first:last].astype(np.float64)
        rows[i] = np.tensordot(row_weights[first:last], band, axes=(0, 0))
    return np.einsum("jl,ilc->ijc", weights, rows)


def to_uint8(resized: np.ndarray) -> np.ndarray:
    """Round a resized float image to uint8 for compact storage."""
    return np.clip(np.floor(resized + 0.5), 0, 255).astype(np.uint8)


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Map (N, 3, H, W) pixel values in 0..255 (uint8 or float) to normalized float32."""
    mean_t = torch.tensor(mean, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    return (images.to(torch.float32) / 255.0 - mean_t) / std_t


def image_to_input(rgb: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Full contract for one (H, W, 3) uint8 photo: returns (1, 3, 32, 32) float32."""
    resized = crop_and_resize(rgb)  # (32, 32, 3) float64
    chw = torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))
    return normalize(chw.unsqueeze(0), mean, std)


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std on the 0..1 scale of (N, 3, H, W) uint8 images."""
    scaled = images.to(torch.float64) / 255.0
    mean = [round(float(v), 6) for v in scaled.mean(dim=(0, 2, 3))]
    std = [round(float(v), 6) for v in scaled.std(dim=(0, 2, 3))]
    flat = [name for name, value in zip(("red", "green", "blue"), std, strict=True) if value <= 0]
    if flat:
        # Normalizing by 0 makes every input NaN: the run would "diverge" whatever the seed.
        channels = " and ".join(flat) + (" channel has" if len(flat) == 1 else " channels have")
        raise UserError(
            f"the training images' {channels} one value in every pixel (std 0): there is "
            "nothing to normalize by"
        )
    return mean, std
