"""Write files and directories so that readers see the old version or the new one, never half."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temp path beside `final`; on success rename it over `final`, else delete it.

    Works for a file or a directory (e.g. an .mlpackage) written at the temp path.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    temp = Path(name)
    temp.unlink()  # the writer creates it, as a file or a directory
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"{temp}: writer produced nothing")
        _replace(temp, final)
    finally:
        _remove(temp)


def _replace(temp: Path, final: Path) -> None:
    if temp.is_dir() and final.exists():
        # rename() cannot replace a non-empty directory: move the old one aside first.
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
        temp.rename(final)
        _remove(old)
    else:
        os.replace(temp, final)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()
