"""Load a data set into memory as uint8 tensors, from any of three layouts.

1. liveProject: labeled/ and test/ with `<idx>_<label>.jpg`, unlabeled/ with `<idx>.jpg`.
2. class folders: benign/ and malignant/ (or melanoma/), optionally under train/ and test/,
   with an optional unlabeled/ beside them.
3. CSV manifest: a .csv with an image column and a target column, images anywhere below it
   (melanoma/csv_layout.py), a test.csv beside it with a target column as the test split,
   and an optional unlabeled/ beside it.

Folder names match in any letter case. Anything that would make an image count twice
(a repeated CSV row, one liveProject index in two files) is refused, as are two data sets
side by side, and folders and photos the layout does not read are named in a warning.

Each reads from a folder or in place from a .zip. Labels: 1 = melanoma, 0 = benign.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import torch

from melanoma.class_folders import NEGATIVE_DIRS, POSITIVE_DIRS, class_folders, find_class_root
from melanoma.csv_layout import find_csvs, read_csv_labels
from melanoma.errors import listing
from melanoma.folders import (
    Folders,
    child,
    directories,
    folder_of,
    is_hidden,
    is_image_name,
    join,
    one_data_set,
    shallowest_first,
    subfolders,
)
from melanoma.images import IMAGE_SUFFIXES, stack_32
from melanoma.sources import DataError, FileSource, check_data_path

log = logging.getLogger(__name__)

DATA_ENV = "MELANOMA_DATA"
ARCHIVE_NAME = "MelanomaDetection.zip"
LABELED_NAME = re.compile(r"^(\d+)_(.+)$")
# Where each layout keeps its test split, for the commands that need one.
TEST_SPLIT_PLACES = (
    "a test/ folder beside labeled/ or train/, or a test.csv with a target column beside train.csv"
)


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # (N, 3, 32, 32) uint8
    labels: torch.Tensor  # (N,) int64; -1 where unknown
    names: tuple[str, ...]  # source path of each image, for reports

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.images[index], self.labels[index], tuple(self.names[i] for i in index))

    def pixel_hashes(self) -> list[str]:
        """A sha256 prefix of each image's pixels: the same image under any name or layout."""
        return [hashlib.sha256(image.numpy().tobytes()).hexdigest()[:16] for image in self.images]


@dataclass(frozen=True)
class Dataset:
    labeled: Split
    test: Split | None
    unlabeled: Split | None
    layout: str  # "liveproject", "class-folders" or "csv"
    source: str
    skipped: tuple[str, ...] = field(default_factory=tuple)  # broken unlabeled files

    @property
    def fingerprint(self) -> str:
        """sha256 prefix over every decoded pixel and label: identifies the exact data."""
        digest = hashlib.sha256()
        for split in (self.labeled, self.test, self.unlabeled):
            if split is not None:
                digest.update(split.images.numpy().tobytes())
                digest.update(split.labels.numpy().tobytes())
        return digest.hexdigest()[:16]

    def trained_on_by(self, fingerprint: str) -> bool:
        """Whether a checkpoint whose data fingerprint is `fingerprint` trained on this data.
        The fingerprint covers the test split, which training never reads: a checkpoint
        trained before the CSV layout read a labelled test.csv as the test split (2026-12-07)
        has the same images' fingerprint without one."""
        if fingerprint == self.fingerprint:
            return True
        return self.test is not None and replace(self, test=None).fingerprint == fingerprint

    def summary(self) -> str:
        parts = [f"labeled {len(self.labeled)} ({int(self.labeled.labels.sum())} melanoma)"]
        if self.test is not None:
            parts.append(f"test {len(self.test)} ({int(self.test.labels.sum())} melanoma)")
        if self.unlabeled is not None:
            parts.append(f"unlabeled {len(self.unlabeled)}")
        if self.skipped:
            parts.append(f"{len(self.skipped)} broken unlabeled file(s) skipped")
        return f"{self.layout} data from {self.source}: " + ", ".join(parts)


