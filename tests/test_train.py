import dataclasses

import pytest
import torch

import melanoma.train as train_module
from melanoma.checkpoint import load_checkpoint, read_meta
from melanoma.metrics import all_metrics
from melanoma.splits import stratified_split
from melanoma.train import TrainConfig, TrainingInterrupted, predict_probs, train_supervised

FAST = TrainConfig(epochs=4, progress=False)


def test_end_to_end_baseline_beats_chance_by_far(dataset, tmp_path):
    """Short real training; the test split is only touched here, after training."""
    config = TrainConfig(epochs=25, progress=False, seed=0)
    checkpoint = load_checkpoint(train_supervised(dataset, config, tmp_path / "run"))
    probs = predict_probs(checkpoint.model, dataset.test.images, checkpoint.meta.mean,
                          checkpoint.meta.std)
    assert all_metrics(dataset.test.labels.numpy(), probs, 0.5)["auc"] >= 0.70


def test_metadata_describes_the_run(quick_checkpoint, dataset):
    meta = read_meta(quick_checkpoint)
    assert meta.method == "supervised" and meta.arch == "small-cnn"
    assert meta.data_fingerprint == dataset.fingerprint
    assert [t["name"] for t in meta.thresholds] == ["youden", "sensitivity_0.90"]
    assert meta.train_config["n_train"] == 160 and meta.train_config["n_val"] == 40
    assert len(meta.mean) == 3 and all(0 < s < 1 for s in meta.std)
    assert 1 <= meta.best_epoch <= meta.epochs
    assert (quick_checkpoint / "history.csv").read_text().startswith("epoch,train_loss,val_auc")


def test_normalization_comes_from_the_training_split_only(quick_checkpoint, dataset):
    from melanoma.preprocess import channel_stats

    train, _ = stratified_split(dataset.labeled, 0.2, 0)
    assert read_meta(quick_checkpoint).mean == channel_stats(train.images)[0]


def test_split_is_stratified_and_seeded(dataset):
    train, val = stratified_split(dataset.labeled, 0.2, seed=5)
    assert len(val) == 40 and int(val.labels.sum()) == 20
    assert not set(train.names) & set(val.names)
    assert stratified_split(dataset.labeled, 0.2, seed=5)[1].names == val.names
    assert stratified_split(dataset.labeled, 0.2, seed=6)[1].names != val.names


def test_ctrl_c_saves_state_and_resume_matches_an_uninterrupted_run(dataset, tmp_path,
                                                                     monkeypatch):
    whole = load_checkpoint(train_supervised(dataset, FAST, tmp_path / "whole"))

    real_epoch = train_module.train_one_epoch
    calls = {"n": 0}

    def interrupt_third_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_one_epoch", interrupt_third_epoch)
    with pytest.raises(TrainingInterrupted, match="after epoch 2"):
        train_supervised(dataset, FAST, tmp_path / "split")
    assert (tmp_path / "split" / "resume.pt").exists()
    assert not (tmp_path / "split" / "weights.pt").exists()
    monkeypatch.setattr(train_module, "train_one_epoch", real_epoch)

    resumed = load_checkpoint(train_supervised(dataset, FAST, tmp_path / "split", resume=True))
    assert not (tmp_path / "split" / "resume.pt").exists()
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, msg=key)


def test_resume_without_state_is_a_clear_error(dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match="no resume state"):
        train_supervised(dataset, dataclasses.replace(FAST, epochs=1), tmp_path, resume=True)
