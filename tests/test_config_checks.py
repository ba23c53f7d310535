"""Every config refuses an out-of-range value when it is built, naming class and field."""

import pytest

from melanoma.benchmarks.harness import BenchConfig
from melanoma.benchmarks.subjects import AccuracyConfig
from melanoma.benchmarks.timing import TimingConfig
from melanoma.config_checks import ConfigError
from melanoma.errors import UserError
from melanoma.export.api import ExportConfig
from melanoma.model import MAX_MEMBERS, CNNConfig, EnsembleConfig
from melanoma.nested_cv import NestedConfig
from melanoma.qat import QATConfig
from melanoma.train import TrainConfig
from melanoma.train_sgan import SGANConfig

REFUSED = [
    (TrainConfig, "epochs", 0, "an integer >= 1"),
    (TrainConfig, "epochs", -1, "an integer >= 1"),
    (TrainConfig, "batch_size", 0, "an integer >= 1"),
    (TrainConfig, "folds", 1, "an integer >= 2"),
    (TrainConfig, "epochs", 2.5, "an integer >= 1"),
    (TrainConfig, "lr", 0.0, "a finite number > 0"),
    (TrainConfig, "lr", float("inf"), "a finite number > 0"),
    (TrainConfig, "weight_decay", float("nan"), "a finite number >= 0"),
    (TrainConfig, "ema_decay", 1.5, r"a number in \[0, 1\]"),
    (TrainConfig, "target_sensitivity", 1.5, r"a sensitivity in \[0.5, 1.0\]"),
    (TrainConfig, "target_sensitivity", 0.2, r"a sensitivity in \[0.5, 1.0\]"),
    (TrainConfig, "youden_estimator", "bogus", "one of binormal, empirical"),
    (TrainConfig, "select_epoch", "best", "one of last, val-auc"),
    (TrainConfig, "device", "tpu", "auto, cpu, cuda"),
    (SGANConfig, "val_fraction", 0.0, r"a number in \(0, 1\)"),
    (SGANConfig, "dropout", 1.0, r"a number in \[0, 1\)"),
    (SGANConfig, "lr_g", -1e-3, "a finite number > 0"),
    (SGANConfig, "max_restores", -1, "an integer >= 0"),
    (SGANConfig, "target_sensitivity", float("nan"), "a sensitivity"),
    (QATConfig, "epochs", -3, "an integer >= 0"),
    (QATConfig, "temperature", 0.0, "a finite number > 0"),
    (ExportConfig, "targets", "onnx", r"a non-empty tuple of names, e.g. \('onnx',\)"),
    (ExportConfig, "targets", (), "a non-empty tuple of names"),
    (ExportConfig, "targets", 5, "a non-empty tuple of names"),
    (ExportConfig, "quantize", "fp16", "one of none, int8, both"),
    (ExportConfig, "target_sensitivity", 1.01, "a sensitivity"),
    (TimingConfig, "runs", 0, "an integer >= 1"),
    (TimingConfig, "warmup", -1, "an integer >= 0"),
    (TimingConfig, "runs", 10**12, "an integer >= 1 and <= 1000000"),  # terabytes of timings
    (TimingConfig, "runs", 10**6 + 1, "an integer >= 1 and <= 1000000"),
    (CNNConfig, "widths", (8,) * 6, r"1 to 5 integers in \[1, 1024\]"),
    (CNNConfig, "dropout", 1.0, r"a number in \[0, 1\)"),  # would zero every feature
    (EnsembleConfig, "members", MAX_MEMBERS + 1, f"an integer >= 1 and <= {MAX_MEMBERS}"),
    (AccuracyConfig, "n_bootstrap", 0, "an integer >= 10"),
    (BenchConfig, "threads", (0,), "a non-empty tuple of distinct integers >= 1"),
    (BenchConfig, "threads", (), "a non-empty tuple of distinct integers >= 1"),
    (BenchConfig, "threads", 2, "a non-empty tuple of distinct integers >= 1"),
    (BenchConfig, "threads", (1, 1), "a non-empty tuple of distinct integers >= 1"),
    (BenchConfig, "threads", (n for n in (1, 2)), "a non-empty tuple of distinct"),
    (NestedConfig, "outer_folds", 1, "an integer >= 2"),
    (NestedConfig, "seeds", (0, 0), "a non-empty tuple of distinct integers >= 0"),
]


@pytest.mark.parametrize(("config", "field", "value", "expected"), REFUSED)
def test_an_out_of_range_value_is_refused_on_construction(config, field, value, expected):
    with pytest.raises(ConfigError, match=rf"^{config.__name__}.{field} = .*: expected {expected}"):
        config(**{field: value})


def test_a_config_error_is_a_user_error_the_cli_reports_in_one_line():
    assert issubclass(ConfigError, UserError)


def test_defaults_and_the_edges_of_each_range_are_accepted():
    for config in (TrainConfig, SGANConfig, QATConfig, ExportConfig, TimingConfig, BenchConfig):
        config()
    TrainConfig(epochs=1, folds=2, ema_decay=0.0, target_sensitivity=1.0, device="cuda:1")
    TrainConfig(ema_decay=1.0)  # a ceiling the warm-up stays under, so it still moves
    SGANConfig(consistency_rampup=1.0, dropout=0.0, max_restores=0, select_after=1.0)
    QATConfig(epochs=0, lr=0.0)  # calibrate only
    ExportConfig(targets=("onnx",), target_sensitivity=0.5)
    NestedConfig(seeds=(3,), outer_folds=2)
    TimingConfig(runs=10**6)  # the documented maxima themselves
    EnsembleConfig(members=MAX_MEMBERS)
    CNNConfig(widths=(8,) * 5)


def test_numpy_numbers_from_a_grid_are_numbers():
    import numpy as np

    TrainConfig(epochs=np.int64(5), lr=np.float32(1e-3), target_sensitivity=np.float64(0.9))
    assert NestedConfig(seeds=np.arange(3)).seeds.tolist() == [0, 1, 2]
    assert BenchConfig(threads=[1, 2]).threads == [1, 2]
    with pytest.raises(ConfigError, match="TrainConfig.epochs = True: expected an integer"):
        TrainConfig(epochs=True)


def test_the_mean_teacher_needs_its_teacher():
    with pytest.raises(ConfigError, match="consistency_weight needs ema_decay > 0"):
        SGANConfig(ema_decay=0.0)  # default consistency_weight 10
    SGANConfig(ema_decay=0.0, consistency_weight=0.0)
