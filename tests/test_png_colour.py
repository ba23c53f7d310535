"""gAMA and cHRM chunks of PNGs without an ICC profile, converted to sRGB as Android does."""

import io
import struct

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from melanoma import png_colour
from melanoma.images import decode_rgb

GAMMA_22 = struct.pack(">I", 45455)  # what many encoders write: file gamma 1/2.2
# White D65, then red, green, blue (x, y) in 1/100000: sRGB's primaries and Adobe RGB's.
SRGB_PRIMARIES = (31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)
ADOBE_PRIMARIES = (31270, 32900, 64000, 33000, 21000, 71000, 15000, 6000)
PROPHOTO_PRIMARIES = (34570, 35850, 73470, 26530, 15960, 84040, 3660, 10)  # white D50


def _png(pixels: np.ndarray, *chunks: tuple[bytes, bytes], **save) -> bytes:
    info = PngImagePlugin.PngInfo()
    for name, data in chunks:
        info.add(name, data)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", pnginfo=info, **save)
    return buffer.getvalue()


def _chrm(values) -> tuple[bytes, bytes]:
    return b"cHRM", struct.pack(">8I", *values)


def _levels(*values) -> np.ndarray:
    return np.array([[[v, v, v] for v in values]], dtype=np.uint8)


def test_gamma_22_darkens_the_shadows_as_android_decodes_it():
    # By hand: (10/255)^2.2 = 0.00079, sRGB-encoded 12.92 * 0.00079 * 255 = 2.6 -> 3;
    # (30/255)^2.2 = 0.00907 -> (1.055 * 0.00907^(1/2.4) - 0.055) * 255 = 23.9 -> 24.
    decoded = decode_rgb(_png(_levels(0, 10, 30, 60, 128, 255), (b"gAMA", GAMMA_22)), "g.png")
    assert decoded[0, :, 0].tolist() == [0, 3, 24, 57, 129, 255]
    assert (decoded == decoded[..., :1]).all()  # grey stays grey


@pytest.mark.parametrize(
    "chunks",
    [
        [(b"sRGB", b"\x00"), (b"gAMA", GAMMA_22)],
        [(b"gAMA", struct.pack(">I", 0))],
        [(b"gAMA", struct.pack(">I", 15))],  # would turn every pixel black
        [],
    ],
    ids=["srgb-chunk-wins", "gamma-0-ignored-as-by-libpng", "gamma-15-ignored-too", "no-chunks"],
)
def test_values_stay_as_stored_when_the_file_says_srgb_or_nothing(chunks):
    pixels = np.random.default_rng(0).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_rgb(_png(pixels, *chunks), "x.png"), pixels)


def test_an_icc_profile_wins_over_gamma():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels = _levels(10, 30, 60)
    decoded = decode_rgb(_png(pixels, (b"gAMA", GAMMA_22), icc_profile=srgb), "icc.png")
    assert np.abs(decoded.astype(int) - pixels).max() <= 1


def test_srgb_primaries_in_chrm_change_only_the_curve():
    pixels = np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    curve_only = decode_rgb(_png(pixels, (b"gAMA", GAMMA_22)), "g.png").astype(int)
    with_primaries = _png(pixels, (b"gAMA", GAMMA_22), _chrm(SRGB_PRIMARIES))
    assert np.abs(decode_rgb(with_primaries, "gc.png") - curve_only).max() <= 1
    # cHRM alone keeps sRGB's curve: sRGB's own primaries leave the values (nearly) alone.
    primaries_only = decode_rgb(_png(pixels, _chrm(SRGB_PRIMARIES)), "c.png").astype(int)
    assert np.abs(primaries_only - pixels).max() <= 1


# Linear RGB -> linear sRGB from Lindbloom's published RGB/XYZ matrices, not from the
# module's Bradford/D50 route. Adobe RGB (1998) and sRGB are both D65; ProPhoto's own white
# is D50, the white of the sRGB (D50) matrix, so it shows a cHRM's white point is read.
ADOBE_TO_SRGB = np.array([[1.39836, -0.39836, 0], [0, 1, 0], [0, -0.04293, 1.04293]])
PROPHOTO_TO_SRGB = np.array(
    [[3.1338561, -1.6168667, -0.4906146], [-0.9787684, 1.9161415, 0.0334540],
     [0.0719453, -0.2289914, 1.4052427]]
) @ np.array(
    [[0.7976749, 0.1351917, 0.0313534], [0.2880402, 0.7118741, 0.0000857], [0, 0, 0.8252100]]
)  # fmt: skip


