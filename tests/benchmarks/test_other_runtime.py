"""melanoma.benchmarks.other_runtime: artifacts run in another interpreter's runtime.

The "other" interpreter here is this one (sys.executable): the same runtimes, so every
logit must come back identical, which checks the plumbing (inputs, logits, thresholds)."""

import dataclasses
import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from melanoma.benchmarks.other_runtime import decision_cut, main
from melanoma.checkpoint import file_sha256
from melanoma.export import verify
from melanoma.manifest import read_manifest


@pytest.fixture
def other_runtime(run_in_process):
    return functools.partial(run_in_process, "other_runtime", main)


def test_the_same_runtimes_give_the_same_logits(artifacts_dir, data_path):
    command = [sys.executable, "-m", "melanoma.benchmarks.other_runtime", "--python",
               sys.executable, "--artifacts", artifacts_dir, "--data", data_path, "--n", "16",
               "--json"]  # fmt: skip
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["images"].startswith("16 test images of ")
    rows = {row["file"]: row for row in report["rows"]}
    ran = [row for name, row in rows.items() if not name.endswith(".mlpackage")]
    assert len(ran) == 5  # executorch and onnx at both precisions, torchscript fp32
    for row in ran:
        assert row["status"] == "ran" and row["error"] is None, row
        assert row["max_abs_diff"] == 0 and row["decisions_moved"] == 0, row
        assert row["n_images"] == 16
        assert row["runtime"].split()[0] in row["this_runtime"], row
    assert rows["quick-cnn-coreml-fp32.mlpackage"]["status"] == "not compared"


def test_a_file_the_runtime_refuses_is_its_one_line_error_in_the_row(
    other_runtime, artifacts_dir, tmp_path
):
    name = "quick-cnn-onnx-fp32.onnx"
    broken = tmp_path / name
    broken.write_bytes((artifacts_dir / name).read_bytes()[:5000])  # cut short in a copy
    manifest = json.loads((artifacts_dir / f"{name}.manifest.json").read_text())
    manifest["file"].update(sha256=file_sha256(broken), size_bytes=5000)  # consistent
    (tmp_path / f"{name}.manifest.json").write_text(json.dumps(manifest))
    result = other_runtime("--python", sys.executable, "--artifacts", tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(name)]
    assert " onnxruntime 1." in line and "  refused: " in line and "Protobuf" in line, line
    assert "max|diff| -  moved -  vs refused here (" in line, line


def test_a_runtime_not_installed_there_is_listed_as_such(other_runtime, artifacts_dir,
                                                         tmp_path):  # fmt: skip
    # an interpreter in which `import onnxruntime` fails, as in a venv without it
    (tmp_path / "hide" / "onnxruntime").mkdir(parents=True)
    (tmp_path / "hide" / "onnxruntime" / "__init__.py").write_text("raise ImportError('hidden')")
    python = _shell_script(tmp_path, f'PYTHONPATH={tmp_path / "hide"} exec {sys.executable} "$@"')
    folder = _one_onnx_file(artifacts_dir, tmp_path)
    result = other_runtime("--python", python, "--artifacts", folder)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()[1:]
    assert line.endswith("(CPUExecutionProvider)  not installed there (ImportError: hidden)")
    assert " onnxruntime  max|diff| -  moved -  vs " in line, line


