import io
import struct
import tracemalloc

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from melanoma.images import MAX_PIXELS, decode_rgb, load_image_32
from melanoma.preprocess import MIN_SIDE
from melanoma.sources import DataError


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "RGB"])
def test_any_mode_decodes_to_rgb(mode):
    image = Image.new("RGB", (40, 36), (200, 120, 90)).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    rgb = decode_rgb(_encode(image, fmt), f"x.{fmt.lower()}")
    assert rgb.shape == (36, 40, 3) and rgb.dtype == np.uint8


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_exif_orientation_is_applied_as_a_camera_means_it(mode):
    """Orientation 6: the sensor's rows are the photo's columns; shown rotated 90° clockwise."""
    pixels = np.random.default_rng(6).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)
    decoded = decode_rgb(buffer.getvalue(), "portrait.png")
    upright = np.asarray(image.convert("RGB"))
    assert decoded.shape == (50, 30, 3)
    np.testing.assert_array_equal(decoded, np.rot90(upright, k=-1))  # k=-1: clockwise


def test_16_bit_grayscale_png_keeps_its_tones(real_jpegs):
    name, data = next(iter(real_jpegs.items()))
    gray = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    sixteen = Image.fromarray(gray.astype(np.uint16) * 257)  # 0..255 -> 0..65535
    encoded = _encode(sixteen, "PNG")
    assert Image.open(io.BytesIO(encoded)).mode.startswith("I")  # really 16-bit on disk
    rgb = decode_rgb(encoded, "gray16.png")
    np.testing.assert_array_equal(rgb, np.repeat(gray[..., None], 3, axis=2))


