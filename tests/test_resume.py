"""A run's identity in its resume state, and a fresh run clearing what a previous one left."""

import dataclasses
import io
import logging
import os
import signal
import zipfile
from pathlib import Path

import pytest
import torch

from melanoma.errors import UserError
from melanoma.fold_run import RESUME_LAYOUT
from melanoma.resume import (
    RESUME,
    RUN_FILES,
    TrainingInterrupted,
    clear_previous_run,
    read_resume_state,
    resumable,
    run_identity,
    save_resume_state,
)
from melanoma.run_settings import differing_settings, stored_settings
from melanoma.sources import MAX_FILE_BYTES
from melanoma.train import TrainConfig


def test_a_fresh_run_removes_only_the_run_files_a_previous_run_left(tmp_path):
    for name in (*RUN_FILES, "samples-epoch005.png", "notes.md"):
        (tmp_path / name).write_text("old")
    (tmp_path / "qat").mkdir()
    (tmp_path / "qat" / "program.pt2").write_text("old")
    clear_previous_run(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md", "qat"]
    assert (tmp_path / "qat" / "program.pt2").is_file()
    clear_previous_run(tmp_path / "not-yet")  # nothing to clear, nothing created
    assert not (tmp_path / "not-yet").exists()


def test_a_folder_no_run_wrote_keeps_files_that_share_a_run_files_name(tmp_path):
    for name in ("samples.png", "validation.csv", "samples-epoch999.png", "notes.md"):
        (tmp_path / name).write_text("mine")
    clear_previous_run(tmp_path)
    assert len(list(tmp_path.iterdir())) == 4


def test_identity_ignores_how_progress_is_shown_but_not_what_is_trained(dataset):
    base = run_identity("supervised", TrainConfig(), dataset)
    assert run_identity("supervised", TrainConfig(progress=False, device="cpu"), dataset) == base
    assert run_identity("supervised", TrainConfig(seed=1), dataset) != base
    assert run_identity("sgan", TrainConfig(), dataset) != base


def test_a_second_ctrl_c_while_the_state_is_written_keeps_the_previous_state(tmp_path, monkeypatch):
    save_resume_state(tmp_path, {"epoch": 3})

    def interrupted(path, data):  # the state is serialized in memory, then written
        open(path, "wb").write(data[:4])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_resume_state(tmp_path, {"epoch": 4})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == [RESUME]  # no temp file left either
    assert torch.load(tmp_path / RESUME, weights_only=True) == {"epoch": 3}


def test_a_second_ctrl_c_while_the_state_is_saved_does_not_lose_it(tmp_path):
    class SecondPress(Exception):
        pass

    def handler(signum, frame):  # what the CLI's handler does: raise out of the save
        raise SecondPress

    def state():
        os.kill(os.getpid(), signal.SIGINT)  # an impatient second Ctrl-C, mid-save
        return {"epoch": 4}

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with pytest.raises(TrainingInterrupted, match="after epoch 4"):
            with resumable(tmp_path, state, lambda: "epoch 4"):
                raise KeyboardInterrupt  # the first Ctrl-C
        assert signal.getsignal(signal.SIGINT) is handler  # held only while saving
    finally:
        signal.signal(signal.SIGINT, previous)
    saved = torch.load(tmp_path / RESUME, weights_only=True)
    assert saved == {"epoch": 4, "torch_threads": torch.get_num_threads()}


def test_a_fresh_run_says_it_discards_an_interrupted_runs_state(tmp_path, caplog):
    (tmp_path / RESUME).write_bytes(b"state")
    with caplog.at_level(logging.WARNING):
        clear_previous_run(tmp_path)
    assert "deleted an interrupted run's resume.pt (train --resume would have" in caplog.text


def test_a_setting_assumed_for_old_checkpoints_never_overrides_a_stored_one():
    """select_epoch came later: a checkpoint without it trained with "last"."""
    wanted = {"select_epoch": "val-auc", "epochs": 3}
    assert stored_settings({"select_epoch": "val-auc", "epochs": 3}, wanted) == wanted
    assert stored_settings({"epochs": 3}, wanted) == {"select_epoch": "last", "epochs": 3}


@pytest.mark.parametrize("left", ["history.csv", "weights.pt", "metadata.json", RESUME])
def test_any_one_file_a_run_writes_marks_the_folder_as_a_previous_runs(tmp_path, left):
    """A run stopped early leaves only some of them (a Ctrl-C before the first epoch only
    resume.pt; a checkpoint copied without its history only weights and metadata)."""
    (tmp_path / left).write_text("old")
    (tmp_path / "out_of_fold.csv").write_text("another method's")
    clear_previous_run(tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_setting_only_one_side_has_is_named_as_differing():
    """A state saved before a setting existed: the refusal must name it, not list nothing."""
    assert differing_settings({"epochs": 3}, {"epochs": 3, "select_epoch": "last"}) == [
        "select_epoch"
    ]


def test_a_refused_resume_shows_the_saved_values_to_pass_again(tmp_path, forty_labeled):
    """The run's flags are long gone from the screen when it is resumed: '(epochs)' alone
    left the user to guess what the interrupted run was given."""
    saved = {"method": "sgan", "data_fingerprint": "f", "settings": {"epochs": 40, "seed": 0}}
    now = {**saved, "settings": {"epochs": 60, "seed": 0}}
    with pytest.raises(UserError, match=r"other settings \(epochs 40 saved, 60 now\); resume"):
        path = save_resume_state(tmp_path, {"identity": saved})
        read_resume_state(path, None, now, forty_labeled)


def test_a_state_from_before_the_test_split_refused_for_its_settings_says_settings(
    tmp_path, forty_labeled, dataset
):
    """A state saved before its data had a test split is the same training data (same_run);
    refused for another --epochs, it was called 'saved on other data (fingerprint ...)',
    which sent the user looking at the data, not the setting to pass again."""
    config = TrainConfig(epochs=2)
    saved = run_identity("supervised", config, forty_labeled)
    with_test = dataclasses.replace(forty_labeled, test=dataset.test.subset(torch.arange(10)))
    now = run_identity("supervised", dataclasses.replace(config, epochs=3), with_test)
    path = save_resume_state(tmp_path, {"identity": saved})
    with pytest.raises(UserError, match=r": saved with other settings \(epochs 2 saved, 3 now\);"):
        read_resume_state(path, torch.Generator(), now, with_test)


@pytest.mark.parametrize(
    "record, why",
    [
        (None, r"resume state without a record of its run \(saved by an older version\); this"),
        ({"method": "supervised"}, r"saved on other data \(fingerprint None, now "),
        # no settings to compare with this version's: not taken for an older or newer one
        ({"method": "supervised", "settings": None}, r"saved on other data \(fingerprint None"),
    ],
)
def test_a_state_without_its_runs_record_or_data_fingerprint_is_refused_in_one_line(
    tmp_path, forty_labeled, record, why
):
    """A state with no identity, or one without its data's fingerprint, is not this run's:
    refused in one line, never a TypeError or KeyError from comparing what is not there."""
    identity = run_identity("supervised", TrainConfig(progress=False), forty_labeled)
    saved = None if record is None else {"settings": identity["settings"], **record}
    path = save_resume_state(tmp_path, {"identity": saved})
    with pytest.raises(UserError, match=f"{RESUME}: {why}"):
        read_resume_state(path, torch.Generator(), identity, forty_labeled)


def test_a_state_saved_before_a_setting_existed_is_refused_as_too_old(tmp_path, forty_labeled):
    """A supervised resume.pt from before select_epoch (2026-12-03, as the commit of
    07:30 wrote it) holds the per-member state of an older trainer, which this one
    stops on with a KeyError. It was refused as 'select_epoch None saved, last now;
    resume with the same ... settings', which no flag can satisfy."""
    config = TrainConfig(progress=False, select_epoch="last")
    identity = run_identity("supervised", config, forty_labeled)
    old_settings = {k: v for k, v in identity["settings"].items() if k != "select_epoch"}
    path = save_resume_state(tmp_path, {"identity": {**identity, "settings": old_settings}})
    with pytest.raises(UserError) as refused:
        read_resume_state(path, torch.Generator(), identity, forty_labeled)
    assert str(refused.value) == (
        f"{path}: saved by an older version, before its select_epoch setting; this version "
        "cannot continue it; delete it to start over"
    )


def test_a_state_with_a_setting_this_version_does_not_know_is_refused_as_newer(
    tmp_path, forty_labeled
):
    identity = run_identity("supervised", TrainConfig(progress=False), forty_labeled)
    newer = {**identity, "settings": {**identity["settings"], "mixup": 0.2}}
    path = save_resume_state(tmp_path, {"identity": newer})
    with pytest.raises(UserError, match=r": saved by a newer version, with settings this one "):
        read_resume_state(path, torch.Generator(), identity, forty_labeled)


def test_a_resume_state_is_loaded_as_data_never_run_as_code(tmp_path, forty_labeled):
    """resume.pt is whatever lies in --out: a pickle that would call a function when
    loaded (here, create a file) is refused as corrupt, and the call never happens."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    torch.save({"identity": Payload()}, tmp_path / RESUME)
    with pytest.raises(UserError, match="corrupt resume state"):
        read_resume_state(tmp_path / RESUME, torch.Generator(), {}, forty_labeled)
    assert not marker.exists()


@pytest.mark.parametrize(
    "edit, why",
    [
        ({"generator": ...}, r"\(no 'generator'\)"),  # ... drops the key
        ({"torch_rng": [0, 1]}, r"\('torch_rng' is a list\)"),
        ({"generator": torch.zeros(3)}, r"\(its RNG state: "),  # not bytes: a TypeError
        # bytes, but not a whole state (a truncated file): a RuntimeError
        ({"torch_rng": torch.zeros(3, dtype=torch.uint8)}, r"\(its RNG state: "),
        ({"fold": "0"}, r"\('fold' is a str\)"),
    ],
)
def test_a_state_with_this_runs_identity_but_a_key_missing_or_mistyped_is_refused_in_one_line(
    tmp_path, forty_labeled, edit, why
):
    """A hand-edited or truncated resume.pt with a matching identity raised a KeyError
    traceback from state["generator"], or failed mid-training at a later key."""
    gen, identity = torch.Generator(), run_identity("supervised", TrainConfig(), forty_labeled)
    state = {**_state(gen, identity), "fold": 0, "members": [], "history": []}
    state.update({"oof_logits": torch.zeros(1, 40), "member": None, **edit})
    save_resume_state(tmp_path, {k: v for k, v in state.items() if v is not ...})
    with pytest.raises(UserError, match=f"{RESUME}: corrupt resume state {why}"):
        read_resume_state(tmp_path / RESUME, gen, identity, forty_labeled, RESUME_LAYOUT)


def test_a_resume_state_whose_members_inflate_past_the_limit_is_refused_unread(
    tmp_path, forty_labeled
):
    """A 1 MB resume.pt whose tensor record is deflated zeros declaring 1 GiB: torch.load
    allocated all of it (peak RSS 620 -> 1644 MB) before failing; refused by size now."""
    buffer = io.BytesIO()
    torch.save({"identity": {}, "t": torch.zeros(1)}, buffer)
    saved = zipfile.ZipFile(buffer)
    with zipfile.ZipFile(tmp_path / RESUME, "w") as archive:
        for info in saved.infolist():
            if not info.filename.endswith("/data/0"):
                archive.writestr(info, saved.read(info))
                continue
            zeros = zipfile.ZipInfo(info.filename)
            zeros.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(zeros, "w", force_zip64=True) as member:
                for _ in range(MAX_FILE_BYTES // (1 << 20) + 1):
                    member.write(bytes(1 << 20))
    assert (tmp_path / RESUME).stat().st_size < 2_000_000
    with pytest.raises(UserError, match=r"corrupt resume state \(its members inflate to \d+ "):
        read_resume_state(tmp_path / RESUME, torch.Generator(), {}, forty_labeled)


def test_resuming_on_other_torch_threads_warns_that_it_is_not_bit_for_bit(
    tmp_path, caplog, forty_labeled
):
    """1 and 2 threads train a different weights.pt from one seed (float sums in another
    order): the thread count is saved with the state, and a resume on another one says so."""
    gen, before = torch.Generator(), torch.get_num_threads()
    identity = {"method": "supervised"}
    with pytest.raises(TrainingInterrupted):
        with resumable(tmp_path, lambda: _state(gen, identity), lambda: "epoch 1"):
            raise KeyboardInterrupt
    try:
        with caplog.at_level(logging.WARNING):
            read_resume_state(tmp_path / RESUME, gen, identity, forty_labeled)
            assert not caplog.text
            torch.set_num_threads(before + 1)
            read_resume_state(tmp_path / RESUME, gen, identity, forty_labeled)
    finally:
        torch.set_num_threads(before)
    assert f"saved with {before} torch thread(s), resumed with {before + 1}" in caplog.text
    assert f"pass --threads {before} for that" in caplog.text


def _state(gen: torch.Generator, identity: dict) -> dict:
    return {"identity": identity, "generator": gen.get_state(), "torch_rng": torch.get_rng_state()}
