"""refuse_copies_in_pool, which the SGAN (tests/test_train_sgan_pool.py) and QAT
(tests/test_qat_pool.py) share: the real data passes it."""

from melanoma.pool_copies import refuse_copies_in_pool


def test_the_liveproject_pool_repeats_no_labeled_or_test_image(dataset):
    """The refusal passes the real data, whose three splits share no image (its README),
    not even flipped or turned."""
    refuse_copies_in_pool(dataset, {"labeled": (dataset.labeled, ""), "test": (dataset.test, "")})
