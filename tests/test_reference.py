"""The bundled reference checkpoints load and score what their REPRODUCE.md documents."""

import re

import pytest

from melanoma.checkpoint import REFERENCE_DIR, load_checkpoint
from melanoma.evaluate import evaluate_checkpoint


def documented_test_auc(name: str) -> float:
    text = (REFERENCE_DIR / name / "REPRODUCE.md").read_text()
    match = re.search(r"test AUC:\s*([0-9.]+)", text)
    assert match, f"{name}/REPRODUCE.md must state `test AUC: <value>`"
    return float(match.group(1))


def test_reference_supervised_reaches_documented_test_auc(dataset):
    checkpoint = load_checkpoint("reference-supervised")
    assert checkpoint.meta.method == "supervised"
    assert checkpoint.meta.data_fingerprint == dataset.fingerprint
    report = evaluate_checkpoint(checkpoint, dataset.test)
    assert report["auc"] == pytest.approx(documented_test_auc("supervised"), abs=0.005)


def test_reference_weights_are_small():
    assert (REFERENCE_DIR / "supervised" / "weights.pt").stat().st_size < 2_000_000
