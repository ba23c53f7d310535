"""SGAN training on the real data (train_sgan and its step, sgan_step): real updates,
resume, checkpoint format. Divergence handling: test_train_sgan_divergence.py."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import melanoma.sgan_step
import melanoma.train_sgan as ts
from melanoma.batches import LabeledBatches
from melanoma.checkpoint import load_checkpoint
from melanoma.errors import UserError
from melanoma.evaluate import pick_split
from melanoma.inference import predict_probs
from melanoma.metrics import choose_thresholds
from melanoma.preprocess import channel_stats
from melanoma.resume import RESUME, TrainingInterrupted, save_resume_state
from melanoma.sgan_step import build_nets, sgan_step, train_one_epoch
from melanoma.sources import DataError
from melanoma.train_sgan import train_sgan
from melanoma.training import augmented_batch, select_device
from melanoma.validation_scores import checkpoint_scores

from sgan_runs import TINY, small_data


@pytest.fixture(scope="module")
def small(dataset):
    return small_data(dataset)


def test_step_updates_both_networks_on_real_data(small):
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(0)
    nets = build_nets(TINY, steps=10, device=torch.device("cpu"))
    assert nets.opt_d.defaults["betas"] == nets.opt_g.defaults["betas"] == (TINY.beta1, 0.999)
    mean, std = channel_stats(small.labeled.images)
    before_d = [p.detach().clone() for p in nets.disc.parameters()]
    before_g = [p.detach().clone() for p in nets.gen.parameters()]
    x_lab = augmented_batch(small.labeled.images[:16], TINY.augment, mean, std, rng)
    x_unl = augmented_batch(small.unlabeled.images[:32], TINY.augment, mean, std, rng)
    losses = sgan_step(nets, x_lab, small.labeled.labels[:16], x_unl, TINY, mean, std, rng)

    assert set(losses) == {"sup", "real", "fake", "fm"}  # no teacher batch given
    assert all(v > 0 for v in losses.values())
    for name, params, before in (("D", nets.disc, before_d), ("G", nets.gen, before_g)):
        changed = [not torch.equal(p, b) for p, b in zip(params.parameters(), before, strict=True)]
        assert all(changed), f"{name}: {changed.count(False)} parameter tensors did not move"


def test_with_unlabeled_losses_off_the_discriminator_learns_from_labeled_images_only(small):
    """The sgan-labeled-only ablation: D's update must not depend on the unlabeled batch."""
    config = dataclasses.replace(TINY, unsup_weight=0.0, consistency_weight=0.0)
    mean, std = channel_stats(small.labeled.images)
    rng = torch.Generator().manual_seed(0)
    x_lab = augmented_batch(small.labeled.images[:16], config.augment, mean, std, rng)
    y_lab = small.labeled.labels[:16]
    updated = []
    for first in (0, 32):  # two different unlabeled batches, everything else equal
        torch.manual_seed(0)
        nets = build_nets(config, steps=10, device=torch.device("cpu"))
        x_unl = augmented_batch(small.unlabeled.images[first : first + 32], config.augment,
                                mean, std, torch.Generator().manual_seed(1))  # fmt: skip
        sgan_step(nets, x_lab, y_lab, x_unl, config, mean, std, torch.Generator().manual_seed(2))
        updated.append([p.detach().clone() for p in nets.disc.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*updated, strict=True))


def test_train_writes_checkpoint_and_reports(small, tmp_path):
    (tmp_path / "run").mkdir()
    for left_by_a_supervised_run in ("history.csv", "out_of_fold.csv"):
        (tmp_path / "run" / left_by_a_supervised_run).write_text("fold,epoch\n")
    out = train_sgan(small, TINY, tmp_path / "run")
    assert not (out / "out_of_fold.csv").exists()  # not beside an SGAN checkpoint
    checkpoint = load_checkpoint(out)
    meta = checkpoint.meta
    assert (meta.method, meta.arch, meta.epochs) == ("sgan", "sgan-classifier", 3)
    assert meta.train_config["unsup_weight"] == TINY.unsup_weight
    assert meta.train_config["generator"]["latent_dim"] == 16
    assert meta.train_config["n_unlabeled"] == 128
    assert {t["name"] for t in meta.thresholds} == {"youden", "sensitivity_0.90"}
    labels, probs = checkpoint_scores(checkpoint)  # validation.csv: what thresholds saw
    val = pick_split(small, "val", checkpoint)
    assert labels.tolist() == val.labels.tolist()
    assert (
        probs.tolist() == predict_probs(checkpoint.model, val.images, meta.mean, meta.std).tolist()
    )
    chosen = choose_thresholds(labels, probs, 0.9, TINY.youden_estimator)
    assert [c.probability for c in chosen] == [t["probability"] for t in meta.thresholds]
    for name in ("history.csv", "losses.png", "samples.png"):
        assert (out / name).stat().st_size > 0
    kept = sorted(p.name for p in out.glob("samples-epoch*.png"))
    assert kept == ["samples-epoch002.png", "samples-epoch003.png"]  # sample_every 2, and the end
    assert not (out / "resume.pt").exists()
    assert checkpoint.model(torch.zeros(2, 3, 32, 32)).shape == (2, 1)


