"""load_checkpoint, and QAT, on a folder another process holds as `melanoma train` does."""

import json
import shutil

import pytest

import melanoma.checkpoint as checkpoint_module
import melanoma.evaluate as evaluate_module
import melanoma.qat as qat_module
from melanoma.checkpoint import (
    METADATA,
    WEIGHTS,
    CheckpointError,
    checkpoint_sha256,
    load_checkpoint,
    loaded_checkpoint_sha256,
    resolve_checkpoint_dir,
)
from melanoma.errors import UserError
from melanoma.evaluate import evaluate_on_data
from melanoma.predict import decided_by
from melanoma.qat import QATConfig, qat_finetune
from melanoma.validation_scores import OUT_OF_FOLD_CSV, decision_threshold

from other_process import HOLDS_A_RUN_DIR, other_process

# What a load says of a folder a writer holds, whichever it is: flock does not say.
HELD = (
    r"another run \(train, compare, qat, nested-cv, melanoma-export or melanoma-bench\) holds "
    "this folder; wait for it to end"
)

# Holds a folder as melanoma-export does while it writes into its --out (export.api).
HOLDS_AS_AN_EXPORT = """
import sys
from pathlib import Path
from melanoma.atomic import folder_locked, output_dir

with output_dir(Path(sys.argv[1])) as out, folder_locked(out):
    print("holding", flush=True)
    sys.stdin.readline()
"""

