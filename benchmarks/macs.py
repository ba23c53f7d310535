"""Multiply-accumulates of the PyTorch reference model, and what a run achieves of them.

MACs are counted from the float model, not the artifact: every target runs the
same graph, so one count holds for all rows. Only conv and linear layers are
counted; BatchNorm folds into the conv at export and ReLU/pooling are a
rounding error next to them.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from melanoma.benchmarks.timing import torch_threads


def count_macs(model: nn.Module, example: torch.Tensor) -> int:
    """MACs of one forward pass of `example` ((1, 3, 32, 32)) through conv and linear layers."""
    total = 0

    def conv_hook(module: nn.Conv2d, inputs, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        for handle in handles:
            handle.remove()
    return total


def gmacs_per_s(macs: int, latency_ms: float) -> float:
    """Achieved GMAC/s of a model taking `latency_ms` per call."""
    return macs / (latency_ms / 1e3) / 1e9


def matmul_peak_gmacs(threads: int, size: int = 512, runs: int = 10) -> float:
    """Best fp32 GMAC/s of a size x size torch matmul at `threads`: a yardstick for GMAC/s.

    The caller's torch thread count is restored. Best-of-runs, because on a
    shared machine the slow runs measure the neighbours, not the hardware.
    """
    gen = torch.Generator().manual_seed(0)  # not the caller's random stream
    a, b = torch.randn(size, size, generator=gen), torch.randn(size, size, generator=gen)
    with torch_threads(threads):
        torch.mm(a, b)  # warm-up
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter_ns()
            torch.mm(a, b)
            best = min(best, time.perf_counter_ns() - start)
    return size**3 / (best / 1e9) / 1e9
