"""`melanoma-export`: wiring, the table, and exit codes (behaviour is tested in test_api.py)."""

import functools
import os
import shutil
import subprocess
import sys

import pytest

from melanoma.export import api as export_api
from melanoma.export import torchscript, verify
from melanoma.export.cli import main
from melanoma.export.registry import TARGETS
from melanoma.manifest import read_manifest


@pytest.fixture(scope="module")
def melanoma_export(run_console_script):
    env = {k: v for k, v in os.environ.items() if k != "MELANOMA_DATA"}
    return functools.partial(run_console_script, "melanoma-export", env=env)


@pytest.fixture
def run_main(run_in_process, monkeypatch):
    """melanoma-export in this process, as a fresh install runs it (no $MELANOMA_DATA)."""
    monkeypatch.delenv("MELANOMA_DATA", raising=False)
    return functools.partial(run_in_process, "melanoma-export", main)


def test_help_names_targets_and_defaults(melanoma_export):
    result = melanoma_export("--help")
    assert result.returncode == 0
    for text in ("executorch", "coreml", "onnx", "torchscript", "all", "reference-sgan"):
        assert text in result.stdout


def test_exports_and_prints_a_table(run_main, export_source, tmp_path, monkeypatch):
    result = run_main("--target", "torchscript", "--checkpoint", export_source, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    header, row, not_offered = out.splitlines()[:3]
    assert header.split() == [
        "artifact",
        "size",
        "runtime",
        "check",
        "max",
        "abs",
        "diff",
        "same",
        "as",
        "float",
        "status",
    ]
    assert str(tmp_path / "quick-cnn-torchscript-fp32.ptl") in row and row.endswith("passed")
    assert not_offered.endswith("not offered")  # --quantize both is the default
    assert f"torchscript int8: {torchscript.NOT_OFFERED['int8']}" in out.splitlines()  # why
    check = read_manifest(tmp_path / "quick-cnn-torchscript-fp32.ptl.manifest.json").verification
    agreement = f"{check.float_decision_agreement:.1%} of {check.n_images}"
    assert row.split()[-5:] == [f"{check.max_abs_diff:.2e}", *agreement.split(), "passed"]


def test_main_job_prints_its_table_and_nothing_on_stderr(melanoma_export, tmp_path):
    """README command 1 on a fresh install: no third-party warnings, progress bars or
    native runtime chatter around the result (all of them come back with -v)."""
    result = melanoma_export("--target", "executorch", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "reference-supervised-executorch-int8.pte" in result.stdout
    assert "checked on 32 generated mole-like images (no --data)" in result.stdout
    # the bundled int8 program's calibrated input range, in the app developer's units
    assert "int8 input range clips R 0-12 and G 254-255 (to its edge)" in result.stdout
    assert "P(melanoma) stays within [0.0025, 0.9989]" in result.stdout
    # the weights' terms, as the manifests carry them
    assert "licence: CC-BY-NC-4.0 in every manifest (Trained on HAM10000: " in result.stdout
    fp32, int8 = (
        read_manifest(tmp_path / f"reference-supervised-executorch-{p}.pte.manifest.json")
        for p in ("fp32", "int8")
    )
    ratio = int8.file.size_bytes / fp32.file.size_bytes
    assert f"executorch int8 is {ratio:.1%} of fp32 in size" in result.stdout


def test_progress_names_each_artifact_before_its_export(
    run_main, export_source, tmp_path, monkeypatch
):
    configs, real_export = [], export_api.export_checkpoint

    def recorded(config, **kwargs):
        configs.append(config)
        return real_export(config, **kwargs)

    monkeypatch.setattr(export_api, "export_checkpoint", recorded)
    args = ("--target", "torchscript", "--checkpoint", export_source)
    shown = run_main(*args, "--out", tmp_path / "a", "--progress")
    assert shown.returncode == 0
    assert shown.stderr.splitlines() == ["exporting torchscript fp32 ..."]  # int8: none
    monkeypatch.chdir(tmp_path)
    hidden = run_main(*args)  # default: only on a terminal; --out default: ./artifacts
    assert hidden.returncode == 0 and hidden.stderr == ""
    assert (tmp_path / "artifacts" / "quick-cnn-torchscript-fp32.ptl").is_file()
    # and a QAT the export has to run first shows its progress bar alike
    assert [config.qat.progress for config in configs] == [True, False]


def test_no_sample_image_line_when_no_artifact_ran_on_them(run_main, exported, monkeypatch):
    """Core ML only has its spec checked on Linux: no 'checked on 32 images' after its rows."""
    coreml = [exported[("coreml", precision)] for precision in ("fp32", "int8")]
    monkeypatch.setattr(export_api, "export_checkpoint", lambda config, **kwargs: coreml)
    result = run_main("--target", "coreml", "--out", "unused")
    assert result.returncode == 0 and "never its outputs" in result.stdout  # both spec-checked
    assert "generated mole-like images" not in result.stdout


def test_all_exports_every_target(run_main, exported, monkeypatch):
    configs = []
    results = list(exported.values())  # the real export of every target and precision
    monkeypatch.setattr(
        export_api, "export_checkpoint", lambda config, **_: configs.append(config) or results
    )
    result = run_main("--target", "all", "--out", "unused")
    assert result.returncode == 0, result.stderr
    assert [config.targets for config in configs] == [tuple(TARGETS)]  # one export, all four


def test_unknown_target_lists_the_valid_ones(melanoma_export):
    result = melanoma_export("--target", "tflite")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: Invalid value for '--target': 'tflite' is not one of 'executorch', 'onnx', "
        "'coreml', 'torchscript', 'all'. (see 'melanoma-export --help')"
    ]


def test_user_errors_are_one_line_exit_2(
    run_main, assert_one_line_error, export_source, float_only_checkpoint, tmp_path
):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(export_source, corrupt)
    (corrupt / "metadata.json").write_text("{")
    assert_one_line_error(
        run_main("--target", "onnx", "--checkpoint", corrupt, "--out", tmp_path / "o"),
        "metadata",
    )
    (tmp_path / "file").write_text("")
    out_under_file = tmp_path / "file" / "out"
    assert_one_line_error(
        run_main("--target", "onnx", "--checkpoint", export_source, "--out", out_under_file),
        "output directory",
    )
    assert_one_line_error(
        run_main("--target", "all", "--checkpoint", float_only_checkpoint, "--out", tmp_path / "o"),
        "--data",
    )
    missing_data = ("--data", tmp_path / "nowhere")
    assert_one_line_error(
        run_main("--target", "onnx", *missing_data, "--out", tmp_path / "o"), "does not exist"
    )
    assert not (tmp_path / "o").exists()  # made for the run, removed when it wrote nothing
    assert_one_line_error(run_main("--target", "onnx", "--quantize", "int4"), "int4")
    only_float = ("--target", "torchscript", "--quantize", "int8", "--out", tmp_path / "o")
    assert_one_line_error(run_main(*only_float), "torchscript offers no int8 export")
    assert_one_line_error(run_main("--target", "onnx", "--target-sensitivity", "0.3"), "0.3")
    no_scores = tmp_path / "no-scores"
    shutil.copytree(export_source, no_scores)
    (no_scores / "out_of_fold.csv").unlink()
    assert_one_line_error(
        run_main("--target", "onnx", "--checkpoint", no_scores, "--target-sensitivity", "0.95",
                 "--out", tmp_path / "o"),
        "out_of_fold.csv: missing or not a file",
    )  # fmt: skip
    assert_one_line_error(
        run_main("--target", "onnx", "--checkpoint", export_source, "--threshold", "sens",
                 "--out", tmp_path / "o"),
        "has no threshold 'sens' (has: youden, sensitivity_0.90)",
    )  # fmt: skip
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("subfolder", ["", "old"])  # the benchmark searches subfolders too
def test_a_folder_of_another_checkpoints_artifacts_is_refused(
    run_main, assert_one_line_error, exported, tmp_path, subfolder
):
    """The benchmark would refuse the mix; the export refuses to make it."""
    onnx = exported[("onnx", "fp32")].artifact
    folder = tmp_path / "artifacts"
    (folder / subfolder).mkdir(parents=True)
    for path in (onnx, onnx.with_name(onnx.name + ".manifest.json")):
        shutil.copy(path, folder / subfolder)
    before = sorted(folder.rglob("*"))
    args = ("--target", "onnx", "--checkpoint", "reference-sgan", "--quantize", "none")
    assert_one_line_error(
        run_main(*args, "--out", folder),
        f"holds {onnx.name}.manifest.json, exported from another checkpoint (",
    )
    assert sorted(folder.rglob("*")) == before


def test_threshold_names_the_default_the_checks_use(
    run_main, export_source, data_path, tmp_path, monkeypatch
):
    """--threshold may name the threshold --target-sensitivity adds: the app decides at it,
    and both precisions are checked at it (the int8 program's metadata does not store it)."""
    checked_at = []
    compare = verify.compare
    monkeypatch.setattr(
        verify, "compare", lambda *a: checked_at.append(a[4]) or compare(*a)
    )  # a[4]: the probability decisions are compared at
    result = run_main(
        "--target", "onnx", "--checkpoint", export_source,
        "--target-sensitivity", "0.95", "--threshold", "sensitivity_0.95", "--out", tmp_path,
        "--data", data_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "'same as float' counts decisions at threshold sensitivity_0.95" in result.stdout
    for precision in ("fp32", "int8"):
        manifest = read_manifest(tmp_path / f"quick-cnn-onnx-{precision}.onnx.manifest.json")
        assert manifest.default_threshold == "sensitivity_0.95"
        (added,) = [t for t in manifest.thresholds if t.name == "sensitivity_0.95"]
    assert checked_at == [added.probability] * 2


def test_failed_check_exits_1_naming_the_artifact(run_main, export_source, tmp_path, monkeypatch):
    monkeypatch.setattr(torchscript, "FP32_TOLERANCE", -1.0)  # nothing can pass
    args = ("--target", "torchscript", "--quantize", "none", "--checkpoint", export_source)
    result = run_main(*args, "--out", tmp_path)
    assert result.returncode == 1
    assert "failed" in result.stdout
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert str(tmp_path / "quick-cnn-torchscript-fp32.ptl") in line
    assert not (tmp_path / "quick-cnn-torchscript-fp32.ptl").exists()


def test_a_diverged_qat_before_int8_is_one_line_exit_1(
    run_main, quick_checkpoint, data_path, tmp_path, monkeypatch
):
    """int8 of a checkpoint without a qat/ program runs QAT first; its divergence is no bad
    input (exit 1, as `melanoma qat`'s), and was a traceback."""
    from melanoma import qat
    from melanoma.training import DivergenceError

    def diverged(*args):
        raise DivergenceError("QAT diverged: the int8 program gives the 40 validation ...")

    monkeypatch.setattr(qat, "qat_finetune", diverged)
    args = ("--target", "onnx", "--quantize", "int8", "--checkpoint", quick_checkpoint)
    result = run_main(*args, "--data", data_path, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: QAT diverged: the int8 program gives the 40 validation ..."
    ]
    assert result.stdout == ""


def test_verbose_brings_back_the_details_and_third_party_noise(tmp_path):
    """-v sets the process's logging before the export starts (in a fresh process: pytest's
    own log handlers would make basicConfig a no-op here). The command stops at once (no
    such checkpoint); the messages after it are the kinds the flag governs."""
    code = (
        "import logging, sys, warnings\n"
        "from melanoma.errors import UserError\n"
        "from melanoma.export.cli import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:], standalone_mode=False)\n"
        "except UserError:\n"
        "    print('refused')\n"
        "logging.getLogger('melanoma.export.api').info('a progress detail')\n"
        "logging.getLogger('coremltools').warning('Torch version 2.13 has not been tested')\n"
        "warnings.warn('`isinstance(treespec, LeafSpec)` is deprecated', FutureWarning)\n"
    )
    args = ["--target", "onnx", "--checkpoint", tmp_path / "nowhere", "--out", tmp_path / "o"]
    quiet, verbose = (
        subprocess.run(
            [sys.executable, "-c", code, *map(str, args + flags)], capture_output=True, text=True
        )
        for flags in ([], ["-v"])
    )
    assert quiet.stdout == verbose.stdout == "refused\n", quiet.stderr + verbose.stderr
    assert quiet.stderr == ""
    lines = verbose.stderr.splitlines()
    assert "INFO melanoma.export.api: a progress detail" in lines
    assert "WARNING coremltools: Torch version 2.13 has not been tested" in lines
    assert "LeafSpec)` is deprecated" in verbose.stderr


def test_a_checkpoint_folder_and_attribution_with_escapes_print_them_as_escapes(run_main, tmp_path):
    """A colleague's checkpoint in a folder named 'ck\\x1b[2J' (the artifacts are named after
    it) with an attribution ending '\\x1b]0;x\\x07' in its metadata.json: the table and the
    licence line cleared the screen and set the window title instead of showing them."""
    import json

    from melanoma.checkpoint import REFERENCE_DIR

    ckpt = tmp_path / "ck\x1b[2J"
    shutil.copytree(REFERENCE_DIR / "supervised", ckpt, ignore=shutil.ignore_patterns("qat"))
    meta = json.loads((ckpt / "metadata.json").read_text())
    meta.update(license="CC-BY-NC-4.0", attribution="HAM10000\x1b]0;x\x07")
    (ckpt / "metadata.json").write_text(json.dumps(meta))
    args = ["--target", "onnx", "--quantize", "none", "--checkpoint", ckpt, "--out", tmp_path]
    result = run_main(*args, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "ck\\x1b[2J-onnx-fp32.onnx" in result.stdout and "\\x1b]0;x\\x07)" in result.stdout
