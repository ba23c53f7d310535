"""Read files from a folder or from a .zip in place, under one small interface."""

from __future__ import annotations

import errno
import logging
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from melanoma.errors import UserError, first_line, listing

log = logging.getLogger(__name__)

# A 50 MP phone JPEG is ~25 MB and a lossless PNG of it ~150 MB. A member far
# above that is read whole into memory before any image check, so a small
# .zip of zeros could exhaust it: refuse by the size the file declares.
MAX_FILE_BYTES = 256 * 1024 * 1024
# A disk's paths stop near 4096 bytes, a zip's names at 65535: 30,000 folders deep in a
# 120 KB archive, and each of them a folder to search for a layout (minutes, 1.5 GB).
MAX_MEMBER_DEPTH = 64


class DataError(UserError):
    """Bad input data; the message names the file and the problem."""


def check_file_size(size: int, where: str) -> None:
    if size > MAX_FILE_BYTES:
        raise DataError(f"{where}: {size} bytes, over the {MAX_FILE_BYTES} byte limit for a file")


def torch_zip_refusal(path: Path) -> str | None:
    """Why torch must not read this zip (its members declare more than MAX_FILE_BYTES, or
    zipfile cannot list them), else None (also for a file that is no zip at all: torch names
    what it is). Torch's files are zips read member by member into memory, and torch reads
    deflated members as well as the stored ones it writes: a few hundred KB of deflated
    zeros can declare gigabytes. zipfile and torch stop each at its declared size. Torch's
    reader accepts what zipfile refuses to list (a member asking for zip version 6.4, a name
    flagged UTF-8 that is not), so such a zip is refused, not passed on unchecked: torch
    never writes one."""
    try:
        if not zipfile.is_zipfile(path):  # BadZipFile: a zip64 end record naming other disks
            return None
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, NotImplementedError, UnicodeDecodeError) as err:
        return f"a zip whose members cannot be listed ({first_line(err)})"
    if declared > MAX_FILE_BYTES:
        return f"its members inflate to {declared} bytes, over the {MAX_FILE_BYTES} byte limit"
    return None