# A reader's shared lock on a folder, as another evaluate's probe takes it, or a benchmark
# reading the artifacts in it.
READS_A_FOLDER = """
import sys
from pathlib import Path
from melanoma.atomic import folder_locked

with folder_locked(Path(sys.argv[1]), shared=True):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_a_checkpoint_a_training_run_is_rewriting_is_refused_as_such(tmp_path):
    """evaluate or predict while a fresh train rewrote the folder (the old files deleted)
    said "no metadata.json (not a checkpoint directory)", as if the path were wrong."""
    out = tmp_path / "run"
    with other_process(HOLDS_A_RUN_DIR, out, ready="holding"):
        with pytest.raises(CheckpointError, match=HELD):
            load_checkpoint(out)
    with pytest.raises(CheckpointError, match="no metadata.json"):  # once the run is gone
        load_checkpoint(out)


def test_a_folder_an_export_is_writing_into_is_not_said_to_be_training(tmp_path):
    """An export's --out given as the checkpoint, while melanoma-export wrote into it, was
    refused as "a training run is writing this checkpoint": no training run was there."""
    out = tmp_path / "artifacts"
    with other_process(HOLDS_AS_AN_EXPORT, out, ready="holding"):
        with pytest.raises(CheckpointError, match=HELD):
            load_checkpoint(out)


def test_a_qat_into_a_folder_another_run_holds_is_refused_before_it_trains(
    quick_checkpoint, dataset, tmp_path, monkeypatch
):
    """Two QATs into one --out each renamed its program, then its metadata: one run's
    program could end beside the other's metadata. The second is refused before its
    fine-tuning, not after minutes of it."""

    def trained(*args):
        raise AssertionError("QAT fine-tuned into a folder another run holds")

    monkeypatch.setattr("melanoma.qat.train_qat", trained)
    out = tmp_path / "qat"
    with other_process(HOLDS_A_RUN_DIR, out, ready="holding"):
        with pytest.raises(UserError, match=HELD):
            qat_finetune(load_checkpoint(quick_checkpoint), dataset, QATConfig(), out)
    assert list(out.iterdir()) == []


def test_kept_predictions_a_training_run_deleted_are_refused_as_such(quick_checkpoint, tmp_path):
    """A fresh train deletes out_of_fold.csv with the rest as it starts: load_checkpoint's
    own check of the stored thresholds against it must say a run holds the folder."""
    ckpt = tmp_path / "run"
    shutil.copytree(quick_checkpoint, ckpt)
    with other_process(HOLDS_A_RUN_DIR, ckpt, ready="holding"):
        (ckpt / OUT_OF_FOLD_CSV).unlink()
        with pytest.raises(CheckpointError, match=HELD):
            load_checkpoint(ckpt)


def test_what_is_read_again_after_the_load_says_a_training_run_deleted_it(
    quick_checkpoint, tmp_path
):
    """evaluate reads the kept predictions (--target-sensitivity) and hashes the weights and
    metadata (its report's checkpoint_sha256) seconds after the load, once the data is
    read: a fresh train starting meanwhile made it say "weights.pt: No such file or
    directory", or that the checkpoint keeps no out_of_fold.csv."""
    ckpt = tmp_path / "run"
    shutil.copytree(quick_checkpoint, ckpt)
    checkpoint = load_checkpoint(ckpt)
    with other_process(HOLDS_A_RUN_DIR, ckpt, ready="holding"):
        (ckpt / OUT_OF_FOLD_CSV).unlink()
        with pytest.raises(CheckpointError, match=HELD):
            decision_threshold(checkpoint, target_sensitivity=0.9)
        (ckpt / WEIGHTS).unlink()
        with pytest.raises(CheckpointError, match=HELD):
            checkpoint_sha256(ckpt)
    with pytest.raises(FileNotFoundError):  # once the run is gone: the file is missing
        checkpoint_sha256(ckpt)


def test_a_broken_checkpoint_another_reader_holds_is_not_said_to_be_training(tmp_path):
    """Readers share the lock: a second evaluate, or a benchmark reading the folder, must
    not turn the real reason into "another run ... holds this folder"."""
    folder = tmp_path / "not-a-checkpoint"
    folder.mkdir()
    with other_process(READS_A_FOLDER, folder, ready="holding"):
        with pytest.raises(CheckpointError, match="no metadata.json"):
            load_checkpoint(folder)


def test_a_qat_whose_source_another_run_rewrote_meanwhile_writes_nothing(
    quick_checkpoint, dataset, tmp_path, monkeypatch
):
    """The int8 program's metadata took the source's sha256 after QAT: a train that rewrote
    the source meanwhile had its new checkpoint named as the source of the old one's
    program, which the exporter then refused as an edited threshold."""
    source = tmp_path / "float"
    shutil.copytree(quick_checkpoint, source)
    checkpoint = load_checkpoint(source)

    def rewritten_meanwhile(*args):
        (source / "metadata.json").write_text((source / "metadata.json").read_text() + " ")
        return object()  # never saved: the rewrite is caught before

    monkeypatch.setattr("melanoma.qat.train_qat", rewritten_meanwhile)
    with pytest.raises(UserError, match="another run rewrote this checkpoint during QAT"):
        qat_finetune(checkpoint, dataset, QATConfig(), tmp_path / "qat")
    assert not (tmp_path / "qat").exists()  # the folder it made goes with the run


def test_a_qat_whose_source_another_run_rewrote_since_the_load_writes_nothing(
    quick_checkpoint, dataset, tmp_path
):
    """The CLI loads the checkpoint, then reads the data: a train (another method) that
    finished meanwhile left no out_of_fold.csv for check_reproduces_scores to compare, and
    QAT wrote the old model's int8 program naming the new checkpoint as its source, which
    melanoma-export then refused as 'method differs ... (edited?)'."""
    source = tmp_path / "float"
    shutil.copytree(quick_checkpoint, source)
    checkpoint = load_checkpoint(source)
    _rewritten_as_reference_sgan(source)
    config = QATConfig(epochs=0, use_unlabeled=False, progress=False)
    with pytest.raises(CheckpointError, match="another run rewrote this checkpoint since"):
        qat_finetune(checkpoint, dataset, config, source / "qat")
    assert not (source / "qat").exists()


def test_a_qat_names_the_source_it_loaded_if_a_run_rewrites_it_as_the_files_are_written(
    quick_checkpoint, dataset, tmp_path, monkeypatch, agreement_on_labeled
):
    """After the check that follows the fine-tuning, the program is saved and the metadata
    measured (seconds): a train that ended then must not be named as the source of the
    program QAT made from the model it loaded, as a hash taken then would."""
    source = tmp_path / "float"
    shutil.copytree(quick_checkpoint, source)
    loaded = checkpoint_sha256(source)
    save = qat_module._save_program

    def a_train_ends_meanwhile(program, path):
        save(program, path)
        _rewritten_as_reference_sgan(source)

    monkeypatch.setattr(qat_module, "_save_program", a_train_ends_meanwhile)
    config = QATConfig(epochs=0, use_unlabeled=False, progress=False)
    with agreement_on_labeled():
        qat_finetune(load_checkpoint(source), dataset, config, tmp_path / "qat")
    written = json.loads((tmp_path / "qat" / METADATA).read_text())["train_config"]
    assert written["source_checkpoint_sha256"] == loaded != checkpoint_sha256(source)


def _rewritten_as_reference_sgan(folder) -> None:
    """The files a `train --method sgan` into the folder leaves, as another run would."""
    (folder / OUT_OF_FOLD_CSV).unlink()
    for name in (WEIGHTS, "metadata.json", "validation.csv"):
        shutil.copy(resolve_checkpoint_dir("reference-sgan") / name, folder / name)


def test_a_rewrite_keeping_its_own_predictions_is_refused_as_a_rewrite_not_an_edit(
    quick_checkpoint, dataset, tmp_path, monkeypatch
):
    """A supervised train that ended after the load leaves its own out_of_fold.csv, which
    the model loaded does not reproduce: compared first, QAT and evaluate would call the
    rewrite a hand-edited mean or std."""
    folder = tmp_path / "float"
    shutil.copytree(quick_checkpoint, folder)
    checkpoint = load_checkpoint(folder)
    _rewritten_as_reference_supervised(folder)
    config = QATConfig(epochs=0, use_unlabeled=False, progress=False)
    with pytest.raises(CheckpointError, match="another run rewrote this checkpoint since"):
        qat_finetune(checkpoint, dataset, config, tmp_path / "qat")
    _evaluate_refuses_a_rewrite_as_it_reads_the_data(
        quick_checkpoint, folder, dataset, monkeypatch, _rewritten_as_reference_supervised
    )


def _rewritten_as_reference_supervised(folder) -> None:
    """The files a supervised `train` into the folder leaves, its kept predictions too."""
    for name in (WEIGHTS, "metadata.json", OUT_OF_FOLD_CSV, "history.csv"):
        shutil.copy(resolve_checkpoint_dir("reference-supervised") / name, folder / name)


def test_evaluate_and_predict_name_the_checkpoint_they_loaded_or_refuse(
    quick_checkpoint, dataset, tmp_path, monkeypatch
):
    """Their reports hashed the folder seconds after the load (evaluate once the data was
    read): a train that finished meanwhile had its new checkpoint named beside the old
    one's figures and decisions."""
    folder = tmp_path / "float"
    shutil.copytree(quick_checkpoint, folder)
    checkpoint = load_checkpoint(folder)
    _rewritten_as_reference_sgan(folder)
    with pytest.raises(CheckpointError, match="another run rewrote this checkpoint since"):
        decided_by(str(folder), checkpoint, "youden", 0.5)
    _evaluate_refuses_a_rewrite_as_it_reads_the_data(
        quick_checkpoint, folder, dataset, monkeypatch, _rewritten_as_reference_sgan
    )


def _evaluate_refuses_a_rewrite_as_it_reads_the_data(
    quick_checkpoint, folder, dataset, monkeypatch, rewrite
) -> None:
    """evaluate loads the checkpoint, then reads the data (seconds): `rewrite`, a train
    that ends meanwhile, must be refused, not named in the old model's report."""
    shutil.rmtree(folder)
    shutil.copytree(quick_checkpoint, folder)

    def read_while_a_train_ends(data):
        rewrite(folder)
        return dataset

    monkeypatch.setattr(evaluate_module, "load_dataset", read_while_a_train_ends)
    with pytest.raises(CheckpointError, match="another run rewrote this checkpoint since"):
        evaluate_on_data(str(folder), None)


def test_a_rerun_whose_weights_came_out_the_same_is_not_taken_for_the_loaded_one(
    quick_checkpoint, tmp_path
):
    """A train rerun with only another --target-sensitivity gives bit-identical weights
    (1 epoch, 2 folds, seed 0, at 0.9 then 0.8: one weights_sha256 on 2026-12-07), with
    other thresholds: the weights' sha256 alone would name that checkpoint as the one
    loaded. Its metadata.json says it was made later."""
    folder = tmp_path / "float"
    shutil.copytree(quick_checkpoint, folder)
    checkpoint = load_checkpoint(folder)
    meta = json.loads((folder / METADATA).read_text())
    meta["created_utc"] = "2099-01-01T00:00:00+00:00"  # the rerun's, weights_sha256 unchanged
    (folder / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
    with pytest.raises(CheckpointError, match="another run rewrote this checkpoint since"):
        loaded_checkpoint_sha256(checkpoint)


def test_a_checkpoint_a_run_starts_to_rewrite_right_after_the_hash_is_refused(
    quick_checkpoint, tmp_path, monkeypatch
):
    """A train clears the old files as it starts: its metadata.json gone between the hash
    and the read that compares it with the loaded one must refuse, not raise a traceback
    or name the hash of a folder being rewritten."""
    folder = tmp_path / "float"
    shutil.copytree(quick_checkpoint, folder)
    checkpoint = load_checkpoint(folder)
    hashed = checkpoint_module.checkpoint_sha256

    def a_run_starts_right_after(ckpt_dir):
        sha256 = hashed(ckpt_dir)
        (ckpt_dir / METADATA).unlink()
        return sha256

    monkeypatch.setattr(checkpoint_module, "checkpoint_sha256", a_run_starts_right_after)
    with pytest.raises(CheckpointError, match="another run rewrote this checkpoint since"):
        loaded_checkpoint_sha256(checkpoint)


def test_evaluate_names_the_checkpoint_it_measured_if_a_run_rewrites_it_after_the_check(
    quick_checkpoint, dataset, tmp_path, monkeypatch
):
    """The figures are the loaded model's: a train that ends while evaluate measures them
    must not have its checkpoint named in the report, as a hash taken at the end would."""
    folder = tmp_path / "float"
    shutil.copytree(quick_checkpoint, folder)
    loaded = checkpoint_sha256(folder)
    measure = evaluate_module.evaluate_checkpoint

    def a_train_ends_meanwhile(*args, **kwargs):
        report = measure(*args, **kwargs)
        _rewritten_as_reference_sgan(folder)
        return report

    monkeypatch.setattr(evaluate_module, "load_dataset", lambda data: dataset)
    monkeypatch.setattr(evaluate_module, "evaluate_checkpoint", a_train_ends_meanwhile)
    report = evaluate_on_data(str(folder), None)
    assert report["checkpoint_sha256"] == loaded != checkpoint_sha256(folder)
