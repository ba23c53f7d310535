import dataclasses

import numpy as np
import pytest
import torch

import melanoma.train as train_module
from melanoma.checkpoint import load_checkpoint, read_meta
from melanoma.errors import UserError
from melanoma.fold_run import fresh_run, kept_epoch
from melanoma.inference import predict_probs
from melanoma.metrics import all_metrics, auc, youden_threshold
from melanoma.resume import TrainingInterrupted, run_identity, save_resume_state
from melanoma.splits import stratified_folds
from melanoma.train import TrainConfig, train_folds, train_supervised
from melanoma.train_sgan import SGANConfig, train_sgan
from melanoma.training import DivergenceError
from melanoma.validation_scores import OUT_OF_FOLD_CSV, read_scores

FAST = TrainConfig(epochs=4, progress=False)


def test_end_to_end_baseline_beats_chance_by_far(dataset, tmp_path):
    """Short real training; the test split is only touched here, after training."""
    config = TrainConfig(epochs=25, progress=False, seed=0)
    checkpoint = load_checkpoint(train_supervised(dataset, config, tmp_path / "run"))
    probs = predict_probs(
        checkpoint.model, dataset.test.images, checkpoint.meta.mean, checkpoint.meta.std
    )
    assert all_metrics(dataset.test.labels.numpy(), probs, 0.5)["auc"] >= 0.70


def test_out_of_fold_predictions_are_kept_and_chose_the_thresholds(quick_checkpoint):
    meta = read_meta(quick_checkpoint)
    labels, probs = read_scores(quick_checkpoint / OUT_OF_FOLD_CSV)
    assert len(labels) == 200 and labels.sum() == 100
    assert auc(labels, probs) == pytest.approx(meta.val_metrics["auc"])
    stored = meta.thresholds[0]
    assert youden_threshold(labels, probs).probability == pytest.approx(stored["probability"])


def test_metadata_describes_the_run(quick_checkpoint, dataset):
    meta = read_meta(quick_checkpoint)
    assert meta.method == "supervised" and meta.arch == "small-cnn-ensemble"
    assert meta.arch_args["members"] == 5
    assert meta.data_fingerprint == dataset.fingerprint
    assert [t["name"] for t in meta.thresholds] == ["youden", "sensitivity_0.90"]
    assert [t["estimator"] for t in meta.thresholds] == ["binormal", "empirical"]
    config = meta.train_config
    assert config["validation"] == "out-of-fold" and config["n_val"] == config["n_train"] == 200
    assert len(meta.mean) == 3 and all(0 < s < 1 for s in meta.std)
    assert config["select_epoch"] == "val-auc" and 1 <= meta.best_epoch <= meta.epochs
    history = (quick_checkpoint / "history.csv").read_text().splitlines()
    assert history[0] == "fold,epoch,train_loss,held_out_auc"
    assert len(history) == 1 + 5 * meta.epochs


