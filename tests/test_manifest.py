"""The manifest reader refuses what no app could use: values out of range, shapes, names,
thresholds, unparseable files. Schema versions: test_manifest_versions.py."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil

import pytest

from melanoma.manifest import (
    ManifestError,
    find_threshold,
    manifest_from_dict,
    manifest_path,
    read_manifest,
    sha256_of,
    verify_artifact,
)


@pytest.mark.parametrize(
    ("section", "name", "value", "expected"),
    [
        ("preprocessing", "alpha", "ignored", '"composite_on_white"'),
        ("preprocessing", "color_profile", "ignored", '"convert_to_srgb"'),
        ("preprocessing", "color_profile", None, '"convert_to_srgb"'),
        ("preprocessing", "alpha", None, '"composite_on_white"'),
        ("preprocessing", "exif_orientation", None, '"applied"'),
        ("preprocessing", "exif_orientation", "ignored", '"applied"'),
        ("preprocessing", "steps", None, "a list of non-empty strings"),
        ("preprocessing", "steps", [], "a list of non-empty strings"),
        ("preprocessing", "steps", ["decode", ""], "a list of non-empty strings"),
        ("verification", "float_decision_agreement", 1.5, r"a number in \[0, 1\] or null"),
        ("quantization", "input_range", [3.0, -4.0], r"\[low, high\] or null"),
        ("quantization", "logit_range", [1.0], r"\[low, high\] or null"),
        ("preprocessing", "std", [0.2, 0.0, 0.2], r"3 numbers > 0 \(R, G, B\)"),
    ],
)
def test_values_no_reader_implements_are_refused(written, section, name, value, expected):
    written[section][name] = value
    with pytest.raises(ManifestError, match=f"{section}.{name}: expected {expected}"):
        manifest_from_dict(written)


def test_int8_states_both_ranges_and_fp32_neither(written):
    written["quantization"]["logit_range"] = None
    with pytest.raises(ManifestError, match="both be set for int8 and both null otherwise"):
        manifest_from_dict(written)
    written["quantization"]["input_range"] = None
    written["precision"] = "fp32"
    assert manifest_from_dict(written).quantization.input_range is None
    written["quantization"]["logit_range"] = [-1.0, 1.0]
    with pytest.raises(ManifestError, match=r"\(precision 'fp32'\)"):
        manifest_from_dict(written)


def test_the_default_threshold_must_be_one_of_the_thresholds(written):
    written["default_threshold"] = "sensitivity_0.95"
    with pytest.raises(ManifestError, match="default_threshold: 'sensitivity_0.95' is not one"):
        manifest_from_dict(written)
    del written["default_threshold"]
    with pytest.raises(ManifestError, match=r"manifest: missing field\(s\) default_threshold"):
        manifest_from_dict(written)


def test_a_threshold_is_found_under_any_spelling_of_its_target(written):
    thresholds = manifest_from_dict(written).thresholds
    assert find_threshold(thresholds, "sensitivity_0.9").name == "sensitivity_0.90"
    assert find_threshold(thresholds, "youden") is thresholds[0]
    assert find_threshold(thresholds, "sensitivity_0.95") is None


def test_a_manifest_must_carry_the_name_of_the_artifact_it_describes(exported, tmp_path):
    """The app finds <artifact>.manifest.json by name; a copy under another name that
    describes a real artifact would otherwise verify (and benchmark) as that artifact."""
    original = exported["executorch", "int8"].artifact
    artifact = tmp_path / original.name
    shutil.copy(original, artifact)
    shutil.copy(manifest_path(original), manifest_path(artifact))
    shutil.copy(manifest_path(original), tmp_path / "other.pte.manifest.json")
    with pytest.raises(ManifestError, match=f"must be named {artifact.name}.manifest.json"):
        verify_artifact(tmp_path / "other.pte.manifest.json")
    assert verify_artifact(manifest_path(artifact))[1] == artifact


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[" * 100_000 + "]" * 100_000, "maximum recursion depth"),  # past the parser's stack
        ('{"schema_version": ' + "9" * 5000 + "}", "Exceeds the limit"),  # int() refuses it
        ("{", "Expecting property name"),
        # json.loads takes these, the app's parser (Json.java) does not: refused alike
        ('{"schema_version": 7, "schema_version": 6}', 'duplicate key "schema_version"'),
        ('{"target_info": {"x": NaN}}', "NaN is not JSON"),
        ('{"target_info": {"x": -Infinity}}', "-Infinity is not JSON"),
    ],
)
def test_unparseable_manifests_are_one_line_errors(tmp_path, text, why):
    path = tmp_path / "x.pte.manifest.json"
    path.write_text(text)
    with pytest.raises(ManifestError, match=f"x.pte.manifest.json: not valid JSON .*{why}"):
        read_manifest(path)


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: p.symlink_to("/dev/zero")])
def test_a_manifest_that_is_a_fifo_or_a_device_is_refused_unread(tmp_path, make):
    path = tmp_path / "x.pte.manifest.json"
    make(path)
    with pytest.raises(ManifestError, match=r"manifest.json: cannot read manifest \(not a regular"):
        read_manifest(path)


@pytest.mark.parametrize("value", [1.5, -0.1])
@pytest.mark.parametrize("name", ["probability", "val_sensitivity", "val_specificity"])
def test_a_threshold_figure_outside_0_to_1_is_refused(written, name, value):
    """A probability of 1.5 would flag nothing, and the app would say so with confidence."""
    written["thresholds"][0][name] = value
    with pytest.raises(ManifestError, match=rf"{name}: expected a number in \[0, 1\]"):
        manifest_from_dict(written)


@pytest.mark.parametrize("name", ["probability", "val_sensitivity", "val_specificity"])
def test_a_threshold_figure_at_0_or_1_is_accepted(written, name):
    """The ends are real figures: a threshold chosen for sensitivity 1.0 can have
    specificity 0 on validation; a reader refusing them could not load its artifact."""
    for value in (0, 0.0, 1, 1.0):
        written["thresholds"][0][name] = value
        assert getattr(manifest_from_dict(written).thresholds[0], name) == value


def test_a_packages_sha256_covers_its_file_names_and_bytes(tmp_path):
    """A folder (.mlpackage) hashes as its sorted relative paths, each followed by NUL and
    the file's bytes: moving bytes from one file to another must change it."""
    package = tmp_path / "m.mlpackage"
    (package / "Data").mkdir(parents=True)
    (package / "Data" / "model.mlmodel").write_bytes(b"ab")
    (package / "Manifest.json").write_bytes(b"c")
    expected = hashlib.sha256(b"Data/model.mlmodel\0ab" + b"Manifest.json\0c").hexdigest()
    assert sha256_of(package) == expected
    (package / "Data" / "model.mlmodel").write_bytes(b"a")
    (package / "Manifest.json").write_bytes(b"bc")  # the same bytes, split differently
    assert sha256_of(package) != expected


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("name", ["probability", "val_sensitivity", "val_specificity"])
def test_a_threshold_figure_that_is_a_boolean_is_refused(written, name, value):
    """`true` is not a probability, though Python would take it for 1.0."""
    written["thresholds"][0][name] = value
    with pytest.raises(ManifestError, match=rf"{name}: expected a finite number"):
        manifest_from_dict(written)


