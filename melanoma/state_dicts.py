"""Checks of a state_dict against what it should hold, in words a one-line error can carry.

Loading a checkpoint uses both; the SGAN trainer uses `non_finite_tensors` to tell a
diverged step from a good one.
"""

from __future__ import annotations

from typing import Any

import torch


def non_finite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of a state_dict's floating-point tensors that hold NaN or inf."""
    return [
        name for name, value in state.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point()
        and not value.isfinite().all()
    ]  # fmt: skip


def state_mismatch(state: object, expected: dict[str, torch.Tensor]) -> str | None:
    """The first way a loaded state dict does not fit the model's, in words; None if it fits.

    load_state_dict's own error begins "Error(s) in loading state_dict" and names the
    tensor only on later lines, and it casts dtypes silently (integer weights loaded and
    scored every photo 0.5)."""
    if not isinstance(state, dict):
        return f"a {type(state).__name__}, not a state_dict"
    missing = [name for name in expected if name not in state]
    extra = [name for name in state if name not in expected]
    if missing or extra:
        first = f"no {missing[0]}" if missing else f"an unknown tensor {extra[0]}"
        more = len(missing) + len(extra) - 1
        return first + (f", and {more} other name(s) differ" if more else "")
    for name, value in state.items():
        want = expected[name]
        if not isinstance(value, torch.Tensor):
            return f"{name} is a {type(value).__name__}, not a tensor"
        if value.shape != want.shape:
            return f"{name} is {tuple(value.shape)}, the architecture's {tuple(want.shape)}"
        if value.dtype != want.dtype:
            return f"{name} is {value.dtype}, not {want.dtype}"
    return None
