"""The things a benchmark measures: the eager float reference and each artifact.

Building a subject runs its accuracy pass (every test image, once): the
figures that do not depend on threads, and its status. Timing comes later,
per thread count, through `Subject.load`.
"""

from __future__ import annotations

import dataclasses
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from melanoma import config_checks as checks
from melanoma.benchmarks.accuracy import (
    AGREEMENT_FIGURES,
    SanityBounds,
    Scores,
    accuracy_figures,
    agreement_figures,
    predict_logits,
    sanity_failures,
)
from melanoma.benchmarks.batch_checks import batch_failures, batch_text, states_max_batch
from melanoma.benchmarks.manifest_checks import (
    Int8Program,
    embedded_license_failures,
    expected_threshold,
    int8_program,
    manifest_failures,
)
from melanoma.checkpoint import (
    WEIGHTS,
    Checkpoint,
    checkpoint_sha256,
    load_checkpoint,
)
from melanoma.errors import UserError, first_line
from melanoma.export.base import RuntimeFailure, load_runner
from melanoma.manifest import Manifest, find_threshold, size_of
from melanoma.metrics import app_probabilities
from melanoma.preprocess import normalize
from melanoma.pt2e import MAX_BATCH
from melanoma.qat_checkpoint import QATCheckpoint

# exir writes a .pte's flatbuffer file identifier, bytes 4-7, as "ET" + two alphanumerics.
# ExecuTorch's loader logs a wrong identifier verbatim, and its pybind log bridge aborts the
# whole process (SIGABRT) when those bytes are not UTF-8: such a file must never reach it.
PTE_IDENTIFIER = re.compile(rb"ET[0-9A-Za-z]{2}")


@dataclass(frozen=True)
class AccuracyConfig:
    # which manifest threshold decides melanoma; None: the manifests' default_threshold
    # (the harness resolves it before any row is scored)
    threshold_name: str | None = None
    n_bootstrap: int = 1000  # resamples per 95% CI, as `melanoma evaluate`
    seed: int = 0  # bootstrap seed, as `melanoma evaluate`
    bounds: SanityBounds = field(default_factory=SanityBounds)  # what "failed a check" means

    def __post_init__(self) -> None:
        checks.at_least(self, 10, "n_bootstrap")  # fewer gives no 2.5th percentile worth a CI
        checks.at_least(self, 0, "seed")

    def decided_at(self) -> str:
        """threshold_name, which every row decides at. None is resolved from all the manifests
        at once (harness.decision_threshold_name), which one row cannot do: passed on, it
        ended in an AttributeError deep in the threshold lookup."""
        if self.threshold_name is None:
            raise checks.ConfigError(
                "AccuracyConfig.threshold_name = None: a row decides at a named threshold; "
                "benchmark() resolves None from the manifests"
            )
        return self.threshold_name


@dataclass(frozen=True)
class Artifact:
    name: str  # path relative to the artifacts dir: the row's name
    path: Path
    manifest: Manifest


@dataclass(frozen=True)
class Subject:
    """One thing to benchmark: the eager reference or an artifact, with its accuracy pass done."""

    name: str
    target: str  # "pytorch" for the eager reference
    precision: str
    status: str  # "verified", "failed" or "not_runnable"
    reasons: tuple[str, ...]  # why failed / not runnable; empty when verified
    info: dict  # the figures that do not depend on threads
    load: Callable[[int], Callable[[np.ndarray], np.ndarray]] | None  # threads -> runner
    dynamic_batch: bool  # takes any batch size, so batch-32 throughput is timed
    normalization: tuple[list[float], list[float]]  # (mean, std) its inputs are normalized with
    scores: Scores | None = None  # test-set probabilities, None when it could not run


