"""The CSV layout: which CSV lists the labels and which image each row names, loaded
through load_dataset as a user would (test_csv_text.py: how its text is read)."""

import logging
import shutil
from pathlib import PurePosixPath
from types import SimpleNamespace

import pytest

from melanoma import csv_layout
from melanoma.datasets import load_dataset
from melanoma.sources import DataError


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
    with pytest.raises(DataError, match="target column 'melanoma' holds '0.5', not 0/1 or"):
        load_dataset(tmp_path)


def test_csv_targets_written_as_words(tmp_path, jpegs):
    """ISIC 2020's train.csv has `benign_malignant` beside `target`; alone it is the target."""
    rows = ["image_name,benign_malignant"]
    for i, data in enumerate(jpegs[0][:2] + jpegs[1][:2]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
        rows.append(f"ISIC_{i},{['malignant', 'Melanoma', 'benign', 'BENIGN'][i]}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    assert load_dataset(tmp_path).labeled.labels.tolist() == [1, 1, 0, 0]
    rows[1] = "ISIC_0,nevus"
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="column 'benign_malignant' holds 'nevus', not 0/1 or"):
        load_dataset(tmp_path)


def test_csv_with_two_target_columns_is_refused_not_guessed(tmp_path, jpegs):
    """csv keeps the last of two same-named columns: the labels would silently be its."""
    for i, data in enumerate(jpegs[0][:1] + jpegs[1][:1]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
    (tmp_path / "train.csv").write_text("image_name,target,Target\nISIC_0,1,0\nISIC_1,0,1\n")
    with pytest.raises(DataError, match=r"CSV has 2 target columns \('target', 'Target'\)"):
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


def write_sites(root, jpegs):
    """siteA/ and siteB/ each hold IMG_0.jpg .. IMG_3.jpg, different images under one name."""
    melanoma, benign = jpegs
    for site, items in (("siteA", melanoma), ("siteB", benign)):
        (root / site).mkdir(parents=True)
        for i, data in enumerate(items):
            (root / site / f"IMG_{i}.jpg").write_bytes(data)


def test_csv_path_picks_that_folder_not_a_namesake(tmp_path, jpegs):
    write_sites(tmp_path, jpegs)
    rows = [f"siteB/IMG_{i}.jpg,0" for i in range(4)] + [f"siteA/IMG_{i},1" for i in range(4)]
    (tmp_path / "train.csv").write_text("filename,target\n" + "\n".join(rows) + "\n")
    data = load_dataset(tmp_path)
    assert data.labeled.names[:2] == ("siteB/IMG_0.jpg", "siteB/IMG_1.jpg")
    assert data.labeled.names[4] == "siteA/IMG_0.jpg"


def test_csv_bare_name_two_files_share_is_refused_not_guessed(tmp_path, jpegs):
    write_sites(tmp_path, jpegs)
    (tmp_path / "train.csv").write_text("image_name,target\nIMG_0,1\n")
    with pytest.raises(DataError, match=r"train.csv:2: image 'IMG_0' matches siteA/IMG_0.jpg and "
                       r"siteB/IMG_0.jpg; write its path in the CSV"):  # fmt: skip
        load_dataset(tmp_path)


def test_csv_row_that_repeats_an_image_is_refused(tmp_path, jpegs):
    write_sites(tmp_path, jpegs)
    rows = ["siteA/IMG_0,1", "siteB/IMG_0,0", "siteA/IMG_0.jpg,0"]
    (tmp_path / "train.csv").write_text("image,label\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"train.csv:4: image 'siteA/IMG_0.jpg' is listed again "
                       r"\(first on line 2\)"):  # fmt: skip
        load_dataset(tmp_path)


def test_csv_zip_from_macos_skips_its_appledouble_csv(tmp_path, jpegs):
    write_sites(tmp_path / "isic", jpegs)
    (tmp_path / "isic" / "train.csv").write_text("image,target\nsiteA/IMG_0,1\nsiteB/IMG_0,0\n")
    (tmp_path / "__MACOSX" / "isic").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "isic" / "._train.csv").write_bytes(b"\x00\x05\x16\x07\xff\xfe")
    archive = shutil.make_archive(str(tmp_path / "isic"), "zip", tmp_path)
    assert len(load_dataset(archive).labeled) == 2


def test_csv_names_the_images_it_does_not_list_in_a_warning(tmp_path, jpegs, caplog):
    write_sites(tmp_path, jpegs)
    (tmp_path / "train.csv").write_text("image,target\nsiteA/IMG_0,1\nsiteB/IMG_0,0\n")
    with caplog.at_level(logging.WARNING):
        assert len(load_dataset(tmp_path).labeled) == 2
    assert "6 image(s) in the data are not listed and not used: siteA/IMG_1.jpg" in caplog.text


def test_csv_reads_an_unlabeled_folder_beside_it_for_the_sgan(tmp_path, jpegs, caplog):
    melanoma, benign = jpegs
    (tmp_path / "labeled").mkdir()  # where a CSV's images may be kept: not liveProject here
    (tmp_path / "Unlabeled").mkdir()
    rows = ["image_name,target"]
    for i, data in enumerate(melanoma + benign):
        (tmp_path / "labeled" / f"ISIC_{i}.jpg").write_bytes(data)
        (tmp_path / "Unlabeled" / f"ISIC_{i}.jpg").write_bytes(data)  # same names, not listed
        rows.append(f"ISIC_{i},{int(i < len(melanoma))}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(tmp_path)
    assert data.layout == "csv" and (len(data.labeled), len(data.unlabeled)) == (8, 8)
    assert all(name.startswith("labeled/") for name in data.labeled.names)
    assert not caplog.messages


def test_csv_names_match_file_extensions_in_any_case(tmp_path, jpegs):
    melanoma, benign = jpegs
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "ISIC_0.JPG").write_bytes(melanoma[0])  # a camera's capitals
    (tmp_path / "images" / "ISIC_1.jpeg").write_bytes(benign[0])
    (tmp_path / "images" / "P001.A.jpg").write_bytes(benign[1])  # a dot that is no extension
    (tmp_path / "train.csv").write_text(
        "image,target\nISIC_0.jpg,1\nimages/ISIC_1.JPEG,0\nP001.A,0\n"
    )
    data = load_dataset(tmp_path)
    assert data.labeled.names == ("images/ISIC_0.JPG", "images/ISIC_1.jpeg", "images/P001.A.jpg")


def test_csv_names_match_files_whose_accents_macos_decomposed(tmp_path, jpegs):
    """The file names as macOS writes them (e + U+0301), the CSV as typed (U+00E9): the
    two print alike, and the row was 'not found next to the CSV'."""
    melanoma, benign = jpegs
    (tmp_path / "Cle\u0301ment").mkdir()
    (tmp_path / "Cle\u0301ment" / "nævus_re\u0301sumé.jpg").write_bytes(benign[0])
    (tmp_path / "Cle\u0301ment" / "me\u0301lanome.jpg").write_bytes(melanoma[0])
    (tmp_path / "train.csv").write_text(
        "image,target\nClément/nævus_résumé.jpg,0\nmélanome,1\n", encoding="utf-8"
    )
    data = load_dataset(tmp_path)
    assert data.labeled.names == (
        "Cle\u0301ment/nævus_re\u0301sumé.jpg",
        "Cle\u0301ment/me\u0301lanome.jpg",
    )


@pytest.mark.parametrize(
    ("listed", "path", "message"),
    [
        ("IMD002.bmp", "images/IMD002.bmp", r"is \S+images/IMD002.bmp, not a .jpg, .jpeg or .png"),
        ("u0", "unlabeled/u0.jpg", r"is \S+unlabeled/u0.jpg, in the unlabeled/ folder beside"),
        ("gone.jpg", "images/there.jpg", "not found next to the CSV"),
    ],
)
def test_csv_row_naming_a_file_that_is_not_read_says_why(tmp_path, jpegs, listed, path, message):
    """A file that is there (PH2's .bmp photos) was 'not found next to the CSV' too, which
    sent the user looking for it."""
    melanoma, benign = jpegs
    (tmp_path / "images").mkdir()
    (tmp_path / "unlabeled").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(melanoma[0])
    (tmp_path / path).write_bytes(benign[0])
    (tmp_path / "train.csv").write_text(f"image,target\na.jpg,1\n{listed},0\n")
    with pytest.raises(DataError, match=rf"train.csv:3: image '{listed}' {message}"):
        load_dataset(tmp_path)


def test_two_train_csvs_side_by_side_are_refused_not_one_picked(tmp_path, jpegs):
    for site in ("isic2019", "isic2020"):
        (tmp_path / site).mkdir()
        (tmp_path / site / "IMG_0.jpg").write_bytes(jpegs[0][0])
        (tmp_path / site / "IMG_1.jpg").write_bytes(jpegs[1][0])
        (tmp_path / site / "train.csv").write_text("image,target\nIMG_0,1\nIMG_1,0\n")
    with pytest.raises(DataError, match="isic2019 and .*isic2020: two data sets side by side"):
        load_dataset(tmp_path)
    (tmp_path / "old").mkdir()  # one deeper than the other is a second data set too
    (tmp_path / "isic2019").rename(tmp_path / "old" / "isic2019")
    with pytest.raises(DataError, match="isic2020 and .*old/isic2019: two data sets side by"):
        load_dataset(tmp_path)


def test_a_stray_csv_does_not_hide_a_liveproject_folder_without_test(tmp_path, jpegs):
    (tmp_path / "labeled").mkdir()
    (tmp_path / "labeled" / "0_1.jpg").write_bytes(jpegs[0][0])
    (tmp_path / "predictions.csv").write_text("path,probability\n0_1.jpg,0.9\n")
    with pytest.raises(DataError, match="test: split folder is missing or empty"):
        load_dataset(tmp_path)


def test_a_deeper_train_csv_does_not_displace_the_labelling_csv(tmp_path, jpegs):
    (tmp_path / "IMG_0.jpg").write_bytes(jpegs[0][0])
    (tmp_path / "IMG_1.jpg").write_bytes(jpegs[1][0])
    (tmp_path / "labels.csv").write_text("image,target\nIMG_0,1\nIMG_1,0\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "train.csv").write_text("epoch,loss\n1,0.5\n")  # some log, no labels
    assert load_dataset(tmp_path).labeled.labels.tolist() == [1, 0]


def test_csv_path_from_the_root_of_a_windows_drive_matches_its_folders(tmp_path, jpegs):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "ISIC_0.jpg").write_bytes(jpegs[0][0])
    (tmp_path / "images" / "ISIC_1.jpg").write_bytes(jpegs[1][0])
    rows = "image_name,target\n\\images\\ISIC_0.jpg,0\n/images/ISIC_1,1\n"
    (tmp_path / "train.csv").write_text(rows)
    labeled = load_dataset(tmp_path).labeled
    assert labeled.names == ("images/ISIC_0.jpg", "images/ISIC_1.jpg")


def test_csv_in_a_subfolder_names_the_images_it_does_not_list_anywhere(tmp_path, jpegs, caplog):
    """The CSV's names are matched against every image in the data, so images outside its
    own folder that it does not list (and an unlabeled/ that is not beside it) are unused
    too: labels/train.csv beside images/ must not drop them unremarked."""
    melanoma, benign = jpegs
    (tmp_path / "labels").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "unlabeled").mkdir()
    rows = ["image_name,target"]
    for i, data in enumerate(melanoma + benign):
        (tmp_path / "images" / f"ISIC_{i}.jpg").write_bytes(data)
        if i != 0:  # ISIC_0 is left out of the CSV
            rows.append(f"ISIC_{i},{int(i < len(melanoma))}")
    (tmp_path / "unlabeled" / "U_0.jpg").write_bytes(benign[0])
    (tmp_path / "labels" / "train.csv").write_text("\n".join(rows) + "\n")
    with caplog.at_level(logging.WARNING):
        data = load_dataset(tmp_path)
    assert len(data.labeled) == 7 and data.unlabeled is None
    assert (
        "2 image(s) in the data are not listed and not used: images/ISIC_0.jpg, "
        "unlabeled/U_0.jpg" in caplog.text
    )


