"""melanoma.qat's training loop on a few real images: what calibrates the int8 ranges, which
rows are distilled, when the ranges freeze, and what the seed draws (test_qat.py runs the
`qat` command and checks the saved directory)."""

import dataclasses
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import melanoma.qat as qat_module
from melanoma.checkpoint import load_checkpoint
from melanoma.pt2e import program_probs
from melanoma.qat import QATConfig, train_qat
from melanoma.qat_checkpoint import load_qat

SMALL = QATConfig(batch_size=16, unlabeled_batch_size=8, progress=False)


@pytest.fixture(scope="module")
def source():
    return load_checkpoint("reference-sgan")  # one small network: seconds per QAT run


@pytest.fixture(scope="module")
def images(dataset):
    """(40 labeled train images, a pool of 64 unlabeled images)."""
    return dataset.labeled.subset(torch.arange(40)), dataset.unlabeled.subset(torch.arange(64))


def _spy(monkeypatch, name, record):
    """Call record(*args) on each call of qat_module.<name>, which then runs for real."""
    real = getattr(qat_module, name)

    def wrapper(*args):
        record(*args)
        return real(*args)

    monkeypatch.setattr(qat_module, name, wrapper)


def test_calibration_takes_the_labeled_train_and_the_asked_unlabeled_images(images):
    train, pool = images
    gen = torch.Generator().manual_seed(0)
    for extra in (0, 10):
        config = dataclasses.replace(SMALL, calibration_unlabeled=extra)
        calibration = qat_module._calibration_images(train, pool, config, gen)
        assert len(calibration) == 40 + extra and torch.equal(calibration[:40], train.images)


def test_unlabeled_rows_are_distilled_and_the_ranges_freeze_at_their_epoch(
    source, images, monkeypatch
):
    train, pool = images
    rows, observing = [], []
    _spy(monkeypatch, "distill_loss", lambda student, *_: rows.append(len(student)))
    _spy(monkeypatch, "_qat_epoch", lambda prepared, *_: observing.append(
        {int(m.observer_enabled) for m in prepared.modules() if hasattr(m, "observer_enabled")}
    ))  # fmt: skip
    config = dataclasses.replace(SMALL, epochs=2, freeze_observer_epoch=1)
    train_qat(source.model, train, pool, source.meta, config)
    assert rows == [16 + 8, 16 + 8, 8 + 8] * 2  # each labeled batch and 8 unlabeled images
    assert observing == [{1}, {0}]  # the int8 ranges move in epoch 0 only
    rows.clear()
    labeled_only = dataclasses.replace(config, epochs=1, use_unlabeled=False)
    train_qat(source.model, train, pool, source.meta, labeled_only)
    assert rows == [16, 16, 8]


def test_the_seed_draws_the_unlabeled_calibration_images(source, images, dataset):
    train, pool = images
    mean, std = source.meta.mean, source.meta.std
    calibrated = dataclasses.replace(SMALL, epochs=0, calibration_unlabeled=32)

    def int8_probs(seed):
        config = dataclasses.replace(calibrated, seed=seed)
        program = train_qat(source.model, train, pool, source.meta, config)
        return program_probs(program, dataset.test.images[:100], mean, std)

    first = int8_probs(0)
    assert np.array_equal(int8_probs(0), first) and not np.array_equal(int8_probs(1), first)


def test_calibration_sees_the_images_as_deployment_does_without_dropout(images):
    """The int8 ranges come from eval-mode passes: a calibration left in train mode (the
    prepared graph starts there) drew dropout masks, so its ranges depended on the random
    state and were set on activations scaled by 1 / (1 - p) that inference never sees."""
    from types import SimpleNamespace

    from melanoma.model import CNNConfig, SmallCNN, example_inputs
    from melanoma.pt2e import prepare_qat_model

    train, _ = images
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig(widths=(4, 8), dropout=0.5)).eval()
    meta = SimpleNamespace(mean=[0.5] * 3, std=[0.25] * 3)

    def calibrated_state(global_seed: int) -> dict:
        prepared = prepare_qat_model(model, example_inputs(2))
        torch.manual_seed(global_seed)  # dropout, if it ran, would draw from this
        qat_module._calibrate(prepared, train.images, meta, torch.Generator().manual_seed(0))
        return prepared.state_dict()

    first, second = calibrated_state(1), calibrated_state(2)
    assert first.keys() == second.keys()
    for name, value in first.items():
        assert torch.equal(value, second[name]), name


