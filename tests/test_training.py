"""What both trainers share: the weight EMA and a forked global RNG."""

import torch

from melanoma.datasets import Dataset
from melanoma.train import TrainConfig, train_folds
from melanoma.training import WeightEMA


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


def test_training_leaves_the_callers_random_stream_alone(dataset, tmp_path):
    """Trainers seed torch's global RNG for dropout; the caller's stream must not move."""
    labeled = dataset.labeled.subset(torch.arange(40))
    small = Dataset(labeled, None, None, "test", "40 labeled images")
    config = TrainConfig(epochs=1, folds=2, progress=False)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_folds(small, config, tmp_path / "run", resume=False)
    assert torch.equal(torch.rand(3), expected)
