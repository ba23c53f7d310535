import numpy as np
import pytest

from melanoma import metrics
from melanoma.metrics import (
    all_metrics,
    app_probabilities,
    app_probability,
    bootstrap_ci,
    calibration,
    choose_thresholds,
    confusion_metrics,
    evaluation_report,
    predictive_values,
    sensitivity_name,
    sensitivity_target,
    sensitivity_threshold,
    youden_threshold,
)

LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0])
PROBS = np.array([0.9, 0.8, 0.4, 0.3, 0.6, 0.2, 0.1, 0.05])


def test_app_probabilities_keep_the_logits_shape_and_the_apps_value_of_each():
    """As its docstring says, and as melanoma-bench's (N, 1) runner outputs would need:
    dropping the reshape passed every test, whose logits were all (N,)."""
    logits = np.array([[-800.0, -2.5], [0.0, 3.25]], np.float32)
    probs = app_probabilities(logits)
    assert probs.dtype == np.float64 and probs.shape == (2, 2)
    assert probs.tolist() == [[app_probability(float(x)) for x in row] for row in logits]


def test_confusion_metrics_by_hand():
    # at 0.5: TP=2 (0.9, 0.8), FN=2, FP=1 (0.6), TN=3
    m = confusion_metrics(LABELS, PROBS, 0.5)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["sensitivity"] == pytest.approx(2 / 4)
    assert m["specificity"] == pytest.approx(3 / 4)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert m["balanced_accuracy"] == pytest.approx(0.625)


def test_a_ratio_with_nothing_to_count_is_undefined_not_zero():
    nothing_flagged = confusion_metrics(LABELS, PROBS, 0.99)
    assert np.isnan(nothing_flagged["precision"]) and nothing_flagged["sensitivity"] == 0.0
    assert nothing_flagged["f1"] == 0.0  # 2TP / (2TP + FP + FN): defined, and 0
    no_melanoma = confusion_metrics(np.zeros(4), PROBS[:4], 0.5)
    assert np.isnan(no_melanoma["sensitivity"]) and np.isnan(no_melanoma["balanced_accuracy"])


def test_a_threshold_compares_in_float64_whatever_the_scores_dtype():
    """NumPy compares a float32 array with a Python float in float32: 0.5 + 1e-12 became 0.5."""
    probs = np.array([0.5, 0.2, 0.9, 0.1], dtype=np.float32)
    labels = np.array([1, 0, 1, 0])
    assert confusion_metrics(labels, probs, 0.5 + 1e-12)["sensitivity"] == 0.5
    assert confusion_metrics(labels, probs, 0.5)["sensitivity"] == 1.0


def test_bootstrap_ci_leaves_out_resamples_where_a_metric_is_undefined():
    """One image flagged: a third of resamples flag none; their precision is no 0."""
    labels = np.repeat([0, 1], 50)
    probs = np.where(np.arange(100) == 99, 0.9, 0.1)  # only the last melanoma is flagged
    ci = bootstrap_ci(labels, probs, 0.5, n_resamples=200, seed=0)
    assert ci["precision"] == [1.0, 1.0]
    assert np.isnan(bootstrap_ci(labels, probs, 0.95, n_resamples=50)["precision"]).all()


def test_auc_by_hand():
    # 16 positive-negative pairs; the positives 0.4 and 0.3 lose to 0.6: 14/16
    assert all_metrics(LABELS, PROBS, 0.5)["auc"] == pytest.approx(14 / 16)


def test_empirical_youden_picks_the_middle_of_the_best_range():
    choice = youden_threshold(LABELS, PROBS, estimator="empirical")
    # J = 0.75 for any threshold in (0.2, 0.3] (sens 1, spec 3/4)... and
    # J = 0.75 in (0.6, 0.8]? sens 2/4, spec 1: J = 0.5. So only (0.2, 0.3].
    assert choice.sensitivity == 1.0 and choice.specificity == 0.75
    assert 0.2 < choice.probability <= 0.3


