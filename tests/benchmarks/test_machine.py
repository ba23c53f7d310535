"""benchmarks/machine: what a report says the numbers were measured on."""

import os

from melanoma.benchmarks.machine import cpu_model, machine_info


def test_names_this_cpu_and_a_matmul_yardstick_per_thread_count():
    info = machine_info((1,))
    assert info["cpu"] == cpu_model() and info["cpu"] not in ("", "unknown")
    assert info["logical_cores"] == os.cpu_count()
    assert info["load_average_1m"] == info["load_average_1m"]  # a number, not NaN
    (gmacs,) = info["torch_matmul_gmacs_per_s"].values()
    assert list(info["torch_matmul_gmacs_per_s"]) == ["1"] and gmacs > 0
