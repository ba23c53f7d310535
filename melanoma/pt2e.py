"""The PT2E graph steps of int8 quantization, shared by QAT and the exporters.

eval -> torch.export (dynamic batch) -> prepare_qat_pt2e(XNNPACKQuantizer) ->
[fine-tune, in melanoma/qat.py] -> move to eval -> convert_pt2e -> torch.export
again (dynamic batch). The result is one ExportedProgram with explicit
quantize/dequantize nodes, int8 per-channel symmetric weights and int8
activations, that ExecuTorch XNNPACK, ONNX (QDQ) and Core ML all lower.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from melanoma.model import example_inputs as model_example_inputs
from melanoma.preprocess import normalize

if TYPE_CHECKING:  # imported where used: executorch's import is slow and logs
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer

# Upper bound of the dynamic batch dimension. ExecuTorch plans the .pte's
# memory for the largest batch, about 13.6 KB a row for these models: 1024 rows
# reserved 14 MB in an app that runs one image at a time. 128 rows (1.7 MB)
# still take the benchmark's batches of 100.
MAX_BATCH = 128


def export_dynamic_batch(module: nn.Module, example_inputs: tuple) -> torch.export.ExportedProgram:
    # A batch of 1 would make torch.export specialize the batch size to the
    # constant 1 (0/1 specialization), so trace with at least 2 rows.
    inputs = tuple(
        x.repeat(2, *[1] * (x.dim() - 1)) if x.shape[0] == 1 else x for x in example_inputs
    )
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    return torch.export.export(module, inputs, dynamic_shapes=tuple({0: batch} for _ in inputs))


@contextlib.contextmanager
def root_logging_kept() -> Iterator[None]:
    """Put the root logger's handlers and level back after ExecuTorch's code has run: its
    xnnpack_partitioner.py calls logging.basicConfig when imported (the quantizer imports
    it too), as its logging.debug() calls do, which gives a root logger without handlers one
    on stderr, and so turns a library user's own later basicConfig into a silent no-op.
    (The CLIs configure logging before anything runs, so there it changes nothing.)"""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def xnnpack_qat_quantizer() -> XNNPACKQuantizer:
    """int8 per-channel symmetric weights, int8 per-tensor activations, QAT observers."""
    with root_logging_kept():
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )

    config = get_symmetric_quantization_config(is_per_channel=True, is_qat=True)
    return XNNPACKQuantizer().set_global(config)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm2d that directly follows a Conv2d in an nn.Sequential, in place.

    Uses the running statistics, exactly as inference does; the BN becomes
    nn.Identity. BNs elsewhere are left for PT2E's own conv-BN handling.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                module[i + 1] = nn.Identity()
    return model


def prepare_qat_model(
    model: nn.Module, example_inputs: tuple, fold_bn: bool = True
) -> torch.fx.GraphModule:
    """Export a copy of `model` with a dynamic batch and insert fake-quantize modules for QAT.

    BatchNorm, two correct ways:
    - fold_bn=True (default): conv-BN pairs are folded with the running stats
      before export, so QAT trains exactly the folded weights that int8
      inference uses, with frozen BN statistics. Cheap: ~5 s CPU.
    - fold_bn=False: BN stays in the graph and prepare_qat_pt2e rewrites each
      conv-BN into its QAT pattern (fake-quantized BN-scaled weights, BN
      statistics still updated in train mode); convert_pt2e folds it. Costs
      ~30 s CPU more, in torchao's pattern matching.
    The returned graph is in train mode; switch it only with torchao's
    move_exported_model_to_train/eval (GraphModule.train()/.eval() does not
    reach the exported BatchNorm and dropout ops). `model` itself is untouched.
    """
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    # torch.export shares parameter storage with the module it traced, so
    # without the copy QAT would silently overwrite the float model's weights.
    model = copy.deepcopy(model).eval()
    if fold_bn:
        model = fold_batchnorm(model)
    exported = export_dynamic_batch(model, example_inputs)
    prepared = prepare_qat_pt2e(exported.module(), xnnpack_qat_quantizer())
    move_to_train(prepared)
    return prepared


_DROPOUT_P = "_melanoma_dropout_p"


def _dropouts(graph_module: torch.fx.GraphModule) -> list[torch.fx.Node]:
    targets = (torch.ops.aten.dropout.default, torch.ops.aten.dropout_.default)
    return [n for n in graph_module.graph.nodes if n.target in targets]


def move_to_train(prepared: torch.fx.GraphModule) -> None:
    """torchao's move_exported_model_to_train, keeping each dropout's probability: its
    rewrite replaces every dropout with its pattern's literal p=0.5, whatever the model's
    (0.3 for SmallCNN), so a train-mode QAT graph dropped out 0.5 of the features."""
    from torchao.quantization.pt2e import move_exported_model_to_train

    if not hasattr(prepared, _DROPOUT_P):  # read once, while the model's own p is there
        setattr(prepared, _DROPOUT_P, [n.args[1] for n in _dropouts(prepared)])
    move_exported_model_to_train(prepared)
    nodes, probabilities = _dropouts(prepared), getattr(prepared, _DROPOUT_P)
    for node, p in zip(nodes, probabilities, strict=True):
        node.args = (node.args[0], p, *node.args[2:])
    prepared.recompile()


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
    converted = _drop_unused_tensors(convert_pt2e(prepared))
    return export_dynamic_batch(converted, example_inputs)


def _drop_unused_tensors(graph_module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    # convert_pt2e leaves each float weight as a module attribute beside its
    # int8 copy; torch.export would keep it and the program would carry dead
    # fp32 weights (1.2 MB of a 1.6 MB file for SmallCNN).
    used = {n.target for n in graph_module.graph.nodes if n.op == "get_attr"}
    tensors = [*graph_module.named_parameters(), *graph_module.named_buffers()]
    for name, _ in tensors:
        if name not in used:
            owner, _, attr = name.rpartition(".")
            delattr(graph_module.get_submodule(owner), attr)
    return graph_module


@torch.no_grad()
def program_probs(
    program: torch.export.ExportedProgram | nn.Module,
    images: torch.Tensor,
    mean: list[float],
    std: list[float],
    batch: int = MAX_BATCH,
) -> np.ndarray:
    """P(melanoma) for (N, 3, 32, 32) uint8 images through an exported program (or module)."""
    module = program.module() if isinstance(program, torch.export.ExportedProgram) else program
    out = [
        torch.sigmoid(module(normalize(images[i : i + batch], mean, std))).flatten()
        for i in range(0, len(images), batch)
    ]
    return torch.cat(out).numpy()


_QUANTIZE = "quantized_decomposed.quantize_per_tensor.default"
_DEQUANTIZE = "quantized_decomposed.dequantize_per_tensor.default"


def exact_int8_ranges(
    program: torch.export.ExportedProgram,
) -> tuple[list[float], list[float]]:
    """([low, high] of the normalized input, [low, high] of the output logit) that a
    converted int8 program represents: calibration set them, and values outside are
    clipped to them (a nearly black or saturated pixel; a very confident logit)."""
    graph = program.graph_module.graph
    (user_input,) = program.graph_signature.user_inputs
    first = [n for n in graph.nodes if str(n.target) == _QUANTIZE and n.args[0].name == user_input]
    last = next(n for n in graph.nodes if n.op == "output").args[0][0]
    if len(first) != 1 or str(last.target) != _DEQUANTIZE:
        raise ValueError(
            "not a converted int8 program: no single input quantize / output dequantize"
        )
    return _representable(first[0]), _representable(last)


def int8_ranges(program: torch.export.ExportedProgram) -> tuple[list[float], list[float]]:
    """exact_int8_ranges rounded outward to 6 decimals, as manifests state them: a runtime
    computes an edge in float32, which came out 6e-8 above the exact float64 edge
    (6.857344150543 vs 6.857344090939)."""
    return tuple(rounded_outward(edges) for edges in exact_int8_ranges(program))


def rounded_outward(edges: list[float]) -> list[float]:
    low, high = edges
    return [math.floor(low * 1e6) / 1e6, math.ceil(high * 1e6) / 1e6]


def _representable(node: torch.fx.Node) -> list[float]:
    _, scale, zero_point, quant_min, quant_max, _ = node.args
    return [(quant_min - zero_point) * scale, (quant_max - zero_point) * scale]
