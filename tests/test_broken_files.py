"""A photo that cannot be read, in each split of each layout: a broken link or a FIFO is
treated as a corrupt photo is. In labeled/ or test/ it stops the run with one line naming
it; in the unlabeled pool it is skipped, and the summary counts it."""

import os
import shutil

import pytest

from melanoma.datasets import load_dataset
from melanoma.sources import DataError


def broken_link(path):
    path.symlink_to(path.parent / "deleted.jpg")


BROKEN = {
    "link": (broken_link, r"a broken or looping link \(to '.*deleted\.jpg'\), not a file"),
    "fifo": (os.mkfifo, r"a named pipe \(FIFO\), not a regular file"),
}


def _photos(folder, photos, name="{}.jpg"):
    folder.mkdir(parents=True)
    for i, data in enumerate(photos):
        (folder / name.format(i, int(i < len(photos) // 2))).write_bytes(data)


def liveproject(root, photos, split, make):
    """Returns where the broken photo is, relative to root."""
    for labeled in ("labeled", "test"):
        _photos(root / labeled, photos, "{}_{}.jpg")
    _photos(root / "unlabeled", photos)
    where = f"{split}/99.jpg" if split == "unlabeled" else f"{split}/99_1.jpg"
    make(root / where)
    return where


def class_folders(root, photos, split, make):
    for labeled in ("train", "test"):
        _photos(root / labeled / "malignant", photos[:4])
        _photos(root / labeled / "benign", photos[4:])
    _photos(root / "unlabeled", photos)
    where = {"labeled": "train/malignant", "test": "test/malignant"}.get(split, split)
    make(root / where / "99.jpg")
    return f"{where}/99.jpg"


def csv_manifest(root, photos, split, make):
    _photos(root / "images", photos)
    _photos(root / "unlabeled", photos)
    rows = [f"{i}.jpg,{int(i < 4)}" for i in range(len(photos))]
    where = "unlabeled/99.jpg" if split == "unlabeled" else "images/99.jpg"
    if split == "labeled":
        rows.append("99.jpg,1")  # listed: a row whose photo cannot be read
    (root / "train.csv").write_text("\n".join(["image_name,target", *rows]) + "\n")
    make(root / where)
    return where


LAYOUTS = {"liveproject": liveproject, "class-folders": class_folders, "csv": csv_manifest}
CASES = [
    (layout, split, kind)
    for layout in LAYOUTS
    for split in ("labeled", "test", "unlabeled")
    for kind in BROKEN
    if not (layout == "csv" and split == "test")  # a CSV labels one split
]


@pytest.fixture
def photos(jpegs):
    melanoma, benign = jpegs
    return melanoma + benign


@pytest.mark.parametrize(("layout", "split", "kind"), CASES)
def test_a_broken_photo_stops_a_labeled_split_and_is_counted_in_the_pool(
    tmp_path, photos, layout, split, kind
):
    make, problem = BROKEN[kind]
    where = LAYOUTS[layout](tmp_path, photos, split, make)
    if split != "unlabeled":
        with pytest.raises(DataError, match=f"^{tmp_path / where}: {problem}$"):
            load_dataset(tmp_path)
        return
    data = load_dataset(tmp_path)
    assert len(data.unlabeled) == len(photos) and len(data.skipped) == 1
    assert data.summary().endswith(f"unlabeled {len(photos)}, 1 broken unlabeled file(s) skipped")


@pytest.mark.parametrize(
    "command",
    [
        ("train", "--out", "{out}"),
        ("evaluate", "reference-supervised"),
        ("compare", "--out", "{out}", "--seeds", "0"),
    ],
)
def test_train_evaluate_and_compare_refuse_a_broken_test_photo(
    tmp_path, photos, melanoma, assert_one_line_error, command
):
    where = liveproject(tmp_path / "data", photos, "test", broken_link)
    out = tmp_path / "out"
    args = [arg.format(out=out) for arg in command]
    result = melanoma(*args, "--data", tmp_path / "data")
    assert_one_line_error(result, f"{tmp_path / 'data' / where}: a broken or looping link")
    assert not out.exists()


@pytest.mark.parametrize(
    ("command", "then"),
    [
        # 8 photos are too few for the SGAN's pool
        (("train", "--method", "sgan", "--epochs", "1"), "needs at least 64 unlabeled images"),
        # QAT distills on the pool too; the bundled model did not train on these photos
        (("qat", "reference-supervised"), "QAT needs the data it was trained on"),
    ],
)
def test_train_and_qat_print_the_count_of_broken_unlabeled_photos(
    tmp_path, photos, melanoma, command, then
):
    liveproject(tmp_path / "data", photos, "unlabeled", os.mkfifo)
    result = melanoma(*command, "--data", tmp_path / "data", "--out", tmp_path / "out")
    assert "unlabeled 8, 1 broken unlabeled file(s) skipped" in result.stderr
    assert "unlabeled/99.jpg: a named pipe (FIFO), not a regular file" in result.stderr
    assert result.returncode == 2 and then in result.stderr  # after the summary


def test_a_broken_link_to_a_split_folder_is_still_named(tmp_path, photos, caplog):
    """Only entries named like photos are listed to be read; a linked unlabeled/ on a disk
    not mounted is not a photo, and its link is named as it was."""
    class_folders(tmp_path, photos, "unlabeled", broken_link)
    shutil.rmtree(tmp_path / "unlabeled")
    (tmp_path / "unlabeled").symlink_to(tmp_path / "unmounted")
    assert load_dataset(tmp_path).unlabeled is None
    assert f"{tmp_path}: skipped 1 broken link(s) or special file(s): unlabeled" in caplog.text
