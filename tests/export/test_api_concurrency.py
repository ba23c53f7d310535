"""export_checkpoint beside another process using its --out folder: one after the other."""

import fcntl
import json
import logging
import os

import pytest

from melanoma.errors import UserError
from melanoma.export import api
from melanoma.manifest import manifest_path


class _OnWaiting(logging.Handler):
    """Plays the other process: when the export says it waits, that process ends."""

    def __init__(self, ends):
        super().__init__()
        self.ends, self.said = ends, []

    def emit(self, record):
        if "waiting for it to end" in record.getMessage():
            self.said.append(record.getMessage())
            self.ends()


@pytest.fixture
def on_waiting():
    handlers = []

    def install(ends):
        handlers.append(_OnWaiting(ends))
        logging.getLogger("melanoma.atomic").addHandler(handlers[-1])
        return handlers[-1]

    yield install
    for handler in handlers:
        logging.getLogger("melanoma.atomic").removeHandler(handler)


def test_an_export_waits_then_sees_what_the_other_export_wrote(
    export_source, tmp_path, on_waiting, quick_config
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

    waiting = on_waiting(other_export_ends)
    with pytest.raises(UserError, match="exported from another checkpoint"):
        api.export_checkpoint(quick_config(export_source, out))
    assert len(waiting.said) == 1 and "another melanoma-export is writing" in waiting.said[0]


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
