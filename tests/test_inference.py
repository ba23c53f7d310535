"""melanoma.inference: a float model's predictions in batches."""

import torch

from melanoma.inference import predict_logits, predict_probs
from melanoma.model import CNNConfig, SmallCNN


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