def test_empirical_youden_stays_on_a_best_threshold_when_the_best_are_apart():
    # J = 0.5 at 0.105 (sens 1, spec 1/2) and at 0.795 (sens 1/2, spec 1), but J = 0
    # anywhere in (0.18, 0.73]: the mean of the two best, 0.45, would land there.
    labels, probs = np.array([0, 1, 0, 1]), np.array([0.03, 0.18, 0.73, 0.86])
    choice = youden_threshold(labels, probs, estimator="empirical")
    assert choice.probability == pytest.approx(0.105)  # the lower: more sensitive
    assert (choice.sensitivity, choice.specificity) == (1.0, 0.5)


def test_empirical_youden_always_reaches_the_best_j():
    rng = np.random.default_rng(0)
    for _ in range(200):
        labels, probs = rng.permutation(np.repeat([0, 1], 20)), rng.random(40)
        rates = [confusion_metrics(labels, probs, t) for t in np.unique(probs)]
        best_j = max(m["sensitivity"] + m["specificity"] - 1 for m in rates)
        choice = youden_threshold(labels, probs, estimator="empirical")
        assert choice.sensitivity + choice.specificity - 1 == pytest.approx(best_j)


def _logit_scores(n: int, spread_negative: float, seed: int):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n)
    logits = np.concatenate([rng.normal(-1, spread_negative, n), rng.normal(1, 1, n)])
    return labels, 1 / (1 + np.exp(-logits))


def test_binormal_youden_finds_the_density_crossing():
    # Equal spreads: the classes' logit densities cross at 0, i.e. p = 0.5.
    labels, probs = _logit_scores(20_000, 1.0, seed=0)
    choice = youden_threshold(labels, probs)
    assert choice.estimator == "binormal"
    assert choice.probability == pytest.approx(0.5, abs=0.01)
    # Negatives twice as spread: the densities of N(-1, 2) and N(1, 1) are equal where
    # 3t^2 - 10t + 3 - 8 ln 2 = 0; the root between the means maximizes J.
    labels, probs = _logit_scores(20_000, 2.0, seed=1)
    crossing = (5 - 2 * np.sqrt(4 + 6 * np.log(2))) / 3
    assert youden_threshold(labels, probs).probability == pytest.approx(
        1 / (1 + np.exp(-crossing)), abs=0.01
    )


def test_binormal_youden_is_steadier_than_empirical_on_small_samples():
    cutoffs = {"binormal": [], "empirical": []}
    for seed in range(40):
        labels, probs = _logit_scores(100, 1.0, seed)
        for estimator, found in cutoffs.items():
            p = youden_threshold(labels, probs, estimator).probability
            found.append(np.log(p / (1 - p)))
    assert np.std(cutoffs["binormal"]) < 0.7 * np.std(cutoffs["empirical"])
    assert abs(np.mean(cutoffs["binormal"])) < 0.1  # and centred on the true crossing, 0


def test_binormal_youden_falls_back_when_a_class_has_one_score():
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.2, 0.3, 0.8, 0.8, 0.8])
    choice = youden_threshold(labels, probs)
    assert choice.estimator == "empirical" and 0.3 < choice.probability <= 0.8


def test_unknown_youden_estimator_is_refused():
    with pytest.raises(ValueError, match="unknown Youden estimator"):
        youden_threshold(LABELS, PROBS, "kernel")


def test_sensitivity_threshold_is_the_highest_reaching_the_target():
    choice = sensitivity_threshold(LABELS, PROBS, 0.75)
    assert choice.sensitivity >= 0.75
    assert 0.3 < choice.probability <= 0.4  # 3 of 4 positives, best specificity
    assert choice.name == "sensitivity_0.75"


