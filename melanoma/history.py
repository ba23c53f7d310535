"""Per-epoch training records: history.csv for both trainers, plus the SGAN's plots.

The SGAN writes its loss curves and a grid of generated samples every few
epochs (and at the end), so a run can be judged while it trains.
"""

from __future__ import annotations

from pathlib import Path

import torch

from melanoma.atomic import atomic_path, write_csv

HISTORY = "history.csv"


def write_history(path: Path, history: list[dict]) -> None:
    """One CSV row per epoch, columns as the last row has them (then any only earlier rows
    have); nothing is written for no epochs. A cell a row lacks is empty: a run resumed from
    an older version's resume.pt has rows without a column the resumed epochs add, whose
    values were dropped when the first row set the columns."""
    if not history:
        return
    columns = list(dict.fromkeys(key for row in reversed(history) for key in row))
    write_csv(path, columns, ([row.get(c, "") for c in columns] for row in history))


def write_sgan_report(
    out_dir: Path, history: list[dict], gen: torch.nn.Module, fixed_z: torch.Tensor
) -> None:
    """history.csv, losses.png, and generated images for a fixed z: samples.png (the
    latest) and samples-epochNNN.png (kept, so the grids show how the generator moved)."""
    from matplotlib.figure import Figure
    from torchvision.utils import save_image

    if not history:
        return
    write_history(out_dir / HISTORY, history)
    fig = Figure(figsize=(8, 3.2))
    left, right = fig.subplots(1, 2)
    epochs = [row["epoch"] for row in history]
    for name in ("sup", "real", "fake", "fm", "cons"):
        if name in history[0]:
            left.plot(epochs, [row[name] for row in history], label=name)
    left.set(xlabel="epoch", ylabel="loss", yscale="log", title="losses")
    left.legend()
    right.plot(epochs, [row["val_auc"] for row in history])
    right.set(xlabel="epoch", ylabel="AUC", title="validation AUC")
    fig.tight_layout()
    # atomic: this is also written in a Ctrl-C's finally, which must not leave half a PNG
    with atomic_path(out_dir / "losses.png") as temp:
        fig.savefig(temp, dpi=100, format="png")
    was_training = gen.training
    with torch.no_grad():
        samples = gen.eval()(fixed_z.to(next(gen.parameters()).device)).cpu()
    gen.train(was_training)
    for name in ("samples.png", f"samples-epoch{epochs[-1]:03d}.png"):
        with atomic_path(out_dir / name) as temp:
            save_image(samples, temp, format="png", nrow=8, padding=1)
