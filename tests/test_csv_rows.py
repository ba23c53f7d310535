"""csv_layout's row-by-row reading: only the CSV that labels the data is parsed past its
header, and only as far as its first bad line."""

import pytest

from melanoma.datasets import load_dataset
from melanoma.sources import DataError


def test_a_csv_that_labels_nothing_is_read_for_its_header_only(tmp_path, jpegs):
    """Kaggle's test.csv beside train.csv labels nothing: a row of it csv cannot parse (a
    value past csv's field size limit) refused the whole data set while every CSV's rows
    were parsed up front."""
    for i, data in enumerate(jpegs[0][:2] + jpegs[1][:2]):
        (tmp_path / f"ISIC_{i}.jpg").write_bytes(data)
    rows = "".join(f"ISIC_{i},{int(i < 2)}\n" for i in range(4))
    (tmp_path / "train.csv").write_text("image_name,target\n" + rows)
    (tmp_path / "test.csv").write_text('image_name,note\nISIC_9,"' + "x" * 200_000 + '"\n')
    assert load_dataset(tmp_path).labeled.labels.tolist() == [1, 1, 0, 0]


def test_a_header_csv_cannot_parse_is_one_line_naming_the_csv(tmp_path, jpegs):
    """A header past csv's field size limit (a photo's bytes pasted into the first cell, say)
    raised csv.Error from reading the column names, outside the DataError the rows get."""
    (tmp_path / "ISIC_0.jpg").write_bytes(jpegs[0][0])
    (tmp_path / "train.csv").write_text('"' + "x" * 200_000 + '",target\nISIC_0,1\n')
    with pytest.raises(DataError, match=r"train\.csv: unreadable CSV \(field larger than"):
        load_dataset(tmp_path)
