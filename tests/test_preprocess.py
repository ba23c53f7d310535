import numpy as np
import pytest
import torch

from melanoma.errors import UserError
from melanoma.preprocess import (
    area_weights,
    channel_stats,
    crop_and_resize,
    image_to_input,
    normalize,
    square_crop_box,
    to_uint8,
)


def test_area_weights_rows_sum_to_one_and_cover_each_source_pixel_once():
    for src in (32, 33, 50, 64, 100, 4000):
        weights = area_weights(src)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(weights.sum(axis=0) * src / 32, 1.0, atol=1e-9)


def test_area_resize_of_exact_multiple_is_block_mean():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = image.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(crop_and_resize(image), expected, atol=1e-9)


def test_area_resize_fractional_case_by_hand():
    # 48 -> 32: output pixel 0 covers source [0, 1.5): (p0 * 1 + p1 * 0.5) / 1.5
    row = np.arange(48, dtype=np.float64)
    image = np.broadcast_to(row[None, :, None], (48, 48, 3)).astype(np.uint8)
    out = crop_and_resize(image)
    assert out[0, 0, 0] == pytest.approx((0 * 1 + 1 * 0.5) / 1.5)
    assert out[0, 1, 0] == pytest.approx((1 * 0.5 + 2 * 1) / 1.5)


@pytest.mark.parametrize("height, width", [(301, 450), (1000, 999), (33, 40)])
def test_area_resize_is_the_separable_product_of_the_overlap_weights(height, width):
    """R @ img @ R.T per channel, whatever order the implementation sums in to save memory."""
    image = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    top, left, side = square_crop_box(height, width)
    square = image[top : top + side, left : left + side].astype(np.float64)
    weights = area_weights(side)
    expected = np.stack([weights @ square[..., c] @ weights.T for c in range(3)], axis=-1)
    np.testing.assert_allclose(crop_and_resize(image), expected, rtol=0, atol=1e-9)


def test_centre_crop_box_for_landscape_and_portrait():
    assert square_crop_box(480, 640) == (0, 80, 480)
    assert square_crop_box(4000, 3000) == (500, 0, 3000)
    assert square_crop_box(33, 32) == (0, 0, 32)


def test_crop_uses_the_centre_square():
    image = np.zeros((32, 96, 3), dtype=np.uint8)
    image[:, 32:64] = 200  # only the centre square is bright
    assert crop_and_resize(image).min() == 200


def test_too_small_image_is_refused():
    with pytest.raises(ValueError, match="too small"):
        crop_and_resize(np.zeros((31, 500, 3), dtype=np.uint8))


def test_image_to_input_matches_normalize_for_a_32px_image():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mean, std = [0.7, 0.5, 0.55], [0.15, 0.2, 0.2]
    direct = normalize(torch.from_numpy(image).permute(2, 0, 1)[None], mean, std)
    got = image_to_input(image, mean, std)
    assert got.shape == (1, 3, 32, 32) and got.dtype == torch.float32
    torch.testing.assert_close(got, direct)


def test_channel_stats_on_known_values():
    images = torch.zeros(2, 3, 2, 2, dtype=torch.uint8)
    images[1] = 255
    mean, std = channel_stats(images)
    assert mean == [0.5, 0.5, 0.5]
    assert std[0] == pytest.approx(np.std([0] * 4 + [1] * 4, ddof=1), abs=1e-6)


def test_channel_stats_refuse_a_channel_with_one_value():
    """Normalizing by a zero std turns every input into NaN, which training would report
    as a divergence no seed or learning rate can cure."""
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    images[:, 2] = 100
    with pytest.raises(UserError, match="blue channel has one value in every pixel"):
        channel_stats(images)


def test_stored_pixels_round_to_the_nearest_level_half_up():
    """The data sets keep resized images as uint8: each value moves by at most half a level."""
    resized = np.array([0.2, 0.5, 1.49, 1.5, 254.5, 254.6, -0.4, 300.0])
    assert to_uint8(resized).tolist() == [0, 1, 1, 2, 255, 255, 0, 255]
    smooth = np.random.default_rng(0).uniform(0, 255, (32, 32, 3))
    assert np.abs(to_uint8(smooth) - smooth).max() <= 0.5


def test_normalize_by_hand():
    """Here, not only through the slow export suite: a wrong formula shared by normalize
    and image_to_input passes their comparison above."""
    # (value / 255 - mean) / std per channel: 255 -> (1 - 0.5) / 0.25 = 2, 0 -> -2,
    # 51 -> (0.2 - 0.5) / 0.25 = -1.2; blue channel mean 0.2, std 0.1: 51 -> 0.
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 1, 1, 3).expand(1, 3, 1, 3)
    out = normalize(images, [0.5, 0.5, 0.2], [0.25, 0.5, 0.1])
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([-2.0, -1.2, 2.0]))
    torch.testing.assert_close(out[0, 1, 0], torch.tensor([-1.0, -0.6, 1.0]))
    torch.testing.assert_close(out[0, 2, 0], torch.tensor([-2.0, 0.0, 8.0]))


def test_image_to_input_by_hand_for_a_flat_photo():
    # A flat 64x48 photo of (255, 51, 0): every output pixel is (2, -1.2, -2).
    photo = np.empty((48, 64, 3), dtype=np.uint8)
    photo[...] = (255, 51, 0)
    got = image_to_input(photo, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    assert got.shape == (1, 3, 32, 32)
    for c, value in enumerate((2.0, -1.2, -2.0)):
        torch.testing.assert_close(got[0, c], torch.full((32, 32), value))
