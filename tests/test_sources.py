import os
import signal
import socket
import stat
import zipfile

import pytest

from melanoma.datasets import load_dataset
from melanoma.sources import (
    MAX_FILE_BYTES,
    MAX_MEMBER_DEPTH,
    DataError,
    FileSource,
    read_file,
    read_small_text,
    torch_zip_refusal,
)


def test_zip_is_read_in_place(tmp_path):
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("root/a/x.jpg", b"1")
        zf.writestr("root/b.txt", b"2")
    source = FileSource(archive)
    assert source.names == ["root/a/x.jpg", "root/b.txt"]
    assert source.read("root/b.txt") == b"2"
    assert source.describe("root/b.txt") == f"{archive}:root/b.txt"
    assert list(tmp_path.iterdir()) == [archive]  # nothing extracted


# On Windows a drive letter, even without a slash ("C:evil.jpg"), makes a path absolute.
@pytest.mark.parametrize(
    "member",
    ["../evil.jpg", "/abs/evil.jpg", "a/../../evil.jpg", "C:/evil.jpg", "C:evil.jpg", r"c:\w.jpg"],
)
def test_escaping_zip_member_is_an_error(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo(member), b"x")
    with pytest.raises(DataError, match="escapes the archive"):
        FileSource(archive)


def test_a_zip_member_nested_past_any_data_set_is_refused(tmp_path):
    """A 120 KB zip can name a file 30,000 folders deep: the layout search over them ran for
    minutes in 1.5 GB. A disk's paths stop near 4096 bytes; a zip's names do not."""
    archive = tmp_path / "deep.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/" * MAX_MEMBER_DEPTH + "ok.jpg", b"1")
    assert FileSource(archive).names == ["a/" * MAX_MEMBER_DEPTH + "ok.jpg"]
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/" * 30_000 + "x.jpg", b"1")
    with pytest.raises(DataError, match=r"deep.zip: member 'a/a/.*'\.\.\. is 30000 folders deep"):
        FileSource(archive)


def test_folder_listing_and_missing_path(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "f.jpg").write_bytes(b"z")
    assert FileSource(tmp_path).names == ["s/f.jpg"]
    with pytest.raises(DataError, match="does not exist"):
        FileSource(tmp_path / "nope")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (os.mkfifo, r"p: not a folder or a \.zip archive \(a device, pipe or socket\)"),
        (lambda p: os.symlink(p.name, p), r"p: data path does not exist \(a broken or looping"),
    ],
)
def test_a_data_path_that_is_a_pipe_or_a_looping_link_is_named_so(tmp_path, make, message):
    """A FIFO was walked as a folder: 'skipped an unreadable folder (Not a directory)', then
    'no known layout'."""
    make(tmp_path / "p")
    with pytest.raises(DataError, match=message):
        load_dataset(tmp_path / "p")


def test_plain_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("x")
    with pytest.raises(DataError, match="not a folder or a .zip"):
        FileSource(path)


def test_a_zip_cut_short_is_called_truncated(tmp_path):
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        archive.writestr("labeled/0_1.jpg", b"x" * 1000)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole.read_bytes()[:500])  # an interrupted download
    with pytest.raises(DataError, match=r"cut.zip: truncated or corrupt .zip archive"):
        FileSource(cut)


def test_corrupt_zip_member_names_the_member(tmp_path):
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("root/x.jpg", b"payload-bytes")
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"payload-bytes", b"payload-BYTES"))  # CRC now wrong
    with pytest.raises(DataError, match=r"d\.zip:root/x\.jpg: cannot be read"):
        FileSource(archive).read("root/x.jpg")


def test_a_symbolic_link_stored_in_a_zip_is_named_as_one(tmp_path):
    """zip -ry of a git-annex or DVC folder stores each photo as a link: the entry holds
    the target's path, which was reported as an image in an unrecognized format."""
    link = zipfile.ZipInfo("labeled/0_0.jpg")
    link.create_system = 3  # Unix: the high 16 bits are the file's mode
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(link, "../.git/annex/objects/0_0.jpg")
        zf.writestr("labeled/1_1.jpg", b"photo")
    source = FileSource(archive)
    with pytest.raises(
        DataError,
        match=r"d\.zip:labeled/0_0\.jpg: a symbolic link \(to "
        r"'\.\./\.git/annex/objects/0_0\.jpg'\) stored in the archive",
    ):
        source.read("labeled/0_0.jpg")
    assert source.read("labeled/1_1.jpg") == b"photo"


