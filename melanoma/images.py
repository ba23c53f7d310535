"""Decode any JPEG/PNG into the 32x32 uint8 RGB the models take."""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from melanoma import png_colour
from melanoma.errors import first_line
from melanoma.preprocess import IMAGE_SIZE, crop_and_resize, to_uint8
from melanoma.sources import DataError, FileSource

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# MPO: the multi-picture JPEG many phone cameras write; Pillow names it apart.
IMAGE_FORMATS = ("JPEG", "MPO", "PNG")
# Phone photos reach 50-108 MP (200 MP sensors bin to those by default); above that is a
# decompression bomb or a 200 MP mode's 16320x12240 photo, which the message names too.
# Pillow refuses from 179 MP (twice its MAX_IMAGE_PIXELS, process-wide) as it opens the
# file; both say the same to the user.
MAX_PIXELS = 170_000_000
_TOO_LARGE = (
    f"over {MAX_PIXELS // 10**6} megapixels: a decompression bomb, or a photo taken in a "
    "200 MP camera mode (take it at 50 MP or less)"
)
# Modes whose embedded ICC profile is applied; 16-bit grey ("I;16") keeps its values.
ICC_MODES = ("RGB", "RGBA", "L", "LA", "CMYK", "P", "PA")
log = logging.getLogger(__name__)


def decode_rgb(data: bytes, where: str) -> np.ndarray:
    """Decode image bytes in any mode (L, P, RGBA, CMYK, ...) to (H, W, 3) uint8 RGB."""
    if not data:
        raise DataError(f"{where}: empty file")
    try:
        with warnings.catch_warnings(record=True) as pillow_warnings:
            warnings.simplefilter("always")
            # Pillow warns from 89 MP, below real phone photos; MAX_PIXELS is the limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                _refuse_other_formats(image, where)
                _key_colour_in_8_bits(image)
                if image.width * image.height > MAX_PIXELS:
                    raise DataError(f"{where}: {image.width}x{image.height} is {_TOO_LARGE}")
                image.load()
                # Camera photos store orientation in EXIF; the app applies it too. In place,
                # and no conversion of what is already RGB: each copy of a 100 MP photo
                # costs 400 MB.
                # The EXIF tag only: Pillow would fall back to an orientation in XMP
                # metadata, or in a PNG text chunk as ImageMagick writes EXIF, neither of
                # which Android's ExifInterface reads (it reads a PNG's eXIf chunk).
                for key in ("xmp", "XML:com.adobe.xmp", "Raw profile type exif"):
                    image.info.pop(key, None)
                # Pillow's JPEG loader already read the EXIF as it opened the file, XMP
                # orientation included when EXIF has none: read it again without.
                image._exif = None
                image.getexif()
                # exif_transpose writes the EXIF back without its orientation, and that
                # write fails (struct.error, a traceback) on a tag whose value is not of
                # the type Pillow expects for it, which a phone's decoder ignores. Nothing
                # reads the written EXIF: drop it, and the orientation read above is used.
                image.info.pop("exif", None)
                ImageOps.exif_transpose(image, in_place=True)
                image = _in_srgb(image, where)
                plain = image.mode == "RGB" and "transparency" not in image.info
                rgb = image if plain else _to_rgb(image)
                pixels = np.asarray(rgb, dtype=np.uint8)
        _log_warnings(pillow_warnings, where)
    except UnidentifiedImageError:
        raise DataError(f"{where}: not a readable image (unrecognized format)") from None
    except Image.DecompressionBombError:
        raise DataError(f"{where}: {_TOO_LARGE}") from None
    except (OSError, SyntaxError, ValueError, NotImplementedError) as err:  # NotImplemented:
        # Pillow's answer to pixel formats it identifies but cannot decode (e.g. some DDS)
        if isinstance(err, DataError):
            raise
        raise DataError(f"{where}: truncated or corrupt image ({first_line(err)})") from None
    return pixels


def _refuse_other_formats(image: Image.Image, where: str) -> None:
    """Only what the name promises: a TIFF, BMP or WebP saved as .jpg decodes differently
    on a phone, if at all, and Pillow's TIFF reader fails outright on the EXIF step."""
    if image.format not in IMAGE_FORMATS:
        raise DataError(f"{where}: a {image.format} image; only JPEG and PNG are read")