def test_a_16_bit_grey_png_decodes_in_integers_every_level_rounded_to_nearest():
    """A 330 KB PNG of 169 MP, under the pixel limit, took 4 GB in float64 copies (24 bytes
    a pixel); every 16-bit level still maps to round(v / 257)."""
    levels = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    encoded = _encode(Image.fromarray(levels), "PNG")
    tracemalloc.start()
    try:
        rgb = decode_rgb(encoded, "gray16.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = np.round(levels / 257).astype(np.uint8)
    np.testing.assert_array_equal(rgb, np.repeat(expected[..., None], 3, axis=2))
    assert peak < 10 * levels.size  # uint16 levels, uint32 sums, uint8 grey and RGB


def test_real_jpeg_round_trip(real_jpegs):
    name, data = next(iter(real_jpegs.items()))
    image = load_image_32(data, name)
    assert image.shape == (32, 32, 3)
    np.testing.assert_array_equal(image, np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


def test_large_photo_is_area_resized(png_bytes):
    photo = np.full((480, 640, 3), 90, dtype=np.uint8)
    assert (load_image_32(png_bytes(photo), "photo.png") == 90).all()


def test_not_an_image_names_the_file():
    with pytest.raises(DataError, match=r"notes\.jpg: not a readable image"):
        decode_rgb(b"hello, not a jpeg", "notes.jpg")


def test_truncated_jpeg_names_the_file(real_jpegs):
    data = next(iter(real_jpegs.values()))
    with pytest.raises(DataError, match=r"cut\.jpg: truncated or corrupt"):
        decode_rgb(data[: len(data) // 2], "cut.jpg")


def test_decompression_bomb_is_refused_by_our_limit_with_its_size():
    side = int(MAX_PIXELS**0.5) + 100
    bomb = _encode(Image.new("L", (side, side)), "PNG")  # compresses to a few hundred KB
    with pytest.raises(DataError, match=rf"bomb.png: {side}x{side} is over 170 megapixels"):
        decode_rgb(bomb, "bomb.png")


def test_a_bomb_past_pillows_own_limit_gets_the_same_message(png_from_chunks):
    """Pillow refuses 179 MP and more as it opens the file, before our check sees it."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)  # 400 MP, 8-bit grey
    png = png_from_chunks((b"IHDR", header), (b"IDAT", b""))
    message = r"^huge.png: over 170 megapixels: a decompression bomb, or a photo taken in a 200 MP"
    with pytest.raises(DataError, match=message):
        decode_rgb(png, "huge.png")


def test_a_photo_over_pillows_warning_size_decodes():
    """Pillow warns from 89.5 MP; a 108 MP phone photo (here 90 MP) is not a bomb."""
    photo = _encode(Image.new("L", (9500, 9500), 128), "PNG")
    assert decode_rgb(photo, "big.png").shape == (9500, 9500, 3)


def test_identified_but_undecodable_pixel_format_is_a_data_error():
    # A DDS header with pixel-format flags 0: Pillow raises NotImplementedError.
    header = struct.pack(
        "<4s7I44x8I5I", b"DDS ", 124, 0x100F, 4, 4, 16, 0, 0,
        32, 0, 0, 24, 0xFF0000, 0xFF00, 0xFF, 0, 0x1000, 0, 0, 0, 0,
    )  # fmt: skip
    with pytest.raises(DataError, match="mole.png: truncated or corrupt"):
        decode_rgb(header + bytes(48), "mole.png")


def _profile_with_primaries(red, green, blue) -> bytes:
    """LittleCMS's sRGB profile with its colorant tags replaced: an RGB profile with the sRGB
    curve and other primaries (no ICC files ship with the test machine)."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    offsets = {}
    for i in range(count):
        signature, offset, _ = struct.unpack(">4sII", data[132 + 12 * i : 144 + 12 * i])
        offsets[signature] = offset
    for signature, xyz in ((b"rXYZ", red), (b"gXYZ", green), (b"bXYZ", blue)):
        data[offsets[signature] + 8 : offsets[signature] + 20] = struct.pack(
            ">3i", *(round(v * 65536) for v in xyz)
        )
    return bytes(data)


# Display P3 and sRGB colorants, adapted to the D50 white of ICC profiles
P3 = ((0.5151, 0.2412, -0.0011), (0.2919, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
SRGB = ((0.4360, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7139))


def _srgb_from_p3(values: np.ndarray) -> np.ndarray:
    """The conversion by hand: decode the sRGB curve, P3 -> XYZ -> sRGB, clip, encode."""
    v = values / 255
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    to_xyz, from_xyz = np.array(P3).T, np.linalg.inv(np.array(SRGB).T)
    out = np.clip(linear @ (from_xyz @ to_xyz).T, 0, 1)
    encoded = np.where(out <= 0.0031308, out * 12.92, 1.055 * out ** (1 / 2.4) - 0.055)
    return np.round(encoded * 255)


def test_an_embedded_colour_profile_is_applied_as_android_does():
    """Phones tag photos Display P3; Android 8+ hands the app sRGB values, so must we."""
    pixels = np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    untagged = decode_rgb(_encode(Image.fromarray(pixels), "PNG"), "plain.png")
    np.testing.assert_array_equal(untagged, pixels)  # no profile: the values are sRGB
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", icc_profile=_profile_with_primaries(*P3))
    converted = decode_rgb(buffer.getvalue(), "p3.png").astype(float)
    assert np.abs(converted - _srgb_from_p3(pixels.astype(float))).max() <= 2
    assert np.abs(converted - pixels).max() > 20  # far more than decoder rounding
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", icc_profile=_profile_with_primaries(*SRGB))
    assert np.abs(decode_rgb(buffer.getvalue(), "srgb.png").astype(int) - pixels).max() <= 1


def test_an_unreadable_colour_profile_is_ignored_with_a_warning(caplog):
    pixels = np.full((4, 4, 3), 120, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", icc_profile=b"not an icc profile")
    np.testing.assert_array_equal(decode_rgb(buffer.getvalue(), "odd.png"), pixels)
    assert "odd.png: colour profile ignored" in caplog.text


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("with_exif", [False, True], ids=["xmp-only", "exif-without-orientation"])
def test_an_orientation_only_in_xmp_metadata_is_ignored_as_on_android(fmt, with_exif):
    """androidx ExifInterface reads the EXIF tag only; Pillow alone would turn this photo.
    With an EXIF block too, Pillow's JPEG loader reads the XMP orientation as it opens."""
    exif = Image.Exif()
    exif[0x010F] = "Phone"  # Make, no orientation
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        b'22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        b'tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
    )
    buffer = io.BytesIO()
    extra = {"exif": exif} if with_exif else {}
    Image.new("RGB", (60, 40), (90, 90, 90)).save(buffer, fmt, xmp=xmp, **extra)
    assert decode_rgb(buffer.getvalue(), f"x.{fmt.lower()}").shape == (40, 60, 3)


def test_an_orientation_in_a_png_text_chunk_is_ignored_as_on_android():
    """ImageMagick stores a PNG's EXIF as a 'Raw profile type exif' text chunk; Pillow reads
    it, androidx ExifInterface reads only the eXIf chunk."""
    from PIL import PngImagePlugin

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    raw = b"Exif\x00\x00" + exif.tobytes()
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", f"\nexif\n{len(raw):8d}\n{raw.hex()}\n", zip=True)
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (90, 90, 90)).save(buffer, "PNG", pnginfo=info)
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        assert image.getexif()[0x0112] == 6  # what Pillow alone would apply
    assert decode_rgb(buffer.getvalue(), "x.png").shape == (40, 60, 3)


def test_a_transparent_key_colour_survives_the_colour_profile():
    pixels = np.full((4, 4, 3), 90, dtype=np.uint8)
    pixels[0, 0] = 10
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(
        buffer, "PNG", transparency=(10, 10, 10), icc_profile=_profile_with_primaries(*P3)
    )
    rgb = decode_rgb(buffer.getvalue(), "key-p3.png")
    assert rgb[0, 0].tolist() == [255, 255, 255]  # transparent, so white
    assert np.abs(rgb[1:].astype(float) - _srgb_from_p3(pixels[1:].astype(float))).max() <= 2


def test_pillows_warning_on_corrupt_exif_is_one_log_line_naming_the_file(caplog, recwarn):
    pixels = np.random.default_rng(3).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6
    encoded = bytearray(_encode_jpeg_with_exif(pixels, exif.tobytes()))
    ifd = encoded.find(b"Exif\x00\x00") + 6
    encoded[ifd + 4 : ifd + 8] = b"\xff\xff\xff\x7f"  # first IFD far past the end
    rgb = decode_rgb(bytes(encoded), "odd_exif.jpg")
    assert rgb.shape == (24, 40, 3)  # orientation unreadable, so none applied
    assert [r.getMessage() for r in caplog.records] == [
        "odd_exif.jpg: Corrupt EXIF data.  Expecting to read 2 bytes but only got 0. "
        "(decoded anyway)"
    ]
    assert not recwarn.list  # nothing left for Python to print as its own two lines


def _encode_jpeg_with_exif(pixels: np.ndarray, exif: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["TIFF", "BMP", "GIF", "WEBP"])
def test_other_formats_under_an_image_name_are_refused_by_name(fmt):
    data = _encode(Image.new("RGB", (40, 40), (200, 120, 90)), fmt)
    with pytest.raises(
        DataError, match=rf"^photo\.jpg: a {fmt} image; only JPEG and PNG are read$"
    ):
        decode_rgb(data, "photo.jpg")


def test_a_16_bit_grey_png_with_a_colour_profile_keeps_its_tones():
    gray = np.arange(0, 256, 4, dtype=np.uint16).reshape(8, 8)
    buffer = io.BytesIO()
    Image.fromarray(gray * 257).save(buffer, "PNG", icc_profile=_profile_with_primaries(*SRGB))
    assert Image.open(io.BytesIO(buffer.getvalue())).mode.startswith("I")
    rgb = decode_rgb(buffer.getvalue(), "gray16-icc.png")
    np.testing.assert_array_equal(rgb, np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2))


def test_an_empty_file_is_named_as_one():
    with pytest.raises(DataError, match=r"^x\.jpg: empty file"):
        decode_rgb(b"", "x.jpg")


def test_a_multi_picture_jpeg_from_a_phone_decodes():
    """Many phone cameras write MPO (a JPEG plus a second picture); Pillow calls it MPO."""
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(
        buffer, format="MPO", save_all=True, append_images=[Image.new("RGB", (40, 30))]
    )
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    rgb = decode_rgb(buffer.getvalue(), "IMG_0001.jpg")
    assert rgb.shape == (30, 40, 3)
    assert abs(int(rgb[15, 20, 0]) - 200) < 8  # the first (primary) picture


def test_a_png_with_a_corrupt_chunk_mid_file_is_a_data_error():
    """Pillow raises SyntaxError ("broken PNG file") for a damaged chunk past the first."""
    pixels = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    data = bytearray(_encode(Image.fromarray(pixels), "PNG"))
    chunks, at = [], 8
    while at < len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        chunks.append((at, bytes(data[at + 4 : at + 8])))
        at += 12 + length
    second_idat = [at for at, kind in chunks if kind == b"IDAT"][1]
    data[second_idat + 4 : second_idat + 8] = b"\x00\x01\x02\x03"
    with pytest.raises(DataError, match=r"^mole\.png: truncated or corrupt image \(broken PNG"):
        decode_rgb(bytes(data), "mole.png")


def test_a_greyscale_png_with_gamma_22_is_converted_as_an_rgb_one_is():
    """Many encoders write gAMA; a grey image with it must not be refused as corrupt."""
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", struct.pack(">I", 45455))
    grey = Image.fromarray(np.array([[0, 10, 30, 60, 128, 255]], dtype=np.uint8), "L")
    buffer = io.BytesIO()
    grey.save(buffer, format="PNG", pnginfo=info)
    decoded = decode_rgb(buffer.getvalue(), "grey.png")
    assert decoded[0, :, 0].tolist() == [0, 3, 24, 57, 129, 255]
    assert (decoded == decoded[..., :1]).all()


@pytest.mark.parametrize("shape", [(32, 48), (48, 32)])
def test_a_photo_32_pixels_on_one_side_only_is_still_centre_cropped(shape):
    pixels = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    image = load_image_32(_encode(Image.fromarray(pixels), "PNG"), "narrow.png")
    top, left = (shape[0] - 32) // 2, (shape[1] - 32) // 2
    np.testing.assert_array_equal(image, pixels[top : top + 32, left : left + 32])


def test_a_photo_is_centre_cropped_and_area_averaged_not_interpolated():
    """64x96 -> centre 64x64 -> 32x32: each pixel is its 2x2 block's mean, rounded half up.
    Another filter here would feed the model other inputs than the app's."""
    pixels = np.random.default_rng(2).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    square = pixels[:, 16:80].astype(np.float64)
    expected = np.floor(square.reshape(32, 2, 32, 2, 3).mean(axis=(1, 3)) + 0.5)
    image = load_image_32(_encode(Image.fromarray(pixels), "PNG"), "photo.png")
    np.testing.assert_array_equal(image, expected.astype(np.uint8))


def test_a_photo_too_small_to_crop_is_a_data_error_naming_it():
    tiny = _encode(Image.new("RGB", (MIN_SIDE - 1, MIN_SIDE + 5), (90, 90, 90)), "PNG")
    with pytest.raises(DataError, match=r"^tiny\.png: image is too small"):
        load_image_32(tiny, "tiny.png")
