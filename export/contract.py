"""What an artifact of a checkpoint promises the app, in one place.

The exporter writes these values into every manifest and the benchmark checks
every manifest against them: the manifest's sha256 covers the artifact, not the
manifest, so an edited input shape, scale or output kind would otherwise reach
the app unnoticed. Only input.max_batch is left to each target (its runtime sets it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from melanoma.checkpoint import Checkpoint
from melanoma.errors import UserError
from melanoma.export.base import INPUT_NAME, OUTPUT_NAME
from melanoma.manifest import (
    InputSpec,
    OutputSpec,
    Preprocessing,
    Quantization,
    Threshold,
    find_threshold,
    is_one_name,
)
from melanoma.preprocess import IMAGE_SIZE, MIN_SIDE, normalize
from melanoma.pt2e import int8_ranges
from melanoma.qat_checkpoint import QATCheckpoint
from melanoma.validation_scores import target_threshold

INT8_SCHEME = "int8-pt2e-xnnpack"
FLOAT_QUANTIZATION = Quantization(scheme="none", per_channel=False, qat=False)
# The manifest's preprocessing.steps: melanoma.images.decode_rgb and melanoma.preprocess in
# words, for an app developer with only the manifest. Each sentence settles a reading the
# one-word fields leave open, where a consumer written from them scored differently (an
# exploratory script, not kept): Pillow's BOX filter for "area", rounding the resized pixels
# to 8 bits, a gAMA PNG taken as sRGB, 16-bit grey through Pillow's convert (clipped white).
PREPROCESSING_STEPS = [
    "decode: JPEG or PNG only",
    "exif_orientation applied: rotate/flip upright by the EXIF Orientation tag (a PNG's eXIf "
    "chunk included); an orientation only in XMP or in a PNG text chunk is ignored",
    "color_profile convert_to_srgb: with an embedded ICC profile (ignored in a 16-bit grey "
    "PNG without alpha), convert to sRGB (relative colorimetric, clipped); else, in a PNG "
    "without an sRGB chunk, apply its gAMA g and cHRM as Android's decoder (Skia) does: "
    "linear = (v / 255) ** (1 / g) (sRGB's curve without gAMA), cHRM's primaries "
    "Bradford-adapted to D50 (sRGB's without cHRM), then sRGB-encoded, clipped, rounded half "
    "up; else the values are taken as sRGB",
    "color RGB, 8 bits: grey is copied to R, G and B; a palette is looked up; CMYK without a "
    "profile is R = (255 - C) * (255 - K) / 255 (likewise G with M, B with Y), rounded; a "
    "16-bit grey sample v without alpha becomes round(v / 257), a 16-bit grey sample with "
    "alpha or a 16-bit colour or alpha sample its high byte (v >> 8)",
    "alpha composite_on_white: each 8-bit channel v with alpha a becomes "
    "round(v * a / 255 + 255 - a); a PNG's tRNS key colour is transparent",
    "crop center_square: side = min(H, W), top = floor((H - side) / 2), "
    "left = floor((W - side) / 2); a side below min_side is refused, never upsampled",
    "resize area to size x size: output pixel (i, j) is the mean of the source square "
    "[i * s, (i + 1) * s) x [j * s, (j + 1) * s), s = side / size, a partly covered source "
    "pixel weighted by its covered fraction; kept as a real number, not rounded to 8 bits "
    "(not Pillow's BOX or BILINEAR, nor Android's createScaledBitmap, which differ)",
    "normalize: x = (value * scale - mean[c]) / std[c] per channel in R, G, B order, float32",
    "layout: one contiguous float32 buffer of input.shape, NCHW",
]


@dataclass(frozen=True)
class InputContract:
    input: InputSpec  # max_batch None: each target's export says what its runtime takes
    preprocessing: Preprocessing
    output: OutputSpec


def input_contract(mean: list[float], std: list[float]) -> InputContract:
    """The input, preprocessing and output every artifact of a checkpoint with this training
    mean and std has (its normalization is all that differs between checkpoints)."""
    return InputContract(
        input=InputSpec(
            INPUT_NAME,
            ["N", 3, IMAGE_SIZE, IMAGE_SIZE],
            "float32",
            "NCHW",
            value_range(mean, std),
        ),
        preprocessing=Preprocessing(
            color="RGB",
            crop="center_square",
            resize="area",
            size=IMAGE_SIZE,
            min_side=MIN_SIDE,
            scale=1 / 255,
            mean=list(mean),
            std=list(std),
            exif_orientation="applied",
            alpha="composite_on_white",
            color_profile="convert_to_srgb",
            steps=list(PREPROCESSING_STEPS),
        ),
        output=OutputSpec(OUTPUT_NAME, ["N", 1], "logit", "sigmoid", "melanoma"),
    )


def value_range(mean: list[float], std: list[float]) -> list[float]:
    """[min, max] of a normalized input: pixels 0 and 255 through `normalize` (float32, as
    every input is made), rounded outward to 6 decimals. Rounded to nearest, a max of
    3.0014401 was stated as 3.00144, below what a white pixel gives."""
    pixels = torch.tensor([0.0, 255.0]).view(2, 1, 1, 1).expand(2, 3, 1, 1)
    values = normalize(pixels, mean, std).double()
    low, high = float(values.min()), float(values.max())
    return [math.floor(low * 1e6) / 1e6, math.ceil(high * 1e6) / 1e6]


def int8_quantization(qat: QATCheckpoint) -> Quantization:
    """An int8 artifact's: lowered from this QAT program (load_qat checked its sha256
    against the metadata), with the input and logit ranges it represents."""
    input_range, logit_range = int8_ranges(qat.program)
    return Quantization(
        scheme=INT8_SCHEME,
        per_channel=True,
        qat=qat.meta.epochs > 0,  # epochs 0: calibration only (post-training quantization)
        program_sha256=qat.meta.weights_sha256,
        input_range=input_range,
        logit_range=logit_range,
    )


def existing_qat(checkpoint_path: Path, out_dir: Path, model_name: str) -> Path | None:
    """The int8 program the exporter lowers without training one: the checkpoint's own
    qat/, else <out_dir>/qat-<model_name> left by an earlier export of this checkpoint."""
    from melanoma.checkpoint import checkpoint_sha256
    from melanoma.qat_checkpoint import find_qat, made_from

    found = find_qat(checkpoint_path)
    if found is not None:
        return found
    candidate = Path(out_dir) / f"qat-{model_name}"
    return candidate if made_from(candidate, checkpoint_sha256(checkpoint_path)) else None


def artifact_model_name(checkpoint: str, path: Path) -> str:
    """Every manifest's model_name, which starts each artifact's name too: a bundled
    checkpoint's name, else its folder's. The benchmark refuses a model_name that is not one
    folder name (it reads the int8 program from qat-<model_name> beside the artifacts), and
    on Linux a folder's name may hold a \\: refused here, before any work."""
    from melanoma.checkpoint import REFERENCE_NAMES

    name = checkpoint if checkpoint in REFERENCE_NAMES else path.resolve().name
    if not is_one_name(name):
        raise UserError(
            f"{path}: a checkpoint folder named {name!r} cannot name its artifacts (a manifest's "
            "model_name is one folder name, without / or \\); rename the folder"
        )
    return name


def manifest_thresholds(
    checkpoint: Checkpoint, target_sensitivity: float | None
) -> list[Threshold]:
    """The checkpoint's stored thresholds, then the one reaching `target_sensitivity` on its
    kept validation predictions, unless a stored one already has that name."""
    stored = [
        Threshold(
            t["name"], float(t["probability"]), float(t["sensitivity"]), float(t["specificity"])
        )
        for t in checkpoint.meta.thresholds
    ]
    if target_sensitivity is None:
        return stored
    choice = target_threshold(checkpoint, target_sensitivity)
    if checkpoint.meta.find_threshold(choice.name) is not None:
        return stored
    return [
        *stored,
        Threshold(choice.name, choice.probability, choice.sensitivity, choice.specificity),
    ]


def default_threshold(thresholds: list[Threshold], asked: str, model_name: str) -> Threshold:
    """The manifests' default threshold: the one asked for, under the manifest's spelling
    (sensitivity_0.9 finds sensitivity_0.90)."""
    found = find_threshold(thresholds, asked)
    if found is None:
        names = ", ".join(t.name for t in thresholds)
        raise UserError(
            f"{model_name} has no threshold {asked!r} (has: {names}); "
            "--target-sensitivity X adds sensitivity_X"
        )
    return found
