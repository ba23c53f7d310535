"""Which split `melanoma evaluate` scores, and what it says when the numbers would flatter
(photos: tests/test_predict.py)."""

import dataclasses
import json
import shutil
from copy import deepcopy
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from melanoma.checkpoint import (
    METADATA,
    REFERENCE_DIR,
    CheckpointError,
    load_checkpoint,
    resolve_checkpoint_dir,
)
from melanoma.cli import cli
from melanoma.errors import UserError
from melanoma.evaluate import (
    check_reproduces_scores,
    evaluate_checkpoint,
    evaluate_on_data,
    pick_split,
    report_text,
    split_caveat,
)
from melanoma.inference import predict_logits, predict_probs
from melanoma.metrics import app_probabilities, bootstrap_ci, evaluation_report
from melanoma.versions import package_versions, toolkit_source


@pytest.fixture(scope="module")
def sgan():
    return load_checkpoint("reference-sgan")  # holds out 40 labeled images


def test_val_is_the_checkpoints_own_held_out_split(dataset, sgan):
    val = pick_split(dataset, "val", sgan)
    assert len(val.labels) == 40 and int(val.labels.sum()) == 20
    assert "chosen on these images" in split_caveat(dataset, "val", sgan)


def test_val_of_other_data_is_refused(dataset, sgan):
    other = dataclasses.replace(dataset, labeled=dataset.labeled.subset(torch.arange(150)))
    assert other.fingerprint != dataset.fingerprint
    with pytest.raises(UserError, match="re-carved from the data the checkpoint was trained on"):
        pick_split(other, "val", sgan)


def test_val_of_a_copy_that_differs_outside_the_labeled_images_is_still_its_own(dataset, sgan):
    """One broken unlabeled photo skipped: another fingerprint, the same validation split.
    The same photos labeled otherwise carve another one."""
    pool = dataclasses.replace(dataset, unlabeled=dataset.unlabeled.subset(torch.arange(100)))
    assert pool.fingerprint != dataset.fingerprint
    assert pick_split(pool, "val", sgan).names == pick_split(dataset, "val", sgan).names
    flipped = dataclasses.replace(dataset.labeled, labels=1 - dataset.labeled.labels)
    with pytest.raises(UserError, match="is [0-9a-f]+, with other labeled images or labels"):
        pick_split(dataclasses.replace(dataset, labeled=flipped), "val", sgan)


def test_val_of_a_cross_validated_checkpoint_says_it_has_none_whatever_the_data(dataset):
    """Not that the data differs: other data would not give it a val split either."""
    supervised = load_checkpoint("reference-supervised")
    other = dataclasses.replace(dataset, labeled=dataset.labeled.subset(torch.arange(150)))
    for data in (dataset, other):
        with pytest.raises(UserError, match="cross-validated on every labeled image"):
            pick_split(data, "val", supervised)


def test_bundled_references_know_their_labeled_images_in_any_layout(dataset, sgan):
    """The model a newcomer evaluates first, on data repackaged with its training images
    as the test split, must not report them as test."""
    for reference in (sgan, load_checkpoint("reference-supervised")):
        assert split_caveat(dataset, "test", reference) is None
        test_is_train = dataclasses.replace(dataset, test=dataset.labeled)
        assert split_caveat(test_is_train, "test", reference).startswith("200 of these 200")


def test_a_checkpoint_from_before_pixel_hashes_flags_its_own_labeled_split(dataset, tmp_path):
    old = Path(shutil.copytree(resolve_checkpoint_dir("reference-sgan"), tmp_path / "old"))
    meta = json.loads((old / "metadata.json").read_text())
    del meta["labeled_pixel_hashes"]  # as written before 2026-12-03
    (old / "metadata.json").write_text(json.dumps(meta))
    checkpoint = load_checkpoint(old)
    assert "trained on these images" in split_caveat(dataset, "labeled", checkpoint)
    other = dataclasses.replace(dataset, labeled=dataset.labeled.subset(torch.arange(150)))
    assert split_caveat(other, "labeled", checkpoint) is None
    assert split_caveat(dataset, "test", checkpoint) is None


