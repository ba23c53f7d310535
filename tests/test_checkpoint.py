import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
import torch

from melanoma import atomic
from melanoma.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    checkpoint_sha256,
    load_checkpoint,
    save_checkpoint,
)
from melanoma.model import CNNConfig, SmallCNN, config_dict
from melanoma.sources import MAX_FILE_BYTES
from melanoma.versions import toolkit_source


def make_meta(config: CNNConfig) -> CheckpointMeta:
    return CheckpointMeta(
        method="supervised",
        arch="small-cnn",
        arch_args=config_dict(config),
        seed=0,
        epochs=1,
        best_epoch=1,
        data_fingerprint="abc",
        mean=[0.7, 0.5, 0.5],
        std=[0.2, 0.2, 0.2],
        val_metrics={"auc": 0.5},
        thresholds=[{"name": "youden", "probability": 0.4, "sensitivity": 1.0, "specificity": 0.5}],
        train_config={"val_fraction": 0.2},
    )


@pytest.fixture
def saved(tmp_path):
    config = CNNConfig(widths=(8, 16), dropout=0.1)
    torch.manual_seed(0)
    model = SmallCNN(config).eval()
    return save_checkpoint(tmp_path / "ckpt", model, make_meta(config)), model


def test_round_trip_gives_identical_outputs(saved):
    path, model = saved
    loaded = load_checkpoint(path)
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(loaded.model(x), model(x), rtol=0, atol=0)
    assert loaded.meta.threshold("youden") == 0.4
    assert loaded.meta.versions["torch"].startswith("2.")
    assert loaded.meta.toolkit_source == toolkit_source()  # 0.1.0 tells no build apart
    assert not loaded.model.training


def test_the_same_weights_save_to_the_same_bytes(saved, tmp_path):
    """So a rerun that reproduces the weights also reproduces weights_sha256."""
    path, model = saved
    again = save_checkpoint(tmp_path / "again", model, load_checkpoint(path).meta)
    assert (again / "weights.pt").read_bytes() == (path / "weights.pt").read_bytes()


def test_weights_replaced_by_another_writer_before_the_metadata_are_not_certified(
    tmp_path, monkeypatch
):
    """Two runs saving into one folder: metadata names the weights this save wrote, so a
    pair mixed by the other writer fails to load instead of loading with our thresholds."""
    config = CNNConfig(widths=(8, 16), dropout=0.1)
    torch.manual_seed(1)
    theirs = tmp_path / "theirs.pt"
    torch.save(SmallCNN(config).state_dict(), theirs)
    real_replace = atomic._replace

    def replaced_then_overwritten(temp, final):
        real_replace(temp, final)
        if final.name == "weights.pt":  # the other run renames its weights in now
            final.write_bytes(theirs.read_bytes())

    monkeypatch.setattr(atomic, "_replace", replaced_then_overwritten)
    path = save_checkpoint(tmp_path / "ckpt", SmallCNN(config).eval(), make_meta(config))
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        load_checkpoint(path)


