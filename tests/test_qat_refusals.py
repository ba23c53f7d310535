"""melanoma.qat's refusals before any training: other data, an edited normalization, and
every output folder it must not write into (the float checkpoint, another checkpoint, the
bundled models). test_qat.py runs a real QAT and checks what it saves."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

import melanoma.qat_out_dir as qat_out_dir
from melanoma.checkpoint import CheckpointError, load_checkpoint
from melanoma.errors import UserError
from melanoma.qat import QATConfig, qat_finetune

FAST = QATConfig(epochs=1, calibration_unlabeled=256, progress=False)  # refused before it runs


@pytest.fixture(scope="module")
def float_dir(quick_checkpoint, tmp_path_factory):
    """A private copy of the session's quick checkpoint: a refusal that fails writes there."""
    copy = tmp_path_factory.mktemp("qat") / "float"
    shutil.copytree(quick_checkpoint, copy)
    return copy


def test_qat_refuses_other_data_and_overwriting_the_float_checkpoint(float_dir, dataset, tmp_path):
    checkpoint = load_checkpoint(float_dir)
    fewer = dataclasses.replace(dataset, labeled=dataset.labeled.subset(torch.arange(150)))
    with pytest.raises(UserError, match="fingerprint"):
        qat_finetune(checkpoint, fewer, FAST, float_dir / "other")
    with pytest.raises(UserError, match="must differ"):
        qat_finetune(checkpoint, dataset, FAST, float_dir)
    other = tmp_path / "other-model"  # another float checkpoint: its metadata.json would go
    shutil.copytree(float_dir, other, ignore=shutil.ignore_patterns("qat"))
    before = (other / "metadata.json").read_bytes()
    with pytest.raises(UserError, match="holds another checkpoint"):
        qat_finetune(checkpoint, dataset, FAST, other)
    assert (other / "metadata.json").read_bytes() == before
    (other / "weights.pt").unlink()  # metadata nested past the JSON parser's stack: kept too
    (other / "metadata.json").write_text("[" * 100_000)
    with pytest.raises(UserError, match="holds another checkpoint"):
        qat_finetune(checkpoint, dataset, FAST, other)


def test_qat_never_writes_into_another_checkpoint_or_the_bundled_models(
    float_dir, dataset, tmp_path, monkeypatch
):
    checkpoint = load_checkpoint(float_dir)
    # Data that fails the later fingerprint check: should the refusal go, nothing trains or
    # writes (the bundled program least of all); the test fails on the message instead.
    data = dataclasses.replace(dataset, labeled=dataset.labeled.subset(torch.arange(150)))
    other = tmp_path / "other-model"  # a typo for float_dir/qat would replace other's program
    shutil.copytree(float_dir, other, ignore=shutil.ignore_patterns("qat"))
    with pytest.raises(UserError, match="int8 program folder of another checkpoint .*other-model"):
        qat_finetune(checkpoint, data, FAST, other / "qat")
    assert not (other / "qat").exists()
    with pytest.raises(UserError, match="fingerprint"):  # beside its qat/, harmless: allowed
        qat_finetune(checkpoint, data, FAST, other / "qat-try")
    reference = load_checkpoint("reference-supervised")
    monkeypatch.setattr(qat_out_dir, "installed_package", lambda: True)  # as in CI's install
    with pytest.raises(UserError, match="bundled reference models are read-only"):
        qat_finetune(reference, data, FAST, reference.path / "qat")
    monkeypatch.setattr(qat_out_dir, "installed_package", lambda: False)  # a source checkout:
    with pytest.raises(UserError, match="fingerprint"):  # the REPRODUCE.md command writes there
        qat_finetune(reference, data, FAST, reference.path / "qat")
    monkeypatch.chdir(tmp_path)  # the README's CHECKPOINT_DIR/qat, with the name
    with pytest.raises(UserError, match="bundled reference models are read-only"):
        qat_finetune(reference, data, FAST, Path("reference-supervised") / "qat")
    assert not (tmp_path / "reference-supervised").exists()
    with pytest.raises(UserError, match="fingerprint"):  # a folder of that name elsewhere
        qat_finetune(reference, data, FAST, Path("runs") / "reference-supervised" / "qat")


def test_qat_refuses_a_checkpoint_whose_normalization_was_edited(float_dir, dataset, tmp_path):
    # The int8 manifests copy mean/std; only rerunning the model on its kept validation
    # images can see an edit, so the Python API checks too, not only the CLI.
    checkpoint = load_checkpoint(float_dir)
    mean = [checkpoint.meta.mean[0] + 0.05, *checkpoint.meta.mean[1:]]
    edited = dataclasses.replace(checkpoint, meta=dataclasses.replace(checkpoint.meta, mean=mean))
    with pytest.raises(CheckpointError, match="no longer gives the predictions"):
        qat_finetune(edited, dataset, FAST, tmp_path / "qat")
    assert not (tmp_path / "qat").exists()


def test_qat_takes_a_checkpoint_trained_before_its_data_had_a_test_split(
    float_dir, dataset, tmp_path
):
    # The CSV layout reads a labelled test.csv as the test split since 2026-12-07: a
    # checkpoint trained before then fingerprinted the same images without one, and QAT,
    # which never reads the test split, refused them as other data.
    checkpoint = load_checkpoint(float_dir)
    before = dataclasses.replace(dataset, test=None).fingerprint
    meta = dataclasses.replace(checkpoint.meta, data_fingerprint=before)
    calibrate = QATConfig(epochs=0, calibration_unlabeled=256, progress=False)
    out = qat_finetune(
        dataclasses.replace(checkpoint, meta=meta), dataset, calibrate, tmp_path / "qat"
    )
    assert json.loads((out / "metadata.json").read_text())["data_fingerprint"] == before
    # Its kept scores are still checked as on the data it trained on, pixel hashes or none
    edited = dataclasses.replace(meta, mean=[meta.mean[0] + 0.05, *meta.mean[1:]])
    edited = dataclasses.replace(edited, labeled_pixel_hashes=[])
    with pytest.raises(CheckpointError, match="no longer gives the predictions"):
        qat_finetune(dataclasses.replace(checkpoint, meta=edited), dataset, FAST, tmp_path / "q")
    assert not (tmp_path / "q").exists()
