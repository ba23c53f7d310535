"""Resuming a training run, and owning its directory.

Ctrl-C saves OUT/resume.pt with the run's identity (method, every setting
that shapes the weights, the data); --resume continues only a state with the
same identity, and a fresh run first removes the run files a previous one left. Which
settings make that identity, and the words for a mismatch: melanoma/run_settings.py.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from melanoma.atomic import (
    HELD_BY_ANOTHER_RUN,
    atomic_path,
    folder_locked,
    held_by_another,
    output_dir,
    signals_held,
)
from melanoma.checkpoint import METADATA, WEIGHTS, save_torch
from melanoma.datasets import Dataset
from melanoma.errors import UserError
from melanoma.history import HISTORY
from melanoma.run_settings import resume_mismatch, same_run, training_settings
from melanoma.sources import torch_zip_refusal
from melanoma.validation_scores import OUT_OF_FOLD_CSV, VALIDATION_CSV

if TYPE_CHECKING:  # both trainers import this module
    from melanoma.train import TrainConfig
    from melanoma.train_sgan import SGANConfig

log = logging.getLogger(__name__)
RESUME = "resume.pt"


class TrainingInterrupted(Exception):
    """Ctrl-C during training; the resumable state was saved to `path`."""

    def __init__(self, path: Path, progress: str):
        super().__init__(f"interrupted after {progress}; resume state saved to {path}")
        self.path = path


def save_resume_state(out_dir: Path, state: dict) -> Path:
    """Write OUT/resume.pt atomically: a second Ctrl-C while it is being written leaves
    the previous state whole, not a truncated file."""
    path = Path(out_dir) / RESUME
    with atomic_path(path) as temp:
        save_torch(state, temp)
    return path


@contextlib.contextmanager
def resumable(
    out_dir: Path, state: Callable[[], dict], progress: Callable[[], str]
) -> Iterator[None]:
    """Ctrl-C inside the block saves state() as OUT/resume.pt and raises TrainingInterrupted,
    whose message says how far the run got (progress())."""
    try:
        yield
    except KeyboardInterrupt:
        with signals_held(deliver=False):  # a second press is this same stop
            # The thread count is not part of the run's identity, but it changes the
            # float rounding: read_resume_state warns when a resume runs on another.
            threads = {"torch_threads": torch.get_num_threads()}
            path = save_resume_state(out_dir, {**state(), **threads})
        raise TrainingInterrupted(path, progress()) from None


@contextlib.contextmanager
def run_dir_owned(out_dir: Path) -> Iterator[Path]:
    """Create OUT (as atomic.output_dir does) and hold it for this run alone: a second
    run into the same folder, from another shell or another compare, is refused rather
    than left to delete the first one's files and interleave both runs' checkpoints,
    each then reporting a model the folder no longer holds."""
    with output_dir(out_dir) as out_dir, folder_locked(out_dir, busy=_refuse_busy(out_dir)):
        before = _run_files(out_dir)
        try:
            yield out_dir
        except OSError:  # a full disk while the checkpoint is written
            remove_unfinished_run(out_dir, before)
            raise


def remove_unfinished_run(out_dir: Path, before: dict[str, tuple[int, int]]) -> None:
    """After a run failed to write its checkpoint, remove the run files it wrote (`before`:
    _run_files as the run began), its history and predictions, maybe weights.pt: they
    made a folder that looks like a run's but holds no checkpoint. A resume state, and
    the files beside it, are kept for --resume, as is a checkpoint whose metadata.json
    was written (the run finished; a later file failed)."""
    if (out_dir / RESUME).is_file() or (out_dir / METADATA).is_file():
        return
    for name, identity in _run_files(out_dir).items():
        if before.get(name) != identity:  # a user's own samples.png stays
            (out_dir / name).unlink()


def _run_files(out_dir: Path) -> dict[str, tuple[int, int]]:
    """Each run file in out_dir by name, with its inode and mtime: one written anew differs."""
    found = {}
    for path in [*(out_dir / name for name in RUN_FILES), *out_dir.glob("samples-epoch*.png")]:
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            found[path.name] = (stat.st_ino, stat.st_mtime_ns)
    return found


def refuse_inside_a_held_folder(out_dir: Path, own: Path | None = None) -> None:
    """Refuse an out_dir inside a folder another run holds: a `train --out` into a compare's
    --out (which holds its members' checkpoint folders) wrote a member the compare then
    refused to train, or reused as its own. `own`: a folder above out_dir this run holds
    itself (compare's, for its members), where the check stops: flock would refuse this
    process its own folder. For a run that already holds out_dir, so that of two runs
    nested in each other at least one sees the other's lock."""
    for folder in Path(out_dir).resolve().parents:
        if own is not None and folder == Path(own).resolve():
            return
        if held_by_another(folder):
            why = f"{HELD_BY_ANOTHER_RUN}, and {out_dir} is inside it"
            raise UserError(f"{folder}: {why}; wait for it to end")


def refuse_held_folders(folders: list[Path]) -> None:
    """Refuse before any work if another run holds one of `folders` (a compare's members):
    a compare got to such a member only after training the ones before it."""
    for folder in folders:
        if held_by_another(folder):
            _refuse_busy(folder)()


def _refuse_busy(out_dir: Path) -> Callable[[], None]:
    # No "choose another --out": the folder may be one the command chose itself, as
    # melanoma-export's QAT into <out>/qat-<model>; nor "training": an export holds one too.
    def refuse() -> None:
        raise UserError(f"{out_dir}: {HELD_BY_ANOTHER_RUN}; wait for it to end")

    return refuse


# What a training run writes into its directory (the SGAN adds samples-epochNNN.png).
RUN_FILES = (
    WEIGHTS, METADATA, HISTORY, OUT_OF_FOLD_CSV, VALIDATION_CSV, RESUME, "losses.png",
    "samples.png",
)  # fmt: skip


def clear_previous_run(out_dir: Path) -> None:
    """A fresh run owns its directory's run files: ones a previous run left would sit
    beside the new checkpoint (another method's out_of_fold.csv, a history it did not
    make). Other files, and a qat/ folder, are left alone, and so is a folder no run wrote
    (no history, weights, metadata or resume state): a samples.png of the user's own there
    is not an SGAN's output."""
    if not any((out_dir / name).is_file() for name in (HISTORY, WEIGHTS, METADATA, RESUME)):
        return
    if (out_dir / RESUME).is_file():
        # Said as done: by the time the user reads it, the file is gone.
        log.warning(
            "%s: deleted an interrupted run's %s (train --resume would have continued it)",
            out_dir,
            RESUME,
        )
    for name in RUN_FILES:
        (out_dir / name).unlink(missing_ok=True)
    for stale in out_dir.glob("samples-epoch*.png"):
        stale.unlink()


def run_identity(method: str, config: TrainConfig | SGANConfig, dataset: Dataset) -> dict:
    """What a resume state must match: the trainer, every setting that shapes the
    weights, and the data."""
    settings = training_settings(asdict(config))
    return {"method": method, "settings": settings, "data_fingerprint": dataset.fingerprint}


def read_resume_state(
    path: Path,
    gen: torch.Generator,
    identity: dict,
    dataset: Dataset,
    layout: Mapping[str, type | tuple[type, ...]] | None = None,
) -> dict:
    """Load a resume.pt saved on Ctrl-C by a run with this `identity` (run_identity of
    `dataset`); restore both RNGs.

    Continuing with other settings or training data would silently mix two runs in one
    checkpoint (and its metadata would describe only the second), so that is refused.
    `layout` is the trainer's own keys and their types, checked with the RNGs' (RNG_KEYS).
    """
    if not path.is_file():
        raise UserError(f"{path}: no resume state to continue from")
    # As for weights.pt: a 1 MB resume.pt of deflated zeros had torch allocate 1 GiB before
    # it failed, and a few MB more would declare more memory than the machine has.
    refusal = torch_zip_refusal(path)
    if refusal is not None:
        raise corrupt_resume_state(path, refusal)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip or I/O: the file is not what Ctrl-C saved
        raise corrupt_resume_state(path, type(err).__name__) from None
    saved = state.get("identity") if isinstance(state, dict) else None
    if not same_run(saved, identity, dataset):
        raise UserError(f"{path}: {resume_mismatch(saved, identity, dataset)}")
    _refuse_missing_keys(path, state, {**RNG_KEYS, **(layout or {})})
    try:
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
    except (RuntimeError, TypeError) as err:  # a tensor that is not a generator's state
        raise corrupt_resume_state(path, f"its RNG state: {err}") from None
    log.info("resuming from %s", path)
    if "torch_threads" in state:
        refuse_non_count(path, "torch_threads", state["torch_threads"], least=1)
    _warn_other_threads(path, state.get("torch_threads"))
    return state


# What every trainer's state holds besides its identity: read_resume_state restores both.
RNG_KEYS = {"generator": torch.Tensor, "torch_rng": torch.Tensor}


def _refuse_missing_keys(path: Path, state: dict, layout: Mapping) -> None:
    """A hand-edited or truncated state with this run's identity raised a KeyError
    traceback (or failed later, mid-training) at the first key it lacked."""
    for key, kind in layout.items():
        if key not in state:
            raise corrupt_resume_state(path, f"no {key!r}")
        if not isinstance(state[key], kind):
            found = type(state[key]).__name__
            raise corrupt_resume_state(path, f"{key!r} is a {found}")


@contextlib.contextmanager
def refused_if_unloadable(path: Path) -> Iterator[None]:
    """A state's networks, optimizers or batch positions that do not load (a tensor missing
    or of another shape, a part missing) refused in one line, as corrupt: torch's own
    error lists every missing key on its own line."""
    try:
        yield
    except UserError:  # a ValueError too: one a check inside already worded
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as err:  # load_state_dict's errors
        # "Error(s) in loading state_dict for X:" then a line per problem: name the first
        lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [""]
        why = " ".join(lines[:2]) if lines[0].endswith(":") else lines[0]
        raise corrupt_resume_state(path, f"{type(err).__name__} {why}") from None


def corrupt_resume_state(path: Path, why: str) -> UserError:
    """The one-line refusal of a resume.pt whose contents are not what a run saves, worded
    alike by both trainers' checks."""
    return UserError(f"{path}: corrupt resume state ({why})")


def refuse_non_count(path: Path, key: str, value: object, least: int = 0) -> None:
    """A count a resume state keeps must be a whole number from `least`: a hand-edited
    str or list gave a traceback mid-run (or a logging error), and a bool, which is an
    int to isinstance, or a negative number miscounted silently."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        shown = repr(value) if isinstance(value, int | float) else f"a {type(value).__name__}"
        raise corrupt_resume_state(path, f"{key!r} is {shown}, not a whole number >= {least}")


def _warn_other_threads(path: Path, saved: int | None) -> None:
    """Other torch threads sum in another order, so the weights come out a few float
    roundings from what the uninterrupted run would have made (1 and 2 threads give
    different weights.pt for the same seed); a warning, as the result is still sound."""
    now = torch.get_num_threads()
    if saved is not None and saved != now:
        log.warning(
            "%s: saved with %d torch thread(s), resumed with %d: it continues, but not bit "
            "for bit as the uninterrupted run (pass --threads %d for that)",
            path,
            saved,
            now,
            saved,
        )
