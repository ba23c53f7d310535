"""ONNX: checker, dynamic batch, opset, QDQ int8 fused by ONNX Runtime, and the round trip."""

import pathlib
from importlib import metadata

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


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_set_the_session(exported, threads):
    """The benchmark times each thread count it is given, not always one thread."""
    runner = onnx_target.load(exported["onnx", "fp32"].artifact, threads=threads)
    assert runner.session.get_session_options().intra_op_num_threads == threads
