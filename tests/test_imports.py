"""Imports follow the data flow (README, Architecture): checked in fresh interpreters,
since one test process has every module loaded already."""

import subprocess
import sys

import pytest

TRAINING_STACK = ("melanoma.training", "melanoma.train", "melanoma.train_sgan", "melanoma.qat")


def _loaded_after(module: str, watched: tuple[str, ...]) -> list[str]:
    code = f"import sys, {module}; print(' '.join(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    "reader", ["melanoma.benchmarks.harness", "melanoma.export.api", "melanoma.evaluate"]
)
def test_readers_of_checkpoints_and_artifacts_do_not_import_the_trainers(reader):
    assert _loaded_after(reader, TRAINING_STACK) == []


def test_the_core_does_not_import_the_exporters_or_the_benchmark():
    core = "melanoma.cli, melanoma.compare, melanoma.qat, melanoma.evaluate, melanoma.nested_cv"
    assert _loaded_after(core, ("melanoma.export", "melanoma.benchmarks")) == []
