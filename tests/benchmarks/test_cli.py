"""`melanoma-bench`: wiring, outputs and exit codes (0 pass, 1 gate violations, 2 bad input)."""

import functools
import itertools
import json
import shutil
from pathlib import Path

import pytest

from melanoma.benchmarks.cli import main

FAST = ["--threads", "1", "--runs", "5", "--warmup", "1", "--throughput-runs", "2",
        "--bootstrap", "20", "--no-progress"]  # fmt: skip


@pytest.fixture
def bench_main(run_in_process):
    """melanoma-bench in this process (the runtimes are already imported)."""
    return functools.partial(run_in_process, "melanoma-bench", main)


def test_passing_run_writes_every_output_and_exits_0(bench_main, artifacts_dir, export_source,
                                                      data_path, tmp_path):  # fmt: skip
    result = bench_main("--artifacts", artifacts_dir, "--data", data_path, "--reference",
                        export_source, "--out", tmp_path / "out", "--json",
                        tmp_path / "copy.json", "--max-auc-drop", "0.5",
                        "--min-agreement", "0", "--max-accuracy-drop", "0.5",
                        "--require-int8", *FAST)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == {"report.json", "report.md", "report.csv", "roc.png", "latency.png",
                     "size.png"}  # fmt: skip
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report == json.loads((tmp_path / "copy.json").read_text())
    assert report["gate"]["passed"] and len(report["artifacts"]) == 8  # 7 artifacts + eager
    assert "quick-cnn-executorch-int8.pte" in out and "eager-pytorch" in out
    assert "\ndecisions at the youden threshold\n" in out  # acc and agree% depend on it
    assert "GATE" not in result.stderr
    assert (
        "gate passed: every runnable artifact row (3 fp32, 2 int8) held to --max-auc-drop 0.5, "
        in out
    )
    # a limit of 0 is still a limit, and each flag reaches the gate
    assert "--min-agreement 0, --max-accuracy-drop 0.5, --require-int8" in out


def test_gate_violations_exit_1_one_line_each(bench_main, artifacts_dir, export_source,
                                              data_path, tmp_path):  # fmt: skip
    result = bench_main("--artifacts", artifacts_dir, "--data", data_path, "--reference",
                        export_source, "--out", tmp_path, "--max-latency-ms", "1e-6",
                        "--no-plots", "--json", "-", *FAST)  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    gate = [line for line in lines if line.startswith("GATE ")]
    assert len(gate) == 5  # every runnable artifact at 1 thread; Core ML and eager are not gated
    assert all(" 1t: latency_p50_ms " in line and line.endswith("breaks 1e-06") for line in gate)
    assert json.loads(result.stdout)["gate"]["violations"] == gate  # --json -: the report on stdout


def test_a_single_violation_exits_1(bench_main, report, monkeypatch, tmp_path):
    one = "GATE m-executorch-int8.pte: auc_drop 0.002 breaks 0.001"
    failed = {**report, "gate": {**report["gate"], "violations": [one], "passed": False}}
    monkeypatch.setattr("melanoma.benchmarks.api.benchmark", lambda *args: failed)
    args = ("--artifacts", tmp_path, "--out", tmp_path / "out", "--max-auc-drop", "0.001")
    result = bench_main(*args)
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] == one


def test_the_report_on_stdout_is_ascii_json(bench_main, report, monkeypatch, tmp_path):
    # Redirected on Windows, stdout is the ANSI code page (cp1252), and PowerShell re-decodes
    # a pipe in the OEM one: a status ✅ or a path with é came out as other bytes, or as an
    # escape JSON has no form for. Escaped in the JSON itself (as `evaluate --json` does),
    # the report reads back the same whatever carried it.
    monkeypatch.setattr("melanoma.benchmarks.api.benchmark", lambda *args: report)
    result = bench_main("--artifacts", tmp_path, "--out", tmp_path / "out", "--json", "-")
    assert result.returncode == 0 and result.stdout.isascii()
    assert json.loads(result.stdout) == json.loads(json.dumps(report))
    assert "✅" in {row["status_symbol"] for row in json.loads(result.stdout)["artifacts"]}


