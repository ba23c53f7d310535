"""The bundled reference checkpoints load and score what their REPRODUCE.md documents."""

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from melanoma.checkpoint import (
    REFERENCE_DIR,
    load_checkpoint,
    resolve_checkpoint_dir,
    warn_if_name_hides_folder,
)
from melanoma.evaluate import evaluate_checkpoint
from melanoma.metrics import choose_thresholds
from melanoma.qat_checkpoint import find_qat
from melanoma.validation_scores import checkpoint_scores


def documented_test_auc(name: str) -> float:
    text = (REFERENCE_DIR / name / "REPRODUCE.md").read_text()
    match = re.search(r"test AUC:\s*([0-9.]+)", text)
    assert match, f"{name}/REPRODUCE.md must state `test AUC: <value>`"
    return float(match.group(1))


@pytest.mark.parametrize("method", ["supervised", "sgan"])
def test_reference_reaches_documented_test_auc(dataset, method):
    checkpoint = load_checkpoint(f"reference-{method}")
    assert checkpoint.meta.method == method
    assert checkpoint.meta.data_fingerprint == dataset.fingerprint
    report = evaluate_checkpoint(checkpoint, dataset.test)
    assert report["auc"] == pytest.approx(documented_test_auc(method), abs=0.005)


@pytest.mark.parametrize("method", ["supervised", "sgan"])
def test_reference_weights_are_small(method):
    assert (REFERENCE_DIR / method / "weights.pt").stat().st_size < 2_000_000


@pytest.mark.parametrize("method, n_validation", [("supervised", 200), ("sgan", 40)])
def test_reference_thresholds_follow_from_its_kept_validation_predictions(method, n_validation):
    """The bundled out_of_fold.csv / validation.csv is what the stored thresholds were
    chosen on, bit for bit, so --target-sensitivity re-chooses on the same images."""
    checkpoint = load_checkpoint(f"reference-{method}")
    meta = checkpoint.meta
    labels, probs = checkpoint_scores(checkpoint)
    assert len(labels) == n_validation and labels.sum() == n_validation // 2
    estimator = meta.train_config["youden_estimator"]
    chosen = choose_thresholds(labels, probs, 0.9, youden_estimator=estimator)
    assert [c.probability for c in chosen] == [t["probability"] for t in meta.thresholds]


def test_a_local_folder_named_like_a_reference_is_not_picked_silently(
    tmp_path, monkeypatch, caplog
):
    (tmp_path / "reference-sgan").mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint_dir("reference-sgan") == REFERENCE_DIR / "sgan"
    assert caplog.text == ""  # resolved several times a run: the commands warn, once
    warn_if_name_hides_folder("reference-sgan")
    warn_if_name_hides_folder("reference-supervised")  # no such local folder
    assert caplog.text.count("pass ./reference-") == 1 and "pass ./reference-sgan" in caplog.text
    assert resolve_checkpoint_dir("./reference-sgan") == Path("reference-sgan")


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs a git checkout"
)
@pytest.mark.parametrize("method", ["supervised", "sgan"])
def test_a_checkout_with_windows_line_endings_keeps_the_bundled_int8_program(tmp_path, method):
    # Git for Windows checks text out with CRLF (core.autocrlf=true): metadata.json's
    # bytes, part of the checkpoint's sha256, changed, and find_qat ignored the bundled
    # qat/ as "made from another float checkpoint". git archive converts as a checkout does.
    folder = f"melanoma/reference/{method}"
    # A zip, not a tar: tarfile's filter= is missing before Python 3.11.4 (Debian 12's 3.11.2)
    # safe.directory: git refuses a checkout another user owns (a shared one, a container's
    # mount), and the suite runs this checkout's code anyway
    git = ["git", "-c", f"safe.directory={REPO}", "-c", "core.autocrlf=true"]
    command = [*git, "archive", "--format=zip", "--worktree-attributes", "HEAD"]
    archive = subprocess.run([*command, folder], cwd=REPO, capture_output=True, check=True)
    with zipfile.ZipFile(io.BytesIO(archive.stdout)) as checkout:
        checkout.extractall(tmp_path)
    assert find_qat(tmp_path / folder) == tmp_path / folder / "qat"
