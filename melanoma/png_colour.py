"""A PNG's gAMA and cHRM chunks applied the way Android's decoder applies them.

Pillow reads both chunks into `image.info` and applies neither. Android does. Without an
ICC profile or an sRGB chunk, Skia's PNG codec (SkPngCodec, read_color_profile) builds the
file's colour space from gAMA, a pure power curve, and from cHRM, the primaries and white
point Bradford-adapted to D50, with sRGB's curve or gamut standing in for whichever chunk
is missing. BitmapFactory then converts to the sRGB the app asks for. A "gamma 2.2" PNG
(gAMA 45455, as many encoders write) differs from sRGB's curve in the shadows: level 10
becomes 3 and level 30 becomes 24, the dark pixels of a mole.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

# skcms's sRGB profile, RGB -> XYZ (D50): the destination of the conversion.
SRGB_TO_XYZ_D50 = np.array(
    [
        [0.436065674, 0.385147095, 0.143066406],
        [0.222488403, 0.716873169, 0.060607910],
        [0.013916016, 0.097076416, 0.714096069],
    ]
)
D50_WHITE = np.array([0.96422, 1.0, 0.82521])
BRADFORD = np.array(  # XYZ -> cone responses, for adapting the white point
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)
# libpng ignores a gAMA outside this range (png_colorspace_check_gamma), in 1/100000.
GAMMA_RANGE = (16, 625_000_000)
PIXELS_PER_CHUNK = 1 << 20  # float32 work in slices: a 100 MP photo would need 1.2 GB at once


class ColourSpace(NamedTuple):
    exponent: float | None  # linear = value ** exponent; None: sRGB's curve
    to_xyz_d50: np.ndarray | None  # RGB -> XYZ (D50); None: sRGB's gamut


def colour_space(image: Image.Image) -> ColourSpace | None:
    """What a PNG's gAMA and cHRM state, as Skia reads them; None when its values are to be
    taken as they are (not a PNG, an sRGB chunk, neither chunk usable) or an ICC profile
    says it instead."""
    info = image.info
    if image.format != "PNG" or "icc_profile" in info or "srgb" in info:
        return None  # an ICC profile is applied elsewhere; an sRGB chunk wins over both
    space = ColourSpace(_decoding_exponent(info), _to_xyz_d50(info))
    return None if space.exponent is None and space.to_xyz_d50 is None else space


def in_srgb(image: Image.Image, space: ColourSpace) -> Image.Image:
    """An RGB or RGBA image's colour converted from `space` to sRGB values; alpha kept."""
    exponent, to_xyz = space
    has_alpha = image.mode == "RGBA"
    if to_xyz is None:  # the gamut is sRGB's: each channel on its own, one lookup table
        table = _srgb_levels(_decoded(np.arange(256) / 255, exponent)).tolist()
        return image.point(table * 3 + (list(range(256)) if has_alpha else []))
    pixels = np.array(image)
    flat = pixels.reshape(-1, pixels.shape[-1])  # a view: RGB or RGBA rows, written in place
    linear_levels = _decoded(np.arange(256) / 255, exponent).astype(np.float32)
    to_srgb = (np.linalg.inv(SRGB_TO_XYZ_D50) @ to_xyz).T.astype(np.float32)
    for start in range(0, len(flat), PIXELS_PER_CHUNK):
        part = flat[start : start + PIXELS_PER_CHUNK, :3]
        part[:] = _srgb_levels(linear_levels[part] @ to_srgb)
    return Image.fromarray(pixels, image.mode)


def _decoding_exponent(info: dict) -> float | None:
    """Skia's curve for gAMA: linear = value ** (1 / gamma); None: sRGB's curve."""
    gamma = info.get("gamma")
    if gamma is None or not GAMMA_RANGE[0] <= round(gamma * 100_000) <= GAMMA_RANGE[1]:
        return None
    return 1 / gamma


def _to_xyz_d50(info: dict) -> np.ndarray | None:
    """skcms_PrimariesToXYZD50 of cHRM; None (sRGB's gamut) without one, or for one it refuses."""
    values = info.get("chromaticity")
    if values is None or len(values) != 8 or not all(0 <= v <= 1 for v in values):
        return None
    wx, wy, rx, ry, gx, gy, bx, by = values
    primaries = np.array([[rx, gx, bx], [ry, gy, by], [1 - rx - ry, 1 - gx - gy, 1 - bx - by]])
    if wy == 0 or abs(np.linalg.det(primaries)) < 1e-9:
        return None
    white = np.array([wx / wy, 1, (1 - wx - wy) / wy])
    to_xyz = primaries * (np.linalg.inv(primaries) @ white)  # columns scaled to sum to white
    cone_scale = (BRADFORD @ D50_WHITE) / (BRADFORD @ white)
    adapt = np.linalg.inv(BRADFORD) @ np.diag(cone_scale) @ BRADFORD
    return adapt @ to_xyz


def _decoded(values: np.ndarray, exponent: float | None) -> np.ndarray:
    if exponent is not None:
        return values**exponent
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _srgb_levels(linear: np.ndarray) -> np.ndarray:
    """sRGB-encoded 8-bit levels, clipped to the gamut, rounded half up as skcms stores them."""
    v = np.clip(linear, 0, 1)
    encoded = np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.floor(encoded * 255 + 0.5).astype(np.uint8)
