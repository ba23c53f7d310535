"""Read files from a folder or from a .zip in place, under one small interface."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path, PurePosixPath

from melanoma.errors import UserError


class DataError(UserError):
    """Bad input data; the message names the file and the problem."""


class FileSource:
    """A tree of files, from a directory or read in place from a .zip (never extracted)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"{self.path}: data path does not exist")
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_file():
            if not zipfile.is_zipfile(self.path):
                raise DataError(f"{self.path}: not a folder or a .zip archive")
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as err:
                raise DataError(f"{self.path}: corrupt .zip archive ({err})") from None
            self._names = _safe_members(self._zip, self.path)
        else:
            self._names = sorted(
                p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()
            )

    @property
    def names(self) -> list[str]:
        """Every file, as a sorted relative POSIX path."""
        return self._names

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(name)
            return (self.path / name).read_bytes()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:  # bad CRC, bad
            # compressed stream, a header that lies: the member cannot be read as stored
            raise DataError(f"{self.describe(name)}: cannot be read ({err})") from None

    def describe(self, name: str) -> str:
        """A path for error messages: `archive.zip:member` or the file path."""
        return f"{self.path}:{name}" if self._zip is not None else str(self.path / name)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _safe_members(archive: zipfile.ZipFile, path: Path) -> list[str]:
    names = []
    for info in archive.infolist():
        member = PurePosixPath(info.filename)
        if member.is_absolute() or ".." in member.parts or ":" in info.filename.split("/")[0]:
            raise DataError(f"{path}: member {info.filename!r} escapes the archive")
        if not info.is_dir():
            names.append(member.as_posix())
    return sorted(names)