def read_small_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A metadata or manifest file's text. A FIFO would block the read and /dev/zero never
    end it, so anything but a regular file of at most `limit` bytes is an OSError naming it."""
    if path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    size = path.stat().st_size
    if size > limit:
        raise OSError(errno.EFBIG, f"{size} bytes, over the {limit} byte limit", str(path))
    return path.read_text()


def read_file(path: Path) -> bytes:
    """A file's bytes, refusing one too large to be an image or a manifest, and anything
    but a regular file by what it is (reading a FIFO would wait forever for a writer)."""
    try:
        status = path.stat()  # once: thousands of photos in a pool
    except OSError:  # missing, or a link whose target is gone or loops
        if path.is_symlink():
            raise DataError(f"{path}: {_not_regular(path)}") from None
        raise
    if not stat.S_ISREG(status.st_mode):
        raise DataError(f"{path}: {_not_regular(path)}")
    check_file_size(status.st_size, str(path))
    return path.read_bytes()


def _not_regular(path: Path) -> str:
    if not path.exists():  # exists() follows the link: its target is gone, or loops
        return f"a broken or looping link (to {os.readlink(path)!r}), not a file"
    mode = path.stat().st_mode
    kinds = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(mode)), "a device")
    return f"{kind}, not a regular file"


def check_data_path(path: Path) -> None:
    """A data path that is neither a folder nor a file is named for what it is: a FIFO or
    a device was walked as a folder ('skipped an unreadable folder (Not a directory)')."""
    if not path.exists():  # exists() follows links: a loop or a dangling one is "missing"
        linked = " (a broken or looping link)" if path.is_symlink() else ""
        raise DataError(f"{path}: data path does not exist{linked}")
    if not path.is_dir() and not path.is_file():
        raise DataError(f"{path}: not a folder or a .zip archive (a device, pipe or socket)")


class FileSource:
    """A tree of files, from a directory or read in place from a .zip (never extracted)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        check_data_path(self.path)
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_file():
            try:
                is_zip = zipfile.is_zipfile(self.path)
            except zipfile.BadZipFile:  # its zip64 end record counts other disks
                raise DataError(f"{self.path}: {SPLIT_ARCHIVE}") from None
            if not is_zip:
                raise DataError(f"{self.path}: {_not_a_zip(self.path)}")
            if _last_part_of_split(self.path):
                raise DataError(f"{self.path}: {SPLIT_ARCHIVE}")
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as err:
                raise DataError(f"{self.path}: corrupt .zip archive ({err})") from None
            except NotImplementedError as err:  # a directory entry asking for a zip version
                # past 6.3, which zipfile refuses as it lists the archive
                raise DataError(f"{self.path}: .zip archive cannot be read here ({err})") from None
            except UnicodeDecodeError:  # a name flagged UTF-8 that is not (zipfile decodes
                # every name as it opens the archive)
                raise DataError(
                    f"{self.path}: a member name is flagged UTF-8 but is not; make the "
                    "archive again (zip -r, or Python's zipfile)"
                ) from None
            self._members = _safe_members(self._zip, self.path)
            self._names = sorted(self._members)
        else:
            self._names = _folder_names(self.path)

    @property
    def names(self) -> list[str]:
        """Every file, as a sorted relative POSIX path."""
        return self._names

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                info = self._members[name]  # by its entry: the stored name may be ./a//b
                # zipfile stops at the declared size, so checking it bounds the read
                check_file_size(info.file_size, self.describe(name))
                data = self._zip.read(info)
                if _is_link(info):
                    raise DataError(_stored_link(self.describe(name), data))
                return data
            return read_file(self.path / name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:  # bad CRC, bad
            # compressed stream, a header that lies: the member cannot be read as stored
            raise DataError(f"{self.describe(name)}: cannot be read ({err})") from None
        except NotImplementedError:  # Deflate64, which Windows uses for large archives (a
            # RuntimeError subclass, so caught first)
            raise DataError(
                f"{self.describe(name)}: compression method {info.compress_type} cannot be "
                "read here; make the archive with plain Deflate (zip -r, or Python's zipfile)"
            ) from None
        except RuntimeError:  # zipfile's word for a password-protected member
            raise DataError(
                f"{self.describe(name)}: encrypted; make the archive without a password"
            ) from None

    def describe(self, name: str) -> str:
        """A path for error messages: `archive.zip:member` or the file path."""
        return f"{self.path}:{name}" if self._zip is not None else str(self.path / name)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


# macOS writes ._name files and a __MACOSX/ folder into every zip it makes.
HIDDEN_FOLDERS = ("__MACOSX",)


def is_hidden(name: str) -> bool:
    """A relative path with a dot-named part or a macOS zip's __MACOSX folder in it."""
    return any(p.startswith(".") or p in HIDDEN_FOLDERS for p in PurePosixPath(name).parts)


def _folder_names(folder: Path) -> list[str]:
    """Every file under `folder` as a sorted relative POSIX path, linked folders too."""
    return sorted(p.relative_to(folder).as_posix() for p in listed_files_under(folder))


def listed_files_under(folder: Path) -> list[Path]:
    """The regular files of files_under(folder), and the broken links and special files
    named like photos: reading one is a DataError naming it, as for a corrupt photo, so
    labeled and test stop on it and the unlabeled pool counts it (left out, it shrank a
    split with only a warning). Other such entries that are not hidden, a linked split
    folder on a disk not mounted say, are named in a warning."""
    from melanoma.images import IMAGE_SUFFIXES  # images imports this module

    listed, broken = [], []
    for path in files_under(folder):  # at most one stat each: thousands in a pool
        photo = path.name.lower().endswith(IMAGE_SUFFIXES)
        (listed if photo or path.is_file() else broken).append(path)
    names = [p.relative_to(folder).as_posix() for p in broken]
    if shown := [name for name in names if not is_hidden(name)]:
        log.warning(
            "%s: skipped %d broken link(s) or special file(s): %s",
            folder, len(shown), listing(shown),
        )  # fmt: skip
    return listed


def files_under(folder: Path) -> list[Path]:
    """Every file (or link) under `folder`, following linked folders, each folder once, under
    the first path the walk meets (sorted): a link loop ends, and links fanning out to one
    folder cost nothing more. An unreadable folder is named in a warning, not left out."""
    seen, found = set(), []

    def unreadable(err: OSError) -> None:
        log.warning("%s: skipped an unreadable folder (%s)", err.filename, err.strerror)

    for root, dirs, names in os.walk(folder, onerror=unreadable, followlinks=True):
        status = os.stat(root)
        if (status.st_dev, status.st_ino) in seen:
            dirs.clear()
            continue
        seen.add((status.st_dev, status.st_ino))
        dirs[:] = sorted(name for name in dirs if not is_hidden(name))  # a stable order
        found += [Path(root, name) for name in names]
    return found


def _is_link(info: zipfile.ZipInfo) -> bool:
    """A symbolic link stored as one (zip -y, macOS's ditto): the entry holds its target's
    path, not the file. A Unix archiver keeps the file type in the high 16 bits."""
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _stored_link(where: str, target: bytes) -> str:
    # Not followed: its target lies outside the archive, or is the archive's own member.
    shown = target[:200].decode("utf-8", "replace")
    return (
        f"{where}: a symbolic link (to {shown!r}) stored in the archive, not the file; "
        "make the archive from the files themselves (zip -r without -y)"
    )


# Not "zip -s 0 PART.zip --out WHOLE.zip": Info-ZIP 3.0 joined a member spanning two parts
# into a file that unzip -t fails too.
SPLIT_ARCHIVE = (
    "the last part of a split archive (zip -s), which cannot be read; make one .zip of the "
    "files instead (zip -r, without -s)"
)
END_RECORD = b"PK\x05\x06"


def _last_part_of_split(path: Path) -> bool:
    """The end record numbers the disk it is on: past 0, the members' offsets point into the
    other parts, which zipfile reads as overlapping members of this one (a zip bomb's mark).
    0xFFFF is not a disk: a zip64 writer may put it in every field the zip64 record holds,
    and zipfile reads such an archive whole."""
    with open(path, "rb") as file:
        file.seek(max(0, path.stat().st_size - (1 << 16) - 22))  # the end record and comment
        tail = file.read()
    end = tail.rfind(END_RECORD)
    return 0 <= end <= len(tail) - 8 and 0 < struct.unpack_from("<H", tail, end + 4)[0] < 0xFFFF


def _not_a_zip(path: Path) -> str:
    # A zip's directory sits at its end: a download cut short starts like a zip but has none.
    with open(path, "rb") as file:
        starts_like_zip = file.read(4) == b"PK\x03\x04"
    if starts_like_zip:
        return "truncated or corrupt .zip archive (no central directory at its end)"
    return "not a folder or a .zip archive"


def _safe_members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """Each file's entry by its clean relative name; an entry that escapes or repeats a
    name is an error (zipfile would read only the last of two, so one image would count
    twice and the other not at all)."""
    members = {}
    for info in archive.infolist():
        # Windows PowerShell 5's Compress-Archive writes `\` between folders, against the
        # zip spec; zipfile turns it into `/` only when it runs on Windows.
        stored = info.filename.replace("\\", "/")
        member = PurePosixPath(stored)
        if member.is_absolute() or ".." in member.parts or ":" in stored.split("/")[0]:
            raise DataError(f"{path}: member {info.filename!r} escapes the archive")
        if len(member.parent.parts) > MAX_MEMBER_DEPTH:
            raise DataError(
                f"{path}: member {stored[:60]!r}... is {len(member.parent.parts)} folders "
                f"deep, over the {MAX_MEMBER_DEPTH} a data set could need"
            )
        if stored.endswith("/"):  # a folder entry
            continue
        name = member.as_posix()
        if name in members:
            raise DataError(f"{path}: member {name!r} is in the archive twice")
        members[name] = info
    _refuse_overlapping_members(archive, path)
    return members


# The fixed part of a local file header; its name and extra field follow.
LOCAL_HEADER_BYTES = 30


def _refuse_overlapping_members(archive: zipfile.ZipFile, path: Path) -> None:
    """Members whose stored bytes overlap are how a small zip inflates to gigabytes (Fifield's
    overlapped zip bomb): each member's stream quotes the next member's header and runs on
    into its data. A valid archive stores each member once, before the central directory.
    Python 3.11.8 and later refuse these as they read; the 3.11 this runs on may not."""
    entries = sorted(archive.infolist(), key=lambda info: info.header_offset)
    # each member's data ends before the next header, the last one's before the directory
    offsets = [entry.header_offset for entry in entries] + [archive.start_dir]
    for entry, end in zip(entries, offsets[1:], strict=True):  # no entry: an empty zip
        # a lower bound on where its data ends: the header's name and extra field not counted
        if entry.header_offset + LOCAL_HEADER_BYTES + entry.compress_size > end:
            raise DataError(
                f"{path}: member {entry.filename!r} overlaps what the archive stores after it "
                "(an overlapped zip bomb, or a corrupt archive); make the archive again"
            )
