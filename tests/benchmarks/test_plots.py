"""benchmarks/plots: the three PNGs, also for a run in which nothing could run."""

import copy
import warnings

from melanoma.benchmarks.api import Outputs, write_outputs
from melanoma.benchmarks.plots import write_plots

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
        paths = write_plots(unrunnable, tmp_path)
    assert all(p.read_bytes().startswith(PNG) for p in paths)


def test_the_roc_plot_draws_each_runnable_curve_with_its_auc(report):
    from melanoma.benchmarks.plots import roc_figure

    assert len(report["roc"]) >= 2  # the reference and an artifact at least
    (axes,) = roc_figure(report).axes
    curves = {line.get_label(): line for line in axes.get_lines() if line.get_label()[0] != "_"}
    aucs = {row["name"]: row["auc"] for row in report["artifacts"]}
    assert sorted(curves) == sorted(f"{name} (AUC {aucs[name]:.3f})" for name in report["roc"])
    for name, points in report["roc"].items():
        line = curves[f"{name} (AUC {aucs[name]:.3f})"]
        assert list(line.get_xdata()) == points["fpr"] and list(line.get_ydata()) == points["tpr"]
