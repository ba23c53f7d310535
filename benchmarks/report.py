"""report.json (schema in REPORT_SCHEMA.md), report.csv and the terminal table; report.md
is report_markdown's, from the same rows and cells.

Every row has every key: a figure that was not measured is null, never
missing, so other tools can index rows without guarding each key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from melanoma import atomic, strict_json
from melanoma.atomic import as_text_cell, as_text_value, atomic_path, write_utf8
from melanoma.benchmarks.macs import gmacs_per_s
from melanoma.benchmarks.subjects import Subject
from melanoma.benchmarks.timing import (
    POOL_WAIT_BELOW,
    PREEMPTED_BELOW,
    THROUGHPUT_BATCH,
    Latency,
)
from melanoma.errors import on_one_line

SCHEMA_VERSION = 3
SYMBOLS = {"verified": "✅", "failed": "❎", "not_runnable": "⏭"}
# metrics.py names positive predictive value "precision"; a row's "precision" is fp32/int8.
METRICS = {
    "auc": "auc",
    "accuracy": "accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "ppv": "precision",
    "f1": "f1",
    "balanced_accuracy": "balanced_accuracy",
}
CALIBRATION = ("brier", "ece")  # as `melanoma evaluate` reports them, over the test images
AGREEMENT = (
    "agreement",
    "n_disagree",
    "delta_auc",
    "delta_accuracy",
    "max_abs_dprob",
    "mean_abs_dprob",
)
LATENCY = ("p50", "p90", "p99", "mean", "min")


def make_row(subject: Subject, threads: int, latency: Latency | None, macs: int) -> dict:
    """One report row: an artifact (or the eager reference) at one thread count."""
    info = subject.info
    row = {
        "name": subject.name,
        "target": subject.target,
        "precision": subject.precision,
        "threads": threads,
        "runtime_threads": latency.runtime_threads if latency else None,
        "cpu_per_wall": latency.cpu_per_wall if latency else None,
        "status": subject.status,
        "status_symbol": SYMBOLS[subject.status],
        "reasons": list(subject.reasons),
        "runtime": info.get("runtime"),
        "file": info["file"],
        "sha256": info["sha256"],
        "quantization": info["quantization"],
        "export_check": info["export_check"],
        "threshold_name": info.get("threshold_name"),
        "threshold": info.get("threshold"),
        "n_images": info.get("n_images"),
    }
    row.update({key: info.get(source) for key, source in METRICS.items()})
    ci = info.get("ci") or {}
    row["ci"] = {key: ci.get(source) for key, source in METRICS.items()}
    row.update({key: info.get(key) for key in CALIBRATION})
    row.update({key: info.get(key) for key in AGREEMENT})
    row["latency_ms"] = {key: _ms(latency, key) for key in LATENCY}
    row.update(
        load_ms=latency.load_ms if latency else None,
        warmup=latency.warmup if latency else None,
        runs=latency.runs if latency else None,
        rounds=len(latency.p50_by_round_ms) if latency else None,
        p50_by_round_ms=list(latency.p50_by_round_ms) if latency else None,
        throughput_batch=THROUGHPUT_BATCH if latency and latency.throughput_ips else None,
        throughput_ips=latency.throughput_ips if latency else None,
        size_bytes=info["size_bytes"],
        macs=macs,
        gmacs_per_s=gmacs_per_s(macs, latency.p50_ms) if latency else None,
    )
    return row


def _ms(latency: Latency | None, key: str) -> float | None:
    return None if latency is None else getattr(latency, f"{key}_ms")


def report_json(report: dict, ascii_only: bool = False) -> str:
    """report.json's text: UTF-8 characters as they are, or `ascii_only` as JSON escapes,
    for a stream whose encoding is not known to be UTF-8 (stdout)."""
    return strict_json.dumps(report, indent=2, ensure_ascii=ascii_only) + "\n"


def write_json(report: dict, path: Path) -> None:
    with atomic_path(path) as temp:
        write_utf8(temp, report_json(report))


CSV_COLUMNS = (
    "name target precision threads runtime_threads status reasons runtime sha256 size_bytes macs "
    "threshold_name threshold auc auc_ci_low auc_ci_high accuracy sensitivity specificity ppv f1 "
    "balanced_accuracy brier ece agreement n_disagree delta_auc delta_accuracy max_abs_dprob "
    "mean_abs_dprob "
    "p50_ms p90_ms p99_ms mean_ms load_ms runs rounds cpu_per_wall throughput_ips gmacs_per_s"
).split()


def csv_record(row: dict) -> dict:
    """A row flattened to CSV_COLUMNS (latency keys as p50_ms..., AUC CI as two columns)."""
    flat = {key: row.get(key) for key in CSV_COLUMNS}
    flat["reasons"] = "; ".join(row["reasons"])
    # Never a formula to a spreadsheet: a manifest from elsewhere spells the precision and
    # the threshold's name (and reasons quote it); the name is a file's, kept one.
    flat = {key: as_text_value(v) if isinstance(v, str) else v for key, v in flat.items()}
    flat["name"] = as_text_cell(row["name"])
    auc_ci = row["ci"]["auc"] or [None, None]
    flat["auc_ci_low"], flat["auc_ci_high"] = auc_ci
    for key in ("p50", "p90", "p99", "mean"):
        flat[f"{key}_ms"] = row["latency_ms"][key]
    return flat


def write_csv(rows: list[dict], path: Path) -> None:
    records = (csv_record(row) for row in rows)
    atomic.write_csv(
        path, CSV_COLUMNS, ([record[key] for key in CSV_COLUMNS] for record in records)
    )


TABLE_HEADER = (
    "artifact",
    "target",
    "prec",
    "threads",
    "status",
    "AUC",
    "acc",
    "agree%",
    "ΔAUC",
    "max|Δp|",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "load ms",
    "size KB",
    "GMAC/s",
)
TABLE_READ = 3  # artifact, target, prec: a file's name and its manifest's words


def table_cells(row: dict) -> list[str]:
    """The row as the strings of TABLE_HEADER; '-' where a figure was not measured."""
    lat = row["latency_ms"]
    return [
        on_one_line(row["name"]),  # a file's name: on a terminal too, its escapes shown
        row["target"],
        row["precision"],
        str(row["threads"]),
        row["status_symbol"],
        figure_text(row["auc"], "{:.3f}"),
        figure_text(row["accuracy"], "{:.3f}"),
        figure_text(None if row["agreement"] is None else 100 * row["agreement"], "{:.1f}"),
        figure_text(row["delta_auc"], "{:+.4f}"),
        figure_text(row["max_abs_dprob"], "{:.1e}"),
        figure_text(lat["p50"], "{:.3f}"),
        figure_text(lat["p90"], "{:.3f}"),
        figure_text(lat["p99"], "{:.3f}"),
        figure_text(row["load_ms"], "{:.1f}"),
        figure_text(row["size_bytes"] / 1024, "{:.0f}"),
        figure_text(row["gmacs_per_s"], "{:.2f}"),
    ]


def figure_text(value: float | None, spec: str) -> str:
    """A figure in `spec`'s format, or '-' where it was not measured."""
    return "-" if value is None else spec.format(value)