def test_a_checkpoint_trained_before_its_data_had_a_test_split_is_on_that_data(dataset, tmp_path):
    # The CSV layout reads a labelled test.csv as the test split since 2026-12-07, and the
    # fingerprint covers the test split: one recorded before then has none. Without pixel
    # hashes (before 2026-12-03) it is all that says the model trained on these images.
    old = Path(shutil.copytree(resolve_checkpoint_dir("reference-sgan"), tmp_path / "old"))
    meta = json.loads((old / "metadata.json").read_text())
    del meta["labeled_pixel_hashes"]
    meta["data_fingerprint"] = dataclasses.replace(dataset, test=None).fingerprint
    (old / "metadata.json").write_text(json.dumps(meta))
    checkpoint = load_checkpoint(old)
    assert "trained on these images" in split_caveat(dataset, "labeled", checkpoint)
    assert len(pick_split(dataset, "val", checkpoint)) == 40  # re-carved, not refused


def test_its_training_images_are_flagged_in_any_copy_or_split(dataset, quick_checkpoint):
    checkpoint = load_checkpoint(quick_checkpoint)
    assert split_caveat(dataset, "test", checkpoint) is None
    flipped = torch.arange(199, 49, -1)  # 150 of them, in another order, under any name
    copy = dataclasses.replace(dataset, labeled=dataset.labeled.subset(flipped), unlabeled=None)
    assert copy.fingerprint != checkpoint.meta.data_fingerprint
    assert split_caveat(copy, "labeled", checkpoint).startswith(
        "150 of these 150 images are ones the model was trained or validated on"
    )
    test_is_train = dataclasses.replace(dataset, test=dataset.labeled)
    assert split_caveat(test_is_train, "test", checkpoint).startswith("200 of these 200")


def _edited(src, dest, edit):
    ckpt = shutil.copytree(src, dest, ignore=shutil.ignore_patterns("qat"))
    meta = json.loads((ckpt / METADATA).read_text())
    edit(meta)
    (ckpt / METADATA).write_text(json.dumps(meta))
    return load_checkpoint(ckpt)


def _mean_shifted(channel: int):
    """An edit of metadata.json: 0.01 added to one channel's normalization mean."""

    def edit(meta):
        meta["mean"][channel] += 0.01

    return edit


def _renamed(dataset):
    """The same images read from another folder: the fingerprint is of pixels and labels."""
    labeled = dataset.labeled
    names = tuple(f"elsewhere/{n.rsplit('/', 1)[-1]}" for n in labeled.names)
    return dataclasses.replace(dataset, labeled=dataclasses.replace(labeled, names=names))


@pytest.mark.parametrize("method", ["supervised", "sgan"])
def test_a_hand_edited_normalization_is_refused_on_the_data_it_trained_on(
    dataset, quick_checkpoint, tmp_path, method
):
    # out-of-fold predictions (each image by the member that did not train on it),
    # then a held-out validation split
    src = quick_checkpoint if method == "supervised" else REFERENCE_DIR / "sgan"
    check_reproduces_scores(load_checkpoint(src), dataset)  # as training wrote it
    edited = _edited(src, tmp_path / "ckpt", _mean_shifted(0))
    # one broken unlabeled photo skipped: another fingerprint, the same labeled images
    pool = dataclasses.replace(dataset, unlabeled=dataset.unlabeled.subset(torch.arange(100)))
    for copy in (dataset, _renamed(dataset), pool):
        with pytest.raises(CheckpointError, match="no longer gives the predictions in .*mean"):
            check_reproduces_scores(edited, copy)
    other = dataclasses.replace(dataset, labeled=dataset.labeled.subset(torch.arange(150)))
    flipped = dataclasses.replace(dataset.labeled, labels=1 - dataset.labeled.labels)
    for different in (other, dataclasses.replace(dataset, labeled=flipped)):
        check_reproduces_scores(edited, different)  # other data: nothing to compare with


@pytest.mark.parametrize(("channel", "moved"), [(0, "0.0712"), (1, "0.065"), (2, "0.0126")])
def test_a_mean_edited_by_a_hundredth_moves_the_bundled_sgans_predictions(
    dataset, tmp_path, channel, moved
):
    """The README's figures for what the 0.005 tolerance catches, channel by channel."""
    edited = _edited(REFERENCE_DIR / "sgan", tmp_path / "ckpt", _mean_shifted(channel))
    with pytest.raises(CheckpointError, match=rf"\(max \|dp\| {moved} on the data"):
        check_reproduces_scores(edited, dataset)


