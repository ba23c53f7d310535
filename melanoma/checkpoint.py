"""Self-describing checkpoint directories: weights plus metadata.json.

    DIR/weights.pt      state_dict, loaded with torch.load(weights_only=True)
    DIR/metadata.json   CheckpointMeta: how to rebuild the model and what it scored

Loading needs no flags. `reference-supervised` and `reference-sgan` name the
checkpoints bundled in the package (melanoma/reference/). The checks weights.pt passes
before its model is built are in melanoma/checkpoint_weights.py.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from melanoma.atomic import HELD_BY_ANOTHER_RUN, atomic_path, held_by_another, write_utf8
from melanoma.errors import UserError, first_line
from melanoma.metadata_fields import FIELD_CHECKS
from melanoma.metrics import sensitivity_target
from melanoma.sources import read_small_text
from melanoma.usage_terms import NOT_STATED, terms_of_data
from melanoma.versions import package_versions, toolkit_source

log = logging.getLogger(__name__)
FORMAT_VERSION = 1  # bumped by a field added to metadata.json: readers refuse one they do not know
WEIGHTS = "weights.pt"
METADATA = "metadata.json"
REFERENCE_DIR = Path(__file__).parent / "reference"
REFERENCE_NAMES = ("reference-supervised", "reference-sgan")


class CheckpointError(UserError):
    """A checkpoint that is missing, truncated or does not match its metadata."""


@dataclass(frozen=True)
class CheckpointMeta:
    method: str  # "supervised" or "sgan"
    arch: str  # key of melanoma.architectures.ARCHITECTURES
    arch_args: dict[str, Any]  # the architecture's config fields
    seed: int
    epochs: int  # epochs trained
    best_epoch: int  # epoch whose weights were kept: see train_config["select_epoch"]
    data_fingerprint: str  # Dataset.fingerprint of the training data
    mean: list[float]  # normalization, per RGB channel on the 0..1 scale (training split)
    std: list[float]
    val_metrics: dict[str, float]  # at the youden threshold
    thresholds: list[dict[str, Any]]  # ThresholdChoice fields, chosen on validation
    train_config: dict[str, Any]  # every training setting, including method-specific ones
    versions: dict[str, str] = field(default_factory=dict)
    # versions.toolkit_source: the commit the toolkit's code came from, where known (its
    # version says 0.1.0 for every build); None before 2026-12-07 and where unknown
    toolkit_source: dict[str, Any] | None = None
    # Split.pixel_hashes of the labeled images it trained and chose thresholds on, so that
    # evaluate can say so on any copy of them; empty in checkpoints from before 2026-12-03.
    labeled_pixel_hashes: list[str] = field(default_factory=list)
    val_scores_sha256: str = ""  # validation_scores.scores_sha256 of the kept predictions
    # The terms the weights carry (melanoma.usage_terms), from the training data; a
    # metadata.json from before 2026-12-07 has none and is given its data fingerprint's.
    license: str = NOT_STATED  # SPDX licence expression, or "not stated"
    attribution: str | None = None  # what the licence asks to credit; None when not stated
    weights_sha256: str = ""  # filled in by save_checkpoint
    created_utc: str = ""
    format_version: int = FORMAT_VERSION

    def find_threshold(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.thresholds if same_threshold_name(c["name"], name)), None)

    def threshold_entry(self, name: str = "youden") -> dict[str, Any]:
        """The stored threshold (name as stored, probability, ...); sensitivity_0.9 finds
        sensitivity_0.90."""
        found = self.find_threshold(name)
        if found is None:
            known = ", ".join(c["name"] for c in self.thresholds)
            target = sensitivity_target(name)
            if target is not None and 0.5 <= target <= 1:  # cli_options.TARGET_SENSITIVITY
                known += f"; --target-sensitivity {target:g} chooses it now"
            raise CheckpointError(f"no threshold {name!r} in the checkpoint; known: {known}")
        return found

    def threshold(self, name: str = "youden") -> float:
        return float(self.threshold_entry(name)["probability"])


def same_threshold_name(stored: str, asked: str) -> bool:
    """sensitivity_0.9 asks for the stored sensitivity_0.90."""
    if stored == asked:
        return True
    target = sensitivity_target(stored)
    return target is not None and target == sensitivity_target(asked)


@dataclass(frozen=True)
class Checkpoint:
    model: nn.Module  # in eval mode
    meta: CheckpointMeta
    path: Path


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MB chunks (an exported artifact or program can be large)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_checkpoint_dir(path_or_name: str | os.PathLike) -> Path:
    """Map `reference-*` names to the bundled checkpoints; other values are paths.

    The name wins over a local folder of that name. The command lines say so once per
    run (warn_if_name_hides_folder), not at each of the run's several resolves."""
    text = str(path_or_name)
    if text in REFERENCE_NAMES:
        return REFERENCE_DIR / text.removeprefix("reference-")
    return Path(text).expanduser()


