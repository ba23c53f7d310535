"""cliutil: how the console scripts map every failure to one line and an exit code."""

import errno
import signal
import subprocess
import sys
from pathlib import Path

import click
import pytest

from melanoma.cli_options import (
    FiniteFloatRange,
    NonEmptyPath,
    out_dir_option,
    progress_option,
    refuse_repeats,
    seed_list,
    version_option,
)
from melanoma.cliutil import EXIT_INTERRUPTED, EXIT_USAGE, Interrupts, one_line_message, run
from melanoma.errors import UserError


def script(body):
    """A one-command script whose body raises or returns as `body` does."""

    @click.command()
    @click.option("--seeds", callback=seed_list, default="0")
    @click.option("--rate", type=FiniteFloatRange(0.0, 1.0), default=0.5)
    @click.option("--out", type=NonEmptyPath(), default="here")
    def command(seeds, rate, out):
        body()

    return command


# run() installs its handlers for the whole process
pytestmark = pytest.mark.usefixtures("pytests_signal_handlers")


def run_script(monkeypatch, capsys, body, *args):
    monkeypatch.setattr(sys, "argv", ["tool", *args])
    with pytest.raises(SystemExit) as stop:
        run(script(body))
    return stop.value.code, capsys.readouterr().err


def succeed():
    pass


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--rate", "nan"], "nan is not a finite number"),
        (["--rate", "inf"], "--rate"),
        (["--rate", "2"], "0.0<=x<=1.0"),
        (["--out", " "], "empty path"),
        (["--out", "-"], "'-' is not standard output here"),
        (["--seeds", "1,x"], "expected comma-separated integers in 0..2**32-1, got '1,x'"),
        (["--seeds", ","], "no seed given"),
        (["--seeds", "0,,1"], "empty seed between commas in '0,,1'"),
        (["--seeds", "0,1,"], "empty seed between commas in '0,1,'"),
        (["--seeds", "3,1,3"], "seed 3 given more than once"),
        (["--seeds", str(2**32)], "expected comma-separated integers"),
        (["--colour", "red"], "--colour"),
        (["--rate"], "Option '--rate' requires an argument"),
    ],
)
def test_bad_flags_are_one_line_exit_2_naming_help(monkeypatch, capsys, args, fragment):
    code, err = run_script(monkeypatch, capsys, succeed, *args)
    assert code == EXIT_USAGE
    (line,) = err.splitlines()
    assert line.startswith("error: ") and fragment in line
    assert line.endswith("(see 'tool --help')")  # the program as it was started (argv[0])


def test_a_bad_flag_value_or_argument_cannot_run_a_terminal_escape(monkeypatch, capsys):
    """click quotes an extra argument as typed: on a terminal 'x\x1b[2K' erased the line
    (off one, click strips only that CSI kind), and a U+202E showed the rest of the error
    reversed. Shown as escapes, as UserError's are."""
    code, err = run_script(monkeypatch, capsys, succeed, "x\x1b[2K\u202ey")
    (line,) = err.splitlines()
    assert code == EXIT_USAGE and "argument (x\\x1b[2K\\u202ey)" in line, line
    assert not set(line) & {"\x1b", "\u202e"} and line.endswith("(see 'tool --help')")


def test_good_flags_reach_the_command_and_exit_0(monkeypatch, capsys):
    seen = []

    @click.command()
    @click.option("--seeds", callback=seed_list)
    def command(seeds):
        seen.append(seeds)

    monkeypatch.setattr(sys, "argv", ["tool", "--seeds", " 2, 0 ,1"])
    with pytest.raises(SystemExit) as stop:
        run(command)
    assert stop.value.code == 0 and seen == [[2, 0, 1]]


def test_user_and_os_errors_are_one_line_exit_2(monkeypatch, capsys):
    def bad_input():
        raise UserError("data/x.jpg: not an image")

    def unwritable():
        raise PermissionError(errno.EACCES, "Permission denied", "/root/out")

    assert run_script(monkeypatch, capsys, bad_input) == (
        EXIT_USAGE,
        "error: data/x.jpg: not an image\n",
    )
    assert run_script(monkeypatch, capsys, unwritable) == (
        EXIT_USAGE,
        "error: /root/out: Permission denied\n",
    )


def test_a_file_name_with_a_line_break_stays_on_the_errors_one_line(monkeypatch, capsys):
    def odd_name():
        raise UserError("d.zip:labeled/7_1\nerror: all good.jpg: label suffix must be _0 or _1")

    def odd_path():
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "out\r\nx\x0b\u2028")

    assert run_script(monkeypatch, capsys, odd_name)[1] == (
        "error: d.zip:labeled/7_1\\nerror: all good.jpg: label suffix must be _0 or _1\n"
    )
    assert run_script(monkeypatch, capsys, odd_path)[1] == (
        "error: out\\r\\nx\\x0b\\u2028: No such file or directory\n"
    )


