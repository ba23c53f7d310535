"""load_checkpoint on a folder another process holds as `melanoma train` does."""

import subprocess
import sys

import pytest

from melanoma.checkpoint import CheckpointError, load_checkpoint

# Holds a folder as `melanoma train` does while it trains (resume.run_dir_owned), in a
# process of its own, until a line comes on stdin.
HOLDS_A_RUN_DIR = """
import sys
from pathlib import Path
from melanoma.resume import run_dir_owned

with run_dir_owned(Path(sys.argv[1])):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_a_checkpoint_a_training_run_is_rewriting_is_refused_as_such(tmp_path):
    """evaluate or predict while a fresh train rewrote the folder (the old files deleted)
    said "no metadata.json (not a checkpoint directory)", as if the path were wrong."""
    out = tmp_path / "run"
    training = subprocess.Popen(
        [sys.executable, "-c", HOLDS_A_RUN_DIR, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert training.stdout.readline() == "holding\n", training.stderr.read()
        with pytest.raises(CheckpointError, match="a training run is writing this checkpoint"):
            load_checkpoint(out)
    finally:
        _, stderr = training.communicate("\n")
    assert training.returncode == 0, stderr
    with pytest.raises(CheckpointError, match="no metadata.json"):  # once the run is gone
        load_checkpoint(out)
