"""benchmark(): run the harness, gate the rows, write every output. What `melanoma-bench` calls."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from melanoma.atomic import (
    HELD_BY_ANOTHER_RUN,
    atomic_paths,
    check_writable,
    folder_locked,
    output_dir,
    refuse_writing_into_inputs,
    waiting_for,
)
from melanoma.benchmarks.gate import GateLimits, targets, violations
from melanoma.benchmarks.harness import BenchConfig, BenchResult, run_benchmark
from melanoma.benchmarks.report import SCHEMA_VERSION, make_row, write_csv, write_json, write_text
from melanoma.benchmarks.report_markdown import markdown_report
from melanoma.benchmarks.timing import THROUGHPUT_BATCH, split_runs
from melanoma.checkpoint import (
    REFERENCE_NAMES,
    package_versions,
    resolve_checkpoint_dir,
    utc_now,
)
from melanoma.datasets import Dataset
from melanoma.errors import UserError
from melanoma.folders import is_hidden
from melanoma.versions import toolkit_source


@dataclass(frozen=True)
class Outputs:
    out_dir: Path  # report.json, report.md, report.csv, roc.png, latency.png, size.png
    json_path: Path | None = None  # an extra copy of report.json (e.g. for CI)
    plots: bool = True  # False skips the three PNGs


def build_report(
    result: BenchResult, config: BenchConfig, limits: GateLimits, report_dir: Path | None = None
) -> dict:
    """The report.json object (its fields: benchmarks/REPORT_SCHEMA.md), its paths relative
    to `report_dir`, the folder report.json goes in (None: absolute)."""
    rows = [
        make_row(subject, threads, result.latencies.get((subject.name, threads)), result.macs)
        for subject in result.subjects
        for threads in config.threads
    ]
    found = violations(rows, limits)
    report = {
        "schema_version": SCHEMA_VERSION,
        "created_utc": utc_now(),
        "machine": result.machine,
        "versions": package_versions(),
        "toolkit_source": toolkit_source(),
        "data": result.data,
        "reference": result.reference,
        "config": _config_dict(config, result.threshold_name),
        "artifacts": rows,
        "targets": targets(rows),
        "gate": {"limits": limits.as_dict(), "violations": found, "passed": not found},
        "roc": result.rocs,
    }
    return located(report, report_dir)


# The report's paths: the data, the float checkpoint (also the eager row's file) and the
# artifacts folder (the other rows' files are relative to it).
PATH_FIELDS = (("data", "source"), ("reference", "checkpoint"), ("config", "artifacts_dir"))


def located(report: dict, report_dir: Path | None) -> dict:
    """The report with every path relative to `report_dir`: absolute ones put the user's
    home folder into a report they share, and broke when the report moved with its
    artifacts. A bundled checkpoint is named as the command lines name it, not by a
    folder inside the installed package."""
    out = dict(report)
    for section, key in PATH_FIELDS:
        out[section] = {**report[section], key: _path_from(report[section][key], report_dir)}
    out["artifacts"] = [
        {**row, "file": _path_from(row["file"], report_dir)} if row["target"] == "pytorch" else row
        for row in report["artifacts"]
    ]
    return out


def _path_from(path: str | os.PathLike, report_dir: Path | None) -> str:
    for name in REFERENCE_NAMES:
        if str(path) == name or Path(path).resolve() == resolve_checkpoint_dir(name).resolve():
            return name
    absolute = os.path.abspath(path)
    if report_dir is None:
        return absolute
    try:
        # with / on Windows too, as the artifact rows and report.csv write paths
        return Path(os.path.relpath(absolute, os.path.abspath(report_dir))).as_posix()
    except ValueError:  # on another drive (Windows): no relative path leads there
        return absolute


def _config_dict(config: BenchConfig, threshold_name: str) -> dict:
    return {
        "artifacts_dir": str(config.artifacts_dir),
        "threads": list(config.threads),
        "runs": config.timing.runs,
        "rounds": len(split_runs(config.timing.runs, config.timing.rounds)),
        "warmup": config.timing.warmup,
        "throughput_runs": config.timing.throughput_runs,
        "throughput_batch": THROUGHPUT_BATCH,
        "threshold_name": threshold_name,
        "n_bootstrap": config.accuracy.n_bootstrap,
        "seed": config.accuracy.seed,
        "sanity_bounds": dataclasses.asdict(config.accuracy.bounds),
    }


def write_outputs(report: dict, outputs: Outputs) -> list[Path]:
    """Write every report file; returns the paths written. They are renamed into place
    together at the end, with Ctrl-C held: a run stopped while its plots are drawn leaves
    the previous run's files whole, not its tables beside the previous plots."""
    from melanoma.benchmarks.plots import PLOTS

    out = Path(outputs.out_dir)  # a str too, as check_outputs takes it: not a TypeError
    writers = {
        out / "report.json": lambda path: write_json(report, path),
        out / "report.md": lambda path: write_text(markdown_report(report, outputs.plots), path),
        out / "report.csv": lambda path: write_csv(report["artifacts"], path),
    }
    if outputs.plots:
        writers.update({out / name: functools.partial(plot, report) for name, plot in PLOTS})
    if outputs.json_path is not None:
        writers[Path(outputs.json_path)] = lambda path: write_json(report, path)
    # Two runs' renames would interleave: report.json from one beside report.md from the other.
    busy = waiting_for(out, HELD_BY_ANOTHER_RUN)  # a lock cannot say whose
    # output_dir: a write that fails (a full disk) leaves no empty --out behind.
    with output_dir(out), folder_locked(out, busy=busy):
        with atomic_paths(*writers) as temps:
            for write, temp in zip(writers.values(), temps, strict=True):
                write(temp)
        if not outputs.plots:  # an earlier run's plots would sit beside this run's report
            for name, _ in PLOTS:
                (out / name).unlink(missing_ok=True)
    return list(writers)


