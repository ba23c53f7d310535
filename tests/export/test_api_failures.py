"""What export_checkpoint leaves in the output folder when a target's check fails, its
runtime refuses the file, a bug stops the check or Ctrl-C the export: the previous
artifact and manifest, or nothing; and a passed check replaces them."""

import pytest

from melanoma.export import api, torchscript, verify
from melanoma.manifest import manifest_path, verify_artifact


def test_failed_check_keeps_the_previous_artifact(
    export_source, tmp_path, monkeypatch, quick_config
):
    """One target failing fails the export (exit 1), though the others passed and were
    written."""
    artifact = tmp_path / "quick-cnn-torchscript-fp32.ptl"
    artifact.write_bytes(b"previous")
    manifest_path(artifact).write_text("previous manifest")
    monkeypatch.setattr(torchscript, "FP32_TOLERANCE", -1.0)  # nothing can pass
    with pytest.raises(api.ExportFailed) as failed:
        api.export_checkpoint(
            quick_config(export_source, tmp_path, targets=("onnx", "torchscript"))
        )
    passed, result = failed.value.results
    assert (passed.target, passed.status) == ("onnx", "passed")
    assert result.status == "failed" and str(artifact) in result.note
    assert artifact.read_bytes() == b"previous"
    assert manifest_path(artifact).read_text() == "previous manifest"
    assert verify_artifact(manifest_path(passed.artifact))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [artifact.name, manifest_path(artifact).name, passed.artifact.name,
         manifest_path(passed.artifact).name]
    )  # fmt: skip


class _RefusingRunner:
    runtime = "test runtime"

    def __call__(self, batch):
        raise RuntimeError("method->execute() failed with error 0x10\nnative context")


def _refuse_to_load(path, threads=None):
    raise RuntimeError("method->set_inputs() failed with error 0x10\nnative context")


@pytest.mark.parametrize(
    "load, why",
    [
        (_refuse_to_load, "runtime cannot load it: RuntimeError: method->set_inputs() failed"),
        (lambda path, threads=None: _RefusingRunner(), "runtime failed to run it: RuntimeError: "
         "method->execute() failed"),
    ],
)  # fmt: skip
def test_a_runtime_that_refuses_the_file_fails_its_check(
    export_source, tmp_path, monkeypatch, load, why, quick_config
):
    """A failed check, one line, nothing kept; not a traceback that stops every later target."""
    monkeypatch.setattr(torchscript, "load", load)
    with pytest.raises(api.ExportFailed) as failed:
        api.export_checkpoint(quick_config(export_source, tmp_path))
    (result,) = failed.value.results
    artifact = tmp_path / "quick-cnn-torchscript-fp32.ptl"
    assert result.status == "failed" and result.note.startswith(f"{artifact}: verification failed")
    assert why in result.note and "\n" not in result.note and "native context" not in result.note
    assert not list(tmp_path.iterdir())


def test_interrupted_export_leaves_nothing(export_source, tmp_path, monkeypatch, quick_config):

    def interrupt(path, threads=None):
        assert path.stat().st_size > 0  # the artifact was being written...
        raise KeyboardInterrupt

    monkeypatch.setattr(torchscript, "load", interrupt)
    with pytest.raises(KeyboardInterrupt):
        api.export_checkpoint(quick_config(export_source, tmp_path / "out"))
    assert not (tmp_path / "out").exists()  # ...and is gone: temp files, and the dir made for it


def test_a_bug_in_the_check_is_a_traceback_not_the_files_failure(
    export_source, tmp_path, monkeypatch, quick_config
):
    """Only what the runtime raises fails a target's check (load_runner's RuntimeFailure)."""

    def broken_compare(*args):
        raise ValueError("a bug in the check")

    monkeypatch.setattr(verify, "compare", broken_compare)
    with pytest.raises(ValueError, match="a bug in the check"):
        api.export_checkpoint(quick_config(export_source, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_success_replaces_and_synthetic_samples_suffice(
    export_source, tmp_path, monkeypatch, quick_config
):
    artifact = tmp_path / "quick-cnn-torchscript-fp32.ptl"
    artifact.write_bytes(b"previous")
    (result,) = api.export_checkpoint(quick_config(export_source, tmp_path))
    assert result.status == "passed" and artifact.read_bytes() != b"previous"
    assert result.manifest.verification.n_images == 32
    verify_artifact(manifest_path(artifact))
