"""Semi-supervised GAN training (Salimans et al. 2016, "Improved Techniques for Training GANs").

Reads top to bottom: split -> normalization -> epochs over the unlabeled pool
(each step, in sgan_step.py: D on three losses, G by feature matching, EMA of D)
-> validate the deployable classifier -> keep the best validation AUC ->
thresholds on validation -> checkpoint of the classification path only, or a
roll-back to the last good epoch on divergence. The test split is never touched here.

The class prior: the unlabeled pool is ~10% melanoma while the labeled,
validation and test splits are 50/50. Only the supervised cross-entropy on
(50/50) labeled batches names a class. The unsupervised losses depend on
logsumexp over the class logits, so their value does not depend on how mass is
split between benign and melanoma, but their gradient does (d lse / d l_k =
softmax_k): making a real image look more real raises mostly the class it
already leans to, a mild entropy minimization, and over a ~90% benign pool
that pulls l_mel - l_benign toward benign (the fake-image loss pulls the other
way). We measured it, not the AUC: the SGAN's validation Youden cutoffs sit far
below 0.5 and below its labeled-only ablation's (README, Results). We handle
the prior through the thresholds, chosen on the (50/50) validation split, which
absorb that shift; the raw score's calibration does not. We use no
pseudo-labels or explicit entropy term, which would import the 10% prior more
strongly, and did not try stopping the class-split gradient of the
unsupervised losses. For a population with another prevalence, re-pick the
threshold on data from it: adding log(p / (1 - p)) to the logit would assume a
score calibrated at 50/50, which this one is not. AUC does not change.

Normalization uses the labeled training images only (160 of 200; not the
validation split, nor the pool). The baseline, which holds out no split, takes
it from all 200 labeled images (train.py). Not from the pool: its colour mean
differs (the data's README: R 197 vs 190) because its class mix differs, while
test matches labeled, and the deployed contract needs one mean/std for every
input.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from melanoma import config_checks as checks
from melanoma.augment import AugmentConfig
from melanoma.batches import LabeledBatches
from melanoma.checkpoint import save_checkpoint
from melanoma.datasets import Dataset
from melanoma.history import write_sgan_report
from melanoma.inference import predict_probs
from melanoma.metrics import YOUDEN_ESTIMATORS
from melanoma.model import config_dict
from melanoma.pool_copies import refuse_copies_in_pool
from melanoma.resume import (
    RESUME,
    clear_previous_run,
    corrupt_resume_state,
    read_resume_state,
    refuse_non_count,
    refused_if_unloadable,
    resumable,
    run_identity,
)
from melanoma.sgan import GeneratorConfig, SGANClassifierConfig, to_classifier
from melanoma.sgan_step import EpochDiverged, SGANNets, build_nets, train_one_epoch, validate
from melanoma.sources import DataError
from melanoma.splits import stratified_split
from melanoma.state_dicts import non_finite_tensors
from melanoma.training import (
    DivergenceError,
    own_rng,
    seeded_split,
    select_device,
    validated_meta,
)
from melanoma.validation_scores import VALIDATION_CSV, write_scores

log = logging.getLogger(__name__)
ARCH = "sgan-classifier"


@dataclass(frozen=True)
class SGANConfig:
    seed: int = 0  # seeds the split, init, batch order, noise and augmentation
    epochs: int = 12  # passes over the unlabeled pool (109 steps each at batch 64)
    batch_size: int = 64  # unlabeled (and generated) images per step
    labeled_batch_size: int = 32  # labeled images per step, cycled with reshuffling
    lr_d: float = 1e-3  # Adam, cosine-decayed to 0 over training
    lr_g: float = 1e-3
    beta1: float = 0.5  # Adam beta1, the usual GAN choice
    unsup_weight: float = 1.0  # weight of the real-vs-fake losses against the supervised CE
    consistency_weight: float = 10.0  # mean teacher: MSE between D's and its EMA's P(melanoma)
    # on two augmentations of each unlabeled image; needs ema_decay > 0
    consistency_rampup: float = 0.2  # fraction of training over which that weight ramps up
    val_fraction: float = 0.2  # of labeled, stratified and seeded (the baseline cross-validates)
    target_sensitivity: float = 0.9  # second stored threshold: the screening operating point
    youden_estimator: str = "binormal"  # or "empirical"; see metrics.youden_threshold
    select_after: float = 0.25  # fraction of epochs before which no checkpoint is selected: with
    # 40 validation images a barely trained epoch-1 model can win by luck
    ema_decay: float = 0.995  # EMA of D's parameters, evaluated and exported; 0 disables; a
    # ceiling the warm-up of training.WeightEMA keeps it under in 12 epochs (0.993 at the end).
    # With weight_norm it averages each layer's g and v, not the folded weight they make.
    dropout: float = 0.5  # after each D stage, training only (Salimans et al. use 0.5)
    input_noise: float = 0.1  # std of Gaussian noise on D's normalized input, training only
    weight_norm: bool = True  # on D's convs and head; folded into plain weights at export
    max_restores: int = 3  # divergence recoveries before giving up
    sample_every: int = 5  # epochs between sample grids and loss-curve plots
    device: str = "auto"  # auto picks cuda, then mps, then cpu
    progress: bool = True  # tqdm bar over epochs with losses and validation AUC
    model: SGANClassifierConfig = field(default_factory=SGANClassifierConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        checks.at_least(self, 1, "epochs", "batch_size", "labeled_batch_size", "sample_every")
        checks.at_least(self, 0, "max_restores")
        checks.non_negative(self, "lr_d", "lr_g", allow_zero=False)
        checks.non_negative(self, "unsup_weight", "consistency_weight", "input_noise")
        checks.fraction(self, "beta1", "dropout", below_one=True)
        # ema_decay is a ceiling the warm-up stays under; select_after 1: the last epoch
        checks.fraction(self, "ema_decay", "consistency_rampup", "select_after")
        checks.fraction(self, "val_fraction", above_zero=True, below_one=True)
        checks.target_sensitivity(self)
        checks.one_of(self, "youden_estimator", YOUDEN_ESTIMATORS)
        checks.device_name(self)
        if self.consistency_weight and not self.ema_decay:
            raise checks.ConfigError(
                "SGANConfig.consistency_weight needs ema_decay > 0 (the EMA is the teacher)"
            )


# The keys of _snapshot's state besides its RNGs, and their types: read_resume_state
# refuses a resume.pt without one.
RESUME_LAYOUT = {
    "nets": dict, "labeled_batches": dict, "epoch": int, "best": dict, "history": list,
    "restores": int,
}  # fmt: skip


def _snapshot(nets: SGANNets, labeled, rng, epoch, best: dict, history: list, restores) -> dict:
    """Everything needed to resume (Ctrl-C) or to roll back after divergence."""
    return {
        "nets": nets.state(),
        "labeled_batches": labeled.state(),
        "generator": rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "epoch": epoch,
        "best": copy.deepcopy(best),
        "history": copy.deepcopy(history),
        "restores": restores,
        # the run's restores when this epoch was kept: the next row counts those after it
        "restores_before": restores,
    }


# Where each layout looks for the pool: "found 0" alone left a Kaggle or ISIC user guessing.
UNLABELED_FOLDER = {
    "liveproject": "an unlabeled/ folder beside labeled/ and test/",
    "class-folders": "an unlabeled/ folder beside train/ and test/ (or the class folders)",
    "csv": "an unlabeled/ folder beside the CSV",
}


def check_unlabeled_pool(dataset: Dataset, config: SGANConfig) -> None:
    """Refuse a data set whose unlabeled pool is smaller than one batch (or missing), or
    holds one of its validation images or a test image again (refuse_copies_of_judged). The
    labeled-only ablation (no weight on either unlabeled loss) needs one too: its classifier
    learns nothing from the pool's images, but an epoch is a pass over the pool, so the pool
    sets its number of steps and its learning-rate schedule, the same as the SGAN's it is
    compared with (README, the ablation: 1,308 steps on 160 labeled images)."""
    if dataset.unlabeled is None or len(dataset.unlabeled) < config.batch_size:
        found = 0 if dataset.unlabeled is None else len(dataset.unlabeled)
        where = UNLABELED_FOLDER.get(dataset.layout, "an unlabeled/ folder")
        why = ""
        if not (config.unsup_weight or config.consistency_weight):
            why = (
                " (sgan-labeled-only gives them no weight, but its epochs are passes over "
                "them, so that it trains as many steps as the SGAN it is compared with)"
            )
        raise DataError(
            f"{dataset.source}: the SGAN needs at least {config.batch_size} unlabeled images "
            f"(one batch), found {found}{why}; put photos in {where}, or use the supervised "
            "method"
        )
    refuse_copies_of_judged(dataset, config)


# Why the SGAN may not see a split's images again in its unlabeled pool. Its labeled training
# images may be there: it learns from them with their labels anyway, and Salimans et al.'s
# code draws its labeled examples from the unlabeled set.
SEEN_TWICE = {
    "validation": "it would choose its epoch and thresholds on images it trained on (the "
    "labeled images it trains on may stay in the pool)",
    "test": "it would be tested on images it trained on",
}


def refuse_copies_of_judged(dataset: Dataset, config: SGANConfig) -> None:
    """Refuse an unlabeled pool that holds one of the run's validation images (which its
    seed carves from the labeled ones) or a test image again (pool_copies): an SGAN that
    trained on them, unlabeled, would choose its epoch and thresholds, and be judged, on
    images it had already seen. The labeled training images may stay in the pool."""
    val = stratified_split(dataset.labeled, config.val_fraction, config.seed)[1]
    judged = {
        f"seed {config.seed}'s validation": (val, SEEN_TWICE["validation"]),
        "test": (dataset.test, SEEN_TWICE["test"]),
    }
    refuse_copies_in_pool(dataset, judged)


@own_rng
def train_sgan(dataset: Dataset, config: SGANConfig, out_dir: Path, resume: bool = False) -> Path:
    """Train the SGAN, select on validation AUC, save the deployable classifier as a checkpoint.

    Raises TrainingInterrupted on Ctrl-C after saving OUT/resume.pt, and
    DivergenceError (writing no checkpoint) if training keeps diverging.
    """
    check_unlabeled_pool(dataset, config)
    out_dir = Path(out_dir)
    rng, train, val, mean, std = seeded_split(dataset, config)
    steps = config.epochs * (len(dataset.unlabeled) // config.batch_size)
    nets = build_nets(config, steps, select_device(config.device))
    fixed_z = torch.randn(64, config.generator.latent_dim, generator=rng)  # for sample grids
    labeled = LabeledBatches(train, config.labeled_batch_size, rng)
    good = _snapshot(nets, labeled, rng, 0, {"auc": -1.0, "epoch": 0, "state": None}, [], 0)
    identity = run_identity("sgan", config, dataset)
    if resume:
        good = _load_resume(out_dir / RESUME, nets, labeled, rng, identity, dataset)
    else:
        clear_previous_run(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)  # after the checks that can fail: no empty dir
    context = (labeled, dataset.unlabeled, val, config, mean, std, rng)
    # Ctrl-C during the epochs or while the checkpoint is written keeps the last whole epoch.
    state, progress = lambda: {**good, "identity": identity}, lambda: f"epoch {good['epoch']}"
    with resumable(out_dir, state, progress):
        try:
            _run_epochs(nets, good, context, out_dir, fixed_z)
        finally:
            if good["history"]:  # a run that diverged in its first epoch has nothing to plot
                # The grid is named after the last whole epoch: draw it with that epoch's G,
                # not one a Ctrl-C or a divergence stopped in the middle of the next.
                nets.gen.load_state_dict(good["nets"]["gen"])
                write_sgan_report(out_dir, good["history"], nets.gen, fixed_z)
            elif created and not any(out_dir.iterdir()):
                out_dir.rmdir()
        splits = (train, val, mean, std)
        _save_best(nets, good["best"], dataset, config, splits, out_dir, good["restores"])
    return out_dir


def _save_best(
    nets: SGANNets, best: dict, dataset, config, splits: tuple, out_dir: Path, restores: int
) -> None:
    """The selected epoch's classifier as a checkpoint: validation predictions first and
    metadata.json last, so a directory without valid metadata is never a finished one.
    `restores` (the run's rollbacks) goes in its train_config: a run that diverged and
    recovered is not the same as one that never diverged."""
    train, val, mean, std = splits
    nets.judged().load_state_dict(best["state"])
    classifier = to_classifier(nets.judged(), config.model).cpu()
    _refuse_non_finite(classifier)
    val_probs = predict_probs(classifier, val.images, mean, std)
    meta = _finish_meta(dataset, config, mean, std, (train, val, val_probs), best, restores)
    write_scores(out_dir / VALIDATION_CSV, val.names, val.labels, val_probs)
    save_checkpoint(out_dir, classifier, meta)
    (out_dir / RESUME).unlink(missing_ok=True)


def _run_epochs(nets: SGANNets, good: dict, context: tuple, out_dir: Path, fixed_z) -> None:
    """Epoch loop; `good` is updated in place and always holds the last finite, validated state."""
    labeled, unlabeled, val, config, mean, std, rng = context
    bar = tqdm(total=config.epochs, initial=good["epoch"], desc="sgan", disable=not config.progress)
    with bar:
        while good["epoch"] < config.epochs:
            epoch, started = good["epoch"] + 1, time.perf_counter()
            try:
                losses = train_one_epoch(nets, labeled, unlabeled, config, mean, std, rng)
                val_auc = validate(nets, val, config, mean, std)
            except EpochDiverged as why:
                _restore(nets, good, labeled, rng, config, epoch, why)
                continue
            # how many attempts at this epoch were rolled back before this one held
            rolled_back = good["restores"] - good["restores_before"]
            row = {"epoch": epoch, **losses, "val_auc": val_auc, "rolled_back": rolled_back}
            row["seconds"] = round(time.perf_counter() - started, 2)
            best = good["best"]
            eligible = epoch >= config.select_after * config.epochs
            if eligible and val_auc > best["auc"]:  # ties keep the earlier epoch
                state = copy.deepcopy(nets.judged().state_dict())
                best = {"auc": val_auc, "epoch": epoch, "state": state}
            history = good["history"] + [row]
            good.update(_snapshot(nets, labeled, rng, epoch, best, history, good["restores"]))
            log.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.4g}" for k, v in row.items()))
            bar.update(1)
            bar.set_postfix(
                sup=f"{losses['sup']:.3f}", fm=f"{losses['fm']:.3f}", val_auc=f"{val_auc:.3f}"
            )
            if epoch % config.sample_every == 0:
                write_sgan_report(out_dir, good["history"], nets.gen, fixed_z)


def _restore(
    nets: SGANNets, good: dict, labeled, rng, config: SGANConfig, epoch: int, why: Exception
) -> None:
    """Roll back to the last good epoch's networks, or give up after max_restores.

    The data stream (the labeled batches and `rng`, and torch's RNG) is not rolled back,
    so the retry sees other batches; `good` takes its position, so that a Ctrl-C during
    the retry saves the stream the retry draws from: a resume.pt holding the diverged
    attempt's would replay the batches that diverged (and count a restore the
    uninterrupted run never made)."""
    good["restores"] += 1
    if good["restores"] > config.max_restores:
        raise DivergenceError(
            f"SGAN diverged in epoch {epoch} ({why}) after {config.max_restores} restores; "
            "no checkpoint written (try another --seed, or lower SGANConfig.lr_d/lr_g "
            "from Python)"
        )
    log.warning("epoch %d diverged (%s); restoring the state after epoch %d", epoch, why, epoch - 1)
    nets.load(good["nets"])
    good.update(
        labeled_batches=labeled.state(), generator=rng.get_state(), torch_rng=torch.get_rng_state()
    )


def _load_resume(
    path: Path, nets: SGANNets, labeled: LabeledBatches, rng, identity, dataset
) -> dict:
    state = read_resume_state(path, rng, identity, dataset, RESUME_LAYOUT)
    with refused_if_unloadable(path):
        nets.load(state["nets"])
        labeled.load(state["labeled_batches"])
    if "restores_before" not in state:  # a resume.pt saved before it was kept
        state["restores_before"] = _restores_in_rows(state)
    # the restores this run made before its last kept epoch: never more than all of them
    for key in ("restores", "restores_before"):
        refuse_non_count(path, key, state[key])
    if state["restores_before"] > state["restores"]:
        raise corrupt_resume_state(
            path,
            f"'restores_before' is {state['restores_before']}, more than 'restores' "
            f"{state['restores']}",
        )
    return state


def _restores_in_rows(state: dict) -> int:
    """The rollbacks an older resume.pt's history rows count. Rows saved before they had
    `rolled_back` (2026-12-07) count none, so the run's restores so far are in no row:
    credited to the next epoch, they made its count wrong. history.csv leaves those rows'
    cells empty."""
    rows = state["history"]
    if all(isinstance(row, dict) and isinstance(row.get("rolled_back"), int) for row in rows):
        return sum(row["rolled_back"] for row in rows)
    return state["restores"]


def _refuse_non_finite(classifier) -> None:
    broken = non_finite_tensors(classifier.state_dict())
    if broken:
        raise DivergenceError(f"refusing to save: {broken[0]} has non-finite values")


def _finish_meta(dataset, config, mean, std, splits, best: dict, restores: int):
    train, val, val_probs = splits
    return validated_meta(
        dataset, config, mean, std, val.labels.numpy(), val_probs, best["epoch"],
        method="sgan", arch=ARCH, arch_args=config_dict(config.model),
        extra_config={"n_train": len(train), "n_val": len(val),
                      "n_unlabeled": len(dataset.unlabeled), "restores": restores},
    )  # fmt: skip
