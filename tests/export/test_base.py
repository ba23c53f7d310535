"""export/base: the program every exporter starts from, and native stderr kept off the result."""

import logging
import os
import sys

import numpy as np
import pytest
import torch

from melanoma.export.base import (
    LABEL_KEYS,
    ArtifactLabel,
    NotRunnableHere,
    RuntimeFailure,
    as_input,
    as_program,
    load_runner,
    native_stderr_to_log,
    read_embedded,
)
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


def test_a_module_in_training_mode_is_exported_as_it_scores():
    """Right after training the module is in training mode: the program must score with
    the running BatchNorm statistics, as the checkpoint does, not the batch's own."""
    model = SmallCNN(CNNConfig(widths=(4, 8, 8)))  # training mode
    program = as_program(model, example_inputs(2))
    x = torch.randn(5, 3, 32, 32)
    torch.testing.assert_close(program.module()(x), model.eval()(x))


@pytest.mark.parametrize("shape", [(1, 4, 32, 32), (2, 1, 32, 32), (3, 32, 32), (1, 3, 64, 64)])
def test_an_input_that_is_not_n_3_32_32_is_refused(shape):
    """A .pte or .ptl scores a 1-channel or 64x64 input without complaint, and wrongly."""
    with pytest.raises(ValueError, match=r"the models take \(N, 3, 32, 32\)"):
        as_input(np.zeros(shape, np.float32))


def test_onnx_runtime_refusing_a_file_is_a_runtime_failure(tmp_path):
    """ONNX Runtime's errors derive from Exception only: one it raises on an unreadable
    file must be a failed check, not a traceback that stops every later target."""
    from melanoma.export import onnx as onnx_target

    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(RuntimeFailure, match=r"^\w+: ") as raised:
        load_runner(onnx_target, broken)
    cause = raised.value.__cause__
    assert not isinstance(cause, (RuntimeError, ValueError, TypeError, OSError))
    assert str(raised.value).startswith(type(cause).__name__) and "\n" not in str(raised.value)


def test_a_label_embeds_terms_and_origin_and_leaves_out_an_unstated_attribution():
    """Every format embeds the same keys; an attribution that was not stated is left out,
    not written as a string "None" an app would show as a credit."""
    stated = ArtifactLabel("m", "int8", "CC-BY-NC-4.0", "credit", "0" * 64, "m.pte.manifest.json")
    assert stated.facts() == {  # each value under its own key, in LABEL_KEYS' order
        "model_name": "m",
        "precision": "int8",
        "license": "CC-BY-NC-4.0",
        "attribution": "credit",
        "source_checkpoint_sha256": "0" * 64,
        "manifest": "input contract and thresholds: m.pte.manifest.json",
    }
    assert tuple(stated.facts()) == LABEL_KEYS
    unstated = ArtifactLabel("m", "fp32", "not stated", None, "0" * 64, "m.pte.manifest.json")
    assert "attribution" not in unstated.facts()
    assert unstated.facts()["license"] == "not stated"


@pytest.mark.parametrize("target", ["executorch", "onnx", "coreml", "torchscript"])
def test_a_file_no_reader_can_read_is_a_runtime_failure_naming_why(tmp_path, target):
    """The benchmark reads the embedded licence of whatever file a manifest names: a reader's
    refusal must be one line it can set aside, never a traceback (nor a .pte loader's abort:
    the bench checks a .pte's header first)."""
    from melanoma.export.registry import get_target

    module = get_target(target)
    broken = tmp_path / f"model{module.SUFFIX}"
    broken.write_bytes(b"ET12 but not a program at all")
    with pytest.raises(RuntimeFailure) as raised:
        read_embedded(module, broken)
    assert "\n" not in str(raised.value)


class _Target:
    """A target module whose runtime refuses every call with a multi-line native error."""

    def __init__(self, load_error=None):
        self.load_error = load_error

    def load(self, path, threads=None):
        if self.load_error:
            raise self.load_error
        return self

    runtime = "test runtime"

    def __call__(self, batch):
        raise RuntimeError("method->execute() failed with error 0x10\nnative context")


def test_a_runtime_error_in_a_call_is_one_line_naming_its_type():
    runner = load_runner(_Target(), "model.pte")
    assert runner.runtime == "test runtime"
    with pytest.raises(RuntimeFailure) as raised:
        runner(np.zeros((1, 3, 32, 32), np.float32))
    assert str(raised.value) == "RuntimeError: method->execute() failed with error 0x10"


def test_a_missing_runtime_is_not_a_runtime_failure():
    """Core ML off macOS is skipped (⏭), not failed (❎): NotRunnableHere passes through."""
    with pytest.raises(NotRunnableHere):
        load_runner(_Target(NotRunnableHere("Core ML runs on macOS only")), "model.mlpackage")


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


@pytest.mark.parametrize("target", ["executorch", "onnx"])
def test_loading_a_runner_again_reads_no_package_metadata(tmp_path, monkeypatch, target):
    """The benchmark times each round's load; importlib.metadata parses the runtime's METADATA
    file on every call (about 1 ms, a third of a .pte's load), which is no part of loading it."""
    from importlib import metadata

    from melanoma.export.registry import get_target

    module = get_target(target)
    model = SmallCNN(CNNConfig(widths=(4, 8, 8))).eval()
    path = tmp_path / f"tiny{module.SUFFIX}"
    module.export(model, example_inputs(2), path, "fp32")
    first = module.load(path, threads=1)  # may read it: the runner names the runtime's version
    reads = []
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: reads.append(name) or real(name))
    runners = [module.load(path, threads=1) for _ in range(2)]
    assert reads == []
    assert [r.runtime for r in runners] == [first.runtime] * 2