def warn_if_name_hides_folder(text: str) -> None:
    """A local folder named like a bundled model is not what the name selects: say so
    rather than pick silently."""
    if text in REFERENCE_NAMES and Path(text).exists():
        log.warning("%s: using the bundled checkpoint; for the local one pass ./%s", text, text)


def refuse_bundled_out_dir(out_dir: Path) -> None:
    """Training never writes into the bundled models' folders, installed or in a source
    checkout: it would replace a documented model and leave its qat/ program stale."""
    if Path(out_dir).resolve().is_relative_to(REFERENCE_DIR.resolve()):
        raise UserError(
            f"{out_dir}: inside the bundled reference models' folder ({REFERENCE_DIR}), which "
            "training does not replace; choose another --out"
        )


def save_checkpoint(out_dir: Path, model: nn.Module, meta: CheckpointMeta) -> Path:
    """Write weights, then metadata naming their sha256, each atomically.

    A crash between the two leaves metadata whose sha256 does not match the
    weights, which load_checkpoint reports instead of loading a mixed pair.
    """
    out_dir = Path(out_dir)
    source = meta.toolkit_source or toolkit_source()  # a git call: before either write
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_dir / WEIGHTS) as temp:
        save_torch(state, temp)
        # The bytes written here, not weights.pt read back after the rename: another
        # process writing the same folder may have replaced it by then, and metadata
        # naming those weights would certify one run's weights with another's thresholds.
        weights_sha256 = file_sha256(temp)
    full = dataclasses.replace(
        meta,
        weights_sha256=weights_sha256,
        versions=meta.versions or package_versions(),
        toolkit_source=source,
        created_utc=meta.created_utc or utc_now(),
    )
    with atomic_path(out_dir / METADATA) as temp:
        write_utf8(temp, json.dumps(dataclasses.asdict(full), indent=2) + "\n")
    return out_dir


