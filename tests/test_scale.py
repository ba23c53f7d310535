"""What a run keeps in memory grows with one photo or one chunk, not with the input's size:
10,000 photos in `predict`, or an unlabeled pool of 50,000 in the near-duplicate check."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from melanoma import evaluate, near_duplicates
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


def test_the_near_duplicate_check_takes_the_pool_a_chunk_at_a_time(monkeypatch):
    """A float64 copy of a whole pool of 28,000 peaked at 2.1 GB; the uint8 pool is 86 MB."""
    pool = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8, generator=_seeded())
    images = torch.cat([pool[7:8], pool[2:3] // 2])
    whole = near_duplicates.nearest_rms(images, pool, pool_chunk=len(pool))
    converted, unit_float = [], near_duplicates.unit_float
    monkeypatch.setattr(
        near_duplicates, "unit_float", lambda x: converted.append(len(x)) or unit_float(x)
    )
    chunked = near_duplicates.nearest_rms(images, pool, pool_chunk=4)
    assert max(converted) == 4 and sum(converted) == len(pool) + 3 * len(images)
    assert chunked == pytest.approx(whole, abs=1e-12) and chunked[0] == pytest.approx(0, abs=1e-7)


def _seeded() -> torch.Generator:
    return torch.Generator().manual_seed(0)
