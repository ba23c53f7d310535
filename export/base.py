"""The interface every export target module implements.

A target module defines:

    NAME: str                      # "executorch", "onnx", "coreml", "torchscript"
    SUFFIX: str                    # ".pte", ".onnx", ".mlpackage", ".ptl"
    PRECISIONS: tuple[str, ...]    # subset of ("fp32", "int8") it really offers
    def export(model, example_inputs, out_path, precision) -> dict
        # writes the artifact at out_path (the caller makes it atomic) and
        # returns target-specific facts for the manifest's target_info
    def load(path, threads=None) -> Runner
        # loads the artifact in the target's own runtime, never PyTorch eager;
        # raises NotRunnableHere where that runtime does not exist (Core ML on Linux)
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Runner(Protocol):
    runtime: str  # what actually runs the artifact, with its version

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, 32, 32) float32 normalized images -> (N, 1) float32 logits."""
        ...


class NotRunnableHere(RuntimeError):
    """The artifact's runtime does not exist on this machine; the message says why."""


class ExportError(RuntimeError):
    """An export or its verification failed; the message names the artifact."""
