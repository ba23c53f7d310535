"""Load a data set into memory as uint8 tensors, from any of three layouts.

1. liveProject: labeled/ and test/ with `<idx>_<label>.jpg`, unlabeled/ with `<idx>.jpg`.
2. class folders: benign/ and malignant/ (or melanoma/), optionally under train/ and test/.
3. CSV manifest: a .csv with an image column and a target column, images anywhere below it.

Each reads from a folder or in place from a .zip. Labels: 1 = melanoma, 0 = benign.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from melanoma.images import IMAGE_SUFFIXES, load_image_32
from melanoma.sources import DataError, FileSource

log = logging.getLogger(__name__)

DATA_ENV = "MELANOMA_DATA"
ARCHIVE_NAME = "MelanomaDetection.zip"
POSITIVE_DIRS = ("malignant", "melanoma")
NEGATIVE_DIRS = ("benign",)
IMAGE_COLUMNS = ("image_name", "image", "image_id", "filename", "file")
TARGET_COLUMNS = ("target", "label", "melanoma")
LABELED_NAME = re.compile(r"^(\d+)_(.+)$")


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # (N, 3, 32, 32) uint8
    labels: torch.Tensor  # (N,) int64; -1 where unknown
    names: tuple[str, ...]  # source path of each image, for reports

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.images[index], self.labels[index], tuple(self.names[i] for i in index))


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
        raise DataError(f"no data path: pass --data or set {DATA_ENV}")
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise DataError(f"{resolved}: data path does not exist")
    if resolved.is_dir() and not (resolved / "MelanomaDetection").is_dir():
        if (resolved / ARCHIVE_NAME).is_file():
            return resolved / ARCHIVE_NAME
    return resolved


def load_dataset(path: str | os.PathLike | None = None) -> Dataset:
    """Detect the layout under `path` and load every split into memory."""
    resolved = resolve_data_path(path)
    source = FileSource(resolved)
    try:
        return _load_layout(source)
    finally:
        source.close()


def _load_layout(source: FileSource) -> Dataset:
    dirs = _directories(source.names)
    live_root = _find_root(dirs, ("labeled",))
    if live_root is None:  # not `or`: the root folder itself is "", which is falsy
        live_root = _find_root(dirs, ("unlabeled",))
    if live_root is not None:
        return _load_liveproject(source, live_root)
    class_root = _find_class_root(dirs)
    if class_root is not None:
        return _load_class_folders(source, class_root)
    csvs = [n for n in source.names if n.lower().endswith(".csv")]
    if csvs:
        tables = {name: _csv_rows(source, name) for name in csvs}  # each CSV read once
        name = _pick_manifest(source, tables)
        return _load_csv(source, name, *tables[name])
    raise DataError(
        f"{source.path}: no known layout (need labeled/ and test/, "
        "benign/ and malignant/ folders, or a .csv manifest)"
    )


def _directories(names: list[str]) -> set[str]:
    dirs = set()
    for name in names:
        dirs.update(p.as_posix() for p in PurePosixPath(name).parents if p.as_posix() != ".")
    return dirs


def _join(root: str, child: str) -> str:
    return f"{root}/{child}" if root else child


def _find_root(dirs: set[str], children: tuple[str, ...]) -> str | None:
    candidates = sorted({""} | dirs, key=lambda d: (d.count("/"), d))
    for root in candidates:
        if all(_join(root, c) in dirs for c in children):
            return root
    return None


def _find_class_root(dirs: set[str]) -> str | None:
    def has_classes(folder: str) -> bool:
        return any(_join(folder, d) in dirs for d in NEGATIVE_DIRS + POSITIVE_DIRS)

    for root in sorted({""} | dirs, key=lambda d: (d.count("/"), d)):
        if has_classes(root) or has_classes(_join(root, "train")):
            return root
        if has_classes(_join(root, "test")):
            # Else test/ would become the labeled split and "no test split" follow.
            raise DataError(
                f"{_join(root, 'test')}: class folders under test/ with no train/ beside "
                "them; add train/, or move the class folders up to use them as one split"
            )
    return None


def _images_in(source: FileSource, folder: str) -> list[str]:
    """The .jpg/.jpeg/.png files directly in `folder`; other visible files, and photos in
    its subfolders, are named in a warning, since what a split leaves out changes it."""
    prefix = folder + "/"
    below = [n for n in source.names if n.startswith(prefix)]
    files = [n for n in below if "/" not in n[len(prefix) :]]
    nested = [n for n in below if n not in files and _is_image_name(n)]
    if nested:
        log.warning(
            "%s: ignoring %d photo(s) in subfolders (only its own files are read): %s",
            source.describe(folder), len(nested), ", ".join(n[len(prefix):] for n in nested[:5])
            + (", ..." if len(nested) > 5 else ""),
        )  # fmt: skip
    other = [n for n in files if not _is_image_name(n) and not _hidden(n)]
    if other:
        log.warning(
            "%s: ignoring %d file(s) that are not .jpg, .jpeg or .png: %s",
            source.describe(folder), len(other), ", ".join(PurePosixPath(n).name for n in other[:5])
            + (", ..." if len(other) > 5 else ""),
        )  # fmt: skip
    return [n for n in files if _is_image_name(n)]


def _hidden(name: str) -> bool:
    return PurePosixPath(name).name.startswith(".")


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not _hidden(name)


def _stack(source: FileSource, names: list[str], labels: list[int]) -> Split:
    images = np.stack([load_image_32(source.read(n), source.describe(n)) for n in names])
    return Split(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        labels=torch.tensor(labels, dtype=torch.int64),
        names=tuple(names),
    )


def _require_both_classes(split: Split, where: str) -> Split:
    for label, cls in ((0, "benign"), (1, "melanoma")):
        if not bool((split.labels == label).any()):
            raise DataError(f"{where}: no {cls} images (class is empty)")
    return split


def _index_key(name: str) -> tuple[int, str]:
    stem = PurePosixPath(name).stem.split("_")[0]
    return (int(stem), name) if stem.isdigit() else (1 << 62, name)


def _load_labeled_folder(source: FileSource, folder: str) -> Split:
    names = sorted(_images_in(source, folder), key=_index_key)
    labels = []
    for name in names:
        match = LABELED_NAME.match(PurePosixPath(name).stem)
        if match is None or match.group(2) not in ("0", "1"):
            raise DataError(
                f"{source.describe(name)}: label suffix must be _0 (benign) or _1 (melanoma)"
            )
        labels.append(int(match.group(2)))
    if not names:
        raise DataError(f"{source.describe(folder)}: split folder has no images")
    return _require_both_classes(_stack(source, names, labels), source.describe(folder))


def _load_unlabeled(source: FileSource, folder: str) -> tuple[Split | None, tuple[str, ...]]:
    names = sorted(_images_in(source, folder), key=_index_key)
    kept, arrays, skipped = [], [], []
    for name in names:
        try:
            arrays.append(load_image_32(source.read(name), source.describe(name)))
            kept.append(name)
        except DataError as err:
            log.warning("skipping broken unlabeled image: %s", err)
            skipped.append(str(err))
    if not kept:
        return None, tuple(skipped)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    labels = torch.full((len(kept),), -1, dtype=torch.int64)
    return Split(images, labels, tuple(kept)), tuple(skipped)


def _load_liveproject(source: FileSource, root: str) -> Dataset:
    dirs = _directories(source.names)
    for split in ("labeled", "test"):
        if _join(root, split) not in dirs:
            raise DataError(
                f"{source.describe(_join(root, split))}: split folder is missing or empty"
            )
    labeled = _load_labeled_folder(source, _join(root, "labeled"))
    test = _load_labeled_folder(source, _join(root, "test"))
    unlabeled, skipped = None, ()
    if _join(root, "unlabeled") in dirs:
        unlabeled, skipped = _load_unlabeled(source, _join(root, "unlabeled"))
    return Dataset(labeled, test, unlabeled, "liveproject", str(source.path), skipped)


def _class_split(source: FileSource, root: str) -> Split:
    names, labels = [], []
    dirs = _directories(source.names)
    for label, candidates in ((0, NEGATIVE_DIRS), (1, POSITIVE_DIRS)):
        folders = [_join(root, d) for d in candidates if _join(root, d) in dirs]
        found = [n for folder in folders for n in _images_in(source, folder)]
        if not found:
            wanted = " or ".join(f"{d}/" for d in candidates)
            raise DataError(f"{source.describe(root or '.')}: {wanted} is missing or empty")
        names += found
        labels += [label] * len(found)
    return _stack(source, names, labels)


def _load_class_folders(source: FileSource, root: str) -> Dataset:
    dirs = _directories(source.names)
    if _join(root, "train") in dirs:
        labeled = _class_split(source, _join(root, "train"))
        test = _class_split(source, _join(root, "test")) if _join(root, "test") in dirs else None
    else:
        labeled, test = _class_split(source, root), None
    return Dataset(labeled, test, None, "class-folders", str(source.path))


def _pick_column(header: list[str], options: tuple[str, ...], what: str, where: str) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for option in options:
        if option in lowered:
            return lowered[option]
    raise DataError(f"{where}: CSV has no {what} column (expected one of {', '.join(options)})")


def _pick_manifest(source: FileSource, tables: dict[str, tuple[list[str], list[dict]]]) -> str:
    """The CSV that labels the images. A Kaggle ISIC download has train.csv beside
    test.csv (no target) and sample_submission.csv (a target column of zeros)."""
    labelled = [n for n, (header, _) in tables.items() if _has_columns(header)]
    shallowest = sorted(labelled, key=lambda n: (n.count("/"), n))
    for name in shallowest:
        if PurePosixPath(name).name.lower() == "train.csv":
            return name
    if len(labelled) == 1:
        return labelled[0]
    if labelled:
        listed = ", ".join(source.describe(n) for n in shallowest)
        raise DataError(f"several CSV manifests with image and target columns ({listed}); keep one")
    return min(tables, key=lambda n: (n.count("/"), n))  # its missing column is the error


def _has_columns(header: list[str]) -> bool:
    names = {h.strip().lower() for h in header}
    return bool(names & set(IMAGE_COLUMNS)) and bool(names & set(TARGET_COLUMNS))


def _csv_rows(source: FileSource, csv_name: str) -> tuple[list[str], list[dict]]:
    """(header, rows) of a CSV; the header even when no row follows it."""
    try:
        reader = csv.DictReader(io.StringIO(source.read(csv_name).decode("utf-8-sig")))
        rows = list(reader)
        return list(reader.fieldnames or []), rows
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{source.describe(csv_name)}: unreadable CSV ({err})") from None


def _load_csv(source: FileSource, csv_name: str, header: list[str], rows: list[dict]) -> Dataset:
    where = source.describe(csv_name)
    image_col = _pick_column(header, IMAGE_COLUMNS, "image", where)
    target_col = _pick_column(header, TARGET_COLUMNS, "target", where)
    by_stem = {}
    for name in source.names:
        if _is_image_name(name):
            by_stem.setdefault(PurePosixPath(name).stem, name)
            by_stem.setdefault(PurePosixPath(name).name, name)
    names, labels = [], []
    for line, row in enumerate(rows, start=2):
        image, target = (row.get(image_col) or "").strip(), (row.get(target_col) or "").strip()
        if target not in ("0", "1", "0.0", "1.0"):  # ISIC 2017 ground truth writes 0.0/1.0
            raise DataError(f"{where}:{line}: target {target!r} is not 0 or 1")
        found = by_stem.get(image) or by_stem.get(PurePosixPath(image).name)
        if found is None:
            raise DataError(f"{where}:{line}: image {image!r} not found next to the CSV")
        names.append(found)
        labels.append(int(float(target)))
    if not names:
        raise DataError(f"{where}: CSV lists no images")
    labeled = _require_both_classes(_stack(source, names, labels), where)
    return Dataset(labeled, None, None, "csv", str(source.path))
