"""export_checkpoint: manifests, names, QAT on demand and the error cases (what a failed or
interrupted export leaves behind: test_api_failures.py)."""

import dataclasses
import json
import platform
import shutil

import numpy as np
import pytest
import torch

from melanoma.checkpoint import CheckpointError, checkpoint_sha256, file_sha256, load_checkpoint
from melanoma.errors import UserError
from melanoma.export import api, verify
from melanoma.export.contract import INT8_SCHEME
from melanoma.export.registry import TARGETS, UnknownTarget, get_target
from melanoma.manifest import (
    ManifestError,
    manifest_from_dict,
    manifest_path,
    read_manifest,
    verify_artifact,
)
from melanoma.qat import QATConfig
from melanoma.validation_scores import OUT_OF_FOLD_CSV, decision_threshold, read_scores


def test_every_target_and_precision_is_accounted_for(exported):
    assert set(exported) == {(t, p) for t in TARGETS for p in ("fp32", "int8")}
    statuses = {key: r.status for key, r in exported.items()}
    assert statuses.pop(("torchscript", "int8")) == "not offered"
    checked_here = "passed" if platform.system() == "Darwin" else "spec-checked"
    assert [statuses.pop(("coreml", p)) for p in ("fp32", "int8")] == [checked_here] * 2
    assert set(statuses.values()) == {"passed"}


def test_manifests_validate_and_match_their_files(exported, export_source):
    source_sha = checkpoint_sha256(export_source)
    meta = load_checkpoint(export_source).meta
    for (target, precision), result in exported.items():
        if result.manifest is None:
            continue
        path = manifest_path(result.artifact)
        manifest, artifact = verify_artifact(path)  # schema, then sha256 of the file
        assert manifest == read_manifest(path) == result.manifest
        assert artifact.name == f"quick-cnn-{target}-{precision}{get_target(target).SUFFIX}"
        assert manifest.source_checkpoint_sha256 == source_sha  # the float checkpoint's, always
        assert (manifest.target, manifest.precision, manifest.method) == (
            target,
            precision,
            meta.method,
        )
        assert manifest.input.shape == ["N", 3, 32, 32] and manifest.output.kind == "logit"
        # .pte plans memory for N <= 128 and Core ML declares that range; ONNX and the
        # lite interpreter take any N.
        bounded = target in ("executorch", "coreml")
        assert manifest.input.max_batch == (128 if bounded else None)
        assert manifest.preprocessing.mean == meta.mean and manifest.preprocessing.std == meta.std
        stored = [(t["name"], t["probability"], t["sensitivity"], t["specificity"])
                  for t in meta.thresholds]  # fmt: skip
        assert [(t.name, t.probability, t.val_sensitivity, t.val_specificity)
                for t in manifest.thresholds] == stored  # fmt: skip
        assert {
            "melanoma-mobile",
            "torch",
            "executorch",
            "coremltools",
            "onnx",
            "onnxruntime",
        } <= manifest.versions.keys()
        assert manifest.verification.passed
        assert manifest.quantization.scheme == ("none" if precision == "fp32" else INT8_SCHEME)
        qat_program = export_source / "qat" / "program.pt2"
        expected = None if precision == "fp32" else file_sha256(qat_program)
        assert manifest.quantization.program_sha256 == expected
        check = manifest.verification
        if check.max_abs_diff is not None:
            assert check.n_images == 64
            assert "test images" in check.check
            assert 0.9 <= check.float_decision_agreement <= 1
            if precision == "fp32":  # its reference is the float model
                assert check.float_decision_agreement == check.decision_agreement
        else:
            assert check.float_decision_agreement is None  # spec-only: nothing ran


def test_schema_rejects_a_manifest_missing_a_field(exported):
    data = json.loads(manifest_path(exported["onnx", "int8"].artifact).read_text())
    assert manifest_from_dict(data) == exported["onnx", "int8"].manifest
    del data["verification"]["passed"]
    with pytest.raises(ManifestError, match="passed"):
        manifest_from_dict(data)


def test_samples_are_real_test_images_or_synthetic_without_data(dataset):
    samples = verify.load_samples(dataset)
    assert samples.images.shape == (64, 3, 32, 32) and set(samples.labels) == {0, 1}
    # what the manifest (shipped in the app) says of them: no path of the exporting machine
    assert samples.source == (
        f"64 test images of MelanomaDetection.zip (fingerprint {dataset.fingerprint})"
    )
    synthetic = verify.load_samples(None)
    assert synthetic.images.shape == (32, 3, 32, 32) and synthetic.images.dtype == torch.uint8
    assert "synthetic" in synthetic.source
    torch.testing.assert_close(verify.load_samples(None).images, synthetic.images)  # deterministic
    # Mole-like: a darker centre than the border, in the data's colour range.
    centre = synthetic.images[:, :, 12:20, 12:20].float().mean()
    border = synthetic.images[:, :, :4, :].float().mean()
    assert centre < border and 100 < border < 220


