"""Self-describing checkpoint directories: weights plus metadata.json.

    DIR/weights.pt      state_dict, loaded with torch.load(weights_only=True)
    DIR/metadata.json   CheckpointMeta: how to rebuild the model and what it scored

Loading needs no flags. `reference-supervised` and `reference-sgan` name the
checkpoints bundled in the package (melanoma/reference/).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn

from melanoma.architectures import build_model
from melanoma.atomic import atomic_path
from melanoma.errors import UserError

FORMAT_VERSION = 1
WEIGHTS = "weights.pt"
METADATA = "metadata.json"
REFERENCE_DIR = Path(__file__).parent / "reference"
REFERENCE_NAMES = ("reference-supervised", "reference-sgan")
VERSIONED_PACKAGES = (
    "torch",
    "torchvision",
    "executorch",
    "torchao",
    "coremltools",
    "onnx",
    "onnxruntime",
    "numpy",
)


class CheckpointError(UserError):
    """A checkpoint that is missing, truncated or does not match its metadata."""


@dataclass(frozen=True)
class CheckpointMeta:
    method: str  # "supervised" or "sgan"
    arch: str  # key of melanoma.architectures.ARCHITECTURES
    arch_args: dict[str, Any]  # the architecture's config fields
    seed: int
    epochs: int  # epochs trained
    best_epoch: int  # epoch whose weights were kept (best validation AUC)
    data_fingerprint: str  # Dataset.fingerprint of the training data
    mean: list[float]  # normalization, per RGB channel on the 0..1 scale (training split)
    std: list[float]
    val_metrics: dict[str, float]  # at the youden threshold
    thresholds: list[dict[str, Any]]  # ThresholdChoice fields, chosen on validation
    train_config: dict[str, Any]  # every training setting, including method-specific ones
    versions: dict[str, str] = field(default_factory=dict)
    weights_sha256: str = ""  # filled in by save_checkpoint
    created_utc: str = ""
    format_version: int = FORMAT_VERSION

    def threshold(self, name: str = "youden") -> float:
        for choice in self.thresholds:
            if choice["name"] == name:
                return float(choice["probability"])
        known = ", ".join(c["name"] for c in self.thresholds)
        raise KeyError(f"no threshold {name!r} in checkpoint; known: {known}")


@dataclass(frozen=True)
class Checkpoint:
    model: nn.Module  # in eval mode
    meta: CheckpointMeta
    path: Path


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resolve_checkpoint_dir(path_or_name: str | os.PathLike) -> Path:
    """Map `reference-*` names to the bundled checkpoints; other values are paths."""
    text = str(path_or_name)
    if text in REFERENCE_NAMES:
        return REFERENCE_DIR / text.removeprefix("reference-")
    return Path(text).expanduser()


def save_checkpoint(out_dir: Path, model: nn.Module, meta: CheckpointMeta) -> Path:
    """Write weights, then metadata naming their sha256, each atomically.

    A crash between the two leaves metadata whose sha256 does not match the
    weights, which load_checkpoint reports instead of loading a mixed pair.
    """
    out_dir = Path(out_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_dir / WEIGHTS) as temp:
        torch.save(state, temp)
    full = dataclasses.replace(
        meta,
        weights_sha256=file_sha256(out_dir / WEIGHTS),
        versions=meta.versions or package_versions(),
        created_utc=meta.created_utc or utc_now(),
    )
    with atomic_path(out_dir / METADATA) as temp:
        temp.write_text(json.dumps(dataclasses.asdict(full), indent=2) + "\n")
    return out_dir


def read_meta(ckpt_dir: Path) -> CheckpointMeta:
    """Parse and validate metadata.json of a checkpoint directory."""
    path = ckpt_dir / METADATA
    if not ckpt_dir.is_dir():
        raise CheckpointError(f"{ckpt_dir}: checkpoint directory not found")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{ckpt_dir}: no {METADATA} (not a checkpoint directory)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: corrupt metadata ({err})") from None
    known = {f.name for f in dataclasses.fields(CheckpointMeta)}
    try:
        meta = CheckpointMeta(**{k: v for k, v in data.items() if k in known})
    except TypeError as err:
        raise CheckpointError(f"{path}: incomplete metadata ({err})") from None
    if meta.format_version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format_version {meta.format_version}, expected {FORMAT_VERSION}"
        )
    return meta


def load_checkpoint(path_or_name: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint directory (or a reference name); the model is in eval mode."""
    ckpt_dir = resolve_checkpoint_dir(path_or_name)
    meta = read_meta(ckpt_dir)
    weights = ckpt_dir / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{ckpt_dir}: {WEIGHTS} is missing")
    if file_sha256(weights) != meta.weights_sha256:
        raise CheckpointError(f"{weights}: sha256 does not match metadata (truncated or replaced?)")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model = build_model(meta.arch, meta.arch_args)
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError, EOFError) as err:
        first = str(err).strip().splitlines()[0][:160]
        raise CheckpointError(f"{weights}: does not match {meta.arch} ({first})") from None
    return Checkpoint(model.eval(), meta, ckpt_dir)


def checkpoint_sha256(ckpt_dir: Path) -> str:
    """Identity of a checkpoint for manifests: sha256 of weights and metadata together."""
    digest = hashlib.sha256()
    for name in (WEIGHTS, METADATA):
        digest.update((ckpt_dir / name).read_bytes())
    return digest.hexdigest()