def test_members_stored_as_dot_or_double_slash_paths_are_read_by_their_clean_name(tmp_path):
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("./root/a.jpg", b"1")
        zf.writestr("root//b.jpg", b"2")
    source = FileSource(archive)
    assert source.names == ["root/a.jpg", "root/b.jpg"]
    assert [source.read(name) for name in source.names] == [b"1", b"2"]


def test_a_member_in_the_archive_twice_is_an_error(tmp_path):
    """zipfile reads only the last of two: one image would count twice, the other never."""
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("root/0_0.jpg", b"1")
        zf.writestr("./root/0_0.jpg", b"2")
        zf.writestr("root/0_0.jpg", b"3")
    with pytest.raises(DataError, match=r"d\.zip: member 'root/0_0\.jpg' is in the archive twice"):
        FileSource(archive)


def _with_central_directory_field(archive, offset: int, value: int) -> None:
    """Patch a 2-byte field of the only member's central directory entry (what zipfile
    reads the flags and compression method from)."""
    data = bytearray(archive.read_bytes())
    at = data.index(b"PK\x01\x02") + offset
    data[at : at + 2] = value.to_bytes(2, "little")
    archive.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "offset, value, message",
    [
        (8, 1, "encrypted; make the archive without a password"),  # flags: encrypted
        (10, 9, "compression method 9 cannot be read here"),  # Deflate64, as Windows writes
    ],
)
def test_members_zipfile_cannot_read_are_named(tmp_path, offset, value, message):
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("root/x.jpg", b"payload")
    _with_central_directory_field(archive, offset, value)
    with pytest.raises(DataError, match=rf"d\.zip:root/x\.jpg: {message}"):
        FileSource(archive).read("root/x.jpg")