def test_choose_thresholds_names():
    names = [t.name for t in choose_thresholds(LABELS, PROBS, 0.9)]
    assert names == ["youden", "sensitivity_0.90"]


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 100)
    probs = np.clip(labels * 0.3 + rng.normal(0.35, 0.2, 200), 0, 1)
    first = bootstrap_ci(labels, probs, 0.5, n_resamples=300, seed=3)
    assert first == bootstrap_ci(labels, probs, 0.5, n_resamples=300, seed=3)
    point = all_metrics(labels, probs, 0.5)
    for name, (low, high) in first.items():
        assert low <= point[name] <= high, name


def test_calibration_by_hand():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([0.05, 0.15, 0.12, 1.0])  # 1.0 belongs to the last bin, [0.9, 1.0]
    result = calibration(labels, probs)
    assert result["brier"] == pytest.approx((0.05**2 + 0.15**2 + 0.88**2 + 0) / 4)
    # bins [0, 0.1): 0.05 vs 0; [0.1, 0.2): mean 0.135 vs 0.5, two images; [0.9, 1]: 1.0 vs 1
    assert result["ece"] == pytest.approx((0.05 + 2 * 0.365 + 0.0) / 4)
    assert [(b["low"], b["n"]) for b in result["bins"]] == [(0.0, 1), (0.1, 2), (0.9, 1)]
    assert result["bins"][1]["mean_probability"] == pytest.approx(0.135)
    assert result["bins"][1]["melanoma_rate"] == 0.5
    # an inner edge opens its bin, as "[0.1, 0.2)" says: sigmoid(0) = 0.5 lies in [0.5, 0.6)
    edge = calibration(np.array([0, 1]), np.array([0.5, 0.5]))["bins"]
    assert [(b["low"], b["n"]) for b in edge] == [(0.5, 2)]


def test_every_inner_edge_opens_its_bin_and_is_written_as_itself():
    """linspace made the 0.3, 0.6 and 0.7 edges a hair above those numbers: a score of
    exactly 0.3 fell in [0.2, 0.3), and --json wrote its bin as 0.30000000000000004."""
    probs = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    bins = calibration(np.zeros(9), probs)["bins"]
    assert [(b["low"], b["high"], b["n"]) for b in bins] == [
        (round(k / 10, 1), round((k + 1) / 10, 1), 1) for k in range(1, 10)
    ]


def test_a_calibrated_score_has_a_small_calibration_error():
    rng = np.random.default_rng(0)
    probs = rng.random(20000)
    labels = (rng.random(20000) < probs).astype(int)  # melanoma with probability p
    assert calibration(labels, probs)["ece"] < 0.02
    assert calibration(labels, probs**3)["ece"] > 0.1  # same ranking, pushed towards 0


def test_evaluation_report_keys():
    report = evaluation_report(LABELS, PROBS, 0.5)
    assert {"auc", "accuracy", "threshold", "n", "ci", "roc", "calibration"} <= report.keys()
    assert report["roc"]["fpr"][0] == 0.0 and report["roc"]["tpr"][-1] == 1.0


def test_evaluation_report_figures_and_intervals_are_all_at_the_given_threshold():
    # 0.35 flags 0.4 and not 0.3: a different decision from 0.5 for two images, so CIs (or
    # predictive values) computed at another threshold than the report's show up here
    report = evaluation_report(LABELS, PROBS, 0.35, seed=3)
    assert report["accuracy"] == confusion_metrics(LABELS, PROBS, 0.35)["accuracy"] == 0.75
    assert report["ci"] == bootstrap_ci(LABELS, PROBS, 0.35, seed=3)
    expected = predictive_values(0.75, 0.75, metrics.SCREENING_PREVALENCE)
    assert report["at_screening_prevalence"] == pytest.approx(expected)


def test_evaluation_report_records_the_resamples_and_seed_of_its_intervals():
    report = evaluation_report(LABELS, PROBS, 0.35, seed=3, n_resamples=200)
    assert report["bootstrap"] == {"n_resamples": 200, "seed": 3}
    assert report["ci"] == bootstrap_ci(LABELS, PROBS, 0.35, n_resamples=200, seed=3)


