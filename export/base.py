"""The interface every export target module implements.

A target module defines:

    NAME: str                      # "executorch", "onnx", "coreml", "torchscript"
    SUFFIX: str                    # ".pte", ".onnx", ".mlpackage", ".ptl"
    PRECISIONS: tuple[str, ...]    # subset of ("fp32", "int8") it really offers
    FP32_TOLERANCE: float          # max |logit - eager float logit| its fp32 check allows
    INT8_TOLERANCE_STEPS: int      # if it offers int8: allowed steps of the output quantization
    NOT_OFFERED: dict[str, str]    # optional: why a precision it lacks is missing
    def export(model, example_inputs, out_path, precision, label=None) -> dict
        # writes the artifact at out_path (the caller makes it atomic) and
        # returns target-specific facts for the manifest's target_info;
        # `label` (an ArtifactLabel): facts to embed where the format has a place
    def embedded(path) -> dict[str, str]
        # the facts embedded in the file, read back by the format's own reader
        # ({} for a file exported without them)
    def load(path, threads=None) -> Runner
        # loads the artifact in the target's own runtime, never PyTorch eager;
        # raises NotRunnableHere where that runtime does not exist (Core ML on Linux);
        # callers load through load_runner, which turns the runtime's errors into
        # RuntimeFailure, so that they catch nothing of their own code
    def check_spec(path, precision) -> dict
        # optional, where load can raise NotRunnableHere: checks the saved file's
        # structure without its runtime; raises ExportError naming what is wrong
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import sys
import tempfile
from importlib import metadata
from typing import TYPE_CHECKING, Protocol

import numpy as np

from melanoma.errors import first_line

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from types import ModuleType

    import torch

    # What every export() receives: the float nn.Module (fp32) or the converted QAT
    # ExportedProgram (int8)
    ExportModel = torch.nn.Module | torch.export.ExportedProgram

log = logging.getLogger(__name__)

INPUT_NAME = "input"  # every artifact's input and output names, as the manifest records them
OUTPUT_NAME = "logit"
# The keys of the facts every artifact embeds (ArtifactLabel.facts), in every format
LABEL_KEYS = (
    "model_name",
    "precision",
    "license",
    "attribution",
    "source_checkpoint_sha256",
    "manifest",
)


@dataclasses.dataclass(frozen=True)
class ArtifactLabel:
    """What an artifact carries inside itself, where its format has a place for key/value
    strings, so that a file copied without its manifest still states its terms and origin.
    Only these: the manifest stays the one source of the input contract and thresholds."""

    model_name: str
    precision: str  # "fp32" or "int8"
    license: str  # the manifest's license
    attribution: str | None  # the manifest's; None: not stated, and not embedded
    source_checkpoint_sha256: str
    manifest_name: str  # "<artifact>.manifest.json", beside the artifact

    def facts(self) -> dict[str, str]:
        """The embedded key/value strings, the same keys in every format."""
        values = (
            self.model_name,
            self.precision,
            self.license,
            self.attribution,
            self.source_checkpoint_sha256,
            f"input contract and thresholds: {self.manifest_name}",
        )
        return {key: v for key, v in zip(LABEL_KEYS, values, strict=True) if v is not None}


class Runner(Protocol):
    runtime: str  # what actually runs the artifact, with its version

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, 32, 32) float32 normalized images -> (N, 1) float32 logits."""
        ...


@functools.cache
def package_version(name: str) -> str:
    """An installed package's version, read once per process. importlib.metadata parses the
    package's METADATA file on every call (about 1 ms), and a runner's load runs inside the
    benchmark's timed load: uncached, it was a third of a .pte's `load ms`."""
    return metadata.version(name)


def as_input(batch: np.ndarray) -> np.ndarray:
    """`batch` as one contiguous (N, 3, 32, 32) buffer, as every artifact takes it. A .pte
    or .ptl runs an input of any height and width and returns a plausible, wrong score
    (only ONNX Runtime refuses one), and ExecuTorch's bindings misread a strided view."""
    if batch.ndim != 4 or batch.shape[1:] != (3, 32, 32):
        raise ValueError(f"input of shape {batch.shape}; the models take (N, 3, 32, 32)")
    return np.ascontiguousarray(batch)


