import logging
import shutil
import zipfile

import pytest

from melanoma.datasets import load_dataset, resolve_data_path
from melanoma.sources import DataError


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
    # printed before every run: the counts a user checks the data against
    assert data.summary() == (
        f"liveproject data from {tmp_path / 'd'}: "
        "labeled 8 (4 melanoma), test 8 (4 melanoma), unlabeled 3"
    )
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


def test_a_data_path_from_the_home_folder_is_expanded(tmp_path, monkeypatch):
    """MELANOMA_DATA=~/data in a .env file, or --data=~/data: no shell expands that `~`."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "data").mkdir()
    assert resolve_data_path("~/data") == tmp_path / "data"


def test_no_data_path_names_the_option_and_the_variable():
    with pytest.raises(DataError, match="pass --data or set MELANOMA_DATA"):
        resolve_data_path(None)


def test_class_folders_without_splits_in_zip(tmp_path, jpegs):
    archive = tmp_path / "kaggle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i, data in enumerate(jpegs[0]):
            zf.writestr(f"data/malignant/{i}.jpg", data)
        for i, data in enumerate(jpegs[1]):
            zf.writestr(f"data/benign/{i}.jpg", data)
    data = load_dataset(archive)
    assert len(data.labeled) == 8 and data.test is None


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


def test_missing_split_folder(tmp_path, jpegs):
    root = write_liveproject(tmp_path / "d", jpegs)
    for item in (root / "test").iterdir():
        item.unlink()  # an empty folder: the loader sees files, not folders
    with pytest.raises(DataError, match=r"test: split folder is missing or empty"):
        load_dataset(root)
    (root / "test" / "notes.txt").write_text("photos to come")  # a folder, but no photos
    with pytest.raises(DataError, match=r"test: split folder has no images"):
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


@pytest.mark.parametrize("suffix", ["2", "10", "1x", "01"])
def test_bad_label_suffix(tmp_path, jpegs, suffix):
    """Only _0 and _1: a suffix that starts with 1 is not melanoma."""
    root = write_liveproject(tmp_path / "d", jpegs)
    (root / "labeled" / "0_1.jpg").rename(root / "labeled" / f"0_{suffix}.jpg")
    with pytest.raises(DataError, match=rf"0_{suffix}\.jpg: label suffix must be _0"):
        load_dataset(root)


@pytest.mark.parametrize(("removed", "named"), [("1", "melanoma"), ("0", "benign")])
def test_empty_class(tmp_path, jpegs, removed, named):
    root = write_liveproject(tmp_path / "d", jpegs)
    *others, last = sorted((root / "labeled").glob(f"*_{removed}.jpg"))
    for path in others:
        path.unlink()
    assert load_dataset(root).labeled.labels.tolist().count(int(removed)) == 1  # one is enough
    last.unlink()
    with pytest.raises(DataError, match=rf"labeled: no {named} images \(class is empty\)"):
        load_dataset(root)


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


def write_class_folders(root, jpegs, positive="malignant"):
    for cls, items in ((positive, jpegs[0]), ("benign", jpegs[1])):
        (root / cls).mkdir(parents=True)
        for i, data in enumerate(items):
            (root / cls / f"{i}.jpg").write_bytes(data)


def test_a_missing_class_folder_names_the_folders_that_are_there(tmp_path, jpegs):
    """HAM10000's words (nevus/) or a typo (malignent/) must show in the one line."""
    write_class_folders(tmp_path / "train", jpegs, positive="malignent")
    (tmp_path / "train" / "benign").rename(tmp_path / "train" / "nevus")
    (tmp_path / "train" / "melanoma").mkdir()
    (tmp_path / "train" / "melanoma" / "0.jpg").write_bytes(jpegs[0][0])
    with pytest.raises(DataError, match=r"train: benign/ is missing or empty \(it holds "
                       r"malignent/, melanoma/, nevus/\)"):  # fmt: skip
        load_dataset(tmp_path)


def write_layout(root, jpegs, layout):
    """A small data set in `layout` with unlabeled/ 0.jpg..2.jpg beside its labeled images."""
    if layout == "liveproject":
        return write_liveproject(root, jpegs)
    if layout == "class-folders":
        write_class_folders(root, jpegs)
    else:
        root.mkdir(parents=True)
        rows = ["image_name,target"]
        for i, data in enumerate(jpegs[0] + jpegs[1]):
            (root / f"ISIC_{i}.jpg").write_bytes(data)
            rows.append(f"ISIC_{i},{int(i < len(jpegs[0]))}")
        (root / "train.csv").write_text("\n".join(rows) + "\n")
    (root / "unlabeled").mkdir()
    for i in range(3):
        (root / "unlabeled" / f"{i}.jpg").write_bytes(jpegs[1][i])
    return root


