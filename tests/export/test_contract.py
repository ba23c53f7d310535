"""export/contract.py: what every artifact of a checkpoint promises, computed in one place."""

import dataclasses
import io
import shutil
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from melanoma.checkpoint import file_sha256, resolve_checkpoint_dir
from melanoma.export.contract import (
    FLOAT_QUANTIZATION,
    PREPROCESSING_STEPS,
    existing_qat,
    input_contract,
    int8_quantization,
    value_range,
)
from melanoma.images import decode_rgb
from melanoma.preprocess import crop_and_resize, normalize
from melanoma.pt2e import int8_ranges
from melanoma.qat_checkpoint import PROGRAM, load_qat


def test_value_range_is_pixels_0_and_255_through_each_channels_mean_and_std():
    # (0 - 0.5) / 0.25 = -2 is the lowest, (1 - 0.5) / 0.25 = 2 the highest
    assert value_range([0.5, 0.5, 0.5], [0.25, 0.5, 0.5]) == [-2.0, 2.0]
    contract = input_contract([0.5, 0.5, 0.5], [0.25, 0.5, 0.5])
    assert contract.input.value_range == [-2.0, 2.0] and contract.input.shape == ["N", 3, 32, 32]
    assert contract.preprocessing.scale == 1 / 255 and contract.output.kind == "logit"


def test_value_range_holds_every_value_a_normalized_pixel_takes():
    """Rounded outward: to nearest, this max (3.0014401 in float32) was stated as 3.00144."""
    mean, std = [0.533138] * 3, [0.155546] * 3
    pixels = torch.arange(256, dtype=torch.uint8).view(1, 1, 1, 256).expand(1, 3, 1, 256)
    values = normalize(pixels, mean, std)
    assert float(values.max()) > 3.00144 and float(values.min()) < -3.427526
    assert value_range(mean, std) == [-3.427527, 3.001441]


def test_int8_quantization_states_its_programs_sha256_and_ranges():
    qat = load_qat("reference-supervised")
    stated = int8_quantization(qat)
    assert stated.program_sha256 == file_sha256(qat.path / PROGRAM)
    assert [stated.input_range, stated.logit_range] == list(int8_ranges(qat.program))
    assert stated.qat and stated.per_channel and stated.scheme == "int8-pt2e-xnnpack"
    calibrated_only = dataclasses.replace(qat, meta=dataclasses.replace(qat.meta, epochs=0))
    assert not int8_quantization(calibrated_only).qat  # 0 QAT epochs: post-training quantized
    assert FLOAT_QUANTIZATION.input_range is None and FLOAT_QUANTIZATION.logit_range is None


def test_an_int8_program_in_out_made_from_another_checkpoint_is_not_reused(
    float_only_checkpoint, export_source, tmp_path
):
    """<out>/qat-<model> is reused only when it was made from this very checkpoint: a
    same-named folder left by another checkpoint would ship that model's int8 weights."""
    left = tmp_path / "qat-quick-float"
    shutil.copytree(resolve_checkpoint_dir("reference-supervised") / "qat", left)
    assert existing_qat(float_only_checkpoint, tmp_path, "quick-float") is None
    shutil.rmtree(left)
    shutil.copytree(export_source / "qat", left)  # made from the same weights and metadata
    assert existing_qat(float_only_checkpoint, tmp_path, "quick-float") == left


def test_the_manifest_spells_out_each_named_step():
    """Each one-word field (resize "area", ...) starts the sentence that says what it means:
    written from the names alone, a consumer used Pillow's BOX filter for "area"."""
    prep = input_contract([0.5] * 3, [0.25] * 3).preprocessing
    assert prep.steps == PREPROCESSING_STEPS
    for name in ("exif_orientation", "color_profile", "color", "alpha", "crop", "resize"):
        value = getattr(prep, name)
        assert sum(step.startswith(f"{name} {value}") for step in prep.steps) == 1, name


