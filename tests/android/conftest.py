"""Shared fixtures for the Android demo's off-device tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from melanoma.manifest import (
    FileInfo,
    InputSpec,
    Manifest,
    OutputSpec,
    Preprocessing,
    Quantization,
    Threshold,
    Verification,
    sha256_of,
    size_of,
)
from melanoma.preprocess import IMAGE_SIZE, MIN_SIDE


@pytest.fixture(scope="session")
def data_zip(data_path) -> Path:
    """MelanomaDetection.zip, read in place (tests/conftest.py's data_path: $MELANOMA_DATA)."""
    path = data_path / "MelanomaDetection.zip" if data_path.is_dir() else data_path
    if path.suffix != ".zip" or not path.is_file():
        pytest.fail(
            f"{path} is not MelanomaDetection.zip: set MELANOMA_DATA to the folder holding it"
        )
    return path


@pytest.fixture(scope="session")
def build_manifest() -> Callable[..., Manifest]:
    """Return a factory: an ExecuTorch int8 manifest for `artifact`, realistic in every field.

    Thresholds are listed youden first, as the exporter lists them. Which one is lower depends on
    the model: here youden is the higher one, so the app's sorting is exercised; in the bundled
    reference models youden is the lower one, which test_jvm_parity's bands.tsv covers.
    """

    def build(artifact: Path, mean: list[float], std: list[float]) -> Manifest:
        lo = min((0.0 - m) / s for m, s in zip(mean, std, strict=True))
        hi = max((1.0 - m) / s for m, s in zip(mean, std, strict=True))
        return Manifest(
            model_name="cnn-supervised",
            method="supervised",
            target="executorch",
            precision="int8",
            file=FileInfo(artifact.name, sha256_of(artifact), size_of(artifact)),
            input=InputSpec(
                "images", ["N", 3, IMAGE_SIZE, IMAGE_SIZE], "float32", "NCHW", [lo, hi], 128
            ),
            preprocessing=Preprocessing(
                color="RGB",
                crop="center_square",
                resize="area",
                size=IMAGE_SIZE,
                min_side=MIN_SIDE,
                scale=1 / 255,
                mean=mean,
                std=std,
                exif_orientation="applied",
                alpha="composite_on_white",
            ),
            output=OutputSpec("logits", ["N", 1], "logit", "sigmoid", "melanoma"),
            thresholds=[
                Threshold("youden", 0.4817, val_sensitivity=0.81, val_specificity=0.79),
                Threshold("sensitivity_0.90", 0.2634, val_sensitivity=0.90, val_specificity=0.62),
            ],
            quantization=Quantization(
                "int8-pt2e-xnnpack", per_channel=True, qat=False, program_sha256="5e" * 32
            ),
            source_checkpoint_sha256="3f" * 32,
            versions={"torch": "2.13.0", "executorch": "1.5.1", "melanoma-mobile": "0.1.0"},
            created_utc="2026-11-22T00:00:00Z",
            verification=Verification(
                runtime="executorch 1.5.1",
                check="outputs",
                reference="fp32 PyTorch checkpoint",
                max_abs_diff=0.031,
                tolerance=None,
                decision_agreement=0.985,
                n_images=600,
                passed=True,
                float_decision_agreement=0.97,
            ),
            target_info={"partitioner": "XnnpackPartitioner", "delegated_ops": 11},
        )

    return build
