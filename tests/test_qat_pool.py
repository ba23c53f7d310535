"""QAT refuses an unlabeled pool that repeats the images its int8 program is judged on: the
source's validation images (its agreement and int8 metrics) and the test split (the drift
gate). A class-folder or CSV data set's unlabeled/ can hold either again, under any name."""

import dataclasses

import pytest
import torch

from melanoma.checkpoint import load_checkpoint
from melanoma.datasets import Split
from melanoma.errors import UserError
from melanoma.qat import QATConfig, qat_finetune
from melanoma.qat_pool import refuse_judged_in_pool
from melanoma.sources import DataError
from melanoma.splits import checkpoint_split

FAST = QATConfig(epochs=1, calibration_unlabeled=64, progress=False)


@pytest.fixture(scope="module")
def source():
    return load_checkpoint("reference-sgan")  # holds out 40 labeled images for validation


def _pool_with(dataset, copies: Split):
    """The real data with 128 unlabeled images and `copies` (renamed) as its pool."""
    pool = dataset.unlabeled.subset(torch.arange(128))
    names = tuple(f"unlabeled/copy_{i}.jpg" for i in range(len(copies)))
    pool = Split(
        torch.cat([pool.images, copies.images]),
        torch.full((len(pool) + len(copies),), -1),
        pool.names + names,
    )
    return dataclasses.replace(dataset, unlabeled=pool)


def _trained_on(source, data):
    """`source` as if trained on `data`: its fingerprint covers the pool, which it changes."""
    meta = dataclasses.replace(source.meta, data_fingerprint=data.fingerprint)
    return dataclasses.replace(source, meta=meta)


@pytest.mark.parametrize(("split", "why"), [("test", "drift gate"), ("validation", "agreement")])
def test_qat_refuses_a_pool_that_repeats_test_or_validation_images(
    source, dataset, tmp_path, split, why
):
    """Such a pool was distilled and calibrated on without a word, and the int8 program then
    checked (validation) and gated (test) on images QAT had fitted."""
    _, val = checkpoint_split(dataset.labeled, source.meta.train_config, source.meta.seed)
    judged = {"test": dataset.test, "validation": val}[split]
    leaky = _pool_with(dataset, judged.subset(torch.tensor([3, 5])))
    wanted = (
        rf"the unlabeled pool repeats 2 {split} image\(s\) \({judged.names[3]} as "
        rf"unlabeled/copy_0.jpg, {judged.names[5]} as unlabeled/copy_1.jpg\): .*{why}"
    )
    with pytest.raises(DataError, match=wanted):
        qat_finetune(_trained_on(source, leaky), leaky, FAST, tmp_path / "qat")
    assert not (tmp_path / "qat").exists()
    calibration_only = QATConfig(epochs=0, use_unlabeled=True, calibration_unlabeled=64)
    with pytest.raises(DataError, match=wanted):  # calibrating on the pool fits it too
        refuse_judged_in_pool(leaky, val, calibration_only)


def test_qat_takes_a_pool_it_does_not_read_or_that_repeats_only_its_training_images(
    source, dataset
):
    """A labeled training image QAT distils on anyway, so its copy in the pool changes
    nothing; and a run that reads no pool image fits none of its copies."""
    train, val = checkpoint_split(dataset.labeled, source.meta.train_config, source.meta.seed)
    refuse_judged_in_pool(_pool_with(dataset, train.subset(torch.arange(4))), val, FAST)
    leaky = _pool_with(dataset, dataset.test.subset(torch.arange(4)))
    refuse_judged_in_pool(leaky, val, QATConfig(use_unlabeled=False, calibration_unlabeled=0))
    refuse_judged_in_pool(leaky, val, QATConfig(epochs=0, calibration_unlabeled=0))


def test_the_liveproject_pool_repeats_no_validation_or_test_image(source, dataset):
    """The refusal passes the real data, whose three splits share no image (its README)."""
    _, val = checkpoint_split(dataset.labeled, source.meta.train_config, source.meta.seed)
    refuse_judged_in_pool(dataset, val, QATConfig())


def test_the_refusal_says_the_checkpoint_must_be_trained_again_without_the_copies(
    source, dataset, tmp_path
):
    """The checkpoint's fingerprint covers the pool, so once the copies are out, as the
    refusal said, QAT refused the data as not the checkpoint's: the refusal must send the
    user on to train again, not into that second refusal."""
    leaky = _pool_with(dataset, dataset.test.subset(torch.tensor([3])))
    trained_on_leaky = _trained_on(source, leaky)
    with pytest.raises(DataError) as refusal:
        qat_finetune(trained_on_leaky, leaky, FAST, tmp_path / "qat")
    copies_out = _pool_with(dataset, dataset.test.subset(torch.tensor([], dtype=torch.long)))
    with pytest.raises(UserError, match="differs from the checkpoint's"):
        qat_finetune(trained_on_leaky, copies_out, FAST, tmp_path / "qat")
    assert str(refusal.value).endswith(
        "take them out of the pool, then train the checkpoint again on that data "
        "(QAT needs the data its checkpoint was trained on)"
    )
    assert not (tmp_path / "qat").exists()