@pytest.mark.parametrize("train", [train_supervised, train_sgan])
def test_labeled_images_with_a_constant_channel_are_refused_before_any_write(
    dataset, tmp_path, train
):
    flat = dataset.labeled.images.clone()
    flat[:, 2] = 100  # blue: one value everywhere, std 0
    data = dataclasses.replace(dataset, labeled=dataclasses.replace(dataset.labeled, images=flat))
    config = FAST if train is train_supervised else SGANConfig(epochs=1, progress=False)
    with pytest.raises(UserError, match="blue channel has one value"):
        train(data, config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_normalization_comes_from_the_labeled_images_only(quick_checkpoint, dataset):
    from melanoma.preprocess import channel_stats

    assert read_meta(quick_checkpoint).mean == channel_stats(dataset.labeled.images)[0]


def test_a_diverged_member_stops_training_without_a_checkpoint(dataset, tmp_path):
    """As the SGAN does: one line through the CLI (exit 1), not sklearn's NaN traceback."""
    config = dataclasses.replace(FAST, epochs=2, lr=1e6)  # Adam at 1e6 overflows in an epoch
    with pytest.raises(DivergenceError, match=r"member 1 of 5 diverged at epoch 1 .*no checkpoint"):
        train_supervised(dataset, config, tmp_path / "run")
    assert not (tmp_path / "run" / "weights.pt").exists()


def test_no_member_trains_on_the_fold_it_predicts(dataset, tmp_path, monkeypatch):
    seen = []
    real_member = train_module.train_member

    def record(train, held_out, *args):
        seen.append((set(train.names), set(held_out.names)))
        return real_member(train, held_out, *args)

    monkeypatch.setattr(train_module, "train_member", record)
    train_supervised(dataset, dataclasses.replace(FAST, epochs=1), tmp_path)
    assert len(seen) == 5
    assert all(not train & held_out for train, held_out in seen)
    held_out_sets = [held_out for _, held_out in seen]
    assert set().union(*held_out_sets) == set(dataset.labeled.names)
    assert sum(map(len, held_out_sets)) == len(dataset.labeled)


def test_thresholds_come_from_the_out_of_fold_predictions(dataset, tmp_path, monkeypatch):
    """The stored validation metrics are those of the members on their own held-out folds."""
    recorded = {}
    real_logits = train_module.predict_logits

    def record(model, images, mean, std):
        logits = real_logits(model, images, mean, std)
        recorded.update(zip(map(_key, images), logits.tolist(), strict=True))
        return logits

    monkeypatch.setattr(train_module, "predict_logits", record)
    meta = read_meta(train_supervised(dataset, dataclasses.replace(FAST, epochs=1), tmp_path))
    labels = dataset.labeled.labels.numpy()
    logits = torch.tensor([recorded[_key(image)] for image in dataset.labeled.images])
    expected = all_metrics(labels, torch.sigmoid(logits).numpy(), meta.threshold())
    assert meta.val_metrics["auc"] == pytest.approx(expected["auc"])
    assert meta.val_metrics["accuracy"] == pytest.approx(expected["accuracy"])


def _key(image: torch.Tensor) -> bytes:
    return image.numpy().tobytes()


def test_kept_epoch_has_the_best_pooled_auc_and_the_later_epoch_wins_a_tie():
    labels = np.array([0, 0, 1, 1])
    oof_logits = torch.tensor(
        [[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.2, 0.1, 0.4, 0.3], [0.5, 0.1, 0.2, 0.9]]
    )  # epoch 1 and 3: AUC 1.0; epoch 2: 0.0; epoch 4: 0.75
    assert kept_epoch(oof_logits, labels, [1, 2, 3, 4]) == (3, 1.0)
    assert kept_epoch(oof_logits, labels, [2, 4]) == (4, 0.75)
    assert kept_epoch(oof_logits, labels, [4]) == (4, 0.75)


def test_val_auc_keeps_for_every_member_the_epoch_with_the_best_out_of_fold_auc(
    dataset, tmp_path, monkeypatch
):
    """Every member's held-out logits after every epoch are recorded as training makes
    them; the kept epoch must beat every other on their pooled AUC, and the saved
    members must reproduce that epoch's out-of-fold predictions."""
    config = dataclasses.replace(FAST, select_epoch="val-auc", epochs=6)
    by_epoch = {}  # epoch -> {image: logit}
    real_logits, calls = train_module.predict_logits, {"n": 0}

    def record(model, images, mean, std):
        logits = real_logits(model, images, mean, std)
        epoch = calls["n"] % config.epochs + 1  # members train one after another
        calls["n"] += 1
        by_epoch.setdefault(epoch, {}).update(zip(map(_key, images), logits.tolist(), strict=True))
        return logits

    monkeypatch.setattr(train_module, "predict_logits", record)
    out = train_supervised(dataset, config, tmp_path / "run")
    monkeypatch.undo()
    labeled = dataset.labeled
    labels = labeled.labels.numpy()
    pooled = {
        epoch: auc(labels, np.array([logits[_key(image)] for image in labeled.images]))
        for epoch, logits in by_epoch.items()
    }
    checkpoint = load_checkpoint(out)
    meta = checkpoint.meta
    assert sorted(pooled) == list(range(1, 7))
    assert meta.best_epoch == max(pooled, key=lambda e: (pooled[e], e))
    assert meta.val_metrics["auc"] == pytest.approx(pooled[meta.best_epoch])
    assert meta.train_config["select_epoch"] == "val-auc"
    _, out_of_fold = read_scores(out / OUT_OF_FOLD_CSV)
    fold_of = stratified_folds(labeled.labels, config.folds, config.seed)
    for k, member in enumerate(checkpoint.model.members):
        in_fold = (fold_of == k).numpy()
        member_probs = predict_probs(member, labeled.images[in_fold], meta.mean, meta.std)
        np.testing.assert_allclose(member_probs, out_of_fold[in_fold], rtol=1e-6)


@pytest.mark.parametrize("select_epoch", ["last", "val-auc"])
def test_ctrl_c_saves_state_and_resume_matches_an_uninterrupted_run(
    dataset, tmp_path, monkeypatch, ctrl_c_on_epoch, select_epoch
):
    config = dataclasses.replace(FAST, select_epoch=select_epoch)
    whole = load_checkpoint(train_supervised(dataset, config, tmp_path / "whole"))

    ctrl_c_on_epoch(train_module, 7)  # epoch 3 of member 2; every later call trains
    with pytest.raises(TrainingInterrupted, match="after epoch 2/4 of member 2/5;"):
        train_supervised(dataset, config, tmp_path / "split")
    assert (tmp_path / "split" / "resume.pt").exists()
    assert not (tmp_path / "split" / "weights.pt").exists()
    # Once more, just before the resumed epoch ends: its optimizer steps must not have
    # changed the state that this second Ctrl-C saves again.
    monkeypatch.undo()
    ctrl_c_on_epoch(train_module, 1, after_steps=True)
    with pytest.raises(TrainingInterrupted, match="after epoch 2/4 of member 2/5;"):
        train_supervised(dataset, config, tmp_path / "split", resume=True)
    monkeypatch.undo()

    resumed = load_checkpoint(train_supervised(dataset, config, tmp_path / "split", resume=True))
    assert not (tmp_path / "split" / "resume.pt").exists()
    assert resumed.meta.best_epoch == whole.meta.best_epoch
    if select_epoch == "last":
        assert whole.meta.best_epoch == FAST.epochs
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)


