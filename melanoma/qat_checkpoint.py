"""A QAT directory on disk: find it beside its float checkpoint, load its int8 program and
check that what it copied from its source still matches. Readers of QAT directories (the
exporters, the benchmark) import this, not the QAT trainer in qat.py."""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from melanoma.checkpoint import (
    METADATA,
    REFERENCE_NAMES,
    CheckpointError,
    CheckpointMeta,
    checkpoint_sha256,
    file_sha256,
    read_meta,
    resolve_checkpoint_dir,
)
from melanoma.errors import first_line
from melanoma.pt2e import exact_int8_ranges
from melanoma.sources import torch_zip_refusal

log = logging.getLogger(__name__)
PROGRAM = "program.pt2"
KIND = "qat-int8"
QAT_SUBDIR = "qat"  # where find_qat and the reference names look, inside a float checkpoint


@dataclass(frozen=True)
class QATCheckpoint:
    program: torch.export.ExportedProgram  # int8 Q/DQ graph, (N, 3, 32, 32) -> (N, 1) logits
    meta: CheckpointMeta  # the source's arch/mean/std/thresholds; QAT settings in train_config
    path: Path


def resolve_qat_dir(path_or_name: str | os.PathLike) -> Path:
    """`reference-*` names mean the bundled reference's qat/ directory; others are paths."""
    if str(path_or_name) in REFERENCE_NAMES:
        return resolve_checkpoint_dir(path_or_name) / QAT_SUBDIR
    return Path(path_or_name).expanduser()


def load_qat(path_or_name: str | os.PathLike) -> QATCheckpoint:
    """Load a QAT directory (or a reference name), checking the program's sha256."""
    qat_dir = resolve_qat_dir(path_or_name)
    meta = read_meta(qat_dir)
    if meta.train_config.get("kind") != KIND:
        hint = (
            f"; its QAT version is {qat_dir / QAT_SUBDIR}"
            if (qat_dir / QAT_SUBDIR).is_dir()
            else ""
        )
        raise CheckpointError(f"{qat_dir}: not a QAT checkpoint (no kind {KIND!r}){hint}")
    program_path = qat_dir / PROGRAM
    if not program_path.is_file():
        raise CheckpointError(f"{qat_dir}: {PROGRAM} is missing")
    if file_sha256(program_path) != meta.weights_sha256:
        raise CheckpointError(
            f"{program_path}: sha256 does not match metadata (truncated or replaced?)"
        )
    import torchao.quantization.pt2e  # noqa: F401  registers the quantized_decomposed ops

    _check_archive(program_path)
    # A sound zip that is not a .pt2 archive makes torch log a traceback, then try an older
    # layout, which raises: the one-line error below says it all.
    export_log = logging.getLogger("torch.export")
    was_disabled, export_log.disabled = export_log.disabled, True
    try:
        # Opened here, not by path: torch takes a path only as a UTF-8 string, and under a
        # folder named otherwise blamed the file ("'str' object has no attribute 'tell'").
        with program_path.open("rb") as handle:
            program = torch.export.load(handle)
    except Exception as err:  # any member of a sound zip may be garbage (a pickle, a JSON
        # of the wrong shape): under a matching sha256 each says the file is broken
        why = first_line(err)
        raise CheckpointError(f"{program_path}: unreadable exported program ({why})") from None
    finally:
        export_log.disabled = was_disabled
    try:
        exact_int8_ranges(program)  # a float program under a matching sha256 is no int8 one
    except (ValueError, StopIteration, AttributeError, IndexError, TypeError) as err:
        raise CheckpointError(f"{program_path}: {first_line(err)}") from None
    return QATCheckpoint(program, meta, qat_dir)


