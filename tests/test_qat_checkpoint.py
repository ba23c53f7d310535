"""melanoma.qat_checkpoint: what a QAT directory must still share with its float source."""

import dataclasses
import logging

import pytest

from melanoma.checkpoint import (
    CheckpointError,
    checkpoint_sha256,
    read_meta,
    resolve_checkpoint_dir,
)
from melanoma.qat_checkpoint import (
    QATCheckpoint,
    check_inherited,
    load_qat,
    made_from,
    resolve_qat_dir,
)

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