def check_outputs(outputs: Outputs, config: BenchConfig) -> None:
    """Refuse outputs that cannot be written before the run, not after minutes of it
    with half the report files already there."""
    out, json_path = Path(outputs.out_dir), outputs.json_path
    check_writable(out, is_dir=True)
    if json_path is not None:
        if Path(json_path).resolve() == out.resolve():
            raise UserError(f"{json_path}: the --json file cannot be the --out directory")
        reference = config.reference and resolve_checkpoint_dir(config.reference)
        data = config.data.source if isinstance(config.data, Dataset) else config.data
        inputs = {"artifacts folder": config.artifacts_dir, "data": data}
        refuse_writing_into_inputs(json_path, "--json", {**inputs, "reference": reference})
        check_writable(Path(json_path), is_dir=False)


def benchmark(config: BenchConfig, limits: GateLimits, outputs: Outputs) -> dict:
    """Benchmark every artifact, write the outputs, return the report (gate result inside)."""
    check_outputs(outputs, config)
    # An export writing into the folder meanwhile would be measured half old, half new.
    with artifacts_held(Path(config.artifacts_dir)):
        result = run_benchmark(config)
    report = build_report(result, config, limits, report_dir=Path(outputs.out_dir))
    write_outputs(report, outputs)
    return report


@contextlib.contextmanager
def artifacts_held(artifacts: Path) -> Iterator[None]:
    """Hold `artifacts` and every folder under it for reading, waiting for any export
    writing into one: the benchmark reads them all, and one over artifacts/ measured the
    first two files of an export still writing artifacts/<run>/, exiting 0. Taken top down
    (a folder before what is in it), and walked again after a wait: the export waited for
    may have made folders (its qat-<model>/) the first walk did not see."""
    with contextlib.ExitStack() as held:
        locked: set[Path] = set()
        while new := [f for f in _folders_under(artifacts) if f not in locked]:
            for folder in new:
                busy = waiting_for(folder, HELD_BY_ANOTHER_RUN)  # an export, or a train
                held.enter_context(folder_locked(folder, shared=True, busy=busy))
                locked.add(folder)
        yield


def _folders_under(root: Path) -> list[Path]:
    """`root`, then every folder under it that discover() looks in (not hidden ones: an
    atomic write's temp folder), each before the folders inside it."""
    found = [root]
    for parent, names, _ in os.walk(root):  # links are not followed, as by rglob
        names[:] = sorted(name for name in names if not is_hidden(name))
        found += [Path(parent) / name for name in names]
    return found
