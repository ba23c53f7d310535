"""JSON that other tools can parse: NaN and inf are not JSON, so they are written as null.

A metric can be undefined (NPV when nothing is cleared, precision when nothing is
flagged); Python's json would write the bare token NaN, which strict parsers reject.
"""

from __future__ import annotations

import json
import math
from typing import Any


def strict_json(value: Any) -> Any:
    """`value` with every non-finite float, however deeply nested, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """json.dumps of strict_json(value); refuses (rather than writes) anything still not JSON."""
    return json.dumps(strict_json(value), allow_nan=False, **kwargs)
