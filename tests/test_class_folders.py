"""melanoma/class_folders.py: where the class-folder layout starts; a data set's own folder may
be named like a class."""

import shutil
import zipfile

import pytest

from melanoma.datasets import load_dataset
from melanoma.sources import DataError


def write_kaggle_tree(root, jpegs, positive="malignant"):
    """train/ and test/, each with benign/ and `positive`/ of real JPEGs."""
    melanoma, benign = jpegs
    for split in ("train", "test"):
        for cls, items in ((positive, melanoma), ("benign", benign)):
            (root / split / cls).mkdir(parents=True)
            for i, data in enumerate(items):
                (root / split / cls / f"{split}_{i}.jpg").write_bytes(data)


@pytest.mark.parametrize("positive", ["malignant", "melanoma"])
def test_class_folders_with_train_and_test(tmp_path, jpegs, positive):
    write_kaggle_tree(tmp_path, jpegs, positive)
    data = load_dataset(tmp_path)
    assert data.layout == "class-folders"
    assert sorted(data.labeled.labels.tolist()) == [0] * 4 + [1] * 4
    assert len(data.test) == 8


@pytest.mark.parametrize("wrapper", ["melanoma", "Malignant"])
def test_a_data_set_in_a_folder_named_like_the_melanoma_class_is_read(tmp_path, jpegs, wrapper):
    # ~/data/melanoma/{train,test}/{benign,malignant}/ with --data ~/data: melanoma/ was taken
    # for the melanoma class and the run refused with "benign/ is missing or empty"
    write_kaggle_tree(tmp_path / wrapper, jpegs)
    data = load_dataset(tmp_path)
    assert data.layout == "class-folders"
    assert len(data.labeled) == 8 and len(data.test) == 8
    assert data.labeled.labels.tolist() == [0] * 4 + [1] * 4
    assert all(n.startswith(f"{wrapper}/train/") for n in data.labeled.names)


def test_a_zip_of_a_folder_named_melanoma_is_read(tmp_path, jpegs):
    # `zip -r melanoma.zip melanoma/`: every name starts with melanoma/
    write_kaggle_tree(tmp_path / "melanoma", jpegs, positive="melanoma")
    archive = tmp_path / "melanoma.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((tmp_path / "melanoma").rglob("*.jpg")):
            zf.write(path, path.relative_to(tmp_path).as_posix())
    data = load_dataset(archive)
    assert len(data.labeled) == 8 and len(data.test) == 8
    assert [n.split("/")[2] for n in data.test.names] == ["benign"] * 4 + ["melanoma"] * 4
    assert data.test.labels.tolist() == [0] * 4 + [1] * 4


def test_a_folder_named_melanoma_holding_only_train_is_a_data_set_not_a_class(tmp_path, jpegs):
    # ~/data/melanoma/train/{benign,malignant}/, no test/ yet: melanoma/ holds a train/
    write_kaggle_tree(tmp_path / "melanoma", jpegs)
    shutil.rmtree(tmp_path / "melanoma/test")
    data = load_dataset(tmp_path)
    assert data.test is None
    assert data.labeled.labels.tolist() == [0] * 4 + [1] * 4
    assert all(n.startswith("melanoma/train/") for n in data.labeled.names)


def test_a_folder_named_melanoma_holding_the_classes_is_one_split(tmp_path, jpegs):
    # ~/data/melanoma/{benign,malignant}/: a data set of one split, named for what it is about
    write_kaggle_tree(tmp_path / "melanoma", jpegs)
    shutil.rmtree(tmp_path / "melanoma/test")
    (tmp_path / "melanoma/train").rename(tmp_path / "one")
    for cls in ("benign", "malignant"):
        (tmp_path / "one" / cls).rename(tmp_path / "melanoma" / cls)
    data = load_dataset(tmp_path)
    assert (len(data.labeled), data.test) == (8, None)
    assert data.labeled.labels.tolist() == [0] * 4 + [1] * 4


def test_a_folder_named_melanoma_holding_only_test_is_refused_for_that(tmp_path, jpegs):
    # not as "benign/ is missing" beside a melanoma class it took melanoma/ for
    write_kaggle_tree(tmp_path / "melanoma", jpegs)
    shutil.rmtree(tmp_path / "melanoma/train")
    with pytest.raises(DataError, match="class folders under test/ with no train/ beside them"):
        load_dataset(tmp_path)
