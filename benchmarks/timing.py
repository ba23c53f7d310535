"""Latency of one runner: load time, warm-up, then timed single-image calls, in rounds.

Every runtime is timed the same way: the input is prepared once, each call is
timed on its own with `time.perf_counter_ns`, and the percentiles come from
the raw samples (no averaging away the tail that p99 is meant to show).

The timed calls are split into rounds, and the harness makes each round a pass
over every artifact (in a rotated order). A shared machine drifts over a
run; timed one after the other, the first artifact and the last would see
different machines and their ratio would carry the drift. Interleaved, each
artifact samples the whole run, and the p50 of each round shows how much the
figure moved while it was measured.

Beside the samples, the calling thread's CPU time over the timed calls divided
by their wall time says how undisturbed they were. At one thread every runtime
here computes on the calling thread, so a call that is never preempted keeps
it near 1.0, and a neighbour taking the core pulls it down while inflating the
latencies (report.md flags such rows). The calling thread alone, because other
threads of this process (a previous runtime's pool still spinning) would
otherwise hide a preemption.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from melanoma import config_checks as checks
from melanoma.config_checks import MAX_RUNS, MAX_THREADS

log = logging.getLogger(__name__)
THROUGHPUT_BATCH = 32  # batch for the optional throughput figure (dynamic-batch artifacts only)
# At one thread, CPU/wall below this means the process waited for the core for over
# a tenth of the timed wall time: the row's latencies are inflated by a neighbour.
PREEMPTED_BELOW = 0.9
# With more threads the calling thread may also wait for its pool: 0.94 was seen on a quiet
# machine (int8 .pte, 2 threads); a preempted one read 0.16. Below this, flagged as likely.
POOL_WAIT_BELOW = 0.5


@dataclass(frozen=True)
class TimingConfig:
    runs: int = 200  # timed batch-1 calls per artifact and thread count, over all rounds
    warmup: int = 20  # untimed calls first in each round: first calls allocate, page in, JIT
    throughput_runs: int = 20  # timed batch-32 calls (first round); 0 skips throughput
    rounds: int = 4  # passes over every artifact; each times about runs / rounds calls

    def __post_init__(self) -> None:
        checks.at_least(self, 1, "runs", "rounds", maximum=MAX_RUNS)
        checks.at_least(self, 0, "warmup", "throughput_runs", maximum=MAX_RUNS)


@dataclass(frozen=True)
class Latency:
    load_ms: float  # loading the artifact into its runtime, threads already set
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    runs: int
    warmup: int
    throughput_ips: float | None  # images/s at batch 32 (median call), None if not measured
    runtime_threads: int | None = None  # threads the loaded runtime reports using, if it says
    cpu_per_wall: float | None = None  # calling thread's CPU / wall time, lowest of the rounds
    p50_by_round_ms: tuple[float, ...] = ()  # the p50 of each round's calls, in round order

    def percentiles(self) -> dict[str, float]:
        return {"p50": self.p50_ms, "p90": self.p90_ms, "p99": self.p99_ms}


def usable_cores() -> int:
    """Cores this process may run on: a container or `taskset` can pin it to fewer than
    os.cpu_count(), and "all" from the machine's count timed 2 threads on 1 core, unflagged."""
    if hasattr(os, "sched_getaffinity"):  # Linux; macOS and Windows have no affinity mask here
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parse_threads(text: str, cpu_count: int | None = None) -> tuple[int, ...]:
    """'1,all' -> (1, usable_cores()); duplicates (e.g. on a 1-core machine) are dropped."""
    cores = cpu_count or usable_cores()
    counts: list[int] = []
    for part in text.split(","):
        part = part.strip().lower()
        if part == "all":
            value = cores
        elif part.isascii() and part.isdigit() and 1 <= int(part) <= MAX_THREADS:
            value = int(part)
        else:
            raise ValueError(
                f"bad thread count {part!r} in {text!r}: use integers 1..{MAX_THREADS} or 'all'"
            )
        if value not in counts:
            counts.append(value)
    if max(counts) > cores:
        # Allowed (a container may see fewer cores than it may use), but such rows time
        # threads competing for cores: eager PyTorch at 3 threads on 2 cores ran 3.5x slower.
        log.warning(
            "--threads %s: more threads than the %d cores this process may run on; those rows "
            "time oversubscription, not speed",
            max(counts),
            cores,
        )
    return tuple(counts)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Set torch's intra-op pool (eager and the lite interpreter share it), restore after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def time_calls(
    call: Callable[[], object],
    runs: int,
    warmup: int,
    wall_ns: Callable[[], int] = time.perf_counter_ns,
    cpu_ns: Callable[[], int] = time.thread_time_ns,  # the calling thread's CPU time
) -> tuple[np.ndarray, float | None]:
    """Run `call` warmup times untimed, then `runs` times.

    Returns each timed call's ms, and the calling thread's CPU time over the
    timed calls divided by their wall time (None if no time passed).
    """
    for _ in range(warmup):
        call()
    samples = np.empty(runs, dtype=np.int64)
    cpu_start, wall_start = cpu_ns(), wall_ns()
    for i in range(runs):
        start = wall_ns()
        call()
        samples[i] = wall_ns() - start
    wall = wall_ns() - wall_start
    cpu_per_wall = (cpu_ns() - cpu_start) / wall if wall > 0 else None
    return samples / 1e6, cpu_per_wall


