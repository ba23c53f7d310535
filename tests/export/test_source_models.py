"""source_models: which model each precision exports, and what it is verified against."""

import shutil

import pytest

from melanoma.checkpoint import load_checkpoint
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
