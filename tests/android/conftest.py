"""Shared fixtures for the Android demo's off-device tests."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from melanoma.export.contract import input_contract
from melanoma.manifest import (
    FileInfo,
    Manifest,
    ManifestError,
    Quantization,
    Threshold,
    Verification,
    manifest_from_dict,
    parse_json,
    sha256_of,
    size_of,
)

from golden_images import broken_files, jpeg_variants, png_variants, python_reads

HERE = Path(__file__).resolve().parent
APP = HERE.parents[1] / "android_demo/app/src/main/java/org/melanoma/demo"
HOLDER_APP_FILES = ["ModelHolder", "ModelStore", "ExecuTorchClassifier", "ModelLoadException"]


@pytest.fixture(scope="session")
def classes(tmp_path_factory) -> Path:
    """The app's model code (ModelHolder and what it loads through) and the stand-ins of the
    Android and executorch-android classes it uses, compiled: HolderCheck runs one start."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.fail("javac/java not found: apt-get install -y default-jdk-headless")
    out = tmp_path_factory.mktemp("holder_classes")
    sources = [*(HERE / "executorch_api").rglob("*.java"), *(HERE / "android_api").rglob("*.java")]
    sources += [APP / f"{name}.java" for name in HOLDER_APP_FILES]
    sources += sorted((APP / "core").glob("*.java"))
    javac = subprocess.run(
        ["javac", "-Xlint:all", "-Werror", "-encoding", "UTF-8", "-d", str(out)]
        + [str(source) for source in sources],
        capture_output=True,
        text=True,
    )
    assert javac.returncode == 0, javac.stderr
    return out


