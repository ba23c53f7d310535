"""Run exported artifacts in another Python's runtime and compare with this one's.

    python -m melanoma.benchmarks.other_runtime --python OTHER_VENV/bin/python \\
        --artifacts DIR [--data PATH] [--n 64] [--json]

Which onnxruntime, executorch or lite-interpreter release loads a file, and whether it
gives this environment's logits, is what an app developer pinning an older runtime needs,
and what the README and the manifests' runtime_compatibility state. OTHER_VENV holds only
that runtime and numpy (`pip install onnxruntime==1.18.0 "numpy<2"`), not this package:
each artifact runs there in a subprocess (other_runtime_child.py) on the exporter's check
images (export/verify.py, normalized as the manifest says), and here in this
environment's runtime. One row per artifact: the other runtime and version, whether it
ran or the one-line error it refused the file with, max |logit diff| against this
runtime, and how many decisions moved at the manifest's default threshold.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from melanoma.cli_options import NonEmptyPath, data_option
from melanoma.cliutil import run, setup_process
from melanoma.errors import UserError, first_line

if TYPE_CHECKING:  # imported where used: --help must not load torch
    from melanoma.benchmarks.subjects import Artifact
    from melanoma.export.verify import Samples
    from melanoma.manifest import Manifest

CHILD = Path(__file__).with_name("other_runtime_child.py")
CHILD_SUFFIXES = (".onnx", ".pte", ".ptl")  # what other_runtime_child.py can run
CHILD_TIMEOUT_S = 600  # an import of torch and one small batch: seconds
CHILD_REPORT_KEYS = {"runtime", "status", "error"}  # what other_runtime_child.py prints


@dataclass(frozen=True)
class Row:
    file: str
    runtime: str  # in the other interpreter, with its version
    status: str  # "ran", "refused", "failed to run", "not installed", "crashed", ...
    error: str | None  # the other runtime's one-line error
    this_runtime: str  # what the logits are compared with
    max_abs_diff: float | None  # max |logit diff| on the images, None if either did not run
    n_logits_differ: int | None  # images whose logit is not this runtime's, bit for bit
    decisions_moved: int | None  # at the manifest's default threshold
    n_images: int
    # int8 .onnx only: the int8 kernels the other release fuses the QDQ graph into (the
    # manifest's ort_int8_kernels are the exporting release's)
    int8_kernels: dict[str, int] | None = None


def interpreter_version(python: Path) -> str:
    """`python`'s version; a file that is not a working Python interpreter is a UserError."""
    try:
        done = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UserError(f"{python}: not a Python interpreter ({first_line(err)})") from None
    version = done.stdout.strip()
    if done.returncode != 0 or not version[:1].isdigit():
        raise UserError(f"{python}: not a Python interpreter (it did not report a version)")
    return version


