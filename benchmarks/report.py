"""report.json (schema in REPORT_SCHEMA.md), report.md, report.csv and the terminal table.

Every row has every key: a figure that was not measured is null, never
missing, so other tools can index rows without guarding each key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from melanoma import atomic, strict_json
from melanoma.atomic import as_text_cell, as_text_value, atomic_path, write_utf8
from melanoma.benchmarks.gate import GateLimits, target_text, violations
from melanoma.benchmarks.macs import gmacs_per_s
from melanoma.benchmarks.markdown_text import md_text
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
        _fmt(row["auc"], "{:.3f}"),
        _fmt(row["accuracy"], "{:.3f}"),
        _fmt(None if row["agreement"] is None else 100 * row["agreement"], "{:.1f}"),
        _fmt(row["delta_auc"], "{:+.4f}"),
        _fmt(row["max_abs_dprob"], "{:.1e}"),
        _fmt(lat["p50"], "{:.3f}"),
        _fmt(lat["p90"], "{:.3f}"),
        _fmt(lat["p99"], "{:.3f}"),
        _fmt(row["load_ms"], "{:.1f}"),
        _fmt(row["size_bytes"] / 1024, "{:.0f}"),
        _fmt(row["gmacs_per_s"], "{:.2f}"),
    ]


def _fmt(value: float | None, spec: str) -> str:
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
    return "\n".join(lines + _status_notes(rows) + preemption_notes(rows))


def _status_notes(rows: list[dict], shown: Callable[[str], str] = on_one_line) -> list[str]:
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
    `shown` escapes the name, as in _status_notes."""
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


def round_spread(row: dict) -> float | None:
    """Slowest round's p50 / fastest round's p50 - 1: how far the machine moved the figure."""
    by_round = row["p50_by_round_ms"]
    if not by_round or len(by_round) < 2 or min(by_round) <= 0:
        return None
    return max(by_round) / min(by_round) - 1


def stability_table(rows: list[dict]) -> str:
    """The p50 of each round per timed row: the run-internal spread of the main table's p50."""
    header = ["artifact", "threads", "p50 ms by round", "spread"]
    lines = [_md_row(header), "|" + "---|" * len(header)]
    for row in rows:
        if row["p50_by_round_ms"]:
            by_round = " / ".join(f"{v:.3f}" for v in row["p50_by_round_ms"])
            spread = round_spread(row)
            percent = _fmt(None if spread is None else 100 * spread, "{:.0f}%")
            lines.append(_md_row([row["name"], str(row["threads"]), by_round, percent], read=1))
    return "\n".join(lines)


def _md_row(cells: list[str], read: int = 0) -> str:
    """A table row whose first `read` cells were read from files and manifests (md_text). The
    rest are the report's own figures and words, which need no escape but their bars: a cell
    is parsed on its own, and a CI's [0.81, 0.89] is no link without a ( or [ beside it."""
    shown = [md_text(c) for c in cells[:read]] + [c.replace("|", "\\|") for c in cells[read:]]
    return "| " + " | ".join(shown) + " |"


def markdown_table(rows: list[dict]) -> str:
    lines = [_md_row(list(TABLE_HEADER)), "|" + "---|" * len(TABLE_HEADER)]
    lines += [_md_row(table_cells(row), read=TABLE_READ) for row in rows]
    return "\n".join(lines)


def accuracy_table(rows: list[dict]) -> str:
    """One line per artifact that ran: metrics with 95% CIs (thread-independent), best img/s."""
    header = ["artifact", "AUC", "accuracy", "sensitivity", "specificity", "disagree",
              "batch-32 img/s, best thread count"]  # fmt: skip
    lines = [_md_row(header), "|" + "---|" * len(header)]
    seen = set()
    for row in rows:
        if row["auc"] is None or row["name"] in seen:
            continue
        seen.add(row["name"])
        metrics = [_with_ci(row, key) for key in ("auc", "accuracy", "sensitivity", "specificity")]
        best = max((r["throughput_ips"] or 0 for r in rows if r["name"] == row["name"]), default=0)
        lines.append(_md_row([row["name"], *metrics, _disagree(row),
                              _fmt(best or None, "{:.0f}")], read=1))  # fmt: skip
    return "\n".join(lines)


def _disagree(row: dict) -> str:
    return "-" if row["n_disagree"] is None else f"{row['n_disagree']}/{row['n_images']}"


def _with_ci(row: dict, key: str) -> str:
    low, high = row["ci"][key] or (None, None)
    if low is None:
        return f"{row[key]:.3f}"
    return f"{row[key]:.3f} [{low:.3f}, {high:.3f}]"


