"""Every registered target has the surface export/base.py describes, so a fifth target
that forgets a constant fails here rather than as a traceback in the middle of an export."""

import inspect

import pytest

from melanoma.errors import UserError
from melanoma.export.registry import TARGETS, get_target


@pytest.mark.parametrize("name", TARGETS)
def test_target_module_has_the_whole_surface(name):
    module = TARGETS[name]
    assert module.NAME == name and module.SUFFIX.startswith(".")
    assert module.PRECISIONS and set(module.PRECISIONS) <= {"fp32", "int8"}
    assert callable(module.export) and callable(module.load) and callable(module.embedded)
    assert "label" in inspect.signature(module.export).parameters  # the facts to embed
    assert 0 < module.FP32_TOLERANCE < 1e-2
    if "int8" in module.PRECISIONS:
        assert module.INT8_TOLERANCE_STEPS >= 1
    else:
        assert module.NOT_OFFERED["int8"]  # the export table shows this reason


def test_unknown_target_names_the_valid_ones():
    with pytest.raises(UserError, match="choose from executorch, onnx, coreml, torchscript$"):
        get_target("tflite")


def test_the_cli_offers_the_registered_targets_in_their_order():
    from melanoma.export.choices import TARGET_NAMES  # what --help lists without the exporters

    assert TARGET_NAMES == tuple(TARGETS)
