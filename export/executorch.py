"""ExecuTorch `.pte` lowered to XNNPACK, the runtime of the Android app.

Reads top to bottom, like ExecuTorch's examples/xnnpack/aot_compiler.py:
torch.export (dynamic batch) -> to_edge_transform_and_lower(XnnpackPartitioner)
-> to_executorch -> write the buffer. int8 lowers the converted QAT program,
whose Q/DQ pairs XNNPACK turns into int8 kernels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melanoma.export.base import (
    LABEL_KEYS,
    ExportError,
    as_input,
    as_program,
    native_stderr_to_log,
    package_version,
)
from melanoma.pt2e import root_logging_kept

if TYPE_CHECKING:
    from executorch.exir.schema import ExecutionPlan

    from melanoma.export.base import ArtifactLabel, ExportModel

NAME = "executorch"
SUFFIX = ".pte"
PRECISIONS = ("fp32", "int8")
FP32_TOLERANCE = 1e-4  # max |logit - eager float logit| on the sample images
# int8 is compared with the converted QAT program, whose Q/DQ ops run as float
# reference math; XNNPACK's int8 kernels round intermediate requantizations their
# own way, which moves a logit by one step of the output quantization now and then
# (at most 1 step on 2,600 real images, 3% of them). 3 steps leaves a margin.
INT8_TOLERANCE_STEPS = 3


def export(
    model: ExportModel,
    example_inputs: tuple,
    out_path: Path,
    precision: str,
    label: ArtifactLabel | None = None,
) -> dict:
    """Lower to XNNPACK and write the .pte; returns the ops left outside the delegate.
    `label`'s facts become constant methods, one per key, each returning its string."""
    # ExecuTorch's partitioner calls logging.basicConfig when imported, and its lowering logs
    # through logging.debug(), which does the same whenever the root logger has no handler.
    with root_logging_kept():
        return _lower_and_write(model, example_inputs, out_path, label.facts() if label else {})


def _lower_and_write(model, example_inputs: tuple, out_path: Path, facts: dict) -> dict:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = as_program(model, example_inputs)
    ranges = dict(program.range_constraints)
    # constant_methods: exir's documented place for "config information", which its LLM
    # exports use; 1.5.1 has no other (metadata in NamedData is an open RFC, #19384).
    edge = to_edge_transform_and_lower(
        program, partitioner=[XnnpackPartitioner()], constant_methods=facts or None
    )
    lowered = edge.exported_program()
    _restore_ranges(lowered, ranges)
    if not any(_name(n.target) == "executorch_call_delegate" for n in lowered.graph.nodes):
        raise ExportError(f"{out_path}: nothing was delegated to XNNPACK")
    executorch_program = edge.to_executorch()
    Path(out_path).write_bytes(executorch_program.buffer)
    plans = executorch_program.executorch_program.execution_plan
    plan = next(plan for plan in plans if plan.name == "forward")  # not a constant method
    return {
        "backend": "XnnpackBackend",
        "runtime_compatibility": runtime_compatibility(package_version("executorch")),
        "ops_outside_delegate": ops_outside_delegate(plan),
        "max_batch": _max_batch(ranges),
        "planned_memory_bytes": int(sum(plan.non_const_buffer_sizes)),
    }


def runtime_compatibility(version: str) -> str:
    """Which runtimes load the file, by ExecuTorch's runtime compatibility policy
    (runtime/COMPATIBILITY.md): the app must ship one of them, and the manifest is where
    its developer looks. The policy promises the writing release and at least the next
    non-patch one. Older runtimes are not promised, which is not the same as refused: the
    1.4.1 runtime ran this project's 1.5.1 files with 1.5.1's logits
    (`python -m melanoma.benchmarks.other_runtime`; README)."""
    major, minor = version.split(".")[:2]
    return (
        f"written by executorch {version}; guaranteed to load in its {version} runtime, later "
        f"{major}.{minor} patches and at least the next minor or major release; older runtimes "
        f"are not promised (no forward-compatibility guarantee); checked here in the "
        f"{version} runtime"
    )


