"""melanoma.qat: the prepared graph, a short real QAT, the saved directory and the `qat` command."""

import hashlib
import io
import json
import logging
import shutil
import signal
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import melanoma.atomic as atomic_module
import melanoma.qat as qat_module
import melanoma.qat_out_dir as qat_out_dir
from melanoma.checkpoint import (
    REFERENCE_NAMES,
    CheckpointError,
    checkpoint_sha256,
    load_checkpoint,
)
from melanoma.inference import predict_probs
from melanoma.metrics import auc
from melanoma.pt2e import program_probs
from melanoma.qat import QATConfig, qat_finetune
from melanoma.qat_checkpoint import PROGRAM, find_qat, load_qat
from melanoma.qat_metadata import qat_meta
from melanoma.splits import checkpoint_split
from melanoma.versions import toolkit_source

# The quick checkpoint (a 5-member ensemble, 6 epochs each) after 1 QAT epoch of the
# `qat` command; its int8 copy must reproduce it closely. Measured (seed 0, 2026-12-04):
# max |dp| 0.092 on one image, mean |dlogit| 0.012, agreement 99.8%. The release gate is
# melanoma-bench's, on the real QAT program.
PROB_TOLERANCE = 0.15  # max |int8 - float| P(melanoma) over the 600 test images
MEAN_LOGIT_TOLERANCE = 0.05  # mean |int8 - float| logit (the max is set by saturating extremes)
MIN_AGREEMENT = 0.985  # decisions at the stored youden threshold
FAST = QATConfig(epochs=1, calibration_unlabeled=256, progress=False)  # the settings recorded


@pytest.fixture(scope="module")
def float_dir(quick_checkpoint, tmp_path_factory):
    """A private copy of the session's quick checkpoint, so qat/ can be written inside it."""
    copy = tmp_path_factory.mktemp("qat") / "float"
    shutil.copytree(quick_checkpoint, copy)
    return copy


