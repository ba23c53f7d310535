"""Shared fixtures: the real data (from $MELANOMA_DATA or ../shared/data) and tiny images."""

from __future__ import annotations

import functools
import io
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
# The real models and exports every test folder shares, built once per run (tests/support)
pytest_plugins = ["shared_models"]


def data_dir() -> Path:
    return Path(os.environ.get("MELANOMA_DATA", DEFAULT_DATA))


@pytest.fixture(scope="session")
def data_path() -> Path:
    """The real data; a missing data set fails the run instead of skipping tests."""
    path = data_dir()
    if not path.exists():
        pytest.fail(f"real data not found at {path}; set MELANOMA_DATA")
    return path


@pytest.fixture(scope="session")
def data_zip(data_path) -> Path:
    """MelanomaDetection.zip, read in place."""
    path = data_path / "MelanomaDetection.zip" if data_path.is_dir() else data_path
    if path.suffix != ".zip" or not path.is_file():
        pytest.fail(
            f"{path} is not MelanomaDetection.zip: set MELANOMA_DATA to the folder holding it"
        )
    return path


@pytest.fixture(scope="session")
def dataset(data_path):
    from melanoma.datasets import load_dataset

    return load_dataset(data_path)


@pytest.fixture(scope="session")
def forty_labeled(dataset):
    """40 real labeled images (20 per member with 2 folds), no test split: seconds to train."""
    import torch

    from melanoma.datasets import Dataset

    return Dataset(dataset.labeled.subset(torch.arange(40)), None, None, "test", "40 labeled")


@pytest.fixture(scope="session")
def real_jpegs(data_path) -> dict[str, bytes]:
    """Raw bytes of 8 melanoma + 8 benign labeled and 4 test JPEGs of the real data (the zip
    or an extracted copy), keyed by their path in it with a leading "/"."""
    from melanoma.datasets import resolve_data_path
    from melanoma.sources import FileSource

    source = FileSource(resolve_data_path(data_path))
    try:
        names = ["/" + n for n in source.names if n.endswith(".jpg")]
        labeled = [n for n in names if "/labeled/" in n]
        chosen = (
            [n for n in labeled if n.endswith("_1.jpg")][:8]
            + [n for n in labeled if n.endswith("_0.jpg")][:8]
            + [n for n in names if "/test/" in n][:4]
        )
        return {n: source.read(n[1:]) for n in chosen}
    finally:
        source.close()


@pytest.fixture
def jpegs(real_jpegs):
    """Four real melanoma and four real benign JPEG byte strings."""
    by_label = {"0": [], "1": []}
    for name, data in real_jpegs.items():
        by_label[name.rsplit("_", 1)[1][0]].append(data)
    return by_label["1"][:4], by_label["0"][:4]


def _png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def png_bytes():
    """Encode an (H, W, C) uint8 array as PNG bytes."""
    return _png_bytes


def _png_from_chunks(*chunks: tuple[bytes, bytes]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in chunks
    )


@pytest.fixture(scope="session")
def png_from_chunks():
    """Write a PNG chunk by chunk, (kind, data) pairs from IHDR on: what Pillow will not
    write (16-bit grey with alpha, a tRNS key in 16 bits, a header alone)."""
    return _png_from_chunks


@pytest.fixture
def pytests_signal_handlers():
    """A test that calls cliutil.run() gets pytest's handlers back after it: run() installs
    its own (Ctrl-C, SIGTERM, SIGHUP) for the whole process."""
    from melanoma.atomic import STOPS

    before = {stop: signal.getsignal(stop) for stop in STOPS}
    yield
    for stop, handler in before.items():
        signal.signal(stop, handler)


