"""The validation predictions a checkpoint keeps, and thresholds re-chosen from them."""

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from melanoma.checkpoint import METADATA, REFERENCE_DIR, CheckpointError, load_checkpoint
from melanoma.errors import UserError
from melanoma.metrics import choose_thresholds, confusion_metrics
from melanoma.validation_scores import (
    OUT_OF_FOLD_CSV,
    VALIDATION_CSV,
    checkpoint_scores,
    decision_threshold,
    read_folds,
    read_scores,
    write_scores,
)


def test_scores_round_trip_as_the_models_float32(tmp_path):
    probs = np.array([0.1, 0.7, 0.2, 0.9], dtype=np.float32) / np.float32(3)
    path = tmp_path / VALIDATION_CSV
    write_scores(path, ["a", "b", "c", "d"], [0, 1, 0, 1], probs)
    labels, read = read_scores(path)
    assert labels.tolist() == [0, 1, 0, 1]
    assert read.dtype == np.float32 and read.tolist() == probs.tolist()
    assert path.read_text().splitlines()[0] == "name,label,probability"


def test_out_of_fold_scores_keep_their_folds(tmp_path):
    write_scores(tmp_path / OUT_OF_FOLD_CSV, ["a", "b"], [0, 1], [0.25, 0.75], folds=[1, 0])
    lines = (tmp_path / OUT_OF_FOLD_CSV).read_text().splitlines()
    assert lines == ["name,label,fold,probability", "a,0,1,0.25", "b,1,0,0.75"]


def test_scores_of_photos_whose_names_are_not_utf8_read_back(tmp_path):
    """Linux keeps a name's bytes (café in Latin-1) as surrogates, and write_csv writes them
    back as bytes: a strict read refused the file, so the model just trained could not be
    evaluated, exported or asked to predict."""
    names = [b"caf\xe9_0.jpg".decode("utf-8", "surrogateescape"), "b.jpg"]
    path = tmp_path / OUT_OF_FOLD_CSV
    write_scores(path, names, [0, 1], [0.25, 0.75], folds=[1, 0])
    assert b"caf\xe9_0.jpg" in path.read_bytes()
    labels, probs = read_scores(path)
    assert labels.tolist() == [0, 1] and probs.tolist() == [0.25, 0.75]
    assert read_folds(path) == [1, 0]


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("name,label\na,0\n", "not a validation predictions CSV"),
        ("name,label,probability\na,0,0.2\nb,0,0.4\n", "labels 0 and 1"),
        ("name,label,probability\na,0,0.2\nb,1,nan\n", r"probabilities in \[0, 1\]"),
        ("name,label,probability\na,zero,0.2\n", "not a validation predictions CSV"),
        ("name,label,probability\n", "lists no predictions"),
        ("", "lists no predictions"),
    ],
)
def test_a_broken_scores_file_is_named(tmp_path, text, complaint):
    (tmp_path / VALIDATION_CSV).write_text(text)
    with pytest.raises(CheckpointError, match=complaint) as caught:
        read_scores(tmp_path / VALIDATION_CSV)
    assert VALIDATION_CSV in str(caught.value)


def test_a_stored_threshold_is_found_by_name_or_by_value_and_named_as_stored():
    checkpoint = load_checkpoint("reference-supervised")
    stored = checkpoint.meta.threshold("sensitivity_0.90")
    assert decision_threshold(checkpoint) == ("youden", checkpoint.meta.threshold())
    assert decision_threshold(checkpoint, "sensitivity_0.9") == ("sensitivity_0.90", stored)
    with pytest.raises(CheckpointError, match="no threshold 'sensitivity_x'"):
        checkpoint.meta.threshold("sensitivity_x")


@pytest.mark.parametrize("method", ["supervised", "sgan"])
def test_a_target_sensitivity_is_reached_on_validation_without_retraining(method):
    checkpoint = load_checkpoint(f"reference-{method}")
    labels, probs = checkpoint_scores(checkpoint)
    assert decision_threshold(checkpoint, target_sensitivity=0.9) == (
        "sensitivity_0.90",
        checkpoint.meta.threshold("sensitivity_0.90"),
    )
    name, threshold = decision_threshold(checkpoint, target_sensitivity=0.975)
    assert name == "sensitivity_0.975"
    assert threshold < checkpoint.meta.threshold("sensitivity_0.90")
    assert confusion_metrics(labels, probs, threshold)["sensitivity"] >= 0.975