def test_int8_decisions_are_counted_against_the_float_model_not_its_program(tmp_path):
    """An int8 file's "same as float" is its decisions against the float model's, not its
    QAT program's (its reference). At sensitivity_0.75 the bundled int8 program decides
    some of the 32 generated images unlike the float model."""
    from melanoma.export import onnx

    config = api.ExportConfig(
        targets=("onnx",),
        checkpoint="reference-supervised",
        quantize="int8",
        out_dir=tmp_path,
        target_sensitivity=0.75,
        threshold_name="sensitivity_0.75",
    )
    (result,) = api.export_checkpoint(config)
    checkpoint = load_checkpoint("reference-supervised")
    samples = verify.load_samples(None)
    inputs = verify.sample_inputs(samples, checkpoint.meta.mean, checkpoint.meta.std)
    (threshold,) = [t for t in result.manifest.thresholds if t.name == "sensitivity_0.75"]
    cut = verify.decision_cut(threshold.probability)
    float_flags = verify.reference_logits(checkpoint.model, inputs)[:, 0] >= cut
    int8_flags = onnx.load(result.artifact)(inputs)[:, 0] >= cut
    agreement = result.manifest.verification.float_decision_agreement
    assert agreement == np.mean(float_flags == int8_flags) < 1


def test_a_hand_edited_normalization_is_refused_when_data_is_given(
    export_source, dataset, tmp_path, quick_config
):
    """metadata.json's mean goes into every manifest and no sha256 covers it: on the data
    it trained on, the checkpoint must still give the predictions its thresholds came from."""
    edited = tmp_path / "edited"
    shutil.copytree(export_source, edited, ignore=shutil.ignore_patterns("qat"))
    meta = json.loads((edited / "metadata.json").read_text())
    meta["mean"][0] += 0.01
    (edited / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="no longer gives the predictions in .*mean"):
        api.export_checkpoint(quick_config(edited, tmp_path / "out", data=dataset))
    assert not (tmp_path / "out").exists()


def test_int8_from_a_float_checkpoint_runs_qat_once(
    float_only_checkpoint, dataset, tmp_path, agreement_on_labeled
):
    config = api.ExportConfig(
        targets=("onnx",),
        checkpoint=str(float_only_checkpoint),
        quantize="int8",
        data=dataset,
        out_dir=tmp_path,
        qat=QATConfig(epochs=0, use_unlabeled=False, progress=False),
    )
    with agreement_on_labeled():
        (result,) = api.export_checkpoint(config)
    program = tmp_path / "qat-quick-float" / "program.pt2"
    assert result.status == "passed" and program.is_file()
    assert result.manifest.source_checkpoint_sha256 == checkpoint_sha256(float_only_checkpoint)
    stamp = program.stat().st_mtime_ns
    # Again, without data: the QAT program in --out is found and reused, not redone. The
    # lookup does not depend on the target, and an ExecuTorch lowering would add ~30 s.
    again = dataclasses.replace(config, data=None)
    (reused,) = api.export_checkpoint(again)
    assert reused.status == "passed" and program.stat().st_mtime_ns == stamp
    assert (
        reused.manifest.quantization.program_sha256 == result.manifest.quantization.program_sha256
    )


def test_int8_without_program_or_data_is_a_user_error(float_only_checkpoint, tmp_path):
    config = api.ExportConfig(
        targets=("onnx",), checkpoint=str(float_only_checkpoint), quantize="int8", out_dir=tmp_path
    )
    with pytest.raises(UserError, match="pass --data, or run melanoma qat .* first") as err:
        api.export_checkpoint(config)
    assert f"--out {float_only_checkpoint / 'qat'}" in str(err.value)


def test_a_precision_no_chosen_target_offers_is_refused_before_any_work(
    float_only_checkpoint, tmp_path
):
    """Not 'not offered' and exit 0 with an empty folder, nor QAT for nothing."""
    config = api.ExportConfig(
        targets=("torchscript",),
        checkpoint=str(float_only_checkpoint),
        quantize="int8",
        out_dir=tmp_path / "out",
    )
    with pytest.raises(UserError, match="int8: executorch, onnx, coreml$"):
        api.export_checkpoint(config)
    assert not (tmp_path / "out").exists()


