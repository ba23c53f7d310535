"""The artifact manifest: one versioned schema for every export target.

The exporter writes `<artifact>.manifest.json` next to each artifact, the
benchmark reads it, and the Android app parses the same JSON
(`android_demo/.../Manifest.java` mirrors this file).

Readers are strict: a field they do not know is an error, because a field a
reader skipped (an output temperature, say) could change what the model
means. So every added field bumps SCHEMA_VERSION, and readers accept the
versions they know. Version 2 added preprocessing.exif_orientation,
preprocessing.alpha and verification.float_decision_agreement, and requires
input.max_batch and quantization.program_sha256, which late version-1
manifests carry optionally. Version 3 added preprocessing.color_profile.
Version 4 added quantization.input_range, quantization.logit_range and
default_threshold. Version 5 added preprocessing.steps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melanoma.checkpoint import file_sha256, same_threshold_name
from melanoma.errors import UserError
from melanoma.sources import read_small_text

SCHEMA_VERSION = 5
READABLE_VERSIONS = (1, 2, 3, 4, 5)
SUFFIX = ".manifest.json"


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


class ManifestError(UserError):
    """A manifest that is missing, malformed or does not match its artifact."""


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass, but `true` is not a count


def _is_number(value: Any) -> bool:
    # NaN and inf are not JSON: the exporter never writes them and the app's parser rejects them.
    return type(value) in (int, float) and math.isfinite(value)


def _is_shape(rank: int | None) -> Callable[[list], bool]:
    """["N", 3, 32, 32]: positive sizes, `rank` of them if given; "N" (any batch) may lead."""

    def check(dims: list) -> bool:
        sizes = dims[1:] if dims[:1] == ["N"] else dims
        return bool(dims) and rank in (None, len(dims)) and all(_is_int(d) and d > 0 for d in sizes)

    return check


def _is_range_or_none(value: list | None) -> bool:
    return value is None or (len(value) == 2 and value[0] < value[1])


# A JSON value's check per field annotation: (accepts, what was expected).
_KINDS: dict[Any, tuple[Callable[[Any], bool], str]] = {
    str: (lambda v: isinstance(v, str), "a string"),
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (_is_int, "an integer"),
    float: (_is_number, "a finite number"),
    Any: (lambda v: True, "any value"),
}
_UNIT = (lambda v: 0 <= v <= 1, "a number in [0, 1]")
# What the benchmark and the app rely on beyond the type: (dataclass, field) -> rule.
_RULES: dict[tuple[type, str], tuple[Callable[[Any], bool], str]] = {
    (FileInfo, "name"): (
        lambda v: v not in ("", ".", "..") and not set(v) & set("/\\"),
        "a file name beside the manifest",
    ),
    (FileInfo, "size_bytes"): (lambda v: v >= 0, "a size >= 0"),
    (InputSpec, "shape"): (_is_shape(4), '4 positive sizes, the first may be "N"'),
    (InputSpec, "value_range"): (lambda v: len(v) == 2 and v[0] <= v[1], "[min, max]"),
    (InputSpec, "max_batch"): (lambda v: v is None or v >= 1, "a batch size >= 1 or null"),
    (Quantization, "input_range"): (_is_range_or_none, "[low, high] or null"),
    (Quantization, "logit_range"): (_is_range_or_none, "[low, high] or null"),
    (Preprocessing, "size"): (lambda v: v > 0, "a size > 0"),
    (Preprocessing, "mean"): (lambda v: len(v) == 3, "3 numbers (R, G, B)"),
    (Preprocessing, "std"): (lambda v: len(v) == 3 and min(v) > 0, "3 numbers > 0 (R, G, B)"),
    (OutputSpec, "shape"): (_is_shape(None), 'positive sizes, the first may be "N"'),
    # Absent in version 1; in version 2 the one value readers implement (null is refused).
    (Preprocessing, "exif_orientation"): (lambda v: v == "applied", '"applied"'),
    (Preprocessing, "alpha"): (lambda v: v == "composite_on_white", '"composite_on_white"'),
    (Preprocessing, "color_profile"): (lambda v: v == "convert_to_srgb", '"convert_to_srgb"'),
    (Preprocessing, "steps"): (lambda v: bool(v) and all(v), "a list of non-empty strings"),
    (Verification, "float_decision_agreement"): (
        lambda v: v is None or 0 <= v <= 1,
        "a number in [0, 1] or null",
    ),
    (Threshold, "probability"): _UNIT,
    (Threshold, "val_sensitivity"): _UNIT,
    (Threshold, "val_specificity"): _UNIT,
}


def _expect(ok: bool, where: str, expected: str, value: Any) -> None:
    if not ok:
        shown = json.dumps(value, default=repr)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ManifestError(f"{where}: expected {expected}, got {shown}")


# The schema version that added each field, required from then on (some may be null);
# fields not listed are in every version.
ADDED_IN: dict[tuple[type, str], int] = {
    (Preprocessing, "exif_orientation"): 2,
    (Preprocessing, "alpha"): 2,
    (Verification, "float_decision_agreement"): 2,
    (Preprocessing, "color_profile"): 3,
    (Quantization, "input_range"): 4,
    (Quantization, "logit_range"): 4,
    (Manifest, "default_threshold"): 4,
    (Preprocessing, "steps"): 5,
}
# Fields version 1 carries optionally; required from version 2 on.
OPTIONAL_IN_1 = {(InputSpec, "max_batch"), (Quantization, "program_sha256")}


def must_state(cls: type, name: str, version: int) -> bool:
    """Whether a manifest of `version` must state the field: in an older one a None means
    "not stated", not a wrong value."""
    key = (cls, name)
    return version >= ADDED_IN.get(key, 1) and (version >= 2 or key not in OPTIONAL_IN_1)


def _fields(cls: type, version: int) -> tuple[set[str], set[str]]:
    """(every field, required fields) of cls in a schema version."""
    names, required = set(), set()
    for f in dataclasses.fields(cls):
        if version < ADDED_IN.get((cls, f.name), 1):
            continue
        names.add(f.name)
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        versioned = (cls, f.name) in ADDED_IN or (cls, f.name) in OPTIONAL_IN_1
        if no_default or (versioned and must_state(cls, f.name, version)):
            required.add(f.name)
    return names, required


def _value(hint: Any, value: Any, where: str, version: int) -> Any:
    """Check one parsed JSON value against a field's annotation; build nested dataclasses."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, version)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is types.UnionType:  # `float | None`
        return None if value is None else _value(args[0], value, where, version)
    if origin is list:
        _expect(isinstance(value, list), where, "a list", value)
        return [_value(args[0], item, f"{where}[{i}]", version) for i, item in enumerate(value)]
    if origin is dict:
        _expect(isinstance(value, dict), where, "an object", value)
        return {
            key: _value(args[1], item, f"{where}.{key}", version) for key, item in value.items()
        }
    accepts, expected = _KINDS[hint]
    _expect(accepts(value), where, expected, value)
    return value


