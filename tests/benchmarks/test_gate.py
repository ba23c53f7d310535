"""The gate: one line per broken limit, the reference never gated, ❎ always a violation."""

import math

import pytest

from melanoma.benchmarks.gate import (
    GateLimits,
    passed_text,
    target_text,
    targets,
    violations,
)


def test_no_limits_no_violations(rows):
    assert violations(rows, GateLimits()) == []


def test_limits_that_hold_pass(rows):
    assert violations(rows, GateLimits(0.01, 0.97, 10.0)) == []


def test_each_broken_limit_is_one_line_naming_artifact_threads_and_figure(rows):
    found = violations(rows, GateLimits(max_auc_drop=0.001, min_agreement=0.999,
                                        max_latency_ms=0.6))  # fmt: skip
    # Accuracy figures once: they do not depend on the thread count. The eager reference
    # (4 ms) and the Core ML skip are never gated.
    assert found == [
        "GATE m-executorch-int8.pte: auc_drop 0.002 breaks 0.001",
        "GATE m-executorch-int8.pte: agreement 0.995 breaks 0.999",
        "GATE m-executorch-int8.pte 1t: latency_p50_ms 0.8 breaks 0.6",
        "GATE m-executorch-int8.pte 2t: latency_p50_ms 0.8 breaks 0.6",
    ]


def test_failed_check_is_a_violation_without_limits(make_row_for):
    failed = make_row_for(status="failed", reasons=["agreement 0.500 < 0.9"], agreement=0.5)
    assert violations([failed], GateLimits()) == [
        "GATE m.pte: status failed breaks verified (agreement 0.500 < 0.9)"
    ]


@pytest.mark.parametrize(
    "limits",
    [GateLimits(max_auc_drop=0.0), GateLimits(min_agreement=0.0), GateLimits(require_int8=True)],
)
def test_a_limit_of_0_or_require_int8_alone_fails_when_nothing_ran(rows, limits):
    """0 is a limit too (not "no limit"); and one line says why, not two."""
    not_artifacts = [row for row in rows if row["target"] in ("pytorch", "coreml")]
    assert violations(not_artifacts, limits) == [
        "GATE: no artifact could run here, so none was held to the limits"
    ]


def test_a_failed_row_without_figures_is_one_violation_under_every_limit(make_row_for):
    """A file that would not load has no AUC, agreement or latency to hold to a limit."""
    failed = make_row_for(status="failed", reasons=["runtime error: x"], measured=False)
    limits = GateLimits(0.005, 0.99, 1.0, 0.005)
    assert violations([failed], limits) == [
        "GATE m.pte: status failed breaks verified (runtime error: x)"
    ]


def test_require_int8_fails_a_run_of_float_artifacts_only(rows):
    """A drift gate held by float files alone measured no drift, and must not pass."""
    floats = [row for row in rows if row["precision"] != "int8"]
    limits = GateLimits(max_auc_drop=0.005, require_int8=True)
    assert violations(floats, limits) == [
        "GATE: no int8 artifact ran here, so quantization drift was not measured"
    ]
    assert violations(floats, GateLimits(max_auc_drop=0.005)) == []  # not asked for
    assert violations(rows, limits) == []


def test_passed_text_names_each_limit_and_the_rows_of_each_precision(rows):
    limits = GateLimits(max_auc_drop=0.005, min_agreement=0, require_int8=True)
    assert passed_text(limits, rows) == (
        "gate passed: every runnable artifact row (2 fp32, 2 int8) held to "
        "--max-auc-drop 0.005, --min-agreement 0, --require-int8"
    )  # 2 threads each; the eager reference and the Core ML skip are not artifact rows held


def test_targets(rows):
    by_name = {t["name"]: t for t in targets(rows)}
    speedup = by_name["int8 .pte p50 / eager fp32 p50, 1 thread"]
    assert speedup["value"] == 0.8 / 4.0 and speedup["met"] is True
    assert speedup["by_round"] == [0.8 / 4.0, 0.96 / 4.8]  # each round's int8 / eager p50
    assert by_name["int8 worst decision agreement"]["by_round"] is None  # no timing in it
    assert by_name["artifacts not verified (runnable here)"]["value"] == 0
    assert by_name["int8 worst AUC drop vs float (negative: int8 higher)"]["value"] == 0.002
    assert by_name["int8 worst decision agreement"]["met"] is True


def test_the_speed_target_times_the_slowest_int8_pte(rows, make_row_for):
    """Two int8 programs of one checkpoint (say, exports at two thresholds in subfolders):
    the faster one alone must not meet the target."""
    slower = make_row_for(threads=1, p50=1.6, name="b-executorch-int8.pte")
    speedup = next(t for t in targets([*rows, slower]) if t["name"].startswith("int8 .pte p50"))
    assert (speedup["value"], speedup["met"]) == (1.6 / 4.0, False)


