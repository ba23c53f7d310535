"""SGAN training that diverges (train_sgan on the real data): roll back to the last good
epoch and carry on, say how often in history.csv and the checkpoint, or give up without a
checkpoint, in one line from the CLI."""

from __future__ import annotations

import csv
import dataclasses

import pytest
import torch

import melanoma.sgan_step
import melanoma.train_sgan as ts
from melanoma.checkpoint import load_checkpoint
from melanoma.cli import _train_method
from melanoma.resume import TrainingInterrupted
from melanoma.run_settings import training_settings
from melanoma.train_sgan import DivergenceError, train_sgan

from sgan_runs import TINY, small_data


@pytest.fixture(scope="module")
def small(dataset):
    return small_data(dataset)


def _poison_once(monkeypatch, calls_to_poison: set[int]):
    """Make D's weights NaN before the given sgan_step calls (counted from 0)."""
    original, count = melanoma.sgan_step.sgan_step, {"n": 0}

    def poisoned(nets, *args, **kwargs):
        if count["n"] in calls_to_poison:
            with torch.no_grad():
                next(nets.disc.parameters()).fill_(float("nan"))
        count["n"] += 1
        return original(nets, *args, **kwargs)

    monkeypatch.setattr(melanoma.sgan_step, "sgan_step", poisoned)


