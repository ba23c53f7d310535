"""The terms a model's weights carry come from its training data, and reach its metadata."""

from __future__ import annotations

import json
import shutil

import pytest

from melanoma.checkpoint import REFERENCE_DIR, CheckpointError, read_meta
from melanoma.usage_terms import HAM10000, KNOWN_DATA, UNSTATED, terms_of_data


def test_the_real_data_is_the_known_ham10000_set(dataset):
    """The fingerprint the table names is the real data's, so a model trained on it (as
    both bundled ones were) is known to carry HAM10000's non-commercial licence."""
    assert set(KNOWN_DATA) == {dataset.fingerprint} == {"4cb40fd51aa4d9e0"}
    assert terms_of_data(dataset.fingerprint).license == "CC-BY-NC-4.0"
    assert terms_of_data("0123456789abcdef") == UNSTATED


@pytest.mark.parametrize("folder", ["supervised", "sgan", "supervised/qat", "sgan/qat"])
def test_the_bundled_checkpoints_carry_ham10000s_licence(folder):
    """Their metadata.json predates the field (its bytes are the checkpoint's identity, which
    qat/ and every export name): the recorded data fingerprint gives the terms."""
    assert "license" not in json.loads((REFERENCE_DIR / folder / "metadata.json").read_text())
    meta = read_meta(REFERENCE_DIR / folder)
    assert (meta.license, meta.attribution) == (HAM10000.license, HAM10000.attribution)
    assert "HAM10000" in meta.attribution and "non-commercial" in meta.attribution


def test_stated_terms_are_kept_and_blank_ones_refused(tmp_path):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(REFERENCE_DIR / "supervised", ckpt)
    path = ckpt / "metadata.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "license": "CC-BY-4.0", "attribution": "Our clinic"}))
    meta = read_meta(ckpt)
    assert (meta.license, meta.attribution) == ("CC-BY-4.0", "Our clinic")
    path.write_text(json.dumps({**data, "license": " "}))
    with pytest.raises(CheckpointError, match=r"corrupt metadata \(license must be a licence"):
        read_meta(ckpt)


def test_data_the_toolkit_does_not_know_states_no_terms(tmp_path):
    """Not stated, and nothing to credit (null, which a manifest takes; "" it refuses)."""
    assert (UNSTATED.license, UNSTATED.attribution) == ("not stated", None)
    ckpt = tmp_path / "ckpt"
    shutil.copytree(REFERENCE_DIR / "supervised", ckpt)
    path = ckpt / "metadata.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "data_fingerprint": "0123456789abcdef"}))
    meta = read_meta(ckpt)
    assert (meta.license, meta.attribution) == ("not stated", None)


def test_a_null_licence_is_read_as_an_absent_one(tmp_path):
    """null is what a hand edit or another writer leaves for "not recorded": the data's
    terms, as for a metadata.json without the field, not a None every manifest refuses."""
    ckpt = tmp_path / "ckpt"
    shutil.copytree(REFERENCE_DIR / "supervised", ckpt)
    path = ckpt / "metadata.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "license": None}))
    meta = read_meta(ckpt)
    assert (meta.license, meta.attribution) == (HAM10000.license, HAM10000.attribution)


@pytest.mark.parametrize(
    ("field", "value"),
    [("license", 42), ("license", ["CC-BY-4.0"]), ("attribution", " "), ("attribution", 7)],
)
def test_terms_that_are_not_text_are_refused_when_read(tmp_path, field, value):
    """Refused here, by name, rather than by the manifest check at the end of an export."""
    ckpt = tmp_path / "ckpt"
    shutil.copytree(REFERENCE_DIR / "supervised", ckpt)
    path = ckpt / "metadata.json"
    terms = {"license": "CC-BY-4.0", "attribution": "Our clinic", field: value}
    path.write_text(json.dumps({**json.loads(path.read_text()), **terms}))
    with pytest.raises(CheckpointError, match=rf"corrupt metadata \({field} must be"):
        read_meta(ckpt)