class NotRunnableHere(RuntimeError):
    """The artifact's runtime does not exist on this machine; the message says why."""


class ExportError(RuntimeError):
    """An export or its verification failed; the message names the artifact."""


class RuntimeFailure(RuntimeError):
    """A runtime refused to load or run an artifact, or ran it and gave output no model
    gives. The message is one line; callers report it as that artifact's failure."""


def _runtime_errors() -> tuple[type[BaseException], ...]:
    """What a runtime raises when it cannot load or run a (sha256-verified) artifact.

    ONNX Runtime's errors (Fail, EPFail, NoModel, ...) derive from Exception only, so
    every one its module defines is named here.
    """
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    ort = tuple(
        value
        for value in vars(ort_errors).values()
        if isinstance(value, type) and issubclass(value, Exception)
    )
    return (RuntimeError, ValueError, TypeError, OSError, *ort)


def _failure(err: BaseException) -> RuntimeFailure:
    return RuntimeFailure(f"{type(err).__name__}: {first_line(err)}")


class GuardedRunner:
    """A runner whose runtime's errors arrive as RuntimeFailure. Only the runtime's own
    code runs inside the guard, so a caller that catches RuntimeFailure reports a file
    the runtime refused, while a bug in the code around it stays a traceback (a broad
    except there once reported a harness bug as the artifact's runtime error)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.runtime = runner.runtime

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        try:
            return self.runner(batch)
        except RuntimeFailure:
            raise
        except _runtime_errors() as err:
            raise _failure(err) from err


def load_runner(module: ModuleType, path: Path, threads: int | None = None) -> GuardedRunner:
    """`module.load(path, threads)` behind the guard; what its runtime raises while loading
    is a RuntimeFailure too. NotRunnableHere (no such runtime here) passes through."""
    try:
        return GuardedRunner(module.load(path, threads=threads))
    except (NotRunnableHere, RuntimeFailure):
        raise
    except _runtime_errors() as err:
        raise _failure(err) from err


def read_embedded(module: ModuleType, path: Path) -> dict[str, str]:
    """`module.embedded(path)`, what its reader raises on a file it cannot read as a
    RuntimeFailure (one line)."""
    try:
        return module.embedded(path)
    except _runtime_errors() as err:
        raise _failure(err) from err


def as_program(model: ExportModel, example_inputs: tuple) -> torch.export.ExportedProgram:
    """`model` as an ExportedProgram whose batch dimension is dynamic up to MAX_BATCH.

    `model` is what every `export()` receives: the float nn.Module (fp32) or the
    converted QAT ExportedProgram (int8), which already has a dynamic batch but
    may have been saved with another bound (1024 before MAX_BATCH became 128);
    it is re-exported then, which leaves its ops unchanged.
    `example_inputs` need a batch of at least 2: a batch of 1 would make
    torch.export specialize the batch to the constant 1.
    """
    import torch

    from melanoma.pt2e import MAX_BATCH, export_dynamic_batch

    if isinstance(model, torch.export.ExportedProgram):
        uppers = {int(bounds.upper) for bounds in model.range_constraints.values()}
        if uppers == {MAX_BATCH}:
            return model
        return export_dynamic_batch(model.module(), example_inputs)
    return export_dynamic_batch(model.eval(), example_inputs)


@contextlib.contextmanager
def native_stderr_to_log(show_on_failure: bool = True) -> Iterator[None]:
    """What a native runtime writes to file descriptor 2, to the log. ExecuTorch's
    threadpool, created on first use, prints cpuinfo probes
    ("Failed to open midr file ...") straight to file descriptor 2 on x86 Linux: harmless,
    and alarming next to a result. Log them (shown with -v); if loading fails, print them,
    unless the failure was expected (the benchmark checking that a batch is refused).
    The runtime's own log lines (a refused input, say) come through Python's sys.stderr
    instead, which may not be file descriptor 2 (pytest swaps it): both go to the log."""
    sys.stderr.flush()
    saved = os.dup(2)
    failed = True
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with (
                open(sink.fileno(), "w", closefd=False, errors="replace") as text,
                contextlib.redirect_stderr(text),
            ):
                yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode(errors="replace").strip()
            if text and failed and show_on_failure:
                print(text, file=sys.stderr)
            elif text:
                log.info("native runtime: %s", text)