def test_the_checkpoint_records_the_torch_threads_it_trained_on(small, tmp_path):
    """1 and 2 threads train different weights: a retrain meant to match needs the count."""
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    torch.set_num_threads(other)
    try:
        out = train_sgan(small, dataclasses.replace(TINY, epochs=1), tmp_path / "run")
    finally:
        torch.set_num_threads(before)
    assert load_checkpoint(out).meta.train_config["torch_threads"] == other


def test_the_checkpoint_records_the_device_it_ran_on_and_deterministic_mode(small, tmp_path):
    """train_config said device "auto", not which one that picked, and nothing said
    whether --deterministic was on."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        out = train_sgan(small, dataclasses.replace(TINY, epochs=1), tmp_path / "run")
    finally:
        torch.use_deterministic_algorithms(before)
    config = load_checkpoint(out).meta.train_config
    assert config["device"] == TINY.device  # "auto": which device is device_used
    assert config["device_used"] == str(select_device(TINY.device))
    assert config["deterministic"] is True


@pytest.fixture(scope="module")
def uninterrupted(small, tmp_path_factory):
    """A TINY run from start to end, for the interrupted ones to match."""
    return train_sgan(small, TINY, tmp_path_factory.mktemp("sgan") / "whole")


def test_ctrl_c_saves_resume_state_and_resume_matches_an_uninterrupted_run(
    small, tmp_path, ctrl_c_on_epoch, uninterrupted
):
    whole = torch.load(uninterrupted / "weights.pt")
    count = ctrl_c_on_epoch(ts, 2)
    with pytest.raises(TrainingInterrupted):
        train_sgan(small, TINY, tmp_path / "run")
    assert (tmp_path / "run" / "resume.pt").is_file()
    assert not (tmp_path / "run" / "weights.pt").exists()

    out = train_sgan(small, TINY, tmp_path / "run", resume=True)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["epochs"] == 3
    assert count["n"] == 4  # epochs 2 and 3 ran after resuming, epoch 1 was not redone
    assert not (out / "resume.pt").exists()
    # 4 steps of 16 of the 160 labeled images per epoch: the resume happened mid-pass
    resumed = torch.load(out / "weights.pt")
    for key, value in whole.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)


def test_ctrl_c_late_in_a_resumed_epoch_saves_the_state_it_resumed_from(
    small, tmp_path, monkeypatch, ctrl_c_on_epoch, uninterrupted
):
    """The steps after a resume must not write into the state that a second Ctrl-C saves
    (Adam's moments were shared with it), nor may its sample grid show them."""
    run = tmp_path / "run"
    ctrl_c_on_epoch(ts, 2, after_steps=True)
    with pytest.raises(TrainingInterrupted, match="epoch 1"):
        train_sgan(small, TINY, run)
    first = torch.load(run / "resume.pt", weights_only=True)["nets"]
    monkeypatch.undo()
    ctrl_c_on_epoch(ts, 1, after_steps=True)  # epoch 2's steps once more, then Ctrl-C
    with pytest.raises(TrainingInterrupted, match="epoch 1"):
        train_sgan(small, TINY, run, resume=True)
    second = torch.load(run / "resume.pt", weights_only=True)["nets"]
    for part in ("opt_d", "opt_g"):
        for index, moments in first[part]["state"].items():
            for name, value in moments.items():
                assert torch.equal(second[part]["state"][index][name], value), (part, name)
    monkeypatch.undo()
    ctrl_c_on_epoch(ts, 2, after_steps=True)  # epoch 2 whole, then epoch 3's steps
    with pytest.raises(TrainingInterrupted, match="epoch 2"):
        train_sgan(small, TINY, run, resume=True)
    grid = "samples-epoch002.png"
    assert (run / grid).read_bytes() == (uninterrupted / grid).read_bytes()
    monkeypatch.undo()
    resumed = torch.load(train_sgan(small, TINY, run, resume=True) / "weights.pt")
    for key, value in torch.load(uninterrupted / "weights.pt").items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)


