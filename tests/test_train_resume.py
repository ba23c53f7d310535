"""A supervised resume.pt with this run's identity but contents train_folds never saves:
refused in one line before any epoch runs, not a traceback or a continuation of another run."""

import copy

import pytest
import torch

import melanoma.train as train_module
from melanoma.checkpoint import WEIGHTS
from melanoma.errors import UserError
from melanoma.resume import RESUME, TrainingInterrupted, save_resume_state
from melanoma.train import TrainConfig, train_supervised
from melanoma.train_resume import member_optimizer

TWO_FOLDS = TrainConfig(epochs=2, folds=2, batch_size=8, progress=False)


@pytest.fixture(scope="module")
def saved(forty_labeled, tmp_path_factory) -> dict:
    """A real state: member 1 finished, member 2 after its first epoch (Ctrl-C in its second)."""
    real, calls = train_module.train_one_epoch, {"n": 0}

    def epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    out = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "train_one_epoch", epoch)
        with pytest.raises(TrainingInterrupted, match="after epoch 1/2 of member 2/2"):
            train_supervised(forty_labeled, TWO_FOLDS, out)
    return torch.load(out / RESUME, weights_only=True)


def _first(weights: dict) -> str:
    return next(iter(weights))


def _drop_tensor(weights: dict) -> None:
    del weights[_first(weights)]


def _shrink_tensor(weights: dict) -> None:
    weights[_first(weights)] = torch.zeros(1)


def _optimizer_group(state: dict) -> dict:
    return state["member"]["optimizer"]["param_groups"][0]


EDITS = {
    "model missing a tensor": (lambda s: _drop_tensor(s["member"]["model"]), "Missing key"),
    "model tensor of another shape": (lambda s: _shrink_tensor(s["member"]["model"]), "size mis"),
    "ema missing a tensor": (lambda s: _drop_tensor(s["member"]["ema"]), "Missing key"),
    "finished member missing a tensor": (lambda s: _drop_tensor(s["members"][0][2]), "Missing"),
    "finished member tensor of another shape": (
        lambda s: _shrink_tensor(s["members"][0][1]),
        "size mismatch",
    ),
    "optimizer of fewer parameters": (
        lambda s: _optimizer_group(s)["params"].pop(),
        "doesn't match the size",
    ),
    # load_state_dict takes these: the moments would restart, or the next step fail
    "optimizer without a parameter's moments": (
        lambda s: s["member"]["optimizer"]["state"].pop(0),
        "no optimizer state for parameter 0",
    ),
    "optimizer moments of another shape": (
        lambda s: s["member"]["optimizer"]["state"][0].update(exp_avg=torch.zeros(1)),
        "optimizer 'exp_avg' of parameter 0 is not of its shape",
    ),
    "scheduler of other keys": (
        lambda s: s["member"].update(scheduler={"x": 1}),
        "'scheduler' is not a OneCycleLR",
    ),
    "history rows that are not dicts": (lambda s: s.update(history=[1, 2, 3]), "history row"),
    "history row without its columns": (lambda s: s["history"][0].pop("epoch"), "history row"),
    "history of other epochs": (lambda s: s["history"].pop(), "2 history rows, not the 3"),
    "member without its optimizer": (lambda s: s["member"].pop("optimizer"), "no 'optimizer'"),
    "member epoch a str": (lambda s: s["member"].update(epoch="1"), "'epoch' is a str"),
    "member epoch past the run's": (lambda s: s["member"].update(epoch=9), "member epoch 9 of 2"),
    "members not snapshots": (lambda s: s.update(members=[1]), "snapshots are a int"),
    "more members than folds done": (lambda s: s["members"].append({}), "2 members at fold 1"),
    "fold negative": (lambda s: s.update(fold=-1), "'fold' is -1, not a whole number >= 0"),
    "fold past the last, with as many members": (
        lambda s: s.update(fold=3, members=s["members"] * 3),
        "3 members at fold 3",
    ),
    "fewer members than folds done": (lambda s: s.update(members=[]), "0 members at fold 1"),
    "a member after the last fold": (
        lambda s: s.update(fold=2, members=s["members"] * 2),
        "a member in training after the last fold",
    ),
    "member without its ema": (lambda s: s["member"].pop("ema"), "KeyError 'ema'"),
    "member without its snapshots": (lambda s: s["member"].pop("snapshots"), "'snapshots'"),
    "member snapshots of other epochs": (
        lambda s: s["member"].update(snapshots={}),
        "snapshots are of epochs []",
    ),
    "optimizer moments not a tensor": (
        lambda s: s["member"]["optimizer"]["state"][0].update(exp_avg=1.0),
        "optimizer 'exp_avg' of parameter 0 is not of its shape",
    ),
    "optimizer state of no moments": (
        lambda s: s["member"]["optimizer"]["state"].update({0: {}}),
        "no optimizer state for parameter 0",
    ),
    "scheduler of other steps": (
        lambda s: s["member"]["scheduler"].update(last_epoch=1),
        "took other steps than 1 epoch(s) make",
    ),
    "ema of other updates": (
        lambda s: s["member"].update(ema_updates=1),
        "took other steps than 1 epoch(s) make",
    ),
    "member RNG state not one": (
        lambda s: s["member"].update(torch_rng=torch.zeros(3, dtype=torch.uint8)),
        "RuntimeError",
    ),
    "out-of-fold logits of another shape": (
        lambda s: s.update(oof_logits=torch.zeros(1, 1)),
        "'oof_logits' of shape (1, 1)",
    ),
}


