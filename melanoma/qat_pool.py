"""What QAT may not take from the unlabeled pool: images its int8 program is judged on.

QAT distils on the pool (QATConfig.use_unlabeled) and calibrates the int8 ranges on part of
it (calibration_unlabeled). It then measures int8-vs-float agreement and the int8 validation
metrics on the checkpoint's held-out validation images, and the drift gate (melanoma-bench,
CI) compares int8 with float on the test split: a pool copy of either would have QAT judged
on images it fitted. Copies of labeled training images pass, as QAT distils on all of those
anyway; a cross-validated source holds none out, so for it only the test split counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from melanoma.datasets import Dataset, Split
from melanoma.pool_copies import refuse_copies_in_pool

if TYPE_CHECKING:  # qat.py imports this module
    from melanoma.qat import QATConfig

# Why QAT may not have fitted a split's images.
FITTED_AND_JUDGED = {
    "validation": "QAT measures its int8-vs-float agreement and int8 validation metrics on "
    "those, so it would check the int8 program on images it fitted",
    "test": "the drift gate compares int8 with float on those, so it would judge the int8 "
    "program on images QAT fitted",
}
# The checkpoint's data fingerprint covers the pool, so the same checkpoint refuses the pool
# without its copies: only one trained again on that data can be fine-tuned.
TAKE_OUT_AND_RETRAIN = (
    "take them out of the pool, then train the checkpoint again on that data "
    "(QAT needs the data its checkpoint was trained on)"
)


def refuse_judged_in_pool(dataset: Dataset, val: Split | None, config: QATConfig) -> None:
    """Refuse the run if QAT would distil or calibrate on a pool that repeats a validation
    (`val`, the source's held-out images) or test image; a run that reads no pool image
    passes."""
    distils_on_pool = config.use_unlabeled and config.epochs > 0
    if not (distils_on_pool or config.calibration_unlabeled):
        return
    splits = {"validation": val, "test": dataset.test}
    judged = {name: (splits[name], why) for name, why in FITTED_AND_JUDGED.items()}
    refuse_copies_in_pool(dataset, judged, TAKE_OUT_AND_RETRAIN)
