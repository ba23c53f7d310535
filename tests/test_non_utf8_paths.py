"""A folder whose name is not UTF-8 is refused in one line: torch, onnxruntime and
coremltools take paths as UTF-8 strings only, and failed inside with a TypeError."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from melanoma.benchmarks.harness import discover
from melanoma.errors import UserError
from melanoma.qat_checkpoint import load_qat, resolve_qat_dir

# 'arté' in Latin-1, as an old archive unpacks it: Python holds the byte 0xe9 as \udce9.
NOT_UTF8 = os.fsdecode(b"art\xe9")


def test_the_benchmark_refuses_a_manifest_under_a_non_utf8_name(tmp_path):
    folder = tmp_path / NOT_UTF8
    folder.mkdir()
    (folder / "model.pte.manifest.json").write_text("{}")  # refused before it is read
    with pytest.raises(UserError, match="under a name that is not UTF-8"):
        discover(tmp_path)


def test_export_refuses_a_non_utf8_out_before_any_work(tmp_path):
    # Without the check, the torchscript export failed with a TypeError traceback in
    # torch's _get_model_bytecode_version, after the model was traced.
    out = tmp_path / NOT_UTF8 / "artifacts"
    script = "from melanoma.entry import melanoma_export; melanoma_export()"
    proc = subprocess.run(
        [sys.executable, "-c", script, "--target", "torchscript", "--out", out],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "not UTF-8" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert not os.path.lexists(tmp_path / NOT_UTF8)


def test_a_qat_program_under_a_non_utf8_name_loads(tmp_path):
    # Read by path, torch said "'str' object has no attribute 'tell'", and the one-line
    # error blamed the file: "unreadable exported program".
    qat_dir = tmp_path / NOT_UTF8 / "qat"
    shutil.copytree(resolve_qat_dir("reference-supervised"), qat_dir)
    assert load_qat(qat_dir).path == qat_dir
