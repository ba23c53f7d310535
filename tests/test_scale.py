"""What a run keeps in memory grows with one photo or one chunk, not with the input's size:
10,000 photos in `predict`, or an unlabeled pool of 50,000 in the near-duplicate check."""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from melanoma import evaluate
from melanoma.checkpoint import Checkpoint, load_checkpoint
from melanoma.errors import UserError


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"mole_{i}.jpg")
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(paths[-1])
    return paths


def _recorded(monkeypatch, checkpoint) -> tuple[list[str], Checkpoint]:
    """The checkpoint, whose model and reads record in what order predict_images reads
    photos and scores them."""
    events, read, model = [], evaluate.read_file, checkpoint.model

    def reading(path):
        events.append("read")
        return read(path)

    def scoring(model_input):
        events.append("score")
        return model(model_input)

    monkeypatch.setattr(evaluate, "read_file", reading)
    return events, dataclasses.replace(checkpoint, model=scoring)


def test_predict_scores_each_photo_before_reading_the_next(photos, monkeypatch):
    """Every input held until all were read took 26 KB a photo: 260 MB for 10,000."""
    checkpoint = load_checkpoint("reference-sgan")
    alone = [evaluate.predict_images(checkpoint, [p], 0.5)[0].probability for p in photos]
    events, recorded = _recorded(monkeypatch, checkpoint)
    together = evaluate.predict_images(recorded, photos, 0.5)
    assert events == ["read", "score"] * len(photos)
    assert [p.probability for p in together] == alone  # one photo per call, bit for bit


def test_predict_scores_nothing_after_an_unusable_photo(photos, monkeypatch):
    photos[1].write_bytes(b"not a photo")
    checkpoint = load_checkpoint("reference-sgan")
    events, recorded = _recorded(monkeypatch, checkpoint)
    with pytest.raises(UserError, match="1 of 4 images unusable, none scored"):
        evaluate.predict_images(recorded, photos, 0.5)
    assert events == ["read", "score", "read", "read", "read"]  # every photo still checked