@pytest.mark.parametrize(
    ("primaries", "to_srgb"),
    [(ADOBE_PRIMARIES, ADOBE_TO_SRGB), (PROPHOTO_PRIMARIES, PROPHOTO_TO_SRGB)],
    ids=["adobe-rgb-d65", "prophoto-d50"],
)
def test_primaries_convert_by_the_published_matrix(primaries, to_srgb):
    pixels = np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    v = pixels / 255
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)  # cHRM alone
    out = np.clip(linear @ to_srgb.T, 0, 1)
    encoded = np.where(out <= 0.0031308, out * 12.92, 1.055 * out ** (1 / 2.4) - 0.055)
    decoded = decode_rgb(_png(pixels, _chrm(primaries)), "rgb.png").astype(int)
    assert np.abs(decoded - np.round(encoded * 255)).max() <= 1
    assert np.abs(decoded - pixels).max() > 20  # far more than rounding


@pytest.mark.parametrize(
    "values",
    [
        (31270, 32900, 164000, 33000, 30000, 60000, 15000, 6000),  # red x = 1.64
        (31270, 32900, 30000, 30000, 30000, 30000, 30000, 30000),  # one point: no gamut
        (31270, 0, 64000, 33000, 30000, 60000, 15000, 6000),  # white y = 0: no white point
    ],
)
def test_chrm_skcms_refuses_is_ignored_not_applied(values):
    # Coloured pixels: a conversion that keeps white leaves greys as they are, so only
    # colours show whether a cHRM was applied.
    pixels = np.array([[[180, 90, 60], [60, 40, 30], [200, 160, 140]]], dtype=np.uint8)
    decoded = decode_rgb(_png(pixels, _chrm(values)), "bad.png")
    np.testing.assert_array_equal(decoded, pixels)


def test_transparency_is_kept_through_the_conversion_then_composited():
    rgba = np.array([[[30, 30, 30, 255], [30, 30, 30, 0], [30, 30, 30, 128]]], dtype=np.uint8)
    decoded = decode_rgb(_png(rgba, (b"gAMA", GAMMA_22)), "a.png")
    assert decoded[0, :, 0].tolist() == [24, 255, round(24 * 128 / 255 + 255 * 127 / 255)]


def test_primaries_convert_the_colour_of_transparent_pngs_too():
    pixels = np.random.default_rng(4).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    rgba = np.dstack([pixels, np.full((8, 8), 255, dtype=np.uint8)])
    as_rgb = decode_rgb(_png(pixels, _chrm(ADOBE_PRIMARIES)), "rgb.png")
    np.testing.assert_array_equal(decode_rgb(_png(rgba, _chrm(ADOBE_PRIMARIES)), "a.png"), as_rgb)


def test_16_bit_grey_is_scaled_to_8_bits_then_converted():
    levels = np.full((2, 2), 30 * 257, dtype=np.uint16)
    decoded = decode_rgb(_png(levels, (b"gAMA", GAMMA_22)), "g16.png")
    assert (decoded == 24).all()


def test_large_images_are_converted_in_slices_with_the_same_result(monkeypatch):
    pixels = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    data = _png(pixels, (b"gAMA", GAMMA_22), _chrm(ADOBE_PRIMARIES))
    whole = decode_rgb(data, "a.png")
    monkeypatch.setattr(png_colour, "PIXELS_PER_CHUNK", 7)
    np.testing.assert_array_equal(decode_rgb(data, "a.png"), whole)


def test_reading_gamma_22_moves_the_bundled_models_scores_on_the_test_photos(dataset):
    """The README's figures for why decode_rgb follows Android here: the 600 test photos
    re-saved as gamma-2.2 PNGs, read as Android reads them against the stored values (what
    Pillow alone, and so `melanoma predict` before 2026-12-05, gave)."""
    import torch

    from melanoma.checkpoint import load_checkpoint
    from melanoma.inference import predict_probs

    model = load_checkpoint("reference-supervised")
    mean, std, threshold = model.meta.mean, model.meta.std, model.meta.threshold("youden")
    stored = dataset.test.images  # (600, 3, 32, 32) uint8
    resaved = [_png(image.permute(1, 2, 0).numpy(), (b"gAMA", GAMMA_22)) for image in stored]
    android = torch.stack([torch.tensor(decode_rgb(png, "t.png")) for png in resaved])
    before = predict_probs(model.model, stored, mean, std)
    after = predict_probs(model.model, android.permute(0, 3, 1, 2), mean, std)
    moved = np.abs(after - before)
    assert (round(float(moved.max()), 3), round(float(moved.mean()), 3)) == (0.044, 0.004)
    assert np.count_nonzero((after >= threshold) != (before >= threshold)) == 3