@pytest.fixture(scope="module")
def qat_run(melanoma, float_dir, data_path):
    """One real QAT epoch through the `qat` command, into float_dir/qat where exporters look
    (one run serves the command's test and the program's: each costs ~40 s)."""
    result = melanoma("qat", float_dir, "--data", data_path, "--out", float_dir / "qat",
                      "--epochs", "1", "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def qat_dir(qat_run, float_dir):
    return float_dir / "qat"


def test_qat_program_tracks_the_float_model(qat_dir, float_dir, dataset):
    source = load_checkpoint(float_dir)
    qat = load_qat(qat_dir)
    meta = source.meta
    float_p = predict_probs(source.model, dataset.test.images, meta.mean, meta.std)
    int8_p = program_probs(qat.program, dataset.test.images, meta.mean, meta.std)

    def logit(p):
        return np.log(p / (1 - p))

    threshold = meta.threshold("youden")
    agreement = np.mean((int8_p >= threshold) == (float_p >= threshold))
    mean_dlogit = np.abs(logit(int8_p) - logit(float_p)).mean()
    print(f"max |dp| {np.abs(int8_p - float_p).max():.4f}, mean |dlogit| {mean_dlogit:.4f}, "
          f"agreement {agreement:.4f}")  # fmt: skip
    assert np.abs(int8_p - float_p).max() < PROB_TOLERANCE
    assert mean_dlogit < MEAN_LOGIT_TOLERANCE
    assert agreement >= MIN_AGREEMENT
    # Dynamic batch: one image and an odd batch give the same answers as the full pass.
    one = program_probs(qat.program, dataset.test.images[:1], meta.mean, meta.std)
    seven = program_probs(qat.program, dataset.test.images[:7], meta.mean, meta.std)
    np.testing.assert_allclose(one, int8_p[:1], atol=1e-6)
    np.testing.assert_allclose(seven, int8_p[:7], atol=1e-6)


def test_saved_directory_round_trips(qat_dir, float_dir):
    source = load_checkpoint(float_dir).meta
    qat = load_qat(qat_dir)
    for name in ("method", "arch", "arch_args", "mean", "std", "thresholds", "seed"):
        assert getattr(qat.meta, name) == getattr(source, name), name
    config = qat.meta.train_config
    assert config["kind"] == "qat-int8"
    assert config["source_checkpoint_sha256"] == checkpoint_sha256(float_dir)
    assert config["epochs"] == 1 and config["validation"] == "out-of-fold"
    assert (qat.meta.epochs, qat.meta.best_epoch) == (1, 1)  # QAT's, not the source's 6
    assert qat.meta.toolkit_source == toolkit_source()  # the build that ran QAT
    # A cross-validated ensemble has no unseen labeled image: its out-of-fold float
    # metrics are kept, and int8 agreement is measured on the unlabeled pool instead.
    assert not config["int8_val_measured"] and qat.meta.val_metrics == source.val_metrics
    assert config["agreement_images"] == "unlabeled" and config["n_agreement"] == 7018
    assert config["agreement_with_source"] >= MIN_AGREEMENT
    assert find_qat(float_dir) == qat_dir
    assert (qat_dir / PROGRAM).stat().st_size < 2_000_000  # int8 weights only, no fp32 copies


def test_find_qat_ignores_a_stale_or_missing_qat_and_says_why(qat_dir, float_dir, tmp_path, caplog):
    other = tmp_path / "float"
    shutil.copytree(float_dir, other)
    meta = json.loads((other / "metadata.json").read_text())
    meta["created_utc"] = "retrained"  # a different float checkpoint with the old qat/ inside
    (other / "metadata.json").write_text(json.dumps(meta))
    assert find_qat(other) is None
    assert "qat: made from another float checkpoint (sha256 " in caplog.text
    (other / "qat" / "metadata.json").write_text("{")
    assert find_qat(other) is None
    assert "qat: unreadable (" in caplog.text and "corrupt metadata" in caplog.text
    shutil.rmtree(other / "qat")
    assert find_qat(other) is None


def _with_matching_sha256(qat: Path, program_bytes: bytes) -> None:
    (qat / PROGRAM).write_bytes(program_bytes)
    meta = json.loads((qat / "metadata.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(program_bytes).hexdigest()
    (qat / "metadata.json").write_text(json.dumps(meta))


def test_damaged_qat_directories_raise_checkpoint_error(
    qat_dir, float_dir, tmp_path, capfd, caplog
):
    broken = tmp_path / "qat"
    shutil.copytree(qat_dir, broken)
    program = broken / PROGRAM
    original = program.read_bytes()
    program.write_bytes(original[:5000])
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        load_qat(broken)
    _with_matching_sha256(broken, original[:5000])
    with pytest.raises(CheckpointError, match="unreadable exported program"):
        load_qat(broken)
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0xFF  # inside a member: its CRC no longer matches
    _with_matching_sha256(broken, bytes(flipped))
    with pytest.raises(CheckpointError, match="unreadable exported program.*corrupt member"):
        load_qat(broken)
    assert "Traceback" not in capfd.readouterr().err  # torch logs one if it gets that far
    # A sound zip but no .pt2 archive (a torch.save file): torch logs a traceback, then fails.
    _with_matching_sha256(broken, (float_dir / "weights.pt").read_bytes())
    with caplog.at_level(logging.WARNING):
        with pytest.raises(CheckpointError, match="unreadable exported program"):
            load_qat(broken)
    assert not [r for r in caplog.records if r.name == "torch.export"], caplog.text
    # A float program under a matching sha256: sound, loadable, and not int8.
    float_program = torch.export.export(
        load_checkpoint(float_dir).model, (torch.zeros(1, 3, 32, 32),)
    )
    torch.export.save(float_program, tmp_path / "float.pt2")
    _with_matching_sha256(broken, (tmp_path / "float.pt2").read_bytes())
    with pytest.raises(CheckpointError, match="program.pt2: not a converted int8 program"):
        load_qat(broken)
    # Sound zips with a member rewritten: torch raised TypeError and UnpicklingError there.
    for suffix, junk in (("models/model.json", b"{}"), ("sample_inputs/model.pt", b"\x80junk")):
        _with_matching_sha256(broken, _with_member_replaced(original, suffix, junk))
        with pytest.raises(CheckpointError, match="unreadable exported program"):
            load_qat(broken)
    program.unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        load_qat(broken)
    with pytest.raises(CheckpointError, match="not a QAT checkpoint.*qat"):
        load_qat(float_dir)
    with pytest.raises(CheckpointError, match="not found"):
        load_qat(tmp_path / "nowhere")


def _with_member_replaced(archive: bytes, suffix: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as copy:
        names = source.namelist()
        assert any(name.endswith(suffix) for name in names), names
        for name in names:
            copy.writestr(name, content if name.endswith(suffix) else source.read(name))
    return out.getvalue()


def test_ctrl_c_while_qat_is_saved_keeps_the_earlier_program_and_metadata(
    qat_dir, float_dir, dataset, tmp_path, monkeypatch, agreement_on_labeled
):
    """The metadata takes seconds to measure: the new program must not be in place by then."""
    out = tmp_path / "qat"
    shutil.copytree(qat_dir, out)  # an earlier QAT run of this checkpoint
    before = {name: (out / name).read_bytes() for name in (PROGRAM, "metadata.json")}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(qat_module, "qat_meta", interrupted)
    calibrated = QATConfig(epochs=0, calibration_unlabeled=64, progress=False)
    with pytest.raises(KeyboardInterrupt):
        qat_finetune(load_checkpoint(float_dir), dataset, calibrated, out)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # no temp files left
    load_qat(out)
    # Uninterrupted: the program is replaced first and metadata.json last, and a directory
    # torn between the two (metadata alone) is still taken for the QAT run it was.
    monkeypatch.undo()
    replaced, real_replace = [], atomic_module._replace
    monkeypatch.setattr(
        atomic_module,
        "_replace",
        lambda temp, final: (replaced.append(final.name), real_replace(temp, final)),
    )
    with agreement_on_labeled():
        qat_finetune(load_checkpoint(float_dir), dataset, calibrated, out)
    assert replaced == [PROGRAM, "metadata.json"]
    (out / PROGRAM).unlink()
    qat_out_dir._refuse_other_checkpoint(out)  # no error


@pytest.mark.usefixtures("pytests_signal_handlers")
def test_a_ctrl_c_between_the_program_and_its_metadata_waits_for_both(
    qat_dir, float_dir, dataset, tmp_path, monkeypatch, agreement_on_labeled
):
    """Ctrl-C right after the new program is renamed into place: the stop waits until
    metadata.json follows, so the folder holds one run's pair, not a new program beside
    the earlier run's metadata."""
    out = tmp_path / "qat"
    shutil.copytree(qat_dir, out)  # an earlier QAT run of this checkpoint
    real_replace = atomic_module._replace

    def replace_then_ctrl_c(temp, final):
        real_replace(temp, final)
        if final.name == PROGRAM:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(atomic_module, "_replace", replace_then_ctrl_c)
    # Python's own handler, whatever pytest inherited: started in the background
    # (`pytest &`), it runs with SIGINT ignored and the signal would never arrive.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    calibrated = QATConfig(epochs=0, calibration_unlabeled=64, progress=False)
    with agreement_on_labeled(), pytest.raises(KeyboardInterrupt):
        qat_finetune(load_checkpoint(float_dir), dataset, calibrated, out)
    monkeypatch.undo()
    assert (out / PROGRAM).read_bytes() != (qat_dir / PROGRAM).read_bytes()  # the new run's
    load_qat(out)  # its metadata with it


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_bundled_qat_matches_its_reference_and_the_issue_targets(name, dataset):
    source, qat = load_checkpoint(name), load_qat(name)
    assert find_qat(name) == qat.path  # made from exactly the bundled float weights
    assert (qat.path / PROGRAM).stat().st_size < 2_000_000
    labels, meta = dataset.test.labels.numpy(), source.meta
    float_p = predict_probs(source.model, dataset.test.images, meta.mean, meta.std)
    int8_p = program_probs(qat.program, dataset.test.images, meta.mean, meta.std)
    assert abs(auc(labels, int8_p) - auc(labels, float_p)) <= 0.005
    threshold = meta.threshold("youden")
    assert np.mean((int8_p >= threshold) == (float_p >= threshold)) >= 0.99


def test_the_recorded_agreement_compares_int8_with_float_decisions(dataset):
    """Measured, not assumed: another model's int8 program agrees with a float model on only
    some images, and the metadata must say how many (comparing int8 with itself gave 1.0)."""
    source, other = load_checkpoint("reference-sgan"), load_qat("reference-supervised")
    unlabeled = dataset.unlabeled.subset(torch.arange(300))
    splits = (dataset.labeled, None, unlabeled)
    sources = (None, "a source sha256")
    meta = qat_meta(source, other.program, splits, FAST, other.path / PROGRAM, sources)
    mean, std, threshold = source.meta.mean, source.meta.std, source.meta.threshold("youden")
    int8_p = program_probs(other.program, unlabeled.images, mean, std)
    float_p = predict_probs(source.model, unlabeled.images, mean, std)
    expected = np.mean((int8_p >= threshold) == (float_p >= threshold))
    assert meta.train_config["agreement_with_source"] == pytest.approx(expected)
    assert expected < 0.95 and meta.train_config["n_agreement"] == 300
    assert meta.train_config["source_checkpoint_sha256"] == "a source sha256"


def test_distillation_pulls_the_student_to_the_teachers_logit():
    """At temperature T the target is sigmoid(teacher / T), and the loss is scaled by T^2: at
    student = teacher it is T^2 times that target's entropy, and its minimum."""
    teacher, temperature = torch.tensor([2.0]), 2.0
    p = torch.sigmoid(teacher / temperature)
    entropy = -(p * p.log() + (1 - p) * (1 - p).log())
    at_teacher = qat_module.distill_loss(teacher, teacher, temperature)
    assert at_teacher.item() == pytest.approx(temperature**2 * entropy.item())
    for student in (teacher - 0.5, teacher + 0.5):
        assert qat_module.distill_loss(student, teacher, temperature) > at_teacher


def test_cli_qat_writes_a_loadable_directory(qat_run, qat_dir):
    assert f"wrote {qat_dir} (" in qat_run.stdout
    assert "decisions agree with float on 7018 unlabeled images" in qat_run.stdout
    assert load_qat(qat_dir).meta.train_config["epochs"] == 1


def test_cli_qat_broken_checkpoint_exits_2(melanoma, assert_one_line_error, tmp_path, data_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "metadata.json").write_text("{")
    result = melanoma("qat", tmp_path / "ckpt", "--data", data_path, "--out", tmp_path / "q")
    assert assert_one_line_error(result, "metadata.json").startswith("error:")
    assert not (tmp_path / "q").exists()


def test_qat_of_a_held_out_checkpoint_remeasures_validation_in_int8(dataset, tmp_path):
    """reference-sgan holds out 40 labeled images: int8 is validated on those, not the pool."""
    source = load_checkpoint("reference-sgan")
    config = QATConfig(seed=3, epochs=0, calibration_unlabeled=64, progress=False)  # no training
    qat = load_qat(qat_finetune(source, dataset, config, tmp_path / "qat"))
    train_config = qat.meta.train_config
    assert (train_config["seed"], train_config["split_seed"]) == (3, source.meta.seed)
    assert train_config["int8_val_measured"] and train_config["n_val"] == 40
    assert train_config["agreement_images"] == "validation" and train_config["n_agreement"] == 40
    assert train_config["val_fraction"] == source.meta.train_config["val_fraction"]
    _, val = checkpoint_split(dataset.labeled, source.meta.train_config, source.meta.seed)
    int8_probs = program_probs(qat.program, val.images, source.meta.mean, source.meta.std)
    assert qat.meta.val_metrics["auc"] == pytest.approx(auc(val.labels.numpy(), int8_probs))


def test_qat_of_an_ensemble_without_unlabeled_images(melanoma, real_jpegs, tmp_path):
    """Class folders have no unlabeled pool: agreement falls back to the labeled images.
    Through the `qat` command: --epochs 0 (calibrate only) and --seed reach QATConfig."""
    from melanoma.datasets import load_dataset
    from melanoma.train import TrainConfig, train_supervised

    for name, data in real_jpegs.items():
        if "/labeled/" in name:
            folder = tmp_path / "data" / ("malignant" if name.endswith("_1.jpg") else "benign")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name.rsplit("/", 1)[-1]).write_bytes(data)
    dataset = load_dataset(tmp_path / "data")
    assert dataset.unlabeled is None and len(dataset.labeled) == 16
    source = load_checkpoint(
        train_supervised(dataset, TrainConfig(epochs=1, progress=False), tmp_path / "float")
    )
    result = melanoma("qat", source.path, "--data", tmp_path / "data", "--out", tmp_path / "qat",
                      "--epochs", "0", "--seed", "5", "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "decisions agree with float on 16 labeled training images" in result.stdout
    train_config = load_qat(tmp_path / "qat").meta.train_config
    assert (train_config["epochs"], train_config["seed"]) == (0, 5)
    assert train_config["agreement_images"] == "labeled training"
    assert train_config["n_agreement"] == 16 and not train_config["int8_val_measured"]
