"""melanoma.splits: stratified, seeded hold-outs and folds, and a checkpoint's split re-carved."""

import csv

import pytest
import torch

from melanoma.checkpoint import load_checkpoint
from melanoma.errors import UserError
from melanoma.splits import (
    OUT_OF_FOLD,
    checkpoint_split,
    stratified_folds,
    stratified_split,
    validation_scheme,
)


def test_folds_are_stratified_disjoint_and_seeded(dataset):
    labels = dataset.labeled.labels
    fold_of = stratified_folds(labels, 5, seed=3)
    for fold in range(5):
        members = labels[fold_of == fold]
        assert len(members) == 40 and int(members.sum()) == 20
    assert torch.equal(stratified_folds(labels, 5, seed=3), fold_of)
    assert not torch.equal(stratified_folds(labels, 5, seed=4), fold_of)
    with pytest.raises(ValueError, match="at least 2 folds"):
        stratified_folds(labels, 1, seed=0)


def test_split_is_stratified_and_seeded(dataset):
    train, val = stratified_split(dataset.labeled, 0.2, seed=5)
    assert len(val) == 40 and int(val.labels.sum()) == 20
    assert not set(train.names) & set(val.names)
    assert stratified_split(dataset.labeled, 0.2, seed=5)[1].names == val.names
    assert stratified_split(dataset.labeled, 0.2, seed=6)[1].names != val.names


def test_a_class_smaller_than_the_folds_is_a_data_error(dataset):
    labels = torch.tensor([0] * 10 + [1] * 3)
    with pytest.raises(UserError, match="labeled class 1 has 3 images, fewer than the 5"):
        stratified_folds(labels, 5, seed=0)


def test_a_class_too_small_to_hold_out_and_train_on_is_a_data_error(dataset):
    """One melanoma went to validation and the SGAN trained with none at all."""
    keep = torch.cat([torch.nonzero(dataset.labeled.labels == 0).flatten()[:11],
                      torch.nonzero(dataset.labeled.labels == 1).flatten()[:1]])  # fmt: skip
    with pytest.raises(UserError, match="labeled class 1 has 1 image.s.: too few to hold out 1"):
        stratified_split(dataset.labeled.subset(keep), 0.2, seed=0)
    keep = torch.cat([keep, torch.nonzero(dataset.labeled.labels == 1).flatten()[1:2]])
    train, val = stratified_split(dataset.labeled.subset(keep), 0.2, seed=0)
    assert int(train.labels.sum()) == 1 and int(val.labels.sum()) == 1


def test_checkpoint_split_recarves_the_held_out_images_and_has_none_out_of_fold(dataset):
    held_out = {"val_fraction": 0.2}  # checkpoints that predate "validation" held out
    assert validation_scheme(held_out) == "held-out"
    train, val = checkpoint_split(dataset.labeled, held_out, seed=5)
    assert val.names == stratified_split(dataset.labeled, 0.2, seed=5)[1].names
    assert len(train) + len(val) == len(dataset.labeled)
    everything, none = checkpoint_split(dataset.labeled, {"validation": OUT_OF_FOLD}, seed=5)
    assert everything is dataset.labeled and none is None
    with pytest.raises(UserError, match="val_fraction 1.5"):
        checkpoint_split(dataset.labeled, {"val_fraction": 1.5}, seed=5)


def test_folds_are_the_ones_the_bundled_baseline_was_trained_on(dataset):
    """Retraining reference-supervised bit for bit (README) rests on this assignment."""
    checkpoint = load_checkpoint("reference-supervised")
    with (checkpoint.path / "out_of_fold.csv").open(newline="") as handle:
        stored = {row["name"]: int(row["fold"]) for row in csv.DictReader(handle)}
    folds = stratified_folds(
        dataset.labeled.labels, checkpoint.meta.train_config["folds"], checkpoint.meta.seed
    )
    assert folds.tolist() == [stored[name] for name in dataset.labeled.names]


def test_a_split_rounds_each_class_share_and_keeps_the_labeled_order(dataset):
    """A checkpoint's validation images are re-carved by this rule (checkpoint_split):
    rounding another way, or another order, would score its thresholds on other images
    than it was validated on, and the training order shapes the weights."""
    train, val = stratified_split(dataset.labeled, 0.187, seed=5)  # 18.7 of each 100
    assert len(val) == 38 and int(val.labels.sum()) == 19
    order = {name: i for i, name in enumerate(dataset.labeled.names)}
    for part in (train, val):
        assert [order[name] for name in part.names] == sorted(order[n] for n in part.names)


@pytest.mark.parametrize("fraction", [0, 1])
def test_a_split_must_hold_out_some_but_not_all(dataset, fraction):
    with pytest.raises(ValueError, match="val_fraction must be in"):
        stratified_split(dataset.labeled, fraction, seed=0)


def test_two_folds_of_a_class_with_as_many_images_as_folds_are_enough():
    fold_of = stratified_folds(torch.tensor([0, 1, 0, 1]), 2, seed=0)
    assert sorted(fold_of[[0, 2]].tolist()) == [0, 1] and sorted(fold_of[[1, 3]].tolist()) == [0, 1]


def test_a_checkpoint_without_a_val_fraction_is_a_clear_error(dataset):
    """A hand-edited or foreign metadata.json: a one-line error, not a TypeError."""
    for train_config in ({}, {"val_fraction": None}, {"val_fraction": "0.2"}):
        with pytest.raises(UserError, match="its validation split cannot be re-carved"):
            checkpoint_split(dataset.labeled, train_config, seed=5)