class EagerRunner:
    """The float checkpoint in eager PyTorch: the reference row, never used for artifacts."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()
        self.runtime = f"torch {torch.__version__} eager"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.model(torch.from_numpy(batch)).numpy()  # (N, 1)


def _scored(labels, runner, inputs, threshold, config, reference=None) -> dict:
    """Predict every test image, then the accuracy and agreement figures."""
    logits = predict_logits(runner, inputs)
    scores = Scores(app_probabilities(logits), threshold)
    figures = accuracy_figures(labels, scores, config.n_bootstrap, config.seed)
    if reference is None:  # the float model itself: agreement with itself is not a measurement
        figures.update(dict.fromkeys(AGREEMENT_FIGURES))
    else:
        reference_scores, reference_figures = reference
        figures.update(agreement_figures(reference_scores, scores, reference_figures, figures))
    figures.update(threshold=threshold, threshold_name=config.threshold_name, n_images=len(logits))
    return {"figures": figures, "scores": scores, "runtime": runner.runtime, "logits": logits}


def reference_subject(
    checkpoint: Checkpoint, images: torch.Tensor, labels: np.ndarray, config: AccuracyConfig
) -> Subject:
    """The eager PyTorch fp32 row, normalized with the checkpoint's own mean/std."""
    meta = checkpoint.meta
    name = config.decided_at()
    chosen, source = expected_threshold(name, checkpoint)
    if chosen is None:  # what the artifacts decide at, the float model must too
        raise UserError(f"{checkpoint.path}: no threshold {name!r}: {source}")
    threshold = chosen.probability
    inputs = normalize(images, meta.mean, meta.std).numpy()
    done = _scored(labels, EagerRunner(checkpoint.model), inputs, threshold, config)
    info = {
        **done["figures"],
        "runtime": done["runtime"],
        "file": str(checkpoint.path),
        "sha256": checkpoint_sha256(checkpoint.path),  # what every manifest names as its source
        "size_bytes": size_of(checkpoint.path / WEIGHTS),
        "quantization": "none",
        "export_check": None,
    }
    path = checkpoint.path
    return Subject(
        name="eager-pytorch",
        target="pytorch",
        precision="fp32",
        status="verified",
        reasons=(),
        info=info,
        # timed as the model's load; the thresholds were checked when the reference loaded
        load=lambda threads: EagerRunner(load_checkpoint(path, check_thresholds=False).model),
        dynamic_batch=True,
        normalization=(meta.mean, meta.std),
        scores=done["scores"],
    )


def artifact_subject(
    artifact: Artifact,
    images: torch.Tensor,
    labels: np.ndarray,
    reference: Subject,
    checkpoint: Checkpoint,
    config: AccuracyConfig,
    programs: dict[Path, Int8Program] | None = None,
) -> Subject:
    """One accuracy pass of an artifact in its own runtime, normalized as its manifest says.
    `programs`: int8 programs already loaded in this run, by folder (int8_program's cache)."""
    from melanoma.export.registry import get_target

    name = config.decided_at()
    manifest = artifact.manifest
    try:
        target = get_target(manifest.target)
    except ValueError as err:
        raise UserError(f"{artifact.path}: {err}") from None
    program = int8_program(manifest, artifact.path, checkpoint, programs)
    reasons = manifest_failures(manifest, artifact.path, checkpoint, name, program)
    if manifest.precision not in target.PRECISIONS:  # e.g. "int8" on a TorchScript file
        offered = ", ".join(target.PRECISIONS)
        reasons.append(
            f"manifest precision {manifest.precision!r}, but {target.NAME} offers {offered}"
        )
        program = None  # no int8 tolerance to hold the file to
    unloadable = _header_failure(target, artifact.path)  # first: a bad .pte aborts its loader
    reasons += (
        [unloadable] if unloadable else embedded_license_failures(target, artifact.path, manifest)
    )
    subject = _unscored_subject(artifact, target, reasons)
    if unloadable:
        return dataclasses.replace(subject, load=None)
    chosen = find_threshold(manifest.thresholds, name)
    if chosen is None:  # manifest_failures has said so; a row without figures is not timed
        return dataclasses.replace(subject, load=None)
    return _accuracy_pass(
        subject, target, artifact, (images, labels), reference, program, chosen.probability, config
    )


def _unscored_subject(artifact: Artifact, target, reasons: list[str]) -> Subject:
    """The artifact's row before its accuracy pass: what its manifest and file say, "failed"
    until the pass verifies it."""
    manifest = artifact.manifest
    return Subject(
        name=artifact.name,
        target=manifest.target,
        precision=manifest.precision,
        status="failed",
        reasons=tuple(reasons),
        info={
            "file": artifact.name,
            # discover() checked it against the file: a report rerun on a re-exported file
            # of the same name says whether it measured the same bytes
            "sha256": manifest.file.sha256,
            "size_bytes": size_of(artifact.path),
            "quantization": manifest.quantization.scheme,
            "export_check": manifest.verification.check,
            "runtime": None,
        },
        load=lambda threads: target.load(artifact.path, threads=threads),
        dynamic_batch=manifest.input.shape[0] == "N",
        normalization=(manifest.preprocessing.mean, manifest.preprocessing.std),
    )