@pytest.fixture(scope="session")
def build_manifest() -> Callable[..., Manifest]:
    """Return a factory: an ExecuTorch int8 manifest for `artifact`, realistic in every field.

    Thresholds are listed youden first, as the exporter lists them. Which one is lower depends on
    the model: here youden is the higher one, so the app's sorting is exercised; in the bundled
    reference models youden is the lower one, which test_jvm_parity's bands.tsv covers.
    """

    def build(artifact: Path, mean: list[float], std: list[float]) -> Manifest:
        contract = input_contract(mean, std)  # what the exporter writes for these statistics
        return Manifest(
            model_name="cnn-supervised",
            method="supervised",
            target="executorch",
            precision="int8",
            file=FileInfo(artifact.name, sha256_of(artifact), size_of(artifact)),
            input=dataclasses.replace(contract.input, max_batch=128),
            preprocessing=contract.preprocessing,
            output=contract.output,
            thresholds=[
                Threshold("youden", 0.4817, val_sensitivity=0.81, val_specificity=0.79),
                Threshold("sensitivity_0.90", 0.2634, val_sensitivity=0.90, val_specificity=0.62),
            ],
            default_threshold="youden",
            quantization=Quantization(
                "int8-pt2e-xnnpack",
                per_channel=True,
                qat=False,
                program_sha256="5e" * 32,
                input_range=[-4.73, 2.95],
                logit_range=[-6.0, 6.86],
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
            license="CC-BY-NC-4.0",
            attribution="Trained on HAM10000 (Tschandl et al. 2018); non-commercial use only",
        )

    return build


# Fields later schema versions added: (the version that added it, the value the exporter writes).
ADDED_FIELDS = {
    ("preprocessing", "exif_orientation"): (2, "applied"),
    ("preprocessing", "alpha"): (2, "composite_on_white"),
    ("verification", "float_decision_agreement"): (2, None),
    ("preprocessing", "color_profile"): (3, "convert_to_srgb"),
    ("quantization", "input_range"): (4, None),
    ("quantization", "logit_range"): (4, None),
    (None, "default_threshold"): (4, "youden"),  # None: a top-level field
    ("preprocessing", "steps"): (5, None),  # None: as the exporter wrote it
    (None, "license"): (6, None),
    (None, "attribution"): (6, None),
}
# Optional in version 1 (absent in its early manifests), required from version 2.
V1_OPTIONAL = {("input", "max_batch"), ("quantization", "program_sha256")}
VERSIONS = (1, 2, 3, 4, 5, 6)


def as_version(exported: dict, version: int) -> dict:
    """The exported manifest in another schema version: what that version's exporter wrote."""
    data = copy.deepcopy(exported)
    data["schema_version"] = version
    for (section, key), (added, value) in ADDED_FIELDS.items():
        part = data if section is None else data[section]
        if version < added:
            part.pop(key, None)
        else:
            part.setdefault(key, value)
    for section, key in V1_OPTIONAL:
        data[section].setdefault(key, None)
    return data


def _pop(section: str, key: str):
    return lambda d: d[section].pop(key)


def _set(section: str, **values):
    return lambda d: d[section].update(values)


# Manifests Python rejects: (file, kind, schema version or None for as exported, edit, the
# message Java must give). kind "message": Python's message; "field": Java's message starts with
# the field named (the app words refusals of settings it does not run its own way); "schema": an
# unknown schema version; "newer": Python's message, then the app says to update it (a field in
# no schema version is a newer toolkit's). The JSON cases are made from the text in
# write_bad_manifests.
BAD_MANIFESTS = [
    ("schema_v7.json", "schema", None, lambda d: d.update(schema_version=7), None),
    ("schema_missing.json", "schema", None, lambda d: d.pop("schema_version"), None),
    ("missing_mean.json", "message", None, _pop("preprocessing", "mean"), None),
    ("missing_thresholds.json", "message", None, lambda d: d.pop("thresholds"), None),
    ("no_thresholds.json", "field", 1, lambda d: d.update(thresholds=[]), "manifest.thresholds"),
    ("repeated_threshold.json", "message", None,
     lambda d: d["thresholds"].append(dict(d["thresholds"][0], probability=0.7)),
     "manifest.thresholds: duplicate name 'youden'"),
    ("threshold_field.json", "message", None,
     lambda d: d["thresholds"][0].pop("val_specificity"), None),
    ("unknown_output_field.json", "newer", None, _set("output", temperature=1.0),
     "manifest.output: unknown field(s) temperature"),
    ("v1_unknown_field.json", "newer", 1, lambda d: d.update(calibration="platt"),
     "manifest: unknown field(s) calibration"),
    ("v1_with_alpha.json", "message", 1,
     _set("preprocessing", alpha="composite_on_white"), None),
    ("v2_missing_alpha.json", "message", 2, _pop("preprocessing", "alpha"),
     "manifest.preprocessing: missing field(s) alpha"),
    (
        "v2_missing_float_agreement.json", "message", 2,
        _pop("verification", "float_decision_agreement"),
        "manifest.verification: missing field(s) float_decision_agreement",
    ),
    ("v2_missing_max_batch.json", "message", 2, _pop("input", "max_batch"),
     "manifest.input: missing field(s) max_batch"),
    ("v2_unsupported_alpha.json", "field", 2, _set("preprocessing", alpha="premultiplied"),
     "manifest.preprocessing.alpha"),
    (
        "v2_with_color_profile.json", "message", 2,
        _set("preprocessing", color_profile="convert_to_srgb"),
        "manifest.preprocessing: unknown field(s) color_profile",
    ),
    ("v3_missing_color_profile.json", "message", 3, _pop("preprocessing", "color_profile"),
     "manifest.preprocessing: missing field(s) color_profile"),
    (
        "v3_unsupported_color_profile.json", "field", 3,
        _set("preprocessing", color_profile="as_stored"),
        "manifest.preprocessing.color_profile",
    ),
    ("v3_with_input_range.json", "message", 3, _set("quantization", input_range=[-4.0, 3.0]),
     "manifest.quantization: unknown field(s) input_range"),
    ("v4_with_steps.json", "message", 4, _set("preprocessing", steps=["decode"]),
     "manifest.preprocessing: unknown field(s) steps"),
    ("v5_missing_steps.json", "message", 5, _pop("preprocessing", "steps"),
     "manifest.preprocessing: missing field(s) steps"),
    ("v5_empty_step.json", "field", 5, _set("preprocessing", steps=["decode", ""]),
     "manifest.preprocessing.steps"),
    ("v5_with_license.json", "message", 5, lambda d: d.update(license="CC-BY-NC-4.0"),
     "manifest: unknown field(s) license"),
    ("v6_missing_license.json", "message", 6, lambda d: d.pop("license"),
     "manifest: missing field(s) license"),
    ("v6_null_license.json", "field", 6, lambda d: d.update(license=None), "manifest.license"),
    ("v6_blank_license.json", "field", 6, lambda d: d.update(license=" "), "manifest.license"),
    # blank as Python's str.strip() takes it: Unicode spaces too, not only those Java's
    # String.trim() removes (it kept the app accepting what melanoma-bench refused)
    ("v6_nbsp_license.json", "field", 6, lambda d: d.update(license="\u00a0"),
     "manifest.license"),
    ("v6_nel_attribution.json", "field", 6, lambda d: d.update(attribution="\u0085\u3000"),
     "manifest.attribution"),
    ("v6_missing_attribution.json", "message", 6, lambda d: d.pop("attribution"),
     "manifest: missing field(s) attribution"),
    ("v4_missing_logit_range.json", "message", 4, _pop("quantization", "logit_range"),
     "manifest.quantization: missing field(s) logit_range"),
    (
        "v4_unknown_default_threshold.json", "message", 4,
        lambda d: d.update(default_threshold="sensitivity_0.95"),
        "manifest.default_threshold: 'sensitivity_0.95' is not one of the thresholds "
        "(youden, sensitivity_0.90)",
    ),
    ("v4_missing_default_threshold.json", "message", 4, lambda d: d.pop("default_threshold"),
     "manifest: missing field(s) default_threshold"),
    (
        "v4_int8_without_logit_range.json", "message", 4, _set("quantization", logit_range=None),
        "manifest.quantization: input_range and logit_range must both be set for int8 and both "
        "null otherwise (precision 'int8')",
    ),
    (
        "v4_reversed_input_range.json", "field", 4,
        _set("quantization", input_range=[3.0, -4.0]),
        "manifest.quantization.input_range",
    ),
    # what melanoma-bench passed and the app refused: a Java int's or long's bounds, a crop
    # side the app would have to upsample, a threshold without a name
    ("n_images_over_int.json", "field", None, _set("verification", n_images=2**31),
     "manifest.verification.n_images"),
    ("negative_min_side.json", "field", None, _set("preprocessing", min_side=-1),
     "manifest.preprocessing.min_side"),
    ("size_bytes_over_long.json", "field", None, _set("file", size_bytes=2**63),
     "manifest.file.size_bytes"),
    ("min_side_below_size.json", "field", None, _set("preprocessing", min_side=16),
     "manifest.preprocessing.min_side"),
    ("empty_threshold_name.json", "message", None, lambda d: d["thresholds"][1].update(name=""),
     "manifest.thresholds: a threshold has an empty name"),
    # 1e400 (write_bad_manifests writes an infinity so) overflows to Infinity in Java and in
    # Python's json: the app took it where Python refuses it, in any float field or range
    ("huge_max_abs_diff.json", "message", None, _set("verification", max_abs_diff=math.inf),
     None),
    ("huge_logit_range.json", "message", None,
     _set("quantization", logit_range=[-6.0, math.inf]), None),
    ("huge_value_range.json", "message", None, _set("input", value_range=[-math.inf, 1.0]),
     None),
    ("huge_mean.json", "message", None, _set("preprocessing", mean=[math.inf, 0.5, 0.5]), None),
    ("huge_size.json", "message", None, _set("preprocessing", size=math.inf), None),
]  # fmt: skip


@pytest.fixture(scope="session")
def write_manifest_goldens() -> Callable[[Path, Path], None]:
    """Return a writer of golden/manifest_versions (the exported manifest in every schema
    version, which Java must read) and golden/bad_manifests (which Java must refuse)."""

    def write(golden: Path, manifest_file: Path) -> None:
        exported = json.loads(manifest_file.read_text())
        out = golden / "manifest_versions"
        out.mkdir()
        for version in VERSIONS:
            data = as_version(exported, version)
            manifest_from_dict(data)  # valid for Python too
            (out / f"v{version}.json").write_text(json.dumps(data, indent=2, sort_keys=True))
        write_bad_manifests(golden / "bad_manifests", manifest_file.read_text())

    return write


def write_bad_manifests(bad: Path, text: str) -> None:
    """Each BAD_MANIFESTS case and two malformed JSON texts, with cases.tsv naming Python's
    message for each."""
    exported = json.loads(text)
    cases = [
        ("truncated.json", "json", text[: len(text) // 2], None),
        ("trailing_comma.json", "json", text.rstrip()[:-1] + ",}\n", None),
        # what json.loads alone takes: a repeated key (the last one wins) and NaN
        (
            "duplicate_key.json",
            "json",
            text.replace('"method":', '"method": "sgan", "method":'),
            None,
        ),
        ("nan.json", "json", text.replace('"target_info": {', '"target_info": {"x": NaN, '), None),
        ("not_an_object.json", "message", "[1, 2]\n", None),
    ]
    for name, kind, version, edit, expect in BAD_MANIFESTS:
        data = copy.deepcopy(exported) if version is None else as_version(exported, version)
        edit(data)
        body = json.dumps(data, indent=2, sort_keys=True)  # an infinity as a valid literal:
        cases.append((name, kind, body.replace("Infinity", "1e400"), expect))
    bad.mkdir()
    rows = ["file\tkind\tpython_message"]
    for name, kind, body, expect in cases:
        message = _python_refusal(name, body)
        if expect is not None:
            exact = kind not in ("field", "newer")  # a field, or what comes before the hint
            assert message == expect if exact else message.startswith(expect), (
                f"{name}: Python says {message!r}, the JVM test expects {expect!r}"
            )
            message = expect
        (bad / name).write_text(body)
        rows.append(f"{name}\t{kind}\t{message}")
    (bad / "cases.tsv").write_text("\n".join(rows) + "\n")


def _python_refusal(name: str, body: str) -> str:
    try:
        manifest_from_dict(parse_json(body))  # as read_manifest parses the file
    except (ManifestError, ValueError) as err:
        return str(err)
    pytest.fail(f"{name}: Python accepted a manifest meant to be invalid")


@pytest.fixture(scope="session")
def write_cut_goldens() -> Callable[[Path, Image.Image, zipfile.ZipFile], None]:
    """Return a writer of golden/cuts (JPEG and PNG files) and golden/cuts.tsv: each file cut at
    many lengths, with decode_rgb's verdict on each, for CompleteImageParityTest. Every cut near
    either end is listed, and every 5th in between."""

    def write(golden: Path, lesion: Image.Image, archive: zipfile.ZipFile) -> None:
        small = lesion.resize((64, 48), Image.Resampling.BICUBIC)
        jpegs, broken = jpeg_variants(archive, small), broken_files(small)
        files = jpegs | png_variants(small) | broken
        (golden / "cuts").mkdir()
        rows = ["file\tlength\tpython"]
        for name, data in files.items():
            assert python_reads(data) == (name not in broken), name
            (golden / "cuts" / name).write_bytes(data)
            for length in range(len(data) + 1):
                if length < 200 or length > len(data) - 200 or length % 5 == 0:
                    verdict = "ok" if python_reads(data[:length]) else "refused"
                    rows.append(f"cuts/{name}\t{length}\t{verdict}")
        (golden / "cuts.tsv").write_text("\n".join(rows) + "\n")

    return write
