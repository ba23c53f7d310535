"""A `reference-*` name typed beside a local folder of that name: the bundled model wins,
and each command says so once, though a run resolves the name several times."""

import subprocess

import pytest

WARNING = "reference-sgan: using the bundled checkpoint; for the local one pass ./reference-sgan"


@pytest.fixture
def run_beside_a_local_folder(console_script, tmp_path):
    """Run a console script in a folder holding ./reference-sgan: (exit code, stderr)."""
    (tmp_path / "reference-sgan").mkdir()

    def run(script, *args):
        done = subprocess.run([console_script(script), *map(str, args)], cwd=tmp_path,
                              capture_output=True, text=True)  # fmt: skip
        return done.returncode, done.stderr

    return run


def test_evaluate_with_a_roc_file_warns_once(run_beside_a_local_folder, data_path, tmp_path):
    # --roc resolves the name for its output check, then the evaluation loads it
    code, err = run_beside_a_local_folder(
        "melanoma", "evaluate", "reference-sgan", "--data", data_path, "--split", "val",
        "--roc", "roc.csv",
    )  # fmt: skip
    assert code == 0 and err.count(WARNING) == 1, err
    assert (tmp_path / "roc.csv").is_file()  # the bundled model ran: the local folder is empty


def test_predict_warns_once(run_beside_a_local_folder, real_jpegs, tmp_path):
    (tmp_path / "a.jpg").write_bytes(next(iter(real_jpegs.values())))
    code, err = run_beside_a_local_folder("melanoma", "predict", "reference-sgan", "a.jpg")
    assert code == 0 and err.count(WARNING) == 1, err


@pytest.mark.parametrize(
    "script, args",
    [
        ("melanoma", ["qat", "reference-sgan", "--out", "q", "--data", "missing"]),
        ("melanoma-export", ["--target", "onnx", "--checkpoint", "reference-sgan",
                             "--data", "missing"]),
    ],
)  # fmt: skip
def test_qat_and_export_warn_before_a_later_refusal(run_beside_a_local_folder, script, args):
    code, err = run_beside_a_local_folder(script, *args)
    assert code == 2 and err.count(WARNING) == 1 and "missing" in err.splitlines()[-1], err
