"""`melanoma evaluate --roc` and `predict --csv` never write over the command's inputs."""

import shutil

import pytest

from melanoma.checkpoint import checkpoint_sha256


@pytest.mark.parametrize("name", ["metadata.json", "weights.pt", "notes/roc.csv"])
def test_an_output_file_may_not_land_in_the_checkpoint(
    melanoma, assert_one_line_error, quick_checkpoint, data_path, tmp_path, real_jpegs, name
):
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    (ckpt / "notes").mkdir()
    before = checkpoint_sha256(ckpt)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(next(iter(real_jpegs.values())))
    evaluate = ("evaluate", ckpt, "--data", data_path, "--roc", ckpt / name)
    assert_one_line_error(melanoma(*evaluate), "--roc would write into the checkpoint")
    predict = ("predict", ckpt, photo, "--csv", ckpt / name)
    assert_one_line_error(melanoma(*predict), "--csv would write into the checkpoint")
    assert checkpoint_sha256(ckpt) == before and not (ckpt / "notes" / "roc.csv").exists()


def test_the_roc_file_may_not_land_in_the_data(
    melanoma, assert_one_line_error, quick_checkpoint, tmp_path
):
    data = tmp_path / "data"
    shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    data.mkdir()
    roc = data / "roc.csv"  # a file the next load would find beside the splits
    evaluate = ("evaluate", tmp_path / "ckpt", "--data", data, "--roc", roc)
    assert_one_line_error(melanoma(*evaluate), f"--roc would write into the data ({data})")
    assert not roc.exists()
