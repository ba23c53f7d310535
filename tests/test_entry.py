"""The console scripts' entry points: Ctrl-C while the CLI module is still importing."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_cli_import_prints_interrupted_not_a_traceback(tmp_path, signum):
    # A stand-in CLI module whose import blocks, as importing torch and executorch does
    # for seconds; the test signals once the import has started.
    (tmp_path / "slow_cli.py").write_text(
        "import sys, time\nprint('importing', flush=True)\ntime.sleep(60)\ndef main(): pass\n"
    )
    script = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + (
        "from melanoma.entry import _run\n_run('slow_cli')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "importing\n"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stderr) == (130, "interrupted\n")
