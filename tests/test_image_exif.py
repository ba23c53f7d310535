"""EXIF a phone or editor writes that Pillow reads but cannot write back."""

import io
import struct

import numpy as np
from PIL import Image

from melanoma.images import decode_rgb

ORIENTATION, SHORT, ASCII = 0x0112, 3, 2
T6_OPTIONS = 293  # a LONG in Pillow's tag table


def _exif(tags: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian TIFF IFD of (tag, type, count, value); longer values after it."""
    entries, data = b"", b""
    start = 8 + 2 + 12 * len(tags) + 4
    for tag, kind, count, value in tags:
        if len(value) <= 4:
            entries += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            entries += struct.pack("<HHII", tag, kind, count, start + len(data))
            data += value
    ifd = struct.pack("<H", len(tags)) + entries + b"\0\0\0\0" + data
    return b"Exif\0\0II*\0" + struct.pack("<I", 8) + ifd


def test_an_exif_tag_of_an_unexpected_type_still_turns_the_photo():
    """exif_transpose wrote the EXIF back without its orientation and raised struct.error
    on a LONG tag holding text: a traceback (exit 1) from predict, and from training on
    any labeled or unlabeled photo like it."""
    pixels = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    exif = _exif(
        [(ORIENTATION, SHORT, 1, struct.pack("<H", 6)), (T6_OPTIONS, ASCII, 6, b"Canon\0")]
    )
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", exif=exif)
    decoded = decode_rgb(buffer.getvalue(), "odd.png")
    np.testing.assert_array_equal(decoded, np.rot90(pixels, k=-1))  # orientation 6 applied