@pytest.mark.parametrize("layout", ["liveproject", "class-folders", "csv"])
@pytest.mark.parametrize("broken", [["1.jpg"], ["0.jpg", "1.jpg", "2.jpg"]], ids=["one", "all"])
def test_broken_unlabeled_files_are_skipped_and_counted(tmp_path, jpegs, caplog, layout, broken):
    """Any layout, and even when none is left: the summary is where a user sees that photos
    the SGAN was to learn from were left out."""
    root = write_layout(tmp_path / "d", jpegs, layout)
    for name in broken:
        (root / "unlabeled" / name).write_bytes(b"\xff\xd8 broken")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(root)
    assert data.layout == layout and len(data.skipped) == len(broken)
    assert (len(data.unlabeled) if data.unlabeled else 0) == 3 - len(broken)
    assert all(name in caplog.text for name in broken)
    assert f"{len(broken)} broken unlabeled file(s) skipped" in data.summary()


def test_a_label_changed_changes_the_fingerprint(tmp_path, jpegs):
    """Checkpoints record the fingerprint as "trained on exactly this data": a photo moved
    from benign to melanoma is other data, though every pixel is the same."""
    root = write_liveproject(tmp_path / "d", jpegs)
    before = load_dataset(root).fingerprint
    (root / "labeled" / "7_0.jpg").rename(root / "labeled" / "7_1.jpg")
    assert load_dataset(root).fingerprint != before


def test_a_test_folder_without_class_folders_is_left_out_not_refused(tmp_path, jpegs, caplog):
    """Kaggle-style copies keep unlabeled photos in test/: the training data still loads."""
    write_class_folders(tmp_path / "train", jpegs)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "0.jpg").write_bytes(jpegs[1][0])
    with caplog.at_level(logging.WARNING):
        data = load_dataset(tmp_path)
    assert (len(data.labeled), data.test) == (8, None)
    assert f"ignoring {tmp_path / 'test'}/ (only train/, test/ and unlabeled/ are read" in (
        caplog.text
    )


def test_capitalised_train_and_test_are_train_and_test(tmp_path, jpegs):
    write_class_folders(tmp_path / "Train", jpegs)
    write_class_folders(tmp_path / "Test", (jpegs[0][:2], jpegs[1][:2]))
    data = load_dataset(tmp_path)  # Test/ sorts first: it once became the training split
    assert (len(data.labeled), len(data.test)) == (8, 4)
    assert data.labeled.names[0].startswith("Train/")


def test_class_folders_in_two_unnamed_splits_are_refused(tmp_path, jpegs):
    write_class_folders(tmp_path / "Training", jpegs)
    write_class_folders(tmp_path / "Testing", jpegs)
    with pytest.raises(DataError, match="Testing, .*Training: class folders in several folders; "
                       "name the training one train/ and the test one test/"):  # fmt: skip
        load_dataset(tmp_path)


def test_malignant_and_melanoma_folders_together_are_refused(tmp_path, jpegs):
    write_class_folders(tmp_path, jpegs, positive="malignant")
    write_class_folders(tmp_path / "extra", jpegs)
    shutil.move(tmp_path / "extra" / "malignant", tmp_path / "melanoma")
    with pytest.raises(DataError, match="malignant and .*melanoma: both name the melanoma class"):
        load_dataset(tmp_path)


def test_folders_a_class_layout_does_not_read_are_named_in_a_warning(tmp_path, jpegs, caplog):
    write_class_folders(tmp_path / "train", jpegs)
    write_class_folders(tmp_path / "val", jpegs)
    (tmp_path / "train" / "seborrheic_keratosis").mkdir()
    (tmp_path / "train" / "seborrheic_keratosis" / "0.jpg").write_bytes(jpegs[1][0])
    with caplog.at_level(logging.WARNING):
        assert len(load_dataset(tmp_path).labeled) == 8
    assert f"ignoring {tmp_path / 'train' / 'seborrheic_keratosis'}/ (class folders are" in (
        caplog.text
    )
    assert f"ignoring {tmp_path / 'val'}/ (only train/, test/ and unlabeled/ are read" in (
        caplog.text
    )


def test_class_folders_at_the_top_use_the_test_and_unlabeled_folders_beside_them(tmp_path, jpegs):
    write_class_folders(tmp_path, jpegs)
    write_class_folders(tmp_path / "test", (jpegs[0][:2], jpegs[1][:2]))
    (tmp_path / "unlabeled").mkdir()
    (tmp_path / "unlabeled" / "0.jpg").write_bytes(jpegs[1][0])
    data = load_dataset(tmp_path)
    assert data.layout == "class-folders"  # not liveProject, for its unlabeled/
    assert (len(data.labeled), len(data.test), len(data.unlabeled)) == (8, 4, 1)


def test_liveproject_index_in_two_files_is_refused(tmp_path, jpegs):
    root = write_liveproject(tmp_path / "d", jpegs)
    shutil.copy(root / "labeled" / "0_1.jpg", root / "labeled" / "0_1.jpeg")
    with pytest.raises(DataError, match=r"0_1.jpg: index 0 is also 0_1.jpeg"):
        load_dataset(root)
    (root / "labeled" / "0_1.jpeg").rename(root / "labeled" / "0_0.jpeg")  # and two labels
    with pytest.raises(DataError, match=r"0_1.jpg: index 0 is also 0_0.jpeg"):
        load_dataset(root)


