"""One SGAN epoch: the networks and their optimizers, the step on the three losses of
Salimans et al. (plus the mean-teacher consistency), and validation that notices a
collapse. train_sgan.py runs the epochs, keeps the best and writes the checkpoint."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from melanoma.augment import augment
from melanoma.batches import LabeledBatches
from melanoma.datasets import Split
from melanoma.inference import predict_probs
from melanoma.metrics import all_metrics
from melanoma.preprocess import normalize
from melanoma.sgan import Discriminator, Generator, melanoma_log_odds, to_classifier
from melanoma.state_dicts import non_finite_tensors
from melanoma.training import WeightEMA, augmented_batch

if TYPE_CHECKING:  # train_sgan imports this module
    from melanoma.train_sgan import SGANConfig


class EpochDiverged(Exception):
    """A non-finite loss, state or output, or a collapsed classifier: roll back this epoch."""


@dataclass
class SGANNets:
    disc: Discriminator
    gen: Generator
    opt_d: torch.optim.Optimizer
    opt_g: torch.optim.Optimizer
    sched_d: torch.optim.lr_scheduler.LRScheduler
    sched_g: torch.optim.lr_scheduler.LRScheduler
    ema: WeightEMA | None

    def state(self) -> dict:
        names = ("disc", "gen", "opt_d", "opt_g", "sched_d", "sched_g")
        state = {n: copy.deepcopy(getattr(self, n).state_dict()) for n in names}
        state["ema"] = copy.deepcopy(self.ema.model.state_dict()) if self.ema else None
        state["ema_updates"] = self.ema.updates if self.ema else 0
        return state

    def load(self, state: dict) -> None:
        # Optimizer.load_state_dict keeps the given tensors, and Adam updates them in place:
        # without a copy, the steps after a restore or a resume would rewrite the saved state.
        state = copy.deepcopy(state)
        for name in ("disc", "gen", "opt_d", "opt_g", "sched_d", "sched_g"):
            getattr(self, name).load_state_dict(state[name])
        if self.ema is not None and state["ema"] is not None:
            self.ema.model.load_state_dict(state["ema"])
            self.ema.updates = state["ema_updates"]

    def judged(self) -> Discriminator:
        return self.ema.model if self.ema is not None else self.disc


def build_nets(config: SGANConfig, steps: int, device: torch.device) -> SGANNets:
    """Networks, Adam optimizers with cosine decay over `steps`, and the EMA of D."""
    disc = Discriminator(config.model, config.dropout, config.input_noise, config.weight_norm)
    gen = Generator(config.generator)
    disc, gen = disc.to(device), gen.to(device)
    betas = (config.beta1, 0.999)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_d, betas=betas)
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr_g, betas=betas)
    sched_d = torch.optim.lr_scheduler.CosineAnnealingLR(opt_d, steps)
    sched_g = torch.optim.lr_scheduler.CosineAnnealingLR(opt_g, steps)
    ema = WeightEMA(disc, config.ema_decay) if config.ema_decay else None
    return SGANNets(disc, gen, opt_d, opt_g, sched_d, sched_g, ema)


def sgan_step(
    nets: SGANNets,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    x_unl: torch.Tensor,
    config: SGANConfig,
    mean: Sequence[float],
    std: Sequence[float],
    rng: torch.Generator,
    x_teacher: torch.Tensor | None = None,
) -> dict:
    """One simultaneous update: D on three losses (+ consistency), G by feature matching.

    x_lab, x_unl: augmented, normalized (B, 3, 32, 32); y_lab: (B,) int64;
    x_teacher: another augmentation of x_unl for the mean teacher, or None.
    One D forward on the fakes serves both losses (a third of D's cost per
    step): G's gradient is taken first, then D's loss backpropagates into D only.
    """
    device = x_unl.device
    z = torch.randn(x_unl.shape[0], config.generator.latent_dim, generator=rng).to(device)
    fake = augment(nets.gen(z), config.augment, rng)  # same augmentation as real, in 0..1
    x_fake = normalize(fake * 255.0, mean, std)  # (B, 3, 32, 32)

    logits_lab, _ = nets.disc(x_lab)
    logits_unl, feat_unl = nets.disc(x_unl)
    logits_fake, feat_fake = nets.disc(x_fake)
    sup = F.cross_entropy(logits_lab, y_lab)
    real, fake_loss = real_fake_losses(logits_unl, logits_fake)
    d_loss = sup + config.unsup_weight * 0.5 * (real + fake_loss)
    fm = feature_matching(feat_unl.detach(), feat_fake)

    losses = {"sup": sup.item(), "real": real.item(), "fake": fake_loss.item(), "fm": fm.item()}
    if x_teacher is not None:
        cons = _consistency(nets, logits_unl, x_teacher)
        ramp = consistency_ramp(
            nets.sched_d.last_epoch, nets.sched_d.T_max, config.consistency_rampup
        )
        d_loss = d_loss + ramp * config.consistency_weight * cons
        losses["cons"] = cons.item()
    if not all(np.isfinite(v) for v in losses.values()):
        raise EpochDiverged(f"non-finite loss {losses}")
    gen_params = list(nets.gen.parameters())
    g_grads = torch.autograd.grad(fm, gen_params, retain_graph=True)
    nets.opt_d.zero_grad(set_to_none=True)
    d_loss.backward(inputs=list(nets.disc.parameters()))
    for param, grad in zip(gen_params, g_grads, strict=True):
        param.grad = grad
    nets.opt_d.step()
    nets.opt_g.step()
    nets.sched_d.step()
    nets.sched_g.step()
    if nets.ema is not None:
        nets.ema.update(nets.disc)
    return losses


def real_fake_losses(
    logits_real: torch.Tensor, logits_fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """-log D(x) over real images and -log(1 - D(G(z))) over fakes, for (B, 2) class logits.

    The fake class is implicit (its logit fixed at 0): with Z = sum(exp(logits)),
    D(x) = Z / (Z + 1), so -log D = softplus(log Z) - log Z and -log(1 - D) = softplus(log Z).
    Both are finite for any logits (log Z by logsumexp), and are the forms of Salimans et
    al.'s code. The first, equal to softplus(-log Z), loses digits when log Z is large: its
    error is at most a float32 step of log Z (1e-6 at log Z = 10, where it is 4.5e-5). Kept:
    rewriting it would change the bits of every trained SGAN, the bundled one included.
    """
    lse_real = torch.logsumexp(logits_real, dim=1)  # (B,) log Z
    lse_fake = torch.logsumexp(logits_fake, dim=1)
    return (F.softplus(lse_real) - lse_real).mean(), F.softplus(lse_fake).mean()


def feature_matching(feat_real: torch.Tensor, feat_fake: torch.Tensor) -> torch.Tensor:
    """Salimans et al.'s generator loss on (B, F) features of D's last layer before the head
    (the pooled ones, as their code): the batch means' squared difference, averaged over
    the F features. The paper writes the squared L2 distance, F times this; their code
    takes the mean absolute difference. Adam's steps barely depend on the loss's scale."""
    return (feat_real.mean(0) - feat_fake.mean(0)).pow(2).mean()


def _consistency(nets: SGANNets, logits_unl, x_teacher) -> torch.Tensor:
    """Mean teacher (Tarvainen & Valpola 2017) on P(melanoma | x, real).

    Symmetric in the two classes and blind to the fake class, so it smooths the
    decision function over the unlabeled pool without importing its 10% prior.
    """
    with torch.no_grad():
        teacher = torch.sigmoid(melanoma_log_odds(nets.ema.model(x_teacher)[0]))  # (B, 1)
    return F.mse_loss(torch.sigmoid(melanoma_log_odds(logits_unl)), teacher)


def consistency_ramp(step: int, steps: int, rampup: float) -> float:
    """The consistency weight's factor at `step` of `steps`: Laine & Aila's exp(-5 (1 - t)^2)
    over the first `rampup` fraction of training (the teacher is noise at first), then 1."""
    total = steps * rampup
    t = min(1.0, step / total) if total else 1.0
    return float(np.exp(-5.0 * (1.0 - t) ** 2))


def train_one_epoch(
    nets: SGANNets,
    labeled: LabeledBatches,
    unlabeled: Split,
    config: SGANConfig,
    mean: list[float],
    std: list[float],
    rng: torch.Generator,
) -> dict:
    nets.disc.train()
    nets.gen.train()
    device = next(nets.disc.parameters()).device
    order = torch.randperm(len(unlabeled), generator=rng)
    sums: dict[str, float] = {}
    steps = len(unlabeled) // config.batch_size
    for step in range(steps):
        index = order[step * config.batch_size : (step + 1) * config.batch_size]
        x_unl = augmented_batch(unlabeled.images[index], config.augment, mean, std, rng)
        x_teacher = None
        if config.consistency_weight:
            x_teacher = augmented_batch(unlabeled.images[index], config.augment, mean, std, rng)
            x_teacher = x_teacher.to(device)
        images, labels = next(labeled)
        x_lab = augmented_batch(images, config.augment, mean, std, rng)
        x_lab, labels, x_unl = x_lab.to(device), labels.to(device), x_unl.to(device)
        losses = sgan_step(nets, x_lab, labels, x_unl, config, mean, std, rng, x_teacher)
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value / steps
    return sums


def validate(
    nets: SGANNets, val: Split, config: SGANConfig, mean: list[float], std: list[float]
) -> float:
    """Validation AUC of the deployable classifier; raises EpochDiverged if it collapsed."""
    classifier = to_classifier(nets.judged(), config.model)
    probs = predict_probs(classifier, val.images, mean, std)
    if not np.all(np.isfinite(probs)) or np.ptp(probs) == 0:
        raise EpochDiverged("the classifier's validation outputs are non-finite or constant")
    _refuse_non_finite_state(nets)
    return all_metrics(val.labels.numpy(), probs, 0.5)["auc"]


def _refuse_non_finite_state(nets: SGANNets) -> None:
    """Validation sees only the classifier: a NaN in G, D or an optimizer's moments would
    otherwise be kept as the good state, and come back with every restore."""
    states = [nets.gen.state_dict(), nets.disc.state_dict()]
    states += [moments for opt in (nets.opt_d, nets.opt_g) for moments in opt.state.values()]
    broken = [name for state in states for name in non_finite_tensors(state)]
    if broken:
        raise EpochDiverged(f"non-finite {broken[0]} in the networks or their optimizers")