def save_torch(obj: Any, path: Path) -> None:
    """torch.save via memory: given a path, torch names the records after the (random temp)
    file, so equal weights got another sha256; on a full disk its writer raises a bare
    RuntimeError ("unexpected pos"), where write() raises an OSError the CLI can name."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    path.write_bytes(buffer.getvalue())


def read_meta(ckpt_dir: Path) -> CheckpointMeta:
    """Parse and validate metadata.json of a checkpoint directory."""
    path = ckpt_dir / METADATA
    if ckpt_dir.is_file():
        raise CheckpointError(f"{ckpt_dir}: a file, not a checkpoint directory")
    if not ckpt_dir.is_dir():
        # exists() follows links too: a loop or a dangling link is "not found" to it
        linked = " (a broken or looping link)" if ckpt_dir.is_symlink() else ""
        raise CheckpointError(f"{ckpt_dir}: checkpoint directory not found{linked}")
    try:
        data = json.loads(read_small_text(path))
    except FileNotFoundError:
        if (ckpt_dir / "resume.pt").is_file():  # melanoma.resume.RESUME, which imports this
            raise CheckpointError(
                f"{ckpt_dir}: an interrupted training run, not a checkpoint yet; finish it "
                "with the command that started it (melanoma train ... --resume, or the same "
                "melanoma compare)"
            ) from None
        raise CheckpointError(f"{ckpt_dir}: no {METADATA} (not a checkpoint directory)") from None
    except OSError as err:  # a directory, a FIFO, a device, too large, unreadable
        raise CheckpointError(f"{path}: cannot read metadata ({err.strerror})") from None
    except (ValueError, RecursionError) as err:
        # ValueError: bad JSON or UTF-8, and integers past Python's 4300-digit limit;
        # RecursionError: JSON nested deeper than the parser's stack (a hostile file)
        raise CheckpointError(f"{path}: corrupt metadata ({first_line(err)})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: corrupt metadata (not a JSON object)")
    fields = dataclasses.fields(CheckpointMeta)
    no_default = (dataclasses.MISSING, dataclasses.MISSING)
    required = [f.name for f in fields if (f.default, f.default_factory) == no_default]
    missing = [name for name in required if name not in data]
    if missing:
        raise CheckpointError(f"{path}: incomplete metadata (no {', '.join(missing)})")
    _refuse_other_version(path, data, {f.name for f in fields})
    meta = CheckpointMeta(**data)
    bad = [f"{name} must be {what}" for name, ok, what in FIELD_CHECKS if not ok(data.get(name))]
    if not bad and meta.best_epoch > meta.epochs:
        bad = [f"best_epoch {meta.best_epoch} is past its {meta.epochs} epochs"]
    if bad:
        raise CheckpointError(f"{path}: corrupt metadata ({'; '.join(bad)})")
    if data.get("license") is None:  # written before the terms were recorded
        terms = terms_of_data(meta.data_fingerprint)
        meta = dataclasses.replace(meta, license=terms.license, attribution=terms.attribution)
    return meta


def _refuse_other_version(path: Path, data: dict, known: set[str]) -> None:
    """A layout this version does not read: another format_version, or a field it does not
    know. Skipped, such a field could change what the model means (an input size, say), so
    it is refused as manifests refuse theirs (melanoma.manifest): a version that adds a
    field bumps FORMAT_VERSION. None was ever removed, so every older file still reads."""
    version = data.get("format_version", FORMAT_VERSION)
    if type(version) is not int or version != FORMAT_VERSION:  # True == 1
        hint = newer_version_hint(version, FORMAT_VERSION)
        raise CheckpointError(
            f"{path}: format_version {version!r}, expected {FORMAT_VERSION}{hint}"
        )
    unknown = sorted(data.keys() - known)
    if unknown:
        raise CheckpointError(
            f"{path}: fields this version does not read ({', '.join(map(repr, unknown))}); "
            "written by a newer melanoma-mobile? Upgrade it to read this file"
        )


def newer_version_hint(version: object, known: int) -> str:
    """For a file whose version field is past what this toolkit reads: it was written by a
    newer one, so the fix is an upgrade, not an edit of the file."""
    if type(version) is int and version > known:
        return " (written by a newer melanoma-mobile; upgrade it to read this file)"
    return ""


def load_checkpoint(path_or_name: str | os.PathLike, check_thresholds: bool = True) -> Checkpoint:
    """Load a checkpoint directory (or a reference name); the model is in eval mode.

    `check_thresholds=False` skips re-deriving the stored thresholds from the kept
    predictions (a few milliseconds): only for a reload of a checkpoint already loaded
    with the check, whose load is being timed."""
    # imported here: checkpoint_weights builds on this module
    from melanoma.checkpoint_weights import model_with_state, read_state_dict, weights_file

    ckpt_dir = resolve_checkpoint_dir(path_or_name)
    try:
        meta = read_meta(ckpt_dir)
        weights = weights_file(ckpt_dir)
        state = read_state_dict(weights, meta)
        model = model_with_state(ckpt_dir, meta, state)
        checkpoint = Checkpoint(model.eval(), meta, ckpt_dir)
        # imported here: validation_scores builds on this module
        from melanoma.validation_scores import check_stored_thresholds

        if check_thresholds:
            check_stored_thresholds(checkpoint)
    except CheckpointError:
        refuse_if_held(ckpt_dir)
        raise
    return checkpoint


def refuse_if_held(ckpt_dir: Path) -> None:
    """A checkpoint a training run is rewriting (it deletes the old files as it starts) was
    refused as "no metadata.json (not a checkpoint directory)", or for a missing
    out_of_fold.csv: say instead that a run holds it (resume.run_dir_owned's lock). For a
    file missing at the load, or at a read after it (the kept predictions, the sha256).
    The lock does not say which run: an export's or a nested-cv's --out is held as well."""
    if held_by_another(ckpt_dir):
        raise CheckpointError(f"{ckpt_dir}: {HELD_BY_ANOTHER_RUN}; wait for it to end")


def checkpoint_sha256(ckpt_dir: Path) -> str:
    """Identity of a checkpoint for manifests: sha256 of weights and metadata together."""
    digest = hashlib.sha256()
    try:
        for name in (WEIGHTS, METADATA):
            digest.update((ckpt_dir / name).read_bytes())
    except FileNotFoundError:  # evaluate hashes them seconds after the load
        refuse_if_held(ckpt_dir)
        raise
    return digest.hexdigest()


def loaded_checkpoint_sha256(checkpoint: Checkpoint) -> str:
    """checkpoint_sha256 of the folder `checkpoint` was loaded from, refused if another run
    has rewritten it since: QAT hashes its source seconds after the load (once the data is
    read), and a train that finished meanwhile had its new checkpoint named as the source
    of the old model's int8 program. A run's metadata.json holds its weights' sha256 and
    the time it was made: those two say whether it is the one loaded. (Not every field: a
    caller may pass a Checkpoint whose meta it replaced in memory.)"""
    sha256 = checkpoint_sha256(checkpoint.path)
    try:
        now = read_meta(checkpoint.path)
    except CheckpointError:  # deleted since the hash: a run is rewriting it
        now = None
    loaded = checkpoint.meta
    same = now is not None and (now.weights_sha256, now.created_utc) == (
        loaded.weights_sha256, loaded.created_utc
    )  # fmt: skip
    if not same:
        raise CheckpointError(
            f"{checkpoint.path}: another run rewrote this checkpoint since it was loaded; "
            "run again once it ends"
        )
    return sha256