def test_the_program_records_the_torch_threads_it_was_made_on(source, dataset, tmp_path):
    """Its int8 ranges and weights round differently on another thread count."""
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    torch.set_num_threads(other)
    try:
        config = dataclasses.replace(SMALL, epochs=0)
        qat_dir = qat_module.qat_finetune(source, dataset, config, tmp_path / "qat")
    finally:
        torch.set_num_threads(before)
    assert load_qat(qat_dir).meta.train_config["torch_threads"] == other


def test_the_saved_program_names_no_install_path(source, dataset, tmp_path):
    """torch.export keeps each node's stack trace, with the absolute path of the package's
    files (a user's home folder), in program.pt2; a shared program would carry it."""
    config = dataclasses.replace(SMALL, epochs=0)
    qat_dir = qat_module.qat_finetune(source, dataset, config, tmp_path / "qat")
    install = str(Path(qat_module.__file__).resolve().parent).encode()
    with zipfile.ZipFile(qat_dir / "program.pt2") as archive:
        members = [archive.read(name) for name in archive.namelist()]
    assert any(b'"dequantize_per_channel"' in member for member in members)  # the graph is here
    assert not [member for member in members if install in member or b"stack_trace" in member]
    assert load_qat(qat_dir).meta.weights_sha256  # and it still loads


def test_a_fine_tune_that_collapsed_writes_no_program(source, dataset, tmp_path):
    """At lr 1e6 the loss stays finite while the weights reach ~2e6: the int8 program gave
    every validation image one probability and was saved all the same. (One QAT run, end to
    end: most of its seconds are export, prepare and convert.)"""
    from melanoma.training import DivergenceError

    blown_up = dataclasses.replace(SMALL, epochs=1, lr=1e6)
    with pytest.raises(
        DivergenceError, match="QAT diverged: .* 40 validation images one probability"
    ):
        qat_module.qat_finetune(source, dataset, blown_up, tmp_path / "qat")
    assert not (tmp_path / "qat").exists()


def test_the_qat_command_reports_a_diverged_fine_tune_in_one_line(data_path, tmp_path, monkeypatch):
    """Wiring: DivergenceError is not bad input, so no traceback and exit 1, as train's."""
    from click.testing import CliRunner

    from melanoma.cli import cli
    from melanoma.training import DivergenceError

    def diverged(*args):
        raise DivergenceError("QAT diverged: the int8 program gives the 40 validation ...")

    monkeypatch.setattr(qat_module, "qat_finetune", diverged)
    args = ["qat", "reference-sgan", "--data", str(data_path), "--out", str(tmp_path / "q")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines()[-1].startswith("error: QAT diverged: ")


def test_one_probability_is_no_collapse_where_the_float_model_decides_every_image_alike(
    forty_labeled, dataset, tmp_path
):
    """A supervised source's int8 program is checked on the unlabeled images: with 1 of them
    it gives "every image" one probability whatever it learned, and a fine-tune at the
    default settings was refused as diverged. One probability can only be wrong where the
    float model decides the images both ways."""
    from melanoma.train import TrainConfig, train_supervised

    one_unlabeled = dataclasses.replace(forty_labeled, unlabeled=dataset.unlabeled.subset([0]))
    config = TrainConfig(epochs=1, folds=2, batch_size=8, progress=False)
    source = load_checkpoint(train_supervised(one_unlabeled, config, tmp_path / "float"))
    qat_dir = qat_module.qat_finetune(source, one_unlabeled, SMALL, tmp_path / "qat")
    meta = load_qat(qat_dir).meta
    assert (meta.train_config["agreement_images"], meta.train_config["n_agreement"]) == (
        "unlabeled",
        1,
    )
