"""What both trainers share: prediction in batches and the weight EMA."""

import torch

from melanoma.model import CNNConfig, SmallCNN
from melanoma.training import WeightEMA, predict_logits, predict_probs


def test_predictions_do_not_depend_on_the_batch_size(dataset):
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig())
    images = dataset.labeled.images[:20]
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]
    whole = predict_logits(model, images, mean, std)
    assert whole.shape == (20,) and not model.training
    torch.testing.assert_close(predict_logits(model, images, mean, std, batch=7), whole)
    torch.testing.assert_close(
        torch.from_numpy(predict_probs(model, images, mean, std)), torch.sigmoid(whole)
    )


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
