"""The CSV layout's test split: a test.csv with a target column beside train.csv."""

import logging

import pytest

from melanoma.datasets import load_dataset
from melanoma.errors import UserError
from melanoma.evaluate import pick_split
from melanoma.sources import DataError


def write_isic(root, jpegs, test_rows=None):
    """ISIC 2020 style: train.csv naming jpeg/train/<name>.jpg without its extension, with
    ISIC's other columns; its melanoma and benign photos are also written to jpeg/test/."""
    melanoma, benign = jpegs
    header = "image_name,patient_id,sex,age_approx,anatom_site_general_challenge,diagnosis,"
    rows = [header + "benign_malignant,target"]
    for split in ("train", "test"):
        (root / "jpeg" / split).mkdir(parents=True)
    for label, items in ((1, melanoma), (0, benign)):
        word, diagnosis = ("malignant", "melanoma") if label else ("benign", "nevus")
        for i, data in enumerate(items):
            (root / "jpeg" / "train" / f"ISIC_{label}{i}.jpg").write_bytes(data)
            (root / "jpeg" / "test" / f"ISIC_9{label}{i}.jpg").write_bytes(data)
            rows.append(f"ISIC_{label}{i},IP_{i},male,45.0,torso,{diagnosis},{word},{label}")
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    if test_rows is not None:
        (root / "test.csv").write_text("\n".join(test_rows) + "\n")


def test_a_test_csv_with_a_target_column_is_the_test_split(tmp_path, jpegs, caplog):
    # it was not read: the run had no test split, and its photos were "not listed"
    test_rows = ["image_name,benign_malignant"]
    test_rows += [f"ISIC_91{i},malignant" for i in range(4)]
    test_rows += [f"ISIC_90{i},benign" for i in range(4)]
    write_isic(tmp_path, jpegs, test_rows)
    (tmp_path / "sample_submission.csv").write_text("image_name,target\nISIC_900,0\n")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(tmp_path)
    assert len(data.labeled) == 8 and len(data.test) == 8
    assert data.test.labels.tolist() == [1] * 4 + [0] * 4
    assert data.test.names[0] == "jpeg/test/ISIC_910.jpg"
    assert data.labeled.labels.tolist() == [1] * 4 + [0] * 4
    assert "not listed" not in caplog.text


def test_isic_2020s_test_csv_without_targets_leaves_no_test_split_and_says_where_one_goes(
    tmp_path, jpegs
):
    write_isic(tmp_path, jpegs, ["image_name,patient_id,sex"] + ["ISIC_900,IP_0,male"])
    data = load_dataset(tmp_path)
    assert data.test is None
    with pytest.raises(UserError, match="a test.csv with a target column beside train.csv"):
        pick_split(data, "test", checkpoint=None)


def test_an_image_in_train_csv_and_test_csv_is_refused(tmp_path, jpegs):
    write_isic(tmp_path, jpegs, ["image_name,target", "ISIC_900,0", "ISIC_10,1"])
    with pytest.raises(DataError, match=r"test.csv:3: image 'ISIC_10' is listed again "
                       r"\(first on .*train.csv:2\)"):  # fmt: skip
        load_dataset(tmp_path)


def test_a_test_csv_named_in_capitals_is_the_test_split_too(tmp_path, jpegs):
    # as a Windows download may name it; the folder layout reads Test/ as test/
    write_isic(tmp_path, jpegs, ["image_name,target", "ISIC_910,1", "ISIC_900,0"])
    (tmp_path / "test.csv").rename(tmp_path / "Test.csv")
    data = load_dataset(tmp_path)
    assert list(data.test.names) == ["jpeg/test/ISIC_910.jpg", "jpeg/test/ISIC_900.jpg"]


def test_a_labelled_test_csv_in_another_folder_is_not_the_test_split(tmp_path, jpegs):
    # another data set's test.csv, not one beside train.csv: its photos are not this set's
    write_isic(tmp_path, jpegs)
    (tmp_path / "jpeg/test/test.csv").write_text("image_name,target\nISIC_910,1\nISIC_900,0\n")
    data = load_dataset(tmp_path)
    assert (len(data.labeled), data.test) == (8, None)
