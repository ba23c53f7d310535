"""ModelHolder and ModelStore on a model from another toolkit version, run on the JVM as
test_model_holder.py runs them: a model whose manifest this app cannot read, pushed with adb or
bundled in an APK update, leaves the model that loaded installed and loaded, and the line on
screen says to update the app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_model_holder import outcome, start

from melanoma.manifest_schema import SCHEMA_VERSION

from model_files import write_model

UPDATE = "update the app or export the model with a matching toolkit"


@pytest.fixture
def phone(tmp_path, build_manifest, classes) -> Path:
    """An app whose bundled model "old" was installed and loaded on its first start."""
    write_model(tmp_path / "apk/model", "old", build_manifest)
    (tmp_path / "files").mkdir()
    first = outcome(start(classes, tmp_path))
    assert (first.loaded, first.installed, first.folders) == ("true", "old", "model")
    return tmp_path


def newer_model(folder: Path, build_manifest) -> None:
    """The model "new" in `folder` as the next schema version's exporter would write it."""
    write_model(folder, "new", build_manifest)
    manifest = next(folder.glob("*.manifest.json"))
    data = json.loads(manifest.read_text())
    data.update(schema_version=SCHEMA_VERSION + 1, calibration="platt")
    manifest.write_text(json.dumps(data, indent=2))


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


def test_an_apk_update_bundling_a_newer_manifest_keeps_the_model_that_loaded(
    classes, phone, build_manifest
):
    """prepare_model.sh run with a newer toolkit's Python bundles a manifest this app cannot
    read. It was installed over the model that loaded: "No usable model" on every start, the
    old model kept aside unused. Now it is not installed, and each start says why."""
    shutil.rmtree(phone / "apk/model")
    newer_model(phone / "apk/model", build_manifest)
    for _ in range(2):
        s = outcome(start(classes, phone))
        assert (s.loaded, s.installed, s.folders, s.try_again) == ("true", "old", "model", "false")
        assert s.status[0].startswith("Model: old ")
        assert s.status[1] == (
            f"The model bundled with the app was rejected: manifest: schema_version"
            f" {SCHEMA_VERSION + 1}, expected 1 to {SCHEMA_VERSION} (this app reads manifest"
            f" schema versions 1 to {SCHEMA_VERSION} only: {UPDATE}). Keeping the previous model."
        )
