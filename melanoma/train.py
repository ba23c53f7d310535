"""Supervised baseline: a cross-validated ensemble of small CNNs on the labeled images.

Reads top to bottom: stratified folds -> normalization -> for each fold, train
one SmallCNN on the other folds (augment, step, EMA) and predict its held-out
fold after every epoch -> keep one epoch for all members (the last, or the one
with the best out-of-fold AUC) -> thresholds and validation metrics from that
epoch's out-of-fold predictions -> one checkpoint whose model is the mean of
the members' logits. The test split is never touched here.

Why folds instead of one CNN with a 40-image validation split: with 200
labels, that split made both epoch selection and the Youden threshold noisy
and left a fifth of the labels unused. Here every labeled image trains four of
the five members, thresholds come from 200 out-of-fold predictions instead of
40, and averaging members cuts variance. The cost is 5x training (about a
minute on 2 cores) and 5x inference (49 MMACs per image; the
benchmark report has the measured latency).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from melanoma import config_checks as checks
from melanoma.augment import AugmentConfig
from melanoma.checkpoint import save_checkpoint
from melanoma.datasets import Dataset, Split
from melanoma.fold_run import RESUME_LAYOUT, FoldRun, epochs_done, fresh_run, progress_text
from melanoma.history import HISTORY, write_history
from melanoma.inference import predict_logits
from melanoma.metrics import YOUDEN_ESTIMATORS, auc
from melanoma.model import CNNConfig, SmallCNN, config_dict
from melanoma.preprocess import channel_stats
from melanoma.resume import RESUME, clear_previous_run, read_resume_state, resumable, run_identity
from melanoma.splits import OUT_OF_FOLD, stratified_folds
from melanoma.train_resume import check_resumed_run, member_optimizer
from melanoma.training import (
    DivergenceError,
    WeightEMA,
    augmented_batch,
    own_rng,
    select_device,
    validated_meta,
)
from melanoma.validation_scores import OUT_OF_FOLD_CSV, write_scores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0  # seeds the folds, init, batch order and augmentation
    epochs: int = 60  # per member
    batch_size: int = 32
    lr: float = 3e-3  # AdamW peak learning rate (one-cycle schedule)
    weight_decay: float = 0.05  # decoupled (AdamW); 5e-4 did nothing measurable
    folds: int = 5  # cross-validation folds = ensemble members; member k trains on the others
    target_sensitivity: float = 0.9  # second stored threshold: the screening operating point
    youden_estimator: str = "binormal"  # or "empirical"; see metrics.youden_threshold
    ema_decay: float = 0.99  # EMA of weights, 0 disables; a ceiling that the warm-up of
    # training.WeightEMA keeps it under in 60 epochs (0.971 at the end). Smooths the noise.
    # Which epoch every member keeps: "val-auc", the one epoch whose out-of-fold
    # predictions (all members pooled) have the highest AUC, or "last". In nested
    # CV (README) val-auc was level with last on held-out images: AUC +0.0006,
    # accuracy +0.0013 ± 0.0107; its out-of-fold AUC overstated held-out by 0.001.
    select_epoch: str = "val-auc"
    device: str = "auto"  # auto picks cuda, then mps, then cpu
    progress: bool = True  # tqdm bar with loss and held-out AUC
    model: CNNConfig = field(default_factory=CNNConfig)  # of each member
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        checks.at_least(self, 1, "epochs", "batch_size")
        checks.at_least(self, 2, "folds")  # each member needs other folds to train on
        checks.non_negative(self, "lr", allow_zero=False)
        checks.non_negative(self, "weight_decay")
        checks.fraction(self, "ema_decay")  # a ceiling: the warm-up moves it even at 1
        checks.target_sensitivity(self)
        checks.one_of(self, "youden_estimator", YOUDEN_ESTIMATORS)
        checks.one_of(self, "select_epoch", SELECT_EPOCH)
        checks.device_name(self)


SELECT_EPOCH = ("last", "val-auc")


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    ema: WeightEMA | None,
    train: Split,
    config: TrainConfig,
    mean: list[float],
    std: list[float],
    gen: torch.Generator,
) -> float:
    model.train()
    device = next(model.parameters()).device
    order = torch.randperm(len(train), generator=gen)
    losses = []
    for start in range(0, len(order), config.batch_size):
        index = order[start : start + config.batch_size]
        x = augmented_batch(train.images[index], config.augment, mean, std, gen).to(device)
        y = train.labels[index].to(torch.float32).unsqueeze(1).to(device)  # (B, 1)
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update(model)
        losses.append(loss.item())
    return float(np.mean(losses))


def train_member(
    train: Split,
    held_out: Split,
    config: TrainConfig,
    mean: list[float],
    std: list[float],
    gen: torch.Generator,
    resumed: dict | None,
    on_epoch: Callable[[int, float, torch.Tensor, dict], None],
) -> dict:
    """Train one SmallCNN for the full schedule; return its EMA (or raw) weights on the CPU
    as {epoch: state_dict}: every epoch when config.select_epoch may choose one, else the last.

    After every epoch, on_epoch(epoch, loss, held_out_logits, state) gets the
    member's resumable state; `resumed` is such a state, or None.
    """
    device = select_device(config.device)
    model = SmallCNN(config.model).to(device)
    optimizer, scheduler = member_optimizer(model, config, len(train))
    ema = WeightEMA(model, config.ema_decay) if config.ema_decay else None
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler}
    if ema is not None:
        parts["ema"] = ema.model
    start, snapshots = 0, {}
    if resumed is not None:
        for name, part in parts.items():
            # A copy: the optimizer would keep and update the resume state's tensors in place,
            # and a second Ctrl-C before the next epoch ends saves that state again.
            part.load_state_dict(copy.deepcopy(resumed[name]))
        if ema is not None:
            ema.updates = resumed["ema_updates"]
        start, snapshots = resumed["epoch"], dict(resumed["snapshots"])
        # Building the model above drew from the global RNG (dropout's source),
        # which the uninterrupted run did before this member's first epoch.
        torch.set_rng_state(resumed["torch_rng"])
    judged = ema.model if ema is not None else model
    for epoch in range(start, config.epochs):
        loss = train_one_epoch(model, optimizer, scheduler, ema, train, config, mean, std, gen)
        held_out_logits = predict_logits(judged, held_out.images, mean, std)
        if config.select_epoch != "last" or epoch + 1 == config.epochs:
            snapshots[epoch + 1] = _cpu_copy(judged.state_dict())
        # Snapshots are never modified once taken, so the state shares them.
        state = {name: copy.deepcopy(part.state_dict()) for name, part in parts.items()}
        state.update(epoch=epoch + 1, ema_updates=ema.updates if ema is not None else 0)
        state.update(torch_rng=torch.get_rng_state(), snapshots=dict(snapshots))
        on_epoch(epoch + 1, loss, held_out_logits, state)
    return snapshots


def _cpu_copy(state_dict: dict) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in state_dict.items()}


@own_rng  # the saved ensemble is built, and initialized, after train_folds
def train_supervised(
    dataset: Dataset, config: TrainConfig, out_dir: Path, resume: bool = False
) -> Path:
    """Cross-validated ensemble: one member per fold; the kept epoch (config.select_epoch)
    and the thresholds come from the out-of-fold predictions."""
    run = train_folds(dataset, config, out_dir, resume)
    out_dir = Path(out_dir)
    # Ctrl-C while the checkpoint is written keeps the trained run: --resume only writes it.
    done = f"all {config.folds} members, before the checkpoint was written"
    with resumable(out_dir, lambda: run.resume_state, lambda: done):
        _save_ensemble(dataset, config, run, out_dir)
    return out_dir


def _save_ensemble(dataset: Dataset, config: TrainConfig, run: FoldRun, out_dir: Path) -> None:
    """Choose the epoch, then write the checkpoint: the predictions first and metadata.json
    last, so a directory without valid metadata is never mistaken for a finished one."""
    labeled = dataset.labeled
    epoch, oof_auc = run.kept_epoch(config.select_epoch, labeled.labels.numpy())
    log.info("kept epoch %d/%d (out-of-fold AUC %.4f)", epoch, config.epochs, oof_auc)
    out_of_fold = run.out_of_fold_probs(epoch)
    meta = validated_meta(
        dataset, config, run.mean, run.std, labeled.labels.numpy(), out_of_fold, epoch,
        method="supervised", arch="small-cnn-ensemble",
        arch_args=config_dict(FoldRun.ensemble_config(config)),
        extra_config={"n_train": len(labeled), "n_val": len(labeled), "validation": OUT_OF_FOLD},
    )  # fmt: skip
    write_scores(out_dir / OUT_OF_FOLD_CSV, labeled.names, labeled.labels, out_of_fold, run.fold_of)
    save_checkpoint(out_dir, run.ensemble(epoch, config), meta)
    (out_dir / RESUME).unlink(missing_ok=True)


@own_rng
def train_folds(dataset: Dataset, config: TrainConfig, out_dir: Path, resume: bool) -> FoldRun:
    """Train one member per fold, writing OUT/history.csv.

    Ctrl-C saves OUT/resume.pt (the finished members, the out-of-fold logits so
    far and the running member after its last whole epoch) and raises
    TrainingInterrupted; resume=True continues bit-identically from it on the CPU with
    the same torch threads (a GPU's own random state, which its dropout draws from, is
    not saved).
    """
    labeled = dataset.labeled
    fold_of = stratified_folds(labeled.labels, config.folds, config.seed)  # fails before any write
    out_dir = Path(out_dir)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    # One normalization for the whole ensemble (the deployed input contract has
    # one), from all labeled images: each member's held-out fold contributes to
    # the per-channel mean/std but never to its weights or its threshold choice.
    mean, std = channel_stats(labeled.images)
    latest = {"state": fresh_run(len(labeled), config.epochs, gen)}
    identity = run_identity("supervised", config, dataset)
    if resume:
        path = out_dir / RESUME
        latest["state"] = read_resume_state(path, gen, identity, dataset, RESUME_LAYOUT)
        check_resumed_run(path, latest["state"], config, fold_of)
    else:
        clear_previous_run(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)  # after the checks that can fail: no empty dir
    bar = tqdm(
        total=config.folds * config.epochs,
        initial=epochs_done(latest["state"], config),
        disable=not config.progress,
        desc="train",
    )

    def state() -> dict:
        return {**latest["state"], "identity": identity}

    # The history is written inside the resumable block: a Ctrl-C while it is written
    # after the last member would otherwise end the run with no resume.pt at all.
    with resumable(out_dir, state, lambda: progress_text(latest["state"], config)):
        try:
            while latest["state"]["fold"] < config.folds:
                _train_fold(labeled, fold_of, config, mean, std, gen, latest, bar)
        finally:
            bar.close()
            write_history(out_dir / HISTORY, latest["state"]["history"])
    run = latest["state"]
    return FoldRun(run["members"], run["oof_logits"], fold_of, mean, std, state())


def divergence(loss: float, held_out_logits: torch.Tensor) -> str | None:
    """Why a member's epoch diverged, in words; None if it did not. Collapse is the SGAN's
    rule (sgan_step.validate): every held-out image (a fold holds both classes) gets the
    same probability. Logits blown up past 17 do that in float32 (lr 1 on 40 images: all
    scored 1.0, and the checkpoint kept a threshold of 0); a confident model that still
    ranks its images gives distinct probabilities."""
    if not np.isfinite(loss):
        return f"training loss {loss}"
    if not torch.isfinite(held_out_logits).all():
        return "non-finite held-out outputs with a finite training loss"
    probs = torch.sigmoid(held_out_logits)
    if probs.min() == probs.max():
        return f"collapsed: every held-out image scored {probs[0].item():.6g}"
    return None


def _train_fold(labeled: Split, fold_of, config, mean, std, gen, latest: dict, bar) -> None:
    """Train the member of the current fold; `latest["state"]` is only ever replaced whole,
    so Ctrl-C at any point leaves a consistent resume state."""
    run = latest["state"]
    fold = run["fold"]
    held_out_index = torch.nonzero(fold_of == fold).flatten()
    train = labeled.subset(torch.nonzero(fold_of != fold).flatten())
    held_out = labeled.subset(held_out_index)

    def on_epoch(epoch: int, loss: float, held_out_logits, member_state: dict) -> None:
        why = divergence(loss, held_out_logits)
        if why:
            raise DivergenceError(
                f"member {fold + 1} of {config.folds} diverged at epoch {epoch} ({why}); "
                "no checkpoint written (try another --seed, or a lower TrainConfig.lr from "
                "Python)"
            )
        held_out_auc = auc(held_out.labels.numpy(), torch.sigmoid(held_out_logits).numpy())
        row = {"fold": fold, "epoch": epoch, "train_loss": loss, "held_out_auc": held_out_auc}
        oof_logits = latest["state"]["oof_logits"].clone()
        oof_logits[epoch - 1, held_out_index] = held_out_logits
        # A new dict each time, of parts nobody modifies later: Ctrl-C sees a whole state.
        latest["state"] = {
            **latest["state"], "member": member_state, "oof_logits": oof_logits,
            "history": latest["state"]["history"] + [row],
            "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
        }  # fmt: skip
        bar.update(1)
        bar.set_postfix(fold=fold, loss=f"{loss:.3f}", held_out_auc=f"{held_out_auc:.3f}")

    snapshots = train_member(train, held_out, config, mean, std, gen, run["member"], on_epoch)
    latest["state"] = {
        **latest["state"], "fold": fold + 1, "member": None,
        "members": latest["state"]["members"] + [snapshots],
    }  # fmt: skip
