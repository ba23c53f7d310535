"""What marks an artifact ❎: a manifest that says so, a normalization or runtime that disagrees."""

import json

import numpy as np
import pytest

from melanoma.benchmarks import subjects
from melanoma.benchmarks.manifest_checks import int8_program
from melanoma.benchmarks.subjects import (
    AccuracyConfig,
    Artifact,
    artifact_subject,
    program_failures,
)
from melanoma.checkpoint import WEIGHTS, checkpoint_sha256
from melanoma.export.registry import get_target
from melanoma.export.verify import reference_logits, tolerance
from melanoma.manifest import read_manifest, sha256_of, size_of
from melanoma.preprocess import normalize

ONNX = "quick-cnn-onnx-fp32.onnx"
FAST = AccuracyConfig(threshold_name="youden", n_bootstrap=20)  # as the conftest's reference row


def edited(directory, name, edit) -> Artifact:
    """Apply `edit` to the parsed manifest of `name`, write it back, return the Artifact."""
    path = directory / f"{name}.manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return Artifact(name, directory / name, read_manifest(path))


def run(artifact, checkpoint, test_split, reference):
    return artifact_subject(artifact, *test_split, reference, checkpoint, FAST)


@pytest.mark.parametrize(
    "name",
    [
        ONNX,
        "quick-cnn-onnx-int8.onnx",
        "quick-cnn-executorch-fp32.pte",
        "quick-cnn-executorch-int8.pte",
        "quick-cnn-torchscript-fp32.ptl",
        "quick-cnn-coreml-fp32.mlpackage",
    ],
)
def test_untouched_artifact_is_verified(artifacts_dir, checkpoint, test_split, reference, name):
    """Every check, batch sizes included, passes on what the exporter wrote."""
    artifact = Artifact(
        name, artifacts_dir / name, read_manifest(artifacts_dir / f"{name}.manifest.json")
    )
    subject = run(artifact, checkpoint, test_split, reference)
    runnable = not name.endswith(".mlpackage")  # Core ML needs macOS
    assert subject.status == ("verified" if runnable else "not_runnable"), subject.reasons
    assert subject.reasons == () if runnable else "not runnable" in subject.reasons[0]
    assert reference.status == "verified" and reference.info["agreement"] is None


def test_failed_export_verification_is_failed(artifacts_copy, checkpoint, test_split, reference):
    def fail(data):
        data["verification"]["passed"] = False

    subject = run(edited(artifacts_copy, ONNX, fail), checkpoint, test_split, reference)
    assert subject.status == "failed"
    assert len(subject.reasons) == 1
    assert subject.reasons[0].startswith("export verification failed (outputs on 64 test images")


def test_wrong_normalization_is_failed(artifacts_copy, checkpoint, test_split, reference):
    def shift(data):
        data["preprocessing"]["mean"] = [0.5, 0.5, 0.5]

    subject = run(edited(artifacts_copy, ONNX, shift), checkpoint, test_split, reference)
    assert subject.status == "failed"
    assert subject.reasons[0].startswith("manifest preprocessing.mean [0.5, 0.5, 0.5], expected [")
    assert any("max|Δp|" in reason for reason in subject.reasons)  # and it shows in the outputs


@pytest.mark.parametrize("name", [ONNX, "quick-cnn-coreml-fp32.mlpackage"])
def test_missing_threshold_is_failed(artifacts_copy, checkpoint, test_split, reference, name):
    def drop(data):
        data["thresholds"] = [t for t in data["thresholds"] if t["name"] != "youden"]
        data["default_threshold"] = data["thresholds"][0]["name"]  # else the manifest is invalid

    subject = run(edited(artifacts_copy, name, drop), checkpoint, test_split, reference)
    assert subject.status == "failed" and "no threshold 'youden'" in subject.reasons[0]
    # and it is not timed: loading a Core ML package off macOS raised out of the timing loop
    assert subject.load is None


def test_runtime_error_is_failed_not_a_crash(artifacts_copy, checkpoint, test_split, reference):
    path = artifacts_copy / ONNX
    path.write_bytes(b"not an onnx file")

    def rehash(data):  # a manifest that matches the broken file: only the runtime can tell
        data["file"]["sha256"], data["file"]["size_bytes"] = sha256_of(path), size_of(path)

    subject = run(edited(artifacts_copy, ONNX, rehash), checkpoint, test_split, reference)
    assert subject.status == "failed" and subject.load is None
    assert subject.reasons[0].startswith("runtime error: ")