def test_a_model_that_now_scores_nan_does_not_reproduce_its_kept_scores(dataset, sgan):
    """Every comparison with NaN is false: a NaN max |dp| must not read as within tolerance."""
    broken = deepcopy(sgan.model)
    with torch.no_grad():
        broken.head.bias.fill_(float("nan"))
    with pytest.raises(CheckpointError, match=r"max \|dp\| nan on the data"):
        check_reproduces_scores(dataclasses.replace(sgan, model=broken), dataset)


def _tf32(x: torch.Tensor, rounding: str) -> torch.Tensor:
    """float32 with TF32's 10-bit mantissa: rounded to nearest even, or truncated (kernels
    that feed float32 to the tensor cores unconverted drop the low bits)."""
    bits = x.contiguous().view(torch.int32)
    if rounding == "nearest":
        bits = bits + 0x0FFF + ((bits >> 13) & 1)
    return (bits & -0x2000).view(torch.float32)


@pytest.mark.parametrize(
    ("name", "rounding", "moved"),
    [
        ("reference-supervised", "nearest", "0.000597"),
        ("reference-sgan", "nearest", "0.000591"),
        ("reference-supervised", "truncate", "0.00329"),
        ("reference-sgan", "truncate", "0.0013"),
    ],
)
def test_a_model_trained_with_tf32_convolutions_still_reproduces_its_scores(
    dataset, monkeypatch, name, rounding, moved
):
    """cuDNN runs float32 convolutions in TF32 by default, so a GPU-trained checkpoint's kept
    predictions carry that rounding: simulated here on each convolution's input and weights,
    it moves them by the README's figures, inside the tolerance of 0.005."""
    from melanoma import evaluate

    conv2d = torch.nn.functional.conv2d

    def tf32_conv2d(x, weight, *args, **kwargs):
        return conv2d(_tf32(x, rounding), _tf32(weight, rounding), *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "conv2d", tf32_conv2d)
    checkpoint = load_checkpoint(name)
    check_reproduces_scores(checkpoint, dataset)
    monkeypatch.setattr(evaluate, "REPRODUCE_TOLERANCE", 1e-4)  # to read the figure off
    with pytest.raises(CheckpointError, match=rf"\(max \|dp\| {moved} on the data"):
        check_reproduces_scores(checkpoint, dataset)


def _rewrite_folds(ckpt, fold_text):
    path = ckpt / "out_of_fold.csv"
    lines = path.read_text().splitlines()
    column = lines[0].split(",").index("fold")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[column] = fold_text(row[column])
    path.write_text("\n".join([lines[0], *(",".join(row) for row in rows)]) + "\n")


def test_kept_predictions_with_edited_folds_are_refused(dataset, quick_checkpoint, tmp_path):
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    _rewrite_folds(ckpt, lambda fold: str((int(fold) + 1) % 5))  # each by a member that saw it
    with pytest.raises(CheckpointError, match="or that file's folds were edited"):
        check_reproduces_scores(load_checkpoint(ckpt), dataset)
    _rewrite_folds(ckpt, lambda fold: str(int(fold) + 1))  # 1-5: no member 5
    with pytest.raises(CheckpointError, match="folds do not name this model's 5 members"):
        check_reproduces_scores(load_checkpoint(ckpt), dataset)
    _rewrite_folds(ckpt, lambda fold: "x")
    with pytest.raises(CheckpointError, match="out_of_fold.csv: unreadable fold column"):
        check_reproduces_scores(load_checkpoint(ckpt), dataset)


def test_report_text_prints_each_metric_with_its_interval_and_the_caveat():
    # 4 images, threshold 0.5: tp 1, fn 1, tn 2 -> accuracy 0.75, sensitivity 0.5
    labels, probs = np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.1, 0.4])
    report = evaluation_report(labels, probs, 0.5)
    report["threshold_name"] = "youden"
    lines = report_text(report, "reference-sgan", "val", "held out").splitlines()
    assert lines[0] == "reference-sgan on val (n=4), threshold youden = 0.500 (held out)"
    accuracy_line = next(line for line in lines if line.split()[0] == "accuracy")
    low, high = report["ci"]["accuracy"]
    assert accuracy_line.split()[1:] == ["0.750", f"[{low:.3f},", f"{high:.3f}]"]
    assert next(line for line in lines if line.split()[0] == "sensitivity").split()[1] == "0.500"
    assert "melanoma (not this split's mix)" in lines[-1]


