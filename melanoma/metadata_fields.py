"""The checks of a checkpoint's metadata.json fields that loading, normalizing and
deciding rely on (melanoma.checkpoint.read_meta runs them): a hand-edited file fails with
its field named, not deep inside torch."""

from __future__ import annotations

import math

from melanoma.methods import TRAINERS as RECORDED_METHODS
from melanoma.usage_terms import is_stated


def _rgb(values) -> bool:
    return (
        isinstance(values, list)
        and len(values) == 3
        and all(type(v) in (int, float) and math.isfinite(v) for v in values)  # not bool
    )


def _thresholds(values) -> bool:
    return (
        isinstance(values, list)
        and any(isinstance(t, dict) and t.get("name") == "youden" for t in values)
        and all(
            isinstance(t, dict)
            and isinstance(t.get("name"), str)
            and isinstance(t.get("probability"), (int, float))
            and 0 <= t["probability"] <= 1
            for t in values
        )
    )


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# The fields that loading, normalizing and deciding rely on, with the types they assume:
# a hand-edited metadata.json fails here with its field named, not deep inside torch.
FIELD_CHECKS = (
    ("method", lambda v: v in RECORDED_METHODS, " or ".join(RECORDED_METHODS)),
    ("arch", lambda v: isinstance(v, str), "a string"),
    ("seed", _count, "a non-negative integer"),
    ("epochs", _count, "a non-negative integer"),
    ("best_epoch", _count, "a non-negative integer"),
    ("data_fingerprint", lambda v: isinstance(v, str), "a string"),
    ("val_metrics", lambda v: isinstance(v, dict), "an object"),
    ("arch_args", lambda v: isinstance(v, dict), "an object"),
    ("train_config", lambda v: isinstance(v, dict), "an object"),
    # Statistics of pixels on the 0..1 scale: a mean of 1e308 or a std of 1e-300 passed as
    # finite and scored every photo NaN. 1e-4 is far below one 8-bit level (0.004).
    ("mean", lambda v: _rgb(v) and all(0 <= x <= 1 for x in v), "3 numbers in [0, 1]"),
    ("std", lambda v: _rgb(v) and all(1e-4 <= x <= 1 for x in v), "3 numbers in [1e-4, 1]"),
    ("thresholds", _thresholds, "a list of {name, probability in [0, 1]} including youden"),
    ("weights_sha256", lambda v: isinstance(v, str) and len(v) == 64, "the weights' sha256"),
    (
        "labeled_pixel_hashes",
        lambda v: v is None or (isinstance(v, list) and all(isinstance(h, str) for h in v)),
        "a list of strings",
    ),
    ("val_scores_sha256", lambda v: v is None or isinstance(v, str), "a string"),
    ("license", lambda v: v is None or is_stated(v), 'a licence expression or "not stated"'),
    ("attribution", lambda v: v is None or is_stated(v), "a non-empty string or null"),
)
