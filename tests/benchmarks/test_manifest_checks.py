"""manifest_checks without a runtime: what a manifest claims against its checkpoint and
the int8 program the exporter lowers."""

import shutil

import pytest

from melanoma.benchmarks.manifest_checks import (
    differences,
    int8_program,
    quantization_failures,
    verification_failures,
    where_they_differ,
)
from melanoma.checkpoint import REFERENCE_DIR, load_checkpoint
from melanoma.manifest import Verification, manifest_path, read_manifest

PTE_INT8 = "quick-cnn-executorch-int8.pte"


def _claims_against(artifact, checkpoint) -> list[str]:
    manifest = read_manifest(manifest_path(artifact))
    return quantization_failures(manifest, int8_program(manifest, artifact, checkpoint))


def test_the_exported_int8_manifest_states_its_programs_quantization(artifacts_dir, checkpoint):
    assert _claims_against(artifacts_dir / PTE_INT8, checkpoint) == []


def test_a_broken_int8_program_fails_the_row_instead_of_the_run(
    artifacts_dir, export_source, tmp_path
):
    broken = tmp_path / "quick-cnn"
    shutil.copytree(export_source, broken)
    with (broken / "qat" / "program.pt2").open("ab") as program:
        program.write(b"\0")  # its sha256 no longer matches its metadata
    failures = _claims_against(artifacts_dir / PTE_INT8, load_checkpoint(broken))
    assert len(failures) == 1
    assert "int8 program to check it against is unusable" in failures[0]
    assert "sha256 does not match metadata" in failures[0]


def test_without_its_int8_program_an_int8_manifest_is_not_verified(
    artifacts_dir, export_source, tmp_path
):
    """Its sha256 and the ranges the app reads could only be compared with themselves."""
    copy = tmp_path / "quick-cnn"
    shutil.copytree(export_source, copy, ignore=shutil.ignore_patterns("qat"))
    assert _claims_against(artifacts_dir / PTE_INT8, load_checkpoint(copy)) == [
        f"no int8 program to check it against (none in {copy / 'qat'} or "
        f"{artifacts_dir / 'qat-quick-cnn'})"
    ]


def test_a_qat_folder_beside_the_artifacts_from_another_checkpoint_is_not_its_program(
    artifacts_dir, export_source, tmp_path
):
    """qat-<model> beside the artifacts counts only if it was made from this checkpoint: an
    earlier export of another checkpoint under the same name leaves one."""
    copy = tmp_path / "quick-cnn"
    shutil.copytree(export_source, copy, ignore=shutil.ignore_patterns("qat"))
    out = tmp_path / "out"
    out.mkdir()
    for name in (PTE_INT8, manifest_path(artifacts_dir / PTE_INT8).name):
        shutil.copy(artifacts_dir / name, out / name)
    shutil.copytree(REFERENCE_DIR / "supervised" / "qat", out / "qat-quick-cnn")
    assert _claims_against(out / PTE_INT8, load_checkpoint(copy)) == [
        f"no int8 program to check it against (none in {copy / 'qat'} or {out / 'qat-quick-cnn'})"
    ]


def test_the_int8_artifacts_of_a_run_share_one_load_of_their_program(
    artifacts_dir, checkpoint, monkeypatch
):
    import melanoma.benchmarks.manifest_checks as checks

    calls = []
    real = checks.load_qat
    monkeypatch.setattr(checks, "load_qat", lambda d: calls.append(d) or real(d))
    loaded = {}
    for name in (PTE_INT8, "quick-cnn-onnx-int8.onnx"):
        artifact = artifacts_dir / name
        program = int8_program(read_manifest(manifest_path(artifact)), artifact, checkpoint, loaded)
        assert program.qat is not None
    assert len(calls) == 1 and list(loaded) == calls


def test_passed_must_agree_with_the_figures_beside_it():
    """A manifest edited to passed: true over a difference past its own tolerance was
    accepted, the check only read the flag."""

    def check(diff, tolerance, passed=True):
        verification = Verification(
            runtime="executorch 1.5.1",
            check="outputs on 64 test images",
            reference="the converted QAT program",
            max_abs_diff=diff,
            tolerance=tolerance,
            decision_agreement=1.0,
            n_images=64,
            passed=passed,
        )
        return verification_failures(verification)

    assert check(0.05, 0.15) == []
    assert check(None, None) == []  # spec-only: nothing was compared
    assert len(check(0.05, 1e-9)) == 1
    assert len(check(float("nan"), 0.15)) == 1
    assert check(0.05, 1e-9, passed=False) == [
        "export verification failed (outputs on 64 test images)"
    ]


@pytest.mark.parametrize(
    "have, want, shown",
    [
        ("a b c d e f g h", "a b c d E f g h", ("...d e f...", "...d E f...")),
        ("one two", "one two three", ("...two", "...two three")),
        ("x", "y", ("x", "y")),
        ("", "y", ("", "y")),
    ],
)
def test_a_changed_sentence_is_cut_at_spaces_around_the_change(have, want, shown):
    assert where_they_differ(have, want, context=2) == shown


def test_sentences_differ_one_line_each_other_values_in_one():
    assert differences("s", ["a", "b x", "c"], ["a", "b y", "c"]) == [
        'manifest s[1] "b x", expected "b y"'
    ]
    assert differences("s", ["a"], ["a", "b"]) == ['manifest s ["a"], expected ["a", "b"]']
    assert differences("mean", [0.5, 0.1], [0.5, 0.2]) == [
        "manifest mean [0.5, 0.1], expected [0.5, 0.2]"
    ]
    assert differences("s", ["a"], ["a"]) == []
