"""The `melanoma` console script: wiring, output and exit codes (behaviour: per module)."""

import csv
import json

import numpy as np
import pytest

from melanoma.checkpoint import checkpoint_sha256, load_checkpoint


def test_help_lists_commands(melanoma):
    result = melanoma("--help")
    assert result.returncode == 0
    for command in ("train", "evaluate", "predict"):
        assert command in result.stdout
    assert "MELANOMA_DATA" in melanoma("train", "--help").stdout


def test_evaluate_json_keys(melanoma, quick_checkpoint, data_path):
    result = melanoma("evaluate", quick_checkpoint, "--data", data_path, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = {
        "auc",
        "accuracy",
        "sensitivity",
        "specificity",
        "precision",
        "f1",
        "threshold",
        "n",
        "ci",
    }
    assert expected <= report.keys() and "roc" not in report  # --roc FILE: a CSV
    assert report["n"] == 600
    assert (report["checkpoint"], report["split"]) == (str(quick_checkpoint), "test")
    assert len(report["data_fingerprint"]) == 16
    assert report["checkpoint_sha256"] == checkpoint_sha256(quick_checkpoint)
    low, high = report["ci"]["auc"]
    assert low <= report["auc"] <= high
    bins = report["calibration"]["bins"]
    assert sum(b["n"] for b in bins) == 600
    gaps = sum(b["n"] * abs(b["mean_probability"] - b["melanoma_rate"]) for b in bins)
    assert report["calibration"]["ece"] == pytest.approx(gaps / 600)


def test_evaluate_prints_the_calibration(melanoma, quick_checkpoint, data_path):
    report = json.loads(
        melanoma("evaluate", quick_checkpoint, "--data", data_path, "--json").stdout
    )
    text = melanoma("evaluate", quick_checkpoint, "--data", data_path).stdout
    assert f"brier              {report['calibration']['brier']:.3f}" in text
    assert f"calibration error  {report['calibration']['ece']:.3f}" in text


def test_evaluate_reads_data_from_the_environment(melanoma, data_path):
    env_run = melanoma(
        "evaluate",
        "reference-sgan",  # held out a 40-image validation split
        "--split",
        "val",
        "--json",
        env={"MELANOMA_DATA": str(data_path), "PATH": "/usr/bin:/bin"},
    )
    assert env_run.returncode == 0, env_run.stderr
    report = json.loads(env_run.stdout)
    assert report["n"] == 40 and "optimistic" in report["caveat"]


def test_a_cross_validated_checkpoint_has_no_val_split(melanoma, quick_checkpoint, data_path):
    result = melanoma("evaluate", quick_checkpoint, "--data", data_path, "--split", "val")
    assert result.returncode == 2
    assert "no held-out val split" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_writes_the_roc_points(melanoma, quick_checkpoint, data_path, tmp_path):
    out = tmp_path / "roc.csv"
    result = melanoma("evaluate", quick_checkpoint, "--data", data_path, "--roc", out, "--json")
    assert result.returncode == 0, result.stderr
    with out.open() as handle:
        header, *points = list(csv.reader(handle))
    assert header == ["fpr", "tpr", "threshold"]
    fpr, tpr = [float(p[0]) for p in points], [float(p[1]) for p in points]
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert fpr == sorted(fpr) and tpr == sorted(tpr)
    area = np.trapezoid(tpr, fpr)  # the curve's area is the AUC it reports
    assert area == pytest.approx(json.loads(result.stdout)["auc"], abs=1e-9)


def test_missing_data_path(melanoma, assert_one_line_error, tmp_path):
    result = melanoma("train", "--data", tmp_path / "nope", "--out", tmp_path / "o")
    assert_one_line_error(result, "nope", "does not exist")
    assert not (tmp_path / "o").exists()


def test_broken_checkpoint(melanoma, assert_one_line_error, tmp_path, data_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "metadata.json").write_text("{")
    result = melanoma("evaluate", tmp_path / "ckpt", "--data", data_path)
    assert_one_line_error(result, "corrupt metadata")


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["train", "--method", "gan"], ["'--method'", "'gan'", "'melanoma train --help'"]),
        (["train", "--select-epoch", "best"], ["'--select-epoch'", "'best'"]),
        (
            ["train", "--method", "sgan", "--select-epoch", "last", "--out", "never-made"],
            ["--select-epoch is for --method supervised only", "'melanoma train --help'"],
        ),
        (["evaluate", "x", "--split", "train"], ["'--split'", "'train'"]),
        (["evaluate"], ["Missing argument 'CHECKPOINT_DIR'"]),
        (["train", "--bogus"], ["No such option", "--bogus"]),  # click 8.2: ': --bogus'
        (["frobnicate"], ["No such command 'frobnicate'", "'melanoma --help'"]),
        (  # click raises this one before it has a context to name the command
            ["evaluate", "x", "--target-sensitivity"],
            ["'--target-sensitivity' requires an argument", "'melanoma evaluate --help'"],
        ),
    ],
)
def test_wrong_flags_are_one_line_exit_2(melanoma, assert_one_line_error, args, fragments):
    """Not click's Usage/Try/Error block: one line naming the flag, and where help is."""
    result = melanoma(*args)
    assert_one_line_error(result, "error: ", *fragments)


