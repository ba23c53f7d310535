"""Core ML `.mlpackage` (ML program) for iOS, converted by coremltools from torch.export.

fp32: the float program, computed in float32 (Core ML's default for ML programs
is fp16, which would make the "fp32" label false; float32 runs on the CPU and
GPU, not the Neural Engine). int8: the converted QAT program, whose Q/DQ ops
coremltools maps to int8 weights (constexpr_affine_dequantize) and activation
quantize/dequantize ops: W8A8, which needs iOS 17, with fp16 compute between them.

The Core ML runtime exists only on macOS. Elsewhere the exporter's own check of
the saved package (input/output names and types, input shape range, int8 weights
or no fp16 casts) is what verifies it, and `load` raises NotRunnableHere.
"""

from __future__ import annotations

import contextlib
import io
import json
import platform
import re
import shutil
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melanoma.atomic import write_utf8
from melanoma.errors import first_line
from melanoma.export.base import (
    INPUT_NAME,
    LABEL_KEYS,
    OUTPUT_NAME,
    ExportError,
    NotRunnableHere,
    as_program,
    package_version,
)

if TYPE_CHECKING:
    from melanoma.export.base import ArtifactLabel, ExportModel

NAME = "coreml"
SUFFIX = ".mlpackage"
PRECISIONS = ("fp32", "int8")
COMPUTE_PRECISION = {"fp32": "FLOAT32", "int8": "FLOAT16"}  # ct.precision member per precision
# float32 compute, but never run here (no macOS): Core ML's GPU kernels sum in
# other orders than PyTorch, so the float package gets 10x the other runtimes' 1e-4.
FP32_TOLERANCE = 1e-3
INT8_TOLERANCE_STEPS = 4  # one more output quantization step than XNNPACK: fp16 in between
DEPLOYMENT_TARGET = "iOS17"  # the first with W8A8 (activation quantize) ops
SPEC_ONLY = "spec-only (Core ML runtime needs macOS)"
DEBUG_HANDLE_MAP = "executorch_debug_handle_mapping.json"
# "Running MIL default pipeline:  51%|#####     | 48/95 [00:00<00:00, 475.68 passes/s]"
TQDM_BAR = re.compile(r"[^\r\n]*?\d+%\|[^|\r\n]*\| *\d+/\d+ \[[^\]\r\n]*\]")
CONVERSION_DATE = "com.github.apple.coremltools.conversion_date"


def export(
    model: ExportModel,
    example_inputs: tuple,
    out_path: Path,
    precision: str,
    label: ArtifactLabel | None = None,
) -> dict:
    """Convert to an ML program, save it, and check the saved package's spec. `label`'s
    facts go into the spec's description.metadata."""
    import coremltools as ct

    from melanoma.pt2e import MAX_BATCH

    program = as_program(model, example_inputs).run_decompositions({})
    batch = ct.RangeDim(lower_bound=1, upper_bound=MAX_BATCH, default=1)
    with _without_progress_bars():
        mlmodel = ct.convert(
            program,
            convert_to="mlprogram",
            compute_precision=getattr(ct.precision, COMPUTE_PRECISION[precision]),
            minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET),
            inputs=[ct.TensorType(name=INPUT_NAME, shape=(batch, 3, 32, 32), dtype=np.float32)],
            outputs=[ct.TensorType(name=OUTPUT_NAME, dtype=np.float32)],
        )
    if label is not None:
        _describe(mlmodel, label)
    _save(mlmodel, Path(out_path))
    facts = check_spec(Path(out_path), precision)
    return {
        "deployment_target": DEPLOYMENT_TARGET,
        "compute_precision": COMPUTE_PRECISION[precision].lower(),
        # coremltools warns (hidden without -v) when torch is newer than it was tested
        # with; with outputs unchecked off macOS, the manifest should say so itself.
        "converter_tested_up_to_torch": _tested_torch(),
        **facts,
    }