def test_a_threshold_name_ending_in_a_line_break_stays_on_its_line(
    bench_main, report, monkeypatch, tmp_path
):
    """float() reads 'sensitivity_0.90\\r\\n', so a checkpoint naming its threshold so passes
    every check, and its manifests carry the name: the summary's line broke at it."""
    name = "sensitivity_0.90\r\n"
    renamed = {**report, "config": {**report["config"], "threshold_name": name}}
    monkeypatch.setattr("melanoma.benchmarks.api.benchmark", lambda *args: renamed)
    result = bench_main("--artifacts", tmp_path, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "decisions at the sensitivity_0.90\\r\\n threshold\n" in result.stdout


def test_tampered_manifest_exits_2(bench_main, assert_one_line_error, artifacts_copy,
                                   export_source, tmp_path):  # fmt: skip
    with (artifacts_copy / "quick-cnn-onnx-int8.onnx").open("ab") as handle:
        handle.write(b"\0")
    result = bench_main("--artifacts", artifacts_copy, "--reference", export_source,
                        "--out", tmp_path / "out", *FAST)  # fmt: skip
    assert assert_one_line_error(result, "sha256").startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_wrong_manifest_field_type_exits_2_not_1(bench_main, artifacts_copy, export_source,
                                                  tmp_path):  # fmt: skip
    path = artifacts_copy / "quick-cnn-onnx-int8.onnx.manifest.json"
    manifest = json.loads(path.read_text())
    manifest["thresholds"][0]["probability"] = "0.5"  # was a ❎ "runtime error" row, exit 1
    path.write_text(json.dumps(manifest))
    result = bench_main("--artifacts", artifacts_copy, "--reference", export_source,
                        "--out", tmp_path / "out", *FAST)  # fmt: skip
    assert result.returncode == 2 and result.stderr == (
        f'error: {path}.thresholds[0].probability: expected a finite number, got "0.5"\n'
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, target",
    [
        ("--json", "{tmp}"),  # a directory
        ("--json", "{tmp}/file/x.json"),  # under a file
        ("--json", "/proc/x.json"),  # root may write anywhere, but nothing can be created there
        ("--out", "{tmp}/file/out"),
        ("--out", "/proc/out"),
    ],
)
def test_unwritable_output_exits_2_before_benchmarking(
    bench_main,
    assert_one_line_error,
    artifacts_dir,
    export_source,
    data_path,
    tmp_path,
    option,
    target,
):
    if target.startswith("/proc") and not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    (tmp_path / "file").write_text("")
    target = target.format(tmp=tmp_path)
    outputs = {"--out": tmp_path / "out", "--json": tmp_path / "copy.json", option: target}
    args = ["--artifacts", artifacts_dir, "--data", data_path, "--reference", export_source]
    result = bench_main(*args, *itertools.chain(*outputs.items()), *FAST)
    assert_one_line_error(result, target)  # `error: ...`, or click's usage error
    assert "eager-pytorch" not in result.stdout  # refused before anything ran
    assert not (tmp_path / "out").exists() and not (tmp_path / "copy.json").exists()


def test_missing_artifacts_directory_exits_2(bench_main, tmp_path):
    result = bench_main("--artifacts", tmp_path / "nope", "--out", tmp_path / "out", *FAST)
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'nope'}: artifacts directory not found\n"


def test_reference_mismatch_exits_2(bench_main, assert_one_line_error, artifacts_dir,
                                    export_source, tmp_path):  # fmt: skip
    other = shutil.copytree(export_source, tmp_path / "other")
    meta = json.loads((other / "metadata.json").read_text())
    meta["seed"] = 99  # a different checkpoint that still loads
    (other / "metadata.json").write_text(json.dumps(meta))
    result = bench_main("--artifacts", artifacts_dir, "--reference", other, "--out",
                        tmp_path / "out", *FAST)  # fmt: skip
    assert_one_line_error(result, "does not match the manifests' source_checkpoint_sha256")


def test_a_reference_name_beside_a_local_folder_warns_once(bench_main, artifacts_dir, tmp_path,
                                                           monkeypatch, caplog):  # fmt: skip
    """--reference reference-sgan is the bundled model, not ./reference-sgan (which would
    not load): refused as another checkpoint, after one warning for three resolves."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reference-sgan").mkdir()
    result = bench_main("--artifacts", artifacts_dir, "--reference", "reference-sgan",
                        "--out", tmp_path / "out", *FAST)  # fmt: skip
    warned = [r for r in caplog.records if "using the bundled checkpoint" in r.getMessage()]
    assert result.returncode == 2 and "does not match the manifests'" in result.stderr
    assert len(warned) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threads", "0"], "bad thread count"),
        (["--threads", "99999999999999999999"], "bad thread count"),
        (["--runs", "0"], "--runs"),
        (["--runs", str(10**12)], "'--runs': 1000000000000 is not in the range 1<=x<=1000000"),
        (["--rounds", "0"], "'--rounds': 0 is not in the range 1<=x<=1000000"),
        (["--rounds"], "'--rounds' requires an argument. (see 'melanoma-bench --help')"),
        (["--min-agreement", "97"], "--min-agreement"),
        # NaN passes a range check (every comparison is false) and then disables the gate
        (["--max-auc-drop", "nan"], "'--max-auc-drop': nan is not a finite number"),
        (["--min-agreement", "nan"], "'--min-agreement': nan is not a finite number"),
        (["--max-latency-ms", "nan"], "'--max-latency-ms': nan is not a finite number"),
        (["--max-latency-ms", "inf"], "'--max-latency-ms': inf is not a finite number"),
        (["--seed", "-1"], "'--seed': -1 is not in the range 0<=x<=4294967295"),
        (["--seed", str(2**32)], "'--seed'"),
        # Path("") is ".": an empty --out wrote the reports into the current directory
        (["--out", ""], "'--out': empty path"),
        (["--json", ""], "'--json': empty path"),
        (["--artifacts", ""], "'--artifacts': empty path"),
        (["--reference", ""], "'--reference': empty path"),
    ],
)
def test_usage_errors_exit_2(run_console_script, assert_one_line_error, args, message):
    assert_one_line_error(run_console_script("melanoma-bench", *args), message)


def test_help(run_console_script):
    result = run_console_script("melanoma-bench", "--help")
    assert result.returncode == 0
    for option in ("--artifacts", "--data", "--reference", "--threads", "--runs", "--rounds",
                   "--out", "--json", "--max-auc-drop", "--min-agreement",
                   "--max-latency-ms"):  # fmt: skip
        assert option in result.stdout
