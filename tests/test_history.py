import csv
from pathlib import Path

import pytest
import torch

from melanoma.history import HISTORY, write_history, write_sgan_report
from melanoma.sgan import Generator, GeneratorConfig


def _small_generator() -> Generator:
    return Generator(GeneratorConfig(latent_dim=8, widths=(16, 8, 4)))


def test_history_csv_has_one_row_per_epoch_in_column_order(tmp_path):
    # Not in alphabetical order: the columns must keep the trainer's order.
    rows = [{"epoch": 1, "val_auc": 0.6, "loss": 0.7}, {"epoch": 2, "val_auc": 0.7, "loss": 0.5}]
    write_history(tmp_path / HISTORY, rows)
    with (tmp_path / HISTORY).open() as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == ["epoch", "val_auc", "loss"]
    assert [float(r["loss"]) for r in read] == [0.7, 0.5]


def test_no_epochs_writes_no_files(tmp_path):
    write_history(tmp_path / HISTORY, [])
    write_sgan_report(tmp_path, [], Generator(), torch.randn(4, 64))
    assert list(tmp_path.iterdir()) == []


def test_sgan_report_plots_losses_and_a_sample_grid_without_changing_the_generator_mode(tmp_path):
    gen = _small_generator().train()
    history = [{"epoch": e, "sup": 1 / e, "real": 0.5, "fake": 0.4, "fm": 0.1, "val_auc": 0.7}
               for e in (1, 2)]  # fmt: skip
    write_sgan_report(tmp_path, history, gen, torch.randn(16, 8))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        HISTORY, "losses.png", "samples-epoch002.png", "samples.png"]  # fmt: skip
    assert (tmp_path / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert gen.training


@pytest.mark.parametrize(
    "writer, name",
    [
        ("matplotlib.figure.Figure.savefig", "losses.png"),
        ("torchvision.utils.save_image", "samples.png"),
    ],
)
def test_an_interrupted_report_keeps_the_previous_plots(tmp_path, monkeypatch, writer, name):
    """The report is also written in a Ctrl-C's finally: a PNG cut short replaced the last one."""
    gen = _small_generator()
    history = [{"epoch": 1, "sup": 1.0, "val_auc": 0.7}]
    write_sgan_report(tmp_path, history, gen, torch.randn(16, 8))
    before = (tmp_path / name).read_bytes()

    def cut_short(_figure_or_images, path, **kwargs):
        Path(path).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, cut_short)
    with pytest.raises(KeyboardInterrupt):
        write_sgan_report(tmp_path, history, gen, torch.randn(16, 8))
    assert (tmp_path / name).read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_a_report_leaves_the_generator_exactly_as_it_was(tmp_path, training):
    """The report runs mid-training: drawing samples in train mode would move the
    BatchNorm statistics the next epochs and the checkpoint carry, and an eval-mode
    generator switched to train mode would train differently."""
    gen = _small_generator().train(training)
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    write_sgan_report(tmp_path, [{"epoch": 1, "sup": 1.0, "val_auc": 0.7}], gen, torch.randn(16, 8))
    assert gen.training == training
    for key, value in gen.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0, msg=key)


def test_sample_grids_are_drawn_from_the_given_fixed_z(tmp_path):
    """The grids are compared across epochs: the same z must give the same images."""
    gen = _small_generator()
    z = torch.randn(16, 8)
    grids = []
    for fixed_z in (z, z.clone(), torch.randn(16, 8)):
        write_sgan_report(tmp_path, [{"epoch": 1, "sup": 1.0, "val_auc": 0.7}], gen, fixed_z)
        grids.append((tmp_path / "samples.png").read_bytes())
    assert grids[0] == grids[1] != grids[2]
