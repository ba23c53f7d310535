"""MACs are counted by hand for the reference architecture, and GMAC/s follows from latency."""

from types import SimpleNamespace

import torch
from torch import nn

from melanoma.benchmarks import macs
from melanoma.benchmarks.macs import count_macs, gmacs_per_s, matmul_peak_gmacs
from melanoma.model import CNNConfig, SmallCNN


def test_count_macs_matches_hand_count(hand_macs):
    for widths in [(32, 64, 128), (8, 16)]:
        model = SmallCNN(CNNConfig(widths=widths))
        assert count_macs(model, torch.zeros(1, 3, 32, 32)) == hand_macs(widths)
    assert hand_macs((32, 64, 128)) == 38_633_600


def test_count_macs_counts_grouped_and_non_square_convs_and_wide_linears_by_hand():
    """SmallCNN has none of these, but count_macs takes any model: a depthwise or 1x3
    conv, or a head with several outputs, must not be over- or under-counted."""
    model = nn.Sequential(
        nn.Conv2d(4, 8, kernel_size=(1, 3), padding=(0, 1), groups=2),  # (1, 8, 6, 6) out
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )
    conv = 8 * 6 * 6 * (4 // 2) * 1 * 3  # output elements x inputs per group x kernel
    assert count_macs(model, torch.zeros(1, 4, 6, 6)) == conv + 5 * 8


def test_count_macs_leaves_no_hooks_and_the_weights_and_statistics_unchanged():
    """The benchmark counts MACs of the model it then measures: a forward pass in train
    mode would move its BatchNorm statistics and so its predictions."""
    model = SmallCNN().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_macs(model, torch.rand(1, 3, 32, 32))
    assert all(not m._forward_hooks for m in model.modules())
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0, msg=key)


def test_gmacs_per_s_and_peak():
    assert gmacs_per_s(2_000_000, 1.0) == 2.0  # 2 MMAC in 1 ms
    # Not at 1 before: under xdist or OMP_NUM_THREADS=1 torch is at 1 already, and a
    # yardstick that left the pool at its own count would pass as one that restored it.
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert matmul_peak_gmacs(1, size=64, runs=2) > 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_matmul_yardstick_runs_at_the_thread_count_asked_for(monkeypatch):
    """machine_info reports one figure per thread count: each must be measured at it."""
    asked = torch.get_num_threads() + 1
    seen = []
    real_mm = torch.mm

    def mm(a, b):
        seen.append(torch.get_num_threads())
        return real_mm(a, b)

    monkeypatch.setattr(torch, "mm", mm)
    matmul_peak_gmacs(asked, size=16, runs=2)
    assert seen == [asked] * 3  # the warm-up and both runs


def test_the_matmul_yardstick_is_size_cubed_macs_over_the_fastest_run(monkeypatch):
    """A fake clock makes the figure exact: a 64 x 64 matmul is 64**3 MACs, and the
    fastest of the runs (the slow ones measure the neighbours) is the one divided by."""
    readings_ns = iter([0, 4_000_000, 10_000_000, 11_000_000, 20_000_000, 23_000_000])
    clock = SimpleNamespace(perf_counter_ns=lambda: next(readings_ns))
    monkeypatch.setattr(macs, "time", clock)  # only the yardstick's clock
    # three runs: 4 ms, 1 ms, 3 ms
    assert matmul_peak_gmacs(1, size=64, runs=3) == 64**3 / 1e-3 / 1e9


def test_the_matmul_yardstick_leaves_the_callers_random_stream_alone():
    before = torch.get_rng_state()
    matmul_peak_gmacs(1, size=16, runs=1)
    assert torch.equal(torch.get_rng_state(), before)
