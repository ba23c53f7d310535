"""Batched augmentation with independent random parameters for every image.

torchvision.transforms.v2 draws one parameter set per call, so applying it to a
batch would flip or rotate every image the same way, and calling it per image
costs more CPU than the 32x32 forward pass. Instead, flips, rotation and the
random resized crop compose into one affine matrix per image, applied with a
single grid_sample; colour jitter uses v2's functional kernels with per-image
factors. Lesions have no canonical orientation, so full rotations are valid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    hflip: bool = True  # mirror left-right with p=0.5
    vflip: bool = True  # mirror top-bottom with p=0.5
    rotation_degrees: float = 180.0  # uniform rotation in [-d, d]
    crop_scale: tuple[float, float] = (0.75, 1.0)  # random resized crop: kept area fraction
    crop_ratio: tuple[float, float] = (0.9, 1.1)  # aspect ratio of the kept area
    brightness: float = 0.1  # factor drawn from [1-b, 1+b]
    contrast: float = 0.1
    saturation: float = 0.1
    hue: float = 0.0  # hue shifts change lesion colour, the main cue: off by default


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def affine_matrices(n: int, config: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """(n, 2, 3) matrices mapping output to input coordinates in [-1, 1]."""
    angle = _uniform(n, -1, 1, gen) * math.radians(config.rotation_degrees)
    area = _uniform(n, *config.crop_scale, gen)
    log_ratio = _uniform(n, math.log(config.crop_ratio[0]), math.log(config.crop_ratio[1]), gen)
    ratio = torch.exp(log_ratio)
    scale_x = torch.sqrt(area * ratio).clamp(max=1.0)
    scale_y = torch.sqrt(area / ratio).clamp(max=1.0)
    shift_x = _uniform(n, -1, 1, gen) * (1 - scale_x)
    shift_y = _uniform(n, -1, 1, gen) * (1 - scale_y)
    flip_x = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if config.hflip else 1.0
    flip_y = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if config.vflip else 1.0
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * scale_x * flip_x
    theta[:, 0, 1] = -sin * scale_y * flip_y
    theta[:, 1, 0] = sin * scale_x * flip_x
    theta[:, 1, 1] = cos * scale_y * flip_y
    theta[:, 0, 2] = shift_x
    theta[:, 1, 2] = shift_y
    return theta


def _jitter(images: torch.Tensor, config: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    # Imported here: torchvision pulls in torch._dynamo (about 1 s at startup), which
    # evaluate, predict and the exporters, importing this module through training, never use.
    from torchvision.transforms.v2 import functional as TF

    n = images.shape[0]

    def factors(strength: float) -> torch.Tensor:
        return _uniform(n, 1 - strength, 1 + strength, gen).view(n, 1, 1, 1).to(images.device)

    if config.brightness:
        images = images * factors(config.brightness)
    if config.contrast:
        gray_mean = TF.rgb_to_grayscale(images).mean(dim=(1, 2, 3), keepdim=True)
        images = gray_mean + (images - gray_mean) * factors(config.contrast)
    if config.saturation:
        gray = TF.rgb_to_grayscale(images)
        images = gray + (images - gray) * factors(config.saturation)
    images = images.clamp(0, 1)
    if config.hue:
        shifts = _uniform(n, -config.hue, config.hue, gen)
        images = torch.stack(
            [TF.adjust_hue(img, float(s)) for img, s in zip(images, shifts, strict=True)]
        )
    return images


def augment(images: torch.Tensor, config: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Augment (N, 3, H, W) images in 0..1 float; returns the same shape in 0..1.

    The random draws come from `gen` on the CPU, whatever device the images are
    on (the SGAN augments its fakes on the training device), so a seed gives
    the same augmentation everywhere.
    """
    theta = affine_matrices(images.shape[0], config, gen).to(images.device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # Reflection padding: rotated corners show skin instead of black wedges.
    warped = F.grid_sample(
        images, grid, mode="bilinear", padding_mode="reflection", align_corners=False
    )
    return _jitter(warped, config, gen)
