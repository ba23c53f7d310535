"""ModelHolder and ModelStore on a model from another toolkit version, run on the JVM as
test_model_holder.py runs them: a model whose manifest this app cannot read leaves the model
that loaded installed and loaded, and the line on screen says to update the app."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_model_holder import outcome, start

from model_files import write_model


@pytest.fixture
def phone(tmp_path, build_manifest, classes) -> Path:
    """An app whose bundled model "old" was installed and loaded on its first start."""
    write_model(tmp_path / "apk/model", "old", build_manifest)
    (tmp_path / "files").mkdir()
    first = outcome(start(classes, tmp_path))
    assert (first.loaded, first.installed, first.folders) == ("true", "old", "model")
    return tmp_path


def test_a_pushed_model_with_a_field_no_schema_has_says_to_update_the_app(
    classes, phone, build_manifest
):
    """A newer toolkit's manifest under this version's number: the old model stays, and the
    line says to update the app, as for a newer schema_version. It said only "unknown field(s)
    temperature", as for a typo."""
    write_model(phone / "push", "new", build_manifest)
    manifest = next((phone / "push").glob("*.manifest.json"))
    manifest.write_text(manifest.read_text().replace('"kind":', '"temperature": 1.5, "kind":'))
    s = outcome(start(classes, phone))
    assert (s.loaded, s.installed, s.folders, s.try_again) == ("true", "old", "model", "false")
    assert s.status[1:] == [
        f"The model pushed to {phone / 'push'} was rejected: manifest.output: unknown field(s)"
        " temperature (in no manifest schema version this app reads: written by a newer toolkit?"
        " Update the app). Keeping the previous model."
    ]
