"""Check an exported artifact against its PyTorch reference on sample images.

Samples are real test images when a data set is available; on a fresh install
without data they are deterministic synthetic stand-ins, and the manifest says which.

fp32 is compared with the float checkpoint in eager PyTorch, int8 with the
converted QAT program (its Q/DQ ops run as float reference math). Each target
module states its tolerance: FP32_TOLERANCE on the logit, and for int8
INT8_TOLERANCE_STEPS in steps of the program's output quantization (the logit
is an int8 code times that step, so a fixed number of logits would be too
strict for one model and too loose for another). The decisions at the
checkpoint's threshold must agree too, except for images whose reference logit
lies within the tolerance of the threshold: those may legitimately flip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from melanoma.export.choices import N_SYNTHETIC
from melanoma.manifest import Verification
from melanoma.preprocess import normalize

if TYPE_CHECKING:
    from types import ModuleType

    from melanoma.datasets import Dataset
    from melanoma.export.base import ExportModel, Runner

N_SAMPLES = 64  # real test images, both classes, taken evenly across the test split


@dataclass(frozen=True)
class Samples:
    images: torch.Tensor  # (N, 3, 32, 32) uint8
    labels: np.ndarray  # (N,) 1 = melanoma, -1 for synthetic images
    source: str  # where they came from, for the manifest


def synthetic_moles(n: int = N_SYNTHETIC, seed: int = 0) -> torch.Tensor:
    """(n, 3, 32, 32) uint8 mole-like images: a soft dark ellipse on skin-coloured noise.

    Used only when no data set is available (a fresh install): the data is
    CC BY-NC and is not redistributed with the package, so verification then
    runs on these deterministic stand-ins, and the manifest says so.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    images = np.empty((n, 32, 32, 3))
    for i in range(n):
        skin = rng.normal([197, 135, 140], [12, 12, 12])
        lesion = rng.normal([120, 75, 70], [30, 20, 20])
        cy, cx = rng.uniform(11, 21, 2)
        ry, rx = rng.uniform(4, 13, 2)
        angle = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(angle) + dy * np.sin(angle)) / rx
        v = (-dx * np.sin(angle) + dy * np.cos(angle)) / ry
        inside = 1 / (1 + np.exp((np.sqrt(u**2 + v**2) - 1) * rng.uniform(3, 10)))
        images[i] = skin + (lesion - skin) * inside[..., None] + rng.normal(0, 6, (32, 32, 3))
    pixels = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()


def load_samples(dataset: Dataset | None = None, n: int = N_SAMPLES) -> Samples:
    """`n` real test images of `dataset` (a melanoma.datasets.Dataset); without one, synthetic."""
    if dataset is not None:
        split, name = (
            (dataset.test, "test") if dataset.test is not None else (dataset.labeled, "labeled")
        )
        # The liveProject test split is sorted by class: even spacing takes both classes.
        index = torch.linspace(0, len(split) - 1, min(n, len(split))).round().long()
        chosen = split.subset(index)
        # The data's name and fingerprint, not its path: the manifest ships inside the app.
        data = f"{_data_name(dataset.source)} (fingerprint {dataset.fingerprint})"
        source = f"{len(chosen)} {name} images of {data}"
        return Samples(chosen.images, chosen.labels.numpy(), source)
    images = synthetic_moles(N_SYNTHETIC)
    source = f"{N_SYNTHETIC} synthetic mole-like images (no data given; the data is not bundled)"
    return Samples(images, np.full(N_SYNTHETIC, -1), source)


def _data_name(source: str) -> str:
    """The data's own name, not the path to it: '.' named by its folder, a link by itself
    (a git-annex or DVC link's target is a content hash)."""
    return Path(os.path.abspath(source)).name or source


def sample_inputs(samples: Samples, mean: list[float], std: list[float]) -> np.ndarray:
    """(N, 3, 32, 32) float32 model inputs, normalized exactly as the app does."""
    return np.ascontiguousarray(normalize(samples.images, mean, std).numpy())


@torch.no_grad()
def reference_logits(model: ExportModel, inputs: np.ndarray) -> np.ndarray:
    """Logits of the float module or of the int8 ExportedProgram (as a module)."""
    if isinstance(model, torch.export.ExportedProgram):
        model = model.module()
    return model(torch.from_numpy(inputs)).numpy()  # (N, 1)