def test_folders_beside_the_archive_are_named_in_a_warning(tmp_path, caplog):
    (tmp_path / "MelanomaDetection.zip").write_bytes(b"")
    (tmp_path / "train").mkdir()
    with caplog.at_level(logging.WARNING):
        resolve_data_path(tmp_path)
    assert "reading MelanomaDetection.zip; train beside it not read" in caplog.text


def test_liveproject_folders_it_does_not_read_are_named_in_a_warning(tmp_path, jpegs, caplog):
    root = write_liveproject(tmp_path / "d", jpegs)
    (root / "val").mkdir()  # the user's own validation split: not read
    shutil.copy(root / "labeled" / "0_1.jpg", root / "val" / "0_1.jpg")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(root)
    assert len(data.labeled) == 8
    assert f"ignoring {root / 'val'}/ (only labeled/, test/ and unlabeled/ are read" in caplog.text


def test_an_extracted_copy_beside_the_archive_is_read_and_the_archive_named(tmp_path, caplog):
    (tmp_path / "MelanomaDetection.zip").write_bytes(b"")
    (tmp_path / "MelanomaDetection").mkdir()  # maybe a partial copy: say which one is read
    with caplog.at_level(logging.WARNING):
        assert resolve_data_path(tmp_path) == tmp_path
    assert "reading the folder MelanomaDetection/; MelanomaDetection.zip beside it" in caplog.text


def test_a_name_with_a_digit_that_is_not_decimal_sorts_last(tmp_path, jpegs):
    """'²'.isdigit() is True but int('²') fails: it was a traceback."""
    root = write_liveproject(tmp_path / "d", jpegs)
    shutil.copy(root / "unlabeled" / "0.jpg", root / "unlabeled" / "\u00b2.jpg")
    data = load_dataset(root)
    assert [n.rsplit("/", 1)[1] for n in data.unlabeled.names] == ["0.jpg", "1.jpg", "2.jpg",
                                                                    "\u00b2.jpg"]  # fmt: skip


def test_two_data_sets_side_by_side_are_refused_not_one_picked(tmp_path, jpegs):
    write_liveproject(tmp_path / "MelanomaDetection", jpegs)
    write_liveproject(tmp_path / "MelanomaDetection_v2", jpegs)
    with pytest.raises(DataError, match="MelanomaDetection and .*MelanomaDetection_v2: two data "
                       "sets side by side; pass the one to read as --data"):  # fmt: skip
        load_dataset(tmp_path)
    shutil.rmtree(tmp_path / "MelanomaDetection_v2")
    write_liveproject(tmp_path / "MelanomaDetection" / "old", jpegs)  # inside: named, not read
    assert len(load_dataset(tmp_path).labeled) == 8


def test_two_class_folder_data_sets_side_by_side_are_refused(tmp_path, jpegs):
    for name in ("isic2019", "isic2020"):
        write_class_folders(tmp_path / name / "train", jpegs)
    with pytest.raises(DataError, match="isic2019 and .*isic2020: two data sets side by side"):
        load_dataset(tmp_path)


def test_two_data_sets_side_by_side_in_a_zip_are_refused_with_a_fix_that_exists(tmp_path, jpegs):
    """A folder inside a zip cannot be passed as --data."""
    write_liveproject(tmp_path / "both" / "MelanomaDetection", jpegs)
    write_liveproject(tmp_path / "both" / "MelanomaDetection_v2", jpegs)
    archive = shutil.make_archive(str(tmp_path / "both"), "zip", tmp_path / "both")
    with pytest.raises(DataError, match="two data sets side by side; zip them apart$"):
        load_dataset(archive)


def test_photos_beside_the_class_folders_are_named_in_a_warning(tmp_path, jpegs, caplog):
    write_class_folders(tmp_path / "train", jpegs)
    write_class_folders(tmp_path / "test", jpegs)
    (tmp_path / "test" / "ISIC_stray.jpg").write_bytes(jpegs[0][0])  # which class? none
    (tmp_path / "train.csv").write_text("image_name,target\nISIC_stray,1\n")  # nor this
    with caplog.at_level(logging.WARNING):
        assert len(load_dataset(tmp_path).test) == 8
    assert caplog.messages == [
        f"{tmp_path}: labels from the class folders; not reading train.csv",
        f"{tmp_path / 'test'}: ignoring 1 photo(s) outside the class folders: ISIC_stray.jpg",
    ]


def test_a_folder_holding_only_another_zip_points_at_it(tmp_path, jpegs):
    write_liveproject(tmp_path / "d", jpegs)
    shutil.make_archive(str(tmp_path / "data"), "zip", tmp_path, "d")
    shutil.rmtree(tmp_path / "d")
    with pytest.raises(DataError, match=r"no known layout .*; to read .*data.zip, pass it as"):
        load_dataset(tmp_path)
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as outer:  # a zip in a zip: no path
        outer.write(tmp_path / "data.zip", "data/data.zip")
    with pytest.raises(DataError, match=r"or a .csv manifest\)$"):
        load_dataset(tmp_path / "outer.zip")