def _resume_training_nothing(dataset, config, out, monkeypatch):
    """--resume of a run whose members were all trained before the stop: no epoch may run
    again (they come from resume.pt); returns the checkpoint written."""
    calls = []
    monkeypatch.setattr(train_module, "train_one_epoch", lambda *a, **k: calls.append(1))
    path = train_supervised(dataset, config, out, resume=True)
    assert calls == []
    return path


def test_ctrl_c_while_the_checkpoint_is_written_keeps_the_trained_run(
    dataset, tmp_path, monkeypatch
):
    whole = load_checkpoint(train_supervised(dataset, FAST, tmp_path / "whole"))
    real_save = train_module.save_checkpoint

    def interrupted_save(out_dir, model, meta):
        real_save(out_dir, model, meta)
        (out_dir / "metadata.json").unlink()  # as if Ctrl-C came before it was renamed
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "save_checkpoint", interrupted_save)
    with pytest.raises(TrainingInterrupted, match="all 5 members, before the checkpoint was"):
        train_supervised(dataset, FAST, tmp_path / "run")
    monkeypatch.undo()
    resumed = load_checkpoint(
        _resume_training_nothing(dataset, FAST, tmp_path / "run", monkeypatch)
    )
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)


def test_ctrl_c_while_the_history_is_written_after_the_last_member_keeps_the_run(
    dataset, tmp_path, monkeypatch
):
    config = dataclasses.replace(TWO_FOLDS, epochs=1)

    def interrupted_history(path, rows):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "write_history", interrupted_history)
    with pytest.raises(TrainingInterrupted, match="after all 2 members;"):
        train_supervised(dataset, config, tmp_path / "run")
    monkeypatch.undo()
    _resume_training_nothing(dataset, config, tmp_path / "run", monkeypatch)
    assert (tmp_path / "run" / "history.csv").is_file()


