"""The CSV layout's text as spreadsheets save it: encodings and byte-order marks,
separators, line endings, spaces and quotes, and the file line each error names
(melanoma.csv_layout's _csv_text, _delimiter and _numbered_rows), loaded through
load_dataset as a user would. test_csv_layout.py has which CSV and which images."""

import pytest

from melanoma.datasets import load_dataset
from melanoma.sources import DataError


def test_csv_errors_name_the_line_of_the_file(tmp_path, jpegs):
    """Counted by the reader: a blank line is skipped, a quoted value can span two lines."""
    for i, data in enumerate(jpegs[0][:1] + jpegs[1][:1]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
    text = 'image_name,target,note\n\nISIC_0,1,"two\nlines"\nISIC_1,yes,\n'
    (tmp_path / "train.csv").write_text(text)
    with pytest.raises(DataError, match=r"train\.csv:5: target column 'target' holds 'yes', not"):
        load_dataset(tmp_path)


def test_csv_with_old_mac_line_endings(tmp_path, jpegs):
    """Excel's "CSV (Macintosh)" ends lines with CR alone."""
    for i, data in enumerate(jpegs[0][:1] + jpegs[1][:1]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
    (tmp_path / "train.csv").write_bytes(b"image_name,target\rISIC_0,1\rISIC_1,0\r")
    assert load_dataset(tmp_path).labeled.labels.tolist() == [1, 0]


def test_csv_saved_by_excel_with_a_byte_order_mark(tmp_path, jpegs):
    """Excel's "CSV UTF-8" starts the file with a BOM; the first header must still match."""
    for i, data in enumerate(jpegs[0][:1] + jpegs[1][:1]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
    (tmp_path / "train.csv").write_text("image_name,target\nISIC_0,1\nISIC_1,0\n", "utf-8-sig")
    assert load_dataset(tmp_path).labeled.labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("separator", "encoding"),
    [("\t", "utf-16"), ("\t", "utf-16-be"), ("\t", "utf-8"), (",", "utf-16"), (",", "utf-32")],
)
def test_csv_saved_as_unicode_text_or_tab_separated(tmp_path, jpegs, separator, encoding):
    """Excel's "Unicode Text" is UTF-16 with a byte-order mark, and tab-separated; both
    failed ('can't decode byte 0xff', 'CSV has no image column')."""
    for i, data in enumerate(jpegs[0][:1] + jpegs[1][:1]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
    text = "image_name,target\r\nISIC_0,1\r\nISIC_1,0\r\n".replace(",", separator)
    bom = b"\xfe\xff" if encoding == "utf-16-be" else b""  # utf-16-be writes no mark
    (tmp_path / "train.csv").write_bytes(bom + text.encode(encoding))
    assert load_dataset(tmp_path).labeled.labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("image_name\ttarget\nISIC_0\t1\n".encode("utf-16-le"), r"UTF-16 without a byte-order"),
        (b"image_name,target\nn\xe9vus,1\n", r"not UTF-8 \('utf-8' codec can't decode byte 0xe9"),
    ],
    ids=["utf-16-unmarked", "latin-1"],
)
def test_csv_in_an_unmarked_encoding_says_to_save_it_as_utf8(tmp_path, data, message):
    (tmp_path / "train.csv").write_bytes(data)
    with pytest.raises(DataError, match=f"train\\.csv: .*{message}.*; save it as CSV UTF-8$"):
        load_dataset(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "target, image_name\n1, ISIC_0\n0, ISIC_1\n",  # a space before each image name
        "image_name, target\nISIC_0, 1\nISIC_1, 0\n",  # and before each target value
    ],
)
def test_csv_with_spaces_after_the_commas(tmp_path, jpegs, text):
    for i, data in enumerate(jpegs[0][:1] + jpegs[1][:1]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
    (tmp_path / "train.csv").write_text(text)
    labeled = load_dataset(tmp_path).labeled
    assert labeled.names == ("ISIC_0.jpg", "ISIC_1.jpg") and labeled.labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"train.csv: empty CSV \(no header line\)"),
        ("image;target\nIMG_0;1\n", "it looks separated by ';', write it with commas"),
    ],
)
def test_an_empty_or_semicolon_csv_says_so(tmp_path, jpegs, text, message):
    (tmp_path / "IMG_0.jpg").write_bytes(jpegs[0][0])
    (tmp_path / "train.csv").write_text(text)
    # Kaggle's all-zero targets: must not stand in for a train.csv saved wrongly
    (tmp_path / "sample_submission.csv").write_text("image_name,target\nIMG_0,0\n")
    (tmp_path / "extras").mkdir()  # while a train.csv below a labelling CSV is not its manifest
    (tmp_path / "extras" / "train.csv").write_text("x\n")
    with pytest.raises(DataError, match=message):
        load_dataset(tmp_path)


def test_csv_with_a_stray_quote_in_a_long_file_is_one_line_error(tmp_path, jpegs):
    """An unclosed quote swallows the rest of the file into one field; past csv's field
    limit (128 KiB) the reader raises csv.Error, which must name the file."""
    (tmp_path / "ISIC_0.jpg").write_bytes(jpegs[0][0])
    rows = "".join(f"ISIC_{i},0\n" for i in range(1, 20_000))
    (tmp_path / "train.csv").write_text('image_name,target\n"ISIC_0,1\n' + rows)
    with pytest.raises(DataError, match=r"train\.csv: unreadable CSV \(field larger than"):
        load_dataset(tmp_path)


def test_a_csvs_rows_are_checked_as_they_are_read_so_its_first_bad_line_is_named(tmp_path, jpegs):
    """Every row was parsed into a list first: a 40 MB CSV of 10 million short rows took
    3.5 GB before line 3 was refused. Read row by row, the first bad line stops the read, so
    a parse error further down (an unclosed quote) is never reached."""
    (tmp_path / "ISIC_0.jpg").write_bytes(jpegs[0][0])
    rows = "".join(f"ISIC_{i},0\n" for i in range(1, 20_000))
    (tmp_path / "train.csv").write_text('image_name,target\nISIC_0,1\nnope,0\n"' + rows)
    with pytest.raises(DataError, match=r"train\.csv:3: image 'nope' not found next to the CSV"):
        load_dataset(tmp_path)
