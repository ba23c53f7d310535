"""The validation predictions a checkpoint keeps, and thresholds re-chosen from them."""

import shutil

import numpy as np
import pytest

from melanoma.checkpoint import REFERENCE_DIR, CheckpointError, load_checkpoint
from melanoma.metrics import confusion_metrics
from melanoma.validation_scores import (
    OUT_OF_FOLD_CSV,
    VALIDATION_CSV,
    decision_threshold,
    read_scores,
    write_scores,
)


def test_scores_round_trip_as_the_models_float32(tmp_path):
    probs = np.array([0.1, 0.7, 0.2, 0.9], dtype=np.float32) / np.float32(3)
    write_scores(tmp_path / VALIDATION_CSV, ["a", "b", "c", "d"], [0, 1, 0, 1], probs)
    labels, read = read_scores(tmp_path)
    assert labels.tolist() == [0, 1, 0, 1]
    assert read.dtype == np.float32 and read.tolist() == probs.tolist()
    assert (tmp_path / VALIDATION_CSV).read_text().splitlines()[0] == "name,label,probability"


def test_out_of_fold_scores_keep_their_folds(tmp_path):
    write_scores(tmp_path / OUT_OF_FOLD_CSV, ["a", "b"], [0, 1], [0.25, 0.75], folds=[1, 0])
    lines = (tmp_path / OUT_OF_FOLD_CSV).read_text().splitlines()
    assert lines == ["name,label,fold,probability", "a,0,1,0.25", "b,1,0,0.75"]


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("name,label\na,0\n", "not a validation predictions CSV"),
        ("name,label,probability\na,0,0.2\nb,0,0.4\n", "labels 0 and 1"),
        ("name,label,probability\na,0,0.2\nb,1,nan\n", r"probabilities in \[0, 1\]"),
        ("name,label,probability\na,zero,0.2\n", "not a validation predictions CSV"),
    ],
)
def test_a_broken_scores_file_is_named(tmp_path, text, complaint):
    (tmp_path / VALIDATION_CSV).write_text(text)
    with pytest.raises(CheckpointError, match=complaint) as caught:
        read_scores(tmp_path)
    assert VALIDATION_CSV in str(caught.value)


def test_a_checkpoint_without_scores_says_only_stored_thresholds_work(tmp_path):
    with pytest.raises(CheckpointError, match="keeps no validation predictions"):
        read_scores(tmp_path)


def test_a_stored_threshold_is_found_by_name_or_by_value():
    checkpoint = load_checkpoint("reference-supervised")
    stored = checkpoint.meta.threshold("sensitivity_0.90")
    assert decision_threshold(checkpoint) == ("youden", checkpoint.meta.threshold())
    assert decision_threshold(checkpoint, "sensitivity_0.9") == ("sensitivity_0.9", stored)
    with pytest.raises(CheckpointError, match="no threshold 'sensitivity_x'"):
        checkpoint.meta.threshold("sensitivity_x")


@pytest.mark.parametrize("method", ["supervised", "sgan"])
def test_a_target_sensitivity_is_reached_on_validation_without_retraining(method):
    checkpoint = load_checkpoint(f"reference-{method}")
    labels, probs = read_scores(checkpoint.path)
    assert decision_threshold(checkpoint, target_sensitivity=0.9) == (
        "sensitivity_0.90",
        checkpoint.meta.threshold("sensitivity_0.90"),
    )
    name, threshold = decision_threshold(checkpoint, target_sensitivity=0.975)
    assert name == "sensitivity_0.975"
    assert threshold < checkpoint.meta.threshold("sensitivity_0.90")
    assert confusion_metrics(labels, probs, threshold)["sensitivity"] >= 0.975


def test_an_sgan_checkpoint_without_validation_csv_cannot_rechoose(tmp_path):
    shutil.copytree(REFERENCE_DIR / "sgan", tmp_path / "old", ignore=shutil.ignore_patterns("qat"))
    (tmp_path / "old" / VALIDATION_CSV).unlink()
    old = load_checkpoint(tmp_path / "old")
    assert decision_threshold(old, "youden")[1] == old.meta.threshold()
    with pytest.raises(CheckpointError, match="keeps no validation predictions"):
        decision_threshold(old, target_sensitivity=0.95)
