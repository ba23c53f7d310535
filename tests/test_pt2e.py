"""melanoma.pt2e: the prepared QAT graph folds BatchNorm, fake-quantizes, and trains a copy;
the converted graph's int8 ranges."""

import torch

from melanoma.checkpoint import load_checkpoint
from melanoma.model import CNNConfig, SmallCNN, example_inputs
from melanoma.pt2e import (
    MAX_BATCH,
    export_dynamic_batch,
    fold_batchnorm,
    int8_ranges,
    prepare_qat_model,
)
from melanoma.qat_checkpoint import load_qat


def test_prepared_graph_fake_quantizes_and_folds_bn(quick_checkpoint):
    model = load_checkpoint(quick_checkpoint).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prepared = prepare_qat_model(model, example_inputs(4))
    fake_quants = [m for m in prepared.modules() if type(m).__name__.endswith("FakeQuantize")]
    convs_and_linears = sum(
        isinstance(m, torch.nn.Conv2d | torch.nn.Linear) for m in model.modules()
    )
    assert len(fake_quants) > convs_and_linears  # a weight observer each, plus activations
    ops = {str(n.target) for n in prepared.graph.nodes if n.op == "call_function"}
    assert not any("batch_norm" in op for op in ops), ops  # folded with the running stats

    x = torch.randn(8, 3, 32, 32)
    folded = fold_batchnorm(load_checkpoint(quick_checkpoint).model)
    torch.testing.assert_close(folded(x), model(x), atol=1e-4, rtol=1e-4)

    optimizer = torch.optim.SGD(prepared.parameters(), lr=0.1)
    prepared(x).sum().backward()
    optimizer.step()
    for name, value in model.state_dict().items():  # QAT trains a copy, never the float model
        assert torch.equal(value, before[name]), name


def test_int8_ranges_are_where_the_program_clips():
    program = load_qat("reference-supervised").program
    (low, high), (logit_low, logit_high) = int8_ranges(program)
    run = program.module()
    x = torch.linspace(low, high, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32)  # (N, C, H, W)
    darker = x.clone()
    darker[:, 0, :8, :8] = low - 1.0  # below what the int8 input represents
    torch.testing.assert_close(run(darker), run(darker.clamp(low, high)), rtol=0, atol=0)
    lighter = x.clone()
    lighter[:, 0, :8, :8] = low + 1.0  # inside the range, the same patch moves the logit
    assert not torch.allclose(run(lighter), run(darker))
    logits = torch.cat([run(torch.full((1, 3, 32, 32), v)) for v in (low, 0.0, high)])
    assert logits.min() >= logit_low and logits.max() <= logit_high
    # The edges as a runtime computes them, in float32, are inside the stated range too.
    output = next(n for n in program.graph.nodes if n.op == "output").args[0][0]
    _, scale, zero_point, quant_min, quant_max, dtype = output.args
    edges = torch.ops.quantized_decomposed.dequantize_per_tensor(
        torch.tensor([quant_min, quant_max], dtype=dtype),
        scale,
        zero_point,
        quant_min,
        quant_max,
        dtype,
    ).tolist()  # as Python floats: a float32 tensor would compare in float32
    assert logit_low <= edges[0] and edges[1] <= logit_high
    assert edges[0] - logit_low < 2e-6 and logit_high - edges[1] < 2e-6  # and no wider


def test_a_batch_of_one_example_still_exports_every_batch_from_one_to_max_batch():
    """The app runs one image at a time and the benchmark batches of 100: a batch-1 example must
    not specialize the batch dimension, and the program's range must start at 1."""
    torch.manual_seed(0)
    model = SmallCNN(CNNConfig(widths=(4, 8))).eval()
    program = export_dynamic_batch(model, example_inputs(1))
    (batch,) = program.range_constraints.values()
    assert (batch.lower, batch.upper) == (1, MAX_BATCH)
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x))
        torch.testing.assert_close(program.module()(x[:1]), model(x[:1]))


def test_train_mode_keeps_the_models_dropout_probability():
    """torchao's move_exported_model_to_train writes p=0.5 into every dropout (its pattern's
    literal): a freeze_bn=False QAT dropped out 0.5 of SmallCNN's features, not its 0.3."""
    from torchao.quantization.pt2e import move_exported_model_to_eval

    from melanoma.pt2e import move_to_train

    def dropouts(graph_module):
        return [
            tuple(n.args[1:])
            for n in graph_module.graph.nodes
            if n.target == torch.ops.aten.dropout.default
        ]

    model = SmallCNN(CNNConfig(widths=(8,), dropout=0.3))
    prepared = prepare_qat_model(model, example_inputs(2), fold_bn=True)
    assert dropouts(prepared) == [(0.3, True)]
    move_exported_model_to_eval(prepared)  # as QAT's calibration does, then back to train
    move_to_train(prepared)
    assert dropouts(prepared) == [(0.3, True)]


def test_converted_weights_are_int8_per_channel_as_every_int8_manifest_states():
    """Every int8 manifest says per_channel: true (export.contract); per-tensor weights from a
    quantizer config flipped to is_per_channel=False passed every other test here."""
    from melanoma.pt2e import convert_qat_model

    torch.manual_seed(0)
    model = SmallCNN(CNNConfig(widths=(4, 8))).eval()
    prepared = prepare_qat_model(model, example_inputs(2))
    prepared(torch.randn(8, 3, 32, 32))  # calibrate the observers once
    program = convert_qat_model(prepared)
    ops = [str(n.target) for n in program.graph.nodes if n.op == "call_function"]
    weights = [n for n in program.graph.nodes if "dequantize_per_channel" in str(n.target)]
    layers = sum(isinstance(m, torch.nn.Conv2d | torch.nn.Linear) for m in model.modules())
    assert len(weights) == layers, ops  # one per conv and linear weight
    assert all(n.args[-1] == torch.int8 for n in weights)  # int8 codes, symmetric per channel


# A library user's logging setup after our call; in a fresh process, since pytest's own log
# handlers would make basicConfig a no-op here (and ExecuTorch's import runs once a process).
USERS_LOGGING_AFTER = (
    "; import logging; logging.basicConfig(level=logging.INFO, format='mine: %(message)s')"
    "; logging.getLogger('user').info('kept')"
)


def test_the_int8_quantizer_leaves_the_callers_logging_unconfigured():
    """Importing ExecuTorch's XNNPACK quantizer calls logging.basicConfig, which made a
    notebook's own basicConfig after a qat_finetune do nothing, silently."""
    import subprocess
    import sys

    code = "from melanoma.pt2e import xnnpack_qat_quantizer; xnnpack_qat_quantizer()"
    done = subprocess.run(
        [sys.executable, "-c", code + USERS_LOGGING_AFTER], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "mine: kept" in done.stderr.splitlines()
