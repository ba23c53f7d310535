"""Export one checkpoint to every requested target and precision, verified, with manifests.

Reads top to bottom: resolve the float checkpoint -> sample images (first, so
that a missing data set fails before minutes of QAT) -> the int8 program (its
bundled qat/, an earlier <out>/qat-<model>/, or QAT now from --data) -> for
each target and precision: export to a temp path, load it in the
target's runtime, compare with the PyTorch reference, write the manifest ->
rename both into place. A failed check leaves the previous artifact untouched.
"""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch

from melanoma import config_checks as checks
from melanoma.atomic import (
    HELD_BY_ANOTHER_RUN,
    atomic_paths,
    folder_locked,
    output_dir,
    refuse_non_utf8_name,
    waiting_for,
    write_utf8,
)
from melanoma.checkpoint import (
    checkpoint_sha256,
    load_checkpoint,
    package_versions,
    utc_now,
)
from melanoma.errors import UserError
from melanoma.evaluate import check_reproduces_scores, refuse_undefined_scores
from melanoma.export import verify
from melanoma.export.base import (
    ArtifactLabel,
    ExportError,
    NotRunnableHere,
    RuntimeFailure,
    load_runner,
)
from melanoma.export.choices import DEFAULT_CHECKPOINT, QUANTIZE
from melanoma.export.contract import (
    artifact_model_name,
    default_threshold,
    input_contract,
    manifest_thresholds,
)
from melanoma.export.registry import TARGETS, get_target
from melanoma.export.source_models import Source, float_source, int8_source
from melanoma.manifest import (
    SUFFIX,
    FileInfo,
    Manifest,
    ManifestError,
    Threshold,
    Verification,
    manifest_path,
    read_manifest,
    sha256_of,
    size_of,
)
from melanoma.model import example_inputs
from melanoma.usage_terms import UsageTerms

if TYPE_CHECKING:
    from melanoma.datasets import Dataset
    from melanoma.qat import QATConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportConfig:
    targets: tuple[str, ...] = tuple(TARGETS)  # names in registry.TARGETS
    checkpoint: str = DEFAULT_CHECKPOINT  # float checkpoint dir, or a reference-* name
    quantize: str = "both"  # "none" (fp32), "int8" or "both"
    # Data path or a loaded melanoma.datasets.Dataset: QAT when no int8 program
    # matches, and the sample images; None: synthetic stand-in images.
    data: str | Path | Dataset | None = None
    out_dir: Path = Path("artifacts")
    # The manifests' default_threshold (the app decides at it), and where the checks
    # compare decisions: a stored threshold, or the one target_sensitivity adds.
    threshold_name: str = "youden"
    # Also give manifests the threshold reaching this sensitivity on the checkpoint's
    # kept validation predictions (as `melanoma evaluate --target-sensitivity`).
    target_sensitivity: float | None = None
    qat: QATConfig | None = None  # for when int8 needs QAT first; None: QATConfig()

    def __post_init__(self) -> None:
        checks.names_tuple(self, "targets")  # names are checked against the registry on run
        checks.one_of(self, "quantize", QUANTIZE)
        checks.target_sensitivity(self)


@dataclass(frozen=True)
class ExportResult:
    target: str
    precision: str
    # "passed" (ran in its runtime and matched), "spec-checked" (no runtime here: only
    # its structure was checked, no output compared), "failed" or "not offered"
    status: str
    artifact: Path | None  # None when not offered; when failed, it was not (re)written
    manifest: Manifest | None  # when failed: what the failed check found (not written)
    note: str = ""  # why it failed or is not offered
    seconds: float = 0.0  # export plus verification


class ExportFailed(ExportError):
    """At least one artifact failed its check; `results` holds every row."""

    def __init__(self, results: list[ExportResult]):
        super().__init__("; ".join(r.note for r in results if r.status == "failed"))
        self.results = results


@dataclass(frozen=True)
class Context:
    model_name: str
    source_sha256: str  # checkpoint_sha256 of the float checkpoint, for every artifact
    out_dir: Path
    samples: verify.Samples
    threshold: Threshold  # the default one, among `thresholds`
    thresholds: list[Threshold]  # every manifest's; the int8 program keeps the float ones
    float_logits: np.ndarray  # the float model's on the samples: every artifact's decisions
    # are also counted against them
    terms: UsageTerms  # the float checkpoint's: its weights' terms bind every artifact


