"""The real checkpoint, its int8 program and its exports: built once per test run and shared
by the pytest-xdist workers (a pytest plugin, registered in tests/conftest.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory, worker_id) -> Path:
    """A folder every pytest-xdist worker of this run sees (in one process, its own)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def built_once(path: Path, build) -> Path:
    """`build(folder)` fills `path` once per test run: the first worker to ask builds it,
    another waits for it. The slow real models and exports below are shared this way, so
    each of the two workers does not build its own copy (~150 s each on a 2-core VM)."""
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    # A build takes seconds to ~3 min; a worker hung in one would otherwise hold the other
    # for good, so the waiter gives up (filelock.Timeout names the lock) after 15 min.
    with FileLock(f"{path}.lock", timeout=900):
        if not path.exists():
            partial = path.with_name(f"{path.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)  # a worker that failed half-way
            build(partial)
            partial.rename(path)
    return path


@pytest.fixture(scope="session")
def quick_checkpoint(shared_dir, dataset) -> Path:
    """A real supervised checkpoint from a few epochs on the real labeled data (seconds)."""
    from melanoma.train import TrainConfig, train_supervised

    def train(out: Path) -> None:
        train_supervised(dataset, TrainConfig(epochs=6, progress=False), out)

    return built_once(shared_dir / "quick" / "ckpt", train)


@pytest.fixture(scope="session")
def export_source(shared_dir, quick_checkpoint, dataset, agreement_on_labeled) -> Path:
    """A copy of the quick real checkpoint plus qat/: its int8 program, calibrated (no training)."""
    from melanoma.checkpoint import load_checkpoint
    from melanoma.qat import QATConfig, qat_finetune

    def calibrate(ckpt_dir: Path) -> None:
        shutil.copytree(quick_checkpoint, ckpt_dir)
        config = QATConfig(epochs=0, use_unlabeled=False, progress=False)
        with agreement_on_labeled():
            qat_finetune(load_checkpoint(ckpt_dir), dataset, config, ckpt_dir / "qat")

    # the folder's name is the model name in every artifact's file name
    return built_once(shared_dir / "export-source" / "quick-cnn", calibrate)


@pytest.fixture(scope="session")
def float_only_checkpoint(tmp_path_factory, quick_checkpoint) -> Path:
    """A copy of the quick checkpoint without any int8 program."""
    ckpt_dir = tmp_path_factory.mktemp("float-only") / "quick-float"
    shutil.copytree(quick_checkpoint, ckpt_dir)
    return ckpt_dir


@pytest.fixture(scope="session")
def exported(shared_dir, export_source, dataset, worker_id) -> dict:
    """(target, precision) -> ExportResult: every target at both precisions, in one folder.

    Built a target at a time, the workers from opposite ends of the registry: two workers
    that both need it at the start each export about half (ExecuTorch alone is about half)."""
    import pickle
    from functools import partial

    from melanoma.export.api import ExportConfig, export_checkpoint
    from melanoma.export.registry import TARGETS

    artifacts = shared_dir / "artifacts"
    # made here, not by the export: output_dir removes a folder it created when its export
    # fails, and the other worker may be writing into this one
    artifacts.mkdir(exist_ok=True)

    def export(target: str, record: Path) -> None:
        config = ExportConfig((target,), str(export_source), data=dataset, out_dir=artifacts)
        record.mkdir()
        (record / "results.pickle").write_bytes(pickle.dumps(export_checkpoint(config)))

    order = list(TARGETS) if worker_id in ("master", "gw0") else list(reversed(TARGETS))
    records = {t: built_once(shared_dir / f"exported-{t}", partial(export, t)) for t in order}
    return {
        (r.target, r.precision): r
        for target in TARGETS  # in the registry's order, whichever worker built what
        for r in pickle.loads((records[target] / "results.pickle").read_bytes())
    }


@pytest.fixture
def written(exported) -> dict:
    """The int8 ExecuTorch manifest as the exporter writes it today (schema 6), a fresh dict
    each test may edit: the manifest and schema-version tests both start from it."""
    from melanoma.manifest import manifest_path

    return json.loads(manifest_path(exported["executorch", "int8"].artifact).read_text())
