"""ModelHolder's swap and roll-back, run on the JVM: a pushed model that ExecuTorch refuses,
however the refusal arrives, must leave the previous model loaded and installed.

ModelHolder and ModelStore are Android code; `android_api/` holds stand-ins for the Android
classes the app uses (these two: Context, AssetManager, ViewModel), so they compile here with the
app's core and the executorch-android stand-ins of test_executorch_api.py. Each run of
HolderCheck is one start of the app on a folder tree: `apk/model/` bundles the model "old",
`push/` is the adb folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from model_files import write_model

DIED = 134  # the exit status of HolderCheck's stand-in native crash


@pytest.fixture
def phone(tmp_path, build_manifest, classes) -> Path:
    """An app whose bundled model "old" was installed and loaded on its first start, then the
    model "new" pushed with adb (a folder tree under tmp_path)."""
    write_model(tmp_path / "apk/model", "old", build_manifest)
    write_model(tmp_path / "pushed", "new", build_manifest)
    (tmp_path / "files").mkdir()
    first = outcome(start(classes, tmp_path))
    assert (first.loaded, first.installed, first.folders) == ("true", "old", "model")
    assert first.status[1] == "Installed the model bundled with the app."
    (tmp_path / "pushed").rename(tmp_path / "push")
    return tmp_path


def start(
    classes: Path,
    phone: Path,
    call: str = "none",
    kind: str = "",
    action: str = "",
    models: str = "new",
) -> subprocess.CompletedProcess:
    """One start of the app, with ExecuTorch failing at `call` on the model "new" (`models`
    "all": on every model); `action` "again": then the user taps "Try the model again"."""
    return subprocess.run(
        ["java", "-cp", str(classes), "org.melanoma.demo.HolderCheck", str(phone), call, kind]
        + [action, models],
        capture_output=True,
        text=True,
    )


class Start(NamedTuple):
    """What a start of the app ended with."""

    loaded: str  # load's result, "true" or "false"
    status: list[str]  # the model line on screen, then one line per note
    try_again: str  # "true" if the screen offers "Try the model again"
    installed: str  # the model in files/model/
    folders: str  # the folders in files/, comma-separated
    held: int  # ExecuTorch Modules not destroyed once the start is over
    held_after_finish: int  # ... once the activity has finished for good (onCleared)


def outcome(run: subprocess.CompletedProcess) -> Start:
    """What a start that did not die ended with. Whatever it tried, refused or rolled back, the
    process holds the native program of the model it loaded and no other (an undestroyed Module
    keeps it in native memory until a GC happens to free it), and none once the activity has
    finished."""
    assert run.returncode == 0, run.stderr
    fields = run.stdout.rstrip("\n").split("\t")
    loaded, status, try_again, installed, folders, held, held_after = fields
    s = Start(
        loaded, status.split("\\n"), try_again, installed, folders, int(held), int(held_after)
    )
    assert (s.held, s.held_after_finish) == (1 if loaded == "true" else 0, 0), s
    return s


@pytest.mark.parametrize(
    ("call", "kind", "reason"),
    [
        ("load", "", "ExecuTorch could not load new-executorch-int8.pte: [ExecuTorch Error 0x22]"),
        ("load", "illegal_argument", "ExecuTorch could not load new-executorch-int8.pte: Cannot"),
        ("loadMethod", "cpp", "ExecuTorch could not load the forward method of new-executorch"),
        ("load", "bad_alloc", "ExecuTorch could not load new-executorch-int8.pte: not enough mem"),
        ("forward", "bad_alloc", "the model loaded but does not run on a 1x3x32x32 input: not en"),
    ],
)
def test_a_new_model_executorch_refuses_is_rolled_back_however_it_refuses(
    classes, phone, call, kind, reason
):
    """Whatever the runtime throws for the new model (its own exception, Module.load's
    IllegalArgumentException, a C++ exception or bad_alloc through fbjni), the old model is loaded
    and installed alone, and one line says why. An OutOfMemoryError used to escape load(),
    ending the worker thread and so the app, on every start."""
    s = outcome(start(classes, phone, call, kind))
    assert (s.loaded, s.installed, s.folders, s.try_again) == ("true", "old", "model", "false")
    assert s.status[0].startswith("Model: old ")
    assert s.status[1].startswith("The new model (new) could not be loaded: " + reason)
    assert s.status[1].endswith(". Went back to the previous model.")
    assert len(s.status) == 2


def test_a_new_model_that_kills_the_app_while_loading_is_rolled_back_on_the_next_start(
    classes, phone
):
    """A native crash in the new .pte ends the process before any roll-back can run. The next
    start used to load it again, and die again, on every start; now it goes back to the model
    that loaded, and says why."""
    assert start(classes, phone, "forward", "die").returncode == DIED
    s = outcome(start(classes, phone, "forward", "die"))
    assert (s.loaded, s.installed, s.folders) == ("true", "old", "model")
    assert s.status[1] == (
        "The new model (new) could not be loaded: the app closed while loading it on an earlier"
        " start (a crash in ExecuTorch, or not enough memory). Went back to the previous model."
    )


def test_a_missing_runtime_library_keeps_the_new_model_for_a_later_start(classes, phone):
    """No model would load without libexecutorch.so, so nothing is rolled back; and a load
    that ended with that refusal is not taken for one that killed the app: once the library
    loads, the new model does."""
    for _ in range(2):
        s = outcome(start(classes, phone, "load", "unsatisfied_link"))
        assert (s.loaded, s.installed, s.folders, s.try_again) == (
            "false",
            "new",
            "model,model.prev",
            "false",
        )
        assert s.status == [
            "The model could not be loaded: the ExecuTorch runtime library could not be loaded"
            " on this device (the app ships arm64-v8a and x86_64 only):"
            " java.lang.UnsatisfiedLinkError: dlopen failed: library not found"
        ]
    s = outcome(start(classes, phone))
    assert (s.loaded, s.installed, s.folders) == ("true", "new", "model")


def test_a_first_model_that_kills_the_app_while_loading_waits_for_the_user(
    classes, tmp_path, build_manifest
):
    """With no model to go back to (a first install), a model whose load ends the process was
    loaded again, and ended it again, on every start: an app that dies at launch. Now the next
    start leaves it unloaded, says so in one line naming it, and offers to try it again; the
    next start after that still does not load it on its own."""
    write_model(tmp_path / "apk/model", "new", build_manifest)
    (tmp_path / "files").mkdir()
    assert start(classes, tmp_path, "forward", "die").returncode == DIED
    for _ in range(2):
        s = outcome(start(classes, tmp_path, "forward", "die"))
        assert (s.loaded, s.installed, s.folders, s.try_again) == ("false", "new", "model", "true")
        assert s.status == [
            "The model new is not loaded: the app closed while loading it on an earlier start"
            ' (a crash in ExecuTorch, or not enough memory). Tap "Try the model again" to load new'
            " anyway."
        ]
    # Tried again, it is loaded again: it kills the app, or (fixed, say, by a reboot) it loads.
    assert start(classes, tmp_path, "forward", "die", "again").returncode == DIED
    s = outcome(start(classes, tmp_path, "none", "", "again"))
    assert (s.loaded, s.installed, s.try_again) == ("true", "new", "false")
    assert s.status[0].startswith("Model: new ")
    # the manifest's terms, on the model line (build_manifest's), and that this file, like one
    # exported before 2026-12-07, does not state them itself
    assert s.status[0].endswith(
        ". Licence: CC-BY-NC-4.0. Trained on HAM10000 (Tschandl et al. 2018); "
        "non-commercial use only. Terms not embedded in this file (exported by a toolkit from"
        " before 2026-12-07): as its manifest states."
    )


def new_apk(phone: Path, build_manifest) -> None:
    """The app updated to an APK that bundles the model "new" (and nothing pushed)."""
    shutil.rmtree(phone / "push")
    shutil.rmtree(phone / "apk/model")
    write_model(phone / "apk/model", "new", build_manifest)


# Went back to "old" and declined the bundled "new", which the button would install again.
KEPT_OLD_DECLINED_NEW = ("true", "old", "model,model.declined", "true")


def starts_with_the_crashing_model_bundled(classes: Path, phone: Path) -> list[Start]:
    """Three starts after the one that died loading it: none may die (they were 0, DIED, 0:
    every other start reinstalled it)."""
    runs = [start(classes, phone, "forward", "die") for _ in range(3)]
    assert [run.returncode for run in runs] == [0, 0, 0]
    return [outcome(run) for run in runs]


def test_a_bundled_model_that_kills_the_app_while_loading_is_not_installed_again(
    classes, phone, build_manifest
):
    """An APK update whose model ends the process while it loads: the next start went back to the
    previous model, and the start after installed the bundled one again and died: the app died
    at every other launch. Now the model it went back to stays, with the line saying why and
    "Try the model again", which installs the bundled model once more."""
    new_apk(phone, build_manifest)
    assert start(classes, phone, "forward", "die").returncode == DIED
    for s in starts_with_the_crashing_model_bundled(classes, phone):
        assert (s.loaded, s.installed, s.folders, s.try_again) == KEPT_OLD_DECLINED_NEW
        assert s.status[0].startswith("Model: old ")
        assert s.status[1:] == [
            "The new model (new) could not be loaded: the app closed while loading it on an"
            " earlier start (a crash in ExecuTorch, or not enough memory). Went back to the"
            ' previous model. Tap "Try the model again" to load new anyway.'
        ]
    assert start(classes, phone, "forward", "die", "again").returncode == DIED
    s = outcome(start(classes, phone, "none", "", "again"))  # gone back, then tried: it loads
    assert (s.loaded, s.installed, s.folders, s.try_again) == ("true", "new", "model", "false")


def test_a_bundled_model_executorch_refuses_is_not_installed_again_on_each_start(
    classes, phone, build_manifest
):
    """It used to be copied in, refused and undone again on every start. Now it stays out: on
    the second start, where ExecuTorch would load it, the previous model is still the one."""
    new_apk(phone, build_manifest)
    for call in ("load", "none"):
        s = outcome(start(classes, phone, call, "bad_alloc"))
        assert (s.loaded, s.installed, s.folders, s.try_again) == KEPT_OLD_DECLINED_NEW
        assert s.status[1].startswith(
            "The new model (new) could not be loaded: ExecuTorch could not load new-executorch"
        )
        assert s.status[1].endswith(' Tap "Try the model again" to load new anyway.')


def test_a_roll_back_to_a_model_that_fails_too_says_why_both_failed(classes, phone):
    """The previous model can fail as well (a file damaged since, not enough memory now). The
    screen used to name only that failure, as if the previous model were the one just installed:
    the user never learned that the new one had been refused, nor why."""
    s = outcome(start(classes, phone, "load", "", "", "all"))
    assert (s.loaded, s.installed, s.folders, s.try_again) == ("false", "old", "model", "false")
    (line,) = s.status
    new_failed = line.index(
        "The new model (new) could not be loaded: ExecuTorch could not load new-"
    )
    old_failed = line.index(
        ". Went back to the previous model (old), which could not be loaded either: ExecuTorch"
        " could not load old-executorch-int8.pte"
    )
    assert new_failed == 0 < old_failed


def test_a_model_that_loaded_before_and_now_kills_the_app_waits_for_the_user(classes, phone):
    """When every load ends the process (ExecuTorch crashing on this phone now, or no memory left
    for it), the new model died, then the previous one in the roll-back, and that one, having
    loaded before, was loaded again at every start: the app died at every launch."""
    runs = [start(classes, phone, "forward", "die", "", "all") for _ in range(4)]
    assert [run.returncode for run in runs] == [DIED, DIED, 0, 0]  # new, then old in the roll-back
    for run in runs[2:]:
        s = outcome(run)
        assert (s.loaded, s.installed, s.folders, s.try_again) == ("false", "old", "model", "true")
        assert s.status == [
            "The model old is not loaded: the app closed while loading it on an earlier start"
            ' (a crash in ExecuTorch, or not enough memory). Tap "Try the model again" to load old'
            " anyway."
        ]


def test_a_declined_bundled_model_is_still_named_when_the_model_kept_fails_later(
    classes, phone, build_manifest
):
    """The screen offered "Try the model again" with only the kept model's error: nothing said
    that the bundled model was declined, which the button would install."""
    new_apk(phone, build_manifest)
    outcome(start(classes, phone, "load"))  # declined, went back to "old"
    s = outcome(start(classes, phone, "load", "", "", "all"))  # now "old" fails too
    assert (s.loaded, s.installed, s.try_again) == ("false", "old", "true")
    assert s.status[0].startswith("The model could not be loaded: ExecuTorch could not load old-")
    assert s.status[1].startswith("The new model (new) could not be loaded: ")
    assert s.status[1].endswith('Tap "Try the model again" to load new anyway.')


def test_a_pushed_model_that_is_undone_leaves_the_declined_bundled_model_out(
    classes, phone, build_manifest
):
    """The push cleared the decline as it came in: undone in its turn, it let the bundled model
    that had crashed the app be installed again on the next start, which died again."""
    new_apk(phone, build_manifest)
    assert start(classes, phone, "forward", "die").returncode == DIED
    declined = outcome(start(classes, phone, "forward", "die")).status[1]  # went back to "old"
    write_model(phone / "push", "renew", build_manifest)  # "renew-...pte" crashes too
    assert start(classes, phone, "forward", "die").returncode == DIED
    starts = starts_with_the_crashing_model_bundled(classes, phone)
    s = starts[0]
    assert (s.loaded, s.installed, s.folders, s.try_again) == KEPT_OLD_DECLINED_NEW
    assert s.status[1].startswith("The new model (renew) could not be loaded: the app closed")
    assert s.status[1].endswith(". Went back to the previous model.")  # the button loads "new"
    assert s.status[2] == declined
    assert starts[2].status[1:] == [declined]


def write_facts(folder: Path, **changed: str) -> Path:
    """The constant methods an export of build_manifest's model embeds, with `changed` values:
    a file of lines name, tab, string for HolderCheck's "facts" start."""
    facts = {
        "model_name": "new",
        "precision": "int8",
        "license": "CC-BY-NC-4.0",
        "attribution": "Trained on HAM10000 (Tschandl et al. 2018); non-commercial use only",
        "source_checkpoint_sha256": "3f" * 32,
        "manifest": "input contract and thresholds: new-executorch-int8.pte.manifest.json",
    } | changed
    path = folder / "facts.tsv"
    path.write_text("".join(f"{key}\t{value}\n" for key, value in facts.items()))
    return path