def test_one_lookup_finds_what_matching_every_path_ending_finds():
    """A row's image is one dict lookup of its path's ending: filtering every image of that
    name took 11 s for 1,000 rows naming L00001/image.jpg and the like. Against the rule
    it replaces (a path ending in all of the row's parts, with or without extension):"""
    names = [
        f"{top}/{mid}/{leaf}"
        for top in ("jpeg", "Jpeg", "unlabeled")
        for mid in ("L1", "L2", "x")
        for leaf in ("image.jpg", "image.JPG", "IMG.png", "notes.txt")
    ] + ["image.jpg", "L1/image.jpeg"]
    source = SimpleNamespace(names=names)
    by_tail = csv_layout._images_by_tail(source, skip="unlabeled/")
    values = [
        "image", "image.jpg", "IMAGE.jpg", "image.JPG", "L1/image", "L2/image.jpg",
        "jpeg/L1/image.jpg", "/jpeg/x/IMG.png", "./x/IMG", "Jpeg/x/image", "unlabeled/L1/image",
        "notes.txt", "notes", "L1/image.jpeg", "a/jpeg/L1/image.jpg",
    ]  # fmt: skip
    for value in values:
        wanted = csv_layout._lower_suffix(PurePosixPath(value))
        rule = sorted(
            n
            for n in names
            if csv_layout.is_image_name(n)
            and not n.lower().startswith("unlabeled/")
            and csv_layout._ends_with(csv_layout._lower_suffix(PurePosixPath(n)), wanted)
        )
        assert sorted(set(by_tail.get(csv_layout._tail(wanted), ()))) == rule, value


