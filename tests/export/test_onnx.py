"""ONNX: checker, dynamic batch, opset, QDQ int8 fused by ONNX Runtime, and the round trip."""

import pathlib
from importlib import metadata

import numpy as np
import onnx
import pytest

from melanoma.export import onnx as onnx_target
from melanoma.export.base import LABEL_KEYS


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


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_file_carries_its_manifests_terms_and_origin(exported, manifest_facts, precision):
    """A .onnx copied into an app without its manifest still states its licence and source,
    in metadata_props, as ONNX Runtime reads them."""
    import onnxruntime as ort

    result = exported["onnx", precision]
    assert result.manifest.license == "CC-BY-NC-4.0"  # the real data's: a licence to carry
    session = ort.InferenceSession(str(result.artifact), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map == manifest_facts(result)
    assert onnx_target.embedded(result.artifact) == manifest_facts(result)


def test_embedded_reads_only_the_labels_keys_as_the_other_formats_do(
    exported, manifest_facts, tmp_path
):
    """A tool that adds its own metadata_props to a .onnx (an optimizer's version, a
    registry's id) added those to what embedded() returned; the .pte, .ptl and .mlpackage
    readers return only the ArtifactLabel keys, whatever else their file holds."""
    result = exported["onnx", "fp32"]
    model = onnx.load(str(result.artifact))
    model.metadata_props.add(key="optimized_by", value="onnxslim 0.1")
    model.metadata_props.add(key="registry_id", value="team/model:3")
    edited = tmp_path / result.artifact.name
    onnx.save(model, str(edited))
    assert onnx_target.embedded(edited) == manifest_facts(result)


@pytest.mark.parametrize(
    "dropped",
    [
        {"attribution"},  # what a checkpoint without an attribution exports
        set(LABEL_KEYS),  # an export from before 2026-12-07, which embedded none
    ],
)
def test_embedded_returns_only_the_labels_keys_the_file_has(
    exported, manifest_facts, tmp_path, dropped
):
    """A file without some of the keys (no attribution to state) or all of them (an older
    export) reads as stating only what it has, as the other formats' readers do: not a
    KeyError from the reader."""
    result = exported["onnx", "fp32"]
    model = onnx.load(str(result.artifact))
    kept = [prop for prop in model.metadata_props if prop.key not in dropped]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    edited = tmp_path / result.artifact.name
    onnx.save(model, str(edited))
    expected = {k: v for k, v in manifest_facts(result).items() if k not in dropped}
    assert onnx_target.embedded(edited) == expected


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


def _two_convs_sharing_a_bias(
    second_quantized: bool = True, bias: tuple = (0.3, -0.2)
) -> onnx.ModelProto:
    """x -> Q/DQ -> Conv -> Q/DQ -> Conv, both Convs reading one weight and one float bias
    initializer (a module called twice), each behind inputs of another scale; without
    `second_quantized` the second Conv reads the first's float output."""
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).integers(-127, 128, (2, 2, 1, 1)).astype(np.int8)
    arrays = {
        "x_scale": np.array(0.02, np.float32),
        "y_scale": np.array(0.05, np.float32),
        "zero": np.array(0, np.int8),
        "w": weight,
        "w_scale": np.array([0.01, 0.02], np.float32),
        "w_zero": np.zeros(2, np.int8),
        "b": np.array(bias, np.float32),
    }
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "zero"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "zero"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w", "w_scale", "w_zero"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd", "b"], ["y1"], name="first"),
        helper.make_node("QuantizeLinear", ["y1", "y_scale", "zero"], ["y1q"]),
        helper.make_node("DequantizeLinear", ["y1q", "y_scale", "zero"], ["y1d"]),
        helper.make_node(
            "Conv", ["y1d" if second_quantized else "y1", "wd", "b"], ["y"], name="second"
        ),
    ]
    shape = [1, 2, 2, 2]
    graph = helper.make_graph(
        nodes,
        "shared_bias",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(array, name) for name, array in arrays.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)


def test_int32_biases_of_a_bias_two_convs_share():
    """Each Conv's bias gets its own int32 initializer, in steps of its own input's scale;
    the second one written under the same names made the file fail onnx.checker."""
    import onnxruntime as ort

    model = _two_convs_sharing_a_bias()
    x = np.random.default_rng(1).uniform(-2, 2, (1, 2, 2, 2)).astype(np.float32)
    float_bias = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx_target._int32_biases(model)
    onnx.checker.check_model(model, full_check=True)
    int32_bias = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    initializers = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    made_by = {out: node for node in model.graph.node for out in node.output}
    for conv, x_scale in (("first", 0.02), ("second", 0.05)):
        (node,) = (n for n in model.graph.node if n.name == conv)
        bias_scale = initializers[made_by[node.input[2]].input[1]]
        np.testing.assert_allclose(bias_scale, np.float32(x_scale) * initializers["w_scale"])
    (want,), (got,) = float_bias.run(None, {"x": x}), int32_bias.run(None, {"x": x})
    # one bias step (0.05 x 0.02 = 1e-3) moves the second Conv's output by at most that
    assert np.abs(got - want).max() <= 1e-3


def test_a_float_bias_another_node_still_reads_is_kept():
    """The second Conv's input is not quantized: it keeps the float bias, which removing
    with the first Conv's left it reading no initializer (onnx.checker failed)."""
    model = _two_convs_sharing_a_bias(second_quantized=False)
    onnx_target._int32_biases(model)
    onnx.checker.check_model(model, full_check=True)
    (second,) = (n for n in model.graph.node if n.name == "second")
    assert second.input[2] == "b"


def test_an_int32_bias_is_the_float_bias_rounded_to_the_nearest_step():
    """Rounded down instead, every bias moved by up to a whole step, always the same way,
    which the logit tolerance of the round trip does not see; nearest keeps it within half."""
    bias = (0.30077, -0.20033)  # 1503.85 and -500.83 steps of the first Conv, off the grid
    model = _two_convs_sharing_a_bias(bias=bias)
    onnx_target._int32_biases(model)
    initializers = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    made_by = {out: node for node in model.graph.node for out in node.output}
    for conv in ("first", "second"):
        (node,) = (n for n in model.graph.node if n.name == conv)
        int32_name, scale_name, zero_name = made_by[node.input[2]].input
        quantized, scale = initializers[int32_name], initializers[scale_name]
        assert quantized.dtype == np.int32 and not initializers[zero_name].any()
        float_bias = np.array(bias, np.float32).astype(np.float64)
        np.testing.assert_array_equal(quantized, np.rint(float_bias / scale))
        assert np.all(np.abs(quantized * np.float64(scale) - float_bias) <= scale / 2)