def test_a_bug_around_the_runtime_is_a_traceback_not_the_files_failure(
    artifacts_dir, checkpoint, test_split, reference, monkeypatch
):
    """Only the runtime's own errors fail a row: an error in the harness's own code once
    became a ❎ "runtime error" row, blaming a file the runtime had run fine."""

    def broken_figures(*args):
        raise ValueError("a bug in the harness")

    monkeypatch.setattr(subjects, "accuracy_figures", broken_figures)
    artifact = Artifact(
        ONNX, artifacts_dir / ONNX, read_manifest(artifacts_dir / f"{ONNX}.manifest.json")
    )
    with pytest.raises(ValueError, match="a bug in the harness"):
        run(artifact, checkpoint, test_split, reference)


@pytest.mark.parametrize("damage", ["garbled", "missing"])
def test_core_ml_package_that_cannot_be_read_is_failed_where_it_cannot_run(
    artifacts_copy, checkpoint, test_split, reference, damage
):
    """Off macOS a Core ML row was skipped (⏭) unopened: a broken package passed the gate."""
    name = "quick-cnn-coreml-int8.mlpackage"
    spec = next((artifacts_copy / name).rglob("model.mlmodel"))
    if damage == "garbled":
        spec.write_bytes(b"garbage")
    else:
        spec.unlink()

    def rehash(data):  # a manifest that matches the broken package
        path = artifacts_copy / name
        data["file"]["sha256"], data["file"]["size_bytes"] = sha256_of(path), size_of(path)

    subject = run(edited(artifacts_copy, name, rehash), checkpoint, test_split, reference)
    assert subject.status == "failed" and subject.load is None and subject.scores is None
    assert "not a readable Core ML package" in subject.reasons[0]
    assert subject.reasons[1].startswith("not runnable on Linux: ")


@pytest.mark.parametrize("identifier", [b"\xc0\xff\xfe\xfd", b"ET\xff\xfe"])
def test_pte_with_a_bad_identifier_never_reaches_executorch(
    artifacts_copy, checkpoint, test_split, reference, identifier
):
    """ExecuTorch logs a wrong file identifier verbatim and aborts the process (SIGABRT) when
    it is not UTF-8: if this check regressed, the test run itself would die here. "ET" and
    two bytes that are not alphanumeric is not an identifier exir writes either."""
    name = "quick-cnn-executorch-fp32.pte"
    path = artifacts_copy / name
    raw = bytearray(path.read_bytes())
    raw[4:8] = identifier  # exir wrote "ET12" there
    path.write_bytes(bytes(raw))

    def rehash(data):
        data["file"]["sha256"], data["file"]["size_bytes"] = sha256_of(path), size_of(path)

    subject = run(edited(artifacts_copy, name, rehash), checkpoint, test_split, reference)
    assert subject.status == "failed" and subject.load is None and subject.scores is None
    assert subject.reasons == (
        f"not an ExecuTorch program: file identifier (bytes 4-7) {identifier!r}, expected ET..",
    )


def test_manifest_retargeted_to_another_runtime_is_failed_not_skipped(
    artifacts_copy, checkpoint, test_split, reference
):
    """A .pte whose manifest says coreml was shown as ⏭ (cannot run on Linux) and passed."""
    name = "quick-cnn-executorch-fp32.pte"

    def retarget(data):
        data["target"] = "coreml"

    subject = run(edited(artifacts_copy, name, retarget), checkpoint, test_split, reference)
    assert subject.status == "failed" and subject.load is None and subject.scores is None
    assert subject.reasons == ("manifest target coreml expects a .mlpackage file, not .pte",)


def test_manifest_thresholds_must_be_the_checkpoints(
    artifacts_copy, checkpoint, test_split, reference
):
    """The app decides at the manifest's threshold, which the artifact's sha256 does not cover."""
    stored = checkpoint.meta.threshold("youden")

    def move_youden(data):
        for threshold in data["thresholds"]:
            if threshold["name"] == "youden":
                threshold["probability"] = 0.6

    subject = run(edited(artifacts_copy, ONNX, move_youden), checkpoint, test_split, reference)
    assert subject.status == "failed"
    assert subject.reasons[0] == (
        f"manifest threshold youden probability 0.6 differs from the checkpoint's {stored:.6g}"
    )


def test_eager_row_decides_at_a_re_derived_threshold_too(checkpoint, test_split):
    """A manifest default added by `melanoma-export --target-sensitivity` is not stored in the
    checkpoint: the float model decides at the same re-derived threshold as the artifacts."""
    from melanoma.benchmarks.subjects import reference_subject
    from melanoma.errors import UserError
    from melanoma.export.contract import manifest_thresholds

    config = AccuracyConfig(threshold_name="sensitivity_0.95", n_bootstrap=20)
    eager = reference_subject(checkpoint, *test_split, config)
    derived = manifest_thresholds(checkpoint, 0.95)[-1]
    assert derived.name == "sensitivity_0.95"
    assert (eager.info["threshold"], eager.info["threshold_name"]) == (
        derived.probability,
        "sensitivity_0.95",
    )
    with pytest.raises(UserError, match="no threshold 'median'"):
        reference_subject(checkpoint, *test_split, AccuracyConfig(threshold_name="median"))