def run_in_other(
    python: Path, artifact: Path, inputs: np.ndarray, tmp: Path
) -> tuple[dict, np.ndarray | None]:
    """(what the child reported, its logits or None) for `artifact` on `inputs`; for an
    .onnx that ran, the report's "optimized" is the graph as that release optimized it."""
    np.save(tmp / "inputs.npy", inputs)
    logits_file, optimized = tmp / "logits.npy", tmp / "optimized.onnx"
    logits_file.unlink(missing_ok=True)
    optimized.unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)  # the other venv's runtime, never this one's
    files = (artifact, tmp / "inputs.npy", logits_file, optimized)
    command = [str(python), str(CHILD), *map(str, files)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return {"runtime": "?", "status": "timed out", "error": f"{CHILD_TIMEOUT_S} s"}, None
    report = _last_json_line(done.stdout)
    if report is None:  # a native crash (SIGABRT, SIGSEGV) prints no report
        lines = done.stderr.strip().splitlines() or ["no report"]
        error = f"exit code {done.returncode}: {lines[-1]}"
        return {"runtime": "?", "status": "crashed", "error": error}, None
    logits = np.load(logits_file) if report["status"] == "ran" else None
    report["optimized"] = optimized if optimized.exists() and logits is not None else None
    return report, logits


def _last_json_line(stdout: str) -> dict | None:
    """The child's report: the last line that is a JSON object with its keys. Any other line,
    even one that is JSON ('[1]', '"x"', a runtime's own log record), is a runtime's own print:
    taken as the report, '[1]' stopped the whole comparison in a TypeError traceback."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if isinstance(report, dict) and CHILD_REPORT_KEYS <= report.keys():
            return report
    return None


def run_here(artifact: Artifact, inputs: np.ndarray) -> tuple[str, np.ndarray | None]:
    """(this environment's runtime, its logits) through the exporter's runner."""
    from melanoma.export.base import NotRunnableHere, RuntimeFailure, load_runner
    from melanoma.export.registry import get_target

    try:
        runner = load_runner(get_target(artifact.manifest.target), artifact.path, threads=1)
        return runner.runtime, np.asarray(runner(inputs))
    except (NotRunnableHere, RuntimeFailure) as err:
        return f"refused here ({first_line(err)})", None


def decision_cut(manifest: Manifest) -> float:
    """The logit at the manifest's default threshold (as the app and melanoma-bench decide)."""
    from melanoma.export.verify import decision_cut as cut
    from melanoma.manifest import find_threshold

    name = manifest.decision_threshold_name()
    threshold = find_threshold(manifest.thresholds, name)
    if threshold is None:  # a version 1-3 manifest decides at youden, which it may not list
        raise UserError(f"{manifest.file.name}.manifest.json: no threshold {name!r} to decide at")
    return cut(threshold.probability)


def compare_artifact(python: Path, artifact: Artifact, samples: Samples, tmp: Path) -> Row:
    """One artifact in the other interpreter's runtime and in this one's."""
    from melanoma.export.verify import sample_inputs

    pre = artifact.manifest.preprocessing
    inputs = sample_inputs(samples, pre.mean, pre.std)  # (N, 3, 32, 32) float32
    blank = dict(max_abs_diff=None, n_logits_differ=None, decisions_moved=None,
                 n_images=len(inputs))  # fmt: skip
    if artifact.path.suffix not in CHILD_SUFFIXES:
        why = f"no runner for {artifact.path.suffix} files in the other interpreter"
        return Row(artifact.name, "-", "not compared", why, "-", **blank)
    report, theirs = run_in_other(python, artifact.path, inputs, tmp)
    this_runtime, ours = run_here(artifact, inputs)
    row = Row(artifact.name, report["runtime"], report["status"], report["error"], this_runtime,
              **blank)  # fmt: skip
    if theirs is None or ours is None:
        return row
    if theirs.shape != ours.shape:
        error = f"output of shape {theirs.shape}, this runtime's is {ours.shape}"
        return Row(**{**asdict(row), "status": "wrong output", "error": error})
    cut = decision_cut(artifact.manifest)
    diff = np.abs(theirs.astype(np.float64) - ours.astype(np.float64))
    figures = {
        "max_abs_diff": float(np.max(diff)),
        "n_logits_differ": int(np.sum(diff > 0)),
        "decisions_moved": int(np.sum((theirs[:, 0] >= cut) != (ours[:, 0] >= cut))),
    }
    if report["optimized"] is not None and artifact.manifest.precision == "int8":
        figures["int8_kernels"] = _int8_kernels(report["optimized"])
    return Row(**{**asdict(row), **figures})


def _int8_kernels(optimized: Path) -> dict[str, int]:
    import onnx

    from melanoma.export.onnx import int8_kernels

    return int8_kernels(onnx.load(str(optimized)))


def compare_all(python: Path, artifacts_dir: Path, data: str | None, n: int) -> dict:
    """The other interpreter, the images, and one Row per artifact under `artifacts_dir`."""
    from melanoma.benchmarks.harness import discover
    from melanoma.export.verify import load_samples

    version = interpreter_version(python)
    artifacts = discover(artifacts_dir)  # sha256-checked; bad input is a UserError
    dataset = None
    if data is not None:
        from melanoma.datasets import load_dataset

        dataset = load_dataset(data)
    samples = load_samples(dataset, n)
    with tempfile.TemporaryDirectory(prefix="other-runtime-") as tmp:
        rows = [compare_artifact(python, a, samples, Path(tmp)) for a in artifacts]
    return {"python": f"{python} (Python {version})", "images": samples.source, "rows": rows}


def format_rows(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        diff = "-" if row.max_abs_diff is None else f"{row.max_abs_diff:.3g}"
        moved = "-" if row.decisions_moved is None else str(row.decisions_moved)
        what = row.status if row.error is None else f"{row.status}: {row.error}"
        if row.status == "not installed":
            what = f"not installed there ({row.error})"
        differ = "" if row.n_logits_differ is None else f" ({row.n_logits_differ} differ)"
        kernels = ""
        if row.int8_kernels is not None:
            fused = ", ".join(f"{n} {op}" for op, n in row.int8_kernels.items())
            kernels = f"  int8 kernels {fused or 'none'}"
        lines.append(
            f"{row.file}  {row.runtime}  max|diff| {diff}{differ}  moved {moved}{kernels}"
            f"  vs {row.this_runtime}  {what}"  # last: a runtime's error can be long
        )
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--python",
    "python",
    required=True,
    type=NonEmptyPath(exists=True, dir_okay=False, path_type=Path),
    help="The other venv's interpreter (it needs the runtime and numpy only).",
)
@click.option(
    "--artifacts",
    "artifacts_dir",
    required=True,
    type=NonEmptyPath(file_okay=False, path_type=Path),
    help="Directory searched recursively for *.manifest.json and their artifacts.",
)
@data_option(optional=True)
@click.option(
    "--n",
    "n",
    type=click.IntRange(1, 600),
    default=64,
    show_default=True,
    help="Test images, taken evenly across the split as the exporter's check does.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def main_command(
    python: Path, artifacts_dir: Path, data: str | None, n: int, as_json: bool
) -> None:
    """Run each artifact in another interpreter's runtime; compare with this one's."""
    setup_process()
    result = compare_all(python, artifacts_dir, data, n)
    if as_json:
        rows = [asdict(row) for row in result["rows"]]
        click.echo(json.dumps({**result, "rows": rows}, indent=2))
    else:
        click.echo(f"{result['python']} on {result['images']}:\n{format_rows(result['rows'])}")


def main() -> None:
    run(main_command)


if __name__ == "__main__":
    main()