def resolve_data_path(path: str | os.PathLike | None) -> Path:
    """`path` as given; a folder holding MelanomaDetection.zip means that zip. The CLI's
    --data option supplies $MELANOMA_DATA, so library code never reads the environment."""
    if path is None:
        raise DataError(f"no data path: pass --data or set {DATA_ENV} (from Python: pass a path)")
    resolved = Path(path).expanduser()
    check_data_path(resolved)
    if resolved.is_dir() and (resolved / ARCHIVE_NAME).is_file():
        if not (resolved / "MelanomaDetection").is_dir():
            _warn_beside_archive(resolved)
            return resolved / ARCHIVE_NAME
        # an extracted copy wins; if it is partial, the counts in the summary show it
        log.warning(
            "%s: reading the folder MelanomaDetection/; %s beside it not read (pass its own "
            "path to use it)", resolved, ARCHIVE_NAME,
        )  # fmt: skip
    return resolved


def _warn_beside_archive(folder: Path) -> None:
    """Folders or images next to the archive are likely the user's own data, not read."""
    beside = [
        p.name
        for p in sorted(folder.iterdir())
        if not p.name.startswith(".")
        and (p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES + (".csv",))
    ]
    if beside:
        log.warning(
            "%s: reading %s; %s beside it not read (pass its own path to use it)",
            folder, ARCHIVE_NAME, listing(beside),
        )  # fmt: skip


def load_dataset(path: str | os.PathLike | None = None) -> Dataset:
    """Detect the layout under `path` and load every split into memory."""
    resolved = resolve_data_path(path)
    source = FileSource(resolved)
    try:
        return _load_layout(source)
    finally:
        source.close()


def dataset_from(data: str | os.PathLike | Dataset | None) -> Dataset:
    """`data` itself when a caller already loaded it (or cut a split from it), else
    load_dataset(data): what the export and benchmark APIs take as their data."""
    return data if isinstance(data, Dataset) else load_dataset(data)


def _load_layout(source: FileSource) -> Dataset:
    dirs = directories(source.names)
    csvs = find_csvs(source)
    live_root = _find_root(source, dirs, "labeled")
    if live_root is not None and (not csvs or _named_liveproject(source, dirs, live_root)):
        return _load_liveproject(source, dirs, live_root)
    class_root = find_class_root(source, dirs)
    if class_root is not None:
        if csvs:  # the folders win; a train.csv that disagrees with them is not read
            log.warning(
                "%s: labels from the class folders; not reading %s", source.path, listing(csvs)
            )
        return _load_class_folders(source, dirs, class_root)
    if csvs:
        return _load_csv(source, dirs, csvs)
    live_root = _find_root(source, dirs, "unlabeled")
    if live_root is not None:  # says which split folder is missing
        return _load_liveproject(source, dirs, live_root)
    zips = [n for n in source.names if n.lower().endswith(".zip") and not is_hidden(n)]
    in_folder = zips and source.path.is_dir()  # a zip in a zip is no path to pass
    hint = f"; to read {source.describe(zips[0])}, pass it as --data" if in_folder else ""
    raise DataError(
        f"{source.path}: no known layout (need labeled/ and test/, "
        f"benign/ and malignant/ folders, or a .csv manifest){hint}"
    )


def _find_root(source: FileSource, dirs: Folders, split: str) -> str | None:
    roots = [r for r in shallowest_first(dirs) if child(source, dirs, r, split) is not None]
    return one_data_set(source, roots)


def _named_liveproject(source: FileSource, dirs: Folders, root: str) -> bool:
    """Whether labeled/ holds liveProject names (<idx>_<label>.jpg): a train.csv's images may
    sit in a folder called labeled/ too, while a stray CSV must not hide a missing test/."""
    prefix = child(source, dirs, root, "labeled") + "/"
    return any(
        LABELED_NAME.match(PurePosixPath(n).stem)
        for n in source.names
        if n.startswith(prefix) and is_image_name(n)
    )


