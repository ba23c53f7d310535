"""export/base: the program every exporter starts from, and native stderr kept off the result."""

import logging
import os
import sys

import pytest
import torch

from melanoma.export.base import as_program, native_stderr_to_log
from melanoma.model import CNNConfig, SmallCNN, example_inputs
from melanoma.pt2e import MAX_BATCH


def batch_bound(program: torch.export.ExportedProgram) -> set[int]:
    return {int(bounds.upper) for bounds in program.range_constraints.values()}


def test_a_module_becomes_a_program_with_a_dynamic_batch_up_to_max_batch():
    model = SmallCNN(CNNConfig(widths=(4, 8, 8))).eval()
    program = as_program(model, example_inputs(2))
    assert batch_bound(program) == {MAX_BATCH}
    x = torch.randn(5, 3, 32, 32)  # a batch it was not traced with
    assert torch.equal(program.module()(x), model(x))


def test_a_program_with_another_bound_is_re_exported_and_one_with_this_bound_kept():
    model = SmallCNN(CNNConfig(widths=(4, 8, 8))).eval()
    old_bound = torch.export.Dim("batch", min=1, max=1024)  # what int8 programs once had
    old = torch.export.export(model, example_inputs(2), dynamic_shapes=({0: old_bound},))
    renewed = as_program(old, example_inputs(2))
    assert batch_bound(old) == {1024} and batch_bound(renewed) == {MAX_BATCH}
    x = torch.randn(3, 3, 32, 32)
    assert torch.equal(renewed.module()(x), old.module()(x))
    assert as_program(renewed, example_inputs(2)) is renewed


def write_to_fd_2(text: str) -> None:
    os.write(2, text.encode())  # as native code does, past sys.stderr


def test_native_chatter_goes_to_the_log_when_all_goes_well(capfd, caplog):
    with caplog.at_level(logging.INFO, logger="melanoma.export.base"), native_stderr_to_log():
        write_to_fd_2("Failed to open midr file\n")
        print("from python", file=sys.stderr)
    assert capfd.readouterr().err == ""
    assert "Failed to open midr file" in caplog.text and "from python" in caplog.text


def test_native_chatter_is_printed_when_loading_fails(capfd):
    with pytest.raises(RuntimeError), native_stderr_to_log():
        write_to_fd_2("method load failed: 0x12\n")
        raise RuntimeError("load failed")
    assert "method load failed: 0x12" in capfd.readouterr().err


def test_an_expected_failure_keeps_it_in_the_log(capfd, caplog):
    with (
        caplog.at_level(logging.INFO, logger="melanoma.export.base"),
        pytest.raises(RuntimeError),
        native_stderr_to_log(show_on_failure=False),
    ):
        write_to_fd_2("input 129 rows: refused\n")
        raise RuntimeError("batch refused, as the bench expects")
    assert capfd.readouterr().err == "" and "refused" in caplog.text
