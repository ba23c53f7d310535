"""The artifact manifest's fields: one versioned schema for every export target.

melanoma.manifest writes, reads and checks it; `android_demo/.../Manifest.java`
mirrors these classes. Readers are strict (a field they do not know is an error), so
every added field bumps SCHEMA_VERSION. Version 2 added preprocessing.exif_orientation,
preprocessing.alpha and verification.float_decision_agreement, and requires
input.max_batch and quantization.program_sha256, which late version-1 manifests carry
optionally. Version 3 added preprocessing.color_profile. Version 4 added
quantization.input_range, quantization.logit_range and default_threshold. Version 5
added preprocessing.steps. Version 6 added license and attribution: the terms the
weights carry from their training data (melanoma.usage_terms).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 6


@dataclass(frozen=True)
class FileInfo:
    name: str  # artifact file or package name, relative to the manifest
    sha256: str  # of the file; of a canonical walk for a directory (.mlpackage)
    size_bytes: int


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: list[Any]  # ["N", 3, 32, 32]; "N" marks a dynamic batch
    dtype: str  # "float32"
    layout: str  # "NCHW"
    value_range: list[float]  # [min, max] a normalized input can take
    # Largest N the artifact takes (ExecuTorch plans memory for it, Core ML declares it);
    # None: any N. Absent in manifests written before it was recorded.
    max_batch: int | None = None


@dataclass(frozen=True)
class Preprocessing:
    color: str  # "RGB"
    crop: str  # "center_square" (the app lets the user move the square)
    resize: str  # "area": exact fractional-area averaging, see melanoma/preprocess.py
    size: int  # 32
    min_side: int  # smaller crops are refused rather than upsampled
    scale: float  # 1/255: pixel values are divided by 255 before mean/std
    mean: list[float]  # per channel, RGB, on the 0..1 scale
    std: list[float]
    # Since version 2 (None in version 1, which did the same without saying so):
    exif_orientation: str | None = None  # "applied": the photo is rotated upright first
    alpha: str | None = None  # "composite_on_white": transparency becomes white background
    # Since version 3 (None before, whose exporters took every photo's values as sRGB):
    # "convert_to_srgb": the photo's colour space goes to sRGB as Android's decoder takes it:
    # an embedded ICC profile, else a PNG's gAMA/cHRM chunks (not applied before 2026-12-05)
    color_profile: str | None = None
    steps: list[str] | None = None  # since version 5: each step above in words (contract.py)


@dataclass(frozen=True)
class OutputSpec:
    name: str
    shape: list[Any]  # ["N", 1]
    kind: str  # "logit"
    activation: str  # "sigmoid" gives P(melanoma)
    positive_class: str  # "melanoma"


@dataclass(frozen=True)
class Threshold:
    name: str  # "youden" or "sensitivity_0.90"
    probability: float  # decide melanoma when sigmoid(logit) >= probability (at, not above)
    val_sensitivity: float
    val_specificity: float


@dataclass(frozen=True)
class Quantization:
    scheme: str  # "none" or "int8-pt2e-xnnpack" (W8A8, symmetric weights)
    per_channel: bool
    qat: bool
    # sha256 of the QAT program.pt2 an int8 artifact was lowered from (its qat/metadata.json
    # records the same); None for fp32 and in manifests written before it was recorded.
    program_sha256: str | None = None
    # Since version 4; int8 only (None for fp32). Calibration fixed what the int8 program
    # represents: a normalized input value outside input_range (a channel nearly black or
    # saturated; compare input.value_range) enters as the nearer bound, and the logit
    # comes out clipped to logit_range, so P(melanoma) never passes sigmoid of its ends.
    input_range: list[float] | None = None
    logit_range: list[float] | None = None


@dataclass(frozen=True)
class Verification:
    runtime: str  # the runtime the artifact was loaded in, e.g. "onnxruntime 1.31.0"
    check: str  # what ran: "outputs on N ... images" or "spec-only (...): <what was checked>"
    reference: str | None  # what it was compared against; None when nothing ran (spec-only)
    max_abs_diff: float | None  # max |logit difference| on the sample images
    tolerance: float | None
    decision_agreement: float | None  # fraction of same decisions at the default threshold
    n_images: int
    passed: bool
    # Since version 2: the same fraction against the float source model, which for int8 is
    # not the reference above (the QAT program); None when nothing ran (spec-only).
    float_decision_agreement: float | None = None


@dataclass(frozen=True)
class Manifest:
    model_name: str
    method: str  # "supervised" or "sgan"
    target: str  # "executorch", "onnx", "coreml", "torchscript"
    precision: str  # "fp32" or "int8"
    file: FileInfo
    input: InputSpec
    preprocessing: Preprocessing
    output: OutputSpec
    thresholds: list[Threshold]
    quantization: Quantization
    source_checkpoint_sha256: str
    versions: dict[str, str]
    created_utc: str
    verification: Verification
    # Since version 4: the name of the threshold to decide with unless the user picks another
    # (the exporter verified at it; the app and melanoma-bench decide at it); one of
    # `thresholds`. Read it through decision_threshold_name().
    default_threshold: str | None = None
    # Since version 6 (None before, which did not say): the terms the weights carry from
    # their training data, which bind every artifact made from them. license: an SPDX
    # expression ("CC-BY-NC-4.0": non-commercial use only) or "not stated" (the data's
    # licence was not recorded: not a licence to use it); attribution: what the licence
    # asks to credit, null when not stated.
    license: str | None = None
    attribution: str | None = None
    target_info: dict[str, Any] = field(default_factory=dict)  # opset, delegated ops, ...
    schema_version: int = SCHEMA_VERSION

    def decision_threshold_name(self) -> str:
        """default_threshold; youden before version 4, whose exporters verified at it (as the
        app's Manifest.decisionThresholdName)."""
        return self.default_threshold or "youden"

    def to_json(self) -> str:
        # allow_nan=False: NaN is not JSON, and the app's strict parser rejects it.
        data = dataclasses.asdict(self)
        return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