def test_a_target_sensitivity_out_of_range_or_named_otherwise_is_refused():
    """As the CLIs refuse them: 1.5 failed in numpy, and a second name was dropped."""
    checkpoint = load_checkpoint("reference-supervised")
    assert decision_threshold(checkpoint, "sensitivity_0.95", 0.95)[0] == "sensitivity_0.95"
    with pytest.raises(UserError, match="threshold favourite is not the one target sensitivity"):
        decision_threshold(checkpoint, "favourite", 0.95)
    for bad in (1.5, 0.2, float("nan")):
        with pytest.raises(UserError, match=f"target sensitivity {bad}: expected a sensitivity"):
            decision_threshold(checkpoint, target_sensitivity=bad)


def test_two_targets_never_share_a_name():
    checkpoint = load_checkpoint("reference-supervised")
    assert decision_threshold(checkpoint, target_sensitivity=0.9000001)[0] == (
        "sensitivity_0.9000001"
    )


@pytest.fixture
def sgan_copy(tmp_path):
    shutil.copytree(REFERENCE_DIR / "sgan", tmp_path / "sgan", ignore=shutil.ignore_patterns("qat"))
    return tmp_path / "sgan"


@pytest.fixture
def old_sgan_copy(sgan_copy):
    """reference-sgan's metadata as SGAN runs wrote it before 2026-12-03: no predictions sha256."""
    meta = json.loads((sgan_copy / METADATA).read_text())
    del meta["val_scores_sha256"]
    (sgan_copy / METADATA).write_text(json.dumps(meta))
    return sgan_copy


def test_each_method_reads_its_own_file_and_a_stray_one_is_ignored(sgan_copy):
    shutil.copy(REFERENCE_DIR / "supervised" / OUT_OF_FOLD_CSV, sgan_copy)  # a supervised run's
    sgan = load_checkpoint(sgan_copy)
    assert len(checkpoint_scores(sgan)[0]) == 40  # its validation.csv, not the 200 out-of-fold


def test_an_sgan_checkpoint_from_before_the_sha256_may_lack_its_predictions(old_sgan_copy):
    (old_sgan_copy / VALIDATION_CSV).unlink()  # as SGAN runs before 2026-12-03 left it
    sgan = load_checkpoint(old_sgan_copy)  # still loads: its stored thresholds are used unchecked
    assert decision_threshold(sgan, "youden")[1] == sgan.meta.threshold()
    with pytest.raises(CheckpointError, match="keeps no validation.csv"):
        decision_threshold(sgan, target_sensitivity=0.95)


def test_the_bundled_sgan_records_its_predictions_so_cannot_lose_them(sgan_copy):
    """Its metadata gained their sha256 on 2026-12-06; a copy without them went unchecked."""
    (sgan_copy / VALIDATION_CSV).unlink()
    with pytest.raises(CheckpointError, match=r"validation.csv: missing or not a file; "):
        load_checkpoint(sgan_copy)


@pytest.mark.parametrize("replace", [Path.unlink, lambda path: (path.unlink(), path.mkdir())])
def test_a_checkpoint_that_kept_its_predictions_must_still_have_them(
    quick_checkpoint, tmp_path, replace
):
    """Else deleting the file would let a hand-set threshold through unchecked."""
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    meta = json.loads((ckpt / METADATA).read_text())
    next(t for t in meta["thresholds"] if t["name"] == "youden")["probability"] = 0.01
    (ckpt / METADATA).write_text(json.dumps(meta))
    replace(ckpt / OUT_OF_FOLD_CSV)
    with pytest.raises(CheckpointError, match=r"out_of_fold.csv: missing or not a file; "):
        load_checkpoint(ckpt)


