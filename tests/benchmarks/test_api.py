"""benchmarks/api: the report object, every file written from it, and outputs refused early."""

import dataclasses
import errno
import fcntl
import json
import os
import shutil

import pytest

import melanoma.benchmarks.api as api_module
import melanoma.benchmarks.plots as plots_module
from melanoma.atomic import HELD_BY_ANOTHER_RUN
from melanoma.benchmarks.api import Outputs, build_report, check_outputs, write_outputs
from melanoma.benchmarks.gate import GateLimits
from melanoma.benchmarks.harness import BenchConfig
from melanoma.benchmarks.report import SCHEMA_VERSION
from melanoma.benchmarks.subjects import AccuracyConfig
from melanoma.benchmarks.timing import TimingConfig
from melanoma.checkpoint import REFERENCE_DIR
from melanoma.errors import UserError
from melanoma.export.api import ExportConfig, export_checkpoint
from melanoma.versions import toolkit_source

from other_process import ending_when_waited_for


def test_report_holds_every_row_the_gate_and_what_it_ran_on(report):
    assert report["schema_version"] == SCHEMA_VERSION
    # 4 subjects x 2 thread counts, the Core ML package included as not runnable
    assert len(report["artifacts"]) == 8
    assert report["gate"]["passed"] is (not report["gate"]["violations"])
    assert report["config"]["threads"] == [1, 2] and report["config"]["threshold_name"] == "youden"
    assert set(report["roc"]) == {"eager-pytorch", "m-onnx-fp32.onnx", "m-executorch-int8.pte"}
    assert report["versions"]["torch"] != "not installed"
    assert report["toolkit_source"] == toolkit_source()


def test_report_paths_are_relative_to_its_folder_so_it_names_no_home_folder(make_result, tmp_path):
    """report.json held absolute paths: the user's home folder went into every report they
    shared, and a report moved together with its artifacts no longer led to them."""
    home = tmp_path / "home" / "alice"
    ckpt, data = home / "models" / "ckpt", home / "data.zip"
    result = make_result()
    result.subjects[0].info["file"] = str(ckpt)  # the eager row's file is the checkpoint
    result = dataclasses.replace(
        result,
        reference={**result.reference, "checkpoint": str(ckpt)},
        data={**result.data, "source": str(data)},
    )
    config = BenchConfig(artifacts_dir=home / "artifacts", threads=(1, 2))
    report_dir = home / "artifacts" / "bench"
    report = build_report(result, config, GateLimits(), report_dir=report_dir)
    assert report["config"]["artifacts_dir"] == ".."
    assert report["reference"]["checkpoint"] == os.path.join("..", "..", "models", "ckpt")
    assert report["data"]["source"] == os.path.join("..", "..", "data.zip")
    eager = [row for row in report["artifacts"] if row["target"] == "pytorch"]
    assert [row["file"] for row in eager] == [report["reference"]["checkpoint"]] * 2
    write_outputs(report, Outputs(report_dir, plots=False))
    text = (report_dir / "report.json").read_text() + (report_dir / "report.md").read_text()
    assert "alice" not in text
    # moved together, the report still leads to its inputs
    assert (report_dir / report["reference"]["checkpoint"]).resolve() == ckpt.resolve()
    assert (report_dir / report["data"]["source"]).resolve() == data.resolve()


def test_a_bundled_reference_is_named_not_located_in_the_installed_package(make_result, tmp_path):
    result = make_result()
    bundled = str(REFERENCE_DIR / "sgan")
    result.subjects[0].info["file"] = bundled
    result = dataclasses.replace(result, reference={**result.reference, "checkpoint": bundled})
    report = build_report(result, BenchConfig(threads=(1, 2)), GateLimits(), report_dir=tmp_path)
    assert report["reference"]["checkpoint"] == "reference-sgan"
    assert {row["file"] for row in report["artifacts"] if row["target"] == "pytorch"} == {
        "reference-sgan"
    }


def test_writes_each_report_file_and_the_extra_json_copy(report, tmp_path):
    copy = tmp_path / "ci" / "bench.json"
    written = write_outputs(report, Outputs(tmp_path / "out", json_path=copy, plots=False))
    names = [p.name for p in written]
    assert names == ["report.json", "report.md", "report.csv", "bench.json"]
    assert json.loads(copy.read_text()) == json.loads((tmp_path / "out/report.json").read_text())
    assert len((tmp_path / "out/report.csv").read_text().splitlines()) == 1 + 8
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names[:3])


