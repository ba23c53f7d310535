"""Shared fixtures for the benchmark tests: hand-made subjects and rows (no runtime needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from melanoma.benchmarks.accuracy import AGREEMENT_FIGURES
from melanoma.benchmarks.report import make_row
from melanoma.benchmarks.subjects import AccuracyConfig, Subject
from melanoma.benchmarks.timing import Latency
from melanoma.metrics import METRIC_NAMES

MACS = 38_633_600
# the tests look at statuses, not CIs; the harness would resolve the threshold's name
FAST = AccuracyConfig(threshold_name="youden", n_bootstrap=20)


def small_cnn_macs(widths, size=32):
    """MACs of melanoma.model.SmallCNN, by hand: two 3x3 convs per stage, then the linear head."""
    total, c_in = 0, 3
    for width in widths:
        total += size * size * width * c_in * 9  # first 3x3 conv of the stage
        total += size * size * width * width * 9  # second 3x3 conv
        c_in, size = width, size // 2
    return total + c_in  # linear head: c_in -> 1


@pytest.fixture(scope="session")
def hand_macs():
    return small_cnn_macs


def figures(auc=0.85, agreement=1.0, delta_auc=0.0, max_abs_dprob=0.0, delta_accuracy=0.0):
    ci = {name: [0.1, 0.9] for name in METRIC_NAMES}
    return {
        "auc": auc, "accuracy": 0.8, "sensitivity": 0.9, "specificity": 0.7, "precision": 0.75,
        "f1": 0.82, "balanced_accuracy": 0.8, "ci": ci, "brier": 0.15, "ece": 0.07,
        "agreement": agreement,
        "n_disagree": round((1 - agreement) * 600), "delta_auc": delta_auc,
        "delta_accuracy": delta_accuracy,
        "max_abs_dprob": max_abs_dprob, "mean_abs_dprob": max_abs_dprob / 4,
        "threshold": 0.5, "threshold_name": "youden", "n_images": 600, "runtime": "test 1.0",
    }  # fmt: skip


def subject(name="m.pte", target="executorch", precision="int8", status="verified",
            reasons=(), measured=True, **overrides) -> Subject:  # fmt: skip
    """A Subject as the harness builds it; measured=False is a row that never ran."""
    info = {"file": name, "sha256": "cd" * 32, "size_bytes": 300_000, "quantization": "none",
            "export_check": "outputs"}  # fmt: skip
    if measured:
        info.update(figures(**overrides))
    return Subject(
        name=name, target=target, precision=precision, status=status, reasons=tuple(reasons),
        info=info, load=None, dynamic_batch=True, normalization=([0.5] * 3, [0.2] * 3),
        scores=None,
    )  # fmt: skip


def eager_subject() -> Subject:
    """The reference row: the float model, so no agreement figures of its own."""
    eager = subject("eager-pytorch", "pytorch", "fp32")
    eager.info.update(dict.fromkeys(AGREEMENT_FIGURES))
    return eager


def latency(p50=1.0) -> Latency:
    """Ordered as measured ones are: min <= p50 <= p90 <= p99 (the plots rely on it)."""
    return Latency(
        load_ms=5.0, p50_ms=p50, p90_ms=1.5 * p50, p99_ms=2 * p50, mean_ms=p50, min_ms=p50 / 2,
        runs=200,
        warmup=20, throughput_ips=1000.0, p50_by_round_ms=(p50, p50 * 1.2),
    )  # fmt: skip


def row(threads=1, p50=1.0, **kwargs) -> dict:
    s = subject(**kwargs)
    measured = kwargs.get("measured", True) and s.status != "not_runnable"
    return make_row(s, threads, latency(p50) if measured else None, MACS)


@pytest.fixture
def make_subject():
    """subject(name, target, precision, status, reasons, measured, **figures) -> a Subject."""
    return subject


@pytest.fixture
def make_row_for():
    """row(threads, p50, **subject fields) -> a report row."""
    return row


def typical_result(threads=(1, 2)):
    """A typical run as the harness returns it: the eager reference, an fp32 and an int8
    artifact, and a Core ML package that cannot run here."""
    from melanoma.benchmarks.harness import BenchResult

    subjects = [
        (eager_subject(), 4.0),
        (subject("m-onnx-fp32.onnx", "onnx", "fp32", max_abs_dprob=1e-7), 0.5),
        (subject(agreement=0.995, delta_auc=-0.002, max_abs_dprob=0.03,
                 name="m-executorch-int8.pte"), 0.8),
        (subject("m-coreml-fp32.mlpackage", "coreml", "fp32", status="not_runnable",
                 reasons=["Core ML runtime needs macOS"], measured=False), None),
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    fpr = np.sort(rng.random(50)).tolist()
    curve = {"fpr": [0.0, *fpr, 1.0], "tpr": [0.0, *np.sqrt(fpr).tolist(), 1.0]}
    return BenchResult(
        subjects=[s for s, _ in subjects],
        latencies={(s.name, t): latency(p50) for s, p50 in subjects if p50 for t in threads},
        macs=MACS,
        reference={"checkpoint": "ckpt", "checkpoint_sha256": "ab" * 32, "model_name": "m",
                   "method": "supervised", "arch": "small-cnn", "license": "CC-BY-NC-4.0",
                   "attribution": "Trained on HAM10000; non-commercial use only"},
        data={"source": "data.zip", "fingerprint": "f" * 16, "split": "test", "n": 600,
              "n_melanoma": 300},
        rocs={s.name: curve for s, p50 in subjects if p50},
        machine={"cpu": "test cpu", "arch": "x86_64", "logical_cores": 2, "os": "Linux",
                 "python": "3", "load_average_1m": 0.5,
                 "torch_matmul_gmacs_per_s": {"1": 40.0, "2": 75.0}},
        threshold_name="youden",
    )  # fmt: skip


@pytest.fixture
def make_result():
    """typical_result(threads) -> a BenchResult as the harness returns it."""
    return typical_result


@pytest.fixture
def report() -> dict:
    from melanoma.benchmarks.api import build_report
    from melanoma.benchmarks.gate import GateLimits
    from melanoma.benchmarks.harness import BenchConfig

    return build_report(typical_result(), BenchConfig(threads=(1, 2)), GateLimits())


@pytest.fixture
def rows(report) -> list[dict]:
    return report["artifacts"]


@pytest.fixture(scope="session")
def artifacts_dir(exported) -> Path:
    """Real artifacts from melanoma-export's API (shared_models.py), both precisions."""
    return exported["onnx", "fp32"].artifact.parent


