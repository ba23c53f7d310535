import csv
from pathlib import Path

import pytest
import torch

from melanoma.history import HISTORY, write_history, write_sgan_report
from melanoma.sgan import Generator, GeneratorConfig


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
    gen = Generator(GeneratorConfig(latent_dim=8, widths=(16, 8, 4))).train()
    history = [{"epoch": e, "sup": 1 / e, "real": 0.5, "fake": 0.4, "fm": 0.1, "val_auc": 0.7}
               for e in (1, 2)]  # fmt: skip
    write_sgan_report(tmp_path, history, gen, torch.randn(16, 8))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        HISTORY, "losses.png", "samples-epoch002.png", "samples.png"]  # fmt: skip
    assert (tmp_path / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert gen.training


def test_an_interrupted_report_keeps_the_previous_plots(tmp_path, monkeypatch):
    """The report is also written in a Ctrl-C's finally: a PNG cut short replaced the last one."""
    from matplotlib.figure import Figure

    gen = Generator(GeneratorConfig(latent_dim=8, widths=(16, 8, 4)))
    history = [{"epoch": 1, "sup": 1.0, "val_auc": 0.7}]
    write_sgan_report(tmp_path, history, gen, torch.randn(16, 8))
    before = (tmp_path / "losses.png").read_bytes()

    def cut_short(self, path, **kwargs):
        Path(path).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", cut_short)
    with pytest.raises(KeyboardInterrupt):
        write_sgan_report(tmp_path, history, gen, torch.randn(16, 8))
    assert (tmp_path / "losses.png").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
