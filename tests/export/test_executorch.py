"""ExecuTorch .pte: XNNPACK lowering, the runtime round trip on real images, size and threads."""

import os

import numpy as np
import pytest

from melanoma.export import base, executorch
from melanoma.export.base import native_stderr_to_log


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_round_trip_in_executorch_runtime(exported, assert_round_trip, precision):
    result = exported["executorch", precision]
    assert result.status == "passed" and result.artifact.suffix == ".pte"
    assert_round_trip(executorch, result.artifact, precision)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_takes_batches_above_fifteen(exported, references, precision):
    # XNNPACK lowering used to leave memory planned for at most 15 rows.
    runner = executorch.load(exported["executorch", precision].artifact)
    batch = np.concatenate([references.inputs, references.inputs])  # (128, 3, 32, 32)
    assert runner(batch).shape == (128, 1)
    assert exported["executorch", precision].manifest.target_info["max_batch"] >= 128


def test_a_batch_over_the_planned_bound_names_it(exported, references):
    runner = executorch.load(exported["executorch", "int8"].artifact)
    assert runner.max_batch == exported["executorch", "int8"].manifest.input.max_batch == 128
    too_many = np.resize(references.inputs, (129, 3, 32, 32))
    with native_stderr_to_log(show_on_failure=False):
        with pytest.raises(RuntimeError, match="batch of 129 rows; this .pte takes at most 128"):
            runner(too_many)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_planned_memory_fits_the_largest_batch_and_no_more(exported, precision):
    # ExecuTorch plans memory for the largest batch the program takes; the app
    # runs one image at a time, so the bound must stay small (1024 rows was 14 MB).
    info = exported["executorch", precision].manifest.target_info
    input_bytes = info["max_batch"] * 3 * 32 * 32 * 4
    assert input_bytes <= info["planned_memory_bytes"] <= 1.25 * input_bytes
    assert info["planned_memory_bytes"] < 2 * 2**20


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_only_plumbing_left_outside_the_delegate(exported, precision):
    info = exported["executorch", precision].manifest.target_info
    assert info["backend"] == "XnnpackBackend"
    # The flatten's view and the batch size read; every conv, pool and linear is delegated.
    assert set(info["ops_outside_delegate"]) <= {
        "executorch_prim::et_view.default",
        "aten::sym_size.int",
    }


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_manifest_lists_the_operator_table_of_the_file(exported, precision):
    from executorch.exir._serialize._program import deserialize_pte_binary

    artifact = exported["executorch", precision]
    program = deserialize_pte_binary(artifact.artifact.read_bytes())
    plans = getattr(program, "program", program).execution_plan
    plan = next(plan for plan in plans if plan.name == "forward")
    table = sorted(f"{op.name}.{op.overload or 'default'}" for op in plan.operators)
    assert artifact.manifest.target_info["ops_outside_delegate"] == table


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_file_carries_its_manifests_terms_and_origin(exported, manifest_facts, precision):
    """A .pte copied into an app without its manifest still states its licence and source:
    a constant method per fact, run in the ExecuTorch runtime (the app's Module.execute)."""
    from executorch.runtime import Runtime

    result = exported["executorch", precision]
    expected = manifest_facts(result)
    program = Runtime.get().load_program(result.artifact)
    assert program.method_names == {"forward", *expected}
    assert {key: program.load_method(key).execute([]) for key in expected} == {
        key: [value] for key, value in expected.items()
    }
    assert executorch.embedded(result.artifact) == expected


def test_int8_is_at_most_30_percent_of_fp32(exported):
    fp32 = exported["executorch", "fp32"].manifest.file.size_bytes
    int8 = exported["executorch", "int8"].manifest.file.size_bytes
    assert int8 <= 0.30 * fp32


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_set_the_runtime_threadpool(exported, threads):
    """The benchmark times each thread count it is given, not always one thread."""
    from executorch.extension.pybindings import portable_lib

    before = portable_lib._threadpool_get_thread_count()
    try:
        artifact = exported["executorch", "fp32"].artifact
        assert executorch.load(artifact, threads=threads).threads == threads
    finally:
        portable_lib._unsafe_reset_threadpool(before)


