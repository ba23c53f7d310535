import logging
import shutil
import zipfile

import pytest

from melanoma.datasets import load_dataset, resolve_data_path
from melanoma.sources import DataError


@pytest.fixture
def jpegs(real_jpegs):
    """Four real melanoma and four real benign JPEG byte strings."""
    by_label = {"0": [], "1": []}
    for name, data in real_jpegs.items():
        by_label[name.rsplit("_", 1)[1][0]].append(data)
    return by_label["1"][:4], by_label["0"][:4]


def write_liveproject(root, jpegs, n_unlabeled=3):
    melanoma, benign = jpegs
    for split in ("labeled", "test"):
        (root / split).mkdir(parents=True)
        for i, data in enumerate(melanoma + benign):
            (root / split / f"{i}_{int(i < len(melanoma))}.jpg").write_bytes(data)
    (root / "unlabeled").mkdir()
    for i in range(n_unlabeled):
        (root / "unlabeled" / f"{i}.jpg").write_bytes(benign[i % len(benign)])
    return root


def test_liveproject_folder(tmp_path, jpegs):
    data = load_dataset(write_liveproject(tmp_path / "d", jpegs))
    assert data.layout == "liveproject"
    assert data.labeled.images.shape == (8, 3, 32, 32)
    assert data.labeled.labels.tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert len(data.unlabeled) == 3 and data.unlabeled.labels.tolist() == [-1] * 3


def test_liveproject_at_the_top_of_the_folder_without_unlabeled(tmp_path, jpegs):
    root = write_liveproject(tmp_path, jpegs)  # labeled/ at the top, not inside a folder
    shutil.rmtree(root / "unlabeled")  # a supervised-only copy of the data
    data = load_dataset(root)
    assert data.layout == "liveproject" and len(data.labeled) == 8 and data.unlabeled is None


def test_liveproject_zip_matches_folder(tmp_path, jpegs):
    folder = write_liveproject(tmp_path / "d", jpegs)
    archive = shutil.make_archive(str(tmp_path / "d"), "zip", tmp_path, "d")
    assert load_dataset(archive).fingerprint == load_dataset(folder).fingerprint


def test_real_archive_counts_and_sorted_test(dataset):
    assert (len(dataset.labeled), len(dataset.test), len(dataset.unlabeled)) == (200, 600, 7018)
    assert int(dataset.labeled.labels.sum()) == 100 and int(dataset.test.labels.sum()) == 300
    assert dataset.test.labels[:300].eq(1).all()  # the documented quirk
    assert dataset.skipped == ()


def test_folder_holding_the_archive_resolves_to_it(tmp_path):
    (tmp_path / "MelanomaDetection.zip").write_bytes(b"")  # resolving does not open it
    (tmp_path / "README.md").write_text("beside it, as in ../shared/data")
    assert resolve_data_path(tmp_path) == tmp_path / "MelanomaDetection.zip"


def test_no_data_path_names_the_option_and_the_variable():
    with pytest.raises(DataError, match="pass --data or set MELANOMA_DATA"):
        resolve_data_path(None)


@pytest.mark.parametrize("positive", ["malignant", "melanoma"])
def test_class_folders_with_train_and_test(tmp_path, jpegs, positive):
    melanoma, benign = jpegs
    for split in ("train", "test"):
        for cls, items in ((positive, melanoma), ("benign", benign)):
            (tmp_path / split / cls).mkdir(parents=True)
            for i, data in enumerate(items):
                (tmp_path / split / cls / f"{i}.jpg").write_bytes(data)
    data = load_dataset(tmp_path)
    assert data.layout == "class-folders"
    assert sorted(data.labeled.labels.tolist()) == [0] * 4 + [1] * 4
    assert len(data.test) == 8


def test_class_folders_without_splits_in_zip(tmp_path, jpegs):
    archive = tmp_path / "kaggle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i, data in enumerate(jpegs[0]):
            zf.writestr(f"data/malignant/{i}.jpg", data)
        for i, data in enumerate(jpegs[1]):
            zf.writestr(f"data/benign/{i}.jpg", data)
    data = load_dataset(archive)
    assert len(data.labeled) == 8 and data.test is None


