"""Run one artifact in the runtime of the interpreter that runs this file, for other_runtime.py.

It runs in another venv, which holds only that runtime and numpy, not this package: it
imports nothing of melanoma, and is run by path:
`OTHER/bin/python other_runtime_child.py ARTIFACT INPUTS.npy LOGITS.npy OPTIMIZED.onnx`.
It prints one JSON line: the runtime and its version, and what happened ("ran", "refused" with the
runtime's one-line error, or "not installed"); the logits go to LOGITS.npy.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

INPUT_NAME, OUTPUT_NAME = "input", "logit"  # as melanoma.export.base names them


def load_onnx(path: str, optimized_file: str) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    # The graph as this release fuses it (as export/onnx.py counts int8 kernels): an older
    # release may load a file and still run less of it as int8.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = optimized_file
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return lambda batch: session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]


def load_pte(path: str, optimized_file: str) -> Callable[[np.ndarray], np.ndarray]:
    import torch
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(Path(path)).load_method("forward")
    return lambda batch: method.execute([torch.from_numpy(batch)])[0].numpy().copy()


def load_ptl(path: str, optimized_file: str) -> Callable[[np.ndarray], np.ndarray]:
    import torch
    from torch.jit.mobile import _load_for_lite_interpreter  # torch 1.13's path too

    module = _load_for_lite_interpreter(path)
    return lambda batch: module(torch.from_numpy(batch)).detach().numpy()


# suffix -> (the package whose version names the runtime, its module, the loader)
RUNTIMES = {
    ".onnx": ("onnxruntime", "onnxruntime", load_onnx),
    ".pte": ("executorch", "executorch.runtime", load_pte),
    ".ptl": ("torch", "torch", load_ptl),
}


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def run(artifact: str, inputs_file: str, logits_file: str, optimized_file: str) -> dict:
    """What the runtime did with the artifact; the logits, if any, saved to logits_file, and
    for an .onnx the graph as the runtime optimized it to optimized_file."""
    import importlib
    from importlib import metadata

    package, module, load = RUNTIMES[Path(artifact).suffix]
    try:
        importlib.import_module(module)
        runtime = f"{package} {metadata.version(package)}"
    except ImportError as err:
        return {"runtime": package, "status": "not installed", "error": first_line(err)}
    # Everything below is the runtime's own code: what it raises is what it says of the file.
    try:
        runner = load(artifact, optimized_file)
    except Exception as err:
        return {"runtime": runtime, "status": "refused", "error": first_line(err)}
    try:
        logits = runner(np.load(inputs_file))
    except Exception as err:
        return {"runtime": runtime, "status": "failed to run", "error": first_line(err)}
    np.save(logits_file, np.asarray(logits, dtype=np.float32))
    return {"runtime": runtime, "status": "ran", "error": None}


if __name__ == "__main__":
    print(json.dumps(run(*sys.argv[1:5])))