def test_a_bad_flag_value_is_shown_with_its_escapes(melanoma, assert_one_line_error):
    """An unknown --methods name was echoed as typed: its OSC escape set the terminal's
    title and its U+202E reversed the rest of the line (click strips only CSI, off a tty)."""
    result = melanoma("compare", "--methods", "x\x1b]0;pwned\x07\u202ey")
    line = assert_one_line_error(result, "unknown method(s) x\\x1b]0;pwned\\x07\\u202ey;")
    assert not set(line) & {"\x1b", "\x07", "\u202e"}


def test_bare_group_still_shows_help(melanoma):
    result = melanoma()
    assert result.returncode == 2 and "Commands:" in result.stderr and "train" in result.stderr


def test_too_few_labeled_images_for_cross_validation(melanoma, tmp_path, real_jpegs):
    """Three images per class cannot fill five folds: one line naming the problem, no checkpoint."""
    melanoma_jpegs = [v for k, v in real_jpegs.items() if k.endswith("_1.jpg")][:3]
    benign_jpegs = [v for k, v in real_jpegs.items() if "/labeled/" in k and k.endswith("_0.jpg")]
    for folder, jpegs in (("malignant", melanoma_jpegs), ("benign", benign_jpegs[:3])):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for i, data in enumerate(jpegs):
            (tmp_path / "data" / folder / f"{i}.jpg").write_bytes(data)
    result = melanoma("train", "--data", tmp_path / "data", "--out", tmp_path / "o")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]  # after the data summary line
    assert last.startswith("error:") and "fewer than the 5 cross-validation folds" in last
    assert not (tmp_path / "o").exists()


def test_nested_cv_refuses_bad_seeds_before_training(melanoma, assert_one_line_error, tmp_path):
    result = melanoma("nested-cv", "--seeds", "a,b", "--out", tmp_path / "n")
    assert result.returncode == 2 and "--seeds" in result.stderr
    assert "Traceback" not in result.stderr
    assert_one_line_error(
        melanoma("nested-cv", "--seeds", "", "--out", tmp_path / "n"), "--seeds", "no seed given"
    )
    assert not (tmp_path / "n").exists()


def test_resume_without_or_with_a_corrupt_state(
    melanoma, assert_one_line_error, tmp_path, data_path
):
    result = melanoma("train", "--data", data_path, "--out", tmp_path / "o", "--resume")
    assert_one_line_error(result, "o/resume.pt: no resume state to continue from")
    assert not (tmp_path / "o").exists()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "resume.pt").write_bytes(b"interrupted mid-write")
    result = melanoma("train", "--data", data_path, "--out", tmp_path / "c", "--resume")
    assert result.returncode == 2 and "corrupt resume state" in result.stderr
    assert "Traceback" not in result.stderr