def test_truncated_weights(saved):
    path, _ = saved
    data = (path / "weights.pt").read_bytes()
    (path / "weights.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        load_checkpoint(path)


def test_non_finite_weights_are_refused_at_load(tmp_path):
    """An edited weights.pt (its sha256 updated too) gave a NaN score, or a traceback in
    the metrics."""
    config = CNNConfig(widths=(8, 16), dropout=0.1)
    model = SmallCNN(config).eval()
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    path = save_checkpoint(tmp_path / "nan", model, make_meta(config))
    with pytest.raises(CheckpointError, match=r"weights\.pt: non-finite values in "):
        load_checkpoint(path)


def test_metadata_nested_past_the_parsers_stack_is_corrupt_metadata(saved):
    path, _ = saved
    (path / "metadata.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="corrupt metadata"):
        load_checkpoint(path)


def test_mismatched_architecture(saved):
    path, _ = saved
    meta = json.loads((path / "metadata.json").read_text())
    meta["arch_args"]["widths"] = [8, 32]
    (path / "metadata.json").write_text(json.dumps(meta))
    # named, not torch's first line "Error(s) in loading state_dict for SmallCNN:"
    shapes = r"features.3.0.weight is \(16, 8, 3, 3\), the architecture's \(32, 8, 3, 3\)"
    with pytest.raises(CheckpointError, match=rf"does not match small-cnn \({shapes}\)$"):
        load_checkpoint(path)


def test_corrupt_and_missing_metadata(saved, tmp_path):
    path, _ = saved
    (path / "metadata.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt metadata"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        load_checkpoint(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="weights.pt: a file, not a checkpoint directory"):
        load_checkpoint(path / "weights.pt")
    (tmp_path / "empty" / "resume.pt").write_bytes(b"state")  # Ctrl-C before the checkpoint
    resume_or_rerun = "an interrupted training run.*--resume, or the same melanoma compare"
    with pytest.raises(CheckpointError, match=resume_or_rerun):
        load_checkpoint(tmp_path / "empty")


def test_a_qat_program_folder_is_named_as_such_not_as_missing_weights(saved):
    """A QAT folder (qat/, or qat-<model>/ beside exported files) has a metadata.json."""
    path, _ = saved
    (path / "weights.pt").unlink()
    (path / "program.pt2").write_bytes(b"program")
    with pytest.raises(CheckpointError, match="an int8 QAT program folder, not a float"):
        load_checkpoint(path)


def test_a_weights_folder_and_a_looping_checkpoint_link_are_named_as_such(saved, tmp_path):
    path, _ = saved
    (path / "weights.pt").unlink()
    (path / "weights.pt").mkdir()
    with pytest.raises(CheckpointError, match="weights.pt is not a file"):
        load_checkpoint(path)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(CheckpointError, match=r"not found \(a broken or looping link\)"):
        load_checkpoint(tmp_path / "loop")


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: p.symlink_to("/dev/zero"), Path.mkdir])
def test_metadata_that_is_not_a_regular_file_is_refused_unread(saved, make):
    """A FIFO would block the read, /dev/zero never end it."""
    path, _ = saved
    (path / "metadata.json").unlink()
    make(path / "metadata.json")
    not_regular = r"metadata.json: cannot read metadata \(not a regular file\)"
    with pytest.raises(CheckpointError, match=not_regular):
        load_checkpoint(path)


def test_sha256_identifies_weights_and_metadata(saved):
    path, _ = saved
    before = checkpoint_sha256(path)
    meta = json.loads((path / "metadata.json").read_text())
    meta["seed"] = 1
    (path / "metadata.json").write_text(json.dumps(meta))
    assert checkpoint_sha256(path) != before


def test_unknown_threshold_lists_known_ones(saved):
    with pytest.raises(CheckpointError, match="known: youden"):
        load_checkpoint(saved[0]).meta.threshold("nope")


def test_an_unstored_sensitivity_threshold_points_at_target_sensitivity(saved):
    meta = load_checkpoint(saved[0]).meta
    with pytest.raises(CheckpointError, match="; --target-sensitivity 0.95 chooses it now$"):
        meta.threshold("sensitivity_0.95")
    with pytest.raises(CheckpointError, match="known: [^;]*$"):  # not a target it could take
        meta.threshold("sensitivity_0.3")


def _edit_meta(path, **fields):
    meta = json.loads((path / "metadata.json").read_text())
    (path / "metadata.json").write_text(json.dumps({**meta, **fields}))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"mean": [0.5]}, r"mean must be 3 numbers in \[0, 1\]"),
        ({"std": [0.2, 0.0, 0.2]}, r"std must be 3 numbers in \[1e-4, 1\]"),
        # finite, and every score NaN: normalization is of pixels on the 0..1 scale
        ({"mean": [1e308, 0.5, 0.5]}, r"mean must be 3 numbers in \[0, 1\]"),
        ({"std": [1e-300, 0.2, 0.2]}, r"std must be 3 numbers in \[1e-4, 1\]"),
        ({"arch_args": {"dropout": float("nan")}}, r"json: CNNConfig.dropout = nan"),
        ({"arch_args": {"widths": [8, 10**9]}}, r"json: CNNConfig.widths = \(8, 1000000000\)"),
        ({"arch_args": [8, 16]}, "arch_args must be an object"),
        ({"thresholds": []}, "thresholds must be"),
        ({"thresholds": [{"name": "youden", "probability": "0.4"}]}, "thresholds must be"),
        ({"train_config": "x"}, "train_config must be an object"),
        ({"weights_sha256": None}, "weights_sha256 must be the weights' sha256"),
        ({"labeled_pixel_hashes": "abc"}, "labeled_pixel_hashes must be a list of strings"),
        ({"val_metrics": "x"}, "val_metrics must be an object"),  # was an AttributeError
        ({"seed": "1"}, "seed must be a non-negative integer"),
        ({"best_epoch": True}, "best_epoch must be a non-negative integer"),
        ({"epochs": -3}, "epochs must be a non-negative integer"),
        ({"data_fingerprint": 7}, "data_fingerprint must be a string"),
        ({"method": "bogus"}, "method must be supervised or sgan"),
        ({"mean": [True, 0.5, 0.5]}, r"mean must be 3 numbers"),  # bool is an int in Python
        ({"best_epoch": 2}, r"best_epoch 2 is past its 1 epochs"),  # the first past it
        ({"format_version": True}, r"format_version True, expected 1"),  # True == 1
        ({"arch": "resnet"}, r"metadata.json: unknown architecture 'resnet'; known: "),
        # a newer layout, not read as 1: the fix is an upgrade, not an edit
        ({"format_version": 2}, r"format_version 2, expected 1 \(written by a newer melanoma-"),
        # no newer version's: an older layout, or no number at all (not a TypeError)
        ({"format_version": 0}, r"format_version 0, expected 1$"),
        ({"format_version": "2"}, r"format_version '2', expected 1$"),
        ({"thresholds": [{"name": "youden", "probability": 1.5}]}, "thresholds must be"),
        ({"labeled_pixel_hashes": [1, 2]}, "labeled_pixel_hashes must be a list of strings"),
        # falsy, it would silently fall back to the weaker count-and-AUC check
        ({"val_scores_sha256": 0}, "val_scores_sha256 must be a string"),
        ({"std": [5e-5, 0.2, 0.2]}, r"std must be 3 numbers in \[1e-4, 1\]"),
        ({"std": [0.2, 1.5, 0.2]}, r"std must be 3 numbers in \[1e-4, 1\]"),
        # an argument this version does not know (a newer toolkit's): one line, not a TypeError
        ({"arch_args": {"widths": [8, 16], "dropout": 0.1, "bogus": 1}}, r"metadata.json: .*bogus"),
        # a field a newer version added: read without it, the model could mean something else
        ({"input_size": 64}, r"metadata.json: fields this version does not read \('input_size'\)"),
    ],
)
def test_hand_edited_metadata_names_the_bad_field(saved, fields, named):
    _edit_meta(saved[0], **fields)
    with pytest.raises(CheckpointError, match=named):
        load_checkpoint(saved[0])


