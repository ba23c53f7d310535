"""The harness on real small artifacts: discovery, sha256 checks, reference, every runtime."""

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from melanoma.benchmarks.accuracy import AGREEMENT_FIGURES
from melanoma.benchmarks.harness import (
    BenchConfig,
    decision_threshold_name,
    discover,
    resolve_reference,
    run_benchmark,
    time_interleaved,
)
from melanoma.benchmarks.subjects import AccuracyConfig, Subject
from melanoma.benchmarks.timing import TimingConfig, split_runs
from melanoma.errors import UserError
from melanoma.manifest import ManifestError

FAST = {
    "threads": (1, 2),
    "timing": TimingConfig(runs=5, warmup=1, throughput_runs=2),
    "accuracy": AccuracyConfig(n_bootstrap=50),
    "progress": False,
}
ARTIFACTS = [
    "coreml-fp32.mlpackage",
    "coreml-int8.mlpackage",
    "executorch-fp32.pte",
    "executorch-int8.pte",
    "onnx-fp32.onnx",
    "onnx-int8.onnx",
    "torchscript-fp32.ptl",
]
NAMES = ["eager-pytorch", *(f"quick-cnn-{name}" for name in ARTIFACTS)]
NOT_RUNNABLE = {"quick-cnn-coreml-fp32.mlpackage", "quick-cnn-coreml-int8.mlpackage"}
FP32 = [
    "quick-cnn-executorch-fp32.pte",
    "quick-cnn-onnx-fp32.onnx",
    "quick-cnn-torchscript-fp32.ptl",
]
INT8 = ["quick-cnn-executorch-int8.pte", "quick-cnn-onnx-int8.onnx"]


@pytest.fixture(scope="module")
def result(artifacts_dir, export_source, data_path):
    config = BenchConfig(artifacts_dir, str(data_path), str(export_source), **FAST)
    return run_benchmark(config)


def by_name(result):
    return {s.name: s for s in result.subjects}


def test_every_artifact_runs_in_its_own_runtime(result):
    subjects = by_name(result)
    assert [s.name for s in result.subjects] == NAMES
    assert subjects["eager-pytorch"].info["runtime"].endswith("eager")
    assert subjects["quick-cnn-onnx-fp32.onnx"].info["runtime"].startswith("onnxruntime")
    assert subjects["quick-cnn-executorch-int8.pte"].info["runtime"].startswith("executorch")
    assert "lite interpreter" in subjects["quick-cnn-torchscript-fp32.ptl"].info["runtime"]
    for name in NOT_RUNNABLE:
        coreml = subjects[name]
        assert coreml.status == "not_runnable"
        assert (
            coreml.reasons[0].startswith("not runnable on Linux: ") and "macOS" in coreml.reasons[0]
        )
        assert coreml.info["size_bytes"] > 0 and coreml.scores is None


def test_fp32_artifacts_match_the_float_model(result):
    for name in FP32:
        info = by_name(result)[name].info
        assert by_name(result)[name].status == "verified", by_name(result)[name].reasons
        assert info["agreement"] == 1.0 and info["max_abs_dprob"] < 1e-4
        assert abs(info["delta_auc"]) < 1e-6 and info["n_images"] == 600


def test_int8_artifacts_are_measured_against_the_float_model(result):
    for name in INT8:
        info = by_name(result)[name].info
        assert 0.5 < info["agreement"] <= 1.0 and 0 < info["max_abs_dprob"] < 1
        low, high = info["ci"]["auc"]
        assert low <= info["auc"] <= high


def test_reference_row_has_the_metrics_and_cis_of_melanoma_evaluate(result, export_source, dataset):
    from melanoma.checkpoint import load_checkpoint
    from melanoma.evaluate import evaluate_checkpoint
    from melanoma.metrics import bootstrap_ci

    evaluated = evaluate_checkpoint(load_checkpoint(export_source), dataset.test)
    reference = by_name(result)["eager-pytorch"]
    for name in ("auc", "accuracy", "sensitivity", "specificity", "f1", "threshold"):
        assert reference.info[name] == pytest.approx(evaluated[name], abs=1e-9), name
    labels = dataset.test.labels.numpy()
    expected = bootstrap_ci(labels, reference.scores.probs, evaluated["threshold"], 50, 0)
    assert reference.info["ci"] == expected  # same function, same seed as `melanoma evaluate`
    # it is the float model the artifacts are held to: agreement with itself is no figure
    assert all(reference.info[name] is None for name in AGREEMENT_FIGURES)