def test_resume_of_a_state_with_this_runs_identity_but_no_rngs_or_networks(
    melanoma, tmp_path, data_path, dataset
):
    """A hand-edited resume.pt that matched the run gave a KeyError traceback, not exit 2."""
    import torch

    from melanoma.methods import method_config
    from melanoma.resume import run_identity, save_resume_state

    identity = run_identity("sgan", method_config("sgan", 0, 1), dataset)
    rng = {"generator": torch.Generator().get_state(), "torch_rng": torch.get_rng_state()}
    for name, state in [("rng", {}), ("nets", {**rng, "nets": {}, "labeled_batches": {}})]:
        loop = {"epoch": 0, "best": {}, "history": [], "restores": 0}
        (tmp_path / name).mkdir()
        save_resume_state(tmp_path / name, {**loop, **state, "identity": identity})
        args = ["--method", "sgan", "--epochs", "1", "--out", tmp_path / name, "--resume"]
        result = melanoma("train", "--data", data_path, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        last = result.stderr.strip().splitlines()[-1]  # after the data summary line
        assert last.startswith("error:") and f"{name}/resume.pt: corrupt resume state (" in last


def test_a_fresh_train_never_deletes_an_interrupted_runs_state(
    melanoma, assert_one_line_error, tmp_path, data_path
):
    """Forgetting --resume after minutes of SGAN training must not throw them away."""
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "resume.pt").write_bytes(b"minutes of training")
    result = melanoma("train", "--data", data_path, "--out", tmp_path / "o")
    assert_one_line_error(result, "o/resume.pt: an interrupted run's state: pass --resume")
    assert (tmp_path / "o" / "resume.pt").read_bytes() == b"minutes of training"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["train", "--seed", str(2**70)], "not in the range"),
        (["--threads", "100000", "train"], "not in the range 1<=x<=1024"),  # crashed OpenBLAS
        (["compare", "--seeds", f"0,{2**70}"], "--seeds"),
        (["compare", "--seeds", "1,2,1"], "seed 1 given more than once"),
        (["nested-cv", "--seeds", "0,0"], "seed 0 given more than once"),
        (["compare", "--methods", "sgan,supervised,sgan"], "method sgan given more than once"),
        (["compare", "--methods", ","], "no method given"),
        (["compare", "--methods", "sgan,,supervised"], "empty method between commas"),
        (["train", "--target-sensitivity", "nan"], "not a finite number"),
        (["train", "--out", ""], "empty path"),
        (["train", "--data", ""], "empty path"),
    ],
)
def test_flag_values_that_would_overflow_or_mean_nothing(melanoma, tmp_path, args, complaint):
    args = [*args, "--out", tmp_path / "o"] if "--out" not in args else args
    result = melanoma(*args)
    assert result.returncode == 2 and complaint in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_a_target_sensitivity_is_chosen_at_evaluate_and_predict_time(
    melanoma, assert_one_line_error, data_path, tmp_path, real_jpegs
):
    result = melanoma(
        "evaluate", "reference-sgan", "--data", data_path, "--target-sensitivity", "0.975", "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["threshold_name"] == "sensitivity_0.975"
    youden = load_checkpoint("reference-sgan").meta.threshold("youden")  # evaluate's default
    assert report["threshold"] < youden  # higher sensitivity on validation: a lower cutoff
    (tmp_path / "a.jpg").write_bytes(next(iter(real_jpegs.values())))
    low = melanoma("predict", "reference-sgan", tmp_path, "--target-sensitivity", "0.5")
    assert low.returncode == 0, low.stderr
    assert low.stderr.startswith("decided at sensitivity_0.50 = ")  # the cutoff it chose
    both = melanoma(
        "predict",
        "reference-sgan",
        tmp_path,
        "--threshold",
        "youden",
        "--target-sensitivity",
        "0.9",
    )
    assert_one_line_error(both, "--threshold youden is not the threshold", "--help")
    # the pair melanoma-export takes, naming one threshold, decides as --target-sensitivity
    pair = melanoma(
        "predict",
        "reference-sgan",
        tmp_path,
        "--target-sensitivity",
        "0.5",
        "--threshold",
        "sensitivity_0.5",
    )
    assert pair.returncode == 0, pair.stderr
    assert (pair.stdout, pair.stderr) == (low.stdout, low.stderr)


def run_training_command(monkeypatch, capsys, tmp_path, command, runner, stop_with):
    """`melanoma COMMAND` in-process, its training (`runner`) raising `stop_with`: returns
    (exit code, the last stderr line)."""
    from types import SimpleNamespace

    from melanoma.cli import main

    def training(*args, **kwargs):
        raise stop_with

    monkeypatch.setattr(runner, training)
    monkeypatch.setattr("melanoma.datasets.load_dataset", lambda data: SimpleNamespace(summary=str))
    monkeypatch.setattr("sys.argv", ["melanoma", command, "--data", str(tmp_path), "--out", "o"])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize(
    ("command", "runner"),
    [("compare", "melanoma.compare.compare"), ("nested-cv", "melanoma.nested_cv.nested_cv")],
)
@pytest.mark.usefixtures("pytests_signal_handlers")  # main() installs its own
def test_a_diverged_training_inside_compare_or_nested_cv_is_one_line_exit_1(
    monkeypatch, capsys, tmp_path, command, runner
):
    """As in train: a training that gave up is not bad input (2), nor a traceback."""
    from melanoma.training import DivergenceError

    gave_up = DivergenceError("member 1 of 5 diverged at epoch 1 (loss nan); no checkpoint")
    assert run_training_command(monkeypatch, capsys, tmp_path, command, runner, gave_up) == (
        1,
        "error: member 1 of 5 diverged at epoch 1 (loss nan); no checkpoint",
    )


@pytest.mark.parametrize(
    ("command", "runner", "said"),
    [
        (
            "compare",
            "melanoma.compare.compare",
            "interrupted after epoch 17/60; resume state saved to r/resume.pt; "
            "rerun the same command to continue from there",
        ),
        # nested-cv trains in a temporary folder, gone by now: no path, no resume
        ("nested-cv", "melanoma.nested_cv.nested_cv", "interrupted"),
    ],
)
@pytest.mark.usefixtures("pytests_signal_handlers")  # main() installs its own
def test_an_interrupted_compare_says_how_to_continue_and_nested_cv_names_no_state(
    monkeypatch, capsys, tmp_path, command, runner, said
):
    from pathlib import Path

    from melanoma.resume import TrainingInterrupted

    stopped = TrainingInterrupted(Path("r/resume.pt"), "epoch 17/60")
    assert run_training_command(monkeypatch, capsys, tmp_path, command, runner, stopped) == (
        130,
        said,
    )