def test_a_cross_validated_checkpoint_from_before_the_sha256_must_still_have_its_predictions(
    quick_checkpoint, tmp_path
):
    """Only SGAN runs ever lacked their file; an older supervised one that lost it is refused."""
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    meta = json.loads((ckpt / METADATA).read_text())
    del meta["val_scores_sha256"]
    next(t for t in meta["thresholds"] if t["name"] == "youden")["probability"] = 0.01
    (ckpt / METADATA).write_text(json.dumps(meta))
    (ckpt / OUT_OF_FOLD_CSV).unlink()
    with pytest.raises(CheckpointError, match=r"out_of_fold.csv: missing or not a file; "):
        load_checkpoint(ckpt)


def test_probabilities_of_exactly_0_and_1_are_valid_predictions(tmp_path):
    """float32's sigmoid reaches 1.0 from a logit of about 17 (and 0.0 far below)."""
    path = tmp_path / VALIDATION_CSV
    write_scores(path, ["a", "b", "c"], [0, 1, 1], np.array([0.0, 1.0, 0.5], np.float32))
    assert read_scores(path)[1].tolist() == [0.0, 1.0, 0.5]


def _inverted(labels, probs):
    return labels, 1 - probs


def _top_nudged(labels, probs):
    """Ranks, AUC and the sensitivity cutoff stay; the binormal Youden fit moves."""
    probs = probs.copy()
    top = probs.argmax()
    probs[top] = probs[top] + (1 - probs[top]) / 2
    return labels, probs


def _one_pair_swapped(labels, probs):
    """A benign image and the melanoma just above it in rank trade scores: AUC -1/400."""
    probs, order = probs.copy(), np.argsort(probs, kind="stable")
    pairs = zip(order[:-1], order[1:], strict=True)
    low, high = next((a, b) for a, b in pairs if labels[a] < labels[b])
    probs[[low, high]] = probs[[high, low]]
    return labels, probs


def _one_duplicated(labels, probs):
    return np.append(labels, labels[0]), np.append(probs, probs[0])


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (_inverted, "its AUC is 0.1375, not the stored 0.8625.*; edited, or from another model"),
        (_top_nudged, "youden threshold 0.239485 is not the .* on validation.csv; one was edited"),
        (_one_duplicated, "lists 41 predictions, not the 40.*; edited, or from another model"),
        (_one_pair_swapped, "its AUC is 0.8600, not the stored 0.8625.*; edited, or from"),
    ],
)
def test_kept_predictions_that_do_not_reproduce_what_training_stored_are_refused(
    old_sgan_copy, edit, complaint
):
    """Without a sha256, the count, AUC and thresholds are all there is to compare."""
    labels, probs = edit(*read_scores(old_sgan_copy / VALIDATION_CSV))
    write_scores(old_sgan_copy / VALIDATION_CSV, ["x"] * len(labels), labels, probs)
    with pytest.raises(CheckpointError, match=complaint):
        load_checkpoint(old_sgan_copy)


@pytest.mark.parametrize("edit", [_inverted, _top_nudged, _one_duplicated])
def test_the_bundled_sgan_refuses_any_edit_of_its_predictions_by_their_sha256(sgan_copy, edit):
    labels, probs = edit(*read_scores(sgan_copy / VALIDATION_CSV))
    write_scores(sgan_copy / VALIDATION_CSV, ["x"] * len(labels), labels, probs)
    with pytest.raises(CheckpointError, match=r"not the ones training stored \(sha256 differs\)"):
        load_checkpoint(sgan_copy)


