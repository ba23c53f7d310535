"""Semi-supervised GAN training (Salimans et al. 2016, "Improved Techniques for Training GANs").

Reads top to bottom: split -> normalization -> epochs over the unlabeled pool
(D step on three losses, G step by feature matching, EMA of D) -> validate the
deployable classifier -> keep the best validation AUC -> thresholds on
validation -> checkpoint of the classification path only. The test split is
never touched here.

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

Normalization uses the labeled-train split only, like the baseline: the
unlabeled pool's colour mean differs (README: R 197 vs 190) because its class
mix differs, while test matches labeled, and the deployed contract needs one
mean/std for every input.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from melanoma.augment import AugmentConfig, augment
from melanoma.batches import LabeledBatches
from melanoma.checkpoint import non_finite_tensors, save_checkpoint
from melanoma.datasets import Dataset, Split
from melanoma.history import write_sgan_report
from melanoma.inference import predict_probs
from melanoma.metrics import all_metrics
from melanoma.model import config_dict
from melanoma.preprocess import normalize
from melanoma.resume import RESUME, clear_previous_run, read_resume_state, resumable, run_identity
from melanoma.sgan import (
    Discriminator,
    Generator,
    GeneratorConfig,
    SGANClassifierConfig,
    melanoma_log_odds,
    to_classifier,
)
from melanoma.sources import DataError
from melanoma.training import (
    DivergenceError,
    WeightEMA,
    augmented_batch,
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
    ema_decay: float = 0.995  # EMA of D's weights, evaluated and exported; 0 disables; a
    # ceiling the warm-up of training.WeightEMA keeps it under in 12 epochs (0.993 at the end)
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


class _Diverged(Exception):
    pass


@dataclass
class _Nets:
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


def build_nets(config: SGANConfig, steps: int, device: torch.device) -> _Nets:
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
    return _Nets(disc, gen, opt_d, opt_g, sched_d, sched_g, ema)


def sgan_step(
    nets: _Nets, x_lab, y_lab, x_unl, config: SGANConfig, mean, std, rng, x_teacher=None
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
    lse_unl = torch.logsumexp(logits_unl, dim=1)  # log Z: D(x) = Z / (Z + 1)
    lse_fake = torch.logsumexp(logits_fake, dim=1)
    real = (F.softplus(lse_unl) - lse_unl).mean()  # -log D(x)
    fake_loss = F.softplus(lse_fake).mean()  # -log(1 - D(G(z)))
    d_loss = sup + config.unsup_weight * 0.5 * (real + fake_loss)
    fm = (feat_unl.detach().mean(0) - feat_fake.mean(0)).pow(2).mean()

    losses = {"sup": sup.item(), "real": real.item(), "fake": fake_loss.item(), "fm": fm.item()}
    if x_teacher is not None:
        cons = _consistency(nets, logits_unl, x_teacher)
        d_loss = d_loss + _rampup(nets, config) * config.consistency_weight * cons
        losses["cons"] = cons.item()
    if not all(np.isfinite(v) for v in losses.values()):
        raise _Diverged(f"non-finite loss {losses}")
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


def _consistency(nets: _Nets, logits_unl, x_teacher) -> torch.Tensor:
    """Mean teacher (Tarvainen & Valpola 2017) on P(melanoma | x, real).

    Symmetric in the two classes and blind to the fake class, so it smooths the
    decision function over the unlabeled pool without importing its 10% prior.
    """
    with torch.no_grad():
        teacher = torch.sigmoid(melanoma_log_odds(nets.ema.model(x_teacher)[0]))  # (B, 1)
    return F.mse_loss(torch.sigmoid(melanoma_log_odds(logits_unl)), teacher)


def _rampup(nets: _Nets, config: SGANConfig) -> float:
    """exp(-5 (1 - t)^2) ramp of Laine & Aila: the teacher is noise at first."""
    total = nets.sched_d.T_max * config.consistency_rampup
    t = min(1.0, nets.sched_d.last_epoch / total) if total else 1.0
    return float(np.exp(-5.0 * (1.0 - t) ** 2))


def train_one_epoch(nets: _Nets, labeled, unlabeled: Split, config, mean, std, rng) -> dict:
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


def validate(nets: _Nets, val: Split, config: SGANConfig, mean, std) -> float:
    """Validation AUC of the deployable classifier; raises _Diverged if it collapsed."""
    classifier = to_classifier(nets.judged(), config.model)
    probs = predict_probs(classifier, val.images, mean, std)
    if not np.all(np.isfinite(probs)) or np.ptp(probs) == 0:
        raise _Diverged("the classifier's validation outputs are non-finite or constant")
    _refuse_non_finite_state(nets)
    return all_metrics(val.labels.numpy(), probs, 0.5)["auc"]


def _refuse_non_finite_state(nets: _Nets) -> None:
    """Validation sees only the classifier: a NaN in G, D or an optimizer's moments would
    otherwise be kept as the good state, and come back with every restore."""
    states = [nets.gen.state_dict(), nets.disc.state_dict()]
    states += [moments for opt in (nets.opt_d, nets.opt_g) for moments in opt.state.values()]
    broken = [name for state in states for name in non_finite_tensors(state)]
    if broken:
        raise _Diverged(f"non-finite {broken[0]} in the networks or their optimizers")


def _snapshot(nets: _Nets, labeled, rng, epoch, best: dict, history: list, restores) -> dict:
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
    }


@own_rng
def train_sgan(dataset: Dataset, config: SGANConfig, out_dir: Path, resume: bool = False) -> Path:
    """Train the SGAN, select on validation AUC, save the deployable classifier as a checkpoint.

    Raises TrainingInterrupted on Ctrl-C after saving OUT/resume.pt, and
    DivergenceError (writing no checkpoint) if training keeps diverging.
    """
    if dataset.unlabeled is None or len(dataset.unlabeled) < config.batch_size:
        found = 0 if dataset.unlabeled is None else len(dataset.unlabeled)
        raise DataError(
            f"{dataset.source}: the SGAN needs at least {config.batch_size} unlabeled images "
            f"(one batch), found {found}"
        )
    if not 0 <= config.select_after <= 1:
        raise ValueError(f"select_after must be in [0, 1], got {config.select_after}")
    if config.consistency_weight and not config.ema_decay:
        raise ValueError("consistency_weight needs ema_decay > 0 (the EMA is the teacher)")
    out_dir = Path(out_dir)
    rng, train, val, mean, std = seeded_split(dataset, config)
    steps = config.epochs * (len(dataset.unlabeled) // config.batch_size)
    nets = build_nets(config, steps, select_device(config.device))
    fixed_z = torch.randn(64, config.generator.latent_dim, generator=rng)  # for sample grids
    labeled = LabeledBatches(train, config.labeled_batch_size, rng)
    good = _snapshot(nets, labeled, rng, 0, {"auc": -1.0, "epoch": 0, "state": None}, [], 0)
    identity = run_identity("sgan", config, dataset)
    if resume:
        good = _load_resume(out_dir / RESUME, nets, labeled, rng, identity)
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
        _save_best(nets, good["best"], dataset, config, (train, val, mean, std), out_dir)
    return out_dir


def _save_best(nets: _Nets, best: dict, dataset, config, splits: tuple, out_dir: Path) -> None:
    """The selected epoch's classifier as a checkpoint: validation predictions first and
    metadata.json last, so a directory without valid metadata is never a finished one."""
    train, val, mean, std = splits
    nets.judged().load_state_dict(best["state"])
    classifier = to_classifier(nets.judged(), config.model).cpu()
    _refuse_non_finite(classifier)
    val_probs = predict_probs(classifier, val.images, mean, std)
    meta = _finish_meta(dataset, config, mean, std, (train, val, val_probs), best["epoch"])
    write_scores(out_dir / VALIDATION_CSV, val.names, val.labels, val_probs)
    save_checkpoint(out_dir, classifier, meta)
    (out_dir / RESUME).unlink(missing_ok=True)


def _run_epochs(nets: _Nets, good: dict, context: tuple, out_dir: Path, fixed_z) -> None:
    """Epoch loop; `good` is updated in place and always holds the last finite, validated state."""
    labeled, unlabeled, val, config, mean, std, rng = context
    bar = tqdm(total=config.epochs, initial=good["epoch"], desc="sgan", disable=not config.progress)
    with bar:
        while good["epoch"] < config.epochs:
            epoch, started = good["epoch"] + 1, time.perf_counter()
            try:
                losses = train_one_epoch(nets, labeled, unlabeled, config, mean, std, rng)
                val_auc = validate(nets, val, config, mean, std)
            except _Diverged as why:
                _restore(nets, good, config, epoch, why)
                continue
            row = {"epoch": epoch, **losses, "val_auc": val_auc}
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


def _restore(nets: _Nets, good: dict, config: SGANConfig, epoch: int, why: Exception) -> None:
    """Roll back to the last good epoch, or give up after max_restores."""
    good["restores"] += 1
    if good["restores"] > config.max_restores:
        raise DivergenceError(
            f"SGAN diverged in epoch {epoch} ({why}) after {config.max_restores} restores; "
            "no checkpoint written (try another --seed, or lower SGANConfig.lr_d/lr_g "
            "from Python)"
        )
    log.warning("epoch %d diverged (%s); restoring the state after epoch %d", epoch, why, epoch - 1)
    nets.load(good["nets"])  # the RNG is not rolled back, so the retry sees other batches


def _load_resume(path: Path, nets: _Nets, labeled: LabeledBatches, rng, identity) -> dict:
    state = read_resume_state(path, rng, identity)
    nets.load(state["nets"])
    labeled.load(state["labeled_batches"])
    return state


def _refuse_non_finite(classifier) -> None:
    broken = non_finite_tensors(classifier.state_dict())
    if broken:
        raise DivergenceError(f"refusing to save: {broken[0]} has non-finite values")


def _finish_meta(dataset, config, mean, std, splits, best_epoch):
    train, val, val_probs = splits
    return validated_meta(
        dataset, config, mean, std, val.labels.numpy(), val_probs, best_epoch,
        method="sgan", arch=ARCH, arch_args=config_dict(config.model),
        extra_config={"n_train": len(train), "n_val": len(val),
                      "n_unlabeled": len(dataset.unlabeled)},
    )  # fmt: skip
