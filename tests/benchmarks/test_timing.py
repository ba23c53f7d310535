"""Timing helpers: thread parsing, per-call samples, the measured figures (never their values)."""

import os

import numpy as np
import pytest
import torch

from melanoma.benchmarks import timing
from melanoma.benchmarks.timing import (
    MAX_THREADS,
    Round,
    TimingConfig,
    combine,
    parse_threads,
    split_runs,
    time_calls,
    time_round,
    torch_threads,
)


def test_parse_threads_all_and_duplicates():
    assert parse_threads("1,all", cpu_count=8) == (1, 8)
    assert parse_threads("1,all", cpu_count=1) == (1,)  # a one-core machine times once
    assert parse_threads(" 2 , 4 ", cpu_count=8) == (2, 4)


def test_more_threads_than_cores_is_timed_but_warned_about(caplog):
    assert parse_threads("1,3", cpu_count=2) == (1, 3)
    assert "--threads 3: more threads than the 2 cores this process may run on" in caplog.text
    caplog.clear()
    parse_threads("1,all", cpu_count=2)
    assert caplog.text == ""
    assert parse_threads(str(MAX_THREADS), cpu_count=8) == (MAX_THREADS,)


def test_all_means_the_cores_this_process_may_run_on(monkeypatch, caplog):
    """Pinned to one of two cores (taskset -c 0), "1,all" timed a 2-thread row on one core:
    eager PyTorch ran 1.6x slower than at 1 thread, with no oversubscription warning."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert parse_threads("1,all") == (1,)
    assert parse_threads("1,2") == (1, 2)
    assert "--threads 2: more threads than the 1 cores this process may run on" in caplog.text


# 99999999999999999999 overflowed torch.set_num_threads; "²" is a digit int() cannot parse.
@pytest.mark.parametrize(
    "bad", ["0", "x", "1,,2", "-1", "1.5", str(MAX_THREADS + 1), "99999999999999999999", "²"]
)
def test_parse_threads_rejects(bad):
    with pytest.raises(ValueError, match="thread count"):
        parse_threads(bad, cpu_count=4)


def test_torch_threads_restores():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_torch_threads_restores_a_count_other_than_the_one_it_set():
    # Under OMP_NUM_THREADS=1 `before` is 1 too, so the test above cannot tell restoring
    # from leaving torch at the row's count (restoring `threads` survived it): a 2-thread
    # row would then leave the pool at 2 for the next runtime's 1-thread row.
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_time_calls_counts_warmup_and_runs():
    calls = []
    samples, _ = time_calls(lambda: calls.append(1), runs=7, warmup=3)
    assert len(calls) == 10 and samples.shape == (7,) and np.all(samples >= 0)


@pytest.mark.parametrize("cpu_share", [1.0, 0.0])
def test_cpu_per_wall_tells_a_call_that_computes_from_one_that_waits(cpu_share):
    """On fake clocks: each call takes 2 ms of wall time, all of it on the CPU or none
    (a process preempted for its calls reads 0)."""
    clock = {"wall": 0, "cpu": 0}

    def call():
        clock["wall"] += 2_000_000
        clock["cpu"] += int(cpu_share * 2_000_000)

    samples, cpu_per_wall = time_calls(
        call, runs=5, warmup=2, wall_ns=lambda: clock["wall"], cpu_ns=lambda: clock["cpu"]
    )
    assert samples.tolist() == [2.0] * 5 and cpu_per_wall == cpu_share


def test_a_round_loads_once_and_reports_ordered_percentiles_and_throughput():
    loads, calls = [], []

    def run(batch):
        calls.append(len(batch))
        return np.zeros((len(batch), 1), np.float32)

    def load():
        loads.append(1)
        return run

    single, batch = np.zeros((1, 3, 32, 32), np.float32), np.zeros((32, 3, 32, 32), np.float32)
    config = TimingConfig(runs=30, warmup=2, throughput_runs=4)
    latency = combine([time_round(load, single, batch, 30, config)], config)
    assert loads == [1]
    # untimed warm-up calls first (2 single, 3 batch), then the timed ones
    assert calls.count(1) == 2 + 30 and calls.count(32) == 3 + 4
    assert latency.min_ms <= latency.p50_ms <= latency.p90_ms <= latency.p99_ms
    assert latency.runs == 30 and latency.warmup == 2 and latency.load_ms >= 0
    assert latency.throughput_ips > 0 and latency.cpu_per_wall > 0
    assert time_round(load, single, None, 3, config).throughput_ips is None
    skipped = TimingConfig(runs=3, warmup=0, throughput_runs=0)  # --throughput-runs 0
    assert time_round(load, single, batch, 3, skipped).throughput_ips is None
    assert calls.count(32) == 3 + 4  # and no batch was run


def test_load_time_is_in_milliseconds(monkeypatch):
    """On a fake clock where loading takes 3 ms: the report's load column is ms, as named."""
    ticks = iter([0, 3_000_000])  # perf_counter_ns before and after load()
    monkeypatch.setattr(timing.time, "perf_counter_ns", lambda: next(ticks))
    monkeypatch.setattr(timing, "time_calls", lambda *a, **k: (np.array([1.0]), 1.0))
    single = np.zeros((1, 3, 32, 32), np.float32)
    config = TimingConfig(runs=1, warmup=0, throughput_runs=0)
    assert time_round(lambda: lambda x: x, single, None, 1, config).load_ms == 3.0