def _images_in(source: FileSource, folder: str) -> list[str]:
    """The .jpg/.jpeg/.png files directly in `folder`; other visible files, and photos in
    its subfolders, are named in a warning, since what a split leaves out changes it."""
    prefix = folder + "/"
    below = [n for n in source.names if n.startswith(prefix)]
    files = [n for n in below if "/" not in n[len(prefix) :]]
    nested = [n for n in below if "/" in n[len(prefix) :] and is_image_name(n)]
    if nested:
        log.warning(
            "%s: ignoring %d photo(s) in subfolders (only its own files are read): %s",
            source.describe(folder), len(nested), listing(n[len(prefix):] for n in nested),
        )  # fmt: skip
    other = [n for n in files if not is_image_name(n) and not is_hidden(n)]
    if other:
        log.warning(
            "%s: ignoring %d file(s) that are not .jpg, .jpeg or .png: %s",
            source.describe(folder), len(other), listing(PurePosixPath(n).name for n in other),
        )  # fmt: skip
    return [n for n in files if is_image_name(n)]


def _warn_unused_folders(source: FileSource, unused: list[str], reads: str) -> None:
    if unused:
        log.warning("ignoring %s (%s)", ", ".join(source.describe(d) + "/" for d in unused), reads)


def _stack(source: FileSource, names: list[str], labels: list[int]) -> Split:
    images, _ = stack_32(source, names)
    return Split(torch.from_numpy(images), torch.tensor(labels, dtype=torch.int64), tuple(names))


def _require_both_classes(split: Split, where: str) -> Split:
    for label, cls in ((0, "benign"), (1, "melanoma")):
        if not bool((split.labels == label).any()):
            raise DataError(f"{where}: no {cls} images (class is empty)")
    return split


def _index_key(name: str) -> tuple[int, str]:
    stem = PurePosixPath(name).stem.split("_")[0]
    return (int(stem), name) if stem.isdecimal() else (1 << 62, name)


def _load_labeled_folder(source: FileSource, folder: str) -> Split:
    names = sorted(_images_in(source, folder), key=_index_key)
    labels, first_with_index = [], {}
    for name in names:
        match = LABELED_NAME.match(PurePosixPath(name).stem)
        if match is None or match.group(2) not in ("0", "1"):
            raise DataError(
                f"{source.describe(name)}: label suffix must be _0 (benign) or _1 (melanoma)"
            )
        index = int(match.group(1))  # 0_0.jpg beside 0_0.png, or 1_0 beside 1_1: one image
        if index in first_with_index:  # twice would put it in two CV folds, maybe two classes
            raise DataError(
                f"{source.describe(name)}: index {index} is also {first_with_index[index]}"
            )
        first_with_index[index] = PurePosixPath(name).name
        labels.append(int(match.group(2)))
    if not names:
        raise DataError(f"{source.describe(folder)}: split folder has no images")
    return _require_both_classes(_stack(source, names, labels), source.describe(folder))


def _load_unlabeled(source: FileSource, folder: str | None) -> tuple[Split | None, tuple[str, ...]]:
    if folder is None:
        return None, ()
    names = sorted(_images_in(source, folder), key=_index_key)
    skipped: list[str] = []
    images, kept = stack_32(source, names, skipped)
    if not kept:
        return None, tuple(skipped)
    labels = torch.full((len(kept),), -1, dtype=torch.int64)
    return Split(torch.from_numpy(images), labels, tuple(kept)), tuple(skipped)


def _load_liveproject(source: FileSource, dirs: Folders, root: str) -> Dataset:
    folders = {}
    for split in ("labeled", "test"):
        folders[split] = child(source, dirs, root, split)
        if folders[split] is None:
            raise DataError(
                f"{source.describe(join(root, split))}: split folder is missing or empty"
            )
    labeled = _load_labeled_folder(source, folders["labeled"])
    test = _load_labeled_folder(source, folders["test"])
    unlabeled_dir = child(source, dirs, root, "unlabeled")
    unlabeled, skipped = _load_unlabeled(source, unlabeled_dir)
    used = {folders["labeled"], folders["test"], unlabeled_dir}
    unused = [d for d in subfolders(dirs, root) if d not in used]
    _warn_unused_folders(source, unused, "only labeled/, test/ and unlabeled/ are read; "
                         "the validation images come from labeled/")  # fmt: skip
    return Dataset(labeled, test, unlabeled, "liveproject", str(source.path), skipped)


