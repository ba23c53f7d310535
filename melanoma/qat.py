"""Quantization-aware training (QAT): the int8 graph every exporter consumes.

Reads top to bottom: calibrate the int8 ranges on clean images -> a short
fine-tune of the fake-quantized graph by distillation from the float model ->
convert -> save with metadata. The graph steps themselves (export, prepare,
convert) are in melanoma/pt2e.py, what the metadata measures in melanoma/qat_metadata.py,
and the --out folders QAT refuses in melanoma/qat_out_dir.py.

A QAT directory sits beside (by convention inside) its float checkpoint:

    DIR/program.pt2     the converted int8 ExportedProgram (torch.export.save)
    DIR/metadata.json   CheckpointMeta of the source, with train_config["kind"] = "qat-int8",
                        the source's sha256 and validation metrics of the int8 program
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from melanoma import config_checks as checks
from melanoma.atomic import atomic_paths, write_utf8
from melanoma.augment import AugmentConfig
from melanoma.checkpoint import (
    METADATA,
    Checkpoint,
    CheckpointMeta,
    checkpoint_sha256,
    loaded_checkpoint_sha256,
)
from melanoma.datasets import Dataset, Split
from melanoma.errors import UserError
from melanoma.evaluate import check_reproduces_scores
from melanoma.model import example_inputs as model_example_inputs
from melanoma.preprocess import normalize
from melanoma.pt2e import convert_qat_model, move_to_train, prepare_qat_model
from melanoma.qat_checkpoint import PROGRAM
from melanoma.qat_metadata import qat_meta
from melanoma.qat_out_dir import refuse_out_dir
from melanoma.qat_pool import refuse_judged_in_pool
from melanoma.resume import run_dir_owned
from melanoma.splits import checkpoint_split
from melanoma.training import augmented_batch, own_rng
from melanoma.versions import toolkit_source


@dataclass(frozen=True)
class QATConfig:
    """The goal is the float model's decisions in int8, so the loss is distillation from the
    float model; true labels and BN in train mode moved the decisions away from it, lr 1e-4
    did no better (the README's "QAT settings" measures each on the bundled models, on the
    unlabeled pool and the test split)."""

    seed: int = 0  # seeds batch order, augmentation and unlabeled sampling
    epochs: int = 3  # passes over the labeled train split; 0 = calibrate only (post-training)
    batch_size: int = 32  # labeled images per step
    lr: float = 1e-5  # AdamW, cosine-decayed to 0. Adam moves every weight by ~lr per step
    # whatever the gradient size, so 1e-4 drifted further from the float model
    weight_decay: float = 0.0  # the float model is already regularized
    label_weight: float = 0.0  # BCE on the true labels; 1 keeps training the classifier and
    # moved 38 and 64 of the bundled models' 7,018 unlabeled decisions from the float
    # model's, against the default's 16 and 22
    distill_weight: float = 1.0  # matching the float model's predictions on the same batch
    temperature: float = 1.0  # distillation temperature on the logits (loss scaled by T^2)
    use_unlabeled: bool = True  # distill on unlabeled images too (their labels do not exist)
    unlabeled_batch_size: int = 32  # unlabeled images per step when use_unlabeled
    calibration_unlabeled: int = 0  # clean unlabeled images, with the labeled train, that
    # set the int8 ranges before training (used even when use_unlabeled is off; 0 = none)
    freeze_bn: bool = True  # fold BN with its running stats before QAT (dropout off too);
    # training BN statistics on batches of 32 moved 368 of reference-supervised's 7,018
    freeze_observer_epoch: int = 0  # stop moving the int8 ranges after this many epochs: 0 keeps
    # the calibration ranges (training batches are augmented, unlike deployment images)
    progress: bool = True  # tqdm bar with the loss
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        checks.at_least(self, 1, "batch_size", "unlabeled_batch_size")
        checks.at_least(self, 0, "epochs", "calibration_unlabeled", "freeze_observer_epoch")
        checks.non_negative(self, "lr", "weight_decay", "label_weight", "distill_weight")
        checks.non_negative(self, "temperature", allow_zero=False)


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Binary KD: BCE of student logits against the teacher's softened probabilities, times T^2."""
    soft = torch.sigmoid(teacher / temperature)
    loss = nn.functional.binary_cross_entropy_with_logits(student / temperature, soft)
    return loss * temperature**2


