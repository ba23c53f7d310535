"""ONNX `.onnx` with a dynamic batch, run by ONNX Runtime.

fp32: torch.onnx.export (dynamo) of the float module. int8: the same export of
the converted QAT program, which comes out as a QDQ graph (QuantizeLinear /
DequantizeLinear around float ops) that ONNX Runtime fuses into int8 kernels
(QLinearConv, QGemm) on CPU, once each bias is an int32 behind a DequantizeLinear
(`_int32_biases`). The exporter checks both facts on what it wrote.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melanoma.errors import first_line
from melanoma.export.base import (
    INPUT_NAME,
    LABEL_KEYS,
    OUTPUT_NAME,
    ExportError,
    package_version,
)

if TYPE_CHECKING:
    import onnx

    from melanoma.export.base import ArtifactLabel, ExportModel

NAME = "onnx"
SUFFIX = ".onnx"
PRECISIONS = ("fp32", "int8")
FP32_TOLERANCE = 1e-4  # max |logit - eager float logit| on the sample images
INT8_TOLERANCE_STEPS = 3  # output quantization steps from the QAT program (see executorch.py)
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
# The first ONNX Runtime release that loads a file of an IR version, and the newest opset it
# was run at, by `python -m melanoma.benchmarks.other_runtime` (README, "Which runtime
# releases load a file"; 2026-12-06, this exporter's fp32 and int8 files): onnxruntime
# 1.17.0 refuses IR 10 ("max supported IR version: 9"); 1.18.0 runs both at IR 10 / opset
# 20 (fp32 with 1.31.1's logits; int8 too since its biases are int32, 2026-12-07). Later
# releases keep loading what an earlier one loaded (ONNX Runtime's backwards-compatibility
# promise).
FIRST_ORT_FOR_IR = {10: ("1.18", 20)}


def export(
    model: ExportModel,
    example_inputs: tuple,
    out_path: Path,
    precision: str,
    label: ArtifactLabel | None = None,
) -> dict:
    """Export with a dynamic batch, check the file with onnx.checker and, for int8, its QDQ ops.
    `label`'s facts go into the model's metadata_props."""
    import onnx
    import torch

    from melanoma.pt2e import MAX_BATCH

    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    program = torch.onnx.export(
        model,
        example_inputs,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: batch},),
        dynamo=True,
        external_data=False,  # one self-contained file: the weights are small
        verbose=False,
    )
    program.save(str(out_path))
    written = onnx.load(str(out_path))
    _drop_exporter_debug_records(written)
    if precision == "int8":
        _int32_biases(written)
    for key, value in (label.facts() if label else {}).items():
        written.metadata_props.add(key=key, value=value)
    onnx.save(written, str(out_path))
    try:
        onnx.checker.check_model(written, full_check=True)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"{out_path}: onnx.checker failed ({first_line(err)})") from None
    ops = Counter(node.op_type for node in written.graph.node)
    if precision == "int8" and not all(ops[op] for op in QDQ_OPS):
        raise ExportError(f"{out_path}: int8 export has no QuantizeLinear/DequantizeLinear ops")
    batch_dim = written.graph.input[0].type.tensor_type.shape.dim[0]
    if not batch_dim.dim_param:
        raise ExportError(f"{out_path}: batch dimension is fixed, expected a dynamic batch")
    return {
        "opset": _opset(written),
        "ir_version": int(written.ir_version),
        "runtime_compatibility": runtime_compatibility(
            int(written.ir_version), _opset(written), package_version("onnxruntime")
        ),
        "ops": dict(sorted(ops.items())),
        "checker": "onnx.checker.check_model(full_check=True) passed",
        **(_fused_int8_ops(Path(out_path)) if precision == "int8" else {}),
    }


def runtime_compatibility(ir_version: int, opset: int, checked_in: str) -> str:
    """Which ONNX Runtime releases load the file: an app pins one, and a release older than
    the file's IR version refuses it at load, whatever its ops. Only what was run is stated."""
    first = FIRST_ORT_FOR_IR.get(ir_version)
    if first is None or opset > first[1]:
        return (
            f"IR version {ir_version}, opset {opset}: no minimum onnxruntime release was "
            f"established for it; checked here in onnxruntime {checked_in}"
        )
    return (
        f"IR version {ir_version}, opset {opset}: loads in onnxruntime {first[0]} and later, "
        f"older releases refuse its IR version (onnxruntime-android is versioned alike, not "
        f"run here; onnxruntime-mobile takes only .ort files); checked here in onnxruntime "
        f"{checked_in}"
    )


def _drop_exporter_debug_records(model) -> None:
    """torch's exporter annotates every node with its Python stack trace, FX node and
    module path. The traces name this machine's install paths: they leaked into the
    shipped file and made its size and sha256 depend on where the package was installed
    (13 KB between two checkouts). Runtimes never read them."""
    for node in model.graph.node:
        del node.metadata_props[:]
    for function in model.functions:
        for node in function.node:
            del node.metadata_props[:]