def _class_split(source: FileSource, dirs: Folders, folder: str, also_read=()) -> Split:
    """benign/ and malignant/ (or melanoma/) in `folder`; `also_read`: its other subfolders
    that the layout reads as other splits."""
    classes = class_folders(source, dirs, folder)
    names, labels = [], []
    for label, wanted in ((0, NEGATIVE_DIRS), (1, POSITIVE_DIRS)):
        found = _images_in(source, classes[label]) if label in classes else []
        if not found:  # naming what is there shows a nevus/ or a typo (malignent/) at once
            names_wanted = " or ".join(f"{d}/" for d in wanted)
            others = [PurePosixPath(d).name + "/" for d in subfolders(dirs, folder)]
            there = f" (it holds {listing(others)})" if others else ""
            raise DataError(
                f"{source.describe(folder or '.')}: {names_wanted} is missing or empty{there}"
            )
        names += found
        labels += [label] * len(found)
    unused = [d for d in subfolders(dirs, folder) if d not in (*classes.values(), *also_read)]
    _warn_unused_folders(source, unused, "class folders are benign/, malignant/ or melanoma/")
    _warn_outside_class_folders(source, folder)
    return _stack(source, names, labels)


def _warn_outside_class_folders(source: FileSource, folder: str) -> None:
    """Photos beside the class folders have no class; left out, but not unremarked."""
    stray = [n for n in source.names if folder_of(n) == folder and is_image_name(n)]
    if stray:
        log.warning(
            "%s: ignoring %d photo(s) outside the class folders: %s",
            source.describe(folder or "."), len(stray),
            listing(PurePosixPath(n).name for n in stray),
        )  # fmt: skip


def _load_csv(source: FileSource, dirs: Folders, csvs: list[str]) -> Dataset:
    """The images a CSV labels, those a labelled test.csv beside it labels as the test
    split, and an optional unlabeled/ beside it for the SGAN."""
    read = read_csv_labels(source, csvs)
    labeled = _stack(source, read.names, read.labels)
    labeled = _require_both_classes(labeled, source.describe(read.csv_name))
    test = None
    if read.test_csv is not None:
        test = _stack(source, read.test_names, read.test_labels)
        test = _require_both_classes(test, source.describe(read.test_csv))
    unlabeled_dir = child(source, dirs, folder_of(read.csv_name), "unlabeled")
    unlabeled, skipped = _load_unlabeled(source, unlabeled_dir)
    return Dataset(labeled, test, unlabeled, "csv", str(source.path), skipped)


def _load_class_folders(source: FileSource, dirs: Folders, root: str) -> Dataset:
    """Class folders in train/ (else in root itself), in test/ if it has them, and an
    optional unlabeled/ of plain images for the SGAN."""
    train = child(source, dirs, root, "train")
    test = child(source, dirs, root, "test")
    unlabeled_dir = child(source, dirs, root, "unlabeled")
    if not class_folders(source, dirs, test):
        test = None
    if train is not None:
        labeled = _class_split(source, dirs, train)
    else:  # class folders in root itself, maybe with test/ and unlabeled/ beside them
        labeled = _class_split(source, dirs, root, also_read=(test, unlabeled_dir))
    test_split = _class_split(source, dirs, test) if test is not None else None
    unlabeled, skipped = _load_unlabeled(source, unlabeled_dir)
    if train is not None:
        used = {train, test, unlabeled_dir}
        unused = [d for d in subfolders(dirs, root) if d not in used]
        _warn_unused_folders(source, unused, "only train/, test/ and unlabeled/ are read; "
                             "the validation images come from train/")  # fmt: skip
    return Dataset(labeled, test_split, unlabeled, "class-folders", str(source.path), skipped)
