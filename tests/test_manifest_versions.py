"""Manifest schema versions: what each version carries, the older ones read without the
fields added since, and a version or field this toolkit does not know refused, naming a
newer toolkit where one wrote it."""

from __future__ import annotations

import json

import pytest

from melanoma.export.contract import PREPROCESSING_STEPS
from melanoma.manifest import SCHEMA_VERSION, ManifestError, manifest_from_dict

# The fields each schema version added (manifest_schema's docstring): a manifest written
# by an older version lacks those of every version after it.
ADDED_IN = {
    6: [("license",), ("attribution",)],
    5: [("preprocessing", "steps")],
    4: [("quantization", "input_range"), ("quantization", "logit_range"), ("default_threshold",)],
    3: [("preprocessing", "color_profile")],
    2: [
        ("preprocessing", "exif_orientation"),
        ("preprocessing", "alpha"),
        ("verification", "float_decision_agreement"),
    ],
}


def as_version(data: dict, version: int) -> dict:
    """The same manifest as `version` wrote it: a copy without the fields added since."""
    data = json.loads(json.dumps(data))
    data["schema_version"] = version
    for newer in range(version + 1, SCHEMA_VERSION + 1):
        for *sections, name in ADDED_IN[newer]:
            holder = data
            for section in sections:
                holder = holder[section]
            del holder[name]
    return data


def test_the_exporter_writes_version_6_with_its_fields(written):
    manifest = manifest_from_dict(written)
    assert written["schema_version"] == SCHEMA_VERSION == 6
    # trained on the real liveProject data: HAM10000's licence binds the weights
    assert manifest.license == "CC-BY-NC-4.0"
    assert manifest.attribution.startswith("Trained on HAM10000: Tschandl, P.")
    assert manifest.preprocessing.steps == PREPROCESSING_STEPS
    low, high = manifest.quantization.input_range
    assert low < 0 < high and manifest.quantization.logit_range[0] < 0
    assert manifest.default_threshold == "youden" == manifest.thresholds[0].name
    assert manifest.preprocessing.color_profile == "convert_to_srgb"
    assert manifest.preprocessing.exif_orientation == "applied"
    assert manifest.preprocessing.alpha == "composite_on_white"
    assert 0 <= manifest.verification.float_decision_agreement <= 1


def test_version_5_reads_without_the_terms(written):
    manifest = manifest_from_dict(as_version(written, 5))
    assert manifest.schema_version == 5 and manifest.license is None is manifest.attribution
    assert manifest.preprocessing.steps == PREPROCESSING_STEPS


def test_version_6_states_the_terms_if_only_as_not_stated(written):
    unstated = dict(written, license="not stated", attribution=None)
    assert manifest_from_dict(unstated).license == "not stated"
    for value, expected in ((None, "null"), ("", '""'), (" ", '" "'), (1, "1")):
        with pytest.raises(ManifestError, match=rf"manifest.license: expected .*, got {expected}"):
            manifest_from_dict(dict(written, license=value))
    with pytest.raises(ManifestError, match=r"manifest.attribution: expected .*, got \"\""):
        manifest_from_dict(dict(written, attribution=""))


def test_version_4_reads_without_the_steps(written):
    manifest = manifest_from_dict(as_version(written, 4))
    assert manifest.schema_version == 4 and manifest.preprocessing.steps is None
    assert manifest.default_threshold == "youden"


def test_version_3_reads_without_the_int8_ranges(written):
    manifest = manifest_from_dict(as_version(written, 3))
    assert manifest.schema_version == 3 and manifest.quantization.input_range is None
    assert manifest.default_threshold is None
    assert manifest.preprocessing.color_profile == "convert_to_srgb"


def test_version_2_reads_without_the_colour_profile(written):
    manifest = manifest_from_dict(as_version(written, 2))
    assert manifest.schema_version == 2 and manifest.preprocessing.color_profile is None
    assert manifest.preprocessing.alpha == "composite_on_white"


def test_version_1_reads_without_the_added_fields(written):
    old = as_version(written, 1)
    manifest = manifest_from_dict(old)
    assert manifest.schema_version == 1 and manifest.preprocessing.alpha is None
    assert manifest.verification.float_decision_agreement is None
    del old["input"]["max_batch"], old["quantization"]["program_sha256"]  # early version 1
    assert manifest_from_dict(old).input.max_batch is None


