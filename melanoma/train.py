"""Supervised baseline: train the small CNN on the labeled split.

Reads top to bottom: split -> normalization -> epochs (augment, step,
validate) -> keep the best validation AUC -> thresholds on validation -> checkpoint.
The test split is never touched here.
"""

from __future__ import annotations

import copy
import csv
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
from melanoma.metrics import all_metrics, choose_thresholds
from melanoma.model import CNNConfig, SmallCNN, config_dict
from melanoma.preprocess import channel_stats, normalize
from melanoma.splits import stratified_split

log = logging.getLogger(__name__)
RESUME = "resume.pt"
HISTORY = "history.csv"


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0  # seeds the split, init, batch order and augmentation
    epochs: int = 60
    batch_size: int = 32
    lr: float = 3e-3  # AdamW peak learning rate (one-cycle schedule)
    weight_decay: float = 0.05  # decoupled (AdamW); 5e-4 did nothing measurable
    val_fraction: float = 0.2  # of labeled, stratified; used for selection and thresholds
    target_sensitivity: float = 0.9  # second stored threshold: the screening operating point
    ema_decay: float = 0.99  # EMA of weights; 0 disables. Smooths the tiny-data noise.
    select_after: float = 0.25  # fraction of epochs before which no checkpoint is selected:
    # with 40 validation images an undertrained early model can win by luck
    device: str = "auto"  # auto picks cuda, then mps, then cpu
    progress: bool = True  # tqdm bar with loss and validation AUC
    model: CNNConfig = field(default_factory=CNNConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


class TrainingInterrupted(Exception):
    """Ctrl-C during training; the resumable state was saved to `path`."""

    def __init__(self, path: Path, epoch: int):
        super().__init__(f"interrupted after epoch {epoch}; resume state saved to {path}")
        self.path = path


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


def _resume_state(model, optimizer, scheduler, ema, gen, epoch, best, history) -> dict:
    return copy.deepcopy(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "ema": ema.model.state_dict() if ema is not None else None,
            "ema_updates": ema.updates if ema is not None else 0,
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epoch": epoch,
            "best": best,
            "history": history,
        }
    )


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
    """Train, select on validation AUC, choose thresholds on validation, save a checkpoint."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gen, train, val, mean, std = seeded_split(dataset, config)
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
    start, best, history = 0, {"auc": -1.0, "loss": float("inf"), "epoch": 0, "state": None}, []
    if resume:
        start, best, history = _load_resume(out_dir / RESUME, model, optimizer, scheduler, ema, gen)

    snapshot = _resume_state(model, optimizer, scheduler, ema, gen, start, best, history)
    bar = tqdm(
        range(start, config.epochs),
        disable=not config.progress,
        desc="train",
        initial=start,
        total=config.epochs,
    )
    try:
        for epoch in bar:
            loss = train_one_epoch(model, optimizer, scheduler, ema, train, config, mean, std, gen)
            judged = ema.model if ema is not None else model
            val_probs = predict_probs(judged, val.images, mean, std)
            val_auc = all_metrics(val.labels.numpy(), val_probs, 0.5)["auc"]
            history.append({"epoch": epoch + 1, "train_loss": loss, "val_auc": val_auc})
            eligible = epoch + 1 >= config.select_after * config.epochs
            if eligible and (val_auc, -loss) > (best["auc"], -best["loss"]):
                best = {
                    "auc": val_auc,
                    "loss": loss,
                    "epoch": epoch + 1,
                    "state": copy.deepcopy(judged.state_dict()),
                }
            bar.set_postfix(loss=f"{loss:.3f}", val_auc=f"{val_auc:.3f}", best=f"{best['auc']:.3f}")
            snapshot = _resume_state(
                model, optimizer, scheduler, ema, gen, epoch + 1, best, history
            )
    except KeyboardInterrupt:
        torch.save(snapshot, out_dir / RESUME)
        raise TrainingInterrupted(out_dir / RESUME, snapshot["epoch"]) from None
    finally:
        bar.close()
        _write_history(out_dir / HISTORY, history)

    model.load_state_dict(best["state"])
    meta = validated_meta(
        model, dataset, train, val, config, mean, std, best["epoch"],
        method="supervised", arch="small-cnn", arch_args=config_dict(config.model),
    )  # fmt: skip
    save_checkpoint(out_dir, model.cpu(), meta)
    (out_dir / RESUME).unlink(missing_ok=True)
    return out_dir


def read_resume_state(path: Path, gen: torch.Generator) -> dict:
    """Load a resume.pt saved on Ctrl-C and restore both RNGs from it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no resume state to continue from")
    state = torch.load(path, map_location="cpu", weights_only=True)
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    log.info("resuming from epoch %d", state["epoch"])
    return state


def _load_resume(path: Path, model, optimizer, scheduler, ema, gen):
    state = read_resume_state(path, gen)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if ema is not None and state["ema"] is not None:
        ema.model.load_state_dict(state["ema"])
        ema.updates = state["ema_updates"]
    return state["epoch"], state["best"], state["history"]


def _write_history(path: Path, history: list[dict]) -> None:
    if not history:
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def validated_meta(model, dataset, train, val, config, mean, std, best_epoch, **identity):
    """CheckpointMeta with thresholds and metrics measured on validation.

    `identity` holds method, arch and arch_args; extra train_config entries
    go in `extra_config`.
    """
    extra = identity.pop("extra_config", {})
    val_labels = val.labels.numpy()
    val_probs = predict_probs(model, val.images, mean, std)
    thresholds = choose_thresholds(val_labels, val_probs, config.target_sensitivity)
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
        train_config={**asdict(config), "n_train": len(train), "n_val": len(val), **extra},
    )
