"""Supervised baseline: a cross-validated ensemble of small CNNs on the labeled images.

Reads top to bottom: stratified folds -> normalization -> for each fold, train
one SmallCNN on the other folds (augment, step, EMA) and predict its held-out
fold -> thresholds and validation metrics from those out-of-fold predictions ->
one checkpoint whose model is the mean of the members' logits. The test split
is never touched here.

Why folds instead of one CNN with a 40-image validation split: with 200
labels, that split made both epoch selection and the Youden threshold noisy
and left a fifth of the labels unused. Here every labeled image trains four of
the five members, thresholds come from 200 out-of-fold predictions instead of
40, and averaging members cuts variance. The cost is 5x training (about a
minute on 2 cores) and 5x inference (49 MMACs per image; the
benchmark report has the measured latency).

Helpers shared with the SGAN trainer (device, EMA, hold-out split, resume
state, metadata) live here too.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from melanoma.augment import AugmentConfig, augment
from melanoma.checkpoint import CheckpointMeta, save_checkpoint
from melanoma.datasets import Dataset, Split
from melanoma.history import HISTORY, write_history
from melanoma.metrics import all_metrics, auc, choose_thresholds
from melanoma.model import CNNConfig, CNNEnsemble, EnsembleConfig, SmallCNN, config_dict
from melanoma.preprocess import channel_stats, normalize
from melanoma.resume import (
    RESUME,
    TrainingInterrupted,
    clear_previous_run,
    read_resume_state,
    run_identity,
)
from melanoma.splits import OUT_OF_FOLD, stratified_folds, stratified_split
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
    ema_decay: float = 0.99  # EMA of weights; 0 disables. Smooths the tiny-data noise.
    device: str = "auto"  # auto picks cuda, then mps, then cpu
    progress: bool = True  # tqdm bar with loss and held-out AUC
    model: CNNConfig = field(default_factory=CNNConfig)  # of each member
    augment: AugmentConfig = field(default_factory=AugmentConfig)


def select_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@torch.no_grad()
def predict_probs(
    model: nn.Module, images: torch.Tensor, mean: list[float], std: list[float], batch: int = 256
) -> np.ndarray:
    """P(melanoma) for (N, 3, 32, 32) uint8 images, in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    out = [
        torch.sigmoid(model(normalize(images[i : i + batch], mean, std).to(device))).flatten()
        for i in range(0, len(images), batch)
    ]
    return torch.cat(out).cpu().numpy()


class WeightEMA:
    """Exponential moving average of parameters and buffers (BatchNorm stats included)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        # Warm-up: early on the average would be mostly the random init.
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        pairs = zip(self.model.state_dict().values(), model.state_dict().values(), strict=True)
        for ema_v, v in pairs:
            if ema_v.dtype.is_floating_point:
                ema_v.lerp_(v, 1 - decay)
            else:
                ema_v.copy_(v)


def augmented_batch(
    images: torch.Tensor, config: AugmentConfig, mean, std, gen: torch.Generator
) -> torch.Tensor:
    """uint8 (B, 3, 32, 32) -> augmented, normalized float32."""
    augmented = augment(images.to(torch.float32) / 255.0, config, gen)
    return normalize(augmented * 255.0, mean, std)


def train_one_epoch(model, optimizer, scheduler, ema, train: Split, config, mean, std, gen):
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


def train_member(train: Split, held_out: Split, config, mean, std, gen, resumed, on_epoch):
    """Train one SmallCNN for the full schedule; return its EMA (or raw) weights in eval mode.

    No epoch is selected: choosing among 60 epochs on the 40 held-out images
    would bias the very predictions the thresholds are chosen from (by ~+0.02
    held-out AUC in our 5-fold runs).
    After every epoch, on_epoch(epoch, loss, held_out_auc, state) gets the
    member's resumable state; `resumed` is such a state, or None.
    """
    device = select_device(config.device)
    model = SmallCNN(config.model).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    steps_per_epoch = -(-len(train) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
    )
    ema = WeightEMA(model, config.ema_decay) if config.ema_decay else None
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler}
    if ema is not None:
        parts["ema"] = ema.model
    start = 0
    if resumed is not None:
        for name, part in parts.items():
            part.load_state_dict(resumed[name])
        if ema is not None:
            ema.updates = resumed["ema_updates"]
        start = resumed["epoch"]
        # Building the model above drew from the global RNG (dropout's source),
        # which the uninterrupted run did before this member's first epoch.
        torch.set_rng_state(resumed["torch_rng"])
    judged = ema.model if ema is not None else model
    for epoch in range(start, config.epochs):
        loss = train_one_epoch(model, optimizer, scheduler, ema, train, config, mean, std, gen)
        held_out_probs = predict_probs(judged, held_out.images, mean, std)
        state = {name: part.state_dict() for name, part in parts.items()}
        state.update(epoch=epoch + 1, ema_updates=ema.updates if ema is not None else 0)
        state["torch_rng"] = torch.get_rng_state()
        on_epoch(epoch + 1, loss, auc(held_out.labels.numpy(), held_out_probs), state)
    return judged.cpu().eval()


@torch.no_grad()
def member_logits(model: nn.Module, images: torch.Tensor, mean, std) -> torch.Tensor:
    return model.eval()(normalize(images, mean, std)).flatten()


def seeded_split(dataset: Dataset, config) -> tuple[torch.Generator, Split, Split, list, list]:
    """Seed torch, carve the validation split, and take normalization from train only.

    Returns (generator for batch order and augmentation, train, val, mean, std).
    """
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    train, val = stratified_split(dataset.labeled, config.val_fraction, config.seed)
    mean, std = channel_stats(train.images)
    return gen, train, val, mean, std


def train_supervised(
    dataset: Dataset, config: TrainConfig, out_dir: Path, resume: bool = False
) -> Path:
    """Cross-validated ensemble: one member per fold, thresholds from out-of-fold predictions.

    Ctrl-C saves OUT/resume.pt (the finished members, the out-of-fold logits so
    far and the running member after its last whole epoch) and raises
    TrainingInterrupted; resume=True continues bit-identically from it.
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
    latest = {"state": _fresh_run(len(labeled), gen)}
    identity = run_identity("supervised", config, dataset)
    if resume:
        latest["state"] = read_resume_state(out_dir / RESUME, gen, identity)
    else:
        clear_previous_run(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)  # after the checks that can fail: no empty dir
    bar = tqdm(
        total=config.folds * config.epochs,
        initial=_epochs_done(latest["state"], config),
        disable=not config.progress,
        desc="train",
    )
    try:
        while latest["state"]["fold"] < config.folds:
            _train_fold(labeled, fold_of, config, mean, std, gen, latest, bar)
    except KeyboardInterrupt:
        state = latest["state"]
        torch.save({**state, "identity": identity}, out_dir / RESUME)
        raise TrainingInterrupted(out_dir / RESUME, _progress_text(state, config)) from None
    finally:
        bar.close()
        write_history(out_dir / HISTORY, latest["state"]["history"])
    run = latest["state"]
    ensemble_config = EnsembleConfig(config.folds, config.model.widths, config.model.dropout)
    ensemble = CNNEnsemble(ensemble_config)
    for member, weights in zip(ensemble.members, run["members"], strict=True):
        member.load_state_dict(weights)
    out_of_fold = torch.sigmoid(run["oof_logits"]).numpy()
    meta = validated_meta(
        dataset, config, mean, std, labeled.labels.numpy(), out_of_fold, config.epochs,
        method="supervised", arch="small-cnn-ensemble", arch_args=config_dict(ensemble_config),
        extra_config={"n_train": len(labeled), "n_val": len(labeled), "validation": OUT_OF_FOLD},
    )  # fmt: skip
    save_checkpoint(out_dir, ensemble.eval(), meta)
    write_scores(out_dir / OUT_OF_FOLD_CSV, labeled.names, labeled.labels, out_of_fold, fold_of)
    (out_dir / RESUME).unlink(missing_ok=True)
    return out_dir