def test_an_out_dir_given_as_a_string_gets_the_report(report, tmp_path):
    """check_outputs took a str; write_outputs, after the whole run, raised a TypeError."""
    written = write_outputs(report, Outputs(str(tmp_path / "out"), plots=False))
    assert (tmp_path / "out" / "report.json") in written
    assert (tmp_path / "out" / "report.json").is_file()


def test_outputs_that_cannot_be_written_are_refused_before_the_run(tmp_path):
    (tmp_path / "file").write_text("")
    config = BenchConfig(artifacts_dir=tmp_path / "artifacts")
    with pytest.raises(UserError, match="not a directory"):
        check_outputs(Outputs(tmp_path / "file"), config)
    with pytest.raises(UserError, match="cannot be the --out directory"):
        check_outputs(Outputs(tmp_path / "out", json_path=tmp_path / "out"), config)
    with pytest.raises(UserError, match="is not a directory"):
        check_outputs(Outputs(tmp_path / "out", json_path=tmp_path / "file" / "r.json"), config)
    check_outputs(Outputs(tmp_path / "new" / "out", json_path=tmp_path / "r.json"), config)
    assert not (tmp_path / "new").exists()  # checking creates nothing


@pytest.mark.parametrize(
    ("json_path", "named"),
    [
        ("artifacts/m-onnx-fp32.onnx", "artifacts folder"),  # would replace an artifact
        ("artifacts/sub/new.json", "artifacts folder"),
        ("data/MelanomaDetection.zip", "data"),
        ("data/report.json", "data"),
        ("ckpt/metadata.json", "reference"),
    ],
)
def test_the_json_copy_may_not_land_on_or_among_the_inputs(tmp_path, json_path, named):
    for folder in ("artifacts/sub", "data", "ckpt"):
        (tmp_path / folder).mkdir(parents=True)
    config = BenchConfig(tmp_path / "artifacts", str(tmp_path / "data"), str(tmp_path / "ckpt"))
    outputs = Outputs(tmp_path / "out", json_path=tmp_path / json_path)
    with pytest.raises(UserError, match=f"--json would write into the {named} "):
        check_outputs(outputs, config)


def test_the_json_copy_may_not_land_where_a_loaded_data_set_came_from(tmp_path, dataset):
    (tmp_path / "data").mkdir()
    loaded = dataclasses.replace(dataset, source=str(tmp_path / "data"))
    outputs = Outputs(tmp_path / "out", json_path=tmp_path / "data" / "report.json")
    with pytest.raises(UserError, match="--json would write into the data "):
        check_outputs(outputs, BenchConfig(tmp_path / "artifacts", loaded))


