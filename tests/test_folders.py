import pytest

from melanoma.datasets import load_dataset
from melanoma.folders import child, directories, is_hidden, subfolders
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


def test_appledouble_files_beside_the_photos_are_not_photos(tmp_path, jpegs):
    """macOS copying to an exFAT or FAT drive writes ._<name> beside each file, in place."""
    melanoma, benign = jpegs
    for split in ("labeled", "test"):
        (tmp_path / split).mkdir()
        for i, data in enumerate(melanoma + benign):
            name = f"{i}_{int(i < len(melanoma))}.jpg"
            (tmp_path / split / name).write_bytes(data)
            (tmp_path / split / f"._{name}").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00")
    data = load_dataset(tmp_path)
    assert len(data.labeled) == len(data.test) == len(melanoma + benign)


def test_subfolders_come_from_one_index_and_match_a_scan_of_every_folder():
    """Finding a layout asks each folder for its subfolders; the index built once (a scan of
    every folder for each question took 16 s at 4,000 folders) gives the scan's answer."""
    names = ["a/b/c/x.jpg", "a/B/y.jpg", "a/b2/z.png", "t/1_0.jpg", "top.jpg", ".hid/q.jpg"]
    dirs = directories(names)
    assert dirs == {"a", "a/b", "a/b/c", "a/B", "a/b2", "t"}
    for root in ("", *dirs, "missing"):
        scanned = sorted(d for d in dirs if d.rpartition("/")[0] == root)
        assert subfolders(dirs, root) == scanned, root