def test_csv_target_columns_that_disagree_are_refused(tmp_path, jpegs):
    """ISIC 2020's train.csv states each label twice (target, benign_malignant); after a
    hand edit of one, `target` silently won. A blank or non-target value is not compared."""
    rows = ["image_name,target,benign_malignant"]
    for i, data in enumerate(jpegs[0][:2] + jpegs[1][:2]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
        rows.append(f"ISIC_{i},{int(i < 2)},{['malignant', 'malignant', 'benign', ''][i]}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    assert load_dataset(tmp_path).labeled.labels.tolist() == [1, 1, 0, 0]
    rows[3] = "ISIC_2,0,Malignant"
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"train.csv:4: target column 'target' holds '0' but "
                       r"'benign_malignant' holds 'Malignant'; make them agree"):  # fmt: skip
        load_dataset(tmp_path)


def test_csv_target_columns_named_in_capitals_are_compared_too(tmp_path, jpegs):
    # a spreadsheet's export may capitalise the header, which is read case-insensitively
    (tmp_path / "ISIC_0.jpg").write_bytes(jpegs[1][0])
    (tmp_path / "train.csv").write_text("Image_Name,Target,Benign_Malignant\nISIC_0,0,malignant\n")
    with pytest.raises(DataError, match="'Benign_Malignant' holds 'malignant'; make them agree"):
        load_dataset(tmp_path)
