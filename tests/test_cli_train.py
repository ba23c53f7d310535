"""`melanoma train`: its flags reach the checkpoint (the training itself: test_train.py)."""

import pytest

from melanoma.checkpoint import read_meta


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory, real_jpegs):
    """The 16 real labeled JPEGs as class folders: five folds of an epoch take seconds."""
    root = tmp_path_factory.mktemp("folders") / "data"
    for name, data in real_jpegs.items():
        if "/labeled/" in name:
            folder = root / ("malignant" if name.endswith("_1.jpg") else "benign")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name.rsplit("/", 1)[-1]).write_bytes(data)
    return root


CHOSEN = ["--seed", "3", "--target-sensitivity", "0.95", "--select-epoch", "last"]


@pytest.mark.parametrize(
    ("flags", "seed", "target_sensitivity", "select_epoch"),
    [([], 0, 0.9, "val-auc"), (CHOSEN, 3, 0.95, "last")],  # the README's defaults, then given
)
def test_train_flags_reach_the_checkpoint(
    melanoma, class_folders, tmp_path, flags, seed, target_sensitivity, select_epoch
):
    out = tmp_path / "ckpt"
    args = ["train", "--data", class_folders, "--out", out, "--epochs", "2", "--no-progress"]
    result = melanoma(*args, *flags)
    assert result.returncode == 0, result.stderr
    meta = read_meta(out)
    assert (meta.method, meta.seed, meta.epochs) == ("supervised", seed, 2)
    assert meta.train_config["target_sensitivity"] == target_sensitivity
    assert meta.train_config["select_epoch"] == select_epoch
    names = [t["name"] for t in meta.thresholds]
    assert names == ["youden", f"sensitivity_{target_sensitivity:.2f}"]
    if select_epoch == "last":
        assert meta.best_epoch == 2
    # stdout is the one result line; the data summary goes to stderr with any warnings
    assert result.stdout.startswith(f"wrote {out} (epoch {meta.best_epoch}/2, val AUC ")
    assert result.stdout.count("\n") == 1
    assert "labeled 16 (8 melanoma)" in result.stderr


def test_training_into_the_bundled_models_folder_is_refused(
    melanoma, assert_one_line_error, class_folders
):
    """It would replace a documented model and leave its int8 program stale."""
    from melanoma.checkpoint import REFERENCE_DIR

    out = REFERENCE_DIR / "supervised" / "retrained"  # a new folder, should the guard fail
    args = ["train", "--data", class_folders, "--out", out, "--epochs", "1", "--no-progress"]
    # refused before the data is read
    assert_one_line_error(melanoma(*args), "inside the bundled reference models' folder")
    assert not out.exists()
