"""Quantization-aware training (QAT): the int8 graph every exporter consumes.

Reads top to bottom, the PT2E flow of torchao and ExecuTorch:
eval -> torch.export (dynamic batch) -> prepare_qat_pt2e(XNNPACKQuantizer)
-> short fine-tune with fake quantization -> move to eval -> convert_pt2e
-> torch.export again (dynamic batch). The result is one ExportedProgram with
explicit quantize/dequantize nodes, int8 per-channel symmetric weights and
int8 activations, that ExecuTorch XNNPACK, ONNX (QDQ) and Core ML all lower.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from melanoma.model import example_inputs as model_example_inputs

log = logging.getLogger(__name__)
MAX_BATCH = 1024  # upper bound of the dynamic batch dimension


def _export_dynamic_batch(module: nn.Module, example_inputs: tuple) -> torch.export.ExportedProgram:
    # A batch of 1 would make torch.export specialize the batch size to the
    # constant 1 (0/1 specialization), so trace with at least 2 rows.
    inputs = tuple(
        x.repeat(2, *[1] * (x.dim() - 1)) if x.shape[0] == 1 else x for x in example_inputs
    )
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    return torch.export.export(module, inputs, dynamic_shapes=tuple({0: batch} for _ in inputs))


def xnnpack_qat_quantizer():
    """int8 per-channel symmetric weights, int8 per-tensor activations, QAT observers."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    config = get_symmetric_quantization_config(is_per_channel=True, is_qat=True)
    return XNNPACKQuantizer().set_global(config)


def prepare_qat_model(model: nn.Module, example_inputs: tuple) -> torch.fx.GraphModule:
    """Export `model` with a dynamic batch and insert fake-quantize modules for QAT.

    BatchNorm stays a real BatchNorm in the prepared graph: prepare_qat_pt2e
    rewrites conv-BN into a pattern that fake-quantizes the BN-scaled weights,
    so training sees the folded int8 weights that inference will use. The
    returned graph is in train mode; switch it only with torchao's
    move_exported_model_to_train/eval (GraphModule.train()/.eval() does not
    reach the exported BatchNorm and dropout ops). `model` itself is left
    untouched: the graph trains a copy of its weights.
    """
    from torchao.quantization.pt2e import move_exported_model_to_train
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    # torch.export shares parameter storage with the module it traced, so
    # without the copy QAT would silently overwrite the float model's weights.
    exported = _export_dynamic_batch(copy.deepcopy(model).eval(), example_inputs)
    prepared = prepare_qat_pt2e(exported.module(), xnnpack_qat_quantizer())
    move_exported_model_to_train(prepared)
    return prepared


def convert_qat_model(
    prepared: torch.fx.GraphModule, example_inputs: tuple | None = None
) -> torch.export.ExportedProgram:
    """Freeze a QAT-prepared graph into the int8 (Q/DQ) ExportedProgram, dynamic batch.

    `example_inputs` default to melanoma.model.example_inputs(2), the
    (N, 3, 32, 32) signature every deployable architecture shares.
    """
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    if example_inputs is None:
        example_inputs = model_example_inputs(2)
    move_exported_model_to_eval(prepared)
    converted = convert_pt2e(prepared)
    return _export_dynamic_batch(converted, example_inputs)