def export_checkpoint(
    config: ExportConfig, progress: Callable[[str], None] | None = None
) -> list[ExportResult]:
    """Export, verify and describe each (target, precision); ExportFailed if any check fails.
    `progress` is told each "<target> <precision>" before its export starts."""
    modules = [get_target(name) for name in config.targets]
    precisions = _precisions(config.quantize)
    offered = _offered(modules, precisions)
    checkpoint = load_checkpoint(config.checkpoint)
    model_name = artifact_model_name(config.checkpoint, checkpoint.path)
    thresholds = manifest_thresholds(checkpoint, config.target_sensitivity)
    threshold = default_threshold(thresholds, config.threshold_name, model_name)
    source_sha256 = checkpoint_sha256(checkpoint.path)
    refuse_non_utf8_name(Path(config.out_dir), "the output directory")
    with (
        output_dir(Path(config.out_dir)) as out_dir,
        folder_locked(out_dir, busy=_waiting(out_dir)),
    ):
        _refuse_other_checkpoints_files(out_dir, source_sha256)
        dataset = _load_data(config.data)
        if dataset is not None:  # its manifests would carry an edited normalization
            check_reproduces_scores(checkpoint, dataset)
        samples = verify.load_samples(dataset)  # before any QAT: fail fast without images
        inputs = verify.sample_inputs(samples, checkpoint.meta.mean, checkpoint.meta.std)
        float_logits = verify.reference_logits(checkpoint.model, inputs)
        # else NaN against NaN: "failed", yet every decision "the same as float"
        refuse_undefined_scores(checkpoint, float_logits)
        sources = {"fp32": float_source(checkpoint)}
        if "int8" in offered:
            sources["int8"] = int8_source(checkpoint, dataset, model_name, out_dir, config.qat)
        context = Context(
            model_name,
            source_sha256,
            out_dir,
            samples,
            threshold,
            thresholds,
            float_logits,
            UsageTerms(checkpoint.meta.license, checkpoint.meta.attribution),
        )
        results = _export_each(modules, precisions, sources, context, progress)
    if any(r.status == "failed" for r in results):
        raise ExportFailed(results)
    return results


def _precisions(quantize: str) -> tuple[str, ...]:
    if quantize not in QUANTIZE:
        raise UserError(f"unknown --quantize {quantize!r}; choose from {', '.join(QUANTIZE)}")
    return QUANTIZE[quantize]


def _offered(modules: list[ModuleType], precisions: tuple[str, ...]) -> set[str]:
    """The precisions some chosen target exports; refuses a choice that would export none."""
    offered = {p for m in modules for p in precisions if p in m.PRECISIONS}
    if not offered:  # else it would exit 0 having written nothing (and int8 may mean QAT)
        names = ", ".join(m.NAME for m in modules)
        raise UserError(
            f"{names} offers no {' or '.join(precisions)} export; {_offering(precisions)}"
        )
    return offered


def _export_each(
    modules: list[ModuleType],
    precisions: tuple[str, ...],
    sources: dict[str, Source],
    context: Context,
    progress: Callable[[str], None] | None,
) -> list[ExportResult]:
    """A row per (target, precision) in that order, "not offered" where the target has no
    such precision; `progress` hears only of the offered ones."""
    results = []
    for module in modules:
        for precision in precisions:
            if progress is not None and precision in module.PRECISIONS:
                progress(f"{module.NAME} {precision}")
            results.append(_export_one(module, precision, sources.get(precision), context))
    return results


def _waiting(out_dir: Path) -> Callable[[], None]:
    # Two exports into one folder (make -j, two shells) run one after the other, so the
    # second sees the first's files: its check for another checkpoint's files holds, and
    # a benchmark reading the folder never sees a set half one run's, half the other's.
    return waiting_for(out_dir, HELD_BY_ANOTHER_RUN)


def _refuse_other_checkpoints_files(out_dir: Path, source_sha256: str) -> None:
    """The benchmark takes one checkpoint's files per folder; refuse to make a folder it
    would refuse (an unreadable manifest is left for the benchmark to name)."""
    for path in sorted(out_dir.rglob(f"*{SUFFIX}")) if out_dir.is_dir() else []:
        try:
            other = read_manifest(path)
        except ManifestError:
            continue
        if other.source_checkpoint_sha256 != source_sha256:
            # a retrained checkpoint keeps its name: the sha256 tells them apart
            sha = f"sha256 {other.source_checkpoint_sha256[:12]}..., not {source_sha256[:12]}..."
            raise UserError(
                f"{out_dir}: holds {path.name}, exported from another checkpoint "
                f"({other.model_name}, {sha}); the benchmark reads one checkpoint's files per "
                "folder: choose another --out or empty this one"
            )