def test_csv_manifest(tmp_path, jpegs, png_bytes):
    melanoma, benign = jpegs
    (tmp_path / "jpeg" / "train").mkdir(parents=True)
    rows = ["image_name,patient_id,target"]
    for i, data in enumerate(melanoma + benign):
        (tmp_path / "jpeg" / "train" / f"ISIC_{i}.jpg").write_bytes(data)
        rows.append(f"ISIC_{i},p{i},{int(i < len(melanoma))}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset(tmp_path)
    assert data.layout == "csv"
    assert data.labeled.labels.tolist() == [1] * 4 + [0] * 4


def test_photos_in_subfolders_of_a_class_folder_are_named_in_a_warning(tmp_path, jpegs, caplog):
    for cls, items in (("malignant", jpegs[0]), ("benign", jpegs[1])):
        (tmp_path / cls / "batch2").mkdir(parents=True)
        (tmp_path / cls / "0.jpg").write_bytes(items[0])
        (tmp_path / cls / "batch2" / "1.jpg").write_bytes(items[1])
    assert len(load_dataset(tmp_path).labeled) == 2
    assert "ignoring 1 photo(s) in subfolders (only its own files are read): batch2/1.jpg" in (
        caplog.text
    )


def test_class_folders_only_under_test_are_refused_not_taken_as_labeled(tmp_path, jpegs):
    for cls, items in (("malignant", jpegs[0]), ("benign", jpegs[1])):
        (tmp_path / "test" / cls).mkdir(parents=True)
        (tmp_path / "test" / cls / "0.jpg").write_bytes(items[0])
    with pytest.raises(DataError, match="class folders under test/ with no train/ beside them"):
        load_dataset(tmp_path)


def test_csv_targets_written_as_floats(tmp_path, jpegs):
    """ISIC 2017's ground truth CSV (image_id, melanoma) writes 0.0 and 1.0."""
    rows = ["image_id,melanoma,seborrheic_keratosis"]
    for i, data in enumerate(jpegs[0][:2] + jpegs[1][:2]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
        rows.append(f"ISIC_{i},{1.0 if i < 2 else 0.0},0.0")
    (tmp_path / "ISIC-2017_GroundTruth.csv").write_text("\n".join(rows) + "\n")
    assert load_dataset(tmp_path).labeled.labels.tolist() == [1, 1, 0, 0]
    rows[1] = "ISIC_0,0.5,0.0"
    (tmp_path / "ISIC-2017_GroundTruth.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="target '0.5' is not 0 or 1"):
        load_dataset(tmp_path)


def test_csv_manifest_of_a_kaggle_isic_download_is_train_csv(tmp_path, jpegs, png_bytes):
    test_csv_manifest(tmp_path, jpegs, png_bytes)
    names = [f"ISIC_{i}" for i in range(8)]
    (tmp_path / "test.csv").write_text("image_name,patient_id\n" + "\n".join(names) + "\n")
    zeros = "".join(f"{n},0\n" for n in names)  # Kaggle's sample_submission.csv
    (tmp_path / "sample_submission.csv").write_text("image_name,target\n" + zeros)
    data = load_dataset(tmp_path)
    assert data.labeled.labels.tolist() == [1] * 4 + [0] * 4  # not the all-zero submission
    (tmp_path / "train.csv").rename(tmp_path / "labels.csv")
    with pytest.raises(DataError, match=r"several CSV manifests .*labels.csv.*sample_submission"):
        load_dataset(tmp_path)


def test_csv_header_without_rows_says_it_lists_no_images(tmp_path):
    (tmp_path / "train.csv").write_text("image_name,target\n")
    with pytest.raises(DataError, match="train.csv: CSV lists no images"):
        load_dataset(tmp_path)


def test_csv_missing_target_column(tmp_path, jpegs):
    (tmp_path / "img.jpg").write_bytes(jpegs[0][0])
    (tmp_path / "train.csv").write_text("image_name,diagnosis\nimg,melanoma\n")
    with pytest.raises(DataError, match="train.csv: CSV has no target column"):
        load_dataset(tmp_path)


def test_missing_split_folder(tmp_path, jpegs):
    root = write_liveproject(tmp_path / "d", jpegs)
    for item in (root / "test").iterdir():
        item.unlink()  # an empty folder: the loader sees files, not folders
    with pytest.raises(DataError, match=r"test: split folder is missing or empty"):
        load_dataset(root)
    shutil.rmtree(root / "test")
    with pytest.raises(DataError, match=r"test: split folder is missing or empty"):
        load_dataset(root)


def test_labeled_file_that_is_not_an_image(tmp_path, jpegs):
    root = write_liveproject(tmp_path / "d", jpegs)
    (root / "labeled" / "3_1.jpg").write_text("not an image")
    with pytest.raises(DataError, match=r"3_1\.jpg: not a readable image"):
        load_dataset(root)


def test_truncated_labeled_image(tmp_path, jpegs):
    root = write_liveproject(tmp_path / "d", jpegs)
    data = (root / "labeled" / "0_1.jpg").read_bytes()
    (root / "labeled" / "0_1.jpg").write_bytes(data[:300])
    with pytest.raises(DataError, match=r"0_1\.jpg: truncated or corrupt"):
        load_dataset(root)


def test_bad_label_suffix(tmp_path, jpegs):
    root = write_liveproject(tmp_path / "d", jpegs)
    (root / "labeled" / "0_1.jpg").rename(root / "labeled" / "0_2.jpg")
    with pytest.raises(DataError, match=r"0_2\.jpg: label suffix must be _0"):
        load_dataset(root)


def test_empty_class(tmp_path, jpegs):
    root = write_liveproject(tmp_path / "d", jpegs)
    for path in (root / "labeled").glob("*_1.jpg"):
        path.unlink()
    with pytest.raises(DataError, match="no melanoma images"):
        load_dataset(root)


def test_broken_unlabeled_file_is_skipped_and_counted(tmp_path, jpegs, caplog):
    root = write_liveproject(tmp_path / "d", jpegs)
    (root / "unlabeled" / "1.jpg").write_bytes(b"\xff\xd8 broken")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(root)
    assert len(data.unlabeled) == 2 and len(data.skipped) == 1
    assert "1.jpg" in caplog.text
    assert "1 broken unlabeled file(s) skipped" in data.summary()


def test_files_that_are_not_jpeg_or_png_are_named_in_a_warning(tmp_path, jpegs, caplog):
    root = write_liveproject(tmp_path / "d", jpegs)
    (root / "labeled" / "300_1.bmp").write_bytes(b"BM")
    (root / "labeled" / "notes.txt").write_text("which photos are duplicates")
    (root / "labeled" / ".DS_Store").write_bytes(b"\0")
    data = load_dataset(root)
    assert len(data.labeled) == 8
    warned = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert warned == [f"{root / 'labeled'}: ignoring 2 file(s) that are not .jpg, .jpeg or .png: "
                      "300_1.bmp, notes.txt"]  # fmt: skip