def text_table(rows: list[dict]) -> str:
    """A fixed-width table for the terminal, then a line per row that is not verified or
    whose 1-thread timing was preempted."""
    cells = [list(TABLE_HEADER)] + [table_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(TABLE_HEADER))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + status_notes(rows) + preemption_notes(rows))


def status_notes(rows: list[dict], shown: Callable[[str], str] = on_one_line) -> list[str]:
    """A line per artifact with reasons; `shown` escapes its name and the reasons (which
    quote manifests) for where they go: on_one_line for the terminal, md_text for Markdown."""
    seen, notes = set(), []
    for row in rows:
        if row["reasons"] and row["name"] not in seen:
            seen.add(row["name"])
            reasons = "; ".join(row["reasons"])
            notes.append(f"{row['status_symbol']} {shown(row['name'])}: {shown(reasons)}")
    return notes


def preemption_notes(rows: list[dict], shown: Callable[[str], str] = on_one_line) -> list[str]:
    """One line per row whose calling thread waited while being timed: at 1 thread, below
    PREEMPTED_BELOW, it waited for its core; with more, where it may also wait for its pool
    (0.94 seen undisturbed), only below POOL_WAIT_BELOW, which no quiet run came near.
    `shown` escapes the name, as in status_notes."""
    notes = []
    for row in rows:
        ratio = row["cpu_per_wall"]
        if ratio is None or ratio >= (PREEMPTED_BELOW if row["threads"] == 1 else POOL_WAIT_BELOW):
            continue
        ratio_text = f"CPU/wall {math.floor(ratio * 1000) / 1000:.3f}"  # down: 0.8996 not 0.900
        if row["threads"] == 1:
            why = "preempted by other work, its latencies are inflated"
        else:
            why = "the calling thread mostly waited (for a core, or for its pool), so its "
            why += "latencies are likely inflated"
        threads = _threads_text(row["threads"])
        notes.append(f"{shown(row['name'])} ({threads}): {ratio_text} while timed: {why}")
    return notes


def _threads_text(threads: int) -> str:
    return "1 thread" if threads == 1 else f"{threads} threads"


def write_text(text: str, path: Path) -> None:
    with atomic_path(path) as temp:
        write_utf8(temp, text)
