"""The console scripts' entry points: Ctrl-C, SIGTERM or a hangup while the CLI module imports."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

# Short sleeps, not one of 60 s: a signal that lands between the interpreter's last check
# and the start of the sleep's system call waits until that call ends (a CI run hung on
# it); importing torch, which this stands for, runs bytecode all along.
SLOW_IMPORT = """
import time
print("importing", flush=True)
try:
    for _ in range(600):
        time.sleep(0.1)
except KeyboardInterrupt:
    if {as_recursion}:  # as a Ctrl-C inside numpy's import machinery can come out
        raise RecursionError("maximum recursion depth exceeded") from None
    raise
def main():
    pass
"""


@pytest.mark.parametrize("as_recursion", [False, True])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_the_cli_import_prints_interrupted_not_a_traceback(
    tmp_path, signum, as_recursion
):
    # A stand-in CLI module whose import blocks, as importing torch does for seconds;
    # the test signals once the import has started.
    (tmp_path / "slow_cli.py").write_text(SLOW_IMPORT.format(as_recursion=as_recursion))
    script = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + (
        "from melanoma.entry import _run\n_run('slow_cli')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a suite run under nohup hands its children an ignored SIGHUP, which the CLI
        # rightly keeps ignored (test_process_env.py): this test is about the handled one
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    assert proc.stdout.readline() == "importing\n"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stderr) == (130, "interrupted\n")
