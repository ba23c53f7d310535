"""A cross-validated run's bookkeeping: its state between members, and the finished run.

train.train_folds keeps one plain dict of the run so far (which fold trains, the finished
members' weights, the out-of-fold logits, the history): what Ctrl-C saves as resume.pt and
--resume reads back (RESUME_LAYOUT). Once every member is trained it becomes a FoldRun,
from which train chooses the epoch to keep and builds the ensemble.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from melanoma.metrics import auc
from melanoma.model import CNNEnsemble, EnsembleConfig

if TYPE_CHECKING:  # train imports this module
    from melanoma.train import TrainConfig


def kept_epoch(
    oof_logits: torch.Tensor, labels: np.ndarray, candidates: Iterable[int]
) -> tuple[int, float]:
    """(epoch, out-of-fold AUC) with the best AUC over `candidates`, the later epoch on a tie.

    oof_logits[e - 1] holds every labeled image's logit from the member that held
    it out, after epoch e.
    """
    scores = {e: auc(labels, torch.sigmoid(oof_logits[e - 1]).numpy()) for e in candidates}
    best = max(scores, key=lambda e: (scores[e], e))
    return best, scores[best]


@dataclass(frozen=True)
class FoldRun:
    """A finished cross-validated run, before an epoch is chosen."""

    members: list[dict]  # member k's {epoch: weights}: every epoch, or only the last
    oof_logits: torch.Tensor  # [e - 1]: each labeled image's logit after epoch e, by its member
    fold_of: torch.Tensor  # fold (= member) that held each labeled image out
    mean: list[float]
    std: list[float]
    resume_state: dict = field(default_factory=dict, repr=False)  # what resume.pt would hold

    def kept_epoch(self, rule: str, labels: np.ndarray) -> tuple[int, float]:
        """(epoch, out-of-fold AUC) by `rule` ("last" or "val-auc"), among the kept epochs."""
        candidates = sorted(set.intersection(*(set(snapshots) for snapshots in self.members)))
        return kept_epoch(
            self.oof_logits, labels, candidates[-1:] if rule == "last" else candidates
        )

    def ensemble(self, epoch: int, config: TrainConfig) -> CNNEnsemble:
        ensemble = CNNEnsemble(self.ensemble_config(config))
        for member, snapshots in zip(ensemble.members, self.members, strict=True):
            member.load_state_dict(snapshots[epoch])
        return ensemble.eval()

    @staticmethod
    def ensemble_config(config: TrainConfig) -> EnsembleConfig:
        return EnsembleConfig(config.folds, config.model.widths, config.model.dropout)

    def out_of_fold_probs(self, epoch: int) -> np.ndarray:
        return torch.sigmoid(self.oof_logits[epoch - 1]).numpy()


# The keys of fresh_run's state besides its RNGs, and their types: read_resume_state
# refuses a resume.pt without one.
RESUME_LAYOUT = {
    "fold": int, "members": list, "oof_logits": torch.Tensor, "member": (dict, type(None)),
    "history": list,
}  # fmt: skip


def fresh_run(n_labeled: int, epochs: int, gen: torch.Generator) -> dict:
    """Resume state before any training: fold 0, no members, no out-of-fold logits yet.

    members[k] is member k's {epoch: weights}; oof_logits[e - 1] the out-of-fold
    logits after epoch e, filled in fold by fold."""
    return {
        "fold": 0,
        "members": [],
        "oof_logits": torch.full((epochs, n_labeled), float("nan")),
        "member": None,  # the running member's state after its last whole epoch
        "history": [],
        "generator": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
    }


def progress_text(run: dict, config: TrainConfig) -> str:
    """Where an interrupted ensemble stands, in the per-member epochs --epochs counts."""
    if run["fold"] >= config.folds:
        return f"all {config.folds} members"
    return f"epoch {_member_epoch(run)}/{config.epochs} of member {run['fold'] + 1}/{config.folds}"


def epochs_done(run: dict, config: TrainConfig) -> int:
    """Epochs trained so far over all members: where a resumed run's progress bar starts."""
    return run["fold"] * config.epochs + _member_epoch(run)


def _member_epoch(run: dict) -> int:
    """Epochs the member in training has finished (0 between members)."""
    return run["member"]["epoch"] if run["member"] else 0