@pytest.mark.parametrize(
    ("section", "name", "index"),
    [
        ("verification", "max_abs_diff", None),
        ("preprocessing", "std", 0),
        ("input", "value_range", 1),
    ],
)
def test_an_integer_past_a_doubles_range_is_refused_in_one_line(written, section, name, index):
    """1 and 400 zeros is valid JSON and an int in Python, Infinity in the app: a float field
    holding it crashed melanoma-bench with OverflowError (math.isfinite of it) instead of
    refusing the manifest."""
    huge = 10**400
    if index is None:
        written[section][name] = huge
    else:
        written[section][name][index] = huge
    where = name if index is None else rf"{name}\[{index}\]"
    with pytest.raises(ManifestError, match=rf"{section}\.{where}: expected a finite number"):
        manifest_from_dict(written)


@pytest.mark.parametrize("shape", [[0, 3, 32, 32], [-1, 3, 32, 32], ["M", 3, 32, 32]])
def test_an_input_shape_whose_batch_is_not_N_or_a_positive_size_is_refused(written, shape):
    written["input"]["shape"] = shape
    with pytest.raises(ManifestError, match="input.shape: expected 4 positive sizes"):
        manifest_from_dict(written)


def test_an_empty_output_shape_is_refused(written):
    written["output"]["shape"] = []
    with pytest.raises(ManifestError, match="output.shape: expected positive sizes"):
        manifest_from_dict(written)


def test_a_reversed_input_value_range_is_refused(written):
    low, high = written["input"]["value_range"]
    written["input"]["value_range"] = [high, low]
    with pytest.raises(ManifestError, match=r"input.value_range: expected \[min, max\]"):
        manifest_from_dict(written)


@pytest.mark.parametrize("name", ["input_range", "logit_range"])
def test_an_empty_int8_range_is_refused(written, name):
    """[x, x]: every value would be clipped to one number."""
    written["quantization"][name] = [1.0, 1.0]
    with pytest.raises(ManifestError, match=rf"quantization.{name}: expected \[low, high\]"):
        manifest_from_dict(written)


