"""melanoma.pt2e: the prepared QAT graph folds BatchNorm, fake-quantizes, and trains a copy."""

import torch

from melanoma.checkpoint import load_checkpoint
from melanoma.model import example_inputs
from melanoma.pt2e import fold_batchnorm, prepare_qat_model


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
