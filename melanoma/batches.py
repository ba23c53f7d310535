"""Labeled batches for the SGAN, which draws one labeled batch per unlabeled batch."""

from __future__ import annotations

import torch

from melanoma.datasets import Split


class LabeledBatches:
    """Endless (images, labels) batches, reshuffled after every pass.

    An object rather than a generator so that its place in the current pass is
    part of the resume state: a resumed run then draws the batches the
    uninterrupted run would have. A set smaller than `size` is one batch of
    all of it per step (reshuffled), rather than no batch at all.
    """

    def __init__(self, train: Split, size: int, gen: torch.Generator):
        self.train, self.size, self.gen = train, size, gen
        self.order: torch.Tensor | None = None  # the current pass, drawn on first use
        self.start = 0

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.order is None or self.start + self.size > len(self.order):
            self.order, self.start = torch.randperm(len(self.train), generator=self.gen), 0
        index = self.order[self.start : self.start + self.size]
        self.start += self.size
        return self.train.images[index], self.train.labels[index]

    def state(self) -> dict:
        return {"order": None if self.order is None else self.order.clone(), "start": self.start}

    def load(self, state: dict) -> None:
        self.order, self.start = state["order"], state["start"]
