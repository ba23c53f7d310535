"""The CSV layout: an ISIC train.csv-style manifest naming each image and its target."""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from melanoma.errors import listing
from melanoma.folders import folder_of, is_hidden, is_image_name, join, one_data_set
from melanoma.images import IMAGE_SUFFIXES
from melanoma.sources import DataError, FileSource

log = logging.getLogger(__name__)

IMAGE_COLUMNS = ("image_name", "image", "image_id", "filename", "file")
TARGET_COLUMNS = ("target", "label", "melanoma", "benign_malignant")  # the last: ISIC 2020
# A target written as a word reads as the folder layout's class names do.
TARGET_VALUES = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "benign": 0, "malignant": 1, "melanoma": 1}
# The UTF-32 marks first: UTF-32 LE's begins with UTF-16 LE's.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def find_csvs(source: FileSource) -> list[str]:
    return [n for n in source.names if n.lower().endswith(".csv") and not is_hidden(n)]


@dataclass(frozen=True)
class CsvLabels:
    """What a CSV layout labels: the manifest's images and, from a test.csv beside it that
    has a target column, the test split's (ISIC 2020's test.csv has none: no test split)."""

    csv_name: str
    names: list[str]
    labels: list[int]
    test_csv: str | None = None
    test_names: list[str] = field(default_factory=list)
    test_labels: list[int] = field(default_factory=list)


def read_csv_labels(source: FileSource, csvs: list[str]) -> CsvLabels:
    """The CSV that labels the images, and a labelled test.csv beside it. Images in an
    unlabeled/ folder beside the CSV are not its to label."""
    tables = {name: _csv_rows(source, name) for name in csvs}  # rows: of the one picked
    csv_name = _pick_manifest(source, tables)
    unlabeled = _unlabeled_prefix(csv_name)
    by_tail = _images_by_tail(source, skip=unlabeled)
    first_line: dict[str, tuple[str, int]] = {}  # image: the CSV and line that listed it
    names, labels = _labeled_rows(source, csv_name, tables[csv_name], by_tail, first_line)
    result = CsvLabels(csv_name, names, labels)
    test_csv = _test_csv_beside(tables, csv_name)
    if test_csv is not None:
        test = _labeled_rows(source, test_csv, tables[test_csv], by_tail, first_line)
        result = CsvLabels(csv_name, names, labels, test_csv, *test)
    _warn_unlisted(source, csv_name, set(first_line), unlabeled)
    return result


def _test_csv_beside(tables: dict[str, tuple[list[str], Iterator]], csv_name: str) -> str | None:
    """test.csv in the manifest's folder, if it has image and target columns: it was read
    by no one, so its labelled images went unremarked into the unlisted warning."""
    for name, (header, _) in tables.items():
        beside = folder_of(name) == folder_of(csv_name) and name != csv_name
        if beside and PurePosixPath(name).name.lower() == "test.csv" and _has_columns(header):
            return name
    return None


def _labeled_rows(
    source: FileSource,
    csv_name: str,
    table: tuple[list[str], Iterator],
    by_tail: dict[tuple[str, ...], list[str]],
    first_line: dict[str, tuple[str, int]],
) -> tuple[list[str], list[int]]:
    """(image names in the source, labels) of one CSV's rows; an image another row (of this
    or an earlier CSV) listed is refused: in train and test both, it would leak."""
    header, rows = table
    where = source.describe(csv_name)
    image_col = _pick_column(header, IMAGE_COLUMNS, "image", where)
    target_col = _pick_column(header, TARGET_COLUMNS, "target", where)
    others = _other_target_columns(header, target_col)
    names, labels = [], []
    for line, row in rows:
        image, target = (row.get(image_col) or "").strip(), (row.get(target_col) or "").strip()
        if target.lower() not in TARGET_VALUES:  # ISIC 2017 ground truth writes 0.0/1.0
            raise DataError(
                f"{where}:{line}: target column {target_col!r} holds {target!r}, "
                "not 0/1 or benign/malignant"
            )
        label = TARGET_VALUES[target.lower()]
        said = f"{where}:{line}: target column {target_col!r} holds {target!r}"
        _refuse_disagreeing_targets(row, others, label, said)
        found = _find_image(image, by_tail, f"{where}:{line}", source)
        if found in first_line:  # a second copy would land in another fold and leak into CV
            first_where, first = first_line[found]
            on = f"line {first}" if first_where == where else f"{first_where}:{first}"
            raise DataError(f"{where}:{line}: image {image!r} is listed again (first on {on})")
        first_line[found] = (where, line)
        names.append(found)
        labels.append(label)
    if not names:
        raise DataError(f"{where}: CSV lists no images")
    return names, labels


