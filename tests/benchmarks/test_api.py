"""benchmarks/api: the report object, every file written from it, and outputs refused early."""

import json

import pytest

from melanoma.benchmarks.api import Outputs, check_outputs, write_outputs
from melanoma.benchmarks.report import SCHEMA_VERSION
from melanoma.errors import UserError


def test_report_holds_every_row_the_gate_and_what_it_ran_on(report):
    assert report["schema_version"] == SCHEMA_VERSION
    # 4 subjects x 2 thread counts, the Core ML package included as not runnable
    assert len(report["artifacts"]) == 8
    assert report["gate"]["passed"] is (not report["gate"]["violations"])
    assert report["config"]["threads"] == [1, 2] and report["config"]["threshold_name"] == "youden"
    assert set(report["roc"]) == {"eager-pytorch", "m-onnx-fp32.onnx", "m-executorch-int8.pte"}
    assert report["versions"]["torch"] != "not installed"


def test_writes_each_report_file_and_the_extra_json_copy(report, tmp_path):
    copy = tmp_path / "ci" / "bench.json"
    written = write_outputs(report, Outputs(tmp_path / "out", json_path=copy, plots=False))
    names = [p.name for p in written]
    assert names == ["report.json", "report.md", "report.csv", "bench.json"]
    assert json.loads(copy.read_text()) == json.loads((tmp_path / "out/report.json").read_text())
    assert len((tmp_path / "out/report.csv").read_text().splitlines()) == 1 + 8
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names[:3])


def test_outputs_that_cannot_be_written_are_refused_before_the_run(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="not a directory"):
        check_outputs(Outputs(tmp_path / "file"))
    with pytest.raises(UserError, match="cannot be the --out directory"):
        check_outputs(Outputs(tmp_path / "out", json_path=tmp_path / "out"))
    with pytest.raises(UserError, match="is not a directory"):
        check_outputs(Outputs(tmp_path / "out", json_path=tmp_path / "file" / "r.json"))
    check_outputs(Outputs(tmp_path / "new" / "out", json_path=tmp_path / "r.json"))
    assert not (tmp_path / "new").exists()  # checking creates nothing
