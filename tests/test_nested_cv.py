"""Nested CV of the Youden estimators: every labeled image is judged once, by a model that never
trained on it, at thresholds chosen from that model's own out-of-fold predictions."""

import json

import numpy as np
import pytest

from melanoma.nested_cv import NestedConfig, estimator_results, nested_cv, outer_folds
from melanoma.train import TrainConfig

TINY = NestedConfig(seeds=(0,), outer_folds=2, train=TrainConfig(epochs=2, folds=2, progress=False))


@pytest.fixture(scope="module")
def folds(dataset, tmp_path_factory):
    return outer_folds(dataset.labeled, 0, TINY, tmp_path_factory.mktemp("nested"))


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


def test_writes_results_and_leaves_no_checkpoints(dataset, tmp_path):
    out = tmp_path / "out"
    results = nested_cv(dataset, TINY, out)
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md"]
    assert json.loads((out / "results.json").read_text()) == results
    assert "| binormal |" in (out / "results.md").read_text()