def _other_target_columns(header: list[str], target_col: str) -> list[str]:
    """The target-named columns besides the one read: ISIC 2020's train.csv has both
    `target` and `benign_malignant`."""
    return [h for h in header if h != target_col and h.strip().lower() in TARGET_COLUMNS]


def _refuse_disagreeing_targets(row: dict, others: list[str], label: int, said: str) -> None:
    """A hand-edited row whose columns disagree (target 0, benign_malignant malignant) was
    read by `target` alone: which one is right is the user's call, not ours. A column whose
    value is no target (blank, a diagnosis) says nothing, so it is not compared. `label`:
    the row's, as its target column states it (`said`)."""
    for column in others:
        value = (row.get(column) or "").strip()
        if TARGET_VALUES.get(value.lower(), label) != label:
            raise DataError(f"{said} but {column!r} holds {value!r}; make them agree")


def _unlabeled_prefix(csv_name: str) -> str:
    """`<the CSV's folder>/unlabeled/`, lower-cased: folder names match in any case."""
    return join(folder_of(csv_name), "unlabeled/").lower()


def _images_by_tail(source: FileSource, skip: str) -> dict[tuple[str, ...], list[str]]:
    """Every image not under `skip`, under each ending of its path, with and without its
    extension: a row names one by its file name or stem, or by a path ending in one. One
    lookup a row: filtering every image of that name took 11 s for 1,000 rows naming
    P00001/image.jpg and the like (a folder per lesion), and grew with the square."""
    by_tail = defaultdict(list)
    for name in source.names:
        if is_image_name(name) and not name.lower().startswith(skip):
            path = _lower_suffix(PurePosixPath(name))
            for parts in (path.parts, path.with_suffix("").parts):
                for start in range(len(parts)):
                    by_tail[parts[start:]].append(name)
    return by_tail


def _find_image(
    value: str, by_tail: dict[tuple[str, ...], list[str]], where: str, source: FileSource
) -> str:
    """The one image that `value` names: a file name or stem, or a path ending in one. A path
    must match all of its folders; a bare name that two files share is refused, not guessed."""
    wanted = _lower_suffix(PurePosixPath(value.replace("\\", "/")))
    found = sorted(set(by_tail.get(_tail(wanted), ())))
    if not found:
        raise _not_found(value, wanted, where, source)
    if len(found) > 1:
        raise DataError(
            f"{where}: image {value!r} matches {found[0]} and {found[1]}"
            f"{' and more' if len(found) > 2 else ''}; write its path in the CSV"
        )
    return found[0]


def _not_found(value: str, wanted: PurePosixPath, where: str, source: FileSource) -> DataError:
    """A listed name that matches no image. A file it does match is named, and why it is not
    read: 'not found' sent the user looking for a file that was there (PH2's .bmp photos)."""
    there = [
        n
        for n in source.names
        if not is_hidden(n) and _ends_with(_lower_suffix(PurePosixPath(n)), wanted)
    ]
    if not there:
        return DataError(f"{where}: image {value!r} not found next to the CSV")
    if is_image_name(there[0]):  # the one photo _images_by_tail leaves out: unlabeled/'s
        why = "in the unlabeled/ folder beside the CSV, which it does not label"
    else:
        why = "not a .jpg, .jpeg or .png; only JPEG and PNG photos are read"
    return DataError(f"{where}: image {value!r} is {source.describe(there[0])}, {why}")


def _lower_suffix(path: PurePosixPath) -> PurePosixPath:
    """Image extensions match in any case (IMG_1.JPG is IMG_1.jpg), as the folder layouts'
    do; a name's other dots stay as written (P001.A is the stem of P001.A.jpg). Accents
    match however they are composed: macOS names files é as e + a combining accent (NFD),
    while a CSV typed in a spreadsheet has é (NFC), and both print alike in an error."""
    path = PurePosixPath(unicodedata.normalize("NFC", str(path)))
    suffix = path.suffix.lower()
    return path.with_suffix(suffix) if suffix in IMAGE_SUFFIXES else path


def _tail(wanted: PurePosixPath) -> tuple[str, ...]:
    """The parts a path must end with: a root-relative path (/images/a) is relative."""
    return tuple(p for p in wanted.parts if p not in (".", "/"))


def _ends_with(path: PurePosixPath, wanted: PurePosixPath) -> bool:
    """Whether `path`, with or without its extension, ends with all of `wanted`'s parts."""
    parts = _tail(wanted)
    return any(
        candidate.parts[-len(parts) :] == parts for candidate in (path, path.with_suffix(""))
    )


