"""The model each precision exports, and the reference its artifacts are verified against.

fp32 exports the float checkpoint itself; int8 exports its converted QAT program: the
bundled <checkpoint>/qat/, else <out>/qat-<model>/ from an earlier export, else a QAT
run now on --data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from melanoma.checkpoint import CheckpointMeta
from melanoma.errors import UserError
from melanoma.export.contract import FLOAT_QUANTIZATION, existing_qat, int8_quantization
from melanoma.manifest import Quantization

if TYPE_CHECKING:
    from melanoma.checkpoint import Checkpoint
    from melanoma.datasets import Dataset
    from melanoma.export.base import ExportModel
    from melanoma.qat import QATConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """What one precision exports, and what it is verified against."""

    model: ExportModel  # float nn.Module (fp32) or converted QAT ExportedProgram (int8)
    meta: CheckpointMeta  # normalization and thresholds
    reference: str  # name of the reference in the manifest
    quantization: Quantization


def float_source(checkpoint: Checkpoint) -> Source:
    """The float checkpoint, verified against itself in eager PyTorch."""
    return Source(
        checkpoint.model,
        checkpoint.meta,
        f"float checkpoint in eager PyTorch {torch.__version__}",
        FLOAT_QUANTIZATION,
    )


def int8_source(
    checkpoint: Checkpoint,
    dataset: Dataset | None,
    model_name: str,
    out_dir: Path,
    qat_config: QATConfig | None,
) -> Source:
    """The bundled <ckpt>/qat, else <out>/qat-<model> from an earlier run, else QAT now."""
    from melanoma.qat import QATConfig, qat_finetune
    from melanoma.qat_checkpoint import check_inherited, load_qat

    qat_dir = existing_qat(checkpoint.path, out_dir, model_name)
    if qat_dir is None:
        qat_dir = out_dir / f"qat-{model_name}"
        if dataset is None:
            raise UserError(
                f"{checkpoint.path}: no int8 program made from this checkpoint, and int8 "
                "needs QAT on its training data: pass --data, or run melanoma qat "
                f"{checkpoint.path} --data PATH --out {checkpoint.path / 'qat'} first "
                "(or --quantize none)"
            )
        log.info("no matching int8 program: QAT into %s", qat_dir)
        qat_finetune(checkpoint, dataset, qat_config or QATConfig(), qat_dir)
    qat = load_qat(qat_dir)
    check_inherited(qat, checkpoint.meta)
    return Source(
        qat.program,
        qat.meta,
        f"converted QAT program {qat_dir.name}/ (Q/DQ as float reference math)",
        int8_quantization(qat),
    )