def _offering(precisions) -> str:
    return "; ".join(
        f"{p}: {', '.join(n for n, m in TARGETS.items() if p in m.PRECISIONS)}" for p in precisions
    )


def _load_data(data):
    from melanoma.datasets import dataset_from

    return None if data is None else dataset_from(data)


def _export_one(module: ModuleType, precision: str, source: Source | None, context: Context):
    """`source` is None only for a precision no chosen target offers, so never used then."""
    if precision not in module.PRECISIONS:
        note = getattr(module, "NOT_OFFERED", {}).get(
            precision, f"{module.NAME} has no {precision}"
        )
        return ExportResult(module.NAME, precision, "not offered", None, None, note)
    name = f"{context.model_name}-{module.NAME}-{precision}{module.SUFFIX}"
    out = context.out_dir / name
    start = time.perf_counter()
    manifest = None
    try:
        # Both are renamed into place at the end, the artifact first, with Ctrl-C held;
        # an exception anywhere inside leaves both previous files untouched.
        with atomic_paths(out, manifest_path(out)) as (temp, manifest_temp):
            # the manifest's terms and origin go into the file too, its contract does not
            terms = context.terms
            label = ArtifactLabel(
                context.model_name,
                precision,
                terms.license,
                terms.attribution,
                context.source_sha256,
                manifest_path(out).name,
            )
            info = module.export(source.model, _traced_inputs(), temp, precision, label)
            verification = _verify(module, temp, precision, source, context, info)
            manifest = _manifest(module, precision, name, temp, info, verification, source, context)
            if not verification.passed:
                raise ExportError(verify.describe_failure(out, verification))
            write_utf8(manifest_temp, manifest.to_json())
    except ExportError as err:
        # Checks inside export() name the temp path; the note must name the artifact.
        note = str(err) if str(err).startswith(str(out)) else f"{out}: {err}"
        return ExportResult(
            module.NAME, precision, "failed", out, manifest, note, time.perf_counter() - start
        )
    status = "passed" if verification.n_images else "spec-checked"
    return ExportResult(
        module.NAME, precision, status, out, manifest, "", time.perf_counter() - start
    )


def _traced_inputs() -> tuple:
    """example_inputs(2) on a fork of torch's random stream: a trace does not depend on their
    values, and an export must not move its caller's stream."""
    with torch.random.fork_rng(devices=[]):
        return example_inputs(2)


def _verify(module, path: Path, precision: str, source: Source, context: Context, info: dict):
    """The artifact in its own runtime against the reference; a runtime that refuses to
    load or run it fails the check (one line), as a wrong output would."""
    meta = source.meta
    inputs = verify.sample_inputs(context.samples, meta.mean, meta.std)
    tolerance = verify.tolerance(module, precision, source.model)

    def refused(runtime: str, why: str) -> Verification:
        samples_source = context.samples.source
        return verify.failed(runtime, source.reference, len(inputs), samples_source, tolerance, why)

    try:
        runner = load_runner(module, path)
    except NotRunnableHere as reason:  # nothing to compare, so no reference outputs either
        check = f"{reason}: {info.get('spec_check', 'structure checked at export')}"
        return verify.spec_only(check, f"none on {platform.system()}")
    except RuntimeFailure as err:
        return refused(module.NAME, f"runtime cannot load it: {err}")
    reference = verify.reference_logits(source.model, inputs)
    try:
        return verify.compare(
            runner,
            inputs,
            reference,
            tolerance,
            context.threshold.probability,
            source.reference,
            context.samples.source,
            context.float_logits,  # same inputs: check_inherited holds mean and std equal
        )
    except RuntimeFailure as err:
        return refused(runner.runtime, f"runtime failed to run it: {err}")


def _manifest(module, precision, name, temp, info, verification, source, context) -> Manifest:
    meta = source.meta
    contract = input_contract(meta.mean, meta.std)
    return Manifest(
        model_name=context.model_name,
        method=meta.method,
        target=module.NAME,
        precision=precision,
        file=FileInfo(name=name, sha256=sha256_of(temp), size_bytes=size_of(temp)),
        input=dataclasses.replace(contract.input, max_batch=info.get("max_batch")),
        preprocessing=contract.preprocessing,
        output=contract.output,
        thresholds=context.thresholds,
        default_threshold=context.threshold.name,
        license=context.terms.license,
        attribution=context.terms.attribution,
        quantization=source.quantization,
        source_checkpoint_sha256=context.source_sha256,
        versions=package_versions(),
        created_utc=utc_now(),
        verification=verification,
        target_info=info,
    )
