"""A `reference-*` name typed beside a local folder of that name: the bundled model wins,
and each command says so once, though a run resolves the name several times."""

import functools

import pytest

WARNING = "reference-sgan: using the bundled checkpoint; for the local one pass ./reference-sgan"


@pytest.fixture
def run_beside_a_local_folder(run_console_script, tmp_path):
    """Run a console script in a folder holding ./reference-sgan."""
    (tmp_path / "reference-sgan").mkdir()
    return functools.partial(run_console_script, cwd=tmp_path)


def test_evaluate_with_a_roc_file_warns_once(run_beside_a_local_folder, data_path, tmp_path):
    # --roc resolves the name for its output check, then the evaluation loads it
    done = run_beside_a_local_folder(
        "melanoma", "evaluate", "reference-sgan", "--data", data_path, "--split", "val",
        "--roc", "roc.csv",
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr.count(WARNING) == 1, done.stderr
    assert (tmp_path / "roc.csv").is_file()  # the bundled model ran: the local folder is empty


def test_predict_warns_once(run_beside_a_local_folder, real_jpegs, tmp_path):
    (tmp_path / "a.jpg").write_bytes(next(iter(real_jpegs.values())))
    done = run_beside_a_local_folder("melanoma", "predict", "reference-sgan", "a.jpg")
    assert done.returncode == 0 and done.stderr.count(WARNING) == 1, done.stderr


@pytest.mark.parametrize(
    "script, args",
    [
        ("melanoma", ["qat", "reference-sgan", "--out", "q", "--data", "missing"]),
        ("melanoma-export", ["--target", "onnx", "--checkpoint", "reference-sgan",
                             "--data", "missing"]),
    ],
)  # fmt: skip
def test_qat_and_export_warn_before_a_later_refusal(run_beside_a_local_folder, script, args):
    done = run_beside_a_local_folder(script, *args)
    assert done.returncode == 2 and done.stderr.count(WARNING) == 1, done.stderr
    assert "missing" in done.stderr.splitlines()[-1]