@pytest.mark.parametrize("name", [".", ".."])
def test_a_file_name_that_is_a_folder_reference_is_refused(written, name):
    written["file"]["name"] = name
    with pytest.raises(ManifestError, match="file.name: expected a file name beside"):
        manifest_from_dict(written)


def test_an_empty_artifact_size_is_accepted(written):
    written["file"]["size_bytes"] = 0
    assert manifest_from_dict(written).file.size_bytes == 0


def test_a_manifest_with_nan_is_not_written(exported):
    """NaN is not JSON: to_json refuses it rather than write a manifest strict parsers reject."""
    manifest = exported["onnx", "fp32"].manifest
    bad = dataclasses.replace(
        manifest, verification=dataclasses.replace(manifest.verification, max_abs_diff=math.nan)
    )
    with pytest.raises(ValueError, match="JSON compliant"):
        bad.to_json()


def test_a_sha256_that_matches_only_in_its_first_digits_is_refused(exported, tmp_path):
    """The whole digest is compared, not the 12 digits the error message shows."""
    original = exported["onnx", "fp32"].artifact
    artifact = tmp_path / original.name
    shutil.copy(original, artifact)
    data = json.loads(manifest_path(original).read_text())
    actual = sha256_of(artifact)
    data["file"]["sha256"] = actual[:12] + ("0" if actual[12] != "0" else "1") + actual[13:]
    manifest_path(artifact).write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="does not match its manifest"):
        verify_artifact(manifest_path(artifact))


@pytest.mark.parametrize(
    ("section", "name", "value", "expected"),
    [
        # ManifestParser.smallInt: a Java int, not negative
        ("preprocessing", "size", 2**31, r"a size in \[1, 2147483647\]"),
        ("preprocessing", "size", 0, r"a size in \[1, 2147483647\]"),
        ("preprocessing", "min_side", 2**31, r"a size in \[0, 2147483647\]"),
        ("preprocessing", "min_side", -1, r"a size in \[0, 2147483647\]"),
        ("verification", "n_images", 2**31, r"a count in \[0, 2147483647\]"),
        ("verification", "n_images", -1, r"a count in \[0, 2147483647\]"),
        # past a Java long, Json.java reads a double: not an integer for the app
        ("file", "size_bytes", 2**63, "an integer"),
        ("input", "max_batch", 2**63, "an integer"),
    ],
)
def test_integers_the_app_cannot_hold_are_refused(written, section, name, value, expected):
    """melanoma-bench passed these and the app refused them ('is out of range', 'expected
    an integer'); the largest it holds still reads."""
    written[section][name] = value
    with pytest.raises(ManifestError, match=f"{section}.{name}: expected {expected}, got"):
        manifest_from_dict(written)
    written[section][name] = 2**63 - 1 if "integer" in expected else 2**31 - 1
    if name == "size":
        written["preprocessing"]["min_side"] = 2**31 - 1
        written["input"]["shape"] = ["N", 3, 2**31 - 1, 2**31 - 1]
    manifest_from_dict(written)


def test_a_spec_checked_manifest_of_no_verified_images_still_reads(written):
    """export/verify.py writes n_images 0 when nothing was run; the app's smallInt takes 0."""
    written["verification"]["n_images"] = 0
    assert manifest_from_dict(written).verification.n_images == 0


def test_a_min_side_below_the_size_is_refused_as_the_app_refuses_it(written):
    """Crops below min_side are refused, never upsampled: one of 16 for a 32 input would be."""
    written["preprocessing"].update(size=32, min_side=16)
    with pytest.raises(ManifestError) as refused:
        manifest_from_dict(written)
    assert str(refused.value) == (
        "manifest.preprocessing.min_side 16 is below size 32: readers never upsample"
    )


def test_a_threshold_without_a_name_is_refused_as_the_app_refuses_it(written):
    written["thresholds"][0]["name"] = ""
    written["default_threshold"] = written["thresholds"][1]["name"]
    with pytest.raises(ManifestError) as refused:
        manifest_from_dict(written)
    assert str(refused.value) == "manifest.thresholds: a threshold has an empty name"


def test_a_manifest_file_over_1_mib_is_refused_as_the_app_refuses_it(exported, tmp_path):
    """The app reads at most 1 MiB (ModelFiles.MAX_MANIFEST_BYTES); Python read 256 MB."""
    text = manifest_path(exported["executorch", "int8"].artifact).read_text()
    path = tmp_path / "m.manifest.json"
    path.write_text(text + " " * ((1 << 20) - len(text.encode())))  # JSON allows the blanks
    read_manifest(path)
    path.write_text(path.read_text() + " ")
    with pytest.raises(ManifestError) as refused:
        read_manifest(path)
    assert str(refused.value) == f"{path}: over 1048576 bytes, not a manifest the exporter writes"
