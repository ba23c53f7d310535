"""Nested CV of the Youden estimators: every labeled image is judged once, by a model that never
trained on it, at thresholds chosen from that model's own out-of-fold predictions."""

import dataclasses
import json

import numpy as np
import pytest

import melanoma.fold_run as fold_run_module
import melanoma.nested_cv as nested_module
from melanoma.atomic import HELD_BY_ANOTHER_RUN
from melanoma.errors import UserError
from melanoma.metrics import auc, logit, youden_threshold
from melanoma.nested_cv import (
    NestedConfig,
    OuterFold,
    epoch_rule_results,
    estimator_results,
    nested_cv,
    outer_folds,
    results_markdown,
)
from melanoma.resume import run_dir_owned
from melanoma.splits import stratified_folds
from melanoma.train import TrainConfig

from other_process import HOLDS_A_RUN_DIR, ending_when_waited_for, other_process

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


def test_the_command_runs_the_seeds_it_is_given_and_prints_results_md(
    dataset, tmp_path, monkeypatch
):
    """`melanoma nested-cv --seeds 4,2`: those seeds, in that order (at TINY's folds and
    epochs: the real study takes minutes per seed)."""
    from click.testing import CliRunner

    from melanoma.cli import cli

    def tiny(data, config, out_dir):
        return nested_cv(data, dataclasses.replace(TINY, seeds=config.seeds), out_dir)

    monkeypatch.setattr("melanoma.datasets.load_dataset", lambda data: dataset)
    monkeypatch.setattr(nested_module, "nested_cv", tiny)
    out = tmp_path / "out"
    args = ["nested-cv", "--data", "real", "--seeds", "4,2", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "results.json").read_text())["seeds"] == [4, 2]
    assert result.stdout == (out / "results.md").read_text()


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


def test_thresholds_come_from_the_inner_predictions_never_the_held_out_fold(folds):
    """Accuracy by hand: each fold decided at the cutoff of its own out-of-fold predictions."""
    results = estimator_results(folds)
    for estimator in ("binormal", "empirical"):
        correct = np.concatenate([
            (f.held_out_probs >= youden_threshold(f.inner_labels, f.inner_probs, estimator)
             .probability) == f.held_out_labels
            for f in folds
        ])  # fmt: skip
        assert results[estimator]["held_out_accuracy"] == pytest.approx(correct.mean())


def test_outer_folds_use_their_seed_and_the_kept_epochs_inner_predictions(
    dataset, tmp_path, monkeypatch
):
    """Seed 3: outer folds seeded at 3 + outer_seed_offset, every training at seed 3, and each
    rule's inner predictions are the out-of-fold predictions of the epoch it kept."""
    real_train, runs = nested_module.train_folds, []

    def train_folds(data, config, *args, **kwargs):
        runs.append((config.seed, real_train(data, config, *args, **kwargs)))
        return runs[-1][1]

    monkeypatch.setattr(nested_module, "train_folds", train_folds)
    # val-auc keeps the first candidate epoch here, so the two rules keep different epochs
    monkeypatch.setattr(
        fold_run_module, "kept_epoch", lambda logits, labels, epochs: (epochs[0], 0.5)
    )
    config = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, epochs=2))
    result = outer_folds(dataset.labeled, 3, config, tmp_path)
    assert [f.epoch for f in result["val-auc"]] == [1, 1]
    assert [f.epoch for f in result["last"]] == [2, 2]
    assert [seed for seed, _ in runs] == [3, 3]
    fold_of = stratified_folds(dataset.labeled.labels, 2, 3 + config.outer_seed_offset)
    for k, fold in enumerate(result["last"]):
        np.testing.assert_array_equal(fold.held_out_index, np.nonzero(fold_of.numpy() == k)[0])
    for rule_folds in result.values():
        for (_, run), fold in zip(runs, rule_folds, strict=True):
            np.testing.assert_array_equal(fold.inner_probs, run.out_of_fold_probs(fold.epoch))
    assert not np.array_equal(runs[0][1].out_of_fold_probs(1), runs[0][1].out_of_fold_probs(2))


def test_held_out_auc_pools_the_outer_folds_of_each_seed_then_averages_the_seeds():
    def fold(seed, labels, probs):
        labels, probs = np.array(labels), np.array(probs)
        return OuterFold(seed, 1, labels, probs, labels, probs, np.arange(len(labels)))

    # seed 0 ranks perfectly (AUC 1), seed 1 backwards (AUC 0); pooled over seeds it would be 0.5
    folds = [fold(0, [0, 1], [0.1, 0.2]), fold(0, [0, 1], [0.3, 0.4]),
             fold(1, [0, 1], [0.9, 0.8]), fold(1, [0, 1], [0.95, 0.05])]  # fmt: skip
    results = epoch_rule_results({"last": folds}, "empirical")
    # seed 0: AUC 0.75, seed 1: 0.0; the 8 pooled would give 0.3125
    assert results["last"]["held_out_auc"] == pytest.approx((0.75 + 0.0) / 2)