def split_runs(runs: int, rounds: int) -> list[int]:
    """Timed calls per round: 200 over 4 is [50, 50, 50, 50]; never an empty round."""
    rounds = max(1, min(rounds, runs))
    return [len(part) for part in np.array_split(np.arange(runs), rounds)]


@dataclass(frozen=True)
class Round:
    """One round of one runner: a fresh load, warm-up, then its share of the timed calls."""

    load_ms: float
    samples_ms: np.ndarray
    cpu_per_wall: float | None
    runtime_threads: int | None
    throughput_ips: float | None  # only measured in the first round


def time_round(
    load: Callable[[], Callable[[np.ndarray], np.ndarray]],
    single: np.ndarray,
    batch: np.ndarray | None,
    runs: int,
    config: TimingConfig,
    probe: Callable[[object], int | None] = lambda runner: None,
) -> Round:
    """Load a runner (timed), then time `runs` batch-1 calls and, if `batch` is given,
    batch-32 calls.

    single: (1, 3, 32, 32) float32; batch: (32, 3, 32, 32) float32 or None.
    The caller has already set the thread count for this runtime; `probe(runner)`
    reads back how many threads the runtime really has.
    """
    start = time.perf_counter_ns()
    runner = load()
    load_ms = (time.perf_counter_ns() - start) / 1e6
    ms, cpu_per_wall = time_calls(lambda: runner(single), runs, config.warmup)
    throughput = None
    if batch is not None and config.throughput_runs > 0:
        batch_ms, _ = time_calls(lambda: runner(batch), config.throughput_runs, warmup=3)
        throughput = len(batch) / (float(np.median(batch_ms)) / 1e3)
    return Round(load_ms, ms, cpu_per_wall, probe(runner), throughput)


def combine(rounds: list[Round], config: TimingConfig) -> Latency:
    """One latency row from a runner's rounds: percentiles over all their calls."""
    ms = np.concatenate([r.samples_ms for r in rounds])
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    ratios = [r.cpu_per_wall for r in rounds if r.cpu_per_wall is not None]
    return Latency(
        load_ms=rounds[0].load_ms,  # first round's; not cold: the accuracy pass loaded it already
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        mean_ms=float(ms.mean()),
        min_ms=float(ms.min()),
        runs=len(ms),
        warmup=config.warmup,
        throughput_ips=rounds[0].throughput_ips,
        runtime_threads=rounds[0].runtime_threads,
        cpu_per_wall=min(ratios) if ratios else None,  # one preempted round flags the row
        p50_by_round_ms=tuple(float(np.median(r.samples_ms)) for r in rounds),
    )


def runtime_threads(runner: object) -> int | None:
    """The thread count a loaded runner's runtime reports, read back rather than assumed.

    ExecuTorch runners expose their threadpool size as `threads`; ONNX Runtime
    runners hold a `session` whose options carry intra_op_num_threads (0 means
    ORT's default, one per physical core); eager PyTorch and the lite
    interpreter run on torch's process-wide pool. A runner whose `threads` is None
    (Core ML, which picks its own threads and compute units) gives None: torch's
    count would claim a setting that runtime never received.
    """
    if hasattr(runner, "threads"):  # its own pool; None: the runtime does not say (Core ML)
        return runner.threads if isinstance(runner.threads, int) else None
    session = getattr(runner, "session", None)
    if session is not None and hasattr(session, "get_session_options"):
        return session.get_session_options().intra_op_num_threads or None
    import torch

    return torch.get_num_threads()