def test_a_member_too_large_to_be_an_image_is_refused_before_it_is_read(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("unlabeled/1.jpg", "w", force_zip64=True) as member:
            for _ in range(MAX_FILE_BYTES // (1 << 20) + 1):
                member.write(bytes(1 << 20))  # zeros: ~260 KB on disk, 257 MB inflated
    assert archive.stat().st_size < 2_000_000
    with pytest.raises(DataError, match=r"bomb.zip:unlabeled/1.jpg: \d+ bytes, over the"):
        FileSource(archive).read("unlabeled/1.jpg")


def test_a_torch_zip_is_refused_by_what_all_its_members_declare_together(tmp_path):
    """torch reads every record of a weights.pt, resume.pt or program.pt2 into memory: two
    members of 129 MB each are 258 MB to read, though neither alone is over the limit."""
    archive = tmp_path / "resume.pt"
    half = MAX_FILE_BYTES // 2 + (1 << 20)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("archive/data/0", "archive/data/1"):
            with zf.open(name, "w", force_zip64=True) as member:
                for _ in range(half // (1 << 20)):
                    member.write(bytes(1 << 20))
    assert torch_zip_refusal(archive) == (
        f"its members inflate to {2 * half} bytes, over the {MAX_FILE_BYTES} byte limit"
    )


def test_a_file_too_large_to_be_an_image_is_refused(tmp_path):
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk space used
    with pytest.raises(DataError, match="huge.png: .* over the .* byte limit"):
        read_file(huge)


def test_a_zip_with_windows_backslashes_reads_as_folders_and_still_cannot_escape(tmp_path):
    archive = tmp_path / "powershell.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("data\\labeled\\"), b"")
        zf.writestr("data\\labeled\\0_1.jpg", b"1")
    source = FileSource(archive)
    assert source.names == ["data/labeled/0_1.jpg"]
    assert source.read("data/labeled/0_1.jpg") == b"1"
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("data\\..\\..\\evil.jpg", b"x")
    with pytest.raises(DataError, match="escapes the archive"):
        FileSource(archive)


def test_a_folder_reads_linked_folders_once_and_lists_broken_links(tmp_path, caplog):
    """A broken link is listed, and reading it names it: left out, it shrank a split with
    only a warning, where a corrupt photo in the same place stops the run."""
    top, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    (top / "labeled").mkdir(parents=True)
    (top / "labeled" / "0_0.jpg").write_bytes(b"a")
    elsewhere.mkdir()
    (elsewhere / "1_1.jpg").write_bytes(b"b")
    (top / "test").symlink_to(elsewhere)  # a split kept on another disk
    (top / "labeled" / "loop").symlink_to(top)  # must not hang the walk or repeat files
    (top / "labeled" / "2_1.jpg").symlink_to(tmp_path / "deleted.jpg")
    (top / "labeled" / "._3_1.jpg").symlink_to(tmp_path / "deleted.jpg")  # macOS, hidden
    source = FileSource(top)
    # listed as a hidden regular file is (the layouts skip both), and not warned about
    listed = ["labeled/._3_1.jpg", "labeled/0_0.jpg", "labeled/2_1.jpg", "test/1_1.jpg"]
    assert source.names == listed
    assert source.read("test/1_1.jpg") == b"b"
    with pytest.raises(DataError, match=r"2_1\.jpg: a broken or looping link \(to '.*deleted"):
        source.read("labeled/2_1.jpg")
    assert caplog.messages == []


def test_a_folder_linked_many_times_is_listed_once(tmp_path):
    """An alias link (jpeg -> images) made every CSV name match two files; links fanning out
    to one folder made the walk grow exponentially."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "IMG_0.jpg").write_bytes(b"a")
    (tmp_path / "jpeg").symlink_to(tmp_path / "images")
    for i in range(3):
        (tmp_path / "images" / f"again{i}").symlink_to(tmp_path / "images")
    assert FileSource(tmp_path).names == ["images/IMG_0.jpg"]


def test_a_small_text_file_over_the_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "metadata.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing of it is on disk
    with pytest.raises(OSError, match=f"{MAX_FILE_BYTES + 1} bytes, over the"):
        read_small_text(path)
    path.write_text("{}")
    assert read_small_text(path) == "{}"


def test_a_member_with_a_corrupt_deflate_stream_names_the_member(tmp_path):
    """A damaged download: zipfile raises zlib.error for it, not BadZipFile."""
    archive = tmp_path / "d.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("root/x.jpg", b"payload-bytes" * 50)
    data = bytearray(archive.read_bytes())
    start = 30 + int.from_bytes(data[26:28], "little") + int.from_bytes(data[28:30], "little")
    data[start] = 0xFF  # deflate block type 11: reserved, "invalid block type"
    archive.write_bytes(bytes(data))
    with pytest.raises(
        DataError, match=r"d\.zip:root/x\.jpg: cannot be read \(.*invalid block type"
    ):
        FileSource(archive).read("root/x.jpg")


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (os.mkfifo, r"a named pipe \(FIFO\)"),
        (lambda p: socket.socket(socket.AF_UNIX).bind(str(p)), "a socket"),
    ],
)
def test_a_special_file_named_as_a_photo_is_named_when_read(tmp_path, make, kind):
    """Reading a FIFO waits forever for a writer: refused by what it is, before reading."""
    (tmp_path / "labeled").mkdir()
    make(tmp_path / "labeled" / "1_1.jpg")
    source = FileSource(tmp_path)
    assert source.names == ["labeled/1_1.jpg"]
    signal.alarm(20)  # a read that blocks ends the test process, not hangs the run
    try:
        with pytest.raises(DataError, match=f"1_1\\.jpg: {kind}, not a regular file$"):
            source.read("labeled/1_1.jpg")
    finally:
        signal.alarm(0)


def test_a_hidden_link_to_a_photo_folder_does_not_hide_the_folder(tmp_path):
    """Hidden folders are pruned before the walk, so a link to labeled/ that sorts first
    ('.' before letters) cannot mark labeled/ as seen under a hidden name."""
    (tmp_path / "labeled").mkdir()
    (tmp_path / "labeled" / "0_0.jpg").write_bytes(b"a")
    (tmp_path / ".alias").symlink_to(tmp_path / "labeled")
    assert FileSource(tmp_path).names == ["labeled/0_0.jpg"]