def test_the_speed_target_is_judged_at_1_thread_only(rows, make_row_for):
    """The target is the 1-thread ratio: another .pte slower only at 2 threads (its pool
    waiting on a busy core) must not be taken for the slowest."""
    contended = make_row_for(threads=2, p50=3.0, name="b-executorch-int8.pte")
    speedup = next(t for t in targets([*rows, contended]) if t["name"].startswith("int8 .pte p50"))
    assert (speedup["value"], speedup["met"]) == (0.8 / 4.0, True)


def test_targets_not_measurable_are_none(make_row_for):
    only_reference = [make_row_for(name="eager-pytorch", target="pytorch", precision="fp32")]
    assert all(t["value"] is None and t["met"] is None for t in targets(only_reference))


def test_a_value_just_past_a_limit_never_prints_as_the_limit(make_row_for):
    """AUC moves in steps of 1/90000 on 600 images: 0.00504 printed as 0.0050 looked like a pass."""
    row = make_row_for(delta_auc=-0.00504, agreement=0.98996)
    assert violations([row], GateLimits(max_auc_drop=0.005, min_agreement=0.99)) == [
        "GATE m.pte: auc_drop 0.00504 breaks 0.005",
        "GATE m.pte: agreement 0.98996 breaks 0.99",
    ]


def test_a_latency_just_past_its_limit_prints_enough_digits_to_show_it(make_row_for):
    """Latency is continuous: six digits printed 1.0000004 ms as 'latency_p50_ms 1 breaks 1'."""
    row = make_row_for(p50=1.0000004)
    assert violations([row], GateLimits(max_latency_ms=1.0)) == [
        "GATE m.pte 1t: latency_p50_ms 1.0000004 breaks 1"
    ]
    row = make_row_for(p50=1.23456781)
    assert violations([row], GateLimits(max_latency_ms=1.2345678)) == [
        "GATE m.pte 1t: latency_p50_ms 1.23456781 breaks 1.2345678"
    ]
    ratio = {"name": "r", "value": 0.2500001, "limit": 0.25, "op": "<=", "met": False}
    assert target_text(ratio) == "r 0.2500001 <= 0.25: NOT met"
    at_limit = dict(ratio, value=0.25 + 1e-12, met=True)  # equal up to float rounding
    assert target_text(at_limit) == "r 0.25 <= 0.25: met"


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_limit_that_is_not_a_number_is_refused(bad):
    """NaN compares false with everything: as a limit it would have passed every row."""
    with pytest.raises(ValueError, match=r"GateLimits.min_agreement = (nan|inf): expected a"):
        GateLimits(min_agreement=bad)


@pytest.mark.parametrize(
    ("limit", "value"),
    [("max_auc_drop", -0.01), ("min_agreement", 5.0), ("max_latency_ms", 0.0)],
)
def test_a_limit_that_every_row_would_fail_is_refused(limit, value):
    with pytest.raises(ValueError, match=rf"GateLimits.{limit} = {value}: expected"):
        GateLimits(**{limit: value})


def test_a_drop_of_exactly_the_limit_passes_and_one_image_more_fails(make_row_for):
    # 476/600 - 473/600 is 0.0050000000000000044 in floats: it failed a 0.005 limit
    limits = GateLimits(max_auc_drop=0.005, min_agreement=0.99, max_accuracy_drop=0.005)
    at_limit = make_row_for(
        delta_accuracy=473 / 600 - 476 / 600, delta_auc=-450 / 90000, agreement=594 / 600
    )
    assert violations([at_limit], limits) == []
    assert targets([at_limit])[2]["met"] and targets([at_limit])[3]["met"]
    past = make_row_for(
        delta_accuracy=472 / 600 - 476 / 600, delta_auc=-451 / 90000, agreement=593 / 600
    )
    assert violations([past], limits) == [
        "GATE m.pte: auc_drop 0.00501111 breaks 0.005",
        "GATE m.pte: agreement 0.988333 breaks 0.99",
        "GATE m.pte: accuracy_drop 0.00666667 breaks 0.005",
    ]


def test_unverified_target_counts_artifacts_not_thread_rows(make_row_for):
    failed = [make_row_for(status="failed", reasons=["x"], threads=t) for t in (1, 2)]
    by_name = {t["name"]: t for t in targets(failed)}
    assert by_name["artifacts not verified (runnable here)"]["value"] == 1


def test_an_accuracy_drop_past_the_limit_is_a_violation(make_row_for):
    dropped = make_row_for(delta_accuracy=-0.01)
    assert violations([dropped], GateLimits(max_accuracy_drop=0.01)) == []
    assert violations([dropped], GateLimits(max_accuracy_drop=0.005)) == [
        "GATE m.pte: accuracy_drop 0.01 breaks 0.005"
    ]
    gained = make_row_for(delta_accuracy=+0.02)
    assert violations([gained], GateLimits(max_accuracy_drop=0.0)) == []