@pytest.mark.parametrize(
    "child, shown",
    [
        (f'{sys.executable} "$@"; echo "[1]"', ("max|diff| 0 (0 differ)", "Provider)  ran")),
        ("echo '\"x\"'", ("max|diff| -  moved -", "  crashed: exit code 0: no report")),
        (f'{sys.executable} "$@"; echo bye', ("max|diff| 0 (0 differ)", "Provider)  ran")),
        # a runtime's own JSON log record: an object, but not with the report's keys
        (f'{sys.executable} "$@"; echo \'{{"level": 1}}\'', ("max|diff| 0", "Provider)  ran")),
    ],
    ids=["after-the-report", "instead-of-it", "text-after-the-report", "object-after-the-report"],
)
def test_a_json_line_that_is_not_the_childs_report_is_a_runtimes_own_print(
    other_runtime, artifacts_dir, tmp_path, child, shown
):
    """The child's report is the last JSON object on its stdout: a last line '[1]' or '"x"'
    (a runtime printing at exit) was taken as the report, and report["status"] stopped the
    whole comparison with a TypeError traceback."""
    # the real interpreter, whose child prints one line more
    python = _shell_script(
        tmp_path, f'if [ "$1" = -c ]; then exec {sys.executable} "$@"; fi\n{child}'
    )
    folder = _one_onnx_file(artifacts_dir, tmp_path)
    result = other_runtime("--python", python, "--artifacts", folder)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()[1:]
    assert shown[0] in line and line.endswith(shown[1]), line


def _shell_script(tmp_path, body: str) -> Path:
    """tmp_path/python: a stand-in interpreter for --python, running `body` in sh."""
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\n{body}\n")
    python.chmod(0o755)
    return python


def _one_onnx_file(artifacts_dir, tmp_path) -> Path:
    """A folder holding the fp32 .onnx and its manifest only: one row, in onnxruntime."""
    folder = tmp_path / "artifacts"
    folder.mkdir()
    for name in ("quick-cnn-onnx-fp32.onnx", "quick-cnn-onnx-fp32.onnx.manifest.json"):
        shutil.copy(artifacts_dir / name, folder / name)
    return folder


def test_a_manifest_without_its_default_threshold_exits_2_with_one_line(
    other_runtime, assert_one_line_error, artifacts_dir, tmp_path
):
    # A version 3 manifest (no default_threshold: the app decides at youden) that lists no
    # youden threshold: melanoma-bench fails its row; this printed a traceback (mypy: the
    # threshold find_threshold returns may be None).
    name = "quick-cnn-onnx-fp32.onnx"
    shutil.copy(artifacts_dir / name, tmp_path / name)
    manifest = json.loads((artifacts_dir / f"{name}.manifest.json").read_text())
    manifest["schema_version"] = 3  # without what versions 4 to 6 added
    del manifest["default_threshold"], manifest["license"], manifest["attribution"]
    del manifest["preprocessing"]["steps"], manifest["quantization"]["input_range"]
    del manifest["quantization"]["logit_range"]
    manifest["thresholds"] = [t for t in manifest["thresholds"] if t["name"] != "youden"]
    (tmp_path / f"{name}.manifest.json").write_text(json.dumps(manifest))
    result = other_runtime("--python", sys.executable, "--artifacts", tmp_path)
    assert_one_line_error(result, f"{name}.manifest.json", "no threshold 'youden'")


def test_decisions_are_compared_at_the_manifests_default_threshold(artifacts_dir):
    # decisions_moved counts the images whose side of the app's threshold moved: the one the
    # manifest names as its default, not youden whatever it names
    manifest = read_manifest(artifacts_dir / "quick-cnn-onnx-fp32.onnx.manifest.json")
    other = next(t for t in manifest.thresholds if t.name != "youden")
    manifest = dataclasses.replace(manifest, default_threshold=other.name)
    assert decision_cut(manifest) == verify.decision_cut(other.probability)
    youden = next(t for t in manifest.thresholds if t.name == "youden")
    assert decision_cut(manifest) != verify.decision_cut(youden.probability)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--artifacts", "."], "Missing option '--python'"),
        (["--python", "/no/such/python", "--artifacts", "."], "does not exist"),
        (["--python", __file__, "--artifacts", "."], "not a Python interpreter"),
        (["--python", sys.executable, "--artifacts", "EMPTY"], "no artifacts"),
        (["--python", sys.executable, "--artifacts", "/no/such/dir"], "not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(other_runtime, assert_one_line_error, tmp_path, args,
                                         message):  # fmt: skip
    args = [str(tmp_path) if a == "EMPTY" else a for a in args]
    assert_one_line_error(other_runtime(*args), message)