def _accuracy_pass(subject, target, artifact, test, reference, program, threshold, config):
    """Run every test image through the artifact's runtime; a runtime that refuses it fails
    the row (or skips it, where the runtime does not exist), and never stops the benchmark."""
    from melanoma.export.base import NotRunnableHere

    images, labels = test
    reasons = list(subject.reasons)
    inputs = normalize(images, *subject.normalization).numpy()
    try:
        runner = load_runner(target, artifact.path)
        done = _scored(
            labels,
            runner,
            inputs,
            threshold,
            config,
            reference=(reference.scores, reference.info),
        )
    except NotRunnableHere as err:
        # A manifest that already failed a check stays ❎ even where it cannot run, and so
        # does a file whose structure fails the check its target offers without a runtime.
        reasons += _spec_failures(target, artifact, subject.precision)
        status = "failed" if reasons else "not_runnable"
        why = f"not runnable on {platform.system()}: {err}"
        return dataclasses.replace(subject, status=status, reasons=(*reasons, why), load=None)
    except RuntimeFailure as err:
        reasons.append(f"runtime error: {err}")
        return dataclasses.replace(subject, reasons=tuple(reasons), load=None)
    reasons += sanity_failures(subject.precision, done["figures"], config.bounds)
    if program is not None and program.qat is not None:
        reasons += program_failures(target, inputs, done["logits"], program.qat)
    reasons += batch_failures(runner, inputs, done["scores"].probs, artifact.manifest)
    return dataclasses.replace(
        subject,
        status="failed" if reasons else "verified",
        reasons=tuple(reasons),
        info={**subject.info, **done["figures"], "runtime": done["runtime"]},
        scores=done["scores"],
    )


def program_failures(
    target: ModuleType, inputs: np.ndarray, logits: np.ndarray, qat: QATCheckpoint
) -> list[str]:
    """An int8 artifact must compute the QAT program it names, on every test image, within
    the tolerance its export was checked with (a few output steps). The loose sanity bounds
    alone let a file with edited weights pass as long as it agreed on 90% of decisions."""
    from melanoma.export.verify import reference_logits, tolerance

    allowed = tolerance(target, "int8", qat.program)
    # in chunks: the program was exported for batches of at most MAX_BATCH
    chunks = [inputs[i : i + MAX_BATCH] for i in range(0, len(inputs), MAX_BATCH)]
    expected = np.concatenate([reference_logits(qat.program, c)[:, 0] for c in chunks])
    worst = float(np.max(np.abs(logits - expected)))
    if worst <= allowed:
        return []
    return [
        f"logits up to {worst:.3g} from the int8 program in {qat.path} "
        f"(export tolerance {allowed:.3g}): not the program it was lowered from"
    ]


def _spec_failures(target, artifact: Artifact, precision: str) -> list[str]:
    """The file's structure against its target's check, and the batch bound it declares
    against its manifest's input.max_batch (no runtime here to probe the batch with)."""
    from melanoma.export.base import ExportError

    if not hasattr(target, "check_spec"):
        return []
    try:
        facts = target.check_spec(artifact.path, precision)
    except ExportError as err:
        return [first_line(err)]
    claim = artifact.manifest.input.max_batch
    if "max_batch" not in facts or not states_max_batch(artifact.manifest):
        return []
    if facts["max_batch"] != claim:
        declared = batch_text(facts["max_batch"])
        return [f"manifest input.max_batch {batch_text(claim)}, but the file declares {declared}"]
    return []


def _header_failure(target, path: Path) -> str | None:
    """Why the file itself says the manifest's runtime cannot load it, checked without the
    runtime: a manifest edited to another target would otherwise pass as a Core ML ⏭."""
    if path.suffix != target.SUFFIX:
        return (
            f"manifest target {target.NAME} expects a {target.SUFFIX} file, "
            f"not {path.suffix or 'no suffix'}"
        )
    if target.NAME != "executorch":
        return None
    if not path.is_file():
        return "not an ExecuTorch program: not a file"
    with path.open("rb") as handle:
        identifier = handle.read(8)[4:]
    if PTE_IDENTIFIER.fullmatch(identifier):
        return None
    return f"not an ExecuTorch program: file identifier (bytes 4-7) {identifier!r}, expected ET.."