def _build(cls: type, data: Any, where: str, version: int) -> Any:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected an object")
    names, required = _fields(cls, version)
    missing = sorted(required - data.keys())
    if missing:
        raise ManifestError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(data.keys() - names)
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _value(hints[name], value, f"{where}.{name}", version)
        accepts, expected = _RULES.get((cls, name), _KINDS[Any])
        _expect(accepts(values[name]), f"{where}.{name}", expected, value)
    return cls(**values)


def manifest_from_dict(data: dict[str, Any], where: str = "manifest") -> Manifest:
    """Validate a parsed manifest and build the dataclass; raises ManifestError."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    version = data.get("schema_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        readable = " or ".join(map(str, READABLE_VERSIONS))
        raise ManifestError(f"{where}: schema_version {version!r}, expected {readable}")
    manifest = _build(Manifest, data, where, version)
    names = [t.name for t in manifest.thresholds]
    if manifest.default_threshold is not None and manifest.default_threshold not in names:
        raise ManifestError(
            f"{where}.default_threshold: {manifest.default_threshold!r} is not one of the "
            f"thresholds ({', '.join(names)})"
        )
    if version >= 4:
        _check_int8_ranges(manifest, where)
    return manifest


def find_threshold(thresholds: list[Threshold], asked: str) -> Threshold | None:
    """The threshold named `asked`, however its target is spelled (sensitivity_0.9 finds
    sensitivity_0.90), or None."""
    return next((t for t in thresholds if same_threshold_name(t.name, asked)), None)


def _check_int8_ranges(manifest: Manifest, where: str) -> None:
    """Both ranges for int8, neither for fp32: a reader may rely on having the pair."""
    q = manifest.quantization
    stated = (q.input_range is not None, q.logit_range is not None)
    int8 = manifest.precision == "int8"
    if stated != (int8, int8):
        raise ManifestError(
            f"{where}.quantization: input_range and logit_range must both be set for int8 "
            f"and both null otherwise (precision {manifest.precision!r})"
        )


def manifest_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + SUFFIX)


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file."""
    try:
        data = json.loads(read_small_text(path))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except OSError as err:  # a directory, a FIFO, a device, too large, unreadable
        raise ManifestError(f"{path}: cannot read manifest ({err.strerror})") from None
    except (ValueError, RecursionError) as err:  # bad JSON or UTF-8, a 4300-digit integer,
        # nesting deeper than the parser's stack
        raise ManifestError(f"{path}: not valid JSON ({err})") from None
    return manifest_from_dict(data, where=str(path))


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a directory as its sorted relative paths and file contents."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode() + b"\0")
            digest.update(item.read_bytes())
        return digest.hexdigest()
    return file_sha256(path)


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def verify_artifact(manifest_file: Path) -> tuple[Manifest, Path]:
    """Read a manifest and check that its artifact exists and matches its sha256."""
    manifest = read_manifest(manifest_file)
    artifact = manifest_file.parent / manifest.file.name
    if manifest_file.name != manifest_path(artifact).name:  # the app finds it by this name
        raise ManifestError(
            f"{manifest_file}: describes {manifest.file.name}, so it must be named "
            f"{manifest_path(artifact).name}"
        )
    if not artifact.exists():
        raise ManifestError(f"{manifest_file}: artifact {manifest.file.name} is missing")
    actual = sha256_of(artifact)
    if actual != manifest.file.sha256:
        raise ManifestError(
            f"{artifact}: sha256 {actual[:12]}... does not match its manifest "
            f"({manifest.file.sha256[:12]}...)"
        )
    return manifest, artifact
