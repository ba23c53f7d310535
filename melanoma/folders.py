"""Names inside a FileSource: which are hidden, which are images, which folder is which.

Folder names are matched in any letter case (Train/ is train/), as file extensions are:
a layout that only knew train/ would skip Train/ and take Test/ as the training split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Set
from pathlib import PurePosixPath

from melanoma.images import IMAGE_SUFFIXES
from melanoma.sources import DataError, FileSource, is_hidden


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not is_hidden(name)


class Folders(frozenset):
    """Folders as relative POSIX paths, each one's subfolders indexed by it: finding a layout
    asks every folder for its subfolders, and scanning all folders for each answer took 16 s
    for 4,000 folders (a folder per patient), growing with the square of their number."""

    def __init__(self, dirs):
        super().__init__()
        children = defaultdict(list)
        for d in sorted(self):
            children[d.rpartition("/")[0]].append(d)
        self.children = dict(children)


def directories(names: list[str]) -> Folders:
    """Every visible folder that holds a file, as a relative POSIX path."""
    dirs = set()
    for name in names:
        dirs.update(p.as_posix() for p in PurePosixPath(name).parents if p.as_posix() != ".")
    return Folders(d for d in dirs if not is_hidden(d))


def folder_of(name: str) -> str:
    """The folder of a file in the source, "" at its top."""
    folder = PurePosixPath(name).parent.as_posix()
    return "" if folder == "." else folder


def join(root: str, child: str) -> str:
    return f"{root}/{child}" if root else child


def shallowest_first(dirs: Set[str]) -> list[str]:
    """The top folder ("") and every folder, the shallowest first, then by name."""
    return sorted({""} | dirs, key=lambda d: (d.count("/"), d))


def subfolders(dirs: Folders, root: str) -> list[str]:
    return list(dirs.children.get(root, ()))


def child(source: FileSource, dirs: Folders, root: str, name: str) -> str | None:
    """root's subfolder `name`, in any letter case; None if there is none."""
    found = [d for d in subfolders(dirs, root) if PurePosixPath(d).name.lower() == name]
    if len(found) > 1:
        raise DataError(
            f"{' and '.join(source.describe(d) for d in found)}: the same folder in two "
            "letter cases; keep one"
        )
    return found[0] if found else None


def one_data_set(source: FileSource, roots: list[str]) -> str | None:
    """The shallowest root; another beside it (a second copy, an older version) is refused:
    which of the two to read would be a guess. One inside it is the first's business."""
    if not roots:
        return None
    other = next((r for r in roots[1:] if not inside(r, roots[0])), None)
    if other is not None:
        # a folder inside a zip is no path to pass
        fix = "pass the one to read as --data" if source.path.is_dir() else "zip them apart"
        raise DataError(
            f"{source.describe(roots[0])} and {source.describe(other)}: two data sets side by "
            f"side; {fix}"
        )
    return roots[0]


def inside(folder: str, root: str) -> bool:
    return root == "" or folder.startswith(root + "/")