def test_resume_refuses_a_state_saved_with_other_settings_or_by_the_sgan(
    dataset, tmp_path, monkeypatch, ctrl_c_on_epoch
):
    ctrl_c_on_epoch(train_module, 1)
    with pytest.raises(TrainingInterrupted):
        train_supervised(dataset, FAST, tmp_path / "run")
    monkeypatch.undo()
    other_seed = dataclasses.replace(FAST, seed=1)
    mismatch = r"saved with other settings \(seed 0 saved, 1 now\); resume with"
    with pytest.raises(UserError, match=mismatch):
        train_supervised(dataset, other_seed, tmp_path / "run", resume=True)
    with pytest.raises(UserError, match="saved by a supervised run, not sgan"):
        train_sgan(dataset, SGANConfig(progress=False), tmp_path / "run", resume=True)
    assert (tmp_path / "run" / "resume.pt").is_file()  # refused, not consumed


def test_resume_continues_a_state_saved_before_its_data_had_a_test_split(
    forty_labeled, dataset, tmp_path, monkeypatch, ctrl_c_on_epoch
):
    """A train.csv data set's labelled test.csv is its test split since 2026-12-07, and the
    data fingerprint covers the test split: a resume.pt saved before then, on the very same
    training images, was refused as 'saved on other data'. Training never reads the test
    split (the run comes out as the uninterrupted one); other training images still differ."""
    config = dataclasses.replace(TWO_FOLDS, epochs=2)
    with_test = dataclasses.replace(forty_labeled, test=dataset.test.subset(torch.arange(10)))
    whole = load_checkpoint(train_supervised(forty_labeled, config, tmp_path / "whole"))
    ctrl_c_on_epoch(train_module, 2)
    with pytest.raises(TrainingInterrupted):
        train_supervised(forty_labeled, config, tmp_path / "run")  # no test split then
    monkeypatch.undo()
    other = dataclasses.replace(with_test, labeled=dataset.labeled.subset(torch.arange(1, 41)))
    with pytest.raises(UserError, match="saved on other data"):
        train_supervised(other, config, tmp_path / "run", resume=True)
    resumed = load_checkpoint(train_supervised(with_test, config, tmp_path / "run", resume=True))
    assert resumed.meta.data_fingerprint == with_test.fingerprint
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)


def test_resume_refuses_a_state_of_this_run_missing_any_of_its_keys(forty_labeled, tmp_path):
    """A truncated or hand-edited resume.pt with this run's identity: train_folds must
    check its own keys (RESUME_LAYOUT), or one without "fold" stopped in a KeyError."""
    gen = torch.Generator()
    identity = run_identity("supervised", TWO_FOLDS, forty_labeled)
    fresh = {**fresh_run(len(forty_labeled.labeled), 2, gen), "identity": identity}
    for key in sorted(fresh.keys() - {"identity"}):  # not RESUME_LAYOUT: one left out of it
        save_resume_state(tmp_path / key, {k: v for k, v in fresh.items() if k != key})
        with pytest.raises(UserError, match=rf"corrupt resume state \(no '{key}'\)"):
            train_supervised(forty_labeled, TWO_FOLDS, tmp_path / key, resume=True)


def test_resume_without_state_is_a_clear_error(dataset, tmp_path):
    with pytest.raises(UserError, match="no resume state"):
        train_supervised(dataset, dataclasses.replace(FAST, epochs=1), tmp_path / "o", resume=True)
    assert not (tmp_path / "o").exists()


TWO_FOLDS = TrainConfig(epochs=2, folds=2, batch_size=8, progress=False)