def test_limits_with_nothing_that_ran_are_a_violation(make_row_for):
    """A gate with limits that judged no artifact must not pass: in CI that would hide an
    export that produced nothing runnable."""
    reference = make_row_for(name="eager-pytorch", target="pytorch", precision="fp32")
    skipped = make_row_for(name="m.mlpackage", target="coreml", status="not_runnable")
    assert violations([reference, skipped], GateLimits()) == []
    assert violations([reference, skipped], GateLimits(min_agreement=0.99)) == [
        "GATE: no artifact could run here, so none was held to the limits"
    ]


def test_a_preempted_timing_leaves_the_speed_target_unjudged(rows):
    eager = next(r for r in rows if r["target"] == "pytorch" and r["threads"] == 1)
    quiet = {t["name"]: t for t in targets(rows)}["int8 .pte p50 / eager fp32 p50, 1 thread"]
    assert quiet["met"] is True and quiet["caveat"] is None
    disturbed = [dict(r, cpu_per_wall=0.6) if r is eager else r for r in rows]
    speedup = targets(disturbed)[0]
    assert speedup["value"] == quiet["value"] and speedup["met"] is None
    assert speedup["caveat"] == "eager-pytorch timed while preempted (CPU/wall < 0.9)"
    assert target_text(speedup) == (
        "int8 .pte p50 / eager fp32 p50, 1 thread 0.2 <= 0.25: not judged, rounds 0.2-0.2; "
        "eager-pytorch timed while preempted (CPU/wall < 0.9)"
    )


def test_a_preempted_artifacts_name_in_the_speed_caveat_stays_one_line(rows):
    """The caveat names the preempted .pte by its file: a name 'x\\n\\n## Gate\\n\\npassed'
    added a heading of its own under report.md's ## Targets, and ESC reached the terminal's
    'target:' line, after the table and the notes had been made to escape both."""
    name = "x\n\n## Gate\n\npassed\x1b[2K.pte"
    pte = next(r for r in rows if r["target"] == "executorch" and r["threads"] == 1)
    disturbed = [dict(r, name=name, cpu_per_wall=0.6) if r is pte else r for r in rows]
    shown = target_text(targets(disturbed)[0])
    assert shown.isprintable()
    assert shown.endswith("; x\\n\\n## Gate\\n\\npassed\\x1b[2K.pte timed while preempted "
                          "(CPU/wall < 0.9)")  # fmt: skip


def test_a_speed_target_timed_on_few_calls_is_not_judged(rows):
    """`--runs 1` judged the target 'met' from one call on each side."""
    few = [dict(r, runs=1) if r["target"] == "pytorch" else r for r in rows]
    speedup = targets(few)[0]
    assert speedup["value"] == targets(rows)[0]["value"] and speedup["met"] is None
    assert speedup["caveat"] == "only 1 timed call(s); judged from 20 or more"


def test_require_int8_fails_when_the_int8_artifacts_could_not_run(rows):
    """int8 rows that are ⏭ here measured no drift either: listed is not ran."""
    skipped = [
        dict(row, status="not_runnable") if row["precision"] == "int8" else row for row in rows
    ]
    assert violations(skipped, GateLimits(max_auc_drop=0.005, require_int8=True)) == [
        "GATE: no int8 artifact ran here, so quantization drift was not measured"
    ]


def test_a_limit_of_zero_is_held(make_row_for):
    """0 is falsy: `--max-auc-drop 0` must still fail a drop of one step."""
    dropped = make_row_for(delta_accuracy=-1 / 600, delta_auc=-1 / 90000)
    limits = GateLimits(max_auc_drop=0.0, max_accuracy_drop=0.0)
    assert violations([dropped], limits) == [
        "GATE m.pte: auc_drop 1.11111e-05 breaks 0",
        "GATE m.pte: accuracy_drop 0.00166667 breaks 0",
    ]


def test_the_int8_targets_report_the_worst_int8_artifact(make_row_for):
    good = make_row_for(name="m-onnx-int8.onnx", delta_auc=-0.001, agreement=0.998)
    bad = make_row_for(name="m-executorch-int8.pte", delta_auc=-0.008, agreement=0.985)
    for order in ([good, bad], [bad, good]):
        by_name = {t["name"]: t for t in targets(order)}
        drop = by_name["int8 worst AUC drop vs float (negative: int8 higher)"]
        agreement = by_name["int8 worst decision agreement"]
        assert (drop["value"], drop["met"]) == (0.008, False)
        assert (agreement["value"], agreement["met"]) == (0.985, False)