def test_a_ctrl_c_while_the_plots_are_drawn_leaves_the_previous_report_whole(
    report, tmp_path, monkeypatch
):
    """report.{json,md,csv}, the plots and --json are one set: a rerun stopped at the last
    plot left its new tables beside the previous run's plots."""
    copy = tmp_path / "ci" / "bench.json"
    written = write_outputs(report, Outputs(tmp_path / "out", json_path=copy))
    before = {path: path.read_bytes() for path in written}
    rerun = {**report, "created_utc": "a later run"}

    def interrupted(report):
        raise KeyboardInterrupt

    monkeypatch.setattr(plots_module, "size_figure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_outputs(rerun, Outputs(tmp_path / "out", json_path=copy))
    assert {path: path.read_bytes() for path in written} == before
    assert sorted((tmp_path / "out").iterdir()) == sorted(p for p in written if p != copy)


def test_a_write_that_fails_leaves_no_empty_out_folder(report, tmp_path, monkeypatch):
    """A full disk at report.json left the --out folder it had just created, empty."""

    def disk_full(report, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(api_module, "write_json", disk_full)
    with pytest.raises(OSError, match="cannot write it"):
        write_outputs(report, Outputs(tmp_path / "new" / "out", plots=False))
    assert list(tmp_path.iterdir()) == []


def test_a_run_without_plots_removes_an_earlier_runs_plots(report, tmp_path):
    """--no-plots into a folder of an earlier run left that run's PNGs beside the new report."""
    out = tmp_path / "out"
    write_outputs(report, Outputs(out))
    written = write_outputs(report, Outputs(out, plots=False))
    assert sorted(out.iterdir()) == sorted(written)


def test_a_second_run_writes_its_report_once_the_first_has_written_its_own(report, tmp_path):
    """Two runs' renames interleaved: report.json from one beside report.md from the other."""
    out = tmp_path / "out"
    out.mkdir()
    other = os.open(out, os.O_RDONLY)
    fcntl.flock(other, fcntl.LOCK_EX)
    with ending_when_waited_for(lambda: os.close(other)) as said:
        write_outputs(report, Outputs(out, plots=False))
    assert said == [f"{out}: {HELD_BY_ANOTHER_RUN}; waiting for it to end"]
    assert json.loads((out / "report.json").read_text()) == report


def test_a_benchmark_waits_for_a_run_holding_its_artifacts_saying_any_run_may(
    tmp_path, monkeypatch
):
    """The wait said "a melanoma-export is writing into this folder" whoever held it (a
    train into it, as well): a lock cannot say whose."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    other = os.open(artifacts, os.O_RDONLY)
    fcntl.flock(other, fcntl.LOCK_EX)  # as an export writing into it

    def run_benchmark(config):
        raise UserError("stop here")

    monkeypatch.setattr(api_module, "run_benchmark", run_benchmark)
    config = BenchConfig(artifacts_dir=artifacts)
    with ending_when_waited_for(lambda: os.close(other)) as said:
        with pytest.raises(UserError, match="stop here"):
            api_module.benchmark(config, GateLimits(), Outputs(tmp_path / "out"))
    assert said == [f"{artifacts}: {HELD_BY_ANOTHER_RUN}; waiting for it to end"]


def test_the_artifacts_are_read_while_no_export_can_write_them(tmp_path, monkeypatch):
    (tmp_path / "artifacts").mkdir()
    config = BenchConfig(artifacts_dir=tmp_path / "artifacts")
    locks = []

    def run_benchmark(config):
        probe = os.open(config.artifacts_dir, os.O_RDONLY)
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # another benchmark may read
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what an export takes
            locks.append("shared")
        finally:
            os.close(probe)
        raise UserError("stop here")

    monkeypatch.setattr(api_module, "run_benchmark", run_benchmark)
    with pytest.raises(UserError, match="stop here"):
        api_module.benchmark(config, GateLimits(), Outputs(tmp_path / "out"))
    assert locks == ["shared"]


def test_a_benchmark_over_a_parent_folder_waits_for_an_export_into_a_subfolder(dataset, tmp_path):
    """Its lock was on --artifacts alone: a benchmark of artifacts/ measured the first
    file of an export still writing artifacts/run/ and exited 0 without the rest."""
    made = tmp_path / "made"  # the export's two artifacts, to put in place as it would
    export_checkpoint(ExportConfig(("onnx", "torchscript"), quantize="none", out_dir=made))
    run = tmp_path / "artifacts" / "run"
    run.mkdir(parents=True)
    for file in made.glob("*-onnx-fp32.onnx*"):  # the artifact and its manifest
        shutil.copy(file, run)
    export = os.open(run, os.O_RDONLY)
    fcntl.flock(export, fcntl.LOCK_EX)  # as melanoma-export holds its --out

    def export_ends():  # writes its second artifact, and lets the folder go
        for file in made.glob("*-torchscript-fp32.ptl*"):
            shutil.copy(file, run)
        os.close(export)

    timing = TimingConfig(runs=1, warmup=0, throughput_runs=0, rounds=1)
    config = BenchConfig(
        tmp_path / "artifacts", dataset, None, (1,), timing, AccuracyConfig(n_bootstrap=10),
        progress=False,
    )  # fmt: skip
    with ending_when_waited_for(export_ends) as said:
        report = api_module.benchmark(config, GateLimits(), Outputs(tmp_path / "out", plots=False))
    assert said == [f"{run}: {HELD_BY_ANOTHER_RUN}; waiting for it to end"]
    assert [row["name"] for row in report["artifacts"]] == [
        "eager-pytorch",
        "run/reference-supervised-onnx-fp32.onnx",
        "run/reference-supervised-torchscript-fp32.ptl",
    ]