@pytest.fixture
def artifacts_copy(artifacts_dir, tmp_path):
    """A private copy of the real artifacts, for tests that tamper with them."""
    import shutil

    return Path(shutil.copytree(artifacts_dir, tmp_path / "artifacts"))


@pytest.fixture(scope="session")
def checkpoint(export_source):
    """The float checkpoint the real artifacts were exported from."""
    from melanoma.checkpoint import load_checkpoint

    return load_checkpoint(export_source)


@pytest.fixture(scope="session")
def test_split(dataset):
    """Every 4th real test image: 75 of each class (the split is sorted by class). Each
    manifest edit here runs an accuracy pass in the file's runtime, a quarter as long so."""
    return dataset.test.images[::4], dataset.test.labels[::4].numpy()


@pytest.fixture(scope="session")
def reference(checkpoint, test_split):
    """The eager row, as the benchmark builds it (FAST: few bootstrap resamples)."""
    from melanoma.benchmarks.subjects import reference_subject

    return reference_subject(checkpoint, *test_split, FAST)


@pytest.fixture
def bench_edited(artifacts_copy, checkpoint, test_split, reference):
    """bench_edited(name, edit) -> the Subject of artifact `name` after `edit(parsed manifest)`,
    as the benchmark builds it: the manifest checks, then the accuracy pass in its runtime."""
    import json

    from melanoma.benchmarks.subjects import Artifact, artifact_subject
    from melanoma.manifest import read_manifest

    def bench(name, edit):
        path = artifacts_copy / f"{name}.manifest.json"
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
        artifact = Artifact(name, artifacts_copy / name, read_manifest(path))
        return artifact_subject(artifact, *test_split, reference, checkpoint, FAST)

    return bench


@pytest.fixture(scope="session")
def setting():
    """setting("input.shape", value) -> an edit that sets that dotted field of a parsed
    manifest (list items by index: "thresholds.0.probability")."""

    def make(path: str, value):
        def edit(data):
            *parents, last = path.split(".")
            for key in parents:
                data = data[int(key)] if isinstance(data, list) else data[key]
            data[last] = value

        return edit

    return make