def _warn_unlisted(source: FileSource, csv_name: str, listed: set[str], unlabeled: str) -> None:
    """Every image the CSV's names were matched against (the whole source, as in
    _images_by_tail, not only the CSV's folder) that it does not list."""
    unlisted = [n for n in source.names if is_image_name(n)]
    unlisted = [n for n in unlisted if n not in listed and not n.lower().startswith(unlabeled)]
    if unlisted:
        log.warning(
            "%s: %d image(s) in the data are not listed and not used: %s",
            source.describe(csv_name), len(unlisted),
            listing(unlisted, most=3),
        )  # fmt: skip


def _pick_column(header: list[str], options: tuple[str, ...], what: str, where: str) -> str:
    folded = [h.strip().lower() for h in header]
    for option in options:
        named = [h for h, f in zip(header, folded, strict=True) if f == option]
        if len(named) > 1:  # csv keeps one of them silently: which labels would be a guess
            shown = ", ".join(repr(h) for h in named)
            raise DataError(f"{where}: CSV has {len(named)} {what} columns ({shown}); keep one")
        if named:
            return named[0]
    if not header:
        raise DataError(f"{where}: empty CSV (no header line)")
    hint = "; it looks separated by ';', write it with commas" if ";" in header[0] else ""
    raise DataError(
        f"{where}: CSV has no {what} column (expected one of {', '.join(options)}){hint}"
    )


def _pick_manifest(source: FileSource, tables: dict[str, tuple[list[str], Iterator]]) -> str:
    """The CSV that labels the images. A Kaggle ISIC download has train.csv beside
    test.csv (no target) and sample_submission.csv (a target column of zeros): a train.csv
    wins even when its columns are wrong (saved with ';', say), so that is the error shown."""
    shallowest = sorted(tables, key=lambda n: (n.count("/"), n))
    trains = [n for n in shallowest if PurePosixPath(n).name.lower() == "train.csv"]
    labelled = [n for n in shallowest if _has_columns(tables[n][0])]
    if trains and (not labelled or trains[0].count("/") <= labelled[0].count("/")):
        one_data_set(source, [folder_of(n) for n in trains])
        return trains[0]
    if len(labelled) == 1:
        return labelled[0]
    if labelled:
        listed = ", ".join(source.describe(n) for n in labelled)
        raise DataError(f"several CSV manifests with image and target columns ({listed}); keep one")
    return shallowest[0]  # its missing column is the error


def _has_columns(header: list[str]) -> bool:
    names = {h.strip().lower() for h in header}
    return bool(names & set(IMAGE_COLUMNS)) and bool(names & set(TARGET_COLUMNS))


def _csv_rows(source: FileSource, csv_name: str) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """(header, (line number, row) for each row) of a CSV; the header even when no row follows
    it. The rows are parsed as they are asked for: as a list, a 40 MB CSV of 10 million short
    rows took 3.5 GB and 20 s before its third line was refused (256 MB would take ~20 GB).
    Line numbers are the reader's own: it skips blank lines, and a quoted value can span
    lines."""
    where = source.describe(csv_name)
    text = _csv_text(source.read(csv_name), where)
    # newline="": csv splits the lines itself, so old Mac (CR-only) files read too
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        header = list(reader.fieldnames or [])
    except csv.Error as err:
        raise DataError(f"{where}: unreadable CSV ({err})") from None
    return header, _numbered_rows(reader, where)


def _numbered_rows(reader: csv.DictReader, where: str) -> Iterator[tuple[int, dict]]:
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as err:
        raise DataError(f"{where}: unreadable CSV ({err})") from None


def _csv_text(data: bytes, where: str) -> str:
    """UTF-8 (with or without Excel's byte-order mark), or UTF-16 or UTF-32 when a byte-order
    mark names it: Excel's "Unicode Text" is UTF-16. Read as UTF-8, it failed on its mark
    (0xff), and without a mark its NULs passed for part of the column names."""
    codec = next((c for bom, c in BYTE_ORDER_MARKS if data.startswith(bom)), "utf-8-sig")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        raise DataError(
            f"{where}: unreadable CSV, not {codec.upper().removesuffix('-SIG')} ({err}); "
            "save it as CSV UTF-8"
        ) from None
    if "\x00" in text:  # no file name or target holds a NUL; UTF-16's ASCII is half NULs
        raise DataError(
            f"{where}: holds NUL characters (UTF-16 without a byte-order mark?); save it "
            "as CSV UTF-8"
        )
    return text


def _delimiter(text: str) -> str:
    """Tab when the header line has a tab and no comma (a TSV, or Excel's "Unicode Text"):
    no column name this layout reads holds a tab, so a comma-separated header with a tab in
    it had no image and target columns anyway. Decided by that one line, not guessed from
    the rows as csv.Sniffer does; a header separated by ';' stays an error that says so."""
    header = re.split(r"[\r\n]", text, maxsplit=1)[0]
    return "\t" if "\t" in header and "," not in header else ","
