"""melanoma.inference: a float model's predictions in batches."""

import torch

from melanoma.inference import predict_logits, predict_probs
from melanoma.model import CNNConfig, SmallCNN
from melanoma.preprocess import normalize

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


def test_predictions_do_not_depend_on_the_batch_size(dataset):
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig())
    images = dataset.labeled.images[:20]
    whole = predict_logits(model, images, MEAN, STD)
    assert whole.shape == (20,) and not model.training
    for batch in (7, 19):  # 19: a last batch of one image
        torch.testing.assert_close(predict_logits(model, images, MEAN, STD, batch=batch), whole)
    torch.testing.assert_close(predict_logits(model, images[:1], MEAN, STD, batch=1), whole[:1])
    torch.testing.assert_close(
        torch.from_numpy(predict_probs(model, images, MEAN, STD)), torch.sigmoid(whole)
    )


def test_predictions_normalize_with_the_stored_mean_then_std(dataset):
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig()).eval()
    images = dataset.labeled.images[:6]
    with torch.no_grad():
        expected = model(normalize(images, MEAN, STD)).flatten()
    torch.testing.assert_close(predict_logits(model, images, MEAN, STD), expected)