def test_the_steps_hold_for_area_resize_cmyk_and_16_bit_grey():
    """What the sentences claim, checked against the code that does it."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (70, 45, 3), dtype=np.uint8)  # H 70, W 45: top = 12
    side, s = 45, 45 / 32
    square = photo[12 : 12 + side].astype(np.float64)
    cover = np.array(  # covered fraction of source pixel k in output cell i, over s
        [[max(0.0, min((i + 1) * s, k + 1) - max(i * s, k)) / s for k in range(side)]
         for i in range(32)]
    )  # fmt: skip
    resized = crop_and_resize(photo)  # kept as real numbers, not rounded to 8 bits
    np.testing.assert_allclose(resized, np.einsum("ik,klc,jl->ijc", cover, square, cover))
    assert not np.allclose(resized, np.round(resized))
    box = np.asarray(Image.fromarray(photo[12 : 12 + side]).resize((32, 32), Image.BOX))
    assert np.abs(box - resized).max() > 1  # not Pillow's BOX
    cmyk = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(cmyk, "CMYK").save(buffer, "TIFF")  # stored as is, unlike a JPEG
    rgb = Image.open(buffer).convert("RGB")
    c, k = cmyk[..., :3].astype(float), cmyk[..., 3:].astype(float)
    np.testing.assert_array_equal(rgb, np.floor((255 - c) * (255 - k) / 255 + 0.5))
    grey = np.array([[0, 2442, 2559, 32767, 65535]], dtype=np.uint16)  # 2442: 9.5 levels
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, "PNG")
    decoded = decode_rgb(buffer.getvalue(), "grey16.png")[..., 0]
    np.testing.assert_array_equal(decoded, np.floor(grey / 257 + 0.5))


def _linear_grey_profile() -> bytes:
    """An ICC v2 grey profile whose tone curve is gamma 1.0: applied, it brightens mid-grey."""
    d50 = b"".join(struct.pack(">i", round(v * 65536)) for v in (0.9642, 1.0, 0.8249))
    tags = [
        (b"wtpt", b"XYZ \0\0\0\0" + d50),
        (b"kTRC", b"curv\0\0\0\0" + struct.pack(">IH2x", 1, 256)),
    ]
    table, body, at = struct.pack(">I", len(tags)), b"", 128 + 4 + 12 * len(tags)
    for signature, data in tags:
        table, body = table + signature + struct.pack(">2I", at + len(body), len(data)), body + data
    header = (
        struct.pack(
            ">I4xI4s4s4s12x4s24x4x", at + len(body), 0x02100000, b"mntr", b"GRAY", b"XYZ ", b"acsp"
        )
        + d50
    )
    return header.ljust(128, b"\0") + table + body


def test_16_bit_grey_png_steps_for_alpha_and_an_icc_profile(png_from_chunks):
    """Pillow decodes grey with alpha (LA;16B) to each sample's high byte, and a profile
    applies to it; only plain 16-bit grey is rounded, and keeps its values. The step said
    every 16-bit grey sample became round(v / 257) and kept its values."""

    def png(header: bytes, rows: bytes, *chunks: tuple[bytes, bytes]) -> bytes:
        idat = (b"IDAT", zlib.compress(rows))
        return png_from_chunks((b"IHDR", header), *chunks, idat, (b"IEND", b""))

    grey = np.array([[0, 255, 2442, 32767, 65535]], dtype=">u2")
    rows = np.stack([grey, np.full_like(grey, 65535)], axis=-1).astype(">u2")  # opaque
    with_alpha = struct.pack(">2I5B", grey.shape[1], 1, 16, 4, 0, 0, 0)  # colour type 4
    plain = struct.pack(">2I5B", grey.shape[1], 1, 16, 0, 0, 0, 0)
    icc = (b"iCCP", b"linear\0\0" + zlib.compress(_linear_grey_profile()))
    decoded = decode_rgb(png(with_alpha, b"\0" + rows.tobytes()), "grey-alpha16.png")[..., 0]
    np.testing.assert_array_equal(decoded, grey >> 8)
    assert not np.array_equal(decoded, np.floor(grey / 257 + 0.5))  # 255: 0, not 1
    profiled = decode_rgb(png(with_alpha, b"\0" + rows.tobytes(), icc), "a.png")
    high_bytes = png(
        plain[:8] + b"\x08" + plain[9:], b"\0" + (grey >> 8).astype("u1").tobytes(), icc
    )
    np.testing.assert_array_equal(profiled, decode_rgb(high_bytes, "grey8.png"))  # as 8-bit
    assert profiled[0, 3, 0] > decoded[0, 3] + 50  # linear 127 is sRGB 187 or so: applied
    kept = decode_rgb(png(plain, b"\0" + grey.tobytes(), icc), "grey16.png")[..., 0]
    np.testing.assert_array_equal(kept, np.floor(grey / 257 + 0.5))  # the profile ignored
    colour = next(step for step in PREPROCESSING_STEPS if step.startswith("color RGB"))
    assert (
        "16-bit grey sample with alpha or a 16-bit colour or alpha sample its high byte" in colour
    )
    profile = next(step for step in PREPROCESSING_STEPS if step.startswith("color_profile"))
    assert "(ignored in a 16-bit grey PNG without alpha)" in profile


def test_a_grey_profile_applies_to_grey_with_alpha_as_without():
    """LittleCMS builds no transform from a grey profile to RGBA: converted to RGBA first, the
    profile was dropped as "unreadable" for grey with alpha, and applied without it."""
    grey = np.arange(0, 256, 17, dtype=np.uint8).reshape(1, -1)

    def profiled_png(array: np.ndarray, mode: str) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(array, mode).save(buffer, "PNG", icc_profile=_linear_grey_profile())
        return buffer.getvalue()

    without = decode_rgb(profiled_png(grey, "L"), "grey.png")
    with_alpha = np.stack([grey, np.full_like(grey, 255)], axis=-1)
    decoded = decode_rgb(profiled_png(with_alpha, "LA"), "grey-alpha.png")
    np.testing.assert_array_equal(decoded, without)
    assert np.abs(without[..., 0].astype(int) - grey).max() > 50  # the profile applied


def test_a_checkpoint_folder_whose_name_the_benchmark_would_refuse_is_refused(tmp_path):
    """The folder's name is every manifest's model_name, and melanoma-bench refuses one with a
    / or \\ (it looks for qat-<model_name> beside the artifacts): a checkpoint in a folder
    named 'ck\\pt' exported files that no benchmark would read. Refused before any work."""
    from melanoma.errors import UserError
    from melanoma.export.api import ExportConfig, export_checkpoint

    ckpt = shutil.copytree(
        resolve_checkpoint_dir("reference-supervised"),
        tmp_path / "ck\\pt",
        ignore=shutil.ignore_patterns("qat"),
    )
    config = ExportConfig(
        targets=("torchscript",), quantize="none", checkpoint=str(ckpt), out_dir=tmp_path / "out"
    )
    with pytest.raises(UserError, match=r"ck\\pt: a checkpoint folder named 'ck\\\\pt' "):
        export_checkpoint(config)
    assert not (tmp_path / "out").exists()


def test_a_bundled_checkpoint_names_its_artifacts_by_its_name_any_other_by_its_folder(
    tmp_path, monkeypatch
):
    """reference-sgan's files are reference-sgan-*, as the README and the app name them, not
    sgan-* after its folder; a folder given as '.' (exporting from inside it) is its name."""
    from melanoma.export.contract import artifact_model_name

    bundled = resolve_checkpoint_dir("reference-sgan")
    assert artifact_model_name("reference-sgan", bundled) == "reference-sgan"
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path / "mine")
    assert artifact_model_name(".", resolve_checkpoint_dir(".")) == "mine"


def test_the_default_threshold_is_the_one_asked_for_under_the_manifests_spelling():
    """melanoma-export --threshold sensitivity_0.9: the manifests' default_threshold, which
    the app decides at, is sensitivity_0.90, not the first one listed (youden)."""
    from melanoma.errors import UserError
    from melanoma.export.contract import default_threshold
    from melanoma.manifest import Threshold

    thresholds = [
        Threshold("youden", 0.48, 0.81, 0.79),
        Threshold("sensitivity_0.90", 0.26, 0.9, 0.6),
    ]
    assert default_threshold(thresholds, "sensitivity_0.9", "m") == thresholds[1]
    assert default_threshold(thresholds, "youden", "m") == thresholds[0]
    with pytest.raises(UserError, match=r"m has no threshold 'sensitivity_0.95' \(has: youden, "):
        default_threshold(thresholds, "sensitivity_0.95", "m")
