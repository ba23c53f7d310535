"""The benchmark's reports are UTF-8 whatever the locale, and keep a file name that is not.

Written in the locale's encoding, the report's ✅ and ΔAUC failed with a traceback after
the whole benchmark had run, where that encoding is not UTF-8 (Windows' cp1252,
PYTHONUTF8=0 under LC_ALL=C); an artifacts folder whose name is not UTF-8 failed
everywhere."""

from __future__ import annotations

import os
import subprocess
import sys

from melanoma.benchmarks.report import CSV_COLUMNS, write_csv, write_json

# A folder named in Latin-1 ('arté'): Python holds the byte 0xe9 as the surrogate \udce9.
NOT_UTF8_NAME = os.fsdecode(b"art\xe9/model.pte")

WRITE_REPORTS_IN_ASCII = """
import locale
import sys
from pathlib import Path
from melanoma.benchmarks.report import write_json, write_text
assert locale.getpreferredencoding(False) == "ANSI_X3.4-1968"  # ASCII: the case under test
write_json({"status": "\\u2705"}, Path(sys.argv[1]) / "report.json")
write_text("| \\u0394AUC | \\u2705 |\\n", Path(sys.argv[1]) / "report.md")
"""


def test_reports_are_utf8_in_an_ascii_locale(tmp_path):
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"}
    proc = subprocess.run(
        [sys.executable, "-c", WRITE_REPORTS_IN_ASCII, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"status": "✅"' in (tmp_path / "report.json").read_text(encoding="utf-8")
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == "| ΔAUC | ✅ |\n"


def test_reports_write_a_name_that_is_not_utf8_back_as_its_bytes(tmp_path):
    write_json({"name": NOT_UTF8_NAME}, tmp_path / "report.json")
    assert b'"name": "art\xe9/model.pte"' in (tmp_path / "report.json").read_bytes()
    row = dict.fromkeys(CSV_COLUMNS) | {"name": NOT_UTF8_NAME, "reasons": []}
    row |= {"ci": {"auc": None}, "latency_ms": dict.fromkeys(("p50", "p90", "p99", "mean"))}
    write_csv([row], tmp_path / "report.csv")
    assert b"\nart\xe9/model.pte," in (tmp_path / "report.csv").read_bytes()
