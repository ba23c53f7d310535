"""The artifact manifest: one versioned schema for every export target.

The exporter writes `<artifact>.manifest.json` next to each artifact, the
benchmark reads it, and the Android app parses the same JSON
(`android_demo/.../Manifest.java` mirrors this file; bump SCHEMA_VERSION on
any incompatible change and teach the app the new version).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melanoma.errors import UserError

SCHEMA_VERSION = 1
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
    probability: float  # decide melanoma when sigmoid(logit) >= probability
    val_sensitivity: float
    val_specificity: float


@dataclass(frozen=True)
class Quantization:
    scheme: str  # "none" or "int8-pt2e-xnnpack" (W8A8, symmetric weights)
    per_channel: bool
    qat: bool


@dataclass(frozen=True)
class Verification:
    runtime: str  # the runtime the artifact was loaded in, e.g. "onnxruntime 1.31.0"
    check: str  # what ran: "outputs" or "spec-only (Core ML runtime needs macOS)"
    reference: str  # what it was compared against
    max_abs_diff: float | None  # max |logit difference| on the sample images
    tolerance: float | None
    decision_agreement: float | None  # fraction of same decisions at the default threshold
    n_images: int
    passed: bool


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
    target_info: dict[str, Any] = field(default_factory=dict)  # opset, delegated ops, ...
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        # allow_nan=False: NaN is not JSON, and the app's strict parser rejects it.
        data = dataclasses.asdict(self)
        return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


class ManifestError(UserError):
    """A manifest that is missing, malformed or does not match its artifact."""


_NESTED = {
    "file": FileInfo,
    "input": InputSpec,
    "preprocessing": Preprocessing,
    "output": OutputSpec,
    "quantization": Quantization,
    "verification": Verification,
}


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected an object")
    names = {f.name for f in dataclasses.fields(cls)}
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - data.keys())
    if missing:
        raise ManifestError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(data.keys() - names)
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return cls(**data)


def manifest_from_dict(data: dict[str, Any], where: str = "manifest") -> Manifest:
    """Validate a parsed manifest and build the dataclass; raises ManifestError."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ManifestError(f"{where}: schema_version {version!r}, expected {SCHEMA_VERSION}")
    values = dict(data)
    for key, cls in _NESTED.items():
        if key in values:
            values[key] = _build(cls, values[key], f"{where}.{key}")
    if isinstance(values.get("thresholds"), list):
        values["thresholds"] = [
            _build(Threshold, t, f"{where}.thresholds[{i}]")
            for i, t in enumerate(values["thresholds"])
        ]
    return _build(Manifest, values, where)


def manifest_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + SUFFIX)


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
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
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def verify_artifact(manifest_file: Path) -> tuple[Manifest, Path]:
    """Read a manifest and check that its artifact exists and matches its sha256."""
    manifest = read_manifest(manifest_file)
    artifact = manifest_file.parent / manifest.file.name
    if not artifact.exists():
        raise ManifestError(f"{manifest_file}: artifact {manifest.file.name} is missing")
    actual = sha256_of(artifact)
    if actual != manifest.file.sha256:
        raise ManifestError(
            f"{artifact}: sha256 {actual[:12]}... does not match its manifest "
            f"({manifest.file.sha256[:12]}...)"
        )
    return manifest, artifact
