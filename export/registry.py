"""The one table of export targets: name -> module (see base.py for the module surface)."""

from __future__ import annotations

from types import ModuleType

from melanoma.errors import UserError
from melanoma.export import coreml, executorch, onnx, torchscript

TARGETS: dict[str, ModuleType] = {
    "executorch": executorch,
    "onnx": onnx,
    "coreml": coreml,
    "torchscript": torchscript,
}


class UnknownTarget(UserError):
    """A target name that is not in TARGETS."""


def get_target(name: str) -> ModuleType:
    """The module for `name`; an unknown name lists the valid ones (no guessing)."""
    if name not in TARGETS:
        raise UnknownTarget(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    return TARGETS[name]