def _check_archive(program_path: Path) -> None:
    """A .pt2 is a zip; torch.export.load logs a traceback for a broken one before it
    raises, so refuse it here with one line. Then refuse what torch.export.load would
    unpickle with weights_only=False: the sample inputs (after a weights_only=True attempt
    fails), legacy .pt weights/constants, weights or constants marked use_pickle, and
    custom/opaque objects. A program.pt2 (whose sha256 is only checked against the
    metadata.json beside it) would run code on load, though weights.pt is loaded with
    weights_only=True; a converted int8 program needs none of those. (The graph's JSON is
    not read.)"""
    refusal = torch_zip_refusal(program_path)  # before testzip inflates it all
    if refusal is not None:
        raise CheckpointError(f"{program_path}: unreadable exported program ({refusal})")
    try:
        with zipfile.ZipFile(program_path) as archive:
            broken_member = archive.testzip()
            if broken_member is not None:
                raise CheckpointError(
                    f"{program_path}: unreadable exported program (corrupt member {broken_member})"
                )
            _refuse_code(archive, program_path)
    except (zipfile.BadZipFile, EOFError) as err:
        why = first_line(err)
        raise CheckpointError(f"{program_path}: unreadable exported program ({why})") from None


def _refuse_code(archive: zipfile.ZipFile, program_path: Path) -> None:
    for name in archive.namelist():
        parts = name.split("/")
        if name.endswith("_config.json") and "data" in parts:
            why = _pickled_entries(archive.read(name), constants="constants" in parts)
        elif name.endswith(".pt"):  # torch.save'd: sample inputs, legacy weights
            why = _unsafe_tensor_file(archive.read(name))
        else:
            continue
        if why:
            raise CheckpointError(
                f"{program_path}: unreadable exported program (refused: {name}: {why})"
            )


def _pickled_entries(config_json: bytes, constants: bool) -> str | None:
    """Why a weights or constants config of a .pt2 archive would make torch unpickle."""
    try:
        entries = json.loads(config_json)["config"].values()
        pickled = [
            e["path_name"]
            for e in entries
            if e.get("use_pickle", True)
            or (constants and not str(e["path_name"]).startswith("tensor_constant"))
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return f"unreadable: {first_line(err)}"
    return f"pickled members {pickled[:3]}" if pickled else None


def _unsafe_tensor_file(data: bytes) -> str | None:
    try:
        torch.load(io.BytesIO(data), weights_only=True)
    except Exception as err:  # any refusal: torch's own fallback would unpickle it
        return f"not loadable with weights_only=True: {first_line(err)}"
    return None


# What a QAT directory's metadata.json copies from its source and the int8 manifests take
# from it: the program's sha256 does not cover them, so an edit would ship unnoticed.
INHERITED_FIELDS = (
    "method",
    "arch",
    "arch_args",
    "data_fingerprint",
    "mean",
    "std",
    "thresholds",
)


def check_inherited(qat: QATCheckpoint, source: CheckpointMeta) -> None:
    """Refuse a QAT directory whose copied fields no longer equal its source's."""
    for name in INHERITED_FIELDS:
        if getattr(qat.meta, name) != getattr(source, name):
            raise CheckpointError(
                f"{qat.path / METADATA}: {name} differs from its source checkpoint's "
                "(edited?); rerun melanoma qat"
            )


def find_qat(float_ckpt_dir: str | os.PathLike) -> Path | None:
    """`<dir>/qat` if it holds a QAT made from exactly this float checkpoint, else None."""
    float_dir = resolve_checkpoint_dir(float_ckpt_dir)
    qat_dir = float_dir / QAT_SUBDIR
    if not (qat_dir / METADATA).is_file():
        return None
    mismatch = qat_mismatch(qat_dir, checkpoint_sha256(float_dir))
    if mismatch is not None:
        log.warning("ignoring %s: %s", qat_dir, mismatch)
        return None
    return qat_dir


def made_from(qat_dir: Path, source_sha256: str) -> bool:
    """True when qat_dir holds a readable QAT whose source is the checkpoint with this sha256."""
    return qat_mismatch(qat_dir, source_sha256) is None


def qat_mismatch(qat_dir: Path, source_sha256: str) -> str | None:
    """Why qat_dir is not a readable QAT made from the checkpoint with this sha256, in words
    (a retrained checkpoint leaves its old qat/ behind); None if it is one."""
    if not (qat_dir / METADATA).is_file():
        return f"no {METADATA}"
    try:
        recorded = read_meta(qat_dir).train_config.get("source_checkpoint_sha256")
    except CheckpointError as err:
        return f"unreadable ({err})"
    if recorded != source_sha256:
        return f"made from another float checkpoint (sha256 {str(recorded)[:12]}...)"
    return None