def _calibration_images(train: Split, unlabeled: Split | None, config: QATConfig, gen):
    """Clean (un-augmented) uint8 images that set the int8 ranges: labeled train + unlabeled."""
    images = [train.images]
    if unlabeled is not None and config.calibration_unlabeled:
        pick = torch.randperm(len(unlabeled), generator=gen)[: config.calibration_unlabeled]
        images.append(unlabeled.images[pick])
    return torch.cat(images)  # (N, 3, 32, 32)


def _calibrate(prepared: torch.fx.GraphModule, images: torch.Tensor, meta, gen) -> None:
    """Run clean images through the observers, in eval mode, before any gradient step.

    The observers keep moving averages (constant 0.01): the first batch sets each min/max
    and the later ones move it by 1% each, so the first batch all but decides the ranges.
    The README states the clipping this leaves; exact min/max over every batch would
    change the bundled int8 programs."""
    from torchao.quantization.pt2e import move_exported_model_to_eval

    move_exported_model_to_eval(prepared)
    batch = 64
    # mix labeled and unlabeled within the moving averages
    order = torch.randperm(len(images), generator=gen)
    with torch.no_grad():
        for start in range(0, len(images), batch):
            prepared(normalize(images[order[start : start + batch]], meta.mean, meta.std))


def _step_batches(train: Split, unlabeled: Split | None, config: QATConfig, gen: torch.Generator):
    """Yield (labeled uint8 images, labels, unlabeled uint8 images or None) for one epoch."""
    order = torch.randperm(len(train), generator=gen)
    for start in range(0, len(order), config.batch_size):
        index = order[start : start + config.batch_size]
        extra = None
        if unlabeled is not None:
            pick = torch.randint(len(unlabeled), (config.unlabeled_batch_size,), generator=gen)
            extra = unlabeled.images[pick]
        yield train.images[index], train.labels[index], extra


