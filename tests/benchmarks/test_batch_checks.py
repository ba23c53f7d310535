"""A manifest's input.max_batch held to the runtime: that batch runs, one more is refused."""

from types import SimpleNamespace

import numpy as np
import pytest

from melanoma.benchmarks.batch_checks import PROBE_LIMIT, batch_failures
from melanoma.export.base import GuardedRunner
from melanoma.manifest import SCHEMA_VERSION


def claiming(max_batch):
    """The two fields batch_failures reads from a manifest."""
    return SimpleNamespace(
        input=SimpleNamespace(max_batch=max_batch), schema_version=SCHEMA_VERSION
    )


def runner_up_to(limit):
    """A runtime that takes at most `limit` rows and gives every row logit 0, loaded as
    the benchmark loads every artifact."""

    def run(batch):
        if len(batch) > limit:
            raise RuntimeError(f"batch of {len(batch)} > {limit}")
        return np.zeros((len(batch), 1), dtype=np.float32)

    run.runtime = "test runtime"
    return GuardedRunner(run)


INPUTS = np.zeros((10, 3, 32, 32), dtype=np.float32)


def test_max_batch_one_below_what_the_runtime_keeps_is_failed():
    """A .pte planned for 5 rows but stated as 4: the probe is claim + 1 rows, not more."""
    probs = np.full(len(INPUTS), 0.5)
    assert batch_failures(runner_up_to(5), INPUTS, probs, claiming(5)) == []
    assert batch_failures(runner_up_to(5), INPUTS, probs, claiming(4)) == [
        "manifest input.max_batch 4, but a batch of 5 runs too"
    ]


def test_batch_that_changes_probabilities_is_failed():
    """A batch's outputs must be one image per call's: Δp 0.01 passes, Δp 0.1 does not."""
    runner = runner_up_to(10**6)  # sigmoid(0) = 0.5 for every row of any batch
    assert batch_failures(runner, INPUTS, np.full(len(INPUTS), 0.51), claiming(None)) == []
    (reason,) = batch_failures(runner, INPUTS, np.full(len(INPUTS), 0.6), claiming(None))
    assert reason.startswith(
        "manifest input.max_batch null (any N), but a batch of 129 gives other"
    )


@pytest.mark.parametrize(
    "output, problem",
    [
        (lambda rows: np.zeros((rows, 2), np.float32), "gives outputs of shape (129, 2)"),
        (lambda rows: np.r_[np.zeros(rows - 1), np.nan][:, None], "gives 1 non-finite output(s)"),
    ],
)
def test_batch_with_other_outputs_than_one_logit_per_image_is_failed(output, problem):
    """A batched plan that pads a column or garbles a row: the first rows still match."""
    probs = np.full(len(INPUTS), 0.5)  # sigmoid(0), what every first row gives
    (reason,) = batch_failures(lambda batch: output(len(batch)), INPUTS, probs, claiming(None))
    assert reason == f"manifest input.max_batch null (any N), but a batch of 129 {problem}"


def test_a_max_batch_of_the_probe_limit_is_tried_and_one_more_is_not():
    """PROBE_LIMIT rows are what the benchmark tries: a claim of exactly that many is run
    and held to it, only a larger one is reported as beyond what it tries."""
    probs = np.full(len(INPUTS), 0.5)
    runner = runner_up_to(PROBE_LIMIT)
    assert batch_failures(runner, INPUTS, probs, claiming(PROBE_LIMIT)) == []
    assert batch_failures(runner, INPUTS, probs, claiming(PROBE_LIMIT + 1)) == [
        f"manifest input.max_batch {PROBE_LIMIT + 1}: more rows than the benchmark tries "
        f"({PROBE_LIMIT})"
    ]