def test_a_warning_naming_a_file_with_a_line_break_stays_on_one_line():
    # In a fresh process: pytest's own log handlers would make basicConfig a no-op here.
    code = (
        "import logging; from melanoma.cliutil import setup_process; setup_process(); "
        "logging.getLogger('melanoma.sources').warning('skipped 1 broken link(s): a\\nb.jpg')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr == "WARNING melanoma.sources: skipped 1 broken link(s): a\\nb.jpg\n"


def test_the_melanoma_groups_threads_flag_sets_torchs_threads():
    """`melanoma --threads 3 CMD` sets torch's intra-op threads before CMD runs (in a fresh
    process: the setting is process-wide)."""
    code = (
        "import torch; from melanoma.cli import cli; "
        "cli.main(['--threads', '3', 'evaluate', '--help'], standalone_mode=False); "
        "print(torch.get_num_threads())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "3", done.stderr


# ValueError too: UserError is one, but a bug's ValueError must keep its traceback.
@pytest.mark.parametrize("error", [ZeroDivisionError, ValueError])
def test_a_bug_is_not_disguised_as_a_user_error(monkeypatch, capsys, error):
    def bug():
        raise error("a bug")

    with pytest.raises(error):
        run_script(monkeypatch, capsys, bug)


def test_ctrl_c_and_any_exception_after_a_signal_exit_130(monkeypatch, capsys):
    def ctrl_c():
        raise KeyboardInterrupt

    code, err = run_script(monkeypatch, capsys, ctrl_c)
    assert (code, err.strip()) == (EXIT_INTERRUPTED, "interrupted")  # after click's newline
    interrupts = Interrupts()
    with pytest.raises(KeyboardInterrupt):
        interrupts(signal.SIGTERM, None)  # a kill, handled as Ctrl-C
    with pytest.raises(SystemExit) as stop, interrupts.reported():
        raise RecursionError("surfaced from an import the signal interrupted")
    assert stop.value.code == EXIT_INTERRUPTED


def test_an_exception_without_a_signal_passes_through_reported():
    with pytest.raises(ValueError), Interrupts().reported():
        raise ValueError("a real failure")


def test_one_line_message_joins_clicks_lines():
    err = click.UsageError("first line\n  second   line")
    assert one_line_message(err) == "first line second line"  # no command: no --help hint
    assert one_line_message(click.ClickException("a\nb")) == "a b"
    # Only a usage error points at --help: no flag fixes a failure in the command itself.
    assert one_line_message(click.ClickException("a"), click.Command("tool")) == "a"


def test_refuse_repeats_names_each_repeat_once():
    refuse_repeats("method", ["sgan", "supervised"])
    with pytest.raises(click.BadParameter, match="method sgan, supervised given more than"):
        refuse_repeats("method", ["supervised", "sgan", "supervised", "sgan", "sgan"])


def test_progress_bar_only_on_a_terminal_unless_asked(monkeypatch, capsys):
    seen = []

    @click.command()
    @progress_option()
    def command(progress):
        seen.append(progress)

    for args in ([], ["--progress"], ["--no-progress"]):
        monkeypatch.setattr(sys, "argv", ["tool", *args])
        with pytest.raises(SystemExit):
            run(command)
    assert seen == [False, True, False]  # pytest's stderr is not a terminal


def test_version_names_the_libraries_that_decide_an_artifact(monkeypatch, capsys):
    from importlib import metadata

    @click.command()
    @version_option()
    def command():
        raise AssertionError("--version runs no command")

    monkeypatch.setattr(sys, "argv", ["tool", "--version"])
    with pytest.raises(SystemExit) as stop:
        run(command)
    out = capsys.readouterr().out
    assert stop.value.code == 0
    assert f"tool {metadata.version('melanoma-mobile')} (torch " in out  # click names the program
    assert f"executorch {metadata.version('executorch')}" in out


def test_out_dir_option_is_required_unless_given_a_default(tmp_path):
    """click takes an explicit default=None as a default: --out would arrive as None."""
    from click.testing import CliRunner

    @click.command()
    @out_dir_option("where")
    def needs(out_dir):
        click.echo(out_dir)

    @click.command()
    @out_dir_option("where", default=Path("report"))
    def defaults(out_dir):
        click.echo(out_dir)

    missing = CliRunner().invoke(needs, [])
    assert missing.exit_code == 2 and "Missing option '--out'" in missing.output
    assert CliRunner().invoke(needs, ["--out", str(tmp_path)]).output == f"{tmp_path}\n"
    assert CliRunner().invoke(defaults, []).output == "report\n"
    assert CliRunner().invoke(needs, ["--out", ""]).exit_code == 2


def test_sigterm_is_handled_as_ctrl_c(tmp_path):
    """kill or a CI timeout: one line, exit 130, and the cleanup that Ctrl-C gets."""
    script = (
        "import os, signal, click\n"
        "from melanoma.cliutil import run\n"
        "@click.command()\n"
        "def stop():\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    signal.pause()\n"
        "run(stop)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    # click starts a new line first, as after a ^C echoed by the terminal
    assert (done.returncode, done.stderr.strip()) == (130, "interrupted")


@pytest.mark.parametrize("verbose", [False, True])
def test_info_notes_and_third_party_noise_show_only_with_verbose(verbose):
    """Without --verbose a run prints its result and real warnings, not per-epoch notes nor
    coremltools' and torch's notes on themselves (fresh process: logging is process-wide)."""
    code = (
        "import logging, warnings; from melanoma.cliutil import setup_process; "
        f"setup_process(verbose={verbose}); "
        "logging.getLogger('melanoma.train').info('kept epoch 3/9'); "
        "logging.getLogger('coremltools').warning('Torch version 2.9 has not been tested'); "
        "warnings.warn('`isinstance(treespec, LeafSpec)` is deprecated', FutureWarning)"
    )
    stderr = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    shown = ("kept epoch 3/9", "has not been tested", "LeafSpec")
    assert [text in stderr for text in shown] == [verbose] * 3, stderr


def test_setting_up_the_process_again_replaces_its_log_filters_and_level():
    """A second `main(standalone_mode=False)` in one process: each call added one more
    filter to each noisy logger, and a later --verbose call kept the first call's level
    and filters, so it showed neither info notes nor third-party ones (fresh process)."""
    code = (
        "import logging; from melanoma.cliutil import setup_process\n"
        "for _ in range(3): setup_process()\n"
        "print(len(logging.getLogger('coremltools').filters), len(logging.getLogger().handlers))\n"
        "setup_process(verbose=True)\n"
        "logging.getLogger('melanoma.train').info('kept epoch 3/9')\n"
        "logging.getLogger('coremltools').warning('Torch version 2.9 has not been tested')\n"
        "setup_process()\n"
        "logging.getLogger('melanoma.train').info('kept epoch 4/9')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout == "1 1\n", done.stderr  # one filter, one handler
    assert done.stderr.splitlines() == [
        "INFO melanoma.train: kept epoch 3/9",
        "WARNING coremltools: Torch version 2.9 has not been tested",
    ]


def test_a_later_verbose_call_shows_the_warnings_an_earlier_call_hid():
    """The first call's ignore filter for torch's LeafSpec note outlived a later --verbose
    call, which shows "them all" (fresh process); a call without it hides it again."""
    code = (
        "import warnings; from melanoma.cliutil import setup_process\n"
        "note = '`isinstance(treespec, LeafSpec)` is deprecated'\n"
        "setup_process(); setup_process(verbose=True)\n"
        "warnings.warn(note + ' (shown)', FutureWarning)\n"
        "setup_process()\n"
        "warnings.warn(note + ' (hidden)', FutureWarning)\n"
    )
    stderr = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    assert "(shown)" in stderr and "(hidden)" not in stderr, stderr


def test_setting_up_the_process_leaves_logging_it_did_not_set_alone():
    """Only our own handler's level and our own filters are replaced on a second call: a
    notebook's root handler and level, and a filter it put on a noisy logger, stay."""
    code = (
        "import logging; from melanoma.cliutil import setup_process\n"
        "logging.basicConfig(level=logging.DEBUG)\n"
        "mine = logging.Filter('coremltools.mine')\n"
        "logging.getLogger('coremltools').addFilter(mine)\n"
        "setup_process(); setup_process()\n"
        "root = logging.getLogger()\n"
        "print(root.level, len(root.handlers), type(root.handlers[0].formatter).__name__,"
        " mine in logging.getLogger('coremltools').filters)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout == "10 1 Formatter True\n", done.stderr


def test_coremltools_warnings_of_lost_precision_still_show():
    """Only coremltools' notes on itself are dropped: its warnings about the model it
    converts reach the user, whether logged on a module's logger or, as coremltools 9's
    torch quantization ops log theirs, on the 'coremltools' logger the notes use."""
    code = (
        "import logging; from melanoma.cliutil import setup_process; setup_process(); "
        "log = logging.getLogger('coremltools'); "
        "log.warning('%s version %s has not been tested with coremltools. You may run', "
        "'Torch', '2.13.0'); "
        "log.warning('Failed to load _MLModelProxy: No module named libcoremlpython'); "
        "log.warning('scikit-learn version 1.9.1 is not supported. Minimum required'); "
        "logging.getLogger('torch.utils._pytree').warning('Enum subclass ... deprecated'); "
        "logging.getLogger('coremltools.converters.mil.frontend.torch.quantization_ops')"
        ".warning('Casting zero-points to quantized type loses some precision.'); "
        "log.warning('Core ML does not support 4-bit activation, so int8 is used instead')"
    )
    stderr = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stderr
    assert stderr.splitlines() == [
        "WARNING coremltools.converters.mil.frontend.torch.quantization_ops: "
        "Casting zero-points to quantized type loses some precision.",
        "WARNING coremltools: Core ML does not support 4-bit activation, so int8 is used instead",
    ]