def test_a_new_model_whose_file_states_its_manifests_terms_is_loaded_and_says_so(classes, phone):
    s = outcome(start(classes, phone, "facts", str(write_facts(phone))))
    assert (s.loaded, s.installed, s.folders) == ("true", "new", "model")
    assert s.status[0].endswith(
        "non-commercial use only. The file itself states the same licence and source checkpoint."
    )


def test_a_new_model_whose_file_disagrees_with_its_manifest_is_rolled_back(classes, phone):
    """The pair passed the file checks (the manifest's sha256 is the file's), but the terms the
    file embeds are another model's: refused like a file ExecuTorch cannot load, so the old
    model stays, and the line names each fact that differs."""
    facts = write_facts(phone, license="CC-BY-4.0", source_checkpoint_sha256="9c" * 32)
    s = outcome(start(classes, phone, "facts", str(facts)))
    assert (s.loaded, s.installed, s.folders, s.try_again) == ("true", "old", "model", "false")
    assert s.held == 1  # the old model's Module: the refused one was destroyed, not leaked
    assert s.status[0].startswith("Model: old ")
    assert s.status[1] == (
        "The new model (new) could not be loaded: the terms embedded in new-executorch-int8.pte"
        ' disagree with its manifest: license "CC-BY-4.0" in the file, "CC-BY-NC-4.0" in the'
        ' manifest; source_checkpoint_sha256 "9c9c9c9c9c9c..." in the file, "3f3f3f3f3f3f..."'
        " in the manifest (a manifest written for another model beside this file?)."
        " Went back to the previous model."
    )