def _qat_epoch(prepared, teacher, optimizer, scheduler, train, unlabeled, config, meta, gen):
    losses = []
    for images, labels, extra in _step_batches(train, unlabeled, config, gen):
        both = images if extra is None else torch.cat([images, extra])
        x = augmented_batch(both, config.augment, meta.mean, meta.std, gen)  # (B, 3, 32, 32)
        logits = prepared(x)  # (B, 1)
        y = labels.to(torch.float32).unsqueeze(1)  # (b, 1), the labeled rows come first
        loss = config.label_weight * nn.functional.binary_cross_entropy_with_logits(
            logits[: len(images)], y
        )
        if config.distill_weight:
            with torch.no_grad():
                target = teacher(x)
            loss = loss + config.distill_weight * distill_loss(logits, target, config.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return float(np.mean(losses))


@own_rng
def train_qat(
    model: nn.Module, train: Split, unlabeled: Split | None, meta: CheckpointMeta, config: QATConfig
) -> torch.export.ExportedProgram:
    """Fine-tune a fake-quantized copy of `model` (the teacher, left untouched); return int8."""
    from torchao.quantization.pt2e import disable_observer, move_exported_model_to_eval

    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    teacher = model.eval()
    prepared = prepare_qat_model(model, model_example_inputs(2), fold_bn=config.freeze_bn)
    _calibrate(prepared, _calibration_images(train, unlabeled, config, gen), meta, gen)
    if not config.freeze_bn:
        move_to_train(prepared)
    distill_on = unlabeled if config.use_unlabeled else None
    optimizer = torch.optim.AdamW(
        prepared.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    steps = max(1, config.epochs * -(-len(train) // config.batch_size))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    bar = tqdm(range(config.epochs), disable=not config.progress, desc="qat")
    for epoch in bar:
        if epoch == config.freeze_observer_epoch:
            prepared.apply(disable_observer)
        loss = _qat_epoch(
            prepared, teacher, optimizer, scheduler, train, distill_on, config, meta, gen
        )
        bar.set_postfix(loss=f"{loss:.4f}")
    bar.close()
    move_exported_model_to_eval(prepared)
    return convert_qat_model(prepared)


def qat_finetune(
    checkpoint: Checkpoint, dataset: Dataset, config: QATConfig, out_dir: Path
) -> Path:
    """QAT from the float weights on the checkpoint's own train split; save program + metadata.

    The split, its seed and the normalization are the source checkpoint's, so
    the validation images stay unseen; the source's thresholds are kept, since
    the int8 model is meant to reproduce the float model's decisions.
    """
    out_dir, meta = Path(out_dir), checkpoint.meta
    refuse_out_dir(out_dir, checkpoint.path)
    if not dataset.trained_on_by(meta.data_fingerprint):  # the test split aside: QAT never reads it
        raise UserError(
            f"{dataset.source}: data fingerprint {dataset.fingerprint} differs from the "
            f"checkpoint's {meta.data_fingerprint}; QAT needs the data it was trained on"
        )
    # Before check_reproduces_scores, which takes a rewritten source for an edited one.
    commit, source_sha256 = toolkit_source(), loaded_checkpoint_sha256(checkpoint)
    check_reproduces_scores(checkpoint, dataset)  # an edited mean/std would reach the int8 files
    train, val = checkpoint_split(dataset.labeled, meta.train_config, meta.seed)
    refuse_judged_in_pool(dataset, val, config)  # before any file is written
    with run_dir_owned(out_dir):  # two QATs' renames could pair one's program, other's meta
        program = train_qat(checkpoint.model, train, dataset.unlabeled, meta, config)
        if checkpoint_sha256(checkpoint.path) != source_sha256:  # else it named the new one
            raise UserError(
                f"{checkpoint.path}: another run rewrote this checkpoint during QAT; nothing "
                "was written (run QAT again once it ends)"
            )
        # Both files are written, and the metadata measured, before either replaces an
        # earlier pair (a Ctrl-C in those seconds leaves the old pair whole); then the
        # program, and metadata.json last, as every checkpoint here is finished, both
        # with Ctrl-C held: a stop between them would leave a new program beside the old
        # metadata, a pair load_qat refuses.
        finals = (out_dir / PROGRAM, out_dir / METADATA)
        with atomic_paths(*finals) as (program_temp, meta_temp):
            _save_program(program, program_temp)
            splits = (train, val, dataset.unlabeled)
            source = (commit, source_sha256)
            int8_meta = qat_meta(checkpoint, program, splits, config, program_temp, source)
            write_utf8(meta_temp, json.dumps(asdict(int8_meta), indent=2) + "\n")
    return out_dir


def _save_program(program, path: Path) -> None:
    """Write the .pt2 archive from memory: torch.export.save writing into a file that hits
    a full disk raises a RuntimeError, then again from its writer's destructor, which
    aborts the process (exit 134, C++ frames on stderr). From bytes, it is one OSError."""
    _drop_stack_traces(program)
    buffer = io.BytesIO()  # not a path: save() wants a .pt2 suffix on those
    torch.export.save(program, buffer)
    path.write_bytes(buffer.getvalue())


def _drop_stack_traces(program) -> None:
    """Each node's stack_trace names the Python files the model was traced from by absolute
    path (this install's site-packages, under a user's home folder): debug text nothing that
    loads the program reads, which program.pt2 would otherwise carry to whoever it is shared
    with, as the .ptl's source ranges did."""
    for module in program.graph_module.modules():
        if isinstance(module, torch.fx.GraphModule):
            for node in module.graph.nodes:
                node.meta.pop("stack_trace", None)
