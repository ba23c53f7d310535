"""melanoma.inference: a float model's predictions in batches."""

import torch

from melanoma.inference import predict_logits, predict_probs
from melanoma.model import CNNConfig, SmallCNN
from melanoma.preprocess import normalize


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


def test_predictions_normalize_with_the_stored_mean_then_std(dataset):
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig()).eval()
    images = dataset.labeled.images[:6]
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    with torch.no_grad():
        expected = model(normalize(images, mean, std)).flatten()
    torch.testing.assert_close(predict_logits(model, images, mean, std), expected)


def test_a_last_batch_of_one_image_is_predicted_too(dataset):
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig())
    images = dataset.labeled.images[:5]
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]
    whole = predict_logits(model, images, mean, std)
    torch.testing.assert_close(predict_logits(model, images, mean, std, batch=2), whole)
    assert predict_logits(model, images[:1], mean, std, batch=1).shape == (1,)