def test_report_text_shows_a_checkpoint_folders_escapes_and_line_breaks():
    report = evaluation_report(np.array([1, 0]), np.array([0.9, 0.1]), 0.5)
    report["threshold_name"] = "youden"
    first = report_text(report, "ck\x1b[2J\nfake", "test", None).splitlines()[0]
    assert first == "ck\\x1b[2J\\nfake on test (n=2), threshold youden = 0.500"


def test_report_text_says_undefined_where_a_predictive_value_is_0_over_0():
    labels, probs = np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.1, 0.4])
    report = evaluation_report(labels, probs, 0.0)  # every image flagged: nothing cleared
    report["threshold_name"] = "sensitivity_1.00"
    last = report_text(report, "reference-sgan", "val", None).splitlines()[-1]
    assert last.endswith("precision 0.100, NPV undefined")


def test_evaluate_decides_at_the_threshold_it_is_asked_for(data_path, sgan):
    report = evaluate_on_data("reference-sgan", data_path, threshold_name="sensitivity_0.90")
    assert report["threshold_name"] == "sensitivity_0.90"
    assert report["checkpoint"] == "reference-sgan"  # its name, not a site-packages path
    assert (
        report["threshold"]
        == sgan.meta.threshold("sensitivity_0.90")
        != sgan.meta.threshold("youden")
    )


def test_evaluate_decides_a_score_within_a_float32_step_of_the_threshold_as_the_app(dataset, sgan):
    """The app flags RiskBands.sigmoid(logit) >= threshold, that sigmoid taken in float64 of
    the float32 logit (app_probabilities). A float32 sigmoid puts the first melanoma's score
    1e-8 above the app's: at a threshold between the two, evaluate counted it as found."""
    split = dataset.test.subset(torch.tensor([0, 1, 2, 597, 598, 599]))  # 3 melanomas, 3 nevi
    logits = predict_logits(sgan.model, split.images, sgan.meta.mean, sgan.meta.std)
    in_app = app_probabilities(logits.numpy())
    as_float32 = torch.sigmoid(logits).numpy().astype(np.float64)
    assert as_float32[0] > in_app[0]  # the case this test is about
    between = (as_float32[0] + in_app[0]) / 2
    assert in_app[1] >= between and in_app[2] >= between  # the other two are flagged
    youden = {**sgan.meta.thresholds[0], "probability": between}
    meta = dataclasses.replace(sgan.meta, thresholds=[youden])
    report = evaluate_checkpoint(dataclasses.replace(sgan, meta=meta), split)
    assert report["sensitivity"] == 2 / 3  # the app misses the first melanoma


def test_the_json_says_how_its_intervals_were_drawn_and_with_which_versions(
    data_path, dataset, sgan
):
    """A saved report's CIs must be redrawable: a rerun with other resamples or another
    seed gave other CIs, and nothing in the file said which settings made them."""
    report = evaluate_on_data("reference-sgan", data_path)
    assert report["bootstrap"] == {"n_resamples": 1000, "seed": 0}
    probs = predict_probs(sgan.model, dataset.test.images, sgan.meta.mean, sgan.meta.std)
    labels = dataset.test.labels.numpy()
    redrawn = bootstrap_ci(labels, probs, report["threshold"], **report["bootstrap"])
    assert report["ci"] == redrawn
    assert report["versions"] == package_versions()
    assert report["toolkit_source"] == toolkit_source()


def test_the_commands_table_says_why_its_numbers_are_optimistic(data_path):
    """Not only --json: the table of reference-sgan on its own validation split says so too."""
    args = ["evaluate", "reference-sgan", "--data", str(data_path), "--split", "val"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "thresholds were chosen on these images: optimistic" in result.stdout


def test_the_command_refuses_a_threshold_its_target_sensitivity_does_not_choose():
    """As predict: `--threshold youden --target-sensitivity 0.9` names two thresholds; refused
    before any data is read."""
    args = ["--data", "unread", "--threshold", "youden", "--target-sensitivity", "0.9"]
    result = CliRunner().invoke(cli, ["evaluate", "reference-sgan", *args])
    assert result.exit_code == 2, result.output
    assert "--threshold youden is not the threshold --target-sensitivity 0.9 chooses" in (
        result.stderr
    )
