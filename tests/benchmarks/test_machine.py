"""benchmarks/machine: what a report says the numbers were measured on."""

import os

from melanoma.benchmarks import machine
from melanoma.benchmarks.machine import cpu_model, machine_info
from melanoma.benchmarks.timing import usable_cores


def test_names_this_cpu_and_a_matmul_yardstick_per_thread_count():
    info = machine_info((1,))
    assert info["cpu"] == cpu_model() and info["cpu"] not in ("", "unknown")
    assert info["logical_cores"] == usable_cores() <= os.cpu_count()
    assert info["load_average_1m"] == info["load_average_1m"]  # a number, not NaN
    (gmacs,) = info["torch_matmul_gmacs_per_s"].values()
    assert list(info["torch_matmul_gmacs_per_s"]) == ["1"] and gmacs > 0


def test_one_matmul_yardstick_per_thread_count_and_the_one_minute_load(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 2.5, 3.5))  # 1, 5 and 15 minutes
    info = machine_info((1, 2))
    assert list(info["torch_matmul_gmacs_per_s"]) == ["1", "2"]
    assert info["load_average_1m"] == 1.5


def test_cores_are_those_this_process_may_run_on(monkeypatch):
    """Under taskset or a container's cpuset, "--threads all" and the report's core count
    are the cores left to the process, not the machine's."""
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert machine_info((1,))["logical_cores"] == 1


def test_an_arm_board_is_named_by_its_hardware_line(tmp_path, monkeypatch):
    """A Raspberry Pi's /proc/cpuinfo has no "model name", only a capitalized "Hardware"."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\n")
    monkeypatch.setattr(machine, "Path", lambda _: cpuinfo)
    assert cpu_model() == "BCM2835"
