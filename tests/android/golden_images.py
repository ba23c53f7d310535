"""The JPEG and PNG files the app's decoder must read or refuse as Python does (its
CompleteImageParityTest, through the write_cut_goldens fixture): real test photos, files
saved with the options phones use, PNG chunk layouts built by hand, and broken files."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageCms

from melanoma.images import decode_rgb
from melanoma.sources import DataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADAM7 = [  # (first column, first row, column step, row step) of each pass
    (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
    (0, 1, 1, 2),
]  # fmt: skip


def python_reads(data: bytes) -> bool:
    try:
        decode_rgb(data, "cut")
    except DataError:
        return False
    return True


def jpeg_variants(archive: zipfile.ZipFile, image: Image.Image) -> dict[str, bytes]:
    """Real JPEGs as they are, and a lesion written with the options phones use."""
    files = {
        f"real_{member.rsplit('/', 1)[1]}": archive.read(f"MelanomaDetection/{member}")
        # 22_1.jpg: Pillow reads it without its end marker (the README's allowed difference)
        for member in ("test/0_1.jpg", "test/22_1.jpg", "test/450_0.jpg", "labeled/2_0.jpg")
    }
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for name, picture, options in [
        ("progressive", image, {"progressive": True}),
        ("restart_markers", image, {"restart_marker_blocks": 3}),
        ("exif_icc", image, {"exif": exif.tobytes(), "icc_profile": srgb}),
        ("quality_95", image, {"quality": 95}),
        ("cmyk", image.convert("CMYK"), {}),
        ("grey", image.convert("L"), {}),
    ]:
        files[f"{name}.jpg"] = _saved(picture, "JPEG", **options)
    files["trailer_after_end.jpg"] = files["real_0_1.jpg"] + b"\0\0SEFH data phones append"
    return files


def png_variants(image: Image.Image) -> dict[str, bytes]:
    """PNGs as Pillow writes them, and chunk layouts it does not write, built by hand."""
    files = {}
    # bilevel: zlib still holds the last rows when the input runs out, which Pillow refuses
    for name, mode in [("rgb", "RGB"), ("palette", "P"), ("grey_alpha", "LA"), ("bilevel", "1")]:
        files[f"{name}.png"] = _saved(image.convert(mode), "PNG")
    grey16 = Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)
    files["grey16.png"] = _saved(grey16, "PNG")
    # Pillow stops reading an animated PNG at its second frame
    files["animated.png"] = _saved(image, "PNG", save_all=True, append_images=[image.rotate(90)])
    pixels = np.asarray(image)
    for height, width in [(48, 64), (1, 1), (2, 9), (9, 2)]:
        files[f"adam7_{width}x{height}.png"] = _rgb_png(pixels[:height, :width], interlaced=True)
    text = _png_chunk(b"tEXt", b"Comment\0" + b"written after the image data" * 2)
    files["text_after_idat.png"] = _rgb_png(pixels, after=text)
    packed = zlib.compress(_filtered_rows(pixels), 9)
    chunks = [packed[i : i + 97] for i in range(0, len(packed), 97)]
    files["many_idats.png"] = _rgb_png(pixels, idats=chunks)
    # zlib's 2-byte header alone in the first IDAT: inflating it yields nothing, and that is fine
    files["header_alone_in_first_idat.png"] = _rgb_png(pixels, idats=[packed[:2], packed[2:]])
    bilevel = files["bilevel.png"]
    start, stop = bilevel.index(b"IDAT") + 4, bilevel.index(b"IEND") - 8
    tiny = [_png_chunk(b"IDAT", bilevel[i : min(i + 7, stop)]) for i in range(start, stop, 7)]
    files["bilevel_7_byte_idats.png"] = bilevel[: start - 8] + b"".join(tiny) + PNG_END
    return files


def broken_files(image: Image.Image) -> dict[str, bytes]:
    """Whole files Python refuses: an unknown JPEG marker in a scan, corrupt compressed PNG rows
    (Pillow checks no Adler-32, but it checks each row's filter type), a bad PNG checksum."""
    jpeg = _saved(image, "JPEG", progressive=True)
    scan = jpeg.index(b"\xff\xda") + 40  # inside the first scan's data
    pixels = np.asarray(image)
    flipped = bytearray(zlib.compress(_filtered_rows(pixels), 9))
    flipped[40] ^= 0x55
    unknown_filter = bytearray(_filtered_rows(pixels))
    unknown_filter[5 * (1 + 3 * pixels.shape[1])] = 5  # row 5's filter byte
    text = bytearray(_png_chunk(b"tEXt", b"Comment\0before the image data"))
    text[-1] ^= 1
    return {
        "unknown_marker_in_scan.jpg": jpeg[:scan] + b"\xff\x02" + jpeg[scan:],
        "flipped_byte.png": _rgb_png(pixels, idats=[bytes(flipped)]),
        "row_filter_5.png": _rgb_png(pixels, idats=[zlib.compress(bytes(unknown_filter), 0)]),
        "bad_checksum_before_idat.png": _rgb_png(pixels, before=bytes(text)),
    }


def _filtered_rows(pixels: np.ndarray, interlaced: bool = False) -> bytes:
    """The rows a PNG compresses: filter type 0 (none) before each, per Adam7 pass if any."""
    passes = ADAM7 if interlaced else [(0, 0, 1, 1)]
    return b"".join(
        b"\0" + row.tobytes()
        for x0, y0, dx, dy in passes
        for row in pixels[y0::dy, x0::dx]
        if row.size  # a pass with no column has no rows
    )


def _rgb_png(pixels: np.ndarray, interlaced=False, idats=None, before=b"", after=b"") -> bytes:
    """An 8-bit RGB PNG built chunk by chunk: IHDR, `before`, the IDATs (by default one holding
    all the compressed rows), `after`, IEND."""
    height, width = pixels.shape[:2]
    fields = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, int(interlaced))
    if idats is None:
        idats = [zlib.compress(_filtered_rows(pixels, interlaced), 9)]
    data = b"".join(_png_chunk(b"IDAT", idat) for idat in idats)
    return PNG_SIGNATURE + _png_chunk(b"IHDR", fields) + before + data + after + PNG_END


def _saved(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_END = _png_chunk(b"IEND", b"")