def test_error_cases(export_source, tmp_path, quick_config):
    with pytest.raises(UnknownTarget, match="executorch, onnx, coreml, torchscript"):
        api.export_checkpoint(api.ExportConfig(targets=("tflite",)))
    with pytest.raises(UserError, match="quantize"):
        api.export_checkpoint(quick_config(export_source, tmp_path, quantize="int4"))
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(UserError, match="output directory"):
        api.export_checkpoint(quick_config(export_source, blocker / "out"))
    corrupt = tmp_path / "corrupt"
    shutil.copytree(export_source, corrupt)
    (corrupt / "weights.pt").write_bytes(b"truncated")
    with pytest.raises(CheckpointError):
        api.export_checkpoint(quick_config(corrupt, tmp_path / "out"))


@pytest.mark.parametrize("field", ["mean", "thresholds"])
def test_an_int8_program_whose_copied_metadata_was_edited_is_refused(
    export_source, tmp_path, field, quick_config
):
    """The int8 manifests take mean, std and thresholds from qat/metadata.json, which the
    program's sha256 does not cover."""
    source = shutil.copytree(export_source, tmp_path / "source")
    path = source / "qat" / "metadata.json"
    meta = json.loads(path.read_text())
    if field == "mean":
        meta["mean"][0] += 0.01
    else:
        meta["thresholds"][0]["probability"] = 0.99
    path.write_text(json.dumps(meta))
    config = quick_config(source, tmp_path / "out", targets=("onnx",), quantize="int8")
    with pytest.raises(CheckpointError, match=f"qat/metadata.json: {field} differs from its"):
        api.export_checkpoint(config)
    assert not (tmp_path / "out").exists()


def test_a_target_sensitivity_threshold_joins_the_stored_ones(
    export_source, tmp_path, quick_config
):
    """Chosen, like evaluate --target-sensitivity, on the kept out-of-fold predictions."""
    checkpoint = load_checkpoint(export_source)
    name, probability = decision_threshold(checkpoint, target_sensitivity=0.95)
    labels, probs = read_scores(export_source / OUT_OF_FOLD_CSV)
    (result,) = api.export_checkpoint(
        quick_config(export_source, tmp_path, target_sensitivity=0.95)
    )
    thresholds = json.loads(manifest_path(result.artifact).read_text())["thresholds"]
    stored = [t["name"] for t in checkpoint.meta.thresholds]
    assert [t["name"] for t in thresholds] == [*stored, "sensitivity_0.95"]
    added = thresholds[-1]
    assert added["probability"] == probability and name == "sensitivity_0.95"
    assert added["val_sensitivity"] == np.mean(probs[labels == 1] >= probability) >= 0.95
    assert added["val_specificity"] == np.mean(probs[labels == 0] < probability)
    # a target that is stored already is not repeated
    (again,) = api.export_checkpoint(quick_config(export_source, tmp_path, target_sensitivity=0.9))
    assert [t.name for t in again.manifest.thresholds] == stored


def test_samples_name_data_given_as_dot_by_its_folder(tmp_path, jpegs, monkeypatch):
    from melanoma.datasets import load_dataset

    melanoma, benign = jpegs
    for split in ("labeled", "test"):
        (tmp_path / "moles" / split).mkdir(parents=True)
        for i, data in enumerate(melanoma + benign):
            (tmp_path / "moles" / split / f"{i}_{int(i < len(melanoma))}.jpg").write_bytes(data)
    monkeypatch.chdir(tmp_path / "moles")
    dataset = load_dataset(".")
    assert verify.load_samples(dataset).source == (
        f"8 test images of moles (fingerprint {dataset.fingerprint})"
    )


def test_a_checkpoint_that_scores_nan_is_refused_before_anything_is_written(
    tmp_path, replace_weights
):
    """Finite weights can still score NaN (a negative BatchNorm variance); the checks then
    compared NaN with NaN: every artifact 'failed', every decision 'the same as float'."""
    from melanoma.checkpoint import resolve_checkpoint_dir

    broken = shutil.copytree(resolve_checkpoint_dir("reference-supervised"), tmp_path / "ck")
    shutil.rmtree(broken / "qat")
    state = torch.load(broken / "weights.pt", weights_only=True)
    name = next(k for k in state if k.endswith("running_var"))
    state[name] = -state[name]
    replace_weights(broken, state)
    config = api.ExportConfig(
        targets=("onnx",), quantize="none", checkpoint=str(broken), out_dir=tmp_path / "art"
    )
    with pytest.raises(CheckpointError, match="scores 32 of 32 images as NaN"):
        api.export_checkpoint(config)
    assert not (tmp_path / "art").exists()


def test_an_export_leaves_the_callers_random_stream_where_it_was(tmp_path, quick_config):
    """The exporters trace with torch.randn inputs (and loading builds a model): a seeded
    script's stream moved on every export."""
    config = quick_config("reference-supervised", tmp_path)
    before = torch.get_rng_state()
    api.export_checkpoint(config)
    assert torch.equal(torch.get_rng_state(), before)
