"""benchmarks/plots: the three PNGs, also for a run in which nothing could run."""

import copy
import warnings

import matplotlib.colors
import pytest

from melanoma.benchmarks.api import Outputs, write_outputs
from melanoma.benchmarks.plots import PLOTS, latency_figure, roc_figure, size_figure

PNG = b"\x89PNG\r\n\x1a\n"


def test_writes_three_pngs_beside_the_report(report, tmp_path):
    written = write_outputs(report, Outputs(tmp_path))
    plots = [p for p in written if p.suffix == ".png"]
    assert [p.name for p in plots] == ["roc.png", "latency.png", "size.png"]
    assert all(p.read_bytes().startswith(PNG) for p in plots)


def test_a_run_with_no_runnable_artifact_still_plots_its_sizes(report, tmp_path):
    """Core ML packages alone on Linux: no ROC and no latency to draw, the sizes are known."""
    unrunnable = copy.deepcopy(report)
    unrunnable["roc"] = {}
    for row in unrunnable["artifacts"]:
        row["latency_ms"] = dict.fromkeys(row["latency_ms"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's about an empty legend
        for name, plot in PLOTS:
            plot(unrunnable, tmp_path / name)
        paths = [tmp_path / name for name, _ in PLOTS]
    assert all(p.read_bytes().startswith(PNG) for p in paths)


def test_the_roc_plot_draws_each_runnable_curve_with_its_auc(report):
    assert len(report["roc"]) >= 2  # the reference and an artifact at least
    (axes,) = roc_figure(report).axes
    curves = {line.get_label(): line for line in axes.get_lines() if line.get_label()[0] != "_"}
    aucs = {row["name"]: row["auc"] for row in report["artifacts"]}
    assert sorted(curves) == sorted(f"{name} (AUC {aucs[name]:.3f})" for name in report["roc"])
    for name, points in report["roc"].items():
        line = curves[f"{name} (AUC {aucs[name]:.3f})"]
        assert list(line.get_xdata()) == points["fpr"] and list(line.get_ydata()) == points["tpr"]


def _drawn(figure):
    """The figure's one axes, drawn: drawing lays out the category tick labels."""
    figure.canvas.draw()
    (axes,) = figure.axes
    return axes


def test_latency_bars_are_p50_with_a_whisker_up_to_p90_and_the_eager_row_black(report):
    axes = _drawn(latency_figure(report))
    rows = [r for r in report["artifacts"] if r["latency_ms"]["p50"] is not None]
    bars = axes.patches
    assert [bar.get_width() for bar in bars] == [r["latency_ms"]["p50"] for r in rows]
    (whiskers,) = axes.collections  # the xerr line segments, one per bar
    for segment, r in zip(whiskers.get_segments(), rows, strict=True):
        (x0, _), (x1, _) = segment
        assert (x0, x1) == pytest.approx((r["latency_ms"]["p50"], r["latency_ms"]["p90"]))
    for bar, r in zip(bars, rows, strict=True):
        is_black = matplotlib.colors.same_color(bar.get_facecolor(), "black")
        assert is_black == (r["target"] == "pytorch"), r["name"]


def test_size_bars_are_kibibytes_and_int8_is_orange(report):
    axes = _drawn(size_figure(report))
    rows = report["artifacts"]
    labels = [t.get_text() for t in axes.get_yticklabels()]
    assert len(labels) == len(axes.patches) >= 2
    for bar, label in zip(axes.patches, labels, strict=True):
        if label == "eager-pytorch (weights.pt)":
            row = next(r for r in rows if r["target"] == "pytorch")
        else:
            row = next(r for r in rows if r["name"] == label)
        assert bar.get_width() == pytest.approx(row["size_bytes"] / 1024)
        orange = matplotlib.colors.same_color(bar.get_facecolor(), "C1")
        assert orange == (row["precision"] == "int8"), label
