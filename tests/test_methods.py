"""melanoma.methods: which trainer and which settings each method name stands for."""

import dataclasses
import errno
import fcntl
import os
from pathlib import Path

import pytest
import torch

import melanoma.train as train_module
import melanoma.train_sgan as train_sgan_module
from melanoma.checkpoint import REFERENCE_DIR, refuse_bundled_out_dir
from melanoma.config_checks import ConfigError
from melanoma.errors import UserError
from melanoma.methods import (
    METHODS,
    SGAN_ABLATIONS,
    TRAINERS,
    method_config,
    train_method,
    trainer_of,
)
from melanoma.train import TrainConfig
from melanoma.train_sgan import SGANConfig


def test_ablations_train_with_the_sgan_trainer_and_unknown_names_list_the_valid_ones():
    assert [trainer_of(m) for m in METHODS] == [*TRAINERS, *["sgan"] * len(SGAN_ABLATIONS)]
    with pytest.raises(ValueError, match="unknown method 'gan'; choose from supervised, sgan, "):
        trainer_of("gan")


def test_each_method_config_switches_off_only_its_part_of_the_unlabeled_signal():
    assert method_config("supervised", 3, 7) == TrainConfig(seed=3, epochs=7)
    sgan = method_config("sgan", 0, 1)
    assert sgan == SGANConfig(seed=0, epochs=1) and sgan.consistency_weight > 0
    labeled_only = method_config("sgan-labeled-only", 0, 1)
    assert (labeled_only.unsup_weight, labeled_only.consistency_weight) == (0.0, 0.0)
    mean_teacher = method_config("sgan-mean-teacher", 0, 1)
    assert (mean_teacher.unsup_weight, mean_teacher.consistency_weight) == (
        0.0,
        sgan.consistency_weight,
    )
    gan_alone = method_config("sgan-no-mean-teacher", 0, 1)
    assert (gan_alone.unsup_weight, gan_alone.consistency_weight) == (1.0, 0.0)
    quiet = method_config("sgan", 0, progress=False)  # --no-progress reaches the trainer
    assert (quiet.epochs, quiet.progress) == (SGANConfig().epochs, False)


def test_no_method_trains_into_the_bundled_models_folder(tmp_path):
    for method in ("supervised", "sgan"):
        out = REFERENCE_DIR / method / "retrained"
        with pytest.raises(UserError, match="inside the bundled reference models' folder"):
            train_method(method, None, method_config(method, 0, 1), out)  # before the data
        assert not out.exists()


@pytest.mark.parametrize(
    "method, other", [("supervised", "sgan"), ("sgan-mean-teacher", "supervised")]
)
def test_a_config_of_the_other_trainer_is_refused_before_training(dataset, tmp_path, method, other):
    """The hint takes either config with any method: a mismatch trained into an
    AttributeError ('SGANConfig' object has no attribute 'folds'), not a one-line error."""
    out = tmp_path / "out"
    wanted = type(method_config(method, 0)).__name__
    with pytest.raises(ConfigError, match=f"^method '{method}' trains with a {wanted}, not a "):
        train_method(method, dataset, method_config(other, 0, 1, progress=False), out)
    assert not out.exists()


def test_an_ablation_needs_its_own_settings_and_any_other_field_may_change(tmp_path, monkeypatch):
    """train_method("sgan-labeled-only", data, SGANConfig()) trained a full SGAN under the
    ablation's name: only the trainer was checked, and the settings come from method_config."""
    trained = []
    monkeypatch.setattr(train_sgan_module, "train_sgan", lambda *a, **k: trained.append(a[1]))
    for method in SGAN_ABLATIONS:
        out = tmp_path / method
        with pytest.raises(ConfigError, match=f"^method '{method}' trains with .*=0.0, not "):
            train_method(method, None, SGANConfig(seed=0, epochs=1), out)
        assert not out.exists()
    assert trained == []
    config = dataclasses.replace(method_config("sgan-mean-teacher", 0, 1), consistency_weight=2.0)
    train_method("sgan-mean-teacher", None, config, tmp_path / "out")
    train_method("sgan", None, SGANConfig(unsup_weight=0.5), tmp_path / "out")  # a tuned SGAN
    assert [c.consistency_weight for c in trained] == [2.0, SGANConfig().consistency_weight]


def test_a_relative_or_linked_out_dir_into_the_bundled_models_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(REFERENCE_DIR)  # `--out supervised/retrained` from inside the folder
    with pytest.raises(UserError, match="inside the bundled reference models' folder"):
        refuse_bundled_out_dir(Path("supervised") / "retrained")
    (tmp_path / "link").symlink_to(REFERENCE_DIR / "sgan")
    with pytest.raises(UserError, match="inside the bundled reference models' folder"):
        refuse_bundled_out_dir(tmp_path / "link" / "retrained")


@pytest.mark.parametrize("method", ["supervised", "sgan-mean-teacher"])
def test_resume_reaches_the_trainer_behind_each_method(dataset, tmp_path, method):
    """compare reruns a seed Ctrl-C interrupted with resume: it must continue the saved run,
    and with no saved state say so, never quietly retrain from the start."""
    small = dataclasses.replace(
        dataset, test=None, unlabeled=dataset.unlabeled.subset(torch.arange(64))
    )
    config = method_config(method, 0, 1, progress=False)
    with pytest.raises(UserError, match="resume.pt: no resume state to continue from"):
        train_method(method, small, config, tmp_path / "out", resume=True)


def test_a_folder_another_run_is_training_into_is_refused_and_left_alone(tmp_path, monkeypatch):
    """Two runs into one --out used to both exit 0, each naming a model the folder no
    longer held (the second deleted the first's files and their saves interleaved)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "weights.pt").write_text("the other run's")
    trained = []
    monkeypatch.setattr(train_module, "train_supervised", lambda *a, **k: trained.append(a[2]))
    held = os.open(out, os.O_RDONLY)  # the other run: flock conflicts across open files
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UserError, match="holds this folder; wait for it to end$"):
            train_method("supervised", None, TrainConfig(), out)
    finally:
        os.close(held)
    assert trained == [] and (out / "weights.pt").read_text() == "the other run's"
    train_method("supervised", None, TrainConfig(), out)  # free once that run has ended
    assert trained == [out]


def _fails_at_the_weights(dataset, config, out_dir, resume=False):
    """A trainer on a full disk: its history and predictions written, then weights.pt not."""
    for name in ("history.csv", "out_of_fold.csv"):
        (out_dir / name).write_text("this run's")
    raise OSError(errno.ENOSPC, "cannot write it (No space left on device)", "weights.pt")


def test_a_run_that_cannot_write_its_checkpoint_leaves_no_run_folder(tmp_path, monkeypatch):
    """It left OUT with a history and predictions but no checkpoint: a half-written run."""
    monkeypatch.setattr(train_module, "train_supervised", _fails_at_the_weights)
    with pytest.raises(OSError, match="No space left"):
        train_method("supervised", None, TrainConfig(), tmp_path / "new" / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_files_it_did_not_write_and_a_resume_state(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "train_supervised", _fails_at_the_weights)
    out = tmp_path / "out"
    out.mkdir()
    (out / "samples.png").write_text("mine")  # a user's file, named like an SGAN's
    with pytest.raises(OSError):
        train_method("supervised", None, TrainConfig(), out)
    assert [p.name for p in out.iterdir()] == ["samples.png"]
    (out / "resume.pt").write_text("an interrupted run's")  # --resume needs its history
    with pytest.raises(OSError):
        train_method("supervised", None, TrainConfig(), out)
    assert len(list(out.iterdir())) == 4
