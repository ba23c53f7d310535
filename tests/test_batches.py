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


def test_a_loaded_state_continues_the_pass_it_was_saved_in(dataset):
    """What resume relies on: the rest of the saved pass comes out the same, whatever the
    generator has drawn since (it would only matter for the next pass's shuffle)."""
    ten = dataset.labeled.subset(torch.arange(10))
    batches = LabeledBatches(ten, 3, torch.Generator().manual_seed(0))
    next(batches)
    saved = batches.state()
    rest_of_pass = [next(batches)[0] for _ in range(2)]
    resumed = LabeledBatches(ten, 3, torch.Generator().manual_seed(1))
    resumed.load(saved)
    for expected in rest_of_pass:
        torch.testing.assert_close(next(resumed)[0], expected, rtol=0, atol=0)
