"""Range checks the config dataclasses run when they are built (`__post_init__`).

The CLIs' option types refuse bad values before a config exists; a library caller has
only these. Without them `TrainConfig(target_sensitivity=1.5)` trained for minutes and
then failed in numpy, and `TimingConfig(runs=0)` failed in an IndexError mid-benchmark.
Standard library only: the CLI helpers import it before torch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable

from melanoma.errors import UserError

# What a target sensitivity may be: below 0.5 a cutoff misses more melanomas than it finds.
TARGET_SENSITIVITY_RANGE = (0.5, 1.0)
# More threads than any CPU this runs on has; a typo beyond it would overflow the runtimes'
# int thread counts or spawn a runaway threadpool (100000 crashed OpenBLAS). 'all' is never
# capped.
MAX_THREADS = 1024
# Benchmark calls per artifact far past any useful sample (a million batch-1 calls is an hour
# or more); a typo beyond it tried to allocate terabytes for the timings.
MAX_RUNS = 1_000_000


class ConfigError(UserError):
    """A config field out of its range; the message names the class, field and value."""


def _refuse(config: object, name: str, expected: str) -> None:
    value = getattr(config, name)
    raise ConfigError(f"{type(config).__name__}.{name} = {value!r}: expected {expected}")


def _is_int(value: object) -> bool:
    """int or numpy's integers (a grid from np.arange), not bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or (isinstance(value, numbers.Real) and math.isfinite(value))


def at_least(config: object, minimum: int, *names: str, maximum: int | None = None) -> None:
    """Integer fields of at least `minimum` (epochs, batch sizes, counts), and at most
    `maximum` if given."""
    for name in names:
        value = getattr(config, name)
        if not (_is_int(value) and value >= minimum and (maximum is None or value <= maximum)):
            upper = "" if maximum is None else f" and <= {maximum}"
            _refuse(config, name, f"an integer >= {minimum}{upper}")


def layer_widths(config: object, name: str, max_layers: int = 5, maximum: int = 1024) -> None:
    """1 to `max_layers` channel counts in [1, maximum]: far past any network here, short of
    one that cannot be built (a width of 1e9 asked for a terabyte; each stage halves the
    32x32 input, so a sixth would pool a 1x1 map)."""
    widths = items_of(getattr(config, name))
    sized = all(_is_int(w) and 1 <= w <= maximum for w in widths)
    if not (1 <= len(widths) <= max_layers and sized):
        _refuse(config, name, f"1 to {max_layers} integers in [1, {maximum}]")


def non_negative(config: object, *names: str, allow_zero: bool = True) -> None:
    """Finite numbers >= 0 (or > 0 without `allow_zero`): rates, weights, limits."""
    for name in names:
        value = getattr(config, name)
        if not (_is_number(value) and (value >= 0 if allow_zero else value > 0)):
            _refuse(config, name, "a finite number " + (">= 0" if allow_zero else "> 0"))


def fraction(
    config: object, *names: str, above_zero: bool = False, below_one: bool = False
) -> None:
    """Numbers in [0, 1], or open at either end (a validation fraction of 0 or 1 leaves a
    split without images)."""
    for name in names:
        value = getattr(config, name)
        low_ok = _is_number(value) and (value > 0 if above_zero else value >= 0)
        if not (low_ok and (value < 1 if below_one else value <= 1)):
            interval = ("(" if above_zero else "[") + "0, 1" + (")" if below_one else "]")
            _refuse(config, name, f"a number in {interval}")


def distinct_counts(config: object, name: str, minimum: int) -> None:
    """A non-empty collection of distinct integers >= `minimum` (thread counts, seeds): a
    repeat would run, and count, the same thing twice. A generator is refused, since
    checking it would use it up."""
    items = items_of(getattr(config, name))
    counts = items and all(_is_int(n) and n >= minimum for n in items)
    if not counts or repeated(items):
        _refuse(config, name, f"a non-empty tuple of distinct integers >= {minimum}")


def items_of(value: object) -> list:
    """The items of a tuple, list or array; [] for a string, a number or a generator."""
    return list(value) if isinstance(value, Collection) and not isinstance(value, str) else []


def repeated(items: list) -> list:
    """The items given more than once, sorted: a repeated seed or method would train, or
    count, the same run twice, as two samples in a mean and its ±."""
    return sorted({item for item in items if items.count(item) > 1})


def one_of(config: object, name: str, options: Iterable[str]) -> None:
    options = tuple(options)
    if getattr(config, name) not in options:
        _refuse(config, name, "one of " + ", ".join(options))


def names_tuple(config: object, name: str) -> None:
    """A tuple of names, not one string: iterating "onnx" would name targets o, n, n, x."""
    value = getattr(config, name)
    items = items_of(value)
    if not items or not all(isinstance(item, str) for item in items):
        example = value if isinstance(value, str) else "onnx"
        _refuse(config, name, f"a non-empty tuple of names, e.g. ({example!r},)")


def target_sensitivity(config: object, name: str = "target_sensitivity") -> None:
    value = getattr(config, name)
    if value is not None:
        check_target_sensitivity(value, f"{type(config).__name__}.{name} = {value!r}")


def check_target_sensitivity(value: object, shown: str) -> None:
    """Refuse a sensitivity outside TARGET_SENSITIVITY_RANGE; `shown` names it."""
    low, high = TARGET_SENSITIVITY_RANGE
    if not (_is_number(value) and low <= value <= high):
        raise ConfigError(f"{shown}: expected a sensitivity in [{low}, {high}]")


def device_name(config: object, name: str = "device") -> None:
    """`auto`, or a device type torch.device parses, checked by name (no torch import)."""
    value = getattr(config, name)
    kind = value.split(":")[0] if isinstance(value, str) else None
    if value != "auto" and kind not in ("cpu", "cuda", "mps", "xpu"):
        _refuse(config, name, "auto, cpu, cuda[:N], mps or xpu")
