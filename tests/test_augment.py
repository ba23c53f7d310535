"""Batched augmentation: per-image random parameters, each transform switchable, seeded."""

import dataclasses

import pytest
import torch

from melanoma.augment import AugmentConfig, affine_matrices, augment
from melanoma.preprocess import normalize

OFF = AugmentConfig(
    hflip=False,
    vflip=False,
    rotation_degrees=0.0,
    crop_scale=(1.0, 1.0),
    crop_ratio=(1.0, 1.0),
    brightness=0.0,
    contrast=0.0,
    saturation=0.0,
    hue=0.0,
)


@pytest.fixture(scope="module")
def images(dataset):
    return dataset.labeled.images[:64].float() / 255  # (64, 3, 32, 32) real moles


def _run(images, config, seed=0):
    return augment(images, config, torch.Generator().manual_seed(seed))


def test_everything_off_is_the_identity(images):
    torch.testing.assert_close(_run(images, OFF), images, atol=1e-5, rtol=0)


def test_flips_are_drawn_per_image(images):
    out = _run(images, dataclasses.replace(OFF, hflip=True))
    mirrored = torch.flip(images, dims=[3])
    same = (out - images).abs().amax(dim=(1, 2, 3)) < 1e-5
    flipped = (out - mirrored).abs().amax(dim=(1, 2, 3)) < 1e-5
    assert bool((same | flipped).all())  # each image exactly kept or exactly mirrored
    assert 10 < int(flipped.sum()) < 54  # p=0.5 per image, not one coin for the batch


def test_brightness_scales_each_image_by_its_own_factor(images):
    out = _run(images, dataclasses.replace(OFF, brightness=0.1))
    unclipped = (images > 0.05) & (images < 0.85)  # 0.85 * 1.1 stays below the clamp at 1
    ratios = [(o[m] / i[m]) for o, i, m in zip(out, images, unclipped, strict=True)]
    spreads = torch.stack([r.max() - r.min() for r in ratios])
    factors = torch.stack([r.mean() for r in ratios])
    assert float(spreads.max()) < 1e-4  # one factor per image
    assert 0.9 - 1e-4 <= float(factors.min()) and float(factors.max()) <= 1.1 + 1e-4
    assert float(factors.std()) > 0.02  # and the factors differ between images


def test_default_config_changes_images_but_stays_in_range(images):
    out = _run(images, AugmentConfig())
    assert out.shape == images.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert float((out - images).abs().mean()) > 0.01


def test_the_generator_seed_decides_everything(images):
    torch.testing.assert_close(_run(images, AugmentConfig(), 3), _run(images, AugmentConfig(), 3))
    assert not torch.equal(_run(images, AugmentConfig(), 3), _run(images, AugmentConfig(), 4))


def test_images_on_another_device_are_augmented_there():
    # The SGAN augments its fakes on the training device; the meta device stands in
    # for cuda/mps here (no GPU on CI): a CPU grid or factor would raise a device error.
    images = torch.empty(4, 3, 32, 32, device="meta")
    out = augment(images, AugmentConfig(), torch.Generator().manual_seed(0))
    assert out.device.type == "meta" and out.shape == images.shape
    assert normalize(out * 255.0, [0.5] * 3, [0.2] * 3).device.type == "meta"


def test_rotations_go_both_ways_without_flips():
    config = dataclasses.replace(OFF, rotation_degrees=90.0)
    sin = affine_matrices(256, config, torch.Generator().manual_seed(0))[:, 1, 0]
    assert (sin > 0.1).any() and (sin < -0.1).any()


def test_crop_ratio_sets_the_aspect_of_the_kept_area():
    config = dataclasses.replace(OFF, crop_scale=(0.5, 0.5), crop_ratio=(0.5, 0.5))
    theta = affine_matrices(4, config, torch.Generator().manual_seed(0))
    torch.testing.assert_close(theta[:, 0, 0], torch.full((4,), 0.5))  # sqrt(0.5 * 0.5)
    torch.testing.assert_close(theta[:, 1, 1], torch.full((4,), 1.0))  # sqrt(0.5 / 0.5)


def test_rotated_corners_are_filled_by_reflection_not_black():
    flat = torch.full((8, 3, 32, 32), 0.7)
    out = _run(flat, dataclasses.replace(OFF, rotation_degrees=180.0))
    torch.testing.assert_close(out, flat)


def test_contrast_keeps_each_images_own_mean():
    dark_and_light = torch.cat([torch.full((1, 3, 32, 32), 0.2), torch.full((1, 3, 32, 32), 0.8)])
    out = _run(dark_and_light, dataclasses.replace(OFF, contrast=0.5))
    torch.testing.assert_close(out, dark_and_light)  # a flat image has no contrast to scale


def test_saturation_alone_scales_each_pixels_distance_from_its_grey():
    """Saturation draws its own factors: with contrast off it still changes colour, and a
    grey image (no colour to scale) stays as it was."""
    coloured = torch.tensor([0.6, 0.4, 0.3]).view(1, 3, 1, 1).expand(4, 3, 8, 8)
    grey = torch.full((1, 3, 8, 8), 0.5)
    out = _run(torch.cat([coloured, grey]), dataclasses.replace(OFF, saturation=0.5))
    assert float((out[:4] - coloured).abs().amax()) > 0.01
    torch.testing.assert_close(out[4:], grey, atol=1e-4, rtol=0)  # grey weights sum to 0.9999