def test_resume_refuses_a_state_saved_by_another_run(small, tmp_path, monkeypatch, ctrl_c_on_epoch):
    ctrl_c_on_epoch(ts, 1)
    with pytest.raises(TrainingInterrupted):
        train_sgan(small, TINY, tmp_path / "run")
    monkeypatch.undo()
    mismatch = r"other settings \(epochs 3 saved, 2 now; seed 0 saved, 1 now\)"
    with pytest.raises(UserError, match=mismatch):
        train_sgan(small, dataclasses.replace(TINY, seed=1, epochs=2), tmp_path / "run", True)
    fewer = dataclasses.replace(small, labeled=small.labeled.subset(torch.arange(150)))
    with pytest.raises(UserError, match="saved on other data"):
        train_sgan(fewer, TINY, tmp_path / "run", resume=True)
    assert (tmp_path / "run" / "resume.pt").is_file()  # refused, not consumed
    assert not (tmp_path / "run" / "weights.pt").exists()


def test_resume_refuses_a_state_of_this_run_missing_any_of_its_keys_or_weights(
    small, tmp_path, ctrl_c_on_epoch
):
    """A truncated or hand-edited resume.pt with this run's identity: train_sgan must
    check its own keys (RESUME_LAYOUT), or one without "restores" or "history" stopped
    in a KeyError traceback in the middle of training, and name a network's missing
    weight in one line."""
    ctrl_c_on_epoch(ts, 2)
    with pytest.raises(TrainingInterrupted):
        train_sgan(small, TINY, tmp_path / "run")
    saved = torch.load(tmp_path / "run" / RESUME, weights_only=True)
    # every key the trainer saved but its record of the run (not RESUME_LAYOUT: a key
    # left out of it would go unchecked here too); torch_threads is only a warning's, and
    # main's restores_before (d09a02f) is recomputed when a state saved before it lacks it
    optional = {"identity", "torch_threads", "restores_before"}
    for key in sorted(saved.keys() - optional):
        save_resume_state(tmp_path / key, {k: v for k, v in saved.items() if k != key})
        with pytest.raises(UserError, match=rf"corrupt resume state \(no '{key}'\)"):
            train_sgan(small, TINY, tmp_path / key, resume=True)
    # networks without a weight: load_state_dict's RuntimeError lists them on many lines
    disc = dict(saved["nets"]["disc"])
    disc.pop(next(iter(disc)))
    save_resume_state(tmp_path / "disc", {**saved, "nets": {**saved["nets"], "disc": disc}})
    with pytest.raises(UserError, match=r"corrupt resume state \(RuntimeError Error\(s\) in ") as e:
        train_sgan(small, TINY, tmp_path / "disc", resume=True)
    assert "\n" not in str(e.value)


def test_resume_refuses_a_count_that_is_not_a_whole_number_in_one_line(
    small, tmp_path, ctrl_c_on_epoch
):
    """A hand-edited restores_before or torch_threads that is no count: a str or list gave
    a TypeError traceback mid-run (or a logging error), True or -1 went on miscounting."""
    ctrl_c_on_epoch(ts, 2)
    with pytest.raises(TrainingInterrupted):
        train_sgan(small, TINY, tmp_path / "run")
    saved = torch.load(tmp_path / "run" / RESUME, weights_only=True)
    edits = [
        (key, value)
        for key in ("restores_before", "torch_threads", "restores")
        for value in ("1", [1], True, -1)
    ]
    edits += [("torch_threads", 0), ("restores_before", saved["restores"] + 1)]
    for n, (key, value) in enumerate(edits):
        save_resume_state(tmp_path / str(n), {**saved, key: value})
        with pytest.raises(UserError, match=rf"{RESUME}: corrupt resume state \('{key}' is "):
            train_sgan(small, TINY, tmp_path / str(n), resume=True)


