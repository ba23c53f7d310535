"""Manifests of the right shape but wrong types: one ManifestError naming file and field.

Each case is the real exporter's manifest with one field edited, as a hand-edited or
foreign manifest would arrive; before, each one was a traceback deep in the benchmark.
"""

import json

import pytest

from melanoma.benchmarks.harness import discover
from melanoma.manifest import ManifestError, read_manifest

ONNX = "quick-cnn-onnx-fp32.onnx"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("file.name", 5, "file.name: expected a string, got 5"),
        ("file.name", "../x.onnx", "file.name: expected a file name beside the manifest"),
        # the benchmark looks for the int8 program in qat-<model_name> beside the artifact:
        # each of these led it out of --artifacts
        ("model_name", "x/../../elsewhere", "model_name: expected one folder name (no / or"),
        ("model_name", "/tmp/qat", "model_name: expected one folder name (no / or"),
        ("model_name", "x\\..\\..", "model_name: expected one folder name (no / or"),
        ("model_name", "..", "model_name: expected one folder name (no / or"),
        ("model_name", "", "model_name: expected one folder name (no / or"),
        ("input.shape", [], 'input.shape: expected 4 positive sizes, the first may be "N", got []'),
        ("input.shape", ["N", 3, 32, "32"], "input.shape: expected 4 positive sizes"),
        ("input.shape", ["N", 3, 0, 32], "input.shape: expected 4 positive sizes"),
        ("input.shape", ["N", 3, 32], "input.shape: expected 4 positive sizes"),
        ("output.shape", ["N", 0], 'output.shape: expected positive sizes, the first may be "N"'),
        ("preprocessing.size", 0, "preprocessing.size: expected a size in [1, 2147483647], got 0"),
        ("input.max_batch", 0, "input.max_batch: expected a batch size >= 1 or null, got 0"),
        ("input.max_batch", 1.5, "input.max_batch: expected an integer, got 1.5"),
        ("preprocessing.mean", "abc", 'preprocessing.mean: expected a list, got "abc"'),
        ("preprocessing.mean", [0.5], "preprocessing.mean: expected 3 numbers (R, G, B)"),
        ("preprocessing.std", [0.2, 0.0, 0.2], "preprocessing.std: expected 3 numbers > 0"),
        ("thresholds", "youden", 'thresholds: expected a list, got "youden"'),
        ("thresholds.0.probability", "0.5", "thresholds[0].probability: expected a finite number"),
        ("thresholds.0.probability", 1.5, "thresholds[0].probability: expected a number in [0, 1]"),
        ("verification.max_abs_diff", "0.1", "verification.max_abs_diff: expected a finite"),
        ("verification.passed", "yes", 'verification.passed: expected true or false, got "yes"'),
        ("verification.n_images", True, "verification.n_images: expected an integer, got true"),
        ("versions.torch", 2, "versions.torch: expected a string, got 2"),
    ],
)
def test_wrong_field_type_is_a_manifest_error(
    artifacts_dir, tmp_path, setting, field, value, message
):
    data = json.loads((artifacts_dir / f"{ONNX}.manifest.json").read_text())
    setting(field, value)(data)
    path = tmp_path / f"{ONNX}.manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    assert str(caught.value).startswith(f"{path}.{message}")
    assert "\n" not in str(caught.value)


def test_manifest_that_is_a_directory_is_a_manifest_error(artifacts_copy):
    path = artifacts_copy / f"{ONNX}.manifest.json"
    path.unlink()
    path.mkdir()
    with pytest.raises(
        ManifestError, match=r"manifest.json: cannot read manifest \(not a regular file"
    ):
        discover(artifacts_copy)
