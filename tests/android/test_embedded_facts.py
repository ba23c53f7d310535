"""The facts a real .pte embeds, read by the app and checked against the manifest beside it.

HolderCheck (`android_api/`, also run by test_model_holder.py) is one start of the app on a
folder tree; here its APK bundles the int8 .pte the real exporter wrote and its manifest, and
the ExecuTorch stand-in answers `Module.getMethods` and `Module.execute(name)` with that file's
constant methods as Python's ExecuTorch runtime runs them. The app's reader
(ExecuTorchClassifier) and check (core/EmbeddedFacts) must find the exporter's names and values.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from melanoma.checkpoint import REFERENCE_DIR, checkpoint_sha256
from melanoma.manifest import manifest_path, read_manifest, verify_artifact


class Start(NamedTuple):
    loaded: str  # load's result, "true" or "false"
    status: list[str]  # the model line on screen, then one line per note
    installed: str  # the model in files/model/
    held: int  # ExecuTorch Modules not destroyed once the start is over


def start(classes: Path, phone: Path) -> Start:
    """The app's first start, ExecuTorch giving every model the methods in phone/facts.tsv."""
    run = subprocess.run(
        ["java", "-cp", str(classes), "org.melanoma.demo.HolderCheck", str(phone)]
        + ["facts", str(phone / "facts.tsv"), "", "all"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    loaded, status, _, installed, _, held, _ = run.stdout.rstrip("\n").split("\t")
    return Start(loaded, status.split("\\n"), installed, int(held))


@pytest.fixture
def real_phone(tmp_path, exported) -> Path:
    """An app whose APK bundles the int8 .pte the real exporter wrote and its manifest, with
    facts.tsv: every method of that file but forward, each run in Python's ExecuTorch runtime
    (what Module.getMethods and Module.execute(name) give the app)."""
    from executorch.runtime import Runtime

    artifact = exported["executorch", "int8"].artifact
    bundled = tmp_path / "apk/model"
    bundled.mkdir(parents=True)
    for path in (artifact, manifest_path(artifact)):
        shutil.copy2(path, bundled / path.name)
    (tmp_path / "files").mkdir()
    program = Runtime.get().load_program(artifact)
    names = sorted(set(program.method_names) - {"forward"})
    facts = {name: program.load_method(name).execute([])[0] for name in names}
    assert all(isinstance(value, str) and "\t" not in value for value in facts.values())
    (tmp_path / "facts.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in facts.items()))
    return tmp_path


def test_a_real_export_states_the_terms_and_origin_of_its_manifest(classes, real_phone):
    """The app reads the constant methods the exporter wrote under the names it wrote them,
    and finds the values the manifest beside the file states."""
    manifest = read_manifest(next((real_phone / "apk/model").glob("*.manifest.json")))
    s = start(classes, real_phone)
    assert (s.loaded, s.installed, s.held) == ("true", manifest.model_name, 1)
    assert s.status[0].startswith(f"Model: {manifest.model_name} ")
    terms = f"Licence: {manifest.license}" + (
        f". {manifest.attribution}" if manifest.attribution else ""
    )
    assert s.status[0].endswith(
        f". {terms}. The file itself states the same licence and source checkpoint."
    )


def test_a_real_export_beside_a_manifest_written_for_another_model_is_refused(classes, real_phone):
    """A manifest whose terms, origin and thresholds are another checkpoint's (the bundled SGAN,
    trained on data whose licence it does not record), with its file fields set to this .pte:
    Python's verify_artifact and the app's file checks pass it, the facts in the file do not."""
    bundled = real_phone / "apk/model"
    manifest_file = next(bundled.glob("*.manifest.json"))
    real = read_manifest(manifest_file)
    other = dataclasses.replace(
        real,
        license="not stated",
        attribution=None,
        source_checkpoint_sha256=checkpoint_sha256(REFERENCE_DIR / "sgan"),
        thresholds=[dataclasses.replace(t, probability=t.probability / 2) for t in real.thresholds],
    )
    manifest_file.write_text(other.to_json())
    verify_artifact(manifest_file)  # the pair passes every check of the file itself
    s = start(classes, real_phone)
    # refused, with no model to go back to: the Module it opened to read the facts is destroyed
    assert (s.loaded, s.held) == ("false", 0)
    assert s.status[0] == (
        f"The model could not be loaded: the terms embedded in {real.file.name} disagree with"
        f' its manifest: license "{real.license}" in the file, "not stated" in the manifest;'
        f' attribution "{real.attribution}" in the file, none in the manifest;'
        f' source_checkpoint_sha256 "{real.source_checkpoint_sha256[:12]}..." in the file,'
        f' "{other.source_checkpoint_sha256[:12]}..." in the manifest (a manifest written for'
        " another model beside this file?)"
    )
