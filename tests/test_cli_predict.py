"""`melanoma predict` through its console script: the table, the CSV and the errors."""

import csv

import numpy as np

from melanoma.checkpoint import checkpoint_sha256, load_checkpoint
from melanoma.validation_scores import decision_threshold


def test_predict_prints_and_writes_csv(melanoma, quick_checkpoint, tmp_path, real_jpegs, png_bytes):

    (tmp_path / "a.jpg").write_bytes(next(iter(real_jpegs.values())))
    photo = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    (tmp_path / "photo.png").write_bytes(png_bytes(photo))
    result = melanoma("predict", quick_checkpoint, tmp_path, "--csv", tmp_path / "out.csv")
    assert result.returncode == 0, result.stderr
    header, *rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert header == ["path", "probability", "decision"]
    assert [r[0].rsplit("/", 1)[1] for r in rows] == ["a.jpg", "photo.png"]
    assert all(0 <= float(r[1]) <= 1 and r[2] in ("flagged", "not flagged") for r in rows)
    with (tmp_path / "out.csv").open() as handle:
        written = list(csv.reader(handle))
    assert written[0][:3] == header  # the same table: same columns, rows and decisions
    assert [(r[0], r[2]) for r in written[1:]] == [(r[0], r[2]) for r in rows]
    assert [f"{float(r[1]):.4f}" for r in written[1:]] == [r[1] for r in rows]
    youden = load_checkpoint(quick_checkpoint).meta.threshold("youden")
    assert f"decided at youden = {youden:.4f}, chosen on validation" in result.stderr.splitlines()
    assert all((float(r[1]) >= youden) == (r[2] == "flagged") for r in written[1:])


def test_predict_csv_names_the_model_and_threshold_of_every_decision(
    melanoma, quick_checkpoint, tmp_path, real_jpegs
):
    """A CSV found months later said "flagged" without naming the model or the cutoff."""
    (tmp_path / "a.jpg").write_bytes(next(iter(real_jpegs.values())))
    out = tmp_path / "out.csv"
    for checkpoint in ("reference-sgan", str(quick_checkpoint)):
        args = ("predict", checkpoint, tmp_path / "a.jpg", "--csv", out)
        result = melanoma(*args, "--target-sensitivity", "0.85")
        assert result.returncode == 0, result.stderr
        with out.open() as handle:
            (row,) = csv.DictReader(handle)
        loaded = load_checkpoint(checkpoint)
        name, threshold = decision_threshold(loaded, target_sensitivity=0.85)
        assert (row["threshold_name"], float(row["threshold"])) == (name, threshold)
        assert (row["checkpoint"], row["checkpoint_sha256"]) == (
            checkpoint,
            checkpoint_sha256(loaded.path),
        )


def test_predict_keeps_one_row_per_photo_whose_name_has_a_tab_or_line_break(
    melanoma, quick_checkpoint, tmp_path, real_jpegs
):
    photos = [tmp_path / "tab\there.jpg", tmp_path / "two\nlines.jpg"]
    for photo in photos:
        photo.write_bytes(next(iter(real_jpegs.values())))
    result = melanoma("predict", quick_checkpoint, *photos)  # several IMAGES: each scored
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()[1:]]
    assert [r[0].rsplit("/", 1)[1] for r in rows] == ["tab\\there.jpg", "two\\nlines.jpg"]


def test_predict_shows_a_terminal_escape_in_a_file_name_instead_of_running_it(
    melanoma, quick_checkpoint, tmp_path, real_jpegs
):
    """ESC[1A ESC[2K in a name moved a terminal's cursor up and erased the row above, a
    flagged photo's; piped, click stripped it and printed another file's name, z.jpg."""
    photo = tmp_path / "z\x1b[1A\x1b[2K.jpg"
    photo.write_bytes(next(iter(real_jpegs.values())))
    result = melanoma("predict", quick_checkpoint, photo)
    assert result.returncode == 0, result.stderr
    (row,) = result.stdout.splitlines()[1:]
    assert row.split("\t")[0].rsplit("/", 1)[1] == "z\\x1b[1A\\x1b[2K.jpg"


def test_predict_prints_and_writes_a_formula_like_name_as_the_same_path_in_text(
    melanoma, quick_checkpoint, tmp_path, real_jpegs
):
    """Run from the photos' folder, '=1+1.jpg' is a formula to a spreadsheet opening the CSV
    or a pasted table; both show ./=1+1.jpg, which names the same photo."""
    (tmp_path / "=1+1.jpg").write_bytes(next(iter(real_jpegs.values())))
    result = melanoma("predict", quick_checkpoint, "=1+1.jpg", "--csv", "o.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with (tmp_path / "o.csv").open() as handle:
        (written,) = csv.DictReader(handle)
    (row,) = result.stdout.splitlines()[1:]
    assert row.split("\t")[0] == written["path"] == "./=1+1.jpg"


def test_predict_corrupt_image_writes_nothing(
    melanoma, assert_one_line_error, quick_checkpoint, tmp_path
):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 nope")
    bad, out = tmp_path / "bad.jpg", tmp_path / "o.csv"
    result = melanoma("predict", quick_checkpoint, bad, "--csv", out)
    assert_one_line_error(result, "bad.jpg", "corrupt")
    assert not (tmp_path / "o.csv").exists()


def test_predict_names_every_unusable_photo_of_a_folder(
    melanoma, assert_one_line_error, quick_checkpoint, tmp_path, real_jpegs
):
    good = next(iter(real_jpegs.values()))
    (tmp_path / "a.jpg").write_bytes(good)
    (tmp_path / "b.jpg").write_bytes(good[: len(good) // 2])  # truncated
    (tmp_path / "c.jpg").write_bytes(b"")
    (tmp_path / "d.png").write_bytes(b"not a png")
    result = melanoma("predict", quick_checkpoint, tmp_path, "--csv", tmp_path / "o.csv")
    assert_one_line_error(
        result, "3 of 4 images unusable, none scored: ", "b.jpg: truncated", "c.jpg: empty file",
        "d.png: not a readable image",
    )  # fmt: skip
    assert not (tmp_path / "o.csv").exists()


def test_unwritable_csv_fails_before_printing(
    melanoma, assert_one_line_error, quick_checkpoint, tmp_path, real_jpegs
):
    (tmp_path / "a.jpg").write_bytes(next(iter(real_jpegs.values())))
    (tmp_path / "file").write_text("not a folder")
    result = melanoma(
        "predict", quick_checkpoint, tmp_path / "a.jpg", "--csv", tmp_path / "file/o.csv"
    )
    assert_one_line_error(result, "file/o.csv", f"{tmp_path / 'file'} is not a directory")
    assert result.stdout == ""


def test_unknown_threshold_and_odd_image_folders(
    melanoma, assert_one_line_error, quick_checkpoint, tmp_path, real_jpegs
):
    (tmp_path / "a.jpg").write_bytes(next(iter(real_jpegs.values())))
    result = melanoma("predict", quick_checkpoint, tmp_path / "a.jpg", "--threshold", "bogus")
    assert_one_line_error(result, "no threshold 'bogus'", "known: youden")
    (tmp_path / "photos" / "x.jpg").mkdir(parents=True)  # a folder with an image's name
    result = melanoma("predict", quick_checkpoint, tmp_path / "photos")
    assert_one_line_error(result, "no images found in", "photos")
