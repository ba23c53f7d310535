"""Which settings make a training run, and why a saved run is not this one.

A resume state (resume.read_resume_state) and compare's reuse of a member's checkpoint
both ask whether a stored run is the one asked for: the same method, the settings that
shape the weights, the same training data. This says which settings those are and, when
they differ, in words that name each change and what to do.
"""

from __future__ import annotations

import json

from melanoma.datasets import Dataset

# Not settings: how training reports progress, what the trainer records about the run
# it made (split sizes, validation scheme), which the config determines, how often the
# SGAN rolled back a diverged epoch, and what it ran under (training.run_conditions:
# thread count, device, deterministic algorithms), which change float rounding, not what
# the run is: a resume warns of other threads.
NOT_SETTINGS = (
    "progress", "device", "n_train", "n_val", "n_unlabeled", "validation", "torch_threads",
    "device_used", "deterministic", "restores",
)  # fmt: skip


def training_settings(config_dict: dict) -> dict:
    """The settings of a config (or of a checkpoint's stored train_config) that shape
    the weights, with tuples as lists, as metadata stores them."""
    plain = json.loads(json.dumps(config_dict))
    return {k: v for k, v in plain.items() if k not in NOT_SETTINGS}


# Settings added after checkpoints were already made, with the value those were
# trained with: a checkpoint that lacks one trained as if it had this value.
ADDED_LATER = {"select_epoch": "last"}


def stored_settings(train_config: dict, wanted: dict) -> dict:
    """A checkpoint's training settings, completed with the ADDED_LATER ones that `wanted` has."""
    added = {k: v for k, v in ADDED_LATER.items() if k in wanted}
    return {**added, **training_settings(train_config)}


def differing_settings(old: dict, new: dict) -> list[str]:
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def same_run(saved: object, identity: dict, dataset: Dataset) -> bool:
    """Whether a resume state's identity (`saved`) is this run's: the same method and
    settings, on the same training data. Its data fingerprint may lack the test split,
    which training never reads (Dataset.trained_on_by, as for checkpoints): a state saved
    on a train.csv data set before its labelled test.csv became the test split
    (2026-12-07) was refused as other data. The labeled and unlabeled images and labels,
    all that training reads, must still be the very same."""
    if saved == identity:
        return True
    if not isinstance(saved, dict) or "data_fingerprint" not in saved:
        return False
    others_same = {**saved, "data_fingerprint": identity["data_fingerprint"]} == identity
    return others_same and dataset.trained_on_by(saved["data_fingerprint"])


SAME_RUN = "resume with the same method, settings and data, or delete it to start over"
START_OVER = "this version cannot continue it; delete it to start over"


def resume_mismatch(saved: object, identity: dict, dataset: Dataset) -> str:
    """Why a state is not this run's, and what to do about it."""
    if not isinstance(saved, dict):
        return f"resume state without a record of its run (saved by an older version); {START_OVER}"
    same_method = saved.get("method") == identity["method"]  # each has its own settings
    version_skew = same_method and _other_version(saved.get("settings"), identity["settings"])
    if version_skew:
        return version_skew
    return f"{_other_run(saved, identity, dataset)}; {SAME_RUN}"


def _other_version(saved: object, now: dict) -> str | None:
    """A state whose settings lack one this version has was saved before that setting
    existed (select_epoch, 2026-12-03), by a trainer whose state this one's no longer
    reads (a KeyError once let in); no flag given now can match it. One holding a
    setting this version does not know was saved by a newer one."""
    if not isinstance(saved, dict):
        return None
    older, newer = sorted(now.keys() - saved.keys()), sorted(saved.keys() - now.keys())
    if older:
        return f"saved by an older version, before its {', '.join(older)} setting; {START_OVER}"
    if newer:
        return (
            f"saved by a newer version, with settings this one does not know "
            f"({', '.join(newer)}); continue it with that version, or delete it to start over"
        )
    return None


def _other_run(saved: dict, identity: dict, dataset: Dataset) -> str:
    if saved.get("method") != identity["method"]:
        return f"saved by a {saved.get('method')} run, not {identity['method']}"
    # as same_run reads it: a state saved before the data had a test split is this data
    fingerprint = saved.get("data_fingerprint")
    if fingerprint != identity["data_fingerprint"] and not dataset.trained_on_by(fingerprint):
        return (
            f"saved on other data (fingerprint {fingerprint}, now {identity['data_fingerprint']})"
        )
    settings = saved.get("settings") or {}
    differing = differing_settings(settings, identity["settings"])
    changes = (_change(name, settings, identity["settings"]) for name in differing)
    return f"saved with other settings ({'; '.join(changes)})"


def _change(name: str, saved: dict, now: dict) -> str:
    """'epochs 40 saved, 60 now': the value to pass again (the run's flags are not on
    screen any more when it is resumed); a nested setting only by its name."""
    old, new = saved.get(name), now.get(name)
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return name
    return f"{name} {old} saved, {new} now"
