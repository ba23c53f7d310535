"""The class-folder layout's shape: which folders are the benign and melanoma classes, and
which folder holds them (a data set's root, or its train/). Kaggle's ISIC "malignant vs
benign" set is laid out so; melanoma/datasets.py reads the images."""

from __future__ import annotations

from melanoma.folders import Folders, child, inside, one_data_set, shallowest_first, subfolders
from melanoma.sources import DataError, FileSource

POSITIVE_DIRS = ("malignant", "melanoma")
NEGATIVE_DIRS = ("benign",)


def class_folders(source: FileSource, dirs: Folders, folder: str | None) -> dict[int, str]:
    """{label: class folder} directly in `folder`; malignant/ and melanoma/ are one class."""
    if folder is None:
        return {}
    found = {}
    for label, names in ((0, NEGATIVE_DIRS), (1, POSITIVE_DIRS)):
        matches = [c for c in (child(source, dirs, folder, n) for n in names) if c is not None]
        # ~/data/melanoma/train/benign/: a data set's own folder named melanoma/, not a class
        matches = [c for c in matches if not _holds_class_layout(source, dirs, c)]
        if len(matches) > 1:
            raise DataError(
                f"{' and '.join(source.describe(m) for m in matches)}: both name the melanoma "
                "class; keep one (or merge them)"
            )
        if matches:
            found[label] = matches[0]
    return found


def _holds_class_layout(source: FileSource, dirs: Folders, folder: str) -> bool:
    names = ("train", "test", *NEGATIVE_DIRS, *POSITIVE_DIRS)
    return any(child(source, dirs, folder, name) is not None for name in names)


def find_class_root(source: FileSource, dirs: Folders) -> str | None:
    """The shallowest folder with class folders in it or in its train/."""
    roots: list[str] = []
    for root in shallowest_first(dirs):
        if roots and inside(root, roots[0]):
            continue
        if class_folders(source, dirs, root) or class_folders(
            source, dirs, child(source, dirs, root, "train")
        ):
            roots.append(root)
        if roots:  # the checks below only say why no root was found
            continue
        test = child(source, dirs, root, "test")
        if class_folders(source, dirs, test):
            # Else test/ would become the labeled split and "no test split" follow.
            raise DataError(
                f"{source.describe(test)}: class folders under test/ with no train/ beside "
                "them; add train/, or move the class folders up to use them as one split"
            )
        holders = [d for d in subfolders(dirs, root) if class_folders(source, dirs, d)]
        if len(holders) > 1:  # e.g. Training/ and Testing/: which one trains is a guess
            raise DataError(
                f"{', '.join(source.describe(d) for d in holders)}: class folders in several "
                "folders; name the training one train/ and the test one test/"
            )
    return one_data_set(source, roots)