def _describe(mlmodel, label: ArtifactLabel) -> None:
    """Every fact under its own key in userDefined (what `embedded` reads, as for the other
    formats), and the licence and a one-line description where Xcode's model view shows them."""
    facts = label.facts()
    mlmodel.user_defined_metadata.update(facts)
    mlmodel.license = facts["license"]
    mlmodel.short_description = (
        f"{label.model_name} ({label.precision}): melanoma-vs-nevus logit; {facts['manifest']}"
    )


def embedded(path: Path) -> dict[str, str]:
    """The facts in the package spec's userDefined metadata, by the keys an ArtifactLabel
    has (what coremltools' MLModel(path).user_defined_metadata and Core ML's
    MLModel.modelDescription.metadata[.creatorDefinedKey] read); no runtime needed."""
    import coremltools as ct
    from google.protobuf.message import Error as ProtobufError

    try:
        spec = ct.utils.load_spec(str(path))
    except ProtobufError as err:
        raise ValueError(f"not a readable Core ML package ({first_line(err)})") from None
    stored = spec.description.metadata.userDefined
    return {key: stored[key] for key in LABEL_KEYS if key in stored}


def _tested_torch() -> str | None:
    from coremltools import _deps  # its own record; None if a release moves it

    return getattr(_deps, "_TORCH_MAX_VERSION", None)


