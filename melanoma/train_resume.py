"""What a supervised resume.pt holds, checked whole before a run continues from it.

read_resume_state checks the state's top-level keys and their types (fold_run.RESUME_LAYOUT);
this checks what they hold, before any epoch runs. A member's weights that did not load
(a tensor missing, or of another shape) stopped the run in load_state_dict's traceback,
minutes in when they were a finished member's; an optimizer state without one parameter's
moments, a scheduler's state of other keys, or history rows of other columns were taken
silently, and the run continued as one the state never was.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from melanoma.model import SmallCNN
from melanoma.resume import corrupt_resume_state, refuse_non_count, refused_if_unloadable
from melanoma.training import own_rng

if TYPE_CHECKING:  # train imports this module
    from melanoma.train import TrainConfig

HISTORY_COLUMNS = ("fold", "epoch", "train_loss", "held_out_auc")  # train._train_fold's rows


def member_optimizer(model: torch.nn.Module, config: TrainConfig, n_train: int) -> tuple:
    """(AdamW, OneCycleLR) of a member trained on n_train images: one step per batch."""
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * _steps(config, n_train),
        pct_start=0.15,
    )  # fmt: skip
    return optimizer, scheduler


def _steps(config: TrainConfig, n_train: int) -> int:
    return -(-n_train // config.batch_size)  # per epoch: the last batch may be short


@own_rng  # the networks it loads into draw their initial weights from the RNG just restored
def check_resumed_run(path: Path, state: dict, config: TrainConfig, fold_of: torch.Tensor) -> None:
    """Refuse (UserError, one line) a state of this run's identity whose contents are not
    what train_folds saves: `fold_of` is each labeled image's fold. Leaves torch's RNG as
    it found it: between members, the next member is built from it."""
    refuse_non_count(path, "fold", state["fold"])
    if state["fold"] > config.folds or len(state["members"]) != state["fold"]:
        _refuse(path, f"{len(state['members'])} members at fold {state['fold']}")
    if state["oof_logits"].shape != (config.epochs, len(fold_of)):
        _refuse(path, f"'oof_logits' of shape {tuple(state['oof_logits'].shape)}")
    member = state["member"]
    if member is not None and state["fold"] == config.folds:
        _refuse(path, "a member in training after the last fold")
    epoch = _check_member_epoch(path, member, config) if member is not None else 0
    _check_history(path, state["history"], state["fold"] * config.epochs + epoch)
    with refused_if_unloadable(path):
        for snapshots in state["members"]:
            _check_snapshots(path, snapshots, config, config.epochs)
        if member is not None:
            n_train = int((fold_of != state["fold"]).sum())
            _check_member(path, member, config, n_train)


def _check_member_epoch(path: Path, member: dict, config: TrainConfig) -> int:
    for key in ("model", "optimizer", "scheduler", "epoch", "ema_updates", "torch_rng"):
        if key not in member:
            _refuse(path, f"no {key!r} in its member")
    refuse_non_count(path, "epoch", member["epoch"], least=1)
    if member["epoch"] > config.epochs:
        _refuse(path, f"member epoch {member['epoch']} of {config.epochs}")
    return member["epoch"]


def _check_member(path: Path, member: dict, config: TrainConfig, n_train: int) -> None:
    """The running member's parts load as train.train_member loads them, and have taken
    the steps its epoch count says."""
    model = SmallCNN(config.model)
    model.load_state_dict(member["model"])
    if config.ema_decay:
        SmallCNN(config.model).load_state_dict(member["ema"])
    optimizer, scheduler = member_optimizer(model, config, n_train)
    fresh_keys = set(scheduler.state_dict())
    optimizer.load_state_dict(member["optimizer"])
    _check_moments(path, optimizer)
    if not isinstance(member["scheduler"], dict) or set(member["scheduler"]) != fresh_keys:
        _refuse(path, "its member's 'scheduler' is not a OneCycleLR state")
    scheduler.load_state_dict(member["scheduler"])
    steps = member["epoch"] * _steps(config, n_train)
    updates = steps if config.ema_decay else 0
    if scheduler.last_epoch != steps or member["ema_updates"] != updates:
        _refuse(path, f"its member took other steps than {member['epoch']} epoch(s) make")
    torch.Generator().set_state(member["torch_rng"])  # refuses what is no RNG state
    _check_snapshots(path, member["snapshots"], config, member["epoch"])


def _check_moments(path: Path, optimizer: torch.optim.Optimizer) -> None:
    """Every parameter has AdamW's moments, of its own shape: load_state_dict takes a state
    without some (those then restart from zero) or of another shape (a step then fails)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, param in enumerate(params):
        moments = optimizer.state.get(param)
        if not moments:
            _refuse(path, f"no optimizer state for parameter {index}")
        for name, value in moments.items():
            if name != "step" and (not torch.is_tensor(value) or value.shape != param.shape):
                _refuse(path, f"optimizer {name!r} of parameter {index} is not of its shape")


def _check_snapshots(path: Path, snapshots: object, config: TrainConfig, epoch: int) -> None:
    """A member's {epoch: weights} after `epoch` epochs: every epoch's, or only the last's."""
    if not isinstance(snapshots, dict):
        _refuse(path, f"a member's snapshots are a {type(snapshots).__name__}")
    kept = range(1, epoch + 1) if config.select_epoch != "last" else [config.epochs]
    if set(snapshots) != {e for e in kept if e <= epoch}:
        _refuse(path, f"a member's snapshots are of epochs {sorted(snapshots, key=str)}")
    model = SmallCNN(config.model)
    for weights in snapshots.values():
        model.load_state_dict(weights)


def _check_history(path: Path, rows: list, expected: int) -> None:
    if len(rows) != expected:
        _refuse(path, f"{len(rows)} history rows, not the {expected} its epochs made")
    for row in rows:
        if not isinstance(row, dict) or tuple(row) != HISTORY_COLUMNS:
            _refuse(path, f"a history row that is not {{{', '.join(HISTORY_COLUMNS)}}}")


def _refuse(path: Path, why: str) -> None:
    raise corrupt_resume_state(path, why)