def _fresh_run(n_labeled: int, gen: torch.Generator) -> dict:
    """Resume state before any training: fold 0, no members, no out-of-fold logits yet."""
    return {
        "fold": 0,
        "members": [],
        "oof_logits": torch.full((n_labeled,), float("nan")),
        "member": None,  # the running member's state after its last whole epoch
        "history": [],
        "generator": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
    }


def _progress_text(run: dict, config: TrainConfig) -> str:
    """Where an interrupted ensemble stands, in the per-member epochs --epochs counts."""
    if run["fold"] >= config.folds:
        return f"all {config.folds} members"
    return f"epoch {_member_epoch(run)}/{config.epochs} of member {run['fold'] + 1}/{config.folds}"


def _epochs_done(run: dict, config: TrainConfig) -> int:
    return run["fold"] * config.epochs + _member_epoch(run)


def _member_epoch(run: dict) -> int:
    """Epochs the member in training has finished (0 between members)."""
    return run["member"]["epoch"] if run["member"] else 0


def _train_fold(labeled: Split, fold_of, config, mean, std, gen, latest: dict, bar) -> None:
    """Train the member of the current fold; `latest["state"]` is only ever replaced whole,
    so Ctrl-C at any point leaves a consistent resume state."""
    run = latest["state"]
    fold = run["fold"]
    held_out_index = torch.nonzero(fold_of == fold).flatten()
    train = labeled.subset(torch.nonzero(fold_of != fold).flatten())
    held_out = labeled.subset(held_out_index)

    def on_epoch(epoch: int, loss: float, held_out_auc: float, member_state: dict) -> None:
        row = {"fold": fold, "epoch": epoch, "train_loss": loss, "held_out_auc": held_out_auc}
        history = latest["state"]["history"] + [row]
        latest["state"] = copy.deepcopy(
            {**latest["state"], "member": member_state, "history": history,
             "generator": gen.get_state(), "torch_rng": torch.get_rng_state()}
        )  # fmt: skip
        bar.update(1)
        bar.set_postfix(fold=fold, loss=f"{loss:.3f}", held_out_auc=f"{held_out_auc:.3f}")

    member = train_member(train, held_out, config, mean, std, gen, run["member"], on_epoch)
    oof_logits = latest["state"]["oof_logits"].clone()
    oof_logits[held_out_index] = member_logits(member, held_out.images, mean, std)
    latest["state"] = copy.deepcopy(
        {**latest["state"], "fold": fold + 1, "member": None, "oof_logits": oof_logits,
         "members": latest["state"]["members"] + [member.state_dict()]}
    )  # fmt: skip


def validated_meta(dataset, config, mean, std, val_labels, val_probs, best_epoch, **identity):
    """CheckpointMeta with thresholds and metrics from validation predictions.

    `identity` holds method, arch and arch_args; extra train_config entries
    (n_train, n_val, ...) go in `extra_config`.
    """
    extra = identity.pop("extra_config", {})
    thresholds = choose_thresholds(
        val_labels, val_probs, config.target_sensitivity, config.youden_estimator
    )
    return CheckpointMeta(
        **identity,
        seed=config.seed,
        epochs=config.epochs,
        best_epoch=best_epoch,
        data_fingerprint=dataset.fingerprint,
        mean=mean,
        std=std,
        val_metrics=all_metrics(val_labels, val_probs, thresholds[0].probability),
        thresholds=[asdict(t) for t in thresholds],
        train_config={**asdict(config), **extra},
    )