@contextlib.contextmanager
def _without_progress_bars():
    """Drop the tqdm bars ct.convert draws on stderr (four per conversion, no switch to
    turn them off); pass on anything else it prints, warnings included."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            yield
    finally:
        for line in re.split(r"[\r\n]+", TQDM_BAR.sub("", captured.getvalue())):
            if line.strip():
                print(line, file=sys.stderr)


def _save(mlmodel, out_path: Path) -> None:
    # coremltools saves ML programs only under a name ending in .mlpackage, and
    # the caller's atomic temp path does not; save beside it, then rename.
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".coreml-") as tmp:
        package = Path(tmp) / "model.mlpackage"
        mlmodel.save(str(package))
        # coremltools adds, for a torch.export source, a map from ExecuTorch debug handles
        # to MIL ops, for profiling ExecuTorch's Core ML delegate. The package's
        # Manifest.json does not list it and Core ML never reads it; it was 23% of the
        # int8 package's bytes.
        (package / DEBUG_HANDLE_MAP).unlink(missing_ok=True)
        _same_bytes_for_the_same_model(package)
        # coremltools leaves model.mlmodel 0600 and its folders 0700: give each the mode a
        # new file or folder gets here (the umask's), or an app build run by another user
        # (a CI runner) cannot read them.
        modes = _umask_modes(Path(tmp))
        for path in [package, *package.rglob("*")]:
            path.chmod(modes[path.is_dir()])
        package.rename(out_path)


def _same_bytes_for_the_same_model(package: Path) -> None:
    """coremltools gives every save fresh random item ids in Manifest.json, stamps the
    spec with the day (conversion_date) and writes its metadata map in hash order, so the
    same model got another sha256 on every export (its weight.bin was the same). Ids from
    each item's path, no date (the manifest's created_utc says when) and a deterministic
    serialization make the package the same bytes each time, as the other targets are."""
    from coremltools.proto import Model_pb2

    manifest = json.loads((package / "Manifest.json").read_text())
    items = manifest["itemInfoEntries"]
    root = package / "Data" / items[manifest["rootModelIdentifier"]]["path"]
    spec = Model_pb2.Model()
    spec.ParseFromString(root.read_bytes())
    spec.description.metadata.userDefined.pop(CONVERSION_DATE, None)
    root.write_bytes(spec.SerializeToString(deterministic=True))
    # An id only has to be unique within its package, which its path is.
    new_ids = {old: str(uuid.uuid5(uuid.NAMESPACE_URL, it["path"])) for old, it in items.items()}
    manifest["itemInfoEntries"] = {new_ids[old]: item for old, item in items.items()}
    manifest["rootModelIdentifier"] = new_ids[manifest["rootModelIdentifier"]]
    # the layout coremltools writes: 4-space indent, keys sorted, a final newline
    write_utf8(package / "Manifest.json", json.dumps(manifest, indent=4, sort_keys=True) + "\n")


def _umask_modes(scratch: Path) -> dict[bool, int]:
    """{is a folder: the mode a new one gets}, read from one of each made in `scratch`."""
    file, folder = scratch / "probe-file", scratch / "probe-folder"
    file.touch()
    folder.mkdir()
    return {False: file.stat().st_mode & 0o777, True: folder.stat().st_mode & 0o777}


def check_spec(path: Path, precision: str) -> dict:
    """Check the saved package: input and output names and types, the input's shape range
    (an ML program's spec records no output shape), int8 weights or no fp16 casts. Its
    "max_batch" is the batch bound the package declares (None: unbounded), read from the
    file, so the manifest states what Core ML will take."""
    import coremltools as ct
    from google.protobuf.message import Error as ProtobufError

    try:
        spec = ct.utils.load_spec(str(path))
    except (ProtobufError, RuntimeError, OSError) as err:  # RuntimeError: a missing model
        raise ExportError(f"{path}: not a readable Core ML package ({first_line(err)})") from None
    inputs, outputs = spec.description.input, spec.description.output
    problems = []
    if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in outputs] != [OUTPUT_NAME]:
        problems.append(f"names {[i.name for i in inputs]} -> {[o.name for o in outputs]}")
    else:
        array_in, array_out = inputs[0].type.multiArrayType, outputs[0].type.multiArrayType
        float32 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
        ranges = [(r.lowerBound, r.upperBound) for r in array_in.shapeRange.sizeRanges]
        if ranges[1:] != [(3, 3), (32, 32), (32, 32)] or ranges[0][0] != 1:
            problems.append(f"input shape ranges {ranges}")
        if array_in.dataType != float32 or array_out.dataType != float32:
            problems.append("input/output not float32")
    ops = _ops(spec)
    if precision == "int8" and not (ops["constexpr_affine_dequantize"] and ops["quantize"]):
        problems.append("no int8 weights or activation quantize ops")
    if precision == "fp32" and ops["cast"]:  # coremltools' fp16 pass brackets ops with casts
        problems.append(f"{ops['cast']} cast ops: the fp32 package computes in float16")
    if problems:
        raise ExportError(f"{path}: Core ML spec check failed: {'; '.join(problems)}")
    return {
        "max_batch": ranges[0][1] if ranges[0][1] > 0 else None,  # -1: no upper bound
        "spec_version": int(spec.specificationVersion),
        "ops": dict(sorted(ops.items())),
        "spec_check": "input/output names and float32 types, input shape range"
        + (", int8 weights and activation quantize ops" if precision == "int8" else ", no casts"),
    }


def _ops(spec) -> Counter:
    ops: Counter = Counter()
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            ops.update(op.type for op in block.operations if op.type != "const")
    return ops


class CoreMLRunner:
    """A .mlpackage run by Core ML through coremltools (macOS only)."""

    threads = None  # Core ML picks its own threads and compute units: no count to report

    def __init__(self, path: Path):
        import coremltools as ct

        # Core ML compiles a package only under a .mlpackage name, and the verifier
        # loads the caller's temp path: run a copy under such a name.
        self._dir = tempfile.TemporaryDirectory(prefix="coreml-")
        package = Path(self._dir.name) / "model.mlpackage"
        shutil.copytree(path, package)
        self.model = ct.models.MLModel(str(package), compute_units=ct.ComputeUnit.ALL)
        self.runtime = f"Core ML via coremltools {package_version('coremltools')}"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self.model.predict({INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)})
        return np.asarray(out[OUTPUT_NAME], dtype=np.float32).reshape(len(batch), 1)


def load(path: Path, threads: int | None = None) -> CoreMLRunner:
    """Load in Core ML (macOS); Core ML picks its own threads and compute units."""
    if platform.system() != "Darwin":
        raise NotRunnableHere(SPEC_ONLY)
    return CoreMLRunner(Path(path))