def test_a_field_of_another_version_is_refused(written):
    old = as_version(written, 1)
    old["preprocessing"]["alpha"] = "composite_on_white"
    with pytest.raises(ManifestError, match=r"preprocessing: unknown field\(s\) alpha"):
        manifest_from_dict(old)
    older = as_version(written, 2)
    older["preprocessing"]["color_profile"] = "convert_to_srgb"
    with pytest.raises(ManifestError, match=r"preprocessing: unknown field\(s\) color_profile"):
        manifest_from_dict(older)
    v5 = as_version(written, 5)
    v5["license"] = "CC-BY-NC-4.0"
    with pytest.raises(ManifestError, match=r"manifest: unknown field\(s\) license"):
        manifest_from_dict(v5)
    v4 = as_version(written, 4)
    v4["preprocessing"]["steps"] = PREPROCESSING_STEPS
    with pytest.raises(ManifestError, match=r"preprocessing: unknown field\(s\) steps"):
        manifest_from_dict(v4)
    v3 = as_version(written, 3)
    v3["quantization"]["logit_range"] = None
    with pytest.raises(ManifestError, match=r"quantization: unknown field\(s\) logit_range"):
        manifest_from_dict(v3)
    for section, name in (
        ("quantization", "input_range"),
        ("quantization", "logit_range"),
        ("preprocessing", "color_profile"),
        ("preprocessing", "exif_orientation"),
        ("preprocessing", "steps"),
        ("verification", "float_decision_agreement"),
        ("input", "max_batch"),
        ("quantization", "program_sha256"),
        ("manifest", "license"),  # top-level fields
        ("manifest", "attribution"),
    ):
        new = json.loads(json.dumps(written))
        del (new if section == "manifest" else new[section])[name]
        with pytest.raises(ManifestError, match=rf"{section}: missing field\(s\) {name}"):
            manifest_from_dict(new)


def test_the_threshold_to_decide_at_youden_before_version_4(written):
    written["default_threshold"] = "sensitivity_0.90"
    assert manifest_from_dict(written).decision_threshold_name() == "sensitivity_0.90"
    assert manifest_from_dict(as_version(written, 3)).decision_threshold_name() == "youden"


@pytest.mark.parametrize("version", [0, 7, "2", None, True])
def test_unknown_versions_are_refused(written, version):
    written["schema_version"] = version
    with pytest.raises(ManifestError, match="expected 1 or 2 or 3 or 4 or 5 or 6"):
        manifest_from_dict(written)


def test_a_manifest_from_a_newer_toolkit_says_to_upgrade(written):
    """Its fields may mean what this version cannot know: not read, and the fix named."""
    written["schema_version"] = 7
    with pytest.raises(ManifestError, match=r"expected 1 or .* or 6 \(written by a newer melanoma"):
        manifest_from_dict(written)


@pytest.mark.parametrize("version", [1, 6])
def test_a_field_of_no_version_says_a_newer_toolkit_wrote_it(written, version):
    """As the app says (JsonFields.java): one of a later version is only wrong (above)."""
    data = as_version(written, 1) if version == 1 else written
    data["output"]["temperature"] = 1.5
    newer = r"temperature \(in no schema version .*newer melanoma-mobile\? Upgrade it"
    with pytest.raises(ManifestError, match=rf"^manifest.output: unknown field\(s\) {newer}"):
        manifest_from_dict(data)


@pytest.mark.parametrize(
    ("section", "name"), [("input", "max_batch"), ("quantization", "program_sha256")]
)
def test_version_2_must_state_what_version_1_carried_optionally(written, section, name):
    data = as_version(written, 2)
    manifest_from_dict(data)
    del data[section][name]
    with pytest.raises(ManifestError, match=rf"{section}: missing field\(s\) {name}"):
        manifest_from_dict(data)


def test_no_thresholds_or_a_name_twice_is_refused_as_the_app_refuses_it(written):
    """The app places a band at each threshold and decides at one by name (AppSupport.java);
    prepare_model.sh bundled what it refused, as melanoma.manifest took both."""
    repeated = written["thresholds"][0] | {"probability": 0.7}
    written["thresholds"].append(repeated)
    with pytest.raises(ManifestError, match="^manifest.thresholds: duplicate name 'youden'$"):
        manifest_from_dict(written)
    old = as_version(written, 3)  # before default_threshold, which must be one of them
    old["thresholds"] = []
    with pytest.raises(ManifestError, match="^manifest.thresholds is empty"):
        manifest_from_dict(old)
