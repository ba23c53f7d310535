"""report.md: the Markdown report, its tables and bullets, from report.json's content.

Names and words read from files and manifests are shown with md_text, so a file's name
cannot add lines, links or markup; the report's own figures and words are written as they are.
"""

from __future__ import annotations

from melanoma.benchmarks.gate import GateLimits, target_text, violations
from melanoma.benchmarks.markdown_text import md_text
from melanoma.benchmarks.report import (
    TABLE_HEADER,
    TABLE_READ,
    figure_text,
    preemption_notes,
    status_notes,
    table_cells,
)
from melanoma.errors import on_one_line


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
            percent = figure_text(None if spread is None else 100 * spread, "{:.0f}%")
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
                              figure_text(best or None, "{:.0f}")], read=1))  # fmt: skip
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
        *[f"- {note}" for note in status_notes(report["artifacts"], md_text)],
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
        f"load average {figure_text(machine['load_average_1m'], '{:.2f}')} at start",
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
