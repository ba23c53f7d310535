"""ModelHolder's threading, run on the JVM with the executorch-android stand-in, whose Module,
like the real one, refuses `destroy` while another thread is in a call on it (ClearCheck in
`android_api/`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from model_files import write_model


def test_finishing_during_an_inference_closes_the_model_after_it_on_the_worker(
    classes, tmp_path: Path, build_manifest
):
    """Android calls onCleared on the main thread, possibly while the worker runs forward.
    Closing the model there would throw ExecuTorch's "Cannot destroy module while method is
    executing" into the main thread, ending the app, and leave the native program held. The
    close waits on the worker: the inference returns its logit, then the Module is freed."""
    write_model(tmp_path / "apk/model", "old", build_manifest)
    (tmp_path / "files").mkdir()
    run = subprocess.run(
        ["java", "-cp", str(classes), "org.melanoma.demo.ClearCheck", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,  # a destroy that waited for forward instead of refusing would never end
    )
    assert run.returncode == 0, run.stderr
    outcome = ["true", "0.25", "returned", "refused", "0", "finished"]
    assert run.stdout.rstrip("\n").split("\t") == outcome
