"""Where QAT may write: the --out folders it refuses before any training, since writing
program.pt2 and metadata.json there would replace the float checkpoint, a bundled
reference model's int8 program, or another checkpoint's files."""

from __future__ import annotations

from pathlib import Path

from melanoma.checkpoint import (
    METADATA,
    REFERENCE_DIR,
    REFERENCE_NAMES,
    WEIGHTS,
    CheckpointError,
    read_meta,
)
from melanoma.errors import UserError
from melanoma.qat_checkpoint import KIND, QAT_SUBDIR


def refuse_out_dir(out_dir: Path, source: Path) -> None:
    """--out must not be the source, the installed package's bundled models, or another
    checkpoint's qat/ (a typo that would replace that checkpoint's int8 program)."""
    where, source = out_dir.resolve(), source.resolve()
    if where == source:
        raise UserError(
            f"{out_dir}: --out must differ from the float checkpoint (use {QAT_SUBDIR}/)"
        )
    named_like_one = str(out_dir.parent) in REFERENCE_NAMES and where.parent != source
    in_package = where.is_relative_to(REFERENCE_DIR.resolve()) and installed_package()
    if in_package or named_like_one:
        # `--out reference-supervised/qat`, as the README's CHECKPOINT_DIR/qat reads, would
        # write a local folder no exporter reads, under a name that then shadows the model.
        raise UserError(
            f"{out_dir}: the bundled reference models are read-only and ship their int8 "
            f"program in {QAT_SUBDIR}/; to run QAT on one again, copy its folder "
            f"({source}) and pass the copy"
        )
    if where.name == QAT_SUBDIR and where.parent != source and (where.parent / METADATA).is_file():
        raise UserError(
            f"{out_dir}: the int8 program folder of another checkpoint ({out_dir.parent}), "
            f"which QAT would replace; use {source / QAT_SUBDIR}"
        )
    _refuse_other_checkpoint(out_dir)


def installed_package() -> bool:
    """True for an installed copy of the package; False in a source checkout (an editable
    install), where the reference qat/ REPRODUCE.md files regenerate the bundled programs."""
    return not (REFERENCE_DIR.parents[1] / "pyproject.toml").is_file()


def _refuse_other_checkpoint(out_dir: Path) -> None:
    """--out may hold an earlier QAT run (replaced), even a torn one, never another
    model's files."""
    if (out_dir / WEIGHTS).exists() or _foreign_metadata(out_dir):
        raise UserError(
            f"{out_dir}: holds another checkpoint, which QAT would overwrite; "
            f"choose an empty --out (or the source's {QAT_SUBDIR}/)"
        )


def _foreign_metadata(out_dir: Path) -> bool:
    if not (out_dir / METADATA).is_file():
        return False
    try:
        return read_meta(out_dir).train_config.get("kind") != KIND
    except CheckpointError:
        return True  # not a QAT run's, or unreadable: keep it