def test_predictive_values_at_another_prevalence_by_hand():
    # sensitivity 0.9, specificity 0.7 at 10% melanoma: of 1000 moles, 90 of 100 melanomas and
    # 270 of 900 benign ones are flagged; 10 melanomas and 630 benign ones are cleared.
    values = predictive_values(0.9, 0.7, 0.1)
    assert values["ppv"] == pytest.approx(90 / 360) and values["npv"] == pytest.approx(630 / 640)
    balanced = predictive_values(0.9, 0.7, 0.5)
    assert balanced["ppv"] == pytest.approx(0.45 / (0.45 + 0.15))  # the split's own precision


def test_sensitivity_names_parse_back_to_their_targets():
    for target in (0.9, 0.95, 0.925, 1.0):
        assert sensitivity_target(sensitivity_name(target)) == target
    assert sensitivity_target("sensitivity_0.9") == 0.9  # how a user may ask for it
    assert sensitivity_target("youden") is None and sensitivity_target("sensitivity_x") is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rates_at_every_candidate_are_confusion_metrics_at_each(dtype):
    """The sorted, vectorized rates behind both threshold rules, against the definition,
    with ties and one-class edge cases."""
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(2, 80))
        labels = rng.integers(0, 2, n)
        if trial % 10 == 0:
            labels[:] = trial % 20 == 0  # one class only
        probs = np.round(rng.random(n), 1 + trial % 3).astype(dtype)
        candidates = metrics._candidates(probs)
        sensitivity, specificity = metrics._rates_at_candidates(labels, probs, candidates)
        expected = [confusion_metrics(labels, probs, t) for t in candidates]
        # a class with no images: undefined (NaN) there, 0 for the threshold rules
        assert sensitivity.tolist() == np.nan_to_num([m["sensitivity"] for m in expected]).tolist()
        assert specificity.tolist() == np.nan_to_num([m["specificity"] for m in expected]).tolist()


def test_rank_auc_averages_tied_scores_as_roc_auc_score_does():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * labels, 1)  # ~13 distinct values: many ties
    assert metrics.rank_auc(labels, scores) == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-12
    )


def _three_in_four_right():
    """400 images, 200 of each class, every 4th decided wrong at 0.5: accuracy 0.75."""
    labels = np.repeat([0, 1], 200)
    return labels, np.where(np.arange(400) % 4 == 0, 1 - labels, labels).astype(float)


def test_bootstrap_intervals_are_95_percent_wide_and_follow_the_seed():
    """Accuracy 0.75 on 400 images: the normal approximation gives 0.75 +- 1.96 * 0.0217,
    a width of 0.085 (a 90% interval would be 0.071)."""
    labels, probs = _three_in_four_right()
    low, high = bootstrap_ci(labels, probs, 0.5, n_resamples=2000, seed=0)["accuracy"]
    assert low < 0.75 < high and 0.078 < high - low < 0.092
    assert bootstrap_ci(labels, probs, 0.5, n_resamples=200, seed=1) != bootstrap_ci(
        labels, probs, 0.5, n_resamples=200, seed=2
    )


def test_roc_points_start_at_a_threshold_of_one_not_infinity():
    points = metrics.roc_points(LABELS, PROBS)
    assert points["thresholds"][0] == 1.0 and np.isfinite(points["thresholds"]).all()
    assert (points["fpr"][0], points["tpr"][0]) == (0.0, 0.0)


def test_the_first_roc_threshold_flags_nothing_even_when_a_score_is_one():
    labels, probs = np.array([0, 1, 1, 0]), np.float32([0.2, 1.0, 0.7, 0.4])
    points = metrics.roc_points(labels, probs)
    for fpr, tpr, threshold in zip(*points.values(), strict=True):
        flagged = probs.astype(np.float64) >= threshold  # the package's rule, in float64
        assert (fpr, tpr) == (flagged[labels == 0].mean(), flagged[labels == 1].mean())