def test_cutoff_sd_is_in_logits_the_epoch_a_median_and_fallbacks_only_binormals():
    """Three outer folds whose cutoffs are far apart in logits (one near 0.9), kept epochs 1,
    1 and 10: the SD of the probabilities and the mean epoch (4) would read otherwise."""

    def fold(epoch, power):
        labels = np.array([0, 0, 0, 1, 1, 1])
        probs = np.array([0.1, 0.2, 0.6, 0.4, 0.8, 0.9]) ** power
        return OuterFold(0, epoch, labels, probs, labels, probs, np.arange(6))

    folds = [fold(1, 1.0), fold(1, 0.1), fold(10, 3.0)]
    for estimator, r in estimator_results(folds).items():
        cutoffs = [youden_threshold(f.inner_labels, f.inner_probs, estimator).probability
                   for f in folds]  # fmt: skip
        assert r["cutoff_logit_sd"] == pytest.approx(np.std(logit(cutoffs)))
        assert abs(r["cutoff_logit_sd"] - np.std(cutoffs)) > 0.5, estimator
    assert epoch_rule_results({"last": folds}, "empirical")["last"]["epochs_kept_median"] == 1
    one_benign_score = OuterFold(0, 1, np.array([0, 0, 1, 1]), np.array([0.2, 0.2, 0.7, 0.9]),
                                 np.array([0, 1]), np.array([0.2, 0.9]), np.arange(2))  # fmt: skip
    results = estimator_results([*folds, one_benign_score])  # binormal needs 2 scores a class
    assert (results["binormal"]["fallbacks"], results["empirical"]["fallbacks"]) == (1, 0)


def test_the_report_judges_estimators_at_the_last_epoch_and_rules_at_the_configured_estimator(
    dataset, by_rule, tmp_path, monkeypatch
):
    monkeypatch.setattr(nested_module, "outer_folds", lambda *args: by_rule)
    results = nested_cv(dataset, TINY, tmp_path / "out")
    assert results["estimators"] == estimator_results(by_rule["last"])
    assert results["epoch_rule_estimator"] == TINY.train.youden_estimator == "binormal"
    assert results["epoch_rules"] == epoch_rule_results(by_rule, "binormal")


def test_the_cutoff_p10_p90_lies_among_the_cutoffs_in_order(folds):
    results = estimator_results(folds)
    for estimator, r in results.items():
        cutoffs = [youden_threshold(f.inner_labels, f.inner_probs, estimator).probability
                   for f in folds]  # fmt: skip
        low, high = r["cutoff_p10_p90"]
        assert min(cutoffs) - 1e-9 <= low <= high <= max(cutoffs) + 1e-9, (estimator, cutoffs)


# Another nested-cv writing its results into the folder, in a process of its own, as
ONE_EPOCH = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, epochs=1))


def test_a_folder_another_run_holds_is_refused_before_any_training(dataset, tmp_path):
    """It waited out the other run (a train, a compare, another nested-cv: a lock cannot
    say which) and then wrote its results.json into that run's folder: beside a
    checkpoint, or over a compare's results.json, beside the compare's roc.png."""
    out = tmp_path / "out"
    with other_process(HOLDS_A_RUN_DIR, out, ready="holding") as other:

        def other_run_goes_on():  # only reached by a nested-cv that waits
            other.stdin.write("go\n")
            other.stdin.flush()

        with ending_when_waited_for(other_run_goes_on), pytest.raises(UserError) as refused:
            nested_cv(dataset, ONE_EPOCH, out)
    assert str(refused.value) == f"{out}: {HELD_BY_ANOTHER_RUN}; wait for it to end"
    assert sorted(out.iterdir()) == []


def test_a_train_into_the_folder_while_it_runs_is_refused(dataset, tmp_path, monkeypatch):
    """It held --out only to write its results: a train began into it meanwhile."""
    out, trains = tmp_path / "out", []

    def train_tries_then_folds(*args):
        try:
            with run_dir_owned(out):  # what `melanoma train --out OUT` takes
                trains.append("trained")
        except UserError as refused:
            trains.append(str(refused))
        return outer_folds(*args)

    monkeypatch.setattr(nested_module, "outer_folds", train_tries_then_folds)
    results = nested_cv(dataset, ONE_EPOCH, out)
    assert trains == [f"{out}: {HELD_BY_ANOTHER_RUN}; wait for it to end"]
    assert json.loads((out / "results.json").read_text()) == results
    assert (out / "results.md").read_text() == results_markdown(results)
