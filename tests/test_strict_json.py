import json

import numpy as np
import pytest

from melanoma import strict_json
from melanoma.metrics import evaluation_report


def parse_strictly(text: str):
    """json.loads, but the non-JSON tokens NaN, Infinity and -Infinity are refused."""

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_floats_become_null_at_any_depth():
    value = {"a": float("nan"), "b": [1.5, float("inf"), {"c": -float("inf")}], "d": (2, "x")}
    assert parse_strictly(strict_json.dumps(value)) == {
        "a": None,
        "b": [1.5, None, {"c": None}],
        "d": [2, "x"],
    }


def test_what_is_not_json_at_all_is_refused_not_written():
    with pytest.raises(TypeError):
        strict_json.dumps({"a": object()})


def test_a_report_at_threshold_zero_is_parseable():
    """Every image flagged (a sensitivity target of 1.0 can choose 0): nothing is cleared,
    so NPV is undefined; `melanoma evaluate --json` must still print JSON."""
    labels = np.array([0, 1, 0, 1, 1, 0])
    probs = np.array([0.1, 0.9, 0.3, 0.7, 0.2, 0.6])
    report = evaluation_report(labels, probs, threshold=0.0)
    assert np.isnan(report["at_screening_prevalence"]["npv"])
    parsed = parse_strictly(strict_json.dumps(report))
    assert parsed["at_screening_prevalence"]["npv"] is None and parsed["sensitivity"] == 1.0


def test_non_finite_floats_inside_tuples_become_null():
    text = strict_json.dumps({"ci": (float("nan"), 0.5), "pair": [(1.0, float("inf"))]})
    assert parse_strictly(text) == {"ci": [None, 0.5], "pair": [[1.0, None]]}
