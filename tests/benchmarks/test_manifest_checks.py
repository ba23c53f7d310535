"""manifest_checks without a runtime: what a manifest claims against its checkpoint and
the int8 program the exporter lowers."""

import shutil

from melanoma.benchmarks.manifest_checks import quantization_failures
from melanoma.checkpoint import load_checkpoint
from melanoma.manifest import manifest_path, read_manifest

PTE_INT8 = "quick-cnn-executorch-int8.pte"


def test_the_exported_int8_manifest_states_its_programs_quantization(artifacts_dir, checkpoint):
    artifact = artifacts_dir / PTE_INT8
    assert quantization_failures(read_manifest(manifest_path(artifact)), artifact, checkpoint) == []


def test_a_broken_int8_program_fails_the_row_instead_of_the_run(
    artifacts_dir, export_source, tmp_path
):
    broken = tmp_path / "quick-cnn"
    shutil.copytree(export_source, broken)
    with (broken / "qat" / "program.pt2").open("ab") as program:
        program.write(b"\0")  # its sha256 no longer matches its metadata
    artifact = artifacts_dir / PTE_INT8
    manifest = read_manifest(manifest_path(artifact))
    failures = quantization_failures(manifest, artifact, load_checkpoint(broken))
    assert len(failures) == 1
    assert "int8 program to check quantization against is unusable" in failures[0]
    assert "sha256 does not match metadata" in failures[0]