def test_metadata_missing_fields_names_them_not_pythons_signature(saved):
    meta = json.loads((saved[0] / "metadata.json").read_text())
    del meta["mean"], meta["seed"]
    (saved[0] / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"incomplete metadata \(no seed, mean\)$"):
        load_checkpoint(saved[0])


def test_metadata_that_is_not_an_object(saved):
    (saved[0] / "metadata.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="not a JSON object"):
        load_checkpoint(saved[0])


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04broken zip"])
def test_unreadable_weights_with_a_matching_sha256(saved, content):
    """Replaced weights whose sha256 was updated too: the load itself must fail cleanly."""
    path = saved[0]
    (path / "weights.pt").write_bytes(content)
    _edit_meta(path, weights_sha256=hashlib.sha256(content).hexdigest())
    with pytest.raises(CheckpointError, match="weights.pt: not a"):
        load_checkpoint(path)


def test_weights_whose_members_inflate_past_the_limit_are_refused_unread(saved):
    """torch.load reads deflated members too: a few hundred KB can declare gigabytes."""
    path = saved[0]
    with zipfile.ZipFile(path / "weights.pt", "a") as archive:
        zeros = zipfile.ZipInfo("weights/extra")
        zeros.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(zeros, "w", force_zip64=True) as member:
            for _ in range(MAX_FILE_BYTES // (1 << 20) + 1):
                member.write(bytes(1 << 20))
    content = (path / "weights.pt").read_bytes()
    assert len(content) < 2_000_000
    _edit_meta(path, weights_sha256=hashlib.sha256(content).hexdigest())
    with pytest.raises(CheckpointError, match=r"weights.pt: its members inflate to \d+ bytes"):
        load_checkpoint(path)


def test_weights_zipfile_cannot_list_are_refused_unread(saved):
    """torch reads a zip with a member asking for zip version 6.4, which zipfile will not
    list: the size check let it through, so its other members could declare gigabytes."""
    path = saved[0]
    with zipfile.ZipFile(path / "weights.pt", "a") as archive:
        folder = archive.namelist()[0].split("/")[0]  # torch reads members of one folder only
        extra = zipfile.ZipInfo(f"{folder}/extra")
        extra.extract_version = 64  # zipfile writes it, and refuses to list it
        archive.writestr(extra, b"x")
    content = (path / "weights.pt").read_bytes()
    _edit_meta(path, weights_sha256=hashlib.sha256(content).hexdigest())
    with pytest.raises(CheckpointError, match=r"weights.pt: a zip whose members cannot be listed"):
        load_checkpoint(path)


def test_an_integer_past_pythons_digit_limit_is_corrupt_metadata(saved):
    text = (saved[0] / "metadata.json").read_text()
    (saved[0] / "metadata.json").write_text(text.replace('"seed": 0', '"seed": ' + "9" * 5000))
    with pytest.raises(CheckpointError, match=r"metadata.json: corrupt metadata \(Exceeds"):
        load_checkpoint(saved[0])


def test_integer_weights_are_refused_not_cast(saved, replace_weights):
    """load_state_dict would cast them; every photo then scored 0.5."""
    path, model = saved
    replace_weights(path, {k: v.to(torch.int64) for k, v in model.state_dict().items()})
    with pytest.raises(CheckpointError, match=r"small-cnn \(features.0.0.weight is torch.int64,"):
        load_checkpoint(path)


def test_weights_that_are_one_tensor_not_a_state_dict_are_refused(saved, replace_weights):
    path, _ = saved
    replace_weights(path, torch.zeros(3))  # under a mended sha256
    with pytest.raises(CheckpointError, match=r"small-cnn \(a Tensor, not a state_dict\)"):
        load_checkpoint(path)


@pytest.mark.parametrize("edit", ["drop", "add"])
def test_weights_missing_or_adding_a_tensor_are_refused(saved, replace_weights, edit):
    """A non-strict load would leave the missing layer at its random init and score anyway."""
    path, model = saved
    state = model.state_dict()
    if edit == "drop":
        del state["features.0.0.weight"]
    else:
        state["extra.weight"] = torch.zeros(1)
    replace_weights(path, state)
    named = "no features.0.0.weight" if edit == "drop" else "an unknown tensor extra.weight"
    with pytest.raises(
        CheckpointError, match=rf"weights.pt: does not match small-cnn \({named}\)$"
    ):
        load_checkpoint(path)


def test_weights_that_score_nan_are_refused_when_scoring(saved, tmp_path, replace_weights):
    from PIL import Image

    from melanoma.predict import predict_images

    path, model = saved
    state = model.state_dict()
    state["features.0.1.running_var"] = -state["features.0.1.running_var"]  # finite, sqrt < 0
    replace_weights(path, state)
    photo = tmp_path / "mole.png"
    Image.new("RGB", (32, 32), (180, 120, 100)).save(photo)
    with pytest.raises(CheckpointError, match=r"scores 1 of 1 images as NaN; its weights or"):
        predict_images(load_checkpoint(path), [photo], 0.5)


def test_loading_leaves_the_callers_random_stream_where_it_was(saved):
    """Building the model draws initial weights; a seeded script must not move on a load
    (nor on the export, evaluation or benchmark that load one)."""
    path, _ = saved
    before = torch.get_rng_state()
    load_checkpoint(path)
    assert torch.equal(torch.get_rng_state(), before)