def test_runs_are_split_over_rounds_without_an_empty_one():
    assert split_runs(200, 4) == [50, 50, 50, 50]
    assert split_runs(5, 4) == [2, 1, 1, 1]
    assert split_runs(3, 10) == [1, 1, 1]  # capped at one call per round
    assert split_runs(7, 1) == [7]


def test_rounds_combine_into_one_row_that_keeps_each_rounds_p50():
    config = TimingConfig(runs=6, warmup=0, rounds=2)
    rounds = [
        Round(9.0, np.array([1.0, 2.0, 12.0]), 0.95, 1, 500.0),  # skewed: median 2, mean 5
        Round(1.0, np.array([4.0, 5.0, 6.0]), 0.5, 1, None),
    ]
    latency = combine(rounds, config)
    assert latency.runs == 6 and latency.p50_ms == 4.5 and latency.mean_ms == 5.0
    assert latency.min_ms == 1.0
    assert combine(rounds[::-1], config).min_ms == 1.0  # over every round, not the first's
    assert latency.p50_by_round_ms == (2.0, 5.0)  # each round's median, not its mean
    assert latency.load_ms == 9.0  # the first, cold load
    assert latency.throughput_ips == 500.0
    assert latency.cpu_per_wall == 0.5  # one preempted round flags the row


def test_the_figures_are_the_percentiles_and_the_rate_they_name(monkeypatch):
    """Skewed samples, where median, mean and the tail percentiles all differ."""
    config = TimingConfig(runs=10, warmup=0, rounds=2)
    slow_tail = [1.0] * 9 + [101.0]
    rounds = [Round(1.0, np.array(part), 1.0, 1, None) for part in (slow_tail[:5], slow_tail[5:])]
    latency = combine(rounds, config)
    # numpy's linear percentiles over 10 sorted samples: p90 at position 8.1, p99 at 8.91
    figures = (latency.p50_ms, latency.p90_ms, latency.p99_ms)
    assert figures == pytest.approx((1.0, 11.0, 92.0), abs=1e-9)
    assert latency.mean_ms == 11.0
    # throughput: images per second of the median batch call
    monkeypatch.setattr(timing, "time_calls", lambda *a, **k: (np.array([2.0, 4.0, 100.0]), 1.0))
    batch = np.zeros((32, 3, 32, 32), np.float32)
    config = TimingConfig(runs=3, warmup=0, throughput_runs=3)
    round_ = time_round(lambda: lambda x: x, batch[:1], batch[:8], 3, config)
    assert round_.throughput_ips == 8 / 0.004  # a test split of 8 images: a batch of 8


def test_a_runtime_that_takes_no_thread_count_reports_none_not_torchs():
    # Core ML ignores `threads` (it picks its own threads and compute units); reporting
    # torch.get_num_threads() for it claimed the row's setting had been applied.
    from melanoma.export.coreml import CoreMLRunner

    with torch_threads(1):
        assert timing.runtime_threads(object.__new__(CoreMLRunner)) is None
        # eager PyTorch and the lite interpreter do run on torch's pool
        assert timing.runtime_threads(object()) == 1
