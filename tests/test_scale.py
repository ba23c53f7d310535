"""What a run keeps in memory grows with one photo or one chunk, not with the input's size:
10,000 photos in `predict`, or an unlabeled pool of 50,000 in the near-duplicate check."""

import dataclasses
import tracemalloc

import numpy as np
import pytest
import torch
from PIL import Image

from melanoma import near_duplicates, predict
from melanoma.checkpoint import Checkpoint, load_checkpoint
from melanoma.datasets import load_dataset
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
    events, read, model = [], predict.read_file, checkpoint.model

    def reading(path):
        events.append("read")
        return read(path)

    def scoring(model_input):
        events.append("score")
        return model(model_input)

    monkeypatch.setattr(predict, "read_file", reading)
    return events, dataclasses.replace(checkpoint, model=scoring)


def test_predict_scores_each_photo_before_reading_the_next(photos, monkeypatch):
    """Every input held until all were read took 26 KB a photo: 260 MB for 10,000."""
    checkpoint = load_checkpoint("reference-sgan")
    alone = [predict.predict_images(checkpoint, [p], 0.5)[0].probability for p in photos]
    events, recorded = _recorded(monkeypatch, checkpoint)
    together = predict.predict_images(recorded, photos, 0.5)
    assert events == ["read", "score"] * len(photos)
    assert [p.probability for p in together] == alone  # one photo per call, bit for bit


def test_predict_scores_nothing_after_an_unusable_photo(photos, monkeypatch):
    photos[1].write_bytes(b"not a photo")
    checkpoint = load_checkpoint("reference-sgan")
    events, recorded = _recorded(monkeypatch, checkpoint)
    with pytest.raises(UserError, match="1 of 4 images unusable, none scored"):
        predict.predict_images(recorded, photos, 0.5)
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


def _liveproject(folder, unlabeled: int) -> None:
    """4 labeled and 4 test images, and `unlabeled` in the pool: 32x32 noise, as PNG."""
    rng = np.random.default_rng(0)
    for split, count in (("labeled", 4), ("test", 4), ("unlabeled", unlabeled)):
        (folder / split).mkdir()
        for i in range(count):
            name = f"{i}.png" if split == "unlabeled" else f"{i}_{i % 2}.png"
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / split / name)


def test_a_pool_is_decoded_into_one_array_not_a_list_then_stacked(tmp_path):
    """The loaders peaked at 3.5 times the pixels they keep (511 MB for a pool of 50,000
    keeping 148): every image an array in a list, their stack, its channels-first copy."""
    _liveproject(tmp_path, 300)
    load_dataset(tmp_path)  # imports its decoders first: their code would count below
    tracemalloc.start()  # numpy's buffers are traced; without the fix the peak was 2.2x
    try:
        dataset = load_dataset(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    pool = dataset.unlabeled.images
    assert pool.shape == (300, 3, 32, 32)
    assert peak < 1.5 * pool.numel()


def test_a_pool_with_broken_files_keeps_the_others_in_order(tmp_path):
    _liveproject(tmp_path, 5)
    whole = load_dataset(tmp_path).unlabeled
    (tmp_path / "unlabeled" / "1.png").write_bytes(b"broken")
    dataset = load_dataset(tmp_path)
    assert len(dataset.skipped) == 1
    assert dataset.unlabeled.names == whole.names[:1] + whole.names[2:]
    assert torch.equal(dataset.unlabeled.images, whole.images[[0, 2, 3, 4]])
