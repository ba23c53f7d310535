"""melanoma.batches: the SGAN's endless labeled batches."""

import torch

from melanoma.batches import LabeledBatches


def test_batches_are_full_and_each_pass_covers_every_image(dataset):
    ten = dataset.labeled.subset(torch.arange(10))
    batches = LabeledBatches(ten, 5, torch.Generator().manual_seed(0))
    first, second = next(batches), next(batches)
    assert len(first[0]) == len(second[0]) == 5
    assert batches.start == 10  # the second batch finished the pass, not a fresh one
    assert sorted(batches.order.tolist()) == list(range(10))
    odd = LabeledBatches(ten, 4, torch.Generator().manual_seed(0))
    assert [len(next(odd)[0]) for _ in range(5)] == [4] * 5  # no short batch at a pass's end
