"""melanoma.qat_checkpoint: what a QAT directory must still share with its float source."""

import dataclasses
import hashlib
import io
import json
import logging
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from melanoma.checkpoint import (
    CheckpointError,
    checkpoint_sha256,
    read_meta,
    resolve_checkpoint_dir,
)
from melanoma.qat_checkpoint import (
    QATCheckpoint,
    check_inherited,
    find_qat,
    load_qat,
    made_from,
    resolve_qat_dir,
)
from melanoma.sources import MAX_FILE_BYTES

# Listed here, not read from INHERITED_FIELDS: a field dropped from that tuple must fail.
COPIED = ["method", "arch", "arch_args", "data_fingerprint", "mean", "std", "thresholds"]


@pytest.mark.parametrize("edited", COPIED)
def test_an_edit_to_any_field_copied_from_the_source_is_refused(edited):
    """The int8 manifests take these from qat/metadata.json; the program's sha256 does not
    cover them."""
    source = read_meta(resolve_checkpoint_dir("reference-supervised"))
    qat_dir = resolve_qat_dir("reference-supervised")
    qat = QATCheckpoint(program=None, meta=read_meta(qat_dir), path=qat_dir)
    check_inherited(qat, source)  # the bundled QAT is a faithful copy
    edit = dataclasses.replace(qat.meta, **{edited: "edited"})
    with pytest.raises(CheckpointError, match=f"metadata.json: {edited} differs from its source"):
        check_inherited(dataclasses.replace(qat, meta=edit), source)


def test_made_from_tells_the_source_checkpoint_from_another():
    """The exporter reuses a qat/ only if made_from: a retrained checkpoint's old one must fail."""
    qat_dir = resolve_qat_dir("reference-supervised")
    assert made_from(qat_dir, checkpoint_sha256(resolve_checkpoint_dir("reference-supervised")))
    assert not made_from(qat_dir, checkpoint_sha256(resolve_checkpoint_dir("reference-sgan")))


def test_loading_a_qat_program_leaves_torch_export_logging_as_it_was():
    load_qat("reference-supervised")
    assert not logging.getLogger("torch.export").disabled


class _RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _copy_with_program(tmp_path, write_members) -> Path:
    """A copy of reference-sgan whose program.pt2 is rewritten by write_members(old, new),
    its sha256 in qat/metadata.json updated to match: only the archive's contents differ."""
    source = resolve_checkpoint_dir("reference-sgan")
    copy = tmp_path / "sgan"
    shutil.copytree(source, copy)
    program = copy / "qat" / "program.pt2"
    with zipfile.ZipFile(source / "qat" / "program.pt2") as old:
        with zipfile.ZipFile(program, "w") as new:
            write_members(old, new)
    meta = json.loads((copy / "qat" / "metadata.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(program.read_bytes()).hexdigest()
    (copy / "qat" / "metadata.json").write_text(json.dumps(meta))
    return copy


def test_a_program_that_would_run_code_when_loaded_is_refused_before_torch_unpickles_it(
    tmp_path,
):
    """torch.export.load unpickles the sample inputs with weights_only=False once the
    weights_only=True attempt fails: a program.pt2 (its sha256 matched only against the
    metadata.json beside it) ran code on load, which weights.pt (weights_only=True) cannot."""
    marker = tmp_path / "code-ran"
    payload = io.BytesIO()
    torch.save(_RunsCodeWhenUnpickled(marker), payload)

    def swap_sample_inputs(old, new):
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename.endswith("sample_inputs/model.pt"):
                data = payload.getvalue()
            new.writestr(info, data)

    copy = _copy_with_program(tmp_path, swap_sample_inputs)
    qat_dir = find_qat(copy)  # the exporter's path: the float weights are the source's
    assert qat_dir == copy / "qat"
    with pytest.raises(CheckpointError, match=r"unreadable exported program \(refused"):
        load_qat(qat_dir)
    assert not marker.exists()


def test_a_program_whose_members_inflate_past_the_limit_is_refused_before_any_is_read(tmp_path):
    """A few hundred KB of deflated zeros declaring 257 MB: testzip would inflate it all."""

    def add_zeros(old, new):
        for info in old.infolist():
            new.writestr(info, old.read(info.filename))
        extra = zipfile.ZipInfo("sgan/extra/zeros")
        extra.compress_type = zipfile.ZIP_DEFLATED
        with new.open(extra, "w", force_zip64=True) as member:
            for _ in range(MAX_FILE_BYTES // (1 << 20) + 1):
                member.write(bytes(1 << 20))

    copy = _copy_with_program(tmp_path, add_zeros)
    assert (copy / "qat" / "program.pt2").stat().st_size < 2_000_000
    with pytest.raises(CheckpointError, match=r"\(its members inflate to \d+ bytes, over the"):
        load_qat(copy / "qat")


def test_a_program_zipfile_cannot_list_is_refused_in_one_line(tmp_path):
    """torch reads a zip with a member asking for zip version 6.4, which zipfile will not
    list: the size check passed it unchecked and the next zipfile call raised a traceback."""

    def add_member_of_zip_6_4(old, new):
        for info in old.infolist():
            new.writestr(info, old.read(info.filename))
        extra = zipfile.ZipInfo("sgan/extra/note")
        extra.extract_version = 64  # zipfile writes it, and refuses to list it
        new.writestr(extra, b"x")

    copy = _copy_with_program(tmp_path, add_member_of_zip_6_4)
    with pytest.raises(CheckpointError, match=r"cannot be listed \(zip file version 6.4\)\)$"):
        load_qat(copy / "qat")
