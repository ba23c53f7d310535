"""`melanoma evaluate --roc` and `predict --csv` never write over the command's inputs."""

import shutil
import subprocess

import pytest

from melanoma.checkpoint import checkpoint_sha256


def _refused(console_script, *args) -> str:
    """The one stderr line of a command that must exit 2."""
    result = subprocess.run(
        [console_script("melanoma"), *map(str, args)], capture_output=True, text=True
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize("name", ["metadata.json", "weights.pt", "notes/roc.csv"])
def test_an_output_file_may_not_land_in_the_checkpoint(
    console_script, quick_checkpoint, data_path, tmp_path, real_jpegs, name
):
    ckpt = shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    (ckpt / "notes").mkdir()
    before = checkpoint_sha256(ckpt)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(next(iter(real_jpegs.values())))
    evaluate = ("evaluate", ckpt, "--data", data_path, "--roc", ckpt / name)
    assert "--roc would write into the checkpoint" in _refused(console_script, *evaluate)
    predict = ("predict", ckpt, photo, "--csv", ckpt / name)
    assert "--csv would write into the checkpoint" in _refused(console_script, *predict)
    assert checkpoint_sha256(ckpt) == before and not (ckpt / "notes" / "roc.csv").exists()


def test_the_roc_file_may_not_land_in_the_data(console_script, quick_checkpoint, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(quick_checkpoint, tmp_path / "ckpt")
    data.mkdir()
    roc = data / "roc.csv"  # a file the next load would find beside the splits
    refused = _refused(console_script, "evaluate", tmp_path / "ckpt", "--data", data, "--roc", roc)
    assert f"--roc would write into the data ({data})" in refused and not roc.exists()
