"""MACs are counted by hand for the reference architecture, and GMAC/s follows from latency."""

import torch

from melanoma.benchmarks.macs import count_macs, gmacs_per_s, matmul_peak_gmacs
from melanoma.model import CNNConfig, SmallCNN


def test_count_macs_matches_hand_count(hand_macs):
    for widths in [(32, 64, 128), (8, 16)]:
        model = SmallCNN(CNNConfig(widths=widths))
        assert count_macs(model, torch.zeros(1, 3, 32, 32)) == hand_macs(widths)
    assert hand_macs((32, 64, 128)) == 38_633_600


def test_count_macs_leaves_no_hooks():
    model = SmallCNN()
    count_macs(model, torch.zeros(1, 3, 32, 32))
    assert all(not m._forward_hooks for m in model.modules())


def test_gmacs_per_s_and_peak():
    assert gmacs_per_s(2_000_000, 1.0) == 2.0  # 2 MMAC in 1 ms
    before = torch.get_num_threads()
    assert matmul_peak_gmacs(1, size=64, runs=2) > 0
    assert torch.get_num_threads() == before
