"""cli_parsing: every console script refuses a value option given twice, where click would
keep the last value and drop the first without a word, and `melanoma`'s own options given
after its command are named as such, and an option name is no path. All refused while
parsing: nothing loads or runs."""

import sys

import pytest

from melanoma.cli_parsing import Command, Group
from melanoma.cliutil import EXIT_USAGE, run

# run() installs its handlers for the whole process
pytestmark = pytest.mark.usefixtures("pytests_signal_handlers")


def scripts():
    from melanoma.benchmarks.cli import bench
    from melanoma.cli import cli
    from melanoma.export.cli import cli as export

    return {"melanoma": cli, "melanoma-export": export, "melanoma-bench": bench}


def run_script(monkeypatch, capsys, tmp_path, name, *args):
    monkeypatch.chdir(tmp_path)  # without the check, some would run and write --out here
    monkeypatch.setattr(sys, "argv", [name, *args])
    with pytest.raises(SystemExit) as stop:
        run(scripts()[name])
    return stop.value.code, capsys.readouterr()


@pytest.mark.parametrize(
    "name, args, option",
    [
        ("melanoma-export", ["--target", "coreml", "--target", "torchscript"], "--target"),
        ("melanoma-export", ["--target", "onnx", "--out", "a", "--out=b"], "--out"),
        ("melanoma", ["evaluate", "x", "--data", "a", "--data", "b"], "--data"),
        ("melanoma", ["evaluate", "x", "--split", "test", "--split", "val"], "--split"),
        (
            "melanoma",
            ["predict", "x", "y.png", "--threshold", "youden", "--threshold", "y"],
            "--threshold",
        ),
        ("melanoma", ["--threads", "1", "--threads", "2", "evaluate", "x"], "--threads"),
        ("melanoma", ["train", "--out", "o", "--seed", "0", "--seed", "1"], "--seed"),
        ("melanoma", ["compare", "--out", "o", "--seeds", "0", "--seeds", "1"], "--seeds"),
        ("melanoma-bench", ["--max-auc-drop", "0.01", "--max-auc-drop", "0.5"], "--max-auc-drop"),
    ],
)
def test_a_value_option_given_twice_is_one_line_exit_2(
    monkeypatch, capsys, tmp_path, name, args, option
):
    code, printed = run_script(monkeypatch, capsys, tmp_path, name, *args)
    assert code == EXIT_USAGE
    assert printed.err.startswith(f"error: {option} given 2 times")
    assert printed.err.count("\n") == 1 and "--help" in printed.err


def test_switches_may_repeat_and_the_last_wins(monkeypatch, capsys, tmp_path):
    """--progress --no-progress drops no value: past parsing, to train's own first check."""
    args = ["train", "--resume", "--resume", "--progress", "--no-progress", "--out", str(tmp_path)]
    code, printed = run_script(monkeypatch, capsys, tmp_path, "melanoma", *args)
    assert code == EXIT_USAGE and "no resume state to continue from" in printed.err


def test_help_still_answers(monkeypatch, capsys, tmp_path):
    code, printed = run_script(
        monkeypatch,
        capsys,
        tmp_path,
        "melanoma-export",
        "--target",
        "onnx",
        "--target",
        "all",
        "--help",
    )
    assert code == 0 and "Usage: melanoma-export" in printed.out


def test_every_command_refuses_repeats():
    """A command added later with plain @click.command would keep the last value again."""
    commands = [*scripts().values(), *scripts()["melanoma"].commands.values()]
    assert all(isinstance(command, (Command, Group)) for command in commands)


@pytest.mark.parametrize(
    "args, usage",
    [
        (["train", "--out", "o", "--threads", "1"], "melanoma --threads VALUE train ..."),
        (["evaluate", "x", "-v"], "melanoma -v evaluate ..."),
        (["qat", "--version"], "melanoma --version ("),
    ],
)
def test_an_option_of_melanoma_after_its_command_says_where_it_goes(
    monkeypatch, capsys, tmp_path, args, usage
):
    code, printed = run_script(monkeypatch, capsys, tmp_path, "melanoma", *args)
    assert code == EXIT_USAGE and printed.err.count("\n") == 1
    assert f"is an option of 'melanoma', given before the command: {usage}" in printed.err


def test_an_unknown_option_gets_no_such_hint(monkeypatch, capsys, tmp_path):
    code, printed = run_script(monkeypatch, capsys, tmp_path, "melanoma", "train", "--bogus")
    assert code == EXIT_USAGE and "given before the command" not in printed.err


@pytest.mark.parametrize(
    "name, args, option, taken",
    [
        ("melanoma", ["evaluate", "x", "--roc", "--json"], "--roc", "--json"),
        (
            "melanoma",
            ["predict", "x", "y.png", "--csv", "--threshold", "youden"],
            "--csv",
            "--threshold",
        ),
        ("melanoma", ["evaluate", "x", "--data", "-v"], "--data", "-v"),  # the group's
        ("melanoma-bench", ["--json", "--no-plots"], "--json", "--no-plots"),
        ("melanoma-export", ["--target", "onnx", "--out", "-h"], "--out", "-h"),
    ],
)
def test_an_option_name_is_not_taken_as_a_forgotten_path(
    monkeypatch, capsys, tmp_path, name, args, option, taken
):
    """Without the check, `evaluate x --roc --json` wrote a file named '--json' here."""
    code, printed = run_script(monkeypatch, capsys, tmp_path, name, *args)
    assert code == EXIT_USAGE and printed.err.count("\n") == 1
    assert f"'{option}'" in printed.err and f"{taken} is an option, not a path" in printed.err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "command, script", [("export", "melanoma-export"), ("bench", "melanoma-bench")]
)
def test_melanoma_export_names_the_script(monkeypatch, capsys, tmp_path, command, script):
    code, printed = run_script(monkeypatch, capsys, tmp_path, "melanoma", command, "--help")
    assert code == EXIT_USAGE and printed.err.count("\n") == 1
    assert f"it is a script of its own, {script} (see '{script} --help')" in printed.err