def _ordered(sequence: str):
    """Labels for scores 0.01, 0.02, ... in the order given ('N' benign, 'P' melanoma)."""
    labels = np.array([c == "P" for c in sequence], dtype=int)
    return labels, np.arange(1, len(sequence) + 1) / 100


def test_empirical_youden_takes_the_middle_of_three_tied_thresholds():
    # scores 0.01..0.08 ordered N N P N P N P P: J = 0.5 exactly at 0.025 (sens 1, spec 1/2),
    # 0.045 (3/4, 3/4) and 0.065 (1/2, 1); anything else is lower. The middle is 0.045.
    labels, probs = _ordered("NNPNPNPP")
    choice = youden_threshold(labels, probs, estimator="empirical")
    assert choice.probability == pytest.approx(0.045)
    assert (choice.sensitivity, choice.specificity) == (0.75, 0.75)


def test_empirical_youden_ties_that_differ_only_by_float_rounding_are_ties():
    # 10 + 10 scores: J = 0.7 at 0.095 (sens 9/10, spec 8/10), 0.115 (8/10, 9/10) and
    # 0.135 (7/10, 10/10). In floats 0.9 + 0.8 - 1 = 0.7000000000000002 but 0.7 + 1.0 - 1
    # = 0.7: all three are best, and the middle one is 0.115.
    labels, probs = _ordered("NNNNNNPNNPNPNPPPPPPP")
    choice = youden_threshold(labels, probs, estimator="empirical")
    assert choice.probability == pytest.approx(0.115)
    assert (choice.sensitivity, choice.specificity) == (0.8, 0.9)


@pytest.mark.parametrize("target", [1.0, 0.9])
def test_a_target_only_flagging_everything_reaches_gives_threshold_zero(target):
    # The lowest score is a melanoma: every threshold above it misses it (sensitivity <=
    # 3/4), so only t = 0 reaches 0.9 or 1.0; it flags all, specificity 0.
    labels = np.array([1, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    choice = sensitivity_threshold(labels, probs, target)
    assert choice.probability == 0.0
    assert (choice.sensitivity, choice.specificity) == (1.0, 0.0)


def test_bootstrap_ci_skips_resamples_without_a_melanoma():
    # 1 melanoma (always flagged) and 9 benign, one of them flagged too. Some 35% of
    # resamples draw no melanoma: AUC is undefined there, so they are skipped. Every
    # counted resample has TP >= 1 and FP <= 9, so precision >= 0.1 and F1 >= 2/11:
    # the intervals cannot reach 0.
    labels = np.array([1] + [0] * 9)
    probs = np.array([0.9, 0.8] + [0.1] * 8)
    ci = bootstrap_ci(labels, probs, 0.5, n_resamples=1000, seed=0)
    assert ci["sensitivity"] == [1.0, 1.0] and ci["auc"] == [1.0, 1.0]
    assert ci["precision"][0] >= 0.1 and ci["f1"][0] >= 2 / 11


def test_bootstrap_interval_tails_are_each_two_and_a_half_percent():
    """Accuracy 0.75 on 400 images: each end lies 1.96 * 0.0217 = 0.042 from 0.75; a 5th
    or 95th percentile end would lie 1.645 * 0.0217 = 0.036 from it."""
    labels, probs = _three_in_four_right()
    low, high = bootstrap_ci(labels, probs, 0.5, n_resamples=2000, seed=0)["accuracy"]
    assert 0.039 < 0.75 - low < 0.047
    assert 0.039 < high - 0.75 < 0.047


def test_bootstrap_uses_every_resample_it_is_asked_for():
    # Same seed, so the first 200 resamples are shared; 2000 must draw 1800 more.
    labels, probs = _three_in_four_right()
    many = bootstrap_ci(labels, probs, 0.5, n_resamples=2000, seed=0)["accuracy"]
    few = bootstrap_ci(labels, probs, 0.5, n_resamples=200, seed=0)["accuracy"]
    assert many != few
