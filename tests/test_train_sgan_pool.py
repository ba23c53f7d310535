"""What the SGAN says when a data set has no unlabeled pool (where, in its layout, to put
one), or a pool that holds labeled or test images again."""

import dataclasses

import pytest
import torch

from melanoma.compare import compare
from melanoma.datasets import Split, load_dataset
from melanoma.methods import method_config
from melanoma.sources import DataError
from melanoma.splits import stratified_split
from melanoma.train_sgan import SGANConfig, check_unlabeled_pool, train_sgan

from sgan_runs import TINY


def _class_folders(root, jpegs):
    for split in ("train", "test"):
        for cls, items in (("malignant", jpegs[0]), ("benign", jpegs[1])):
            (root / split / cls).mkdir(parents=True)
            for i, data in enumerate(items):
                (root / split / cls / f"{i}.jpg").write_bytes(data)


def _csv(root, jpegs):
    (root / "images").mkdir(parents=True)
    rows = ["image_name,target"]
    for label, items in ((1, jpegs[0]), (0, jpegs[1])):
        for i, data in enumerate(items):
            (root / "images" / f"ISIC_{label}{i}.jpg").write_bytes(data)
            rows.append(f"ISIC_{label}{i},{label}")
    (root / "train.csv").write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize(
    ("write", "where"),
    [
        (_class_folders, "an unlabeled/ folder beside train/ and test/"),
        (_csv, "an unlabeled/ folder beside the CSV"),
    ],
)
def test_no_unlabeled_pool_says_where_to_put_one(tmp_path, jpegs, write, where):
    write(tmp_path / "data", jpegs)
    data = load_dataset(tmp_path / "data")
    with pytest.raises(DataError, match=f"found 0; put photos in {where}") as raised:
        train_sgan(data, SGANConfig(epochs=1), tmp_path / "run")
    assert "or use the supervised method" in str(raised.value)
    assert not (tmp_path / "run").exists()


def test_compare_refuses_a_data_set_without_a_pool_before_training_anything(tmp_path, jpegs):
    # it trained every supervised seed first, then stopped at the SGAN with nothing to show
    _class_folders(tmp_path / "data", jpegs)
    data = load_dataset(tmp_path / "data")
    with pytest.raises(DataError, match="the SGAN needs at least 64 unlabeled images"):
        compare(data, tmp_path / "out", methods=("supervised", "sgan"), seeds=(0,), epochs=1)
    assert not (tmp_path / "out").exists()


