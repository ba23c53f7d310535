"""Which split `melanoma evaluate` scores, and what it says when the numbers would flatter."""

import dataclasses

import pytest
import torch

from melanoma.checkpoint import load_checkpoint
from melanoma.errors import UserError
from melanoma.evaluate import pick_split, split_caveat


@pytest.fixture(scope="module")
def sgan():
    return load_checkpoint("reference-sgan")  # holds out 40 labeled images


def test_val_is_the_checkpoints_own_held_out_split(dataset, sgan):
    val = pick_split(dataset, "val", sgan)
    assert len(val.labels) == 40 and int(val.labels.sum()) == 20
    assert "chosen on these images" in split_caveat(dataset, "val", sgan)


def test_val_of_other_data_is_refused(dataset, sgan):
    other = dataclasses.replace(dataset, labeled=dataset.labeled.subset(torch.arange(150)))
    assert other.fingerprint != dataset.fingerprint
    with pytest.raises(UserError, match="re-carved from the data the checkpoint was trained on"):
        pick_split(other, "val", sgan)


def test_only_the_training_datas_labeled_split_is_flagged(dataset, sgan):
    assert "trained on these images" in split_caveat(dataset, "labeled", sgan)
    other = dataclasses.replace(dataset, labeled=dataset.labeled.subset(torch.arange(150)))
    assert split_caveat(other, "labeled", sgan) is None
    assert split_caveat(dataset, "test", sgan) is None