def test_putting_the_threadpool_back_prints_nothing(exported, capfd):
    """The benchmark's threadpool_kept resets the pool after its rows; the runtime's
    "Resetting threadpool to N threads" line ended up on the console."""
    from executorch.extension.pybindings import portable_lib

    artifact = exported["executorch", "fp32"].artifact
    before = portable_lib._threadpool_get_thread_count()
    capfd.readouterr()
    with executorch.threadpool_kept():
        executorch.load(artifact, threads=1 if before != 1 else 2)
    assert portable_lib._threadpool_get_thread_count() == before
    assert "threadpool" not in capfd.readouterr().err.lower()


def test_native_runtime_chatter_goes_to_the_log(capfd, caplog):
    # The C++ runtime writes to file descriptor 2, below Python's sys.stderr.
    with caplog.at_level("INFO", logger=base.__name__):
        with native_stderr_to_log():
            os.write(2, b"[cpuinfo_utils.cpp:87] Failed to open midr file\n")
    assert "midr" not in capfd.readouterr().err
    assert "Failed to open midr file" in caplog.text


def test_native_runtime_output_is_shown_when_loading_fails(capfd):
    with pytest.raises(RuntimeError), native_stderr_to_log():
        os.write(2, b"[method.cpp:1] Missing operator\n")
        raise RuntimeError("load_method failed")
    assert "Missing operator" in capfd.readouterr().err


def test_manifest_names_the_runtimes_that_load_the_file(exported):
    """An app pins its ExecuTorch AAR; a .pte has no forward-compatibility guarantee."""
    info = exported["executorch", "int8"].manifest.target_info
    assert info["runtime_compatibility"].startswith("written by executorch 1.5.1;")  # pinned
    stated = info["runtime_compatibility"]
    assert "its 1.5.1 runtime, later 1.5 patches and at least the next minor or major" in stated
    # ExecuTorch promises nothing older, but does not forbid it: 1.0.0 and 1.4.1 ran these
    assert "older runtimes are not promised" in stated and "not in older" not in stated


def test_older_runtimes_are_stated_as_not_promised_not_as_refused():
    stated = executorch.runtime_compatibility("1.5.1")
    assert "at least the next minor or major release; older runtimes are not promised" in stated
    assert "not in older runtimes" not in stated


def test_an_input_of_another_size_is_refused_not_scored(exported, references):
    """The runtime itself scores a 64x64 batch (P 0.60 for a photo it gives 0.95 at 32x32)."""
    runner = executorch.load(exported["executorch", "int8"].artifact)
    photo = references.inputs[:1]
    with pytest.raises(ValueError, match=r"input of shape \(1, 3, 64, 64\); the models take"):
        runner(photo.repeat(2, axis=2).repeat(2, axis=3))
    strided = np.zeros((1, 3, 32, 64), dtype=np.float32)  # a view ExecuTorch would misread
    strided[..., ::2] = photo
    np.testing.assert_array_equal(runner(strided[..., ::2]), runner(photo))


def test_a_model_xnnpack_takes_nothing_of_is_refused_and_not_written(tmp_path):
    """A .pte with nothing delegated runs on ExecuTorch's portable kernels, slowly, and needs
    kernels the app's runtime does not register: it must fail the export, not ship."""
    import torch

    from melanoma.model import example_inputs

    class CumSum(torch.nn.Module):  # an op XNNPACK has no kernel for
        def forward(self, x):
            return torch.cumsum(x, dim=1)

    out = tmp_path / "model.pte"
    with pytest.raises(base.ExportError, match="nothing was delegated to XNNPACK"):
        executorch.export(CumSum(), example_inputs(2), out, "fp32")
    assert not out.exists()


def test_an_export_leaves_the_callers_logging_unconfigured(tmp_path):
    """ExecuTorch's XNNPACK partitioner calls logging.basicConfig on import, and its lowering
    through logging.debug(): a notebook's own basicConfig after an export did nothing,
    silently (a fresh process: pytest's log handlers would make basicConfig a no-op here)."""
    import subprocess
    import sys

    code = (
        "import torch; from melanoma.export import executorch; "
        "from melanoma.model import CNNConfig, SmallCNN, example_inputs; "
        "model = SmallCNN(CNNConfig(widths=(4, 8))).eval(); "
        f"path = {str(tmp_path / 'm.pte')!r}; executorch.export(model, example_inputs(2), path, "
        "'fp32'); executorch.load(path)(example_inputs(1)[0].numpy())"
    )
    users_logging = (
        "; import logging; logging.basicConfig(level=logging.INFO, format='mine: %(message)s')"
        "; logging.getLogger('user').info('kept')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code + users_logging], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "mine: kept" in done.stderr.splitlines()
