"""--max-abs-dprob: the drift that agreement, accuracy and AUC cannot see.

Agreement and accuracy count decisions at one threshold and AUC only ranks, so an
int8 model whose logits were squeezed towards that threshold keeps all three while
every other threshold's decisions (the app's score band edges) move.
"""

import math

import numpy as np

from melanoma.benchmarks.accuracy import Scores, accuracy_figures, agreement_figures
from melanoma.benchmarks.gate import GateLimits, passed_text, violations

LABELS = np.array([0, 0, 1, 1])
FLOAT_LOGITS = np.array([-2.0, -0.5, 0.5, 2.0])
THRESHOLD = 0.5  # logit 0: squeezing towards it keeps every decision


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits))


def _squeezed_row(make_row_for) -> dict:
    """The report row of an 'int8' model whose logits are the float ones divided by 4."""
    reference = Scores(_sigmoid(FLOAT_LOGITS), THRESHOLD)
    squeezed = Scores(_sigmoid(FLOAT_LOGITS / 4), THRESHOLD)
    ref_figures = accuracy_figures(LABELS, reference, 20, 0)
    figures = accuracy_figures(LABELS, squeezed, 20, 0)
    drift = agreement_figures(reference, squeezed, ref_figures, figures)
    keep = ("agreement", "delta_auc", "delta_accuracy", "max_abs_dprob")
    return make_row_for(name="m-int8.pte", **{k: drift[k] for k in keep})


def test_squeezed_logits_keep_agreement_accuracy_and_auc(make_row_for):
    row = _squeezed_row(make_row_for)
    # by hand: both models rank all 4 images perfectly and decide them all alike
    assert (row["agreement"], row["delta_auc"], row["delta_accuracy"]) == (1.0, 0.0, 0.0)
    limits = GateLimits(max_auc_drop=0.0, min_agreement=1.0, max_accuracy_drop=0.0)
    assert violations([row], limits) == []


def test_max_abs_dprob_fails_the_squeezed_model(make_row_for):
    row = _squeezed_row(make_row_for)
    # the largest move is the most confident image's: sigmoid(2) - sigmoid(0.5)
    moved = 1 / (1 + math.exp(-2.0)) - 1 / (1 + math.exp(-0.5))
    assert math.isclose(moved, 0.258337746776, rel_tol=1e-9)
    assert math.isclose(row["max_abs_dprob"], moved, rel_tol=1e-12)
    assert violations([row], GateLimits(max_abs_dprob=0.05)) == [
        "GATE m-int8.pte: max_abs_dprob 0.258338 breaks 0.05"
    ]


def test_max_abs_dprob_passes_a_move_within_it_and_names_the_flag(make_row_for):
    row = make_row_for(name="m-int8.pte", max_abs_dprob=0.016)  # the bundled int8 .pte's
    limits = GateLimits(max_abs_dprob=0.05)
    assert violations([row], limits) == []
    assert "--max-abs-dprob 0.05" in passed_text(limits, [row])
