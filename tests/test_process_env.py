"""The console scripts in a hostile process: closed standard streams, a deleted working
directory, a hangup under nohup. Each runs a stand-in CLI module through melanoma.entry
in a subprocess, except where only the real one shows the failure (torch's import)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

# A stand-in CLI with the real --progress option, whose default reads sys.stderr.
PROGRESS_CLI = """
import click
from melanoma.cli_options import progress_option
from melanoma.cliutil import run

@click.command()
@progress_option()
def command(progress):
    click.echo(f"progress {progress}")

def main():
    run(command)
"""

# A stand-in CLI whose import waits for a line on stdin, so the test can signal it there.
WAITING_CLI = """
import sys
print("importing", flush=True)
sys.stdin.readline()

def main():
    print("ran")
"""


def entry_script(tmp_path, module: str, source: str) -> list[str]:
    (tmp_path / f"{module}.py").write_text(source)
    script = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + (
        f"from melanoma.entry import _run\n_run({module!r})\n"
    )
    return [sys.executable, "-c", script]


def test_a_closed_stderr_reads_as_dev_null_not_a_silent_crash(tmp_path):
    # `2>&-`: Python sets sys.stderr to None, on which --progress's default crashed
    # (exit 1, no message anywhere, nothing written).
    proc = subprocess.run(
        entry_script(tmp_path, "progress_cli", PROGRESS_CLI),
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(2),
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (0, "progress False\n")


def test_a_closed_stdout_is_not_reused_for_the_next_file_opened(tmp_path):
    # `>&-`: a file opened next takes the free number 1, where native code prints.
    check = "import os; print(os.readlink('/proc/self/fd/1'), file=open('fd1', 'w'))"
    proc = subprocess.run(
        entry_script(tmp_path, "fd_cli", f"def main():\n    {check}\n"),
        cwd=tmp_path,
        preexec_fn=lambda: os.close(1),
        timeout=60,
    )
    assert proc.returncode == 0
    assert (tmp_path / "fd1").read_text() == os.devnull + "\n"


def test_a_deleted_working_directory_is_named_not_a_broken_torch(tmp_path):
    # The real CLI: what fails there is torch's import ("Intel oneMKL FATAL ERROR:
    # Cannot load libtorch_cpu.so"), which reads as a broken install.
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        f"import os, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r})\n"
        "sys.argv = ['melanoma', '--version']\n"
        "from melanoma.entry import melanoma; melanoma()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr == "error: the current directory no longer exists: cd to one that does\n"


def test_a_hangup_under_nohup_stays_ignored(tmp_path):
    # nohup asks the run to outlive the terminal: handled as Ctrl-C, it would stop it.
    proc = subprocess.Popen(
        entry_script(tmp_path, "waiting_cli", WAITING_CLI),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    assert proc.stdout.readline() == "importing\n"
    proc.send_signal(signal.SIGHUP)
    stdout, stderr = proc.communicate("go\n", timeout=60)
    assert (proc.returncode, stdout, stderr) == (0, "ran\n", "")


# A stand-in CLI that prints what the benchmark's table and predict's rows can hold: a
# status symbol, a photo named in Chinese and one whose name is not UTF-8 (Latin-1 'é').
PRINTING_CLI = """
import os
def main():
    print("\\u2705 \\u0394AUC photos/\\u75e3.jpg " + os.fsdecode(b"art\\xe9.jpg"))
"""
ESCAPED = rb"\u2705 \u0394AUC photos/\u75e3.jpg art\udce9.jpg" + b"\n"


def test_output_the_console_cannot_encode_is_escaped_not_a_crash(tmp_path):
    # Windows writes stdout in its ANSI code page (cp1252) when it goes to a file or a pipe,
    # and macOS or Linux in strict UTF-8: `melanoma-bench > log` crashed on the table's ✅
    # after writing its reports, and `melanoma predict` on a photo's name mid-table.
    # Under the C locale, Python writes a name that is not UTF-8 back as its bytes, as the
    # CSVs do: that stays.
    script = entry_script(tmp_path, "printing_cli", PRINTING_CLI)
    for env, expected in (
        ({"PYTHONIOENCODING": "cp1252"}, ESCAPED),
        (
            {"PYTHONIOENCODING": "utf-8"},
            "✅ ΔAUC photos/痣.jpg ".encode() + rb"art\udce9.jpg" + b"\n",
        ),
        ({"LC_ALL": "C"}, "✅ ΔAUC photos/痣.jpg ".encode() + b"art\xe9.jpg\n"),
    ):
        proc = subprocess.run(script, capture_output=True, env={**os.environ, **env}, timeout=60)
        assert (proc.returncode, proc.stderr, proc.stdout) == (0, b"", expected), env
