"""export_checkpoint beside another process using its --out folder: one after the other."""

import fcntl
import json
import os

import pytest

from melanoma.atomic import HELD_BY_ANOTHER_RUN
from melanoma.errors import UserError
from melanoma.export import api
from melanoma.manifest import manifest_path
from melanoma.qat import QATConfig

from other_process import HOLDS_A_RUN_DIR, ending_when_waited_for, other_process


def test_an_export_waits_then_sees_what_the_other_export_wrote(
    export_source, tmp_path, quick_config
):
    """Both used to check the folder, then write: two checkpoints' files in one folder,
    which the benchmark refuses, though each export had exited 0."""
    (first,) = api.export_checkpoint(quick_config(export_source, tmp_path / "first"))
    other = json.loads(manifest_path(first.artifact).read_text())
    other["source_checkpoint_sha256"] = "0" * 64  # as if from a retrained checkpoint
    out = tmp_path / "out"
    out.mkdir()
    held = os.open(out, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)

    def other_export_ends():
        (out / "other.ptl.manifest.json").write_text(json.dumps(other))
        os.close(held)

    with ending_when_waited_for(other_export_ends) as said:
        with pytest.raises(UserError, match="exported from another checkpoint"):
            api.export_checkpoint(quick_config(export_source, out))
    assert len(said) == 1 and HELD_BY_ANOTHER_RUN in said[0]


def test_a_benchmark_cannot_read_the_folder_while_an_export_writes_it(
    export_source, tmp_path, quick_config
):
    out = tmp_path / "out"
    tried = []

    def while_exporting(what):
        probe = os.open(out, os.O_RDONLY)
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # what melanoma-bench takes
        except BlockingIOError:
            tried.append(what)
        finally:
            os.close(probe)

    (result,) = api.export_checkpoint(quick_config(export_source, out), while_exporting)
    assert result.status == "passed" and tried == ["torchscript fp32"]


def test_a_qat_folder_the_export_chose_itself_is_refused_without_naming_out(
    float_only_checkpoint, dataset, tmp_path, quick_config
):
    """int8 of a float checkpoint runs QAT into <out>/qat-<model>, a folder no --out of the
    user's names: held by another run (a melanoma qat into it), the export was told to
    "choose another --out", and that a run was training into it."""
    out = tmp_path / "out"
    qat_dir = out / "qat-quick-float"
    config = quick_config(
        float_only_checkpoint,
        out,
        targets=("onnx",),
        quantize="int8",
        data=dataset,
        qat=QATConfig(epochs=0, use_unlabeled=False, progress=False),
    )
    with other_process(HOLDS_A_RUN_DIR, qat_dir, ready="holding"):
        with pytest.raises(UserError) as refused:
            api.export_checkpoint(config)
    assert str(refused.value) == (
        f"{qat_dir}: another run (train, compare, qat, nested-cv, melanoma-export or "
        "melanoma-bench) holds this folder; wait for it to end"
    )
