"""Whether an artifact takes the batch its manifest's input.max_batch promises.

The app sizes its batches by that field, and a .pte refuses any batch larger than the
one its memory was planned for, so the benchmark runs a batch of that size and one more.
"""

from __future__ import annotations

import numpy as np

from melanoma.export.base import Runner, RuntimeFailure
from melanoma.manifest import InputSpec, Manifest, must_state
from melanoma.metrics import app_probabilities
from melanoma.pt2e import MAX_BATCH

# input.max_batch null promises any batch: more rows than a bounded target's memory is
# planned for, then.
ANY_BATCH_PROBE = MAX_BATCH + 1
PROBE_LIMIT = 4096  # a claimed max_batch is tried with that many rows: 48 MB at most
# The same image in a batch of max_batch rows and alone, as the accuracy pass runs it:
# equal up to summation order, or one int8 output step (about 0.02) at most.
BATCH_MAX_ABS_DPROB = 0.05


def states_max_batch(manifest: Manifest) -> bool:
    """False for an older manifest without input.max_batch: not stated, rather than wrong."""
    claim = manifest.input.max_batch
    return claim is not None or must_state(InputSpec, "max_batch", manifest.schema_version)


def batch_text(max_batch: int | None) -> str:
    return "null (any N)" if max_batch is None else str(max_batch)


def batch_failures(
    runner: Runner, inputs: np.ndarray, probs: np.ndarray, manifest: Manifest
) -> list[str]:
    """Whether the artifact takes the batch its manifest's input.max_batch promises, and
    refuses one row more: the app sizes its batches by it, and a .pte refuses any batch
    larger than the one its memory was planned for. `runner` comes from load_runner: a
    refused batch is a RuntimeFailure."""
    claim = manifest.input.max_batch
    if not states_max_batch(manifest):
        return []
    rows = ANY_BATCH_PROBE if claim is None else claim
    if rows > PROBE_LIMIT:
        return [
            f"manifest input.max_batch {claim}: more rows than the benchmark tries ({PROBE_LIMIT})"
        ]
    shown = batch_text(claim)
    problem = _batch_problem(runner, inputs, probs, rows)
    if problem:
        return [f"manifest input.max_batch {shown}, but a batch of {rows} {problem}"]
    if claim is not None and _run_rows(runner, inputs, claim + 1)[0] is not None:
        return [f"manifest input.max_batch {claim}, but a batch of {claim + 1} runs too"]
    return []


def _batch_problem(runner, inputs, probs, rows: int) -> str | None:
    """What is wrong with `rows` test images in one call, if anything: refused, or outputs
    other than the accuracy pass's for the same images."""
    out, error = _run_rows(runner, inputs, rows)
    if out is None:
        return f"is refused ({error})"
    if out.shape != (rows, 1):
        return f"gives outputs of shape {out.shape}"
    if not np.all(np.isfinite(out)):
        return f"gives {int(np.sum(~np.isfinite(out)))} non-finite output(s)"
    dprob = float(np.max(np.abs(app_probabilities(out[:, 0]) - np.resize(probs, rows))))
    if dprob > BATCH_MAX_ABS_DPROB:
        return f"gives other probabilities than one image per call (max|Δp| {dprob:.2g})"
    return None


def _run_rows(runner, inputs: np.ndarray, rows: int) -> tuple[np.ndarray | None, str]:
    """(outputs, "") of one call on `rows` test images (repeated if needed), or (None, why)."""
    from melanoma.export.base import native_stderr_to_log

    batch = np.ascontiguousarray(np.resize(inputs, (rows, *inputs.shape[1:])))
    try:
        # A refused batch is expected here: ExecuTorch's native lines about it go to the log.
        with native_stderr_to_log(show_on_failure=False):
            return np.asarray(runner(batch)), ""
    except RuntimeFailure as err:
        return None, str(err)