@pytest.fixture
def ctrl_c_on_epoch(monkeypatch):
    """ctrl_c_on_epoch(module, call): module.train_one_epoch raises KeyboardInterrupt on its
    `call`-th call (from 1), as Ctrl-C would; every other call trains for real. With
    after_steps=True that call trains first: a Ctrl-C just before the epoch's end is recorded.
    Returns the running call count ({"n": ...})."""

    def patch(module, call: int, after_steps: bool = False) -> dict:
        real, calls = module.train_one_epoch, {"n": 0}

        def epoch(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == call:
                if after_steps:
                    real(*args, **kwargs)
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(module, "train_one_epoch", epoch)
        return calls

    return patch


@pytest.fixture(scope="session")
def console_script():
    """Path of an installed console script; the CLI tests exercise the real entry points."""
    import sys

    def find(name: str) -> str:
        path = Path(sys.executable).parent / name
        if not path.exists():
            pytest.fail(f"{name} is not installed next to {sys.executable}; pip install -e .")
        return str(path)

    return find


@pytest.fixture(scope="session")
def run_console_script(console_script):
    """Run an installed console script, its arguments str()'d: the CompletedProcess, with
    stdout and stderr as text. Keyword arguments (cwd, env, check) go to subprocess.run."""

    def run(name: str, *args, **kwargs) -> subprocess.CompletedProcess[str]:
        command = [console_script(name), *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, **kwargs)

    return run


@pytest.fixture
def run_in_process(monkeypatch, capsys, pytests_signal_handlers):
    """Run a console script's `main` in this process (its runtimes already imported, so
    much faster than a fresh one): exit code and output in a CompletedProcess, as
    `run_console_script` gives them. Monkeypatching reaches the code it runs; the signal
    handlers its cliutil.run() installs are put back after the test."""

    def run(name: str, main, *args) -> subprocess.CompletedProcess[str]:
        argv = [name, *map(str, args)]
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as stop:
            main()
        out = capsys.readouterr()
        return subprocess.CompletedProcess(argv, stop.value.code, out.out, out.err)

    return run


@pytest.fixture(scope="session")
def assert_one_line_error():
    """Check a finished command refused its input as the CLIs promise: exit code 2 and one
    stderr line, no traceback, naming every fragment. Returns that line."""

    def check(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in lines[0], result.stderr
        for fragment in fragments:
            assert fragment in lines[0], lines[0]
        return lines[0]

    return check


@pytest.fixture(scope="session")
def melanoma(run_console_script):
    """`melanoma ARGS...` in a fresh process."""
    return functools.partial(run_console_script, "melanoma")


@pytest.fixture(scope="session")
def replace_weights():
    """Overwrite a checkpoint's weights.pt with a state dict and record its sha256 in
    metadata.json, as a hand edit that also mended the checksum would."""
    import json

    import torch

    from melanoma.checkpoint import file_sha256

    def replace(ckpt_dir: Path, state: dict) -> None:
        torch.save(state, ckpt_dir / "weights.pt")
        meta = json.loads((ckpt_dir / "metadata.json").read_text())
        meta["weights_sha256"] = file_sha256(ckpt_dir / "weights.pt")
        (ckpt_dir / "metadata.json").write_text(json.dumps(meta))

    return replace


@pytest.fixture(scope="session")
def agreement_on_labeled():
    """A context in which QAT measures its int8-vs-float agreement as if there were no
    unlabeled pool: for a cross-validated checkpoint that pool is 7018 images through five
    float members and the int8 program, about 25 s, in tests of other things. QAT then uses
    the labeled training images, as it does for a data set without that pool."""
    import melanoma.qat_metadata as qat_metadata

    real = qat_metadata._agreement_images

    @contextmanager
    def context():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(qat_metadata, "_agreement_images", lambda t, v, _: real(t, v, None))
            yield

    return context


# Files libraries write on their own, outside any tmp_path (a run with HOME and TMPDIR set to
# empty folders, 2026-12-07): onnxruntime's telemetry on every session (a device id and a
# database in ~/.cache/Microsoft/DeveloperTools, $TMPDIR/.ses), matplotlib's config folder
# and font list (~/.config/matplotlib, ~/.cache/matplotlib) and $TMPDIR/torchinductor_$USER.
LIBRARY_FOLDERS = {"MPLCONFIGDIR": "matplotlib", "TORCHINDUCTOR_CACHE_DIR": "torchinductor"}
LIBRARY_SCRATCH = pytest.StashKey[Path]()


def _library_files_in_a_scratch_folder(config) -> None:
    """Those files go into one folder per run, removed at its end; the console scripts
    the tests start inherit the variables, as the xdist workers do from the controller."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    scratch = Path(tempfile.mkdtemp(prefix="melanoma-tests-"))
    config.stash[LIBRARY_SCRATCH] = scratch
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    for variable, name in LIBRARY_FOLDERS.items():
        os.environ[variable] = str(scratch / name)


def pytest_unconfigure(config) -> None:
    scratch = config.stash.get(LIBRARY_SCRATCH, None)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def pytest_configure(config) -> None:
    """Under pytest-xdist (pyproject.toml's -n 2) each worker runs torch on one thread.

    Two workers share two cores. At torch's default of a thread per core, four OpenMP
    threads spin-waited for two cores and the suite ran slower than in one process (867 s
    against 565 s); at one thread per worker it took 408 s (2-core VM, 2026-12-05). The
    variable also reaches the console scripts the tests start.
    """
    _library_files_in_a_scratch_folder(config)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)
