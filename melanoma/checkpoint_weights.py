"""A checkpoint's weights.pt, checked before its model is used: the file is there, its
sha256 is the one metadata.json names, torch reads it without unpickling anything, and it
fits the architecture the metadata describes with finite values only.

checkpoint.load_checkpoint runs these in that order once read_meta has the metadata.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from melanoma.architectures import build_model
from melanoma.checkpoint import METADATA, WEIGHTS, CheckpointError, CheckpointMeta, file_sha256
from melanoma.config_checks import ConfigError
from melanoma.errors import first_line
from melanoma.sources import torch_zip_refusal
from melanoma.state_dicts import non_finite_tensors, state_mismatch


def weights_file(ckpt_dir: Path) -> Path:
    weights = ckpt_dir / WEIGHTS
    if not weights.is_file():
        # qat/ and an export's qat-<model>/ hold a metadata.json too ("program.pt2" is
        # qat_checkpoint.PROGRAM, not imported: that module imports this one)
        if (ckpt_dir / "program.pt2").is_file():
            raise CheckpointError(
                f"{ckpt_dir}: an int8 QAT program folder, not a float checkpoint; pass the "
                "checkpoint it was made from"
            )
        why = "is not a file" if weights.exists() else "is missing"  # a folder, a device...
        raise CheckpointError(f"{ckpt_dir}: {WEIGHTS} {why}")
    return weights


def read_state_dict(weights: Path, meta: CheckpointMeta) -> Any:
    """The weights file as torch loads it, once its sha256 matches `meta` and nothing in it
    would be unpickled; not yet known to be a state dict of the right shapes."""
    if file_sha256(weights) != meta.weights_sha256:
        raise CheckpointError(f"{weights}: sha256 does not match metadata (truncated or replaced?)")
    refusal = torch_zip_refusal(weights)
    if refusal is not None:
        raise CheckpointError(f"{weights}: {refusal}")
    try:
        with warnings.catch_warnings():  # torch warns on some corrupt pickles before failing
            warnings.simplefilter("ignore")
            return torch.load(weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own message is a page on weights_only
        raise CheckpointError(f"{weights}: not a weights-only torch file") from None
    except Exception as err:  # zip and I/O errors alike: the file is not a state_dict
        why = first_line(err)
        raise CheckpointError(f"{weights}: not a readable state_dict ({why})") from None


def model_with_state(ckpt_dir: Path, meta: CheckpointMeta, state: Any) -> nn.Module:
    """The model `meta` describes, holding `state`, which must fit it exactly and be finite."""
    weights = ckpt_dir / WEIGHTS
    try:
        # On a fork of torch's CPU random stream: the initial weights it draws are
        # overwritten at once, and a caller's seeded stream must not move on a load.
        with torch.random.fork_rng(devices=[]):
            model = build_model(meta.arch, meta.arch_args)
    except (ValueError, TypeError, ConfigError) as err:  # metadata names no buildable model
        raise CheckpointError(f"{ckpt_dir / METADATA}: {first_line(err)}") from None
    why = state_mismatch(state, model.state_dict())
    if why is None:
        try:
            model.load_state_dict(state, strict=True)
        except (RuntimeError, ValueError, TypeError, AttributeError, KeyError) as err:
            why = first_line(err)
    if why is not None:
        raise CheckpointError(f"{weights}: does not match {meta.arch} ({why})")
    # training never saves one (it refuses a diverged run); an edited file would otherwise
    # surface as a NaN score, or a traceback deep in the metrics
    broken = non_finite_tensors(state)
    if broken:
        raise CheckpointError(f"{weights}: non-finite values in {', '.join(broken[:3])}")
    return model
