"""What both trainers share: the weight EMA."""

import torch

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
