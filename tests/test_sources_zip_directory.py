"""melanoma.sources: what a zip's directory must hold before a member is read (a listing
zipfile accepts, no overlapping members, not one part of a split archive)."""

import io
import os
import struct
import zipfile
import zlib

import pytest

from melanoma.sources import DataError, FileSource


def _zip_with_central_entry_edited(path, offset, value):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("benign/\u00e9.png", b"x")
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + offset : central + offset + len(value)] = value
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (6, b"\x40", r"cannot be read here \(zip file version 6.4\)"),  # version needed: 6.4
        (46 + 7, b"\xe9x", "flagged UTF-8 but is not"),  # the name's é (c3 a9) as Latin-1
    ],
)
def test_a_zip_zipfile_refuses_to_list_is_a_data_error(tmp_path, offset, value, message):
    archive = tmp_path / "odd.zip"
    _zip_with_central_entry_edited(archive, offset, value)
    with pytest.raises(DataError, match=message):
        FileSource(archive)


def test_an_empty_zip_lists_no_files(tmp_path):
    """No member to check for overlap: the check raised a ValueError traceback."""
    archive = tmp_path / "empty.zip"
    zipfile.ZipFile(archive, "w").close()
    assert FileSource(archive).names == []


@pytest.mark.parametrize("zip64", [False, True])
def test_the_last_part_of_a_split_archive_is_named_so(tmp_path, zip64):
    """zip -s: its members' offsets point into the other parts, which read as overlapping (an
    overlapped zip bomb, the message said); with a zip64 end record zipfile raised a traceback."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("labeled/0_0.jpg", b"x")
    data = buffer.getvalue()
    end = data.rfind(b"PK\x05\x06")
    record = bytearray(data[end:])
    struct.pack_into("<2H", record, 4, 1, 1)  # on the second disk, as is its directory
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 2) if zip64 else b""  # two disks
    (tmp_path / "parts.zip").write_bytes(data[:end] + locator + record)
    with pytest.raises(DataError, match=r"parts\.zip: the last part of a split archive"):
        FileSource(tmp_path / "parts.zip")


def test_an_end_record_with_disk_0xffff_is_read_whole(tmp_path):
    """APPNOTE 4.4.1.4: a zip64 writer may set every field the zip64 record holds to -1, the
    disk numbers too; that is no second disk, and zipfile reads the archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("labeled/0_0.jpg", b"x")
    data = bytearray(buffer.getvalue())
    struct.pack_into("<2H", data, data.rfind(b"PK\x05\x06") + 4, 0xFFFF, 0xFFFF)
    (tmp_path / "all.zip").write_bytes(bytes(data))
    assert FileSource(tmp_path / "all.zip").names == ["labeled/0_0.jpg"]


def _stored_block(quoted: bytes) -> bytes:
    """The header of a non-final deflate block that copies `quoted` through as it is."""
    return struct.pack("<B2H", 0, len(quoted), len(quoted) ^ 0xFFFF)


def _overlapped_zip(names: list[str], kernel: bytes) -> bytes:
    """Fifield's overlapped zip bomb, small: each member's deflate stream quotes the next
    member's local header in a stored block and runs on into that member's data, so each
    inflates to the kernel and every local header after its own."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    data, inflated = packer.compress(kernel) + packer.flush(), kernel
    fields = []
    for name in reversed(names):  # from the last: a header holds the CRC of all after it
        sizes = (zlib.crc32(inflated), len(data), len(inflated))
        fields.insert(0, struct.pack("<5H3I2H", 20, 0, 8, 0, 0x21, *sizes, len(name), 0))
        header = b"PK\x03\x04" + fields[0] + name.encode()
        data, inflated = _stored_block(header) + header + data, header + inflated
    body = data[len(_stored_block(b"")) :]  # the first member's header and data
    directory, offset = b"", 0
    for name, field in zip(names, fields, strict=True):
        directory += b"PK\x01\x02\x14\0" + field + struct.pack("<3H2I", 0, 0, 0, 0, offset)
        directory += name.encode()
        offset += 4 + len(field) + len(name) + len(_stored_block(b""))
    count = len(names)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    return body + directory + end


def test_an_overlapped_zip_bomb_is_refused_before_any_member_is_read(tmp_path):
    """zipfile before Python 3.11.8 and 3.12.2 (3.11.7, 3.12.1) reads each overlapped member
    in full, each up to the per-file limit, however small the archive. Later ones, and
    Debian 12's patched 3.11.2, refuse only the member being read, with their own words."""
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(_overlapped_zip(["unlabeled/1.jpg", "unlabeled/2.jpg"], bytes(1000)))
    with zipfile.ZipFile(archive) as zf:  # zipfile opens and lists it, on every version
        assert zf.namelist() == ["unlabeled/1.jpg", "unlabeled/2.jpg"]
    with pytest.raises(DataError, match=r"bomb\.zip: member 'unlabeled/1\.jpg' overlaps"):
        FileSource(archive)


class _Unseekable(io.RawIOBase):
    def __init__(self, file):
        self.file = file

    def writable(self):
        return True

    def write(self, data):
        return self.file.write(data)


def test_members_written_with_data_descriptors_do_not_overlap(tmp_path):
    """Written to a pipe, each member's sizes follow its data: the check must count them
    from the central directory, where they are exact."""
    archive = tmp_path / "piped.zip"
    with open(archive, "wb") as file:
        pipe = io.BufferedWriter(_Unseekable(file))
        with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in ("labeled/0_0.jpg", "labeled/1_1.jpg"):
                with zf.open(name, "w") as member:
                    member.write(os.urandom(3000))
        pipe.flush()
    assert all(info.flag_bits & 0x08 for info in zipfile.ZipFile(archive).infolist())
    source = FileSource(archive)
    assert [len(source.read(name)) for name in source.names] == [3000, 3000]