def _int32_biases(model) -> None:
    """Give each Conv and Gemm whose input and weight come from DequantizeLinear an int32
    bias behind its own DequantizeLinear (scale = input scale x weight scale, zero point 0),
    the form of QDQ convolution ONNX Runtime fuses into QLinearConv / QGemm. torch writes the
    bias as float. onnxruntime 1.31 quantizes such a bias itself when it loads the file (its
    WeightBiasQuantization pass); 1.18.0, the oldest release that loads the file, does not,
    so it ran every convolution and Gemm as float ops between the Q/DQ pairs, and 1.31's
    Runtime-style .ort conversion (for the NNAPI / Core ML providers of a reduced build)
    failed in that pass (2026-12-07). With the bias in the file, 1.31's logits are the same."""
    from onnx import helper, numpy_helper

    made_by = {out: node for node in model.graph.node for out in node.output}
    initializers = {init.name: init for init in model.graph.initializer}
    bias_nodes, replaced = [], Counter()  # bias name -> int32 copies made of it
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm") or len(node.input) < 3:
            continue
        x, w, bias = made_by.get(node.input[0]), made_by.get(node.input[1]), node.input[2]
        from_dq = all(d is not None and d.op_type == "DequantizeLinear" for d in (x, w))
        if bias not in initializers or not from_dq:
            continue
        x_scale = numpy_helper.to_array(initializers[x.input[1]])  # () per tensor
        w_scale = numpy_helper.to_array(initializers[w.input[1]])  # (C_out,) per channel
        float_bias = numpy_helper.to_array(initializers[bias])  # (C_out,)
        if x_scale.size != 1 or w_scale.shape != float_bias.shape:
            continue  # not the per-tensor x per-channel pair ONNX Runtime fuses
        scale = (x_scale * w_scale).astype(np.float32)
        quantized = np.rint(float_bias.astype(np.float64) / scale)
        quantized = np.clip(quantized, -(2**31), 2**31 - 1).astype(np.int32)  # int32 bias
        # a bias two nodes share (a module called twice) gets one int32 copy per node: each
        # in steps of its own node's input scale, under names of its own
        copy = f"_{replaced[bias]}" if replaced[bias] else ""  # "" for the first
        quantized_name = f"{bias}_int32{copy}"
        names = [quantized_name, f"{quantized_name}_scale", f"{quantized_name}_zero_point"]
        for name, array in zip(names, (quantized, scale, np.zeros_like(quantized)), strict=True):
            model.graph.initializer.append(numpy_helper.from_array(array, name))
        dequantized = f"{quantized_name}_dequantized"
        bias_nodes.append(
            helper.make_node("DequantizeLinear", names, [dequantized], f"{node.name}_bias", axis=0)
        )
        node.input[2] = dequantized
        replaced[bias] += 1
    # the new nodes read only initializers: placed first, the graph stays in order
    nodes = [*bias_nodes, *model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    # a float bias another node still reads (one whose input is not quantized) stays
    read = {name for node in model.graph.node for name in node.input}
    kept = [i for i in model.graph.initializer if i.name not in replaced or i.name in read]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)


def _opset(model) -> int:
    return next(int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _fused_int8_ops(path: Path) -> dict:
    """Which int8 kernels ONNX Runtime's CPU provider turns the QDQ pairs into."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        fused = int8_kernels(onnx.load(options.optimized_model_filepath))
    if not fused:
        raise ExportError(f"{path}: ONNX Runtime runs no int8 kernel for this QDQ graph")
    return {"ort_int8_kernels": fused}


def int8_kernels(optimized: onnx.ModelProto) -> dict[str, int]:
    """The int8 kernels in a graph ONNX Runtime optimized (ORT_ENABLE_EXTENDED), by op."""
    fused = Counter(n.op_type for n in optimized.graph.node if n.op_type.startswith("QLinear"))
    fused.update(n.op_type for n in optimized.graph.node if n.op_type in ("QGemm", "ConvInteger"))
    return dict(sorted(fused.items()))


def embedded(path: Path) -> dict[str, str]:
    """The model's metadata_props by the keys an ArtifactLabel has, as ONNX Runtime reads
    them (onnxruntime-android's OrtSession.getMetadata().getCustomMetadata() reads the same
    map). Only those keys, as the other formats' readers: a tool that adds its own (an
    optimizer's version, a registry's id) adds nothing to what the file says of itself."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    stored = session.get_modelmeta().custom_metadata_map
    return {key: stored[key] for key in LABEL_KEYS if key in stored}


class OnnxRunner:
    """An .onnx file in an ONNX Runtime CPU session."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1  # one sequential graph: no parallel branches
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.runtime = f"onnxruntime {package_version('onnxruntime')} (CPUExecutionProvider)"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        feed = {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}
        (out,) = self.session.run([OUTPUT_NAME], feed)
        return out  # (N, 1)


def load(path: Path, threads: int | None = None) -> OnnxRunner:
    """Open an ONNX Runtime session with `threads` intra-op threads (per session)."""
    return OnnxRunner(path, threads)
