"""What both trainers share: the weight EMA and a forked global RNG."""

import torch

from melanoma.preprocess import channel_stats
from melanoma.train import TrainConfig, train_folds, train_supervised
from melanoma.train_sgan import SGANConfig
from melanoma.training import WeightEMA, seeded_split


def test_ema_warms_up_then_follows_its_decay():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = WeightEMA(model, decay=0.99)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # warm-up decay min(0.99, 2/11): the average moves 9/11 of the way
    assert ema.model.weight.item() == torch.tensor(9 / 11).item()
    for _ in range(10_000):
        ema.update(model)
    assert abs(ema.model.weight.item() - 1.0) < 1e-6
    assert ema.updates == 10_001


def test_in_a_default_length_run_the_warm_up_not_the_decay_sets_the_average():
    """The docstring's claim: 300 updates (a supervised member) end below 0.99, so any
    larger configured decay gives the same average."""
    torch.manual_seed(0)
    steps = torch.randn(300, 1, 4)
    averages = []
    for decay in (0.99, 0.99999):
        model = torch.nn.Linear(4, 1, bias=False)
        torch.nn.init.zeros_(model.weight)
        ema = WeightEMA(model, decay)
        for step in steps:
            with torch.no_grad():
                model.weight.add_(step)
            ema.update(model)
        averages.append(ema.model.weight)
    assert torch.equal(*averages)


def test_training_leaves_the_callers_random_stream_alone(forty_labeled, tmp_path):
    """Trainers seed torch's global RNG for dropout; the caller's stream must not move."""
    config = TrainConfig(epochs=1, folds=2, progress=False)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_folds(forty_labeled, config, tmp_path / "run", resume=False)
    assert torch.equal(torch.rand(3), expected)
    torch.manual_seed(123)
    train_supervised(forty_labeled, config, tmp_path / "checkpoint")  # builds the ensemble after
    assert torch.equal(torch.rand(3), expected)


def test_a_held_out_split_takes_its_normalization_from_its_training_images_only(dataset):
    """The issue's rule: statistics from the training split, never the validation images."""
    _, train, val, mean, std = seeded_split(dataset, SGANConfig(seed=0))
    assert (mean, std) == channel_stats(train.images)
    assert len(train) + len(val) == len(dataset.labeled) and len(val) == 40
    assert mean != channel_stats(dataset.labeled.images)[0]  # so the line above can tell
