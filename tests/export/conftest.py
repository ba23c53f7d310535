"""Reference logits for the export tests (the exported set itself: support/shared_models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch


@dataclass(frozen=True)
class References:
    inputs: np.ndarray  # (64, 3, 32, 32) normalized real test images
    logits: dict  # precision -> (64, 1) PyTorch reference logits
    program: torch.export.ExportedProgram  # the int8 QAT program
    threshold: float  # youden probability


@pytest.fixture(scope="session")
def references(export_source, dataset) -> References:
    from melanoma.checkpoint import load_checkpoint
    from melanoma.export import verify
    from melanoma.qat_checkpoint import load_qat

    checkpoint, qat = load_checkpoint(export_source), load_qat(export_source / "qat")
    inputs = verify.sample_inputs(
        verify.load_samples(dataset), checkpoint.meta.mean, checkpoint.meta.std
    )
    logits = {
        "fp32": verify.reference_logits(checkpoint.model, inputs),
        "int8": verify.reference_logits(qat.program, inputs),
    }
    return References(inputs, logits, qat.program, checkpoint.meta.threshold("youden"))


@pytest.fixture(scope="session")
def assert_round_trip(references):
    """Run an artifact in its own runtime on the real images; compare with the PyTorch reference."""
    from melanoma.export import verify

    def check(module, path: Path, precision: str) -> np.ndarray:
        runner = module.load(path, threads=1)
        out = runner(references.inputs)  # (64, 1)
        reference = references.logits[precision]
        tolerance = verify.tolerance(module, precision, references.program)
        assert out.shape == reference.shape
        assert np.abs(out - reference).max() <= tolerance
        single = runner(references.inputs[:1])  # the app's batch of one
        assert np.abs(single - reference[:1]).max() <= tolerance
        cut = np.log(references.threshold / (1 - references.threshold))
        clear = np.abs(reference[:, 0] - cut) > tolerance
        assert np.array_equal((out[clear, 0] >= cut), (reference[clear, 0] >= cut))
        return out

    return check


@pytest.fixture(scope="session")
def quick_config():
    """The ExportConfig of the cheapest real export, torchscript fp32; keywords change it."""
    from melanoma.export.api import ExportConfig

    def config(checkpoint, out_dir: Path, **changes) -> ExportConfig:
        settings = {"targets": ("torchscript",), "quantize": "none", **changes}
        return ExportConfig(checkpoint=str(checkpoint), out_dir=out_dir, **settings)

    return config


@pytest.fixture(scope="session")
def manifest_facts():
    """The facts an exported artifact must embed, as its manifest states them."""
    from melanoma.manifest import manifest_path

    def facts(result) -> dict[str, str]:
        manifest = result.manifest
        stated = {
            "model_name": manifest.model_name,
            "precision": manifest.precision,
            "license": manifest.license,
            "attribution": manifest.attribution,
            "source_checkpoint_sha256": manifest.source_checkpoint_sha256,
            "manifest": f"input contract and thresholds: {manifest_path(result.artifact).name}",
        }
        return {key: value for key, value in stated.items() if value is not None}

    return facts