def test_the_report_names_the_terms_of_the_weights_it_measured(result):
    """The quick checkpoint trained on the real data: HAM10000's licence, as its manifests say."""
    assert result.reference["license"] == "CC-BY-NC-4.0"
    assert result.reference["attribution"].startswith("Trained on HAM10000: ")


def test_latency_for_every_runnable_subject_and_macs(result, export_source, hand_macs):
    from melanoma.checkpoint import read_meta

    timed = {name for name, _ in result.latencies}
    assert timed == set(NAMES) - NOT_RUNNABLE
    latency = result.latencies["quick-cnn-onnx-int8.onnx", 1]
    assert latency.runs == 5 and latency.p50_ms > 0 and latency.throughput_ips > 0
    assert len(latency.p50_by_round_ms) == 4  # the default rounds, 5 runs as 2 + 1 + 1 + 1
    # each runtime really got the thread count: read back from ORT, ExecuTorch and torch
    for (name, threads), timing in result.latencies.items():
        assert timing.runtime_threads == threads, name
    args = read_meta(export_source).arch_args  # an ensemble: every member runs on each image
    assert result.macs == args["members"] * hand_macs(args["widths"])


def test_discover_finds_every_manifest(artifacts_dir):
    found = discover(artifacts_dir)
    assert sorted(a.name for a in found) == sorted(NAMES[1:])


