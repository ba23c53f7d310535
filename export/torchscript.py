"""TorchScript `.ptl` for the PyTorch Mobile lite interpreter (`org.pytorch:pytorch_android_lite`).

fp32 only. `optimize_for_mobile` needs a torch built with XNNPACK, which the
official x86 wheels are not; there the frozen scripted module (BatchNorm folded
into the convolutions) is what gets saved, and the manifest says which path ran.
The bytecode is kept at a version that pytorch_android_lite 1.13.1, the last
PyTorch Mobile release for Android, can read: torch 1.13.1's lite interpreter, the
same release, ran this project's .ptl with torch 2.13's outputs
(`python -m melanoma.benchmarks.other_runtime`; README, "Which runtime releases load a file").

No int8: the converted QAT program is a Q/DQ graph; traced into TorchScript it
runs as fp32 reference math, not int8 kernels, and labelling that int8 would be
false. A real int8 lite-interpreter model would need a separate FX/eager QAT with
quantized::* (qnnpack) ops, which is a different model from the one the other
targets ship.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melanoma.export.base import LABEL_KEYS, ExportError, as_input

if TYPE_CHECKING:
    from melanoma.export.base import ArtifactLabel, ExportModel

NAME = "torchscript"
SUFFIX = ".ptl"
PRECISIONS = ("fp32",)
NOT_OFFERED = {
    "int8": "not offered: a TorchScript trace of the QAT Q/DQ graph runs fp32 reference "
    "math, not int8 kernels; use executorch, onnx or coreml for int8"
}
FP32_TOLERANCE = 1e-4  # max |logit - eager float logit| on the sample images
# The newest bytecode torch writes in a zip archive (kProducedBytecodeVersion 0x8 in
# caffe2/serialize/versions.h; 0x9 only switched the container to flatbuffers): the
# export backports anything newer to it.
MAX_BYTECODE_VERSION = 8
# What the loader of 1.13.1 accepts, which the manifest states: kMaxSupportedBytecodeVersion
# 0x9 in the torch 1.13.1 wheel's torch/include/caffe2/serialize/versions.h.
ANDROID_MAX_BYTECODE_VERSION = 9
ANDROID_RUNTIME = "org.pytorch:pytorch_android_lite:1.13.1"


def export(
    model: ExportModel,
    example_inputs: tuple,
    out_path: Path,
    precision: str,
    label: ArtifactLabel | None = None,
) -> dict:
    """Script, optimize or freeze, save for the lite interpreter; backport if needed.
    `label`'s facts are saved as extra files, one per key (archive records extra/<key>)."""
    import torch
    from torch.jit.mobile import _backport_for_mobile_to_buffer, _get_model_bytecode_version

    if precision not in PRECISIONS:
        raise ValueError(f"torchscript offers {', '.join(PRECISIONS)}, not {precision}")
    scripted = torch.jit.script(model.eval())
    if torch._C._is_xnnpack_enabled():
        from torch.utils.mobile_optimizer import optimize_for_mobile

        module, path_ran = optimize_for_mobile(scripted), "optimize_for_mobile"
    else:
        module = torch.jit.freeze(scripted)
        path_ran = "frozen scripted module (this torch has no XNNPACK for optimize_for_mobile)"
    # In memory, then one plain write: torch's file writer, on a full disk, throws from a
    # C++ destructor and aborts the process (no error line, a temp folder left behind).
    # From a buffer the records sit under "archive/" whatever the file is called, so the
    # same model gives the same bytes (and sha256) on every export.
    extra_files = label.facts() if label else {}
    saved = module._save_to_buffer_for_lite_interpreter(_extra_files=extra_files)
    written = _get_model_bytecode_version(io.BytesIO(saved))
    if written > MAX_BYTECODE_VERSION:
        saved = _backport_for_mobile_to_buffer(io.BytesIO(saved), MAX_BYTECODE_VERSION)
        if not saved:
            raise ExportError(
                f"{out_path}: cannot backport bytecode {written} to {MAX_BYTECODE_VERSION}"
            )
    Path(out_path).write_bytes(_without_source_ranges(saved))
    version = _get_model_bytecode_version(str(out_path))
    return {
        "path": path_ran,
        "bytecode_version": int(version),
        "bytecode_version_produced": int(written),
        "android_runtime": ANDROID_RUNTIME,
        "max_bytecode_version_android": ANDROID_MAX_BYTECODE_VERSION,
        "operators": sorted(_operators(out_path)),
        "int8": NOT_OFFERED["int8"],
    }


def _without_source_ranges(saved: bytes) -> bytes:
    """Every record but the *.debug_pkl ones: those map the scripted code to the Python
    files it came from, by absolute path, so they named this machine's install paths and
    made the bytes depend on where the package was installed. Both loaders treat them as
    optional. torch's own writer keeps the record alignment its readers expect, and writes
    its own serialization id."""
    import torch

    reader = torch._C.PyTorchFileReader(io.BytesIO(saved))
    stripped = io.BytesIO()
    writer = torch._C.PyTorchFileWriter(stripped)
    for name in reader.get_all_records():
        if not name.endswith(".debug_pkl") and name != ".data/serialization_id":
            data = reader.get_record(name)
            writer.write_record(name, data, len(data))
    writer.write_end_of_file()
    return stripped.getvalue()


def _operators(path: Path) -> set[str]:
    """Root operators the Android runtime must provide (for a selective build)."""
    from torch.jit.mobile import _export_operator_list, _load_for_lite_interpreter

    return set(_export_operator_list(_load_for_lite_interpreter(str(path))))


def embedded(path: Path) -> dict[str, str]:
    """The .ptl's extra files by the keys an ArtifactLabel has, a key the file lacks left out:
    the extra/<key> records that PyTorch Mobile's LiteModuleLoader.load(path, extraFiles,
    device) and torch.jit.load(path, _extra_files=...) fill their map from, read with torch's
    own archive reader (no code in the file is loaded; torch.jit.load is deprecated)."""
    import torch

    reader = torch._C.PyTorchFileReader(str(path))
    return {
        key: reader.get_record(f"extra/{key}").decode()
        for key in LABEL_KEYS
        if reader.has_record(f"extra/{key}")
    }


class LiteRunner:
    """A .ptl in the lite interpreter (torch.jit.mobile), as PyTorch Mobile runs it."""

    def __init__(self, path: Path, threads: int | None = None):
        import torch
        from torch.jit.mobile import _load_for_lite_interpreter

        if threads:
            # The lite interpreter has no pool of its own: this is torch's
            # process-wide intra-op pool, shared with everything else in the process.
            torch.set_num_threads(threads)
        self.module = _load_for_lite_interpreter(str(path))
        self.runtime = f"torch {torch.__version__} lite interpreter"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.module(torch.from_numpy(as_input(batch))).numpy()  # (N, 1)


def load(path: Path, threads: int | None = None) -> LiteRunner:
    """Load a .ptl in the lite interpreter; `threads` sets torch's process-wide pool."""
    return LiteRunner(path, threads)
