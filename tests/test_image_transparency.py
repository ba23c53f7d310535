"""Transparency in decode_rgb: alpha and tRNS key colours become white, as on Android, in
every bit depth Pillow decodes differently from how the file stores its key."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from melanoma.images import decode_rgb


def test_transparent_pixels_become_white(png_bytes):
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)  # fully transparent black
    rgb = decode_rgb(png_bytes(rgba, "RGBA"), "clear.png")
    assert rgb.min() == 255


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_png_transparent_key_colour_becomes_white_as_on_android(mode):
    """tRNS in an RGB or grey PNG: Android's decoder makes that colour transparent."""
    pixels = np.full((4, 4, 3), 90, dtype=np.uint8)
    pixels[0, 0] = 10
    image = Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=(10, 10, 10) if mode == "RGB" else 10)
    rgb = decode_rgb(buffer.getvalue(), "key.png")
    assert rgb[0, 0].tolist() == [255, 255, 255] and (rgb[1:] == 90).all()


def test_a_16_bit_grey_png_transparent_key_becomes_white_too():
    levels = np.full((4, 4), 30000, dtype=np.uint16)
    levels[0, 0] = 33153
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, "PNG", transparency=33153)
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        assert image.mode.startswith("I") and image.info["transparency"] == 33153
    rgb = decode_rgb(buffer.getvalue(), "key16.png")
    assert rgb[0, 0].tolist() == [255, 255, 255] and (rgb.reshape(-1, 3)[1:] == 117).all()


def test_transparent_pixels_of_a_grey_and_alpha_png_become_white(png_bytes):
    cutout = png_bytes(np.zeros((8, 8, 2), dtype=np.uint8), "LA")
    assert Image.open(io.BytesIO(cutout)).mode == "LA"  # transparent black
    assert decode_rgb(cutout, "cutout.png").min() == 255


@pytest.fixture
def one_row_png(png_from_chunks):
    """A 1-pixel-high PNG with a tRNS key colour, written byte by byte (Pillow would not)."""

    def write(width: int, bits: int, colour_type: int, key: bytes, row: bytes) -> bytes:
        header = struct.pack(">IIBBBBB", width, 1, bits, colour_type, 0, 0, 0)
        idat = zlib.compress(b"\x00" + row)
        return png_from_chunks((b"IHDR", header), (b"tRNS", key), (b"IDAT", idat), (b"IEND", b""))

    return write


def test_a_16_bit_colour_png_key_colour_is_transparent_and_only_it(one_row_png):
    """Pillow decodes 16-bit channels to their high byte but keeps the tRNS key in 16 bits."""
    key = (0x0000, 0x0000, 0x00FF)  # decodes to (0, 0, 0)
    opaque = (0x0000, 0x0000, 0xFF00)  # decodes to (0, 0, 255): the key's 16-bit numbers
    row = struct.pack(">6H", *key, *opaque)
    png = one_row_png(2, 16, 2, struct.pack(">3H", *key), row)
    rgb = decode_rgb(png, "key16.png")
    assert rgb[0].tolist() == [[255, 255, 255], [0, 0, 255]]  # the key alone is white


@pytest.mark.parametrize(("bits", "level"), [(2, 85), (4, 17)])
def test_a_low_bit_depth_grey_png_key_is_transparent(bits, level, one_row_png):
    """Pillow scales 2- and 4-bit grey to 0..255 but keeps the tRNS key as stored (1)."""
    row = bytes([(1 << (8 - bits)) | (2 << (8 - 2 * bits))])  # levels 1, 2
    rgb = decode_rgb(one_row_png(2, bits, 0, struct.pack(">H", 1), row), "grey.png")
    assert rgb[0, :, 0].tolist() == [255, 2 * level]  # level 1 is the key: white