@pytest.mark.parametrize("name", EDITS)
def test_a_state_whose_contents_are_not_what_training_saved_is_refused_in_one_line(
    saved, forty_labeled, tmp_path, name
):
    edit, why = EDITS[name]
    state = copy.deepcopy(saved)
    edit(state)
    save_resume_state(tmp_path, state)
    with pytest.raises(UserError) as refused:
        train_supervised(forty_labeled, TWO_FOLDS, tmp_path, resume=True)
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / RESUME}: corrupt resume state (")
    assert why in message and "\n" not in message
    assert message.count("corrupt resume state") == 1  # worded once, not wrapped again
    assert not (tmp_path / "weights.pt").exists()


def test_a_stop_between_members_resumes_bit_for_bit(
    forty_labeled, tmp_path, monkeypatch, ctrl_c_on_epoch
):
    """The checks build networks to load the state into, and a network's initial weights
    draw from torch's RNG, which the state had just restored: the next member, built from
    it, then started from other weights than in the uninterrupted run."""
    whole = torch.load(train_supervised(forty_labeled, TWO_FOLDS, tmp_path / "whole") / WEIGHTS)
    ctrl_c_on_epoch(train_module, 3)  # member 2's first epoch: member 1 finished, none running
    with pytest.raises(TrainingInterrupted, match="after epoch 0/2 of member 2/2"):
        train_supervised(forty_labeled, TWO_FOLDS, tmp_path / "split")
    monkeypatch.undo()
    resumed = torch.load(
        train_supervised(forty_labeled, TWO_FOLDS, tmp_path / "split", True) / WEIGHTS
    )
    for key, value in whole.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)


class _BarStoppedAfterFourEpochs:
    """tqdm's bar, whose 4th set_postfix is a Ctrl-C: after member 2's last epoch, whose
    state is kept, before the member is counted as finished."""

    def __init__(self, *args, **kwargs):
        self.postfixes = 0

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass

    def set_postfix(self, **kwargs) -> None:
        self.postfixes += 1
        if self.postfixes == 4:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def saved_at_the_ends(forty_labeled, tmp_path_factory) -> dict:
    """Real states at the ends `saved` never reaches: Ctrl-C after member 2's last epoch,
    then, resumed from it, while the history is written after the last fold."""
    out = tmp_path_factory.mktemp("ends")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "tqdm", _BarStoppedAfterFourEpochs)
        with pytest.raises(TrainingInterrupted):
            train_supervised(forty_labeled, TWO_FOLDS, out)
    last_epoch = torch.load(out / RESUME, weights_only=True)

    def history_interrupted(*args) -> None:
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "write_history", history_interrupted)
        with pytest.raises(TrainingInterrupted):
            train_supervised(forty_labeled, TWO_FOLDS, out, resume=True)
    last_fold = torch.load(out / RESUME, weights_only=True)
    return {"member at its last epoch": last_epoch, "after the last fold": last_fold}


@pytest.mark.parametrize(
    ("when", "fold", "member_epoch"),
    [
        ("member 2 after its first epoch", 1, 1),
        ("member at its last epoch", 1, 2),
        ("after the last fold", 2, None),
    ],
)
def test_a_state_training_saved_resumes(
    saved, saved_at_the_ends, forty_labeled, tmp_path, when, fold, member_epoch
):
    state = {"member 2 after its first epoch": saved, **saved_at_the_ends}[when]
    assert state["fold"] == fold
    assert (state["member"] and state["member"]["epoch"]) == member_epoch
    save_resume_state(tmp_path, state)
    assert (
        train_supervised(forty_labeled, TWO_FOLDS, tmp_path, resume=True) / "weights.pt"
    ).is_file()


def test_a_state_without_ema_keeping_only_the_last_epoch_resumes(
    forty_labeled, tmp_path, monkeypatch, ctrl_c_on_epoch
):
    """ema_decay 0 saves ema_updates 0; select_epoch "last" keeps no snapshot until the last
    epoch: a member interrupted after epoch 1 of 2 holds none."""
    config = TrainConfig(
        epochs=2, folds=2, batch_size=8, ema_decay=0, select_epoch="last", progress=False
    )
    ctrl_c_on_epoch(train_module, 4)
    with pytest.raises(TrainingInterrupted, match="after epoch 1/2 of member 2/2"):
        train_supervised(forty_labeled, config, tmp_path)
    monkeypatch.undo()
    member = torch.load(tmp_path / RESUME, weights_only=True)["member"]
    assert member["ema_updates"] == 0 and member["snapshots"] == {}
    assert (train_supervised(forty_labeled, config, tmp_path, resume=True) / "weights.pt").is_file()


def test_member_optimizer_runs_one_cycle_over_every_batch_of_every_epoch():
    """train_member's schedule as it was before it moved here: OneCycleLR to config.lr,
    15% warm-up, one step per batch (161 images at 8 a batch: 21, the last of 1)."""
    config = TrainConfig(epochs=2, batch_size=8, progress=False)
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer, scheduler = member_optimizer(torch.nn.Linear(1, 1), config, 161)
    expected_optimizer = torch.optim.AdamW([parameter], lr=config.lr)
    expected = torch.optim.lr_scheduler.OneCycleLR(
        expected_optimizer, max_lr=config.lr, total_steps=42, pct_start=0.15
    )
    assert optimizer.defaults["weight_decay"] == config.weight_decay
    for _ in range(42):  # the steps of a whole run, each at the same rate
        assert scheduler.get_last_lr() == expected.get_last_lr()
        optimizer.step()
        scheduler.step()
        expected_optimizer.step()
        expected.step()
    with pytest.raises(ValueError, match="Tried to step"):  # a 43rd batch: no such step
        optimizer.step()
        scheduler.step()
