"""The artifact manifest: written by the exporter, read and checked here.

The exporter writes `<artifact>.manifest.json` next to each artifact, the
benchmark reads it, and the Android app parses the same JSON
(`android_demo/.../Manifest.java` mirrors melanoma/manifest_schema.py, which
holds the fields and their versions).

Readers are strict: a field they do not know is an error, because a field a
reader skipped (an output temperature, say) could change what the model
means. So every added field bumps SCHEMA_VERSION, and readers accept the
versions they know.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from melanoma.checkpoint import file_sha256, newer_version_hint, same_threshold_name
from melanoma.errors import UserError
from melanoma.manifest_schema import (
    SCHEMA_VERSION,
    FileInfo,
    InputSpec,
    Manifest,
    OutputSpec,
    Preprocessing,
    Quantization,
    Threshold,
    Verification,
)
from melanoma.sources import read_small_text
from melanoma.usage_terms import is_stated

READABLE_VERSIONS = tuple(range(1, SCHEMA_VERSION + 1))
SUFFIX = ".manifest.json"


class ManifestError(UserError):
    """A manifest that is missing, malformed or does not match its artifact."""


# The app's bounds (android_demo/.../core): a manifest file over 1 MiB is not read
# (ModelFiles.MAX_MANIFEST_BYTES), a JSON integer outside Java's long is no integer there
# (Json.java makes it a double), and a size, min_side or n_images must fit a Java int
# (ManifestParser.smallInt). Python refuses the same, or melanoma-bench passed manifests
# the app then refused.
MAX_MANIFEST_BYTES = 1 << 20
LONG_MIN, LONG_MAX, INT_MAX = -(2**63), 2**63 - 1, 2**31 - 1


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but `true` is not a count
    return type(value) is int and LONG_MIN <= value <= LONG_MAX


def _is_number(value: Any) -> bool:
    # NaN and inf are not JSON: the exporter never writes them and the app's parser rejects them.
    # An integer past a double's range (1 and 400 zeros) is one too: the app reads Infinity,
    # and math.isfinite raised OverflowError on it, a traceback for a bad manifest.
    try:
        return type(value) in (int, float) and math.isfinite(value)
    except OverflowError:
        return False


def _is_shape(rank: int | None) -> Callable[[list], bool]:
    """["N", 3, 32, 32]: positive sizes, `rank` of them if given; "N" (any batch) may lead."""

    def check(dims: list) -> bool:
        sizes = dims[1:] if dims[:1] == ["N"] else dims
        return bool(dims) and rank in (None, len(dims)) and all(_is_int(d) and d > 0 for d in sizes)

    return check


def is_one_name(value: str) -> bool:
    """A name that is one path component on every system: neither empty, . nor .., and no
    / or \\ (Windows splits at both). An artifact's file name and its model_name, which
    names the qat-<model_name> folder beside it, must be one: else they lead out of it."""
    return value not in ("", ".", "..") and not set(value) & set("/\\")


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
    (FileInfo, "name"): (is_one_name, "a file name beside the manifest"),
    # the benchmark loads the int8 program from qat-<model_name> beside the artifact
    (Manifest, "model_name"): (is_one_name, "one folder name (no / or \\, not . or ..)"),
    (FileInfo, "size_bytes"): (lambda v: v >= 0, "a size >= 0"),
    (InputSpec, "shape"): (_is_shape(4), '4 positive sizes, the first may be "N"'),
    (InputSpec, "value_range"): (lambda v: len(v) == 2 and v[0] <= v[1], "[min, max]"),
    (InputSpec, "max_batch"): (lambda v: v is None or v >= 1, "a batch size >= 1 or null"),
    (Quantization, "input_range"): (_is_range_or_none, "[low, high] or null"),
    (Quantization, "logit_range"): (_is_range_or_none, "[low, high] or null"),
    (Preprocessing, "size"): (lambda v: 0 < v <= INT_MAX, f"a size in [1, {INT_MAX}]"),
    (Preprocessing, "min_side"): (lambda v: 0 <= v <= INT_MAX, f"a size in [0, {INT_MAX}]"),
    (Verification, "n_images"): (lambda v: 0 <= v <= INT_MAX, f"a count in [0, {INT_MAX}]"),
    (Preprocessing, "mean"): (lambda v: len(v) == 3, "3 numbers (R, G, B)"),
    (Preprocessing, "std"): (lambda v: len(v) == 3 and min(v) > 0, "3 numbers > 0 (R, G, B)"),
    (OutputSpec, "shape"): (_is_shape(None), 'positive sizes, the first may be "N"'),
    # Absent in version 1; in version 2 the one value readers implement (null is refused).
    (Preprocessing, "exif_orientation"): (lambda v: v == "applied", '"applied"'),
    (Preprocessing, "alpha"): (lambda v: v == "composite_on_white", '"composite_on_white"'),
    (Preprocessing, "color_profile"): (lambda v: v == "convert_to_srgb", '"convert_to_srgb"'),
    (Preprocessing, "steps"): (lambda v: bool(v) and all(v), "a list of non-empty strings"),
    # Absent before version 6; from then on stated, if only as "not stated".
    (Manifest, "license"): (is_stated, 'an SPDX licence expression or "not stated"'),
    (Manifest, "attribution"): (lambda v: v is None or is_stated(v), "a non-empty string or null"),
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
    (Manifest, "license"): 6,
    (Manifest, "attribution"): 6,
}
# After an unknown field that no schema version this toolkit reads has.
NEWER_FIELD = (
    " (in no schema version this toolkit reads: written by a newer melanoma-mobile?"
    " Upgrade it to read this file)"
)
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
        # A field of no version this toolkit reads came from a newer one: each added field
        # bumps SCHEMA_VERSION and none was removed. One of a later version is just wrong.
        newer = set(unknown) - _fields(cls, SCHEMA_VERSION)[0]
        hint = NEWER_FIELD if newer else ""
        raise ManifestError(f"{where}: unknown field(s) {', '.join(unknown)}{hint}")
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
        newer = newer_version_hint(version, READABLE_VERSIONS[-1])
        raise ManifestError(f"{where}: schema_version {version!r}, expected {readable}{newer}")
    manifest = _build(Manifest, data, where, version)
    names = [t.name for t in manifest.thresholds]
    # As the app (AppSupport.java) refuses them: it places a risk band at each threshold and
    # decides at one by name, so a manifest with none, or one name twice, has no meaning
    # there, and prepare_model.sh bundled such a file.
    if not names:
        raise ManifestError(f"{where}.thresholds is empty: a reader needs at least one")
    if "" in names:
        raise ManifestError(f"{where}.thresholds: a threshold has an empty name")
    repeated = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if repeated is not None:
        raise ManifestError(f"{where}.thresholds: duplicate name {repeated!r}")
    if manifest.default_threshold is not None and manifest.default_threshold not in names:
        raise ManifestError(
            f"{where}.default_threshold: {manifest.default_threshold!r} is not one of the "
            f"thresholds ({', '.join(names)})"
        )
    preprocessing = manifest.preprocessing
    if preprocessing.min_side < preprocessing.size:  # as AppSupport.java words it
        raise ManifestError(
            f"{where}.preprocessing.min_side {preprocessing.min_side} is below size "
            f"{preprocessing.size}: readers never upsample"
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


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"duplicate key {json.dumps(key)}")
        data[key] = value
    return data


def parse_json(text: str) -> Any:
    """A manifest's JSON, parsed as strictly as the app parses it (Json.java): json.loads
    also takes NaN and Infinity, and a repeated key as its last value, which left
    prepare_model.sh bundling a manifest the app then refused."""
    return json.loads(
        text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicate_keys
    )


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file."""
    try:
        data = parse_json(read_small_text(path, limit=MAX_MANIFEST_BYTES))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except OSError as err:
        if err.errno == errno.EFBIG:  # as the app (ModelFiles.readUtf8) words it
            raise ManifestError(
                f"{path}: over {MAX_MANIFEST_BYTES} bytes, not a manifest the exporter writes"
            ) from None  # a directory, a FIFO, a device, too large, unreadable
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
