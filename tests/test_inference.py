"""melanoma.inference: a float model's predictions in batches."""

import numpy as np
import torch

from melanoma.checkpoint import load_checkpoint
from melanoma.datasets import load_dataset, resolve_data_path
from melanoma.inference import predict_logits, predict_probs
from melanoma.metrics import app_probabilities
from melanoma.model import CNNConfig, SmallCNN
from melanoma.predict import predict_images
from melanoma.preprocess import normalize
from melanoma.sources import FileSource

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


def test_predictions_do_not_depend_on_the_batch_size(dataset):
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig())
    images = dataset.labeled.images[:20]
    whole = predict_logits(model.eval(), images, MEAN, STD)
    assert whole.shape == (20,)
    for batch in (7, 19):  # 19: a last batch of one image
        torch.testing.assert_close(predict_logits(model, images, MEAN, STD, batch=batch), whole)
    torch.testing.assert_close(predict_logits(model, images[:1], MEAN, STD, batch=1), whole[:1])
    torch.testing.assert_close(
        torch.from_numpy(predict_probs(model, images, MEAN, STD)), torch.sigmoid(whole)
    )


def test_predictions_run_in_eval_mode_and_leave_the_callers_modes_as_they_were(dataset):
    """A training loop that validates with predict_probs must not go on training with
    dropout and BatchNorm updates switched off."""
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig()).train()
    model.features[1].eval()  # a mix of modes, as a frozen BatchNorm would leave it
    modes = [m.training for m in model.modules()]
    images = dataset.labeled.images[:6]
    logits = predict_logits(model, images, MEAN, STD)
    assert [m.training for m in model.modules()] == modes
    torch.testing.assert_close(logits, predict_logits(model.eval(), images, MEAN, STD))


def test_predictions_normalize_with_the_stored_mean_then_std(dataset):
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig()).eval()
    images = dataset.labeled.images[:6]
    with torch.no_grad():
        expected = model(normalize(images, MEAN, STD)).flatten()
    torch.testing.assert_close(predict_logits(model, images, MEAN, STD), expected)


def test_predict_and_evaluate_score_a_32px_photo_alike_to_float_rounding(data_path, tmp_path):
    """The README's figure: on the 600 32x32 test photos `predict` (the full input contract,
    one photo per call) and `evaluate` (the dataset's pixels, in batches) get identical inputs,
    and their scores (both the app's float64 sigmoid, app_probabilities) differ by the
    rounding of batched and single logits only: up to 6.5e-8 on 2026-12-07, within 1.2e-7,
    two float32 steps below 1."""
    test = load_dataset(data_path).test
    source = FileSource(resolve_data_path(data_path))
    try:
        for name in test.names:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(source.read(name))
    finally:
        source.close()
    for reference in ("reference-supervised", "reference-sgan"):
        checkpoint = load_checkpoint(reference)
        meta = checkpoint.meta
        logits = predict_logits(checkpoint.model, test.images, meta.mean, meta.std)
        batched = app_probabilities(logits.numpy())  # as evaluate_checkpoint takes them
        one_by_one = {p.path: p.probability for p in predict_images(checkpoint, [tmp_path], 0.5)}
        alone = np.array([one_by_one[str(tmp_path / name)] for name in test.names])
        assert np.abs(alone - batched).max() <= 2.0**-23, reference  # 1.19e-7