def test_the_members_kept_are_the_weight_averages_and_every_step_trains_in_train_mode(
    forty_labeled, tmp_path, monkeypatch
):
    """EMA off, the kept weights are the raw ones; on, they must differ (the same steps ran).
    Off, the held-out predictions put the model itself in eval mode after each epoch: the
    next epoch's steps must still run in train mode (BatchNorm batch stats, dropout)."""
    modes = []

    class Recorded(train_module.SmallCNN):
        def forward(self, x):
            if torch.is_grad_enabled():
                modes.append(self.training)
            return super().forward(x)

    monkeypatch.setattr(train_module, "SmallCNN", Recorded)
    raw = train_folds(
        forty_labeled, dataclasses.replace(TWO_FOLDS, ema_decay=0.0), tmp_path / "a", False
    )
    assert modes and all(modes), f"{modes.count(False)} of {len(modes)} steps in eval mode"
    ema = train_folds(forty_labeled, TWO_FOLDS, tmp_path / "b", False)
    for raw_member, ema_member in zip(raw.members, ema.members, strict=True):
        assert any(not torch.equal(raw_member[2][k], v) for k, v in ema_member[2].items())


def test_non_finite_held_out_predictions_stop_training_even_with_a_finite_loss(
    forty_labeled, tmp_path, monkeypatch
):
    real_logits = train_module.predict_logits

    def broken(*args):
        logits = real_logits(*args)
        logits[0] = float("nan")  # e.g. BatchNorm running stats that overflowed
        return logits

    monkeypatch.setattr(train_module, "predict_logits", broken)
    with pytest.raises(DivergenceError, match=r"member 1 of 2 diverged at epoch 1 .*no checkpoint"):
        train_supervised(forty_labeled, TWO_FOLDS, tmp_path / "run")
    assert not (tmp_path / "run" / "weights.pt").exists()


def test_a_member_whose_held_out_images_all_score_the_same_stops_training(forty_labeled, tmp_path):
    """At lr 1 every held-out logit blows up past 17, so every image scores 1.0 in float32:
    the checkpoint was written with AUC 0.5 and a Youden threshold of 0. A confident
    member that still ranks its images is not collapsed."""
    collapsing = dataclasses.replace(TWO_FOLDS, lr=1.0)
    with pytest.raises(DivergenceError, match=r"member 1 of 2 diverged at epoch 1 \(collapsed"):
        train_supervised(forty_labeled, collapsing, tmp_path / "run")
    assert not (tmp_path / "run" / "weights.pt").exists()
    assert train_module.divergence(0.05, torch.tensor([-40.0, -30.0, 20.0])) is None


def test_history_train_loss_is_the_mean_batch_loss_over_batches_the_seed_draws(
    forty_labeled, tmp_path, monkeypatch
):
    """3 batches (8, 8, 4) per member epoch; the generator behind batch order and augmentation
    is seeded with config.seed."""
    real_loss, losses, seeds = torch.nn.functional.binary_cross_entropy_with_logits, [], set()
    real_batch = train_module.augmented_batch

    def loss(*args, **kwargs):
        value = real_loss(*args, **kwargs)
        losses.append(value.item())
        return value

    def batch(images, augment, mean, std, gen):
        seeds.add(gen.initial_seed())
        return real_batch(images, augment, mean, std, gen)

    monkeypatch.setattr(torch.nn.functional, "binary_cross_entropy_with_logits", loss)
    monkeypatch.setattr(train_module, "augmented_batch", batch)
    config = dataclasses.replace(TWO_FOLDS, epochs=1, seed=7)
    train_folds(forty_labeled, config, tmp_path / "run", resume=False)
    assert seeds == {7}
    rows = (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]
    assert len(losses) == 2 * 3 and len(rows) == 2
    for member, row in enumerate(rows):
        expected = np.mean(losses[3 * member : 3 * member + 3])
        assert float(row.split(",")[2]) == pytest.approx(expected, rel=1e-6)
