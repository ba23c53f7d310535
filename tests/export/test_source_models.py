"""source_models: which model each precision exports, and what it is verified against."""

import json
import shutil

import pytest
import torch

from melanoma.checkpoint import CheckpointError, load_checkpoint
from melanoma.errors import UserError
from melanoma.export.contract import FLOAT_QUANTIZATION
from melanoma.export.source_models import float_source, int8_source


def test_fp32_exports_the_float_checkpoint_itself():
    checkpoint = load_checkpoint("reference-supervised")
    source = float_source(checkpoint)
    assert source.model is checkpoint.model
    assert source.meta == checkpoint.meta
    assert source.quantization == FLOAT_QUANTIZATION
    assert source.reference.startswith("float checkpoint in eager PyTorch ")


def test_int8_of_a_bundled_model_is_its_qat_program_and_needs_no_data(tmp_path):
    source = int8_source(load_checkpoint("reference-sgan"), None, "reference-sgan", tmp_path, None)
    assert source.reference.startswith("converted QAT program qat/")
    # the converted program, never the float model under an int8 name
    assert isinstance(source.model, torch.export.ExportedProgram)
    ops = {str(node.target) for node in source.model.graph.nodes}
    assert any(op.startswith("quantized_decomposed.quantize_per") for op in ops), sorted(ops)
    assert (source.quantization.scheme, source.quantization.qat) == ("int8-pt2e-xnnpack", True)
    assert source.meta.mean == load_checkpoint("reference-sgan").meta.mean
    assert list(tmp_path.iterdir()) == []  # found, not trained into --out


def test_int8_without_a_program_or_data_says_how_to_make_one(tmp_path):
    copy = tmp_path / "mine"
    shutil.copytree(
        load_checkpoint("reference-sgan").path, copy, ignore=shutil.ignore_patterns("qat")
    )
    with pytest.raises(UserError, match="pass --data, or run melanoma qat"):
        int8_source(load_checkpoint(copy), None, "mine", tmp_path / "out", None)
    assert not (tmp_path / "out").exists()


def test_int8_refuses_a_qat_program_whose_copied_normalization_was_edited(tmp_path):
    """The int8 manifest takes mean and std from qat/metadata.json, which the program's
    sha256 does not cover: an edited copy would make the app normalize otherwise than the
    program was trained on."""
    copy = shutil.copytree(load_checkpoint("reference-sgan").path, tmp_path / "mine")
    metadata = copy / "qat" / "metadata.json"
    edited = json.loads(metadata.read_text())
    edited["mean"] = [0.5, 0.5, 0.5]
    metadata.write_text(json.dumps(edited))
    with pytest.raises(CheckpointError, match="metadata.json: mean differs from its source"):
        int8_source(load_checkpoint(copy), None, "mine", tmp_path / "out", None)