def test_a_checkpoints_stored_sha256_refuses_an_edit_that_keeps_ranks_and_thresholds(
    quick_checkpoint, tmp_path
):
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    assert load_checkpoint(ckpt).meta.val_scores_sha256  # stored since 2026-12-03
    path = ckpt / OUT_OF_FOLD_CSV
    labels, probs = read_scores(path)
    assert decision_threshold(load_checkpoint(ckpt), target_sensitivity=0.95)  # as written
    order = np.sort(probs)
    middle = np.argsort(probs)[len(probs) // 2]  # moved a little, between its neighbours
    probs[middle] = np.float32((order[len(probs) // 2 - 1] + probs[middle]) / 2)
    write_scores(path, ["x"] * len(labels), labels, probs)
    with pytest.raises(CheckpointError, match="not the ones training stored .sha256 differs."):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("name", ["youden", "sensitivity_0.90"])
def test_a_hand_set_threshold_in_metadata_is_refused_when_the_predictions_say_otherwise(
    quick_checkpoint, tmp_path, name
):
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    meta = json.loads((ckpt / METADATA).read_text())
    stored = next(t for t in meta["thresholds"] if t["name"] == name)
    stored["probability"] = 0.99
    (ckpt / METADATA).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=f"metadata.json: {name} threshold 0.99 is not the"):
        load_checkpoint(ckpt)


def _add_screening(thresholds):
    thresholds.append({"name": "screening", "probability": 0.02, "sensitivity": 1.0,
                       "specificity": 0.9})  # fmt: skip


def _rename_to_sensitivity_80(thresholds):
    stored = next(t for t in thresholds if t["name"] == "sensitivity_0.90")
    stored.update(name="sensitivity_0.80", probability=0.05)


def _flatter_youden(thresholds):
    next(t for t in thresholds if t["name"] == "youden").update(sensitivity=0.99)


def _nudged_youden(thresholds):
    """Too small to move a decision on the kept predictions, and still not what they give."""
    next(t for t in thresholds if t["name"] == "youden")["probability"] += 1e-4


def _rounded_sensitivity(thresholds):
    next(t for t in thresholds if t["name"] == "youden")["sensitivity"] -= 0.005


def _worded_specificity(thresholds):
    next(t for t in thresholds if t["name"] == "youden").update(specificity="high")


def _nan_sensitivity(thresholds):
    """json reads NaN, and every comparison with it is false."""
    next(t for t in thresholds if t["name"] == "youden").update(sensitivity=float("nan"))


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (_add_screening, "threshold 'screening' is not one training writes, so it is not "
                         "reproduced by out_of_fold.csv"),
        (_rename_to_sensitivity_80, "sensitivity_0.80 threshold 0.05 is not the"),
        (_flatter_youden, "youden threshold's sensitivity 0.99 is not the .* it has on "
                          "out_of_fold.csv; one was edited"),
        (_nudged_youden, "youden threshold 0.[0-9]+ is not the"),
        (_rounded_sensitivity, "youden threshold's sensitivity 0.[0-9]+ is not the "),
        (_worded_specificity, "youden threshold's specificity 'high' is not the "),
        (_nan_sensitivity, "youden threshold's sensitivity nan is not the "),
    ],
)  # fmt: skip
def test_every_stored_threshold_and_its_rates_must_be_what_the_predictions_give(
    quick_checkpoint, tmp_path, edit, complaint
):
    """Each reaches the manifests, and the app shows its sensitivity and specificity."""
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    meta = json.loads((ckpt / METADATA).read_text())
    edit(meta["thresholds"])
    (ckpt / METADATA).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=complaint):
        load_checkpoint(ckpt)


def test_a_stored_rate_off_by_a_ten_thousandth_is_refused(quick_checkpoint, tmp_path):
    """Each stored rate reaches the manifests and the app, which show it."""
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    meta = json.loads((ckpt / METADATA).read_text())
    next(t for t in meta["thresholds"] if t["name"] == "youden")["sensitivity"] -= 1e-4
    (ckpt / METADATA).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="youden threshold's sensitivity 0.[0-9]+ is not the"):
        load_checkpoint(ckpt)


def test_a_checkpoint_trained_for_a_sensitivity_of_1_loads(quick_checkpoint, tmp_path):
    """Training takes target_sensitivity 1.0 (the range is [0.5, 1]) and stores
    sensitivity_1.00; the checkpoint must load with it."""
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    meta = json.loads((ckpt / METADATA).read_text())
    labels, probs = read_scores(ckpt / OUT_OF_FOLD_CSV)
    estimator = meta["train_config"]["youden_estimator"]
    meta["thresholds"] = [asdict(t) for t in choose_thresholds(labels, probs, 1.0, estimator)]
    meta["train_config"]["target_sensitivity"] = 1.0
    (ckpt / METADATA).write_text(json.dumps(meta))  # as training writes it for 1.0
    stored = load_checkpoint(ckpt).meta.threshold("sensitivity_1.00")
    assert stored == meta["thresholds"][1]["probability"]