def _restore_ranges(lowered, ranges: dict) -> None:
    # While XNNPACK's passes re-trace the graph, the fake-tensor convolution calls
    # torch._C._select_conv_backend, whose batch-size test is decided with the
    # trace hint (2) and narrows the shared ShapeEnv's batch range to [2, 15]. Memory
    # planning then sizes every buffer for 15 rows, and the runtime refuses a
    # batch of 16 or more (torch 2.13 + executorch 1.5.1). That guard only picks
    # a conv implementation, so put back the range the program was exported with.
    for node in lowered.graph.nodes:
        value = node.meta.get("val")
        for size in getattr(value, "shape", ()):
            if hasattr(size, "node"):
                env = size.node.shape_env
                for symbol, bounds in ranges.items():
                    env.var_to_range[symbol] = bounds
                return


def _max_batch(ranges: dict) -> int | None:
    uppers = [int(bounds.upper) for bounds in ranges.values()]
    return min(uppers) if uppers else None


def _name(target) -> str:
    schema = getattr(target, "_schema", None)  # aten and edge ops: "aten::view_copy" + overload
    if schema is not None:
        return f"{schema.name}.{schema.overload_name or 'default'}"
    return getattr(target, "__name__", str(target))


def ops_outside_delegate(plan: ExecutionPlan) -> list[str]:
    """The program's operator table: the kernels the app's runtime must register (what a
    selective build lists), e.g. the memory view of the flatten. Read from the program as
    written, after to_executorch has replaced view_copy with executorch_prim::et_view."""
    return sorted({f"{op.name}.{op.overload or 'default'}" for op in plan.operators})


def embedded(path: Path) -> dict[str, str]:
    """The constant methods named by an ArtifactLabel's keys, each run in the ExecuTorch
    runtime (the app's Module.execute(name) returns the same string as an EValue)."""
    from executorch.runtime import Runtime

    with native_stderr_to_log():
        program = Runtime.get().load_program(Path(path))
        names = program.method_names
        return {key: program.load_method(key).execute([])[0] for key in LABEL_KEYS if key in names}


class ExecuTorchRunner:
    """A .pte loaded by the ExecuTorch runtime (pybindings of the C++ runtime, XNNPACK linked)."""

    def __init__(self, path: Path, threads: int | None = None):
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime

        with native_stderr_to_log():
            if threads:
                # XNNPACK runs on the runtime's one process-wide threadpool.
                portable_lib._unsafe_reset_threadpool(threads)
            self.threads = portable_lib._threadpool_get_thread_count()
            program = Runtime.get().load_program(Path(path))
            self.method = program.load_method("forward")
        # Memory is planned for the largest batch; the input's planned sizes are that bound.
        self.max_batch = self.method.metadata.input_tensor_meta(0).sizes()[0]
        self.runtime = f"executorch {package_version('executorch')} runtime (XNNPACK)"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        inputs = [torch.from_numpy(as_input(batch))]
        try:
            (out,) = self.method.execute(inputs)
        except RuntimeError as err:  # the runtime says only "set_inputs() failed, error 0x10"
            if len(batch) > self.max_batch:
                raise RuntimeError(
                    f"a batch of {len(batch)} rows; this .pte takes at most {self.max_batch} "
                    "(its memory is planned for that many; manifest input.max_batch)"
                ) from err
            raise
        # 1.5.1's bindings already return a tensor of its own (checked: a second call left
        # the first result alone); the copy keeps that so if a release hands back the
        # method's planned output memory, which the next call reuses.
        return out.numpy().copy()  # (N, 1)


def load(path: Path, threads: int | None = None) -> ExecuTorchRunner:
    """Load a .pte in the ExecuTorch runtime; `threads` resets its process-wide threadpool."""
    return ExecuTorchRunner(path, threads)


@contextlib.contextmanager
def threadpool_kept() -> Iterator[None]:
    """Put the runtime's process-wide threadpool back to its size before the block (its
    default size if the block creates it): for a caller, such as the benchmark, whose
    loads at other thread counts must not outlast it. No runner may be executing meanwhile:
    resizing the pool is what ExecuTorch calls unsafe."""
    from executorch.extension.pybindings import portable_lib

    with native_stderr_to_log():  # creating the pool prints cpuinfo probes
        before = portable_lib._threadpool_get_thread_count()
    try:
        yield
    finally:
        if portable_lib._threadpool_get_thread_count() != before:
            # the reset prints "Resetting threadpool to N threads" to file descriptor 2,
            # which ended every benchmark of a .pte below its report
            with native_stderr_to_log():
                portable_lib._unsafe_reset_threadpool(before)
