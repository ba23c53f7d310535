"""What the numbers were measured on: the machine (package versions: checkpoint.package_versions,
the same list every checkpoint and manifest records)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from melanoma.benchmarks.macs import matmul_peak_gmacs
from melanoma.benchmarks.timing import usable_cores


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo on Linux, else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def machine_info(threads: tuple[int, ...]) -> dict:
    """CPU, cores, OS, Python, the load when the run started, and torch's matmul GMAC/s.

    The load average is there because a benchmark on a shared machine is only
    as quiet as its neighbours; the matmul figure is a yardstick to hold
    achieved GMAC/s against (torch's BLAS, not the hardware's peak).
    """
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "logical_cores": usable_cores(),  # what --threads all means
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m": load,
        "torch_matmul_gmacs_per_s": {str(t): round(matmul_peak_gmacs(t), 2) for t in threads},
    }
