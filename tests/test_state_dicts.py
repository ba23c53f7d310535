"""state_dicts: the words a one-line checkpoint error carries about a state_dict."""

import torch
from torch import nn

from melanoma.state_dicts import non_finite_tensors, state_mismatch


def _expected() -> dict[str, torch.Tensor]:
    return nn.Linear(3, 2).state_dict()  # weight (2, 3), bias (2,)


def test_a_fitting_state_dict_has_no_mismatch():
    assert state_mismatch(_expected(), _expected()) is None


def test_not_a_dict_is_named_by_its_type():
    assert state_mismatch([1, 2], _expected()) == "a list, not a state_dict"


def test_a_missing_tensor_is_named_first_and_the_rest_counted():
    state = {"extra.a": torch.zeros(1), "extra.b": torch.zeros(1)}
    assert state_mismatch(state, _expected()) == "no weight, and 3 other name(s) differ"


def test_an_unknown_tensor_is_named_when_none_is_missing():
    state = {**_expected(), "head.bias": torch.zeros(1)}
    assert state_mismatch(state, _expected()) == "an unknown tensor head.bias"


def test_shape_dtype_and_non_tensor_values_are_each_named():
    state = _expected()
    assert state_mismatch({**state, "bias": torch.zeros(3)}, state) == (
        "bias is (3,), the architecture's (2,)"
    )
    # load_state_dict would cast these silently
    ints = {**state, "weight": torch.zeros(2, 3, dtype=torch.int64)}
    assert state_mismatch(ints, state) == "weight is torch.int64, not torch.float32"
    assert state_mismatch({**state, "bias": [0.0, 0.0]}, state) == "bias is a list, not a tensor"


def test_non_finite_tensors_names_float_tensors_with_nan_or_inf_only():
    state = {
        "ok": torch.ones(2),
        "nan": torch.tensor([0.0, float("nan")]),
        "inf": torch.tensor([float("-inf")]),
        "count": torch.tensor([3]),  # integer buffers hold no NaN
        "note": "not a tensor",
    }
    assert non_finite_tensors(state) == ["nan", "inf"]