def tolerance(module: ModuleType, precision: str, model: ExportModel) -> float:
    """The target's tolerance on the logit for this precision (see the module docstring)."""
    if precision == "fp32":
        return float(module.FP32_TOLERANCE)
    return float(module.INT8_TOLERANCE_STEPS) * output_step(model)


def output_step(program: torch.export.ExportedProgram) -> float:
    """Scale of the dequantize that produces the int8 program's output logit."""
    (produced,) = [n for n in program.graph.nodes if n.op == "output"][0].args[0]
    if "dequantize_per_tensor" not in str(produced.target):
        raise ValueError(f"int8 program output comes from {produced.target}, not a dequantize")
    return float(produced.args[1])


def compare(
    runner: Runner,
    inputs: np.ndarray,
    reference: np.ndarray,
    tolerance: float,
    threshold: float,
    reference_name: str,
    samples_source: str,
    float_logits: np.ndarray,
) -> Verification:
    """Run the batch, and its first image alone (the app's batch of 1), against the reference;
    also count the decisions shared with the float model's logits (for int8, the reference is
    the QAT program, so a program that drifted from the float model would still pass)."""
    batch_out = np.asarray(runner(inputs), dtype=np.float64)
    single_out = np.asarray(runner(inputs[:1]), dtype=np.float64)
    if batch_out.shape != reference.shape or single_out.shape != (1, 1):
        why = "wrong output shape"
        return failed(runner.runtime, reference_name, len(inputs), samples_source, tolerance, why)
    # np.max, not Python's max, which drops a NaN: a NaN logit anywhere must fail (nan <= x
    # is False), the app's batch of 1 included
    errors = np.concatenate([batch_out - reference, single_out - reference[:1]])
    diff = float(np.max(np.abs(errors)))
    cut = decision_cut(threshold)
    ref_decision, decision = reference[:, 0] >= cut, batch_out[:, 0] >= cut
    # Within the tolerance, no logit farther than it from the cut can change side: the
    # output check is the decision check too (decision_agreement reports the near ones).
    passed = bool(diff <= tolerance)
    return Verification(
        runtime=runner.runtime,
        check=f"outputs on {samples_source}",
        reference=reference_name,
        max_abs_diff=diff,
        tolerance=tolerance,
        decision_agreement=float(np.mean(ref_decision == decision)),
        n_images=len(inputs),
        passed=passed,
        float_decision_agreement=float(np.mean((float_logits[:, 0] >= cut) == decision)),
    )


def decision_cut(threshold: float) -> float:
    """The logit at which sigmoid(logit) >= threshold begins: -inf for 0 (every image is
    flagged), inf for 1; a sensitivity target of 1.0 can choose 0."""
    with np.errstate(divide="ignore"):
        return float(np.log(threshold) - np.log1p(-threshold))


def failed(
    runtime: str, reference_name: str, n: int, source: str, tolerance: float, why: str
) -> Verification:
    """A check that compared nothing: the runtime refused the file or gave unusable output."""
    check = f"outputs on {source}: {why}"
    return Verification(runtime, check, reference_name, None, tolerance, None, n, False)


def spec_only(check: str, runtime: str) -> Verification:
    """The runtime does not exist here: only the exporter's structural check ran (and passed).

    No outputs were computed, so nothing was compared: reference is None rather
    than the name of a model the artifact was never held against.
    """
    return Verification(
        runtime=runtime,
        check=check,
        reference=None,
        max_abs_diff=None,
        tolerance=None,
        decision_agreement=None,
        n_images=0,
        passed=True,
    )


def describe_failure(artifact: Path, verification: Verification) -> str:
    """One line naming the artifact and what went wrong."""
    if verification.max_abs_diff is None:
        return f"{artifact}: verification failed ({verification.check})"
    return (
        f"{artifact}: verification failed in {verification.runtime}: max |logit diff| "
        f"{verification.max_abs_diff:.3g} (tolerance {verification.tolerance:g}), "
        f"decision agreement {verification.decision_agreement:.3f} "
        f"on {verification.n_images} images"
    )