def test_tampered_artifact_is_an_error(artifacts_copy):
    with (artifacts_copy / "quick-cnn-onnx-fp32.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ManifestError, match="quick-cnn-onnx-fp32.onnx: sha256 .* does not match"):
        discover(artifacts_copy)


def test_tampered_manifest_is_an_error(artifacts_copy):
    path = artifacts_copy / "quick-cnn-executorch-int8.pte.manifest.json"
    manifest = json.loads(path.read_text())
    manifest["file"]["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="does not match its manifest"):
        discover(artifacts_copy)


def test_tampered_package_is_an_error(artifacts_copy):
    package = artifacts_copy / "quick-cnn-coreml-fp32.mlpackage"
    next(p for p in package.rglob("*") if p.is_file()).write_bytes(b"changed")
    with pytest.raises(ManifestError, match="mlpackage: sha256"):
        discover(artifacts_copy)


def test_missing_artifact_and_orphan_artifact_are_errors(artifacts_copy):
    (artifacts_copy / "quick-cnn-torchscript-fp32.ptl").unlink()
    with pytest.raises(ManifestError, match="quick-cnn-torchscript-fp32.ptl is missing"):
        discover(artifacts_copy)
    (artifacts_copy / "quick-cnn-torchscript-fp32.ptl.manifest.json").unlink()
    (artifacts_copy / "quick-cnn-onnx-int8.onnx.manifest.json").unlink()
    with pytest.raises(UserError, match="quick-cnn-onnx-int8.onnx: artifact has no manifest"):
        discover(artifacts_copy)


def test_empty_or_missing_directory_is_an_error(tmp_path):
    with pytest.raises(UserError, match="no artifacts"):
        discover(tmp_path)
    with pytest.raises(UserError, match="not found"):
        discover(tmp_path / "nope")


def test_reference_must_be_the_manifests_source(artifacts_dir, export_source, tmp_path):
    artifacts = discover(artifacts_dir)
    assert resolve_reference(artifacts, str(export_source)).path == export_source
    other = shutil.copytree(export_source, tmp_path / "other")
    meta = json.loads((other / "metadata.json").read_text())
    meta["seed"] = 99  # a different checkpoint that still loads
    (other / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="does not match the manifests' source_checkpoint_sha256"):
        resolve_reference(artifacts, str(other))
    with pytest.raises(UserError, match="not a bundled reference.*--reference"):
        resolve_reference(artifacts, None)


def test_artifacts_of_two_checkpoints_are_an_error(artifacts_copy, export_source):
    path = artifacts_copy / "quick-cnn-onnx-fp32.onnx.manifest.json"
    manifest = json.loads(path.read_text())
    manifest["source_checkpoint_sha256"] = "f" * 64
    path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="2 different checkpoints"):
        resolve_reference(discover(artifacts_copy), str(export_source))


def set_default_threshold(artifacts_dir, name, only=None):
    for path in artifacts_dir.glob(f"{only or '*'}.manifest.json"):
        manifest = json.loads(path.read_text())
        manifest["default_threshold"] = name
        path.write_text(json.dumps(manifest))


def test_rows_decide_at_the_manifests_default_threshold_unless_asked(artifacts_copy, result):
    assert result.threshold_name == "youden"  # as exported
    assert {s.info["threshold_name"] for s in result.subjects if s.info.get("threshold")} == {
        "youden"
    }
    set_default_threshold(artifacts_copy, "sensitivity_0.90")
    assert decision_threshold_name(discover(artifacts_copy), None) == "sensitivity_0.90"
    assert decision_threshold_name(discover(artifacts_copy), "youden") == "youden"
    # the manifests' spelling, which the checkpoint and the app use
    assert decision_threshold_name(discover(artifacts_copy), "sensitivity_0.9") == (
        "sensitivity_0.90"
    )
    with pytest.raises(UserError, match="no manifest lists threshold 'sensitivity_0.85'"):
        decision_threshold_name(discover(artifacts_copy), "sensitivity_0.85")  # before any run
    set_default_threshold(artifacts_copy, "youden", only="quick-cnn-onnx-int8.onnx")
    with pytest.raises(UserError, match=r"different default thresholds \(sensitivity_0.90, yo"):
        decision_threshold_name(discover(artifacts_copy), None)


def test_a_run_decides_every_row_at_the_manifests_default(
    artifacts_copy, export_source, checkpoint, dataset
):
    set_default_threshold(artifacts_copy, "sensitivity_0.90")
    data = _with_test_split(dataset, _every_fourth)  # what is looked at needs no more
    quick = {**FAST, "threads": (1,), "accuracy": AccuracyConfig(n_bootstrap=10)}
    ran = run_benchmark(BenchConfig(artifacts_copy, data, str(export_source), **quick))
    scored = [s for s in ran.subjects if s.info.get("threshold") is not None]
    assert ran.threshold_name == "sensitivity_0.90" and len(scored) == len(NAMES) - 2
    assert {(s.info["threshold_name"], s.info["threshold"]) for s in scored} == {
        ("sensitivity_0.90", checkpoint.meta.threshold("sensitivity_0.90"))
    }  # the eager row and every runnable artifact alike


def test_rocs_for_runnable_subjects(result):
    assert set(result.rocs) == set(NAMES) - NOT_RUNNABLE
    curve = result.rocs["quick-cnn-onnx-int8.onnx"]
    assert curve["fpr"][0] == 0.0 and curve["tpr"][-1] == 1.0
    assert np.all(np.diff(curve["fpr"]) >= 0)


def test_latency_rounds_interleave_every_subject_in_a_rotating_order():
    """Each round is a pass over every runnable subject, so drift hits all alike."""
    loads = []

    def subject(name, runnable=True):
        def load(threads):
            loads.append((name, threads))
            return lambda batch: np.zeros((len(batch), 1), np.float32)

        return Subject(name, "onnx", "fp32", "verified", (), {}, load if runnable else None,
                       True, ([0.5] * 3, [0.25] * 3))  # fmt: skip

    subjects = [subject("a"), subject("b"), subject("c", runnable=False)]
    # a test split of 8 images: the batch repeats them to the 32 the report states
    test = SimpleNamespace(images=torch.zeros(8, 3, 32, 32, dtype=torch.uint8))
    timing = TimingConfig(runs=6, warmup=0, throughput_runs=1, rounds=3)
    config = BenchConfig(threads=(1, 2), timing=timing, progress=False)
    steps = []
    latencies = time_interleaved(subjects, test, config, split_runs(6, 3), steps.append)
    assert loads == [("a", 1), ("a", 2), ("b", 1), ("b", 2),
                     ("b", 1), ("b", 2), ("a", 1), ("a", 2),
                     ("a", 1), ("a", 2), ("b", 1), ("b", 2)]  # fmt: skip
    assert set(latencies) == {("a", 1), ("a", 2), ("b", 1), ("b", 2)}
    assert all(t.runs == 6 and len(t.p50_by_round_ms) == 3 for t in latencies.values())
    assert all(t.throughput_ips > 0 for t in latencies.values())  # the first round measures it
    assert len(steps) == 3 * 2 * 3  # every subject, thread count and round is one step


def test_timing_gives_the_caller_its_executorch_threadpool_back():
    """Each .pte's load resizes ExecuTorch's process-wide pool to the row's thread count;
    benchmark() restored torch's count after, but left this pool at its last row's."""
    from executorch.extension.pybindings import portable_lib

    def load(threads):  # as executorch.load(path, threads) does
        portable_lib._unsafe_reset_threadpool(threads)
        return lambda batch: np.zeros((len(batch), 1), np.float32)

    pte = Subject("m.pte", "executorch", "fp32", "verified", (), {}, load, True,
                  ([0.5] * 3, [0.25] * 3))  # fmt: skip
    test = SimpleNamespace(images=torch.zeros(8, 3, 32, 32, dtype=torch.uint8))
    timing = TimingConfig(runs=1, warmup=0, throughput_runs=0, rounds=1)
    config = BenchConfig(threads=(3, 1), timing=timing, progress=False)
    before = portable_lib._threadpool_get_thread_count()
    try:
        portable_lib._unsafe_reset_threadpool(2)  # the caller's own size
        time_interleaved([pte], test, config, split_runs(1, 1), lambda label: None)
        assert portable_lib._threadpool_get_thread_count() == 2
    finally:
        portable_lib._unsafe_reset_threadpool(before)


def test_default_threads_on_a_one_core_machine_is_one_row_not_two(monkeypatch):
    """(1, cpu_count) was (1, 1) there: duplicate rows, merged timings, repeated GATE lines."""
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    assert BenchConfig().threads == (1,)


def test_hidden_files_and_folders_are_not_looked_at(artifacts_copy):
    """An atomic write in flight, or a hidden backup folder, is neither an orphan nor a row."""
    (artifacts_copy / ".quick-cnn-onnx-int8.onnx").write_bytes(b"partial")  # no manifest
    backup = artifacts_copy / ".backup"
    backup.mkdir()
    for name in ("quick-cnn-onnx-fp32.onnx", "quick-cnn-onnx-fp32.onnx.manifest.json"):
        shutil.copy(artifacts_copy / name, backup / name)
    assert sorted(a.name for a in discover(artifacts_copy)) == sorted(NAMES[1:])


def test_throughput_is_timed_once_and_only_for_artifacts_that_take_any_batch():
    """A fixed batch-1 artifact gets single-image calls only; a dynamic one its batch of 32 in
    the first (here the only) round."""
    sizes = {"fixed": [], "dynamic": []}

    def subject(name, dynamic_batch):
        def load(threads):
            def run(batch):
                sizes[name].append(len(batch))
                if len(batch) != 1 and not dynamic_batch:
                    raise RuntimeError(f"{name} takes one image")
                return np.zeros((len(batch), 1), np.float32)

            return run

        return Subject(name, "onnx", "fp32", "verified", (), {}, load, dynamic_batch,
                       ([0.5] * 3, [0.25] * 3))  # fmt: skip

    # a test split of 8 images: the batch repeats them to the 32 the report states
    test = SimpleNamespace(images=torch.zeros(8, 3, 32, 32, dtype=torch.uint8))
    timing = TimingConfig(runs=2, warmup=0, throughput_runs=1, rounds=1)
    config = BenchConfig(threads=(1,), timing=timing, progress=False)
    subjects = [subject("fixed", False), subject("dynamic", True)]
    latencies = time_interleaved(subjects, test, config, split_runs(2, 1), lambda label: None)
    assert set(sizes["fixed"]) == {1} and latencies["fixed", 1].throughput_ips is None
    assert 32 in sizes["dynamic"] and latencies["dynamic", 1].throughput_ips > 0


def _every_fourth(labels):
    return torch.arange(len(labels)) % 4 == 0


def _with_test_split(dataset, keep):
    """The data set with only the test images that `keep(labels)` selects: BenchConfig takes
    a Dataset already loaded, as from a notebook."""
    import dataclasses

    test = dataset.test.subset(torch.nonzero(keep(dataset.test.labels)).flatten())
    return dataclasses.replace(dataset, test=test)


def test_the_data_row_counts_the_test_images_and_the_melanomas_among_them(
    artifacts_dir, export_source, dataset
):
    # the first 25 melanomas and 75 benign images: a balanced split cannot tell them apart
    data = _with_test_split(
        dataset, lambda labels: _every_fourth(labels) & (labels == 0)
        | (labels == 1) & (torch.cumsum(labels, 0) <= 25)
    )  # fmt: skip
    melanomas, benign = 25, 75
    quick = {**FAST, "threads": (1,), "accuracy": AccuracyConfig(n_bootstrap=10)}
    ran = run_benchmark(BenchConfig(artifacts_dir, data, str(export_source), **quick))
    assert ran.data["n"] == benign + melanomas and ran.data["n_melanoma"] == melanomas != benign
    assert ran.data["source"] == dataset.source


def test_a_test_split_of_one_class_is_refused_before_anything_runs(
    artifacts_dir, export_source, dataset
):
    benign_only = _with_test_split(dataset, lambda labels: labels == 0)
    config = BenchConfig(artifacts_dir, benign_only, str(export_source), **FAST)
    with pytest.raises(UserError, match="no labeled test split with both classes"):
        run_benchmark(config)
