"""compare's statistics over seeds, on small synthetic scores whose answers are known."""

import numpy as np
import pytest

from melanoma.compare_statistics import (
    SUMMARY_METRICS,
    percentiles,
    seed_ensemble_aucs,
    seed_mean_bootstrap,
    seed_summary,
)


def test_the_seed_ensemble_averages_logits_not_probabilities():
    """Image 0's seeds disagree confidently (mean logit 2.8, mean probability 0.60), image 1's
    agree on 0.7: averaged logits rank the melanoma first, averaged probabilities last."""
    probs = {("a", 0): np.array([0.999, 0.7]), ("a", 1): np.array([0.2, 0.7])}
    assert seed_ensemble_aucs(np.array([1, 0]), probs, ("a",), (0, 1)) == {"a": 1.0}


def test_resampling_seeds_too_widens_the_difference_ci_only_when_seeds_disagree():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    good = labels + rng.normal(0, 0.8, 200)
    probs = {("a", 0): good, ("a", 1): good, ("b", 0): good, ("b", 1): good}
    same = seed_mean_bootstrap(labels, probs, ("a", "b"), (0, 1), n_resamples=200)
    assert same["b_minus_a_auc_ci_seeds_too"] == same["b_minus_a_auc_ci"] == [0.0, 0.0]
    probs["b", 1] = labels + rng.normal(0, 3.0, 200)  # one poor seed of b
    spread = seed_mean_bootstrap(labels, probs, ("a", "b"), (0, 1), n_resamples=200)
    low, high = spread["b_minus_a_auc_ci"]
    wide_low, wide_high = spread["b_minus_a_auc_ci_seeds_too"]
    assert wide_low < low and wide_high > high  # b's mean of its two seeds vs either alone
    alone = seed_mean_bootstrap(labels, probs, ("a",), (0, 1), n_resamples=200)
    assert alone["a_mean_auc_ci"] == spread["a_mean_auc_ci"]  # b's draws leave a's images be


def test_the_seeds_too_ci_resamples_all_seeds_of_both_methods_by_hand():
    """Perfect and inverted scores keep every seed's AUC at 1 or 0 on any image resample,
    so only the seed draws move the interval. a: 3 seeds at AUC 1, 3 at 0; b: all at 1.
    a's resampled mean is k/6 with k ~ Binomial(6, 1/2): P(k=0) = 1/64 < 2.5% < P(k<=1) =
    7/64, so b - a spans [1/6, 5/6]. Against a's plain mean (0.5) it would be [0.5, 0.5];
    drawing one seed instead of six, [0, 1]."""
    labels = np.repeat([0.0, 1.0], 10)
    seeds = tuple(range(6))
    probs = {("a", s): labels if s % 2 else 1 - labels for s in seeds}
    probs |= {("b", s): labels for s in seeds}
    cis = seed_mean_bootstrap(labels, probs, ("a", "b"), seeds)
    assert cis["b_minus_a_auc_ci"] == [0.5, 0.5]  # seeds held fixed: no spread at all
    assert cis["b_minus_a_auc_ci_seeds_too"] == pytest.approx([1 / 6, 5 / 6])


def test_one_seed_has_no_spread_and_no_seed_resampled_ci():
    """Resampling one seed gives that seed again: the 'seeds too' CI would just repeat the
    first under a name that claims more, and a std of 0 would claim perfect repeatability."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    probs = {(m, 0): labels + rng.normal(0, 1, 200) for m in ("a", "b")}
    cis = seed_mean_bootstrap(labels, probs, ("a", "b"), (0,), n_resamples=50)
    assert "b_minus_a_auc_ci" in cis and "b_minus_a_auc_ci_seeds_too" not in cis
    run = {"method": "a", "test": dict.fromkeys(SUMMARY_METRICS, 0.8)}
    assert seed_summary([run], ("a",))["a"]["auc"] == {"mean": 0.8, "std": None, "values": [0.8]}


def test_the_spread_over_seeds_is_the_sample_std_and_the_intervals_are_95_percent():
    runs = [{"method": "a", "test": dict.fromkeys(SUMMARY_METRICS, v)} for v in (0.8, 0.85, 0.9)]
    assert seed_summary(runs, ("a",))["a"]["auc"]["std"] == pytest.approx(0.05)  # ddof=0: 0.041
    assert percentiles(range(1001)) == [25.0, 975.0]
    skewed = [{"method": "a", "test": dict.fromkeys(SUMMARY_METRICS, v)} for v in (0.5, 0.8, 0.9)]
    assert seed_summary(skewed, ("a",))["a"]["auc"]["mean"] == pytest.approx(2.2 / 3)  # median: 0.8


def test_the_paired_difference_is_each_method_minus_the_first_not_the_reverse():
    """b ranks far better than a on every seed: b_minus_a must be positive, both CIs."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    probs = {(m, s): labels + rng.normal(0, noise, 200) for m, noise in (("a", 3.0), ("b", 0.3))
             for s in (0, 1)}  # fmt: skip
    cis = seed_mean_bootstrap(labels, probs, ("a", "b"), (0, 1), n_resamples=200)
    assert cis["a_mean_auc_ci"][1] < cis["b_mean_auc_ci"][0]  # the premise: b is far better
    assert 0 < cis["b_minus_a_auc_ci"][0] and 0 < cis["b_minus_a_auc_ci_seeds_too"][0]
