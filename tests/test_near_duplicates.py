"""Near-copies of test images in the unlabeled pool: hand-made cases and the real data."""

from __future__ import annotations

import pytest
import torch

from melanoma.near_duplicates import dihedral_nearest_rms, near_duplicates, nearest_rms


def test_rms_to_the_nearest_image_by_hand():
    pool = torch.zeros(3, 3, 4, 4, dtype=torch.uint8)
    pool[1] += 51  # 0.2 on the 0..1 scale
    pool[2, 0] = 255  # one channel of three at 1.0: RMS sqrt(1/3)
    images = torch.stack([pool[1], pool[1] + 10, torch.full((3, 4, 4), 255, dtype=torch.uint8)])
    # white is 0.8 from pool[1] everywhere, sqrt(2/3) = 0.816 from pool[2], 1.0 from pool[0]
    expected = [0.0, 10 / 255, 0.8]
    assert nearest_rms(images, pool, chunk=2) == pytest.approx(expected, abs=1e-9)
    assert near_duplicates(images, pool).tolist() == [True, True, False]
    assert near_duplicates(images, pool, max_rms=0.01).tolist() == [True, False, False]


def test_a_flipped_or_turned_copy_is_found_only_when_matching_dihedrally():
    pool = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    images = torch.stack([pool[1].flip(2), torch.rot90(pool[3], 1, dims=(1, 2))])
    assert dihedral_nearest_rms(images, pool) == pytest.approx([0.0, 0.0], abs=1e-6)
    assert near_duplicates(images, pool).tolist() == [True, True]
    assert near_duplicates(images, pool, dihedral=False).tolist() == [False, False]


def test_an_empty_pool_copies_nothing():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    assert near_duplicates(images, images[:0]).tolist() == [False, False]


def test_the_real_test_split_has_the_documented_near_copies(dataset):
    """The data's README: 18 test images within 0.04 of an unlabeled one, 2 within 0.02,
    none within 0.04 of a labeled one; 34 (6 melanoma) allowing flips and turns."""
    rms = nearest_rms(dataset.test.images, dataset.unlabeled.images)
    assert int((rms < 0.04).sum()) == 18
    assert int((rms < 0.02).sum()) == 2
    copied = near_duplicates(dataset.test.images, dataset.unlabeled.images)
    assert int(copied.sum()) == 34 and int(dataset.test.labels[copied].sum()) == 6
    assert not near_duplicates(dataset.test.images, dataset.labeled.images).any()
