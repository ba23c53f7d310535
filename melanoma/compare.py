"""Compare training methods over seeds on the test split: the README's results table.

For every (method, seed) the checkpoint lives in OUT/<method>-seed<N>/. It is
reused when its metadata matches the config that would be trained now (same
data fingerprint and every training setting), else it is trained. Each model
is then scored on the test split at its own validation-chosen threshold with
`evaluate_checkpoint`, so the numbers equal `melanoma evaluate`'s.

Writes OUT/results.json, OUT/results.md (mean ± std over seeds, per-model 95%
bootstrap CIs, a bootstrap CI of the seed-mean AUC and of the paired AUC
difference, that difference's CI with the seeds resampled too, the seed-mean
AUC without the test images that have a near-copy in the unlabeled pool) and
OUT/roc.png.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from melanoma import config_checks as checks
from melanoma import strict_json
from melanoma.atomic import atomic_paths, write_utf8
from melanoma.checkpoint import (
    METADATA,
    CheckpointError,
    checkpoint_sha256,
    load_checkpoint,
    read_meta,
)
from melanoma.compare_statistics import (
    SUMMARY_METRICS,
    seed_ensemble_aucs,
    seed_mean_bootstrap,
    seed_summary,
    without_near_duplicates,
)
from melanoma.datasets import TEST_SPLIT_PLACES, Dataset
from melanoma.errors import UserError
from melanoma.evaluate import evaluate_checkpoint
from melanoma.inference import predict_probs
from melanoma.methods import METHODS, method_config, train_method, trainer_of
from melanoma.metrics import rank_auc
from melanoma.resume import RESUME, refuse_held_folders, run_dir_owned
from melanoma.run_settings import differing_settings, stored_settings, training_settings
from melanoma.sources import DataError
from melanoma.splits import validation_scheme
from melanoma.versions import package_versions, toolkit_source

if TYPE_CHECKING:  # for annotations only: methods.py imports each trainer when used
    from melanoma.train import TrainConfig
    from melanoma.train_sgan import SGANConfig

log = logging.getLogger(__name__)
# The seed-mean bootstrap's settings, recorded in results.json beside its CIs
SEED_MEAN_BOOTSTRAP = {"n_resamples": 1000, "seed": 0}


def reusable(
    ckpt_dir: Path, method: str, config: TrainConfig | SGANConfig, dataset: Dataset
) -> bool:
    """True when ckpt_dir holds a loadable checkpoint trained with exactly `config` on `dataset`."""
    try:
        meta = read_meta(ckpt_dir)
    except CheckpointError as why:
        if (ckpt_dir / METADATA).exists():  # not just missing: say what is overwritten
            log.warning("%s; retraining", why)
        return False
    wanted = training_settings(dataclasses.asdict(config))
    stored = stored_settings(meta.train_config, wanted)
    same_data = meta.data_fingerprint == dataset.fingerprint
    if meta.method != trainer_of(method) or not same_data or stored != wanted:
        differing = differing_settings(stored, wanted)
        what = ", ".join(differing) or "data"
        log.warning("%s: config or data differs (%s); retraining", ckpt_dir, what)
        return False
    return True


def train_or_reuse(
    method: str, config: TrainConfig | SGANConfig, dataset: Dataset, ckpt_dir: Path
) -> float | None:
    """Train into ckpt_dir unless a matching checkpoint is there; returns training seconds."""
    if reusable(ckpt_dir, method, config, dataset):
        log.info("reusing %s", ckpt_dir)
        return None
    started = time.perf_counter()
    interrupted = (ckpt_dir / RESUME).is_file()  # an earlier compare's Ctrl-C saved it
    own = ckpt_dir.parent  # compare's --out, which this run holds
    try:
        train_method(method, dataset, config, ckpt_dir, resume=interrupted, own=own)
    except UserError as why:  # its state is from other settings or data, or corrupt
        if not interrupted:
            raise
        log.warning("%s; training it from the start", why)
        train_method(method, dataset, config, ckpt_dir, own=own)
    return time.perf_counter() - started


def _refuse_repeats_and_strings(**lists: Sequence) -> None:
    """Each a non-empty list of distinct items (config_checks.repeated says why); a string
    would be read one character per name."""
    for what, given in lists.items():
        items = checks.items_of(given)
        if not items:
            raise UserError(f"compare {what}={given!r}: expected a non-empty list")
        twice = checks.repeated(items)
        if twice:
            raise UserError(f"compare {what}: {', '.join(map(str, twice))} given more than once")


def compare(
    dataset: Dataset,
    out_dir: Path,
    methods: Sequence[str] = METHODS,
    seeds: Sequence[int] = (0, 1, 2),
    epochs: int | None = None,
    progress: bool = True,
) -> dict:
    """Train what is missing, evaluate every model on test, write results.{json,md} and roc.png."""
    if dataset.test is None:
        raise DataError(f"{dataset.source}: compare needs a test split ({TEST_SPLIT_PLACES})")
    _refuse_repeats_and_strings(methods=methods, seeds=seeds)
    for method in methods:
        method_config(method, 0)  # validates the name before hours of training
        if trainer_of(method) == "sgan":  # not after the supervised seeds have trained
            from melanoma.train_sgan import check_unlabeled_pool  # the SGAN's stack, if used

            for seed in seeds:  # each seed carves its own validation images
                check_unlabeled_pool(dataset, method_config(method, seed))
    # Held to the end: a second compare into OUT retrained a seed this one had scored, and
    # the last to finish left a results.json naming a model the folder no longer held.
    with run_dir_owned(Path(out_dir)) as out_dir:
        refuse_held_folders([out_dir / f"{m}-seed{s}" for m in methods for s in seeds])
        runs, probs = [], {}
        labels = dataset.test.labels.numpy()
        for method in methods:
            for seed in seeds:
                config = method_config(method, seed, epochs, progress)
                ckpt_dir = out_dir / f"{method}-seed{seed}"
                record, probs[method, seed] = _train_and_score(
                    method, seed, config, dataset, ckpt_dir
                )
                runs.append(record)
        results = {
            "data_fingerprint": dataset.fingerprint,
            "test_n": int(len(labels)),
            "methods": list(methods),
            "seeds": list(seeds),
            "summary": seed_summary(runs, methods),
            "bootstrap": seed_mean_bootstrap(labels, probs, methods, seeds, **SEED_MEAN_BOOTSTRAP),
            "bootstrap_settings": SEED_MEAN_BOOTSTRAP,
            # which toolkit and libraries trained (or reused) and scored these models
            "versions": package_versions(),
            "toolkit_source": toolkit_source(),
            "seed_ensemble_auc": seed_ensemble_aucs(labels, probs, methods, seeds),
            "near_duplicates": without_near_duplicates(dataset, probs, methods, seeds),
            "runs": runs,
        }
        _write_results(out_dir, results)
    return results


def _train_and_score(
    method: str, seed: int, config, dataset: Dataset, ckpt_dir: Path
) -> tuple[dict, np.ndarray]:
    """Train (or reuse) one model, then score it on the test split: its results.json record
    and its test probabilities, shape (N,)."""
    from melanoma.training import DivergenceError  # the trainers' stack: loaded to train

    try:
        seconds = train_or_reuse(method, config, dataset, ckpt_dir)
    except DivergenceError as why:  # one of the methods x seeds gave up: say which
        raise DivergenceError(f"{method} seed {seed} ({ckpt_dir}): {why}") from None
    checkpoint = load_checkpoint(ckpt_dir)
    report = evaluate_checkpoint(checkpoint, dataset.test, "youden", seed=0)
    probs = predict_probs(
        checkpoint.model, dataset.test.images, checkpoint.meta.mean, checkpoint.meta.std
    )
    record = _run_record(method, seed, ckpt_dir, checkpoint.meta, report, seconds)
    record["member_test_aucs"] = _member_aucs(checkpoint, dataset.test)
    return record, probs


def _write_results(out_dir: Path, results: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    # One set, renamed into place together: a Ctrl-C while the ROC is drawn must not
    # leave this run's tables beside the previous run's curves.
    outputs = (out_dir / "results.json", out_dir / "results.md", out_dir / "roc.png")
    with atomic_paths(*outputs) as (json_temp, markdown_temp, roc_temp):
        write_utf8(json_temp, strict_json.dumps(results, indent=2) + "\n")
        write_utf8(markdown_temp, results_markdown(results))
        _plot_roc(roc_temp, results["runs"], results["summary"])


def _member_aucs(checkpoint, test) -> list[float]:
    """Test AUC of each single network of an ensemble ([] otherwise): a like-for-like
    comparison with a single-network method."""
    members = getattr(checkpoint.model, "members", [])
    mean, std = checkpoint.meta.mean, checkpoint.meta.std
    labels = test.labels.numpy()
    return [rank_auc(labels, predict_probs(m, test.images, mean, std)) for m in members]


def _run_record(method, seed, ckpt_dir, meta, report, seconds) -> dict:
    return {
        "method": method,
        "seed": seed,
        "checkpoint": str(ckpt_dir),
        # the folder is retrained when settings change: the path alone names no model
        "checkpoint_sha256": checkpoint_sha256(ckpt_dir),
        "best_epoch": meta.best_epoch,
        "epochs": meta.epochs,
        "val_auc": meta.val_metrics["auc"],
        "val_n": meta.train_config.get("n_val"),
        "validation": validation_scheme(meta.train_config),
        # how test.threshold was estimated (checkpoints older than the field: empirical)
        "threshold_estimator": meta.thresholds[0].get("estimator", "empirical"),
        "train_seconds": seconds,  # None when the checkpoint was reused
        "test": report,  # metrics at the validation Youden threshold, CIs, ROC points
    }


def results_markdown(results: dict) -> str:
    """The README table: mean ± std over seeds, bootstrap CIs, and one row per model."""
    seeds = ", ".join(map(str, results["seeds"]))
    lines = [
        f"Test split (n={results['test_n']}), seeds {seeds}; thresholds: Youden's J on validation.",
        "",
        "| method | " + " | ".join(SUMMARY_METRICS) + " | seed-mean AUC 95% CI |",
        "| --- |" + " ---: |" * (len(SUMMARY_METRICS) + 1),
    ]
    one_seed = len(results["seeds"]) == 1  # no spread to show: "± 0.000" would claim one
    for method, metrics in results["summary"].items():
        cells = [
            f"{metrics[n]['mean']:.3f}" + ("" if one_seed else f" ± {metrics[n]['std']:.3f}")
            for n in SUMMARY_METRICS
        ]
        low, high = results["bootstrap"][f"{method}_mean_auc_ci"]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | [{low:.3f}, {high:.3f}] |")
    for key, (low, high) in results["bootstrap"].items():
        if "_minus_" in key and key.endswith("_ci"):
            line = (
                f"Paired bootstrap 95% CI of {key.removesuffix('_ci')}: [{low:+.3f}, {high:+.3f}]"
            )
            if key + "_seeds_too" in results["bootstrap"]:  # results written before it lack it
                wide_low, wide_high = results["bootstrap"][key + "_seeds_too"]
                line += f"; resampling seeds too: [{wide_low:+.3f}, {wide_high:+.3f}]"
            lines += ["", line]
    if results.get("seed_ensemble_auc"):
        averaged = ", ".join(f"{m} {auc:.3f}" for m, auc in results["seed_ensemble_auc"].items())
        lines += ["", f"Test AUC of each method's seeds averaged (mean logit): {averaged}"]
    if results.get("near_duplicates"):
        lines += ["", _near_duplicates_line(results["near_duplicates"])]
    lines += [
        "",
        "| method | seed | epoch kept | validation | val AUC | Youden threshold "
        "| test AUC [95% CI] | test accuracy [95% CI] | single-network test AUC |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in results["runs"]:
        test, ci = run["test"], run["test"]["ci"]
        members = run["member_test_aucs"]
        single = f"{np.mean(members):.3f} (mean of {len(members)})" if members else "same"
        lines.append(
            f"| {run['method']} | {run['seed']} | {run['best_epoch']}/{run['epochs']} | "
            f"{run['val_n']} {run['validation']} | {run['val_auc']:.3f} | "
            f"{test['threshold']:.3f} ({run['threshold_estimator']}) | "
            f"{test['auc']:.3f} [{ci['auc'][0]:.3f}, {ci['auc'][1]:.3f}] | "
            f"{test['accuracy']:.3f} [{ci['accuracy'][0]:.3f}, {ci['accuracy'][1]:.3f}] | "
            f"{single} |"
        )
    return "\n".join(lines) + "\n"


def _near_duplicates_line(near: dict) -> str:
    changes = ", ".join(
        f"{m} {near['auc_without'][m]:.4f} ({near['auc_without'][m] - near['auc_all'][m]:+.4f})"
        for m in near["auc_without"]
    )
    return (
        f"{near['n']} test images ({near['n_melanoma']} melanoma) have a near-copy in the "
        f"unlabeled pool (RMS < {near['max_rms']}{_turned(near)}). Seed-mean test AUC without them "
        f"(change): {changes}"
    )


def _turned(near: dict) -> str:
    return ", allowing flips and quarter turns" if near.get("dihedral") else ""


def _plot_roc(path: Path, runs: list[dict], summary: dict) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    colours = {m: f"C{i}" for i, m in enumerate(summary)}
    for method in summary:
        label = f"{method} (mean AUC {summary[method]['auc']['mean']:.3f})"
        for run in (r for r in runs if r["method"] == method):
            roc = run["test"]["roc"]
            ax.plot(roc["fpr"], roc["tpr"], color=colours[method], alpha=0.7, label=label)
            label = None  # one legend entry per method
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="Test ROC, one curve per seed")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
