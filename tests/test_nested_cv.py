"""Nested CV of the Youden estimators: every labeled image is judged once, by a model that never
trained on it, at thresholds chosen from that model's own out-of-fold predictions."""

import dataclasses
import json

import numpy as np
import pytest

from melanoma.metrics import auc
from melanoma.nested_cv import (
    NestedConfig,
    epoch_rule_results,
    estimator_results,
    nested_cv,
    outer_folds,
)
from melanoma.train import TrainConfig

TINY = NestedConfig(
    seeds=(0,),
    outer_folds=2,
    train=TrainConfig(epochs=3, folds=2, progress=False, select_epoch="val-auc"),
)


@pytest.fixture(scope="module")
def by_rule(dataset, tmp_path_factory):
    return outer_folds(dataset.labeled, 0, TINY, tmp_path_factory.mktemp("nested"))


@pytest.fixture(scope="module")
def folds(by_rule):
    return by_rule["last"]


def test_each_labeled_image_is_held_out_exactly_once(folds, dataset):
    held_out = np.concatenate([f.held_out_labels for f in folds])
    assert len(held_out) == len(dataset.labeled) == 200
    assert held_out.sum() == dataset.labeled.labels.sum()  # stratified: both classes, all of them
    for fold in folds:
        # the inner out-of-fold predictions cover exactly the other outer fold
        assert len(fold.inner_labels) + len(fold.held_out_labels) == 200
        assert np.isfinite(fold.inner_probs).all() and np.isfinite(fold.held_out_probs).all()


def test_estimators_are_scored_on_the_same_held_out_decisions(folds):
    results = estimator_results(folds)
    assert set(results) == {"binormal", "empirical"}
    for r in results.values():
        assert r["n_held_out"] == 200 and 0 <= r["held_out_accuracy"] <= 1
    assert results["empirical"]["accuracy_minus_empirical"] == 0.0
    binormal = results["binormal"]
    assert binormal["accuracy_minus_empirical"] == pytest.approx(
        binormal["held_out_accuracy"] - results["empirical"]["held_out_accuracy"]
    )


def test_epoch_rules_judge_the_same_training_on_the_same_held_out_images(by_rule):
    last, selected = by_rule["last"], by_rule["val-auc"]
    assert [f.epoch for f in last] == [3, 3]
    for a, b in zip(last, selected, strict=True):
        np.testing.assert_array_equal(a.held_out_labels, b.held_out_labels)
        # the rule keeps the epoch whose out-of-fold AUC is highest, so never a lower one
        assert auc(b.inner_labels, b.inner_probs) >= auc(a.inner_labels, a.inner_probs)
        if b.epoch == a.epoch:
            np.testing.assert_array_equal(a.held_out_probs, b.held_out_probs)
    results = epoch_rule_results(by_rule, "binormal")
    assert results["last"]["accuracy_minus_last"] == 0.0
    assert results["val-auc"]["accuracy_minus_last"] == pytest.approx(
        results["val-auc"]["held_out_accuracy"] - results["last"]["held_out_accuracy"]
    )
    assert results["last"]["epochs_kept_range"] == [3, 3]


def test_writes_results_and_leaves_no_checkpoints(dataset, tmp_path, capsys):
    out = tmp_path / "out"
    results = nested_cv(dataset, dataclasses.replace(TINY, progress=True), out)
    bar = capsys.readouterr().err  # a 20-30 minute study is otherwise mute
    assert "outer folds: 100%" in bar and "2/2" in bar  # 1 seed x 2 outer folds
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md"]
    assert json.loads((out / "results.json").read_text()) == results
    assert "| binormal |" in (out / "results.md").read_text()
    assert "| val-auc |" in (out / "results.md").read_text()


def test_standard_errors_count_images_not_seeds_times_images():
    """Two seeds that decide 4 images identically carry no more evidence than one seed."""
    from melanoma.nested_cv import _add_paired_differences

    image = np.array([0, 1, 2, 3, 0, 1, 2, 3])  # seed 0, then seed 1, same images
    correct = {"a": np.zeros(8), "b": np.array([1, 0, 1, 1] * 2, dtype=float)}
    results = {"a": {}, "b": {}}
    _add_paired_differences(results, correct, "a", image)
    one_seed = np.array([1, 0, 1, 1]).std(ddof=1) / np.sqrt(4)
    assert results["b"]["accuracy_minus_a"] == 0.75
    assert results["b"]["accuracy_minus_a_se"] == pytest.approx(one_seed)
    assert results["a"]["accuracy_minus_a_se"] == 0.0
