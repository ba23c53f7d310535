"""roc.png, latency.png and size.png from a report.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so no
backend or global state changes in the process that calls them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn
    from matplotlib.figure import Figure

REFERENCE = "eager-pytorch"


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path) -> None:
    # No atomic_path here: write_outputs renames the plots into place with the report.
    figure.savefig(path, format="png")


def plot_roc(report: dict, path: Path) -> None:
    _save(roc_figure(report), path)


def roc_figure(report: dict) -> Figure:
    """The float model's ROC in black, every runnable artifact's over it."""
    figure = _figure(6, 5.5)
    ax = figure.add_subplot()
    aucs = {row["name"]: row["auc"] for row in report["artifacts"]}
    for name, curve in report["roc"].items():
        reference = name == REFERENCE
        ax.plot(
            curve["fpr"],
            curve["tpr"],
            label=f"{name} (AUC {aucs[name]:.3f})",
            color="black" if reference else None,
            linewidth=3 if reference else 1.2,
            zorder=1 if reference else 2,  # artifacts drawn over the float model
        )
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC on the test split")
    if report["roc"]:
        ax.legend(loc="lower right", fontsize=7)
    else:  # only packages whose runtime is not on this machine (Core ML off macOS)
        ax.text(0.5, 0.5, "nothing ran here", ha="center", va="center")
    return figure


def plot_latency(report: dict, path: Path) -> None:
    _save(latency_figure(report), path)


def latency_figure(report: dict) -> Figure:
    """Batch-1 p50 per artifact and thread count, with a whisker up to p90."""
    rows = [r for r in report["artifacts"] if r["latency_ms"]["p50"] is not None]
    figure = _figure(7, 1 + 0.3 * max(len(rows), 1))
    ax = figure.add_subplot()
    labels = [f"{r['name']} @{r['threads']}t" for r in rows]
    p50 = [r["latency_ms"]["p50"] for r in rows]
    upper = [r["latency_ms"]["p90"] - r["latency_ms"]["p50"] for r in rows]
    names = list(dict.fromkeys(r["name"] for r in rows))  # one colour per artifact
    colors = [
        "black" if r["target"] == "pytorch" else f"C{names.index(r['name']) % 10}" for r in rows
    ]
    ax.barh(labels, p50, xerr=[[0] * len(rows), upper], color=colors, capsize=3)
    ax.invert_yaxis()  # first row on top, as in the table
    ax.set(xlabel="ms per image (bar p50, whisker p90)", title="Latency at batch 1")
    if p50 and max(p50) / max(min(p50), 1e-9) > 20:
        ax.set_xscale("log")  # eager and int8 can differ by more than a linear axis shows
    return figure


def plot_size(report: dict, path: Path) -> None:
    _save(size_figure(report), path)


def size_figure(report: dict) -> Figure:
    """File or package size on disk, one bar per artifact (int8 in orange), and weights.pt."""
    sizes: dict[str, float] = {}
    colors: dict[str, str] = {}
    for row in report["artifacts"]:
        label = "eager-pytorch (weights.pt)" if row["target"] == "pytorch" else row["name"]
        sizes[label] = row["size_bytes"] / 1024
        colors[label] = "C1" if row["precision"] == "int8" else "C0"
    figure = _figure(7, 1 + 0.3 * max(len(sizes), 1))
    ax = figure.add_subplot()
    ax.barh(list(sizes), list(sizes.values()), color=list(colors.values()))
    ax.invert_yaxis()
    for i, kb in enumerate(sizes.values()):
        ax.text(kb, i, f" {kb:.0f} KB", va="center", fontsize=7)
    ax.set(xlabel="KB on disk", title="Size")
    return figure


# Each plot's file name and the function that writes it from a report.
PLOTS = (("roc.png", plot_roc), ("latency.png", plot_latency), ("size.png", plot_size))
