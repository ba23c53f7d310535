"""ONNX: checker, dynamic batch, opset, QDQ int8 fused by ONNX Runtime, and the round trip."""

import pathlib
from importlib import metadata

import numpy as np
import onnx
import pytest

from melanoma.export import onnx as onnx_target


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_round_trip_in_onnx_runtime(exported, assert_round_trip, precision):
    result = exported["onnx", precision]
    assert result.status == "passed"
    assert result.manifest.verification.runtime.startswith("onnxruntime")
    assert_round_trip(onnx_target, result.artifact, precision)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_file_passes_checker_with_dynamic_batch_and_recorded_opset(exported, precision):
    result = exported["onnx", precision]
    model = onnx.load(str(result.artifact))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["logit"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    assert result.manifest.target_info["opset"] == opset


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_file_names_no_path_of_the_machine_that_exported_it(exported, precision):
    """torch's exporter writes each node's stack trace, with install paths, into the file."""
    import melanoma

    data = exported["onnx", precision].artifact.read_bytes()
    install_dir = str(pathlib.Path(melanoma.__path__[0]).parent).encode()
    assert b"stack_trace" not in data and install_dir not in data


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_manifest_names_the_runtimes_that_load_the_file(exported, precision):
    """onnxruntime 1.17 refuses the IR version torch 2.13 writes: an app must know."""
    info = exported["onnx", precision].manifest.target_info
    stated = info["runtime_compatibility"]
    assert stated.startswith(f"IR version {info['ir_version']}, opset {info['opset']}: ")
    assert stated.endswith(f"checked here in onnxruntime {metadata.version('onnxruntime')}")
    assert "loads in onnxruntime 1.18 and later" in stated  # (10, 20): what 1.18.0 ran


def test_a_minimum_onnxruntime_is_stated_only_where_one_was_run():
    stated = onnx_target.runtime_compatibility(10, 20, "1.31.1")
    assert stated.startswith("IR version 10, opset 20: loads in onnxruntime 1.18 and later")
    for unrun in [(10, 21), (11, 20), (9, 19)]:  # 1.18.0 ran opset 20; IR 11 and 9 untried
        stated = onnx_target.runtime_compatibility(*unrun, "1.31.1")
        assert "no minimum onnxruntime release was established" in stated
        assert "loads in" not in stated


def test_int8_is_qdq_and_runs_int8_kernels(exported):
    fp32_ops = {n.op_type for n in onnx.load(str(exported["onnx", "fp32"].artifact)).graph.node}
    int8_ops = {n.op_type for n in onnx.load(str(exported["onnx", "int8"].artifact)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= int8_ops
    assert not {"QuantizeLinear", "DequantizeLinear"} & fp32_ops
    kernels = exported["onnx", "int8"].manifest.target_info["ort_int8_kernels"]
    assert kernels.get("QLinearConv", 0) >= 1


def test_int8_fuses_where_onnxruntime_does_not_quantize_the_bias_itself(exported, tmp_path):
    """onnxruntime 1.18.0, the oldest release that loads the file, has no pass that turns
    a float bias into int32, and so ran every convolution and Gemm as float ops between the
    Q/DQ pairs; 1.31.1 without that pass (WeightBiasQuantization) did the same."""
    import onnxruntime as ort

    result = exported["onnx", "int8"]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    cpu, without_the_pass = ["CPUExecutionProvider"], ["WeightBiasQuantization"]
    ort.InferenceSession(str(result.artifact), options, cpu, disabled_optimizers=without_the_pass)
    fused = onnx_target.int8_kernels(onnx.load(options.optimized_model_filepath))
    assert fused == result.manifest.target_info["ort_int8_kernels"]


def test_int8_converts_to_the_ort_format_for_a_phones_reduced_build(exported, references, tmp_path):
    """The Runtime style is what ONNX Runtime advises for a reduced build with the NNAPI or
    Core ML provider; 1.31.1's converter failed on the int8 file while its biases were float."""
    import onnxruntime as ort
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    from melanoma.export import verify

    convert_onnx_models_to_ort(
        exported["onnx", "int8"].artifact,
        output_dir=tmp_path,
        optimization_styles=[OptimizationStyle.Runtime],
        target_platform="arm",
    )
    (converted,) = tmp_path.glob("*.ort")
    options = ort.SessionOptions()
    options.add_session_config_entry("session.enable_saved_runtime_optimizations", "1")
    session = ort.InferenceSession(str(converted), options, providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logit"], {"input": references.inputs})
    tolerance = verify.tolerance(onnx_target, "int8", references.program)
    assert np.abs(logits - references.logits["int8"]).max() <= tolerance


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_set_the_session(exported, threads):
    """The benchmark times each thread count it is given, not always one thread."""
    runner = onnx_target.load(exported["onnx", "fp32"].artifact, threads=threads)
    assert runner.session.get_session_options().intra_op_num_threads == threads