def test_the_labeled_only_ablation_says_why_it_needs_a_pool_it_gives_no_weight(tmp_path, jpegs):
    """sgan-labeled-only learns nothing from the unlabeled images, yet was refused without
    them in the SGAN's words alone: its epochs are passes over the pool, which so sets its
    steps, the same as the SGAN's it is compared with."""
    _csv(tmp_path / "data", jpegs)
    data = load_dataset(tmp_path / "data")
    config = method_config("sgan-labeled-only", seed=0, epochs=1, progress=False)
    why = (
        r"found 0 \(sgan-labeled-only gives them no weight, but its epochs are passes over "
        r"them, so that it trains as many steps as the SGAN it is compared with\); put photos"
    )
    with pytest.raises(DataError, match=why):
        train_sgan(data, config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # the SGAN's own words, with no why, for every method that weighs either unlabeled loss
    for method in ("sgan", "sgan-mean-teacher", "sgan-no-mean-teacher"):
        with pytest.raises(DataError, match=r"found 0; put photos"):
            train_sgan(data, method_config(method, seed=0), tmp_path / "run")


def _pool_with(dataset, copies: torch.Tensor, names: list[str]):
    """The real data with the first 128 unlabeled images and `copies` added to its pool."""
    pool = dataset.unlabeled.subset(torch.arange(128))
    pool = Split(
        torch.cat([pool.images, copies]),
        torch.full((len(pool) + len(copies),), -1),
        pool.names + tuple(names),
    )
    return dataclasses.replace(dataset, unlabeled=pool)


def _validation_and_training(dataset, config):
    return stratified_split(dataset.labeled, config.val_fraction, config.seed)[::-1]


@pytest.mark.parametrize(("split", "why"), [("test", "tested"), ("validation", "thresholds")])
def test_a_pool_that_holds_test_or_validation_images_again_is_refused(
    dataset, tmp_path, split, why
):
    """A pool with copies of the test images (or of the validation ones, which the seed
    carves from the labeled ones) trained the SGAN on them, unlabeled, before it was judged
    on them, without a word; under other names, since only the pixels count."""
    config = dataclasses.replace(TINY, epochs=1)
    images = dataset.test if split == "test" else _validation_and_training(dataset, config)[0]
    leaky = _pool_with(dataset, images.images[[3, 5]], ["unlabeled/a.jpg", "unlabeled/b.jpg"])
    whose = "seed 0's " if split == "validation" else ""
    wanted = (
        rf"the unlabeled pool repeats 2 {whose}{split} image\(s\) \({images.names[3]} as "
        rf"unlabeled/a.jpg, {images.names[5]} as unlabeled/b.jpg\): .*{why}"
    )
    with pytest.raises(DataError, match=wanted):
        train_sgan(leaky, config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # compare says so before it trains anything, the supervised seeds too
    with pytest.raises(DataError, match=wanted):
        compare(leaky, tmp_path / "out", methods=("supervised", "sgan"), seeds=(0,), epochs=1)
    assert not (tmp_path / "out").exists()


def test_a_mirrored_or_turned_copy_is_refused_as_a_copy(dataset):
    """Training mirrors and turns every image it sees, so a copy flipped or turned by a
    quarter turn is one it trains on as it is; only the same pixels were refused."""
    test = dataset.test
    mirrored = test.images[3].flip(2)  # (3, H, W): top to bottom
    turned = torch.rot90(test.images[5], 1, dims=(1, 2))
    leaky = _pool_with(
        dataset, torch.stack([mirrored, turned]), ["unlabeled/a.jpg", "unlabeled/b.jpg"]
    )
    wanted = (
        rf"repeats 2 test image\(s\) \({test.names[3]} as unlabeled/a.jpg, "
        rf"{test.names[5]} as unlabeled/b.jpg\)"
    )
    with pytest.raises(DataError, match=wanted):
        check_unlabeled_pool(leaky, method_config("sgan", seed=0))


def test_a_pool_may_hold_the_labeled_images_the_sgan_trains_on(dataset, tmp_path):
    """Salimans et al.'s code draws its labeled examples from the unlabeled set; the SGAN
    learns from its labeled training images with their labels anyway. Every labeled copy
    was refused, whatever the seed: only its validation images must stay out."""
    config = method_config("sgan", seed=0)
    training = _validation_and_training(dataset, config)[1]
    names = [f"unlabeled/{name}" for name in training.names]
    check_unlabeled_pool(_pool_with(dataset, training.images, names), config)
    # compare checks each seed's own validation images: seed 1 draws some of seed 0's
    # training images for validation
    with pytest.raises(DataError, match=r"repeats \d+ seed 1's validation image"):
        compare(
            _pool_with(dataset, training.images, names),
            tmp_path / "out",
            methods=("sgan",),
            seeds=(0, 1),
        )
    assert not (tmp_path / "out").exists()


def test_a_pool_that_repeats_a_single_test_image_is_refused(dataset):
    """One copy is enough: the refusal counted 2 above, and a pool with 1 must not pass."""
    leaky = _pool_with(dataset, dataset.test.images[[7]], ["unlabeled/c.jpg"])
    wanted = rf"repeats 1 test image\(s\) \({dataset.test.names[7]} as unlabeled/c.jpg\)"
    with pytest.raises(DataError, match=wanted):
        check_unlabeled_pool(leaky, method_config("sgan", seed=0))


def test_the_liveproject_pool_repeats_no_validation_or_test_image(dataset):
    """The refusal passes the real data, whose three splits share no image (its README)."""
    for seed in range(5):
        check_unlabeled_pool(dataset, method_config("sgan", seed=seed))