def test_a_new_model_whose_embedded_terms_cannot_be_read_is_rolled_back(classes, phone):
    """ExecuTorch loads the file and its forward method, then fails to run a constant method
    that states its terms: refused, the old model loaded, and the Module opened for the new
    one destroyed (outcome checks that only the old model's is held)."""
    s = outcome(start(classes, phone, "execute", str(write_facts(phone))))
    assert (s.loaded, s.installed, s.folders, s.try_again) == ("true", "old", "model", "false")
    assert s.status[1] == (
        "The new model (new) could not be loaded: ExecuTorch could not read the terms embedded"
        " in new-executorch-int8.pte: [ExecuTorch Error 0x1] Execution failed for method:"
        " license. Went back to the previous model."
    )


def test_a_new_model_whose_file_differs_only_in_attribution_and_precision_is_rolled_back(
    classes, phone
):
    """The same checkpoint and licence, but the file is another export of it (an fp32 .pte
    beside the int8 manifest, whose thresholds and input range are int8's): refused too."""
    facts = write_facts(phone, attribution="HAM10000", precision="fp32")
    s = outcome(start(classes, phone, "facts", str(facts)))
    assert (s.loaded, s.installed) == ("true", "old")
    assert s.status[1] == (
        "The new model (new) could not be loaded: the terms embedded in new-executorch-int8.pte"
        ' disagree with its manifest: attribution "HAM10000" in the file, "Trained on HAM10000'
        ' (Tschandl et al. 2018); non-commercial use only" in the manifest; precision "fp32" in'
        ' the file, "int8" in the manifest (a manifest written for another model beside this'
        " file?). Went back to the previous model."
    )


def test_a_new_model_whose_file_embeds_its_origin_but_no_licence_is_rolled_back(classes, phone):
    """A file that embeds any fact must state them all: a licence missing from a file that
    embeds its source checkpoint is neither "not embedded" nor agreeing with the manifest's."""
    facts = write_facts(phone)
    lines = facts.read_text().splitlines(keepends=True)
    facts.write_text("".join(line for line in lines if not line.startswith("license\t")))
    s = outcome(start(classes, phone, "facts", str(facts)))
    assert (s.loaded, s.installed) == ("true", "old")
    assert s.status[1] == (
        "The new model (new) could not be loaded: the terms embedded in new-executorch-int8.pte"
        ' disagree with its manifest: license none in the file, "CC-BY-NC-4.0" in the manifest'
        " (a manifest written for another model beside this file?). Went back to the previous"
        " model."
    )
