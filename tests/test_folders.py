import pytest

from melanoma.folders import child, directories, is_hidden
from melanoma.sources import DataError, FileSource


def test_macos_zip_folders_and_dot_files_are_hidden():
    assert is_hidden("__MACOSX/labeled/._0_1.jpg") and is_hidden("a/.thumbs/0.jpg")
    assert not is_hidden("labeled/0_1.jpg")
    assert directories(["__MACOSX/labeled/._0_1.jpg", "data/labeled/0_1.jpg"]) == {
        "data", "data/labeled"
    }  # fmt: skip


def test_child_matches_any_letter_case_and_refuses_two_spellings(tmp_path):
    for folder in ("Train", "test", "TEST"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "0.jpg").write_bytes(b"")
    source = FileSource(tmp_path)
    dirs = directories(source.names)
    assert child(source, dirs, "", "train") == "Train"
    with pytest.raises(DataError, match="TEST and .*test: the same folder in two letter cases"):
        child(source, dirs, "", "test")
