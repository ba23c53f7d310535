"""Torch's serializers on a full disk: one OSError the CLI reports in a line, not an abort.

Each runs in a child process under RLIMIT_FSIZE (with SIGXFSZ ignored, a write past the
limit fails with EFBIG, as one on a full disk fails with ENOSPC), which needs no root or
mount; the child prints the errno of the OSError it caught.
"""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")

ON_A_FULL_DISK = """
import errno, resource, signal, sys
import torch
{build}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    {write}
except OSError as err:
    print(errno.errorcode[err.errno])
"""


def _write_on_a_full_disk(tmp_path, build: str, write: str) -> subprocess.CompletedProcess:
    script = ON_A_FULL_DISK.format(build=textwrap.dedent(build), write=write)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )


def test_a_qat_program_that_does_not_fit_is_one_oserror(tmp_path):
    """torch.export.save into a file raised a RuntimeError, then again from its writer's
    destructor: the process aborted (exit 134) with C++ frames, `melanoma qat` included."""
    build = """
        from pathlib import Path
        from melanoma.qat import _save_program
        program = torch.export.export(torch.nn.Linear(64, 64), (torch.zeros(1, 64),))
    """
    done = _write_on_a_full_disk(tmp_path, build, '_save_program(program, Path("p.pt2"))')
    assert (done.returncode, done.stdout) == (0, "EFBIG\n"), done.stderr[-2000:]


@pytest.mark.parametrize(
    "write",
    [
        'save_resume_state(".", {"w": torch.zeros(4096)})',  # Ctrl-C on a full disk
        # save_checkpoint's weights.pt
        'with atomic_path(Path("weights.pt")) as temp: save_torch({"w": torch.zeros(4096)}, temp)',
    ],
)
def test_a_torch_file_that_does_not_fit_is_one_oserror(tmp_path, write):
    """torch.save, given a path or a file, raised a RuntimeError ("unexpected pos 704 vs
    598") that the CLI printed as a traceback."""
    build = """
        from pathlib import Path
        from melanoma.atomic import atomic_path
        from melanoma.checkpoint import save_torch
        from melanoma.resume import save_resume_state
    """
    done = _write_on_a_full_disk(tmp_path, build, write)
    assert (done.returncode, done.stdout) == (0, "EFBIG\n"), done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []  # the atomic write's temp file is gone too


def test_a_ptl_that_does_not_fit_is_one_oserror(tmp_path):
    """The lite interpreter's file writer threw from a C++ destructor: `melanoma-export
    --target torchscript` aborted (exit 134) and left a .ptl-* temp folder beside --out."""
    build = """
        from pathlib import Path
        from melanoma.atomic import atomic_path
        from melanoma.export.torchscript import export
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3), torch.nn.ReLU())
    """
    write = 'with atomic_path(Path("m.ptl")) as temp: export(model, (), temp, "fp32")'
    done = _write_on_a_full_disk(tmp_path, build, write)
    assert (done.returncode, done.stdout) == (0, "EFBIG\n"), done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