def test_labeled_batches_cover_a_set_smaller_than_a_batch_and_resume_in_place(small):
    few = small.labeled.subset(torch.arange(10))
    batch, labels = next(LabeledBatches(few, 32, torch.Generator().manual_seed(0)))
    assert len(batch) == len(labels) == 10  # one batch of all of it; no endless empty loop
    batches = LabeledBatches(small.labeled, 64, torch.Generator().manual_seed(0))
    next(batches)
    saved, gen_state = batches.state(), batches.gen.get_state()
    expected = [next(batches)[1] for _ in range(3)]  # crosses into the next pass
    again = LabeledBatches(small.labeled, 64, torch.Generator())
    again.load(saved)
    again.gen.set_state(gen_state)
    assert all(torch.equal(next(again)[1], e) for e in expected)


def test_needs_unlabeled_split(small, tmp_path):
    with pytest.raises(ValueError, match="unlabeled"):
        train_sgan(dataclasses.replace(small, unlabeled=None), TINY, tmp_path)


def test_too_few_unlabeled_images_for_one_batch_is_a_data_error(small, tmp_path):
    few = dataclasses.replace(small, unlabeled=small.unlabeled.subset(torch.arange(10)))
    with pytest.raises(DataError, match="at least 32 unlabeled images .* found 10"):
        train_sgan(few, TINY, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def _validation_scores(monkeypatch, rigged):
    """Wrap ts.validate: record each epoch's real validation AUC, report rigged(epoch, auc)."""
    real, seen = ts.validate, []

    def validate(*args, **kwargs):
        seen.append(real(*args, **kwargs))
        return rigged(len(seen), seen[-1])

    monkeypatch.setattr(ts, "validate", validate)
    return seen


def test_the_checkpoint_is_the_epoch_with_the_best_validation_auc(small, tmp_path, monkeypatch):
    """Epoch 1 is made the best: the saved classifier must be its EMA of D, not the last
    epoch's, so its stored validation AUC is the one epoch 1 measured."""
    real = _validation_scores(monkeypatch, lambda epoch, auc: auc + (1.0 if epoch == 1 else 0.0))
    meta = load_checkpoint(train_sgan(small, TINY, tmp_path / "run")).meta
    assert meta.best_epoch == 1 and len(real) == 3
    assert meta.val_metrics["auc"] == pytest.approx(real[0], abs=1e-6)
    assert real[0] != real[2]  # so the check above can tell epoch 1 from the last


def test_selection_keeps_the_earlier_epoch_on_a_tie_and_select_after_one_is_the_last(
    small, tmp_path, monkeypatch
):
    _validation_scores(monkeypatch, lambda epoch, auc: 0.75)  # every epoch ties
    tied = load_checkpoint(train_sgan(small, TINY, tmp_path / "tie")).meta
    assert tied.best_epoch == 1
    last_only = dataclasses.replace(TINY, select_after=1.0)  # "select_after 1: the last epoch"
    assert load_checkpoint(train_sgan(small, last_only, tmp_path / "last")).meta.best_epoch == 3


def test_exactly_one_batch_of_unlabeled_images_is_enough(small, tmp_path):
    one_batch = dataclasses.replace(small, unlabeled=small.unlabeled.subset(torch.arange(32)))
    meta = load_checkpoint(train_sgan(one_batch, TINY, tmp_path / "run")).meta
    assert meta.train_config["n_unlabeled"] == 32 and meta.epochs == 3


def test_an_epochs_losses_are_the_mean_of_its_steps_each_on_two_views(small, monkeypatch):
    """history.csv's losses are per step, as its val_auc is per epoch; the mean teacher sees
    another augmentation of each unlabeled batch than D does."""
    real_step, seen = melanoma.sgan_step.sgan_step, []

    def step(nets, x_lab, y_lab, x_unl, *args):
        seen.append((x_unl, args[-1], real_step(nets, x_lab, y_lab, x_unl, *args)))
        return seen[-1][-1]

    monkeypatch.setattr(melanoma.sgan_step, "sgan_step", step)
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(0)
    nets = build_nets(TINY, steps=10, device=torch.device("cpu"))
    mean, std = channel_stats(small.labeled.images)
    labeled = LabeledBatches(small.labeled, TINY.labeled_batch_size, rng)
    epoch = train_one_epoch(nets, labeled, small.unlabeled, TINY, mean, std, rng)
    assert len(seen) == 4 and set(epoch) == {"sup", "real", "fake", "fm", "cons"}
    for name, value in epoch.items():
        assert value == pytest.approx(sum(losses[name] for *_, losses in seen) / 4)
    assert not any(torch.equal(x_unl, x_teacher) for x_unl, x_teacher, _ in seen)