def test_a_row_built_without_a_threshold_name_is_refused_in_one_line(
    artifacts_dir, checkpoint, test_split, reference
):
    """AccuracyConfig's default threshold_name, None, is benchmark()'s to resolve from all the
    manifests; a row built with it directly ended in AttributeError: 'NoneType' object has
    no attribute 'startswith'."""
    from melanoma.benchmarks.subjects import reference_subject
    from melanoma.config_checks import ConfigError

    unresolved = AccuracyConfig(n_bootstrap=20)
    manifest = read_manifest(artifacts_dir / f"{ONNX}.manifest.json")
    artifact = Artifact(ONNX, artifacts_dir / ONNX, manifest)
    refused = r"^AccuracyConfig.threshold_name = None: a row decides at a named threshold"
    with pytest.raises(ConfigError, match=refused):
        reference_subject(checkpoint, *test_split, unresolved)
    with pytest.raises(ConfigError, match=refused):
        artifact_subject(artifact, *test_split, reference, checkpoint, unresolved)


@pytest.mark.parametrize("name", [ONNX, "quick-cnn-coreml-fp32.mlpackage"])
def test_each_row_names_the_sha256_of_what_it_measured(
    artifacts_dir, checkpoint, test_split, reference, name
):
    """A report rerun on a re-exported file of the same name must tell the two apart: the
    artifact's sha256 (a Core ML folder's too, which it cannot run here), and the float
    checkpoint's for the eager row."""
    manifest = read_manifest(artifacts_dir / f"{name}.manifest.json")
    subject = run(Artifact(name, artifacts_dir / name, manifest), checkpoint, test_split, reference)
    assert subject.info["sha256"] == sha256_of(artifacts_dir / name) == manifest.file.sha256
    assert reference.info["sha256"] == checkpoint_sha256(checkpoint.path)
    assert reference.info["sha256"] == manifest.source_checkpoint_sha256


def test_eager_row_is_sized_by_its_weights_file(reference, checkpoint):
    """The float weights, as an artifact's size is its file: not the checkpoint folder, which
    also holds the int8 program and the kept validation predictions."""
    weights = (checkpoint.path / WEIGHTS).stat().st_size
    assert reference.info["size_bytes"] == weights < size_of(checkpoint.path)


def test_int8_file_that_no_longer_computes_its_program_is_failed(
    artifacts_copy, checkpoint, test_split, reference
):
    """Head biases moved and the manifest's sha256 and size fixed up to match: most
    decisions stay the float model's, so only the comparison with the program catches it."""
    import onnx
    from onnx import numpy_helper

    name = "quick-cnn-onnx-int8.onnx"
    model = onnx.load(artifacts_copy / name)
    # each head's bias is int32 in steps of its `_int32_scale` (export/onnx.py _int32_biases)
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    moved = 0
    for tensor in model.graph.initializer:
        if tensor.name.endswith("head.bias_int32"):
            steps = np.rint(0.4 / arrays[tensor.name + "_scale"]).astype(np.int32)
            tensor.CopyFrom(numpy_helper.from_array(arrays[tensor.name] + steps, tensor.name))
            moved += 1
    assert moved == 5  # one head per ensemble member
    onnx.save(model, artifacts_copy / name)

    def fix_up(data):
        data["file"].update(sha256=sha256_of(artifacts_copy / name),
                            size_bytes=size_of(artifacts_copy / name))  # fmt: skip

    subject = run(edited(artifacts_copy, name, fix_up), checkpoint, test_split, reference)
    assert subject.status == "failed"
    assert [r for r in subject.reasons if "not the program it was lowered from" in r], (
        subject.reasons
    )


@pytest.mark.parametrize("sign", [1, -1])
def test_int8_logits_are_held_to_their_program_either_way(artifacts_dir, checkpoint, test_split,
                                                          sign):  # fmt: skip
    """Half the export tolerance from the QAT program passes; twice it, up or down, fails."""
    name = "quick-cnn-onnx-int8.onnx"
    manifest = read_manifest(artifacts_dir / f"{name}.manifest.json")
    qat = int8_program(manifest, artifacts_dir / name, checkpoint).qat
    target = get_target(manifest.target)
    mean, std = manifest.preprocessing.mean, manifest.preprocessing.std
    inputs = normalize(test_split[0][:64], mean, std).numpy()
    expected = reference_logits(qat.program, inputs)[:, 0]
    allowed = tolerance(target, "int8", qat.program)
    assert program_failures(target, inputs, expected + sign * allowed / 2, qat) == []
    (reason,) = program_failures(target, inputs, expected + sign * 2 * allowed, qat)
    assert "not the program it was lowered from" in reason