def _decision_rule(report: dict) -> str:
    """The threshold as a probability, as the app applies it: a name says little in a PR."""
    name = report["config"]["threshold_name"]
    eager = next((r for r in report["artifacts"] if r["target"] == "pytorch"), None)
    if eager is None or eager.get("threshold") is None:
        return f"melanoma at the {md_text(name)} threshold"
    return f"melanoma when P ≥ {eager['threshold']:.4f} (the {md_text(name)} threshold)"


def markdown_report(report: dict, plots: bool = True) -> str:
    """report.md: what ran where, the table, why rows are not ✅, targets, gate, plots."""
    lines = [
        "# melanoma-bench report",
        "",
        *_setup_lines(report),
        "",
        markdown_table(report["artifacts"]),
        "",
        *[f"- {note}" for note in _status_notes(report["artifacts"], md_text)],
        *[f"- {note}" for note in preemption_notes(report["artifacts"], md_text)],
        "",
        # the threshold's name as the manifests spell it: float() reads sensitivity_0.90\n
        "## Accuracy on the test split, 95% bootstrap CIs "
        f"({md_text(report['config']['threshold_name'])} threshold)",
        "",
        accuracy_table(report["artifacts"]),
        "",
        "## Targets",
        "",
        *[_target_line(t) for t in report["targets"]],
        "",
        "## Latency by round",
        "",
        "The p50 of each round's calls; spread is the slowest round over the fastest.",
        "",
        stability_table(report["artifacts"]),
        "",
        "## Gate",
        "",
        *(_gate_lines(report) or ["passed"]),
        "",
        # without plots (--no-plots), links would show nothing, or an earlier run's PNGs
        *(["![ROC](roc.png) ![latency](latency.png) ![size](size.png)", ""] if plots else []),
    ]
    return "\n".join(lines)


def _setup_lines(report: dict) -> list[str]:
    """The bullets that say what ran where: machine, versions, data, reference, decisions
    and how latency was timed. Each on one line, its names as written (md_text): the
    reference's licence is any non-blank string its metadata.json holds, and the data's
    path is the user's."""
    machine, data, ref = report["machine"], report["data"], report["reference"]
    machine, data, ref = (_md_strings(part) for part in (machine, data, ref))
    versions = md_text(", ".join(f"{k} {v}" for k, v in report["versions"].items() if v))
    peaks = ", ".join(f"{t}t {v}" for t, v in machine["torch_matmul_gmacs_per_s"].items())
    bullets = [
        f"- created: {md_text(report['created_utc'])}",
        f"- machine: {machine['cpu']} ({machine['arch']}), {machine['logical_cores']} logical "
        f"cores, {machine['os']}, Python {machine['python']}, "
        f"load average {_fmt(machine['load_average_1m'], '{:.2f}')} at start",
        f"- torch fp32 matmul (GMAC/s, a yardstick, not the hardware peak): {peaks}",
        f"- versions: {versions}",
        f"- data: {data['split']} split of {data['source']}, n={data['n']} "
        f"({data['n_melanoma']} melanoma), fingerprint {data['fingerprint']}",
        f"- reference: {ref['model_name']} ({ref['method']}, {ref['arch']}), "
        f"checkpoint sha256 {ref['checkpoint_sha256'][:12]}..., licence {ref['license']}",
        f"- decisions: {_decision_rule(report)}; agree%, ΔAUC and max|Δp| hold each artifact "
        "against eager-pytorch fp32",
        f"- timing: {report['config']['runs']} runs in {report['config']['rounds']} rounds "
        f"(each a pass over every artifact, after {report['config']['warmup']} warm-up calls), "
        f"batch 1 (one test image, input prepared once), threads {report['config']['threads']}; "
        "load ms is the first round's load, after the accuracy pass had loaded the file once "
        "(warm file cache, not a cold start)"
        + (
            "; with under 100 runs, p99 is about the slowest call"
            if report["config"]["runs"] < 100
            else ""
        ),
    ]
    return [on_one_line(bullet) for bullet in bullets]


def _md_strings(part: dict) -> dict:
    """A report section with each string value as md_text shows it (numbers as they are)."""
    return {key: md_text(v) if isinstance(v, str) else v for key, v in part.items()}


def _target_line(target: dict) -> str:
    return f"- {target_text(target, md_text)}"


def _gate_lines(report: dict) -> list[str]:
    """report.json's gate violations as bullets, their quoted names and reasons md_text (a
    report whose limits do not make its lines, assembled elsewhere: the lines wholly)."""
    rows, limits = report["artifacts"], GateLimits(**report["gate"]["limits"])
    if violations(rows, limits) != report["gate"]["violations"]:
        return [f"- {md_text(line)}" for line in report["gate"]["violations"]]
    return [f"- {line}" for line in violations(rows, limits, md_text)]


def write_text(text: str, path: Path) -> None:
    with atomic_path(path) as temp:
        write_utf8(temp, text)
