"""`melanoma evaluate --roc` and `predict --csv` never write over the command's inputs."""

import shutil

import pytest

from melanoma.checkpoint import checkpoint_sha256


def _refused(melanoma, *args) -> str:
    """The one stderr line of a command that must exit 2."""
    result = melanoma(*args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize("name", ["metadata.json", "weights.pt", "notes/roc.csv"])
def test_an_output_file_may_not_land_in_the_checkpoint(
    melanoma, quick_checkpoint, data_path, tmp_path, real_jpegs, name
):
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    (ckpt / "notes").mkdir()
    before = checkpoint_sha256(ckpt)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(next(iter(real_jpegs.values())))
    evaluate = ("evaluate", ckpt, "--data", data_path, "--roc", ckpt / name)
    assert "--roc would write into the checkpoint" in _refused(melanoma, *evaluate)
    predict = ("predict", ckpt, photo, "--csv", ckpt / name)
    assert "--csv would write into the checkpoint" in _refused(melanoma, *predict)
    assert checkpoint_sha256(ckpt) == before and not (ckpt / "notes" / "roc.csv").exists()


def test_the_roc_file_may_not_land_in_the_data(melanoma, quick_checkpoint, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    data.mkdir()
    roc = data / "roc.csv"  # a file the next load would find beside the splits
    refused = _refused(melanoma, "evaluate", tmp_path / "ckpt", "--data", data, "--roc", roc)
    assert f"--roc would write into the data ({data})" in refused and not roc.exists()