def _history(out) -> list[dict]:
    with (out / "history.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_injected_nan_restores_last_good_epoch(small, tmp_path, monkeypatch, caplog):
    _poison_once(monkeypatch, {5})  # in epoch 2 (4 steps per epoch)
    out = train_sgan(small, TINY, tmp_path / "run")

    assert "diverged" in caplog.text
    state = torch.load(out / "weights.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state.values())
    history = (out / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3"]


def test_the_history_and_the_checkpoint_say_how_often_training_was_rolled_back(
    small, tmp_path, monkeypatch
):
    """A run that diverged twice and recovered wrote the same history.csv and metadata as
    one that never diverged: only a log line, long scrolled away, told them apart."""
    _poison_once(monkeypatch, {5, 6})  # epoch 2 diverges, and its first retry too
    out = train_sgan(small, TINY, tmp_path / "run")
    assert [row["rolled_back"] for row in _history(out)] == ["0", "2", "0"]
    meta = load_checkpoint(out).meta
    assert meta.train_config["restores"] == 2
    assert "restores" not in training_settings(meta.train_config)  # not a setting to match
    clean = train_sgan(small, dataclasses.replace(TINY, epochs=1), tmp_path / "clean")
    assert load_checkpoint(clean).meta.train_config["restores"] == 0


def test_persistent_divergence_stops_without_checkpoint(small, tmp_path, monkeypatch):
    _poison_once(monkeypatch, set(range(4, 1000)))  # epoch 1 is good, then never again
    with pytest.raises(DivergenceError, match="no checkpoint written"):
        train_sgan(small, TINY, tmp_path / "run")
    assert not (tmp_path / "run" / "weights.pt").exists()
    assert not (tmp_path / "run" / "metadata.json").exists()
    assert (tmp_path / "run" / "history.csv").is_file()  # the curves of what did train


def test_the_cli_gives_up_on_divergence_in_one_line_and_leaves_no_empty_dir(
    small, tmp_path, monkeypatch, capsys
):
    _poison_once(monkeypatch, set(range(1000)))
    with pytest.raises(SystemExit) as stop:
        _train_method("sgan", small, TINY, tmp_path / "run", resume=False)
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: SGAN diverged in epoch 1") and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_a_non_finite_generator_is_never_kept_as_the_good_state(small, tmp_path, monkeypatch):
    """Validation scores only the classifier: G going NaN in an epoch's last step must still
    roll that epoch back, not become the state every restore returns to."""
    real_step, calls = melanoma.sgan_step.sgan_step, {"n": 0}

    def step(nets, *args, **kwargs):
        calls["n"] += 1
        losses = real_step(nets, *args, **kwargs)
        if calls["n"] == 4:  # the last of epoch 1's 4 steps
            with torch.no_grad():
                next(nets.gen.parameters()).fill_(float("nan"))
        return losses

    monkeypatch.setattr(melanoma.sgan_step, "sgan_step", step)
    out = train_sgan(small, TINY, tmp_path / "run")
    history = (out / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3"]
    assert calls["n"] == 16  # epoch 1 twice, then epochs 2 and 3


def test_max_restores_is_the_number_of_restores_allowed(small, tmp_path, monkeypatch):
    _poison_once(monkeypatch, {5})  # one divergence, in epoch 2
    out = train_sgan(small, dataclasses.replace(TINY, max_restores=1), tmp_path / "run")
    history = (out / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3"]


def test_max_restores_counts_every_restore_of_the_run_not_only_consecutive_ones(
    small, tmp_path, monkeypatch
):
    _poison_once(monkeypatch, {5, 13})  # epoch 2 diverges, its retry is good, then epoch 3
    with pytest.raises(DivergenceError, match="in epoch 3 .* after 1 restores"):
        train_sgan(small, dataclasses.replace(TINY, max_restores=1), tmp_path / "run")


def test_divergence_keeps_an_empty_directory_the_user_made(small, tmp_path, monkeypatch):
    (tmp_path / "run").mkdir()  # made by the user (or a script) before the run
    _poison_once(monkeypatch, set(range(1000)))
    with pytest.raises(DivergenceError):
        train_sgan(small, TINY, tmp_path / "run")
    assert (tmp_path / "run").is_dir()


def test_resume_after_a_roll_back_matches_the_run_that_was_not_interrupted(
    small, tmp_path, monkeypatch, ctrl_c_on_epoch
):
    """A rollback keeps the data stream going (the retry sees other batches): a Ctrl-C in
    the retry saved the diverged attempt's stream, so --resume replayed the batches that
    diverged and trained other weights than the uninterrupted run."""
    _poison_once(monkeypatch, {5})  # epoch 2 diverges once
    whole = torch.load(train_sgan(small, TINY, tmp_path / "whole") / "weights.pt")
    monkeypatch.undo()
    _poison_once(monkeypatch, {5})
    ctrl_c_on_epoch(ts, 3)  # the retry of epoch 2
    with pytest.raises(TrainingInterrupted, match="epoch 1"):
        train_sgan(small, TINY, tmp_path / "run")
    resumed = torch.load(train_sgan(small, TINY, tmp_path / "run", resume=True) / "weights.pt")
    for key, value in whole.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)


def test_a_resume_pt_from_before_rolled_back_leaves_its_rows_blank_and_counts_on(
    small, tmp_path, monkeypatch, ctrl_c_on_epoch
):
    """A resume.pt an older version saved has history rows without `rolled_back`: the
    column, set by the first row, was missing from history.csv, and the epoch after the
    resume was credited with every rollback before it."""
    _poison_once(monkeypatch, {5})  # epoch 2 diverges once
    ctrl_c_on_epoch(ts, 4)  # epochs 1, 2, 2 again, then epoch 3: Ctrl-C
    with pytest.raises(TrainingInterrupted, match="epoch 2"):
        train_sgan(small, TINY, tmp_path / "run")
    resume_pt = tmp_path / "run" / "resume.pt"
    state = torch.load(resume_pt, weights_only=True)
    state.pop("restores_before", None)  # as a version before 2026-12-07 saved it (f660550)
    for row in state["history"]:
        del row["rolled_back"]
    torch.save(state, resume_pt)
    monkeypatch.undo()
    out = train_sgan(small, TINY, tmp_path / "run", resume=True)
    assert [row["rolled_back"] for row in _history(out)] == ["", "", "0"]
    assert load_checkpoint(out).meta.train_config["restores"] == 1
