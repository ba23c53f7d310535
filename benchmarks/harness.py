"""Find every artifact and its manifest, run each in its own runtime, and measure it.

Reads top to bottom: discover (manifests, sha256, orphans) -> resolve the
float reference the manifests name -> test images -> the eager PyTorch row ->
one accuracy pass per artifact -> latency per thread count, in rounds that
each pass over every artifact (api.build_report turns these into report rows).
Artifacts run only through their target's `load()` (melanoma.export), never
through PyTorch; the eager row is the reference they are held against.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from melanoma import config_checks as checks
from melanoma.atomic import refuse_non_utf8_name
from melanoma.benchmarks.accuracy import roc_curve_points
from melanoma.benchmarks.machine import machine_info
from melanoma.benchmarks.macs import count_macs
from melanoma.benchmarks.subjects import (
    AccuracyConfig,
    Artifact,
    Subject,
    artifact_subject,
    reference_subject,
)
from melanoma.benchmarks.timing import (
    THROUGHPUT_BATCH,
    Latency,
    Round,
    TimingConfig,
    combine,
    parse_threads,
    runtime_threads,
    split_runs,
    time_round,
    torch_threads,
)
from melanoma.checkpoint import (
    REFERENCE_NAMES,
    Checkpoint,
    checkpoint_sha256,
    load_checkpoint,
    resolve_checkpoint_dir,
)
from melanoma.datasets import TEST_SPLIT_PLACES, Dataset, Split, dataset_from
from melanoma.errors import UserError
from melanoma.evaluate import check_reproduces_scores
from melanoma.folders import is_hidden
from melanoma.manifest import SUFFIX, Manifest, find_threshold, verify_artifact
from melanoma.preprocess import normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchConfig:
    artifacts_dir: Path = Path("artifacts")  # searched recursively for *.manifest.json
    # data path (the CLI's --data defaults to $MELANOMA_DATA), or a Dataset already loaded
    data: str | Path | Dataset | None = None
    reference: str | None = None  # checkpoint dir; None: the bundled one the manifests name
    # one latency row per count; "1,all" parsed, so a 1-core machine gets one row, not two
    threads: tuple[int, ...] = field(default_factory=lambda: parse_threads("1,all"))
    timing: TimingConfig = field(default_factory=TimingConfig)
    accuracy: AccuracyConfig = field(default_factory=AccuracyConfig)
    progress: bool = True  # tqdm bar on stderr

    def __post_init__(self) -> None:
        checks.distinct_counts(self, "threads", 1)


def _suffixes() -> dict[str, str]:
    from melanoma.export.registry import TARGETS

    return {name: module.SUFFIX for name, module in TARGETS.items()}


def discover(artifacts_dir: Path) -> list[Artifact]:
    """Every manifest under `artifacts_dir`, verified against its artifact's sha256.

    A manifest whose artifact is missing or altered, and an artifact without
    a manifest, are errors: nothing visible is skipped silently. Hidden files and
    folders (`.name`: atomic writes' temp files among them) are not looked at.
    """
    root = Path(artifacts_dir)
    if not root.is_dir():
        raise UserError(f"{root}: artifacts directory not found")
    suffixes = tuple(_suffixes().values())
    artifacts = []
    for manifest_file in sorted(root.rglob("*" + SUFFIX)):
        if not _hidden(manifest_file, root):
            refuse_non_utf8_name(manifest_file, "the manifest")
            manifest, path = verify_artifact(manifest_file)
            artifacts.append(Artifact(path.relative_to(root).as_posix(), path, manifest))
    if not artifacts:
        raise UserError(f"{root}: no artifacts (no *{SUFFIX} files)")
    named = {a.path.resolve() for a in artifacts}
    for path in sorted(root.rglob("*")):
        inside_package = any(p.name.endswith(suffixes) for p in path.relative_to(root).parents)
        if path.name.endswith(suffixes) and not inside_package and not _hidden(path, root):
            if path.resolve() not in named:
                raise UserError(f"{path}: artifact has no manifest ({path.name}{SUFFIX})")
    return artifacts


def _hidden(path: Path, root: Path) -> bool:
    # Atomic writes leave `.name.tmp` siblings while in flight; they are not artifacts.
    return is_hidden(path.relative_to(root).as_posix())


def resolve_reference(artifacts: list[Artifact], reference: str | None) -> Checkpoint:
    """The float checkpoint every manifest names by source_checkpoint_sha256."""
    shas = sorted({a.manifest.source_checkpoint_sha256 for a in artifacts})
    if len(shas) > 1:
        raise UserError(
            f"artifacts come from {len(shas)} different checkpoints "
            f"({', '.join(s[:12] for s in shas)}); "
            "give each checkpoint's artifacts their own --artifacts directory"
        )
    names = sorted({a.manifest.model_name for a in artifacts})
    if reference is None:
        if len(names) != 1 or names[0] not in REFERENCE_NAMES:
            raise UserError(
                f"manifests name model {', '.join(names)}, not a bundled reference "
                f"({', '.join(REFERENCE_NAMES)}): pass --reference CHECKPOINT_DIR"
            )
        reference = names[0]
    checkpoint = load_checkpoint(reference)
    actual = checkpoint_sha256(resolve_checkpoint_dir(reference))
    if actual != shas[0]:
        raise UserError(
            f"{reference}: checkpoint sha256 {actual[:12]}... does not match the manifests' "
            f"source_checkpoint_sha256 {shas[0][:12]}..."
        )
    return checkpoint


def decision_threshold_name(artifacts: list[Artifact], asked: str | None) -> str:
    """The threshold every row decides at, spelled as the manifests spell it: the one asked
    for, else the default_threshold they share (the app decides at it; youden before
    schema 4)."""
    if asked is not None:
        found = [find_threshold(a.manifest.thresholds, asked) for a in artifacts]
        spelled = sorted({t.name for t in found if t is not None})
        if not spelled:  # before minutes of runs whose every row would fail on it
            listed = sorted({t.name for a in artifacts for t in a.manifest.thresholds})
            raise UserError(
                f"no manifest lists threshold {asked!r} (they list: {', '.join(listed)}); "
                "export with --target-sensitivity to add one"
            )
        return spelled[0]
    defaults = sorted({a.manifest.decision_threshold_name() for a in artifacts})
    if len(defaults) > 1:
        raise UserError(
            f"the manifests decide at different default thresholds ({', '.join(defaults)}): "
            "pass --threshold, or give each export its own --artifacts directory"
        )
    return defaults[0]


@dataclass(frozen=True)
class BenchResult:
    subjects: list[Subject]  # the eager reference first, then artifacts in discovery order
    latencies: dict[tuple[str, int], Latency]  # (subject name, threads) -> timing
    macs: int  # of one batch-1 forward of the reference model
    reference: dict  # checkpoint path, sha256, model name, method, threshold
    data: dict  # source, split, n, n_melanoma
    rocs: dict[str, dict[str, list[float]]]  # subject name -> {"fpr", "tpr"}
    machine: dict  # machine_info() taken before anything ran
    threshold_name: str  # every row decides at it: asked for, or the manifests' default


def run_benchmark(config: BenchConfig) -> BenchResult:
    """Benchmark every artifact under config.artifacts_dir against the float reference."""
    artifacts = discover(config.artifacts_dir)
    checkpoint = resolve_reference(artifacts, config.reference)
    threshold_name = decision_threshold_name(artifacts, config.accuracy.threshold_name)
    accuracy = dataclasses.replace(config.accuracy, threshold_name=threshold_name)
    machine = machine_info(config.threads)
    dataset = dataset_from(config.data)
    check_reproduces_scores(checkpoint, dataset)
    test = dataset.test
    if test is None or len(set(test.labels.tolist()) - {-1}) < 2:
        raise UserError(
            f"the data set has no labeled test split with both classes ({TEST_SPLIT_PLACES})"
        )
    labels = test.labels.numpy()
    rounds = split_runs(config.timing.runs, config.timing.rounds)
    steps = (1 + len(artifacts)) * (1 + len(config.threads) * len(rounds))
    with _progress(steps, config.progress) as step:
        step("eager-pytorch: accuracy")
        reference = reference_subject(checkpoint, test.images, labels, accuracy)
        subjects = [reference]
        programs = {}  # int8 programs by folder: loaded, and run on the test images, once
        for artifact in artifacts:
            step(f"{artifact.name}: accuracy")
            subjects.append(
                artifact_subject(
                    artifact, test.images, labels, reference, checkpoint, accuracy, programs
                )
            )
        latencies = time_interleaved(subjects, test, config, rounds, step)
    return BenchResult(
        subjects=subjects,
        latencies=latencies,
        macs=count_macs(checkpoint.model, torch.zeros(1, 3, 32, 32)),
        reference=_reference_info(checkpoint, artifacts[0].manifest),
        data={
            "source": dataset.source,
            "fingerprint": dataset.fingerprint,
            "split": "test",
            "n": len(test),
            "n_melanoma": int((labels == 1).sum()),
        },
        rocs={s.name: roc_curve_points(labels, s.scores.probs) for s in subjects if s.scores},
        machine=machine,
        threshold_name=threshold_name,
    )


def time_interleaved(
    subjects: list[Subject],
    test: Split,
    config: BenchConfig,
    rounds: list[int],
    step: Callable[[str], None],
) -> dict:
    """(subject name, threads) -> Latency, each round a pass over every subject.

    The order rotates by one subject per round, so none always runs right after
    the same neighbour (whose threadpool may still be spinning down).
    """
    timed = [s for s in subjects if s.load is not None]
    for subject in subjects:
        if subject.load is None:  # not runnable here: its steps are done
            for _ in range(len(config.threads) * len(rounds)):
                step(f"{subject.name}: not timed")
    parts: dict[tuple[str, int], list[Round]] = {}
    with _executorch_pool_kept(timed):
        for index, runs in enumerate(rounds):
            shift = index % len(timed) if timed else 0
            for subject in timed[shift:] + timed[:shift]:
                for threads in config.threads:
                    step(f"{subject.name}: latency at {threads} thread(s), round {index + 1}")
                    part = _time_round(subject, test, threads, config, runs, first=index == 0)
                    parts.setdefault((subject.name, threads), []).append(part)
    return {key: combine(part, config.timing) for key, part in parts.items()}


def _executorch_pool_kept(timed: list[Subject]):
    """Each .pte's load resizes ExecuTorch's process-wide threadpool to the row's count; a
    caller of benchmark() gets its own size back, as it does torch's (see torch_threads)."""
    if not any(s.target == "executorch" for s in timed):  # nothing to import ExecuTorch for
        return contextlib.nullcontext()
    from melanoma.export.executorch import threadpool_kept

    return threadpool_kept()


def _time_round(subject: Subject, test, threads: int, config, runs: int, first: bool) -> Round:
    """One round of one subject at one thread count, on the first test image(s)."""
    mean, std = subject.normalization
    single = np.ascontiguousarray(normalize(test.images[:1], mean, std).numpy())  # (1, 3, 32, 32)
    batch = None
    if subject.dynamic_batch and first:
        rows = normalize(test.images[:THROUGHPUT_BATCH], mean, std).numpy()
        # a test split of fewer images repeats them: the report states a batch of 32
        batch = np.ascontiguousarray(np.resize(rows, (THROUGHPUT_BATCH, *rows.shape[1:])))
    # torch's pool is process-wide: set it for eager and the lite interpreter, and
    # restore it after, whatever the runtime's own load(threads=...) did to it.
    with torch_threads(threads):
        return time_round(
            lambda: subject.load(threads), single, batch, runs, config.timing, runtime_threads
        )


def _reference_info(checkpoint: Checkpoint, manifest: Manifest) -> dict:
    return {
        "checkpoint": str(checkpoint.path),
        "checkpoint_sha256": manifest.source_checkpoint_sha256,
        "model_name": manifest.model_name,
        "method": checkpoint.meta.method,
        "arch": checkpoint.meta.arch,
        # the weights' terms, which every manifest of schema 6 is held to (manifest_checks)
        "license": checkpoint.meta.license,
        "attribution": checkpoint.meta.attribution,
    }


@contextlib.contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A tqdm bar on stderr; step(label) closes the previous step and starts the next."""
    from tqdm import tqdm

    bar = tqdm(total=total, disable=not enabled, unit="step", leave=False, dynamic_ncols=True)
    current: list = []  # [label, start time] of the step in progress

    def finish() -> None:
        if current:
            log.info("%s: %.1f s", current[0], time.perf_counter() - current[1])
            bar.update(1)

    def step(label: str) -> None:
        finish()
        current[:] = [label, time.perf_counter()]
        bar.set_description_str(label)

    try:
        yield step
        finish()
    finally:
        bar.close()
