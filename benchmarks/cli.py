"""`melanoma-bench`: every exported artifact against the float model, in one run.

Exit codes: 0 all rows pass the gate, 1 gate violations (one `GATE ...` line
each on stderr), 2 usage errors and bad input (missing artifacts, a manifest
whose sha256 does not match its file, a reference that is not the source).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from melanoma.cli_options import (
    SEED,
    FiniteFloatRange,
    NonEmptyPath,
    data_option,
    out_dir_option,
    progress_option,
    threshold_option,
    version_option,
)
from melanoma.cli_parsing import Command
from melanoma.cliutil import run, setup_process
from melanoma.config_checks import MAX_RUNS
from melanoma.errors import on_one_line

if TYPE_CHECKING:  # imported where used: --help must not load the benchmark
    from melanoma.benchmarks.gate import GateLimits

EXIT_GATE = 1


def _threads(ctx, param, value: str) -> tuple[int, ...]:
    from melanoma.benchmarks.timing import parse_threads

    try:
        return parse_threads(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.command(cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@version_option()
@click.option(
    "--artifacts",
    "artifacts_dir",
    type=NonEmptyPath(file_okay=False, path_type=Path),
    default=Path("artifacts"),
    show_default=True,
    help="Directory searched recursively for *.manifest.json and their artifacts.",
)
@data_option()
@click.option(
    "--reference",
    type=NonEmptyPath(),
    metavar="CHECKPOINT_DIR",
    default=None,
    help="Float checkpoint the artifacts came from (default: the bundled reference the "
    "manifests name). Its sha256 must match the manifests' source_checkpoint_sha256.",
)
@click.option(
    "--threads",
    default="1,all",
    show_default=True,
    callback=_threads,
    help="Thread counts to time at, comma-separated; 'all' is every logical core.",
)
@click.option(
    "--runs",
    type=click.IntRange(1, MAX_RUNS),
    default=200,
    show_default=True,
    help="Timed batch-1 calls per artifact and thread count, over all rounds.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, MAX_RUNS),
    default=4,
    show_default=True,
    help="Split the timed calls into this many passes over every artifact, so machine "
    "drift during the run hits all of them alike (capped at --runs).",
)
@click.option(
    "--warmup",
    type=click.IntRange(0, MAX_RUNS),
    default=20,
    show_default=True,
    help="Untimed calls before each round's timed ones.",
)
@click.option(
    "--throughput-runs",
    type=click.IntRange(0, MAX_RUNS),
    default=20,
    show_default=True,
    help="Timed batch-32 calls where the artifact has a dynamic batch; 0 skips.",
)
@out_dir_option(
    "Where report.json, report.md, report.csv and the plots go.", default=Path("bench-report")
)
@click.option(
    "--json",
    "json_path",
    type=NonEmptyPath(dir_okay=False, allow_dash=True),
    default=None,
    metavar="FILE",
    help="Also write report.json to FILE ('-': print it; the table goes to stderr).",
)
@click.option(
    "--max-auc-drop",
    type=FiniteFloatRange(0, 1),
    default=None,
    help="Gate: fail an artifact whose AUC is more than X below the float model's.",
)
@click.option(
    "--min-agreement",
    type=FiniteFloatRange(0, 1),
    default=None,
    help="Gate: fail an artifact deciding like the float model on < Y of images.",
)
@click.option(
    "--max-accuracy-drop",
    type=FiniteFloatRange(0, 1),
    default=None,
    help="Gate: fail an artifact whose accuracy at the threshold is more than X below "
    "the float model's.",
)
@click.option(
    "--max-abs-dprob",
    type=FiniteFloatRange(0, 1),
    default=None,
    help="Gate: fail an artifact that moves any test image's P(melanoma) more than X from "
    "the float model's (the decisions at the other thresholds, which agreement does not count).",
)
@click.option(
    "--max-latency-ms",
    type=FiniteFloatRange(min=0, min_open=True),
    default=None,
    help="Gate: fail an artifact whose batch-1 p50 exceeds Z ms.",
)
@click.option(
    "--require-int8",
    is_flag=True,
    help="Gate: fail when no int8 artifact ran, so that a drift gate cannot pass on float "
    "files alone.",
)
@threshold_option(
    "Threshold every row decides at (accuracy, agreement and the gate). Default: the one the "
    "manifests name as default_threshold, which the app decides at (youden unless exported "
    "with --threshold).",
    default=None,
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=10),
    default=1000,
    show_default=True,
    help="Bootstrap resamples per 95% CI.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--no-plots", is_flag=True, help="Skip roc.png, latency.png and size.png.")
@progress_option()
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def bench(
    artifacts_dir: Path,
    data: str | None,
    reference: str | None,
    threads: tuple[int, ...],
    runs: int,
    rounds: int,
    warmup: int,
    throughput_runs: int,
    out_dir: Path,
    json_path: str | None,
    max_auc_drop: float | None,
    min_agreement: float | None,
    max_accuracy_drop: float | None,
    max_abs_dprob: float | None,
    max_latency_ms: float | None,
    require_int8: bool,
    threshold_name: str | None,
    bootstrap: int,
    seed: int,
    no_plots: bool,
    progress: bool,
    verbose: bool,
) -> None:
    """Benchmark every exported artifact against the float model on the test split.

    Each artifact runs in its own runtime (ExecuTorch, ONNX Runtime, the lite
    interpreter, Core ML where it exists); eager PyTorch fp32 is the reference row.
    """
    from melanoma.benchmarks.api import Outputs, benchmark
    from melanoma.benchmarks.gate import GateLimits
    from melanoma.benchmarks.harness import BenchConfig
    from melanoma.benchmarks.subjects import AccuracyConfig
    from melanoma.benchmarks.timing import TimingConfig
    from melanoma.checkpoint import warn_if_name_hides_folder

    setup_process(verbose)
    if reference is not None:  # the name the manifests give is the bundled model's
        warn_if_name_hides_folder(reference)
    config = BenchConfig(
        artifacts_dir=artifacts_dir,
        data=data,
        reference=reference,
        threads=threads,
        timing=TimingConfig(
            runs=runs, warmup=warmup, throughput_runs=throughput_runs, rounds=rounds
        ),
        accuracy=AccuracyConfig(threshold_name=threshold_name, n_bootstrap=bootstrap, seed=seed),
        progress=progress,
    )
    limits = GateLimits(
        max_auc_drop=max_auc_drop,
        min_agreement=min_agreement,
        max_latency_ms=max_latency_ms,
        max_accuracy_drop=max_accuracy_drop,
        require_int8=require_int8,
        max_abs_dprob=max_abs_dprob,
    )
    to_stdout = json_path == "-"
    outputs = Outputs(out_dir, None if to_stdout else json_path and Path(json_path), not no_plots)
    report = benchmark(config, limits, outputs)
    _show_outcome(report, limits, out_dir, to_stdout)


def _show_outcome(report: dict, limits: GateLimits, out_dir: Path, to_stdout: bool) -> None:
    """The summary, report.json where --json - asks for it, and the gate's verdict: each
    violation on stderr and exit 1, or the limits met."""
    from melanoma.benchmarks.gate import passed_text
    from melanoma.benchmarks.report import report_json

    click.echo(_summary(report, out_dir), err=to_stdout)
    if to_stdout:
        # escaped: redirected on Windows, stdout is cp1252, and PowerShell re-decodes a pipe
        click.echo(report_json(report, ascii_only=True), nl=False)
    for line in report["gate"]["violations"]:
        click.echo(on_one_line(line), err=True)  # they name artifacts by their files
    if report["gate"]["violations"]:
        sys.exit(EXIT_GATE)
    if limits.any():  # a met limit would otherwise leave no trace in the output
        click.echo(passed_text(limits, report["artifacts"]), err=to_stdout)


def _summary(report: dict, out_dir: Path) -> str:
    from melanoma.benchmarks.gate import target_text
    from melanoma.benchmarks.report import text_table

    machine = report["machine"]
    head = f"{machine['cpu']}, {machine['logical_cores']} logical cores, {machine['os']}"
    if machine["load_average_1m"] is not None:
        head += f"; load average {machine['load_average_1m']:.2f} at start"
    # acc, agree% and the gate all depend on it, and it is the manifests' unless --threshold
    decided = on_one_line(f"decisions at the {report['config']['threshold_name']} threshold")
    targets = [f"target: {target_text(t)}" for t in report["targets"]]
    table = text_table(report["artifacts"])
    return "\n".join([head, decided, table, *targets, f"wrote {out_dir}/"])


def main() -> None:
    run(bench)