# A 2- or 4-bit grey PNG's levels, as Pillow scales them to 8 bits
LOW_GREY_SCALE = {"L;2": 255 // 3, "L;4": 255 // 15}


def _key_colour_in_8_bits(image: Image.Image) -> None:
    """A PNG's tRNS key as the 8-bit values Pillow decodes its pixels to.

    Pillow keeps a 16-bit colour channel's high byte and scales 2- and 4-bit grey to
    0..255, but keeps the key as stored, so convert("RGBA") compared the two: the key
    colour stayed opaque, and (16-bit colour) an opaque pixel whose high bytes equal the
    key's raw numbers, (0, 0, 255) for a key of (0, 0, 255), turned white. High bytes
    match the key's pixels (and, unlike Android's 16-bit compare, the few within 1/256 of
    it). Called before load(), while the tile still names the bit depth."""
    key = image.info.get("transparency")
    if image.format != "PNG" or key is None:
        return
    rawmodes = {str(tile.args) for tile in image.tile}  # how Pillow unpacks the stored rows
    if image.mode == "RGB" and isinstance(key, tuple) and "RGB;16B" in rawmodes:
        image.info["transparency"] = tuple(value >> 8 for value in key)
    elif image.mode == "L" and isinstance(key, int) and len(rawmodes) == 1:
        scale = LOW_GREY_SCALE.get(rawmodes.pop())
        if scale is not None:
            image.info["transparency"] = key * scale


def _log_warnings(caught: list[warnings.WarningMessage], where: str) -> None:
    """Pillow's warnings (corrupt EXIF, say) name neither the file nor what was done about
    it, and print as two lines of its source; one line each, naming the file, instead."""
    for message in dict.fromkeys(first_line(w.message) for w in caught):
        log.warning("%s: %s (decoded anyway)", where, message)


def _in_srgb(image: Image.Image, where: str) -> Image.Image:
    """The image with its embedded ICC profile (Display P3 from many phones, say) applied:
    sRGB values, as Android 8+ gives the app. Without a profile, a PNG's gAMA and cHRM
    chunks are applied as Android applies them (melanoma.png_colour); otherwise the values
    are taken as sRGB. Colorimetric, and clipped where the gamut is wider, as Android's
    conversion is."""
    space = png_colour.colour_space(image)  # None with an ICC profile
    if space is not None:
        return png_colour.in_srgb(_rgb_or_rgba(image), space)
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ICC_MODES:
        return image
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        alpha = None
        if _has_alpha(image) and source.profile.xcolor_space.strip() == "GRAY":
            # LittleCMS builds no transform from a grey profile to RGBA (converted first, the
            # profile was dropped as unreadable): the grey channel alone, its alpha put back.
            grey, alpha = image.convert("LA").split()  # a tRNS key colour becomes alpha
        elif image.mode not in ("RGB", "RGBA", "L", "CMYK") or (
            _has_alpha(image) and image.mode != "RGBA"  # keep a tRNS key colour as alpha
        ):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        srgb = ImageCms.profileToProfile(
            image if alpha is None else grey,
            source,
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGBA" if image.mode == "RGBA" else "RGB",
        )
        if alpha is not None:
            srgb.putalpha(alpha)
        return srgb
    except (OSError, ImageCms.PyCMSError) as err:
        # Android ignores a profile it cannot read too, and decodes the values as stored.
        log.warning("%s: colour profile ignored, unreadable (%s)", where, first_line(err))
        return image


def _rgb_or_rgba(image: Image.Image) -> Image.Image:
    """RGBA if it has transparency (a tRNS key colour becomes alpha), else RGB; as it is if
    already so, since each copy of a 100 MP photo costs 400 MB."""
    if image.mode not in ICC_MODES:  # 16-bit grey: scaled to 8 bits first
        return _to_rgb(image)
    mode = "RGBA" if _has_alpha(image) else "RGB"
    if image.mode == mode and "transparency" not in image.info:
        return image
    return image.convert(mode)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit grayscale (PNG): Pillow's convert() clips to 255, turning it white.
        # Rescale 0..65535 to 0..255 (257 * v maps back to v exactly), rounding to nearest:
        # (v + 128) // 257, in integers and in place. Float64 copies took 24 bytes a pixel,
        # 4 GB for a 330 KB PNG of 169 MP (under the pixel limit).
        levels = np.asarray(image)  # uint16; int32 in mode I, which older Pillows gave
        in_range = levels if levels.dtype == np.uint16 else np.clip(levels, 0, 65535)
        scaled = in_range.astype(np.uint32)
        scaled += 128
        scaled //= 257
        gray = scaled.astype(np.uint8)
        del scaled
        if "transparency" in image.info:  # a tRNS key: transparent, so white (as below)
            gray[levels == image.info["transparency"]] = 255
        return Image.fromarray(gray, "L").convert("RGB")
    if _has_alpha(image):
        # Composite on white: transparent regions of a cut-out photo are background. Also a
        # PNG's tRNS key colour in RGB or L mode, which Android's decoder turns into alpha.
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def load_image_32(data: bytes, where: str) -> np.ndarray:
    """Decode, square-crop and area-resize to (32, 32, 3) uint8, per melanoma.preprocess."""
    rgb = decode_rgb(data, where)
    if rgb.shape[:2] == (IMAGE_SIZE, IMAGE_SIZE):
        return rgb
    try:
        return to_uint8(crop_and_resize(rgb))
    except ValueError as err:
        raise DataError(f"{where}: {err}") from None


def stack_32(
    source: FileSource, names: list[str], skipped: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """(N, 3, 32, 32) uint8 of the images that decode, and their names; a broken one is
    raised, or with `skipped` warned of and listed there. Filled in place: an array list,
    its stack and a channels-first copy took 3.5 times the set (511 MB for 148 of pixels)."""
    images = np.empty((len(names), 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    kept = []
    for name in names:
        try:
            pixels = load_image_32(source.read(name), source.describe(name))
        except DataError as err:
            if skipped is None:
                raise
            log.warning("skipping broken unlabeled image: %s", err)
            skipped.append(str(err))
            continue
        images[len(kept)] = pixels.transpose(2, 0, 1)
        kept.append(name)
    if len(kept) < len(names):  # in place: a copy would double the peak, a view keep the room
        images.resize((len(kept), *images.shape[1:]))
    return images, kept
