"""report.md's sections (gate, setup bullets, latency by round), and what names read from
files and manifests can do to report.md and the terminal: add no lines or escapes, and
show as written whatever Markdown would read in them (md_text)."""

import string

import pytest

from melanoma.benchmarks.gate import GateLimits, targets, violations
from melanoma.benchmarks.markdown_text import md_text
from melanoma.benchmarks.report import text_table
from melanoma.benchmarks.report_markdown import markdown_report, round_spread, stability_table


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
    escaped = r"\*x\*\_\`y\`\_\[a\](https\://e.example)\<b\>\&amp;\~s\~\$z\$\#.pte"
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
    assert r"licence CC-BY-4.0 \[terms\](https\://e.example)" in text
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


@pytest.mark.parametrize(
    "name, shown",
    [
        ("    x.onnx", "&#32;&#32;&#32;&#32;x.onnx"),  # a character reference shows a space
        (" x.onnx", "&#32;x.onnx"),  # one space: the note's list item and the cell drop it
        ("https://host.example/x.onnx", "https\\://host.example/x.onnx"),  # \: shows ':'
        ("www.host.example.onnx", "www\\.host.example.onnx"),
    ],
)
def test_a_name_with_leading_spaces_or_a_web_address_stays_in_its_note_as_written(
    report, name, shown
):
    """'-     x.onnx (1 thread)...' rendered as a code block inside the note (four spaces
    after the list marker begin indented code), and a name 'https://host.example/x.onnx' or
    'www.host.example.onnx' became a link to that host (GitHub's extended autolinks); each
    checked in cmark-gfm, which renders these escapes as the name as written."""
    pte = "m-executorch-int8.pte"
    rows = [{**row, "name": name, "cpu_per_wall": 0.5} if row["name"] == pte else row
            for row in report["artifacts"]]  # fmt: skip
    text = markdown_report({**report, "artifacts": rows})
    notes = [line for line in text.splitlines() if "(1 thread): CPU/wall 0.500" in line]
    assert notes and all(line.startswith(f"- {shown} (1 thread): ") for line in notes)
    assert f"| {shown} |" in text and name not in text  # in the tables too
    assert md_text(f"a{name}") == "a" + shown.replace("&#32;", " ")  # spaces mid-line mean nothing


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
